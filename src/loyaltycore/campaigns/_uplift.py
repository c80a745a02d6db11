"""How well an uplift score ranks members by their response to the campaign.

Members are ranked by score, highest first (among equal scores, the later
row first, as a reversed stable sort leaves them). Definitions, with
y_t(k), n_t(k), y_c(k), n_c(k) the summed outcome and count of each arm
among the first k members:

* uplift at k: mean outcome of the treated minus that of the controls
  among the first k (``"overall"``), or among the first k share of each
  arm ranked on its own (``"by_group"``);
* Qini curve (Radcliffe 2007): Q(k) = y_t(k) - y_c(k) n_t(k) / n_c(k)
  (0 while no control is in), at every distinct score, from (0, 0);
* Qini coefficient: the area between the Qini curve and the straight line
  to its end point, over the same area for the perfect ranking (responders
  treated first, control responders last; or, ``negative_effect=False``,
  the curve that reaches the total uplift at once and stays there);
* by decile: the ranked members cut into ``bins`` nearly equal parts
  (``numpy.array_split``), with each arm's mean outcome per part.

These are the definitions of scikit-uplift's ``uplift_at_k``,
``qini_curve``, ``qini_auc_score`` and ``uplift_by_percentile``.
"""

from __future__ import annotations

import math
from typing import Any, Literal, TypeAlias

import attrs
import numpy as np
import numpy.typing as npt

from loyaltycore._frames import Frames
from loyaltycore._validate import check_int
from loyaltycore.campaigns._arrays import (
    F64,
    I64,
    Mask,
    arm_mask,
    array_field,
    check_length,
    choice,
    floats,
    need_members,
    real,
)
from loyaltycore.errors import EmptyArm, InvalidArgument, InvalidColumn

Strategy: TypeAlias = Literal["overall", "by_group"]


def _inputs(outcome: Any, score: Any, arm: Any) -> tuple[F64, F64, Mask]:
    y = floats(outcome, "outcome")
    s = floats(score, "score")
    treated = arm_mask(arm)
    check_length(s, len(y), "score", "outcome")
    check_length(treated, len(y), "arm", "outcome")
    need_members(int(treated.sum()), 1, "treatment", "an uplift metric")
    need_members(int((~treated).sum()), 1, "control", "an uplift metric")
    return y, s, treated


def _ranked(y: F64, s: F64, treated: Mask) -> tuple[F64, F64, Mask]:
    order = np.argsort(s, kind="stable")[::-1]
    return y[order], s[order], treated[order]


def _mean(values: F64, where: str) -> float:
    if len(values) == 0:
        raise EmptyArm(f"{where} has no member", field="k", value=None)
    return float(values.mean())


def uplift_at_k(
    outcome: npt.ArrayLike,
    score: npt.ArrayLike,
    arm: npt.ArrayLike,
    *,
    k: float | int = 0.3,
    strategy: Strategy = "overall",
) -> float:
    """Uplift among the members the score ranks highest.

    Args:
        outcome: each member's outcome (1/0 response, or an amount).
        score: the predicted uplift; higher means target first.
        arm: ``"treatment"`` / ``"control"`` labels or bools.
        k: a share of members in (0, 1) (``int(n x k)`` are kept), or an int
            count in [1, n).
        strategy: ``"overall"`` (the first k of everybody) or ``"by_group"``
            (the first k share of each arm).

    Returns:
        Mean outcome of the treated minus that of the controls among them.

    Raises:
        EmptyArm: no member of an arm among the first k.
        InvalidArgument: ``k`` out of range.

    >>> uplift_at_k([1, 0, 1, 0, 0, 1], [0.9, 0.8, 0.7, 0.2, 0.1, 0.05],
    ...             [True, False, True, False, True, False], k=0.5)
    1.0
    """
    y, s, treated = _inputs(outcome, score, arm)
    how = choice(strategy, "strategy", ("overall", "by_group"))
    n = len(y)
    share: float | None = None
    size = 0
    if isinstance(k, float | np.floating):
        share = real(k, "k")
        if not 0 < share < 1:
            raise InvalidArgument(f"k={k!r} must be in (0, 1) as a share", field="k", value=k)
    else:
        size = check_int(k, "k", minimum=1)
        if size >= n:
            raise InvalidArgument(f"k={k!r} must be below n={n}", field="k", value=k)
    y, _, treated = _ranked(y, s, treated)
    if how == "overall":
        top = int(n * share) if share is not None else size
        head_y, head_t = y[:top], treated[:top]
        return _mean(head_y[head_t], "the top k's treatment") - _mean(
            head_y[~head_t], "the top k's control"
        )
    n_t, n_c = int(treated.sum()), int((~treated).sum())
    top_t = int(n_t * share) if share is not None else size
    top_c = int(n_c * share) if share is not None else size
    if top_t > n_t or top_c > n_c:
        raise InvalidArgument(f"k={k!r} exceeds an arm's size", field="k", value=k)
    return _mean(y[treated][:top_t], "the top k of treatment") - _mean(
        y[~treated][:top_c], "the top k of control"
    )


@attrs.frozen
class QiniCurve:
    """Points of a Qini curve: members targeted and incremental outcome.

    >>> q = qini_curve([1, 0, 1, 0], [0.9, 0.6, 0.4, 0.1], [True, False, True, False])
    >>> q.targeted.tolist(), q.gain.tolist()
    ([0.0, 1.0, 2.0, 3.0, 4.0], [0.0, 1.0, 1.0, 2.0, 2.0])
    """

    targeted: F64 = array_field()
    gain: F64 = array_field()

    def area(self) -> float:
        """The area under the curve (trapezoids).

        >>> qini_curve([1, 0], [0.9, 0.1], [True, False]).area()
        1.5
        """
        return _trapezoid(self.targeted, self.gain)


def _trapezoid(x: F64, y: F64) -> float:
    return float(np.sum((x[1:] - x[:-1]) * (y[1:] + y[:-1]) / 2.0))


def _qini(y: F64, s: F64, treated: Mask) -> tuple[F64, F64]:
    y, s, treated = _ranked(y, s, treated)
    last = np.r_[np.flatnonzero(np.diff(s)), len(s) - 1]
    n_t = np.cumsum(treated)[last].astype(np.float64)
    y_t = np.cumsum(np.where(treated, y, 0.0))[last]
    y_c = np.cumsum(np.where(treated, 0.0, y))[last]
    n_all = (last + 1).astype(np.float64)
    n_c = n_all - n_t
    scale = np.divide(n_t, n_c, out=np.zeros_like(n_t), where=n_c != 0)
    return np.r_[0.0, n_all], np.r_[0.0, y_t - y_c * scale]


def qini_curve(outcome: npt.ArrayLike, score: npt.ArrayLike, arm: npt.ArrayLike) -> QiniCurve:
    """The Qini curve of a score: incremental outcome against members targeted.

    Args:
        outcome: each member's outcome (1/0 response, or an amount).
        score: the predicted uplift; higher means target first.
        arm: ``"treatment"`` / ``"control"`` labels or bools.

    Returns:
        A :class:`QiniCurve` with a point at each distinct score, from (0, 0).

    >>> qini_curve([1, 1, 0, 0], [0.8, 0.8, 0.3, 0.2], [True, False, True, False]).gain.tolist()
    [0.0, 0.0, -1.0, 0.0]
    """
    y, s, treated = _inputs(outcome, score, arm)
    x, q = _qini(y, s, treated)
    return QiniCurve(targeted=x, gain=q)


def qini_auc(
    outcome: npt.ArrayLike,
    score: npt.ArrayLike,
    arm: npt.ArrayLike,
    *,
    negative_effect: bool = True,
) -> float:
    """The Qini coefficient: the score's Qini area over the perfect ranking's.

    Args:
        outcome: each member's 1/0 response.
        score: the predicted uplift.
        arm: ``"treatment"`` / ``"control"`` labels or bools.
        negative_effect: whether the perfect ranking may also find members
            the campaign put off (control responders ranked last).

    Returns:
        1 for a perfect ranking, about 0 for a random one, negative for a
        ranking worse than random; NaN when the perfect curve is flat, or
        when the total uplift is negative and ``negative_effect`` is False.

    Raises:
        InvalidColumn: an outcome other than 0 or 1.

    >>> round(qini_auc([1, 0, 0, 1, 0, 1], [0.9, 0.8, 0.7, 0.4, 0.2, 0.1],
    ...                [True, True, False, False, True, False]), 3)
    0.769
    """
    y, s, treated = _inputs(outcome, score, arm)
    binary = (y == 0) | (y == 1)
    if not binary.all():
        row = int(np.flatnonzero(~binary)[0])
        raise InvalidColumn(
            f"outcome[{row}]={y[row].item()!r} must be 0 or 1 for qini_auc",
            field="outcome",
            row=row,
        )
    if not isinstance(negative_effect, bool):
        raise InvalidArgument(
            f"negative_effect={negative_effect!r} must be a bool",
            field="negative_effect",
            value=negative_effect,
        )
    x, q = _qini(y, s, treated)
    if negative_effect:
        px, pq = _qini(y, np.where(treated, y, -y), treated)
    else:
        n_t, n_c = int(treated.sum()), int((~treated).sum())
        gain = float(y[treated].sum()) - n_t * float(y[~treated].sum()) / n_c
        if gain < 0:
            return math.nan  # no perfect curve that ignores negative effects
        px, pq = np.array([0.0, gain, len(y)]), np.array([0.0, gain, gain])
    baseline = px[-1] * pq[-1] / 2.0
    perfect = _trapezoid(px, pq) - baseline
    if perfect == 0.0:
        return math.nan
    return float((_trapezoid(x, q) - baseline) / perfect)


@attrs.frozen
class UpliftTable(Frames):
    """Each arm's mean outcome and the uplift per score bin (bin 1 scores highest).

    >>> t = uplift_by_decile([1, 0, 1, 0], [0.9, 0.8, 0.2, 0.1], [True, False] * 2, bins=2)
    >>> t.bin.tolist(), t.uplift.tolist()
    ([1, 2], [1.0, 1.0])
    """

    strategy: str
    bin: I64 = array_field()
    n_treatment: I64 = array_field()
    n_control: I64 = array_field()
    treatment_mean: F64 = array_field()
    control_mean: F64 = array_field()
    uplift: F64 = array_field()

    def columns(self) -> dict[str, npt.NDArray[Any]]:
        """The table by column name.

        >>> list(uplift_by_decile([1, 0, 1, 0], [4, 3, 2, 1], [True, False] * 2,
        ...                       bins=2).columns())[:2]
        ['bin', 'n_treatment']
        """
        return {
            "bin": self.bin,
            "n_treatment": self.n_treatment,
            "n_control": self.n_control,
            "treatment_mean": self.treatment_mean,
            "control_mean": self.control_mean,
            "uplift": self.uplift,
        }


def _bin_means(parts: list[F64]) -> tuple[I64, F64]:
    sizes = np.array([len(p) for p in parts], dtype=np.int64)
    means = np.array([float(p.mean()) if len(p) else math.nan for p in parts])
    return sizes, means


def uplift_by_decile(
    outcome: npt.ArrayLike,
    score: npt.ArrayLike,
    arm: npt.ArrayLike,
    *,
    bins: int = 10,
    strategy: Strategy = "overall",
) -> UpliftTable:
    """Uplift per score bin: deciles by default, highest scores first.

    Args:
        outcome: each member's outcome (1/0 response, or an amount).
        score: the predicted uplift.
        arm: ``"treatment"`` / ``"control"`` labels or bools.
        bins: the number of bins, fewer than the members.
        strategy: ``"overall"`` (bins of everybody ranked) or ``"by_group"``
            (each arm ranked and binned on its own).

    Returns:
        An :class:`UpliftTable`; a bin with no member of an arm has a NaN mean.

    >>> t = uplift_by_decile([1, 0, 0, 1, 1, 0], [6, 5, 4, 3, 2, 1], [True, False] * 3, bins=3)
    >>> t.uplift.tolist()
    [1.0, -1.0, 1.0]
    """
    y, s, treated = _inputs(outcome, score, arm)
    how = choice(strategy, "strategy", ("overall", "by_group"))
    k = check_int(bins, "bins", minimum=1)
    if k >= len(y):
        raise InvalidArgument(
            f"bins={bins!r} must be fewer than the {len(y)} members", field="bins", value=bins
        )
    y, _, treated = _ranked(y, s, treated)
    if how == "overall":
        ys, ts = np.array_split(y, k), np.array_split(treated, k)
        n_t, m_t = _bin_means([a[b] for a, b in zip(ys, ts, strict=True)])
        n_c, m_c = _bin_means([a[~b] for a, b in zip(ys, ts, strict=True)])
    else:
        n_t, m_t = _bin_means(np.array_split(y[treated], k))
        n_c, m_c = _bin_means(np.array_split(y[~treated], k))
    return UpliftTable(
        bin=np.arange(1, k + 1, dtype=np.int64),
        n_treatment=n_t,
        n_control=n_c,
        treatment_mean=m_t,
        control_mean=m_c,
        uplift=m_t - m_c,
        strategy=how,
    )

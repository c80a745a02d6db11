"""Lift by segment, with p-values adjusted for looking at many segments.

Reading ten segments at alpha = 0.05 finds a "winning" segment about 40%
of the time when the campaign did nothing anywhere. Holm's step-down
adjustment keeps the chance of any false winner (the family-wise error
rate) at alpha; Benjamini-Hochberg keeps the expected share of false
winners among the winners (the false discovery rate) at alpha, and finds
more segments when many truly respond.

With p-values sorted ascending, p_(1) <= ... <= p_(m):

* Holm: p~_(i) = max over j <= i of min(1, (m - j + 1) p_(j));
* BH:   p~_(i) = min over j >= i of min(1, m / j x p_(j)).

Both equal statsmodels' ``multipletests(p, method="holm" | "fdr_bh")``.
"""

from __future__ import annotations

from typing import Any, Literal, TypeAlias

import attrs
import numpy as np
import numpy.typing as npt

from loyaltycore._frames import Frames
from loyaltycore.campaigns._arrays import (
    F64,
    I64,
    Mask,
    arm_mask,
    array_field,
    check_length,
    choice,
    column,
    floats,
    fraction,
)
from loyaltycore.campaigns._compare import compare
from loyaltycore.errors import EmptyArm, EmptyData, InvalidColumn

Adjustment: TypeAlias = Literal["holm", "bh"]


def p_adjust(p_values: npt.ArrayLike, *, method: Adjustment = "holm") -> F64:
    """Adjust p-values for multiple comparisons (Holm or Benjamini-Hochberg).

    Args:
        p_values: one p-value per hypothesis (segment), each in [0, 1].
        method: ``"holm"`` (family-wise error rate) or ``"bh"`` (false
            discovery rate).

    Returns:
        The adjusted p-values, aligned with the input; compare them with alpha.

    Raises:
        InvalidColumn: a p-value that is NaN or outside [0, 1].
        EmptyData: no p-values.

    >>> p_adjust([0.01, 0.04, 0.03], method="holm").round(3).tolist()
    [0.03, 0.06, 0.06]
    >>> p_adjust([0.01, 0.04, 0.03], method="bh").round(3).tolist()
    [0.03, 0.04, 0.04]
    """
    p = floats(p_values, "p_values")
    how = choice(method, "method", ("holm", "bh"))
    if len(p) == 0:
        raise EmptyData("p_values is empty", field="p_values")
    bad = (p < 0) | (p > 1)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise InvalidColumn(
            f"p_values[{row}]={p[row].item()!r} must be in [0, 1]", field="p_values", row=row
        )
    m = len(p)
    order = np.argsort(p, kind="stable")
    ranked = p[order]
    rank = np.arange(1, m + 1)
    if how == "holm":
        adjusted = np.maximum.accumulate(np.minimum(1.0, (m - rank + 1) * ranked))
    else:
        adjusted = np.minimum.accumulate(np.minimum(1.0, m / rank * ranked)[::-1])[::-1]
    out = np.empty(m)
    out[order] = adjusted
    return out


@attrs.frozen
class Breakdown(Frames):
    """Lift per segment with adjusted p-values, one row per segment (sorted by label).

    ``low`` / ``high`` are each segment's own Welch interval at level ``ci``
    (not adjusted); ``significant`` is ``p_adjusted <= alpha``.

    >>> b = breakdown([5.0, 6.0, 1.0, 2.0, 3.0, 3.5, 3.0, 2.5], [True, True, False, False] * 2,
    ...               ["new"] * 4 + ["old"] * 4)
    >>> b.segment.tolist(), b.difference.tolist()
    (['new', 'old'], [4.0, 0.5])
    """

    method: str
    alpha: float
    segment: npt.NDArray[Any] = array_field()
    n_treatment: I64 = array_field()
    n_control: I64 = array_field()
    treatment_mean: F64 = array_field()
    control_mean: F64 = array_field()
    difference: F64 = array_field()
    low: F64 = array_field()
    high: F64 = array_field()
    p_value: F64 = array_field()
    p_adjusted: F64 = array_field()
    significant: Mask = array_field()
    ci: float | None = None

    def __repr__(self) -> str:
        return f"Breakdown(segments={len(self.segment)}, method={self.method!r})"

    def columns(self) -> dict[str, npt.NDArray[Any]]:
        """The table by column name.

        >>> b = breakdown([1.0, 2.0, 1.0, 2.0], [True, True, False, False], ["s"] * 4)
        >>> list(b.columns())[-2:]
        ['p_adjusted', 'significant']
        """
        return {name: getattr(self, name) for name in _COLUMNS}


_COLUMNS = (
    "segment",
    "n_treatment",
    "n_control",
    "treatment_mean",
    "control_mean",
    "difference",
    "low",
    "high",
    "p_value",
    "p_adjusted",
    "significant",
)


def breakdown(
    outcome: npt.ArrayLike,
    arm: npt.ArrayLike,
    segment: npt.ArrayLike,
    *,
    adjust: Adjustment = "holm",
    alpha: float = 0.05,
    ci: float = 0.95,
) -> Breakdown:
    """The lift in each segment, p-values adjusted across the segments.

    Args:
        outcome: the outcome of each assigned member.
        arm: ``"treatment"`` / ``"control"`` labels or bools.
        segment: the segment label of each member (RFM cell, tier, region ...).
        adjust: ``"holm"`` or ``"bh"`` (see :func:`p_adjust`).
        alpha: the level ``significant`` is judged at.
        ci: the confidence level of each segment's interval.

    Returns:
        A :class:`Breakdown`, one row per segment.

    Raises:
        EmptyArm: a segment with fewer than two members in an arm (named).
        InvalidColumn: NaN, a missing label, columns of different lengths.

    >>> b = breakdown([5.0, 6.0, 1.0, 2.0, 3.0, 3.5, 3.0, 2.5], ["treatment", "treatment",
    ...               "control", "control"] * 2, ["new"] * 4 + ["old"] * 4, adjust="bh")
    >>> b.p_adjusted.round(3).tolist()
    [0.06, 0.293]
    """
    y = floats(outcome, "outcome")
    treated = arm_mask(arm)
    check_length(treated, len(y), "arm", "outcome")
    labels = column(segment, "segment")
    check_length(labels, len(y), "segment", "outcome")
    how = choice(adjust, "adjust", ("holm", "bh"))
    level = fraction(alpha, "alpha")
    conf = fraction(ci, "ci")
    values = labels.tolist()
    for i, v in enumerate(values):
        if v is None or v != v:
            raise InvalidColumn(f"segment[{i}]={v!r} is missing", field="segment", row=i)
    names = sorted(set(values), key=lambda v: (str(type(v)), v))
    if not names:
        raise EmptyData("outcome is empty", field="outcome")
    codes = {name: k for k, name in enumerate(names)}
    code = np.fromiter((codes[v] for v in values), dtype=np.int64, count=len(values))
    rows = []
    for k, name in enumerate(names):
        inside = code == k
        t, c = y[inside & treated], y[inside & ~treated]
        for arm_name, part in (("treatment", t), ("control", c)):
            if len(part) < 2:
                raise EmptyArm(
                    f"segment {name!r}: {arm_name} has {len(part)} member(s); "
                    "breakdown needs at least 2 in each arm",
                    field="segment",
                    value=name,
                )
        r = compare(t, c, ci=conf)
        rows.append(
            (
                len(t),
                len(c),
                r.mean_treatment,
                r.mean_control,
                r.difference,
                r.difference_low,
                r.difference_high,
                r.p_value,
            )
        )
    cols = list(zip(*rows, strict=True))
    p = np.array(cols[7], dtype=np.float64)
    adjusted = p_adjust(np.nan_to_num(p, nan=1.0), method="holm" if how == "holm" else "bh")
    return Breakdown(
        segment=np.array(names, dtype=object),
        n_treatment=np.array(cols[0], dtype=np.int64),
        n_control=np.array(cols[1], dtype=np.int64),
        treatment_mean=np.array(cols[2]),
        control_mean=np.array(cols[3]),
        difference=np.array(cols[4]),
        low=np.array(cols[5]),
        high=np.array(cols[6]),
        p_value=p,
        p_adjusted=adjusted,
        significant=adjusted <= level,
        method=how,
        alpha=level,
        ci=conf,
    )

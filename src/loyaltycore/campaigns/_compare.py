"""Treatment against control: difference and ratio of means with intervals.

Welch: the difference's interval is the Welch t interval (unequal
variances, Welch-Satterthwaite degrees of freedom), the same as
``scipy.stats.ttest_ind(equal_var=False).confidence_interval``; the ratio's
interval is the delta method on log(mean_t / mean_c) with the same t
quantile (needs both means positive).

Bootstrap: each arm is resampled with replacement on its own, ``resamples``
times, and the interval is the bias-corrected and accelerated (BCa)
percentile interval (Efron & Tibshirani 1993, 14.3), the default of
``scipy.stats.bootstrap``. Two speed-ups leave the answer's distribution
unchanged: a resample's mean only needs the draws that land on nonzero
values (the number of such draws is binomial, and they are uniform over the
nonzero values; zero spenders are common in a campaign's window), and the
jackknife of a mean is closed form, (sum - x_i) / (n - 1), so the
acceleration costs O(n) instead of O(n^2).
"""

from __future__ import annotations

import math
from typing import Final, Literal, TypeAlias

import attrs
import numpy as np
import numpy.typing as npt

from loyaltycore._validate import check_int, require
from loyaltycore.campaigns._arrays import (
    F64,
    array_field,
    choice,
    floats,
    fraction,
    generator,
    need_members,
)

Method: TypeAlias = Literal["welch", "bootstrap"]

#: Draws generated per block of resamples (memory: 8 bytes each, twice).
_BLOCK: Final = 1 << 22


@attrs.frozen
class Comparison:
    """Treatment against control: means, difference and ratio with intervals.

    ``difference`` = mean_treatment - mean_control; ``ratio`` =
    mean_treatment / mean_control (NaN when the control mean is 0), its
    interval NaN when an interval is undefined. ``p_value`` is Welch's
    two-sided test of no difference, whatever the interval method.
    ``bootstrap_means`` holds the resampled (treatment, control) means, one
    row per resample, for ``method="bootstrap"``.

    >>> c = compare([12.0, 15.0, 11.0, 14.0], [10.0, 9.0, 12.0, 11.0])
    >>> c.difference, round(c.ratio, 3), round(c.lift, 3)
    (2.5, 1.238, 0.238)
    """

    method: str
    ci: float
    n_treatment: int
    n_control: int
    mean_treatment: float
    mean_control: float
    difference: float
    difference_low: float
    difference_high: float
    ratio: float
    ratio_low: float
    ratio_high: float
    standard_error: float
    p_value: float
    bootstrap_means: F64 | None = array_field()

    @property
    def lift(self) -> float:
        """The relative lift, ``ratio - 1``.

        >>> compare([2.0, 2.2], [1.9, 2.1]).lift
        0.1
        """
        return self.ratio - 1.0

    @property
    def significant(self) -> bool:
        """Whether the difference's interval excludes zero.

        >>> compare([5.0, 6.0, 5.5], [1.0, 1.2, 0.9]).significant
        True
        """
        return bool(self.difference_low > 0 or self.difference_high < 0)


def _welch(t: F64, c: F64, ci: float) -> tuple[float, float, float, float, float, float]:
    """(se, low, high, ratio_low, ratio_high, p) of the Welch test."""
    require("scipy.stats", "compare", extra="stats")
    from scipy import stats

    nt, nc = len(t), len(c)
    mt, mc = float(t.mean()), float(c.mean())
    vt, vc = float(t.var(ddof=1)) / nt, float(c.var(ddof=1)) / nc
    se = math.sqrt(vt + vc)
    if se == 0.0:
        nan = math.nan
        return 0.0, nan, nan, nan, nan, nan
    a, b = vt / (vt + vc), vc / (vt + vc)  # df is scale-free: scaled, nothing underflows
    df = 1.0 / (a**2 / (nt - 1) + b**2 / (nc - 1))
    q = float(stats.t.ppf((1 + ci) / 2, df))
    diff = mt - mc
    p = float(2 * stats.t.sf(abs(diff) / se, df))
    r_low = r_high = math.nan
    if mt > 0 and mc > 0:
        spread = q * math.sqrt(vt / mt**2 + vc / mc**2)
        r_low = mt / mc * math.exp(-spread)
        r_high = mt / mc * math.exp(spread) if spread < 700 else math.inf
    return se, diff - q * se, diff + q * se, r_low, r_high, p


def _resampled_means(x: F64, resamples: int, rng: np.random.Generator) -> F64:
    """Means of ``resamples`` bootstrap resamples of ``x`` (with replacement).

    Only draws that land on a nonzero value add to a resample's sum: their
    number is Binomial(n, nonzero / n) and they are uniform over the nonzero
    values, which is the same distribution as n uniform draws over ``x``.
    """
    n = len(x)
    nonzero = x[x != 0.0]
    if len(nonzero) == 0:
        return np.zeros(resamples)
    if len(nonzero) == n:
        hits = np.full(resamples, n, dtype=np.int64)
    else:
        hits = rng.binomial(n, len(nonzero) / n, size=resamples)
    sums = np.zeros(resamples)
    start = 0
    while start < resamples:
        stop = start + 1
        total = int(hits[start])
        while stop < resamples and total + hits[stop] <= _BLOCK:
            total += int(hits[stop])
            stop += 1
        draws = nonzero[rng.integers(0, len(nonzero), total)]
        ends = np.cumsum(hits[start:stop])
        starts = ends - hits[start:stop]
        filled = hits[start:stop] > 0
        sums[start:stop][filled] = np.add.reduceat(draws, starts[filled]) if total else 0.0
        start = stop
    return sums / n


def _bca(
    estimate: float, distribution: F64, jackknives: list[F64], ci: float
) -> tuple[float, float]:
    """The BCa interval of ``estimate`` from its bootstrap distribution.

    ``jackknives`` holds, for each arm, the statistic with each member left
    out in turn (the other arm whole), as scipy's multi-sample BCa does.
    """
    require("scipy.special", "compare", extra="stats")
    from scipy import special

    finite = distribution[np.isfinite(distribution)]
    if len(finite) < len(distribution) or not math.isfinite(estimate):
        return math.nan, math.nan
    b = len(distribution)
    below = np.count_nonzero(distribution < estimate) + np.count_nonzero(distribution <= estimate)
    z0 = float(special.ndtri(below / (2 * b)))
    num = den = 0.0
    for theta in jackknives:
        m = len(theta)
        u = (m - 1) * (float(theta.mean()) - theta)
        num += float(np.sum(u**3)) / m**3
        den += float(np.sum(u**2)) / m**2
    if den == 0.0 or not math.isfinite(z0):
        return math.nan, math.nan
    a = num / den**1.5 / 6
    z_alpha = float(special.ndtri((1 - ci) / 2))
    levels = []
    for z in (z_alpha, -z_alpha):
        levels.append(float(special.ndtr(z0 + (z0 + z) / (1 - a * (z0 + z)))))
    low, high = np.quantile(distribution, levels)
    return float(low), float(high)


def _leave_one_out(x: F64) -> F64:
    return (float(x.sum()) - x) / (len(x) - 1)


def _bootstrap(
    t: F64, c: F64, ci: float, resamples: int, rng: np.random.Generator
) -> tuple[float, float, float, float, float, F64]:
    """(se, low, high, ratio_low, ratio_high, means) of the BCa bootstrap."""
    mt_b = _resampled_means(t, resamples, rng)
    mc_b = _resampled_means(c, resamples, rng)
    mt, mc = float(t.mean()), float(c.mean())
    diff_b = mt_b - mc_b
    low, high = _bca(mt - mc, diff_b, [_leave_one_out(t) - mc, mt - _leave_one_out(c)], ci)
    r_low = r_high = math.nan
    if mc != 0.0 and np.all(mc_b != 0.0) and np.all(_leave_one_out(c) != 0.0):
        r_low, r_high = _bca(
            mt / mc, mt_b / mc_b, [_leave_one_out(t) / mc, mt / _leave_one_out(c)], ci
        )
    se = float(diff_b.std(ddof=1))
    return se, low, high, r_low, r_high, np.column_stack([mt_b, mc_b])


def compare(
    treatment: npt.ArrayLike,
    control: npt.ArrayLike,
    *,
    ci: float = 0.95,
    method: Method = "welch",
    resamples: int = 2000,
    seed: int | np.random.Generator | None = None,
) -> Comparison:
    """Compare an outcome between the arms: difference and ratio of means.

    Args:
        treatment: the outcome of each treated member (spend in the window,
            a 0/1 conversion ...), zero for members who did nothing.
        control: the outcome of each control member.
        ci: the confidence level of the intervals.
        method: ``"welch"`` (t interval; delta method for the ratio) or
            ``"bootstrap"`` (BCa interval from ``resamples`` resamples).
        resamples: bootstrap resamples.
        seed: an int or a numpy ``Generator``; required by the bootstrap,
            so that its interval repeats.

    Returns:
        A :class:`Comparison`.

    Raises:
        EmptyArm: an arm with fewer than two members.
        InvalidColumn: a NaN or infinite outcome.
        InvalidArgument: ``method="bootstrap"`` without a ``seed``.

    >>> c = compare([3.0, 5.0, 4.0, 6.0], [2.0, 3.0, 4.0, 3.0])
    >>> round(c.difference_low, 3), round(c.difference_high, 3)
    (-0.455, 3.455)
    >>> b = compare([3.0, 5.0, 4.0, 6.0], [2.0, 3.0, 4.0, 3.0], method="bootstrap", seed=1)
    >>> b.bootstrap_means.shape
    (2000, 2)
    """
    t = floats(treatment, "treatment")
    c = floats(control, "control")
    need_members(len(t), 2, "treatment", "compare")
    need_members(len(c), 2, "control", "compare")
    level = fraction(ci, "ci")
    how = choice(method, "method", ("welch", "bootstrap"))
    n_resamples = check_int(resamples, "resamples", minimum=1)
    rng = generator(seed) if how == "bootstrap" else None
    mt, mc = float(t.mean()), float(c.mean())
    welch = _welch(t, c, level)
    se, low, high, r_low, r_high = welch[:5]
    means = None
    if rng is not None:
        se, low, high, r_low, r_high, means = _bootstrap(t, c, level, n_resamples, rng)
    return Comparison(
        method=how,
        ci=level,
        n_treatment=len(t),
        n_control=len(c),
        mean_treatment=mt,
        mean_control=mc,
        difference=mt - mc,
        difference_low=low,
        difference_high=high,
        ratio=mt / mc if mc != 0.0 else math.nan,
        ratio_low=r_low,
        ratio_high=r_high,
        standard_error=se,
        p_value=welch[5],
        bootstrap_means=means,
    )

"""Sample size and minimum detectable effect of a two-arm comparison.

The effect is standardised first: a difference of means over the outcome's
standard deviation (Cohen's d), or for proportions Cohen's
h = 2 asin(sqrt(p_t)) - 2 asin(sqrt(p_c)). CUPED (or any covariate
adjustment) removing a share ``r`` of the variance divides the standardised
effect by sqrt(1 - r). With n1 treatment members, n2 = ratio x n1 control
members and n = 1 / (1/n1 + 1/n2), power is

* z test: P(Z > c - d sqrt(n)) + P(Z < -c - d sqrt(n)), c = z(1 - alpha/2);
* t test: the same with the noncentral t of n1 + n2 - 2 degrees of freedom
  and noncentrality d sqrt(n),

(one tail only when ``alternative="one-sided"``), and the sample size or
the effect is the root of power = target. These are the power functions of
statsmodels' ``NormalIndPower`` and ``TTestIndPower``, solved to 1e-12.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Literal, TypeAlias

import attrs

from loyaltycore._validate import check_int, require
from loyaltycore.campaigns._arrays import choice, fraction, real
from loyaltycore.errors import InvalidArgument

Alternative: TypeAlias = Literal["two-sided", "one-sided"]
Test: TypeAlias = Literal["z", "t"]


@attrs.frozen
class SampleSize:
    """Members needed in each arm to detect an effect.

    ``exact_treatment`` is the root of the power equation; the counts are
    rounded up. ``effect_size`` is the standardised effect after variance
    reduction.

    >>> s = sample_size(2.0, sd=20.0)
    >>> s.n_treatment, s.n_control, s.total
    (1570, 1570, 3140)
    """

    n_treatment: int
    n_control: int
    exact_treatment: float
    effect: float
    effect_size: float
    alpha: float
    power: float
    ratio: float
    variance_reduction: float

    @property
    def total(self) -> int:
        """Members in both arms."""
        return self.n_treatment + self.n_control


@attrs.frozen
class Detectable:
    """The smallest effect a design detects with the given power.

    ``effect`` is absolute (outcome units, or proportion points);
    ``relative`` is ``effect / baseline`` for proportions, None for means.

    >>> d = minimum_detectable_effect(10_000, baseline=0.05, ratio=0.25)
    >>> round(d.effect, 4), round(d.relative, 3)
    (0.0145, 0.291)
    """

    effect: float
    relative: float | None
    effect_size: float
    n_treatment: int
    n_control: float
    alpha: float
    power: float
    ratio: float
    variance_reduction: float


@attrs.frozen
class _Design:
    alpha: float
    power: float
    ratio: float
    two_sided: bool
    t_test: bool
    shrink: float  # sqrt(1 - variance_reduction)


def _design(
    alpha: object,
    power: object,
    ratio: object,
    alternative: object,
    test: object,
    variance_reduction: object,
) -> _Design:
    alpha_ = fraction(alpha, "alpha")
    power_ = fraction(power, "power")
    ratio_ = real(ratio, "ratio")
    if ratio_ <= 0:
        raise InvalidArgument(f"ratio={ratio!r} must be > 0", field="ratio", value=ratio)
    sides = choice(alternative, "alternative", ("two-sided", "one-sided"))
    kind = choice(test, "test", ("z", "t"))
    vr = real(variance_reduction, "variance_reduction")
    if not 0.0 <= vr < 1.0:
        raise InvalidArgument(
            f"variance_reduction={variance_reduction!r} must be in [0, 1)",
            field="variance_reduction",
            value=variance_reduction,
        )
    tail = alpha_ / 2 if sides == "two-sided" else alpha_
    if power_ <= tail:
        raise InvalidArgument(
            f"power={power!r} must exceed the false-positive rate {tail:g}",
            field="power",
            value=power,
        )
    return _Design(alpha_, power_, ratio_, sides == "two-sided", kind == "t", math.sqrt(1 - vr))


def _power_function(design: _Design) -> Callable[[float, float], float]:
    """power(d, n1) for the design's test."""
    require("scipy.stats", "campaign power", extra="stats")
    from scipy import stats

    tail = design.alpha / 2 if design.two_sided else design.alpha

    def z_power(d: float, n1: float) -> float:
        shift = d * math.sqrt(1.0 / (1.0 / n1 + 1.0 / (n1 * design.ratio)))
        crit = float(stats.norm.isf(tail))
        upper = float(stats.norm.sf(crit - shift))
        return upper + float(stats.norm.cdf(-crit - shift)) if design.two_sided else upper

    def t_power(d: float, n1: float) -> float:
        df = n1 * (1.0 + design.ratio) - 2.0
        nc = d * math.sqrt(1.0 / (1.0 / n1 + 1.0 / (n1 * design.ratio)))
        crit = float(stats.t.isf(tail, df))
        upper = float(stats.nct.sf(crit, df, nc))
        if math.isnan(upper):  # scipy's nct gives up far in the tail: power is 0 or 1 there
            upper = 1.0 if nc > crit else 0.0
        if not design.two_sided:
            return upper
        lower = float(stats.nct.cdf(-crit, df, nc))
        return upper + (0.0 if math.isnan(lower) else lower)

    return t_power if design.t_test else z_power


def _root(f: Callable[[float], float], low: float, high: float) -> float:
    """The root of an increasing ``f`` above ``low``, widening ``high`` until bracketed."""
    require("scipy.optimize", "campaign power", extra="stats")
    from scipy import optimize

    while f(high) < 0:
        low, high = high, high * 4.0
        if high > 1e15:
            raise InvalidArgument(
                "the power target cannot be reached (effect too small for any sample)",
                field="effect",
                value=None,
            )
    return float(optimize.brentq(f, low, high, xtol=1e-12, rtol=1e-15, maxiter=500))


def _standardised(
    effect: object, sd: object, baseline: object, design: _Design
) -> tuple[float, float]:
    """(absolute effect, standardised effect after variance reduction)."""
    effect_ = real(effect, "effect")
    if effect_ == 0:
        raise InvalidArgument("effect=0 cannot be detected", field="effect", value=effect)
    if (sd is None) == (baseline is None):
        raise InvalidArgument(
            "give exactly one of sd= (a mean) or baseline= (a proportion)",
            field="sd",
            value=sd,
        )
    if sd is not None:
        sd_ = real(sd, "sd")
        if sd_ <= 0:
            raise InvalidArgument(f"sd={sd!r} must be > 0", field="sd", value=sd)
        return effect_, abs(effect_) / sd_ / design.shrink
    p = fraction(baseline, "baseline")
    fraction(p + effect_, "baseline + effect")
    h = 2 * math.asin(math.sqrt(p + effect_)) - 2 * math.asin(math.sqrt(p))
    return effect_, abs(h) / design.shrink


def sample_size(
    effect: float,
    *,
    sd: float | None = None,
    baseline: float | None = None,
    alpha: float = 0.05,
    power: float = 0.8,
    ratio: float = 1.0,
    alternative: Alternative = "two-sided",
    test: Test = "z",
    variance_reduction: float = 0.0,
) -> SampleSize:
    """Members per arm to detect ``effect`` with the given power.

    Args:
        effect: the difference to detect, treatment minus control: in the
            outcome's units for a mean, in proportion points (0.01 = one
            point) for a proportion.
        sd: the outcome's standard deviation (a mean), or
        baseline: the control arm's proportion (a conversion rate).
        alpha: the false-positive rate.
        power: the probability of detecting ``effect`` when it is there.
        ratio: control members per treatment member (0.25 for a 20% holdout).
        alternative: ``"two-sided"`` or ``"one-sided"`` (in the effect's direction).
        test: ``"z"`` (normal) or ``"t"`` (Student; means only).
        variance_reduction: the share of variance removed by CUPED
            (:attr:`Cuped.variance_reduction`), in [0, 1).

    Returns:
        A :class:`SampleSize`; the exact root equals statsmodels'
        ``NormalIndPower`` / ``TTestIndPower().solve_power(nobs1=None, ...)``.

    Raises:
        InvalidArgument: both or neither of ``sd`` / ``baseline``, a
            probability out of range, a zero effect.

    >>> sample_size(0.01, baseline=0.10).n_treatment
    14745
    >>> sample_size(0.01, baseline=0.10, ratio=0.25, variance_reduction=0.3).n_control
    6451
    """
    design = _design(alpha, power, ratio, alternative, test, variance_reduction)
    if test == "t" and baseline is not None:
        raise InvalidArgument(
            "test='t' is for means (sd=); a proportion uses the normal approximation",
            field="test",
            value=test,
        )
    absolute, d = _standardised(effect, sd, baseline, design)
    power_of = _power_function(design)
    low = 2.0 / (1.0 + design.ratio) + 1e-9 if design.t_test else 1e-9
    n1 = _root(lambda n: power_of(d, n) - design.power, low, max(4.0, 2 * low))
    return SampleSize(
        n_treatment=math.ceil(n1 - 1e-9),
        n_control=math.ceil(n1 * design.ratio - 1e-9),
        exact_treatment=n1,
        effect=absolute,
        effect_size=d,
        alpha=design.alpha,
        power=design.power,
        ratio=design.ratio,
        variance_reduction=1.0 - design.shrink**2,
    )


def minimum_detectable_effect(
    n_treatment: int,
    *,
    sd: float | None = None,
    baseline: float | None = None,
    alpha: float = 0.05,
    power: float = 0.8,
    ratio: float = 1.0,
    alternative: Alternative = "two-sided",
    test: Test = "z",
    variance_reduction: float = 0.0,
) -> Detectable:
    """The smallest effect ``n_treatment`` members (and ``ratio`` x as many controls) detect.

    Arguments are those of :func:`sample_size`, with the treatment arm's size
    given instead of the effect.

    Returns:
        A :class:`Detectable`; its ``effect_size`` equals statsmodels'
        ``solve_power(effect_size=None, nobs1=n_treatment, ...)``.

    Raises:
        InvalidArgument: as :func:`sample_size`; also when no proportion
            below 1 can be detected.

    >>> round(minimum_detectable_effect(5_000, sd=40.0).effect, 3)
    2.242
    >>> round(minimum_detectable_effect(5_000, sd=40.0, variance_reduction=0.5).effect, 3)
    1.585
    """
    design = _design(alpha, power, ratio, alternative, test, variance_reduction)
    n1 = check_int(n_treatment, "n_treatment", minimum=2)
    if (sd is None) == (baseline is None):
        raise InvalidArgument(
            "give exactly one of sd= (a mean) or baseline= (a proportion)", field="sd", value=sd
        )
    if test == "t" and baseline is not None:
        raise InvalidArgument(
            "test='t' is for means (sd=); a proportion uses the normal approximation",
            field="test",
            value=test,
        )
    power_of = _power_function(design)
    # start from the normal approximation's effect, so the t test's search stays
    # where scipy's noncentral t is accurate
    guess = 2.0 * 3.0 * math.sqrt(1.0 / n1 + 1.0 / (n1 * design.ratio))
    d = _root(lambda e: power_of(e, float(n1)) - design.power, 1e-12, guess)
    relative: float | None = None
    if sd is not None:
        sd_ = real(sd, "sd")
        if sd_ <= 0:
            raise InvalidArgument(f"sd={sd!r} must be > 0", field="sd", value=sd)
        effect = d * sd_ * design.shrink
    else:
        p = fraction(baseline, "baseline")
        angle = math.asin(math.sqrt(p)) + d * design.shrink / 2
        if angle > math.pi / 2:
            raise InvalidArgument(
                f"n_treatment={n1} cannot detect any proportion above baseline={p!r}",
                field="n_treatment",
                value=n1,
            )
        effect = math.sin(angle) ** 2 - p
        relative = effect / p
    return Detectable(
        effect=effect,
        relative=relative,
        effect_size=d,
        n_treatment=n1,
        n_control=n1 * design.ratio,
        alpha=design.alpha,
        power=design.power,
        ratio=design.ratio,
        variance_reduction=1.0 - design.shrink**2,
    )

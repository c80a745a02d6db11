"""Sample size and minimum detectable effect equal statsmodels' power solvers."""

from __future__ import annotations

import math
import pickle

import pytest
from statsmodels.stats.power import NormalIndPower, TTestIndPower
from statsmodels.stats.proportion import proportion_effectsize

from loyaltycore.campaigns import minimum_detectable_effect, sample_size
from loyaltycore.errors import InvalidArgument, InvalidType, LoyaltyError

DESIGNS = [
    # (alpha, power, ratio, alternative, variance_reduction)
    (0.05, 0.8, 1.0, "two-sided", 0.0),
    (0.05, 0.9, 0.25, "two-sided", 0.0),
    (0.01, 0.8, 4.0, "two-sided", 0.3),
    (0.10, 0.8, 1 / 9, "one-sided", 0.0),
    (0.05, 0.95, 0.5, "one-sided", 0.45),
]
SM_ALTERNATIVE = {"two-sided": "two-sided", "one-sided": "larger"}


@pytest.mark.parametrize(("alpha", "power", "ratio", "alternative", "vr"), DESIGNS)
@pytest.mark.parametrize("test", ["z", "t"])
def test_sample_size_for_a_mean_equals_statsmodels(
    alpha: float, power: float, ratio: float, alternative: str, vr: float, test: str
) -> None:
    effect, sd = 1.5, 12.0
    ours = sample_size(
        effect, sd=sd, alpha=alpha, power=power, ratio=ratio, alternative=alternative,
        test=test, variance_reduction=vr,
    )  # fmt: skip
    solver = NormalIndPower() if test == "z" else TTestIndPower()
    nobs1 = solver.solve_power(
        effect_size=effect / (sd * math.sqrt(1 - vr)), nobs1=None, alpha=alpha, power=power,
        ratio=ratio, alternative=SM_ALTERNATIVE[alternative],
    )  # fmt: skip
    assert ours.exact_treatment == pytest.approx(nobs1, rel=1e-6)
    achieved = solver.power(
        effect_size=ours.effect_size, nobs1=ours.exact_treatment, alpha=alpha, ratio=ratio,
        alternative=SM_ALTERNATIVE[alternative],
    )  # fmt: skip
    assert achieved == pytest.approx(power, abs=1e-9)
    assert ours.n_treatment == math.ceil(nobs1 - 1e-6)
    assert ours.n_control == math.ceil(nobs1 * ratio - 1e-6)


@pytest.mark.parametrize(("alpha", "power", "ratio", "alternative", "vr"), DESIGNS)
@pytest.mark.parametrize(("baseline", "effect"), [(0.05, 0.01), (0.30, -0.02), (0.9, 0.05)])
def test_sample_size_for_a_proportion_equals_statsmodels(
    alpha: float, power: float, ratio: float, alternative: str, vr: float, baseline: float,
    effect: float,
) -> None:  # fmt: skip
    ours = sample_size(
        effect, baseline=baseline, alpha=alpha, power=power, ratio=ratio,
        alternative=alternative, variance_reduction=vr,
    )  # fmt: skip
    h = abs(proportion_effectsize(baseline + effect, baseline)) / math.sqrt(1 - vr)
    nobs1 = NormalIndPower().solve_power(
        effect_size=h, nobs1=None, alpha=alpha, power=power, ratio=ratio,
        alternative=SM_ALTERNATIVE[alternative],
    )  # fmt: skip
    assert ours.effect_size == pytest.approx(h, rel=1e-12)
    assert ours.exact_treatment == pytest.approx(nobs1, rel=1e-6)


@pytest.mark.parametrize(("alpha", "power", "ratio", "alternative", "vr"), DESIGNS)
@pytest.mark.parametrize("test", ["z", "t"])
@pytest.mark.parametrize("n", [20, 500, 40_000])
def test_minimum_detectable_effect_equals_statsmodels(
    alpha: float, power: float, ratio: float, alternative: str, vr: float, test: str, n: int
) -> None:
    ours = minimum_detectable_effect(
        n, sd=30.0, alpha=alpha, power=power, ratio=ratio, alternative=alternative, test=test,
        variance_reduction=vr,
    )  # fmt: skip
    solver = NormalIndPower() if test == "z" else TTestIndPower()
    d = solver.solve_power(
        effect_size=None, nobs1=n, alpha=alpha, power=power, ratio=ratio,
        alternative=SM_ALTERNATIVE[alternative],
    )  # fmt: skip
    # statsmodels' effect-size search stops at about 1e-4 relative; ours is the
    # root of statsmodels' own power function to 1e-9 in power.
    assert ours.effect_size == pytest.approx(d, rel=2e-4)
    achieved = solver.power(
        effect_size=ours.effect_size, nobs1=n, alpha=alpha, ratio=ratio,
        alternative=SM_ALTERNATIVE[alternative],
    )  # fmt: skip
    assert achieved == pytest.approx(power, abs=1e-9)
    assert ours.effect == pytest.approx(ours.effect_size * 30.0 * math.sqrt(1 - vr), rel=1e-12)
    assert ours.relative is None


def test_minimum_detectable_proportion_inverts_cohens_h() -> None:
    mde = minimum_detectable_effect(8_000, baseline=0.04, ratio=0.25, variance_reduction=0.2)
    d = NormalIndPower().solve_power(effect_size=None, nobs1=8_000, alpha=0.05, power=0.8,
                                     ratio=0.25)  # fmt: skip
    assert mde.effect_size == pytest.approx(d, rel=2e-4)
    h = proportion_effectsize(0.04 + mde.effect, 0.04) / math.sqrt(1 - 0.2)
    assert h == pytest.approx(mde.effect_size, rel=1e-9)
    assert mde.relative == pytest.approx(mde.effect / 0.04)


def test_sample_size_and_mde_are_inverse() -> None:
    plan = sample_size(0.8, sd=10.0, ratio=0.5, test="t")
    mde = minimum_detectable_effect(plan.n_treatment, sd=10.0, ratio=0.5, test="t")
    assert mde.effect <= 0.8
    assert mde.effect == pytest.approx(0.8, rel=1e-3)


def test_variance_reduction_shrinks_the_sample_by_its_share() -> None:
    full = sample_size(2.0, sd=25.0).exact_treatment
    reduced = sample_size(2.0, sd=25.0, variance_reduction=0.4).exact_treatment
    assert reduced == pytest.approx(0.6 * full, rel=1e-9)


def test_results_are_frozen_and_pickle() -> None:
    plan = sample_size(0.01, baseline=0.1)
    assert pickle.loads(pickle.dumps(plan)) == plan
    assert plan.total == plan.n_treatment + plan.n_control
    mde = minimum_detectable_effect(1000, sd=1.0)
    assert pickle.loads(pickle.dumps(mde)) == mde


BAD = [
    ({"sd": None}, InvalidArgument, "give exactly one of sd= .* or baseline="),
    ({"baseline": 0.1}, InvalidArgument, "give exactly one of sd="),
    ({"effect": 0}, InvalidArgument, "effect=0 cannot be detected"),
    ({"sd": -1.0}, InvalidArgument, "sd=-1.0 must be > 0"),
    ({"alpha": 0.0}, InvalidArgument, "alpha=0.0 must be between 0 and 1"),
    ({"power": 1.0}, InvalidArgument, "power=1.0 must be between 0 and 1"),
    ({"power": 0.01}, InvalidArgument, "power=0.01 must exceed the false-positive rate"),
    ({"ratio": 0}, InvalidArgument, "ratio=0 must be > 0"),
    ({"ratio": True}, InvalidType, "ratio=True must be a real number"),
    ({"alternative": "larger"}, InvalidArgument, "alternative='larger' must be one of"),
    ({"test": "chi2"}, InvalidArgument, "test='chi2' must be one of"),
    ({"variance_reduction": 1.0}, InvalidArgument, "variance_reduction=1.0 must be in"),
    ({"effect": float("nan")}, InvalidArgument, "effect=nan must be finite"),
]


@pytest.mark.parametrize(("change", "error", "message"), BAD)
def test_bad_plans_raise_named_errors(
    change: dict[str, object], error: type[LoyaltyError], message: str
) -> None:
    kwargs: dict[str, object] = {"effect": 1.0, "sd": 5.0}
    kwargs.update(change)
    with pytest.raises(error, match=message):
        sample_size(**kwargs)  # type: ignore[arg-type]


def test_proportion_plans_refuse_what_they_cannot_do() -> None:
    with pytest.raises(InvalidArgument, match=r"baseline \+ effect=1\.05 must be between"):
        sample_size(0.1, baseline=0.95)
    with pytest.raises(InvalidArgument, match="test='t' is for means"):
        sample_size(0.01, baseline=0.1, test="t")
    with pytest.raises(InvalidArgument, match="cannot detect any proportion"):
        minimum_detectable_effect(2, baseline=0.9, alpha=0.01, power=0.99)
    with pytest.raises(InvalidType, match=r"n_treatment=10\.0 must be an int"):
        minimum_detectable_effect(10.0, sd=1.0)  # type: ignore[arg-type]

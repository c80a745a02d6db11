"""compare, balance and cuped: equal scipy / statsmodels, named errors, frozen results."""

from __future__ import annotations

import dataclasses
import math
import pickle
import warnings

import numpy as np
import pytest
import statsmodels.api as sm
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from loyaltycore.campaigns import ImbalanceWarning, balance, compare, cuped
from loyaltycore.errors import EmptyArm, InvalidArgument, InvalidColumn, InvalidType, LoyaltyError

values = st.lists(
    st.floats(-1e4, 1e4, allow_nan=False, allow_infinity=False).map(lambda x: round(x, 4)),
    min_size=2,
    max_size=40,
).filter(lambda xs: len(set(xs)) > 1)  # amounts to the hundredth of a cent, not all equal


def _spend(rng: np.random.Generator, n: int, scale: float) -> np.ndarray:
    """Zero-inflated, skewed spend: most members buy nothing in a short window."""
    return rng.gamma(0.6, scale, n) * (rng.random(n) < 0.45)


@settings(max_examples=80)
@given(values, values, st.sampled_from([0.8, 0.9, 0.95, 0.99]))
def test_welch_interval_equals_scipy(t: list[float], c: list[float], ci: float) -> None:
    ours = compare(t, c, ci=ci)
    ref = stats.ttest_ind(t, c, equal_var=False)
    low, high = ref.confidence_interval(confidence_level=ci)
    assert ours.difference_low == pytest.approx(low, rel=1e-9, abs=1e-9)
    assert ours.difference_high == pytest.approx(high, rel=1e-9, abs=1e-9)
    assert ours.p_value == pytest.approx(ref.pvalue, rel=1e-9, abs=1e-12)


def test_welch_ratio_interval_is_the_delta_method_on_the_log() -> None:
    rng = np.random.default_rng(3)
    t, c = rng.gamma(2.0, 12.0, 400), rng.gamma(2.0, 10.0, 300)
    ours = compare(t, c)
    se = math.sqrt(t.var(ddof=1) / len(t) / t.mean() ** 2 + c.var(ddof=1) / len(c) / c.mean() ** 2)
    vt, vc = t.var(ddof=1) / len(t), c.var(ddof=1) / len(c)
    df = (vt + vc) ** 2 / (vt**2 / (len(t) - 1) + vc**2 / (len(c) - 1))
    q = stats.t.ppf(0.975, df)
    assert ours.ratio_low == pytest.approx(t.mean() / c.mean() * math.exp(-q * se))
    assert ours.ratio_high == pytest.approx(t.mean() / c.mean() * math.exp(q * se))
    assert ours.lift == pytest.approx(t.mean() / c.mean() - 1)


def _scipy_bca_on(
    ours_means: np.ndarray, t: np.ndarray, c: np.ndarray, statistic: object
) -> tuple[float, float]:
    """scipy's BCa interval computed on our bootstrap distribution."""
    if statistic == "difference":
        dist = ours_means[:, 0] - ours_means[:, 1]

        def stat(a: np.ndarray, b: np.ndarray, axis: int = -1) -> np.ndarray:
            return a.mean(axis=axis) - b.mean(axis=axis)
    else:
        dist = ours_means[:, 0] / ours_means[:, 1]

        def stat(a: np.ndarray, b: np.ndarray, axis: int = -1) -> np.ndarray:
            return a.mean(axis=axis) / b.mean(axis=axis)

    # scipy's documented way to reuse a bootstrap distribution: pass an earlier
    # result and no new resamples; here the earlier result carries ours.
    first = stats.bootstrap((t, c), stat, n_resamples=2, method="percentile", vectorized=True)
    prior = dataclasses.replace(first, bootstrap_distribution=dist)
    res = stats.bootstrap(
        (t, c), stat, n_resamples=0, bootstrap_result=prior, method="BCa", vectorized=True
    )
    return float(res.confidence_interval.low), float(res.confidence_interval.high)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_bootstrap_bca_interval_equals_scipy_on_the_same_resamples(seed: int) -> None:
    rng = np.random.default_rng(seed)
    t, c = _spend(rng, 300, 40.0) + 1.0, _spend(rng, 120, 35.0) + 1.0
    ours = compare(t, c, method="bootstrap", resamples=999, seed=seed)
    assert ours.bootstrap_means is not None
    low, high = _scipy_bca_on(ours.bootstrap_means, t, c, "difference")
    assert (ours.difference_low, ours.difference_high) == pytest.approx((low, high), rel=1e-12)
    low, high = _scipy_bca_on(ours.bootstrap_means, t, c, "ratio")
    assert (ours.ratio_low, ours.ratio_high) == pytest.approx((low, high), rel=1e-12)


def test_bootstrap_resamples_have_the_distribution_of_plain_resampling() -> None:
    """Skipping zeros draws from the same distribution as resampling every member."""
    rng = np.random.default_rng(11)
    x = _spend(rng, 500, 30.0)
    ours = compare(x, x, method="bootstrap", resamples=4000, seed=5).bootstrap_means
    assert ours is not None
    plain_rng = np.random.default_rng(6)
    plain = x[plain_rng.integers(0, len(x), (4000, len(x)))].mean(axis=1)
    for column in (ours[:, 0], ours[:, 1]):
        assert stats.ks_2samp(column, plain).pvalue > 0.001
        assert column.mean() == pytest.approx(x.mean(), rel=0.01)
        assert column.std() == pytest.approx(x.std() / math.sqrt(len(x)), rel=0.05)


def test_bootstrap_interval_agrees_with_scipy_bootstrap() -> None:
    rng = np.random.default_rng(8)
    t, c = _spend(rng, 2_000, 50.0), _spend(rng, 800, 45.0)
    ours = compare(t, c, method="bootstrap", resamples=2000, seed=1)
    ref = stats.bootstrap(
        (t, c), lambda a, b, axis=-1: a.mean(axis=axis) - b.mean(axis=axis),
        n_resamples=2000, method="BCa", vectorized=True, batch=200,
        rng=np.random.default_rng(2),
    )  # fmt: skip
    width = ref.confidence_interval.high - ref.confidence_interval.low
    assert abs(ours.difference_low - ref.confidence_interval.low) < 0.1 * width
    assert abs(ours.difference_high - ref.confidence_interval.high) < 0.1 * width
    assert ours.standard_error == pytest.approx(ref.standard_error, rel=0.1)


def test_the_bootstrap_is_seeded() -> None:
    rng = np.random.default_rng(4)
    t, c = _spend(rng, 200, 10.0), _spend(rng, 200, 10.0)
    a = compare(t, c, method="bootstrap", seed=7)
    assert a == compare(t, c, method="bootstrap", seed=7)
    assert a == compare(t, c, method="bootstrap", seed=np.random.default_rng(7))
    assert a != compare(t, c, method="bootstrap", seed=8)


def test_comparison_is_frozen_and_pickles() -> None:
    c = compare([1.0, 2.0, 3.0], [1.0, 1.5, 1.0], method="bootstrap", resamples=50, seed=1)
    assert pickle.loads(pickle.dumps(c)) == c
    assert c.bootstrap_means is not None
    assert not c.bootstrap_means.flags.writeable


def test_undefined_ratios_are_nan() -> None:
    c = compare([1.0, 2.0], [0.0, 0.0])
    assert math.isnan(c.ratio)
    assert math.isnan(c.ratio_low)
    same = compare([3.0, 3.0], [3.0, 3.0])
    assert same.difference == 0.0
    assert math.isnan(same.difference_low)


BAD_COMPARE = [
    ({"treatment": []}, EmptyArm, "treatment has 0 members; compare needs at least 2"),
    ({"control": [4.0]}, EmptyArm, "control has 1 member; compare needs at least 2"),
    ({"treatment": [1.0, float("nan")]}, InvalidColumn, "treatment\\[1\\]=nan is not finite"),
    ({"control": [1.0, float("inf")]}, InvalidColumn, "control\\[1\\]=inf is not finite"),
    ({"treatment": ["a", "b"]}, InvalidType, "treatment must be a numeric column"),
    ({"treatment": [[1.0, 2.0]]}, InvalidColumn, "treatment must be one-dimensional"),
    ({"ci": 1.0}, InvalidArgument, "ci=1.0 must be between 0 and 1"),
    ({"method": "t"}, InvalidArgument, "method='t' must be one of"),
    ({"method": "bootstrap", "resamples": 0}, InvalidArgument, "resamples=0 must be >= 1"),
    ({"method": "bootstrap"}, InvalidArgument, "seed=None: a random draw needs a seed"),
    ({"method": "bootstrap", "seed": -1}, InvalidArgument, "seed=-1 must be >= 0"),
    ({"method": "bootstrap", "seed": 1.5}, InvalidType, "seed=1.5 must be an int"),
]


@pytest.mark.parametrize(("change", "error", "message"), BAD_COMPARE)
def test_bad_comparisons_raise_named_errors(
    change: dict[str, object], error: type[LoyaltyError], message: str
) -> None:
    kwargs: dict[str, object] = {"treatment": [1.0, 2.0, 3.0], "control": [2.0, 2.5]}
    kwargs.update(change)
    with pytest.raises(error, match=message):
        compare(**kwargs)  # type: ignore[arg-type]


# -- balance ---------------------------------------------------------------------


def test_smd_is_the_pooled_standardised_difference() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(10, 3, 500)
    arm = rng.random(500) < 0.7
    b = balance({"x": x}, arm, warn_above=None)
    t, c = x[arm], x[~arm]
    expected = (t.mean() - c.mean()) / math.sqrt((t.var(ddof=1) + c.var(ddof=1)) / 2)
    assert b.smd[0] == pytest.approx(expected, rel=1e-12)
    assert (b.n_treatment, b.n_control) == (int(arm.sum()), int((~arm).sum()))


def test_imbalance_warns_with_our_own_category() -> None:
    arm = ["treatment"] * 50 + ["control"] * 50
    shifted = np.r_[np.arange(50.0), np.arange(50.0) + 10]
    with pytest.warns(ImbalanceWarning, match="spend \\(-0.686"):
        b = balance({"spend": shifted, "same": np.r_[np.arange(50.0), np.arange(50.0)]}, arm)
    assert b.imbalanced == ("spend",)
    assert issubclass(ImbalanceWarning, UserWarning)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert balance({"spend": shifted}, arm, warn_above=2.0).imbalanced == ()
    assert pickle.loads(pickle.dumps(b)) == b


BAD_BALANCE = [
    ({"arm": [True, True, True, False]}, EmptyArm, "control has 1 member; balance needs"),
    ({"covariates": {}}, LoyaltyError, "covariates is empty"),
    ({"covariates": {"x": [1.0, 2.0, 3.0]}}, InvalidColumn, "covariates\\['x'\\] has 3 rows"),
    ({"covariates": {"x": [1.0, float("nan"), 3.0, 4.0]}}, InvalidColumn, "is not finite"),
    (
        {"arm": ["treatment", "holdout", "control", "control"]},
        InvalidColumn,
        "arm\\[1\\]='holdout'",
    ),
    ({"arm": [1, 0, 1, 0]}, InvalidType, "arm must hold 'treatment' / 'control' labels or bools"),
    ({"warn_above": -0.1}, InvalidArgument, "warn_above=-0.1 must be >= 0"),
]


@pytest.mark.parametrize(("change", "error", "message"), BAD_BALANCE)
def test_bad_balance_raises_named_errors(
    change: dict[str, object], error: type[LoyaltyError], message: str
) -> None:
    kwargs: dict[str, object] = {
        "covariates": {"x": [1.0, 2.0, 2.0, 1.0]},
        "arm": [True, False] * 2,
    }
    kwargs.update(change)
    with pytest.raises(error, match=message):
        balance(**kwargs)  # type: ignore[arg-type]


# -- cuped -----------------------------------------------------------------------


@settings(max_examples=40)
@given(st.integers(0, 2**32 - 1), st.integers(6, 200))
def test_cuped_difference_is_the_ancova_arm_coefficient(seed: int, n: int) -> None:
    rng = np.random.default_rng(seed)
    pre = rng.gamma(1.0, 20.0, n)
    arm = np.arange(n) % 3 == 0
    y = 0.8 * pre + rng.normal(0, 5, n) + 3.0 * arm
    r = cuped(y, pre, arm)
    fit = sm.OLS(y, np.column_stack([np.ones(n), arm.astype(float), pre])).fit()
    assert r.theta == pytest.approx(fit.params[2], rel=1e-8, abs=1e-10)
    diff = r.adjusted[arm].mean() - r.adjusted[~arm].mean()
    assert diff == pytest.approx(fit.params[1], rel=1e-8, abs=1e-8)
    assert r.adjusted.mean() == pytest.approx(y.mean(), abs=1e-9 * max(1.0, abs(y).max()))


def test_cuped_reports_the_within_arm_variance_it_removed() -> None:
    rng = np.random.default_rng(5)
    pre = rng.normal(50, 10, 4000)
    arm = rng.random(4000) < 0.5
    y = pre + rng.normal(0, 10, 4000) + 5 * arm  # corr(y, pre) = 1/sqrt(2) within arms
    r = cuped(y, pre, arm)
    assert r.variance_reduction == pytest.approx(0.5, abs=0.03)
    raw, adjusted = compare(y[arm], y[~arm]), r.compare()
    assert adjusted.standard_error < raw.standard_error * 0.75
    assert pickle.loads(pickle.dumps(r)) == r


BAD_CUPED = [
    ({"pre": [1.0, 2.0, 3.0]}, InvalidColumn, "pre has 3 rows, expected 4 \\(as many as y\\)"),
    ({"arm": [True, False]}, InvalidColumn, "arm has 2 rows, expected 4"),
    ({"y": [1.0, 2.0, float("nan"), 4.0]}, InvalidColumn, "y\\[2\\]=nan is not finite"),
    ({"arm": [True, True, True, False]}, EmptyArm, "control has 1 member; cuped needs"),
]


@pytest.mark.parametrize(("change", "error", "message"), BAD_CUPED)
def test_bad_cuped_input_raises_named_errors(
    change: dict[str, object], error: type[LoyaltyError], message: str
) -> None:
    kwargs: dict[str, object] = {
        "y": [1.0, 2.0, 3.0, 4.0],
        "pre": [1.0, 2.5, 2.0, 4.0],
        "arm": [True, False, True, False],
    }
    kwargs.update(change)
    with pytest.raises(error, match=message):
        cuped(**kwargs)  # type: ignore[arg-type]

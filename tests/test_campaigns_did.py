"""Difference in differences equals statsmodels OLS with member-clustered covariance."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import statsmodels.api as sm
from hypothesis import given, settings
from hypothesis import strategies as st

from loyaltycore.campaigns import diff_in_diff
from loyaltycore.errors import EmptyArm, EmptyData, InvalidColumn, InvalidType, LoyaltyError


def _panel(seed: int, members: int, periods: int, start: int, effect: float, trend: float):
    """A member-by-period panel with member effects, a common trend and a treatment effect."""
    rng = np.random.default_rng(seed)
    member = np.repeat(np.arange(members), periods)
    period = np.tile(np.arange(periods), members)
    treated = member % 3 == 0
    base = rng.gamma(2.0, 10.0, members)[member]
    y = (
        base
        + 0.5 * period
        + trend * period * treated
        + effect * treated * (period >= start)
        + rng.normal(0, 4, members * periods)
    )
    return member, period, treated, y


def _statsmodels(member, post, treated, y, ci=0.95):
    t, p = treated.astype(float), post.astype(float)
    x = np.column_stack([np.ones(len(y)), t, p, t * p])
    fit = sm.OLS(y, x).fit(cov_type="cluster", cov_kwds={"groups": member}, use_t=True)
    return fit, fit.conf_int(alpha=1 - ci)[3]


@settings(max_examples=30)
@given(
    st.integers(0, 2**32 - 1),
    st.integers(6, 60),
    st.integers(2, 6),
    st.floats(-5, 5),
    st.sampled_from([0.9, 0.95]),
)
def test_estimate_and_clustered_se_equal_statsmodels(
    seed: int, members: int, periods: int, effect: float, ci: float
) -> None:
    member, period, treated, y = _panel(seed, members, periods, 1, effect, 0.0)
    ours = diff_in_diff(member, period, treated, y, start=1, ci=ci)
    fit, (low, high) = _statsmodels(member, period >= 1, treated, y, ci)
    assert ours.estimate == pytest.approx(fit.params[3], rel=1e-9, abs=1e-9)
    assert ours.standard_error == pytest.approx(fit.bse[3], rel=1e-9)
    assert (ours.low, ours.high) == pytest.approx((low, high), rel=1e-9)
    assert ours.p_value == pytest.approx(fit.pvalues[3], rel=1e-7, abs=1e-12)
    default = sm.OLS(fit.model.endog, fit.model.exog).fit(
        cov_type="cluster", cov_kwds={"groups": member}
    )
    assert ours.standard_error == pytest.approx(default.bse[3], rel=1e-9)


def test_the_estimate_is_the_difference_of_cell_mean_changes() -> None:
    member, period, treated, y = _panel(1, 90, 4, 2, 3.0, 0.0)
    r = diff_in_diff(member, period, treated, y, start=2)
    post = period >= 2
    cell = {(a, b): y[(treated == a) & (post == b)].mean() for a in (0, 1) for b in (0, 1)}
    assert r.estimate == pytest.approx((cell[1, 1] - cell[1, 0]) - (cell[0, 1] - cell[0, 0]))
    assert (r.treatment_pre, r.control_post) == pytest.approx((cell[1, 0], cell[0, 1]))
    assert abs(r.estimate - 3.0) < 4 * r.standard_error
    assert (r.n_members, r.n_rows) == (90, 360)


def test_a_post_flag_needs_no_start_and_gives_no_pre_trend() -> None:
    member, period, treated, y = _panel(2, 30, 2, 1, 1.0, 0.0)
    by_flag = diff_in_diff(member, period == 1, treated, y)
    by_period = diff_in_diff(member, period, treated, y, start=1)
    assert by_flag.estimate == pytest.approx(by_period.estimate)
    assert by_flag.pre_trend is None
    assert by_period.pre_trend is None
    labels = np.where(treated, "treatment", "control")
    assert diff_in_diff(member, (period == 1).astype(int), labels, y).estimate == pytest.approx(
        by_flag.estimate
    )


def test_pre_trend_equals_statsmodels_and_flags_diverging_arms() -> None:
    member, period, treated, y = _panel(3, 300, 6, 4, 2.0, 1.5)
    r = diff_in_diff(member, period, treated, y, start=4)
    assert r.pre_trend is not None
    pre = period < 4
    t, p = treated[pre].astype(float), period[pre].astype(float)
    x = np.column_stack([np.ones(len(t)), t, p, t * p])
    fit = sm.OLS(y[pre], x).fit(cov_type="cluster", cov_kwds={"groups": member[pre]}, use_t=True)
    assert r.pre_trend.slope_difference == pytest.approx(fit.params[3], rel=1e-9)
    assert r.pre_trend.standard_error == pytest.approx(fit.bse[3], rel=1e-9)
    assert r.pre_trend.p_value == pytest.approx(fit.pvalues[3], rel=1e-7)
    assert r.pre_trend.periods == 4
    assert r.pre_trend.p_value < 0.001  # the treated arm was already pulling away
    parallel = diff_in_diff(*_panel(3, 300, 6, 4, 2.0, 0.0), start=4)
    assert parallel.pre_trend is not None
    assert parallel.pre_trend.p_value > 0.001
    assert pickle.loads(pickle.dumps(r)) == r


BAD = [
    ({"member": ["a", "a", "b", "b", "c", "c", "d"]}, InvalidColumn, "member has 7 rows"),
    ({"outcome": [1.0, 2, 3, 4, 5, 6, 7, float("nan")]}, InvalidColumn, "outcome\\[7\\]=nan"),
    ({"treated": [True, False, True, True, False, False, False, False]}, InvalidColumn,
     "treated\\[1\\] differs from the member's other rows"),
    ({"treated": [True] * 6 + [False] * 2}, EmptyArm, "control has 1 member"),
    ({"period": [0, 0, 0, 0, 0, 0, 0, 0]}, EmptyData, "no post-period rows for the treatment"),
    ({"period": [0.5, 1, 0.5, 1, 0.5, 1, 0.5, 1]}, InvalidType, "period must be a post flag"),
    ({"member": ["a", "a", None, "b", "c", "c", "d", "d"]}, InvalidColumn, "member\\[2\\]=None"),
]  # fmt: skip


@pytest.mark.parametrize(("change", "error", "message"), BAD)
def test_bad_panels_raise_named_errors(
    change: dict[str, object], error: type[LoyaltyError], message: str
) -> None:
    kwargs: dict[str, object] = {
        "member": ["a", "a", "b", "b", "c", "c", "d", "d"],
        "period": [0, 1] * 4,
        "treated": [True] * 4 + [False] * 4,
        "outcome": [1.0, 2, 3, 4, 5, 6, 7, 8],
    }
    kwargs.update(change)
    with pytest.raises(error, match=message):
        diff_in_diff(**kwargs)  # type: ignore[arg-type]

"""sBG: Fader and Hardie (2007, 2010) figures, survival invariants, both data forms."""

from __future__ import annotations

import pickle
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loyaltycore.clv import ShiftedBetaGeometric
from loyaltycore.errors import (
    DegenerateFit,
    EmptyData,
    InvalidArgument,
    InvalidColumn,
    LoyaltyError,
)

REGULAR = [1000, 631, 468, 382, 326, 289, 262, 241]
HIGH_END = [1000, 869, 743, 653, 593, 551, 517, 491]


@pytest.mark.parametrize(
    ("survivors", "alpha", "beta"), [(REGULAR, 0.704, 1.182), (HIGH_END, 0.668, 3.806)]
)
def test_reproduces_how_to_project_customer_retention(
    survivors: list[int], alpha: float, beta: float
) -> None:
    fitted = ShiftedBetaGeometric.fit(survivors=survivors)
    assert fitted.params == pytest.approx({"alpha": alpha, "beta": beta}, abs=1e-3)
    assert fitted.fit_info is not None
    assert fitted.fit_info.customers == 1000
    assert fitted.fit_info.log_likelihood == pytest.approx(
        fitted.log_likelihood(survivors=survivors)
    )


def _lifetimes_of(survivors: list[int]) -> tuple[np.ndarray, np.ndarray]:
    counts = np.array(survivors)
    lost = counts[:-1] - counts[1:]
    periods = np.arange(1, counts.size)
    lifetimes = np.concatenate([np.repeat(periods, lost), np.full(counts[-1], periods[-1])])
    censored = np.concatenate([np.zeros(lost.sum(), bool), np.ones(counts[-1], bool)])
    return lifetimes, censored


def test_member_histories_fit_the_same() -> None:
    lifetimes, censored = _lifetimes_of(REGULAR)
    by_member = ShiftedBetaGeometric.fit(lifetimes=lifetimes, censored=censored)
    by_cohort = ShiftedBetaGeometric.fit(survivors=REGULAR)
    assert by_member.params == pytest.approx(by_cohort.params, rel=1e-7)


def test_projection_of_the_paper() -> None:
    """Fit on years 1-7 of the regular segment, the survival curve tracks the data."""
    model = ShiftedBetaGeometric.fit(survivors=REGULAR)
    projected = 1000 * model.survival(np.arange(8))
    assert np.abs(projected - np.array(REGULAR)).max() < 12


def test_discounted_lifetimes_equal_their_sums() -> None:
    model = ShiftedBetaGeometric(alpha=0.668, beta=3.806)
    t = np.arange(0, 6000)
    survival = model.survival(t)
    d = 0.1
    assert model.discounted_expected_lifetime(d) == pytest.approx(
        float(np.sum(survival / (1 + d) ** t)), rel=1e-9
    )
    for renewals in (0, 1, 4):
        n = renewals + 1
        ahead = t[t >= n]
        direct = np.sum(survival[ahead] / survival[n - 1] / (1 + d) ** (ahead - n))
        derl = model.discounted_expected_residual_lifetime(d, renewals=renewals)
        assert float(derl) == pytest.approx(float(direct), rel=1e-9)


def test_expected_lifetime() -> None:
    model = ShiftedBetaGeometric(alpha=1.7, beta=3.0)
    assert model.expected_lifetime == pytest.approx(
        float(model.survival(np.arange(200_000)).sum()), rel=1e-3
    )
    assert ShiftedBetaGeometric(alpha=0.9, beta=3.0).expected_lifetime == float("inf")


@settings(max_examples=60)
@given(alpha=st.floats(0.05, 20.0), beta=st.floats(0.05, 20.0), horizon=st.integers(1, 60))
def test_survival_invariants(alpha: float, beta: float, horizon: int) -> None:
    model = ShiftedBetaGeometric(alpha=alpha, beta=beta)
    t = np.arange(horizon + 1)
    survival = model.survival(t)
    assert survival[0] == pytest.approx(1.0)
    assert np.all(np.diff(survival) <= 1e-15)
    assert np.all((survival >= 0) & (survival <= 1))
    churn = model.churn_probability(t[1:])
    assert survival[-1] + churn.sum() == pytest.approx(1.0, rel=1e-9)
    retention = model.retention_rate(t[1:])
    assert np.all(np.diff(retention) >= -1e-15)  # heterogeneity: retention rises with tenure
    assert retention * survival[:-1] == pytest.approx(survival[1:], rel=1e-9, abs=1e-300)


def test_parameter_recovery() -> None:
    truth = ShiftedBetaGeometric(alpha=0.7, beta=1.2)
    rng = np.random.default_rng(4)
    theta = rng.beta(truth.alpha, truth.beta, 20_000)
    lifetimes = rng.geometric(theta)
    censored = lifetimes > 12
    fit = ShiftedBetaGeometric.fit(lifetimes=np.minimum(lifetimes, 12), censored=censored)
    assert fit.fit_info is not None
    for name, value in truth.params.items():
        assert abs(fit.params[name] - value) < 4 * fit.fit_info.standard_errors[name], name


def test_pickles() -> None:
    fitted = ShiftedBetaGeometric.fit(survivors=HIGH_END)
    again = pickle.loads(pickle.dumps(fitted))
    assert again == fitted
    assert again.fit_info == fitted.fit_info


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: ShiftedBetaGeometric.fit(), InvalidArgument, "either survivors"),
        (
            lambda: ShiftedBetaGeometric.fit(survivors=[10, 5], lifetimes=[1], censored=[True]),
            InvalidArgument,
            "either survivors",
        ),
        (lambda: ShiftedBetaGeometric.fit(survivors=[10]), InvalidArgument, "at least one"),
        (
            lambda: ShiftedBetaGeometric.fit(survivors=[10, 12]),
            InvalidColumn,
            r"survivors\[1\]=12",
        ),
        (lambda: ShiftedBetaGeometric.fit(survivors=[10, 4.5]), InvalidColumn, "whole number"),
        (lambda: ShiftedBetaGeometric.fit(survivors=[0, 0]), EmptyData, "empty"),
        (
            lambda: ShiftedBetaGeometric.fit(survivors=[10, 10, 10]),
            DegenerateFit,
            "no member left",
        ),
        (
            lambda: ShiftedBetaGeometric.fit(lifetimes=[1, 1], censored=[False, False]),
            DegenerateFit,
            "first period",
        ),
        (lambda: ShiftedBetaGeometric.fit(lifetimes=[1, 2]), InvalidColumn, "censored"),
        (
            lambda: ShiftedBetaGeometric.fit(lifetimes=[0, 2], censored=[False, True]),
            InvalidColumn,
            r"lifetimes\[0\]=0.0",
        ),
        (
            lambda: ShiftedBetaGeometric.fit(lifetimes=[1, 2], censored=[1, 0]),
            InvalidColumn,
            "booleans",
        ),
        (lambda: ShiftedBetaGeometric(0.7, 1.2).survival(-1), InvalidArgument, "t=-1"),
        (lambda: ShiftedBetaGeometric(0.7, 1.2).retention_rate(0), InvalidArgument, "t=0"),
        (
            lambda: ShiftedBetaGeometric(0.7, 1.2).discounted_expected_lifetime(0.0),
            InvalidArgument,
            "discount_rate=0.0",
        ),
        (lambda: ShiftedBetaGeometric(0.0, 1.2), InvalidArgument, "alpha=0.0"),
    ],
)
def test_bad_input(call: Any, error: type[LoyaltyError], match: str) -> None:
    with pytest.raises(error, match=match):
        call()

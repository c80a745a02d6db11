"""CLV models: literature figures on CDNOW, recovery, invariants, bad input, pickling."""

from __future__ import annotations

import importlib
import math
import pickle
import subprocess
import sys
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate

from loyaltycore.clv import (
    BetaGeo,
    FitInfo,
    GammaGamma,
    Histories,
    ModifiedBetaGeo,
    ParetoNBD,
    customer_lifetime_value,
)
from loyaltycore.clv import _lik as _clv_lik
from loyaltycore.errors import (
    ConvergenceError,
    DegenerateFit,
    EmptyData,
    InvalidArgument,
    InvalidColumn,
    InvalidType,
    LoyaltyError,
)

_Model = BetaGeo | ModifiedBetaGeo | ParetoNBD
BG_CDNOW = BetaGeo(r=0.243, alpha=4.414, a=0.793, b=2.426, unit="week")
PNBD_CDNOW = ParetoNBD(r=0.553, alpha=10.578, s=0.606, beta=11.669, unit="week")
GG_CDNOW = GammaGamma(p=6.25, q=3.74, gamma=15.44)


@attrs.frozen
class _Summary:
    """A stand-in for a transactions Summary: attributes and a unit."""

    frequency: Any
    recency: Any
    T: Any
    unit: str = "week"
    monetary: Any = None


def _read(path: Path) -> dict[str, np.ndarray]:
    table = np.genfromtxt(path, delimiter=",", names=True)
    assert table.dtype.names is not None
    return {name: np.asarray(table[name], dtype=np.float64) for name in table.dtype.names}


@pytest.fixture(scope="module")
def cdnow(data_dir: Path) -> _Summary:
    columns = _read(data_dir / "cdnow_customers_summary.csv")
    return _Summary(columns["frequency"], columns["recency"], columns["T"])


@pytest.fixture(scope="module")
def cdnow_spend(data_dir: Path) -> dict[str, np.ndarray]:
    columns = _read(data_dir / "cdnow_customers_summary_with_transactions.csv")
    return {"frequency": columns["x"], "monetary": columns["zbar"]}


@pytest.fixture(scope="module")
def bg_fit(cdnow: _Summary) -> BetaGeo:
    return BetaGeo.fit(cdnow)


@pytest.fixture(scope="module")
def pnbd_fit(cdnow: _Summary) -> ParetoNBD:
    return ParetoNBD.fit(cdnow)


@pytest.fixture(scope="module")
def gg_fit(cdnow_spend: dict[str, np.ndarray]) -> GammaGamma:
    return GammaGamma.fit(cdnow_spend)


# -- the literature's figures on CDNOW ----------------------------------------------


def test_bg_nbd_reproduces_fader_hardie_lee(bg_fit: BetaGeo) -> None:
    assert bg_fit.params == pytest.approx(
        {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}, abs=1e-3
    )
    assert bg_fit.fit_info is not None
    assert bg_fit.fit_info.log_likelihood == pytest.approx(-9582.4, abs=0.05)
    assert bg_fit.fit_info.customers == 2357
    assert bg_fit.fit_info.unique_rows < 2357
    assert bg_fit.fit_info.unit == "week"
    errors = bg_fit.fit_info.standard_errors
    assert errors == pytest.approx({"r": 0.0126, "alpha": 0.378, "a": 0.186, "b": 0.705}, rel=0.02)


def test_bg_conditional_expectation_of_customer_one(bg_fit: BetaGeo) -> None:
    expected = bg_fit.expected_purchases(39, frequency=[2], recency=[30.43], T=[38.86])
    assert round(float(expected[0]), 3) == 1.226


def test_pareto_nbd_reproduces_fader_hardie(pnbd_fit: ParetoNBD) -> None:
    assert pnbd_fit.params == pytest.approx(
        {"r": 0.553, "alpha": 10.578, "s": 0.606, "beta": 11.669}, abs=2e-3
    )
    assert pnbd_fit.fit_info is not None
    assert pnbd_fit.fit_info.log_likelihood == pytest.approx(-9595.0, abs=0.05)


def test_modified_bg_nbd_agrees_with_lifetimes(cdnow: _Summary) -> None:
    """lifetimes 0.11.3's ModifiedBetaGeoFitter on CDNOW: its parameters and log-likelihood."""
    fitted = ModifiedBetaGeo.fit(cdnow)
    assert fitted.params == pytest.approx(
        {"r": 0.5248, "alpha": 6.1830, "a": 0.8914, "b": 1.6140}, abs=2e-4
    )
    assert fitted.fit_info is not None
    assert fitted.fit_info.log_likelihood == pytest.approx(-9582.1327, abs=1e-3)
    customers = {"frequency": [0, 2, 2, 7], "recency": [0, 30.43, 5, 36], "T": [38.86] * 4}
    lifetimes = ModifiedBetaGeo(
        r=0.5248377, alpha=6.1829885, a=0.8913563, b=1.6140000, unit="week"
    )
    assert lifetimes.p_alive(**customers) == pytest.approx(
        [0.38971644, 0.70612626, 0.10737519, 0.85504964], rel=1e-6
    )
    assert lifetimes.expected_purchases(13, **customers) == pytest.approx(
        [0.05602708, 0.47683829, 0.07250913, 1.68802903], rel=1e-6
    )


def test_gamma_gamma_reproduces_on_repeat_customers(gg_fit: GammaGamma) -> None:
    assert gg_fit.params == pytest.approx({"p": 6.25, "q": 3.74, "gamma": 15.44}, abs=1e-2)
    assert gg_fit.fit_info is not None
    assert gg_fit.fit_info.customers == 946  # repeat customers of the 2357
    assert gg_fit.fit_info.unit is None


def test_walkthrough_figures(bg_fit: BetaGeo, gg_fit: GammaGamma, cdnow: _Summary) -> None:
    """The numbers shown in docs/clv.md."""
    alive = bg_fit.p_alive(cdnow)
    assert round(float(alive.mean()), 3) == 0.813
    new = bg_fit.expected_purchases_new([39, 78])
    assert new.round(3).tolist() == [1.195, 1.858]
    assert round(gg_fit.mean_spend, 2) == 35.17
    history = {"frequency": [2], "recency": [30.43], "T": [38.86], "monetary": [22.35]}
    value = customer_lifetime_value(
        bg_fit, gg_fit, horizon=52, unit="week", discount_rate=0.002, **history
    )
    assert round(float(value[0]), 2) == 36.60


def test_fit_inputs_agree(cdnow: _Summary) -> None:
    by_attributes = BetaGeo.fit(cdnow)
    as_mapping = {"frequency": cdnow.frequency, "recency": cdnow.recency, "T": cdnow.T}
    by_mapping = BetaGeo.fit(as_mapping, unit="week")
    by_keywords = BetaGeo.fit(
        frequency=cdnow.frequency, recency=cdnow.recency, T=cdnow.T, unit="week"
    )
    assert by_attributes == by_mapping == by_keywords


def test_customers_of_the_last_day_carry_no_information() -> None:
    """T = 0 (first purchase at the end of observation) adds nothing to the likelihood."""
    for model in (BG_CDNOW, PNBD_CDNOW, ModifiedBetaGeo(0.5, 6.0, 0.9, 1.6, unit="week")):
        assert model.log_likelihood(frequency=[0], recency=[0], T=[0]) == pytest.approx(0.0)
        new = float(model.expected_purchases_new(10))
        assert model.expected_purchases(10, frequency=[0], recency=[0], T=[0]) == pytest.approx(
            [new]
        )


def test_fit_reads_a_data_frame_by_column(cdnow: _Summary) -> None:
    pandas = importlib.import_module("pandas")
    frame = pandas.DataFrame(
        {"frequency": cdnow.frequency, "recency": cdnow.recency, "T": cdnow.T}
    )
    assert BetaGeo.fit(frame, unit="week") == BetaGeo.fit(cdnow)


def test_weights_equal_expanded_rows() -> None:
    x = np.array([0.0, 1, 2, 5, 0, 3, 1])
    t_x = np.array([0.0, 3, 10, 30, 0, 20, 1])
    big_t = np.array([40.0, 35, 38, 39, 12, 33, 30])
    counts = np.array([30, 12, 8, 3, 20, 5, 9])
    weighted = BetaGeo.fit(frequency=x, recency=t_x, T=big_t, weights=counts, unit="week")
    expanded = BetaGeo.fit(
        frequency=np.repeat(x, counts),
        recency=np.repeat(t_x, counts),
        T=np.repeat(big_t, counts),
        unit="week",
    )
    assert weighted.params == pytest.approx(expanded.params, rel=1e-6)
    assert weighted.fit_info is not None
    assert expanded.fit_info is not None
    assert weighted.fit_info.log_likelihood == pytest.approx(expanded.fit_info.log_likelihood)
    assert weighted.fit_info.customers == counts.sum()


# -- parameter recovery ---------------------------------------------------------


def _within(fitted: dict[str, float], truth: dict[str, float], errors: dict[str, float]) -> None:
    for name, value in truth.items():
        assert abs(fitted[name] - value) < 4 * errors[name], (name, fitted[name], value)


@pytest.mark.parametrize(
    "truth",
    [
        BetaGeo(r=0.25, alpha=4.0, a=0.8, b=2.5, unit="week"),
        BetaGeo(r=1.5, alpha=20.0, a=2.0, b=6.0, unit="day"),
        ModifiedBetaGeo(r=0.5, alpha=6.0, a=0.9, b=1.6, unit="week"),
        ParetoNBD(r=0.55, alpha=10.0, s=0.6, beta=12.0, unit="week"),
    ],
    ids=repr,
)
def test_parameter_recovery(truth: _Model) -> None:
    ages = np.random.default_rng(11).uniform(20.0, 60.0, 10_000)
    simulated = truth.simulate(ages, seed=np.random.default_rng(12))
    fitted = type(truth).fit(simulated)
    assert fitted.fit_info is not None
    _within(fitted.params, truth.params, fitted.fit_info.standard_errors)


def test_gamma_gamma_recovery() -> None:
    truth = GammaGamma(p=6.0, q=4.0, gamma=15.0)
    frequency = np.random.default_rng(3).integers(1, 8, 10_000)
    fitted = GammaGamma.fit(frequency=frequency, monetary=truth.simulate(frequency, seed=4))
    assert fitted.fit_info is not None
    _within(fitted.params, truth.params, fitted.fit_info.standard_errors)


def test_simulation_is_seeded() -> None:
    first = BG_CDNOW.simulate(39.0, size=50, seed=5)
    assert first == BG_CDNOW.simulate(39.0, size=50, seed=np.random.default_rng(5))
    assert first != BG_CDNOW.simulate(39.0, size=50, seed=6)
    assert first.unit == "week"
    assert not first.frequency.flags.writeable


# -- Pareto/NBD numerics ------------------------------------------------------------


def _pnbd_by_quadrature(params: tuple[float, ...], x: float, t_x: float, big_t: float) -> float:
    """Likelihood from its integral form: alive at T, or died in (t_x, T]."""
    r, alpha, s, beta = params
    log_const = math.lgamma(r + x) - math.lgamma(r) + r * math.log(alpha) + s * math.log(beta)

    log_alive = -(r + x) * math.log(alpha + big_t) - s * math.log(beta + big_t)
    # dying at tau in (t_x, T], integrated over v = log(m + tau) with m the smaller
    # of alpha and beta (the sharper factor), scaled by the integrand at the start
    m = min(alpha, beta)
    start = math.log(m + t_x)

    def log_integrand(v: float) -> float:
        tau = max(math.exp(v) - m, 0.0)
        return math.log(s) - (s + 1) * math.log(beta + tau) - (r + x) * math.log(alpha + tau) + v

    died, _ = integrate.quad(
        lambda v: math.exp(log_integrand(v) - log_integrand(start)),
        start,
        math.log(m + big_t),
        epsabs=0,
        epsrel=1e-13,
        limit=200,
    )
    log_died = log_integrand(start) + math.log(died) if died > 0 else -math.inf
    return log_const + float(np.logaddexp(log_alive, log_died))


@pytest.mark.filterwarnings("ignore::scipy.integrate.IntegrationWarning")
@settings(max_examples=60)
@given(
    r=st.floats(0.05, 5.0),
    alpha=st.floats(0.01, 50.0),
    s=st.floats(0.05, 5.0),
    beta=st.floats(1e-4, 50.0),
    x=st.integers(0, 30),
    fraction=st.floats(0.0, 1.0),
    big_t=st.floats(1.0, 100.0),
)
def test_pareto_nbd_likelihood_matches_its_integral_form(
    r: float, alpha: float, s: float, beta: float, x: int, fraction: float, big_t: float
) -> None:
    t_x = 0.0 if x == 0 else max(fraction * big_t, 1e-3)
    params = np.array([r, alpha, s, beta])
    ours = _clv_lik.pnbd_loglik(params, np.array([float(x)]), np.array([t_x]), np.array([big_t]))
    assert float(ours[0]) == pytest.approx(
        _pnbd_by_quadrature((r, alpha, s, beta), x, t_x, big_t), rel=1e-7, abs=1e-7
    )


def test_pareto_nbd_near_z_one() -> None:
    """beta << alpha with t_x = 0 puts the hypergeometric argument next to 1."""
    for params in [
        (0.5, 40.0, 0.7, 1e-6),
        (2.0, 1e-6, 0.3, 40.0),
        (0.9, 1e-7, 0.5, 30.0),
        (0.2176, 12.855, 1007.9, 4175.3),  # scipy's hyp2f1 gives nan for one form here
    ]:
        for x, t_x in [(0.0, 0.0), (3.0, 1e-6), (3.0, 20.0), (1.0, 0.013)]:
            ours = _clv_lik.pnbd_loglik(
                np.array(params), np.array([x]), np.array([t_x]), np.array([39.0])
            )
            assert np.isfinite(ours[0])
            assert float(ours[0]) == pytest.approx(
                _pnbd_by_quadrature(params, x, t_x, 39.0), rel=1e-6
            )


# -- invariants ---------------------------------------------------------------


def _models() -> st.SearchStrategy[_Model]:
    positive = st.floats(0.05, 20.0)
    return st.one_of(
        st.builds(BetaGeo, positive, positive, positive, positive, unit=st.just("week")),
        st.builds(ModifiedBetaGeo, positive, positive, positive, positive, unit=st.just("week")),
        st.builds(ParetoNBD, positive, positive, positive, positive, unit=st.just("week")),
    )


@st.composite
def _histories(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    size = draw(st.integers(1, 8))
    x = np.array(draw(st.lists(st.integers(0, 40), min_size=size, max_size=size)), dtype=float)
    big_t = np.array(draw(st.lists(st.floats(0.5, 100.0), min_size=size, max_size=size)))
    fraction = np.array(draw(st.lists(st.floats(0.01, 1.0), min_size=size, max_size=size)))
    return x, np.where(x > 0, fraction * big_t, 0.0), big_t


@settings(max_examples=60)
@given(model=_models(), history=_histories())
def test_p_alive_is_a_probability(model: _Model, history: Any) -> None:
    x, t_x, big_t = history
    alive = model.p_alive(frequency=x, recency=t_x, T=big_t)
    assert np.all((alive >= 0) & (alive <= 1))
    if type(model) is BetaGeo:  # BG/NBD customers cannot drop out before a repeat purchase
        assert np.all(alive[x == 0] == 1.0)


@settings(max_examples=60)
@given(model=_models(), history=_histories(), horizons=st.lists(st.floats(0, 200), min_size=2))
def test_expected_purchases_grow_with_time(
    model: _Model, history: Any, horizons: list[float]
) -> None:
    x, t_x, big_t = history
    times = np.sort(np.array(horizons))
    rows = [model.expected_purchases(t, frequency=x, recency=t_x, T=big_t) for t in times]
    table = np.array(rows)
    assert np.all(np.isfinite(table))
    assert np.all(table >= -1e-9)
    assert np.all(np.diff(table, axis=0) >= -1e-9 * (1 + np.abs(table[1:])))
    new = model.expected_purchases_new(times)
    assert np.all(np.diff(new) >= -1e-9 * (1 + np.abs(new[1:])))


@settings(max_examples=40)
@given(model=_models(), history=_histories(), counts=st.lists(st.integers(0, 5), min_size=8))
def test_weights_equal_repeated_rows_in_the_likelihood(
    model: _Model, history: Any, counts: list[int]
) -> None:
    x, t_x, big_t = history
    weights = np.array(counts[: x.size] + [1] * (x.size - len(counts)), dtype=float)
    if weights.sum() == 0:
        weights[0] = 1.0
    weighted = model.log_likelihood(frequency=x, recency=t_x, T=big_t, weights=weights)
    repeat = weights.astype(int)
    expanded = model.log_likelihood(
        frequency=np.repeat(x, repeat), recency=np.repeat(t_x, repeat), T=np.repeat(big_t, repeat)
    )
    assert weighted == pytest.approx(expanded, rel=1e-9, abs=1e-9)


@settings(max_examples=40)
@given(model=_models(), t=st.floats(0.5, 60.0))
def test_purchase_count_distribution(model: _Model, t: float) -> None:
    counts = np.arange(0, 400)
    probability = model.probability_of_purchases(counts, t)
    assert np.all(probability >= -1e-12)
    assert probability.sum() <= 1 + 1e-6
    mean = model.expected_purchases_new(t)
    if probability.sum() > 1 - 1e-9:  # the tail beyond 400 is negligible
        assert float(counts @ probability) == pytest.approx(float(mean), rel=1e-5, abs=1e-8)


@given(
    p=st.floats(0.1, 20.0),
    q=st.floats(1.1, 20.0),
    gamma=st.floats(0.1, 100.0),
    x=st.integers(1, 50),
    m=st.floats(0.01, 1000.0),
)
def test_expected_spend_lies_between_population_and_own_mean(
    p: float, q: float, gamma: float, x: int, m: float
) -> None:
    model = GammaGamma(p=p, q=q, gamma=gamma)
    spend = float(model.expected_spend(frequency=[x], monetary=[m])[0])
    low, high = sorted((model.mean_spend, m))
    assert low * (1 - 1e-9) <= spend <= high * (1 + 1e-9)


def test_customer_lifetime_value_behaviour(bg_fit: BetaGeo, gg_fit: GammaGamma) -> None:
    history = {"frequency": [2, 0, 7], "recency": [30.43, 0, 36], "T": [38.86] * 3}
    spend = {"monetary": [22.35, 0, 40]}
    undiscounted = customer_lifetime_value(
        bg_fit, gg_fit, horizon=52, unit="week", discount_rate=0.0, **history, **spend
    )
    purchases = bg_fit.expected_purchases(52, **history)
    expected = purchases * gg_fit.expected_spend(frequency=history["frequency"], **spend)
    assert undiscounted == pytest.approx(expected)
    in_days = customer_lifetime_value(
        bg_fit, gg_fit, horizon=364, unit="day", discount_rate=0.0, **history, **spend
    )
    assert in_days == pytest.approx(undiscounted)
    discounted = customer_lifetime_value(
        bg_fit, gg_fit, horizon=52, unit="week", discount_rate=0.01, **history, **spend
    )
    assert np.all(discounted < undiscounted)
    shorter = customer_lifetime_value(
        bg_fit, gg_fit, horizon=26.5, unit="week", discount_rate=0.01, **history, **spend
    )
    assert np.all(shorter < discounted)
    data = _Summary(history["frequency"], history["recency"], history["T"], "week", [22.35, 0, 40])
    from_data = customer_lifetime_value(
        bg_fit, gg_fit, data, horizon=52, unit="week", discount_rate=0.01
    )
    assert from_data == pytest.approx(discounted)


# -- degenerate and failed fits ---------------------------------------------------


def test_no_heterogeneity_is_a_degenerate_fit() -> None:
    with pytest.raises(DegenerateFit, match=r"ran off") as info:
        BetaGeo.fit(
            frequency=[0, 1, 2, 0, 5, 1, 3, 0],
            recency=[0, 4, 20, 0, 30, 2, 12, 0],
            T=[40, 35, 38, 20, 39, 30, 25, 10],
            unit="week",
        )
    assert info.value.model == "BG/NBD"
    assert set(info.value.parameters) == {"r", "alpha", "a", "b"}
    assert isinstance(info.value, ConvergenceError)


def test_identical_spend_is_a_degenerate_fit() -> None:
    with pytest.raises(DegenerateFit):
        GammaGamma.fit(frequency=[1, 2, 3, 4] * 20, monetary=[10.0] * 80)


def test_failed_convergence_says_what_to_try(cdnow: _Summary) -> None:
    with pytest.raises(ConvergenceError, match=r"try: .*maxiter=") as info:
        ParetoNBD.fit(cdnow, maxiter=2, initial={"r": 2.0, "alpha": 2.0, "s": 2.0, "beta": 2.0})
    assert not isinstance(info.value, DegenerateFit)


# -- bad input -----------------------------------------------------------------------

_OK = {"frequency": [1, 0], "recency": [3.0, 0.0], "T": [10.0, 5.0]}


def _with(**changes: Any) -> dict[str, Any]:
    return {**_OK, **changes}


def _fit(**changes: Any) -> BetaGeo:
    return BetaGeo.fit(**{"unit": "week", **_OK, **changes})


def _clv(purchases: Any = BG_CDNOW, spend: Any = GG_CDNOW, **changes: Any) -> Any:
    arguments = {"horizon": 5, "unit": "week", "discount_rate": 0.0, "monetary": [1, 0]}
    return customer_lifetime_value(purchases, spend, **{**arguments, **_OK, **changes})


def _bg(**changes: Any) -> BetaGeo:
    return BetaGeo(**{"r": 1.0, "alpha": 1.0, "a": 1.0, "b": 1.0, "unit": "week", **changes})


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: _fit(T=None), InvalidColumn, r"T: column missing"),
        (lambda: BetaGeo.fit({"frequency": [1]}, unit="week"), InvalidColumn, "recency"),
        (lambda: _fit(T=[10.0]), InvalidColumn, "differ in length"),
        (lambda: _fit(frequency=[-1, 0]), InvalidColumn, r"frequency\[0\]=-1.0 must be >= 0"),
        (lambda: _fit(frequency=[1.5, 0]), InvalidColumn, "whole number"),
        (lambda: _fit(recency=[11.0, 0]), InvalidColumn, r"recency\[0\]=11.0 must not exceed T"),
        (lambda: _fit(recency=[3.0, 1.0]), InvalidColumn, "must be 0 when frequency is 0"),
        (lambda: _fit(recency=[0.0, 0.0]), InvalidColumn, "must be > 0 when frequency > 0"),
        (lambda: _fit(T=[10.0, math.nan]), InvalidColumn, r"T\[1\]=nan must be finite"),
        (lambda: _fit(T=[10.0, -1.0]), InvalidColumn, r"T\[1\]=-1.0 must be >= 0"),
        (lambda: _fit(T=[0.0, 5.0]), InvalidColumn, r"recency\[0\]=3.0 must not exceed T"),
        (lambda: BG_CDNOW.expected_purchases([1, 2, 3], **_OK), InvalidArgument, "t has 3"),
        (lambda: BG_CDNOW.probability_of_purchases([1, 2], [3, 4, 5]), InvalidArgument, "n has 2"),
        (lambda: _fit(T="10"), InvalidType, "array of numbers"),
        (lambda: _fit(T=[["a", "b"]]), InvalidType, "array of numbers"),
        (lambda: _fit(frequency=[], recency=[], T=[]), EmptyData, "no customers"),
        (lambda: BetaGeo.fit(**_OK), InvalidArgument, "unit=None"),
        (lambda: _fit(unit="fortnight"), InvalidArgument, "unit='fortnight'"),
        (lambda: _fit(penalizer=-1.0), InvalidArgument, r"penalizer=-1.0 must be >= 0"),
        (lambda: _fit(penalizer=True), InvalidType, "penalizer=True"),
        (lambda: _fit(progress=5), InvalidArgument, "progress=5"),
        (lambda: BG_CDNOW.p_alive(unit="hour", **_OK), InvalidArgument, "unit='hour'"),
        (
            lambda: BG_CDNOW.p_alive(_Summary(**_OK), unit="day"),
            InvalidArgument,
            "data are in 'week'",
        ),
        (
            lambda: BG_CDNOW.probability_of_purchases([1, 2, 3], 5, **_OK),
            InvalidArgument,
            "for 2 customers",
        ),
        (lambda: BetaGeo.fit(_Summary(**_OK), unit="day"), InvalidArgument, "data are in 'week'"),
        (lambda: BetaGeo.fit(_OK, frequency=[1, 0], unit="week"), InvalidArgument, "not both"),
        (lambda: _fit(weights=[1, -1]), InvalidColumn, r"weights\[1\]"),
        (lambda: _fit(weights=[0, 0]), EmptyData, "all weights"),
        (lambda: _fit(weights=[1]), InvalidColumn, "weights has 1"),
        (lambda: _fit(maxiter=0), InvalidArgument, "maxiter=0"),
        (lambda: _fit(initial={"r": -1.0}), InvalidArgument, "initial"),
        (lambda: ParetoNBD.fit(unit="week", **_with(recency=[-1.0, 0])), InvalidColumn, "recency"),
        (
            lambda: GammaGamma.fit(frequency=[1, 2], monetary=[10.0, 0.0]),
            InvalidColumn,
            r"monetary\[1\]=0.0 must be > 0 .*monetary > 0",
        ),
        (lambda: GammaGamma.fit(frequency=[0, 0], monetary=[0.0, 0.0]), EmptyData, "no customer"),
        (lambda: GammaGamma.fit(frequency=[1, 2]), InvalidColumn, "monetary"),
        (lambda: _bg(r=-1.0), InvalidArgument, "r=-1.0"),
        (lambda: _bg(r=True), InvalidType, "r=True"),
        (lambda: _bg(alpha=math.inf), InvalidArgument, "alpha=inf"),
        (lambda: _bg(unit="decade"), InvalidArgument, "unit='decade'"),
        (lambda: GammaGamma(p=1.0, q="2", gamma=1.0), InvalidType, "q='2'"),
        (lambda: BG_CDNOW.expected_purchases(-1, **_OK), InvalidArgument, "t=-1"),
        (lambda: BG_CDNOW.probability_of_purchases(1.5, 10), InvalidArgument, "n=1.5"),
        (lambda: BG_CDNOW.simulate(0.0, size=3, seed=1), InvalidArgument, "T=0.0"),
        (lambda: BG_CDNOW.simulate(10.0, size=0, seed=1), InvalidArgument, "size=0"),
        (lambda: _clv(horizon=0), InvalidArgument, "horizon=0"),
        (lambda: _clv(unit="quarter"), InvalidArgument, "unit='quarter'"),
        (lambda: _clv(discount_rate=-0.1), InvalidArgument, "discount_rate=-0.1"),
        (lambda: _clv(purchases=GG_CDNOW), InvalidType, "purchases="),
        (lambda: _clv(spend=BG_CDNOW), InvalidType, "spend="),
        (
            lambda: Histories(np.zeros(1), np.zeros(1), np.ones(1), "day")["x"],
            InvalidColumn,
            "x: no",
        ),
    ],
)
def test_bad_input(call: Any, error: type[LoyaltyError], match: str) -> None:
    with pytest.raises(error, match=match) as info:
        call()
    assert isinstance(info.value, LoyaltyError)


# -- values, pickling, optional dependency ---------------------------------------


def test_models_are_frozen_values_and_pickle(
    bg_fit: BetaGeo, pnbd_fit: ParetoNBD, gg_fit: GammaGamma
) -> None:
    for model in (bg_fit, pnbd_fit, gg_fit, BG_CDNOW, BG_CDNOW.simulate(10.0, size=3, seed=1)):
        again = pickle.loads(pickle.dumps(model))
        assert again == model
        assert getattr(again, "fit_info", None) == getattr(model, "fit_info", None)
        with pytest.raises(attrs.exceptions.FrozenInstanceError):
            model.unit = "day"  # type: ignore[misc, union-attr]
    assert isinstance(bg_fit.fit_info, FitInfo)
    assert hash(BG_CDNOW) == hash(attrs.evolve(BG_CDNOW))
    refit = pickle.loads(pickle.dumps(bg_fit))
    assert refit.expected_purchases(
        39, frequency=[2], recency=[30.43], T=[38.86]
    ) == pytest.approx(bg_fit.expected_purchases(39, frequency=[2], recency=[30.43], T=[38.86]))


def test_errors_pickle() -> None:
    with pytest.raises(DegenerateFit) as info:
        BetaGeo.fit(frequency=[0, 1, 2, 0, 5, 1, 3, 0], recency=[0, 4, 20, 0, 30, 2, 12, 0],
                    T=[40, 35, 38, 20, 39, 30, 25, 10], unit="week")  # fmt: skip
    again = pickle.loads(pickle.dumps(info.value))
    assert str(again) == str(info.value)
    assert again.parameters == info.value.parameters


def test_histories_read_like_a_summary() -> None:
    sim = PNBD_CDNOW.simulate([10.0, 20.0, 30.0], seed=2)
    assert set(sim.columns()) == {"frequency", "recency", "T"}
    assert sim["T"].tolist() == [10.0, 20.0, 30.0]
    assert sim["unit"] == "week"


def test_import_without_scipy_and_fit_names_the_extra() -> None:
    code = (
        "import sys; sys.modules['scipy'] = None\n"
        "import loyaltycore.clv as clv\n"
        "assert 'scipy' not in [m for m in sys.modules if sys.modules[m] is not None]\n"
        "m = clv.BetaGeo(r=1.0, alpha=1.0, a=1.0, b=1.0, unit='week')\n"
        "try:\n"
        "    m.p_alive(frequency=[0], recency=[0], T=[1])\n"
        "except ImportError as err:\n"
        "    print(type(err).__name__, err)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "MissingDependency" in out.stdout
    assert "pip install 'loyaltycore[clv]'" in out.stdout


def _bg_expected_by_quadrature(
    params: tuple[float, ...], t: float, x: float, big_t: float
) -> float:
    """E[Y(t)] given alive at T: the posterior mean of (1 - e^(-lambda p t)) / p."""
    r, alpha, a, b = params
    log_norm = math.lgamma(a + b + x) - math.lgamma(a) - math.lgamma(b + x)

    def integrand(p: float) -> float:
        if p == 0.0:
            return math.exp(log_norm) * (r + x) * t / (alpha + big_t)
        return math.exp(log_norm) * -math.expm1(-(r + x) * math.log1p(p * t / (alpha + big_t))) / p

    # the Beta(a, b + x) weight p**(a-1) (1-p)**(b+x-1) is handled by QUADPACK's 'alg' rule
    value, _ = integrate.quad(
        integrand, 0.0, 1.0, weight="alg", wvar=(a - 1, b + x - 1), epsabs=0, epsrel=1e-11
    )
    return value


@pytest.mark.filterwarnings("ignore::scipy.integrate.IntegrationWarning")
@settings(max_examples=40)
@given(
    params=st.tuples(*[st.floats(0.05, 20.0)] * 4),
    x=st.integers(0, 40),
    big_t=st.floats(0.5, 100.0),
    t=st.floats(0.1, 400.0),
)
def test_bg_expectation_matches_its_integral_form(
    params: tuple[float, ...], x: int, big_t: float, t: float
) -> None:
    model = BetaGeo(*params, unit="week")
    recency = big_t if x else 0.0
    alive = model.p_alive(frequency=[x], recency=[recency], T=[big_t])
    ours = model.expected_purchases(t, frequency=[x], recency=[recency], T=[big_t])
    reference = _bg_expected_by_quadrature(params, t, x, big_t) * float(alive[0])
    assert float(ours[0]) == pytest.approx(reference, rel=1e-6)


def test_public_names() -> None:
    import loyaltycore.clv as module

    assert module.__all__ == sorted(module.__all__)
    public = {
        name
        for name, value in vars(module).items()
        if not name.startswith("_") and getattr(value, "__module__", None) == module.__name__
    }
    assert public == set(module.__all__)


def test_free_repeat_purchases_fit_refused_but_predicted() -> None:
    """A repeat customer whose purchases were all free (CDNOW has $0 orders)."""
    model = GammaGamma(p=6.25, q=3.74, gamma=15.44)
    with pytest.raises(InvalidColumn, match=r"monetary\[1\]=0.0 must be > 0 when frequency > 0"):
        GammaGamma.fit(frequency=[2, 3, 1], monetary=[10.0, 0.0, 5.0])
    with pytest.raises(InvalidColumn, match="must be > 0 when frequency > 0"):
        model.log_likelihood(frequency=[3], monetary=[0.0])
    # The posterior mean shrinks all the way from the population mean towards 0.
    [spend] = model.expected_spend(frequency=[3], monetary=[0.0]).tolist()
    assert spend == pytest.approx(15.44 * 6.25 / (6.25 * 3 + 3.74 - 1))
    with pytest.raises(InvalidColumn, match="must be >= 0"):
        model.expected_spend(frequency=[3], monetary=[-1.0])

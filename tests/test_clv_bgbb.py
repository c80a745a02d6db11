"""BG/BB: Fader, Hardie and Shang (2010) on the donations data, lifetimes' figures, invariants."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loyaltycore.clv import BetaGeoBetaBinom, DiscreteHistories, _bgbb, _fit
from loyaltycore.errors import (
    DegenerateFit,
    EmptyData,
    InvalidArgument,
    InvalidColumn,
    LoyaltyError,
)

#: lifetimes 0.11.3 BetaGeoBetaBinomFitter's estimates on donations.csv (full precision)
LIFETIMES = BetaGeoBetaBinom(
    alpha=1.2035223936080381,
    beta=0.7497163581757634,
    gamma=0.6567181695499512,
    delta=2.7834419828876076,
)


@pytest.fixture(scope="module")
def donations(data_dir: Path) -> dict[str, np.ndarray]:
    table = np.genfromtxt(data_dir / "donations.csv", delimiter=",", names=True)
    assert table.dtype.names is not None
    return {name: np.asarray(table[name]) for name in table.dtype.names}


@pytest.fixture(scope="module")
def fitted(donations: dict[str, np.ndarray]) -> BetaGeoBetaBinom:
    return BetaGeoBetaBinom.fit(donations)


def test_reproduces_fader_hardie_shang(fitted: BetaGeoBetaBinom) -> None:
    assert fitted.params == pytest.approx(
        {"alpha": 1.204, "beta": 0.750, "gamma": 0.657, "delta": 2.783}, abs=1e-3
    )
    assert fitted.fit_info is not None
    assert fitted.fit_info.customers == 11_104
    assert fitted.fit_info.unique_rows == 22
    assert fitted.fit_info.log_likelihood == pytest.approx(-33_225.6, abs=0.05)
    assert fitted.params == pytest.approx(LIFETIMES.params, rel=1e-5)


def test_per_customer_table_fits_the_same(donations: dict[str, np.ndarray]) -> None:
    counts = donations["weights"].astype(int)
    expanded = BetaGeoBetaBinom.fit(
        frequency=np.repeat(donations["frequency"], counts),
        recency=np.repeat(donations["recency"], counts),
        n_periods=np.repeat(donations["n_periods"], counts),
    )
    compressed = BetaGeoBetaBinom.fit(
        frequency=donations["frequency"],
        recency=donations["recency"],
        n_periods=donations["n_periods"],
        weights=donations["weights"],
    )
    assert expanded.params == pytest.approx(compressed.params, rel=1e-7)


HISTORY = {
    "frequency": [0, 1, 3, 6, 2],
    "recency": [0, 1, 5, 6, 6],
    "n_periods": [6] * 5,
}


def test_predictions_match_lifetimes() -> None:
    """lifetimes 0.11.3 with the same parameters: eq. 13, eq. 11 (m = 1) and eq. 7."""
    expected = LIFETIMES.expected_purchases(5, **HISTORY)
    assert expected == pytest.approx(
        [0.07286333894085113, 0.08569570763928568, 1.804702963218531, 3.7525442466077985,
         1.6688168468353957],
        rel=1e-9,
    )  # fmt: skip
    alive = LIFETIMES.p_alive(**HISTORY)
    assert alive == pytest.approx(
        [0.10813327510958216, 0.06946180501686049, 0.7668260001149803, 0.930433577508695,
         0.930433577508387],
        rel=1e-9,
    )  # fmt: skip
    assert LIFETIMES.p_alive(**HISTORY, ahead=0)[3] == pytest.approx(1.0)
    counts = LIFETIMES.probability_of_purchases(np.arange(7), 6) * 11_104
    assert counts == pytest.approx(
        [3454.8819794154397, 1888.6543427566319, 1348.8823303701517, 1113.378533281444,
         1017.9224125512334, 1027.166049034031, 1253.1143525910882],
        rel=1e-9,
    )  # fmt: skip


# -- invariants -------------------------------------------------------------------------


def _models() -> st.SearchStrategy[BetaGeoBetaBinom]:
    positive = st.floats(0.1, 10.0)
    return st.builds(BetaGeoBetaBinom, positive, positive, positive, positive)


@st.composite
def _history(draw: st.DrawFn) -> tuple[int, int, int]:
    n = draw(st.integers(0, 12))
    t_x = draw(st.integers(0, n))
    x = draw(st.integers(1, t_x)) if t_x else 0
    return x, t_x, n


@settings(max_examples=60)
@given(model=_models(), history=_history(), future=st.integers(0, 10))
def test_conditional_distribution(
    model: BetaGeoBetaBinom, history: tuple[int, int, int], future: int
) -> None:
    x, t_x, n = history
    counts = np.arange(future + 1)
    p = model.probability_of_purchases(counts, future, frequency=x, recency=t_x, n_periods=n)
    assert np.all((p >= -1e-12) & (p <= 1 + 1e-12))
    assert p.sum() == pytest.approx(1.0, abs=1e-9)
    mean = model.expected_purchases(future, frequency=x, recency=t_x, n_periods=n)
    assert float(counts @ p) == pytest.approx(float(mean[0]), rel=1e-7, abs=1e-10)
    alive = model.p_alive(frequency=x, recency=t_x, n_periods=n, ahead=np.arange(4))
    assert np.all((alive >= 0) & (alive <= 1))
    assert np.all(np.diff(alive) <= 1e-12)


@settings(max_examples=40)
@given(model=_models(), n=st.integers(0, 20))
def test_new_customer_distribution(model: BetaGeoBetaBinom, n: int) -> None:
    counts = np.arange(n + 1)
    p = model.probability_of_purchases(counts, n)
    assert p.sum() == pytest.approx(1.0, abs=1e-9)
    assert float(counts @ p) == pytest.approx(
        float(model.expected_purchases_new(n)), rel=1e-7, abs=1e-12
    )
    same = model.expected_purchases(n, frequency=0, recency=0, n_periods=0)
    assert float(same[0]) == pytest.approx(
        float(model.expected_purchases_new(n)), rel=1e-9, abs=1e-12
    )


@settings(max_examples=40)
@given(
    model=_models(),
    histories=st.lists(st.tuples(_history(), st.integers(1, 50)), min_size=1, max_size=15),
)
def test_gradient_and_hessian_are_those_of_the_log_likelihood(
    model: BetaGeoBetaBinom, histories: list[tuple[tuple[int, int, int], int]]
) -> None:
    rows = [h for h, _ in histories]
    x, t_x, n = (np.array(column, dtype=np.float64) for column in zip(*rows, strict=True))
    w = np.array([c for _, c in histories], dtype=np.float64)
    value, both, full = _bgbb.objective(x, t_x, n, w)
    params = model._vector()
    total, grad, hess = full(params)
    assert total == pytest.approx(value(params), rel=1e-12, abs=1e-9)
    assert both(params)[1] == pytest.approx(grad)
    for i in range(4):
        step = 1e-5 * params[i] * np.eye(4)[i]
        slope = (value(params + step) - value(params - step)) / (2 * step[i])
        assert grad[i] == pytest.approx(slope, rel=1e-5, abs=1e-6 * w.sum())
        bend = (full(params + step)[1] - full(params - step)[1]) / (2 * step[i])
        assert hess[:, i] == pytest.approx(bend, rel=1e-4, abs=1e-5 * w.sum())


@pytest.mark.parametrize("seed", range(6))
def test_newton_reaches_the_maximum_a_quasi_newton_search_finds(seed: int) -> None:
    rng = np.random.default_rng(seed)
    truth = BetaGeoBetaBinom(*np.exp(rng.uniform(-1.0, 1.0, 4)))
    sim = truth.simulate(rng.integers(3, 15, 3_000), seed=rng)
    fitted = BetaGeoBetaBinom.fit(sim)
    assert fitted.fit_info is not None
    value, both, _ = _bgbb.objective(sim.frequency, sim.recency, sim.n_periods, np.ones(3_000))
    names = tuple(truth.params)
    searched = _fit.maximise(
        value, np.ones(4), names, grad=both, total_weight=3_000.0, maxiter=1000, model="BG/BB"
    )
    assert fitted.fit_info.log_likelihood >= searched.log_likelihood - 1e-9
    assert fitted._vector() == pytest.approx(searched.params, rel=1e-4)
    assert fitted.fit_info.iterations < 20
    covariance = np.array(fitted.fit_info.covariance)
    assert covariance == pytest.approx(searched.covariance, rel=1e-2)


def test_gamma_one_is_smooth() -> None:
    near = [
        BetaGeoBetaBinom(1.2, 0.75, g, 2.8).expected_purchases_new(6)
        for g in (1.0, 1 - 1e-5, 1 + 1e-5)
    ]
    assert near[0] == pytest.approx(near[1], rel=1e-4)
    assert near[0] == pytest.approx(near[2], rel=1e-4)


def test_parameter_recovery() -> None:
    truth = BetaGeoBetaBinom(alpha=1.2, beta=0.75, gamma=0.66, delta=2.8)
    sim = truth.simulate(np.random.default_rng(1).integers(4, 12, 20_000), seed=2)
    fit = BetaGeoBetaBinom.fit(sim)
    assert fit.fit_info is not None
    errors = fit.fit_info.standard_errors
    for name, value in truth.params.items():
        assert abs(fit.params[name] - value) < 4 * errors[name], name


def test_penalized_fit_matches_lifetimes(donations: dict[str, np.ndarray]) -> None:
    fit = BetaGeoBetaBinom.fit(donations, penalizer=0.01)
    # lifetimes 0.11.3 BetaGeoBetaBinomFitter(penalizer_coef=0.01)
    assert fit.params == pytest.approx(
        {"alpha": 0.977537, "beta": 0.618129, "gamma": 0.314208, "delta": 1.012061}, rel=5e-5
    )


def test_values_pickle(fitted: BetaGeoBetaBinom) -> None:
    sim = fitted.simulate(6, size=5, seed=1)
    for value in (fitted, sim):
        again = pickle.loads(pickle.dumps(value))
        assert again == value
    assert pickle.loads(pickle.dumps(fitted)).fit_info == fitted.fit_info
    assert type(sim) is DiscreteHistories
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        fitted.alpha = 2.0  # type: ignore[misc]
    assert sim == fitted.simulate(6, size=5, seed=np.random.default_rng(1))


def test_degenerate_data() -> None:
    with pytest.raises(DegenerateFit, match="every frequency is 0"):
        BetaGeoBetaBinom.fit(frequency=[0, 0], recency=[0, 0], n_periods=[5, 6])
    with pytest.raises(DegenerateFit, match="every customer transacted in every period"):
        BetaGeoBetaBinom.fit(frequency=[5, 6], recency=[5, 6], n_periods=[5, 6])
    with pytest.raises(DegenerateFit, match="every n_periods is 0"):
        BetaGeoBetaBinom.fit(frequency=[0], recency=[0], n_periods=[0])


_OK = {"frequency": [1, 0], "recency": [2, 0], "n_periods": [4, 4]}


@pytest.mark.parametrize(
    ("changes", "error", "match"),
    [
        ({"frequency": [-1, 0]}, InvalidColumn, r"frequency\[0\]=-1.0 must be a whole number"),
        ({"frequency": [1.5, 0]}, InvalidColumn, "whole number"),
        ({"recency": [5, 0]}, InvalidColumn, r"recency\[0\]=5.0 must not exceed n_periods"),
        ({"frequency": [3, 0]}, InvalidColumn, "must not exceed recency"),
        ({"recency": [2, 1]}, InvalidColumn, "must be 0 when frequency is 0"),
        ({"n_periods": [4, -1]}, InvalidColumn, r"n_periods\[1\]"),
        ({"n_periods": None}, InvalidColumn, "n_periods: column missing"),
        ({"frequency": [], "recency": [], "n_periods": []}, EmptyData, "no customers"),
        ({"weights": [1, -2]}, InvalidColumn, r"weights\[1\]"),
        ({"penalizer": -0.5}, InvalidArgument, "penalizer=-0.5"),
        ({"initial": {"alpha": 0.0}}, InvalidArgument, "initial"),
    ],
)
def test_bad_input(changes: dict[str, Any], error: type[LoyaltyError], match: str) -> None:
    with pytest.raises(error, match=match):
        BetaGeoBetaBinom.fit(**{**_OK, **changes})


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: LIFETIMES.expected_purchases(-1, **_OK), "future=-1"),
        (lambda: LIFETIMES.expected_purchases([1, 2, 3], **_OK), "future: the arrays"),
        (lambda: LIFETIMES.p_alive(**_OK, ahead=0.5), "ahead=0.5"),
        (lambda: LIFETIMES.probability_of_purchases(1.5, 3), "k=1.5"),
        (lambda: LIFETIMES.expected_purchases_new(True), "n_periods=True"),
        (lambda: LIFETIMES.simulate(6, size=0, seed=1), "size=0"),
        (lambda: BetaGeoBetaBinom(-1.0, 1.0, 1.0, 1.0), "alpha=-1.0"),
        (lambda: DiscreteHistories(np.zeros(1), np.zeros(1), np.ones(1))["T"], "T: no such"),
    ],
)
def test_bad_prediction_input(call: Any, match: str) -> None:
    with pytest.raises(LoyaltyError, match=match):
        call()

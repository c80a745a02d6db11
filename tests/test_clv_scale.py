"""CLV fits at scale: systematic samples, and Pareto/NBD fitted in levels to the full maximum."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from loyaltycore.clv import ParetoNBD, _data, _fit, _lik, _scale
from loyaltycore.errors import ConvergenceError, DegenerateFit


@given(
    weights=st.lists(st.integers(1, 1_000), min_size=1, max_size=60),
    size=st.integers(1, 3_000),
)
def test_a_systematic_sample_keeps_the_total_and_each_rows_share(
    weights: list[int], size: int
) -> None:
    w = np.array(weights, dtype=np.float64)
    rows = np.arange(w.size, dtype=np.float64)
    (taken,), sampled = _scale.systematic_sample((rows,), w, size)
    total = float(w.sum())
    step = total / size
    assert float(sampled.sum()) == pytest.approx(total, rel=1e-12)
    assert np.all(np.diff(taken) > 0)  # a subset, in the table's order
    share = np.zeros(w.size)
    share[taken.astype(int)] = sampled
    assert np.all(np.abs(share - w) < step + 1e-9 * total)
    assert np.all(share[w >= step] > 0)  # a row of at least one point's weight is always taken


@pytest.fixture(scope="module")
def arbitrary() -> tuple[ParetoNBD, tuple[np.ndarray, ...]]:
    """40,000 customers with times to the second: nearly every history distinct."""
    truth = ParetoNBD(r=0.55, alpha=10.0, s=0.6, beta=12.0, unit="week")
    rng = np.random.default_rng(21)
    data = truth.simulate(np.round(rng.uniform(1.0, 104.0, 40_000) * 604_800) / 604_800, seed=rng)
    return truth, (data.frequency, data.recency, data.T)


def test_levels_reach_the_maximum_of_a_direct_search(
    arbitrary: tuple[ParetoNBD, tuple[np.ndarray, ...]],
) -> None:
    _, (x, t_x, big_t) = arbitrary
    seen: list[int] = []
    fitted = ParetoNBD.fit(
        frequency=x, recency=t_x, T=big_t, unit="week", progress=lambda done, *_: seen.append(done)
    )
    assert fitted.fit_info is not None
    assert fitted.fit_info.unique_rows > _scale.DIRECT_ROWS
    assert seen == list(range(1, len(seen) + 1))
    (ux, ut, uT), w = _data.unique_rows((x, t_x, big_t), np.ones(x.size))
    value, both = _lik.pnbd_objective(ux, ut, uT, w)
    start = np.array([1.0, float(uT.mean()), 1.0, float(uT.mean())])
    direct = _fit.maximise(
        value,
        start,
        ("r", "alpha", "s", "beta"),
        grad=both,
        total_weight=float(w.sum()),
        maxiter=1000,
        model="Pareto/NBD",
        hessian_step=1e-4,
    )
    ours = fitted.fit_info.log_likelihood
    assert ours >= direct.log_likelihood - 1e-9 * abs(direct.log_likelihood)
    assert fitted._vector() == pytest.approx(direct.params, rel=2e-5)
    errors = list(fitted.fit_info.standard_errors.values())
    assert errors == pytest.approx(np.sqrt(np.diag(direct.covariance)), rel=2e-2)
    again = ParetoNBD.fit(frequency=x, recency=t_x, T=big_t, unit="week")
    assert again.params == fitted.params  # deterministic: the samples are systematic


def test_a_failed_first_level_falls_back_to_the_direct_search(
    arbitrary: tuple[ParetoNBD, tuple[np.ndarray, ...]],
) -> None:
    _, (x, t_x, big_t) = arbitrary
    rows = slice(0, 5_000)  # still above DIRECT_ROWS, and quick to fail on
    with pytest.raises(ConvergenceError, match="maxiter=") as info:
        ParetoNBD.fit(
            frequency=x[rows],
            recency=t_x[rows],
            T=big_t[rows],
            unit="week",
            maxiter=2,
            initial={"r": 2.0, "alpha": 2.0, "s": 2.0, "beta": 2.0},
        )
    assert not isinstance(info.value, DegenerateFit)


def test_no_heterogeneity_at_scale_is_a_degenerate_fit() -> None:
    """Every customer buys at the same rate and nobody leaves: the fit runs off to a boundary."""
    rng = np.random.default_rng(3)
    ages = rng.uniform(10.0, 100.0, 6_000)
    x = rng.poisson(0.3 * ages).astype(np.float64)
    t_x = np.where(x > 0, ages * rng.beta(np.maximum(x, 1.0), 1.0), 0.0)
    with pytest.raises(DegenerateFit, match="ran off to a boundary"):
        ParetoNBD.fit(frequency=x, recency=t_x, T=ages, unit="week")

"""P(X(T, T + t) = n | history) for BG/NBD, MBG/NBD and Pareto/NBD."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loyaltycore.clv import BetaGeo, ModifiedBetaGeo, ParetoNBD

PNBD = ParetoNBD(r=0.553, alpha=10.578, s=0.606, beta=11.669, unit="week")
HISTORY = {"frequency": [0, 2, 7, 20], "recency": [0, 30.43, 36, 38], "T": [38.86] * 4}


def test_pareto_nbd_matches_lifetimes() -> None:
    """lifetimes 0.11.3 ParetoNBDFitter.conditional_probability_of_n_purchases_up_to_time."""
    reference = {
        0: [0.9307148159456802, 0.4080627236064643, 0.12099821443177364, 0.040159954119824086],
        1: [0.04589812412580952, 0.21928749790096388, 0.0832439825427837, 0.025784348088567],
        2: [0.014677144710534716, 0.15175652075729812, 0.09618657175090596, 0.02417853240820241],
        3: [0.005314443007192738, 0.09565534629635002, 0.10726158905457303, 0.02304364183723303],
    }
    for n, values in reference.items():
        ours = PNBD.probability_of_purchases(n, 39.0, **HISTORY)
        assert ours == pytest.approx(values, rel=1e-9)


@pytest.mark.parametrize(
    ("model", "reference"),
    [  # lifetimes 0.11.3 probability_of_n_purchases_up_to_time(39, n), n = 0..3
        (
            BetaGeo(r=0.243, alpha=4.414, a=0.793, b=2.426, unit="week"),
            [0.5737863520960094, 0.19939528083591135, 0.08542975953906072, 0.045860353847999705],
        ),
        (
            ModifiedBetaGeo(r=0.5248, alpha=6.183, a=0.8914, b=1.614, unit="week"),
            [0.582630064486315, 0.18275902038464603, 0.08686596962763612, 0.04854712341534287],
        ),
    ],
    ids=["BG/NBD", "MBG/NBD"],
)
def test_new_customer_case_matches_lifetimes(model: Any, reference: list[float]) -> None:
    """With no history (x = t_x = T = 0) the conditional is the new-customer distribution."""
    counts = np.arange(4)
    assert model.probability_of_purchases(counts, 39.0) == pytest.approx(reference, rel=1e-9)
    fresh = {"frequency": 0, "recency": 0.0, "T": 0.0}
    assert model.probability_of_purchases(counts, 39.0, **fresh) == pytest.approx(
        reference, rel=1e-9
    )


def _models() -> st.SearchStrategy[Any]:
    positive = st.floats(0.05, 10.0)
    return st.one_of(
        st.builds(BetaGeo, positive, positive, positive, positive, unit=st.just("week")),
        st.builds(ModifiedBetaGeo, positive, positive, positive, positive, unit=st.just("week")),
        st.builds(ParetoNBD, positive, positive, positive, positive, unit=st.just("week")),
    )


@settings(max_examples=30)
@given(
    model=_models(),
    x=st.integers(0, 15),
    fraction=st.floats(0.05, 1.0),
    big_t=st.floats(1.0, 60.0),
    t=st.floats(0.5, 30.0),
)
def test_conditional_distribution_is_a_distribution(
    model: Any, x: int, fraction: float, big_t: float, t: float
) -> None:
    history = {"frequency": x, "recency": fraction * big_t if x else 0.0, "T": big_t}
    counts = np.arange(0, 250)
    p = model.probability_of_purchases(counts, t, **history)
    assert np.all((p >= -1e-12) & (p <= 1 + 1e-12))
    assert p.sum() <= 1 + 1e-7
    mean = float(model.expected_purchases(t, **history)[0])
    if p.sum() > 1 - 1e-9:  # the tail past 250 is negligible
        assert float(counts @ p) == pytest.approx(mean, rel=1e-5, abs=1e-8)
    # no time, no purchase
    assert float(model.probability_of_purchases(0, 0.0, **history)[0]) == pytest.approx(1.0)
    # nothing but "no purchase" for a customer certainly gone: P(0) >= 1 - P(alive)
    alive = float(model.p_alive(**history)[0])
    assert float(p[0]) >= 1 - alive - 1e-9

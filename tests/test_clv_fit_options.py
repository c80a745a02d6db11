"""CLV fit options and fixes: penalizer, progress, units, discount rates, degenerate data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from loyaltycore.clv import (
    BetaGeo,
    GammaGamma,
    ModifiedBetaGeo,
    ParetoNBD,
    convert_discount_rate,
    customer_lifetime_value,
)
from loyaltycore.errors import DegenerateFit, InvalidArgument

BG = BetaGeo(r=0.243, alpha=4.414, a=0.793, b=2.426, unit="week")
GG = GammaGamma(p=6.25, q=3.74, gamma=15.44)


@pytest.fixture(scope="module")
def cdnow(data_dir: Path) -> dict[str, np.ndarray]:
    table = np.genfromtxt(data_dir / "cdnow_customers_summary.csv", delimiter=",", names=True)
    return {name: np.asarray(table[name]) for name in ("frequency", "recency", "T")}


# -- penalizer: lifetimes 0.11.3's objective ------------------------------------------


@pytest.mark.parametrize(
    ("model", "expected"),
    [  # lifetimes 0.11.3 BetaGeoFitter / ModifiedBetaGeoFitter(penalizer_coef=0.01) on CDNOW
        (BetaGeo, {"r": 0.24294, "alpha": 4.432437, "a": 0.285642, "b": 0.658454}),
        (ModifiedBetaGeo, {"r": 0.615245, "alpha": 6.738469, "a": 0.499079, "b": 0.672276}),
    ],
)
def test_penalized_fit_matches_lifetimes(
    cdnow: dict[str, np.ndarray], model: type[BetaGeo], expected: dict[str, float]
) -> None:
    fitted = model.fit(**cdnow, unit="week", penalizer=0.01)
    assert fitted.params == pytest.approx(expected, rel=2e-5)
    assert fitted.fit_info is not None
    assert fitted.fit_info.penalizer == 0.01
    plain = model.fit(**cdnow, unit="week")
    assert plain.fit_info is not None
    # the reported log-likelihood is the plain one, lower than at the plain optimum
    assert fitted.fit_info.log_likelihood == pytest.approx(fitted.log_likelihood(**cdnow))
    assert fitted.fit_info.log_likelihood < plain.fit_info.log_likelihood


def test_penalized_gamma_gamma_matches_lifetimes(data_dir: Path) -> None:
    table = np.genfromtxt(
        data_dir / "cdnow_customers_summary_with_transactions.csv", delimiter=",", names=True
    )
    fitted = GammaGamma.fit(frequency=table["x"], monetary=table["zbar"], penalizer=0.01)
    # lifetimes 0.11.3 GammaGammaFitter(penalizer_coef=0.01): p, q, v
    assert fitted.params == pytest.approx(
        {"p": 4.10925, "q": 0.968385, "gamma": 3.780801}, rel=2e-5
    )


def test_penalty_does_not_depend_on_the_time_unit(cdnow: dict[str, np.ndarray]) -> None:
    weeks = ParetoNBD.fit(**cdnow, unit="week", penalizer=0.05)
    days = ParetoNBD.fit(
        frequency=cdnow["frequency"],
        recency=cdnow["recency"] * 7,
        T=cdnow["T"] * 7,
        unit="day",
        penalizer=0.05,
    )
    assert days.r == pytest.approx(weeks.r, rel=1e-5)
    assert days.s == pytest.approx(weeks.s, rel=1e-5)
    assert days.alpha == pytest.approx(7 * weeks.alpha, rel=1e-5)
    assert days.beta == pytest.approx(7 * weeks.beta, rel=1e-5)


def test_progress_is_reported_and_can_cancel(cdnow: dict[str, np.ndarray]) -> None:
    seen: list[tuple[int, int | None, str]] = []
    BetaGeo.fit(**cdnow, unit="week", progress=lambda *event: seen.append(event))
    assert seen
    assert [done for done, _, _ in seen] == list(range(1, len(seen) + 1))

    class Stop(Exception):
        pass

    def cancel(done: int, total: int | None, stage: str) -> None:
        raise Stop

    with pytest.raises(Stop):
        GammaGamma.fit(frequency=[1, 2, 3] * 20, monetary=[5.0, 7.0, 11.0] * 20, progress=cancel)


# -- degenerate data -------------------------------------------------------------------


@pytest.mark.parametrize("model", [BetaGeo, ModifiedBetaGeo, ParetoNBD])
def test_every_t_zero_is_degenerate(model: type[BetaGeo]) -> None:
    with pytest.raises(DegenerateFit, match="every T is 0"):
        model.fit(frequency=[0, 0, 0], recency=[0, 0, 0], T=[0, 0, 0], unit="week")


@pytest.mark.parametrize("model", [BetaGeo, ModifiedBetaGeo, ParetoNBD])
def test_no_repeat_purchase_is_degenerate(model: type[BetaGeo]) -> None:
    with pytest.raises(DegenerateFit, match="every frequency is 0") as info:
        model.fit(frequency=[0] * 5, recency=[0] * 5, T=[1, 2, 3, 4, 5], unit="week")
    assert info.value.parameters == {}


@pytest.mark.parametrize(
    "model",
    [
        BG,
        ModifiedBetaGeo(0.5, 6.0, 0.9, 1.6, unit="week"),
        ParetoNBD(0.553, 10.578, 0.606, 11.669, unit="week"),
    ],
    ids=repr,
)
def test_p_alive_does_not_underflow(model: BetaGeo) -> None:
    history = {
        "frequency": [200, 2000, 0, 5, 3],
        "recency": [1.0, 1.0, 0.0, 1e-9, 30.0],
        "T": [1000.0, 10000.0, 1e6, 1e6, 39.0],
    }
    with np.errstate(all="raise"):
        alive = model.p_alive(**history)
        expected = model.expected_purchases(10.0, **history)
    assert np.all((alive >= 0) & (alive <= 1))
    assert alive[0] == 0.0
    assert np.all(np.isfinite(expected))


# -- units and discount rates ----------------------------------------------------------


def test_predictions_accept_every_unit() -> None:
    history = {"frequency": [2, 0], "recency": [30.43, 0.0], "T": [38.86, 38.86]}
    weeks = BG.expected_purchases(39, **history)
    for unit, days in (("day", 1.0), ("month", 365.25 / 12), ("year", 365.25)):
        k = 7.0 / days
        moved = {"frequency": history["frequency"]} | {
            key: np.array(history[key]) * k for key in ("recency", "T")
        }
        assert BG.expected_purchases(39 * k, **moved, unit=unit) == pytest.approx(weeks)
        assert BG.p_alive(**moved, unit=unit) == pytest.approx(BG.p_alive(**history))
        assert BG.probability_of_purchases(1, 39 * k, **moved, unit=unit) == pytest.approx(
            BG.probability_of_purchases(1, 39, **history)
        )
        assert BG.expected_purchases_new(39 * k, unit=unit) == pytest.approx(
            BG.expected_purchases_new(39)
        )


def test_fit_in_months_scales_alpha(cdnow: dict[str, np.ndarray]) -> None:
    weeks = BetaGeo.fit(**cdnow, unit="week")
    k = 7.0 / (365.25 / 12)
    months = BetaGeo.fit(
        frequency=cdnow["frequency"], recency=cdnow["recency"] * k, T=cdnow["T"] * k, unit="month"
    )
    assert months.unit == "month"
    assert months.alpha == pytest.approx(weeks.alpha * k, rel=1e-5)
    assert months.r == pytest.approx(weeks.r, rel=1e-5)


@given(
    rate=st.floats(0.0, 2.0),
    per=st.sampled_from(["day", "week", "month", "year"]),
    to=st.sampled_from(["day", "week", "month", "year"]),
)
def test_discount_rate_conversion_round_trips(rate: float, per: str, to: str) -> None:
    there = convert_discount_rate(rate, per=per, to=to)
    assert isinstance(there, float)
    assert convert_discount_rate(there, per=to, to=per) == pytest.approx(rate, abs=1e-12)
    if per == to:
        assert there == pytest.approx(rate, abs=1e-15)


def test_yearly_rate_in_monthly_steps() -> None:
    history = {"frequency": [2, 0], "recency": [30.43, 0.0], "T": [38.86, 38.86]}
    spend = {"monetary": [22.35, 0.0]}
    monthly = convert_discount_rate(0.1, per="year", to="month")
    assert monthly == pytest.approx(1.1 ** (1 / 12) - 1)
    by_year = customer_lifetime_value(
        BG, GG, horizon=12, unit="month", discount_rate=0.1, rate_unit="year", **history, **spend
    )
    by_month = customer_lifetime_value(
        BG, GG, horizon=12, unit="month", discount_rate=monthly, **history, **spend
    )
    assert by_year == pytest.approx(by_month)
    with pytest.raises(InvalidArgument, match=r"rate=-1\.0 must be > -1"):
        convert_discount_rate(-1.0, per="year", to="week")
    with pytest.raises(InvalidArgument, match="to='quarter'"):
        convert_discount_rate(0.1, per="year", to="quarter")

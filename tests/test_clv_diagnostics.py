"""Tracking and diagnostics tables: R BTYD's CDNOW tracking figures, shapes, invariants."""

from __future__ import annotations

import pickle
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from loyaltycore.clv import (
    BetaGeo,
    BetaGeoBetaBinom,
    ParetoNBD,
    calibration_vs_holdout,
    expected_cumulative_transactions,
    frequency_recency_matrix,
    p_alive_history,
    period_transactions,
)
from loyaltycore.errors import InvalidArgument, InvalidType, LoyaltyError
from loyaltycore.transactions import TransactionLog, summarize


@pytest.fixture(scope="module")
def cdnow_sample(data_dir: Path) -> dict[str, Any]:
    """CDNOW_sample.txt: first purchase day and repeat purchase days (distinct per customer)."""
    raw = np.loadtxt(data_dir / "CDNOW_sample.txt")
    customer = raw[:, 1].astype(np.int64)
    stamp = raw[:, 2].astype(np.int64)
    days = np.array(
        [f"{d // 10000:04d}-{d // 100 % 100:02d}-{d % 100:02d}" for d in stamp],
        dtype="datetime64[D]",
    )
    log = TransactionLog.from_arrays(customer, days.astype("datetime64[us]"), raw[:, 4], tz="UTC")
    offset = (days - days.min()).astype(np.int64)
    pairs = np.unique(np.stack([customer, offset]), axis=1)
    first = np.full(customer.max() + 1, np.iinfo(np.int64).max)
    np.minimum.at(first, pairs[0], pairs[1])
    repeat = pairs[1][pairs[1] != first[pairs[0]]]
    return {"log": log, "first_day": first[np.unique(customer)], "repeat_day": repeat}


def test_pareto_nbd_tracking_matches_r_btyd(cdnow_sample: dict[str, Any]) -> None:
    """BTYD walkthrough, cum.tracking[, 20:25] and inc.tracking[, 20:25] (as lifetimes tests)."""
    summary = summarize(cdnow_sample["log"], as_of=datetime(1997, 9, 30, tzinfo=UTC), unit="week")
    model = ParetoNBD.fit(summary)
    track = expected_cumulative_transactions(
        model,
        first_purchase=cdnow_sample["first_day"] / 7.0,
        repeat_purchases=cdnow_sample["repeat_day"] / 7.0,
        t=25,
    )
    assert track["period"].tolist() == list(range(1, 26))
    assert track["actual"][19:25].tolist() == [1359, 1414, 1484, 1517, 1573, 1672]
    assert track["predicted"][19:25].round().tolist() == [1309, 1385, 1460, 1533, 1604, 1674]
    weekly = track.incremental()
    assert weekly["actual"][19:25].tolist() == [73, 55, 70, 33, 56, 99]
    assert weekly["predicted"][19:25] == pytest.approx(
        [78.31, 76.42, 74.65, 72.98, 71.41, 69.93], abs=0.01
    )


def test_bg_nbd_daily_tracking_matches_lifetimes(cdnow_sample: dict[str, Any]) -> None:
    """lifetimes' daily tracking test on the same data: days 11-14 of January 1997."""
    summary = summarize(cdnow_sample["log"], as_of=datetime(1997, 9, 30, tzinfo=UTC), unit="day")
    model = BetaGeo.fit(summary)
    track = expected_cumulative_transactions(
        model,
        first_purchase=cdnow_sample["first_day"],
        repeat_purchases=cdnow_sample["repeat_day"],
        t=14,
    )
    assert track["actual"][-4:].tolist() == [11, 12, 15, 19]
    assert track["predicted"][-4:] == pytest.approx([10.67, 12.67, 14.87, 17.24], abs=0.01)


BG = BetaGeo(r=0.243, alpha=4.414, a=0.793, b=2.426, unit="week")


def test_tracking_in_another_unit() -> None:
    first = np.array([0.0, 1.0, 3.5])
    weeks = expected_cumulative_transactions(BG, first_purchase=first, repeat_purchases=[2.0], t=6)
    days = expected_cumulative_transactions(
        BG, first_purchase=first * 7, repeat_purchases=[14.0], t=42, unit="day"
    )
    assert days["predicted"][6::7] == pytest.approx(weeks["predicted"])
    assert np.all(np.diff(weeks["predicted"]) >= 0)


def test_frequency_recency_matrix() -> None:
    grid = frequency_recency_matrix(BG, T=39.0, max_frequency=10, t=13.0)
    alive = grid.matrix("p_alive")
    assert alive.shape == (11, 20)
    assert np.all(alive[0] == 1.0)
    assert np.all(np.diff(alive[1:], axis=1) >= 0)  # more recent: more likely alive
    expected = grid.matrix("expected")
    assert np.all(np.diff(expected[1:, -1]) >= 0)  # bought often and lately: buys more
    frame = grid.to_frame("polars")
    assert frame.columns == ["frequency", "recency", "expected", "p_alive"]


def test_calibration_vs_holdout_groups_by_frequency() -> None:
    calibration = BG.simulate(np.full(3000, 39.0), seed=5)
    holdout = np.random.default_rng(6).poisson(1.0, 3000).astype(float)
    table = calibration_vs_holdout(
        BG, calibration, holdout_frequency=holdout, duration=39.0, max_frequency=4
    )
    assert table["customers"].sum() == 3000
    expected = BG.expected_purchases(39.0, calibration)
    top = calibration.frequency >= 4
    assert table["predicted"][4] == pytest.approx(expected[top].mean())
    assert table["actual"][0] == pytest.approx(holdout[calibration.frequency == 0].mean())
    assert np.all(np.diff(table["predicted"]) > 0)  # more calibration purchases, more later


def test_period_transactions_counts_add_up() -> None:
    sim = BG.simulate(np.full(5000, 39.0), seed=3)
    table = period_transactions(BG, sim, max_frequency=6)
    assert table["actual"].sum() == 5000
    assert table["model"].sum() == pytest.approx(5000)
    # the model matches its own simulation within sampling error
    assert np.abs(table["model"] - table["actual"]).max() < 4 * np.sqrt(table["model"].max())
    bgbb = BetaGeoBetaBinom(alpha=1.204, beta=0.750, gamma=0.657, delta=2.783)
    discrete = bgbb.simulate(6, size=4000, seed=4)
    counts = period_transactions(bgbb, discrete, max_frequency=6)
    assert counts["model"].sum() == pytest.approx(4000)
    assert np.abs(counts["model"] - counts["actual"]).max() < 4 * np.sqrt(counts["model"].max())


def test_p_alive_history() -> None:
    curve = p_alive_history(BG, purchases=[3.0, 0.0, 10.0], at=np.linspace(0.0, 40.0, 81))
    alive = curve["p_alive"]
    assert np.all((alive > 0) & (alive <= 1))
    before, after = alive[19], alive[20]  # 9.5 and 10.0 weeks: the purchase at 10 lifts it
    assert after > before
    assert np.all(np.diff(alive[21:]) <= 0)  # no purchase after week 10: it only decays
    assert pickle.loads(pickle.dumps(curve)) == curve
    assert len(curve) == 81


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (
            lambda: expected_cumulative_transactions(
                "model", first_purchase=[0], repeat_purchases=[], t=2
            ),
            InvalidType,
            "model=",
        ),
        (
            lambda: expected_cumulative_transactions(
                BG, first_purchase=[0], repeat_purchases=[], t=0
            ),
            InvalidArgument,
            "t=0",
        ),
        (
            lambda: frequency_recency_matrix(BG, T=0.0, max_frequency=3),
            InvalidArgument,
            "T=0.0",
        ),
        (
            lambda: frequency_recency_matrix(BG, T=10.0, max_frequency=3, recencies=[11.0]),
            InvalidArgument,
            "recencies",
        ),
        (
            lambda: p_alive_history(BG, purchases=[5.0], at=[4.0]),
            InvalidArgument,
            "before the first purchase",
        ),
        (
            lambda: calibration_vs_holdout(
                BG, frequency=[0], recency=[0], T=[5.0], holdout_frequency=[1, 2], duration=5.0
            ),
            LoyaltyError,
            "holdout_frequency has 2 rows",
        ),
    ],
)
def test_bad_input(call: Any, error: type[LoyaltyError], match: str) -> None:
    with pytest.raises(error, match=match):
        call()


def test_tables_say_their_unit_and_horizon() -> None:
    """Plots label their axes from these: the model's unit unless told otherwise."""
    bg = BetaGeo(r=0.243, alpha=4.414, a=0.793, b=2.426, unit="week")
    grid = frequency_recency_matrix(bg, T=39.0, max_frequency=1, t=13.0)
    assert (grid.T, grid.t, grid.unit) == (39.0, 13.0, "week")
    in_days = frequency_recency_matrix(bg, T=273.0, max_frequency=1, t=91.0, unit="day")
    assert in_days.unit == "day"
    track = expected_cumulative_transactions(bg, first_purchase=[0.0], repeat_purchases=[1.0], t=2)
    assert track.unit == track.incremental().unit == "week"
    table = calibration_vs_holdout(
        bg, frequency=[0, 1], recency=[0.0, 5.0], T=[10.0, 10.0], holdout_frequency=[0, 1],
        duration=8.0,
    )  # fmt: skip
    assert (table.duration, table.unit) == (8.0, "week")
    history = p_alive_history(bg, purchases=[4.0, 1.0], at=[2.0, 6.0])
    assert history.purchases.tolist() == [1.0, 4.0]
    assert history.unit == "week"
    assert not history.purchases.flags.writeable

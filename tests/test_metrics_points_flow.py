"""points_flow: points issued, redeemed and expired by calendar period, over ledgers."""

from __future__ import annotations

import pickle
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from loyaltycore.errors import InvalidArgument, InvalidType, LoyaltyError
from loyaltycore.metrics import PointsFlow, points_flow
from loyaltycore.points import ExpireAfter, NeverExpire, PointsLedger

START = datetime(2024, 1, 1, 12, tzinfo=UTC)


def _ledger(member: str, steps: list[tuple[int, int]], months: int = 2) -> PointsLedger:
    """Earn positive steps, redeem negative ones when the balance allows."""
    ledger = PointsLedger.open(member, policy=ExpireAfter(months=months))
    for k, (day, points) in enumerate(sorted(steps, key=lambda s: s[0])):
        at = START + timedelta(days=day)
        if points > 0:
            ledger = ledger.earn(f"e{k}", at=at, points=points)
        elif 0 < -points <= ledger.balance(as_of=at).available:
            ledger = ledger.redeem(f"r{k}", at=at, points=-points)
    return ledger


def test_flows_of_two_ledgers_by_month() -> None:
    a = _ledger("a", [(0, 100), (10, -40)])  # 60 expire on 2024-03-01
    b = _ledger("b", [(35, 500), (36, -300)])  # 200 expire on 2024-04-05
    flow = points_flow([a, b], start=date(2024, 1, 15), end=date(2024, 5, 1))
    assert flow.start.tolist() == [date(2024, m, 1) for m in (1, 2, 3, 4)]
    assert flow.issued.tolist() == [100, 500, 0, 0]
    assert flow.redeemed.tolist() == [40, 300, 0, 0]
    assert flow.expired.tolist() == [0, 0, 60, 200]
    assert flow.outstanding.tolist() == [60, 260, 200, 0]
    assert (flow.period, flow.tz) == ("month", "UTC")


def test_a_cancelled_redemption_is_not_counted_as_redeemed() -> None:
    ledger = PointsLedger.open("m", policy=NeverExpire()).earn("e", at=START, points=100)
    ledger = ledger.redeem("r", at=START + timedelta(days=1), points=80)
    ledger = ledger.reverse("x", of="r", at=START + timedelta(days=40))
    flow = points_flow([ledger], start=date(2024, 1, 1), end=date(2024, 3, 1))
    assert flow.redeemed.tolist() == [80, -80]
    assert flow.outstanding.tolist() == [20, 100]


def test_periods_follow_the_calendar_of_the_zone() -> None:
    # 23:30 UTC on 31 January is 00:30 on 1 February in Berlin.
    at = datetime(2024, 1, 31, 23, 30, tzinfo=UTC)
    ledger = PointsLedger.open("m").earn("e", at=at, points=10)
    utc = points_flow([ledger], start=date(2024, 1, 1), end=date(2024, 3, 1))
    berlin = points_flow(
        [ledger], start=date(2024, 1, 1), end=date(2024, 3, 1), tz="Europe/Berlin"
    )
    assert utc.issued.tolist() == [10, 0]
    assert berlin.issued.tolist() == [0, 10]
    assert berlin.tz == "Europe/Berlin"


def test_quarters_and_years() -> None:
    ledger = _ledger("a", [(0, 100), (100, 50)], months=12)
    quarters = points_flow(
        [ledger], start=date(2024, 2, 1), end=date(2024, 7, 1), period="quarter"
    )
    assert quarters.start.tolist() == [date(2024, 1, 1), date(2024, 4, 1)]
    assert quarters.issued.tolist() == [100, 50]
    years = points_flow([ledger], start=date(2024, 1, 1), end=date(2026, 1, 1), period="year")
    assert years.expired.tolist() == [0, 150]


def test_no_ledger_gives_zero_flows() -> None:
    flow = points_flow([], start=date(2024, 1, 1), end=date(2024, 3, 1))
    assert flow.issued.tolist() == [0, 0]


def test_the_table_pickles() -> None:
    flow = points_flow([_ledger("a", [(0, 5)])], start=date(2024, 1, 1), end=date(2024, 2, 1))
    assert pickle.loads(pickle.dumps(flow)) == flow
    assert isinstance(flow, PointsFlow)


BAD: list[tuple[dict[str, Any], type[LoyaltyError], str]] = [
    ({"start": date(2024, 3, 1), "end": date(2024, 3, 1)}, InvalidArgument, "end=2024-03-01"),
    ({"start": date(2024, 3, 5), "end": date(2024, 3, 1)}, InvalidArgument, "must be after"),
    ({"start": "2024-01-01", "end": date(2024, 3, 1)}, InvalidType, "start='2024-01-01'"),
    ({"start": START, "end": date(2024, 3, 1)}, InvalidType, "start=datetime"),
    ({"start": date(2024, 1, 1), "end": date(2024, 3, 1), "period": "week"}, InvalidArgument,
     "period='week'"),
    ({"start": date(2024, 1, 1), "end": date(2024, 3, 1), "tz": "Mars/Base"}, LoyaltyError,
     "Mars/Base"),
]  # fmt: skip


@pytest.mark.parametrize(("kwargs", "error", "message"), BAD)
def test_bad_arguments(kwargs: dict[str, Any], error: type[LoyaltyError], message: str) -> None:
    with pytest.raises(error, match=message):
        points_flow([_ledger("a", [(0, 5)])], **kwargs)


def test_an_item_that_is_not_a_ledger() -> None:
    with pytest.raises(InvalidType, match=r"ledgers\[1\] must be a PointsLedger, not dict"):
        points_flow([_ledger("a", [(0, 5)]), {}], start=date(2024, 1, 1), end=date(2024, 2, 1))


steps = st.lists(st.tuples(st.integers(0, 200), st.integers(-300, 300).filter(bool)), max_size=12)


@given(st.lists(steps, min_size=1, max_size=4))
def test_flows_conserve_the_points(ledger_steps: list[list[tuple[int, int]]]) -> None:
    """Outstanding moves by exactly issued - redeemed - expired in every period."""
    ledgers = [_ledger(f"m{i}", s) for i, s in enumerate(ledger_steps)]
    flow = points_flow(ledgers, start=date(2024, 1, 1), end=date(2024, 12, 1))
    change = flow.issued - flow.redeemed - flow.expired
    assert np.array_equal(np.diff(flow.outstanding, prepend=0), change)
    assert (flow.issued >= 0).all()
    assert (flow.expired >= 0).all()
    last = datetime(2024, 12, 1, tzinfo=UTC)
    assert int(flow.issued.sum()) == sum(ledger.balance(as_of=last).earned for ledger in ledgers)

"""Points ledger calendar cases: month ends, Feb 29, DST gaps and folds, far zones."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from loyaltycore import errors
from loyaltycore.points import ExpireAfter, ExpireAtPeriodEnd, PointsLedger

NY = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")
SHANGHAI = ZoneInfo("Asia/Shanghai")
FAR = datetime(2030, 1, 1, tzinfo=UTC)


def test_fold_in_new_york_gives_two_instants() -> None:
    edt = datetime(2024, 11, 3, 1, 30, tzinfo=NY)  # first 01:30, EDT
    est = datetime(2024, 11, 3, 1, 30, fold=1, tzinfo=NY)  # second 01:30, EST
    led = PointsLedger.open("m", tz="America/New_York").earn("a", at=edt, points=1)
    led = led.earn("b", at=est, points=1)
    assert led.events[2].at - led.events[1].at == timedelta(hours=1)
    later = PointsLedger.open("m", tz="America/New_York").earn("b", at=est, points=1)
    with pytest.raises(errors.OutOfOrder):
        later.earn("a", at=edt, points=1)


def test_fold_in_berlin_gives_two_instants() -> None:
    cest = datetime(2024, 10, 27, 2, 30, tzinfo=BERLIN)
    cet = datetime(2024, 10, 27, 2, 30, fold=1, tzinfo=BERLIN)
    led = PointsLedger.open("m", tz="Europe/Berlin").earn("a", at=cet, points=1)
    with pytest.raises(errors.OutOfOrder):
        led.earn("b", at=cest, points=1)


@pytest.mark.parametrize(
    ("tz", "earned", "last_usable", "expires_utc"),
    [
        # expiry day starts at 00:00 CET/CEST; the DST switch days keep local midnight
        (
            "Europe/Berlin",
            datetime(2024, 3, 1, 12, tzinfo=UTC),
            date(2024, 3, 30),
            datetime(2024, 3, 30, 23, tzinfo=UTC),
        ),
        (
            "Europe/Berlin",
            datetime(2024, 9, 27, 12, tzinfo=UTC),
            date(2024, 10, 26),
            datetime(2024, 10, 26, 22, tzinfo=UTC),
        ),
        (
            "America/New_York",
            datetime(2024, 2, 10, 12, tzinfo=UTC),
            date(2024, 3, 10),
            datetime(2024, 3, 11, 4, tzinfo=UTC),
        ),
        (
            "America/New_York",
            datetime(2024, 2, 9, 12, tzinfo=UTC),
            date(2024, 3, 9),
            datetime(2024, 3, 10, 5, tzinfo=UTC),
        ),
    ],
)
def test_expiry_at_local_midnight_across_dst(
    tz: str, earned: datetime, last_usable: date, expires_utc: datetime
) -> None:
    led = PointsLedger.open("m", tz=tz, policy=ExpireAfter(days=29)).earn("e", at=earned, points=9)
    [soon] = led.expiring(until=FAR)
    assert (soon.last_usable, soon.expires_at) == (last_usable, expires_utc)


def test_dst_gap_time_is_accepted_as_an_aware_instant() -> None:
    # 02:30 does not exist in New York on 2024-03-10; zoneinfo maps it to 03:30 EDT
    gap = datetime(2024, 3, 10, 2, 30, tzinfo=NY)
    led = PointsLedger.open("m", tz="America/New_York").earn("e", at=gap, points=1)
    assert led.events[-1].at == datetime(2024, 3, 10, 7, 30, tzinfo=UTC)


def test_shanghai_local_date_differs_from_utc() -> None:
    at = datetime(2024, 12, 31, 17, tzinfo=UTC)  # already 1 Jan 2025 01:00 in Shanghai
    led = PointsLedger.open("m", tz="Asia/Shanghai", policy=ExpireAtPeriodEnd("year", 0))
    led = led.earn("e", at=at, points=5)
    [soon] = led.expiring(until=FAR)
    assert soon.last_usable == date(2025, 12, 31)
    assert soon.expires_at == datetime(2025, 12, 31, 16, tzinfo=UTC)
    utc = PointsLedger.open("m", policy=ExpireAtPeriodEnd("year", 0)).earn("e", at=at, points=5)
    assert utc.expiring(until=FAR)[0].last_usable == date(2024, 12, 31)
    statement = led.statement(at, at + timedelta(days=1))
    assert statement.lines[0].day == date(2025, 1, 1)


@pytest.mark.parametrize(
    ("earned", "months", "last_usable"),
    [
        (date(2024, 1, 31), 1, date(2024, 2, 29)),
        (date(2025, 1, 31), 1, date(2025, 2, 28)),
        (date(2024, 2, 29), 12, date(2025, 2, 28)),
        (date(2024, 2, 29), 48, date(2028, 2, 29)),
        (date(2024, 3, 31), 1, date(2024, 4, 30)),
        (date(2024, 8, 31), 6, date(2025, 2, 28)),
    ],
)
def test_month_ends_in_berlin(earned: date, months: int, last_usable: date) -> None:
    at = datetime(earned.year, earned.month, earned.day, 0, 30, tzinfo=BERLIN)
    led = PointsLedger.open("m", tz="Europe/Berlin", policy=ExpireAfter(months=months))
    led = led.earn("e", at=at, points=1)
    assert led.expiring(until=FAR)[0].last_usable == last_usable

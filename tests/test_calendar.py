"""Aware time, program zones, periods, windows and the vectorized conversions."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from loyaltycore import calendar as cal
from loyaltycore.errors import InvalidArgument, InvalidColumn, InvalidType, NaiveDatetime

NY = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")
SHANGHAI = ZoneInfo("Asia/Shanghai")
UTC = UTC
ZONES = [
    "UTC",
    "America/New_York",
    "Europe/Berlin",
    "Asia/Shanghai",
    "Australia/Lord_Howe",
    "Asia/Kathmandu",
    "America/Santiago",
    "Pacific/Apia",
]


def test_to_utc_normalises_and_keeps_the_instant() -> None:
    at = datetime(2024, 7, 1, 12, tzinfo=BERLIN)
    assert cal.to_utc(at) == datetime(2024, 7, 1, 10, tzinfo=UTC)
    assert cal.to_utc(at).tzinfo is UTC


def test_fold_distinguishes_the_two_instants_of_a_repeated_wall_time() -> None:
    edt = datetime(2024, 11, 3, 1, 30, tzinfo=NY)
    est = datetime(2024, 11, 3, 1, 30, fold=1, tzinfo=NY)
    assert cal.to_utc(edt) == datetime(2024, 11, 3, 5, 30, tzinfo=UTC)
    assert cal.to_utc(est) == datetime(2024, 11, 3, 6, 30, tzinfo=UTC)
    # Berlin's autumn fold too.
    cest = datetime(2024, 10, 27, 2, 30, tzinfo=BERLIN)
    cet = datetime(2024, 10, 27, 2, 30, fold=1, tzinfo=BERLIN)
    assert cal.to_utc(cet) - cal.to_utc(cest) == timedelta(hours=1)


@pytest.mark.parametrize(
    ("value", "error"),
    [
        (datetime(2024, 1, 1), NaiveDatetime),
        (date(2024, 1, 1), NaiveDatetime),
        ("2024-01-01T00:00:00+00:00", InvalidType),
        (1_700_000_000, InvalidType),
        (None, InvalidType),
    ],
)
def test_to_utc_rejects_naive_and_non_datetimes(value: object, error: type[Exception]) -> None:
    with pytest.raises(error, match="at="):
        cal.to_utc(value)


def test_a_date_means_local_midnight_when_a_zone_is_given() -> None:
    assert cal.to_utc(date(2025, 1, 1), tz=SHANGHAI) == datetime(2024, 12, 31, 16, tzinfo=UTC)


def test_local_date_differs_from_utc_date_in_shanghai() -> None:
    at = datetime(2024, 12, 31, 16, 30, tzinfo=UTC)
    assert at.date() == date(2024, 12, 31)
    assert cal.local_date(at, tz=SHANGHAI) == date(2025, 1, 1)


def test_start_of_day_in_a_zone_whose_midnight_falls_in_a_dst_gap() -> None:
    # Santiago springs forward at 00:00 local: the day starts at 01:00.
    santiago = ZoneInfo("America/Santiago")
    start = cal.start_of_day(date(2024, 9, 8), tz=santiago)
    assert start.astimezone(santiago).date() == date(2024, 9, 8)
    assert start.astimezone(santiago).hour == 1
    assert cal.local_date(start - timedelta(microseconds=1), tz=santiago) == date(2024, 9, 7)


@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [
        (date(2024, 1, 31), 1, date(2024, 2, 29)),
        (date(2023, 1, 31), 1, date(2023, 2, 28)),
        (date(2024, 2, 29), 12, date(2025, 2, 28)),
        (date(2024, 2, 29), 48, date(2028, 2, 29)),
        (date(2024, 3, 31), -1, date(2024, 2, 29)),
        (date(2024, 8, 31), 3, date(2024, 11, 30)),
    ],
)
def test_add_months_clips_to_month_end_in_one_step(
    start: date, months: int, expected: date
) -> None:
    assert cal.add_months(start, months) == expected


def test_one_step_offsets_differ_from_chained_ones() -> None:
    chained = cal.add_months(cal.add_months(date(2024, 1, 31), 1), 1)
    assert chained == date(2024, 3, 29)
    assert cal.add_months(date(2024, 1, 31), 2) == date(2024, 3, 31)


@pytest.mark.parametrize(
    ("day", "period", "offset", "expected"),
    [
        (date(2024, 2, 29), "month", 0, (date(2024, 2, 1), date(2024, 3, 1))),
        (date(2024, 12, 31), "month", 1, (date(2025, 1, 1), date(2025, 2, 1))),
        (date(2024, 11, 15), "quarter", 0, (date(2024, 10, 1), date(2025, 1, 1))),
        (date(2024, 1, 1), "year", 1, (date(2025, 1, 1), date(2026, 1, 1))),
        (date(2024, 6, 30), "year", -1, (date(2023, 1, 1), date(2024, 1, 1))),
    ],
)
def test_period_bounds(
    day: date, period: cal.Period, offset: int, expected: tuple[date, date]
) -> None:
    assert cal.period_bounds(day, period, offset=offset) == expected


def test_unknown_period_names_the_argument() -> None:
    with pytest.raises(InvalidArgument, match="period='week'"):
        cal.period_start(date(2024, 1, 1), "week")  # type: ignore[arg-type]


def test_rolling_and_anniversary_windows() -> None:
    assert cal.rolling_window(date(2024, 3, 31), months=1) == (date(2024, 3, 1), date(2024, 4, 1))
    assert cal.rolling_window(date(2024, 3, 10), days=10) == (date(2024, 3, 1), date(2024, 3, 11))
    with pytest.raises(InvalidArgument):
        cal.rolling_window(date(2024, 3, 10))
    joined = date(2024, 2, 29)
    assert cal.anniversary_window(date(2025, 2, 27), joined) == (
        date(2024, 2, 29),
        date(2025, 2, 28),
    )
    assert cal.anniversary_window(date(2028, 3, 1), joined) == (
        date(2028, 2, 29),
        date(2029, 2, 28),
    )
    assert cal.anniversary_window(date(2025, 3, 1), joined, offset=1) == (
        date(2026, 2, 28),
        date(2027, 2, 28),
    )


def test_zone_rejects_unknown_names_and_non_strings() -> None:
    assert cal.zone("UTC") is cal.UTC
    with pytest.raises(InvalidArgument, match="Mars"):
        cal.zone("Mars/Olympus")
    with pytest.raises(InvalidType):
        cal.zone(5)  # type: ignore[arg-type]


instants = st.datetimes(
    min_value=datetime(1990, 1, 1), max_value=datetime(2040, 12, 31), timezones=st.just(UTC)
)


@given(st.lists(instants, min_size=1, max_size=40), st.sampled_from(ZONES))
def test_vectorized_local_days_match_scalar_local_dates(values: list[datetime], name: str) -> None:
    tz = cal.zone(name)
    micros = np.array([cal.to_micros(v) for v in values], dtype=np.int64)
    days = cal.local_days(micros, tz=tz)
    expected = [(cal.local_date(v, tz=tz) - date(1970, 1, 1)).days for v in values]
    assert days.tolist() == expected


wall_times = st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2040, 12, 31))


@given(st.lists(wall_times, min_size=1, max_size=40), st.sampled_from(ZONES))
def test_wall_to_micros_matches_zoneinfo_fold_zero(values: list[datetime], name: str) -> None:
    tz = cal.zone(name)
    column = np.array(values, dtype="datetime64[us]")
    got = cal.wall_to_micros(column, tz=tz)
    expected = [cal.to_micros(v.replace(tzinfo=tz)) for v in values]
    assert got.tolist() == expected


def test_wall_to_micros_needs_datetime64_and_refuses_nat() -> None:
    with pytest.raises(InvalidColumn, match=r"at\[1\] is NaT"):
        cal.wall_to_micros(np.array(["2024-01-01", "NaT"], dtype="datetime64[D]"), tz="UTC")
    with pytest.raises(InvalidType):
        cal.wall_to_micros(np.array([1, 2]), tz="UTC")


def test_micros_round_trip() -> None:
    at = datetime(2024, 2, 29, 23, 59, 59, 999_999, tzinfo=UTC)
    assert cal.from_micros(cal.to_micros(at)) == at


TRICKY_ZONES = [
    "Europe/Berlin",
    "America/New_York",
    "Australia/Lord_Howe",
    "Pacific/Apia",
    "America/Santiago",
    "Asia/Kathmandu",
    "Africa/Casablanca",
    "Pacific/Kiritimati",
]
EPOCH_DAY = date(1970, 1, 1)


def _scalar_days(values: np.ndarray, tz: str) -> list[int]:
    zone_ = cal.zone(tz)
    return [(cal.local_date(cal.from_micros(int(v)), tz=zone_) - EPOCH_DAY).days for v in values]


@pytest.mark.parametrize(("tz", "year"), [(z, 2021 + i % 4) for i, z in enumerate(TRICKY_ZONES)])
def test_local_days_every_quarter_hour_of_a_year(tz: str, year: int) -> None:
    start = (date(year, 1, 1) - EPOCH_DAY).days * cal.DAY_US
    values = np.arange(start, start + 366 * cal.DAY_US, 900_000_000, dtype=np.int64)
    assert cal.local_days(values, tz=tz).tolist() == _scalar_days(values, tz)


def test_local_days_every_minute_of_a_switch_day_and_a_wide_span() -> None:
    switch = cal.to_micros(datetime(2024, 10, 27, 1, tzinfo=UTC))  # 03:00 CEST -> 02:00 CET
    values = np.arange(switch - 2 * 3_600_000_000, switch + 24 * 3_600_000_000, 60_000_000)
    assert cal.local_days(values, tz="Europe/Berlin").tolist() == _scalar_days(
        values, "Europe/Berlin"
    )
    wide = np.array([0, 400 * 365 * cal.DAY_US], dtype=np.int64)  # past the table span limit
    assert cal.local_days(wide, tz="Europe/Berlin").tolist() == _scalar_days(wide, "Europe/Berlin")

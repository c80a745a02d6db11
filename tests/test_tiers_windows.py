"""The tier engine's calendar windows (computed directly or cached) equal the calendar's."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from loyaltycore.calendar import anniversary_window, rolling_window
from loyaltycore.tiers import Activity, Anniversary, Rolling, Tier, TierProgram, at_least
from loyaltycore.tiers._plan import _trailing, membership_year, window_of

DAYS = st.dates(min_value=date(1990, 1, 1), max_value=date(2090, 12, 31))
# (Feb 29 and month ends are where a year or a month back clips)
EDGES = st.sampled_from(
    [date(2024, 2, 29), date(2023, 2, 28), date(2024, 3, 31), date(2023, 12, 31), date(2024, 1, 1)]
)
KINDS = st.sampled_from(["calendar", "anniversary", "rolling", "lifetime"])


def uncached(kind: str, day: date, anchor: date, months: int) -> tuple[date, date]:
    """The window computed from the calendar functions, without any cache."""
    if kind == "calendar":
        return date(day.year, 1, 1), date(day.year + 1, 1, 1)
    if kind == "anniversary":
        return anniversary_window(day, anchor)
    if kind == "rolling":
        return rolling_window(day, months=months)
    return date.min, date.max


@given(day=DAYS | EDGES, anchor=DAYS | EDGES)
def test_membership_year_is_the_anniversary_window(day: date, anchor: date) -> None:
    expected = anniversary_window(day, anchor)
    assert membership_year(day, anchor) == expected
    start, end = expected
    assert start <= day < end


@given(kind=KINDS, day=DAYS | EDGES, anchor=DAYS | EDGES, months=st.integers(1, 36))
def test_window_of_is_the_uncached_window(kind: str, day: date, anchor: date, months: int) -> None:
    expected = uncached(kind, day, anchor, months)
    assert window_of(kind, day, anchor, months) == expected
    assert window_of(kind, day, anchor, months) == expected  # (a rolling one: from the cache)
    assert _trailing.__wrapped__(day, months) == rolling_window(day, months=months)


@given(
    kind=st.sampled_from(["rolling", "anniversary"]),
    days=st.lists(st.integers(0, 900), min_size=1, max_size=12),
    spend=st.lists(st.integers(1, 900), min_size=12, max_size=12),
)
def test_evaluation_with_a_cold_cache_equals_one_with_a_warm_cache(
    kind: str, days: list[int], spend: list[int]
) -> None:
    window = Rolling(months=12) if kind == "rolling" else Anniversary()
    program = TierProgram(
        [Tier("silver", 0), Tier("gold", 1, at_least("spend", 500))],
        window=window,
        tz="Europe/Paris",
    )
    joined = datetime(2024, 2, 29, 9, tzinfo=UTC)
    activity = [
        Activity("spend", Decimal(spend[i]), joined + timedelta(days=d), f"o{i}")
        for i, d in enumerate(sorted(days))
    ]
    as_of = joined + timedelta(days=1000)

    def run() -> object:
        return program.evaluate(program.join(joined), activity, as_of=as_of).status

    warm = run()
    _trailing.cache_clear()
    assert run() == warm


@pytest.mark.parametrize(
    "anchor", [date(2024, 2, 29), date(2023, 2, 28), date(2024, 3, 1), date(2023, 12, 31)]
)
def test_membership_year_on_every_day_around_leap_years(anchor: date) -> None:
    day = date(2022, 12, 1)
    while day < date(2029, 3, 31):
        assert membership_year(day, anchor) == anniversary_window(day, anchor), day
        day += timedelta(days=1)

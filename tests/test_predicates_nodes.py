"""Basket, calendar and member conditions: edge cases and the rrule compiler."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import numpy as np
import pytest
from dateutil.rrule import DAILY, MONTHLY, WEEKLY, YEARLY, rrule, weekday
from hypothesis import given, settings
from hypothesis import strategies as st

from loyaltycore.errors import InvalidRule
from loyaltycore.predicates import (
    BirthdayMonth,
    BirthdayWindow,
    Contains,
    Event,
    FirstPurchase,
    InSegment,
    Item,
    Member,
    Quantity,
    Recurs,
    Spend,
    TierAtLeast,
    during,
    encode,
    field,
    on_weekdays,
    walk,
)

EPOCH = date(1970, 1, 1)


def at(day: date, hour: int = 12) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


def engines(
    pred: object, events: list[Event | None], members: list[Member | None], **kw: object
) -> list[bool]:
    """Both engines' answers, asserted equal."""
    from loyaltycore.predicates import Context, Predicate

    assert isinstance(pred, Predicate)
    scalar = [pred.test(Context(e, m, **kw)) for e, m in zip(events, members, strict=True)]  # type: ignore[arg-type]
    vector = pred.mask(encode(events, members, fields=pred.fields()), **kw).tolist()  # type: ignore[arg-type]
    assert scalar == vector
    return scalar


# -- birthdays -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("today", "expected"),
    [
        (date(2025, 2, 28), True),  # common year: Feb 29 counts as Feb 28
        (date(2025, 3, 1), False),
        (date(2024, 2, 28), False),  # leap year: the real day
        (date(2024, 2, 29), True),
        (date(2100, 2, 28), True),  # 2100 is not a leap year
    ],
)
def test_feb_29_birthday_on_the_day(today: date, expected: bool) -> None:
    leapling = Member("m", birthday=date(2000, 2, 29))
    ev = Event("e", "purchase", at(today))
    assert engines(BirthdayWindow(), [ev], [leapling]) == [expected]


def test_birthday_window_crosses_the_year_end_and_respects_the_zone() -> None:
    member = Member("m", birthday=date(1990, 12, 30))
    week = BirthdayWindow(before=3, after=5)
    days = [date(2024, 12, 26), date(2024, 12, 27), date(2025, 1, 4), date(2025, 1, 5)]
    events: list[Event | None] = [Event("e", "purchase", at(d)) for d in days]
    assert engines(week, events, [member] * 4) == [False, True, True, False]
    # 2025-01-04 23:30 UTC is already Jan 5 in Berlin: outside the window there
    late = Event("e", "purchase", datetime(2025, 1, 4, 23, 30, tzinfo=UTC))
    assert engines(week, [late], [member], tz="Europe/Berlin") == [False]
    assert engines(week, [late], [member], tz="UTC") == [True]


def test_no_birthday_or_no_member_is_false() -> None:
    ev = Event("e", "purchase", at(date(2024, 5, 1)))
    for pred in (BirthdayWindow(before=183, after=183), BirthdayMonth()):
        assert engines(pred, [ev, ev], [Member("m"), None]) == [False, False]


def test_birthday_month_uses_the_local_month() -> None:
    member = Member("m", birthday=date(2000, 2, 29))
    first_of_march_tokyo = Event("e", "purchase", datetime(2024, 2, 29, 16, tzinfo=UTC))
    assert engines(BirthdayMonth(), [first_of_march_tokyo], [member], tz="UTC") == [True]
    assert engines(BirthdayMonth(), [first_of_march_tokyo], [member], tz="Asia/Tokyo") == [False]


@given(
    st.dates(date(1904, 1, 1), date(2096, 12, 31)),
    st.dates(date(1940, 1, 1), date(2010, 12, 31)),
    st.integers(0, 183),
    st.integers(0, 183),
)
def test_birthday_window_matches_a_day_by_day_definition(
    today: date, birthday: date, before: int, after: int
) -> None:
    from loyaltycore.calendar import anniversary

    expected = any(
        anniversary(birthday, y) - timedelta(days=before)
        <= today
        <= anniversary(birthday, y) + timedelta(days=after)
        for y in range(today.year - 1, today.year + 2)
    )
    member = Member("m", birthday=birthday)
    got = engines(BirthdayWindow(before, after), [Event("e", "x", at(today))], [member])
    assert got == [expected]


# -- recurrences -----------------------------------------------------------------

_WD = st.sampled_from(range(7))


@st.composite
def rules(draw: st.DrawFn) -> rrule:
    """dateutil rules built from the parts the compiler handles."""
    freq = draw(st.sampled_from([YEARLY, MONTHLY, WEEKLY, DAILY]))
    start = draw(st.datetimes(datetime(2019, 1, 1), datetime(2026, 12, 31)))
    kw: dict[str, object] = {"interval": draw(st.sampled_from([1, 1, 2, 3]))}
    if draw(st.booleans()):
        kw["bymonth"] = draw(st.frozensets(st.integers(1, 12), min_size=1, max_size=3))
    if draw(st.booleans()):
        days = st.one_of(st.integers(1, 31), st.integers(-31, -1))
        kw["bymonthday"] = draw(st.frozensets(days, min_size=1, max_size=3))
    if draw(st.booleans()):
        nth = freq == MONTHLY or (freq == YEARLY and "bymonth" in kw)
        n = st.sampled_from([None, 1, 2, -1, 4]) if nth else st.none()
        kw["byweekday"] = draw(
            st.lists(st.builds(lambda w, k: weekday(w, k), _WD, n), min_size=1, max_size=3)
        )
    if draw(st.booleans()):
        kw["wkst"] = draw(_WD)
    if draw(st.booleans()):
        kw["until"] = start + timedelta(
            days=draw(st.integers(0, 900)), hours=draw(st.integers(-12, 12))
        )
    elif draw(st.integers(0, 4)) == 0:
        kw["count"] = draw(st.integers(1, 30))
    return rrule(freq, dtstart=start, **kw)  # type: ignore[arg-type]


@given(rules(), st.integers(-40, 1000))
@settings(max_examples=150)
def test_compiled_rule_matches_dateutil(rule: rrule, offset: int) -> None:
    from loyaltycore.predicates._recur import compile_rule

    compiled = compile_rule(str(rule))
    start = rule._dtstart.date() + timedelta(days=offset)  # type: ignore[attr-defined]
    days = [start + timedelta(days=k) for k in range(60)]
    lo = datetime.combine(days[0], datetime.min.time())
    hi = datetime.combine(days[-1], datetime.max.time())
    occurrences = {o.date() for o in rule.between(lo, hi, inc=True)}
    expected = [d in occurrences for d in days]
    numbers = [(d - EPOCH).days for d in days]
    assert [compiled.test(n) for n in numbers] == expected
    assert compiled.mask(np.array(numbers, dtype=np.int64)).tolist() == expected


def test_member_day_and_the_8th_of_each_month() -> None:
    wednesday = Recurs("FREQ=WEEKLY;BYDAY=WE")
    eighth = Recurs(rrule(MONTHLY, bymonthday=8, dtstart=datetime(2024, 1, 1)))
    days = [date(2024, 5, 1), date(2024, 5, 8), date(2024, 5, 9)]
    events: list[Event | None] = [Event("e", "purchase", at(d)) for d in days]
    assert engines(wednesday, events, [None] * 3) == [True, True, False]
    assert engines(eighth, events, [None] * 3) == [False, True, False]
    # Wednesday 23:30 UTC is Thursday in Sydney
    late = Event("e", "purchase", datetime(2024, 5, 1, 23, 30, tzinfo=UTC))
    assert engines(wednesday, [late], [None], tz="Australia/Sydney") == [False]


def test_unbounded_rule_with_unsupported_parts_is_refused() -> None:
    with pytest.raises(InvalidRule, match="finite"):
        Recurs("FREQ=YEARLY;BYWEEKNO=20")
    with pytest.raises(InvalidRule, match="RFC 5545"):
        Recurs("FREQ=SOMETIMES")
    finite = Recurs("DTSTART:20250101T000000\nRRULE:FREQ=YEARLY;BYWEEKNO=20;COUNT=3")
    days = [date(2025, 5, 11), date(2025, 5, 12), date(2025, 5, 14), date(2025, 5, 15)]
    events: list[Event | None] = [Event("e", "purchase", at(d)) for d in days]
    assert engines(finite, events, [None] * 4) == [False, True, True, False]


def test_recurrence_without_event_reads_as_of() -> None:
    wednesday = Recurs("FREQ=WEEKLY;BYDAY=WE")
    assert wednesday.test(as_of=at(date(2024, 5, 1)))
    assert not wednesday.test()


# -- weekdays and ranges -----------------------------------------------------------


def test_on_weekdays_accepts_names_ints_and_dateutil_days() -> None:
    from dateutil.rrule import SA

    assert on_weekdays("WE", "saturday", 6, SA).values == frozenset({2, 5, 6})
    with pytest.raises(InvalidRule):
        on_weekdays("someday")
    with pytest.raises(InvalidRule):
        on_weekdays()


def test_during_is_inclusive_in_the_program_zone() -> None:
    advent = during(date(2024, 12, 1), date(2024, 12, 24))
    events: list[Event | None] = [
        Event("a", "purchase", datetime(2024, 11, 30, 23, 30, tzinfo=UTC)),
        Event("b", "purchase", datetime(2024, 12, 24, 22, 30, tzinfo=UTC)),
        Event("c", "purchase", datetime(2024, 12, 24, 23, 30, tzinfo=UTC)),
    ]
    assert engines(advent, events, [None] * 3, tz="Europe/Berlin") == [True, True, False]


def test_days_since_joining() -> None:
    member = Member("m", joined_at=datetime(2024, 1, 31, 23, 30, tzinfo=UTC))
    ev = Event("e", "purchase", datetime(2024, 2, 1, 0, 30, tzinfo=UTC))
    new = field("days_since_joined") <= 0
    assert engines(new, [ev], [member], tz="UTC") == [False]
    assert engines(new, [ev], [member], tz="Europe/Berlin") == [True]  # same local day


# -- basket ------------------------------------------------------------------------


def basket() -> Event:
    return Event(
        "o",
        "purchase",
        at(date(2024, 5, 1)),
        items=[
            Item("LATTE", "coffee", 2, "3.50", discount="1.00"),
            Item("BEANS", "coffee", 1, "12.00", earning=False),
            Item("FREE-CAKE", "cake", 1, "4.00", kind="reward"),
            Item("VAT", None, 1, "2.00", kind="tax"),
        ],
    )


@pytest.mark.parametrize(
    ("pred", "expected"),
    [
        (Contains(skus={"LATTE"}), True),
        (Contains(categories={"cake"}), False),  # reward lines do not count
        (Contains(categories={"coffee"}), True),
        (Quantity(3, categories={"coffee"}), True),
        (Quantity(4), False),  # tax and reward lines are not units
        (Spend("18.00", categories={"coffee"}), True),  # 2 * 3.50 - 1.00 + 12.00
        (Spend("18.01", categories={"coffee"}), False),
        (Spend("18.005"), False),
        (Spend("6", skus={"LATTE"}), True),
    ],
)
def test_basket_conditions(pred: object, expected: bool) -> None:
    assert engines(
        pred, [basket(), None, Event("x", "purchase", at(date(2024, 5, 1)))], [None] * 3
    ) == [
        expected,
        False,
        False,
    ]


# -- member --------------------------------------------------------------------


def test_tier_at_least_uses_the_context_order() -> None:
    tiers = ("silver", "gold", "platinum")
    members: list[Member | None] = [
        Member("a", tier="silver"),
        Member("b", tier="gold"),
        Member("c", tier="platinum"),
        Member("d"),
        Member("e", tier="retired"),
        None,
    ]
    events: list[Event | None] = [None] * 6
    gold = TierAtLeast("gold")
    assert engines(gold, events, members, tiers=tiers) == [False, True, True, False, False, False]
    assert engines(gold, events, members, tiers=("silver",)) == [False] * 6


def test_segment_and_first_purchase() -> None:
    ev = Event("o", "purchase", at(date(2024, 5, 1)))
    members: list[Member | None] = [
        Member("a", segments={"vip"}),
        Member("b", counters={"purchases": 1}),
        None,
    ]
    assert engines(InSegment("vip"), [ev] * 3, members) == [True, False, False]
    assert engines(FirstPurchase(), [ev] * 3, members) == [True, False, False]
    review = Event("r", "review", at(date(2024, 5, 1)))
    assert engines(FirstPurchase(), [review], [Member("a")]) == [False]


def test_walk_visits_every_node() -> None:
    pred = (TierAtLeast("gold") | InSegment("vip")) & ~Contains(skus={"X"})
    names = [type(node).__name__ for node in walk(pred)]
    assert names == ["And", "Or", "TierAtLeast", "InSegment", "Not", "Contains"]

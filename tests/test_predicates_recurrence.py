"""Recurrence rules are bounded before they are expanded: no rule costs seconds to load."""

from __future__ import annotations

import itertools
import time
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
import pytest
from dateutil.rrule import DAILY, HOURLY, MINUTELY, MONTHLY, WEEKLY, YEARLY, rrule
from hypothesis import given, settings
from hypothesis import strategies as st

from loyaltycore import serialize
from loyaltycore.errors import InvalidData, InvalidRule
from loyaltycore.predicates import Context, Event, Recurs
from loyaltycore.predicates._recur import (
    MAX_EXPANDED,
    MAX_WORK,
    Recurrence,
    compile_rule,
    parse_rule,
    span_limit,
)

EPOCH = date(1970, 1, 1)

#: Rules that used to take seconds to minutes of CPU to expand.
COSTLY = [
    "FREQ=HOURLY;COUNT=2;BYMONTH=2;BYMONTHDAY=30",
    "FREQ=MINUTELY;COUNT=2;BYMONTH=2;BYMONTHDAY=30",
    "FREQ=SECONDLY;COUNT=2;BYMONTH=2;BYMONTHDAY=30",
    "FREQ=SECONDLY;COUNT=5000;BYHOUR=1;BYMINUTE=1;BYSECOND=1",
    "DTSTART:19000101T000000\nRRULE:FREQ=DAILY;UNTIL=99991231T000000;BYMONTH=2;BYMONTHDAY=30;"
    "BYSETPOS=1;BYHOUR=0",
    # Feb 29 on a Monday comes every 28 years: 20 of them are 560 years away.
    "FREQ=DAILY;BYMONTH=2;BYMONTHDAY=29;BYDAY=MO;COUNT=20;BYSETPOS=1",
]


@pytest.mark.parametrize("text", COSTLY)
def test_a_costly_rule_is_refused_before_it_is_expanded(text: str) -> None:
    start = time.process_time()
    with pytest.raises(InvalidRule, match="expansion") as info:
        Recurs(text)
    assert info.value.field == "rule"
    assert time.process_time() - start < 2.0  # each took 7 to 40 s before the bound
    doc = {
        "schema": "predicates.Predicate",
        "version": 1,
        "data": {"type": "recurs", "rule": text},
    }
    with pytest.raises(InvalidData, match=r"expansion.* @ \$\.data\.rule"):
        serialize.from_data(doc)


def test_the_work_bound_is_a_static_span_per_frequency() -> None:
    daily = span_limit(rrule(DAILY, count=2, bysetpos=1))
    # Long enough to move any rule forward by whole 400-year cycles, and more.
    assert 400 * 365.2425 + 100 * 365 < daily < 600 * 365
    assert span_limit(rrule(YEARLY, count=2, bysetpos=1)) > (10_000 - 1) * 366
    assert span_limit(rrule(DAILY, interval=7, count=2, bysetpos=1)) == pytest.approx(
        7 * daily, abs=7
    )
    assert daily < span_limit(rrule(WEEKLY, count=2)) < span_limit(rrule(MONTHLY, count=2))
    assert span_limit(rrule(HOURLY, count=2)) == span_limit(rrule(MINUTELY, count=2)) == 0
    assert MAX_WORK == 6_000_000


@pytest.mark.parametrize(
    "text",
    [
        "FREQ=HOURLY;COUNT=3",
        "FREQ=MINUTELY;UNTIL=19700102T000000",
        "DTSTART:99991231T000000\nRRULE:FREQ=SECONDLY;COUNT=1",
    ],
)
def test_a_sub_daily_rule_is_refused(text: str) -> None:
    with pytest.raises(InvalidRule, match="sub-daily FREQ cannot be bounded"):
        Recurs(text)


def test_a_rare_rule_within_the_bound_gives_dateutils_dates() -> None:
    # Feb 29 on a Monday, three times: 1988, 2016, 2044 (DTSTART 1970).
    text = "FREQ=DAILY;BYMONTH=2;BYMONTHDAY=29;BYDAY=MO;COUNT=3;BYSETPOS=1"
    compiled = compile_rule(text)
    expected = {(date(y, 2, 29) - EPOCH).days for y in (1988, 2016, 2044)}
    assert compiled.dates == expected
    # Easter is not moved by whole cycles: a yearly Easter rule walks unmoved.
    easter = compile_rule("FREQ=YEARLY;BYEASTER=0;COUNT=2")
    assert easter.dates == {(date(1970, 3, 29) - EPOCH).days, (date(1971, 4, 11) - EPOCH).days}
    # A rule ending after 9000 years walks to its UNTIL when its frequency allows it.
    text = "FREQ=YEARLY;INTERVAL=4;BYWEEKNO=1;BYDAY=MO;UNTIL=99991231T000000;BYSETPOS=1"
    late = compile_rule(text)
    assert late.dates is not None
    assert late.dates == {(o.date() - EPOCH).days for o in parse_rule(text)}
    assert len(late.dates) > 1_500


@pytest.mark.parametrize(
    ("text", "ask_dateutil"),
    [
        # dateutil gives a monthly rule mixing plain and numbered weekdays no dates at all
        ("DTSTART:20190101T000000\nRRULE:FREQ=MONTHLY;COUNT=1;BYDAY=MO,+1TU", True),
        ("FREQ=YEARLY;INTERVAL=3;COUNT=2;BYMONTH=2;BYMONTHDAY=30", True),
        # (dateutil takes 7 to 40 s to find that no February has a 30th)
        ("FREQ=DAILY;COUNT=2;BYMONTH=2;BYMONTHDAY=30;BYSETPOS=1", False),
    ],
)
def test_a_counted_rule_with_no_dates_compiles_to_none_as_in_dateutil(
    text: str, ask_dateutil: bool
) -> None:
    """None found in whole periods of the rule: none at all, not a refusal."""
    start = time.process_time()
    compiled = compile_rule(text)
    assert time.process_time() - start < 2.0
    if ask_dateutil:
        assert list(parse_rule(text)) == []
    assert compiled.dates == frozenset()
    assert not Recurs(text).test(Context(Event("e", "purchase", datetime(2019, 3, 4, tzinfo=UTC))))


def test_count_and_until_together_are_refused() -> None:
    with pytest.raises(InvalidRule, match="both COUNT and UNTIL"):
        Recurs("FREQ=DAILY;COUNT=3;UNTIL=20240101T000000")


@st.composite
def finite_rules(draw: st.DrawFn) -> rrule:
    """Finite rules with parts that compile only by expansion."""
    freq = draw(st.sampled_from([YEARLY, MONTHLY, WEEKLY, DAILY]))
    start = draw(st.datetimes(datetime(1900, 1, 1), datetime(2200, 12, 31)))
    kw: dict[str, Any] = {"interval": draw(st.sampled_from([1, 2, 3]))}
    if draw(st.booleans()):
        kw["bysetpos"] = draw(st.sampled_from([1, -1, 2]))
    if draw(st.booleans()):
        kw["bymonth"] = draw(st.frozensets(st.integers(1, 12), min_size=1, max_size=3))
    if freq in (YEARLY, MONTHLY) and draw(st.booleans()):
        kw["bymonthday"] = draw(st.frozensets(st.integers(1, 31), min_size=1, max_size=3))
    if draw(st.booleans()):
        kw["byweekno"] = draw(st.frozensets(st.integers(-53, 53).filter(bool), max_size=2))
    if draw(st.booleans()):
        kw["until"] = start + timedelta(days=draw(st.integers(0, 20_000)))
    else:
        kw["count"] = draw(st.integers(1, 40))
    return rrule(freq, dtstart=start, **kw)


def _compiled_or_refusal(text: str) -> Recurrence | str:
    try:
        return compile_rule(text)
    except InvalidRule as exc:
        return str(exc)


@given(finite_rules())
@settings(max_examples=50)
def test_a_finite_rule_within_the_bound_compiles_to_dateutils_dates(rule: rrule) -> None:
    text = str(rule)
    compiled = _compiled_or_refusal(text)
    if isinstance(compiled, str):
        # Refused only when its occurrences cannot be found within the bound.
        assert "more than" in compiled or "not all within" in compiled, compiled
        return
    # Recurs reads the text, which dateutil does not always read as the object it came from.
    again = parse_rule(text)
    if compiled.dates is not None:
        expanded = itertools.islice(again, MAX_EXPANDED + 1)
        assert compiled.dates == {(o.date() - EPOCH).days for o in expanded}
        return
    expected = {(o.date() - EPOCH).days for o in again}  # UNTIL at most 20,000 days on
    first = (again._dtstart.date() - EPOCH).days - 2
    days = np.arange(first, first + 20_000 + 5, dtype=np.int64)
    assert set(days[compiled.mask(days)].tolist()) == expected

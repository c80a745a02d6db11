"""Compile a :mod:`dateutil.rrule` recurrence to checks on a local date.

Testing ``dt in rrule(...)`` walks the rule (hundreds of microseconds); a
compiled :class:`Recurrence` answers "does the rule have an occurrence on
this date?" with a few integer comparisons, on one date or a whole column
of day numbers. The checks reproduce dateutil's own filters: each BYxxx
part restricts the dates, and parts are ANDed (as dateutil does, even
``BYDAY=MO,1TU``).

Finite rules with parts that have no direct check (BYSETPOS, BYWEEKNO,
BYYEARDAY, BYEASTER, COUNT) are expanded by dateutil to their set of dates.
dateutil's walk is bounded only by the span it covers (a rule that matches
once a century walks for centuries), so before expanding, the span is bounded
statically: :func:`span_limit` gives the days a rule of its frequency may
walk within :data:`MAX_WORK`, and the rule is moved forward by whole
400-year calendar cycles so that dateutil's own stop at year 9999 ends the
walk within that span. A rule that cannot be expanded within the bound is
refused with :class:`~loyaltycore.errors.InvalidRule`; sub-daily FREQ rules
are refused (times of day are ignored anyway: use FREQ=DAILY).
"""

from __future__ import annotations

import itertools
import re
from datetime import date, datetime, timedelta
from typing import Any, Final

import attrs
import numpy as np
import numpy.typing as npt

from loyaltycore.calendar import EPOCH_DATE, MISSING_INT, civil, days_in_month
from loyaltycore.errors import InvalidRule

_DEFAULT_START: Final = datetime(1970, 1, 1)
#: Finite rules with parts that have no direct check are expanded to at most this many dates.
MAX_EXPANDED: Final = 5000
#: The most work one expansion may do, in units of one day examined by
#: dateutil (a few tenths of a second of CPU): see :func:`span_limit`.
MAX_WORK: Final = 6_000_000
_CYCLE_YEARS: Final = 400
_CYCLE_DAYS: Final = 146_097
_LAST: Final = datetime(9999, 12, 31)
#: The work of one step of dateutil's loop (building a period), in days examined.
_STEP_COST: Final = 30
YEARLY, MONTHLY, WEEKLY, DAILY, HOURLY, MINUTELY, SECONDLY = range(7)
_FREQ_NAMES: Final = ("YEARLY", "MONTHLY", "WEEKLY", "DAILY", "HOURLY", "MINUTELY", "SECONDLY")
_PERIOD_DAYS: Final = {YEARLY: 366, MONTHLY: 31, WEEKLY: 7, DAILY: 1}

Mask = npt.NDArray[np.bool_]
Ints = npt.NDArray[np.int64]


def _one_of(values: Ints, wanted: frozenset[int]) -> Mask:
    """``values`` in ``wanted`` (a small set): a few vectorized comparisons."""
    out = np.zeros(values.shape, dtype=np.bool_)
    for w in wanted:
        out |= values == w
    return out


def _days(day: date) -> int:
    return (day - EPOCH_DATE).days


def _days_in_month(year: int, month: int) -> int:
    nxt = date(year + month // 12, month % 12 + 1, 1)
    return (nxt - date(year, month, 1)).days


@attrs.frozen
class Recurrence:
    """The compiled checks of one rule; ``dates`` is set for expanded finite rules."""

    freq: int
    interval: int
    start: int
    end: int | None
    months: frozenset[int] | None
    monthdays: frozenset[int]
    nmonthdays: frozenset[int]
    weekdays: frozenset[int] | None
    nweekdays: frozenset[tuple[int, int]] | None
    wkst: int
    anchor: int
    dates: frozenset[int] | None = None

    # -- scalar --------------------------------------------------------------

    def test(self, days: int) -> bool:
        """Whether the rule has an occurrence on day number ``days``."""
        if self.dates is not None:
            return days in self.dates
        if days < self.start or (self.end is not None and days > self.end):
            return False
        day = EPOCH_DATE + timedelta(days=days)
        weekday = day.weekday()
        if self.months is not None and day.month not in self.months:
            return False
        if self.weekdays is not None and weekday not in self.weekdays:
            return False
        dim = _days_in_month(day.year, day.month)
        if (self.monthdays or self.nmonthdays) and not (
            day.day in self.monthdays or day.day - dim - 1 in self.nmonthdays
        ):
            return False
        if self.nweekdays is not None:
            first = (day.day - 1) // 7 + 1
            last = -((dim - day.day) // 7 + 1)
            if not any(w == weekday and n in (first, last) for w, n in self.nweekdays):
                return False
        return self._phase(days, day.year, day.month)

    def _phase(self, days: int, year: int, month: int) -> bool:
        if self.interval == 1:
            return True
        start = EPOCH_DATE + timedelta(days=self.anchor)
        if self.freq == DAILY:
            steps = days - self.anchor
        elif self.freq == WEEKLY:
            steps = (self._week(days) - self._week(self.anchor)) // 7
        elif self.freq == MONTHLY:
            steps = (year * 12 + month) - (start.year * 12 + start.month)
        else:
            steps = year - start.year
        return steps % self.interval == 0

    def _week(self, days: int) -> int:
        weekday = (days + 3) % 7
        return days - (weekday - self.wkst) % 7

    # -- vectorized ----------------------------------------------------------

    def mask(self, days: Ints) -> Mask:
        """:meth:`test` over a column of day numbers (missing -> False)."""
        ok = days != MISSING_INT
        if self.dates is not None:
            found = np.isin(days, np.array(sorted(self.dates), dtype=np.int64))
            return np.asarray(found & ok, dtype=np.bool_)
        d = np.where(ok, days, self.start)
        out = ok & (d >= self.start)
        if self.end is not None:
            out &= d <= self.end
        year, month, day = civil(d)
        weekday = (d + 3) % 7
        dim = days_in_month(year, month)
        if self.months is not None:
            out &= _one_of(month, self.months)
        if self.weekdays is not None:
            out &= _one_of(weekday, self.weekdays)
        if self.monthdays or self.nmonthdays:
            out &= _one_of(day, self.monthdays) | _one_of(day - dim - 1, self.nmonthdays)
        if self.nweekdays is not None:
            first = (day - 1) // 7 + 1
            last = -((dim - day) // 7 + 1)
            hit = np.zeros(d.shape, dtype=np.bool_)
            for w, n in self.nweekdays:
                hit |= (weekday == w) & ((first == n) | (last == n))
            out &= hit
        return np.asarray(out & self._phase_mask(d, year, month), dtype=np.bool_)

    def _phase_mask(self, d: Ints, year: Ints, month: Ints) -> Mask:
        if self.interval == 1:
            return np.ones(d.shape, dtype=np.bool_)
        start = EPOCH_DATE + timedelta(days=self.anchor)
        if self.freq == DAILY:
            steps = d - self.anchor
        elif self.freq == WEEKLY:
            week = d - ((d + 3) % 7 - self.wkst) % 7
            steps = (week - self._week(self.anchor)) // 7
        elif self.freq == MONTHLY:
            steps = (year * 12 + month) - (start.year * 12 + start.month)
        else:
            steps = year - start.year
        return np.asarray(steps % self.interval == 0, dtype=np.bool_)


def _count_and_until(text: str) -> bool:
    """Whether the rule text sets both COUNT and UNTIL (dateutil only warns)."""
    names = {part.split("=")[0] for part in re.split(r"[;:\s]+", text.upper())}
    return {"COUNT", "UNTIL"} <= names


def parse_rule(text: str) -> Any:
    """The dateutil rule for RFC 5545 ``text`` (DTSTART defaults to 1970-01-01)."""
    from dateutil.rrule import rrule, rrulestr

    if _count_and_until(text):
        raise InvalidRule(
            f"rule={text!r} has both COUNT and UNTIL, which RFC 5545 forbids",
            field="rule",
            value=text,
        )
    try:
        parsed = rrulestr(text, dtstart=_DEFAULT_START)
    except (ValueError, TypeError, KeyError, AttributeError, OverflowError) as exc:
        raise InvalidRule(
            f"rule={text!r} is not an RFC 5545 rule: {exc}", field="rule", value=text
        ) from None
    if not isinstance(parsed, rrule):
        raise InvalidRule(f"rule={text!r} must be one RRULE", field="rule", value=text)
    return parsed


def _bounds(rule: Any) -> tuple[int, int | None]:
    """First and last day numbers that can hold an occurrence."""
    dtstart: datetime = rule._dtstart
    times = [t.replace(tzinfo=None) for t in rule._timeset or [dtstart.timetz()]]
    start = dtstart.date()
    if max(times) < dtstart.time():
        start += timedelta(days=1)
    until: datetime | None = rule._until
    if until is None:
        return _days(start), None
    first_time = datetime.combine(until.date(), min(times), tzinfo=dtstart.tzinfo)
    last = until.date() if first_time <= until else until.date() - timedelta(days=1)
    return _days(start), _days(last)


def span_limit(rule: Any) -> int:
    """How many days after DTSTART an expansion of ``rule`` may walk within :data:`MAX_WORK`.

    dateutil steps through a rule one period (year, month, week or day) at a
    time and filters every day of each period, whether or not a date
    matches; its only stop, besides COUNT or a match after UNTIL, is the
    year 9999. So the work of an expansion is bounded by the span it walks,
    not by the occurrences it finds. Per day of span, a rule costs one unit
    per day examined plus :data:`_STEP_COST` per period, divided by its
    INTERVAL.
    """
    freq, interval = rule._freq, rule._interval
    if freq > DAILY:
        return 0
    return int(MAX_WORK * interval / (1 + _STEP_COST / _PERIOD_DAYS[freq]))


def _expansion_error(text: str, why: str) -> InvalidRule:
    return InvalidRule(
        f"rule={text!r} uses BYSETPOS, BYWEEKNO, BYYEARDAY, BYEASTER, COUNT or a sub-daily"
        f" FREQ, which compile only by expansion: {why}",
        field="rule",
        value=text,
    )


def _shift(value: datetime, cycles: int) -> datetime:
    return value.replace(year=value.year + _CYCLE_YEARS * cycles)


def _frame(rule: Any, text: str) -> tuple[int, int]:
    """``(cycles, span)``: how many 400-year cycles to move the rule forward, and the
    days after DTSTART that the moved rule can walk before dateutil stops at year 9999.

    The Gregorian calendar repeats every 400 years (146,097 days, a whole
    number of weeks), so moving DTSTART and UNTIL forward by whole cycles
    keeps every month, weekday, week number and year day, and dateutil's own
    stop at year 9999 then bounds the walk; only Easter moves, so rules with
    BYEASTER are not moved.
    """
    dtstart: datetime = rule._dtstart
    until: datetime | None = rule._until
    limit = span_limit(rule)
    to_end = (_LAST - dtstart.replace(tzinfo=None)).days + 1
    needed = 0 if until is None else max(0, (until - dtstart).days + 1)
    cycles = 0
    if not rule._byeaster and to_end > limit:
        if until is None:  # walk as far as the bound allows
            cycles = -(-(to_end - limit) // _CYCLE_DAYS)
        else:  # just far enough to reach UNTIL
            cycles = max(0, (to_end - needed) // _CYCLE_DAYS)
    span = to_end - cycles * _CYCLE_DAYS
    if span > limit:
        raise _expansion_error(
            text,
            f"expanding it could walk {span} days after DTSTART, more than the {limit}"
            f" allowed for FREQ={_FREQ_NAMES[rule._freq]};INTERVAL={rule._interval}",
        )
    return cycles, span


def _expand(rule: Any, text: str) -> Recurrence:
    """The dates of a finite rule, expanded within a static bound on the work (:func:`_frame`)."""
    count, until = rule._count, rule._until
    if rule._freq > DAILY:
        raise _expansion_error(
            text, "a sub-daily FREQ cannot be bounded; times of day are ignored, use FREQ=DAILY"
        )
    if count is None and until is None:
        raise _expansion_error(
            text, f"only finite rules (COUNT or UNTIL) of at most {MAX_EXPANDED} occurrences"
        )
    cycles, span = _frame(rule, text)
    moved = rule.replace(
        count=None,
        dtstart=_shift(rule._dtstart, cycles),
        until=None if until is None else _shift(until, cycles),
    )
    wanted = MAX_EXPANDED + 1 if count is None else min(count, MAX_EXPANDED + 1)
    occurrences = list(itertools.islice(moved, wanted))
    if len(occurrences) > MAX_EXPANDED:
        raise _expansion_error(text, f"it has more than {MAX_EXPANDED} occurrences")
    # Fewer than COUNT is dateutil's own answer when the walk started at DTSTART
    # itself (it ran to the year 9999), or when it found none in a span of whole
    # periods of the rule (a moved rule repeats the original's first ``span`` days).
    whole = cycles == 0 or (not occurrences and span >= _CYCLE_DAYS * rule._interval)
    if count is not None and len(occurrences) < count and not whole:
        raise _expansion_error(
            text, f"its COUNT={count} occurrences are not all within {span} days of DTSTART"
        )
    years = _CYCLE_YEARS * cycles
    dates = frozenset(_days(date(occ.year - years, occ.month, occ.day)) for occ in occurrences)
    return Recurrence(DAILY, 1, 0, None, None, frozenset(), frozenset(), None, None, 0, 0, dates)


def compile_rule(text: str) -> Recurrence:
    """Compile RFC 5545 ``text`` to a :class:`Recurrence`.

    >>> wed = compile_rule("FREQ=WEEKLY;BYDAY=WE")
    >>> wed.test((date(2024, 5, 1) - date(1970, 1, 1)).days)
    True
    """
    rule = parse_rule(text)
    direct = (
        rule._count is None
        and rule._freq <= DAILY
        and not rule._bysetpos
        and not rule._byweekno
        and not rule._byyearday
        and not rule._byeaster
        and not (rule._bynweekday and rule._freq == YEARLY and not rule._bymonth)
    )
    if not direct:
        return _expand(rule, text)
    start, end = _bounds(rule)
    return Recurrence(
        freq=rule._freq,
        interval=rule._interval,
        start=start,
        end=end,
        months=None if not rule._bymonth else frozenset(rule._bymonth),
        monthdays=frozenset(rule._bymonthday),
        nmonthdays=frozenset(rule._bynmonthday),
        weekdays=None if not rule._byweekday else frozenset(rule._byweekday),
        nweekdays=None if not rule._bynweekday else frozenset(rule._bynweekday),
        wkst=rule._wkst,
        anchor=_days(rule._dtstart.date()),
    )

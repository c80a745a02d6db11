"""A tier program compiled to plain tuples of ints, and the calendar it uses.

Thresholds become integer minimums (money in minor units) per metric index,
in disjunctive normal form, so the scalar engine and the vectorized
``classify`` compare the same integers.
"""

from __future__ import annotations

import functools
from calendar import isleap
from datetime import date, timedelta, tzinfo
from decimal import Decimal
from typing import NamedTuple

from loyaltycore._validate import DECIMAL_CONTEXT
from loyaltycore.calendar import (
    EPOCH,
    rolling_window,
    start_of_day,
    to_micros,
)
from loyaltycore.errors import InvalidAmount
from loyaltycore.tiers._model import (
    METRIC_INDEX,
    METRIC_NAMES,
    METRICS,
    Requirement,
    next_review,
    options,
)

next_review_day = next_review

Option = tuple[tuple[int, int], ...]
Options = tuple[Option, ...]

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
ONE_DAY = timedelta(days=1)
#: Later than any instant the engine meets.


class Plan(NamedTuple):
    """The compiled ladder: names, ranks and per-tier options in minor units."""

    names: tuple[str, ...]
    ranks: tuple[int, ...]
    options: tuple[Options, ...]
    exponents: tuple[int, ...]


def exponents_for(exponent: int) -> tuple[int, ...]:
    """Decimal places per metric: the currency exponent for money, 0 for counts."""
    return tuple(exponent if METRICS[m] == "money" else 0 for m in METRIC_NAMES)


def to_units(amount: Decimal, metric: str, exponents: tuple[int, ...], name: str) -> int:
    """``amount`` of ``metric`` in integer units; refuses fractions of a minor unit."""
    units = amount.scaleb(exponents[METRIC_INDEX[metric]], context=DECIMAL_CONTEXT)
    if units != units.to_integral_value(context=DECIMAL_CONTEXT):
        raise InvalidAmount(
            f"{name}={amount} of {metric} has more decimals than the currency allows",
            field=name,
            value=amount,
        )
    return int(units)


def from_units(units: int, metric: str, exponents: tuple[int, ...]) -> Decimal:
    """Integer units of ``metric`` back to a Decimal amount."""
    return Decimal(units).scaleb(-exponents[METRIC_INDEX[metric]], context=DECIMAL_CONTEXT)


def compile_options(req: Requirement, exponents: tuple[int, ...], name: str) -> Options:
    """``req`` as a tuple of options, each a tuple of ``(metric index, minimum units)``."""
    return tuple(
        tuple((METRIC_INDEX[m], to_units(amount, m, exponents, name)) for m, amount in opt.items())
        for opt in options(req)
    )


@functools.lru_cache(maxsize=1024)
def cached_options(req: Requirement, exponents: tuple[int, ...]) -> Options:
    """:func:`compile_options`, cached (challenge targets)."""
    return compile_options(req, exponents, "target")


def meets(opts: Options, totals: list[int]) -> bool:
    """Whether ``totals`` (units per metric index) satisfy one of ``opts``."""
    for opt in opts:
        for m, minimum in opt:
            if totals[m] < minimum:
                break
        else:
            return True
    return False


def justified(plan: Plan, totals: list[int]) -> int:
    """Index of the highest tier whose requirement ``totals`` meet."""
    for k in range(len(plan.names) - 1, 0, -1):
        if meets(plan.options[k], totals):
            return k
    return 0


# -- calendar helpers -----------------------------------------------------------


@functools.lru_cache(maxsize=65536)
def start_us(day: date, tz: tzinfo) -> int:
    """Micros UTC of the first instant of local ``day``."""
    return to_micros(start_of_day(day, tz=tz))


@functools.lru_cache(maxsize=8192)
def local_day(us: int, tz: tzinfo) -> date:
    """The local date of micros ``us`` in ``tz``."""
    return (EPOCH + timedelta(microseconds=us)).astimezone(tz).date()


def calendar_window(day: date) -> tuple[date, date]:
    """``[Jan 1, next Jan 1)`` around ``day``."""
    return date(day.year, 1, 1), date(day.year + 1, 1, 1)


def _anniversary(anchor: date, year: int) -> date:
    """``anchor``'s month and day in ``year``, Feb 29 becoming Feb 28 (as the calendar's)."""
    if anchor.month == 2 and anchor.day == 29 and not isleap(year):
        return date(year, 2, 28)
    return anchor.replace(year=year)


def membership_year(day: date, anchor: date) -> tuple[date, date]:
    """:func:`~loyaltycore.calendar.anniversary_window` of ``day`` from ``anchor``.

    The same dates by plain date arithmetic: an evaluation asks for them at
    every order, for every member's own anchor.
    """
    year = day.year if day >= _anniversary(anchor, day.year) else day.year - 1
    return _anniversary(anchor, year), _anniversary(anchor, year + 1)


@functools.lru_cache(maxsize=16384)
def _trailing(day: date, months: int) -> tuple[date, date]:
    """:func:`~loyaltycore.calendar.rolling_window` of ``months``, cached by day.

    The same window for every member (it does not depend on the anchor),
    asked at every order of the day.
    """
    return rolling_window(day, months=months)


def window_of(kind: str, day: date, anchor: date, months: int) -> tuple[date, date]:
    """The qualification window containing ``day`` (rolling: trailing, ``day`` included)."""
    if kind == "calendar":
        return calendar_window(day)
    if kind == "anniversary":
        return membership_year(day, anchor)
    if kind == "rolling":
        return _trailing(day, months)
    return date.min, date.max


def fmt_date(day: date) -> str:
    """``31 Dec 2025`` (locale independent)."""
    return f"{day.day} {_MONTHS[day.month - 1]} {day.year}"


def fmt_amount(value: Decimal) -> str:
    """``5,000`` or ``799.50``."""
    if value == value.to_integral_value(context=DECIMAL_CONTEXT):
        return f"{int(value):,}"
    return f"{value:,}"


def window_label(kind: str, start: date, end: date) -> str:
    """How a reason names a window."""
    if kind == "calendar":
        return str(start.year)
    if kind == "lifetime":
        return "total activity"
    last = end - ONE_DAY
    return f"{fmt_date(start)} - {fmt_date(last)}"

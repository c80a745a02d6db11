"""Calendar periods of transaction columns, for the KPI calculators.

Periods are numbered on the local calendar of the program zone: days since
1970-01-01, ISO weeks (Monday first), months, quarters and years since 1970.
Each number maps back to the local date the period starts on.
"""

from __future__ import annotations

from datetime import tzinfo
from typing import Any, Final, Literal, TypeAlias

import numpy as np
import numpy.typing as npt

from loyaltycore.calendar import local_days, zone
from loyaltycore.errors import EmptyData, InvalidArgument
from loyaltycore.transactions import _input as tx
from loyaltycore.transactions._summary import blocks as blocks
from loyaltycore.transactions._summary import extremes

I64 = npt.NDArray[np.int64]

Frequency: TypeAlias = Literal["day", "week", "month", "quarter", "year"]
FREQUENCIES: Final = ("day", "week", "month", "quarter", "year")
_MONTHS: Final = {"month": 1, "quarter": 3, "year": 12}


def check_period(period: object) -> Frequency:
    """Return ``period`` if it names a calendar period."""
    for name in FREQUENCIES:
        if period == name:
            return name
    raise InvalidArgument(
        f"period={period!r} must be one of {list(FREQUENCIES)}", field="period", value=period
    )


def _months(days: I64) -> I64:
    """Months since 1970-01 of each day: a table over the days' range, then one gather."""
    if len(days) == 0:
        return days.astype(np.int64, copy=True)
    lo = int(days.min())
    span = np.arange(lo, int(days.max()) + 1, dtype=np.int64)
    table = span.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)
    out = np.empty(len(days), dtype=np.int64)
    for b in blocks(len(days)):  # cache-sized temporaries, reused by the allocator
        offset = days[b] - lo
        np.take(table, offset, out=out[b])
    return out


def period_numbers(days: I64, period: Frequency) -> I64:
    """Period number of each local day number."""
    if period == "day":
        return days.astype(np.int64, copy=True)
    if period == "week":
        return (days + 3) // 7  # day 0 (1970-01-01) is a Thursday
    months = _months(days)
    if period != "month":
        months //= _MONTHS[period]
    return months


def period_offsets(days: I64, period: Frequency) -> tuple[I64, int, int]:
    """Period numbers of local days minus the first one, that first number, and the span.

    One pass in blocks: period numbers never decrease with the day, so the
    first and last periods are those of the first and last days, and months
    come from one table over the days' range.

    >>> period_offsets(np.array([19723, 19783, 19754]), "month")
    (array([0, 2, 1]), 648, 3)
    """
    lo_day, hi_day = extremes(days)
    lo, hi = period_numbers(np.array([lo_day, hi_day], dtype=np.int64), period).tolist()
    out = np.empty(len(days), dtype=np.int64)
    if period in _MONTHS:
        table = period_numbers(np.arange(lo_day, hi_day + 1, dtype=np.int64), period)
        table -= lo
        for b in blocks(len(days)):
            offset = days[b] - lo_day
            np.take(table, offset, out=out[b])
    else:
        for b in blocks(len(days)):
            out[b] = period_numbers(days[b], period)
            out[b] -= lo
    return out, lo, hi - lo + 1


def cohort_counts(pair_codes: I64, pair_offsets: I64, n: int) -> I64:
    """Counts by (cohort, periods since) of distinct pairs sorted by code (see ``_sort``)."""
    from loyaltycore.transactions._sort import cohort_counts as counts

    return counts(pair_codes, pair_offsets, n)


def period_starts(numbers: I64, period: Frequency) -> npt.NDArray[np.datetime64]:
    """The local start date (``datetime64[D]``) of each period number."""
    if period == "day":
        return numbers.astype("datetime64[D]")
    if period == "week":
        return (numbers * 7 - 3).astype("datetime64[D]")
    months = numbers * _MONTHS[period]
    return months.astype("datetime64[M]").astype("datetime64[D]")


def _groups(customer: Any) -> I64:
    """One int64 label >= 0 per row, equal for equal ids, in id order.

    Int ids are only shifted to start at 0 (no factorisation: the pair sort
    that follows groups them); other ids get their codes.
    """
    array = tx.as_array(customer, "customer")
    if array.dtype.kind == "i" and len(array):
        lo, hi = extremes(array)
        if hi - lo < 2**62:
            shifted: I64 = np.subtract(array, lo, dtype=np.int64)  # one pass, no copy first
            return shifted
    codes, _ = tx.factorize(array, "customer")
    return codes


def events(
    customer: Any, at: Any, tz: str | tzinfo, *, as_of: object = None
) -> tuple[I64, None, I64, tzinfo]:
    """Customer labels, None, and local day numbers of transaction columns.

    The labels group rows by customer in id order (see :func:`_groups`);
    they are dense codes only for ids that are not ints. ``at`` is int64
    microseconds UTC, or datetime64 read on ``tz``'s wall clock, or aware
    datetimes. Rows after ``as_of`` (if given) are dropped.
    """
    zone_ = zone(tz)
    codes = _groups(customer)
    ids = None
    micros = tx.instants(at, "at", len(codes), tz=zone_, copy=False)  # read, never kept
    if as_of is not None:
        _, limit = tx.as_of_micros(as_of, zone_)
        if len(micros) and extremes(micros)[1] > limit:  # copies only when rows go
            keep = micros <= limit
            codes, micros = codes[keep], micros[keep]
    if len(codes) == 0:
        raise EmptyData("no transactions to measure", field="at")
    return codes, ids, local_days(micros, tz=zone_), zone_


def distinct_pairs(codes: I64, numbers: I64) -> tuple[I64, I64]:
    """Distinct (code, number) pairs, sorted by code then number (see ``_sort``)."""
    from loyaltycore.transactions._sort import distinct_pairs as pairs

    return pairs(codes, numbers)


def first_per_code(pair_codes: I64, pair_numbers: I64) -> tuple[I64, I64]:
    """Sorted pairs -> (index of each code's first pair, the code)."""
    flag = np.empty(len(pair_codes), dtype=np.bool_)
    if len(flag):
        flag[0] = True
        np.not_equal(pair_codes[1:], pair_codes[:-1], out=flag[1:])
    first = np.flatnonzero(flag)
    return first, pair_codes[first]

"""The vectorized kernel of :func:`loyaltycore.transactions.summarize`.

The rows are first regrouped into partitions of consecutive customer codes
(``_sort.by_customer``), small enough that a partition's per-customer
arrays stay in cache; each partition is then summarised on its own and the
results joined in code order, so the cost per row does not grow with the
number of customers. Within a partition, the distinct (customer code, local
day) pairs come from one in-place sort of a packed key (int32 when it
fits); per customer, the first and previous purchase days are packed into
one int64 so a single gather per row finds the rows that fall on them. Row
passes run in cache-sized blocks. Nothing depends on the order of the input
rows: sums are exact integer sums, minima and maxima are exact.

Memory beyond the log's own columns, per row: the regrouped codes,
instants and amounts (24 bytes; none with a single partition), 8 more for
local day numbers when the zone is not UTC (and their regrouped copy), and
24 for copies of codes, instants and amounts when rows after ``as_of`` or
returns have to be left out: at most 72 bytes per row, and 24 for a UTC
summary of purchases only. A partition's packed key and masks come on top.
Per-customer arrays add about 100 bytes per customer.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import tzinfo
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from loyaltycore.calendar import DAY_US, UTC, local_days
from loyaltycore.errors import InvalidColumn
from loyaltycore.progress import Progress

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]

MISSING: Final = int(np.iinfo(np.int64).min)
_UNIT_DAYS: Final = {"day": 1.0, "week": 7.0}
#: Rows per block of a row pass (1 MiB per int64 column).
BLOCK: Final = 1 << 17
#: Bits per day field in the packed (first, previous, last) day of a customer.
_DAY_BITS: Final = 21
_DAY_MASK: Final = (1 << _DAY_BITS) - 1


def blocks(n: int, start: int = 0) -> Iterator[slice]:
    """Consecutive slices of at most :data:`BLOCK` rows covering ``start..n``."""
    for lo in range(start, n, BLOCK):
        yield slice(lo, min(lo + BLOCK, n))


def extremes(values: npt.NDArray[Any]) -> tuple[int, int]:
    """``(min, max)`` of a non-empty numeric column, reading it once, a block at a time.

    >>> extremes(np.array([3, -1, 7]))
    (-1, 7)
    """
    lows, highs = [], []
    for b in blocks(len(values)):
        part = values[b]
        lows.append(part.min())
        highs.append(part.max())
    return int(min(lows)), int(max(highs))


def starts(sorted_key: I64) -> I64:
    """Indices where a run of equal values starts in a sorted array."""
    if len(sorted_key) == 0:
        return np.empty(0, dtype=np.int64)
    flag = np.empty(len(sorted_key), dtype=np.bool_)
    flag[0] = True
    np.not_equal(sorted_key[1:], sorted_key[:-1], out=flag[1:])
    return np.flatnonzero(flag).astype(np.int64, copy=False)


def sorted_unique(key: I64, *, in_place: bool = False) -> I64:
    """Distinct values of ``key``, sorted (a SIMD sort; faster than a hash)."""
    ordered = key if in_place else key.copy()
    ordered.sort()
    if len(ordered) == 0:
        return ordered
    keep = np.empty(len(ordered), dtype=np.bool_)
    keep[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=keep[1:])
    return ordered[keep]


def group_median(key: I64, span: int, counts: I64, *, in_place: bool = False) -> F64:
    """Median within groups of values packed as ``group_key * span + value``.

    ``key`` lists the groups in non-decreasing group order and ``counts[i]``
    is the number of values of the i-th group present (0 gives NaN); values
    are ``0 <= value < span``.
    """
    out = np.full(len(counts), np.nan)
    if len(key) == 0:
        return out
    ordered = key if in_place else key.copy()
    ordered.sort()
    offsets = np.concatenate(([0], np.cumsum(counts)[:-1])).astype(np.int64)
    has = counts > 0
    low = ordered[offsets[has] + (counts[has] - 1) // 2] % span
    high = ordered[offsets[has] + counts[has] // 2] % span
    out[has] = (low + high) / 2.0
    return out


def _day_pairs(c: I64, day_of: Callable[[slice], I64], span: int) -> npt.NDArray[Any]:
    """Sorted distinct ``code * span + day`` of the rows (int32 when it fits)."""
    fits = (int(c.max()) + 1) * span < np.iinfo(np.int32).max
    key = np.empty(len(c), dtype=np.int32 if fits else np.int64)
    for b in blocks(len(c)):
        key[b] = c[b] * span + day_of(b)
    return sorted_unique(key, in_place=True)  # type: ignore[arg-type]


def _customer_starts_and_gaps(pairs: npt.NDArray[Any], span: int) -> tuple[I64, npt.NDArray[Any]]:
    """Where each customer's pairs start, and ``code * span + gap`` of later days."""
    start = np.empty(len(pairs), dtype=np.bool_)
    start[0] = True
    for b in blocks(len(pairs), 1):
        before = slice(b.start - 1, b.stop - 1)
        np.not_equal(pairs[b] // span, pairs[before] // span, out=start[b])
    cs = np.flatnonzero(start).astype(np.int64)
    gaps = np.empty(len(pairs) - len(cs), dtype=pairs.dtype)
    cursor = 0
    for b in blocks(len(pairs), 1):
        before = slice(b.start - 1, b.stop - 1)
        value = pairs[b] // span
        value *= span
        value += pairs[b]
        value -= pairs[before]  # code * span + the day gap
        kept = value[~start[b]]
        gaps[cursor : cursor + len(kept)] = kept
        cursor += len(kept)
    return cs, gaps


def _row_pass(
    c: I64, t: I64, a: I64, day_of: Callable[[slice], I64], n: int, table: I64
) -> dict[str, I64]:
    """Per-code first/last instants, exact spend, first-day spend, previous instant.

    ``table[code]`` packs the customer's first purchase day (high bits) and
    previous purchase day (low :data:`_DAY_BITS` bits).
    """
    first = np.full(n, np.iinfo(np.int64).max, dtype=np.int64)
    last = np.full(n, MISSING, dtype=np.int64)
    previous = np.full(n, MISSING, dtype=np.int64)
    gross = np.zeros(n, dtype=np.int64)
    first_value = np.zeros(n, dtype=np.int64)
    for b in blocks(len(c)):
        cb, tb, ab, db = c[b], t[b], a[b], day_of(b)
        np.add.at(gross, cb, ab)
        np.minimum.at(first, cb, tb)
        np.maximum.at(last, cb, tb)
        packed = table[cb]
        on = (packed >> _DAY_BITS) == db
        np.add.at(first_value, cb[on], ab[on])
        packed &= _DAY_MASK
        on = packed == db
        np.maximum.at(previous, cb[on], tb[on])
    return {
        "first": first,
        "last": last,
        "previous": previous,
        "gross": gross,
        "first_value": first_value,
    }


#: How many times :func:`summary_columns` reports progress.
SUMMARY_STEPS: Final = 6


def summary_columns(
    codes: I64,
    at: I64,
    amount: I64,
    *,
    is_return: npt.NDArray[np.bool_] | None,
    category: I64 | None,
    n_categories: int,
    as_of_us: int,
    tz: tzinfo,
    unit: str,
    exponent: int,
    progress: Progress | None = None,
) -> dict[str, npt.NDArray[Any]]:
    """Per-customer columns (``code`` plus the Summary fields except the id).

    ``progress`` hears ``(done, SUMMARY_STEPS, "summarize")`` after each of
    the passes over the rows; raising from it stops the work there.
    """

    def step(done: int) -> None:
        if progress is not None:
            progress(done, SUMMARY_STEPS, "summarize")

    if len(at) == 0:
        step(SUMMARY_STEPS)
        return _empty()
    keep: npt.NDArray[np.bool_] | None = None
    purchase: npt.NDArray[np.bool_] | None = None
    first, last = extremes(at)
    if is_return is not None or last > as_of_us:
        keep = at <= as_of_us
        purchase = keep if is_return is None else keep & ~is_return
    if purchase is None or purchase.all():
        c, t, a = codes, at, amount
    else:
        c, t, a = codes[purchase], at[purchase], amount[purchase]
        if len(c) == 0:
            step(SUMMARY_STEPS)
            return _empty()
        first, last = extremes(t)
    step(1)
    local: I64 | None = None
    if tz is UTC:
        day_lo = first // DAY_US
        span = last // DAY_US - day_lo + 1
    else:
        local = local_days(t, tz=tz)
        day_lo, day_hi = extremes(local)
        local -= day_lo
        span = day_hi - day_lo + 1
    if span >= _DAY_MASK:
        raise InvalidColumn(f"at spans {span} days; at most {_DAY_MASK - 1}", field="at")
    step(2)
    facts = _partitioned_facts(c, t, a, local, day_lo, span, step=step)
    code, frequency = facts["code"], facts["frequency"]
    first_day, last_day, gross = facts["first_day"], facts["last_day"], facts["gross"]
    with np.errstate(invalid="ignore", divide="ignore"):
        monetary = np.where(frequency > 0, (gross - facts["first_value"]) / frequency, 0.0)
    monetary /= 10.0**exponent
    as_of_day = int(local_days(np.array([as_of_us], dtype=np.int64), tz=tz)[0]) - day_lo
    scale = _UNIT_DAYS[unit]
    total = gross + _returns(codes, amount, keep, is_return, code)
    step(5)
    categories = _categories(c, category, purchase, n_categories, code)
    step(SUMMARY_STEPS)
    return {
        "code": code,
        "first": facts["first"],
        "previous": facts["previous"],
        "last": facts["last"],
        "count": facts["count"],
        "frequency": frequency,
        "recency": (last_day - first_day) / scale,
        "T": (as_of_day - first_day) / scale,
        "days_since_last": (as_of_day - last_day).astype(np.float64),
        "monetary": monetary.astype(np.float64),
        "total": total.astype(np.int64),
        "aov": total / facts["count"] / 10.0**exponent,
        "median_gap": facts["median_gap"],
        "categories": categories,
    }


def _partitioned_facts(
    c: I64,
    t: I64,
    a: I64,
    local: I64 | None,
    day_lo: int,
    span: int,
    bits: int | None = None,
    step: Callable[[int], None] = lambda done: None,
) -> dict[str, npt.NDArray[Any]]:
    """:func:`_facts` of each customer partition (see ``_sort.by_customer``), joined.

    ``local`` holds the rows' local day numbers (minus ``day_lo``), or None
    for UTC days of ``t``. ``step`` hears 3 once the rows are regrouped and 4
    once every partition is summarised.
    """
    from loyaltycore.transactions._sort import PARTITION_BITS, by_customer

    columns = [t, a] if local is None else [t, a, local]
    bits = PARTITION_BITS if bits is None else bits
    bounds, base, local_codes, grouped = by_customer(c, columns, bits)
    step(3)
    parts = []
    for lo, hi, first_code in zip(bounds[:-1], bounds[1:], base, strict=True):
        if lo == hi:
            continue
        rows = slice(lo, hi)
        tp, ap = grouped[0][rows], grouped[1][rows]
        day_of = _day_reader(tp, None if local is None else grouped[2][rows], day_lo)
        facts = _facts(local_codes[rows].astype(np.int64), tp, ap, day_of, span)
        facts["code"] += int(first_code)
        parts.append(facts)
    step(4)
    if len(parts) == 1:
        return parts[0]
    return {name: np.concatenate([part[name] for part in parts]) for name in parts[0]}


def _day_reader(t: I64, local: I64 | None, day_lo: int) -> Callable[[slice], I64]:
    """Local day numbers (minus ``day_lo``) of a block of rows: ``local``, or UTC days of ``t``."""
    if local is not None:
        return local.__getitem__

    def day_of(b: slice) -> I64:
        d: I64 = t[b] // DAY_US
        d -= day_lo
        return d

    return day_of


def _facts(
    c: npt.NDArray[Any], t: I64, a: I64, day_of: Callable[[slice], I64], span: int
) -> dict[str, npt.NDArray[Any]]:
    """Per-customer facts of the rows (codes ``c``), in code order."""
    n = int(c.max()) + 1
    pairs = _day_pairs(c, day_of, span)
    cs, gaps = _customer_starts_and_gaps(pairs, span)
    ce = np.append(cs[1:], len(pairs))
    code = (pairs[cs] // span).astype(np.int64)
    frequency = ce - cs - 1
    first_day = pairs[cs] - code * span
    last_day = pairs[ce - 1] - code * span
    previous_day = np.where(frequency > 0, pairs[np.maximum(ce - 2, 0)] - code * span, _DAY_MASK)
    del pairs
    median_gap = group_median(gaps, span, frequency, in_place=True)
    del gaps
    table = np.full(n, -1, dtype=np.int64)
    table[code] = (first_day << _DAY_BITS) | previous_day
    per_code = _row_pass(c, t, a, day_of, n, table)
    del table
    return {
        "code": code,
        "frequency": frequency.astype(np.int64),
        "first_day": first_day.astype(np.int64),
        "last_day": last_day.astype(np.int64),
        "median_gap": median_gap,
        "count": np.bincount(c, minlength=n)[code].astype(np.int64),
        **{name: column[code] for name, column in per_code.items()},
    }


def _returns(
    codes: I64,
    amount: I64,
    keep: npt.NDArray[np.bool_] | None,
    is_return: npt.NDArray[np.bool_] | None,
    code: I64,
) -> I64:
    """Sum of returned amounts (negative) per summary row."""
    if is_return is None or keep is None:
        return np.zeros(len(code), dtype=np.int64)
    rows = keep & is_return
    if not rows.any():
        return np.zeros(len(code), dtype=np.int64)
    per_code = np.zeros(max(int(codes.max()), int(code.max())) + 1, dtype=np.int64)
    np.add.at(per_code, codes[rows], amount[rows])
    result: I64 = per_code[code]
    return result


def _categories(
    c: I64,
    category: I64 | None,
    purchase: npt.NDArray[np.bool_] | None,
    n_categories: int,
    code: I64,
) -> I64:
    """Distinct categories bought per summary row (0 without categories; every row
    a purchase when ``purchase`` is None)."""
    if category is None or n_categories == 0:
        return np.zeros(len(code), dtype=np.int64)
    bought = category if purchase is None else category[purchase]
    pairs = sorted_unique(c * n_categories + bought)
    per_code = np.bincount(pairs // n_categories, minlength=int(code.max()) + 1)
    return per_code[code].astype(np.int64)


def _empty() -> dict[str, npt.NDArray[Any]]:
    ints = ("code", "first", "previous", "last", "count", "frequency", "total", "categories")
    floats = ("recency", "T", "days_since_last", "monetary", "aov", "median_gap")
    out: dict[str, npt.NDArray[Any]] = {name: np.empty(0, dtype=np.int64) for name in ints}
    out.update({name: np.empty(0, dtype=np.float64) for name in floats})
    return out

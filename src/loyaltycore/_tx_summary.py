"""The vectorized kernel of :func:`loyaltycore.transactions.summarize`.

One sort of the purchase rows by (customer code, local day) — a packed int64
key sorted with :func:`numpy.sort` when it fits, a stable argsort otherwise —
then reductions over group boundaries. Everything is per customer and never
depends on the order of the input rows.
"""

from __future__ import annotations

from datetime import tzinfo
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from loyaltycore.calendar import local_days

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]

MISSING: Final = int(np.iinfo(np.int64).min)
_UNIT_DAYS: Final = {"day": 1.0, "week": 7.0}


def sort_by_key(key: I64, key_max: int) -> tuple[I64, I64]:
    """Stable order of non-negative ``key`` and the sorted keys.

    Packs the row number into the low bits so a plain (SIMD) sort of one
    int64 array gives a stable argsort; falls back to a stable argsort when
    the packed key would not fit 63 bits.
    """
    n = len(key)
    row_bits = max(1, (n - 1).bit_length())
    if max(1, key_max).bit_length() + row_bits <= 63:
        packed = (key << row_bits) | np.arange(n, dtype=np.int64)
        packed.sort()
        order = packed & ((1 << row_bits) - 1)
        packed >>= row_bits
        return order, packed
    order = np.argsort(key, kind="stable").astype(np.int64, copy=False)
    return order, key[order]


def starts(sorted_key: I64) -> I64:
    """Indices where a run of equal values starts in a sorted array."""
    if len(sorted_key) == 0:
        return np.empty(0, dtype=np.int64)
    flag = np.empty(len(sorted_key), dtype=np.bool_)
    flag[0] = True
    np.not_equal(sorted_key[1:], sorted_key[:-1], out=flag[1:])
    return np.flatnonzero(flag).astype(np.int64, copy=False)


def sorted_unique(key: I64) -> I64:
    """Distinct values of ``key``, sorted (a SIMD sort; faster than a hash)."""
    ordered = np.sort(key)
    if len(ordered) == 0:
        return ordered
    keep = np.empty(len(ordered), dtype=np.bool_)
    keep[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=keep[1:])
    return ordered[keep]


def group_median(key: I64, span: int, counts: I64) -> F64:
    """Median within groups of values packed as ``group_key * span + value``.

    ``key`` lists the groups in non-decreasing group order and ``counts[i]``
    is the number of values of the i-th group present (0 gives NaN); values
    are ``0 <= value < span``.
    """
    out = np.full(len(counts), np.nan)
    if len(key) == 0:
        return out
    ordered = np.sort(key) % span
    offsets = np.concatenate(([0], np.cumsum(counts)[:-1])).astype(np.int64)
    has = counts > 0
    low = offsets[has] + (counts[has] - 1) // 2
    high = offsets[has] + counts[has] // 2
    out[has] = (ordered[low] + ordered[high]) / 2.0
    return out


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
) -> dict[str, npt.NDArray[Any]]:
    """Per-customer columns (``code`` plus the Summary fields except the id)."""
    keep = at <= as_of_us
    purchase = keep if is_return is None else keep & ~is_return
    if purchase.all():
        c, t, a = codes, at, amount
    else:
        c, t, a = codes[purchase], at[purchase], amount[purchase]
    if len(c) == 0:
        return _empty()
    days = local_days(t, tz)
    day_lo = int(days.min())
    day_span = int(days.max()) - day_lo + 1
    n_codes = int(c.max()) + 1
    order, key = sort_by_key(c * day_span + (days - day_lo), n_codes * day_span)
    g = starts(key)
    t_sorted = t[order]
    g_min = np.minimum.reduceat(t_sorted, g)
    g_max = np.maximum.reduceat(t_sorted, g)
    g_sum = np.add.reduceat(a[order], g)
    del t_sorted
    g_count = np.diff(np.append(g, len(key)))
    g_key = key[g]
    del key, order
    g_code = g_key // day_span
    g_day = g_key % day_span + day_lo
    cs = starts(g_code)
    ce = np.append(cs[1:], len(g_code))
    n_days = ce - cs
    frequency = n_days - 1
    first_day, last_day = g_day[cs], g_day[ce - 1]
    first_value = g_sum[cs]
    gross = np.add.reduceat(g_sum, cs)
    with np.errstate(invalid="ignore", divide="ignore"):
        monetary = np.where(frequency > 0, (gross - first_value) / frequency, 0.0)
    monetary /= 10.0**exponent
    previous = np.where(n_days > 1, g_max[np.maximum(ce - 2, 0)], MISSING)
    code = g_code[cs]
    as_of_day = int(local_days(np.array([as_of_us], dtype=np.int64), tz)[0])
    scale = _UNIT_DAYS[unit]
    same = g_code[1:] == g_code[:-1]
    gap_key = (g_key[1:] - g_key[:-1])[same]  # the day gap: same customer, same span
    gap_key += g_code[1:][same] * day_span
    median_gap = group_median(gap_key, day_span, frequency)
    count = np.add.reduceat(g_count, cs)
    total = gross + _returns(codes, amount, keep, is_return, code)
    return {
        "code": code,
        "first": g_min[cs],
        "previous": previous.astype(np.int64),
        "last": g_max[ce - 1],
        "count": count.astype(np.int64),
        "frequency": frequency.astype(np.int64),
        "recency": (last_day - first_day) / scale,
        "T": (as_of_day - first_day) / scale,
        "days_since_last": (as_of_day - last_day).astype(np.float64),
        "monetary": monetary.astype(np.float64),
        "total": total.astype(np.int64),
        "aov": total / count / 10.0**exponent,
        "median_gap": median_gap,
        "categories": _categories(c, category, purchase, n_categories, code),
    }


def _returns(
    codes: I64,
    amount: I64,
    keep: npt.NDArray[np.bool_],
    is_return: npt.NDArray[np.bool_] | None,
    code: I64,
) -> I64:
    """Sum of returned amounts (negative) per summary row."""
    if is_return is None:
        return np.zeros(len(code), dtype=np.int64)
    rows = keep & is_return
    if not rows.any():
        return np.zeros(len(code), dtype=np.int64)
    per_code = np.bincount(codes[rows], weights=amount[rows], minlength=int(code.max()) + 1)
    limit = len(per_code)
    inside = code < limit
    out = np.zeros(len(code), dtype=np.int64)
    out[inside] = np.rint(per_code[code[inside]]).astype(np.int64)
    return out


def _categories(
    c: I64,
    category: I64 | None,
    purchase: npt.NDArray[np.bool_],
    n_categories: int,
    code: I64,
) -> I64:
    """Distinct categories bought per summary row (0 without categories)."""
    if category is None or n_categories == 0:
        return np.zeros(len(code), dtype=np.int64)
    pairs = sorted_unique(c * n_categories + category[purchase])
    per_code = np.bincount(pairs // n_categories, minlength=int(code.max()) + 1)
    return per_code[code].astype(np.int64)


def _empty() -> dict[str, npt.NDArray[Any]]:
    ints = ("code", "first", "previous", "last", "count", "frequency", "total", "categories")
    floats = ("recency", "T", "days_since_last", "monetary", "aov", "median_gap")
    out: dict[str, npt.NDArray[Any]] = {name: np.empty(0, dtype=np.int64) for name in ints}
    out.update({name: np.empty(0, dtype=np.float64) for name in floats})
    return out

"""Sorting and counting tricks of the transaction kernels, in one place.

Two layouts, each chosen only when it fits, with a plain fallback:

**Row-carrying sort** (:func:`sparse_codes`). Sparse int64 ids (12-digit card
numbers) are factorised by one *value* sort of a packed uint64 key instead
of an ``argsort`` (numpy's value sort of 64-bit ints is vectorized and
several times faster than its argsort)::

    key = (id - min_id) << row_bits | row        # row_bits = bits of n - 1

Sorted, the high bits are the ids in order and the low bits the row each
came from; ties keep row order. Run starts give the distinct ids, a cumsum
the code of each sorted row, and one scatter puts codes back in row order.
It fits when ``bits(max_id - min_id) + row_bits <= 64`` (12-digit ids up to
16.7 million rows); otherwise :func:`numpy.unique` is used. Memory: the key
(8 bytes per row) and the codes (8): 16 bytes per row at the peak, besides
the input; the rest runs in cache-sized blocks.

**Presence table** (:func:`distinct_pairs`). Distinct (customer, period)
pairs are the set cells of a ``customers x periods`` bool table: one
scatter and one scan, no sort, when the table has at most
:data:`PRESENCE_CELLS_PER_ROW` cells per row (1 byte per cell, so at most 4
bytes per row); otherwise the packed key ``code * span + period`` is sorted
(int32 when it fits). The cells come out in (customer, period) order either
way, so counts by (cohort, offset) are one :func:`numpy.bincount` of
``cohort * periods + offset``, taken a block of pairs at a time with the
current customer's cohort carried from one block to the next
(:func:`cohort_counts`), so no column of cohorts is built.

**Customer partitions** (:func:`by_customer`). Per-customer arrays of a
million customers (8 MiB each) leave the cache, and every row then costs a
cache miss per array it updates. The rows are regrouped instead into
partitions of :data:`PARTITION_CODES` consecutive codes (whose arrays fit
a core's 2 MiB L2 cache), a block at a time: a radix ``argsort`` of the
block's 16-bit partition numbers, then one slice copy per partition into
its place in the output. Within a partition rows keep their order, so a
kernel run on each partition gives the same results as on the whole.
Memory: a copy of each column moved (8 bytes a row each) and of the codes
(2 bytes a row: uint16 partition-local codes).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from loyaltycore.transactions._summary import BLOCK, blocks, extremes

I64 = npt.NDArray[np.int64]

#: A presence table may use up to this many one-byte cells per input row.
PRESENCE_CELLS_PER_ROW: Final = 4
#: log2 of the codes per partition of :func:`by_customer`.
PARTITION_BITS: Final = 15
#: Codes per partition: their per-customer arrays (about 60 bytes a code) fit in L2.
PARTITION_CODES: Final = 1 << PARTITION_BITS


def sparse_codes(ids: I64, bounds: tuple[int, int] | None = None) -> tuple[I64, I64] | None:
    """Codes (in sorted id order) and the distinct ids, by one row-carrying sort.

    None when the packed key does not fit in 64 bits. ``bounds`` are the
    ids' (min, max) when the caller knows them.

    >>> codes, uniques = sparse_codes(np.array([500_000_000_007, 42, 500_000_000_007]))
    >>> codes.tolist(), uniques.tolist()
    ([1, 0, 1], [42, 500000000007])
    """
    n = len(ids)
    lo, hi = extremes(ids) if bounds is None else bounds
    span = hi - lo
    row_bits = max((n - 1).bit_length(), 1)
    if span.bit_length() + row_bits > 64:
        return None
    key = np.empty(n, dtype=np.uint64)
    base, shift = np.uint64(lo % 2**64), np.uint64(row_bits)
    for b in blocks(n):  # built a cache-sized block at a time: one pass over memory
        part = key[b]
        np.subtract(ids[b].view(np.uint64), base, out=part)  # two's complement: id - lo
        part <<= shift
        part |= np.arange(b.start, b.stop, dtype=np.uint64)
    key.sort()
    codes = np.empty(n, dtype=np.int64)
    distinct: list[npt.NDArray[np.uint64]] = []
    mask = np.uint64((1 << row_bits) - 1)
    last_id, last_code = None, -1
    for b in blocks(n):  # run numbers of the sorted ids, scattered back to their rows
        rows = (key[b] & mask).view(np.int64)
        sorted_ids = key[b] >> shift
        new = np.empty(len(rows), dtype=np.bool_)
        new[0] = last_id is None or sorted_ids[0] != last_id
        np.not_equal(sorted_ids[1:], sorted_ids[:-1], out=new[1:])
        run = np.cumsum(new, dtype=np.int64)
        run += last_code
        codes[rows] = run
        distinct.append(sorted_ids[new])
        last_id, last_code = sorted_ids[-1], int(run[-1])
    del key
    uniques = np.concatenate(distinct).astype(np.int64)
    uniques += lo
    return codes, uniques


def _cells(codes: I64, numbers: I64, span: int, lo: int) -> I64:
    cell = codes * span
    cell += numbers
    cell -= lo
    return cell


def distinct_pairs(codes: I64, numbers: I64) -> tuple[I64, I64]:
    """Distinct (code, number) pairs, sorted by code then number.

    Codes are any int64 labels >= 0 (sparse ids shifted to 0 will do): when
    they are too sparse for a presence table, ``code * span + number`` is
    sorted instead, which groups them without factorising them first.

    >>> distinct_pairs(np.array([1, 0, 1, 1]), np.array([5, 7, 5, 3]))
    (array([0, 1, 1]), array([7, 3, 5]))
    """
    lo, hi = extremes(numbers)
    span = hi - lo + 1
    cells = (int(codes.max()) + 1) * span
    if cells >= 2**63:  # labels too sparse to pack with the numbers: make them dense
        dense = sparse_codes(codes)
        codes = dense[0] if dense is not None else np.unique(codes, return_inverse=True)[1]
        cells = (int(codes.max()) + 1) * span
    n = len(codes)
    if cells <= PRESENCE_CELLS_PER_ROW * n:
        present = np.zeros(cells, dtype=np.bool_)
        for b in blocks(n):
            present[_cells(codes[b], numbers[b], span, lo)] = True
        found: I64 = np.flatnonzero(present)  # intp: int64 on 64-bit platforms
        return _split(found, span, lo, len(found))
    packed = np.empty(n, dtype=np.int32 if cells < np.iinfo(np.int32).max else np.int64)
    for b in blocks(n):  # int32 when it fits: half the bytes to sort
        packed[b] = _cells(codes[b], numbers[b], span, lo)
    packed.sort()
    kept = 0
    for b in blocks(n):  # the distinct keys, moved to the front a block at a time
        run = packed[b]
        keep = np.empty(len(run), dtype=np.bool_)
        keep[0] = kept == 0 or run[0] != packed[kept - 1]
        np.not_equal(run[1:], run[:-1], out=keep[1:])
        distinct = run[keep]
        packed[kept : kept + len(distinct)] = distinct
        kept += len(distinct)
    return _split(packed, span, lo, kept)


def _split(cells: npt.NDArray[Any], span: int, lo: int, m: int) -> tuple[I64, I64]:
    """``divmod(cells[:m], span)`` with ``lo`` added to the remainders, in blocks.

    A floor division by a scalar is several times faster than ``divmod``.
    """
    pair_codes = np.empty(m, dtype=np.int64)
    offsets = np.empty(m, dtype=np.int64)
    for b in blocks(m):
        q = pair_codes[b]
        np.floor_divide(cells[b], span, out=q)
        r = offsets[b]
        np.multiply(q, -span, out=r)
        r += cells[b]
        r += lo
    return pair_codes, offsets


def cohort_counts(pair_codes: I64, offsets: I64, n: int, block: int = BLOCK) -> I64:
    """``counts[c, k]``: customers with cohort ``c`` present at offset ``c + k``.

    The pairs are distinct and sorted by code, then offset (``0 <= offset <
    n``); a customer's cohort is the offset of its first pair.

    >>> cohort_counts(np.array([0, 0, 1, 1, 1]), np.array([0, 2, 1, 2, 3]), 4).tolist()
    [[1, 0, 1, 0], [1, 1, 1, 0], [0, 0, 0, 0], [0, 0, 0, 0]]
    """
    flat = np.zeros(n * n, dtype=np.int64)
    last_code, last_cohort = -1, 0
    for lo in range(0, len(pair_codes), block):
        cb, ob = pair_codes[lo : lo + block], offsets[lo : lo + block]
        new = np.empty(len(cb), dtype=np.bool_)
        new[0] = cb[0] != last_code
        np.not_equal(cb[1:], cb[:-1], out=new[1:])
        starts = np.flatnonzero(new)
        runs = np.diff(starts, prepend=0, append=len(cb))  # the carried customer's run first
        cohort = np.repeat(np.append(last_cohort, ob[starts]), runs)
        cell = cohort * n
        cell += ob
        cell -= cohort
        flat += np.bincount(cell, minlength=n * n)
        last_code, last_cohort = int(cb[-1]), int(cohort[-1])
    counts: I64 = flat.reshape(n, n)
    return counts


def by_customer(
    codes: I64, columns: Sequence[npt.NDArray[Any]], bits: int = PARTITION_BITS
) -> tuple[list[int], list[int], npt.NDArray[Any], list[npt.NDArray[Any]]]:
    """Rows regrouped into partitions of ``2**bits`` consecutive codes (codes >= 0).

    Returns ``(bounds, bases, local, moved)``: partition ``i`` is rows
    ``bounds[i]:bounds[i + 1]`` of ``local`` (codes minus ``bases[i]``, uint16
    when ``bits <= 16``) and of each ``moved`` column; rows keep their order
    within a partition. With a single partition, the inputs come back
    unchanged.

    >>> bounds, bases, local, (moved,) = by_customer(
    ...     np.array([PARTITION_CODES + 1, 2, PARTITION_CODES, 3]), [np.array([10, 20, 30, 40])])
    >>> bounds, bases, local.tolist(), moved.tolist()
    ([0, 2, 4], [0, 32768], [2, 3, 1, 0], [20, 40, 10, 30])
    """
    n = len(codes)
    parts = (int(codes.max()) >> bits) + 1 if n else 1
    if parts == 1 or parts > 1 << 16:
        return [0, n], [0], codes, list(columns)
    sizes = np.zeros(parts, dtype=np.int64)
    for b in blocks(n):
        sizes += np.bincount(codes[b] >> bits, minlength=parts)
    bounds = [0, *np.cumsum(sizes).tolist()]
    cursor = bounds[:-1]
    local = np.empty(n, dtype=np.uint16 if bits <= 16 else np.int64)  # fewer bytes to move
    moved = [np.empty(n, dtype=column.dtype) for column in columns]
    step = max(1 << 16, parts << 11)  # in L2 (512 KiB a column); ~2,000 rows a partition
    small = np.uint8 if parts <= 1 << 8 else np.uint16
    for lo in range(0, n, step):
        b = slice(lo, min(lo + step, n))
        part = (codes[b] >> bits).astype(small)
        order = np.argsort(part, kind="stable")  # a radix sort of 8- or 16-bit keys
        sources = [(codes[b] & ((1 << bits) - 1))[order]]
        sources += [column[b][order] for column in columns]
        start = 0
        for p, count in enumerate(np.bincount(part, minlength=parts).tolist()):
            if count:
                at = cursor[p]
                for source, target in zip(sources, [local, *moved], strict=True):
                    target[at : at + count] = source[start : start + count]
                cursor[p] = at + count
                start += count
    return bounds, [p << bits for p in range(parts)], local, moved

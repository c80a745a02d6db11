"""Vectorized limits: per-member, per-period caps carried forward exactly.

Rows are one rule's candidate rows, sorted in (member, at, id) order and cut
into segments of equal (member, period). Within a segment a rule fires on
the rows it may fire on (``open``: no higher-priority rule of its group took
the event) until its times cap or points cap is reached; from then on it is
limited out. Because "fired" is always a prefix of the open rows of a
segment, cumulative sums give the same answers as the sequential loop.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from loyaltycore.rules._engine import FIRED, LIMIT_POINTS, LIMIT_TIMES, TRUNCATED

I64 = npt.NDArray[np.int64]
B = npt.NDArray[np.bool_]

BIG = np.int64(2**62)


class Capped(NamedTuple):
    """Result of :func:`apply`: per row, the amount and the outcome code."""

    amount: I64
    code: npt.NDArray[np.int8]
    fired: B


def segment_starts(member: I64, period: I64) -> I64:
    """Start position of each row's segment (rows already sorted)."""
    n = member.size
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    new = np.empty(n, dtype=np.bool_)
    new[0] = True
    new[1:] = (member[1:] != member[:-1]) | (period[1:] != period[:-1])
    heads = np.flatnonzero(new)
    starts: I64 = heads[np.cumsum(new) - 1].astype(np.int64)
    return starts


def _exclusive_cumsum(values: I64, start: I64) -> I64:
    """Sum of ``values`` before each row within its segment."""
    total = np.cumsum(values)
    before = total - values
    return before - before[start]


def apply(
    raw: I64,
    open_: B,
    start: I64,
    init_times: I64,
    init_points: I64,
    times_cap: int | None,
    points_cap: int | None,
) -> Capped:
    """Apply a times and/or points cap to sorted candidate rows.

    Args:
        raw: the award before limits on each row (positive).
        open_: whether the rule may fire on the row (not taken by its group).
        start: each row's segment start (:func:`segment_starts`).
        init_times: counter of times already used, per row's segment.
        init_points: counter of points already used, per row's segment.
        times_cap: the times limit, or None.
        points_cap: the points limit, or None.

    Returns:
        The capped amount, the outcome code (``FIRED``, ``TRUNCATED``,
        ``LIMIT_TIMES``, ``LIMIT_POINTS``) and whether the rule fires, per
        row (rows not open get their limit code, or ``FIRED`` meaning "not
        limited").
    """
    n = raw.size
    tcap = BIG if times_cap is None else np.int64(times_cap)
    pcap = BIG if points_cap is None else np.int64(points_cap)
    open64 = open_.astype(np.int64)
    rank = _exclusive_cumsum(open64, start)
    spent = _exclusive_cumsum(raw * open64, start)
    ok = (init_times + rank < tcap) & (init_points + spent < pcap)
    # first open row of each segment that fails: everything after is limited
    bad = (~ok & open_).astype(np.int64)
    bad_before = _exclusive_cumsum(bad, start)
    clear = bad_before == 0
    # opens before the first failure fired; counters grow only with them
    fired_rank = np.where(clear, rank, 0)
    fired_spent = np.where(clear, spent, 0)
    if n and not clear.all():
        first_fail_rank, first_fail_spent = _at_first_failure(rank, spent, bad, start)
        fired_rank = np.where(clear, rank, first_fail_rank)
        fired_spent = np.where(clear, spent, first_fail_spent)
    used_times = init_times + fired_rank
    used_points = np.minimum(init_points + fired_spent, pcap)
    limited_times = used_times >= tcap
    limited_points = used_points >= pcap
    remaining = pcap - used_points
    amount = np.minimum(raw, remaining)
    code = np.full(n, FIRED, dtype=np.int8)
    code[amount < raw] = TRUNCATED
    code[limited_points] = LIMIT_POINTS
    code[limited_times] = LIMIT_TIMES
    limited = limited_times | limited_points
    amount = np.where(limited, 0, amount)
    return Capped(amount, code, open_ & ~limited)


def _at_first_failure(rank: I64, spent: I64, bad: I64, start: I64) -> tuple[I64, I64]:
    """Per row, the open-rank and spent sum at its segment's first failing row."""
    n = rank.size
    positions = np.arange(n, dtype=np.int64)
    first = np.where(bad > 0, positions, n)
    # minimum failing position per segment, broadcast back to rows
    seg_ids = np.cumsum(start == positions) - 1
    nseg = int(seg_ids[-1]) + 1
    first_per_seg = np.full(nseg, n, dtype=np.int64)
    np.minimum.at(first_per_seg, seg_ids, first)
    where = first_per_seg[seg_ids]
    safe = np.minimum(where, n - 1)
    return rank[safe], spent[safe]

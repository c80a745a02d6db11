"""The two lifecycle engines: one member in plain Python, many in numpy.

Both engines take the same inputs in whole local days and apply the same
rules, in this order:

1. no purchase: prospect;
2. the decline level from the policy (0 none, 1 at risk, 2 dormant,
   3 churned) wins when above 0;
3. a reactivating purchase (the member was dormant or churned on the day
   before the last purchase) less than ``new_days`` ago: reactivated;
4. a first purchase less than ``new_days`` ago: new;
5. otherwise active.

Stage codes are the values of :class:`loyaltycore.lifecycle.Stage`.
"""

from __future__ import annotations

import math
from typing import Any, Final

import attrs
import numpy as np
import numpy.typing as npt

PROSPECT: Final = 0
NEW: Final = 1
ACTIVE: Final = 2
AT_RISK: Final = 3
DORMANT: Final = 4
CHURNED: Final = 5
REACTIVATED: Final = 6

Int = npt.NDArray[np.int64]
Float = npt.NDArray[np.float64]
Codes = npt.NDArray[np.int8]


@attrs.frozen
class Row:
    """One member's inputs in days (``gap`` is 0 without a previous purchase)."""

    bought: bool
    since_first: int
    since_last: int
    gap: int
    frequency: int = 0
    median_gap: float = math.nan
    median_before: float = math.nan
    p_now: float = math.nan
    p_before: float = math.nan


@attrs.frozen
class Rows:
    """Many members' inputs in days, one array per field."""

    bought: npt.NDArray[np.bool_]
    since_first: Int
    since_last: Int
    gap: Int
    frequency: Int | None = None
    median_gap: Float | None = None
    median_before: Float | None = None
    p_now: Float | None = None
    p_before: Float | None = None


# -- thresholds per policy kind ----------------------------------------------


def absolute_scalar(t: tuple[int, int, int], row: Row) -> tuple[int, bool]:
    """Decline level and reactivation flag under absolute day thresholds."""
    d = row.since_last
    level = (d >= t[0]) + (d >= t[1]) + (d >= t[2])
    return level, row.gap - 1 >= t[1]


def _count_at_least(values: npt.NDArray[Any], limits: tuple[Any, Any, Any]) -> Codes:
    """How many of the three ``limits`` each value reaches (int8, buffers reused)."""
    level = np.zeros(values.shape, dtype=np.int8)
    hit = np.empty(values.shape, dtype=np.bool_)
    for limit in limits:
        np.greater_equal(values, limit, out=hit)
        level += hit.view(np.int8)
    return level


def absolute_vector(t: tuple[int, int, int], rows: Rows) -> tuple[Codes, npt.NDArray[np.bool_]]:
    """Vectorized :func:`absolute_scalar`."""
    level = _count_at_least(rows.since_last, t)
    return level, rows.gap > t[1]


def cycle_scalar(m: tuple[float, float, float], population: float, row: Row) -> tuple[int, bool]:
    """Decline level and reactivation flag under multiples of the member's cycle.

    The member is at risk when ``since_last / cycle >= m[0]`` and so on (a
    division, so one column pass serves all three thresholds); the last
    purchase reactivates when ``(gap - 1) / cycle_before >= m[1]``.
    """
    cycle = row.median_gap if row.frequency >= 2 else population
    ratio = row.since_last / cycle
    level = (ratio >= m[0]) + (ratio >= m[1]) + (ratio >= m[2])
    before = row.median_before if row.frequency >= 3 else population
    return level, (row.gap - 1) / before >= m[1]


def cycle_vector(
    m: tuple[float, float, float], population: float, rows: Rows
) -> tuple[Codes, npt.NDArray[np.bool_]]:
    """Vectorized :func:`cycle_scalar`."""
    assert rows.frequency is not None
    assert rows.median_gap is not None
    assert rows.median_before is not None
    cycle = np.where(rows.frequency >= 2, rows.median_gap, population)
    ratio = np.divide(rows.since_last, cycle, out=cycle)
    level = _count_at_least(ratio, m)
    before = np.where(rows.frequency >= 3, rows.median_before, population)
    gap = rows.gap - 1
    return level, np.divide(gap, before, out=before) >= m[1]


def alive_scalar(p: tuple[float, float, float], row: Row) -> tuple[int, bool]:
    """Decline level and reactivation flag under probability-alive thresholds."""
    level = (row.p_now < p[0]) + (row.p_now < p[1]) + (row.p_now < p[2])
    return level, row.gap > 0 and row.p_before < p[1]


def alive_vector(p: tuple[float, float, float], rows: Rows) -> tuple[Codes, npt.NDArray[np.bool_]]:
    """Vectorized :func:`alive_scalar`."""
    assert rows.p_now is not None
    assert rows.p_before is not None
    now = rows.p_now
    level = (now < p[0]).view(np.int8) + (now < p[1]).view(np.int8) + (now < p[2]).view(np.int8)
    return level, (rows.gap > 0) & (rows.p_before < p[1])


# -- combining -----------------------------------------------------------------


def combine_scalar(row: Row, level: int, react: bool, new_days: int) -> int:
    """The stage code of one member from its decline level and flags."""
    if not row.bought:
        return PROSPECT
    if level > 0:
        return AT_RISK - 1 + level
    if react and row.since_last < new_days:
        return REACTIVATED
    if row.since_first < new_days:
        return NEW
    return ACTIVE


def combine_vector(rows: Rows, level: Codes, react: npt.NDArray[np.bool_], new_days: int) -> Codes:
    """Vectorized :func:`combine_scalar`, as int8 arithmetic (no masked writes).

    Consumes ``level`` and ``react`` (they are overwritten).
    """
    new = np.less(rows.since_first, new_days).view(np.int8)
    back = np.less(rows.since_last, new_days)
    back &= react
    r = back.view(np.int8)
    # recent: REACTIVATED if r, else NEW if new, else ACTIVE
    recent = r * np.int8(REACTIVATED - ACTIVE)
    recent -= (np.int8(1) - r) * new * np.int8(ACTIVE - NEW)
    recent += np.int8(ACTIVE)
    declined = np.greater(level, 0).view(np.int8)
    level += np.int8(AT_RISK - 1)
    level -= recent
    level *= declined
    recent += level
    recent *= rows.bought.view(np.int8)
    return recent

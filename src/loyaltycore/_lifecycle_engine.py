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
from typing import Final

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


def absolute_vector(t: tuple[int, int, int], rows: Rows) -> tuple[Codes, npt.NDArray[np.bool_]]:
    """Vectorized :func:`absolute_scalar`."""
    d = rows.since_last
    level = (d >= t[0]).view(np.int8) + (d >= t[1]).view(np.int8) + (d >= t[2]).view(np.int8)
    return level, rows.gap - 1 >= t[1]


def cycle_scalar(m: tuple[float, float, float], population: float, row: Row) -> tuple[int, bool]:
    """Decline level and reactivation flag under multiples of the member's cycle."""
    cycle = row.median_gap if row.frequency >= 2 else population
    d = float(row.since_last)
    level = (d >= m[0] * cycle) + (d >= m[1] * cycle) + (d >= m[2] * cycle)
    before = row.median_before if row.frequency >= 3 else population
    return level, float(row.gap - 1) >= m[1] * before


def cycle_vector(
    m: tuple[float, float, float], population: float, rows: Rows
) -> tuple[Codes, npt.NDArray[np.bool_]]:
    """Vectorized :func:`cycle_scalar`."""
    assert rows.frequency is not None
    assert rows.median_gap is not None
    assert rows.median_before is not None
    cycle = np.where(rows.frequency >= 2, rows.median_gap, population)
    d = rows.since_last.astype(np.float64)
    level = (
        (d >= m[0] * cycle).view(np.int8)
        + (d >= m[1] * cycle).view(np.int8)
        + (d >= m[2] * cycle).view(np.int8)
    )
    before = np.where(rows.frequency >= 3, rows.median_before, population)
    return level, (rows.gap - 1).astype(np.float64) >= m[1] * before


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
    """Vectorized :func:`combine_scalar`."""
    codes = np.full(rows.bought.shape, ACTIVE, dtype=np.int8)
    codes[rows.since_first < new_days] = NEW
    codes[react & (rows.since_last < new_days)] = REACTIVATED
    declined = level > 0
    codes[declined] = level[declined] + (AT_RISK - 1)
    codes[~rows.bought] = PROSPECT
    return codes

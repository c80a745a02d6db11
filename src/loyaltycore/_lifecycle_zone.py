"""Local calendar days of UTC instants in a zone, for whole columns at once.

The same result as :func:`loyaltycore.calendar.local_days`, built for the
lifecycle hot path: the zone offset is looked up once per UTC day in the
span of the column, and the rows that fall on a day with an offset change
(a DST switch) are resolved by comparing with the exact switch instant,
vectorized, instead of one Python call per row.
"""

from __future__ import annotations

from datetime import timedelta, tzinfo
from typing import Final

import numpy as np
import numpy.typing as npt

from loyaltycore.calendar import DAY_US, EPOCH

Int = npt.NDArray[np.int64]

#: Beyond this many days between the earliest and latest row, offsets are
#: looked up per distinct day instead of per day of the span.
_MAX_SPAN: Final = 100_000
_SENTINEL_DAY: Final = int(np.iinfo(np.int64).min) // DAY_US


def _offset(tz: tzinfo, micros: int) -> int:
    """The UTC offset of ``tz`` at an instant, in microseconds."""
    at = (EPOCH + timedelta(microseconds=micros)).astimezone(tz)
    offset = at.utcoffset()
    assert offset is not None
    return (offset.days * 86_400 + offset.seconds) * 1_000_000 + offset.microseconds


def _switch(tz: tzinfo, start: int, before: int) -> int:
    """The first microsecond of the UTC day at ``start`` whose offset is not ``before``."""
    lo, hi = start, start + DAY_US - 1  # offset(lo) == before, offset(hi) != before
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if _offset(tz, mid) == before:
            lo = mid
        else:
            hi = mid
    return hi


def _tables(days: list[int], tz: tzinfo) -> tuple[Int, Int, Int]:
    """Per UTC day: offset at its start, offset at its end, and the switch instant."""
    start = np.array([_offset(tz, d * DAY_US) for d in days], dtype=np.int64)
    end = np.array([_offset(tz, d * DAY_US + DAY_US - 1) for d in days], dtype=np.int64)
    switch = np.full(len(days), np.iinfo(np.int64).max, dtype=np.int64)
    for i in np.flatnonzero(start != end).tolist():
        switch[i] = _switch(tz, days[i] * DAY_US, int(start[i]))
    return start, end, switch


def local_days(micros: Int, tz: tzinfo, present: npt.NDArray[np.bool_] | None = None) -> Int:
    """Local day numbers (days since 1970-01-01) of int64 UTC micros in ``tz``.

    With ``present``, the other rows must hold the missing sentinel (the
    int64 minimum); they get day 0.
    """
    if micros.size == 0 or (present is not None and not present.any()):
        return np.zeros(micros.shape, dtype=np.int64)
    day = micros // DAY_US
    hi = int(day.max())  # the sentinel is the smallest int64: never the max
    if present is not None:  # move the sentinel's day onto ``hi``, arithmetically
        day += np.multiply(~present, hi - _SENTINEL_DAY, dtype=np.int64)
    lo = int(day.min())
    if hi - lo < _MAX_SPAN:
        index = np.subtract(day, lo, out=day)
        start, end, switch = _tables(list(range(lo, hi + 1)), tz)
    else:
        if present is not None:
            fill = micros[int(np.argmax(present))]
            return local_days(np.where(present, micros, fill), tz)
        distinct, index = np.unique(day, return_inverse=True)
        start, end, switch = _tables(distinct.tolist(), tz)
    offset = start[index]
    mixed = np.flatnonzero((start != end)[index])
    if mixed.size:
        rows = index[mixed]
        late = micros[mixed] >= switch[rows]
        offset[mixed] = np.where(late, end[rows], start[rows])
    offset += micros
    offset //= DAY_US
    if present is not None:
        offset *= present  # day 0 on the missing rows (their sum above overflowed)
    return offset

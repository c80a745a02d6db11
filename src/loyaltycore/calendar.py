"""Aware time, the program's time zone, calendar periods and windows.

Every datetime that enters loyaltycore is checked to be aware and normalised
to UTC (:func:`to_utc`). Local dates and calendar boundaries — end of month,
birthdays, member day, "expires 31 Dec" — are derived in the program's IANA
zone, read from the bundled ``tzdata`` so results never depend on the host.

Offsets use :class:`dateutil.relativedelta.relativedelta` from the original
date in one step, so Jan 31 + 1 month is Feb 28 (or 29) and Feb 29 + 1 year is
Feb 28; they are never chained.

>>> from datetime import date, datetime
>>> tz = zone("Europe/Berlin")
>>> start_of_day(date(2024, 12, 31), tz=tz)
datetime.datetime(2024, 12, 30, 23, 0, tzinfo=datetime.timezone.utc)
>>> add_months(date(2024, 1, 31), 1)
datetime.date(2024, 2, 29)
>>> period_bounds(date(2024, 5, 17), "quarter")
(datetime.date(2024, 4, 1), datetime.date(2024, 7, 1))

Columns hold instants as int64 microseconds since the Unix epoch, UTC
(:func:`to_micros`); :func:`wall_to_micros` and :func:`local_wall_micros`
convert whole arrays between UTC and a zone's wall clock, handling DST days
exactly.
"""

from __future__ import annotations

import functools
import importlib.resources
import re
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Final, Literal, TypeAlias, get_args, overload
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt
from dateutil.relativedelta import relativedelta

from loyaltycore._deprecate import keyword_only
from loyaltycore._validate import check_int, type_name
from loyaltycore.errors import InvalidArgument, InvalidColumn, InvalidType, NaiveDatetime

__all__ = [
    "DAY_US",
    "EPOCH",
    "Period",
    "UTC",
    "add_days",
    "add_months",
    "add_period",
    "anniversary",
    "anniversary_window",
    "from_micros",
    "local_date",
    "local_days",
    "local_wall_micros",
    "period_bounds",
    "period_start",
    "rolling_window",
    "start_of_day",
    "to_micros",
    "to_utc",
    "wall_to_micros",
    "zone",
]

UTC: Final = UTC
EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
#: The epoch as a date: day numbers count from it.
EPOCH_DATE: Final = date(1970, 1, 1)
#: Microseconds standing for "never" in int64 columns (after every instant).
NEVER: Final = 2**62
#: The missing value of an int64 column (instants, day numbers, counts).
MISSING_INT: Final = int(np.iinfo(np.int64).min)
#: Microseconds in a day.
DAY_US: Final = 86_400_000_000

Period: TypeAlias = Literal["month", "quarter", "year"]
_PERIOD_MONTHS: Final = {"month": 1, "quarter": 3, "year": 12}
PERIODS: Final = frozenset(get_args(Period))


#: An IANA key: path components of letters, digits and ``_ + - .``, never ``.`` or ``..``.
_KEY: Final = re.compile(r"(?!.*(?:^|/)\.\.?(?:/|$))[A-Za-z0-9_+.-]+(?:/[A-Za-z0-9_+.-]+)*")
#: The longest key accepted (the longest in tzdata has 32 characters).
_MAX_KEY: Final = 64


class _TzdataZone(ZoneInfo):
    """A zone built from the bundled ``tzdata`` package; it pickles by its key.

    :class:`~zoneinfo.ZoneInfo` looks a key up on the host's ``TZPATH``
    first, so the same key can mean different rules on different hosts.
    This subclass is only ever built from the tzdata resource, and
    unpickling goes back through :func:`zone`, so a worker process reads the
    same bundled rules.
    """

    __slots__ = ()

    def __reduce__(self) -> tuple[Callable[[str], tzinfo], tuple[str]]:
        return (zone, (self.key,))

    def __repr__(self) -> str:
        return f"zone({self.key!r})"


_ZONES: dict[str, tzinfo] = {}


@functools.cache
def _bundled_keys() -> frozenset[str]:
    """Every key the bundled tzdata lists (its ``zones`` file)."""
    return frozenset(importlib.resources.files("tzdata").joinpath("zones").read_text().split())


def _bundled(name: str) -> tzinfo:
    """The bundled zone ``name``, after checking it is a listed key; cached for good."""
    found = _ZONES.get(name)
    if found is not None:
        return found
    if not (len(name) <= _MAX_KEY and _KEY.fullmatch(name) and name in _bundled_keys()):
        raise InvalidArgument(f"tz={name!r} is not an IANA time zone", field="tz", value=name)
    resource = importlib.resources.files("tzdata.zoneinfo").joinpath(*name.split("/"))
    with resource.open("rb") as file:
        built = _TzdataZone.from_file(file, key=name)
    return _ZONES.setdefault(name, built)


def zone(name: str | tzinfo) -> tzinfo:
    """Return the IANA zone called ``name``, read from the bundled ``tzdata``.

    The name must be a key that the bundled tzdata lists; the host's zone
    directories (``TZPATH``, ``PYTHONTZPATH``, ``/etc/localtime``) are never
    read, so ``"localtime"`` is refused. A :class:`~zoneinfo.ZoneInfo` the
    caller built is replaced by the bundled zone of its key; any other
    ``tzinfo`` (a fixed offset, a keyless zone) passes through.

    >>> zone("Asia/Shanghai")
    zone('Asia/Shanghai')
    >>> zone("Mars/Olympus")
    Traceback (most recent call last):
    ...
    loyaltycore.errors.InvalidArgument: tz='Mars/Olympus' is not an IANA time zone
    """
    if isinstance(name, tzinfo):
        if isinstance(name, ZoneInfo) and type(name) is not _TzdataZone and name.key is not None:
            return zone(name.key)
        return name
    if not isinstance(name, str):
        raise InvalidType(
            f"tz={name!r} must be an IANA zone name, not {type_name(name)}", field="tz", value=name
        )
    if name.upper() == "UTC":
        return UTC
    return _bundled(name)


def to_utc(value: object, name: str = "at", *, tz: tzinfo | None = None) -> datetime:
    """Check that ``value`` is an aware datetime and return it in UTC.

    A plain :class:`~datetime.date` means local midnight in ``tz`` and is
    refused when no zone is given. Naive datetimes raise
    :class:`~loyaltycore.errors.NaiveDatetime`.

    >>> from zoneinfo import ZoneInfo
    >>> ny = ZoneInfo("America/New_York")
    >>> first = datetime(2024, 11, 3, 1, 30, tzinfo=ny)           # 01:30 EDT
    >>> second = datetime(2024, 11, 3, 1, 30, fold=1, tzinfo=ny)  # 01:30 EST
    >>> to_utc(second) - to_utc(first)
    datetime.timedelta(seconds=3600)
    >>> to_utc(datetime(2024, 1, 1))
    Traceback (most recent call last):
    ...
    loyaltycore.errors.NaiveDatetime: at=datetime.datetime(2024, 1, 1, 0, 0) is naive; ...
    """
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise NaiveDatetime(
                f"{name}={value!r} is naive; pass an aware datetime (tzinfo=...)",
                field=name,
                value=value,
            )
        return value.astimezone(UTC)
    if isinstance(value, date):
        if tz is None:
            raise NaiveDatetime(
                f"{name}={value!r} is a date; pass an aware datetime or a program zone",
                field=name,
                value=value,
            )
        return start_of_day(value, tz=tz)
    raise InvalidType(
        f"{name}={value!r} must be an aware datetime, not {type_name(value)}",
        field=name,
        value=value,
    )


# Until 0.3.0 the zone may still be passed positionally (with a
# DeprecationWarning); the second overload of each function below keeps that
# old form type-correct for the deprecation window.


@overload
def local_date(at: datetime, *, tz: str | tzinfo) -> date: ...
@overload
def local_date(at: datetime, tz: str | tzinfo, /) -> date: ...
@keyword_only("tz", removed_in="0.3.0")  # type: ignore[misc]
def local_date(at: datetime, *, tz: str | tzinfo) -> date:
    """The calendar date of the instant ``at`` on the wall clock of ``tz``.

    Args:
        at: an aware instant.
        tz: an IANA zone name or a ``tzinfo``, keyword-only.

    >>> local_date(datetime(2024, 12, 31, 17, tzinfo=UTC), tz="Asia/Shanghai")
    datetime.date(2025, 1, 1)
    """
    return at.astimezone(zone(tz)).date()


@overload
def start_of_day(day: date, *, tz: str | tzinfo) -> datetime: ...
@overload
def start_of_day(day: date, tz: str | tzinfo, /) -> datetime: ...
@keyword_only("tz", removed_in="0.3.0")  # type: ignore[misc]
def start_of_day(day: date, *, tz: str | tzinfo) -> datetime:
    """The first instant (in UTC) of the local date ``day`` in ``tz``.

    Where a DST gap swallows local midnight, the day starts at the first wall
    time that exists.

    Args:
        day: a local calendar date.
        tz: an IANA zone name or a ``tzinfo``, keyword-only.

    >>> start_of_day(date(2025, 1, 1), tz="Asia/Shanghai")
    datetime.datetime(2024, 12, 31, 16, 0, tzinfo=datetime.timezone.utc)
    """
    zone_ = zone(tz)
    local = datetime.combine(day, time(), tzinfo=zone_)
    instant = local.astimezone(UTC)
    if instant.astimezone(zone_).date() != day:  # midnight fell in a gap
        instant = datetime.combine(day, time(), tzinfo=zone_).replace(fold=1).astimezone(UTC)
    return instant


def add_days(day: date, days: int) -> date:
    """``day`` plus a number of calendar days.

    >>> add_days(date(2024, 2, 28), 2)
    datetime.date(2024, 3, 1)
    """
    return day + timedelta(days=days)


def add_months(day: date, months: int) -> date:
    """``day`` plus ``months`` in one step, clipped to the month end.

    >>> add_months(date(2024, 2, 29), 12)
    datetime.date(2025, 2, 28)
    """
    result: date = day + relativedelta(months=months)
    return result


def _check_period(period: object) -> Period:
    if period not in PERIODS:
        raise InvalidArgument(
            f"period={period!r} must be one of {sorted(PERIODS)}", field="period", value=period
        )
    return period  # type: ignore[return-value]


def period_start(day: date, period: Period) -> date:
    """The first date of the month, quarter or year containing ``day``.

    >>> period_start(date(2024, 8, 15), "quarter")
    datetime.date(2024, 7, 1)
    """
    months = _PERIOD_MONTHS[_check_period(period)]
    month = (day.month - 1) // months * months + 1
    return date(day.year, month, 1)


def add_period(day: date, period: Period, count: int = 1) -> date:
    """``day`` plus ``count`` whole periods (months, quarters or years).

    >>> add_period(date(2024, 11, 30), "quarter")
    datetime.date(2025, 2, 28)
    """
    return add_months(day, _PERIOD_MONTHS[_check_period(period)] * count)


def period_bounds(day: date, period: Period, *, offset: int = 0) -> tuple[date, date]:
    """``[start, end)`` local dates of the period containing ``day``.

    ``offset`` moves to a later (positive) or earlier (negative) period.
    "Expires at the end of next year" is ``period_bounds(d, "year", offset=1)[1]``:
    the first date that is no longer usable.

    >>> period_bounds(date(2024, 5, 17), "year", offset=1)
    (datetime.date(2025, 1, 1), datetime.date(2026, 1, 1))
    """
    start = add_period(period_start(day, period), period, offset)
    return start, add_period(start, period)


def rolling_window(day: date, *, months: int = 0, days: int = 0) -> tuple[date, date]:
    """``[start, end)`` of a trailing window that ends with ``day`` included.

    >>> rolling_window(date(2024, 6, 30), months=12)
    (datetime.date(2023, 7, 1), datetime.date(2024, 7, 1))
    """
    check_int(months, "months", minimum=0)
    check_int(days, "days", minimum=0)
    if months == 0 and days == 0:
        raise InvalidArgument("a rolling window needs months or days > 0", field="months")
    end = day + timedelta(days=1)
    start: date = end - relativedelta(months=months, days=days)
    return start, end


def anniversary(anchor: date, year: int) -> date:
    """``anchor``'s month and day in ``year``; Feb 29 becomes Feb 28.

    >>> anniversary(date(2024, 2, 29), 2025)
    datetime.date(2025, 2, 28)
    """
    result: date = anchor + relativedelta(years=year - anchor.year)
    return result


def anniversary_window(day: date, anchor: date, *, offset: int = 0) -> tuple[date, date]:
    """``[start, end)`` of the membership year (from ``anchor``) containing ``day``.

    >>> anniversary_window(date(2025, 3, 1), date(2024, 2, 29))
    (datetime.date(2025, 2, 28), datetime.date(2026, 2, 28))
    """
    year = day.year if day >= anniversary(anchor, day.year) else day.year - 1
    year += offset
    return anniversary(anchor, year), anniversary(anchor, year + 1)


# -- columns ----------------------------------------------------------------


def to_micros(at: datetime) -> int:
    """Microseconds since the epoch of an aware datetime.

    >>> to_micros(datetime(1970, 1, 2, tzinfo=UTC))
    86400000000
    """
    return micros(to_utc(at))


def micros(at: datetime) -> int:
    """Microseconds since the epoch of a UTC datetime, for values already validated.

    The hot paths call this; :func:`to_micros` normalises its argument first.

    >>> micros(datetime(1970, 1, 1, 0, 0, 1, tzinfo=UTC))
    1000000
    """
    delta = at - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_micros(micros: int) -> datetime:
    """The UTC datetime for microseconds since the epoch.

    >>> from_micros(86_400_000_000)
    datetime.datetime(1970, 1, 2, 0, 0, tzinfo=datetime.timezone.utc)
    """
    return EPOCH + timedelta(microseconds=int(micros))


def _offset_us(tz: tzinfo, at: datetime) -> int:
    offset = at.utcoffset()
    assert offset is not None
    return (offset.days * 86_400 + offset.seconds) * 1_000_000 + offset.microseconds


#: Beyond this many days between the earliest and latest row, offsets are
#: looked up per distinct day instead of per day of the whole span.
_MAX_SPAN: Final = 100_000


def _wall_day_offsets(
    days: npt.NDArray[np.int64], tz: tzinfo
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.bool_]]:
    """Per local (wall-clock) day: the offset at its start, and whether it changes within it."""
    offsets = np.empty(days.shape, dtype=np.int64)
    mixed = np.zeros(days.shape, dtype=np.bool_)
    for i, day in enumerate(days.tolist()):
        local = (EPOCH + timedelta(days=day)).date()
        first = datetime.combine(local, time(), tzinfo=tz)
        last = datetime.combine(local, time(23, 59, 59, 999_999), tzinfo=tz)
        offsets[i] = _offset_us(tz, first)
        mixed[i] = offsets[i] != _offset_us(tz, last)
    return offsets, mixed


def _utc_offset_at(tz: tzinfo, micros: int) -> int:
    return _offset_us(tz, (EPOCH + timedelta(microseconds=micros)).astimezone(tz))


def _utc_day_tables(
    days: list[int], tz: tzinfo
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Per UTC day: the offset at its start and end, and the instant it switches.

    The switch instant (the first microsecond with the new offset) is found
    by bisection on the few days whose offset changes, so rows on those days
    are resolved by one vectorized comparison.
    """
    start = np.array([_utc_offset_at(tz, d * DAY_US) for d in days], dtype=np.int64)
    end = np.array([_utc_offset_at(tz, d * DAY_US + DAY_US - 1) for d in days], dtype=np.int64)
    switch = np.full(len(days), np.iinfo(np.int64).max, dtype=np.int64)
    for i in np.flatnonzero(start != end).tolist():
        lo, hi = days[i] * DAY_US, days[i] * DAY_US + DAY_US - 1
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if _utc_offset_at(tz, mid) == start[i]:
                lo = mid
            else:
                hi = mid
        switch[i] = hi
    return start, end, switch


def _is_utc(tz: tzinfo) -> bool:
    return tz is UTC or getattr(tz, "key", None) in ("UTC", "Etc/UTC")


def _day_index(day: npt.NDArray[np.int64]) -> tuple[list[int], npt.NDArray[np.int64]]:
    """The days to tabulate and each row's index into them."""
    lo, hi = int(day.min()), int(day.max())
    if hi - lo < _MAX_SPAN:
        return list(range(lo, hi + 1)), day - lo
    distinct, index = np.unique(day, return_inverse=True)
    return distinct.tolist(), index.astype(np.int64)


def _utc_to_wall(micros: npt.NDArray[np.int64], tz: tzinfo) -> npt.NDArray[np.int64]:
    if micros.size == 0 or _is_utc(tz):
        return micros.copy()
    days, index = _day_index(micros // DAY_US)
    start, end, switch = _utc_day_tables(days, tz)
    offset = start[index]
    mixed = np.flatnonzero((start != end)[index])
    if mixed.size:
        rows = index[mixed]
        offset[mixed] = np.where(micros[mixed] >= switch[rows], end[rows], start[rows])
    offset += micros
    return offset


def _wall_to_utc(micros: npt.NDArray[np.int64], tz: tzinfo) -> npt.NDArray[np.int64]:
    if micros.size == 0 or _is_utc(tz):
        return micros.copy()
    days, index = _day_index(micros // DAY_US)
    offsets, mixed = _wall_day_offsets(np.asarray(days, dtype=np.int64), tz)
    result = micros - offsets[index]
    for i in np.flatnonzero(mixed[index]).tolist():  # a DST day: a few rows a year
        local = (EPOCH + timedelta(microseconds=int(micros[i]))).replace(tzinfo=tz)
        result[i] = int(micros[i]) - _offset_us(tz, local)
    return result


@overload
def wall_to_micros(
    values: npt.ArrayLike, *, tz: str | tzinfo, name: str = "at"
) -> npt.NDArray[np.int64]: ...
@overload
def wall_to_micros(
    values: npt.ArrayLike, tz: str | tzinfo, name: str = "at", /
) -> npt.NDArray[np.int64]: ...
@keyword_only("tz", "name", removed_in="0.3.0")  # type: ignore[misc]
def wall_to_micros(
    values: npt.ArrayLike, *, tz: str | tzinfo, name: str = "at"
) -> npt.NDArray[np.int64]:
    """Convert a datetime64 column read on the wall clock of ``tz`` to UTC micros.

    ``tz`` is required: pass ``"UTC"`` when the column already is UTC. A
    wall time that falls twice (a DST fold) is read as the first; one that
    falls in a gap is read with the offset before the gap, as :mod:`zoneinfo`
    does. NaT raises :class:`~loyaltycore.errors.InvalidColumn` naming the row.

    Args:
        values: a datetime64 column.
        tz: the zone of its wall clock, keyword-only.
        name: the column's name in error messages, keyword-only.

    >>> col = np.array(["2024-07-01T00:00"], dtype="datetime64[m]")
    >>> wall_to_micros(col, tz="Europe/Berlin") == to_micros(datetime(2024, 6, 30, 22, tzinfo=UTC))
    array([ True])
    """
    zone_ = zone(tz)
    array = np.asarray(values)
    if array.dtype.kind != "M":
        raise InvalidType(
            f"{name} must be a datetime64 column, not {array.dtype}", field=name, value=array.dtype
        )
    nat = np.isnat(array)
    if nat.any():
        row = int(np.flatnonzero(nat)[0])
        raise InvalidColumn(f"{name}[{row}] is NaT", field=name, row=row)
    micros = array.astype("datetime64[us]").astype(np.int64)
    return _wall_to_utc(micros, zone_)


@overload
def local_wall_micros(micros: npt.ArrayLike, *, tz: str | tzinfo) -> npt.NDArray[np.int64]: ...
@overload
def local_wall_micros(micros: npt.ArrayLike, tz: str | tzinfo, /) -> npt.NDArray[np.int64]: ...
@keyword_only("tz", removed_in="0.3.0")  # type: ignore[misc]
def local_wall_micros(micros: npt.ArrayLike, *, tz: str | tzinfo) -> npt.NDArray[np.int64]:
    """UTC micros to micros on the wall clock of ``tz`` (same epoch origin).

    Args:
        micros: instants as int64 microseconds since the epoch, UTC.
        tz: an IANA zone name or a ``tzinfo``, keyword-only.

    >>> noon = to_micros(datetime(2024, 12, 31, 17, tzinfo=UTC))
    >>> wall = local_wall_micros([noon], tz="Asia/Shanghai")
    >>> from_micros(int(wall[0])).replace(tzinfo=None)
    datetime.datetime(2025, 1, 1, 1, 0)
    """
    return _utc_to_wall(np.asarray(micros, dtype=np.int64), zone(tz))


@overload
def local_days(micros: npt.ArrayLike, *, tz: str | tzinfo) -> npt.NDArray[np.int64]: ...
@overload
def local_days(micros: npt.ArrayLike, tz: str | tzinfo, /) -> npt.NDArray[np.int64]: ...
@keyword_only("tz", removed_in="0.3.0")  # type: ignore[misc]
def local_days(micros: npt.ArrayLike, *, tz: str | tzinfo) -> npt.NDArray[np.int64]:
    """Local calendar day numbers (days since 1970-01-01) of UTC micros in ``tz``.

    Args:
        micros: instants as int64 microseconds since the epoch, UTC.
        tz: an IANA zone name or a ``tzinfo``, keyword-only.

    >>> late = to_micros(datetime(2024, 1, 1, 23, 30, tzinfo=UTC))
    >>> local_days([late], tz="UTC"), local_days([late], tz="Asia/Tokyo")
    (array([19723]), array([19724]))
    """
    zone_ = zone(tz)
    if _is_utc(zone_):  # no wall-clock copy first
        days: npt.NDArray[np.int64] = np.asarray(micros, dtype=np.int64) // DAY_US
        return days
    return _utc_to_wall(np.asarray(micros, dtype=np.int64), zone_) // DAY_US


# -- day numbers as civil dates, in columns ---------------------------------

Int64s: TypeAlias = npt.NDArray[np.int64]


def civil(days: npt.NDArray[np.int64]) -> tuple[Int64s, Int64s, Int64s]:
    """(year, month, day) of day numbers since 1970-01-01, by integer arithmetic.

    The proleptic Gregorian algorithm of H. Hinnant ("civil_from_days"):
    a few integer operations per element, many times faster than going
    through datetime64 conversions.

    >>> [int(x[0]) for x in civil(np.array([19782]))]
    [2024, 2, 29]
    """
    z = days + 719_468
    era = z // 146_097
    doe = z - era * 146_097
    yoe = (doe - doe // 1460 + doe // 36_524 - doe // 146_096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    day = doy - (153 * mp + 2) // 5 + 1
    month = np.where(mp < 10, mp + 3, mp - 9)
    year = yoe + era * 400 + (month <= 2)
    return year, month, day


def civil_days(
    year: npt.NDArray[np.int64], month: npt.NDArray[np.int64], day: npt.NDArray[np.int64]
) -> npt.NDArray[np.int64]:
    """Day numbers since 1970-01-01 of (year, month, day) arrays ("days_from_civil").

    >>> civil_days(np.array([2024]), np.array([2]), np.array([29]))
    array([19782])
    """
    y = year - (month <= 2)
    era = y // 400
    yoe = y - era * 400
    doy = (153 * np.where(month > 2, month - 3, month + 9) + 2) // 5 + day - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    result: npt.NDArray[np.int64] = era * 146_097 + doe - 719_468
    return result


def days_in_month(year: npt.NDArray[np.int64], month: npt.NDArray[np.int64]) -> Int64s:
    """Days in each (year, month).

    >>> days_in_month(np.array([2024, 2100]), np.array([2, 2]))
    array([29, 28])
    """
    lengths = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], dtype=np.int64)
    leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
    result: Int64s = lengths[month] + ((month == 2) & leap)
    return result


def date_parts(days: npt.NDArray[np.int64]) -> tuple[Int64s, Int64s, Int64s]:
    """(year, month, day) int64 arrays of day numbers (missing -> MISSING_INT).

    >>> [x.tolist() for x in date_parts(np.array([0, MISSING_INT]))]
    [[1970, -9223372036854775808], [1, -9223372036854775808], [1, -9223372036854775808]]
    """
    ok = days != MISSING_INT
    parts = civil(np.where(ok, days, 0))
    if ok.all():
        return parts
    return tuple(np.where(ok, part, MISSING_INT) for part in parts)  # type: ignore[return-value]

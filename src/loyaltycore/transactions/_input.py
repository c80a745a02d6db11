"""Turn outside columns into the transaction log's int64 columns.

Each converter checks one column and names the row of the first bad value in
its error. Nothing here keeps state; :mod:`loyaltycore.transactions` calls
these once, from its named constructors.
"""

from __future__ import annotations

import math
import re
from collections.abc import Hashable, Sequence
from datetime import date, datetime, timedelta, tzinfo
from decimal import Decimal
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from loyaltycore._validate import DECIMAL_CONTEXT, to_decimal, type_name
from loyaltycore.calendar import UTC, to_micros, wall_to_micros, zone
from loyaltycore.errors import (
    InvalidAmount,
    InvalidArgument,
    InvalidColumn,
    InvalidType,
    LoyaltyError,
    NaiveDatetime,
)

#: The missing instant: the same bits as NaT.
MISSING: Final = int(np.iinfo(np.int64).min)
#: The instants a log holds: [0001-01-02, 9999-01-01) UTC. A day in from the
#: start of Python's datetime range and a year in from its end, so the local
#: date of every instant in any zone, the day after it and the month or
#: quarter after it all exist.
EARLIEST: Final = datetime(1, 1, 2, tzinfo=UTC)
END: Final = datetime(9999, 1, 1, tzinfo=UTC)
_EARLIEST_US: Final = to_micros(EARLIEST)
_END_US: Final = to_micros(END)
_DAY_US: Final = 86_400_000_000
#: Largest magnitude an int64 minor-unit amount may have (exact in float64).
_MAX_MINOR: Final = 2**53

I64 = npt.NDArray[np.int64]


def as_array(values: Any, name: str) -> npt.NDArray[Any]:
    """A one-dimensional numpy view (or copy) of a column."""
    array = np.asarray(values) if not isinstance(values, np.ndarray) else values
    if array.ndim != 1:
        raise InvalidColumn(
            f"{name} must be one-dimensional, got shape {array.shape}", field=name, value=None
        )
    return array


def check_length(array: npt.NDArray[Any], n: int, name: str) -> None:
    """Raise :class:`InvalidColumn` unless ``array`` has ``n`` rows."""
    if len(array) != n:
        raise InvalidColumn(
            f"{name} has {len(array)} rows, expected {n}", field=name, value=len(array)
        )


def _first(mask: npt.NDArray[np.bool_]) -> int:
    return int(np.flatnonzero(mask)[0])


# -- ids ----------------------------------------------------------------------


def sort_ids(values: Sequence[Hashable]) -> list[Hashable]:
    """Distinct ids in their natural order; mixed types grouped by type name."""
    try:
        return sorted(values)  # type: ignore[type-var]
    except TypeError:
        pass
    by_type: dict[str, list[Hashable]] = {}
    for value in values:
        by_type.setdefault(type(value).__name__, []).append(value)
    ordered: list[Hashable] = []
    for name in sorted(by_type):
        try:
            ordered += sorted(by_type[name])  # type: ignore[type-var]
        except TypeError:
            ordered += sorted(by_type[name], key=repr)
    return ordered


def _factorize_ints(ids: I64) -> tuple[I64, I64]:
    n = len(ids)
    if n == 0:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    from loyaltycore.transactions._summary import extremes

    lo, hi = extremes(ids)
    span = hi - lo + 1
    if span > 4 * n + 1_000_000:  # sparse ids: one sort carrying the row index
        from loyaltycore.transactions._sort import sparse_codes

        found = sparse_codes(ids, (lo, hi))
        if found is not None:
            return found
        uniques, inverse = np.unique(ids, return_inverse=True)
        return inverse.astype(np.int64, copy=False).reshape(-1), uniques.astype(np.int64)
    # dense ids: a presence table beats any sort; passes run in blocks
    from loyaltycore.transactions._summary import blocks

    codes = np.empty(n, dtype=np.int64)
    present = np.zeros(span, dtype=np.bool_)
    for b in blocks(n):
        np.subtract(ids[b], lo, out=codes[b])
        present[codes[b]] = True
    uniques = np.flatnonzero(present).astype(np.int64)
    if len(uniques) < span:  # gaps in the ids: renumber
        lookup = np.cumsum(present, dtype=np.int64)
        lookup -= 1
        for b in blocks(n):
            codes[b] = lookup[codes[b]]
    uniques += lo
    return codes, uniques


_MISSING_TYPES: Final = frozenset({"NAType", "NaTType"})  # pandas.NA, pandas.NaT


def is_missing(value: object) -> bool:
    """None, a float NaN, a datetime64 NaT, or pandas' NA / NaT (not imported)."""
    if value is None or type(value).__name__ in _MISSING_TYPES:
        return True
    if isinstance(value, float | np.floating):
        return bool(np.isnan(value))
    if isinstance(value, np.datetime64):
        return bool(np.isnat(value))
    return False


def _blank(value: object) -> bool:
    return isinstance(value, str) and not value.strip()


def _factorize_objects(
    array: npt.NDArray[Any], name: str, allow_blank: bool
) -> tuple[I64, npt.NDArray[Any]]:
    """Two C-level dict passes: collect the ids, then read each row's code.

    Codes are assigned in the sorted order of the ids. No Python object is
    created per row (the codes are the dict's own ints).
    """
    values = array.tolist()
    try:
        codes_of: dict[Hashable, int | None] = dict.fromkeys(values)
    except TypeError:
        row = next((i for i, v in enumerate(values) if not isinstance(v, Hashable)), 0)
        raise InvalidColumn(
            f"{name}[{row}]={values[row]!r} is not hashable", field=name, row=row
        ) from None
    for value in codes_of:
        if is_missing(value):
            row = values.index(value)
            raise InvalidColumn(f"{name}[{row}] is missing ({value!r})", field=name, row=row)
        if not allow_blank and _blank(value):
            row = values.index(value)
            raise InvalidColumn(
                f"{name}[{row}] is empty ({value!r}); every row needs an id",
                field=name,
                row=row,
                value=value,
            )
    ordered = sort_ids(list(codes_of))
    for code, value in enumerate(ordered):
        codes_of[value] = code
    codes = np.fromiter(map(codes_of.__getitem__, values), dtype=np.int64, count=len(values))
    uniques = np.empty(len(ordered), dtype=object)
    uniques[:] = ordered
    return codes, uniques


def factorize(
    values: Any, name: str = "customer", *, allow_blank: bool = False
) -> tuple[I64, npt.NDArray[Any]]:
    """Codes (int64, one per row) and the sorted distinct ids they index.

    Integer ids stay an int64 array; any other hashable ids become an object
    array. Codes follow the sorted order of the ids, so they do not depend on
    the order of the rows. An empty or all-blank text id is refused unless
    ``allow_blank`` (labels may be empty; ids may not).
    """
    array = as_array(values, name)
    kind = array.dtype.kind
    if len(array) == 0:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    if kind in "iu":
        if kind == "u" and len(array) and int(array.max()) > np.iinfo(np.int64).max:
            raise InvalidColumn(f"{name} has ids beyond int64", field=name, value=None)
        return _factorize_ints(array.astype(np.int64, copy=False))
    if kind == "b":
        raise InvalidType(f"{name} must hold ids, not bool", field=name, value="bool")
    if kind == "f":
        nan = np.isnan(array)
        if nan.any():
            row = _first(nan)
            raise InvalidColumn(f"{name}[{row}] is missing (NaN)", field=name, row=row)
        raise InvalidType(
            f"{name} must hold int or str ids, not {array.dtype}",
            field=name,
            value=str(array.dtype),
        )
    return _factorize_objects(array.astype(object, copy=False), name, allow_blank)


def labels(values: Any, name: str, n: int) -> tuple[I64, npt.NDArray[Any]]:
    """Factorise an optional label column (category, channel)."""
    array = as_array(values, name)
    check_length(array, n, name)
    return factorize(array, name, allow_blank=True)


# -- instants -----------------------------------------------------------------


def _out_of_range(array: npt.NDArray[Any], row: int, name: str) -> InvalidColumn:
    value = array[row]
    shown = str(value) if isinstance(value, np.generic) else value
    return InvalidColumn(
        f"{name}[{row}]={shown!r} is outside the supported range "
        f"{EARLIEST.date()} to {(END - timedelta(days=1)).date()} (UTC)",
        field=name,
        row=row,
        value=shown,
    )


def _check_range(micros: I64, array: npt.NDArray[Any], name: str, *, margin: int = 0) -> None:
    """Refuse instants outside [EARLIEST, END), widened by ``margin`` micros."""
    from loyaltycore.transactions._summary import extremes

    low, high = _EARLIEST_US - margin, _END_US + margin
    if len(micros) == 0:
        return
    first, last = extremes(micros)  # one pass; the row is looked for only on failure
    if first >= low and last < high:
        return
    bad = (micros < low) | (micros >= high)
    if bad.any():
        raise _out_of_range(array, _first(bad), name)


def _from_datetime64(array: npt.NDArray[Any], tz: str | tzinfo | None, name: str) -> I64:
    if tz is None:
        raise NaiveDatetime(
            f"{name} is a datetime64 column without a zone; pass tz= (the wall-clock "
            f"zone of the column, or 'UTC')",
            field=name,
            value=str(array.dtype),
        )
    if zone(tz) is UTC:  # one conversion, no offset pass
        micros = array.astype("datetime64[us]", copy=True).view(np.int64)
        nat = micros == MISSING
        if nat.any():
            row = _first(nat)
            raise InvalidColumn(f"{name}[{row}] is NaT", field=name, row=row)
        return micros
    if not np.isnat(array).any():  # (wall_to_micros names a NaT's row)
        # wall times a day beyond the range cannot convert to an instant in it
        walls = array.astype("datetime64[us]").view(np.int64)
        _check_range(walls, array, name, margin=_DAY_US)
    return wall_to_micros(array, tz=tz, name=name)


def check_format(fmt: object, name: str = "at_format") -> None:
    """Refuse a ``strptime`` format that no text can match: a bad or repeated directive.

    >>> check_format("%d/%m/%Y")
    >>> check_format("%d/%m/%Y %d")
    Traceback (most recent call last):
    ...
    loyaltycore.errors.InvalidArgument: at_format='%d/%m/%Y %d' is not a strptime format: ...
    """
    if type(fmt) is not str:
        raise InvalidType(f"{name}={fmt!r} must be a str", field=name, value=fmt)
    try:
        datetime.strptime("", fmt)
    except re.error as exc:  # (a directive twice: its group is named twice)
        reason = str(exc)
    except ValueError as exc:
        if str(exc).startswith("time data"):  # (a format that simply does not match "")
            return
        reason = str(exc)
    else:
        return
    raise InvalidArgument(
        f"{name}={fmt!r} is not a strptime format: {reason}", field=name, value=fmt
    )


def _parse_one(value: object, fmt: str | None) -> datetime | date:
    if isinstance(value, datetime | date):
        return value
    if isinstance(value, str):
        text = value.strip()
        if fmt is not None:
            return datetime.strptime(text, fmt)
        return datetime.fromisoformat(text)
    to_pydatetime = getattr(value, "to_pydatetime", None)  # pandas.Timestamp
    if callable(to_pydatetime):
        result = to_pydatetime()
        if isinstance(result, datetime):
            return result
    raise TypeError(type_name(value))


def _object_instants(
    array: npt.NDArray[Any], tz: str | tzinfo | None, name: str, fmt: str | None
) -> I64:
    """Parse aware datetimes, dates or text; each distinct value once."""
    if fmt is not None:
        check_format(fmt)
    zone_ = zone(tz) if tz is not None else None
    cache: dict[object, int] = {}
    naive_rows: list[int] = []
    naive_walls: list[datetime] = []
    out = np.empty(len(array), dtype=np.int64)
    walls: dict[object, datetime] = {}
    for row, value in enumerate(array.tolist()):
        hashable = isinstance(value, Hashable)
        hit = cache.get(value) if hashable else None
        if hit is not None:
            out[row] = hit
            continue
        wall_hit = walls.get(value) if hashable else None
        if wall_hit is not None:
            naive_rows.append(row)
            naive_walls.append(wall_hit)
            continue
        if is_missing(value):
            raise InvalidColumn(f"{name}[{row}] is missing ({value!r})", field=name, row=row)
        try:
            parsed = _parse_one(value, fmt)
        except (ValueError, TypeError):
            raise InvalidColumn(
                f"{name}[{row}]={value!r} is not a timestamp", field=name, row=row, value=value
            ) from None
        if isinstance(parsed, datetime) and parsed.utcoffset() is not None:
            try:
                micros = to_micros(parsed)
            except OverflowError:  # the offset moves it out of datetime's range
                raise _out_of_range(array, row, name) from None
        elif zone_ is None:
            raise NaiveDatetime(
                f"{name}[{row}]={value!r} has no time zone; pass tz= or aware values",
                field=name,
                row=row,
                value=value,
            )
        else:
            wall = parsed if isinstance(parsed, datetime) else datetime(*parsed.timetuple()[:3])
            wall = wall.replace(tzinfo=None)
            naive_rows.append(row)
            naive_walls.append(wall)
            if hashable:
                walls[value] = wall
            continue
        out[row] = micros
        if hashable:
            cache[value] = micros
    if naive_rows:
        assert zone_ is not None
        wall_array = np.array(naive_walls, dtype="datetime64[us]")
        out[np.asarray(naive_rows)] = wall_to_micros(wall_array, tz=zone_, name=name)
    return out


def instants(
    values: Any,
    name: str,
    n: int,
    *,
    tz: str | tzinfo | None,
    fmt: str | None = None,
    copy: bool = True,
) -> I64:
    """int64 microseconds UTC from datetime64, aware datetimes or text.

    An int64 column is taken as microseconds UTC already (the library's own
    column form), and copied unless ``copy`` is False (for a reader that
    keeps nothing). Naive values need ``tz`` (their wall-clock zone).
    """
    array = as_array(values, name)
    check_length(array, n, name)
    if n == 0:
        return np.empty(0, dtype=np.int64)
    out = _instants(array, tz, name, fmt, copy)
    _check_range(out, array, name)
    return out


def _instants(
    array: npt.NDArray[Any], tz: str | tzinfo | None, name: str, fmt: str | None, copy: bool
) -> I64:
    kind = array.dtype.kind
    if kind == "M":
        return _from_datetime64(array, tz, name)
    if kind == "i":
        out = array.astype(np.int64, copy=copy)
        if len(out) and int(out.min()) == MISSING:  # NaT; a valid column costs one pass
            row = _first(out == MISSING)
            raise InvalidColumn(f"{name}[{row}] is NaT", field=name, row=row)
        return out
    if kind in "OUS":
        return _object_instants(array.astype(object, copy=False), tz, name, fmt)
    raise InvalidType(
        f"{name} must be datetime64, int64 microseconds or datetimes, not {array.dtype}",
        field=name,
        value=str(array.dtype),
    )


def as_of_micros(as_of: object, tz: str | tzinfo, name: str = "as_of") -> tuple[datetime, int]:
    """An aware datetime (or a date: local midnight in ``tz``) and its micros."""
    from loyaltycore.calendar import to_utc

    try:
        instant = to_utc(as_of, name, tz=zone(tz))
    except OverflowError:  # a date or offset at the very ends of the calendar
        raise InvalidArgument(
            f"{name}={as_of!r} falls outside the years 1 to 9999 in UTC",
            field=name,
            value=as_of,
        ) from None
    return instant, to_micros(instant)


# -- money ----------------------------------------------------------------------


def _float_minor(array: npt.NDArray[np.floating[Any]], exponent: int, name: str) -> I64:
    """Float currency units to int minor units, in cache-sized blocks.

    A float is accepted when it is exactly the double nearest to an amount
    with ``exponent`` decimals (``29.33`` is, ``1.005`` is not for cents):
    ``rint(x * 10**e) / 10**e == x``.
    """
    from loyaltycore.transactions._summary import blocks

    out = np.empty(len(array), dtype=np.int64)
    factor = float(10**exponent)
    for b in blocks(len(array)):
        values = array[b]
        bad = ~np.isfinite(values)
        if bad.any():
            _amount_error(array, b.start + _first(bad), exponent, name)
        rounded = np.rint(np.multiply(values, factor, dtype=np.float64))
        back = np.divide(rounded, factor)
        if values.dtype != np.float64:  # compare at the input's precision (float32)
            back = back.astype(values.dtype)
        bad = back != values
        bad |= np.abs(rounded) > _MAX_MINOR
        if bad.any():
            _amount_error(array, b.start + _first(bad), exponent, name)
        out[b] = rounded
    return out


def _amount_error(array: npt.NDArray[Any], row: int, exponent: int, name: str) -> None:
    value = array[row].item()
    if not math.isfinite(value):
        raise InvalidColumn(
            f"{name}[{row}]={value!r} is not a finite amount", field=name, row=row, value=value
        )
    if abs(value) * 10**exponent > _MAX_MINOR:
        raise InvalidAmount(f"{name}[{row}]={value!r} is too large", field=name, row=row)
    raise InvalidAmount(
        f"{name}[{row}]={value!r} has more than {exponent} decimals",
        field=name,
        row=row,
        value=value,
    )


#: Amount text: ASCII digits, an optional sign and at most one decimal point.
#: (``Decimal`` alone would also take ``1_000``, ``1e3``, ``Infinity`` and
#: any script's digits, such as Arabic-Indic five, U+0665.)
DECIMAL_TEXT: Final = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)")


def _decimal_minor(array: npt.NDArray[Any], exponent: int, name: str) -> I64:
    out = np.empty(len(array), dtype=np.int64)
    scale = Decimal(10) ** exponent
    for row, value in enumerate(array.tolist()):
        if value is None or type(value).__name__ in _MISSING_TYPES:
            raise InvalidColumn(f"{name}[{row}] is missing ({value!r})", field=name, row=row)
        if isinstance(value, str) and DECIMAL_TEXT.fullmatch(value.strip()) is None:
            raise InvalidColumn(
                f"{name}[{row}]={value!r} is not a decimal number (ASCII digits, an "
                f"optional sign and decimal point)",
                field=name,
                row=row,
                value=value,
            )
        if isinstance(value, float):
            if not math.isfinite(value):
                raise InvalidColumn(
                    f"{name}[{row}]={value!r} is not a finite amount", field=name, row=row
                )
            value = repr(value)
        try:
            amount = to_decimal(value, f"{name}[{row}]", allow_negative=True)
        except LoyaltyError as exc:
            raise InvalidColumn(str(exc), field=name, row=row, value=value) from None
        minor = DECIMAL_CONTEXT.multiply(amount, scale)
        if minor != minor.to_integral_value() or abs(minor) > _MAX_MINOR:
            raise InvalidAmount(
                f"{name}[{row}]={value!r} has more than {exponent} decimals or is too large",
                field=name,
                row=row,
                value=value,
            )
        out[row] = int(minor)
    return out


def minor_units(values: Any, name: str, n: int, *, exponent: int, minor: bool) -> I64:
    """int64 minor units from currency units (``minor=False``) or minor units."""
    array = as_array(values, name)
    check_length(array, n, name)
    kind = array.dtype.kind
    if kind == "b":
        raise InvalidType(f"{name} must hold amounts, not bool", field=name, value="bool")
    if minor:
        if kind not in "iu":
            raise InvalidType(
                f"{name} must be an integer column of minor units, not {array.dtype}",
                field=name,
                value=str(array.dtype),
            )
        return array.astype(np.int64, copy=True)
    if kind in "iu":
        scaled = array.astype(np.int64) * (10**exponent)
        return np.asarray(scaled, dtype=np.int64)
    if kind == "f":
        return _float_minor(array, exponent, name)
    if kind in "OUS":
        return _decimal_minor(array.astype(object, copy=False), exponent, name)
    raise InvalidType(
        f"{name} must hold amounts, not {array.dtype}", field=name, value=str(array.dtype)
    )


def check_signs(amount: I64, is_return: npt.NDArray[np.bool_] | None, name: str) -> None:
    """Negative amounts only on rows flagged as returns, and returns not positive."""
    if is_return is None and (len(amount) == 0 or int(amount.min()) >= 0):
        return  # one pass without temporaries; the row is looked for only on failure
    negative = amount < 0
    if is_return is None:
        if negative.any():
            row = _first(negative)
            raise InvalidAmount(
                f"{name}[{row}] is negative; flag returns with is_return=",
                field=name,
                row=row,
                value=int(amount[row]),
            )
        return
    wrong = negative & ~is_return
    if wrong.any():
        row = _first(wrong)
        raise InvalidAmount(
            f"{name}[{row}] is negative but not flagged as a return",
            field=name,
            row=row,
            value=int(amount[row]),
        )
    positive_return = (amount > 0) & is_return
    if positive_return.any():
        row = _first(positive_return)
        raise InvalidAmount(
            f"{name}[{row}] is a return with a positive amount; returns are negative",
            field=name,
            row=row,
            value=int(amount[row]),
        )


def flags(values: Any, name: str, n: int) -> npt.NDArray[np.bool_]:
    """A bool column (NaN and None refused)."""
    array = as_array(values, name)
    check_length(array, n, name)
    if array.dtype.kind != "b":
        raise InvalidType(
            f"{name} must be a bool column, not {array.dtype}", field=name, value=str(array.dtype)
        )
    return array.astype(np.bool_, copy=True)


def quantities(values: Any, name: str, n: int) -> I64:
    """An int64 column of quantities (integral, finite)."""
    array = as_array(values, name)
    check_length(array, n, name)
    if array.dtype.kind in "iu":
        return array.astype(np.int64, copy=True)
    if array.dtype.kind == "f":
        bad = ~np.isfinite(array) | (array != np.rint(array))
        if bad.any():
            row = _first(bad)
            raise InvalidColumn(
                f"{name}[{row}]={array[row].item()!r} is not a whole quantity", field=name, row=row
            )
        return array.astype(np.int64)
    raise InvalidType(
        f"{name} must be an integer column, not {array.dtype}", field=name, value=str(array.dtype)
    )


def check_exponent(exponent: object) -> int:
    """The currency exponent: an int in 0..8."""
    if type(exponent) is not int or not 0 <= exponent <= 8:
        raise InvalidArgument(
            f"exponent={exponent!r} must be an int in 0..8", field="exponent", value=exponent
        )
    return exponent


__all__ = [
    "DECIMAL_TEXT",
    "END",
    "EARLIEST",
    "MISSING",
    "UTC",
    "as_array",
    "as_of_micros",
    "check_exponent",
    "check_length",
    "check_signs",
    "factorize",
    "flags",
    "instants",
    "labels",
    "minor_units",
    "quantities",
    "sort_ids",
]

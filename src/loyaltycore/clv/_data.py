"""Input handling for the CLV models: columns in, validated unique rows out.

A fit accepts a Summary-like object (attributes or mapping keys named
``frequency``, ``recency``, ``T`` and, for spend, ``monetary``) or the same
columns as keyword arrays. Customers with identical histories are collapsed
into unique rows with integer weights, so a likelihood is evaluated once per
distinct history.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

from loyaltycore._validate import type_name
from loyaltycore.errors import EmptyData, InvalidArgument, InvalidColumn, InvalidType

Float = npt.NDArray[np.float64]

UNITS = ("day", "week", "month", "year")
#: Days in each time unit: a month is a twelfth of the mean Gregorian year.
DAYS = {"day": 1.0, "week": 7.0, "month": 365.25 / 12.0, "year": 365.25}


def wsum(weights: Float, values: Float) -> float:
    """Weighted sum by pairwise summation; no BLAS call, so no thread start-up."""
    return float(np.sum(weights * values))


def get_column(data: object, name: str) -> object:
    """Read column ``name`` from ``data`` by key (mappings, frames, summaries) or attribute.

    Keys come first: a data frame's ``T`` attribute is its transpose.
    """
    if isinstance(data, Mapping):
        if name in data:
            return data[name]
    else:
        getter = getattr(data, "__getitem__", None)
        if getter is not None:
            try:
                return getter(name)
            except (KeyError, IndexError, TypeError, ValueError):
                pass
        if hasattr(data, name):
            return getattr(data, name)
    raise InvalidColumn(
        f"{name}: column missing from the {type_name(data)} given as data", field=name
    )


def as_float_column(value: object, name: str) -> Float:
    """Convert one column to a 1-D finite float64 array, naming bad rows."""
    if isinstance(value, str | bytes) or value is None:
        raise InvalidType(
            f"{name}={value!r} must be an array of numbers, not {type_name(value)}",
            field=name,
            value=value,
        )
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise InvalidType(
            f"{name} must be an array of numbers; could not convert {type_name(value)}",
            field=name,
        ) from None
    if array.ndim == 0:
        array = array.reshape(1)
    if array.ndim != 1:
        raise InvalidColumn(f"{name} must be one-dimensional, got shape {array.shape}", field=name)
    bad = np.flatnonzero(~np.isfinite(array))
    if bad.size:
        row = int(bad[0])
        raise InvalidColumn(
            f"{name}[{row}]={float(array[row])!r} must be finite",
            field=name,
            row=row,
            value=float(array[row]),
        )
    return array


def _first_bad(mask: npt.NDArray[np.bool_]) -> int | None:
    rows = np.flatnonzero(mask)
    return int(rows[0]) if rows.size else None


def _fail(name: str, row: int, value: float, rule: str) -> InvalidColumn:
    return InvalidColumn(
        f"{name}[{row}]={value!r} {rule}", field=name, row=row, value=float(value)
    )


def collect(data: object, names: tuple[str, ...], given: Mapping[str, object]) -> dict[str, Float]:
    """Gather columns from ``data`` or from keyword arrays, checked for length."""
    explicit = {key: value for key, value in given.items() if value is not None}
    if data is not None and explicit:
        raise InvalidArgument(
            f"pass either data or keyword columns, not both (got {sorted(explicit)})",
            field="data",
        )
    columns: dict[str, Float] = {}
    for name in names:
        raw = get_column(data, name) if data is not None else explicit.get(name)
        if raw is None:
            raise InvalidColumn(f"{name}: column missing (pass {name}=...)", field=name)
        columns[name] = as_float_column(raw, name)
    lengths = {name: column.size for name, column in columns.items()}
    if len(set(lengths.values())) > 1:
        raise InvalidColumn(f"columns differ in length: {lengths}", field=names[0])
    return columns


def check_history(columns: Mapping[str, Float], *, allow_empty: bool = False) -> None:
    """Check the repeat-purchase history columns ``frequency``, ``recency``, ``T``."""
    x, t_x, big_t = columns["frequency"], columns["recency"], columns["T"]
    if x.size == 0 and not allow_empty:
        raise EmptyData("frequency: no customers to fit", field="frequency")
    checks: tuple[tuple[str, Float, npt.NDArray[np.bool_], str], ...] = (
        ("frequency", x, x < 0, "must be >= 0"),
        ("frequency", x, x != np.floor(x), "must be a whole number of repeat purchases"),
        ("recency", t_x, t_x < 0, "must be >= 0"),
        ("T", big_t, big_t < 0, "must be >= 0"),
        ("recency", t_x, t_x > big_t * (1 + 1e-12), "must not exceed T"),
        ("recency", t_x, (x == 0) & (t_x != 0), "must be 0 when frequency is 0"),
        ("recency", t_x, (x > 0) & (t_x == 0), "must be > 0 when frequency > 0"),
    )
    for name, values, mask, rule in checks:
        row = _first_bad(mask)
        if row is not None:
            raise _fail(name, row, float(values[row]), rule)


def weights_column(weights: object, size: int) -> Float:
    """Return per-row weights (ones when ``weights`` is None), checked."""
    if weights is None:
        return np.ones(size)
    array = as_float_column(weights, "weights")
    if array.size != size:
        raise InvalidColumn(f"weights has {array.size} rows, the data has {size}", field="weights")
    row = _first_bad(array < 0)
    if row is not None:
        raise _fail("weights", row, float(array[row]), "must be >= 0")
    if not array.sum() > 0:
        raise EmptyData("weights: all weights are zero", field="weights")
    return array


def unique_rows(columns: tuple[Float, ...], weights: Float) -> tuple[tuple[Float, ...], Float]:
    """Collapse identical rows, summing their weights; zero-weight rows drop out."""
    keep = weights > 0
    kept = [column[keep] for column in columns]
    order = np.lexsort(kept[::-1])
    ordered = [column[order] for column in kept]
    change = np.zeros(order.size, dtype=bool)
    if order.size:
        change[0] = True
    for column in ordered:
        change[1:] |= column[1:] != column[:-1]
    starts = np.flatnonzero(change)
    summed = np.add.reduceat(weights[keep][order], starts) if starts.size else np.zeros(0)
    return tuple(np.ascontiguousarray(column[starts]) for column in ordered), summed


def resolve_unit(data: object, unit: str | None) -> str:
    """The time unit of the data: ``unit=`` or the data's own ``unit``."""
    own: Any = None
    if data is not None:
        own = data.get("unit") if isinstance(data, Mapping) else getattr(data, "unit", None)
    if unit is not None and own is not None and unit != own:
        raise InvalidArgument(
            f"unit={unit!r} but the data are in {own!r}: convert the data instead",
            field="unit",
            value=unit,
        )
    found: Any = unit if unit is not None else own
    if found is None:
        raise InvalidArgument(
            "unit=None: say which unit recency and T are in (unit='day', 'week', "
            "'month' or 'year')",
            field="unit",
            value=None,
        )
    return check_unit(found, "unit")


def check_unit(value: object, name: str) -> str:
    """Return ``value`` if it is a supported time unit."""
    if value not in UNITS:
        raise InvalidArgument(f"{name}={value!r} must be one of {UNITS}", field=name, value=value)
    assert isinstance(value, str)
    return value


def unit_ratio(source: str, target: str) -> float:
    """How many ``target`` units make one ``source`` unit (week -> day: 7)."""
    return DAYS[source] / DAYS[target]


def data_unit(data: object, unit: str | None, default: str) -> str:
    """The unit of data given to a prediction: ``unit=``, the data's own, or ``default``."""
    own: Any = None
    if data is not None:
        own = data.get("unit") if isinstance(data, Mapping) else getattr(data, "unit", None)
    if unit is not None and own is not None and unit != own:
        raise InvalidArgument(
            f"unit={unit!r} but the data are in {own!r}: convert the data instead",
            field="unit",
            value=unit,
        )
    found: Any = unit if unit is not None else own if own is not None else default
    return check_unit(found, "unit")

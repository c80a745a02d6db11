"""Data frames of any engine in, numpy columns out.

A frame is whatever narwhals reads — pandas, polars (eager or lazy), pyarrow,
DuckDB relations, and more — or any object exporting an Arrow C stream
(``__arrow_c_stream__``, as every loyaltycore result does). Lazy frames
select the wanted columns first and are collected once. narwhals imports no
engine itself; nothing here imports pandas, polars or pyarrow unless the
frame came from them.

Two readings of a column:

* ``"log"`` keeps values as the column constructors expect them and lets them
  find bad rows: aware datetimes become int64 µs UTC, naive ones stay
  ``datetime64`` (to be read on ``tz=``), text stays text (``"0042"`` is never
  parsed as a number), and nulls stay visible (NaN, None, NaT) so the
  constructors refuse them with the row.
* ``"columns"`` gives the vectorized engines' column forms (see
  :class:`loyaltycore.predicates.Frame`): instants int64 µs UTC and dates
  int64 days, both with the int64 minimum for null; ints with nulls likewise;
  floats with NaN; text and categories object arrays with None.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final, Literal, TypeAlias

import numpy as np
import numpy.typing as npt

from loyaltycore._validate import type_name
from loyaltycore.errors import InvalidColumn, InvalidType

__all__ = ["Reading", "column", "is_frame", "is_series", "read_all", "read_columns", "to_numpy"]

Reading: TypeAlias = Literal["log", "columns"]
MISSING: Final = int(np.iinfo(np.int64).min)


def _narwhals() -> Any:
    import narwhals as nw

    return nw


def _from_stream(obj: object) -> Any:
    """An eager native frame read from an Arrow C stream (pyarrow, else polars)."""
    try:
        import pyarrow as pa
    except ImportError:
        from loyaltycore._validate import require

        return require("polars", "reading an Arrow stream").DataFrame(obj)
    return pa.table(obj)


def _frame(obj: object) -> Any:
    """A narwhals DataFrame or LazyFrame of ``obj``, or None if it is not a frame."""
    if isinstance(obj, np.ndarray | Mapping | list | tuple | str | bytes) or obj is None:
        return None
    nw = _narwhals()
    frame = nw.from_native(obj, pass_through=True)
    if isinstance(frame, nw.DataFrame | nw.LazyFrame):
        return frame
    if hasattr(obj, "__arrow_c_stream__") and not is_series(obj):
        return nw.from_native(_from_stream(obj), eager_only=True)
    return None


def is_frame(obj: object) -> bool:
    """True for a data frame of an engine narwhals reads, or an Arrow C stream.

    >>> import pandas as pd
    >>> is_frame(pd.DataFrame({"a": [1]})), is_frame({"a": [1]})
    (True, False)
    """
    return _frame(obj) is not None


def is_series(obj: object) -> bool:
    """True for a one-column native series (pandas, polars, pyarrow ...).

    >>> import polars as pl
    >>> is_series(pl.Series([1, 2])), is_series([1, 2])
    (True, False)
    """
    if isinstance(obj, np.ndarray | list | tuple | str | bytes) or obj is None:
        return False
    nw = _narwhals()
    return isinstance(nw.from_native(obj, series_only=True, pass_through=True), nw.Series)


def _objects(series: Any, values: npt.NDArray[Any]) -> npt.NDArray[Any]:
    out = np.asarray(values, dtype=object)
    if series.null_count():
        out = out.copy()
        out[np.asarray(series.is_null().to_numpy(), dtype=np.bool_)] = None
    return out


def to_numpy(series: Any, reading: Reading = "log") -> npt.NDArray[Any]:
    """One narwhals Series as a numpy column (see the module docstring)."""
    nw = _narwhals()
    dtype = series.dtype
    if isinstance(dtype, nw.Categorical | nw.Enum):
        series = series.cast(nw.String())
        dtype = series.dtype
    if isinstance(dtype, nw.Datetime):
        stamps = np.asarray(series.to_numpy())  # UTC wall times when the column is aware
        if dtype.time_zone or reading == "columns":
            micros: npt.NDArray[np.int64] = stamps.astype("datetime64[us]").view(np.int64)
            return micros  # NaT is already the int64 minimum
        return stamps
    if isinstance(dtype, nw.Date):
        days = np.asarray(series.to_numpy()).astype("datetime64[D]")
        return days.view(np.int64) if reading == "columns" else days
    if isinstance(dtype, nw.String):
        return _objects(series, series.to_numpy())
    if dtype.is_integer() and series.null_count():
        if reading == "columns":
            return np.asarray(series.fill_null(MISSING).to_numpy(), dtype=np.int64)
        return np.asarray(series.cast(nw.Float64()).to_numpy(), dtype=np.float64)
    values = np.asarray(series.to_numpy())
    if values.dtype == object:
        return _objects(series, values)
    return values


def _collect(frame: Any, names: list[str]) -> Any:
    nw = _narwhals()
    if isinstance(frame, nw.LazyFrame):
        return frame.select(names).collect()
    return frame.select(names)


def _eager(data: object, arg: str) -> Any:
    frame = _frame(data)
    if frame is None:
        raise InvalidType(
            f"{arg} must be a data frame (pandas, polars, pyarrow, DuckDB ...), "
            f"not {type_name(data)}",
            field=arg,
            value=type_name(data),
        )
    return frame


def _names(frame: Any) -> list[str]:
    nw = _narwhals()
    if isinstance(frame, nw.LazyFrame):
        return list(frame.collect_schema().names())
    return list(frame.columns)


def read_columns(
    data: object,
    wanted: Mapping[str, object],
    *,
    reading: Reading = "log",
    arg: str = "data",
    frames_only: bool = False,
) -> dict[str, npt.NDArray[Any]]:
    """The columns ``wanted`` (role -> column name) of a frame, by role.

    ``data`` may also be a mapping of columns, or a value offering them with
    ``columns()`` (a Summary), unless ``frames_only``.

    Raises:
        InvalidType: ``data`` is not a frame.
        InvalidColumn: a named column is missing (the message lists the
            frame's columns).

    >>> import polars as pl
    >>> frame = pl.DataFrame({"id": ["0042", "7"], "n": [1, None]})
    >>> read_columns(frame, {"customer": "id", "n": "n"})
    {'customer': array(['0042', '7'], dtype=object), 'n': array([ 1., nan])}
    """
    if not frames_only and (isinstance(data, Mapping) or callable(getattr(data, "columns", None))):
        return _from_mapping(data, wanted, arg)
    frame = _eager(data, arg)
    names = _names(frame)
    for role, name in wanted.items():
        if not isinstance(name, str) or name not in names:
            raise InvalidColumn(
                f"column {name!r} ({role}) is missing; the {arg} has {names}",
                field=role,
                value=name,
            )
    selected = _collect(frame, list(dict.fromkeys(str(name) for name in wanted.values())))
    return {role: to_numpy(selected.get_column(name), reading) for role, name in wanted.items()}


def _from_mapping(
    data: object, wanted: Mapping[str, object], arg: str
) -> dict[str, npt.NDArray[Any]]:
    """Columns of a mapping, or of a value offering ``columns()`` (a Summary)."""
    columns = data if isinstance(data, Mapping) else data.columns()  # type: ignore[attr-defined]
    out: dict[str, npt.NDArray[Any]] = {}
    for role, name in wanted.items():
        if not isinstance(name, str) or name not in columns:
            raise InvalidColumn(
                f"column {name!r} ({role}) is missing; the {arg} has {list(columns)}",
                field=role,
                value=name,
            )
        out[role] = column(columns[name])  # type: ignore[assignment]
    return out


def read_all(data: object, *, arg: str = "columns") -> dict[str, npt.NDArray[Any]]:
    """Every column of a frame in the engines' ``"columns"`` reading.

    >>> import pandas as pd
    >>> read_all(pd.DataFrame({"at": pd.to_datetime(["1970-01-01 00:00:01"], utc=True)}))
    {'at': array([1000000])}
    """
    frame = _eager(data, arg)
    names = _names(frame)
    return read_columns(frame, {name: name for name in names}, reading="columns", arg=arg)


def column(values: object, reading: Reading = "log") -> object:
    """A native series as a numpy column; anything else unchanged.

    >>> import pandas as pd
    >>> column(pd.Series(["0042", None])).tolist(), column([1, 2])
    (['0042', None], [1, 2])
    """
    if not is_series(values):
        return values
    series = _narwhals().from_native(values, series_only=True)
    return to_numpy(series, reading)

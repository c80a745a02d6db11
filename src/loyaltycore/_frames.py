"""Results as data frames: one schema of typed columns, three targets.

Every tabular result describes itself once, as a tuple of :class:`Col` (a
name, a kind and a numpy array) from its ``_columns_for_frames()`` hook, and
inherits :class:`Frames`, which turns that description into a pyarrow
``Table``, a pandas or a polars ``DataFrame``, or an Arrow C stream
(``__arrow_c_stream__``, so polars, pyarrow and DuckDB read a result
directly). Each library is imported only when its method is called.

The kinds and what each target gets:

============  ==============================  ====================  ===================
kind          numpy column                    pyarrow / polars      pandas
============  ==============================  ====================  ===================
``instant``   int64 µs UTC, ``MISSING``       timestamp[us, UTC],   datetime64[us, UTC],
              (int64 min) where absent        null where absent     NaT where absent
``date``      datetime64[D], a local date     date32 / Date         datetime64[s]
``money``     int64 minor units               int64 (or float64     int64 (or float64
                                              units, ``money=``)    units)
``category``  int codes into ``labels``,      dictionary / Enum     Categorical
              -1 where absent
``int``       int64 (``null`` marks absent)   int64 (nulls)         int64 (Int64 if
                                                                    nulls)
``float``     float64, NaN where absent       float64, null         float64, NaN
``bool``      bool                            bool                  bool
``id``        int64, or an object array       int64 or string       int64 or str
``text``      object array of str or None     string                str
============  ==============================  ====================  ===================

Ids that are neither all int nor all str (UUIDs, mixed types) are written as
their ``str()``. Category labels that are not all str are written as plain
values (as ``id`` columns).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Final, Literal, TypeAlias

import attrs
import numpy as np
import numpy.typing as npt

from loyaltycore.errors import InvalidArgument

if TYPE_CHECKING:
    import pandas
    import polars
    import pyarrow

__all__ = ["Col", "Frames", "Kind", "Money", "infer"]

Kind: TypeAlias = Literal[
    "instant", "date", "money", "category", "int", "float", "bool", "id", "text"
]
Money: TypeAlias = Literal["minor", "float"]

#: The missing instant of an int64 micros column (the same bits as NaT).
MISSING: Final = int(np.iinfo(np.int64).min)


@attrs.frozen
class Col:
    """One column of a result: its name, kind and values (see the module table).

    ``labels`` are the names that ``category`` codes index; ``null`` is the
    value of an ``int`` column that stands for "absent"; ``exponent`` the
    decimals of a ``money`` column.

    >>> Col("n", "int", np.array([1, 2])).kind
    'int'
    """

    name: str
    kind: Kind
    values: npt.NDArray[Any] = attrs.field(eq=False)
    labels: Sequence[Any] = ()
    null: int | None = None
    exponent: int = 2


def _money_mode(money: object) -> Money:
    if money == "minor":
        return "minor"
    if money == "float":
        return "float"
    raise InvalidArgument(
        f"money={money!r} must be 'minor' (int minor units) or 'float' (currency units)",
        field="money",
        value=money,
    )


def _require(module: str, feature: str) -> Any:
    from loyaltycore._validate import require

    return require(module, feature)


# -- one column, decoded to numpy shapes every target understands ---------------


def _ids(values: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """int64 ids as they are; text ids as an object array of str."""
    if values.dtype.kind in "iu":
        return values.astype(np.int64, copy=False)
    items = values.tolist()
    if all(type(v) is str for v in items):
        return values
    if items and all(type(v) is int for v in items):
        return np.asarray(items, dtype=np.int64)
    out = np.empty(len(items), dtype=object)
    out[:] = [None if v is None else str(v) for v in items]
    return out


def _text_labels(col: Col) -> bool:
    return all(type(label) is str for label in col.labels)


def _decoded(col: Col) -> npt.NDArray[Any]:
    """The values of a category whose labels are not all text."""
    table = np.empty(len(col.labels) + 1, dtype=object)
    table[:-1] = list(col.labels)
    table[-1] = None
    return _ids(table[np.asarray(col.values, dtype=np.int64)])


def _null_mask(col: Col) -> npt.NDArray[np.bool_] | None:
    values = col.values
    mask: npt.NDArray[np.bool_] | None = None
    if col.kind == "instant":
        mask = values == MISSING
    elif col.kind == "int" and col.null is not None:
        mask = values == col.null
    elif col.kind == "float":
        mask = np.isnan(values)
    elif col.kind == "category":
        mask = values < 0
    if mask is None or not mask.any():
        return None
    return mask


# -- pyarrow ---------------------------------------------------------------------


def _arrow_array(pa: Any, col: Col, money: Money) -> Any:
    values, mask = col.values, _null_mask(col)
    kind = col.kind
    if kind == "instant":
        return pa.array(values, type=pa.timestamp("us", tz="UTC"), mask=mask)
    if kind == "date":
        return pa.array(values.astype("datetime64[D]"), type=pa.date32())
    if kind == "money":
        if money == "float":
            return pa.array(values / 10.0**col.exponent, type=pa.float64())
        return pa.array(values, type=pa.int64())
    if kind == "category":
        if not _text_labels(col):
            return pa.array(_decoded(col))
        indices = pa.array(values.astype(np.int32), type=pa.int32(), mask=mask)
        return pa.DictionaryArray.from_arrays(indices, pa.array(list(col.labels), pa.string()))
    if kind == "int":
        return pa.array(values.astype(np.int64, copy=False), type=pa.int64(), mask=mask)
    if kind == "float":
        return pa.array(values, type=pa.float64(), mask=mask)
    if kind == "bool":
        return pa.array(values, type=pa.bool_())
    ids = _ids(values)
    return pa.array(ids, type=pa.int64() if ids.dtype.kind == "i" else pa.string())


def to_arrow(cols: Sequence[Col], money: object = "minor") -> pyarrow.Table:
    """A pyarrow Table of the columns."""
    mode = _money_mode(money)
    pa = _require("pyarrow", "to_arrow()")
    return pa.table({col.name: _arrow_array(pa, col, mode) for col in cols})


# -- pandas ----------------------------------------------------------------------


def _pandas_series(pd: Any, col: Col, money: Money) -> Any:
    values, kind = col.values, col.kind
    if kind == "instant":
        stamps = pd.Series(values.view("datetime64[us]"), copy=False)
        return stamps.dt.tz_localize("UTC")
    if kind == "date":
        return pd.Series(values.astype("datetime64[s]"), copy=False)
    if kind == "money" and money == "float":
        return pd.Series(values / 10.0**col.exponent, copy=False)
    if kind == "category":
        if not _text_labels(col):
            return pd.Series(_decoded(col))
        codes = np.asarray(values, dtype=np.int64)
        return pd.Series(pd.Categorical.from_codes(codes, categories=list(col.labels)))
    if kind == "int":
        mask = _null_mask(col)
        ints = values.astype(np.int64, copy=False)
        if mask is not None:
            return pd.Series(pd.arrays.IntegerArray(ints, mask))
        return pd.Series(ints, copy=False)
    if kind in ("id", "text"):
        return pd.Series(_ids(values))
    return pd.Series(values, copy=False)


def to_pandas(cols: Sequence[Col], money: object = "minor") -> pandas.DataFrame:
    """A pandas DataFrame of the columns (numpy-backed, no pyarrow needed)."""
    mode = _money_mode(money)
    pd = _require("pandas", "to_pandas()")
    series = {col.name: _pandas_series(pd, col, mode) for col in cols}
    frame: pandas.DataFrame = pd.DataFrame(series, copy=False)
    return frame


# -- polars ----------------------------------------------------------------------


def _polars_series(pl: Any, col: Col, money: Money) -> Any:
    values, kind, name = col.values, col.kind, col.name
    if kind == "instant":
        stamps = pl.Series(name, values.view("datetime64[us]"))  # NaT becomes null
        return stamps.dt.replace_time_zone("UTC")
    if kind == "date":
        return pl.Series(name, values.astype("datetime64[D]"))
    if kind == "money":
        scaled = values / 10.0**col.exponent if money == "float" else values
        return pl.Series(name, scaled)
    if kind == "category":
        if not _text_labels(col):
            return pl.Series(name, _decoded(col))
        labels = pl.Series(name, list(col.labels), dtype=pl.Enum(list(col.labels)))
        index = pl.Series(np.asarray(values, dtype=np.int64))
        return labels.gather(pl.select(pl.when(index >= 0).then(index)).to_series())
    if kind == "int":
        series = pl.Series(name, values.astype(np.int64, copy=False))
        mask = _null_mask(col)
        if mask is None:
            return series
        return series.scatter(np.flatnonzero(mask), None)
    if kind == "float":
        return pl.Series(name, values, nan_to_null=True)
    if kind in ("id", "text"):
        ids = _ids(values)
        return pl.Series(name, ids, dtype=pl.Int64 if ids.dtype.kind == "i" else pl.String)
    return pl.Series(name, values)


def to_polars(cols: Sequence[Col], money: object = "minor") -> polars.DataFrame:
    """A polars DataFrame of the columns."""
    mode = _money_mode(money)
    pl = _require("polars", "to_polars()")
    frame: polars.DataFrame = pl.DataFrame([_polars_series(pl, col, mode) for col in cols])
    return frame


# -- the mixin -------------------------------------------------------------------


def infer(name: str, values: npt.NDArray[Any]) -> Col:
    """A column whose kind follows its numpy dtype (int, float, bool, date, ids or text).

    >>> infer("d", np.array(["2024-01-01"], dtype="datetime64[D]")).kind
    'date'
    """
    kind = values.dtype.kind
    if kind in "iu":
        return Col(name, "int", values)
    if kind == "f":
        return Col(name, "float", values)
    if kind == "b":
        return Col(name, "bool", values)
    if kind == "M" and np.datetime_data(values.dtype)[0] == "D":
        return Col(name, "date", values)
    if kind == "M":  # instants of another resolution, read as UTC
        return Col(name, "instant", values.astype("datetime64[us]").view(np.int64))
    return Col(name, "id", values.astype(object, copy=False))


class Frames:
    """``to_arrow``, ``to_pandas``, ``to_polars``, ``to_frame`` and the Arrow C stream.

    A class inherits it and describes its columns once: by default the kinds
    follow the dtypes of its ``columns()`` mapping (:func:`infer`); a class
    whose columns carry more meaning (instants, money, labels) implements
    ``_columns_for_frames()`` and returns :class:`Col` values. Everything else
    is shared.
    """

    __slots__ = ()

    def _columns_for_frames(self) -> tuple[Col, ...]:
        columns = getattr(self, "columns", None)
        if not callable(columns):
            raise TypeError(f"{type(self).__name__} describes no columns")
        return tuple(infer(name, np.asarray(values)) for name, values in columns().items())

    def to_arrow(self, *, money: Money = "minor") -> pyarrow.Table:
        """The result as a pyarrow ``Table`` (needs pyarrow).

        Args:
            money: "minor" keeps money columns as int64 minor units; "float"
                gives float64 currency units.

        Raises:
            MissingDependency: pyarrow is not installed.
            InvalidArgument: an unknown ``money`` mode.

        >>> from loyaltycore.metrics import tier_distribution
        >>> tier_distribution(["gold", "base", "gold"]).to_arrow().schema
        label: dictionary<values=string, indices=int32, ordered=0>
        count: int64
        share: double
        """
        return to_arrow(self._columns_for_frames(), money)

    def to_pandas(self, *, money: Money = "minor") -> pandas.DataFrame:
        """The result as a pandas ``DataFrame`` (needs pandas, not pyarrow).

        Args:
            money: "minor" keeps money columns as int64 minor units; "float"
                gives float64 currency units.

        Raises:
            MissingDependency: pandas is not installed.
            InvalidArgument: an unknown ``money`` mode.

        >>> from loyaltycore.metrics import tier_distribution
        >>> tier_distribution(["gold", "base", "gold"]).to_pandas()
          label  count     share
        0  base      1  0.333333
        1  gold      2  0.666667
        """
        return to_pandas(self._columns_for_frames(), money)

    def to_polars(self, *, money: Money = "minor") -> polars.DataFrame:
        """The result as a polars ``DataFrame`` (needs polars, not pyarrow).

        Args:
            money: "minor" keeps money columns as int64 minor units; "float"
                gives float64 currency units.

        Raises:
            MissingDependency: polars is not installed.
            InvalidArgument: an unknown ``money`` mode.

        >>> from loyaltycore.metrics import tier_distribution
        >>> tier_distribution(["gold", "base", "gold"]).to_polars()["label"].to_list()
        ['base', 'gold']
        """
        return to_polars(self._columns_for_frames(), money)

    def to_frame(self, backend: str = "pandas", *, money: Money = "minor") -> object:
        """The result as a frame of ``backend``: "pandas", "polars" or "pyarrow".

        Raises:
            InvalidArgument: another backend.

        >>> from loyaltycore.metrics import tier_distribution
        >>> type(tier_distribution(["gold"]).to_frame("polars")).__name__
        'DataFrame'
        """
        convert = {
            "pandas": self.to_pandas,
            "polars": self.to_polars,
            "pyarrow": self.to_arrow,
            "arrow": self.to_arrow,
        }.get(backend)
        if convert is None:
            raise InvalidArgument(
                f"backend={backend!r} must be 'pandas', 'polars' or 'pyarrow'",
                field="backend",
                value=backend,
            )
        frame: object = convert(money=money)
        return frame

    def __arrow_c_stream__(self, requested_schema: object = None) -> object:
        """The Arrow PyCapsule stream of :meth:`to_arrow` (needs pyarrow).

        ``polars.DataFrame(result)``, ``pyarrow.table(result)`` and DuckDB's
        ``FROM result`` read a result through it.

        >>> import polars as pl
        >>> from loyaltycore.metrics import tier_distribution
        >>> pl.DataFrame(tier_distribution(["gold", "base", "gold"]))["count"].to_list()
        [1, 2]
        """
        capsule: object = self.to_arrow().__arrow_c_stream__(requested_schema)
        return capsule

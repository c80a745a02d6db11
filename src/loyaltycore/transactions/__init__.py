"""The columnar transaction log and per-customer summaries (Facts).

A :class:`TransactionLog` holds one row per transaction in numpy columns:
customer ids factorised once to int64 codes (codes follow the sorted order of
the ids), instants as int64 microseconds UTC, money as int64 minor units, and
optional quantities, categories, channels and return flags. Columns are copied
on entry and read-only.

:func:`summarize` condenses a log into a :class:`Summary`: one row per
customer, the Facts of the design (first, previous and last purchase, count,
total, repeat ``frequency`` in distinct local purchase days, ``recency`` =
last - first and ``T`` = as_of - first in the CLV literature's sense,
``days_since_last``, ``monetary``, median gap ...). Summaries of disjoint
customer sets merge (:meth:`Summary.concat`), so a summary can be built per
partition and merged.

>>> from datetime import datetime, timezone
>>> import numpy as np
>>> log = TransactionLog.from_arrays(
...     customer=[1, 1, 2, 1],
...     at=np.array(["2024-01-01T10:00", "2024-01-01T18:00", "2024-01-03T09:00",
...                  "2024-01-15T12:00"], dtype="datetime64[m]"),
...     amount=[10.0, 5.5, 20.0, 30.0],
...     tz="UTC",
... )
>>> s = summarize(log, as_of=datetime(2024, 1, 29, tzinfo=timezone.utc), unit="week")
>>> s["frequency"], s["recency"], s["T"], s["monetary"]
(array([1, 0]), array([2., 0.]), array([4.        , 3.71428571]), array([30.,  0.]))
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Hashable, Iterable, Iterator, Mapping
from datetime import datetime, tzinfo
from decimal import Decimal
from os import PathLike
from typing import Any, ClassVar, Final, Literal, TypeAlias

import attrs
import numpy as np
import numpy.typing as npt

from loyaltycore._frames import Col, Frames, Kind
from loyaltycore._public import publish
from loyaltycore.calendar import UTC, from_micros, zone
from loyaltycore.errors import (
    EmptyData,
    InvalidArgument,
    InvalidColumn,
    InvalidTime,
    InvalidType,
    LoyaltyError,
)
from loyaltycore.progress import Progress, check_progress
from loyaltycore.transactions import _input as tx
from loyaltycore.transactions._summary import summary_columns

__all__ = [
    "CalibrationHoldout",
    "FIELDS",
    "Facts",
    "MISSING",
    "Summary",
    "TransactionLog",
    "Unit",
    "calibration_holdout",
    "summarize",
]

#: The missing instant in an int64 micros column (the same bits as NaT).
MISSING: Final = tx.MISSING

Unit: TypeAlias = Literal["day", "week"]

I64 = npt.NDArray[np.int64]


def _array_eq(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is b
    if a.dtype.kind == "f" and b.dtype.kind == "f":
        return bool(np.array_equal(a, b, equal_nan=True))
    return bool(np.array_equal(a, b))


def _float_eq(a: float, b: float) -> bool:
    return a == b or (a != a and b != b)


@attrs.frozen
class _Owned:
    """A freshly built array handed over to a value without a defensive copy."""

    array: npt.NDArray[Any]


def _frozen(value: npt.ArrayLike | None) -> Any:
    given: object = value
    if given is None:
        return None
    array = given.array if isinstance(given, _Owned) else np.array(value, copy=True)
    array.flags.writeable = False
    return array


def _own(value: npt.NDArray[Any] | None) -> Any:
    return None if value is None else _Owned(value)


def _array_field() -> Any:
    return attrs.field(converter=_frozen, eq=attrs.cmp_using(eq=_array_eq), repr=False)


def _optional_field() -> Any:
    return attrs.field(
        default=None, converter=_frozen, eq=attrs.cmp_using(eq=_array_eq), repr=False
    )


def _tz_name(tz: str | tzinfo) -> str:
    resolved = zone(tz)
    if resolved is UTC:
        return "UTC"
    key = getattr(resolved, "key", None)
    if isinstance(key, str):
        return key
    raise InvalidArgument(f"tz={tz!r} must be an IANA zone", field="tz", value=tz)


def _check_unit(unit: object) -> Unit:
    if unit == "day":
        return "day"
    if unit == "week":
        return "week"
    raise InvalidArgument(f"unit={unit!r} must be 'day' or 'week'", field="unit", value=unit)


# -- the log --------------------------------------------------------------------


def _located(
    exc: LoyaltyError, path: object, line: int | None, columns: Mapping[str, str | int]
) -> LoyaltyError:
    """The same error, its message prefixed with the file, line and column it came from."""
    role = getattr(exc, "field", None)
    column = columns.get(role) if isinstance(role, str) else None
    where = [str(path)]
    if line is not None:
        where.append(f"line {line}")
    if column is not None:
        where.append(f"column {column!r}")
    context = dict(vars(exc))
    context.update(path=str(path), line=line, column=column)
    return type(exc)(f"{', '.join(where)}: {exc}", **context)


@attrs.frozen
class TransactionLog(Frames):
    """Transactions in numpy columns, one row per transaction.

    Build it with :meth:`from_arrays`, :meth:`from_frame` or :meth:`from_csv`;
    the plain initializer takes already-validated columns. ``codes`` index
    ``customer_ids`` (sorted distinct ids: int64 when the ids were ints, object
    otherwise); ``at`` is int64 micros UTC; ``amount`` int64 minor units
    (``exponent`` decimals); returns carry negative amounts and
    ``is_return=True``.

    >>> log = TransactionLog.from_arrays(
    ...     customer=["b", "a", "b"], at=np.array(["2024-05-01", "2024-05-02", "2024-05-09"],
    ...     dtype="datetime64[D]"), amount=[12.5, 3, 7.25], tz="Europe/Paris")
    >>> len(log), log.customer_ids.tolist(), log.codes.tolist(), log.amount.tolist()
    (3, ['a', 'b'], [1, 0, 1], [1250, 300, 725])
    >>> log.customer.tolist()
    ['b', 'a', 'b']
    >>> log
    TransactionLog(rows=3, customers=2, exponent=2)
    """

    codes: I64 = _array_field()
    customer_ids: npt.NDArray[Any] = _array_field()
    at: I64 = _array_field()
    amount: I64 = _array_field()
    quantity: I64 | None = _optional_field()
    category: I64 | None = _optional_field()
    category_labels: npt.NDArray[Any] | None = _optional_field()
    channel: I64 | None = _optional_field()
    channel_labels: npt.NDArray[Any] | None = _optional_field()
    is_return: npt.NDArray[np.bool_] | None = _optional_field()
    exponent: int = 2

    def __attrs_post_init__(self) -> None:
        n = len(self.codes)
        for name in ("at", "amount", "quantity", "category", "channel", "is_return"):
            column = getattr(self, name)
            if column is not None and len(column) != n:
                raise InvalidColumn(
                    f"{name} has {len(column)} rows, expected {n}", field=name, value=len(column)
                )

    def __repr__(self) -> str:
        return (
            f"TransactionLog(rows={len(self)}, customers={self.n_customers}, "
            f"exponent={self.exponent})"
        )

    def __len__(self) -> int:
        return len(self.codes)

    @property
    def n_customers(self) -> int:
        """Number of distinct customers in the log.

        >>> TransactionLog.from_arrays([7, 7, 9], np.zeros(3, "datetime64[s]"), [1, 2, 3],
        ...                            tz="UTC").n_customers
        2
        """
        return len(self.customer_ids)

    @property
    def customer(self) -> npt.NDArray[Any]:
        """The customer id of every row (``customer_ids[codes]``).

        >>> TransactionLog.from_arrays(["b", "a"], np.zeros(2, "datetime64[s]"), [1, 2],
        ...                            tz="UTC").customer.tolist()
        ['b', 'a']
        """
        result: npt.NDArray[Any] = self.customer_ids[self.codes]
        return result

    @classmethod
    def from_arrays(
        cls,
        customer: npt.ArrayLike,
        at: npt.ArrayLike,
        amount: npt.ArrayLike,
        *,
        tz: str | tzinfo | None = None,
        exponent: int = 2,
        minor_units: bool = False,
        quantity: npt.ArrayLike | None = None,
        category: npt.ArrayLike | None = None,
        channel: npt.ArrayLike | None = None,
        is_return: npt.ArrayLike | None = None,
        at_format: str | None = None,
    ) -> TransactionLog:
        """Build a log from columns (numpy arrays or sequences).

        Args:
            customer: hashable ids, one per row (ints stay int64); an empty
                or all-blank text id is refused.
            at: ``datetime64`` (then ``tz=`` names its wall-clock zone, or
                ``"UTC"``), int64 microseconds UTC, aware datetimes, or text
                (ISO-8601, or ``at_format`` for :meth:`datetime.strptime`);
                naive values need ``tz=``. Instants must lie from 0001-01-02
                to 9998-12-31 (UTC), so every local date, the day after it
                and the period after it exist in any zone.
            amount: currency units (float, int, Decimal or str), or int minor
                units when ``minor_units=True``. Floats with more than
                ``exponent`` decimals are refused; text is ASCII digits with
                an optional sign and decimal point.
            tz: the wall-clock zone of naive timestamps.
            exponent: decimals of the currency (2 for cents).
            minor_units: read ``amount`` as int minor units.
            quantity, category, channel: optional columns.
            is_return: optional bool column; negative amounts are allowed only
                on these rows, and these rows must not be positive.
            at_format: a ``strptime`` format for text timestamps.

        Returns:
            A new :class:`TransactionLog`.

        Raises:
            InvalidColumn: NaN / inf amounts, amount text that is not a plain
                decimal, NaT, unparseable or out-of-range timestamps, missing
                or empty ids, columns of different lengths (naming the row).
            NaiveDatetime: naive timestamps without ``tz=``.
            InvalidAmount: a negative amount not flagged as a return.

        >>> TransactionLog.from_arrays([1], ["2024-01-01T00:00"], [float("nan")], tz="UTC")
        Traceback (most recent call last):
        ...
        loyaltycore.errors.InvalidColumn: amount[0]=nan is not a finite amount
        """
        exp = tx.check_exponent(exponent)
        codes, ids = tx.factorize(customer, "customer")
        n = len(codes)
        micros = tx.instants(at, "at", n, tz=tz, fmt=at_format)
        minor = tx.minor_units(amount, "amount", n, exponent=exp, minor=minor_units)
        returns = None if is_return is None else tx.flags(is_return, "is_return", n)
        labelled = {}
        if category is not None:
            labelled["category"] = tx.labels(category, "category", n)
        if channel is not None:
            labelled["channel"] = tx.labels(channel, "channel", n)
        qty = None if quantity is None else tx.quantities(quantity, "quantity", n)
        return cls._from_parts(
            (codes, ids), micros, minor, returns=returns, quantity=qty, exponent=exp, **labelled
        )

    @classmethod
    def _from_parts(
        cls,
        customer: tuple[I64, npt.NDArray[Any]],
        micros: I64,
        minor: I64,
        *,
        returns: npt.NDArray[np.bool_] | None = None,
        quantity: I64 | None = None,
        category: tuple[I64, npt.NDArray[Any]] | None = None,
        channel: tuple[I64, npt.NDArray[Any]] | None = None,
        exponent: int,
    ) -> TransactionLog:
        """A log of freshly built, checked columns (owned, not copied); signs checked here."""
        tx.check_signs(minor, returns, "amount")
        cat, lab = (None, None) if category is None else category
        chan, chan_lab = (None, None) if channel is None else channel
        return cls(
            codes=_own(customer[0]),
            customer_ids=_own(customer[1]),
            at=_own(micros),
            amount=_own(minor),
            quantity=_own(quantity),
            category=_own(cat),
            category_labels=_own(lab),
            channel=_own(chan),
            channel_labels=_own(chan_lab),
            is_return=_own(returns),
            exponent=exponent,
        )

    @classmethod
    def from_frame(
        cls,
        frame: object,
        *,
        customer: str = "customer_id",
        at: str = "at",
        amount: str = "amount",
        tz: str | tzinfo | None = None,
        exponent: int = 2,
        minor_units: bool = False,
        quantity: str | None = None,
        category: str | None = None,
        channel: str | None = None,
        is_return: str | None = None,
        at_format: str | None = None,
    ) -> TransactionLog:
        """Build a log from a pandas, polars, pyarrow frame or a DuckDB relation.

        Any frame narwhals reads works (lazy ones are collected once, with
        only the named columns), and so does any object exporting an Arrow
        C stream. Column arguments name the frame's columns. Time-zone-aware
        datetime columns are converted to UTC; naive ones need ``tz=``. Text
        ids stay text: ``"0042"`` is never read as the number 42. Other
        arguments are as in :meth:`from_arrays`.

        Raises:
            InvalidType: ``frame`` is not a data frame.
            InvalidColumn: a named column is missing (the message lists the
                frame's columns), or any error of :meth:`from_arrays`.

        >>> import pandas as pd
        >>> df = pd.DataFrame({"customer_id": [1, 2], "amount": [9.99, 5.0],
        ...     "at": pd.to_datetime(["2024-03-01 10:00", "2024-03-02 11:00"]).tz_localize(
        ...         "America/New_York")})
        >>> log = TransactionLog.from_frame(df)
        >>> from_micros(int(log.at[0]))
        datetime.datetime(2024, 3, 1, 15, 0, tzinfo=datetime.timezone.utc)
        """
        from loyaltycore._native import read_columns

        wanted = {"customer": customer, "at": at, "amount": amount}
        optional = {"quantity": quantity, "category": category, "channel": channel}
        optional["is_return"] = is_return
        wanted.update({k: v for k, v in optional.items() if v is not None})
        columns = read_columns(frame, wanted, arg="frame", frames_only=True)
        return cls.from_arrays(
            tz=tz,
            exponent=exponent,
            minor_units=minor_units,
            at_format=at_format,
            **columns,
        )

    @classmethod
    def from_csv(
        cls,
        path: str | PathLike[str],
        *,
        customer: str | int = "customer_id",
        at: str | int = "at",
        amount: str | int = "amount",
        tz: str | tzinfo | None = None,
        at_format: str | None = None,
        delimiter: str | None = ",",
        header: bool = True,
        exponent: int = 2,
        quantity: str | int | None = None,
        category: str | int | None = None,
        channel: str | int | None = None,
        is_return: str | int | None = None,
        encoding: str = "utf-8",
        engine: Literal["auto", "pyarrow", "python"] = "auto",
    ) -> TransactionLog:
        """Read a delimited text file (no pandas needed).

        Columns are named by header names, or by 0-based positions (always
        when ``header=False``); a header name that appears twice is refused
        rather than guessed. ``delimiter=None`` splits on runs of whitespace.
        The file is decoded with ``encoding``; a leading byte-order mark is
        dropped (so Excel's "CSV UTF-8" reads). Customer ids are kept as
        text and may not be empty; amounts are read as decimal text (so
        ``"19.99"`` is exact) of ASCII digits with an optional sign and
        decimal point — no digit separators, exponents or other scripts'
        digits; a quantity column holds ASCII integers; an ``is_return``
        column holds true/false, yes/no or 1/0.

        With pyarrow installed (the ``report`` extra) a plain UTF-8 file with
        a header is parsed in blocks at C speed (instants in ISO-8601, or in
        an ``at_format`` of ``%Y``, ``%m``, ``%d``, ``%H``, ``%M``, ``%S``,
        ``%f`` and literal ASCII written zero-padded); any file that path does not
        take, or any value it cannot convert exactly as the standard-library
        reader would, is read by the standard-library reader, so the files
        accepted and the errors raised are the same either way.
        ``engine="python"`` always uses the standard-library reader;
        ``engine="pyarrow"`` insists on pyarrow.

        Every error about the file names it, the physical line (of the
        header for a missing or repeated column; where a record starts for
        one spanning lines) and the column, in the message and as the
        ``path``, ``line`` and ``column`` attributes.

        Raises:
            InvalidColumn: a missing or repeated column, a short line, bytes
                not valid in ``encoding``, a record over the csv module's
                field size limit, or any error of :meth:`from_arrays`.
            EmptyData: an empty file where a header was expected.
            InvalidArgument: an unknown encoding, or a delimiter that is not
                one character (other than a quote or a line break), or an
                unknown ``engine``.
            MissingDependency: ``engine="pyarrow"`` without pyarrow.

        >>> import pathlib, tempfile
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "tx.csv"
        >>> _ = path.write_text("customer_id,at,amount\\nc1,2024-01-01T09:00+01:00,19.99\\n")
        >>> TransactionLog.from_csv(path).amount.tolist()
        [1999]
        """
        from loyaltycore.transactions import _arrow
        from loyaltycore.transactions._frame import read_delimited

        wanted: dict[str, str | int] = {"customer": customer, "at": at, "amount": amount}
        optional = {"quantity": quantity, "category": category, "channel": channel}
        optional["is_return"] = is_return
        wanted.update({k: v for k, v in optional.items() if v is not None})
        exp = tx.check_exponent(exponent)
        if engine not in ("auto", "pyarrow", "python"):
            raise InvalidArgument(
                f"engine={engine!r} must be 'auto', 'pyarrow' or 'python'",
                field="engine",
                value=engine,
            )
        if engine == "pyarrow":
            from loyaltycore._validate import require

            require("pyarrow", "from_csv(engine='pyarrow')")
        parts = (
            None
            if engine == "python"
            else _arrow.read_csv(
                path,
                wanted,
                delimiter=delimiter,
                header=header,
                encoding=encoding,
                tz=tz,
                at_format=at_format,
                exponent=exp,
            )
        )
        if parts is not None:
            with contextlib.suppress(LoyaltyError):  # the stdlib reader names the line
                return cls._from_parts(
                    parts.pop("customer"),
                    parts.pop("at"),
                    parts.pop("amount"),
                    returns=parts.pop("is_return", None),
                    exponent=exp,
                    **parts,
                )
        try:
            columns, lines = read_delimited(
                path, wanted, delimiter=delimiter, header=header, encoding=encoding
            )
        except InvalidColumn as exc:
            if getattr(exc, "line", None) is not None:
                raise
            raise _located(exc, path, 1 if header else None, wanted) from None
        try:
            if "quantity" in columns:
                columns["quantity"] = tx.as_array(
                    [_int_text(v, "quantity", i) for i, v in enumerate(columns["quantity"])],
                    "quantity",
                )
            if "is_return" in columns:
                columns["is_return"] = tx.as_array(
                    [_flag_text(v, "is_return", i) for i, v in enumerate(columns["is_return"])],
                    "is_return",
                ).astype(np.bool_)
            return cls.from_arrays(tz=tz, exponent=exponent, at_format=at_format, **columns)
        except LoyaltyError as exc:
            row = getattr(exc, "row", None)
            line = lines[row] if isinstance(row, int) and 0 <= row < len(lines) else None
            raise _located(exc, path, line, wanted) from None

    @classmethod
    def from_parquet(
        cls,
        path: str | PathLike[str],
        *,
        customer: str = "customer_id",
        at: str = "at",
        amount: str = "amount",
        tz: str | tzinfo | None = None,
        exponent: int = 2,
        minor_units: bool = False,
        quantity: str | None = None,
        category: str | None = None,
        channel: str | None = None,
        is_return: str | None = None,
    ) -> TransactionLog:
        """Read a Parquet file through pyarrow (the ``report`` extra).

        Only the named columns are read, in row groups; then the columns are
        taken as in :meth:`from_frame` (aware timestamps are converted to
        UTC, text ids stay text, decimal amounts are exact).

        Raises:
            MissingDependency: pyarrow is not installed.
            InvalidColumn: a missing column, or any error of :meth:`from_arrays`,
                prefixed with the file and the column.

        >>> import pathlib, tempfile
        >>> import pyarrow as pa, pyarrow.parquet as pq
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "tx.parquet"
        >>> pq.write_table(pa.table({"customer_id": ["0042"], "amount": [1999],
        ...     "at": pa.array([0], pa.timestamp("us", tz="UTC"))}), path)
        >>> log = TransactionLog.from_parquet(path, minor_units=True)
        >>> log.customer_ids.tolist(), log.amount.tolist()
        (['0042'], [1999])
        """
        from loyaltycore._validate import require

        require("pyarrow", "from_parquet()")
        import pyarrow as pa
        import pyarrow.parquet as pq

        wanted = {"customer": customer, "at": at, "amount": amount}
        optional = {"quantity": quantity, "category": category, "channel": channel}
        optional["is_return"] = is_return
        wanted.update({k: v for k, v in optional.items() if v is not None})
        names = {role: name for role, name in wanted.items() if name is not None}
        try:
            handle = pq.ParquetFile(path)
            present = handle.schema_arrow.names
            columns = [name for name in dict.fromkeys(names.values()) if name in present]
            schema = pa.schema([handle.schema_arrow.field(name) for name in columns])
            table = pa.Table.from_batches(handle.iter_batches(columns=columns), schema=schema)
            return cls.from_frame(
                table, tz=tz, exponent=exponent, minor_units=minor_units, **names
            )
        except LoyaltyError as exc:
            raise _located(exc, path, None, names) from None

    def select(self, rows: npt.ArrayLike) -> TransactionLog:
        """The log restricted to ``rows`` (a bool mask or row indices).

        Customer codes and labels are kept, so summaries of selections of one
        log share the same ids.

        >>> at = np.zeros(2, "datetime64[s]")
        >>> log = TransactionLog.from_arrays([1, 2], at, [1, 2], tz="UTC")
        >>> log.select(log.amount > 100).n_customers, len(log.select([1]))
        (2, 1)
        """
        index = np.asarray(rows)

        def take(col: npt.NDArray[Any] | None) -> npt.NDArray[Any] | None:
            return None if col is None else col[index]

        return attrs.evolve(
            self,
            codes=self.codes[index],
            at=self.at[index],
            amount=self.amount[index],
            quantity=take(self.quantity),
            category=take(self.category),
            channel=take(self.channel),
            is_return=take(self.is_return),
        )

    def _columns_for_frames(self) -> tuple[Col, ...]:
        cols = [
            Col("customer_id", "id", self.customer),
            Col("at", "instant", self.at),
            Col("amount", "money", self.amount, exponent=self.exponent),
        ]
        if self.quantity is not None:
            cols.append(Col("quantity", "int", self.quantity))
        for name in ("category", "channel"):
            codes, labels = getattr(self, name), getattr(self, f"{name}_labels")
            if codes is not None and labels is not None:
                cols.append(Col(name, "category", codes, labels=labels.tolist()))
        if self.is_return is not None:
            cols.append(Col("is_return", "bool", self.is_return))
        return tuple(cols)

    def columns(self) -> dict[str, npt.NDArray[Any]]:
        """The log's columns by name (read-only arrays; ids per row).

        >>> sorted(TransactionLog.from_arrays([1], np.zeros(1, "datetime64[s]"), [1],
        ...        tz="UTC").columns())
        ['amount', 'at', 'customer_id']
        """
        out: dict[str, npt.NDArray[Any]] = {
            "customer_id": self.customer,
            "at": self.at,
            "amount": self.amount,
        }
        if self.quantity is not None:
            out["quantity"] = self.quantity
        if self.category is not None and self.category_labels is not None:
            out["category"] = self.category_labels[self.category]
        if self.channel is not None and self.channel_labels is not None:
            out["channel"] = self.channel_labels[self.channel]
        if self.is_return is not None:
            out["is_return"] = self.is_return
        return out


#: More digits than any int64 quantity has (``int`` refuses over 4300).
_MAX_INT_DIGITS: Final = 20
_FLAGS: Final = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}


def _flag_text(value: object, name: str, row: int) -> bool:
    flag = _FLAGS.get(str(value).strip().lower())
    if flag is None:
        raise InvalidColumn(
            f"{name}[{row}]={value!r} is not true/false, yes/no or 1/0",
            field=name,
            row=row,
            value=value,
        )
    return flag


#: Integer text: ASCII digits with an optional sign (``int`` alone would also
#: take ``1_000`` and any script's digits).
_INT_TEXT: Final = re.compile(r"[+-]?[0-9]+")


def _int_text(value: object, name: str, row: int) -> int:
    text = str(value).strip()
    if _INT_TEXT.fullmatch(text) is None or len(text) > _MAX_INT_DIGITS:
        raise InvalidColumn(
            f"{name}[{row}]={value!r} is not an integer (ASCII digits, an optional sign)",
            field=name,
            row=row,
            value=value,
        )
    return int(text)


# -- Facts and Summary ------------------------------------------------------------

#: The Summary's per-customer fields, in order.
FIELDS: Final = (
    "customer_id",
    "first",
    "previous",
    "last",
    "count",
    "frequency",
    "recency",
    "T",
    "days_since_last",
    "monetary",
    "total",
    "aov",
    "median_gap",
    "categories",
)
_INT_FIELDS: Final = frozenset(
    {"first", "previous", "last", "count", "frequency", "total", "categories"}
)


@attrs.frozen
class Facts:
    """One customer's purchase history condensed: a row of a :class:`Summary`.

    Values are the scalar forms of the summary's columns: instants are int
    microseconds UTC (``previous`` is None with a single purchase day), money
    ``total`` is int minor units, the rest floats. ``first_at`` /
    ``previous_at`` / ``last_at`` give aware datetimes.

    >>> f = Facts(customer_id="c1", first=0, previous=None, last=86_400_000_000, count=2,
    ...           frequency=1, recency=1.0, T=3.0, days_since_last=2.0, monetary=5.0,
    ...           total=1500, aov=7.5, median_gap=1.0, categories=0)
    >>> f.last_at.isoformat(), f.previous_at
    ('1970-01-02T00:00:00+00:00', None)
    """

    customer_id: Hashable
    first: int
    previous: int | None
    last: int
    count: int
    frequency: int
    recency: float
    T: float
    days_since_last: float
    monetary: float
    total: int
    aov: float
    median_gap: float = attrs.field(eq=attrs.cmp_using(eq=_float_eq))
    categories: int

    @property
    def first_at(self) -> datetime:
        """The first purchase as an aware UTC datetime.

        >>> Facts("x", 0, None, 0, 1, 0, 0.0, 0.0, 0.0, 0.0, 0, 0.0, 0.0, 0).first_at
        datetime.datetime(1970, 1, 1, 0, 0, tzinfo=datetime.timezone.utc)
        """
        return from_micros(self.first)

    @property
    def last_at(self) -> datetime:
        """The last purchase as an aware UTC datetime.

        >>> Facts("x", 0, None, 10**6, 1, 0, 0.0, 0.0, 0.0, 0.0, 0, 0.0, 0.0, 0).last_at
        datetime.datetime(1970, 1, 1, 0, 0, 1, tzinfo=datetime.timezone.utc)
        """
        return from_micros(self.last)

    @property
    def previous_at(self) -> datetime | None:
        """The previous purchase (latest on the second-to-last purchase day) or None.

        >>> Facts("x", 0, None, 0, 1, 0, 0.0, 0.0, 0.0, 0.0, 0, 0.0, 0.0, 0).previous_at is None
        True
        """
        return None if self.previous is None else from_micros(self.previous)

    def total_amount(self, exponent: int = 2) -> Decimal:
        """The total as a Decimal in currency units.

        >>> Facts("x", 0, None, 0, 1, 0, 0.0, 0.0, 0.0, 0.0, 1999, 19.99, float("nan"),
        ...       0).total_amount()
        Decimal('19.99')
        """
        return Decimal(self.total).scaleb(-exponent)


_FRAME_KINDS: Final[dict[str, Kind]] = {
    "customer_id": "id",
    "first": "instant",
    "previous": "instant",
    "last": "instant",
    "total": "money",
    **dict.fromkeys(("count", "frequency", "categories"), "int"),
    **dict.fromkeys(("recency", "T", "days_since_last", "monetary", "aov", "median_gap"), "float"),
}


@attrs.frozen
class Summary(Frames):
    """Per-customer Facts in numpy columns, ordered by customer id.

    Read a column as ``summary["frequency"]`` or ``summary.frequency``;
    ``summary.columns()`` gives them all; ``summary.facts(i)`` one row as
    :class:`Facts`. ``len(summary)`` is the number of customers and iterating
    gives the field names, as with a data frame. See :func:`summarize` for the
    definition of each field.

    >>> log = TransactionLog.from_arrays([5, 5], ["2024-02-01", "2024-02-11"], [4, 6], tz="UTC")
    >>> s = summarize(log, as_of=datetime(2024, 3, 2, tzinfo=UTC))
    >>> len(s), list(s)[:3], s.facts(0).frequency, s["median_gap"]
    (1, ['customer_id', 'first', 'previous'], 1, array([10.]))
    """

    fields: ClassVar[tuple[str, ...]] = FIELDS

    customer_id: npt.NDArray[Any] = _array_field()
    first: I64 = _array_field()
    previous: I64 = _array_field()
    last: I64 = _array_field()
    count: I64 = _array_field()
    frequency: I64 = _array_field()
    recency: npt.NDArray[np.float64] = _array_field()
    T: npt.NDArray[np.float64] = _array_field()
    days_since_last: npt.NDArray[np.float64] = _array_field()
    monetary: npt.NDArray[np.float64] = _array_field()
    total: I64 = _array_field()
    aov: npt.NDArray[np.float64] = _array_field()
    median_gap: npt.NDArray[np.float64] = _array_field()
    categories: I64 = _array_field()
    as_of: datetime = attrs.field(kw_only=True)
    unit: Unit = attrs.field(kw_only=True, default="week")
    tz: str = attrs.field(kw_only=True, default="UTC")
    exponent: int = attrs.field(kw_only=True, default=2)

    def __attrs_post_init__(self) -> None:
        n = len(self.customer_id)
        for name in FIELDS:
            if len(getattr(self, name)) != n:
                raise InvalidColumn(
                    f"{name} has {len(getattr(self, name))} rows, expected {n}", field=name
                )

    def __repr__(self) -> str:
        return (
            f"Summary(customers={len(self)}, as_of={self.as_of.isoformat()}, "
            f"unit={self.unit!r}, tz={self.tz!r})"
        )

    def __len__(self) -> int:
        return len(self.customer_id)

    def __iter__(self) -> Iterator[str]:
        return iter(FIELDS)

    def __getitem__(self, name: str) -> npt.NDArray[Any]:
        if name not in FIELDS:
            raise InvalidArgument(
                f"{name!r} is not a summary field; fields are {list(FIELDS)}",
                field="name",
                value=name,
            )
        result: npt.NDArray[Any] = getattr(self, name)
        return result

    def keys(self) -> tuple[str, ...]:
        """The field names (as a data frame's columns).

        >>> log = TransactionLog.from_arrays([1], ["2024-01-01"], [3], tz="UTC")
        >>> summarize(log, as_of=datetime(2024, 1, 8, tzinfo=UTC)).keys()[:3]
        ('customer_id', 'first', 'previous')
        """
        return FIELDS

    def columns(self) -> dict[str, npt.NDArray[Any]]:
        """Every field as a read-only numpy array, by name.

        >>> log = TransactionLog.from_arrays([1], ["2024-01-01"], [3], tz="UTC")
        >>> summarize(log, as_of=datetime(2024, 1, 8, tzinfo=UTC)).columns()["T"]
        array([1.])
        """
        return {name: getattr(self, name) for name in FIELDS}

    def _columns_for_frames(self) -> tuple[Col, ...]:
        return tuple(
            Col(name, _FRAME_KINDS[name], getattr(self, name), exponent=self.exponent)
            for name in FIELDS
        )

    def facts(self, i: int) -> Facts:
        """Row ``i`` as a :class:`Facts` value.

        >>> log = TransactionLog.from_arrays(["a"], ["2024-01-01"], [3], tz="UTC")
        >>> summarize(log, as_of=datetime(2024, 1, 8, tzinfo=UTC)).facts(0).total
        300
        """
        values: dict[str, Any] = {}
        for name in FIELDS:
            item = getattr(self, name)[i]
            if name == "customer_id":
                values[name] = item.item() if isinstance(item, np.generic) else item
            elif name in _INT_FIELDS:
                values[name] = int(item)
            else:
                values[name] = float(item)
        if values["previous"] == MISSING:
            values["previous"] = None
        return Facts(**values)

    def index_of(self, customer_id: Hashable) -> int:
        """The row of ``customer_id``.

        Raises:
            NotFound: the customer is not in the summary.

        >>> log = TransactionLog.from_arrays(["a", "b"], ["2024-01-01"] * 2, [3, 4], tz="UTC")
        >>> summarize(log, as_of=datetime(2024, 1, 8, tzinfo=UTC)).index_of("b")
        1
        """
        from loyaltycore.errors import NotFound

        hits = np.flatnonzero(self.customer_id == customer_id)
        if len(hits) == 0:
            raise NotFound(
                f"customer_id={customer_id!r} is not in the summary",
                field="customer_id",
                value=customer_id,
            )
        return int(hits[0])

    def merge(self, other: Summary) -> Summary:
        """The summary of both customer sets (see :meth:`concat`).

        >>> a = TransactionLog.from_arrays([1], ["2024-01-01"], [3], tz="UTC")
        >>> b = TransactionLog.from_arrays([0], ["2024-01-02"], [4], tz="UTC")
        >>> when = datetime(2024, 2, 1, tzinfo=UTC)
        >>> summarize(a, as_of=when).merge(summarize(b, as_of=when)).customer_id
        array([0, 1])
        """
        return Summary.concat([self, other])

    @classmethod
    def concat(cls, parts: Iterable[Summary]) -> Summary:
        """Merge summaries of disjoint customer sets into one, ordered by id.

        All parts must share ``as_of``, ``unit``, ``tz`` and ``exponent``.
        ``summarize(A | B)`` equals ``Summary.concat([summarize(A),
        summarize(B)])`` when A and B have no customer in common.

        Raises:
            EmptyData: no parts.
            InvalidArgument: parts with different as_of, unit, tz or exponent.
            DuplicateId: a customer appears in more than one part.

        >>> a = TransactionLog.from_arrays(["x"], ["2024-01-01"], [3], tz="UTC")
        >>> when = datetime(2024, 2, 1, tzinfo=UTC)
        >>> Summary.concat([summarize(a, as_of=when)] * 2)
        Traceback (most recent call last):
        ...
        loyaltycore.errors.DuplicateId: customer_id='x' appears in more than one part
        """
        from loyaltycore.transactions._frame import concat_summaries

        items = list(parts)
        for part in items:
            if not isinstance(part, Summary):
                raise InvalidType(
                    f"parts must be Summary values, not {type(part).__name__}",
                    field="parts",
                    value=type(part).__name__,
                )
        return concat_summaries(cls, items, FIELDS)


def summarize(
    log: TransactionLog,
    *,
    as_of: datetime,
    unit: Unit = "week",
    tz: str | tzinfo = "UTC",
    progress: Progress | None = None,
) -> Summary:
    """Condense a log into one row of Facts per customer.

    Only rows at or before ``as_of`` count; a date ``as_of`` means local
    midnight in ``tz``. Returns (``is_return`` rows) are not purchases: they
    reduce ``total`` but no count, day or date. Customers with no purchase by
    ``as_of`` have no row. Per customer, with the purchase days being the
    distinct local calendar days (in ``tz``) with a purchase:

    - ``first`` / ``last``: earliest and latest purchase instant (int64 µs UTC);
      ``previous``: the latest purchase on the second-to-last purchase day
      (:data:`MISSING` with one purchase day).
    - ``count``: purchase transactions; ``frequency``: purchase days - 1.
    - ``recency`` = last day - first day, ``T`` = as_of's day - first day, in
      ``unit`` ("day", or "week" = days / 7); ``days_since_last`` = as_of's day
      - last day, always in days.
    - ``monetary``: mean value of the repeat purchase days (each day's
      purchases summed, the first day left out), in currency units; 0 when
      ``frequency`` is 0 — the CLV literature's definition.
    - ``total``: net spend in minor units (returns subtracted); ``aov`` =
      total / count in currency units.
    - ``median_gap``: median days between consecutive purchase days (NaN with
      a single day); ``categories``: distinct categories bought.

    Args:
        log: the transactions.
        as_of: the end of the observation period (aware datetime or date).
        unit: "week" (the default, as in the CLV literature) or "day".
        tz: the program's zone, in which calendar days are counted.
        progress: called as ``(done, 6, "summarize")`` after each pass over
            the rows (:mod:`loyaltycore.progress`); raising from it cancels.

    Returns:
        A :class:`Summary` ordered by customer id.

    Raises:
        NaiveDatetime: a naive ``as_of``.
        InvalidArgument: an unknown ``unit`` or zone.

    >>> log = TransactionLog.from_arrays(["a", "a", "a"],
    ...     ["2024-03-30T23:30+00:00", "2024-03-31T00:30+00:00", "2024-04-05T12:00+00:00"],
    ...     [10, 20, 30])
    >>> summarize(log, as_of=datetime(2024, 4, 6, tzinfo=UTC), unit="day")["frequency"]
    array([2])
    >>> summarize(log, as_of=datetime(2024, 4, 6, tzinfo=UTC), unit="day",
    ...           tz="Europe/Berlin")["frequency"]
    array([1])
    """
    if not isinstance(log, TransactionLog):
        raise InvalidType(
            f"log must be a TransactionLog, not {type(log).__name__}",
            field="log",
            value=type(log).__name__,
        )
    unit_ = _check_unit(unit)
    tz_name = _tz_name(tz)
    instant, as_of_us = tx.as_of_micros(as_of, tz_name)
    checked = check_progress(progress)
    n_categories = 0 if log.category_labels is None else len(log.category_labels)
    cols = summary_columns(
        log.codes,
        log.at,
        log.amount,
        is_return=log.is_return,
        category=log.category,
        n_categories=n_categories,
        as_of_us=as_of_us,
        tz=zone(tz_name),
        unit=unit_,
        exponent=log.exponent,
        progress=checked,
    )
    code = cols.pop("code")
    return Summary(
        customer_id=_own(log.customer_ids[code]),
        **{name: _own(column) for name, column in cols.items()},
        as_of=instant,
        unit=unit_,
        tz=tz_name,
        exponent=log.exponent,
    )


# -- calibration / holdout --------------------------------------------------------


@attrs.frozen
class CalibrationHoldout(Frames):
    """A calibration-period summary and what each of its customers did next.

    ``holdout_frequency[i]`` counts the distinct purchase days of
    ``calibration.customer_id[i]`` in (calibration_end, observation_end];
    ``holdout_monetary`` is the mean value of those days (0 without any);
    ``duration`` is the holdout length in ``calibration.unit``.

    >>> log = TransactionLog.from_arrays([1, 1, 1], ["2024-01-01", "2024-01-08", "2024-02-05"],
    ...                                  [10, 20, 30], tz="UTC")
    >>> ch = calibration_holdout(log, calibration_end=datetime(2024, 1, 31, tzinfo=UTC),
    ...                          observation_end=datetime(2024, 2, 28, tzinfo=UTC))
    >>> ch.calibration["frequency"], ch.holdout_frequency, ch.holdout_monetary, ch.duration
    (array([1]), array([1]), array([30.]), 4.0)
    """

    calibration: Summary
    holdout_frequency: I64 = _array_field()
    holdout_monetary: npt.NDArray[np.float64] = _array_field()
    duration: float = attrs.field(kw_only=True)
    observation_end: datetime = attrs.field(kw_only=True)

    def _columns_for_frames(self) -> tuple[Col, ...]:
        return (
            *self.calibration._columns_for_frames(),
            Col("holdout_frequency", "int", self.holdout_frequency),
            Col("holdout_monetary", "float", self.holdout_monetary),
        )


def calibration_holdout(
    log: TransactionLog,
    *,
    calibration_end: datetime,
    observation_end: datetime,
    unit: Unit = "week",
    tz: str | tzinfo = "UTC",
) -> CalibrationHoldout:
    """Split a log at ``calibration_end`` to validate a model out of sample.

    The calibration summary is ``summarize(log, as_of=calibration_end)``. For
    each of its customers the holdout counts purchase days (local, in ``tz``)
    after calibration_end's day and up to observation_end; customers first
    seen in the holdout are left out, as in the CLV literature.

    Raises:
        InvalidTime: ``observation_end`` is not after ``calibration_end``.
        EmptyData: no purchase at or before ``calibration_end``, so there is
            no customer to calibrate on.

    >>> log = TransactionLog.from_arrays([1], ["2024-01-01"], [10], tz="UTC")
    >>> calibration_holdout(log, calibration_end=datetime(2024, 2, 1, tzinfo=UTC),
    ...                     observation_end=datetime(2024, 1, 1, tzinfo=UTC))
    Traceback (most recent call last):
    ...
    loyaltycore.errors.InvalidTime: observation_end=2024-01-01T00:00:00+00:00 must be after ...
    """
    from loyaltycore.transactions._frame import holdout_columns

    calibration = summarize(log, as_of=calibration_end, unit=unit, tz=tz)
    end, end_us = tx.as_of_micros(observation_end, calibration.tz, "observation_end")
    if end <= calibration.as_of:
        raise InvalidTime(
            f"observation_end={end.isoformat()} must be after "
            f"calibration_end={calibration.as_of.isoformat()}",
            field="observation_end",
            value=end,
        )
    if len(calibration) == 0:
        raise EmptyData(
            f"calibration_end={calibration.as_of.isoformat()} is before the first purchase; "
            f"the calibration period has no customers",
            field="calibration_end",
            value=calibration.as_of,
        )
    freq, monetary, duration = holdout_columns(log, calibration, end_us)
    return CalibrationHoldout(
        calibration=calibration,
        holdout_frequency=freq,
        holdout_monetary=monetary,
        duration=duration,
        observation_end=end,
    )


publish(__name__, __all__, globals())

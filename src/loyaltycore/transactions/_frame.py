"""Reading frames and text files, merging summaries, holdout counts.

Helpers of :mod:`loyaltycore.transactions` kept apart so the public module
stays short. Data frames are read by :mod:`loyaltycore._native`.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Hashable, Mapping, Sequence
from os import PathLike
from typing import TYPE_CHECKING, Any, Final

import numpy as np
import numpy.typing as npt

from loyaltycore.calendar import local_days, zone
from loyaltycore.errors import (
    DuplicateId,
    EmptyData,
    InvalidArgument,
    InvalidColumn,
)
from loyaltycore.transactions._input import sort_ids
from loyaltycore.transactions._summary import _UNIT_DAYS, sorted_unique

if TYPE_CHECKING:
    from loyaltycore.transactions import Summary, TransactionLog

I64 = npt.NDArray[np.int64]


# -- delimited text ---------------------------------------------------------------
#
# A file is decoded whole, so a byte that is not valid in its encoding is
# found before any row is read, and reported by the line and column it sits
# in. A leading byte-order mark (Excel's "CSV UTF-8") is dropped. Line
# numbers are physical lines: a record whose quoted field spans two lines
# is reported by the line it starts on.

#: Marks where decoding stopped, so the record and field it falls in can be found.
_STOP: Final = "\ue000"


def _check_format(delimiter: str | None, encoding: str) -> None:
    if delimiter is not None and (
        not isinstance(delimiter, str) or len(delimiter) != 1 or delimiter in '\r\n"\0'
    ):
        raise InvalidArgument(
            f"delimiter={delimiter!r} must be one character other than a quote or a "
            f"line break, or None for runs of whitespace",
            field="delimiter",
            value=delimiter,
        )
    try:
        codecs.lookup(encoding)
    except (LookupError, TypeError):
        raise InvalidArgument(
            f"encoding={encoding!r} is not a known text encoding",
            field="encoding",
            value=encoding,
        ) from None


class _BadRecord(Exception):
    def __init__(self, message: str, line: int) -> None:
        super().__init__(message)
        self.line = line


def _records(text: str, delimiter: str | None) -> tuple[list[list[str]], list[int]]:
    """The rows of ``text`` and the physical line each starts on.

    Raises:
        _BadRecord: a record the csv module refuses (a field over its size
            limit), with the line it starts on.
    """
    handle = io.StringIO(text, newline="")
    rows: list[list[str]] = []
    if delimiter is None:
        rows += [line.split() for line in handle]
        return rows, list(range(1, len(rows) + 1))
    reader = csv.reader(handle, delimiter=delimiter)
    ends: list[int] = []
    try:
        for row in reader:
            rows.append(row)
            ends.append(reader.line_num)
    except csv.Error as exc:
        raise _BadRecord(str(exc), (ends[-1] if ends else 0) + 1) from None
    return rows, [1, *(end + 1 for end in ends[:-1])] if ends else []


def _where(path: object, line: int, column: str | int | None) -> str:
    return f"{path}, line {line}" + ("" if column is None else f", column {column!r}")


def _undecodable(
    path: object, data: bytes, exc: UnicodeDecodeError, delimiter: str | None, header: bool
) -> InvalidColumn:
    """The error for bytes that are not text in the file's encoding, located."""
    prefix = data[: exc.start].decode(exc.encoding, errors="replace").removeprefix("\ufeff")
    rows, lines = _records(prefix + _STOP, delimiter)
    line = lines[-1]
    index = len(rows[-1]) - 1
    column: str | int | None = index
    if header:
        names = [name.strip() for name in rows[0]]
        column = names[index] if line > 1 and index < len(names) else None
    shown = " ".join(f"0x{byte:02x}" for byte in data[exc.start : exc.end])
    return InvalidColumn(
        f"{_where(path, line, column)}: byte {shown} is not valid {exc.encoding}; "
        f"save the file as UTF-8 or pass its encoding",
        field="encoding",
        value=data[exc.start : exc.end],
        path=str(path),
        line=line,
        column=column,
    )


def _text_rows(
    path: str | PathLike[str], delimiter: str | None, header: bool, encoding: str
) -> tuple[list[list[str]], list[int]]:
    with open(path, "rb") as handle:
        data = handle.read()
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise _undecodable(path, data, exc, delimiter, header) from None
    try:
        return _records(text.removeprefix("\ufeff"), delimiter)
    except _BadRecord as exc:
        raise InvalidColumn(
            f"{path}, line {exc.line}: {exc}", field="line", path=str(path), line=exc.line
        ) from None


def _position(role: str, column: object, header: list[str] | None) -> int:
    if isinstance(column, int) and not isinstance(column, bool):
        return column
    times = header.count(column) if header is not None and isinstance(column, str) else 0
    if times > 1:
        raise InvalidColumn(
            f"column {column!r} ({role}) appears {times} times in the header; "
            f"rename the one not to read",
            field=role,
            value=column,
        )
    if header is None or not times:
        raise InvalidColumn(
            f"column {column!r} ({role}) is missing; the header is {header}",
            field=role,
            value=column,
        )
    return header.index(str(column))


def _positions(wanted: Mapping[str, str | int], header: list[str] | None) -> dict[str, int]:
    return {role: _position(role, column, header) for role, column in wanted.items()}


def read_delimited(
    path: str | PathLike[str],
    wanted: Mapping[str, str | int],
    *,
    delimiter: str | None,
    header: bool,
    encoding: str,
) -> tuple[dict[str, Any], list[int]]:
    """Text columns (object arrays) of a delimited file, by role, and each row's line number.

    Errors that concern the header (a missing or repeated column) carry no
    ``line``; every other error names its path, line and (where it has
    one) column, in its message and as attributes.
    """
    _check_format(delimiter, encoding)
    rows, starts = _text_rows(path, delimiter, header, encoding)
    if header and not rows:
        raise EmptyData(
            f"{path}, line 1: the file is empty; expected a header line",
            field="path",
            path=str(path),
            line=1,
        )
    names = [name.strip() for name in rows[0]] if header and rows else None
    body, body_lines = (rows[1:], starts[1:]) if header else (rows, starts)
    positions = _positions(wanted, names)
    width = max(positions.values()) + 1
    kept: list[list[str]] = []
    lines: list[int] = []
    for row, line in zip(body, body_lines, strict=True):
        if not row or (len(row) == 1 and not row[0].strip()):
            continue
        if len(row) < width:
            raise InvalidColumn(
                f"{path}, line {line}: {len(row)} fields, expected at least {width}",
                field="line",
                row=line,
                line=line,
                path=str(path),
            )
        kept.append(row)
        lines.append(line)
    out: dict[str, npt.NDArray[Any]] = {}
    for role, index in positions.items():
        column = np.empty(len(kept), dtype=object)
        column[:] = [row[index].strip() for row in kept]
        out[role] = column
    return out, lines


# -- merging summaries ------------------------------------------------------------


def _ids(parts: Sequence[Summary]) -> npt.NDArray[Any]:
    non_empty = [p.customer_id for p in parts if len(p.customer_id)] or [parts[0].customer_id]
    if all(ids.dtype.kind in "iu" for ids in non_empty):
        return np.concatenate(non_empty).astype(np.int64)
    out = np.empty(sum(len(ids) for ids in non_empty), dtype=object)
    out[:] = [value for ids in non_empty for value in ids.tolist()]
    return out


def _id_order(ids: npt.NDArray[Any]) -> I64:
    if ids.dtype.kind == "i":
        order = np.argsort(ids, kind="stable")
        dup = ids[order][1:] == ids[order][:-1]
        if dup.any():
            value = ids[order][1:][dup][0].item()
            raise DuplicateId(
                f"customer_id={value!r} appears in more than one part",
                field="customer_id",
                value=value,
            )
        return order.astype(np.int64)
    values: list[Hashable] = ids.tolist()
    seen: set[Hashable] = set()
    for value in values:
        if value in seen:
            raise DuplicateId(
                f"customer_id={value!r} appears in more than one part",
                field="customer_id",
                value=value,
            )
        seen.add(value)
    rank = {value: i for i, value in enumerate(sort_ids(values))}
    return np.argsort(np.array([rank[v] for v in values], dtype=np.int64), kind="stable")


def concat_summaries(
    cls: type[Summary], parts: Sequence[Summary], fields: Sequence[str]
) -> Summary:
    """Concatenate summaries of disjoint customer sets, ordered by id."""
    if not parts:
        raise EmptyData("concat needs at least one summary", field="parts")
    head = parts[0]
    for part in parts[1:]:
        for name in ("as_of", "unit", "tz", "exponent"):
            if getattr(part, name) != getattr(head, name):
                raise InvalidArgument(
                    f"summaries differ in {name}: {getattr(head, name)!r} and "
                    f"{getattr(part, name)!r}",
                    field=name,
                    value=getattr(part, name),
                )
    ids = _ids(parts)
    order = _id_order(ids)
    non_empty = [p for p in parts if len(p)] or [head]
    columns: dict[str, Any] = {"customer_id": ids[order]}
    for name in fields[1:]:
        columns[name] = np.concatenate([getattr(p, name) for p in non_empty])[order]
    return cls(**columns, as_of=head.as_of, unit=head.unit, tz=head.tz, exponent=head.exponent)


# -- holdout ----------------------------------------------------------------------


def _codes_of(log: TransactionLog, ids: npt.NDArray[Any]) -> I64:
    if log.customer_ids.dtype.kind == "i":
        return np.searchsorted(log.customer_ids, ids).astype(np.int64)
    position = {value: i for i, value in enumerate(log.customer_ids.tolist())}
    return np.array([position[v] for v in ids.tolist()], dtype=np.int64)


def holdout_columns(
    log: TransactionLog, calibration: Summary, end_us: int
) -> tuple[I64, npt.NDArray[np.float64], float]:
    """Holdout purchase days and mean day value per calibration row, and the duration."""
    from loyaltycore.calendar import to_micros

    tz = zone(calibration.tz)
    start_us = to_micros(calibration.as_of)
    rows = (log.at > start_us) & (log.at <= end_us)
    if log.is_return is not None:
        rows &= ~log.is_return
    c, a = log.codes[rows], log.amount[rows]
    n_codes = max(1, log.n_customers)
    frequency: I64 = np.zeros(n_codes, dtype=np.int64)
    spend: npt.NDArray[np.float64] = np.zeros(n_codes, dtype=np.float64)
    if len(c):
        days = local_days(log.at[rows], tz=tz)
        lo = int(days.min())
        span = int(days.max()) - lo + 1
        pairs = sorted_unique(c * span + (days - lo))
        frequency = np.bincount(pairs // span, minlength=n_codes).astype(np.int64)
        spend = np.bincount(c, weights=a, minlength=n_codes).astype(np.float64)
    code = _codes_of(log, calibration.customer_id)
    freq = frequency[code]
    with np.errstate(invalid="ignore", divide="ignore"):
        monetary = np.where(freq > 0, spend[code] / np.maximum(freq, 1), 0.0)
    monetary = monetary / 10.0**log.exponent
    edge = local_days(np.array([start_us, end_us], dtype=np.int64), tz=tz)
    duration = float(edge[1] - edge[0]) / _UNIT_DAYS[calibration.unit]
    return freq, monetary.astype(np.float64), duration

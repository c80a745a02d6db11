"""Reading transaction files through pyarrow: the fast path of ``from_csv``.

pyarrow (the ``report`` extra) parses a CSV file in blocks of about 4 MB,
every wanted column as text, and converts each block to the log's int64
columns at C speed: instants through Arrow's ISO-8601 parser (or
``strptime``), amounts as exact decimals (``decimal128``, whose unscaled
integers are the minor units), flags and quantities by casts. Customer ids,
categories and channels are dictionary-encoded block by block (a hash pass
keeping each block's distinct values once); at the end the blocks'
dictionaries are unified and one sort of the distinct values gives codes in
id order, as :func:`~loyaltycore.transactions._input.factorize` would. No
Python object is made per row.

The stdlib reader stays the one that decides. This path handles only the
plain case (a one-character delimiter, a header naming distinct columns,
UTF-8 with or without a byte-order mark, lines ended by LF or CRLF);
anything else, and any value it cannot convert — a short line, a bad
timestamp, more decimals than the currency has, an empty id, a negative
amount — makes it return None, and
``from_csv`` reads the file again with the stdlib reader, which accepts the
same files and raises the same errors (file, line, column) as it always
has. The fast path never accepts a file the stdlib reader refuses: every
conversion here is stricter than or equal to the stdlib one.

Memory per row: 8 bytes per int64 column (instants, amounts, quantities,
codes), 1 per flag, 4 per text column while it is dictionary-encoded, and a
second copy of one int64 column while its blocks are joined; the text of a
block (about 4 MB) at a time. About 40 bytes per row for ids, instants and
amounts, plus the distinct ids; measured peak resident growth is printed by
``benchmarks/engines.py``.
"""

from __future__ import annotations

import csv
import importlib.util
from collections.abc import Iterator, Mapping
from datetime import tzinfo
from os import PathLike
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from loyaltycore.errors import LoyaltyError
from loyaltycore.transactions import _input as tx
from loyaltycore.transactions._input import _EARLIEST_US, _END_US

I64 = npt.NDArray[np.int64]

#: Bytes of text pyarrow reads per block.
BLOCK_BYTES: Final = 4 << 20
_UTF8: Final = frozenset({"utf-8", "utf8", "UTF-8", "UTF8"})
#: UTF-8's byte-order mark, which spreadsheets write first ("CSV UTF-8").
_BOM: Final = b"\xef\xbb\xbf"
#: Characters ``str.strip()`` removes: a value may not start or end with one
#: after Arrow's ASCII trim, or the stdlib reader would read it differently.
_PY_SPACE: Final = "".join(
    f"\\x{{{c:x}}}" for c in range(0x110000) if chr(c).isspace()
)  # RE2 escapes
_EDGE_SPACE: Final = f"^[{_PY_SPACE}]|[{_PY_SPACE}]$"
#: The stdlib reader's number shapes (ASCII digits only).
_DECIMAL: Final = r"^[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)$"
_INTEGER: Final = r"^[+-]?[0-9]{1,18}$"
_TRUE: Final = ("true", "yes", "1")  # the stdlib reader's words, compared in lower case
_FALSE: Final = ("false", "no", "0")


def available() -> bool:
    """True when pyarrow is installed (nothing is imported)."""
    return importlib.util.find_spec("pyarrow") is not None


def _header(path: str | PathLike[str], delimiter: str) -> list[str] | None:
    """The header's names, or None for a file this path leaves to the stdlib reader."""
    with open(path, "rb") as handle:
        head = handle.readline().removeprefix(_BOM)
    if b"\r" in head.rstrip(b"\r\n"):
        return None  # lines ended by a bare CR
    try:
        rows = list(csv.reader([head.decode("utf-8")], delimiter=delimiter))
    except (UnicodeDecodeError, csv.Error):
        return None
    return [name.strip() for name in rows[0]] if rows else None


def _names(wanted: Mapping[str, str | int], header: list[str]) -> dict[str, str] | None:
    """Role -> header name, when every wanted column is there and the header has no repeat."""
    if len(set(header)) != len(header) or any(not name for name in header):
        return None
    out: dict[str, str] = {}
    for role, column in wanted.items():
        if isinstance(column, bool):
            return None
        name = header[column] if isinstance(column, int) and 0 <= column < len(header) else column
        if not isinstance(name, str) or name not in header:
            return None
        out[role] = name
    return out


def _numbers(array: Any, dtype: type[np.generic]) -> npt.NDArray[Any]:
    """A copy of a null-free fixed-width Arrow array's values, read from its buffer.

    (``Array.to_numpy`` would import pandas when it is installed, which costs
    more than the whole read of a small file.)
    """
    width = np.dtype(dtype).itemsize
    start = array.offset * width
    return np.frombuffer(array.buffers()[1], dtype=dtype, count=len(array), offset=start).copy()


def _require(pc: Any, text: Any, pattern: str) -> None:
    if not pc.all(pc.match_substring_regex(text, pattern)).as_py():
        raise ValueError("a value the stdlib reader reads differently")


def _minor(pa: Any, pc: Any, text: Any, exponent: int) -> I64:
    """Exact int64 minor units of decimal text: the unscaled values of decimal128."""
    _require(pc, text, _DECIMAL)
    dec = pc.cast(text, pa.decimal128(38, exponent))
    if dec.null_count:
        raise ValueError("missing amount")
    words = np.frombuffer(dec.buffers()[1], dtype=np.int64)
    words = words[2 * dec.offset : 2 * (dec.offset + len(dec))]
    low, high = words[0::2], words[1::2]
    if not np.array_equal(high, low >> 63) or (np.abs(low) > 2**53).any():
        raise ValueError("amount out of range")
    return low.copy()


def _instants(pa: Any, pc: Any, text: Any, fmt: str | None, tz: str | tzinfo | None) -> I64:
    """int64 µs UTC of ISO-8601 text (aware, or naive read on ``tz``) or ``fmt`` text."""
    if fmt is None:
        try:
            aware = pc.cast(text, pa.timestamp("us", tz="UTC"))
        except pa.ArrowInvalid:
            aware = None
        if aware is not None:
            if aware.null_count:
                raise ValueError("missing instant")
            micros = _numbers(aware.cast(pa.int64()), np.int64)
            if len(micros) and (micros.min() < _EARLIEST_US or micros.max() >= _END_US):
                raise ValueError("an instant outside the supported range")
            return micros
        walls = pc.cast(text, pa.timestamp("us"))
    else:
        raise ValueError("strptime formats are left to the stdlib reader")
    if walls.null_count:
        raise ValueError("missing instant")
    wall = _numbers(walls.cast(pa.int64()), np.int64).view("datetime64[us]")
    return tx.instants(wall, "at", len(wall), tz=tz)


def _flags(pc: Any, text: Any) -> npt.NDArray[np.bool_]:
    lower = pc.utf8_lower(text)
    true = pc.match_substring_regex(lower, f"^({'|'.join(_TRUE)})$")
    false = pc.match_substring_regex(lower, f"^({'|'.join(_FALSE)})$")
    if not pc.all(pc.or_(true, false)).as_py():
        raise ValueError("not a flag")
    flags: npt.NDArray[np.bool_] = _numbers(pc.cast(true, "int8"), np.int8).astype(np.bool_)
    return flags


def _factorize(pa: Any, pc: Any, chunks: list[Any]) -> tuple[I64, npt.NDArray[Any]]:
    """Codes in the sorted order of the distinct values of dictionary-encoded blocks."""
    if not chunks:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=object)
    encoded = pa.chunked_array(chunks).unify_dictionaries()
    chunks.clear()
    dictionary = encoded.chunk(0).dictionary
    if pc.min(pc.utf8_length(dictionary)).as_py() == 0:
        raise ValueError("empty id")  # the stdlib reader decides what an empty id means
    sort = pc.array_sort_indices(dictionary)  # UTF-8 byte order is code point order
    order = _numbers(sort, np.uint64).astype(np.int64)
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order), dtype=np.int64)
    indices = np.concatenate([_numbers(chunk.indices, np.int32) for chunk in encoded.chunks])
    del encoded
    values = np.empty(len(order), dtype=object)
    values[:] = dictionary.take(sort).to_pylist()
    return rank[indices], values


_TEXT_ROLES: Final = ("customer", "category", "channel")


def read_csv(
    path: str | PathLike[str],
    wanted: Mapping[str, str | int],
    *,
    delimiter: str | None,
    header: bool,
    encoding: str,
    tz: str | tzinfo | None,
    at_format: str | None,
    exponent: int,
) -> dict[str, Any] | None:
    """The parts of a :class:`TransactionLog`, or None to leave the file to the stdlib reader."""
    if not available() or delimiter is None or len(delimiter) != 1 or not header:
        return None
    if at_format is not None:
        return None  # Python's strptime and Arrow's differ at the edges
    if encoding not in _UTF8:
        return None
    names_in_file = _header(path, delimiter)
    names = None if names_in_file is None else _names(wanted, names_in_file)
    if names is None:
        return None
    try:
        return _read(path, names, delimiter, tz, at_format, exponent)
    except (LoyaltyError, ValueError, ArithmeticError, UnicodeError):
        return None  # pyarrow.ArrowInvalid is a ValueError


def _blocks(path: str | PathLike[str]) -> Iterator[bytes]:
    """The file in blocks of whole lines, each starting with the header line.

    pyarrow's own streaming reader reads ahead through the whole file, so the
    blocks are cut here. A quoted value spanning a cut fails to parse, and a
    line longer than the csv module's field size limit (which the stdlib
    reader refuses) stops this path: the stdlib reader takes the file.
    """
    limit = csv.field_size_limit()
    with open(path, "rb") as handle:
        header = handle.readline().removeprefix(_BOM)  # (the stdlib reader drops it too)
        while block := handle.read(BLOCK_BYTES):
            block += handle.readline()
            ends = np.flatnonzero(np.frombuffer(block, dtype=np.uint8) == ord("\n"))
            if np.diff(ends, prepend=-1, append=len(block)).max() > limit:
                raise ValueError("a line longer than the csv module's field size limit")
            yield header + block


def _read(
    path: str | PathLike[str],
    names: dict[str, str],
    delimiter: str,
    tz: str | tzinfo | None,
    at_format: str | None,
    exponent: int,
) -> dict[str, Any]:
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pcsv

    columns = list(dict.fromkeys(names.values()))
    options = {
        "parse_options": pcsv.ParseOptions(delimiter=delimiter),
        "convert_options": pcsv.ConvertOptions(
            column_types=dict.fromkeys(columns, pa.string()),
            include_columns=columns,
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        ),
    }
    text: dict[str, list[Any]] = {role: [] for role in names if role in _TEXT_ROLES}
    numbers: dict[str, list[npt.NDArray[Any]]] = {
        role: [] for role in names if role not in _TEXT_ROLES
    }
    batches = (
        batch
        for block in _blocks(path)
        for batch in pcsv.read_csv(pa.py_buffer(block), **options).to_batches()
    )
    for batch in batches:
        for role, name in names.items():
            values = pc.ascii_trim_whitespace(batch.column(name))
            if pc.any(pc.match_substring_regex(values, _EDGE_SPACE)).as_py():
                raise ValueError("non-ASCII space at an edge: the stdlib reader decides")
            if role in text:  # each block's distinct values once, not every row's text
                text[role].append(pc.dictionary_encode(values))
            elif role == "at":
                numbers[role].append(_instants(pa, pc, values, at_format, tz))
            elif role == "amount":
                numbers[role].append(_minor(pa, pc, values, exponent))
            elif role == "quantity":
                _require(pc, values, _INTEGER)
                numbers[role].append(_numbers(pc.cast(values, pa.int64()), np.int64))
            else:
                numbers[role].append(_flags(pc, values))
    out: dict[str, Any] = {}
    for role in list(numbers):  # one column's blocks at a time, each freed once joined
        parts = numbers.pop(role)
        dtype = np.bool_ if role == "is_return" else np.int64
        out[role] = np.concatenate(parts) if parts else np.empty(0, dtype=dtype)
        del parts
    for role in list(text):
        out[role] = _factorize(pa, pc, text.pop(role))
    return out

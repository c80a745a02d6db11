"""Reading transaction files through pyarrow: the fast path of ``from_csv``.

pyarrow (the ``report`` extra) parses a CSV file in blocks of about 4 MB,
every wanted column as text, and converts each block to the log's int64
columns at C speed: instants through Arrow's ISO-8601 parser, or, for an
``at_format`` of zero-padded numeric fields, read at their fixed places
from the text's bytes and checked by formatting them back (see
:func:`_walls`); amounts as exact decimals (``decimal128``, whose unscaled
integers are the minor units), flags and quantities by casts. Customer ids,
categories and channels are dictionary-encoded block by block (a hash pass
keeping each block's distinct values once); at the end the blocks'
dictionaries are unified and one sort of the distinct values gives codes in
id order, as :func:`~loyaltycore.transactions._input.factorize` would. No
Python object is made per row.

The stdlib reader stays the one that decides. This path handles only the
plain case (a one-character delimiter, a header naming distinct columns,
UTF-8 with or without a byte-order mark, lines ended by LF or CRLF,
an ``at_format`` of the directives in :data:`_WIDTHS` and literals);
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

from loyaltycore.calendar import civil, civil_days
from loyaltycore.errors import LoyaltyError
from loyaltycore.transactions import _input as tx
from loyaltycore.transactions._input import _DAY_US, _EARLIEST_US, _END_US

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


def _instants(pa: Any, pc: Any, text: Any, fmt: str | None) -> npt.NDArray[Any]:
    """int64 µs UTC of aware ISO-8601 text, or datetime64[us] wall times of naive
    ISO-8601 or ``fmt`` text (converted by :class:`_Walls`)."""
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
        if walls.null_count:
            raise ValueError("missing instant")
        wall = _numbers(walls.cast(pa.int64()), np.int64).view("datetime64[us]")
    else:
        layout = _layout(fmt)
        if layout is None:
            raise ValueError("a format this path does not read")
        wall = _walls(text, *layout)
    return wall


#: Wall times converted to UTC together: the zone's table of days is made
#: once per this many rows, not once per block.
_WALL_ROWS: Final = 1 << 20


class _Walls:
    """Blocks of instants in file order, wall-time blocks converted in batches."""

    def __init__(self, tz: str | tzinfo | None) -> None:
        self.tz = tz
        self.done: list[I64] = []
        self.pending: list[npt.NDArray[Any]] = []
        self.rows = 0

    def add(self, block: npt.NDArray[Any]) -> None:
        if block.dtype.kind != "M":  # aware: UTC already
            self.flush()
            self.done.append(block)
            return
        self.pending.append(block)
        self.rows += len(block)
        if self.rows >= _WALL_ROWS:
            self.flush()

    def flush(self) -> None:
        if not self.pending:
            return
        wall = np.concatenate(self.pending)
        self.pending.clear()
        self.rows = 0
        self.done.append(tx.instants(wall, "at", len(wall), tz=self.tz))

    def parts(self) -> list[I64]:
        self.flush()
        return self.done


#: The ``strptime`` directives read here: numbers of fixed meaning, each
#: written zero-padded at a fixed width (``%f`` as six digits). Two-digit
#: years, names, AM/PM, offsets, day-of-year and week numbers are not.
_WIDTHS: Final = {"Y": 4, "m": 2, "d": 2, "H": 2, "M": 2, "S": 2, "f": 6}
#: Literal characters a format may hold between them: ASCII letters,
#: punctuation other than ``%``, and the space.
_LITERALS: Final = frozenset(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ !\"#$&'()*+,-./:;<=>?@[\\]^_`{|}~"
)
_US: Final = {"H": 3_600_000_000, "M": 60_000_000, "S": 1_000_000, "f": 1}


def _layout(fmt: object) -> tuple[dict[str, int], bytes] | None:
    """Where each field starts in the zero-padded rendering of ``fmt``, and that
    rendering's bytes with every digit 0; None for a format left to the stdlib reader.

    A format is read here when it holds ``%Y``, ``%m`` and ``%d`` once each,
    ``%H``, ``%M``, ``%S`` and ``%f`` at most once, and otherwise only
    :data:`_LITERALS`.
    """
    if not isinstance(fmt, str):
        return None
    starts: dict[str, int] = {}
    template = bytearray()
    i = 0
    while i < len(fmt):
        if fmt[i] == "%":
            directive = fmt[i + 1 : i + 2]
            if directive not in _WIDTHS or directive in starts:
                return None
            starts[directive] = len(template)
            template += b"0" * _WIDTHS[directive]
            i += 2
        elif fmt[i] in _LITERALS:
            template += fmt[i].encode("ascii")
            i += 1
        else:
            return None
    if not {"Y", "m", "d"} <= starts.keys():
        return None
    return starts, bytes(template)


def _walls(text: Any, starts: dict[str, int], template: bytes) -> npt.NDArray[np.datetime64]:
    """Wall times (datetime64[us]) of text in the zero-padded rendering of a format.

    Every value must be exactly that rendering: the fields are read at their
    places, the instant they name is formatted back with the same format,
    and the text must come back byte for byte. So ``31/02/2024``,
    ``24:00:00``, a second of 60, a year 0, a digit of another script or an
    unpadded ``1/2/2024`` (all of which Python's ``strptime`` reads in its
    own way, or refuses) stop this path, and the stdlib reader decides. On a
    value that comes back, ``strptime`` reads the same fields: each of its
    patterns tries a field's full width first.

    The text comparison is made in two parts that together are the same:
    the literal bytes against the format's, and the fields formatted back
    against the fields read (the digit bytes are ASCII digits, so each field
    has one rendering).
    """
    n, width = len(text), len(template)
    if n == 0:
        return np.empty(0, dtype="datetime64[us]")
    offsets = np.frombuffer(text.buffers()[1], dtype=np.int32, count=n + 1, offset=4 * text.offset)
    if (np.diff(offsets) != width).any():
        raise ValueError("a value not in the zero-padded rendering of the format")
    first = int(offsets[0])
    data = np.frombuffer(text.buffers()[2], dtype=np.uint8)
    matrix = data[first : first + n * width].reshape(n, width)
    expected = np.frombuffer(template, dtype=np.uint8)
    digit = np.zeros(width, dtype=np.bool_)
    for field, start in starts.items():
        digit[start : start + _WIDTHS[field]] = True
    literal = np.flatnonzero(~digit)
    if (matrix[:, literal] != expected[literal]).any():
        raise ValueError("a value not in the zero-padded rendering of the format")
    if ((matrix[:, digit] - np.uint8(48)) > 9).any():
        raise ValueError("a value not in the zero-padded rendering of the format")
    read: dict[str, I64] = {}
    for field, start in starts.items():
        value = matrix[:, start].astype(np.int64)
        for place in range(start + 1, start + _WIDTHS[field]):
            value *= 10
            value += matrix[:, place]
        value -= 48 * int("1" * _WIDTHS[field])  # the bytes of "0", "00", ...
        read[field] = value
    if read["Y"].min() < 1:
        raise ValueError("year 0")  # (datetime64 has one; Python's datetime does not)
    # the instant the fields name
    day = civil_days(read["Y"], read["m"], read["d"])
    micros = day * _DAY_US
    for field, unit in _US.items():
        if field in read:
            micros += read[field] * unit
    # ... formatted back
    day = micros // _DAY_US
    back = dict(zip("Ymd", civil(day), strict=True))
    left = micros - day * _DAY_US
    for field, unit in _US.items():
        back[field] = left // unit
        left -= back[field] * unit
    for field, value in read.items():
        if not np.array_equal(back[field], value):
            raise ValueError("a value that does not come back from the format")
    return micros.view("datetime64[us]")


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
    if at_format is not None and _layout(at_format) is None:
        return None  # a format with names, a two-digit year, an offset, ...
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
    walls = _Walls(tz)
    batches = (
        batch
        for block in _blocks(path)
        for batch in pcsv.read_csv(pa.py_buffer(block), **options).to_batches()
    )
    for batch in batches:
        for role, name in names.items():
            values = pc.ascii_trim_whitespace(batch.column(name))
            formatted = role == "at" and at_format is not None  # (every byte is checked)
            if not formatted and pc.any(pc.match_substring_regex(values, _EDGE_SPACE)).as_py():
                raise ValueError("non-ASCII space at an edge: the stdlib reader decides")
            if role in text:  # each block's distinct values once, not every row's text
                text[role].append(pc.dictionary_encode(values))
            elif role == "at":
                walls.add(_instants(pa, pc, values, at_format))
            elif role == "amount":
                numbers[role].append(_minor(pa, pc, values, exponent))
            elif role == "quantity":
                _require(pc, values, _INTEGER)
                numbers[role].append(_numbers(pc.cast(values, pa.int64()), np.int64))
            else:
                numbers[role].append(_flags(pc, values))
    if "at" in numbers:
        numbers["at"] = walls.parts()
    out: dict[str, Any] = {}
    for role in list(numbers):  # one column's blocks at a time, each freed once joined
        parts = numbers.pop(role)
        dtype = np.bool_ if role == "is_return" else np.int64
        out[role] = np.concatenate(parts) if parts else np.empty(0, dtype=dtype)
        del parts
    for role in list(text):
        out[role] = _factorize(pa, pc, text.pop(role))
    return out

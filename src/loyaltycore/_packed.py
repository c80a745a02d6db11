"""Packed columns: how state documents keep bulk data small and quick to read.

A state document (a ledger's, an account snapshot) is plain JSON data, but
most of it is columns: thousands of ints, or thousands of ids and short
texts. As JSON lists they are large and cost the parser a step per item.
Packed, a column is one base64 string of deflated bytes, which JSON skips
over in one step and which inflates in one C call:

* ints: ``{"int64": text}``, little-endian 64-bit ints; or, when smaller,
  ``{"deltas": text, "sizes": "8411"}``: a table of ``len(sizes)`` int
  columns (one for a plain column), its first row as 64-bit ints, then
  each column's differences from one row to the next in that column's
  width in bytes (1, 2, 4 or 8), column after column. Differences wrap
  around at 64 bits, so every int64 reads back exactly. Ids in order,
  instants in order and small counts become one or two bytes each, which
  deflate to little and inflate quickly;
* texts: ``{"texts": text}``, UTF-8 joined by NUL (so no text may hold a
  NUL; ids never do, and JSON text never holds a raw one).

Readers accept the packed and the plain form (a list) alike. Every problem
raises ``ValueError`` naming the column; the caller turns it into
:class:`~loyaltycore.errors.InvalidData` with its path. This module is the
only place the encoding lives.
"""

from __future__ import annotations

import base64
import binascii
import zlib
from collections.abc import Sequence
from typing import Any, Final

import numpy as np

#: The key of a packed int column, and of a packed text column.
INTS: Final = "int64"
TEXTS: Final = "texts"
#: The keys of a packed int column written as narrow differences.
DELTAS: Final = "deltas"
SIZES: Final = "sizes"
_NARROW: Final = tuple((size, np.iinfo(f"<i{size}")) for size in (1, 2, 4))
#: Joins the items of a packed text column.
NUL: Final = "\x00"
#: The most bytes one packed column may inflate to (bounds what a document can make us allocate).
MAX_BYTES: Final = 1 << 31


def _deflated(raw: bytes) -> str:
    return base64.b64encode(zlib.compress(raw, 1)).decode("ascii")


def _inflated(value: object, key: str, name: str) -> bytes:
    if not isinstance(value, str):
        raise ValueError(f"{name} must be a base64 text")
    try:
        inflate = zlib.decompressobj()
        raw = inflate.decompress(base64.b64decode(value, validate=True), MAX_BYTES)
    except (binascii.Error, ValueError, zlib.error):
        raise ValueError(f"{name} is not deflated {key} in base64 text") from None
    if inflate.unconsumed_tail or not inflate.eof:
        raise ValueError(f"{name} is not a whole deflated column of at most 2 GiB")
    return raw


def _size(differences: Any) -> int:
    """The fewest bytes that hold every one of ``differences``."""
    if not len(differences):
        return 1
    low, high = int(differences.min()), int(differences.max())
    for size, bounds in _NARROW:
        if bounds.min <= low and high <= bounds.max:
            return size
    return 8


def pack_ints(column: Any, width: int = 1) -> dict[str, str]:
    """Ints (a list, an array) as ``{"int64": text}``, or as narrow differences
    when those are smaller (see the module's docstring).

    ``width`` reads the column as a table of that many columns, row after
    row (a ledger's lot rows): each column's differences get their own width.

    >>> pack_ints([1, 2, 3]) == pack_ints(np.array([1, 2, 3]))
    True
    >>> unpack_ints(pack_ints([1, -2, 2**62]), "c").tolist()
    [1, -2, 4611686018427387904]
    >>> packed = pack_ints([1_700_000_000_000_000, 5, 1_700_000_000_000_100, 7], width=2)
    >>> packed["sizes"], unpack_ints(packed, "c").tolist()[2:]
    ('11', [1700000000000100, 7])
    """
    ints = np.asarray(column, dtype="<i8")
    if len(ints) < 2 * width or len(ints) % width:  # (no differences, or no table)
        return {INTS: _deflated(ints.tobytes())}
    table = ints.reshape(-1, width)
    differences = np.diff(table, axis=0)  # (wraps around at 64 bits, as the reader's sums)
    sizes = [_size(differences[:, j]) for j in range(width)]
    if sum(sizes) == 8 * width:
        return {INTS: _deflated(ints.tobytes())}
    parts = [table[0].tobytes()]
    parts += [differences[:, j].astype(f"<i{size}").tobytes() for j, size in enumerate(sizes)]
    return {DELTAS: _deflated(b"".join(parts)), SIZES: "".join(map(str, sizes))}


def _from_deltas(value: dict[str, Any], name: str) -> Any:
    sizes = value[SIZES]
    if type(sizes) is not str or not sizes or set(sizes) - set("1248"):
        raise ValueError(f"{name}.sizes must be a text of the widths 1, 2, 4 and 8")
    raw = _inflated(value[DELTAS], DELTAS, name)
    width, per_row = len(sizes), sum(map(int, sizes))
    if len(raw) < 8 * width or (len(raw) - 8 * width) % per_row:
        raise ValueError(f"{name} is not a whole table of {width} int columns")
    rows = (len(raw) - 8 * width) // per_row
    table = np.empty((rows + 1, width), dtype=np.int64)
    table[0] = np.frombuffer(raw, dtype="<i8", count=width)
    at = 8 * width
    for j, size in enumerate(map(int, sizes)):
        table[1:, j] = np.frombuffer(raw, dtype=f"<i{size}", count=rows, offset=at)
        at += size * rows
    return np.cumsum(table, axis=0, out=table).ravel()


def is_packed(value: object, key: str) -> bool:
    """Whether ``value`` has the shape of a packed column (``key``: ints or texts),
    its content unread."""
    if type(value) is not dict:
        return False
    if key == INTS and set(value) == {DELTAS, SIZES}:
        return type(value[DELTAS]) is str and type(value[SIZES]) is str
    return set(value) == {key} and type(value[key]) is str


def unpack_ints(value: object, name: str) -> Any:
    """A packed or plain int column as an int64 numpy array.

    >>> unpack_ints([4, 5], "c").tolist()
    [4, 5]
    >>> unpack_ints({"int64": "nope"}, "lots")
    Traceback (most recent call last):
    ...
    ValueError: lots is not deflated int64 in base64 text
    """
    if isinstance(value, dict):
        if set(value) == {DELTAS, SIZES}:
            return _from_deltas(value, name)
        if set(value) != {INTS}:
            raise ValueError(f'{name} must be a list of ints or {{"{INTS}": base64 text}}')
        raw = _inflated(value[INTS], INTS, name)
        if len(raw) % 8:
            raise ValueError(f"{name} is not a whole number of 64-bit ints")
        return np.frombuffer(raw, dtype="<i8").astype(np.int64)
    if not isinstance(value, list) or not set(map(type, value)) <= {int}:
        raise ValueError(f"{name} must be a list of ints")
    return np.array(value, dtype=np.int64)  # (OverflowError beyond int64)


def can_pack_texts(texts: Sequence[str]) -> bool:
    """Whether ``texts`` may be packed (none holds a NUL)."""
    return NUL not in "".join(texts)


def pack_texts(texts: Sequence[str]) -> dict[str, str]:
    """Texts without NUL as ``{"texts": text}``.

    >>> unpack_texts(pack_texts(["a-1", "b", ""]), "ids")
    ['a-1', 'b', '']
    >>> unpack_texts(pack_texts([]), "ids")
    []
    """
    if not can_pack_texts(texts):
        raise ValueError("a packed text may not hold a NUL character")
    joined = NUL.join(texts) + NUL if texts else ""
    return {TEXTS: _deflated(joined.encode("utf-8"))}


def unpack_texts(value: object, name: str) -> list[str]:
    """A packed or plain text column as a list of str.

    >>> unpack_texts(["x", "y"], "ids")
    ['x', 'y']
    """
    if isinstance(value, dict):
        if set(value) != {TEXTS}:
            raise ValueError(f'{name} must be a list of texts or {{"{TEXTS}": base64 text}}')
        raw = _inflated(value[TEXTS], TEXTS, name)
        try:
            joined = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise ValueError(f"{name} is not UTF-8 text") from None
        if joined and not joined.endswith(NUL):
            raise ValueError(f"{name} is not NUL-terminated texts")
        return joined.split(NUL)[:-1] if joined else []
    if not isinstance(value, list) or not set(map(type, value)) <= {str}:
        raise ValueError(f"{name} must be a list of texts")
    return value

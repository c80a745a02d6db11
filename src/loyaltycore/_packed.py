"""Packed columns: how state documents keep bulk data small and quick to read.

A state document (a ledger's, an account snapshot) is plain JSON data, but
most of it is columns: thousands of ints, or thousands of ids and short
texts. As JSON lists they are large and cost the parser a step per item.
Packed, a column is one base64 string of deflated bytes, which JSON skips
over in one step and which inflates in one C call:

* ints: ``{"int64": text}``, little-endian 64-bit ints;
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


def pack_ints(column: Any) -> dict[str, str]:
    """Ints (a list, an array) as ``{"int64": text}``.

    >>> pack_ints([1, 2, 3]) == pack_ints(np.array([1, 2, 3]))
    True
    >>> unpack_ints(pack_ints([1, -2, 2**62]), "c").tolist()
    [1, -2, 4611686018427387904]
    """
    return {INTS: _deflated(np.asarray(column, dtype="<i8").tobytes())}


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

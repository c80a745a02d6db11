"""The read-out's speed tricks, kept in one place.

A campaign read-out over a whole program is a few sums per member over a
log of millions of rows. Two steps dominate, and each is done once here:

**Members to log codes** (:func:`member_of_code`). A ``TransactionLog``
numbers its customers ``0 .. n_customers - 1`` (``codes``), and the
assignment lists member ids. Members are sorted once (stable) by their key
— the int id when both sides hold ints, otherwise the id's text, so ``42``
and ``"42"`` are the same member — and duplicates are equal neighbours in
that order. Each distinct log id is then found by binary search
(``searchsorted``), giving for every customer code the row of its member in
the assignment, or -1 when the customer was not assigned. Cost: one sort of
the members, one binary search per distinct customer, no Python loop. Ids
containing NUL (which numpy's fixed-width strings would drop at the end) or
longer than 64 characters take an exact dictionary path instead.

**Window sums** (:func:`interval_sums`). The window boundaries (start - h,
start, end, end + h for every horizon h) cut time into consecutive
intervals; counting the boundaries each row is at or past gives its
interval (rows before the first boundary or after the last land in two
overflow bins), and one ``bincount`` over ``code x bins + interval`` sums
every interval of every customer in a single pass (the bins are shared by
the amount and the points columns). Layout of the result: one row per customer
code, one column per interval between consecutive boundaries. Pre and post
windows are then running sums of these columns, away from the campaign.
Sums go through float64, so they are exact while a member's total in one
interval stays below 2**53 minor units.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from loyaltycore.errors import InvalidColumn

I64 = npt.NDArray[np.int64]

#: Up to this many window edges, rows are binned by comparisons, not binary search.
_FEW_EDGES: Final = 16
#: Ids longer than this are matched through a dictionary, not fixed-width strings.
_LONGEST_KEY: Final = 64


def _texts(values: npt.NDArray[Any]) -> list[str]:
    """The text of each id: ``str`` of an element of ``tolist()`` (numpy ints arrive as ints)."""
    items = values.tolist()
    return items if all(type(v) is str for v in items) else list(map(str, items))


def _keys(values: npt.NDArray[Any]) -> npt.NDArray[Any] | None:
    """Fixed-width text keys of ``values``, or None when the dictionary path is better.

    Fixed-width strings drop trailing NULs (so a NUL anywhere sends the ids
    to the exact path) and are as wide as the longest id (so one very long
    id does too, rather than a huge array).
    """
    if values.dtype.kind in "iu":
        return values.astype(np.str_)
    texts = _texts(values)
    longest = max(map(len, texts), default=1)
    if longest > _LONGEST_KEY or "\x00" in "".join(texts):
        return None
    return np.array(texts, dtype=f"<U{max(longest, 1)}")


def _duplicate(sorted_keys: npt.NDArray[Any], order: I64, members: npt.NDArray[Any]) -> None:
    """Raise for the first member (in the given order) whose key repeats an earlier one."""
    same = sorted_keys[1:] == sorted_keys[:-1]
    if not same.any():
        return
    row = int(order[1:][same].min())
    start = int(np.searchsorted(sorted_keys, sorted_keys[np.flatnonzero(order == row)[0]]))
    _repeats(members, row, int(order[start]))


def _repeats(members: npt.NDArray[Any], row: int, first: int) -> None:
    value = members[row]
    value = value.item() if isinstance(value, np.generic) else value
    raise InvalidColumn(
        f"members[{row}]={value!r} repeats members[{first}]", field="members", row=row
    )


def _by_dictionary(members: npt.NDArray[Any], customer_ids: npt.NDArray[Any]) -> I64:
    """The exact path for any text: a dictionary of the members' ids."""
    texts = _texts(members)
    index = dict(zip(texts, range(len(texts)), strict=True))
    if len(index) < len(texts):
        seen: dict[str, int] = {}
        for row, text in enumerate(texts):
            if text in seen:
                _repeats(members, row, seen[text])
            seen[text] = row
    keys = _texts(customer_ids)
    found = map(index.get, keys, itertools.repeat(-1))
    return np.fromiter(found, dtype=np.int64, count=len(keys))


def member_of_code(members: npt.NDArray[Any], customer_ids: npt.NDArray[Any]) -> I64:
    """For each customer code of a log, the row of that customer in ``members`` (-1: none).

    Raises:
        InvalidColumn: a member id that repeats an earlier one.

    >>> member_of_code(np.array(["b", "a"], dtype=object), np.array(["a", "c"], dtype=object))
    array([ 1, -1])
    >>> member_of_code(np.array([7, 3]), np.array([3, 5, 7])).tolist()
    [1, -1, 0]
    """
    if members.dtype.kind in "iu" and customer_ids.dtype.kind in "iu":
        keys: npt.NDArray[Any] | None = members.astype(np.int64)
        wanted: npt.NDArray[Any] | None = customer_ids.astype(np.int64)
    else:
        keys, wanted = _keys(members), _keys(customer_ids)
    if keys is None or wanted is None:
        return _by_dictionary(members, customer_ids)
    order = np.argsort(keys, kind="stable").astype(np.int64)
    sorted_keys = keys[order]
    _duplicate(sorted_keys, order, members)
    if len(keys) == 0:
        return np.full(len(wanted), -1, dtype=np.int64)
    at = np.minimum(np.searchsorted(sorted_keys, wanted), len(keys) - 1)
    found = sorted_keys[at] == wanted
    result: I64 = np.where(found, order[at], -1).astype(np.int64)
    return result


def _slots(at: I64, edges: I64) -> npt.NDArray[np.integer[Any]]:
    """How many edges each instant is at or past: 0 before the first, len(edges) after the last.

    With few edges, one comparison pass per edge beats a binary search per
    row (about twice as fast on eight edges).
    """
    if len(edges) > _FEW_EDGES:
        return np.searchsorted(edges, at, side="right")
    slot = np.zeros(len(at), dtype=np.int8)
    for edge in edges.tolist():
        slot += (at >= edge).view(np.int8)
    return slot


def interval_sums(
    codes: I64, at: I64, columns: Sequence[I64], edges: I64, n_codes: int
) -> list[I64]:
    """Sum each column per code over [edges[k], edges[k + 1]): shape (n_codes, len(edges) - 1).

    The rows' bins are found once and shared by every column.

    >>> interval_sums(np.array([0, 1, 0, 1]), np.array([5, 10, 15, 99]), [np.array([1, 2, 4, 8])],
    ...               np.array([0, 10, 20]), 2)[0].tolist()
    [[1, 4], [0, 2]]
    """
    bins = len(edges) + 1  # an overflow bin on each side
    flat = codes * bins + _slots(at, edges)
    out = []
    for values in columns:
        total = np.bincount(flat, weights=values.astype(np.float64), minlength=n_codes * bins)
        table = total.astype(np.int64).reshape(n_codes, bins)  # whole numbers: exact
        out.append(table[:, 1:-1])
    return out


def spread(table: npt.NDArray[np.int64], rows: I64, n: int) -> npt.NDArray[np.int64]:
    """Rows of a per-code table moved to their members' rows (zeros for members with none).

    ``rows`` is :func:`member_of_code`'s result: the member row of each code.

    >>> spread(np.array([[1], [2], [3]]), np.array([1, -1, 0]), 3).tolist()
    [[3], [1], [0]]
    """
    out = np.zeros((n, table.shape[1]), dtype=np.int64)
    hit = rows >= 0
    out[rows[hit]] = table[hit]
    return out

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
whose text ends in NUL (which numpy's fixed-width strings would drop) take
an exact dictionary path instead.

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

from collections.abc import Sequence
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from loyaltycore.errors import InvalidColumn

I64 = npt.NDArray[np.int64]

#: Up to this many window edges, rows are binned by comparisons, not binary search.
_FEW_EDGES: Final = 16


def _text(value: object) -> str:
    if isinstance(value, int | np.integer) and not isinstance(value, bool | np.bool_):
        return str(int(value))
    return str(value)


def _keys(values: npt.NDArray[Any]) -> npt.NDArray[Any] | None:
    """Fixed-width text keys of ``values``, or None when they would not be exact.

    ``str`` of an element of ``tolist()`` is :func:`_text` of it (numpy
    integers arrive as Python ints). A NUL anywhere sends the caller to the
    exact path, since fixed-width strings drop trailing NULs.
    """
    if values.dtype.kind in "iuU":
        return values.astype(np.str_)
    texts = list(map(str, values.tolist()))
    if "\x00" in "".join(texts):
        return None
    return np.array(texts, dtype=np.str_) if texts else np.zeros(0, dtype="<U1")


def _duplicate(sorted_keys: npt.NDArray[Any], order: I64, members: npt.NDArray[Any]) -> None:
    """Raise for the first member (in the given order) whose key repeats an earlier one."""
    same = sorted_keys[1:] == sorted_keys[:-1]
    if not same.any():
        return
    later = order[1:][same]
    row = int(later.min())
    start = int(np.searchsorted(sorted_keys, sorted_keys[np.flatnonzero(order == row)[0]]))
    first = int(order[start])
    value = members[row]
    value = value.item() if isinstance(value, np.generic) else value
    raise InvalidColumn(
        f"members[{row}]={value!r} repeats members[{first}]", field="members", row=row
    )


def _by_dictionary(members: npt.NDArray[Any], customer_ids: npt.NDArray[Any]) -> I64:
    """The exact, slower path: a dictionary of the members' text."""
    index: dict[str, int] = {}
    for i, value in enumerate(members.tolist()):
        key = _text(value)
        if key in index:
            raise InvalidColumn(
                f"members[{i}]={value!r} repeats members[{index[key]}]", field="members", row=i
            )
        index[key] = i
    return np.fromiter(
        (index.get(_text(v), -1) for v in customer_ids.tolist()),
        dtype=np.int64,
        count=len(customer_ids),
    )


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

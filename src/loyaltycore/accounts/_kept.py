"""The orders an account keeps for refunds: one tuple per untouched order, built back when read.

An account keeps every order of its refund window. As values, each order
would be an :class:`OrderRecord`, its :class:`StoredEvaluation`, the
evaluation's parts and its earns: five objects the garbage collector counts,
for as long as the account lives. So :class:`KeptOrders` keeps an order that
no refund, migration or merge has touched yet as one flat tuple, and builds
the equal record each time one is read (a refund, a snapshot, a comparison).
Any other record is kept as it is.

Layout of a compact order (``_FIELDS`` order, then the rest):

* ``held``, ``parts``: the kept evaluation's items (or event) and its tuple of
  atoms (see ``_values._parts``);
* the record's ``_PLAIN`` fields, as they are;
* the number of earns, then each earn's ledger id and points.

Everything else is what a new order holds: nothing refunded, returned or
decremented, its points in this ledger.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, MutableMapping
from datetime import datetime
from operator import attrgetter
from typing import Any, Final

import attrs

from loyaltycore.accounts._values import OrderRecord, StoredEvaluation

#: The record fields a compact order keeps as they are, in this order.
_PLAIN: Final = (
    "id",
    "version",
    "at",
    "occurred_at",
    "program",
    "member",
    "currency",
    "rate",
    "total",
    "granted",
    "caps",
    "line_earn",
    "tender",
    "tendered",
    "clawed",
)
_plain_fields: Final = attrgetter(*_PLAIN)
_DEFAULTS: Final = {f.name: f.default for f in attrs.fields(OrderRecord)}
#: where the ``_PLAIN`` fields start and end in a compact order
_START: Final = 2
_END: Final = _START + len(_PLAIN)
_ID, _AT, _PROGRAM, _TENDER = (_START + _PLAIN.index(n) for n in ("id", "at", "program", "tender"))

Compact = tuple[Any, ...]


def compact(record: OrderRecord) -> OrderRecord | Compact:
    """The record as a compact order, or itself when a refund, migration or merge touched it."""
    evaluation = record.evaluation
    parts = evaluation._parts
    if (
        parts is None
        or not record.in_ledger
        or record.refunded_items
        or record.refunded_amount is not _DEFAULTS["refunded_amount"]
        or record.refunded_all
        or any(record.clawed)
        or record.returned
        or record.decremented
        or record.spend_back
    ):
        return record
    out: list[Any] = [evaluation._held, parts, *_plain_fields(record), len(record.earns)]
    for earn in record.earns:
        out += earn
    return tuple(out)


def record(value: OrderRecord | Compact) -> OrderRecord:
    """The record a kept value stands for (equal to the one it was made from)."""
    if type(value) is not tuple:
        return value  # type: ignore[return-value]
    fields = dict(zip(_PLAIN, value[_START:_END], strict=True))
    n = value[_END]
    flat = value[_END + 1 : _END + 1 + 2 * n]
    return OrderRecord(
        evaluation=StoredEvaluation._of(value[0], value[1]),
        earns=tuple(zip(flat[::2], flat[1::2], strict=True)),
        **fields,
    )


class KeptOrders(MutableMapping[str, OrderRecord]):
    """An account's orders by id, untouched ones compact (see the module's layout).

    Iteration order is insertion order, as in a dict. A copy shares the
    kept values. It pickles as a dict of records.
    """

    __slots__ = ("_items",)

    def __init__(self, items: Mapping[str, OrderRecord | Compact] | None = None) -> None:
        self._items: dict[str, OrderRecord | Compact] = {} if items is None else dict(items)

    def __getitem__(self, key: str) -> OrderRecord:
        return record(self._items[key])

    def __setitem__(self, key: str, value: OrderRecord) -> None:
        self._items[key] = compact(value)

    def __delitem__(self, key: str) -> None:
        del self._items[key]

    def __contains__(self, key: object) -> bool:
        return key in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def copy(self) -> KeptOrders:
        """A copy (kept values shared)."""
        kept = object.__new__(KeptOrders)
        kept._items = self._items.copy()
        return kept

    def kept(self, key: str) -> OrderRecord | Compact | None:
        """The value kept for ``key`` (a record or a compact order; None: not kept)."""
        return self._items.get(key)

    def oldest(self) -> tuple[str, datetime, tuple[str, int]] | None:
        """The first order's id, posting time and program key (None: no orders)."""
        for value in self._items.values():
            if type(value) is tuple:
                return value[_ID], value[_AT], value[_PROGRAM].key
            found: OrderRecord = value  # type: ignore[assignment]
            return found.id, found.at, found.program.key
        return None

    def program_keys(self) -> Iterator[tuple[str, int]]:
        """The program key of each order."""
        for value in self._items.values():
            yield (value[_PROGRAM] if type(value) is tuple else value.program).key  # type: ignore[union-attr]

    def ledger_ids(self) -> Iterator[str]:
        """The ledger ids of the earns and point tenders of orders still in this ledger."""
        for value in self._items.values():
            if type(value) is tuple:
                n = value[_END]
                yield from value[_END + 1 : _END + 1 + 2 * n : 2]
                if value[_TENDER]:
                    yield value[_TENDER]
            elif value.in_ledger:  # type: ignore[union-attr]
                found: OrderRecord = value  # type: ignore[assignment]
                yield from (earn for earn, _ in found.earns)
                if found.tender:
                    yield found.tender

    def earn_orders(self) -> dict[str, str]:
        """The order id of each ledger earn an order made (in the ledger or not)."""
        out = {}
        for value in self._items.values():
            if type(value) is tuple:
                n = value[_END]
                for earn in value[_END + 1 : _END + 1 + 2 * n : 2]:
                    out[earn] = value[_ID]
            else:
                found: OrderRecord = value  # type: ignore[assignment]
                for earn, _ in found.earns:
                    out[earn] = found.id
        return out

    def __repr__(self) -> str:
        return f"KeptOrders({len(self._items)} orders)"

    def __reduce__(self) -> tuple[Any, ...]:
        return (dict, (dict(self.items()),))

"""An account's events since it was opened or restored: O(1) to extend, compact to keep.

An account keeps every event it applied (a store appends them after each
command), and an event holds objects: its outcome, its ledger commands, its
order record. Kept as values, every order would leave some sixty references
that the garbage collector walks at each collection for as long as the account
lives, long after the outcome left the idempotency window. So the log keeps
most events compact and builds them back when a host reads them.

Layout of ``_Log.items`` (one list shared by successive versions, each seeing
its first ``size`` items): an item is an :class:`AccountEvent` (an open, a
migration, a merge: events holding programs, tier commands or other
accounts), or a compact event, the tuple ``(payload, order, activity, atoms)``:

* ``payload``, ``order``, ``activity``: the event's own values (the account
  keeps the order record and the activity anyway);
* ``atoms``: everything else as strs, ints, instants and tuples of them
  (``_EVENT`` fields, the ledger commands as ``_OP`` field tuples, the
  counters as items, the outcome as ``_OUTCOME`` fields with its award lines as
  field tuples), which the collector stops tracking.

:func:`expand` builds the equal event back.
"""

from __future__ import annotations

from operator import attrgetter
from typing import Any, Final

import attrs

from loyaltycore.accounts import _orders
from loyaltycore.accounts._values import AccountEvent, LedgerOp, Outcome

#: The ledger command fields a compact event keeps, in this order.
_OP: Final = tuple(f.name for f in attrs.fields(LedgerOp))
#: The outcome fields a compact event keeps as they are (then lines, counters, budgets).
_OUTCOME: Final = tuple(
    f.name
    for f in attrs.fields(Outcome)
    if f.name not in ("lines", "emitted", "counters", "budgets")
)
_LINE: Final = ("rule", "currency", "recipient", "points", "granted", "cap")
#: (each a tuple of the fields, in one C call)
_op_fields: Final = attrgetter(*_OP)
_outcome_fields: Final = attrgetter(*_OUTCOME)
_line_fields: Final = attrgetter(*_LINE)

Item = AccountEvent | tuple[Any, ...]


def _compact(event: AccountEvent) -> Item:
    """The event as a compact tuple, or itself when it holds more than atoms."""
    outcome = event.outcome
    if (
        event.program is not None
        or event.tier is not None
        or event.absorbed is not None
        or outcome.emitted
        or type(event.counters) is not dict
        or type(event.caps) is not dict
        or type(outcome.counters) is not dict
        or type(outcome.budgets) is not dict
    ):
        return event
    ops = []
    for op in event.ledger:
        if op.policy is not None or op.parts or op.lots:
            return event
        ops.append(_op_fields(op))
    atoms = (
        event.version,
        event.command,
        event.id,
        event.at,
        event.occurred_at,
        event.member,
        event.hold,
        tuple(ops),
        tuple(event.counters.items()),
        tuple(event.caps.items()),
        _outcome_fields(outcome),
        tuple(map(_line_fields, outcome.lines)),
        tuple(outcome.counters.items()),
        tuple(outcome.budgets.items()),
    )
    return (event.payload, event.order, event.activity, atoms)


def expand(item: Item) -> AccountEvent:
    """The event of a kept item (equal to the one the log was given)."""
    if isinstance(item, AccountEvent):
        return item
    payload, order, activity, atoms = item
    version, command, id, at, occurred, member, hold, ops, counters, caps = atoms[:10]
    fields, lines, outcome_counters, budgets = atoms[10:]
    outcome = Outcome(
        **dict(zip(_OUTCOME, fields, strict=True)),
        lines=_orders.award_lines(lines),
        counters=dict(outcome_counters),
        budgets=dict(budgets),
    )
    return AccountEvent(
        version,
        command,
        id,
        at,
        occurred,
        payload,
        outcome,
        tuple(LedgerOp(**dict(zip(_OP, op, strict=True))) for op in ops),
        activity,
        dict(counters),
        dict(caps),
        order,
        member=member,
        hold=hold,
    )


class Log:
    """An account's events since it was opened or restored: O(1) to extend.

    Successive versions share one list and each sees its first ``size``
    items: a new event is appended in place when this version is the
    newest (append, then check the slot is ours), else the list is copied.
    """

    __slots__ = ("items", "size")

    def __init__(self, items: list[Item], size: int) -> None:
        self.items = items
        self.size = size

    @classmethod
    def of(cls, event: AccountEvent) -> Log:
        """A log of one event."""
        return cls([_compact(event)], 1)

    def add(self, event: AccountEvent) -> Log:
        """This log with ``event`` after it."""
        item = _compact(event)
        items, size = self.items, self.size
        if len(items) == size:
            items.append(item)
            if len(items) > size and items[size] is item:
                return Log(items, size + 1)
        return Log([*items[:size], item], size + 1)

    def newest(self, count: int) -> list[AccountEvent]:
        """The last ``count`` events, oldest first."""
        size = self.size
        return [expand(item) for item in self.items[max(0, size - count) : size]]

    def __reduce__(self) -> tuple[Any, ...]:
        return (Log, (self.items[: self.size], self.size))

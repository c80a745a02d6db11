"""An account's events since it was opened or restored: O(1) to extend, compact to keep.

An account keeps every event it applied (a store appends them after each
command), and an event holds objects: its outcome, its ledger commands, its
order record. Kept as values, every order would leave some sixty references
that the garbage collector walks at each collection for as long as the account
lives, long after the outcome left the idempotency window. So the log keeps
most events compact and builds them back when a host reads them.

Layout of ``Log.slots`` (one list shared by successive versions, each seeing
its first ``size`` events): four slots per event, flat, so keeping an event
adds no container of its own. An event kept whole (an open, a migration, a
merge: events holding programs, tier commands or other accounts) is
``(event, None, None, None)``; a compact event is
``(payload, order, activity, atoms)``:

* ``payload``: the payload's text when it was written, else the values it
  holds (the payload object itself is kept only as long as the outcome's
  idempotency window keeps it; reading the event wraps them again);
* ``order``, ``activity``: the event's own values (the account keeps the
  order record and the activity anyway);
* ``atoms``: everything else, one flat tuple of strs, ints and instants
  (flat: the collector stops tracking a tuple of atoms at its first
  collection, one of tuples only once each inner one is untracked):
  version, command, id, at, occurred_at, member, hold; the number of ledger
  commands, then each one's ``_OP`` fields; the outcome's ``_OUTCOME``
  fields; the number of award lines, then each one's ``_LINE`` fields; then
  the event's counters and caps and the outcome's counters and budgets, each
  as its length and its keys and values.

An item (what :meth:`Log.items` lists and a pickle holds) is the event kept
whole or the compact tuple; :func:`expand` builds the equal event back.
"""

from __future__ import annotations

from operator import attrgetter
from typing import Any, Final

import attrs

from loyaltycore.accounts import _orders
from loyaltycore.accounts._values import AccountEvent, LedgerOp, Outcome, Payload

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
    maps = (event.counters, event.caps, outcome.counters, outcome.budgets)
    if (
        event.program is not None
        or event.tier is not None
        or event.absorbed is not None
        or outcome.emitted
        or any(type(m) is not dict for m in maps)
        or any(op.policy is not None or op.parts or op.lots for op in event.ledger)
    ):
        return event
    atoms = [
        event.version,
        event.command,
        event.id,
        event.at,
        event.occurred_at,
        event.member,
        event.hold,
        len(event.ledger),
    ]
    for op in event.ledger:
        atoms += _op_fields(op)
    atoms += _outcome_fields(outcome)
    atoms.append(len(outcome.lines))
    for line in outcome.lines:
        atoms += _line_fields(line)
    for mapping in maps:
        atoms.append(len(mapping))
        for pair in mapping.items():
            atoms += pair
    return (event.payload, event.order, event.activity, tuple(atoms))


def _read_maps(atoms: tuple[Any, ...], i: int) -> list[dict[str, int]]:
    """The mappings written after ``atoms[i]`` (each its length, then keys and values)."""
    out = []
    while i < len(atoms):
        n = atoms[i]
        pairs = atoms[i + 1 : i + 1 + 2 * n]
        out.append(dict(zip(pairs[::2], pairs[1::2], strict=True)))
        i += 1 + 2 * n
    return out


def expand(item: Item) -> AccountEvent:
    """The event of a kept item (equal to the one the log was given)."""
    if isinstance(item, AccountEvent):
        return item
    payload, order, activity, atoms = item
    version, command, id, at, occurred, member, hold, n = atoms[:8]
    i, width = 8, len(_OP)
    ops = []
    for _ in range(n):
        ops.append(LedgerOp(**dict(zip(_OP, atoms[i : i + width], strict=True))))
        i += width
    fields = dict(zip(_OUTCOME, atoms[i : i + len(_OUTCOME)], strict=True))
    i += len(_OUTCOME)
    n, i = atoms[i], i + 1
    width = len(_LINE)
    lines = tuple(atoms[k : k + width] for k in range(i, i + n * width, width))
    counters, caps, outcome_counters, budgets = _read_maps(atoms, i + n * width)
    outcome = Outcome(
        **fields,
        lines=_orders.award_lines(lines),
        counters=outcome_counters,
        budgets=budgets,
    )
    return AccountEvent(
        version,
        command,
        id,
        at,
        occurred,
        payload,
        outcome,
        tuple(ops),
        activity,
        counters,
        caps,
        order,
        member=member,
        hold=hold,
    )


class Log:
    """An account's events since it was opened or restored: O(1) to extend.

    Successive versions share one list and each sees its first ``size``
    events: a new event is appended in place when this version is the
    newest (extend, then check the slots are ours), else the list is copied.
    The newest event is also kept as given (``last``) until the next one
    comes: a store reads it back after every command, and one event per
    account is all the collector has to walk.
    """

    __slots__ = ("last", "size", "slots")

    def __init__(self, items: list[Item], size: int) -> None:
        slots: list[Any] = []
        for item in items[:size]:
            slots.extend(_four(item))
        self.slots = slots
        self.size = size
        self.last: AccountEvent | None = None

    @classmethod
    def of(cls, event: AccountEvent) -> Log:
        """A log of one event."""
        return _log(list(_four(_compact(event))), 1, event)

    @property
    def items(self) -> list[Item]:
        """The kept items, oldest first (the event kept whole, or the compact tuple)."""
        slots = self.slots
        return [_item(slots, 4 * k) for k in range(self.size)]

    def add(self, event: AccountEvent) -> Log:
        """This log with ``event`` after it."""
        four = _four(_compact(event))
        slots, end = self.slots, 4 * self.size
        if len(slots) == end:
            slots.extend(four)
            if len(slots) > end and slots[end] is four[0] and slots[end + 3] is four[3]:
                return _log(slots, self.size + 1, event)
        return _log([*slots[:end], *four], self.size + 1, event)

    def newest(self, count: int) -> list[AccountEvent]:
        """The last ``count`` events, oldest first."""
        slots, size, last = self.slots, self.size, self.last
        first = max(0, size - count)
        if last is None or first >= size:
            return [expand(_item(slots, 4 * k)) for k in range(first, size)]
        return [*(expand(_item(slots, 4 * k)) for k in range(first, size - 1)), last]

    def __reduce__(self) -> tuple[Any, ...]:
        return (Log, (self.items, self.size))


def _log(slots: list[Any], size: int, last: AccountEvent) -> Log:
    """A log over ``slots`` (already laid out) whose newest event is ``last``."""
    log = object.__new__(Log)
    log.slots = slots
    log.size = size
    log.last = last
    return log


def _four(item: Item) -> tuple[Any, Any, Any, Any]:
    """The four slots of an item."""
    if isinstance(item, AccountEvent):
        return (item, None, None, None)
    payload, order, activity, atoms = item
    text = payload._text
    return (payload._body if text is None else text, order, activity, atoms)


def _item(slots: list[Any], i: int) -> Item:
    """The item whose four slots start at ``slots[i]``."""
    first, order, activity, atoms = slots[i : i + 4]
    if atoms is None:
        return first  # type: ignore[no-any-return]
    payload = Payload(None, first) if type(first) is str else Payload(first)
    return (payload, order, activity, atoms)

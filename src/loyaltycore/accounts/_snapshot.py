"""Plain data of an account: its events and its bounded snapshot.

A snapshot holds the state, not the history: the points ledger as the
packed state document of its current (carried-forward) ledger
(:meth:`~loyaltycore.points.PointsLedger.state`), the tier status, the
activity a decision may still read, counters, cap usage, the outcomes in
the idempotency window and the orders in the refund window. Programs are
named by ``(id, version)``; the profile is never part of it.

Version 3 is laid out to be read back in time proportional to the state,
with little work per item:

* ``ledger``: the ledger's packed state document (int columns deflated in
  base64, read in a few C calls; no event is built or replayed);

* ``activity``: one row per entry, ``[metric, amount, occurred_at,
  source_id, reverses]``, read by the tier program's activity index (the
  entries become :class:`~loyaltycore.tiers.Activity` values on first need);
* ``outcomes`` and ``orders``: ``{"ids": ..., "texts": ...}``, two packed
  text columns (:mod:`loyaltycore._packed`): the ids, and each one's
  canonical JSON text, read when the id is first looked up (a retry, a
  refund). An object of texts by id (version 2's form) reads too;
* ``programs``: the ``(id, version)`` of every program the kept orders name.

Version 1 (activity, outcomes and orders as nested objects) and version 2
(the ledger as its events, written by the points ledger's document version
2) are upgraded on load: the ledger's events go through that document's
upgrader (which derives the effects they did not record) and are replayed
once into the state.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, MutableMapping
from datetime import datetime
from typing import Any, Final, TypeVar

import attrs

from loyaltycore import serialize
from loyaltycore._packed import pack_texts, unpack_texts
from loyaltycore.accounts import _codec
from loyaltycore.accounts._values import (
    VALUE_TYPES,
    AccountEvent,
    HoldRecord,
    Outcome,
    Payload,
    Profile,
    ProgramRef,
    StoredEvaluation,
)
from loyaltycore.errors import InvalidData, InvalidType, LoyaltyError
from loyaltycore.points import Balance, ExpiryPolicy, PointsLedger
from loyaltycore.tiers import TierStatus

#: The snapshot document's name and version (a store rewrites older ones).
SNAPSHOT_SCHEMA = "accounts.Snapshot"
SNAPSHOT_VERSION = 3


@attrs.frozen
class SnapshotData:
    """The plain form of an account's state (``activity``, ``outcomes``, ``orders``: see above).

    The three compact fields are checked when the account is restored
    (activity) or when an id is first read (outcomes, orders).
    """

    member: str
    version: int
    program: ProgramRef
    programs: tuple[ProgramRef, ...]
    ledger: Any
    offset: Balance
    status: TierStatus
    activity: Any
    counters: dict[str, int]
    caps: dict[str, int]
    outcomes: Any
    orders: Any
    holds: dict[str, HoldRecord]
    joined_at: datetime
    last_at: datetime
    merged_into: str | None = None
    absorbed: tuple[str, ...] = ()
    ledger_ops: int = 0
    rotate_at: int = 0


#: The fields of a current snapshot read by their own code, not by the converter.
_BULK: Final = ("ledger", "activity", "outcomes", "orders")


def read(doc: object) -> SnapshotData:
    """The snapshot document ``doc``, of any version.

    A current document's bulk fields are read by their own code: the
    converter (and its depth check) walks only the rest, and the ledger's
    state, the activity, outcomes and orders are left for
    :meth:`Account.restore` to check as it reads them.
    """
    current = (
        isinstance(doc, Mapping)
        and doc.get("schema") == SNAPSHOT_SCHEMA
        and doc.get("version") == SNAPSHOT_VERSION
        and isinstance(doc.get("data"), dict)
    )
    if not current:
        found: SnapshotData = serialize.from_data(doc, SnapshotData)
        return found
    assert isinstance(doc, Mapping)
    data = doc["data"]
    light = {**data, **{k: () for k in _BULK if k in data}}
    small: SnapshotData = serialize.from_data({**doc, "data": light}, SnapshotData)
    return attrs.evolve(
        small,
        ledger=data["ledger"],
        activity=data["activity"],
        outcomes=data["outcomes"],
        orders=data["orders"],
    )


def text(data: Any) -> str:
    """Canonical JSON text of plain data (sorted keys, no spaces)."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), allow_nan=False)


def _upgrade_v1(data: Any) -> Any:
    """Version 1 data as version 2: activity as rows, outcomes and orders as texts by id."""
    if not isinstance(data, dict):
        return data  # (the structure check names it)
    out = dict(data)
    problems: list[str] = []
    activity = data.get("activity")
    if isinstance(activity, list):
        rows = []
        for i, item in enumerate(activity):
            if not isinstance(item, dict) or set(item) != set(_ACTIVITY_KEYS):
                problems.append(f"must be an activity object @ $.data.activity[{i}]")
                continue
            rows.append([item[key] for key in _ACTIVITY_KEYS])
        out["activity"] = rows
    for name in ("outcomes", "orders"):
        items = data.get(name)
        if isinstance(items, list):
            by_id = {}
            for i, item in enumerate(items):
                if not isinstance(item, dict) or not isinstance(item.get("id"), str):
                    problems.append(f"must be an object with an id @ $.data.{name}[{i}]")
                    continue
                try:
                    by_id[item["id"]] = text(item)
                except (ValueError, TypeError, RecursionError):
                    problems.append(f"is not JSON data @ $.data.{name}[{i}]")
            out[name] = by_id
    orders = data.get("orders")
    program = data.get("program")
    keys: list[Any] = [program] if isinstance(program, dict) else []
    if isinstance(orders, list):
        keys += [o.get("program") for o in orders if isinstance(o, dict)]
    out["programs"] = [k for i, k in enumerate(keys) if isinstance(k, dict) and k not in keys[:i]]
    if problems:
        raise InvalidData.from_messages(problems, what=SNAPSHOT_SCHEMA)
    return out


_ACTIVITY_KEYS = ("metric", "amount", "occurred_at", "source_id", "reverses")

#: The points ledger document version a version 2 snapshot's ledger events have.
_LEDGER_V2: Final = 2


def _upgrade_v2(data: Any) -> Any:
    """Version 2 data as version 3: the ledger's events, upgraded by the points
    ledger document's upgrader and replayed, as its packed state."""
    if not isinstance(data, dict) or "ledger" not in data:
        return data  # (the structure check names it)
    doc = {
        "schema": "points.PointsLedger",
        "version": _LEDGER_V2,
        "data": {"events": data["ledger"]},
    }
    try:
        ledger: object = serialize.from_data(doc)
    except LoyaltyError as exc:
        problems = exc.errors if isinstance(exc, InvalidData) else (str(exc),)
        raise InvalidData.from_messages(
            [f"the ledger does not load: {p} @ $.data.ledger" for p in problems],
            what=SNAPSHOT_SCHEMA,
        ) from None
    assert isinstance(ledger, PointsLedger)
    return {**data, "ledger": ledger.state(packed=True)}


def ledger_of(state: object) -> PointsLedger:
    """The ledger of a snapshot's ``ledger`` state document (its path in errors)."""
    try:
        return PointsLedger.from_state(state)
    except InvalidData as exc:
        raise InvalidData.from_messages(
            [f"{problem.replace(' @ $', ' @ $.data.ledger', 1)}" for problem in exc.errors],
            what=SNAPSHOT_SCHEMA,
        ) from None


V = TypeVar("V")


class Stored(MutableMapping[str, V]):
    """Values by id, each kept as its JSON text until first read (then kept decoded).

    What a restored account holds for its outcomes and orders: a restore
    does not read every one of them, a command reads the ones it needs.
    Iteration order is insertion order, as in a dict.
    """

    __slots__ = ("_items", "_kind", "_label")

    def __init__(self, items: dict[str, V | str], kind: type[V], label: str) -> None:
        self._items = items
        self._kind = kind
        self._label = label

    def __getitem__(self, key: str) -> V:
        value = self._items[key]
        if type(value) is str:
            value = self._decode(key, value)
            self._items[key] = value
        return value  # type: ignore[return-value]

    def _decode(self, key: str, value: str) -> V:
        path = f"$.data.{self._label}[{key!r}]"
        try:
            data = json.loads(value)
        except ValueError:
            raise InvalidData.from_messages(
                [f"is not JSON text @ {path}"], what=SNAPSHOT_SCHEMA
            ) from None
        found: V = serialize.structure(data, self._kind, what=SNAPSHOT_SCHEMA, path=path)
        if getattr(found, "id", key) != key:
            raise InvalidData.from_messages([f"names another id @ {path}"], what=SNAPSHOT_SCHEMA)
        return found

    def __setitem__(self, key: str, value: V) -> None:
        self._items[key] = value

    def __delitem__(self, key: str) -> None:
        del self._items[key]

    def __contains__(self, key: object) -> bool:
        return key in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def copy(self) -> Stored[V]:
        """A copy (texts and values shared)."""
        return Stored(dict(self._items), self._kind, self._label)

    def text(self, key: str) -> str:
        """The JSON text of one value (as read, or written now)."""
        value = self._items[key]
        return value if type(value) is str else text(serialize.unstructure(value))

    def __repr__(self) -> str:
        return f"Stored({self._label}, {len(self._items)} items)"

    def __reduce__(self) -> tuple[Any, ...]:
        return (dict, (dict(self.items()),))


def stored(items: object, kind: type[V], label: str) -> Stored[V]:
    """The ``outcomes`` or ``orders`` of a snapshot: JSON texts by id, packed or an
    object (checked: text, not read)."""
    path = f"$.data.{label}"
    if (
        isinstance(items, dict)
        and set(items) == {"ids", "texts"}
        and isinstance(items["ids"], dict)
    ):
        try:
            ids = unpack_texts(items["ids"], "ids")
            values = unpack_texts(items["texts"], "texts")
        except ValueError as exc:
            raise InvalidData.from_messages([f"{exc} @ {path}"], what=SNAPSHOT_SCHEMA) from None
        if len(ids) != len(values) or len(set(ids)) != len(ids):
            raise InvalidData.from_messages(
                [f"must pair distinct ids with their texts @ {path}"], what=SNAPSHOT_SCHEMA
            )
        items = dict(zip(ids, values, strict=True))
    if not isinstance(items, dict):
        raise InvalidData.from_messages(
            [f"must be an object of JSON texts by id @ {path}"], what=SNAPSHOT_SCHEMA
        )
    bad = [
        f"must be a JSON object text @ {path}[{key!r}]"
        for key, value in items.items()
        if type(value) is not str or not value.startswith("{")
    ]
    if bad:
        raise InvalidData.from_messages(bad, what=SNAPSHOT_SCHEMA)
    return Stored(dict(items), kind, label)


def copied(items: Mapping[str, V]) -> MutableMapping[str, V]:
    """A mutable copy of an account's outcomes or orders (texts stay texts)."""
    if type(items) is dict:  # (a live account's: no abstract-class check)
        return items.copy()
    return items.copy() if isinstance(items, Stored) else dict(items)


def texts(items: Mapping[str, Any]) -> dict[str, dict[str, str]]:
    """Outcomes or orders as their ids and JSON texts, packed (for a snapshot)."""
    if isinstance(items, Stored):
        values = [items.text(key) for key in items]
    else:
        values = [text(serialize.unstructure(value)) for value in items.values()]
    return {"ids": pack_texts(list(items)), "texts": pack_texts(values)}


def event_to_data(event: AccountEvent) -> dict[str, object]:
    """The versioned plain-data document of an account event (for an event store).

    >>> from datetime import datetime, timezone
    >>> from loyaltycore.accounts import Account, example_program
    >>> at = datetime(2024, 5, 6, tzinfo=timezone.utc)
    >>> opened = Account.open("ann", program=example_program(), at=at).events[0]
    >>> doc = event_to_data(opened)
    >>> doc["schema"], event_from_data(doc) == opened
    ('accounts.Event', True)
    """
    return {"schema": "accounts.Event", "version": 1, "data": _codec.event_data(event)}


def event_from_data(data: object) -> AccountEvent:
    """The event of :func:`event_to_data` (bad data raises InvalidData naming the path).

    >>> event_from_data({"schema": "accounts.Event", "version": 1, "data": {}})
    Traceback (most recent call last):
    ...
    loyaltycore.errors.InvalidData: invalid accounts.Event:
    ...
    """
    result: AccountEvent = serialize.from_data(data, AccountEvent)
    return result


def _structure_stored(value: Any, _: Any) -> StoredEvaluation:
    if not isinstance(value, str) or not value.startswith("{"):
        raise InvalidType(
            f"evaluation={value!r} must be an evaluation document as JSON text",
            field="evaluation",
            value=value,
        )
    return StoredEvaluation(text=value)


def _structure_payload(value: Any, _: Any) -> Payload:
    if not isinstance(value, str) or not value.startswith("{"):
        raise InvalidType(
            f"payload={value!r} must be a command's canonical JSON text",
            field="payload",
            value=value,
        )
    return Payload(text=value)


def register() -> None:
    """Register the accounts' documents and the hooks their fields need."""
    conv = serialize.converter
    union: Any = ExpiryPolicy
    conv.register_unstructure_hook(
        union | None, lambda v: None if v is None else conv.unstructure(v, union)
    )
    conv.register_structure_hook(
        union | None, lambda v, _: None if v is None else conv.structure(v, union)
    )
    conv.register_unstructure_hook(StoredEvaluation, lambda v: v.text)
    conv.register_unstructure_hook(Payload, lambda v: v.text)
    conv.register_structure_hook(Payload, _structure_payload)
    conv.register_structure_hook(StoredEvaluation, _structure_stored)
    for cls in (*VALUE_TYPES, SnapshotData):
        attrs.resolve_types(cls)
    _codec.register()  # (written field by field; fields at their defaults left out)
    serialize.register_document(AccountEvent, "accounts.Event", 1)
    serialize.register_document(Profile, "accounts.Profile", 1)
    serialize.register_document(Outcome, "accounts.Outcome", 1)
    serialize.register_document(
        SnapshotData,
        SNAPSHOT_SCHEMA,
        SNAPSHOT_VERSION,
        upgraders={1: _upgrade_v1, 2: _upgrade_v2},
    )

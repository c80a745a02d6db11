"""Plain data of an account: its events and its bounded snapshot.

A snapshot holds the state, not the history: the points ledger as the
events of its current (carried-forward) ledger, the tier status, the
activity a decision may still read, counters, cap usage, the outcomes in
the idempotency window and the orders in the refund window. Programs are
named by ``(id, version)``; the profile is never part of it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import attrs
from cattrs.gen import make_dict_unstructure_fn

from loyaltycore import serialize
from loyaltycore.accounts._values import (
    VALUE_TYPES,
    AccountEvent,
    AwardResult,
    HoldRecord,
    LedgerOp,
    OrderRecord,
    Outcome,
    Payload,
    Profile,
    ProgramRef,
    Seen,
    StoredEvaluation,
)
from loyaltycore.errors import InvalidType
from loyaltycore.points import Balance, ExpiryPolicy, PointsEvent
from loyaltycore.tiers import Activity, TierStatus

#: The snapshot document's name and version (a store rewrites older ones).
SNAPSHOT_SCHEMA = "accounts.Snapshot"
SNAPSHOT_VERSION = 1


@attrs.frozen
class SnapshotData:
    """The plain form of an account's state."""

    member: str
    version: int
    program: ProgramRef
    ledger: tuple[PointsEvent, ...]
    offset: Balance
    status: TierStatus
    activity: tuple[Activity, ...]
    counters: dict[str, int]
    caps: dict[str, int]
    outcomes: tuple[Seen, ...]
    orders: tuple[OrderRecord, ...]
    holds: dict[str, HoldRecord]
    joined_at: datetime
    last_at: datetime
    merged_into: str | None = None
    absorbed: tuple[str, ...] = ()
    ledger_ops: int = 0
    rotate_at: int = 0


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
    return serialize.to_data(event)


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
    for cls in (LedgerOp, Outcome, AwardResult, OrderRecord, AccountEvent):
        # (fields at their defaults are left out: smaller rows, faster to read back)
        conv.register_unstructure_hook(
            cls, make_dict_unstructure_fn(cls, conv, _cattrs_omit_if_default=True)
        )
    serialize.register_document(AccountEvent, "accounts.Event", 1)
    serialize.register_document(Profile, "accounts.Profile", 1)
    serialize.register_document(Outcome, "accounts.Outcome", 1)
    serialize.register_document(SnapshotData, SNAPSHOT_SCHEMA, SNAPSHOT_VERSION)

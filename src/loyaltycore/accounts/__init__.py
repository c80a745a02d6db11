"""One member's whole account under one program: one command, one outcome.

A :class:`Program` is one versioned document holding the rule set, the one
tier ladder, the expiry and debt policies, the zone, the currency and the
member-wide caps. An :class:`Account` is one member's state under it: the
points ledger, the tier status with the qualifying activity it still reads,
the rule counters, the orders kept for refunds and the outcomes of recent
commands. Every command takes an ``id`` and a posting time ``at`` and
returns :class:`Applied` ``(account, outcome)``:

>>> from datetime import datetime, timezone
>>> from loyaltycore.predicates import Item
>>> at = datetime(2024, 5, 8, 8, tzinfo=timezone.utc)
>>> account = Account.open("ann", program=example_program(), at=at)
>>> account, outcome = account.order("o-1", at=at, lines=[Item("latte", unit_price="4.50")])
>>> [(line.rule, line.granted) for line in outcome.lines]
[('base', 45), ('member-day', 45)]

A retry of the same id and payload returns the stored outcome; the same id
with another payload raises ``IdempotencyConflict`` naming the field:

>>> account.order("o-1", at=at, lines=[Item("latte", unit_price="4.50")]).outcome == outcome
True
>>> account.order("o-1", at=at, lines=[Item("latte", unit_price="5.00")])
Traceback (most recent call last):
...
loyaltycore.errors.IdempotencyConflict: id='o-1' was already used with lines[0].unit_price=...

Accounts persist as their events (:attr:`Account.events`, rebuilt with
:meth:`Account.replay`) and as bounded snapshots (:meth:`Account.snapshot`,
:meth:`Account.restore`); :mod:`loyaltycore.stores` does both in a database.
See ``docs/accounts.md`` for the whole model and its policies.
"""

from __future__ import annotations

from loyaltycore._public import publish
from loyaltycore.accounts._account import Account, Applied, example_program, merge, transfer
from loyaltycore.accounts._program import Cap, Program
from loyaltycore.accounts._program import register as _register_program
from loyaltycore.accounts._snapshot import event_from_data, event_to_data
from loyaltycore.accounts._snapshot import register as _register_documents
from loyaltycore.accounts._values import (
    Absorbed,
    AccountEvent,
    Award,
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
    Tender,
    TierOp,
)

__all__ = [
    "Absorbed",
    "Account",
    "AccountEvent",
    "Applied",
    "Award",
    "AwardResult",
    "Cap",
    "HoldRecord",
    "LedgerOp",
    "OrderRecord",
    "Outcome",
    "Payload",
    "Profile",
    "Program",
    "ProgramRef",
    "Seen",
    "StoredEvaluation",
    "Tender",
    "TierOp",
    "event_from_data",
    "event_to_data",
    "example_program",
    "merge",
    "transfer",
]

_register_program()
_register_documents()

publish(__name__, __all__, globals())

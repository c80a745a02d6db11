"""Account events as plain data, written field by field.

These functions are the converter's unstructure hooks for the account
value types (:func:`register`), so an event, an outcome or an order record
has one encoding whichever way it is written: through
:func:`~loyaltycore.accounts.event_to_data`, a snapshot or
:func:`loyaltycore.serialize.unstructure`. They write what the converter's
generated functions wrote before them, key for key and in the same order:
a field left at its default is left out (``LedgerOp``, ``Outcome``,
``AwardResult``, ``OrderRecord``, ``AccountEvent``; but an outcome's award
lines write ``cap`` always, as they always have), instants are ISO-8601
text in UTC, money is its ``str``. The test suite pins every function to
the converter's generated one over real histories of every command.

An expiry policy (a points-ledger setting a migration or a merge carries)
is the one value still handed to the converter: it is a tagged union the
points area owns.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any, Final

from loyaltycore import serialize
from loyaltycore.accounts._values import (
    Absorbed,
    AccountEvent,
    Award,
    AwardResult,
    LedgerOp,
    OrderRecord,
    Outcome,
    ProgramRef,
    Seen,
    TierOp,
)
from loyaltycore.calendar import UTC
from loyaltycore.points import ExpiryPolicy, MergedLot, TransferIn
from loyaltycore.tiers import Activity

Data = dict[str, Any]

_ZERO: Final = Decimal(0)
_POLICY: Any = ExpiryPolicy


def _at(value: datetime) -> str:
    return value.astimezone(UTC).isoformat()


def _opt_at(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat()


def program_data(ref: ProgramRef) -> Data:
    """A program reference's plain data.

    >>> program_data(ProgramRef("coffee", 2))
    {'id': 'coffee', 'version': 2}
    """
    return {"id": ref.id, "version": ref.version}


def award_result_data(line: AwardResult) -> Data:
    """An award line's plain data, on its own (``cap`` left out when None)."""
    res = _line(line)
    if res["cap"] is None:
        del res["cap"]
    return res


def _line(line: AwardResult) -> Data:
    """An award line's plain data inside an outcome (every field, ``cap`` too)."""
    return {
        "rule": line.rule,
        "currency": line.currency,
        "recipient": line.recipient,
        "points": line.points,
        "granted": line.granted,
        "cap": line.cap,
    }


def award_data(award: Award) -> Data:
    """A command for another member's plain data (every field written)."""
    return {
        "member": award.member,
        "id": award.id,
        "at": _at(award.at),
        "points": award.points,
        "reason": award.reason,
        "available_at": _opt_at(award.available_at),
        "expires_at": _opt_at(award.expires_at),
    }


def outcome_data(o: Outcome) -> Data:
    """An outcome's plain data (fields at their defaults left out)."""
    res: Data = {
        "command": o.command,
        "id": o.id,
        "version": o.version,
        "at": _at(o.at),
        "occurred_at": _at(o.occurred_at),
    }
    if o.earned != 0:
        res["earned"] = o.earned
    if o.redeemed != 0:
        res["redeemed"] = o.redeemed
    if o.clawed_back != 0:
        res["clawed_back"] = o.clawed_back
    if o.returned != 0:
        res["returned"] = o.returned
    if o.uncollected != 0:
        res["uncollected"] = o.uncollected
    if o.expired != 0:
        res["expired"] = o.expired
    if o.available != 0:
        res["available"] = o.available
    if o.pending != 0:
        res["pending"] = o.pending
    if o.held != 0:
        res["held"] = o.held
    if o.debt != 0:
        res["debt"] = o.debt
    if o.tier != "":
        res["tier"] = o.tier
    if o.change != "retain":
        res["change"] = o.change
    if o.lines != ():
        res["lines"] = [_line(line) for line in o.lines]
    if o.emitted != ():
        res["emitted"] = [award_data(award) for award in o.emitted]
    if o.counters != {}:
        res["counters"] = dict(o.counters)
    if o.budgets != {}:
        res["budgets"] = dict(o.budgets)
    if o.note != "":
        res["note"] = o.note
    return res


def _value(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _part(part: TransferIn) -> Data:
    return {
        "points": part.points,
        "expires_at": _opt_at(part.expires_at),
        "source": part.source,
        "value_per_point": _value(part.value_per_point),
    }


def _merged_lot(lot: MergedLot) -> Data:
    return {
        "lot": lot.lot,
        "points": lot.points,
        "earned_at": _at(lot.earned_at),
        "expires_at": _opt_at(lot.expires_at),
        "available_at": _opt_at(lot.available_at),
        "pending": lot.pending,
        "source": lot.source,
        "value_per_point": _value(lot.value_per_point),
    }


def ledger_op_data(op: LedgerOp) -> Data:
    """A ledger command's plain data (fields at their defaults left out)."""
    res: Data = {"op": op.op}
    if op.id != "":
        res["id"] = op.id
    if op.points is not None:
        res["points"] = op.points
    if op.available_at is not None:
        res["available_at"] = _at(op.available_at)
    if op.expires_at is not None:
        res["expires_at"] = _at(op.expires_at)
    if op.deadline is not None:
        res["deadline"] = _at(op.deadline)
    if op.reason != "":
        res["reason"] = op.reason
    if op.of != "":
        res["of"] = op.of
    if op.other != "":
        res["other"] = op.other
    if op.parts != ():
        res["parts"] = [_part(part) for part in op.parts]
    if op.lots != ():
        res["lots"] = [_merged_lot(lot) for lot in op.lots]
    if op.debt != 0:
        res["debt"] = op.debt
    if op.policy is not None:
        res["policy"] = serialize.converter.unstructure(op.policy, _POLICY)
    if op.tz is not None:
        res["tz"] = op.tz
    if op.debt_policy is not None:
        res["debt_policy"] = op.debt_policy
    if op.source != "purchase":
        res["source"] = op.source
    return res


def activity_data(entry: Activity) -> Data:
    """A tier activity entry's plain data."""
    return {
        "metric": entry.metric,
        "amount": str(entry.amount),
        "occurred_at": _at(entry.occurred_at),
        "source_id": entry.source_id,
        "reverses": entry.reverses,
    }


def order_data(r: OrderRecord) -> Data:
    """An order record's plain data (its evaluation as JSON text; defaults left out)."""
    res: Data = {
        "id": r.id,
        "version": r.version,
        "at": _at(r.at),
        "occurred_at": _at(r.occurred_at),
        "program": {"id": r.program.id, "version": r.program.version},
        "member": r.member,
        "evaluation": r.evaluation.text,
        "currency": r.currency,
        "rate": None if r.rate is None else str(r.rate),
        "total": str(r.total),
        "granted": list(r.granted),
        "caps": [list(caps) for caps in r.caps],
        "earns": [(earn, points) for earn, points in r.earns],
        "line_earn": list(r.line_earn),
    }
    if r.tender != "":
        res["tender"] = r.tender
    if r.tendered != 0:
        res["tendered"] = r.tendered
    if r.in_ledger is not True:
        res["in_ledger"] = r.in_ledger
    if r.refunded_items:
        res["refunded_items"] = dict(r.refunded_items)
    if r.refunded_amount != _ZERO:
        res["refunded_amount"] = str(r.refunded_amount)
    if r.refunded_all is not False:
        res["refunded_all"] = r.refunded_all
    if r.clawed != ():
        res["clawed"] = list(r.clawed)
    if r.returned != 0:
        res["returned"] = r.returned
    if r.decremented:
        res["decremented"] = dict(r.decremented)
    if r.spend_back != 0:
        res["spend_back"] = r.spend_back
    return res


def seen_data(seen: Seen) -> Data:
    """A remembered command's plain data."""
    return {
        "id": seen.id,
        "command": seen.command,
        "payload": seen.payload.text,
        "outcome": outcome_data(seen.outcome),
    }


def tier_op_data(op: TierOp) -> Data:
    """A tier command's plain data."""
    return {
        "kind": op.kind,
        "tier": op.tier,
        "until": None if op.until is None else op.until.isoformat(),
    }


def absorbed_data(absorbed: Absorbed) -> Data:
    """What a merge brought over, as plain data."""
    return {
        "member": absorbed.member,
        "outcomes": [seen_data(seen) for seen in absorbed.outcomes],
        "orders": [order_data(order) for order in absorbed.orders],
    }


def event_data(e: AccountEvent) -> Data:
    """An account event's plain data (the ``data`` of its document; defaults left out).

    >>> from datetime import datetime, timezone
    >>> from loyaltycore.accounts import Account, example_program
    >>> at = datetime(2024, 5, 6, tzinfo=timezone.utc)
    >>> opened = Account.open("ann", program=example_program(), at=at).events[0]
    >>> list(event_data(opened))
    ['version', 'command', 'id', 'at', 'occurred_at', 'payload', 'outcome', 'program']
    """
    res: Data = {
        "version": e.version,
        "command": e.command,
        "id": e.id,
        "at": _at(e.at),
        "occurred_at": _at(e.occurred_at),
        "payload": e.payload.text,
        "outcome": outcome_data(e.outcome),
    }
    if e.ledger != ():
        res["ledger"] = [ledger_op_data(op) for op in e.ledger]
    if e.activity != ():
        res["activity"] = [activity_data(entry) for entry in e.activity]
    if e.counters != {}:
        res["counters"] = dict(e.counters)
    if e.caps != {}:
        res["caps"] = dict(e.caps)
    if e.order is not None:
        res["order"] = order_data(e.order)
    if e.program is not None:
        res["program"] = {"id": e.program.id, "version": e.program.version}
    if e.tier is not None:
        res["tier"] = tier_op_data(e.tier)
    if e.absorbed is not None:
        res["absorbed"] = absorbed_data(e.absorbed)
    if e.member != "":
        res["member"] = e.member
    if e.hold != "":
        res["hold"] = e.hold
    return res


#: The unstructure hook of each account value type this module writes.
HOOKS: Final[dict[type[Any], Callable[[Any], Data]]] = {
    ProgramRef: program_data,
    AwardResult: award_result_data,
    Award: award_data,
    Outcome: outcome_data,
    LedgerOp: ledger_op_data,
    OrderRecord: order_data,
    Seen: seen_data,
    TierOp: tier_op_data,
    Absorbed: absorbed_data,
    AccountEvent: event_data,
}


def register() -> None:
    """Make these functions the converter's hooks for the account value types."""
    for cls, hook in HOOKS.items():
        serialize.converter.register_unstructure_hook(cls, hook)

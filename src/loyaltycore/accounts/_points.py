"""The account's points ledger: running the recorded ledger commands again.

An account event records the points-ledger commands its command ran
(:class:`LedgerOp`). Replaying an account runs them again, in order, at the
event's posting and business times: the ledger is a pure function of its
commands, so the rebuilt ledger equals the one the live account held.

Two commands take a second ledger: a transfer (points arriving with the
sender's expiry dates) and a merge (the absorbed account's lots). Replaying
one account alone rebuilds the other side from what the event recorded: a
sender holding exactly the transferred parts, or a duplicate holding exactly
the merged lots and debt.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from loyaltycore.accounts._values import LedgerOp
from loyaltycore.errors import NotFound
from loyaltycore.points import (
    MergedLot,
    NeverExpire,
    PointsLedger,
    TransferIn,
    merge,
    transfer,
)

#: The id of the carried-forward lots of a new ledger (lots become "~/<lot>").
CARRY_ID = "~"


def run(ledger: PointsLedger, op: LedgerOp, at: datetime, occurred: datetime) -> PointsLedger:
    """Run one recorded ledger command."""
    kind = op.op
    if kind == "earn":
        assert op.points is not None
        return ledger.earn(
            op.id,
            at=at,
            occurred_at=occurred,
            points=op.points,
            available_at=op.available_at,
            expires_at=op.expires_at,
            reason=op.reason,
        )
    if kind == "redeem":
        assert op.points is not None
        return ledger.redeem(
            op.id, at=at, occurred_at=occurred, points=op.points, reason=op.reason
        )
    if kind == "hold":
        assert op.points is not None
        assert op.deadline is not None
        return ledger.hold(
            op.id, at=at, occurred_at=occurred, points=op.points, deadline=op.deadline
        )
    if kind == "capture":
        return ledger.capture(op.id, at=at, occurred_at=occurred, hold=op.of, points=op.points)
    if kind == "release":
        return ledger.release(op.id, at=at, occurred_at=occurred, hold=op.of)
    if kind == "reverse":
        return ledger.reverse(op.id, at=at, occurred_at=occurred, of=op.of, points=op.points)
    if kind == "adjust":
        assert op.points is not None
        return ledger.adjust(
            op.id, at=at, occurred_at=occurred, points=op.points, reason=op.reason
        )
    if kind == "expire":
        return ledger.expire(as_of=at)
    if kind == "transfer_out":
        assert op.points is not None
        receiver = PointsLedger.open(op.other, tz=ledger.tz)
        return transfer(ledger, receiver, op.id, at=at, points=op.points, occurred_at=occurred)[0]
    if kind == "transfer_in":
        assert op.points is not None
        sender = _sender(op.other, ledger.tz, op.parts, at)
        return transfer(sender, ledger, op.id, at=at, points=op.points, occurred_at=occurred)[1]
    if kind == "merge_in":
        duplicate = _duplicate(op.other, ledger.tz, op.lots, op.debt, at)
        return merge(ledger, duplicate, op.id, at=at, occurred_at=occurred)
    if kind == "carry":
        return ledger.carry_forward(
            op.id,
            at=at,
            policy=op.policy,
            tz=op.tz,
            debt_policy=None if op.debt_policy is None else _debt_policy(op.debt_policy),
        )
    raise NotFound(f"op={kind!r} is not a ledger command", field="op", value=kind)


def _debt_policy(value: str) -> Literal["debt", "strict"]:
    return "strict" if value == "strict" else "debt"  # (a literal for the type checker)


def _sender(member: str, tz: str, parts: tuple[TransferIn, ...], at: datetime) -> PointsLedger:
    """A ledger holding exactly the transferred parts, each with its expiry."""
    sender = PointsLedger.open(member, tz=tz, policy=NeverExpire())
    for i, part in enumerate(parts):
        sender = sender.earn(f"p{i}", at=at, points=part.points, expires_at=part.expires_at)
    return sender


def _duplicate(
    member: str, tz: str, lots: tuple[MergedLot, ...], debt: int, at: datetime
) -> PointsLedger:
    """A ledger holding exactly the merged lots and debt."""
    dup = PointsLedger.open(member, tz=tz, policy=NeverExpire())
    if debt:  # (a ledger with debt has no usable points: its lots are pending)
        dup = dup.earn("~debt", at=at, points=debt).redeem("~spent", at=at, points=debt)
        dup = dup.reverse("~back", at=at, of="~debt")
    for lot in lots:
        dup = dup.earn(
            lot.lot,
            at=at,
            occurred_at=lot.earned_at,
            points=lot.points,
            available_at=lot.available_at,
            expires_at=lot.expires_at,
        )
    return dup


def merged_lots(duplicate: PointsLedger, at: datetime) -> tuple[tuple[MergedLot, ...], int]:
    """The lots and debt :func:`loyaltycore.points.merge` takes from ``duplicate`` at ``at``."""
    book = duplicate.expire(as_of=at)
    lots = tuple(
        MergedLot(
            lot.id, lot.remaining, lot.earned_at, lot.expires_at, lot.available_at, lot.pending
        )
        for lot in book.lots
        if lot.remaining
    )
    return lots, book.balance().debt


def transfer_parts(receiver: PointsLedger, id: str) -> tuple[TransferIn, ...]:
    """The parts a transfer ``id`` brought into ``receiver`` (its lots ``id#0``, ``id#1`` ...)."""
    parts: list[TransferIn] = []
    while True:
        try:
            lot = receiver.lot(f"{id}#{len(parts)}")
        except NotFound:
            return tuple(parts)
        parts.append(TransferIn(lot.amount, lot.expires_at))

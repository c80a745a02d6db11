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
from typing import Any, Literal

import attrs

from loyaltycore.accounts._values import LedgerOp
from loyaltycore.errors import LoyaltyError, NotFound
from loyaltycore.points import (
    ExpireOnInactivity,
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
            source=op.source,
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
        sender = sender.earn(
            f"p{i}",
            at=at,
            points=part.points,
            expires_at=part.expires_at,
            source=part.source,
            value_per_point=part.value_per_point,
        )
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
            source=lot.source,
            value_per_point=lot.value_per_point,
        )
    return dup


def merged_lots(duplicate: PointsLedger, at: datetime) -> tuple[tuple[MergedLot, ...], int]:
    """The lots and debt :func:`loyaltycore.points.merge` takes from ``duplicate`` at ``at``."""
    book = duplicate.expire(as_of=at)
    lots = tuple(MergedLot.of(lot) for lot in book.lots if lot.remaining)
    return lots, book.balance().debt


def transfer_parts(receiver: PointsLedger, id: str) -> tuple[TransferIn, ...]:
    """The parts a transfer ``id`` brought into ``receiver`` (its lots ``id#0``, ``id#1`` ...)."""
    parts: list[TransferIn] = []
    while True:
        try:
            lot = receiver.lot(f"{id}#{len(parts)}")
        except NotFound:
            return tuple(parts)
        parts.append(TransferIn(lot.amount, lot.expires_at, lot.source, lot.value_per_point))


# -- the bounded ledger ---------------------------------------------------------------
#
# A ledger keeps every command it ran; an account keeps its ledger bounded by
# carrying it forward now and then (after ``Program.carry_every`` ledger commands, or
# after as many commands as it carried lots, whichever is more: carrying costs
# time in proportion to the lots, so a member with thousands of open lots pays
# the same small share of it per command as a member with a few; a rule of the
# account's own state, so live accounts, replays and restores carry at the same
# commands). The cut is the latest point where nothing
# after it, and nothing the account may still ask for, refers back:
#
# * the earns and points tenders of the orders kept for refunds, and every
#   hold the account still tracks as open, are after the cut;
# * no command after the cut reverses, cancels, captures or releases a
#   command before it (the cut moves back until none does);
# * no hold is open at the cut.
#
# The new ledger is the prefix carried forward (its unspent lots under
# ``~/<lot>``, its debt) followed by the events after the cut with their lot
# names changed to match, replayed: the ledger engine checks every event, so
# a cut that would change anything is refused and the ledger stays as it was.
# An inactivity policy is never carried (the deadline is not carried over).

_PARTS_FIELDS: dict[type[Any], tuple[str, ...]] = {}
_LOT_FIELDS: dict[type[Any], tuple[str, ...]] = {}
_REFS: dict[type[Any], tuple[str, ...]] = {}


def _tables() -> None:
    from loyaltycore import points as p

    _PARTS_FIELDS.update(
        {
            p.Redeemed: ("lots",),
            p.Held: ("lots",),
            p.Captured: ("lots", "released"),
            p.Released: ("lots",),
            p.EarnReversed: ("charged",),
            p.RedemptionCancelled: ("restored", "expired", "grace"),
            p.Adjusted: ("lots",),
            p.TransferredOut: ("lots",),
            p.HoldTimedOut: ("lots",),
            p.DebtRepaid: ("lots",),
        }
    )
    _LOT_FIELDS.update({p.Vested: ("lot",), p.Expired: ("lot",)})
    _REFS.update(
        {
            p.EarnReversed: ("of",),
            p.RedemptionCancelled: ("of",),
            p.Captured: ("hold",),
            p.Released: ("hold",),
            p.HoldTimedOut: ("hold",),
        }
    )


def _refs(event: Any) -> tuple[str, ...]:
    return tuple(getattr(event, name) for name in _REFS.get(type(event), ()))


def _cut(events: tuple[Any, ...], keep: set[str]) -> int:
    """The index of the first event after the latest safe cut (0: none)."""
    where = {ev.id: i for i, ev in enumerate(events) if i and not ev.derived}
    cut = min((where[x] for x in keep if x in where), default=len(events))
    while True:
        moved = cut
        for ev in events[cut:]:
            for ref in _refs(ev):
                if where.get(ref, cut) < moved:
                    moved = where[ref]
        open_at = _open_holds(events, moved, where)
        if open_at:
            moved = min(moved, *open_at)
        if moved == cut:
            break
        cut = moved
    return cut if cut > 2 else 0


def _open_holds(events: tuple[Any, ...], cut: int, where: dict[str, int]) -> list[int]:
    """The indices of the holds placed before ``cut`` and not resolved before it."""
    from loyaltycore.points import Held

    placed = {ev.id: i for i, ev in enumerate(events[1:cut], 1) if type(ev) is Held}
    for ev in events[1:cut]:
        for ref in _refs(ev):
            placed.pop(ref, None)
    return list(placed.values())


def _renamed(event: Any, names: dict[str, str]) -> Any:
    changes: dict[str, Any] = {}
    for name in _PARTS_FIELDS.get(type(event), ()):
        parts = getattr(event, name)
        if any(lot in names for lot, _ in parts):
            changes[name] = tuple((names.get(lot, lot), x) for lot, x in parts)
    for name in _LOT_FIELDS.get(type(event), ()):
        lot = getattr(event, name)
        if lot in names:
            changes[name] = names[lot]
    return attrs.evolve(event, **changes) if changes else event


def rotate(ledger: PointsLedger, keep: set[str]) -> tuple[PointsLedger, int, int] | None:
    """The ledger carried forward at the latest safe cut, its command count after the
    cut and the number of lots it carried; or None."""
    if not _REFS:
        _tables()
    if isinstance(ledger.policy, ExpireOnInactivity):
        return None
    events: tuple[Any, ...] = ledger.events
    cut = _cut(events, keep)
    if not cut:
        return None
    prefix = PointsLedger.replay(events[:cut])
    carried = prefix.carry_forward(CARRY_ID, at=events[cut - 1].at)
    stem = CARRY_ID + "/"
    names = {
        lot.id: stem + (lot.id[len(stem) :] if lot.id.startswith(stem) else lot.id)
        for lot in prefix.expire(as_of=events[cut - 1].at).lots
        if lot.remaining
    }
    tail = tuple(_renamed(ev, names) for ev in events[cut:])
    try:
        rotated = PointsLedger.replay(carried.events + tail)
    except LoyaltyError:
        return None
    return rotated, sum(1 for ev in tail if not ev.derived), len(names)

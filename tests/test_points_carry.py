"""Carrying a ledger forward keeps every unspent point, its expiry and the debt."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loyaltycore.errors import InvalidArgument, LoyaltyError, OutOfOrder
from loyaltycore.points import (
    ExpireAfter,
    ExpireAtPeriodEnd,
    Merged,
    NeverExpire,
    PointsLedger,
)
from loyaltycore.testing import apply_commands, ledger_commands

AT = datetime(2024, 1, 5, 9, tzinfo=UTC)


def _live(ledger: PointsLedger) -> tuple[int, int, int]:
    b = ledger.balance()
    return b.available, b.pending, b.debt


@settings(max_examples=80)
@given(
    ledger_commands(max_size=14),
    st.sampled_from([NeverExpire(), ExpireAfter(months=2), ExpireAtPeriodEnd(period="month")]),
    st.lists(st.sampled_from([1, 30, 120]), max_size=4),
)
def test_the_carried_ledger_behaves_like_the_original(commands, policy, later) -> None:  # type: ignore[no-untyped-def]
    ledger, _ = apply_commands(PointsLedger.open("m", tz="Europe/Paris", policy=policy), commands)
    at = (ledger.last_at or AT) + timedelta(hours=1)
    for hold in ledger.holds:
        if hold.status == "open" and hold.deadline > at:
            ledger = ledger.release(f"free-{hold.id}", at=at, hold=hold.id)
    carried = ledger.carry_forward("c", at=at)
    assert _live(carried) == _live(ledger.expire(as_of=at))
    assert PointsLedger.replay(carried.events) == carried
    assert [type(e) for e in carried.events[1:]] == [Merged]
    until = at + timedelta(days=800)
    assert [(e.expires_at, e.points) for e in carried.expiring(until=until)] == [
        (e.expires_at, e.points) for e in ledger.expiring(until=until, as_of=at)
    ]
    # the same redemptions later take the same points from lots with the same expiry
    for k, points in enumerate(later):
        when = at + timedelta(days=10 * (k + 1))
        results = [_redeem(book, f"later-{k}", when, points) for book in (ledger, carried)]
        assert results[0][1] == results[1][1]
        ledger, carried = results[0][0], results[1][0]


def _redeem(book: PointsLedger, id: str, at: datetime, points: int) -> tuple[PointsLedger, object]:
    """The ledger after the redemption, and what it took (expiries, live totals) or the error."""
    try:
        after = book.redeem(id, at=at, points=points)
    except LoyaltyError as exc:
        return book, type(exc)
    taken = [(after.lot(lot).expires_at, x) for lot, x in after.events[-1].lots]
    return after, (taken, _live(after))


def test_a_second_carry_keeps_the_lot_names() -> None:
    ledger = PointsLedger.open("m").earn("e1", at=AT, points=100)
    once = ledger.carry_forward("c", at=AT)
    twice = once.carry_forward("c", at=AT + timedelta(days=1))
    assert [lot.id for lot in once.lots] == [lot.id for lot in twice.lots] == ["c/e1"]


def test_debt_and_pending_points_carry_over() -> None:
    ledger = PointsLedger.open("m").earn("e1", at=AT, points=100)
    ledger = ledger.redeem("r1", at=AT, points=100).reverse("f1", at=AT, of="e1")
    ledger = ledger.earn("e2", at=AT, points=40, available_at=AT + timedelta(days=30))
    carried = ledger.carry_forward("c", at=AT + timedelta(days=1))
    assert _live(carried) == (0, 40, 100)
    vested = carried.expire(as_of=AT + timedelta(days=31))
    assert _live(vested) == (0, 0, 60)


def test_a_new_policy_leaves_the_carried_expiry_alone() -> None:
    ledger = PointsLedger.open("m", policy=ExpireAfter(months=6)).earn("e1", at=AT, points=10)
    carried = ledger.carry_forward("c", at=AT, policy=NeverExpire(), debt_policy="strict")
    assert carried.lot("c/e1").expires_at == ledger.lot("e1").expires_at
    assert carried.earn("e2", at=AT, points=5).lot("e2").expires_at is None
    assert carried.debt_policy == "strict"


def test_open_holds_and_earlier_instants_are_refused() -> None:
    ledger = PointsLedger.open("m").earn("e1", at=AT, points=100)
    held = ledger.hold("h1", at=AT, points=10, deadline=AT + timedelta(hours=1))
    with pytest.raises(InvalidArgument, match="open holds"):
        held.carry_forward("c", at=AT)
    assert held.carry_forward("c", at=AT + timedelta(hours=2)).balance().available == 100
    with pytest.raises(OutOfOrder):
        ledger.carry_forward("c", at=AT - timedelta(seconds=1))

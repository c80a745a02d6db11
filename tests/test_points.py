"""Unit tests of the points ledger: each rule of docs/points.md, one by one."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from loyaltycore import errors, points
from loyaltycore.points import (
    DebtRepaid,
    ExpireAfter,
    ExpireAtPeriodEnd,
    Expired,
    ExpireOnInactivity,
    HoldTimedOut,
    NeverExpire,
    PointsLedger,
    merge,
    transfer,
)

T0 = datetime(2024, 1, 10, 12, tzinfo=UTC)


def days(n: float) -> datetime:
    return T0 + timedelta(days=n)


def ledger(policy: object = None, **kwargs: object) -> PointsLedger:
    return PointsLedger.open("m-1", policy=policy, **kwargs)  # type: ignore[arg-type]


def test_public_names_are_sorted_and_exist() -> None:
    assert points.__all__ == sorted(points.__all__)
    for name in points.__all__:
        assert hasattr(points, name)


# -- earn and redeem ---------------------------------------------------------


def test_redeem_uses_soonest_expiring_then_oldest() -> None:
    led = ledger(ExpireAfter(months=12))
    led = led.earn("late", at=T0, points=100, expires_at=days(400))
    led = led.earn("a", at=days(1), points=100)
    led = led.earn("b", at=days(1), points=100)
    led = led.earn("soon", at=days(2), points=50, expires_at=days(30))
    led = led.redeem("r1", at=days(3), points=220)
    assert led.events[-1].lots == (("soon", 50), ("a", 100), ("b", 70))
    assert led.balance().available == 130


def test_insufficient_points_names_requested_and_available() -> None:
    led = ledger().earn("e1", at=T0, points=100)
    with pytest.raises(errors.InsufficientPoints, match=r"points=150.*100 available") as info:
        led.redeem("r1", at=T0, points=150)
    assert (info.value.requested, info.value.available) == (150, 100)
    assert led.balance().available == 100
    assert len(led.events) == 2


def test_commands_return_new_ledgers() -> None:
    a = ledger()
    b = a.earn("e1", at=T0, points=10)
    assert a.balance().available == 0
    assert b.balance().available == 10
    assert a != b
    for name in ("_a", "_eids", "_cache", "member", "anything"):
        with pytest.raises(AttributeError, match="immutable"):
            setattr(b, name, None)
        with pytest.raises(AttributeError, match="immutable"):
            delattr(b, name)
    with pytest.raises(TypeError, match=r"PointsLedger\.open"):
        PointsLedger()  # ledgers are opened or replayed, not built by hand
    assert b.balance().available == 10


# -- expiry ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("policy", "earned", "last_usable"),
    [
        (ExpireAfter(months=1), date(2024, 1, 31), date(2024, 2, 29)),
        (ExpireAfter(months=1), date(2023, 1, 31), date(2023, 2, 28)),
        (ExpireAfter(months=12), date(2024, 2, 29), date(2025, 2, 28)),
        (ExpireAfter(days=30), date(2024, 1, 1), date(2024, 1, 31)),
        (ExpireAfter(months=12, round_to="month"), date(2024, 3, 15), date(2025, 3, 31)),
        (ExpireAfter(months=12, round_to="year"), date(2024, 3, 15), date(2025, 12, 31)),
        (ExpireAtPeriodEnd(), date(2024, 1, 1), date(2025, 12, 31)),
        (ExpireAtPeriodEnd("month", 0), date(2024, 2, 10), date(2024, 2, 29)),
    ],
)
def test_policies_give_last_usable_dates(policy: object, earned: date, last_usable: date) -> None:
    at = datetime.combine(earned, datetime.min.time(), tzinfo=UTC) + timedelta(hours=12)
    led = ledger(policy).earn("e1", at=at, points=10)
    [soon] = led.expiring(until=datetime(2030, 1, 1, tzinfo=UTC))
    assert soon.last_usable == last_usable
    assert soon.expires_at == datetime.combine(
        last_usable + timedelta(days=1), datetime.min.time(), tzinfo=UTC
    )
    # usable through the last day, gone at 00:00 the next day
    end = soon.expires_at
    assert led.balance(as_of=end - timedelta(microseconds=1)).available == 10
    assert led.balance(as_of=end).available == 0


def test_never_expire_and_bad_policies() -> None:
    led = ledger(NeverExpire()).earn("e1", at=T0, points=10)
    assert led.expiring(until=datetime(2100, 1, 1, tzinfo=UTC)) == ()
    with pytest.raises(errors.InvalidRule):
        ExpireAfter(months=1, days=2)
    with pytest.raises(errors.InvalidRule):
        ExpireAfter()
    with pytest.raises(errors.InvalidRule):
        ExpireAfter(months=1, round_to="week")  # type: ignore[arg-type]
    with pytest.raises(errors.InvalidArgument):
        ExpireOnInactivity(months=0)


def test_expire_is_idempotent_and_balance_reflects_expiry_without_it() -> None:
    led = ledger(ExpireAfter(days=5)).earn("e1", at=T0, points=100)
    later = days(30)
    assert led.balance(as_of=later).expired == 100
    assert led.balance().available == 100
    once = led.expire(as_of=later)
    assert once.balance().expired == 100
    assert once.expire(as_of=later) is once
    assert once.expire(as_of=days(31)) is once
    assert isinstance(once.events[-1], Expired)
    assert once.events[-1].at == datetime(2024, 1, 16, tzinfo=UTC)


def test_expiry_counts_from_occurred_at_for_late_postings() -> None:
    led = ledger(ExpireAfter(days=30))
    led = led.earn("claim", at=days(20), occurred_at=T0, points=50)
    assert led.lot("claim").expires_at == datetime(2024, 2, 10, tzinfo=UTC)
    with pytest.raises(errors.InvalidTime):
        led.earn("old", at=days(40), occurred_at=T0 - timedelta(days=30), points=5)


def test_inactivity_deadline() -> None:
    led = ledger(ExpireOnInactivity(months=1)).earn("e1", at=T0, points=100)
    # a hold and an incoming transfer are not activity
    led = led.hold("h1", at=days(10), points=10, deadline=days(11))
    donor = PointsLedger.open("m-2").earn("d1", at=T0, points=500)
    donor, led = transfer(donor, led, "t1", at=days(12), points=40)
    [due] = led.expiring(until=days(60))
    assert (due.cause, due.last_usable, due.points) == ("inactivity", date(2024, 2, 10), 140)
    gone = led.expire(as_of=days(40))
    assert gone.balance().available == 0
    assert gone.balance().expired == 140
    # activity after the deadline never revives expired points
    back = gone.earn("e2", at=days(41), points=5)
    assert back.balance().available == 5
    assert back.balance().expired == 140


def test_inactivity_deadline_moves_with_redeem() -> None:
    led = ledger(ExpireOnInactivity(months=1)).earn("e1", at=T0, points=100)
    led = led.redeem("r1", at=days(25), points=1)
    assert led.balance(as_of=days(40)).available == 99
    assert led.balance(as_of=days(60)).available == 0


# -- pending -----------------------------------------------------------------


def test_pending_points_vest_and_repay_debt() -> None:
    led = ledger().earn("e1", at=T0, points=100).redeem("r1", at=T0, points=100)
    led = led.earn("e2", at=days(1), points=80, available_at=days(31))
    led = led.reverse("f1", at=days(2), of="e1")
    b = led.balance()
    assert (b.available, b.pending, b.debt) == (0, 80, 100)
    led = led.expire(as_of=days(31))
    b = led.balance()
    assert (b.available, b.pending, b.debt, b.debt_repaid) == (0, 0, 20, 80)
    assert isinstance(led.events[-1], DebtRepaid)


def test_earn_expiring_before_it_is_usable_is_refused() -> None:
    led = ledger(ExpireAfter(days=10))
    with pytest.raises(errors.InvalidTime, match="expire"):
        led.earn("e1", at=T0, points=10, available_at=days(30))
    with pytest.raises(errors.InvalidTime):
        led.earn("e1", at=T0, points=10, expires_at=T0)


def test_reversing_a_pending_earn_cancels_it() -> None:
    led = ledger().earn("e1", at=T0, points=100, available_at=days(30))
    led = led.reverse("f1", at=days(1), of="e1", points=40)
    b = led.balance()
    assert (b.pending, b.clawed_back, b.debt) == (60, 40, 0)
    led = led.reverse("f2", at=days(2), of="e1")
    assert led.balance().pending == 0
    assert led.balance(as_of=days(40)).available == 0


# -- holds -------------------------------------------------------------------


@pytest.fixture
def held() -> PointsLedger:
    led = ledger().earn("e1", at=T0, points=100)
    return led.hold("h1", at=T0, points=60, deadline=T0 + timedelta(minutes=30))


def test_partial_capture_releases_the_rest(held: PointsLedger) -> None:
    led = held.capture("c1", at=T0, hold="h1", points=45)
    b = led.balance()
    assert (b.available, b.held, b.redeemed) == (55, 0, 45)
    assert led.holds[0].status == "captured"


def test_hold_resolves_once(held: PointsLedger) -> None:
    captured = held.capture("c1", at=T0, hold="h1")
    with pytest.raises(errors.HoldAlreadyResolved):
        captured.capture("c2", at=T0, hold="h1")
    released = held.release("x1", at=T0, hold="h1")
    with pytest.raises(errors.HoldAlreadyResolved):
        released.capture("c2", at=T0, hold="h1")
    with pytest.raises(errors.OverCapture):
        held.capture("c3", at=T0, hold="h1", points=61)
    with pytest.raises(errors.UnknownHold):
        held.capture("c4", at=T0, hold="nope")
    with pytest.raises(errors.HoldExpired):
        held.capture("c5", at=T0 + timedelta(minutes=30), hold="h1")
    other = PointsLedger.open("m-2").earn("e9", at=T0, points=10)
    other = other.hold("h9", at=T0, points=5, deadline=days(1))
    with pytest.raises(errors.ForeignHold):
        held.capture("c6", at=T0, hold=other.holds[0])


def test_hold_times_out_at_deadline(held: PointsLedger) -> None:
    led = held.expire(as_of=T0 + timedelta(minutes=30))
    assert isinstance(led.events[-1], HoldTimedOut)
    assert led.balance().available == 100
    assert led.holds[0].status == "timed_out"


def test_holds_due_at_the_same_instant_time_out_in_id_order() -> None:
    due = T0 + timedelta(minutes=30)
    led = ledger().earn("e1", at=T0, points=100)
    for hold_id in ("hc", "ha", "hd", "hb"):
        led = led.hold(hold_id, at=T0, points=10, deadline=due)
    led = led.hold("h0", at=T0, points=10, deadline=due + timedelta(minutes=1))
    led = led.expire(as_of=due + timedelta(minutes=1))
    timed_out = [ev.hold for ev in led.events if isinstance(ev, HoldTimedOut)]
    assert timed_out == ["ha", "hb", "hc", "hd", "h0"]


def test_reserved_lot_stays_reserved_past_expiry_then_expires_on_release() -> None:
    led = ledger(ExpireAfter(days=1)).earn("e1", at=T0, points=100)
    led = led.hold("h1", at=T0, points=60, deadline=days(5))
    led = led.expire(as_of=days(3))
    b = led.balance()
    assert (b.available, b.held, b.expired) == (0, 60, 40)
    captured = led.capture("c1", at=days(3), hold="h1", points=50)
    b = captured.balance()
    assert (b.held, b.redeemed, b.expired) == (0, 50, 50)
    released = led.release("x1", at=days(3), hold="h1")
    assert released.balance().expired == 100
    assert released.events[-1] == Expired(days(3), "e1", 60, "hold")


# -- refunds and cancellations ----------------------------------------------


def test_refund_takes_remainder_then_expired_then_other_lots_then_debt() -> None:
    led = ledger(ExpireAfter(days=10)).earn("e1", at=T0, points=100)
    led = led.redeem("r1", at=T0, points=70)  # e1: 30 left
    led = led.earn("e2", at=days(15), points=50)  # e1's 30 expired on day 11
    led = led.reverse("f1", at=days(16), of="e1", points=40)
    ev = led.events[-1]
    assert (ev.taken, ev.reclassified, ev.charged, ev.debt) == (0, 30, (("e2", 10),), 0)
    b = led.balance()
    assert (b.available, b.expired, b.clawed_back) == (40, 0, 40)
    led = led.reverse("f2", at=days(16), of="e1")  # the other 60
    ev = led.events[-1]
    assert (ev.amount, ev.charged, ev.debt) == (60, (("e2", 40),), 20)
    assert led.balance().available == 0
    with pytest.raises(errors.OverReversal):
        led.reverse("f3", at=days(16), of="e1", points=1)


def test_strict_policy_refuses_a_reverse_that_would_leave_debt() -> None:
    led = ledger(debt_policy="strict").earn("e1", at=T0, points=100)
    led = led.redeem("r1", at=T0, points=90)
    with pytest.raises(errors.StrictPolicyViolation):
        led.reverse("f1", at=T0, of="e1")
    ok = led.reverse("f1", at=T0, of="e1", points=10)
    assert ok.balance().available == 0


def test_cancel_redemption_restores_exact_lots_and_keeps_expired_expired() -> None:
    led = ledger(ExpireAfter(days=10)).earn("e1", at=T0, points=100)
    led = led.earn("e2", at=days(5), points=100)
    led = led.redeem("r1", at=days(6), points=150)  # e1 100, e2 50
    assert led.events[-1].lots == (("e1", 100), ("e2", 50))
    later = led.reverse("x1", at=days(12), of="r1")  # e1 expired on day 11
    b = later.balance()
    assert (b.available, b.expired, b.cancelled) == (100, 100, 150)
    graced = led.reverse("x1", at=days(12), of="r1", points=120, grace_days=7)
    lot = graced.lot("x1:grace")
    assert (lot.remaining, lot.expires_at) == (100, datetime(2024, 1, 30, tzinfo=UTC))
    assert graced.balance().available == 50 + 100 + 20  # e2 unspent, grace lot, e2 restored


# -- adjust, transfer, merge -------------------------------------------------


def test_adjust_credit_and_debit() -> None:
    led = ledger().adjust("a1", at=T0, points=30, reason="goodwill")
    led = led.adjust("a2", at=T0, points=-10, reason="correction")
    b = led.balance()
    assert (b.available, b.adjusted_in, b.adjusted_out) == (20, 30, 10)
    with pytest.raises(errors.InsufficientPoints):
        led.adjust("a3", at=T0, points=-21, reason="too much")


def test_transfer_keeps_expiry_and_repays_receiver_debt() -> None:
    src = ledger(ExpireAfter(days=30)).earn("e1", at=T0, points=100)
    dst = PointsLedger.open("m-2").earn("d1", at=T0, points=10).redeem("r", at=T0, points=10)
    dst = dst.reverse("f", at=T0, of="d1")  # debt 10
    src, dst = transfer(src, dst, "t1", at=days(1), points=40)
    assert src.events[-1].id == dst.events[-2].id == "t1"
    b = dst.balance()
    assert (b.available, b.debt, b.transferred_in) == (30, 0, 40)
    assert dst.lot("t1#0").expires_at == src.lot("e1").expires_at
    again = transfer(src, dst, "t1", at=days(1), points=40)
    assert again[0] is src
    assert again[1] is dst


def test_pending_and_held_points_cannot_move() -> None:
    src = ledger().earn("e1", at=T0, points=100, available_at=days(10))
    src = src.earn("e2", at=T0, points=50).hold("h", at=T0, points=50, deadline=days(1))
    with pytest.raises(errors.InsufficientPoints):
        transfer(src, PointsLedger.open("m-2"), "t1", at=T0, points=1)


def test_merge_keeps_every_lot_expiry() -> None:
    dup = PointsLedger.open("m-dup", policy=ExpireAfter(days=30)).earn("e1", at=T0, points=70)
    dup = dup.earn("e2", at=T0, points=5, available_at=days(3))
    into = ledger().earn("k", at=T0, points=1)
    merged = merge(into, dup, "g1", at=days(1))
    assert merged.lot("g1/e1").expires_at == dup.lot("e1").expires_at
    b = merged.balance()
    assert (b.available, b.pending, b.merged_in) == (71, 5, 75)
    held = dup.hold("h", at=T0, points=1, deadline=days(5))
    with pytest.raises(errors.InvalidArgument, match="open holds"):
        merge(into, held, "g2", at=days(1))
    with pytest.raises(errors.SameMember):
        merge(into, into, "g3", at=days(1))


# -- idempotency and ordering --------------------------------------------------


def test_retry_is_a_noop_and_conflicts_name_the_field() -> None:
    led = ledger().earn("e1", at=T0, points=100)
    assert led.earn("e1", at=T0, points=100) is led
    with pytest.raises(errors.IdempotencyConflict) as info:
        led.earn("e1", at=T0, points=99)
    assert info.value.field == "points"
    with pytest.raises(errors.IdempotencyConflict) as info:
        led.redeem("e1", at=T0, points=1)
    assert info.value.field == "type"
    # an old command retried after later ones is still a no-op
    later = led.redeem("r1", at=days(5), points=1)
    assert later.earn("e1", at=T0, points=100) is later


def test_failed_command_records_nothing_so_its_retry_may_succeed() -> None:
    led = ledger()
    with pytest.raises(errors.InsufficientPoints):
        led.redeem("r1", at=T0, points=10)
    led = led.earn("e1", at=T0, points=10)
    assert led.redeem("r1", at=T0, points=10).balance().available == 0


def test_out_of_order_commands_are_refused() -> None:
    led = ledger().earn("e1", at=days(1), points=10)
    with pytest.raises(errors.OutOfOrder):
        led.earn("e2", at=T0, points=10)
    # expiries and timeouts carry their own instants
    led = ledger(ExpireAfter(days=1)).earn("e1", at=T0, points=10).earn("e2", at=days(9), points=1)
    instants = [e.at for e in led.events[1:]]
    assert instants == sorted(instants)


# -- statement -----------------------------------------------------------------


def test_statement_running_balance() -> None:
    led = ledger(ExpireAfter(days=10)).earn("e1", at=T0, points=100)
    led = led.redeem("r1", at=days(1), points=30).expire(as_of=days(20))
    st = led.statement(days(0.5), days(30))
    assert st.opening == 100
    assert [(line.kind, line.change, line.balance) for line in st.lines] == [
        ("Redeemed", -30, 70),
        ("Expired", -70, 0),
    ]
    assert st.closing == 0
    assert "expired 70 of e1" in str(st)


def test_balance_as_of_is_keyword_only_with_a_warning_for_positional_callers() -> None:
    led = ledger(ExpireAfter(days=10)).earn("e1", at=T0, points=100)
    later = days(30)
    assert led.balance(as_of=later).expired == 100
    with pytest.warns(DeprecationWarning, match=r"balance\(\.\.\., as_of=\.\.\.\).*0\.3\.0"):
        assert led.balance(later).expired == 100  # type: ignore[misc]

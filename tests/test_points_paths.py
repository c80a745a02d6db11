"""A plain earn takes a one-step path; it must agree with the general path.

``earn(id, at=, points=)`` with nothing optional (the most common command
and the most common event in a history) is applied in one step, both as a
command and during replay, whenever nothing falls due, there is no debt and
the policy's expiry for that hour is already known. Passing ``occurred_at=at``
asks for exactly the same earn through the general path. Whatever the
commands around it, the two ledgers must be equal, with equal histories, and
replay must rebuild them in one comparison.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loyaltycore import errors, serialize
from loyaltycore.points import (
    ExpireAfter,
    ExpireAtPeriodEnd,
    ExpireOnInactivity,
    NeverExpire,
    PointsLedger,
    _ledger,
    _replay,
)

START = datetime(2024, 3, 30, 22, tzinfo=UTC)  # a DST change in Europe/Berlin next day

POLICIES = st.sampled_from(
    [
        ExpireAfter(days=2),
        ExpireAfter(months=1, round_to="month"),
        ExpireAtPeriodEnd(period="month", periods_after=0),
        ExpireOnInactivity(months=1),
        NeverExpire(),
    ]
)
ZONES = st.sampled_from(["UTC", "Europe/Berlin", "Asia/Shanghai", "America/New_York"])
STEP = st.one_of(
    st.tuples(st.just("earn"), st.integers(1, 500)),
    st.tuples(st.just("earn_late"), st.integers(1, 500)),  # explicit, later expiry
    st.tuples(st.just("earn_pending"), st.integers(1, 500)),
    st.tuples(st.just("redeem"), st.integers(1, 400)),
    st.tuples(st.just("redeem_all"), st.just(0)),  # an empty queue: the next earn is due first
    st.tuples(st.just("hold"), st.integers(1, 400)),
    st.tuples(st.just("release"), st.just(0)),
    st.tuples(st.just("reverse"), st.integers(1, 300)),
    st.tuples(st.just("wait"), st.integers(1, 60 * 72)),  # minutes
)


def run(
    policy: Any, tz: str, strict: bool, steps: list[tuple[str, int]], *, general: bool
) -> PointsLedger:
    """Apply ``steps``; plain earns go through the general path if ``general``."""
    ledger = PointsLedger.open(
        "m-1", tz=tz, policy=policy, debt_policy="strict" if strict else "debt"
    )
    at = START
    earns: list[str] = []
    holds: list[str] = []
    for n, (kind, value) in enumerate(steps):
        cid = f"c{n}"
        at += timedelta(minutes=7)
        try:
            if kind == "earn":
                extra = {"occurred_at": at} if general else {}
                ledger = ledger.earn(cid, at=at, points=value, **extra)
                earns.append(cid)
            elif kind == "earn_late":
                ledger = ledger.earn(cid, at=at, points=value, expires_at=at + timedelta(days=90))
                earns.append(cid)
            elif kind == "earn_pending":
                ledger = ledger.earn(
                    cid, at=at, points=value, available_at=at + timedelta(hours=5)
                )
                earns.append(cid)
            elif kind == "redeem":
                ledger = ledger.redeem(cid, at=at, points=value)
            elif kind == "redeem_all" and ledger.balance().available:
                ledger = ledger.redeem(cid, at=at, points=ledger.balance().available)
            elif kind == "hold":
                ledger = ledger.hold(cid, at=at, points=value, deadline=at + timedelta(hours=3))
                holds.append(cid)
            elif kind == "release" and holds:
                ledger = ledger.release(cid, at=at, hold=holds.pop(0))
            elif kind == "reverse" and earns:
                ledger = ledger.reverse(cid, at=at, of=earns[0], points=value)
            elif kind == "wait":
                at += timedelta(minutes=value)
        except errors.LoyaltyError:
            pass  # refused commands change nothing, on either path
    return ledger


def no_event_by_event_check(*args: object) -> None:
    raise AssertionError("the event-by-event check ran")


@settings(max_examples=150)
@given(POLICIES, ZONES, st.booleans(), st.lists(STEP, min_size=1, max_size=30))
def test_a_plain_earn_is_the_same_on_both_paths(
    policy: Any, tz: str, strict: bool, steps: list[tuple[str, int]]
) -> None:
    quick = run(policy, tz, strict, steps, general=False)
    slow = run(policy, tz, strict, steps, general=True)
    assert quick == slow
    assert quick.events == slow.events
    assert quick.lots == slow.lots
    assert quick.balance() == slow.balance()
    with mock.patch.object(_replay, "_first_difference", no_event_by_event_check):
        assert PointsLedger.replay(quick.events) == quick
    assert serialize.structure(serialize.unstructure(quick), PointsLedger) == quick


def test_the_one_step_path_is_taken() -> None:
    # A second plain earn in the same hour is the common case the one-step
    # path exists for; the first one of an hour learns the hour's expiry.
    at = datetime(2024, 1, 5, 9, tzinfo=UTC)
    ledger = PointsLedger.open("m-1", policy=ExpireAfter(months=12)).earn("e1", at=at, points=5)
    with mock.patch.object(_ledger.State, "earn", side_effect=AssertionError("general path")):
        ledger = ledger.earn("e2", at=at + timedelta(minutes=1), points=7)
        assert PointsLedger.replay(ledger.events) == ledger
    assert ledger.balance().available == 12
    assert [lot.expires_at for lot in ledger.lots] == [
        datetime(2025, 1, 6, tzinfo=UTC)
    ] * 2  # usable all of 5 Jan 2025


@pytest.mark.parametrize(
    ("bad", "error"),
    [
        ({"id": "e1", "points": 6}, errors.IdempotencyConflict),  # same id, other payload
        ({"id": "e3", "points": 0}, errors.InvalidPoints),
        ({"id": "e3", "points": 2.5}, errors.InvalidType),
        ({"id": "", "points": 5}, errors.InvalidArgument),
        ({"id": "e\x003", "points": 5}, errors.InvalidArgument),
        ({"id": "e3", "points": 5, "reason": None}, errors.InvalidType),
    ],
)
def test_plain_earns_keep_the_boundary_checks(bad: dict[str, Any], error: type[Exception]) -> None:
    at = datetime(2024, 1, 5, 9, tzinfo=UTC)
    ledger = PointsLedger.open("m-1").earn("e1", at=at, points=5).earn("e2", at=at, points=5)
    with pytest.raises(error):
        ledger.earn(at=at, **bad)
    assert ledger.earn("e1", at=at, points=5) is ledger  # a retry is a no-op
    with pytest.raises(errors.OutOfOrder) as info:
        ledger.earn("e4", at=at - timedelta(seconds=1), points=5)
    assert info.value.field == "at"
    assert ledger.balance().available == 10


@pytest.mark.parametrize("general", [False, True])
def test_a_plain_earn_into_an_empty_queue_is_the_next_to_expire(general: bool) -> None:
    # The queue is empty after redeeming everything, so nothing is due; the
    # next earn's expiry becomes the next due instant and a later command
    # expires it first.
    at = datetime(2024, 1, 5, 9, tzinfo=UTC)
    ledger = PointsLedger.open("m-1", policy=ExpireAfter(days=2))
    ledger = ledger.earn("e1", at=at, points=5).redeem("r1", at=at, points=5)
    extra = {"occurred_at": at} if general else {}
    ledger = ledger.earn("e2", at=at, points=7, **extra)
    for start in (ledger, PointsLedger.replay(ledger.events)):  # a replayed ledger too
        later = start.adjust("a1", at=at + timedelta(days=3), points=1, reason="goodwill")
        assert [type(e).__name__ for e in later.events[-2:]] == ["Expired", "Adjusted"]
        assert later.events[-2].lot == "e2"
        assert later.balance().expired == 7

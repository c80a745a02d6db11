"""A ledger equals its own history, step by step.

After every command of a random sequence (and every ``expire(as_of=)``), the
live ledger, ``PointsLedger.replay(ledger.events)``, the plain-data round
trip (``serialize.dumps`` / ``loads``) and the pickle round trip must agree
on everything a host can see: balances, lots, holds, what is expiring,
events, and equality.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

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
    merge,
    transfer,
)

ZONES = ("UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe")
START = datetime(2024, 1, 30, 22, 30, tzinfo=UTC)


def rebuilt(ledger: PointsLedger) -> list[tuple[str, PointsLedger]]:
    return [
        ("replay", PointsLedger.replay(ledger.events)),
        ("plain data", serialize.loads(serialize.dumps(ledger), PointsLedger)),
        ("pickle", pickle.loads(pickle.dumps(ledger))),
    ]


def assert_same(ledger: PointsLedger, at: datetime, *, then: bool = True) -> None:
    """Every rebuilt form of ``ledger`` shows what ``ledger`` shows (``then``: also
    once it has expired what is due a day and forty days later)."""
    until = at + timedelta(days=3 * 365)
    for how, again in rebuilt(ledger):
        assert again == ledger, how
        assert again.events == ledger.events, how
        assert again.lots == ledger.lots, how
        assert again.holds == ledger.holds, how
        assert again.balance() == ledger.balance(), how
        assert again.balance(as_of=at) == ledger.balance(as_of=at), how
        assert again.expiring(until=until) == ledger.expiring(until=until), how
        assert again.expiring(as_of=at, until=until) == ledger.expiring(as_of=at, until=until)
        assert again.last_at == ledger.last_at, how
    for days in (1, 40) if then else ():
        later = at + timedelta(days=days)
        assert_same(ledger.expire(as_of=later), later, then=False)


# -- the case that exposed a difference -----------------------------------------


@pytest.mark.parametrize("tz", ZONES)
@pytest.mark.parametrize("emptied_by", ["refund", "reverse in parts", "redemption", "hold"])
def test_an_inactivity_deadline_passing_with_nothing_available_rebuilds_equal(
    tz: str, emptied_by: str
) -> None:
    at = datetime(2024, 1, 5, 12, tzinfo=UTC)
    ledger = PointsLedger.open("m-1", tz=tz, policy=ExpireOnInactivity(months=1))
    ledger = ledger.earn("e1", at=at, points=100)
    day = timedelta(days=1)
    if emptied_by == "refund":
        ledger = ledger.reverse("f1", at=at + day, of="e1")
    elif emptied_by == "reverse in parts":
        ledger = ledger.reverse("f1", at=at + day, of="e1", points=60)
        ledger = ledger.reverse("f2", at=at + day, of="e1", points=40)
    elif emptied_by == "redemption":
        ledger = ledger.redeem("r1", at=at + day, points=100)
    else:
        ledger = ledger.hold("h1", at=at + day, points=100, deadline=at + 90 * day)
    assert ledger.balance().available == 0
    later = ledger.expire(as_of=at + 60 * day)  # past the deadline (Feb 5 local)
    assert later.expire(as_of=at + 60 * day) is later
    assert_same(later, at + 60 * day)
    # what passing the deadline means is kept: activity afterwards does not revive
    # the expired (or held) points, and the released hold's points expire at once
    after = later.earn("e2", at=at + 61 * day, points=5)
    if emptied_by == "hold":
        after = after.release("x1", at=at + 61 * day, hold="h1")
        assert after.balance().expired == 100
    assert after.balance().available == 5
    assert_same(after, at + 61 * day)


def test_a_replayed_ledger_passes_the_deadline_on_its_next_command() -> None:
    at = datetime(2024, 1, 5, 12, tzinfo=UTC)
    ledger = PointsLedger.open("m-1", policy=ExpireOnInactivity(months=1))
    ledger = ledger.earn("e1", at=at, points=100)
    ledger = ledger.hold("h1", at=at, points=100, deadline=at + timedelta(days=90))
    late = at + timedelta(days=60)
    for how, again in [("live", ledger.expire(as_of=late)), *rebuilt(ledger.expire(as_of=late))]:
        released = again.release("x1", at=late, hold="h1")
        assert released.balance().expired == 100, how
        assert [type(e).__name__ for e in released.events[-2:]] == ["Released", "Expired"], how


# -- random command sequences ---------------------------------------------------


@dataclass(frozen=True)
class Step:
    name: str
    hours: int
    points: int
    pick: int
    flag: bool


def steps() -> st.SearchStrategy[list[Step]]:
    step = st.builds(
        Step,
        st.sampled_from(
            [
                "earn",
                "earn",
                "earn_pending",
                "earn_late",
                "redeem",
                "spend_all",
                "spend_all",
                "hold",
                "capture",
                "release",
                "refund",
                "cancel",
                "adjust",
                "transfer_out",
                "transfer_in",
                "merge",
                "expire",
                "expire_later",
            ]
        ),
        st.sampled_from([0, 0, 1, 5, 30, 24 * 20, 24 * 45, 24 * 45]),
        st.sampled_from([1, 7, 40, 100, 250]),
        st.integers(0, 50),
        st.booleans(),
    )
    return st.lists(step, min_size=1, max_size=14)


POLICIES = (
    NeverExpire(),
    ExpireAfter(days=10),
    ExpireAfter(months=1, round_to="month"),
    ExpireAtPeriodEnd("month", 1),
    ExpireOnInactivity(months=1),
    ExpireOnInactivity(months=1),
)


class Driver:
    """Applies steps to a ledger, keeping the ids a later step may refer to."""

    def __init__(self, ledger: PointsLedger) -> None:
        self.ledger = ledger
        self.friend = PointsLedger.open("m-2", tz=ledger.tz)
        self.donor = PointsLedger.open("m-3", tz=ledger.tz, policy=ExpireAfter(days=40))
        self.at = START
        self.n = 0
        self.ids: dict[str, list[str]] = {"earn": [], "spend": [], "hold": []}

    def new_id(self, kind: str) -> str:
        self.n += 1
        return f"{kind}{self.n}"

    def pick(self, kind: str, k: int) -> str:
        known = self.ids[kind]
        return known[k % len(known)] if known else "nothing"

    def apply(self, s: Step) -> None:
        self.at += timedelta(hours=s.hours)
        at, led = self.at, self.ledger
        if s.name in ("earn", "earn_pending", "earn_late"):
            eid = self.new_id("e")
            kwargs: dict[str, Any] = {"id": eid, "at": at, "points": s.points}
            if s.name == "earn_pending":
                kwargs["available_at"] = at + timedelta(days=1 + s.pick % 20)
            if s.name == "earn_late":
                kwargs["occurred_at"] = at - timedelta(days=s.pick)
            if s.flag and s.name == "earn":
                kwargs["expires_at"] = at + timedelta(days=1 + s.pick)
            self.ledger = led.earn(**kwargs)
            self.ids["earn"].append(eid)
        elif s.name in ("redeem", "spend_all"):
            rid = self.new_id("r")
            points = led.balance(as_of=at).available if s.name == "spend_all" else s.points
            self.ledger = led.redeem(rid, at=at, points=points)
            self.ids["spend"].append(rid)
        elif s.name == "hold":
            hid = self.new_id("h")
            deadline = at + timedelta(hours=1 + s.pick * 10)
            self.ledger = led.hold(hid, at=at, points=s.points, deadline=deadline)
            self.ids["hold"].append(hid)
        elif s.name == "capture":
            cid = self.new_id("c")
            points = s.points if s.flag else None
            self.ledger = led.capture(cid, at=at, hold=self.pick("hold", s.pick), points=points)
            self.ids["spend"].append(cid)
        elif s.name == "release":
            self.ledger = led.release(self.new_id("x"), at=at, hold=self.pick("hold", s.pick))
        elif s.name == "refund":
            points = s.points if s.flag else None
            of = self.pick("earn", s.pick)
            self.ledger = led.reverse(self.new_id("f"), at=at, of=of, points=points)
        elif s.name == "cancel":
            grace = 3 if s.flag else None
            of = self.pick("spend", s.pick)
            self.ledger = led.reverse(self.new_id("k"), at=at, of=of, grace_days=grace)
        elif s.name == "adjust":
            points = s.points if s.flag else -s.points
            self.ledger = led.adjust(self.new_id("a"), at=at, points=points, reason="ops")
        elif s.name == "transfer_out":
            tid = self.new_id("t")
            self.ledger, self.friend = transfer(led, self.friend, tid, at=at, points=s.points)
        elif s.name == "transfer_in":
            tid = self.new_id("t")
            self.donor = self.donor.earn(f"d{tid}", at=at, points=s.points)
            self.donor, self.ledger = transfer(
                self.donor, led, tid, at=at, points=s.points, keep_expiry=s.flag
            )
        elif s.name == "merge":
            dup = PointsLedger.open(f"dup{self.n}", tz=led.tz, policy=ExpireAfter(days=20))
            dup = dup.earn("d1", at=at - timedelta(days=s.pick), points=s.points)
            self.ledger = merge(led, dup, self.new_id("g"), at=at)
        elif s.name == "expire_later":  # past any deadline of the inactivity policies
            self.at += timedelta(days=31 + s.pick)
            self.ledger = led.expire(as_of=self.at)
        else:
            self.ledger = led.expire(as_of=at)


@settings(max_examples=300, deadline=None)
@given(
    tz=st.sampled_from(ZONES),
    policy=st.sampled_from(POLICIES),
    strict=st.booleans(),
    script=steps(),
)
def test_live_replay_plain_data_and_pickle_agree_after_every_step(
    tz: str, policy: Any, strict: bool, script: list[Step]
) -> None:
    debt_policy = "strict" if strict else "debt"
    driver = Driver(PointsLedger.open("m-1", tz=tz, policy=policy, debt_policy=debt_policy))
    for s in script:
        before = driver.ledger
        try:
            driver.apply(s)
        except errors.LoyaltyError:
            assert driver.ledger is before  # a refused command changes nothing
        assert_same(driver.ledger, driver.at)

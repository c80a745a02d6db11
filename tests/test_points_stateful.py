"""The points ledger against a naive reference model, step by step.

The model below keeps plain dicts and lists and shares no code with
``src/``: it re-derives expiry dates, consumption order, refunds, holds and
debt from the rules in docs/points.md. After every step the ledger must agree
with it exactly and keep every invariant: conservation of points, lots within
bounds, no debt while points are available, replay, plain-data and pickle
round trips equal to the state, retries as no-ops.

The model is the ledger's executable specification: it states each policy
(which lots a redemption consumes, what a refund claws back first, when
points expire, what a hold keeps) in plain steps, without the engine's
layout or speed tricks. A change of policy is made here first, then in the
engine until the two agree again.

Each lot has a source (drawn for earns; "adjustment" for a credit; a grace
lot takes the first expired lot's), and a redemption records the sources it
consumed, in consumption order; every earn records the expiry the model
derives, and every command the inactivity deadline after it.

The program zone is drawn too (local dates, and so expiry instants, differ
per zone), and the inactivity policy gets its own paths: spending or
refunding everything, then letting the deadline pass with ``expire(as_of=)``
while nothing is left to expire.
"""

from __future__ import annotations

import pickle
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from dateutil.relativedelta import relativedelta
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from loyaltycore import errors, serialize
from loyaltycore.points import (
    ExpireAfter,
    ExpireOnInactivity,
    NeverExpire,
    PointsLedger,
    transfer,
)

START = datetime(2024, 1, 1, 9, tzinfo=UTC)
INF = datetime.max.replace(tzinfo=UTC)
FLOWS = (
    "available",
    "pending",
    "held",
    "debt",
    "earned",
    "adjusted_in",
    "transferred_in",
    "merged_in",
    "redeemed",
    "cancelled",
    "expired",
    "clawed_back",
    "adjusted_out",
    "transferred_out",
    "merged_debt",
    "debt_repaid",
)
STEPS = {"count": 0}


#: Program zones whose clocks never change at local midnight (so the model's
#: "00:00 local" needs no gap handling).
ZONES = ("UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe")


def midnight_after(day: date, tz: str = "UTC") -> datetime:
    local = datetime.combine(day + timedelta(days=1), time(), tzinfo=ZoneInfo(tz))
    return local.astimezone(UTC)


class Model:
    """A deliberately simple account: lists of dicts, recomputed by brute force."""

    def __init__(self, kind: str, n: int, strict: bool, tz: str = "UTC") -> None:
        self.kind, self.n, self.strict, self.tz = kind, n, strict, tz
        self.lots: dict[str, dict[str, Any]] = {}
        self.holds: dict[str, dict[str, Any]] = {}
        self.redemptions: dict[str, dict[str, Any]] = {}
        self.earns: dict[str, int] = {}
        self.reversed: dict[str, int] = {}
        self.flow = dict.fromkeys(FLOWS, 0)
        self.deadline: datetime | None = None
        self.last: datetime | None = None
        self.seq = 0

    # expiry rules, written from the documentation
    def day(self, at: datetime) -> date:
        return at.astimezone(ZoneInfo(self.tz)).date()

    def expiry(self, at: datetime) -> datetime | None:
        if self.kind == "after":
            return midnight_after(self.day(at) + timedelta(days=self.n), self.tz)
        return None

    def inactivity(self, at: datetime) -> datetime:
        return midnight_after(self.day(at) + relativedelta(months=self.n), self.tz)

    def dead(self, lot: dict[str, Any], now: datetime) -> bool:
        return lot["killed"] or (lot["exp"] is not None and lot["exp"] <= now)

    def usable(self) -> list[dict[str, Any]]:
        live = [x for x in self.lots.values() if not x["pending"] and x["rem"] > 0]
        return sorted(live, key=lambda x: (x["exp"] or INF, x["seq"]))

    def available(self) -> int:
        return sum(x["rem"] for x in self.usable())

    def new_lot(
        self, lot_id: str, points: int, exp: datetime | None, avail: Any, source: str = "purchase"
    ) -> None:
        self.seq += 1
        self.lots[lot_id] = {
            "source": source,
            "amount": points,
            "rem": points,
            "held": 0,
            "used": 0,
            "expired": 0,
            "rev": 0,
            "exp": exp,
            "avail": avail,
            "pending": avail is not None,
            "seq": self.seq,
            "killed": False,
        }

    def take(self, points: int, bucket: str) -> list[tuple[str, int]]:
        parts = []
        for lot in self.usable():
            if points == 0:
                break
            x = min(points, lot["rem"])
            lot["rem"] -= x
            lot[bucket] += x
            points -= x
            parts.append((self.id_of(lot), x))
        assert points == 0
        return parts

    def sources(self, parts: list[tuple[str, int]]) -> tuple[tuple[str, int], ...]:
        """Points per lot source in consumption order, adjacent ones summed."""
        out: list[tuple[str, int]] = []
        for lot_id, x in parts:
            source = self.lots[lot_id]["source"]
            if out and out[-1][0] == source:
                out[-1] = (source, out[-1][1] + x)
            else:
                out.append((source, x))
        return tuple(out)

    def id_of(self, lot: dict[str, Any]) -> str:
        return next(k for k, v in self.lots.items() if v is lot)

    def settle(self) -> None:
        pay = min(self.flow["debt"], self.available())
        if pay:
            self.take(pay, "used")
            self.flow["debt"] -= pay
            self.flow["debt_repaid"] += pay

    def put_back(self, lot: dict[str, Any], x: int, bucket: str, now: datetime) -> None:
        lot[bucket] -= x
        if self.dead(lot, now):
            lot["expired"] += x
            self.flow["expired"] += x
        else:
            lot["rem"] += x

    def advance(self, now: datetime) -> None:
        while True:
            due = []
            for lot in self.lots.values():
                if lot["pending"] and lot["avail"] <= now:
                    due.append((lot["avail"], 0, lot["seq"], lot))
                elif not lot["pending"] and lot["rem"] and lot["exp"] and lot["exp"] <= now:
                    due.append((lot["exp"], 1, lot["seq"], lot))
            for hid, hold in self.holds.items():
                if hold["status"] == "open" and hold["deadline"] <= now:
                    due.append((hold["deadline"], 2, hid, hold))
            if self.deadline is not None and self.deadline <= now:
                due.append((self.deadline, 3, 0, None))
            if not due:
                return
            when, rank, _, item = min(due, key=lambda d: d[:3])
            self.last = max(self.last or when, when)
            if rank == 0:
                item["pending"] = False
                self.settle()
            elif rank == 1:
                self.flow["expired"] += item["rem"]
                item["expired"] += item["rem"]
                item["rem"] = 0
            elif rank == 2:
                item["status"] = "timed_out"
                for lot_id, x in item["parts"]:
                    self.put_back(self.lots[lot_id], x, "held", when)
                self.settle()
            else:
                for lot in self.lots.values():
                    if not lot["pending"]:
                        self.flow["expired"] += lot["rem"]
                        lot["expired"] += lot["rem"]
                        lot["rem"] = 0
                    lot["killed"] = True
                self.deadline = None

    def touch(self, at: datetime) -> None:
        if self.kind == "inactive":
            new = self.inactivity(at)
            if self.deadline is None or new > self.deadline:
                self.deadline = new

    def expiring(self) -> dict[tuple[datetime, str], int]:
        """Available points by (instant they stop being usable, cause)."""
        out: dict[tuple[datetime, str], int] = {}
        for lot in self.usable():
            if lot["exp"] is not None and (self.deadline is None or lot["exp"] <= self.deadline):
                key = (lot["exp"], "lot")
            elif self.deadline is not None:
                key = (self.deadline, "inactivity")
            else:
                continue
            out[key] = out.get(key, 0) + lot["rem"]
        return out

    def totals(self) -> dict[str, int]:
        out = dict(self.flow)
        out["available"] = self.available()
        out["pending"] = sum(x["rem"] for x in self.lots.values() if x["pending"])
        out["held"] = sum(x["held"] for x in self.lots.values())
        return out


class LedgerMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.now = START
        self.counter = 0
        self.last_call: tuple[Any, dict[str, Any]] | None = None

    def fresh(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}{self.counter}"

    @initialize(
        kind=st.sampled_from(["never", "after", "inactive", "inactive"]),
        n=st.integers(1, 12),
        strict=st.booleans(),
        tz=st.sampled_from(ZONES),
    )
    def start(self, kind: str, n: int, strict: bool, tz: str) -> None:
        policy = {
            "never": NeverExpire(),
            "after": ExpireAfter(days=n),
            "inactive": ExpireOnInactivity(months=1 + n % 2),
        }[kind]
        self.model = Model(kind, n if kind != "inactive" else 1 + n % 2, strict, tz)
        self.ledger = PointsLedger.open(
            "member", tz=tz, policy=policy, debt_policy="strict" if strict else "debt"
        )
        self.other = PointsLedger.open("friend")
        self.donor = PointsLedger.open("donor").earn("seed", at=START, points=10**9)

    def tick(self, hours: int) -> datetime:
        STEPS["count"] += 1
        self.now += timedelta(hours=hours)
        self.model.advance(self.now)
        return self.now

    def run(self, method: str, expect: type[Exception] | None, **kwargs: Any) -> None:
        before = self.ledger
        if expect is not None:
            with pytest.raises(expect):
                getattr(self.ledger, method)(**kwargs)
            assert self.ledger is before
            return
        self.ledger = getattr(self.ledger, method)(**kwargs)
        self.last_call = (method, kwargs)

    # -- rules -------------------------------------------------------------

    @rule(
        points=st.integers(50, 800),
        hours=st.integers(0, 60),
        wait=st.sampled_from([0, 0, 30]),
        source=st.sampled_from(["purchase", "purchase", "bonus", "partner-x"]),
    )
    def earn(self, points: int, hours: int, wait: int, source: str) -> None:
        m = self.model
        at = self.tick(hours)
        avail = at + timedelta(hours=wait) if wait else None
        exp = m.expiry(at)
        eid = self.fresh("e")
        kwargs = {"id": eid, "at": at, "points": points, "available_at": avail, "source": source}
        if exp is not None and exp <= (avail or at):
            self.run("earn", errors.InvalidTime, **kwargs)
            return
        self.run("earn", None, **kwargs)
        m.new_lot(eid, points, exp, avail, source)
        m.earns[eid] = points
        m.flow["earned"] += points
        m.touch(at)
        recorded = self.ledger._command_named(eid)  # (debt repaid may follow it)
        assert (recorded.lot_expires_at, recorded.inactivity_deadline) == (exp, m.deadline)  # type: ignore[union-attr]
        m.settle()

    @rule(points=st.integers(1, 300), hours=st.integers(0, 30))
    def redeem(self, points: int, hours: int) -> None:
        m = self.model
        at = self.tick(hours)
        rid = self.fresh("r")
        kwargs = {"id": rid, "at": at, "points": points}
        if points > m.available():
            self.run("redeem", errors.InsufficientPoints, **kwargs)
            return
        self.run("redeem", None, **kwargs)
        parts = m.take(points, "used")
        m.redemptions[rid] = {"parts": parts, "done": 0}
        m.flow["redeemed"] += points
        m.touch(at)
        recorded = self.ledger._command_named(rid)
        assert recorded.sources == m.sources(parts)  # type: ignore[union-attr]
        assert recorded.inactivity_deadline == m.deadline  # type: ignore[union-attr]

    @rule(points=st.integers(1, 200), hours=st.integers(0, 10), life=st.integers(24, 240))
    def hold(self, points: int, hours: int, life: int) -> None:
        m = self.model
        at = self.tick(hours)
        hid = self.fresh("h")
        kwargs = {"id": hid, "at": at, "points": points, "deadline": at + timedelta(hours=life)}
        if points > m.available():
            self.run("hold", errors.InsufficientPoints, **kwargs)
            return
        self.run("hold", None, **kwargs)
        parts = m.take(points, "held")
        m.holds[hid] = {
            "parts": parts,
            "points": points,
            "deadline": at + timedelta(hours=life),
            "status": "open",
        }

    def hold_ids(self) -> st.SearchStrategy[str]:
        holds = self.model.holds
        live = [h for h, v in holds.items() if v["status"] == "open"]
        return st.sampled_from([*live, *live, *live, *live, *holds, "nohold"])

    def hold_error(self, hid: str) -> type[Exception] | None:
        hold = self.model.holds.get(hid)
        if hold is None:
            return errors.UnknownHold
        if hold["status"] == "timed_out":
            return errors.HoldExpired
        if hold["status"] != "open":
            return errors.HoldAlreadyResolved
        return None

    @precondition(lambda self: self.model.holds)
    @rule(data=st.data(), hours=st.integers(0, 8))
    def capture(self, data: st.DataObject, hours: int) -> None:
        m = self.model
        at = self.tick(hours)
        hid = data.draw(self.hold_ids())
        points = data.draw(st.none() | st.integers(1, 200))
        cid = self.fresh("c")
        kwargs = {"id": cid, "at": at, "hold": hid, "points": points}
        err = self.hold_error(hid)
        if err is None and points is not None and points > m.holds[hid]["points"]:
            err = errors.OverCapture
        if err is not None:
            self.run("capture", err, **kwargs)
            return
        self.run("capture", None, **kwargs)
        hold = m.holds[hid]
        amount = hold["points"] if points is None else points
        need, captured = amount, []
        for lot_id, x in hold["parts"]:
            lot = m.lots[lot_id]
            y = min(x, need)
            need -= y
            if y:
                lot["held"] -= y
                lot["used"] += y
                captured.append((lot_id, y))
            if x > y:
                m.put_back(lot, x - y, "held", at)
        hold["status"] = "captured"
        m.redemptions[cid] = {"parts": captured, "done": 0}
        m.flow["redeemed"] += amount
        m.touch(at)
        m.settle()

    @precondition(lambda self: self.model.holds)
    @rule(data=st.data(), hours=st.integers(0, 8))
    def release(self, data: st.DataObject, hours: int) -> None:
        m = self.model
        at = self.tick(hours)
        hid = data.draw(self.hold_ids())
        kwargs = {"id": self.fresh("x"), "at": at, "hold": hid}
        err = self.hold_error(hid)
        if err is not None:
            self.run("release", err, **kwargs)
            return
        self.run("release", None, **kwargs)
        hold = m.holds[hid]
        for lot_id, x in hold["parts"]:
            m.put_back(m.lots[lot_id], x, "held", at)
        hold["status"] = "released"
        m.settle()

    @precondition(lambda self: self.model.earns)
    @rule(data=st.data(), hours=st.integers(0, 30))
    def refund(self, data: st.DataObject, hours: int) -> None:
        m = self.model
        at = self.tick(hours)
        eid = data.draw(st.sampled_from(sorted(m.earns)))
        points = data.draw(st.none() | st.integers(1, 600))
        kwargs = {"id": self.fresh("f"), "at": at, "of": eid, "points": points}
        left = m.earns[eid] - m.reversed.get(eid, 0)
        amount = left if points is None else points
        if left == 0 or amount > left:
            self.run("reverse", errors.OverReversal, **kwargs)
            return
        lot = m.lots[eid]
        if lot["pending"]:
            self.run("reverse", None, **kwargs)
            lot["rem"] -= amount
            lot["rev"] += amount
        else:
            r1 = min(amount, lot["rem"])
            r2 = min(amount - r1, lot["expired"])
            rest = amount - r1 - r2
            charge = min(rest, m.available() - r1)
            if m.strict and rest > charge:
                self.run("reverse", errors.StrictPolicyViolation, **kwargs)
                return
            self.run("reverse", None, **kwargs)
            lot["rem"] -= r1
            lot["expired"] -= r2
            lot["rev"] += r1 + r2
            m.flow["expired"] -= r2
            m.take(charge, "used")
            m.flow["debt"] += rest - charge
        m.flow["clawed_back"] += amount
        m.reversed[eid] = m.reversed.get(eid, 0) + amount
        m.settle()

    @precondition(lambda self: self.model.redemptions)
    @rule(data=st.data(), hours=st.integers(0, 30), grace=st.sampled_from([None, None, 5]))
    def cancel(self, data: st.DataObject, hours: int, grace: int | None) -> None:
        m = self.model
        at = self.tick(hours)
        rid = data.draw(st.sampled_from(sorted(m.redemptions)))
        points = data.draw(st.none() | st.integers(1, 400))
        cid = self.fresh("k")
        kwargs = {"id": cid, "at": at, "of": rid, "points": points, "grace_days": grace}
        red = m.redemptions[rid]
        left = sum(x for _, x in red["parts"]) - red["done"]
        amount = left if points is None else points
        if left == 0 or amount > left:
            self.run("reverse", errors.OverReversal, **kwargs)
            return
        self.run("reverse", None, **kwargs)
        flat = [lot_id for lot_id, x in red["parts"] for _ in range(x)]
        graced = 0
        first = "purchase"
        for lot_id in flat[red["done"] : red["done"] + amount]:
            lot = m.lots[lot_id]
            if m.dead(lot, at) and grace is not None:
                first = first if graced else lot["source"]
                graced += 1
                continue
            m.put_back(lot, 1, "used", at)
        if graced:
            until = midnight_after(m.day(at) + timedelta(days=5), m.tz)
            m.new_lot(f"{cid}:grace", graced, until, None, first)
        red["done"] += amount
        m.flow["cancelled"] += amount
        m.settle()

    @rule(points=st.integers(-300, 300).filter(bool), hours=st.integers(0, 30))
    def adjust(self, points: int, hours: int) -> None:
        m = self.model
        at = self.tick(hours)
        aid = self.fresh("a")
        kwargs = {"id": aid, "at": at, "points": points, "reason": "ops"}
        if points < 0 and -points > m.available():
            self.run("adjust", errors.InsufficientPoints, **kwargs)
            return
        self.run("adjust", None, **kwargs)
        if points > 0:
            m.new_lot(aid, points, m.expiry(at), None, "adjustment")
            m.flow["adjusted_in"] += points
            m.touch(at)
            m.settle()
        else:
            m.take(-points, "used")
            m.flow["adjusted_out"] -= points

    @rule(
        points=st.integers(1, 300), hours=st.integers(0, 30), out=st.booleans(), keep=st.booleans()
    )
    def move(self, points: int, hours: int, out: bool, keep: bool) -> None:
        m = self.model
        at = self.tick(hours)
        tid = self.fresh("t")
        if out:
            if points > m.available():
                with pytest.raises(errors.InsufficientPoints):
                    transfer(self.ledger, self.other, tid, at=at, points=points)
                return
            self.ledger, self.other = transfer(self.ledger, self.other, tid, at=at, points=points)
            m.take(points, "used")
            m.flow["transferred_out"] += points
            return
        self.donor, self.ledger = transfer(
            self.donor, self.ledger, tid, at=at, points=points, keep_expiry=keep
        )
        m.new_lot(f"{tid}#0", points, None if keep else m.expiry(at), None)
        m.flow["transferred_in"] += points
        m.settle()

    @rule(hours=st.integers(0, 400))
    def expire(self, hours: int) -> None:
        at = self.tick(hours)
        self.ledger = self.ledger.expire(as_of=at)
        assert self.ledger.expire(as_of=at) is self.ledger

    @precondition(lambda self: self.model.available() > 0)
    @rule(hours=st.integers(0, 30))
    def spend_all(self, hours: int) -> None:
        # leaves nothing available, so a deadline passing later has nothing to expire
        m = self.model
        at = self.tick(hours)
        points = m.available()
        rid = self.fresh("r")
        if points == 0:  # (what was available expired meanwhile)
            self.run("redeem", errors.InvalidPoints, id=rid, at=at, points=points)
            return
        self.run("redeem", None, id=rid, at=at, points=points)
        m.redemptions[rid] = {"parts": m.take(points, "used"), "done": 0}
        m.flow["redeemed"] += points
        m.touch(at)

    @rule(days=st.integers(20, 75), minutes=st.integers(0, 24 * 60))
    def expire_much_later(self, days: int, minutes: int) -> None:
        # far enough to pass an inactivity deadline (one or two months)
        at = self.tick(0) + timedelta(days=days, minutes=minutes)
        self.now = at
        self.model.advance(at)
        self.ledger = self.ledger.expire(as_of=at)
        assert self.ledger.expire(as_of=at) is self.ledger

    @precondition(lambda self: self.last_call is not None)
    @rule()
    def retry(self) -> None:
        assert self.last_call is not None
        method, kwargs = self.last_call
        STEPS["count"] += 1
        assert getattr(self.ledger, method)(**kwargs) is self.ledger

    # -- invariants ----------------------------------------------------------

    @invariant()
    def agrees_with_model(self) -> None:
        if not hasattr(self, "ledger"):
            return
        balance = self.ledger.balance(as_of=self.now)
        expected = self.model.totals()
        actual = {name: getattr(balance, name) for name in FLOWS}
        assert actual == expected
        state = self.ledger.expire(as_of=self.now)
        assert state.balance() == balance  # balance(as_of=) reflects expiry without recording it
        for lot in state.lots:
            mine = self.model.lots[lot.id]
            got = (lot.remaining, lot.held, lot.used, lot.expired, lot.reversed)
            want = (mine["rem"], mine["held"], mine["used"], mine["expired"], mine["rev"])
            assert lot.source == mine["source"], lot.id
            assert got == want, lot.id
            assert min(got) >= 0
            assert sum(got) == lot.amount
        statuses = {hold.id: hold.status for hold in state.holds}
        assert statuses == {hid: hold["status"] for hid, hold in self.model.holds.items()}
        until = self.now + timedelta(days=400)
        found: dict[tuple[datetime, str], int] = {}
        for entry in self.ledger.expiring(as_of=self.now, until=until):
            key = (entry.expires_at, entry.cause)
            found[key] = found.get(key, 0) + entry.points
        assert found == self.model.expiring()

    @invariant()
    def conservation(self) -> None:
        if not hasattr(self, "ledger"):
            return
        b = self.ledger.balance()
        inflow = b.earned + b.adjusted_in + b.transferred_in + b.merged_in
        outflow = (
            b.available
            + b.pending
            + b.held
            + (b.redeemed - b.cancelled)
            + b.expired
            + b.clawed_back
            + b.adjusted_out
            + b.transferred_out
            + b.merged_debt
            - b.debt
        )
        assert inflow == outflow
        assert b.debt == 0 or b.available == 0
        assert min(b.available, b.pending, b.held, b.debt, b.expired) >= 0

    @invariant()
    def history_rebuilds(self) -> None:
        if not hasattr(self, "ledger"):
            return
        ledger = self.ledger
        for again in (
            PointsLedger.replay(ledger.events),
            serialize.loads(serialize.dumps(ledger), PointsLedger),
            pickle.loads(pickle.dumps(ledger)),
        ):
            assert again == ledger
            assert again.events == ledger.events
            assert again.lots == ledger.lots
            assert again.balance() == ledger.balance()
            until = self.now + timedelta(days=400)
            assert again.expiring(until=until) == ledger.expiring(until=until)


def test_ledger_agrees_with_reference_model() -> None:
    STEPS["count"] = 0
    run_state_machine_as_test(
        LedgerMachine,
        settings=settings(max_examples=300, stateful_step_count=60, deadline=None),
    )
    assert STEPS["count"] >= 10_000  # generated steps (rules run), not examples

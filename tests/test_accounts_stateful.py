"""An account against a plain reference model, after every step of random histories.

The model keeps what the account is allowed to forget: every outcome (so a
retry of any command still in the idempotency window must return it), all
qualifying activity ever (so the tier can be recomputed without pruning), the
sum of every outcome's counter changes and every snapshot taken. After each
step:

* a retry of a command in the window returns the identical outcome and the
  same account;
* the ledger's conservation identity holds;
* the tier equals the tier program run over the whole activity;
* the counters equal the sum of the outcomes' changes (forgotten periods aside);
* the live account equals its replay, a restore from an earlier snapshot and
  its tail, and the plain-data round trip of its own snapshot.

Histories mix clock skew (posting times a little behind the last one),
orders in two currencies, points plus cash with partial refunds, holds,
expiry sweeps, reviews, a transfer, a merge and a migration mid-history.
"""

from __future__ import annotations

import json
import pickle
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import attrs
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from loyaltycore.accounts import (
    Account,
    Applied,
    Outcome,
    Profile,
    Tender,
    event_from_data,
    event_to_data,
    example_program,
    merge,
    transfer,
)
from loyaltycore.errors import LoyaltyError
from loyaltycore.points import ExpireAtPeriodEnd
from loyaltycore.predicates import Item

P1 = attrs.evolve(example_program(), retry_days=4, retry_count=6, refund_days=20, carry_every=6)
P2 = attrs.evolve(P1, version=2, expiry=ExpireAtPeriodEnd(period="year"))
PROGRAMS = (P1, P2)
T0 = datetime(2024, 2, 27, 9, tzinfo=UTC)
PROFILE = Profile(ref="crm-1", birthday=date(1991, 3, 14))
MENU = (
    Item("latte", "drinks", 1, "4.50"),
    Item("cake", "food", 1, "3.20"),
    Item("beans", "retail", 1, "12.00"),
    Item("mug", "retail", 1, "9.90"),
)
TIER_MAP = {"silver": "silver", "gold": "gold", "diamond": "diamond"}


def identity_holds(account: Account) -> bool:
    b = account.balance()
    left = b.earned + b.adjusted_in + b.transferred_in + b.merged_in
    right = (
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
    return left == right and (b.debt == 0 or b.available == 0)


@attrs.define
class Sent:
    """A command the model saw applied: how to send it again and what it returned."""

    id: str
    at: datetime
    call: Callable[[Account], Applied] | None  # (None: an absorbed account's command)
    outcome: Outcome


class AccountMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.t = T0
        self.k = 0
        self.account = Account.open("ann", program=P1, at=T0, profile=PROFILE)
        self.other = Account.open("bob", program=P1, at=T0)
        self.window: list[Sent] = []
        self.activity: list[Any] = []
        self.counters: dict[str, int] = {}
        self.status = P1.tiers.join(T0)
        self.program = P1
        self.orders: list[tuple[str, tuple[Item, ...], bool]] = []
        self.holds: list[str] = []
        self.snapshots: list[tuple[int, dict[str, Any]]] = []
        self.migrated = self.merged = False
        #: every event, as a host's store keeps them (the account may drop its own)
        self.stored: list[Any] = list(self.account.events)

    # -- the model ----------------------------------------------------------------

    def next_id(self, prefix: str) -> str:
        self.k += 1
        return f"{prefix}{self.k}"

    def when(self, data: st.DataObject) -> datetime:
        """The caller's clock: a little behind the last posting now and then.

        Commands sent in the same minute carry up to 900 ms of clock skew, so
        one is often "earlier" than the command posted before it.
        """
        self.t += timedelta(
            minutes=data.draw(st.sampled_from([0, 0, 1, 30, 600]), label="minutes")
        )
        return self.t - timedelta(milliseconds=data.draw(st.integers(0, 900), label="skew"))

    def send(self, id: str, call: Callable[[Account], Applied]) -> Applied | None:
        before = self.account
        try:
            applied = call(before)
        except LoyaltyError:
            assert self.account is before
            return None
        self.account = applied.account
        self.learn(before, applied)
        self.window.append(Sent(id, applied.outcome.at, call, applied.outcome))
        self.forget()
        return applied

    def learn(self, before: Account, applied: Applied) -> None:
        new = applied.account.events_since(before.version)
        assert len(new) == applied.account.version - before.version
        self.stored.extend(new)
        for event in new:
            self.activity.extend(event.activity)
            for key, value in event.outcome.counters.items():
                self.counters[key] = self.counters.get(key, 0) + value
            if event.command == "migrate":
                self.program = P2
                self.status = applied.account.status
            elif event.command in ("order", "refund", "review", "merge_in"):
                self.status = self.program.tiers.evaluate(
                    self.status, self.activity, as_of=event.at
                ).status
                if event.tier is not None and event.tier.tier is not None:
                    until = event.tier.until or date(9999, 12, 31)
                    self.status = self.program.tiers.override(
                        self.status,
                        self.activity,
                        tier=event.tier.tier,
                        until=until,
                        at=event.at,
                        reason="merged account",
                    )

    def forget(self) -> None:
        """The idempotency window: the last ``retry_count`` ids, none older than ``retry_days``."""
        program = self.account.program
        now = self.account.last_at
        while self.window and (
            len(self.window) > program.retry_count
            or self.window[0].at < now - timedelta(days=program.retry_days)
        ):
            self.window.pop(0)

    # -- commands -------------------------------------------------------------------

    @rule(data=st.data())
    def order(self, data: st.DataObject) -> None:
        at = self.when(data)
        oid = self.next_id("o")
        lines = tuple(
            attrs.evolve(item, quantity=data.draw(st.integers(1, 3), label="quantity"))
            for item in data.draw(
                st.lists(st.sampled_from(MENU), min_size=0, max_size=3, unique=True)
            )
        )
        usd = data.draw(st.booleans(), label="usd")
        currency, rate = ("USD", "0.9137") if usd else ("EUR", None)
        amount = None if lines else Decimal(data.draw(st.integers(100, 5000))).scaleb(-2)
        total = sum((i.net for i in lines), Decimal(0)) if lines else amount
        assert total is not None
        tenders: tuple[Tender, ...] = ()
        available = self.account.balance().available
        if available >= 100 and data.draw(st.booleans(), label="points tender"):
            points = 100 * data.draw(st.integers(1, min(available // 100, int(total))))
            money = Decimal(points).scaleb(-2)
            if money <= total:
                tenders = (Tender("points", money, points=points), Tender("card", total - money))

        def call(a: Account) -> Applied:
            return a.order(
                oid,
                at=at,
                lines=lines,
                amount=amount,
                tenders=tenders,
                currency=currency,
                rate=rate,
            )

        if self.send(oid, call) is not None:
            self.orders.append((oid, lines, amount is not None))

    @precondition(lambda self: self.orders)
    @rule(data=st.data())
    def refund(self, data: st.DataObject) -> None:
        at = self.when(data)
        rid = self.next_id("f")
        of, lines, by_amount = data.draw(st.sampled_from(self.orders), label="order")
        kind = data.draw(st.sampled_from(["all", "part", "unknown"]), label="refund")
        items = amount = None
        if kind == "unknown":
            of, amount = "no-such-order", Decimal("5.00")
        elif kind == "part" and lines:
            sku = data.draw(st.sampled_from([i.sku for i in lines]))
            items = {sku: 1}
        elif kind == "part" and by_amount:
            amount = Decimal("1.00")

        def call(a: Account) -> Applied:
            return a.refund(rid, at=at, of=of, items=items, amount=amount)

        self.send(rid, call)

    @rule(data=st.data(), points=st.sampled_from([50, 200, 1000]))
    def redeem(self, data: st.DataObject, points: int) -> None:
        at = self.when(data)
        rid = self.next_id("r")
        self.send(rid, lambda a: a.redeem(rid, at=at, points=points, reason="reward"))

    @rule(data=st.data(), points=st.sampled_from([30, 300]))
    def hold(self, data: st.DataObject, points: int) -> None:
        at = self.when(data)
        hid = self.next_id("h")
        deadline = at + timedelta(minutes=data.draw(st.sampled_from([5, 600])))
        if self.send(hid, lambda a: a.hold(hid, at=at, points=points, deadline=deadline)):
            self.holds.append(hid)

    @precondition(lambda self: self.holds)
    @rule(data=st.data(), capture=st.booleans())
    def resolve(self, data: st.DataObject, capture: bool) -> None:
        at = self.when(data)
        cid = self.next_id("c")
        hold = data.draw(st.sampled_from(self.holds))
        if capture:
            self.send(cid, lambda a: a.capture(cid, at=at, hold=hold, points=None))
        else:
            self.send(cid, lambda a: a.release(cid, at=at, hold=hold))

    @rule(data=st.data(), points=st.sampled_from([-40, 25, 400]))
    def adjust(self, data: st.DataObject, points: int) -> None:
        at = self.when(data)
        aid = self.next_id("a")
        self.send(aid, lambda a: a.adjust(aid, at=at, points=points, reason="service"))

    @rule(days=st.integers(1, 200))
    def time_passes(self, days: int) -> None:
        self.t += timedelta(days=days)

    @rule(data=st.data(), review=st.booleans())
    def sweep(self, data: st.DataObject, review: bool) -> None:
        at = self.when(data)
        sid = self.next_id("s")
        if review:
            self.send(sid, lambda a: a.review(sid, at=at))
        else:
            self.send(sid, lambda a: a.expire(sid, as_of=at))

    @precondition(lambda self: not self.migrated)
    @rule(data=st.data())
    def migrate(self, data: st.DataObject) -> None:
        at = self.when(data)
        mid = self.next_id("m")
        if self.send(mid, lambda a: a.migrate(mid, at=at, program=P2, tier_map=TIER_MAP)):
            self.migrated = True

    @precondition(lambda self: not self.merged and not self.migrated)
    @rule(data=st.data(), points=st.sampled_from([10, 150]))
    def transfer_then_merge(self, data: st.DataObject, points: int) -> None:
        at = self.when(data)
        other = self.other.order("b-1", at=at, lines=[MENU[2]]).account
        tid = self.next_id("t")
        try:
            (mine, sent), (other, _) = transfer(self.account, other, tid, at=at, points=points)
        except LoyaltyError:
            mine, sent = self.account, None
        if sent is not None:
            self.learn(self.account, Applied(mine, sent))
            self.account = mine
        gid = self.next_id("g")
        before = self.account
        (self.account, done), (gone, _) = merge(before, other, gid, at=at)
        self.learn(before, Applied(self.account, done))
        if sent is not None:  # (retries reach the closed account, which still answers them)
            again = sent

            def retry(a: Account) -> Applied:
                return transfer(a, gone, tid, at=at, points=points)[0]

            self.window.append(Sent(tid, again.at, retry, again))
        self.window.append(Sent(gid, done.at, lambda a: merge(a, gone, gid, at=at)[0], done))
        known = {sent.id for sent in self.window}
        for key, seen in other.outcomes.items():  # (the absorbed ids join the window after it)
            if key not in known and key in self.account.outcomes:
                self.window.append(Sent(key, seen.outcome.at, None, seen.outcome))
        self.forget()
        self.merged = True
        assert gone.merged_into == "ann"
        assert identity_holds(self.account)

    @rule()
    def drop_the_stored_events(self) -> None:
        before = self.account
        self.account = before.without_events()
        assert self.account == before
        assert self.account.events == ()
        assert self.account.events_since(before.version) == ()

    @rule()
    def take_snapshot(self) -> None:
        self.snapshots.append((self.account.version, self.account.snapshot()))

    # -- after every step -----------------------------------------------------------------

    @invariant()
    def retries_return_the_stored_outcome(self) -> None:
        for sent in self.window:
            if sent.call is None:
                assert self.account.outcomes[sent.id].outcome == sent.outcome
                continue
            again = sent.call(self.account)
            assert again.outcome == sent.outcome
            assert again.account is self.account

    @invariant()
    def the_ledger_conserves_points(self) -> None:
        assert identity_holds(self.account)

    @invariant()
    def the_tier_is_the_tier_programs_over_all_activity(self) -> None:
        assert self.account.status.tier == self.status.tier
        assert self.account.status.valid_until == self.status.valid_until

    @invariant()
    def counters_are_the_sum_of_outcome_changes(self) -> None:
        today = self.account.last_at.date()
        for key, value in self.account.counters.items():
            assert self.counters.get(key) == value, key
        for key, value in self.counters.items():
            if value and key not in self.account.counters:
                label = key.rsplit("/", 2)[1]
                assert label[:4].isdigit(), key
                assert label[:4] <= str(today.year), key

    @invariant()
    def replay_restore_and_plain_data_agree(self) -> None:
        account = self.account
        kept = account.events
        assert list(kept) == self.stored[len(self.stored) - len(kept) :]
        events = [event_from_data(json.loads(json.dumps(event_to_data(e)))) for e in self.stored]
        assert Account.replay(events, programs=PROGRAMS, profile=PROFILE) == account
        own = json.loads(json.dumps(account.snapshot()))
        restored = Account.restore(own, programs=PROGRAMS, profile=PROFILE)
        for sent in self.window:  # (outcomes read back from the snapshot's texts)
            if sent.call is not None:
                assert sent.call(restored).outcome == sent.outcome
        assert restored == account
        if self.snapshots:
            version, doc = self.snapshots[len(self.snapshots) // 2]
            tail = [e for e in self.stored if e.version > version]
            earlier = json.loads(json.dumps(doc))
            assert Account.restore(earlier, tail, programs=PROGRAMS, profile=PROFILE) == account
        assert pickle.loads(pickle.dumps(account)) == account


AccountMachine.TestCase.settings = settings(
    max_examples=int(__import__("os").environ.get("ACCOUNT_EXAMPLES", "25")),
    stateful_step_count=30,
)
test_account_against_the_reference_model = AccountMachine.TestCase

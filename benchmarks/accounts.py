"""Benchmark member accounts: an order against the same work by hand, history, restore.

Each figure is printed with its target and a ratio measured in the same run:

* ``order`` (target >= 0.7 of the hand-written path): ``Account.order`` with
  the 20-rule promotion set of ``benchmarks/rules.py``, a three-tier ladder
  (silver / gold / platinum by 12-month rolling spend) and 12-month expiry,
  against ``RuleSet.evaluate`` + ``PointsLedger.earn`` + ``TierProgram.evaluate``
  called by hand on the same orders (the counters and the activity kept by
  hand). Many members order on the same days, as a busy backend sees them.
* ``history`` (target <= 1.5): the median cost of an order on a member with
  years of daily activity (10 at full size) against the same orders on a new
  member.
* ``building`` (no target): the CPU time per command of building that
  member, carrying its ledger forward included, against building a member
  with only the recent history (the cost of a command amortised over a
  member's life).
* ``restore`` (target <= 2 ms): ``Account.restore`` from a snapshot (as JSON
  text) plus the 10 events after it, for a member with 100,000 events before
  the snapshot at full size; a member with 1,000 events before its snapshot
  and the same recent activity is the reference.
* ``snapshot`` (no target): a snapshot (as JSON text) of the restored
  member, as a store writes one after loading a member, against a snapshot
  of the same member as built by its commands.

Times are process CPU time (other processes sharing the cores do not
inflate them), best of ``--repeat`` runs for rates, medians for single
commands. Usage: ``python benchmarks/accounts.py --size tiny|full``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from rules import rule_set

from loyaltycore.accounts import Account, Program
from loyaltycore.points import ExpireAfter, PointsLedger
from loyaltycore.predicates import Event, Item, Member
from loyaltycore.tiers import Activity, Rolling, Tier, TierProgram, at_least

SIZES = {
    "tiny": {"members": 8, "days": 6, "years": 0.1, "history": 1_200, "chained": 15},
    "full": {"members": 200, "days": 30, "years": 10.0, "history": 100_000, "chained": 200},
}
ORDER_TARGET = 0.7
HISTORY_TARGET = 1.5
RESTORE_TARGET_MS = 2.0
#: History the bounded state still reflects (12-month expiry, a 12-month tier window and its
#: margin, the refund window): a reference member with this much history has the same state.
_RECENT_DAYS = 550
ZONE = "Europe/Paris"
START = datetime(2024, 6, 3, 8, tzinfo=UTC)
CHANNELS = ("app", "web", "store")
BASKETS = (
    (Item("latte", "drinks", 1, "4.50"), Item("croissant", "food", 2, "1.80")),
    (Item("beans", "retail", 2, "12.50"),),
    (Item("catering", "food", 1, "86.00"), Item("latte", "drinks", 3, "4.50")),
)


def make_program() -> Program:
    """The 20-rule set, a three-tier ladder on 12-month rolling spend, 12-month expiry."""
    tiers = TierProgram(
        [
            Tier("silver", 0),
            Tier("gold", 1, at_least("spend", 300)),
            Tier("platinum", 2, at_least("spend", 1500)),
        ],
        window=Rolling(months=12),
        tz=ZONE,
    )
    return Program(
        id="bench",
        version=1,
        rules=rule_set(),
        tiers=tiers,
        tz=ZONE,
        expiry=ExpireAfter(months=12),
    )


def orders(members: int, days: int) -> list[tuple[str, str, datetime, int]]:
    """(member, order id, at, basket) in time order: every member orders once a day."""
    out = []
    for day in range(days):
        for m in range(members):
            at = START + timedelta(days=day, minutes=7 * m)
            out.append((f"m{m}", f"o{m}-{day}", at, (m + day) % len(BASKETS)))
    return out


# -- the same work, by hand ------------------------------------------------------------


class ByHand:
    """One member's points ledger, tier status, activity and counters, kept by hand."""

    def __init__(self, program: Program, member: str, at: datetime) -> None:
        self.program = program
        self.member = member
        self.joined = at
        self.ledger = PointsLedger.open(member, tz=ZONE, policy=program.expiry)
        self.status = program.tiers.join(at)
        self.activity: list[Activity] = []
        self.counters: dict[str, int] = {}

    def order(self, oid: str, at: datetime, basket: int, channel: str) -> int:
        event = Event(oid, "purchase", at, items=BASKETS[basket], channel=channel)
        member = Member(
            self.member, joined_at=self.joined, tier=self.status.tier, counters=self.counters
        )
        result = self.program.rule_set.evaluate(event, member)
        if result.points:
            self.ledger = self.ledger.earn(oid, at=at, points=result.points)
        for key, value in result.increments.items():
            self.counters[key] = self.counters.get(key, 0) + value
        spend = Decimal(result.eligible).scaleb(-2)
        self.activity.append(Activity("spend", spend, at, f"{oid}:spend"))
        self.activity.extend(result.activity)
        self.status = self.program.tiers.evaluate(self.status, self.activity, as_of=at).status
        return result.points


def run_accounts(
    program: Program, work: Sequence[tuple[str, str, datetime, int]]
) -> dict[str, Account]:
    accounts = {m: Account.open(m, program=program, at=START) for m in {w[0] for w in work}}
    for m, oid, at, basket in work:
        channel = CHANNELS[basket]
        accounts[m] = accounts[m].order(oid, at=at, lines=BASKETS[basket], channel=channel).account
    return accounts


def run_by_hand(
    program: Program, work: Sequence[tuple[str, str, datetime, int]]
) -> dict[str, ByHand]:
    members = {m: ByHand(program, m, START) for m in {w[0] for w in work}}
    for m, oid, at, basket in work:
        members[m].order(oid, at, basket, CHANNELS[basket])
    return members


def cpu(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    best, value = float("inf"), None
    for _ in range(repeat):
        start = time.process_time()
        value = fn()
        best = min(best, time.process_time() - start)
    return best, value


def verdict(ok: bool) -> str:
    return "ok" if ok else "MISSED"


def bench_order(program: Program, members: int, days: int, repeat: int) -> bool:
    work = orders(members, days)
    run_by_hand(program, work)  # (warms the caches both paths share)
    hand, by_hand = cpu(lambda: run_by_hand(program, work), repeat)
    ours, accounts = cpu(lambda: run_accounts(program, work), repeat)
    for m, state in by_hand.items():  # the same points and tiers both ways
        assert accounts[m].ledger.balance().earned == state.ledger.balance().earned, m
        assert accounts[m].tier == state.status.tier, m
    n = len(work)
    ratio = hand / ours
    ok = ratio >= ORDER_TARGET
    print(
        f"order     {n:>7,} orders  {n / ours:9,.0f} /s cpu"
        f"  | by hand (evaluate + earn + tier) {n / hand:,.0f} /s cpu"
        f"  ratio {ratio:.2f}  target >= {ORDER_TARGET}  {verdict(ok)}"
    )
    return ok


def history_member(program: Program, years: float) -> tuple[Account, datetime]:
    """A member with a daily order for ``years``, and the day after the last one."""
    account = Account.open("old", program=program, at=START - timedelta(days=int(365 * years)))
    day = account.joined_at + timedelta(hours=1)
    k = 0
    while day < START:
        basket = k % len(BASKETS)
        account = account.order(
            f"h{k}", at=day, lines=BASKETS[basket], channel=CHANNELS[basket]
        ).account
        if k % 9 == 4:
            account = (
                account.redeem(f"r{k}", at=day, points=100).account
                if account.balance().available >= 100
                else account
            )
        day += timedelta(days=1)
        k += 1
    return account, day


def chained(account: Account, first: datetime, n: int) -> list[float]:
    """CPU seconds of ``n`` chained orders, one a day from ``first``."""
    times = []
    for k in range(n):
        basket = k % len(BASKETS)
        at = first + timedelta(days=k)
        start = time.process_time()
        account = account.order(
            f"c{k}", at=at, lines=BASKETS[basket], channel=CHANNELS[basket]
        ).account
        times.append(time.process_time() - start)
    return times


def bench_history(program: Program, years: float, n: int) -> bool:
    old, first = history_member(program, years)
    new = Account.open("new", program=program, at=first - timedelta(hours=1))
    chained(new, first, n)  # (warms the caches for these days)
    aged = statistics.median(chained(old, first, n))
    fresh = statistics.median(chained(new, first, n))
    ratio = aged / fresh
    ok = ratio <= HISTORY_TARGET
    print(
        f"history   {years:g} years ({old.version:,} commands, {len(old.ledger.events)} ledger"
        f" events kept, {len(old.activity)} activity entries)  {aged * 1e3:.3f} ms per order"
        f"  | new member {fresh * 1e3:.3f} ms  ratio {ratio:.2f}  target <= {HISTORY_TARGET}"
        f"  {verdict(ok)}"
    )
    return ok


def long_member(program: Program, events: int, step: timedelta) -> Account:
    """A member with ``events`` commands ``step`` apart: earns, redemptions, an order every 50."""
    account = Account.open("long", program=program, at=START - step * (events + 10))
    at = account.joined_at
    for k in range(events - 1):
        at += step
        if k % 50 == 0:
            account = account.order(f"o{k}", at=at, lines=BASKETS[1]).account
        elif k % 2:
            account = account.award(f"a{k}", at=at, points=20, reason="visit").account
        else:
            points = min(15, account.balance().available) or None
            if points:
                account = account.redeem(f"r{k}", at=at, points=points).account
            else:
                account = account.award(f"a{k}", at=at, points=20, reason="visit").account
    return account


def snapshot_ms(account: Account, repeat: int = 9) -> float:
    """Median ms of the account's snapshot as JSON text."""
    times = []
    for _ in range(repeat):
        start = time.process_time()
        json.dumps(account.snapshot())
        times.append(time.process_time() - start)
    return statistics.median(times) * 1e3


def restore_ms(account: Account, program: Program, repeat: int = 25) -> tuple[float, int]:
    """Median ms of a restore from the account's snapshot (JSON text) and 10 events after it."""
    text = json.dumps(account.snapshot())
    later = account
    at = account.last_at
    for k in range(10):
        at += timedelta(minutes=5)
        later = later.award(f"tail{k}", at=at, points=5, reason="tail").account
    tail = later.events_since(account.version)
    times = []
    for _ in range(repeat):
        start = time.process_time()
        back = Account.restore(json.loads(text), tail, programs=program)
        times.append(time.process_time() - start)
    assert back == later
    return statistics.median(times) * 1e3, len(text)


def bench_restore(program: Program, events: int) -> bool:
    step = timedelta(days=3650) / 100_000  # (100,000 commands in ten years)
    start = time.process_time()
    long = long_member(program, events, step)
    built = (time.process_time() - start) / events
    # the reference has the same recent state: as much history as the longest window holds
    recent = min(events, int(timedelta(days=_RECENT_DAYS) / step))
    start = time.process_time()
    short = long_member(program, recent, step)
    built_short = (time.process_time() - start) / recent
    print(
        f"building  {events:,} commands on one member ({len(long.ledger.lots):,} lots in its"
        f" ledger)  {built * 1e3:.3f} ms per command, carrying forward included"
        f"  | first {recent:,} commands {built_short * 1e3:.3f} ms"
        f"  ratio {built / built_short:.2f}"
    )
    ms, size = restore_ms(long, program)
    ref, ref_size = restore_ms(short, program)
    ok = ms <= RESTORE_TARGET_MS
    print(
        f"restore   {events:,} events before the snapshot ({size:,} bytes,"
        f" {len(long.ledger.events)} ledger events, {len(long.outcomes)} outcomes,"
        f" {len(long.orders)} orders kept)  {ms:.2f} ms"
        f"  target <= {RESTORE_TARGET_MS} ms  {verdict(ok)}"
        f"  | {recent:,} events before ({ref_size:,} bytes) {ref:.2f} ms  ratio {ms / ref:.2f}"
    )
    restored = Account.restore(json.loads(json.dumps(long.snapshot())), programs=program)
    print(
        f"snapshot  of the restored {events:,}-event member {snapshot_ms(restored):.2f} ms"
        f"  | of the member built by its commands {snapshot_ms(long):.2f} ms"
    )
    return ok


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=sorted(SIZES), default="tiny")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    size = SIZES[args.size]
    program = make_program()
    print(f"accounts benchmark, size={args.size} (python {sys.version.split()[0]})", flush=True)
    bench_order(program, int(size["members"]), int(size["days"]), args.repeat)
    bench_history(program, float(size["years"]), int(size["chained"]))
    bench_restore(program, int(size["history"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())

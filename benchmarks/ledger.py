"""Points ledger throughput and memory.

A seeded stream of commands (earn / redeem / hold / capture / release /
reverse) for many members is applied through the public API; then every
member's history is replayed, the whole state's memory is measured with
tracemalloc, and a member holding 10,000 lots redeems.

    python benchmarks/ledger.py --size full   # 1,000,000 commands, 100,000 members
    python benchmarks/ledger.py --size tiny   # a few seconds, run by the tests

Each figure is printed with its target and PASS or MISS. For scale, the
same commands are also applied, in the same run, to a plain mutable ledger
of the kind a host writes by hand (no history, no idempotency, no checks;
``PlainLedger``), and the ratio is printed: it moves much less than the
absolute rates when the machine is busy. The reference runs again before
each replay pass, so a slow spell during replay shows there too.

Replay runs on the histories alone, as a host loading them from storage
would, with the command-built ledgers released (a sample is kept to check
the replayed ledgers equal them).

Rates use the process's CPU time (``time.process_time``), so other work on
a shared machine does not count against them; the code is single-threaded.
Like :mod:`timeit`, each rate is the best of several passes (``--passes``,
5 by default, as timeit's repeat; all are printed): on a shared machine
the slower passes measure the neighbours. Also like :mod:`timeit`, the
timed sections run with the cyclic garbage collector paused (it is
collected before each): with a million live events, Python's full
collections otherwise dominate the run (about 5x slower), which a host
avoids with ``gc.freeze()`` after loading its ledgers.
"""

from __future__ import annotations

import argparse
import functools
import gc
import json
import pickle
import random
import statistics
import sys
import time
import tracemalloc
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from dateutil.relativedelta import relativedelta

import loyaltycore
from loyaltycore.errors import HoldAlreadyResolved
from loyaltycore.points import Earned, ExpireAfter, Opened, PointsLedger

SIZES = {
    "tiny": {"commands": 20_000, "members": 2_000, "lots": 2_000, "long": 10_000, "chain": 5_000},
    "full": {
        "commands": 1_000_000,
        "members": 100_000,
        "lots": 10_000,
        "long": 100_000,
        "chain": 100_000,
    },
}
TARGETS = {
    "commands": 100_000.0,
    "events": 200_000.0,
    "bytes": 400.0,
    "redeem_ms": 1.0,
    "history_ratio": 1.5,
    "chain_s": 5.0,
    "restore_ms": 1.0,
}
#: Open lots of the member restored from its state document.
RESTORE_LOTS = 400
#: The short history the long one is compared with, and the chained commands timed.
SHORT_HISTORY = 100
CHAINED = 200
START = datetime(2024, 1, 1, tzinfo=UTC)
POLICY = ExpireAfter(months=12)


@dataclass
class Figures:
    commands: int
    commands_per_s: list[float]  # one per pass
    plain_per_s: list[float]  # the reference, one per pass
    plain_replay_per_s: list[float]  # the reference again, before each replay pass
    events: int
    events_per_s: list[float]
    lots: int
    bytes_per_lot: float
    redeem_ms: float
    retry_ms: float  # reported, no target
    cancel_ms: float  # reported, no target
    holds_ms: float  # reported, no target
    spent_hold_ms: float  # reported, no target
    short_us: float  # a chained command on a member with SHORT_HISTORY events
    long_us: float  # the same on a member with SIZES[size]["long"] events
    chain_s: float  # SIZES[size]["chain"] chained earns on one member (or until the cap)
    chain_done: int  # how many of them ran before the cap
    restore_ms: float  # from_state of a member with RESTORE_LOTS open lots (JSON-loaded)
    restore_replay_ms: float  # replaying the same member's history, for scale


def make_commands(n: int, members: int, seed: int = 7) -> list[tuple[Any, ...]]:
    """A deterministic command stream in time order: (kind, member, id, at, points, ref)."""
    rng = random.Random(seed)
    balance = [0] * members
    holds: list[list[tuple[str, int, datetime]]] = [[] for _ in range(members)]
    earns: list[list[str]] = [[] for _ in range(members)]
    out: list[tuple[Any, ...]] = []
    step = timedelta(seconds=10)
    at = START
    for i in range(n):
        at += step
        m = rng.randrange(members)
        for hold in [h for h in holds[m] if h[2] <= at]:
            holds[m].remove(hold)
            balance[m] += hold[1]
        roll = rng.random()
        cid = f"c{i}"
        if balance[m] < 50 or roll < 0.40:
            pts = rng.randrange(50, 1000)
            out.append(("earn", m, cid, at, pts, None))
            balance[m] += pts
            earns[m].append(cid)
        elif roll < 0.60:
            pts = rng.randrange(1, balance[m] // 2 + 1)
            out.append(("redeem", m, cid, at, pts, None))
            balance[m] -= pts
        elif roll < 0.75:
            pts = rng.randrange(1, balance[m] // 2 + 1)
            deadline = at + timedelta(days=2)
            out.append(("hold", m, cid, at, pts, deadline))
            balance[m] -= pts
            holds[m].append((cid, pts, deadline))
        elif roll < 0.90 and holds[m]:
            hold, pts, _ = holds[m].pop()
            if rng.random() < 0.7:
                out.append(("capture", m, cid, at, None, hold))
            else:
                out.append(("release", m, cid, at, None, hold))
                balance[m] += pts
        elif earns[m]:
            of = earns[m].pop(0)
            out.append(("reverse", m, cid, at, 10, of))
            balance[m] = max(0, balance[m] - 10)
        else:
            pts = rng.randrange(50, 1000)
            out.append(("earn", m, cid, at, pts, None))
            balance[m] += pts
            earns[m].append(cid)
    return out


class PlainLedger:
    """The reference: a mutable ledger of the kind a host writes by hand.

    Lots are ``[expires, remaining, spent]`` lists consumed soonest-expiring
    first, holds a dict; a refund takes the lot's remainder, then other lots,
    then becomes debt. No history, no idempotency, no time ordering, no
    argument checks, nothing kept of earlier versions: the floor for the
    same commands in plain Python, not an alternative to loyaltycore.
    """

    __slots__ = ("by_id", "debt", "holds", "lots")

    def __init__(self) -> None:
        self.lots: list[list[Any]] = []
        self.by_id: dict[str, list[Any]] = {}
        self.holds: dict[str, tuple[datetime, list[tuple[list[Any], int]]]] = {}
        self.debt = 0

    def time_out(self, at: datetime) -> None:
        for hold_id in [h for h, (deadline, _) in self.holds.items() if deadline <= at]:
            for lot, x in self.holds.pop(hold_id)[1]:
                lot[1] += x

    def take(self, points: int) -> list[tuple[list[Any], int]]:
        parts = []
        for lot in sorted(self.lots, key=lambda lot: lot[0]):
            x = min(lot[1], points)
            if x:
                lot[1] -= x
                parts.append((lot, x))
                points -= x
                if not points:
                    break
        return parts

    def earn(self, cid: str, at: datetime, points: int) -> None:
        lot = [at + relativedelta(months=12), points, 0]
        self.lots.append(lot)
        self.by_id[cid] = lot

    def redeem(self, at: datetime, points: int) -> None:
        for lot, x in self.take(points):
            lot[2] += x

    def hold(self, cid: str, deadline: datetime, points: int) -> None:
        self.holds[cid] = (deadline, self.take(points))

    def capture(self, hold_id: str) -> None:
        for lot, x in self.holds.pop(hold_id)[1]:
            lot[2] += x

    def release(self, hold_id: str) -> None:
        for lot, x in self.holds.pop(hold_id)[1]:
            lot[1] += x

    def reverse(self, of: str, points: int) -> None:
        lot = self.by_id[of]
        x = min(lot[1], points)
        lot[1] -= x
        rest = points - x
        taken = sum(x for _, x in self.take(min(rest, sum(lot[1] for lot in self.lots))))
        self.debt += rest - taken


def apply_plain(commands: list[tuple[Any, ...]], members: int) -> list[PlainLedger]:
    """The same commands applied to plain mutable ledgers (the reference)."""
    ledgers = [PlainLedger() for _ in range(members)]
    for kind, m, cid, at, pts, ref in commands:
        ledger = ledgers[m]
        if ledger.holds:
            ledger.time_out(at)
        if kind == "earn":
            ledger.earn(cid, at, pts)
        elif kind == "redeem":
            ledger.redeem(at, pts)
        elif kind == "hold":
            ledger.hold(cid, ref, pts)
        elif kind == "capture":
            ledger.capture(ref)
        elif kind == "release":
            ledger.release(ref)
        else:
            ledger.reverse(ref, pts)
    return ledgers


def apply_all(commands: list[tuple[Any, ...]], members: int) -> list[PointsLedger]:
    ledgers = [PointsLedger.open(f"m{m}", policy=POLICY) for m in range(members)]
    for kind, m, cid, at, pts, ref in commands:
        ledger = ledgers[m]
        if kind == "earn":
            ledgers[m] = ledger.earn(cid, at=at, points=pts)
        elif kind == "redeem":
            ledgers[m] = ledger.redeem(cid, at=at, points=pts)
        elif kind == "hold":
            ledgers[m] = ledger.hold(cid, at=at, points=pts, deadline=ref)
        elif kind == "capture":
            ledgers[m] = ledger.capture(cid, at=at, hold=ref)
        elif kind == "release":
            ledgers[m] = ledger.release(cid, at=at, hold=ref)
        else:
            ledgers[m] = ledger.reverse(cid, at=at, of=ref, points=pts)
    return ledgers


def replay_all(histories: list[tuple[Any, ...]]) -> list[PointsLedger]:
    return [PointsLedger.replay(h) for h in histories]


def big_member(lots: int) -> PointsLedger:
    events: list[Any] = [Opened("big", tz="UTC", policy=POLICY)]
    at = START
    for i in range(lots):
        at += timedelta(minutes=1)
        events.append(Earned(f"e{i}", at, at, 100))
    return PointsLedger.replay(events)


def redeem_time(ledger: PointsLedger, repeats: int = 50) -> float:
    at = ledger.last_at
    assert at is not None
    gc.collect()
    times = []
    for i in range(repeats):
        t0 = time.process_time()
        ledger.redeem(f"r{i}", at=at, points=250)
        times.append(time.process_time() - t0)
    return statistics.median(times) * 1000


def rare_paths_ms(ledger: PointsLedger, repeats: int = 9) -> tuple[float, float]:
    """(retry, cancel) medians in ms: both read one earlier command of ``ledger`` back."""
    at = ledger.last_at
    assert at is not None
    ledger = ledger.redeem("r-rare", at=at, points=250)
    retry, cancel = [], []
    for i in range(repeats):
        t0 = time.process_time()
        ledger.redeem("r-rare", at=at, points=250)
        t1 = time.process_time()
        ledger.reverse(f"x{i}", at=at, of="r-rare", points=1)
        t2 = time.process_time()
        retry.append(t1 - t0)
        cancel.append(t2 - t1)
    return statistics.median(retry) * 1000, statistics.median(cancel) * 1000


def hold_paths_ms(ledger: PointsLedger, repeats: int = 9) -> tuple[float, float]:
    """(holds, spent hold) medians in ms: listing the holds of ``ledger``, and
    refusing to capture a released one; both read the hold records back."""
    at = ledger.last_at
    assert at is not None
    ledger = ledger.hold("h-rare", at=at, points=250, deadline=at + timedelta(hours=1))
    ledger = ledger.release("h-rare-end", at=at, hold="h-rare")
    listed, refused = [], []
    for _ in range(repeats):
        t0 = time.process_time()
        holds = ledger.holds
        t1 = time.process_time()
        try:
            ledger.capture("c-rare", at=at, hold="h-rare")
        except HoldAlreadyResolved:
            t2 = time.process_time()
        else:
            raise AssertionError("a released hold was captured")
        assert holds[-1].status == "released"
        listed.append(t1 - t0)
        refused.append(t2 - t1)
    return statistics.median(listed) * 1000, statistics.median(refused) * 1000


def member_with(events: int) -> PointsLedger:
    """A member, replayed from a history of ``events`` events (earns), as a host
    loads one before serving its commands."""
    at = START
    history: list[Any] = [Opened("long", tz="UTC", policy=POLICY)]
    for i in range(events - 1):
        at += timedelta(minutes=1)
        history.append(Earned(f"e{i}", at, at, 100))
    return PointsLedger.replay(history)


def chained_us(ledger: PointsLedger, commands: int = CHAINED) -> float:
    """The median CPU time (µs) of ``commands`` chained commands on ``ledger``:
    each a redeem then an earn on the ledger the previous one returned."""
    at = ledger.last_at
    assert at is not None
    gc.collect()
    gc.disable()
    times = []
    for i in range(commands):
        at += timedelta(seconds=1)
        t0 = time.process_time()
        ledger = ledger.redeem(f"cr{i}", at=at, points=30)
        t1 = time.process_time()
        ledger = ledger.earn(f"ce{i}", at=at, points=30)
        t2 = time.process_time()
        times += (t1 - t0, t2 - t1)
    gc.enable()
    return statistics.median(times) * 1e6


def chained_earns_s(n: int, cap_s: float) -> tuple[float, int]:
    """(CPU seconds, count) of ``n`` chained earns on one fresh member, stopping
    once ``cap_s`` seconds have been spent (the count then says how far it got)."""
    ledger = PointsLedger.open("chain", policy=POLICY)
    at = START
    gc.collect()
    gc.disable()
    t0 = time.process_time()
    done = 0
    for done in range(1, n + 1):
        at += timedelta(seconds=1)
        ledger = ledger.earn(f"e{done}", at=at, points=10)
        if done % 1000 == 0 and time.process_time() - t0 > cap_s:
            break
    elapsed = time.process_time() - t0
    gc.enable()
    return elapsed, done


def restore_ms(lots: int = RESTORE_LOTS, repeats: int = 50) -> tuple[float, float]:
    """(restore, replay) medians in ms for a member with ``lots`` open lots: from
    its state document (as loaded from JSON), and from its history."""
    ledger = member_with(lots + 1)
    doc = json.loads(json.dumps(ledger.state()))
    events = ledger.events
    gc.collect()
    gc.disable()
    restore, replay = [], []
    for _ in range(repeats):
        t0 = time.process_time()
        PointsLedger.from_state(doc)
        t1 = time.process_time()
        PointsLedger.replay(events)
        t2 = time.process_time()
        restore.append(t1 - t0)
        replay.append(t2 - t1)
    gc.enable()
    return statistics.median(restore) * 1000, statistics.median(replay) * 1000


def timed(run: Any) -> tuple[float, Any]:
    """(CPU seconds, result) of ``run()`` with the cyclic collector paused."""
    gc.collect()
    gc.disable()
    t0 = time.process_time()
    result = run()
    elapsed = time.process_time() - t0
    gc.enable()
    return elapsed, result


def measure(size: str, passes: int) -> Figures:
    cfg = SIZES[size]
    commands = make_commands(cfg["commands"], cfg["members"])
    applied: list[float] = []
    plain: list[float] = []
    ledgers: list[PointsLedger] = []
    for _ in range(passes):  # each pass from fresh ledgers, the reference first
        elapsed, _ = timed(lambda: apply_plain(commands, cfg["members"]))
        plain.append(elapsed)
        ledgers = []  # (the previous pass's ledgers are released first)
        elapsed, ledgers = timed(lambda: apply_all(commands, cfg["members"]))
        applied.append(elapsed)

    histories = [ledger.events for ledger in ledgers]
    n_events = sum(len(h) for h in histories)
    n_lots = sum(len(ledger.lots) for ledger in ledgers)
    # Replay as a host loading stored histories does: without a second copy
    # of every ledger alive. Every 100th is kept to check the result.
    sample = ledgers[::100]
    del ledgers
    replayed: list[float] = []
    plain_replay: list[float] = []
    for _ in range(passes):  # the reference first again: it shows how fast the machine is now
        elapsed, _ = timed(lambda: apply_plain(commands, cfg["members"]))
        plain_replay.append(elapsed)
        rebuilt: list[PointsLedger] = []
        elapsed, rebuilt = timed(functools.partial(replay_all, histories))
        replayed.append(elapsed)
        assert rebuilt[::100] == sample
    del rebuilt, sample

    # The whole state, history included, freshly allocated: load copies of
    # the histories and replay them under tracemalloc.
    blob = pickle.dumps(histories)
    del histories
    gc.collect()
    gc.disable()
    tracemalloc.start()
    state = [PointsLedger.replay(h) for h in pickle.loads(blob)]
    current, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    gc.enable()
    del state

    big = big_member(cfg["lots"])
    redeem_ms = redeem_time(big)
    retry_ms, cancel_ms = rare_paths_ms(big)
    holds_ms, spent_hold_ms = hold_paths_ms(big)
    del big
    short_us = chained_us(member_with(SHORT_HISTORY))
    long_us = chained_us(member_with(cfg["long"]))
    chain_s, chain_done = chained_earns_s(cfg["chain"], 4 * TARGETS["chain_s"])
    restored, replayed_ms = restore_ms()
    return Figures(
        commands=len(commands),
        commands_per_s=[len(commands) / t for t in applied],
        plain_per_s=[len(commands) / t for t in plain],
        plain_replay_per_s=[len(commands) / t for t in plain_replay],
        events=n_events,
        events_per_s=[n_events / t for t in replayed],
        lots=n_lots,
        bytes_per_lot=current / n_lots,
        redeem_ms=redeem_ms,
        retry_ms=retry_ms,
        cancel_ms=cancel_ms,
        holds_ms=holds_ms,
        spent_hold_ms=spent_hold_ms,
        short_us=short_us,
        long_us=long_us,
        chain_s=chain_s,
        chain_done=chain_done,
        restore_ms=restored,
        restore_replay_ms=replayed_ms,
    )


def report(fig: Figures, size: str) -> list[str]:
    lots = SIZES[size]["lots"]

    def passes(rates: list[float]) -> str:
        return "passes " + " / ".join(f"{r:,.0f}" for r in rates)

    rows = [
        (
            "commands/s applied",
            max(fig.commands_per_s),
            ">=",
            TARGETS["commands"],
            f"{fig.commands:,}; {passes(fig.commands_per_s)}",
        ),
        (
            "events/s replayed",
            max(fig.events_per_s),
            ">=",
            TARGETS["events"],
            f"{fig.events:,}; {passes(fig.events_per_s)}",
        ),
        (
            "bytes per lot (with history)",
            fig.bytes_per_lot,
            "<=",
            TARGETS["bytes"],
            f"{fig.lots:,} lots",
        ),
        (f"redeem, {lots:,}-lot member (ms)", fig.redeem_ms, "<", TARGETS["redeem_ms"], "median"),
    ]
    lines = [
        f"points ledger benchmark (--size {size}, Python {sys.version.split()[0]}, "
        f"engine {'compiled' if loyaltycore.compiled() else 'pure Python'}, "
        f"CPU time, gc paused while timing, rates: the best of {len(fig.commands_per_s)} passes)"
    ]
    for name, value, op, target, note in rows:
        ok = value >= target if op == ">=" else value <= target if op == "<=" else value < target
        shown = f"{value:,.3f}" if value < 10 else f"{value:,.0f}"
        lines.append(
            f"{name:<34}{shown:>14}  target {op} {target:,.0f}  {'PASS' if ok else 'MISS'}"
            f"  ({note})"
        )
    best, reference = max(fig.commands_per_s), max(fig.plain_per_s)
    lines.append(
        f"{'reference: plain mutable ledger':<34}{reference:>14,.0f}  commands/s, same run"
        f"  ({passes(fig.plain_per_s)})"
    )
    lines.append(
        f"{'ratio commands / reference':<34}{best / reference:>14.2f}  (history, idempotency, "
        "checks and immutable versions included)"
    )
    events, again = max(fig.events_per_s), max(fig.plain_replay_per_s)
    lines.append(
        f"{'reference, replay phase':<34}{again:>14,.0f}  commands/s, before each replay pass"
        f"  ({passes(fig.plain_replay_per_s)})"
    )
    lines.append(
        f"{'ratio events replayed / reference':<34}{events / again:>14.2f}  (a slow machine "
        "moves both)"
    )
    lines.append(
        f"{f'retry / cancel, {lots:,}-lot member':<34}{fig.retry_ms:>9.3f} / {fig.cancel_ms:.3f}"
        "  ms, median (no target: each reads one earlier command back)"
    )
    lines.append(
        f"{'holds / spent hold, same member':<34}{fig.holds_ms:>9.3f} / "
        f"{fig.spent_hold_ms:.3f}  ms, median (no target: each reads the hold records back)"
    )
    long, chain = SIZES[size]["long"], SIZES[size]["chain"]
    ratio = fig.long_us / fig.short_us
    ok = ratio <= TARGETS["history_ratio"]
    lines.append(
        f"{f'chained, {long:,} / {SHORT_HISTORY} events':<34}{ratio:>14.2f}  target <= "
        f"{TARGETS['history_ratio']}  {'PASS' if ok else 'MISS'}  ({fig.long_us:,.1f} / "
        f"{fig.short_us:,.1f} µs, median of {2 * CHAINED} chained redeems and earns)"
    )
    ok = fig.chain_done == chain and fig.chain_s <= TARGETS["chain_s"]
    done = "" if fig.chain_done == chain else f", stopped after {fig.chain_done:,}"
    lines.append(
        f"{f'{chain:,} chained earns (s)':<34}{fig.chain_s:>14.3f}  target <= "
        f"{TARGETS['chain_s']:,.0f}  {'PASS' if ok else 'MISS'}  (CPU time{done})"
    )
    ok = fig.restore_ms < TARGETS["restore_ms"]
    lines.append(
        f"{f'restore, {RESTORE_LOTS} open lots (ms)':<34}{fig.restore_ms:>14.3f}  target < "
        f"{TARGETS['restore_ms']:,.0f}  {'PASS' if ok else 'MISS'}  (median, from_state of its "
        f"JSON state document; replaying its history: {fig.restore_replay_ms:.3f} ms)"
    )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", choices=sorted(SIZES), default="full")
    parser.add_argument(
        "--passes", type=int, default=5, help="timed passes; the best is reported (as timeit)"
    )
    args = parser.parse_args(argv)
    for line in report(measure(args.size, max(1, args.passes)), args.size):
        print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

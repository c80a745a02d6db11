"""Benchmark the tier engines: vectorized classify and scalar evaluate.

Each figure is printed with its target and a ratio against a reference
measured in the same run:

* ``classify`` (1,000,000 members, target <= 0.2 s) against a plain
  per-member Python loop over the same arrays with the thresholds written
  by hand; both must give the same tiers.
* ``evaluate`` (target >= 50,000 members/s) on a daily run: every member was
  evaluated the day before and has one new entry. The reference is a
  hand-written per-member loop that sums the window and picks the tier with
  none of the policies. A year-end review (a window close for every member)
  is printed too, without a target.

Times are the best of ``--repeat`` runs. Both wall-clock and process CPU
time are printed; the verdict uses CPU time, which other processes sharing
the cores do not inflate (the ratios compare like with like either way).

Usage: ``python benchmarks/tiers.py --size tiny|full``.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np

from loyaltycore.tiers import (
    Activity,
    Benefits,
    CalendarYear,
    Tier,
    TierProgram,
    TierStatus,
    at_least,
)

UTC = UTC
SIZES = {"tiny": (20_000, 400), "full": (1_000_000, 20_000)}
CLASSIFY_TARGET = 0.2
EVALUATE_TARGET = 50_000


def make_program() -> TierProgram:
    """Silver / Gold / Diamond on miles, hotel nights and spend."""
    return TierProgram(
        [
            Tier("Silver", 0),
            Tier("Gold", 1, at_least("miles", 25_000) | at_least("nights", 20), Benefits("1.5")),
            Tier(
                "Diamond",
                2,
                (at_least("miles", 75_000) | at_least("nights", 60)) & at_least("spend", 6_000),
                Benefits(2),
            ),
        ],
        window=CalendarYear(),
        tz="Europe/Berlin",
    )


def make_columns(n: int, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        "miles": rng.gamma(1.2, 20_000, n).astype(np.int64),
        "nights": rng.poisson(14, n).astype(np.int64),
        "spend": (rng.lognormal(7.5, 1.0, n) * 100).astype(np.int64),
    }


def reference_classify(columns: dict[str, np.ndarray]) -> np.ndarray:
    """A straightforward per-member loop with the thresholds written out."""
    miles = columns["miles"].tolist()
    nights = columns["nights"].tolist()
    spend = columns["spend"].tolist()
    out = [0] * len(miles)
    for i in range(len(miles)):
        if (miles[i] >= 75_000 or nights[i] >= 60) and spend[i] >= 600_000:
            out[i] = 2
        elif miles[i] >= 25_000 or nights[i] >= 20:
            out[i] = 1
    return np.asarray(out, dtype=np.int64)


Member = tuple[TierStatus, list[Activity]]


def make_members(
    program: TierProgram, n: int, seed: int, *, evaluated: datetime, new_at: datetime | None
) -> list[Member]:
    rng = np.random.default_rng(seed)
    joined = datetime(2023, 1, 1, tzinfo=UTC)
    start = datetime(evaluated.year, 1, 1, tzinfo=UTC)
    span = max((evaluated - start).days, 1)
    members = []
    for i in range(n):
        k = int(rng.integers(0, 3))
        status = program.join(
            joined,
            tier=program.names[k],
            valid_until=None if k == 0 else date(evaluated.year, 12, 31),
        )
        log = []
        for j in range(6):
            at = start + timedelta(days=int(rng.integers(0, span)), hours=int(rng.integers(0, 24)))
            metric = ("miles", "nights", "spend")[j % 3]
            amount = int(rng.integers(1, 9_000 if metric != "nights" else 12))
            log.append(Activity(metric, amount, at, f"m{i}-{j}"))
        status = program.evaluate(status, log, as_of=evaluated).status
        if new_at is not None:
            log.append(Activity("nights", int(rng.integers(1, 9)), new_at, f"m{i}-new"))
        members.append((status, log))
    return members


def reference_evaluate(members: Sequence[Member], as_of: datetime) -> list[int]:
    """A naive per-member loop: sum this calendar year's activity, pick the tier."""
    result = []
    year_start = datetime(as_of.year, 1, 1, tzinfo=UTC)
    for _, log in members:
        miles = nights = 0
        spend = 0
        for a in log:
            if year_start <= a.occurred_at <= as_of:
                if a.metric == "miles":
                    miles += int(a.amount)
                elif a.metric == "nights":
                    nights += int(a.amount)
                else:
                    spend += int(a.amount * 100)
        tier = 0
        if (miles >= 75_000 or nights >= 60) and spend >= 600_000:
            tier = 2
        elif miles >= 25_000 or nights >= 20:
            tier = 1
        result.append(tier)
    return result


class Timing:
    """Best wall-clock and best process CPU seconds over the repeats."""

    def __init__(self, repeat: int, fn: Callable[[], Any]) -> None:
        self.wall = self.cpu = float("inf")
        for _ in range(repeat):
            wall, cpu = time.perf_counter(), time.process_time()
            self.value = fn()
            self.cpu = min(self.cpu, time.process_time() - cpu)
            self.wall = min(self.wall, time.perf_counter() - wall)


def verdict(ok: bool) -> str:
    return "ok" if ok else "MISSED"


def bench_classify(program: TierProgram, n: int, repeat: int) -> bool:
    columns = make_columns(n, seed=7)
    ours = Timing(repeat, lambda: program.classify(columns))
    ref = Timing(1, lambda: reference_classify(columns))
    if not np.array_equal(ours.value, ref.value):
        raise SystemExit("classify disagrees with the reference loop")
    ok = ours.cpu <= CLASSIFY_TARGET
    print(
        f"classify  {n:>9,} members  {ours.cpu:9.4f} s cpu ({ours.wall:.4f} s wall)"
        f"  target <= {CLASSIFY_TARGET} s  {verdict(ok)}"
        f"  | reference python loop {ref.cpu:.4f} s cpu  speed-up x{ref.cpu / ours.cpu:,.1f}"
    )
    return ok


def _rates(n: int, ours: Timing, ref: Timing) -> tuple[float, float, float]:
    return n / ours.cpu, n / ours.wall, n / ref.cpu


def bench_evaluate(program: TierProgram, n: int, repeat: int) -> bool:
    evaluated = datetime(2025, 6, 1, tzinfo=UTC)
    new_at = evaluated + timedelta(hours=12)
    as_of = evaluated + timedelta(days=1)
    members = make_members(program, n, seed=11, evaluated=evaluated, new_at=new_at)
    ours = Timing(repeat, lambda: [program.evaluate(s, a, as_of=as_of).tier for s, a in members])
    ref = Timing(repeat, lambda: reference_evaluate(members, as_of))
    cpu, wall, ref_rate = _rates(n, ours, ref)
    ok = cpu >= EVALUATE_TARGET
    print(
        f"evaluate  {n:>9,} members  {cpu:9,.0f} /s cpu ({wall:,.0f} /s wall)"
        f"  target >= {EVALUATE_TARGET:,} /s  {verdict(ok)}"
        f"  | reference naive loop {ref_rate:,.0f} /s cpu  ratio {cpu / ref_rate:.2f}"
    )
    year_end = datetime(2025, 12, 31, 12, tzinfo=UTC)
    review = datetime(2026, 1, 1, 12, tzinfo=UTC)
    closing = make_members(program, n, seed=13, evaluated=year_end, new_at=None)
    ours = Timing(repeat, lambda: [program.evaluate(s, a, as_of=review).tier for s, a in closing])
    ref = Timing(repeat, lambda: reference_evaluate(closing, year_end))
    cpu, wall, ref_rate = _rates(n, ours, ref)
    print(
        f"year-end  {n:>9,} members  {cpu:9,.0f} /s cpu ({wall:,.0f} /s wall)"
        f"  no target (window close + review for every member)"
        f"  | reference naive loop {ref_rate:,.0f} /s cpu  ratio {cpu / ref_rate:.2f}"
    )
    return ok


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=sorted(SIZES), default="tiny")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    n_classify, n_evaluate = SIZES[args.size]
    program = make_program()
    print(
        f"tiers benchmark, size={args.size} "
        f"(python {sys.version.split()[0]}, numpy {np.__version__})"
    )
    ok = bench_classify(program, n_classify, args.repeat)
    ok = bench_evaluate(program, n_evaluate, args.repeat) and ok
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Lifecycle stages at scale: ``stages`` on millions of members.

Usage: ``python benchmarks/lifecycle.py [--size tiny|full]``.

* ``stages`` on synthetic members (10,000,000 at full size; target <= 1 s)
  with absolute day thresholds (days counted in UTC, and in Europe/Berlin),
  and with multiples of each member's cycle;
* references measured in the same run on a subsample and extrapolated
  linearly: the library's own per-member engine (``stage`` in a Python loop)
  and a bare Python loop applying the same rules to plain ints. Both are
  checked to give the same stages as ``stages`` on that subsample.

Timings of ``stages`` are the best of a few runs; the first (cold) run is
printed too.
"""

from __future__ import annotations

import argparse
import functools
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from loyaltycore.calendar import DAY_US
from loyaltycore.lifecycle import (
    MISSING,
    AbsoluteDays,
    CycleMultiple,
    LifecyclePolicy,
    Stage,
    stage,
    stages,
)

SIZES = {"tiny": (100_000, 2_000, 2), "full": (10_000_000, 20_000, 3)}
TARGET_SECONDS = 1.0
AS_OF = datetime(2025, 1, 1, tzinfo=UTC)


def timed(func: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = func()
    return time.perf_counter() - started, result


def synthetic(n: int, seed: int = 20240601) -> dict[str, np.ndarray]:
    """Summary-like columns of ``n`` members: 2% prospects, the rest buyers over 3 years."""
    rng = np.random.default_rng(seed)
    end_day = int(AS_OF.timestamp()) // 86_400
    first_day = end_day - rng.integers(0, 3 * 365, n)
    purchases = 1 + rng.negative_binomial(1, 0.35, n)
    span = end_day - first_day
    last_day = first_day + np.minimum(span, (rng.exponential(120.0, n) * purchases).astype(int))
    has_prev = (purchases > 1) & (last_day > first_day)
    prev_day = first_day + ((last_day - first_day) * rng.random(n) * 0.9).astype(np.int64)
    prev_day = np.minimum(prev_day, last_day - 1)
    hour = rng.integers(0, 24, n) * 3_600_000_000
    prospect = rng.random(n) < 0.02
    first = np.where(prospect, MISSING, first_day * DAY_US + hour)
    last = np.where(prospect, MISSING, last_day * DAY_US + hour)
    previous = np.where(has_prev & ~prospect, prev_day * DAY_US + hour, MISSING)
    frequency = np.where(previous != MISSING, np.maximum(purchases - 1, 1), 0)
    median_gap = np.where(
        frequency >= 1, np.maximum(1.0, (last_day - first_day) / np.maximum(frequency, 1)), np.nan
    )
    return {
        "first": first,
        "previous": previous,
        "last": last,
        "frequency": frequency,
        "median_gap": median_gap,
    }


def bare_loop(columns: dict[str, np.ndarray], policy: LifecyclePolicy) -> list[int]:
    """The absolute-days rules in a plain Python loop over members (no checks)."""
    t = policy.thresholds
    assert isinstance(t, AbsoluteDays)
    today = int(AS_OF.timestamp() * 1_000_000) // DAY_US
    out = []
    for f, p, last in zip(
        columns["first"].tolist(),
        columns["previous"].tolist(),
        columns["last"].tolist(),
        strict=True,
    ):
        if last == MISSING:
            out.append(0)
            continue
        since_last = today - last // DAY_US
        gap = 0 if p == MISSING else last // DAY_US - p // DAY_US
        level = (since_last >= t.at_risk) + (since_last >= t.dormant) + (since_last >= t.churned)
        if level:
            out.append(2 + level)
        elif gap - 1 >= t.dormant and since_last < policy.new_days:
            out.append(6)
        elif today - f // DAY_US < policy.new_days:
            out.append(1)
        else:
            out.append(2)
    return out


def per_member(columns: dict[str, np.ndarray], policy: LifecyclePolicy) -> list[int]:
    """The library's scalar engine, one ``stage`` call per member."""
    names = list(columns)
    rows = zip(*(columns[name].tolist() for name in names), strict=True)
    return [int(stage(dict(zip(names, row, strict=True)), policy, as_of=AS_OF)) for row in rows]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", choices=sorted(SIZES), default="full")
    args = parser.parse_args()
    n, sub, repeat = SIZES[args.size]
    columns = synthetic(n)
    absolute = LifecyclePolicy()
    cycle = LifecyclePolicy(CycleMultiple(population_cycle=56.0))
    status = 0
    results: dict[str, np.ndarray] = {}
    for name, policy in (("AbsoluteDays", absolute), ("CycleMultiple", cycle)):
        run = functools.partial(stages, columns, policy, as_of=AS_OF)
        runs = [timed(run) for _ in range(repeat)]
        best = min(seconds for seconds, _ in runs)
        results[name] = runs[-1][1]
        verdict = "met" if best <= TARGET_SECONDS else "MISSED"
        if best > TARGET_SECONDS and name == "AbsoluteDays" and args.size == "full":
            status = 1
        print(
            f"stages ({name}), {n:,} members: {best:.3f} s best of {repeat} "
            f"(cold {runs[0][0]:.3f} s; target <= {TARGET_SECONDS:g} s: {verdict})"
        )
    later = AS_OF + timedelta(days=1)  # the last UTC evening is already tomorrow in Berlin
    zoned = functools.partial(stages, columns, absolute, as_of=later, tz="Europe/Berlin")
    best_zoned = min(timed(zoned)[0] for _ in range(repeat))
    verdict = "met" if best_zoned <= TARGET_SECONDS else "MISSED"
    print(
        f"stages (AbsoluteDays, days counted in Europe/Berlin), {n:,} members: "
        f"{best_zoned:.3f} s best of {repeat} (target <= {TARGET_SECONDS:g} s: {verdict})"
    )
    counts = np.bincount(results["AbsoluteDays"], minlength=len(Stage))
    shares = ", ".join(f"{s.label} {c / n:.1%}" for s, c in zip(Stage, counts, strict=True))
    print(f"stages (AbsoluteDays) found: {shares}")
    best_abs = min(timed(lambda: stages(columns, absolute, as_of=AS_OF))[0] for _ in range(repeat))
    head = {k: v[:sub] for k, v in columns.items()}
    expected = results["AbsoluteDays"][:sub].tolist()
    for label, func in (("stage() per member", per_member), ("bare Python loop", bare_loop)):
        seconds, got = timed(functools.partial(func, head, absolute))
        if got != expected:
            print(f"reference {label} DISAGREES with stages on {sub:,} members")
            status = 1
        scaled = seconds * n / sub
        print(
            f"reference {label}: {seconds:.3f} s on {sub:,} members -> {scaled:.1f} s for "
            f"{n:,} extrapolated; stages is {scaled / best_abs:,.0f}x faster (same stages)"
        )
    return status


if __name__ == "__main__":
    raise SystemExit(main())

"""Campaign read-outs at scale: the bootstrap against scipy, and the windows of a log.

Usage: ``python benchmarks/campaigns.py [--size tiny|full]``.

* ``compare(method="bootstrap")`` on a 20,000-member segment (18,000 treated,
  a 10% holdout of 2,000; spend is zero for 55% of members, as in a short
  read-out window), 2,000 resamples, BCa interval: target <= 2 s, and >= 10x
  faster than ``scipy.stats.bootstrap`` computing the same BCa interval on
  the same data with the same resamples, measured in the same run. scipy is
  given ``vectorized=True`` and ``batch=200`` (its default ``batch=None``
  holds the n x n jackknife in memory: several GB and slower still here).
  scipy's percentile interval, which skips the jackknife, is timed too, for
  what it shows about the resampling alone.
* ``windows`` on 1,000,000 transactions of 200,000 customers, 20,000 of them
  assigned, three horizons: reported (no target).

Times are the best of a few runs (wall clock; the machine may be shared).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

SIZES = {
    "full": {"treated": 18_000, "holdout": 2_000, "resamples": 2_000, "rows": 1_000_000},
    "tiny": {"treated": 1_800, "holdout": 200, "resamples": 200, "rows": 20_000},
}
REPEAT = {"full": 3, "tiny": 2}
TARGET_SECONDS = 2.0
TARGET_RATIO = 10.0


def best(run: Callable[[], Any], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return min(times)


def spend(rng: np.random.Generator, n: int) -> np.ndarray:
    return np.round(rng.gamma(0.8, 40.0, n) * (rng.random(n) < 0.45), 2)


def bootstrap(size: str) -> None:
    from scipy import stats

    from loyaltycore.campaigns import compare

    sizes = SIZES[size]
    rng = np.random.default_rng(20240610)
    t, c = spend(rng, sizes["treated"]), spend(rng, sizes["holdout"])
    b = sizes["resamples"]
    label = f"bootstrap BCa, {len(t) + len(c):,} members, {b:,} resamples"

    def ours() -> Any:
        return compare(t, c, method="bootstrap", resamples=b, seed=1)

    def diff(x: np.ndarray, y: np.ndarray, axis: int = -1) -> np.ndarray:
        return x.mean(axis=axis) - y.mean(axis=axis)

    def scipy_bca() -> Any:
        return stats.bootstrap(
            (t, c), diff, n_resamples=b, vectorized=True, batch=200, method="BCa",
            rng=np.random.default_rng(1),
        )  # fmt: skip

    def scipy_percentile() -> Any:
        return stats.bootstrap(
            (t, c), diff, n_resamples=b, vectorized=True, batch=200, method="percentile",
            rng=np.random.default_rng(1),
        )  # fmt: skip

    mine = best(ours, REPEAT[size])
    reference = best(scipy_bca, 1)
    percentile = best(scipy_percentile, REPEAT[size])
    r, s = ours(), scipy_bca()
    verdict = "met" if mine <= TARGET_SECONDS else "missed"
    ratio = reference / mine
    print(f"{label}: loyaltycore {mine:.3f} s (target <= {TARGET_SECONDS:.1f} s: {verdict})")
    verdict = "met" if ratio >= TARGET_RATIO else "missed"
    print(
        f"  scipy.stats.bootstrap BCa {reference:.3f} s: {ratio:.1f}x faster "
        f"(target >= {TARGET_RATIO:.0f}x: {verdict})"
    )
    print(
        f"  scipy.stats.bootstrap percentile {percentile:.3f} s: "
        f"{percentile / mine:.1f}x (resampling alone, no jackknife)"
    )
    print(
        f"  intervals: loyaltycore [{r.difference_low:.3f}, {r.difference_high:.3f}], "
        f"scipy [{s.confidence_interval.low:.3f}, {s.confidence_interval.high:.3f}] "
        "(different resamples)"
    )


def read_out(size: str) -> None:
    from loyaltycore.campaigns import assign, windows
    from loyaltycore.transactions import TransactionLog

    rows = SIZES[size]["rows"]
    customers = rows // 5
    rng = np.random.default_rng(7)
    start = datetime(2024, 6, 1, tzinfo=UTC)
    origin = np.datetime64("2024-01-01T00:00:00", "us")
    at = origin + rng.integers(0, 300 * 86_400, rows).astype("timedelta64[s]")
    log = TransactionLog.from_arrays(
        rng.integers(0, customers, rows), at, rng.integers(100, 20_000, rows),
        tz="UTC", minor_units=True,
    )  # fmt: skip
    members = np.arange(0, customers, 10)
    a = assign(members, share=0.1, salt="bench")

    def run() -> Any:
        return windows(log, a.member, a.arm, start=start, end=start + timedelta(days=14))

    seconds = best(run, REPEAT[size])
    print(
        f"windows, {rows:,} transactions, {len(members):,} assigned members, "
        f"horizons 7/30/90: {seconds:.3f} s"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", choices=sorted(SIZES), default="full")
    args = parser.parse_args()
    bootstrap(args.size)
    read_out(args.size)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

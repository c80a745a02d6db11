"""RFM scoring and named RFM segments: speed at scale, and against the ``rfm`` package.

Usage: ``python benchmarks/segments.py [--size tiny|full]``.

* ``rfm_scores`` + ``RFM_SEGMENTS.assign`` on synthetic customers
  (10,000,000 at full size; target <= 2 s);
* on the CDNOW transactions (``tests/data/CDNOW_master.txt`` at full size,
  ``CDNOW_sample.txt`` at tiny size), against the ``rfm`` PyPI package in the
  same process (target >= 20x faster):
  - scoring + segmenting a per-customer table (``rfm``'s ``calculate_rfm_score``
    and ``find_segments`` on its own table);
  - end to end from transaction columns (``rfm.RFM(df)`` against
    ``TransactionLog.from_arrays`` + ``summarize`` + scores + segments).

``rfm`` needs pandas < 3: run with the benchmark venv (``.venv-bench``). When
it is not importable the comparison is skipped with one line saying so.
Timings are the best of a few runs.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from loyaltycore.segments import RFM_SEGMENTS, rfm_scores

DATA = Path(__file__).resolve().parent.parent / "tests" / "data"
SIZES = {"tiny": (100_000, "CDNOW_sample.txt", 2), "full": (10_000_000, "CDNOW_master.txt", 3)}
TARGET_SECONDS = 2.0
TARGET_RATIO = 20.0


def best_of(repeat: int, func: Callable[[], Any]) -> tuple[float, Any]:
    """The fastest of ``repeat`` runs, and the last result."""
    best, result = float("inf"), None
    for _ in range(repeat):
        started = time.perf_counter()
        result = func()
        best = min(best, time.perf_counter() - started)
    return best, result


def synthetic(n: int, seed: int = 20240601) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Days since last purchase, repeat frequency and spend of ``n`` customers."""
    rng = np.random.default_rng(seed)
    days = rng.integers(0, 730, n).astype(np.float64)
    frequency = rng.negative_binomial(1, 0.3, n).astype(np.float64)
    monetary = np.round(rng.gamma(2.0, 35.0, n), 2)
    return days, frequency, monetary


def score_and_segment(days: np.ndarray, freq: np.ndarray, money: np.ndarray) -> Any:
    return RFM_SEGMENTS.assign(rfm_scores(days, freq, money))


def at_scale(n: int, repeat: int) -> None:
    days, freq, money = synthetic(n)
    seconds, result = best_of(repeat, lambda: score_and_segment(days, freq, money))
    verdict = "ok" if n < 10_000_000 or seconds <= TARGET_SECONDS else "MISSED"
    print(f"rfm_scores + RFM_SEGMENTS, {n:,} customers: {seconds:.3f} s", end="")
    if n >= 10_000_000:
        print(f" (target <= {TARGET_SECONDS:.1f} s: {verdict})")
    else:
        print(f" ({n / seconds / 1e6:.1f} M customers/s; the target applies at 10,000,000)")
    top = sorted(result.counts().items(), key=lambda kv: -kv[1])[:3]
    print("  largest segments: " + ", ".join(f"{k} {v:,}" for k, v in top))


def read_cdnow(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Customer ids, purchase dates (datetime64[D]) and dollar amounts.

    ``CDNOW_master`` has a header and 4 columns (id, date, cds, dollars);
    ``CDNOW_sample`` has none and 5 (id, sample id, date, cds, dollars).
    """
    rows = [line.split() for line in path.read_text().splitlines() if line.strip()]
    if not rows[0][0].isdigit():
        rows = rows[1:]
    date_col = 1 if len(rows[0]) == 4 else 2
    ids = np.array([int(row[0]) for row in rows], dtype=np.int64)
    text = [row[date_col] for row in rows]
    dates = np.array([f"{d[:4]}-{d[4:6]}-{d[6:]}" for d in text], dtype="datetime64[D]")
    amount = np.array([float(row[-1]) for row in rows], dtype=np.float64)
    return ids, dates, amount


def reference_module() -> Any:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import rfm  # type: ignore[import-not-found]
    except ImportError as exc:
        print(
            f"reference `rfm` not importable ({exc}); comparison skipped "
            "(run with .venv-bench/bin/python, which has pandas<3 and rfm)"
        )
        return None
    return rfm


def summary_of(ids: np.ndarray, dates: np.ndarray, amount: np.ndarray) -> Any:
    """The per-customer summary, as of the day after the last purchase."""
    from loyaltycore.transactions import TransactionLog, summarize

    log = TransactionLog.from_arrays(ids, dates.astype("datetime64[us]"), amount, tz="UTC")
    last = dates.max().astype(datetime)
    as_of = datetime(last.year, last.month, last.day, tzinfo=UTC)
    return summarize(log, as_of=as_of, unit="day")


def ours_from_transactions(ids: np.ndarray, dates: np.ndarray, amount: np.ndarray) -> Any:
    summary = summary_of(ids, dates, amount)
    return score_and_segment(summary["days_since_last"], summary["count"], summary["total"])


def ratio_line(label: str, ours: float, theirs: float | None) -> None:
    if theirs is None:
        print(f"{label}: loyaltycore {ours * 1e3:.1f} ms (no reference to compare)")
        return
    ratio = theirs / ours
    verdict = "ok" if ratio >= TARGET_RATIO else "MISSED"
    print(
        f"{label}: loyaltycore {ours * 1e3:.1f} ms, rfm {theirs * 1e3:.1f} ms, "
        f"{ratio:.0f}x faster (target >= {TARGET_RATIO:.0f}x: {verdict})"
    )


def reference_timings(
    rfm: Any, ids: np.ndarray, dates: np.ndarray, amount: np.ndarray, repeat: int
) -> tuple[float, float, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """The reference's scoring and end-to-end times, and its per-customer columns."""
    import pandas as pd

    frame = pd.DataFrame({"customer_id": ids, "transaction_date": dates, "amount": amount})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = rfm.RFM(frame.copy(), "customer_id", "transaction_date", "amount", automated=False)
        table = model.produce_rfm_dateset(frame.copy())

        def theirs_scoring() -> Any:
            return model.find_segments(model.calculate_rfm_score(table.copy()))

        def theirs_end_to_end() -> Any:
            return rfm.RFM(frame.copy(), "customer_id", "transaction_date", "amount")

        score, _ = best_of(repeat, theirs_scoring)
        total, _ = best_of(max(1, repeat - 1), theirs_end_to_end)
    columns = tuple(
        table[name].to_numpy(np.float64) for name in ("recency", "frequency", "monetary_value")
    )
    return score, total, columns


def against_rfm(path: Path, repeat: int) -> None:
    ids, dates, amount = read_cdnow(path)
    print(f"CDNOW {path.name}: {ids.size:,} transactions, {np.unique(ids).size:,} customers")
    rfm = reference_module()
    their_score = their_total = None
    if rfm is not None:
        their_score, their_total, columns = reference_timings(rfm, ids, dates, amount, repeat)
    else:
        summary = summary_of(ids, dates, amount)
        columns = (summary["days_since_last"], summary["count"], summary["total"])
    our_score, _ = best_of(repeat * 3, lambda: score_and_segment(*columns))
    ratio_line("  scores + segments of the per-customer table", our_score, their_score)
    our_total, _ = best_of(repeat * 3, lambda: ours_from_transactions(ids, dates, amount))
    ratio_line("  end to end from transaction columns", our_total, their_total)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", choices=sorted(SIZES), default="full")
    args = parser.parse_args()
    n, cdnow, repeat = SIZES[args.size]
    print(
        f"segments benchmark, size={args.size}, python {sys.version.split()[0]}, "
        f"numpy {np.__version__}"
    )
    at_scale(n, repeat)
    against_rfm(DATA / cdnow, repeat)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

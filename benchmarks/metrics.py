"""Transaction log, summaries and KPIs at scale, against lifetimes 0.11.3.

Usage: ``python benchmarks/metrics.py [--size tiny|full]`` (the reference
needs the benchmark virtualenv: ``.venv-bench/bin/python``).

* Build a :class:`~loyaltycore.transactions.TransactionLog` from arrays and
  ``summarize`` it (1,000,000 transactions / 100,000 customers at full size),
  against building a pandas DataFrame from the same arrays and
  ``lifetimes.utils.summary_data_from_transaction_data`` (``freq="D"``,
  ``freq_multiplier=7``: the same week = 7 days definition). Targets: >= 10x
  faster and <= half the peak memory, with int64 ids; string ids reported too.
* The same on 10,000,000 transactions: <= 3 s and <= 1.5 GB.
* ``cohort_retention`` (monthly) on 1,000,000 transactions: <= 0.5 s.
* The CLV model fits, from ``benchmarks/_clv_bench.py`` when it is present.

Each measurement runs in a fresh subprocess. Time is the best of a few runs
(wall clock; the process CPU time is printed beside it, as the machine may
be shared). Peak memory is measured with :mod:`tracemalloc` (numpy and
pandas report their buffers to it) in a separate run of the same operation,
counting what the operation allocates on top of its inputs. The process's maximum resident
size (``ru_maxrss``, inputs and interpreter included) is printed beside it.
Both sides get the same arrays: ids, ``datetime64[us]`` timestamps (UTC) and
float amounts with two decimals.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).parent
AS_OF = datetime(2024, 1, 1, tzinfo=UTC)
START = np.datetime64("2021-01-01T00:00:00", "s")
SIZES: dict[str, dict[str, int]] = {
    "full": {"n": 1_000_000, "customers": 100_000, "big": 10_000_000, "cohort": 1_000_000},
    "tiny": {"n": 20_000, "customers": 2_000, "big": 100_000, "cohort": 20_000},
}
REPEAT = {"full": 5, "tiny": 2}
REFERENCE_REPEAT = {"full": 3, "tiny": 1}
TARGET_SPEEDUP = 10.0
TARGET_MEMORY_RATIO = 0.5
TARGET_BIG_SECONDS = 3.0
TARGET_BIG_BYTES = 1.5e9
TARGET_COHORT_SECONDS = 0.5


# -- data and operations (run inside a worker process) ------------------------------


def make_data(n: int, customers: int, ids: str, seed: int = 20240101) -> dict[str, Any]:
    """Transactions of ``customers`` customers over three years, second resolution."""
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, customers, n)
    at = (START + rng.integers(0, 3 * 365 * 86_400, n)).astype("datetime64[us]")
    amount = rng.integers(100, 20_000, n) / 100.0
    if ids == "str":
        labels = np.array([f"C{i:08d}" for i in range(customers)], dtype=object)
        customer: Any = labels[codes]
    else:
        customer = codes + 1_000_000
    return {"customer": customer, "at": at, "amount": amount}


def run_loyaltycore(data: dict[str, Any]) -> dict[str, float]:
    from loyaltycore.transactions import TransactionLog, summarize

    log = TransactionLog.from_arrays(data["customer"], data["at"], data["amount"], tz="UTC")
    s = summarize(log, as_of=AS_OF, unit="week")
    return {
        "customers": float(len(s)),
        "frequency": float(s.frequency.sum()),
        "recency": float(s.recency.sum()),
        "T": float(s.T.sum()),
    }


def run_lifetimes(data: dict[str, Any]) -> dict[str, float]:
    import pandas as pd
    from lifetimes.utils import (  # type: ignore[import-not-found]
        summary_data_from_transaction_data,
    )

    frame = pd.DataFrame({"id": data["customer"], "date": data["at"], "amount": data["amount"]})
    s = summary_data_from_transaction_data(
        frame,
        "id",
        "date",
        monetary_value_col="amount",
        observation_period_end=pd.Timestamp(AS_OF.replace(tzinfo=None)),
        freq="D",
        freq_multiplier=7,
    )
    return {
        "customers": float(len(s)),
        "frequency": float(s["frequency"].sum()),
        "recency": float(s["recency"].sum()),
        "T": float(s["T"].sum()),
    }


def run_cohorts(data: dict[str, Any]) -> dict[str, float]:
    from loyaltycore.metrics import cohort_retention

    table = cohort_retention(data["customer"], data["at"], period="month", tz="UTC", as_of=AS_OF)
    return {"customers": float(table.size.sum())}


OPERATIONS: dict[str, Callable[[dict[str, Any]], dict[str, float]]] = {
    "loyaltycore": run_loyaltycore,
    "lifetimes": run_lifetimes,
    "cohorts": run_cohorts,
}

IMPORTS: dict[str, tuple[str, ...]] = {
    "loyaltycore": ("loyaltycore.transactions",),
    "lifetimes": ("pandas", "lifetimes.utils"),
    "cohorts": ("loyaltycore.metrics",),
}


def worker(op: str, n: int, customers: int, ids: str, repeat: int) -> dict[str, Any]:
    """Time ``op`` (best of ``repeat``), then measure its peak allocations."""
    data = make_data(n, customers, ids)
    for module in IMPORTS[op]:  # imports are not part of the measurement
        __import__(module)
    func = OPERATIONS[op]
    best = cpu = float("inf")
    result: dict[str, float] = {}
    for _ in range(repeat):
        started, started_cpu = time.perf_counter(), time.process_time()
        result = func(data)
        best = min(best, time.perf_counter() - started)
        cpu = min(cpu, time.process_time() - started_cpu)
    tracemalloc.start()
    func(data)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return {"seconds": best, "cpu": cpu, "peak": peak, "maxrss": maxrss, "result": result}


# -- the driver -----------------------------------------------------------------------


def measure(op: str, n: int, customers: int, ids: str, repeat: int) -> dict[str, Any] | str:
    """Run one worker subprocess; its figures, or the reason it could not run."""
    command = [
        sys.executable,
        __file__,
        "--worker",
        op,
        "--n",
        str(n),
        "--customers",
        str(customers),
        "--ids",
        ids,
        "--repeat",
        str(repeat),
    ]
    proc = subprocess.run(command, capture_output=True, text=True, check=False)
    if proc.returncode:
        return (proc.stderr.strip().splitlines() or ["no output"])[-1]
    figures: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return figures


def importable(module: str) -> bool:
    probe = [sys.executable, "-c", f"import {module}"]
    return subprocess.run(probe, capture_output=True, check=False).returncode == 0


def mb(size: float) -> str:
    return f"{size / 1e6:,.0f} MB"


def verdict(ok: bool) -> str:
    return "ok" if ok else "MISSED"


def compare_summarize(size: str, ids: str, reference: bool) -> list[str]:
    n, customers, repeat = SIZES[size]["n"], SIZES[size]["customers"], REPEAT[size]
    lines = [f"build log + summarize, {n:,} transactions / {customers:,} customers, {ids} ids"]
    ours = measure("loyaltycore", n, customers, ids, repeat)
    if isinstance(ours, str):
        return [*lines, f"  loyaltycore failed: {ours}"]
    lines.append(
        f"  loyaltycore        {ours['seconds']:8.3f} s  (cpu {ours['cpu']:6.3f} s)"
        f"   peak {mb(ours['peak']):>9}   (maxrss {mb(ours['maxrss'])})"
    )
    if not reference:
        return [*lines, "  lifetimes 0.11.3   skipped: lifetimes/pandas not importable here"]
    theirs = measure("lifetimes", n, customers, ids, REFERENCE_REPEAT[size])
    if isinstance(theirs, str):
        return [*lines, f"  lifetimes 0.11.3   failed: {theirs}"]
    lines.append(
        f"  lifetimes 0.11.3   {theirs['seconds']:8.3f} s  (cpu {theirs['cpu']:6.3f} s)"
        f"   peak {mb(theirs['peak']):>9}   (maxrss {mb(theirs['maxrss'])})"
    )
    speed = theirs["seconds"] / ours["seconds"]
    cpu_speed = theirs["cpu"] / ours["cpu"]
    memory = ours["peak"] / theirs["peak"]
    target = ids == "int"
    speed_note = f"(target >= {TARGET_SPEEDUP:.0f}x: {verdict(speed >= TARGET_SPEEDUP)})"
    memory_note = f"(target <= {TARGET_MEMORY_RATIO}: {verdict(memory <= TARGET_MEMORY_RATIO)})"
    lines.append(
        f"  speed-up           {speed:8.1f}x  (cpu {cpu_speed:.1f}x)  "
        f"{speed_note if target else '(reported)'}"
    )
    lines.append(f"  memory ratio       {memory:8.2f}   {memory_note if target else '(reported)'}")
    same = all(
        abs(ours["result"][key] - theirs["result"][key]) <= 1e-6 * max(1.0, theirs["result"][key])
        for key in ("customers", "frequency", "recency", "T")
    )
    lines.append(
        f"  same results       {'yes' if same else 'NO'} (customers, sums of frequency, "
        "recency, T)"
    )
    return lines


def big_run(size: str) -> list[str]:
    n, customers = SIZES[size]["big"], SIZES[size]["big"] // 10
    lines = [f"build log + summarize, {n:,} transactions / {customers:,} customers, int ids"]
    ours = measure("loyaltycore", n, customers, "int", 3)
    if isinstance(ours, str):
        return [*lines, f"  loyaltycore failed: {ours}"]
    time_ok = verdict(ours["seconds"] <= TARGET_BIG_SECONDS)
    memory_ok = verdict(ours["maxrss"] <= TARGET_BIG_BYTES)
    lines.append(
        f"  loyaltycore        {ours['seconds']:8.3f} s   (target <= {TARGET_BIG_SECONDS} s: "
        f"{time_ok}; cpu {ours['cpu']:.3f} s)"
    )
    lines.append(
        f"  memory             peak {mb(ours['peak'])} allocated on top of the inputs; "
        f"maxrss {mb(ours['maxrss'])} for the whole process (target <= 1.5 GB: {memory_ok})"
    )
    return lines


def cohort_run(size: str) -> list[str]:
    n = SIZES[size]["cohort"]
    customers = SIZES[size]["customers"]
    lines = [f"cohort_retention (month), {n:,} transactions / {customers:,} customers"]
    ours = measure("cohorts", n, customers, "int", REPEAT[size])
    if isinstance(ours, str):
        return [*lines, f"  loyaltycore failed: {ours}"]
    ok = verdict(ours["seconds"] <= TARGET_COHORT_SECONDS)
    lines.append(
        f"  loyaltycore        {ours['seconds']:8.3f} s   (target <= {TARGET_COHORT_SECONDS} s:"
        f" {ok}; cpu {ours['cpu']:.3f} s)   peak {mb(ours['peak'])}"
    )
    return lines


def clv_lines(size: str) -> list[str]:
    sys.path.insert(0, str(HERE))
    try:
        import _clv_bench
    except ImportError as exc:
        return [f"CLV fits: skipped ({exc})"]
    result: list[str] = _clv_bench.run(size)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", choices=sorted(SIZES), default="full")
    parser.add_argument("--worker", choices=sorted(OPERATIONS))
    parser.add_argument("--n", type=int, default=0)
    parser.add_argument("--customers", type=int, default=0)
    parser.add_argument("--ids", choices=["int", "str"], default="int")
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.n, args.customers, args.ids, args.repeat)))
        return 0
    reference = importable("lifetimes") and importable("pandas")
    print(f"loyaltycore metrics benchmark, size {args.size}, python {sys.version.split()[0]}")
    sections: list[Callable[[], list[str]]] = [
        lambda: compare_summarize(args.size, "int", reference),
        lambda: compare_summarize(args.size, "str", reference),
        lambda: big_run(args.size),
        lambda: cohort_run(args.size),
        lambda: clv_lines(args.size),
    ]
    for section in sections:
        for line in section():
            print(line, flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

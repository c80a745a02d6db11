"""Benchmark: the report command end to end, as a user runs it.

Targets: CDNOW_master (69,659 transactions) <= 10 s; 1,000,000 simulated
transactions <= 30 s. Each run is a fresh ``python -m loyaltycore report``
process (import, CSV parsing, summary, KPIs, stages, RFM, BG/NBD and
Gamma-Gamma fits, rendering). The reference measured in the same run is
pandas reading the same file (``pandas.read_csv``), the first step of any
pandas-based report; it is skipped where pandas is not installed.

Usage: python benchmarks/report.py [--size tiny|full]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

from loyaltycore.simulate import simulate

ROOT = Path(__file__).resolve().parent.parent
CDNOW = ROOT / "tests" / "data" / "CDNOW_master.txt"
CDNOW_ARGS = [
    "--delimiter", "whitespace", "--at", "date", "--amount", "dollar_value",
    "--date-format", "%Y%m%d", "--as-of", "1998-07-01",
]  # fmt: skip


def _report(path: Path | None, args: list[str]) -> float:
    command = [sys.executable, "-m", "loyaltycore", "report", "--format", "json"]
    command += ([str(path)] if path else []) + args
    started = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True)
    return time.perf_counter() - started


def _pandas_read(path: Path, whitespace: bool) -> float | None:
    try:
        import pandas as pd
    except ImportError:
        return None
    started = time.perf_counter()
    pd.read_csv(path, sep=r"\s+" if whitespace else ",")
    return time.perf_counter() - started


def _line(name: str, seconds: float, target: float | None, reference: float | None) -> str:
    parts = [f"{name}: {seconds:.2f} s"]
    if target is not None:
        verdict = "PASS" if seconds <= target else "MISS"
        parts.append(f"(target <= {target:.0f} s, {verdict}, {seconds / target:.2f} of target)")
    if reference is None:
        parts.append("[reference pandas.read_csv: skipped, pandas not installed]")
    else:
        parts.append(
            f"[pandas.read_csv alone: {reference:.2f} s, ratio {seconds / reference:.1f}x]"
        )
    return " ".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", choices=["tiny", "full"], default="full")
    size = parser.parse_args().size
    with tempfile.TemporaryDirectory() as tmp:
        if size == "tiny":
            members, target_cdnow, target_big = 2_000, None, None
        else:
            members, target_cdnow, target_big = 200_000, 10.0, 30.0
        if size == "full":
            seconds = _report(CDNOW, CDNOW_ARGS)
            print(_line("report on CDNOW_master (69,659 rows)", seconds, target_cdnow,
                        _pandas_read(CDNOW, whitespace=True)))  # fmt: skip
        program = simulate(members, start=date(2023, 1, 1), end=date(2024, 12, 31), seed=1)
        path = Path(tmp) / "transactions.csv"
        path.write_text(program.to_csv())
        seconds = _report(path, ["--at", "timestamp"])
        label = f"report on {program.n_transactions:,} simulated transactions"
        print(_line(label, seconds, target_big, _pandas_read(path, whitespace=False)))


if __name__ == "__main__":
    main()

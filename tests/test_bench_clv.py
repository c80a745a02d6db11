"""The CLV benchmark runs at its tiny size and prints its figures and targets."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "_clv_bench.py"


def test_tiny_benchmark_prints_figures_and_targets() -> None:
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--size", "tiny"],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert out.startswith("CLV model fits, size tiny")
    for label in (
        "BG/NBD fit, day resolution, 2,000 customers",
        "BG/NBD fit, second resolution, 2,000 customers (1,9",
        "Pareto/NBD fit, day resolution, 2,000 customers",
    ):
        assert label in out
    assert out.count("  loyaltycore ") == 3
    compared = out.count("speed-up ") == 3 and out.count("LL difference") == 3
    skipped = out.count("comparison skipped") == 3
    assert compared or skipped, out

"""The metrics benchmark runs at its tiny size and prints its figures and targets."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "metrics.py"


def test_tiny_benchmark_prints_figures_and_targets() -> None:
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--size", "tiny"],
        capture_output=True,
        text=True,
        check=False,
        timeout=180,
    )
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "build log + summarize, 20,000 transactions / 2,000 customers, int ids" in out
    assert "build log + summarize, 20,000 transactions / 2,000 customers, str ids" in out
    assert "build log + summarize, 100,000 transactions / 10,000 customers, int ids" in out
    assert "(target <= 3.0 s:" in out
    assert "cohort_retention (month), 20,000 transactions" in out
    assert "(target <= 0.5 s:" in out
    assert "loyaltycore failed" not in out, out
    compared = "speed-up" in out and "same results       yes" in out
    skipped = "lifetimes 0.11.3   skipped: lifetimes/pandas not importable here" in out
    assert compared or skipped, out
    assert "CLV" in out

"""The lifecycle benchmark runs at its tiny size and prints its figures and target."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "lifecycle.py"


def test_tiny_benchmark_prints_figures_and_agrees_with_references() -> None:
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--size", "tiny"],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    assert "stages (AbsoluteDays), 100,000 members:" in out
    assert "stages (CycleMultiple), 100,000 members:" in out
    assert "target <= 1 s" in out
    assert "reference stage() per member:" in out
    assert "reference bare Python loop:" in out
    assert "DISAGREES" not in out
    assert out.count("(same stages)") == 2

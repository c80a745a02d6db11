"""The report benchmark runs at tiny size, so the script cannot rot."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).parent.parent / "benchmarks" / "report.py"


def test_report_benchmark_runs_at_tiny_size() -> None:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--size", "tiny"], capture_output=True, text=True, check=True
    )
    assert "report on" in done.stdout
    assert " s " in done.stdout

"""The points ledger benchmark runs at its tiny size, so the script cannot rot."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).parent.parent / "benchmarks" / "ledger.py"


def test_ledger_benchmark_tiny() -> None:
    out = subprocess.run(
        [sys.executable, str(SCRIPT), "--size", "tiny"],
        capture_output=True,
        check=True,
        text=True,
        timeout=120,
    )
    lines = out.stdout.splitlines()
    assert lines[0].startswith("points ledger benchmark (--size tiny")
    figures = lines[1:]
    assert len(figures) == 4
    for line in figures:
        assert "target" in line
        assert (" PASS " in line) != (" MISS " in line)

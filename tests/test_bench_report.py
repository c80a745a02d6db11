"""The report benchmark runs at tiny size, so the script cannot rot."""

from __future__ import annotations

from collections.abc import Callable


def test_report_benchmark_runs_at_tiny_size(run_benchmark: Callable[[str], str]) -> None:
    out = run_benchmark("report")
    assert "report on" in out
    assert " s " in out

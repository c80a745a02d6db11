"""The engines benchmark runs at tiny size and prints its ratios and targets."""

from __future__ import annotations

from collections.abc import Callable


def test_engines_benchmark_prints_ratios(run_benchmark: Callable[[str], str]) -> None:
    out = run_benchmark("engines")
    assert "summary, 100,000 rows / 10,000 customers, sparse 12-digit int64 ids" in out
    assert "monthly cohort counts, 100,000 rows" in out
    assert "x polars time / ours" in out or "polars       skipped" in out
    assert "scaling 100,000 rows / 10,000 rows, CPU time (target <= 11)" in out
    assert "Summary.to_pandas(), 10,000 customers" in out
    assert "bytes per row" in out
    assert "read a spreadsheet export of 100,000 rows (BOM, CRLF, quoted text, dd/mm/yyyy)" in out
    assert "same totals  ok: 100,000 rows" in out or "polars       skipped" in out
    assert "failed" not in out, out

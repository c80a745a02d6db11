"""The segments benchmark runs at its tiny size and prints its figures and targets."""

from __future__ import annotations

from collections.abc import Callable


def test_tiny_benchmark_prints_figures_and_targets(run_benchmark: Callable[[str], str]) -> None:
    out = run_benchmark("segments")
    assert "rfm_scores + RFM_SEGMENTS, 100,000 customers:" in out
    assert "largest segments:" in out
    assert "CDNOW CDNOW_sample.txt: 6,919 transactions, 2,357 customers" in out
    assert "scores + segments of the per-customer table: loyaltycore " in out
    assert "end to end from transaction columns: loyaltycore " in out
    compared = "faster (target >= 20x" in out
    skipped = "comparison skipped" in out
    assert compared or skipped, out

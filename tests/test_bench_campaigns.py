"""The campaigns benchmark runs at its tiny size and prints its figures and targets."""

from __future__ import annotations

from collections.abc import Callable


def test_tiny_benchmark_prints_figures_and_targets(run_benchmark: Callable[[str], str]) -> None:
    out = run_benchmark("campaigns")
    assert "bootstrap BCa, 2,000 members, 200 resamples: loyaltycore" in out
    assert "(target <= 2.0 s: met)" in out
    assert "scipy.stats.bootstrap BCa" in out
    assert "(target >= 10x:" in out
    assert "scipy.stats.bootstrap percentile" in out
    assert "windows, 20,000 transactions, 400 assigned members, horizons 7/30/90:" in out
    assert "whole read-out, " in out
    assert "10,000 members:" in out
    assert "(target <= 10 s: met)" in out
    assert "of which windows (sums of spend and points, Welch rows):" in out
    assert "ratio polars / windows" in out
    assert "(sums equal)" in out
    assert "matching 10,000 text member ids to 9,000 customers:" in out

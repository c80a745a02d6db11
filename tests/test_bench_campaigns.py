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

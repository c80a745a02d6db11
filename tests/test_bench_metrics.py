"""The metrics benchmark runs at its tiny size and prints its figures and targets."""

from __future__ import annotations

from collections.abc import Callable


def test_tiny_benchmark_prints_figures_and_targets(run_benchmark: Callable[[str], str]) -> None:
    out = run_benchmark("metrics")
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

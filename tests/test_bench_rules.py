"""The rules benchmark runs at its tiny size and prints its figures, targets and ratios."""

from __future__ import annotations

from collections.abc import Callable


def test_tiny_benchmark_prints_figures_targets_and_ratios(
    run_benchmark: Callable[[str], str],
) -> None:
    out = run_benchmark("rules")
    assert "rule set: 20 rules" in out
    assert "evaluate (scalar, with trace), 5,000 events:" in out
    assert "evaluate_batch, 50,000 events:" in out
    assert "(target >= 100,000:" in out
    assert "(target >= 2,000,000:" in out
    assert "hand-written chain of 20 ifs" in out
    assert "ratio scalar / hand-written ifs:" in out
    compared = "ratio scalar / business-rules:" in out and "ratio batch / business-rules:" in out
    skipped = "business-rules 1.1.1: not importable here, comparison skipped" in out
    assert compared or skipped, out

"""The lifecycle benchmark runs at its tiny size and prints its figures and target."""

from __future__ import annotations

from collections.abc import Callable


def test_tiny_benchmark_prints_figures_and_agrees_with_references(
    run_benchmark: Callable[[str], str],
) -> None:
    out = run_benchmark("lifecycle")
    assert "stages (AbsoluteDays), 100,000 members:" in out
    assert "stages (CycleMultiple), 100,000 members:" in out
    assert "target <= 1 s" in out
    assert "reference stage() per member:" in out
    assert "reference bare Python loop:" in out
    assert "DISAGREES" not in out
    assert out.count("(same stages)") == 2

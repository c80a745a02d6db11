"""The CLV benchmark runs at its tiny size and prints its figures and targets."""

from __future__ import annotations

from collections.abc import Callable


def test_tiny_benchmark_prints_figures_and_targets(run_benchmark: Callable[[str], str]) -> None:
    out = run_benchmark("_clv_bench")
    assert out.startswith("CLV model fits, size tiny")
    for label in (
        "BG/NBD fit, day resolution, 2,000 customers",
        "BG/NBD fit, second resolution, 2,000 customers (1,9",
        "Pareto/NBD fit, day resolution, 2,000 customers",
        "Pareto/NBD fit, arbitrary times, 20,000 customers",
        "BG/BB fit, donations (22 rows)",
    ):
        assert label in out
    assert out.count("  loyaltycore ") == 5
    compared = out.count("speed-up ") == 5 and out.count("LL difference") == 5
    skipped = out.count("comparison skipped") == 4 and out.count("LL difference") == 1
    assert compared or skipped, out
    assert "one gradient: analytic alpha, beta" in out
    assert "plain scipy" in out

"""The tier benchmark runs at its tiny size and checks its engines agree."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.scripts import load_script

SCRIPT = Path(__file__).parent.parent / "benchmarks" / "tiers.py"


def load() -> object:
    return load_script(SCRIPT, "bench_tiers")


def test_tiny_benchmark_prints_each_figure_with_target_and_ratio(
    capsys: pytest.CaptureFixture[str],
) -> None:
    bench = load()
    assert bench.main(["--size", "tiny", "--repeat", "1"]) == 0  # type: ignore[attr-defined]
    out = capsys.readouterr().out
    assert re.search(r"classify .* target <= 0\.2 s .* speed-up x[\d,.]+", out)
    assert re.search(r"evaluate .* target >= 50,000 /s .* ratio [\d.]+", out)
    assert "year-end" in out


def test_reference_loop_agrees_with_classify() -> None:
    bench = load()
    program = bench.make_program()  # type: ignore[attr-defined]
    columns = bench.make_columns(2_000, seed=3)  # type: ignore[attr-defined]
    expected = bench.reference_classify(columns)  # type: ignore[attr-defined]
    assert program.classify(columns).tolist() == expected.tolist()

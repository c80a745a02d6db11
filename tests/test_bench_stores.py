"""The stores benchmark runs at its tiny size and prints each figure with its target."""

from __future__ import annotations

import re
from collections.abc import Callable


def test_stores_benchmark_tiny(run_benchmark: Callable[[str], str]) -> None:
    out = run_benchmark("stores")
    lines = out.splitlines()
    assert lines[0].startswith("stores benchmark, size=tiny")
    distinct, hot, load = lines[1:4], lines[4], lines[5]
    for processes, line in zip((1, 4, 8), distinct, strict=True):
        assert line.startswith(f"distinct  {processes} process")
        assert re.search(
            r"bare INSERTs of the same rows [\d,]+ /s  ratio [\d.]+  target >= 0\.5", line
        )
    assert re.search(r"^hot .* p50 [\d.]+ ms  p99 [\d.]+ ms  [\d,]+ commands/s$", hot)
    assert re.search(r"^load .* ms  target <= 5\.0 ms  (ok|MISSED)  \| [\d,]+ events", load)

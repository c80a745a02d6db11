"""The accounts benchmark runs at its tiny size and prints each figure with its target."""

from __future__ import annotations

import re
from collections.abc import Callable


def test_accounts_benchmark_tiny(run_benchmark: Callable[[str], str]) -> None:
    out = run_benchmark("accounts")
    lines = out.splitlines()
    assert lines[0].startswith("accounts benchmark, size=tiny")
    order, history, building, restore, snapshot = lines[1:6]
    assert re.search(
        r"^order .* /s cpu .* by hand .* ratio [\d.]+  target >= 0\.7  (ok|MISSED)$", order
    )
    assert re.search(
        r"^history .* ms per order .* ratio [\d.]+  target <= 1\.5  (ok|MISSED)$", history
    )
    assert re.search(
        r"^building .* ms per command, carrying forward included .* ratio [\d.]+$", building
    )
    assert re.search(r"^restore .* ms  target <= 2\.0 ms  (ok|MISSED)  \| [\d,]+ events", restore)
    assert re.search(
        r"^snapshot .* [\d.]+ ms  \| of the member built by its commands [\d.]+ ms$", snapshot
    )
    assert float(re.findall(r"ratio ([\d.]+)", order)[0]) > 0

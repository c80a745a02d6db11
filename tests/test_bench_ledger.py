"""The points ledger benchmark runs at its tiny size, so the script cannot rot."""

from __future__ import annotations

import os
from collections.abc import Callable


def test_ledger_benchmark_tiny(run_benchmark: Callable[[str], str]) -> None:
    out = run_benchmark("ledger")
    lines = out.splitlines()
    assert lines[0].startswith("points ledger benchmark (--size tiny")
    engine = "compiled" if os.environ.get("LOYALTYCORE_COMPILE") == "required" else ""
    assert f"engine {engine}" in lines[0]
    figures, reference = lines[1:5], lines[5:]
    for line in figures:
        assert "target" in line
        assert (" PASS " in line) != (" MISS " in line)
    assert reference[0].startswith("reference: plain mutable ledger")
    assert reference[1].startswith("ratio commands / reference")
    assert float(reference[1].split()[4]) > 0
    assert reference[2].startswith("reference, replay phase")
    assert reference[3].startswith("ratio events replayed / reference")
    assert float(reference[3].split()[5]) > 0
    assert reference[4].startswith("retry / cancel, 2,000-lot member")
    assert reference[5].startswith("holds / spent hold, same member")
    for line, start in zip(
        reference[6:8], ("chained, 10,000 / 100 events", "5,000 chained earns (s)"), strict=True
    ):
        assert line.startswith(start)
        assert (" PASS " in line) != (" MISS " in line)
        assert float(line.split("target")[0].split()[-1]) > 0

"""The stores benchmark runs at its tiny size and prints each figure with its target."""

from __future__ import annotations

import os
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
    pg = lines[6:]
    if pg[0].startswith("postgres  no figures:"):  # (no server binaries here)
        assert os.environ.get("CI") != "true", pg[0]
        return
    assert re.search(r"^postgres  server .*, fsync=on, psycopg ", pg[0])
    for processes, line in zip((1, 4, 8), pg[1:4], strict=True):
        assert line.startswith(f"pg distinct  {processes} process")
        assert re.search(
            r"bare INSERTs of the same rows [\d,]+ /s  ratio [\d.]+  target >= 0\.5", line
        )
    assert re.search(r"^pg hot .* p50 [\d.]+ ms  p99 [\d.]+ ms  [\d,]+ commands/s$", pg[4])

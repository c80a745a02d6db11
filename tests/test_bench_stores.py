"""The stores benchmark runs at its tiny size and prints each figure with its target."""

from __future__ import annotations

import os
import re
from collections.abc import Callable

CEILING = (
    r"ceiling   {n} process.* [\d,]+ commands/s  \| bare INSERTs \+ the same order in memory;"
    r" store / ceiling [\d.]+  \(ceiling / bare INSERTs [\d.]+\)$"
)
AWARD = r"award     {n} process.* [\d,]+ commands/s  \| .*ratio to bare INSERTs [\d.]+$"


def check_distinct(lines: list[str], prefix: str) -> None:
    """Per process count: the target line, then its ceiling and award lines."""
    for k, processes in enumerate((1, 4, 8)):
        line, ceiling, award = lines[3 * k : 3 * k + 3]
        assert line.startswith(f"{prefix}distinct  {processes} process")
        assert re.search(
            r"bare INSERTs of the same rows [\d,]+ /s  ratio [\d.]+  target >= 0\.5", line
        )
        assert re.match(prefix + CEILING.format(n=processes), ceiling), ceiling
        assert re.match(prefix + AWARD.format(n=processes), award), award


def test_stores_benchmark_tiny(run_benchmark: Callable[[str], str]) -> None:
    out = run_benchmark("stores")
    lines = out.splitlines()
    assert lines[0].startswith("stores benchmark, size=tiny")
    check_distinct(lines[1:10], "")
    hot, lots, load = lines[10], lines[11], lines[12]
    assert re.search(r"^hot .* p50 [\d.]+ ms  p99 [\d.]+ ms  [\d,]+ commands/s$", hot)
    assert re.search(
        r"^lots  .* 300 open lots  [\d.]+ ms cpu  \| 10 open lots [\d.]+ ms  ratio [\d.]+"
        r"  guide <= 1\.5  (ok|MISSED)$",
        lots,
    )
    assert re.search(r"^load .* ms  target <= 5\.0 ms  (ok|MISSED)  \| [\d,]+ events", load)
    pg = lines[13:]
    if pg[0].startswith("postgres  no figures:"):  # (no server binaries here)
        assert os.environ.get("CI") != "true", pg[0]
        return
    assert re.search(r"^postgres  server .*, fsync=on, psycopg ", pg[0])
    check_distinct(pg[1:10], "pg ")
    assert re.search(r"^pg hot .* p50 [\d.]+ ms  p99 [\d.]+ ms  [\d,]+ commands/s$", pg[10])

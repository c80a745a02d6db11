"""Run every benchmark at full size, one after another, and keep the output.

Usage: ``make bench`` (its own virtualenv with the reference packages), or
``python benchmarks/run_all.py [--size tiny|full] [names...]``. The combined
output goes to stdout and to ``benchmarks/last_run.txt``; the figures are
recorded by hand in ``benchmarks/RESULTS.md`` with the date and machine.
"""

from __future__ import annotations

import argparse
import platform
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).parent
SCRIPTS = [
    "ledger", "rules", "tiers", "accounts", "stores", "metrics", "lifecycle", "segments",
    "campaigns", "report", "engines",
]  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", choices=["tiny", "full"], default="full")
    parser.add_argument("names", nargs="*", default=SCRIPTS)
    args = parser.parse_args()
    lines = [
        f"python {platform.python_version()} on {platform.machine()}, "
        f"{platform.system()} {platform.release()}",
    ]
    print(lines[0], flush=True)
    status = 0
    for name in args.names:
        script = HERE / f"{name}.py"
        if not script.exists():
            print(f"== {name}: no script", flush=True)
            continue
        header = f"== {name} ({args.size})"
        print(header, flush=True)
        started = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, str(script), "--size", args.size],
            capture_output=True,
            text=True,
            check=False,
        )
        elapsed = time.perf_counter() - started
        print(proc.stdout, end="", flush=True)
        if proc.returncode:
            print(proc.stderr, end="", file=sys.stderr)
            status = 1
        lines += [header, proc.stdout.rstrip(), f"-- {name} took {elapsed:.1f} s"]
    (HERE / "last_run.txt").write_text("\n".join(lines) + "\n")
    return status


if __name__ == "__main__":
    raise SystemExit(main())

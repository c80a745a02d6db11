"""Shared test configuration: hypothesis profiles and common fixtures."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

# CI runs the same examples every time (derandomize), so a landing run is the
# run that was verified; "dev" explores new examples on every run.
settings.register_profile(
    "ci",
    deadline=None,
    derandomize=True,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", deadline=None, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The folder of test data files copied into the repository."""
    return DATA


BENCHMARKS = Path(__file__).parent.parent / "benchmarks"


@pytest.fixture(scope="session")
def run_benchmark() -> Callable[[str], str]:
    """Run ``benchmarks/<name>.py --size tiny`` in a fresh interpreter; return its output.

    Every benchmark also runs at tiny size in the suite so the scripts cannot
    rot; each test then checks the figures and targets its script prints.
    """

    def run(name: str) -> str:
        proc = subprocess.run(
            [sys.executable, str(BENCHMARKS / f"{name}.py"), "--size", "tiny"],
            capture_output=True,
            text=True,
            check=False,
            timeout=180,
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr
        return proc.stdout

    return run

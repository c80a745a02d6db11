"""Shared test configuration: hypothesis profiles and common fixtures."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from hypothesis import HealthCheck, settings

from tests import postgres_server as postgres

if TYPE_CHECKING:
    from psycopg_pool import ConnectionPool

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


# -- a throw-away PostgreSQL server --------------------------------------------------------

#: Why the PostgreSQL tests were skipped (shown in the run's summary).
_POSTGRES_SKIPPED: list[str] = []


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[postgres.Server]:
    """A PostgreSQL cluster for this test session, stopped (and removed) at its end.

    It runs on a free loopback port with ``fsync=off``; see
    ``tests/postgres_server.py``. Without the server binaries the tests
    using it are skipped with the reason, except under ``CI=true``, where
    that fails the run.
    """
    reason = postgres.missing_reason()
    if reason is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true needs a PostgreSQL server: {reason}", pytrace=False)
        _POSTGRES_SKIPPED.append(reason)
        pytest.skip(f"PostgreSQL tests skipped: {reason}")
    server = postgres.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def postgres_dsn(postgres_server: postgres.Server) -> str:
    """The connection string of a database ``loyaltycore`` on the session's server."""
    return postgres_server.create_database("loyaltycore")


@pytest.fixture(scope="session")
def pg_pool(postgres_dsn: str) -> Iterator[ConnectionPool]:
    """A ``psycopg_pool.ConnectionPool`` (up to 8 connections) on ``postgres_dsn``."""
    from psycopg_pool import ConnectionPool

    with ConnectionPool(postgres_dsn, min_size=1, max_size=8, open=True) as pool:
        yield pool


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _POSTGRES_SKIPPED:
        terminalreporter.write_line(
            f"PostgreSQL tests skipped: {_POSTGRES_SKIPPED[0]} (with CI=true this fails the run)"
        )

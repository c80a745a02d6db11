"""Shared test configuration: hypothesis profiles and common fixtures."""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

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


# -- commands on files they cannot trust -------------------------------------------
# Whatever the bytes of its files, a command either succeeds (exit 0, nothing on
# stderr) or prints one line to stderr and exits 2. The test modules of the
# report and campaign commands share this harness (``from tests.conftest import``).


def run_command(main: Callable[[list[str]], int], *argv: str) -> tuple[int, str, str]:
    """``main(argv)`` in process: exit status, stdout, stderr."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(list(argv))
    return status, out.getvalue(), err.getvalue()


def assert_one_line_or_success(command: str, status: int, out: str, err: str) -> None:
    """Exit 0 and a silent stderr, or exit 2 with one line ``loyaltycore <command>: ...``."""
    if status == 0:
        assert err == "", err
        return
    assert status == 2, (status, err)
    assert out == ""
    assert err.endswith("\n"), err
    assert err.count("\n") == 1, err
    assert err.startswith(f"loyaltycore {command}: "), err


def mutated_csv(
    draw: st.DrawFn,
    header: str,
    rows: Sequence[str],
    *,
    values: Sequence[str],
    endings: Sequence[str],
    encodings: Sequence[str],
    max_bytes: int,
    max_text: int,
) -> bytes:
    """A valid CSV file with a few things broken, or (one time in ten) random bytes.

    Up to three breakages: a column dropped or doubled, a field replaced by
    one of ``values`` or random text, a row repeated or cut short, the file
    cut; then one of ``endings`` and ``encodings``, and maybe a few random
    bytes put in.
    """
    if draw(st.integers(0, 9)) == 0:
        return draw(st.binary(max_size=max_bytes))
    table = [line.split(",") for line in [header, *rows]]
    for _ in range(draw(st.integers(0, 3))):
        kind = draw(st.sampled_from(["drop", "dup", "field", "row", "short", "cut"]))
        width = len(table[0])
        column = draw(st.integers(0, width - 1))
        if kind == "drop" and width > 1:
            table = [row[:column] + row[column + 1 :] for row in table]
        elif kind == "dup":
            table = [row[: column + 1] + row[column:] for row in table]
        elif kind == "field":
            row = draw(st.integers(0, len(table) - 1))
            if column < len(table[row]):
                table[row][column] = draw(st.sampled_from(values) | st.text(max_size=max_text))
        elif kind == "row":
            table.insert(draw(st.integers(1, len(table))), list(table[-1]))
        elif kind == "cut":
            table = table[: draw(st.integers(1, len(table)))]
        elif len(table) > 1:
            row = draw(st.integers(1, len(table) - 1))
            table[row] = table[row][: draw(st.integers(0, len(table[row])))]
    ending = draw(st.sampled_from(endings))
    text = ending.join(",".join(row) for row in table) + ending
    data = text.encode(draw(st.sampled_from(encodings)), errors="replace")
    if draw(st.booleans()):
        at = draw(st.integers(0, len(data)))
        data = data[:at] + draw(st.binary(min_size=1, max_size=3)) + data[at:]
    return data

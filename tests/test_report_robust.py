"""The report always prints every section; CLV degrades to a note saying why and what to do.

Small files, files where nobody came back, and histories so alike that the
models are degenerate all give a report (exit 0) whose CLV section explains
itself. Progress is reported as ``(done, total, stage)``, and a terminal gets
a progress bar for a large file.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import os
import pty
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loyaltycore.errors import InvalidArgument, InvalidType
from loyaltycore.report import SAMPLE_TZ, build_report, load_sample, main
from loyaltycore.transactions import TransactionLog

HEADINGS = [
    "Overview",
    "Monthly retention",
    "Cohort retention",
    "Lifecycle stages",
    "RFM segments",
    "Customer lifetime value",
]
ROOT = Path(__file__).parent.parent


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(list(argv))
    return status, out.getvalue(), err.getvalue()


def write(path: Path, rows: list[tuple[str, str, str]]) -> Path:
    lines = ["customer_id,timestamp,amount", *(",".join(row) for row in rows)]
    path.write_text("\n".join(lines) + "\n")
    return path


def assert_whole_report(text: str) -> None:
    for heading in HEADINGS:
        assert heading in text, heading


@pytest.mark.parametrize(
    "rows",
    [
        [("a", "2024-01-05T10:00+00:00", "9.50")],
        [
            ("a", "2024-01-05T10:00+00:00", "9.50"),
            ("b", "2024-02-01T10:00+00:00", "3"),
            ("a", "2024-03-01T10:00+00:00", "4.25"),
        ],
        [(f"c{i}", f"2024-0{1 + i % 9}-0{1 + i % 8}T12:00+00:00", "10") for i in range(40)],
    ],
    ids=["one row", "three rows", "nobody came back"],
)
def test_a_small_file_gives_every_section_and_says_why_there_is_no_clv(
    tmp_path: Path, rows: list[tuple[str, str, str]]
) -> None:
    importlib.import_module("scipy")
    status, out, err = run(str(write(tmp_path / "tx.csv", rows)), "--currency", "EUR")
    assert (status, err) == (0, "")
    assert_whole_report(out)
    clv = out.split("Customer lifetime value", 1)[1]
    assert "Not estimated: only" in clv
    assert "bought more than once" in clv
    assert "--no-clv" in clv


def _alike(n: int) -> list[tuple[str, str, str]]:
    """``n`` customers with the very same history: a purchase every week for 10 weeks."""
    start = datetime(2024, 1, 1, 12, tzinfo=UTC)
    return [
        (f"c{i:03d}", (start + timedelta(weeks=k)).isoformat(), "20")
        for i in range(n)
        for k in range(10)
    ]


def test_a_degenerate_fit_becomes_a_note_and_the_rest_is_printed(tmp_path: Path) -> None:
    importlib.import_module("scipy")
    path = write(tmp_path / "tx.csv", _alike(30))
    status, out, err = run(str(path), "--format", "json")
    assert (status, err) == (0, "")
    clv = json.loads(out)["clv"]
    assert clv["reason"] == "degenerate_fit"
    assert "degenerate" in clv["note"]
    assert "--no-clv" in clv["advice"]
    status, out, err = run(str(path))
    assert status == 0
    assert_whole_report(out)
    assert "What to do:" in out.split("Customer lifetime value", 1)[1]


def test_no_clv_on_request_says_so() -> None:
    report = build_report(load_sample(), tz=SAMPLE_TZ, fit_clv=False)
    assert report.data["clv"]["reason"] == "not_requested"
    assert_whole_report(report.to_text())


@settings(max_examples=25, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 12), st.integers(0, 400), st.integers(0, 5000)),
        min_size=1,
        max_size=60,
    )
)
def test_any_small_log_gives_a_whole_report(rows: list[tuple[int, int, int]]) -> None:
    importlib.import_module("scipy")
    start = np.datetime64("2024-01-01T09:00", "us")
    log = TransactionLog.from_arrays(
        [f"c{c}" for c, _, _ in rows],
        np.array([start + np.timedelta64(d, "D") for _, d, _ in rows]),
        [f"{cents / 100:.2f}" for _, _, cents in rows],
        tz="UTC",
    )
    report = build_report(log, currency="USD")
    text = report.to_text()
    assert_whole_report(text)
    clv = report.data["clv"]
    assert ("note" in clv) != ("top" in clv)
    if "note" in clv:
        assert clv["advice"]
    json.loads(report.to_json())


# -- progress ----------------------------------------------------------------------------------


def test_progress_is_reported_as_done_total_stage() -> None:
    seen: list[tuple[int, int | None, str]] = []
    build_report(
        load_sample(),
        tz=SAMPLE_TZ,
        fit_clv=False,
        progress=lambda done, total, stage: seen.append((done, total, stage)),
    )
    stages = ["summarize", "overview", "retention", "cohorts", "lifecycle", "rfm", "clv"]
    assert seen == [(k, 7, stage) for k, stage in enumerate(stages, start=1)]


def test_raising_from_progress_cancels_the_report() -> None:
    class Stop(Exception):
        pass

    def stop(done: int, total: int | None, stage: str) -> None:
        if stage == "cohorts":
            raise Stop

    with pytest.raises(Stop):
        build_report(load_sample(), tz=SAMPLE_TZ, fit_clv=False, progress=stop)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"progress": 5}, InvalidType, "progress=5"),
        ({"currency": 5}, InvalidType, "currency=5"),
        ({"currency": " "}, InvalidArgument, "currency=' '"),
        ({"currency": "DOLLARS AND CENTS"}, InvalidArgument, "short printable"),
        ({"currency": "US\nD"}, InvalidArgument, "short printable"),
        ({"source": 3}, InvalidType, "source=3"),
        ({"fit_clv": 1}, InvalidType, "fit_clv=1"),
    ],
)
def test_bad_arguments(kwargs: dict[str, object], error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        build_report(load_sample(), tz=SAMPLE_TZ, **kwargs)  # type: ignore[arg-type]


def _big_file(path: Path, rows: int) -> Path:
    rng = np.random.default_rng(0)
    customer = rng.integers(0, rows // 10, rows)
    day = rng.integers(0, 700, rows)
    first = date(2023, 1, 1)
    lines = ["customer_id,timestamp,amount"]
    lines += [
        f"c{c},{first + timedelta(days=int(d))}T10:00:00+00:00,12.5"
        for c, d in zip(customer.tolist(), day.tolist(), strict=True)
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def _on_a_terminal(*argv: str) -> tuple[int, str, str]:
    """Run the command with standard error on a pseudo-terminal."""
    leader, follower = pty.openpty()
    done = subprocess.run(
        [sys.executable, "-m", "loyaltycore", "report", *argv],
        stdout=subprocess.PIPE,
        stderr=follower,
        text=True,
        cwd=ROOT,
        check=False,
    )
    os.close(follower)
    chunks = []
    with contextlib.suppress(OSError):
        while chunk := os.read(leader, 65536):
            chunks.append(chunk)
    os.close(leader)
    return done.returncode, done.stdout, b"".join(chunks).decode()


def test_a_terminal_gets_a_progress_bar_for_a_large_file(tmp_path: Path) -> None:
    big = _big_file(tmp_path / "big.csv", 100_000)
    status, out, err = _on_a_terminal(str(big), "--no-clv")
    assert status == 0
    assert "] 100%" in err
    assert "clv" in err
    assert_whole_report(out)
    small = _big_file(tmp_path / "small.csv", 2_000)
    status, out, err = _on_a_terminal(str(small), "--no-clv")
    assert (status, err) == (0, "")


def test_no_bar_when_standard_error_is_not_a_terminal(tmp_path: Path) -> None:
    big = _big_file(tmp_path / "big.csv", 100_000)
    status, _, err = run(str(big), "--no-clv")
    assert (status, err) == (0, "")

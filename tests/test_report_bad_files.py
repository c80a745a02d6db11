"""The report command on files it cannot trust.

Whatever the bytes of the file, ``python -m loyaltycore report FILE`` either
succeeds (exit 0, nothing on stderr) or prints exactly one line to stderr
and exits 2 — never a traceback. The command's entry point is called in
process, so a hypothesis search over mutated files stays fast.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from loyaltycore.report import main
from tests.conftest import assert_one_line_or_success as one_line_or_success
from tests.conftest import mutated_csv, run_command

HEADER = "customer_id,timestamp,amount,category"
ROWS = [
    "c1,2024-01-03T10:00:00+01:00,12.50,tea",
    "c2,2024-01-09T09:30:00+00:00,7,coffee",
    "c1,2024-02-11T18:05:00-05:00,3.10,tea",
    "c3,2024-03-01T00:00:00+00:00,20.00,cake",
    "c2,2024-04-20T12:00:00+02:00,5.5,coffee",
]
VALID = "\n".join([HEADER, *ROWS]) + "\n"


def run(*argv: str) -> tuple[int, str, str]:
    """``main(argv)`` in process: exit status, stdout, stderr."""
    return run_command(main, *argv)


def assert_one_line_or_success(status: int, out: str, err: str) -> None:
    one_line_or_success("report", status, out, err)


def test_the_valid_file_reports(tmp_path: Path) -> None:
    path = tmp_path / "tx.csv"
    path.write_text(VALID)
    status, out, err = run(str(path), "--no-clv", "--format", "json")
    assert (status, err) == (0, "")
    assert json.loads(out)["overview"]["customers"] == 3


BAD = [
    # (file bytes, what the one line must contain)
    (VALID.replace("c3,", "c\xff3,").encode("latin-1"), ["line 5", "'customer_id'", "0xff"]),
    (VALID.encode() + b"c4,2024-05-01T00:00+00:00,9\x80\n", ["line 7", "'amount'", "0x80"]),
    (
        VALID.encode() + b"c4,9999-12-31T23:00:00-05:00,1\n",
        ["line 7", "'timestamp'", "supported range"],
    ),
    (
        VALID.encode() + b"c4,9999-12-31T23:00:00+00:00,1\n",
        ["line 7", "'timestamp'", "supported range"],
    ),
    (
        VALID.encode() + b"c4,0001-01-01T05:00:00+09:00,1\n",
        ["line 7", "'timestamp'", "supported range"],
    ),
    (VALID.encode() + b",2024-05-01T00:00+00:00,1\n", ["line 7", "'customer_id'", "empty"]),
    (
        VALID.replace(HEADER, HEADER + ",amount").encode(),
        ["line 1", "'amount'", "2 times"],
    ),
    (
        VALID.replace(HEADER, "customer_id,customer_id,timestamp,amount").encode(),
        ["line 1", "'customer_id'", "2 times"],
    ),
    (VALID.replace("12.50", "1_250").encode(), ["line 2", "'amount'", "not a decimal"]),
    (VALID.replace("12.50", "\u0661\u0662").encode(), ["line 2", "'amount'", "not a decimal"]),
    (VALID.replace("12.50", "\uff11\uff12").encode(), ["line 2", "'amount'", "not a decimal"]),
    (b"", ["line 1", "empty"]),
    (HEADER.encode() + b"\n\n", ["no transactions"]),
    (b"\xff\xfe\x00", ["line 1", "0xff"]),
    (VALID.encode() + b'c4,2024-05-01,"' + b"9" * 140_000 + b'"\n', ["line 7", "limit"]),
]


@pytest.mark.parametrize(("data", "phrases"), BAD)
def test_a_bad_file_gives_one_line_and_exit_2(
    tmp_path: Path, data: bytes, phrases: list[str]
) -> None:
    path = tmp_path / "tx.csv"
    path.write_bytes(data)
    status, out, err = run(str(path), "--no-clv")
    assert_one_line_or_success(status, out, err)
    assert status == 2
    assert err.startswith(f"loyaltycore report: {path}")
    for phrase in phrases:
        assert phrase in err


def test_an_excel_utf8_file_with_a_byte_order_mark_reports(tmp_path: Path) -> None:
    path = tmp_path / "tx.csv"
    path.write_bytes(VALID.encode("utf-8-sig"))
    status, out, err = run(str(path), "--no-clv", "--format", "json")
    assert (status, err) == (0, "")
    assert json.loads(out)["overview"]["customers"] == 3


@pytest.mark.parametrize(
    "argv",
    [
        ["--delimiter", ""],
        ["--delimiter", ";;"],
        ["--as-of", "0001-01-01"],
        ["--as-of", "2023-12-31"],
        ["--as-of", "9999-12-31T23:59:59-12:00"],
        ["--as-of", "2024-13-01"],
        ["--tz", "Mars/Olympus"],
        ["--date-format", "%Q"],
        ["--top", "0"],
    ],
)
def test_bad_options_give_one_line_and_exit_2(tmp_path: Path, argv: list[str]) -> None:
    path = tmp_path / "tx.csv"
    path.write_text(VALID)
    status, out, err = run(str(path), "--no-clv", *argv)
    assert status == 2
    assert_one_line_or_success(status, out, err)


def test_a_folder_or_missing_file_gives_one_line(tmp_path: Path) -> None:
    for target in (tmp_path, tmp_path / "nope.csv"):
        status, out, err = run(str(target), "--no-clv")
        assert status == 2
        assert_one_line_or_success(status, out, err)
        assert str(target) in err


# -- the search -------------------------------------------------------------------

FIELD_VALUES = [
    "",
    " ",
    "0",
    "-0",
    "+5",
    "-5",
    "1_000",
    "1e3",
    "NaN",
    "inf",
    "1.2.3",
    "\u0665",
    "\uff15",
    "\u096b",
    "\u00b2",
    "9" * 40,
    "9999-12-31T23:59:59-12:00",
    "9999-12-31T00:00:00+00:00",
    "0001-01-01T00:00:00+14:00",
    "0001-01-02T00:00:00+00:00",
    "2024-02-30T00:00:00+00:00",
    "2024-01-01",
    "2024-01-01T00:00:00\x00",
    "\u0662\u0660\u0662\u0664-01-01T00:00:00+00:00",
    '"',
    '"a,b"',
    "a\nb",
    "\ufeff",
    "<script>",
    "=cmd|' /C calc'!A0",
]


@st.composite
def mutated_files(draw: st.DrawFn) -> bytes:
    """A valid file with a few things broken, or random bytes."""
    return mutated_csv(
        draw,
        HEADER,
        ROWS,
        values=FIELD_VALUES,
        endings=["\n", "\r\n", "\r"],
        encodings=["utf-8", "utf-8-sig", "utf-16", "latin-1", "cp1252"],
        max_bytes=200,
        max_text=8,
    )


OPTIONS = st.lists(
    st.sampled_from(
        [
            ("--format", "json"),
            ("--category", "category"),
            ("--delimiter", "whitespace"),
            ("--tz", "Pacific/Kiritimati"),
            ("--tz", "Pacific/Niue"),
            ("--period", "quarter"),
            ("--date-format", "%Y-%m-%dT%H:%M:%S%z"),
        ]
    ),
    unique_by=lambda option: option[0],
    max_size=3,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=mutated_files(), options=OPTIONS)
def test_any_file_gives_a_report_or_one_line_and_exit_2(
    tmp_path_factory: pytest.TempPathFactory, data: bytes, options: list[tuple[str, str]]
) -> None:
    path = tmp_path_factory.mktemp("fuzz") / "tx.csv"
    path.write_bytes(data)
    status, out, err = run(str(path), "--no-clv", *[part for option in options for part in option])
    assert_one_line_or_success(status, out, err)
    if status == 2:
        assert str(path) in err

"""The campaign command on files and options it cannot trust.

Whatever the bytes of either file and whatever the options, ``python -m
loyaltycore campaign`` either succeeds (exit 0, nothing on stderr) or prints
exactly one line to stderr and exits 2 — never a traceback. The entry point
is called in process, so a hypothesis search over mutated files stays fast.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from loyaltycore.report import campaign_main
from tests.conftest import assert_one_line_or_success as one_line_or_success
from tests.conftest import mutated_csv, run_command

ORDERS_HEADER = "customer_id,timestamp,amount"
ORDERS = [
    "a,2024-05-20T10:00:00+00:00,12.50",
    "b,2024-06-02T09:30:00+02:00,7",
    "a,2024-06-03T18:05:00-05:00,3.10",
    "c,2024-06-10T00:00:00+00:00,20.00",
    "d,2024-06-20T12:00:00+00:00,5.5",
    "zz,2024-06-21T12:00:00+00:00,1",
]
MEMBERS_HEADER = "member_id,arm,segment"
MEMBERS = ["a,treatment,gold", "b,treatment,gold", "c,control,gold", "d,control,gold",
           "e,treatment,new", "f,control,new"]  # fmt: skip
ARGS = ["--arm-column", "arm", "--start", "2024-06-01", "--end", "2024-06-15"]
MEMBERS_TEXT = "\n".join([MEMBERS_HEADER, *MEMBERS]) + "\n"
ORDERS_TEXT = "\n".join([ORDERS_HEADER, *ORDERS]) + "\n"


def _write(folder: Path, orders: bytes | None = None, members: bytes | None = None) -> list[str]:
    o, m = folder / "orders.csv", folder / "members.csv"
    o.write_bytes(ORDERS_TEXT.encode() if orders is None else orders)
    m.write_bytes(MEMBERS_TEXT.encode() if members is None else members)
    return [str(o), "--members", str(m)]


def run(*argv: str) -> tuple[int, str, str]:
    return run_command(campaign_main, *argv)


def assert_one_line_or_success(status: int, out: str, err: str) -> None:
    one_line_or_success("campaign", status, out, err)


def test_the_valid_files_read_out(tmp_path: Path) -> None:
    status, out, err = run(*_write(tmp_path), *ARGS, "--segment-column", "segment")
    assert (status, err) == (0, "")
    assert "members: 3 treatment, 3 control" in out
    assert "left out (fewer than 2 members in an arm): new" in out


BAD_MEMBERS = [
    (MEMBERS_TEXT.replace("c,control", "c,Control"), ["members.csv, line 4, column 'arm'",
                                                      "'Control' must be 'treatment'"]),
    (MEMBERS_TEXT.replace("d,control", "a,control"), ["line 5, column 'member_id'",
                                                      "'a' repeats line 2"]),
    (MEMBERS_TEXT.replace("b,treatment", ",treatment"), ["line 3", "member id is empty"]),
    (MEMBERS_TEXT.replace("arm,", "group,"), ["members.csv, line 1", "column 'arm'", "missing"]),
    (MEMBERS_HEADER + "\n", ["members.csv: no members, only a header"]),
    ("", ["members.csv, line 1", "empty"]),
    (MEMBERS_HEADER + "\na,treatment,x\nb,control,x\nc,control,x\n",
     ["members.csv", "treatment has 1 member"]),
    (MEMBERS_TEXT.replace("e,treatment", "\xe9,treatment"), None),  # fine as UTF-8 ...
    (MEMBERS_TEXT.replace("e,treatment", "e,treatment,new,extra"), None),  # extra fields: fine
    (MEMBERS_TEXT + "g,control\n", ["line 8", "2 fields, expected at least 3"]),
]  # fmt: skip


@pytest.mark.parametrize(("text", "phrases"), BAD_MEMBERS)
def test_a_bad_members_file_gives_one_line(
    tmp_path: Path, text: str, phrases: list[str] | None
) -> None:
    argv = _write(tmp_path, members=text.encode())
    status, out, err = run(*argv, *ARGS, "--segment-column", "segment")
    assert_one_line_or_success(status, out, err)
    if phrases is None:
        assert status == 0
        return
    assert status == 2
    for phrase in phrases:
        assert phrase in err


def test_bytes_that_are_not_utf8_are_located(tmp_path: Path) -> None:
    data = MEMBERS_TEXT.replace("e,treatment", "\xe9,treatment").encode("latin-1")
    status, out, err = run(*_write(tmp_path, members=data), *ARGS)
    assert_one_line_or_success(status, out, err)
    assert "members.csv, line 6" in err
    assert "0xe9" in err


BAD_ORDERS = [
    (ORDERS_TEXT.replace("12.50", "12.5x"), ["orders.csv, line 2", "'amount'"]),
    (ORDERS_TEXT.replace("+02:00,7", "+02:00,NaN"), ["orders.csv, line 3", "'amount'"]),
    (ORDERS_HEADER + "\n", ["orders.csv: no orders, only a header"]),
    (ORDERS_TEXT.replace("timestamp", "time"), ["orders.csv", "column 'timestamp'"]),
    (b"\xff\xfe\x00", ["orders.csv, line 1", "0xff"]),
]


@pytest.mark.parametrize(("data", "phrases"), BAD_ORDERS)
def test_a_bad_orders_file_gives_one_line(
    tmp_path: Path, data: str | bytes, phrases: list[str]
) -> None:
    raw = data.encode() if isinstance(data, str) else data
    status, out, err = run(*_write(tmp_path, orders=raw), *ARGS)
    assert_one_line_or_success(status, out, err)
    assert status == 2
    for phrase in phrases:
        assert phrase in err


BAD_OPTIONS = [
    (["--start", "2024-06-15", "--end", "2024-06-01"], "must be after start"),
    (["--start", "2024-06-01T00:00"], "has no UTC offset"),
    (["--start", "June 1st"], "--start='June 1st' is not an ISO date"),
    (["--end", "9999-12-31T23:59:59-12:00"], "outside the years 1 to 9999"),
    (["--start", "0001-01-01", "--tz", "Asia/Tokyo"], "outside the years 1 to 9999"),
    (["--horizons", "7,,30"], "--horizons='7,,30' must be whole days"),
    (["--horizons", "30,7"], "must be distinct, increasing"),
    (["--horizons", "0"], "must be >= 1"),
    (["--horizons", "\u0667"], "must be whole days"),
    (["--ci", "1.5"], "--ci='1.5' must be a number between 0 and 1"),
    (["--ci", "nan"], "between 0 and 1"),
    (["--as-of", "2024-06-10"], "as_of=.* must not be before end"),
    (["--tz", "Mars/Olympus"], "not an IANA time zone"),
    (["--format", "pdf"], "invalid choice: 'pdf'"),
    (["--treatment-label", "control"], "are both 'control'"),
    (["--arm-column", "segment"], "'gold' must be 'treatment' or 'control'"),
    (["--delimiter", ";;"], "delimiter=';;' must be one character"),
    (["--date-format", "%Q"], "orders.csv"),
    (["--segment-column", "nope"], "column 'nope'"),
    (["--bogus"], "unrecognized arguments: --bogus"),
]


@pytest.mark.parametrize(("extra", "phrase"), BAD_OPTIONS)
def test_bad_options_give_one_line_and_exit_2(
    tmp_path: Path, extra: list[str], phrase: str
) -> None:
    status, out, err = run(*_write(tmp_path), *ARGS, *extra)
    assert_one_line_or_success(status, out, err)
    assert status == 2
    assert re.search(phrase, err), err


def test_a_missing_option_or_file_gives_one_line(tmp_path: Path) -> None:
    argv = _write(tmp_path)
    for args in (
        [argv[0], "--members", argv[2], "--start", "2024-06-01", "--end", "2024-06-15"],
        [str(tmp_path / "nope.csv"), "--members", argv[2], *ARGS],
        [argv[0], "--members", str(tmp_path / "nope.csv"), *ARGS],
        [argv[0], "--members", str(tmp_path), *ARGS],
        [*argv, *ARGS, "--out", argv[0]],
    ):
        status, out, err = run(*args)
        assert status == 2, args
        assert_one_line_or_success(status, out, err)


# -- the search -------------------------------------------------------------------

FIELD_VALUES = [
    "", " ", "0", "-5", "1e3", "NaN", "inf", "\u0665", "9" * 40, "treatment", "control",
    "Treatment", "9999-12-31T23:59:59-12:00", "0001-01-01T00:00:00+14:00",
    "2024-02-30T00:00:00+00:00", "2024-06-05", "2024-06-05T00:00:00", "a", "b", "a\x00",
    '"', '"a,b"', "a\nb", "\ufeff", "<script>", "\x1b[31m",
]  # fmt: skip


def _mutate(draw: st.DrawFn, header: str, rows: list[str]) -> bytes:
    """A valid file with a few things broken, or random bytes."""
    return mutated_csv(
        draw,
        header,
        rows,
        values=FIELD_VALUES,
        endings=["\n", "\r\n"],
        encodings=["utf-8", "utf-8-sig", "utf-16", "latin-1"],
        max_bytes=120,
        max_text=6,
    )


@st.composite
def file_pairs(draw: st.DrawFn) -> tuple[bytes, bytes]:
    which = draw(st.sampled_from(["orders", "members", "both"]))
    orders = ORDERS_TEXT.encode()
    members = MEMBERS_TEXT.encode()
    if which in ("orders", "both"):
        orders = _mutate(draw, ORDERS_HEADER, ORDERS)
    if which in ("members", "both"):
        members = _mutate(draw, MEMBERS_HEADER, MEMBERS)
    return orders, members


OPTIONS = st.lists(
    st.sampled_from(
        [
            ("--format", "json"),
            ("--segment-column", "segment"),
            ("--tz", "Pacific/Kiritimati"),
            ("--horizons", "1,400"),
            ("--start", "2024-06-10T00:00:00+14:00"),
            ("--end", "2024-06-02"),
            ("--as-of", "2024-07-01"),
            ("--adjust", "bh"),
            ("--ci", "0.5"),
        ]
    ),
    unique_by=lambda option: option[0],
    max_size=3,
)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(files=file_pairs(), options=OPTIONS)
def test_any_files_give_a_read_out_or_one_line_and_exit_2(
    tmp_path_factory: pytest.TempPathFactory,
    files: tuple[bytes, bytes],
    options: list[tuple[str, str]],
) -> None:
    folder = tmp_path_factory.mktemp("fuzz")
    argv = _write(folder, orders=files[0], members=files[1])
    status, out, err = run(*argv, *ARGS, *[part for option in options for part in option])
    assert_one_line_or_success(status, out, err)

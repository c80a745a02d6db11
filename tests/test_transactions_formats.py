"""Reading ``at_format`` dates from CSV: the pyarrow path answers exactly as the stdlib reader.

Random wall times near the daylight-saving changes of Europe/London and
America/New_York (gap and fold times included) are written through random
numeric formats (day-first, month-first, year-first; zero-padded or not;
some values spoiled) and read with ``engine="pyarrow"`` and
``engine="python"``: both give equal logs or both raise the same error.
Zero-padded files in an accepted format must take the fast path; formats
with any other directive must not.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loyaltycore.errors import InvalidArgument, LoyaltyError
from loyaltycore.transactions import TransactionLog, _arrow

#: Local dates of daylight-saving changes (both zones change at 01:00/02:00 local).
CHANGES = (
    datetime(2023, 3, 12),  # New York springs forward
    datetime(2023, 3, 26),  # London springs forward
    datetime(2023, 10, 29),  # London falls back
    datetime(2023, 11, 5),  # New York falls back
    datetime(2024, 2, 29),  # (a leap day)
    datetime(1999, 12, 31),
)
SPOILS = ("31/02", "24:00", "60s", "blank", "year0", "letters", "spaces", "digits")
WANTED = {"customer": "customer_id", "at": "at", "amount": "amount"}


@st.composite
def formats(draw: st.DrawFn) -> str:
    order = draw(st.sampled_from(["dmy", "mdy", "ymd"]))
    sep = draw(st.sampled_from(["/", "-", ".", ""]))
    date = sep.join({"d": "%d", "m": "%m", "y": "%Y"}[part] for part in order)
    time = draw(st.sampled_from(["", "%H:%M", "%H:%M:%S", "%H:%M:%S.%f", "%H%M%S"]))
    if not time:
        return date
    return date + draw(st.sampled_from([" ", "T", ", ", "  "])) + time


def _render(wall: datetime, fmt: str, padded: bool, draw: st.DrawFn) -> str:
    fields = {
        "%d": wall.day,
        "%m": wall.month,
        "%Y": wall.year,
        "%H": wall.hour,
        "%M": wall.minute,
        "%S": wall.second,
    }
    fraction = f"{wall.microsecond:06d}"
    if not padded and draw(st.booleans()):  # strptime reads 1 to 6 digits
        fraction = fraction[: draw(st.integers(1, 5))]
    out = fmt.replace("%f", fraction)
    for directive, value in fields.items():
        width = 4 if directive == "%Y" else 2
        short = not padded and directive != "%Y" and draw(st.booleans())
        out = out.replace(directive, str(value) if short else f"{value:0{width}d}")
    return out


def _spoil(text: str, how: str) -> str:
    if how == "31/02":
        return text.replace("29", "31").replace("28", "31")
    if how == "24:00":
        return text.replace("23", "24").replace("00", "24", 1)
    if how == "60s":
        return text[:-2] + "60" if text[-2:].isdigit() else text + "x"
    if how == "blank":
        return ""
    if how == "year0":
        return text.replace("20", "00", 1).replace("19", "00", 1)
    if how == "letters":
        return text.replace("1", "l", 1)
    if how == "spaces":
        return " " + text + "\u00a0"
    return text.replace("0", "\u0660", 1)  # an Arabic-Indic zero, which strptime reads


@st.composite
def files(draw: st.DrawFn) -> tuple[str, dict[str, Any], bool]:
    fmt = draw(formats())
    padded = draw(st.booleans())
    spoiled = False
    rows = []
    for i in range(draw(st.integers(1, 12))):
        change = draw(st.sampled_from(CHANGES))
        minutes = draw(st.integers(-180, 240))
        micros = draw(st.sampled_from([0, 500_000, 123_456, 999_999]))
        wall = change + timedelta(minutes=minutes, seconds=draw(st.integers(0, 59)))
        wall += timedelta(microseconds=micros if "%f" in fmt else 0)
        text = _render(wall, fmt, padded, draw)
        if draw(st.integers(0, 9)) == 0:
            spoiled = True
            text = _spoil(text, draw(st.sampled_from(SPOILS)))
        rows.append(f'c{i % 3},"{text}",{draw(st.sampled_from(["1.50", "20", "0.01"]))}')
    tz = draw(st.sampled_from(["Europe/London", "America/New_York", "UTC", None]))
    kwargs: dict[str, Any] = {"at_format": fmt, "tz": tz}
    head = draw(st.sampled_from(["", "\ufeff"])) + "customer_id,at,amount"
    end = draw(st.sampled_from(["\n", "\r\n"]))
    return head + end + end.join(rows) + end, kwargs, padded and not spoiled and tz is not None


def _read(path: Path, engine: str, kwargs: dict[str, Any]) -> TransactionLog | str:
    try:
        return TransactionLog.from_csv(path, engine=engine, **kwargs)  # type: ignore[arg-type]
    except LoyaltyError as exc:
        return f"{type(exc).__name__}: {exc}"


def _fast(path: Path, kwargs: dict[str, Any]) -> dict[str, Any] | None:
    return _arrow.read_csv(
        path, WANTED, delimiter=",", header=True, encoding="utf-8", exponent=2, **kwargs
    )


@settings(max_examples=300)
@given(case=files())
def test_pyarrow_and_stdlib_readers_agree_on_formatted_dates(
    tmp_path_factory: Any, case: Any
) -> None:
    text, kwargs, canonical = case
    path = tmp_path_factory.mktemp("csv") / "tx.csv"
    path.write_bytes(text.encode("utf-8"))
    assert _read(path, "pyarrow", kwargs) == _read(path, "python", kwargs)
    if canonical:  # every value zero-padded and valid: no need to ask the stdlib reader
        assert _fast(path, kwargs) is not None


def test_gap_and_fold_times_read_as_the_stdlib_reader_reads_them(tmp_path: Path) -> None:
    path = tmp_path / "tx.csv"
    path.write_text(
        "customer_id,at,amount\n"
        "c1,26/03/2023 01:30:00,1\n"  # in London's gap
        "c1,29/10/2023 01:30:00,1\n"  # in London's fold
        "c1,29/10/2023 02:30:00,1\n"
    )
    kwargs = {"at_format": "%d/%m/%Y %H:%M:%S", "tz": "Europe/London"}
    assert _fast(path, kwargs) is not None
    log = TransactionLog.from_csv(path, engine="pyarrow", **kwargs)
    assert log == TransactionLog.from_csv(path, engine="python", **kwargs)
    assert [str(t) for t in log.at.astype("datetime64[us]")] == [
        "2023-03-26T01:30:00.000000",  # (read with the offset before the gap)
        "2023-10-29T00:30:00.000000",  # (the first of the two)
        "2023-10-29T02:30:00.000000",
    ]


def test_spaces_around_a_value_are_dropped_as_the_stdlib_reader_drops_them(
    tmp_path: Path,
) -> None:
    path = tmp_path / "tx.csv"
    path.write_text('customer_id,at,amount\nc1, 01/02/2024 10:00 ,1\nc1,"\t02/02/2024 10:00",1\n')
    kwargs = {"at_format": "%d/%m/%Y %H:%M", "tz": "Europe/London"}
    assert _fast(path, kwargs) is not None
    log = TransactionLog.from_csv(path, engine="pyarrow", **kwargs)
    assert log == TransactionLog.from_csv(path, engine="python", **kwargs)
    assert len(log) == 2


def test_non_padded_values_are_left_to_the_stdlib_reader(tmp_path: Path) -> None:
    path = tmp_path / "tx.csv"
    path.write_text("customer_id,at,amount\nc1,1/2/2024 9:05:00,1\n")
    kwargs = {"at_format": "%d/%m/%Y %H:%M:%S", "tz": "UTC"}
    assert _fast(path, kwargs) is None
    log = TransactionLog.from_csv(path, engine="pyarrow", **kwargs)
    assert str(log.at.astype("datetime64[us]")[0]) == "2024-02-01T09:05:00.000000"


@pytest.mark.parametrize(
    ("fmt", "value"),
    [
        ("%d/%m/%y %H:%M", "01/02/24 10:00"),  # two-digit year: a pivot
        ("%d %b %Y", "01 Feb 2024"),  # month names: the locale's
        ("%d %B %Y", "01 February 2024"),
        ("%a %d/%m/%Y", "Thu 01/02/2024"),
        ("%d/%m/%Y %I:%M %p", "01/02/2024 10:00 AM"),
        ("%Y-%m-%dT%H:%M:%S%z", "2024-02-01T10:00:00+0100"),  # an offset of its own
        ("%d/%m/%Y %H:%M %Z", "01/02/2024 10:00 UTC"),
        ("%Y-%j", "2024-032"),
        ("%Y %U %w", "2024 05 4"),
        ("%c", "Thu Feb  1 10:00:00 2024"),
        ("%x", "02/01/24"),
        ("%d/%m", "01/02"),  # no year: 1900, and no 29 February
        ("%m/%Y", "02/2024"),
        ("%d/%m/%Y %d", "01/02/2024 01"),  # a directive twice
        ("%d/%m/%Y 100%%", "01/02/2024 100%"),
        ("%d/%m/%Y %", "01/02/2024 %"),  # a stray %
        ("%d\t%m\t%Y", "01\t02\t2024"),
        ("%d/%m/%Y\u00a0%H", "01/02/2024\u00a010"),
        ("%e/%m/%Y", " 1/02/2024"),
    ],
)
def test_formats_other_than_numeric_fields_stay_on_the_stdlib_path(
    tmp_path: Path, fmt: str, value: str
) -> None:
    path = tmp_path / "tx.csv"
    path.write_text(f'customer_id,at,amount\nc1,"{value}",1\n', encoding="utf-8")
    kwargs = {"at_format": fmt, "tz": "UTC"}
    assert _fast(path, kwargs) is None
    outcomes = []
    for engine in ("pyarrow", "python"):
        try:
            outcomes.append(TransactionLog.from_csv(path, engine=engine, **kwargs))  # type: ignore[arg-type]
        except LoyaltyError as exc:
            outcomes.append(f"{type(exc).__name__}: {exc}")
    assert outcomes[0] == outcomes[1]


@pytest.mark.parametrize(
    "fmt",
    ["%d/%m/%Y %H:%M:%S", "%m/%d/%Y", "%Y%m%d", "%Y-%m-%dT%H:%M:%S.%f", "%d.%m.%Y %H%M"],
)
def test_numeric_formats_take_the_fast_path(tmp_path: Path, fmt: str) -> None:
    wall = datetime(2024, 7, 9, 8, 7, 6, 54321)
    path = tmp_path / "tx.csv"
    path.write_text(f"customer_id,at,amount\nc1,{wall.strftime(fmt)},1\n")
    kwargs = {"at_format": fmt, "tz": "America/New_York"}
    assert _fast(path, kwargs) is not None
    log = TransactionLog.from_csv(path, engine="pyarrow", **kwargs)
    assert log == TransactionLog.from_csv(path, engine="python", **kwargs)


@st.composite
def shaped(draw: st.DrawFn) -> tuple[str, str]:
    """A format and a value of its zero-padded shape with any digits (``39/19/0000 29:69``)."""
    fmt = draw(formats())
    widths = {"%Y": 4, "%f": 6}
    out, i = "", 0
    while i < len(fmt):
        if fmt[i] == "%":
            width = widths.get(fmt[i : i + 2], 2)
            small = draw(st.booleans())  # mostly plausible digits, sometimes any
            alphabet = "0123" if small and width == 2 else "0123456789"
            out += "".join(draw(st.sampled_from(alphabet)) for _ in range(width))
            i += 2
        else:
            out += fmt[i]
            i += 1
    return fmt, out


@settings(max_examples=300)
@given(case=shaped())
def test_any_digits_in_a_formats_shape_read_as_the_stdlib_reader_reads_them(
    tmp_path_factory: Any, case: tuple[str, str]
) -> None:
    fmt, value = case
    path = tmp_path_factory.mktemp("csv") / "tx.csv"
    path.write_text(f'customer_id,at,amount\nc1,"{value}",1\n')
    kwargs = {"at_format": fmt, "tz": "America/New_York"}
    assert _read(path, "pyarrow", kwargs) == _read(path, "python", kwargs)
    try:
        datetime.strptime(value, fmt)
    except ValueError:
        assert _fast(path, kwargs) is None


@pytest.mark.parametrize(
    ("fmt", "reason"),
    [
        ("%d/%m/%Y %d", "redefinition of group name"),  # a directive twice
        ("%d/%m/%Y %q", "bad directive"),
        ("%d/%m/%Y %", "stray %"),
    ],
)
def test_a_format_no_text_can_match_is_a_bad_argument(
    tmp_path: Path, fmt: str, reason: str
) -> None:
    path = tmp_path / "tx.csv"
    path.write_text("customer_id,at,amount\nc1,01/02/2024,1\n", encoding="utf-8")
    for engine in ("pyarrow", "python"):
        with pytest.raises(InvalidArgument, match=reason) as caught:
            TransactionLog.from_csv(path, engine=engine, at_format=fmt, tz="UTC")  # type: ignore[arg-type]
        assert (caught.value.field, caught.value.value) == ("at_format", fmt)
    with pytest.raises(InvalidArgument, match="at_format="):
        TransactionLog.from_arrays(
            customer=["c1"], at=["01/02/2024"], amount=["1"], at_format=fmt, tz="UTC"
        )

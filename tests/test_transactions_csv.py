"""Reading transaction files that are not what they claim to be.

Every bad file gives one :class:`~loyaltycore.errors.LoyaltyError` whose
message starts with the file, the line and, where there is one, the column:
wrong encodings, duplicated header columns, ids left empty, amounts written
with digit separators or non-ASCII digits, and instants at the ends of the
calendar. A UTF-8 byte-order mark (Excel's "CSV UTF-8") is read, not refused.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest

from loyaltycore.calendar import UTC, to_micros
from loyaltycore.errors import EmptyData, InvalidArgument, InvalidColumn, LoyaltyError
from loyaltycore.transactions import TransactionLog, calibration_holdout, summarize

HEADER = b"customer_id,at,amount\n"
GOOD = b"c1,2024-01-01T00:00+00:00,5\n"


def _write(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / "orders.csv"
    path.write_bytes(data)
    return path


BAD_FILES = [
    # (file bytes, line, column, a phrase of the message)
    (HEADER + GOOD + b"c\xff2,2024-01-02T00:00+00:00,5\n", 3, "customer_id", "utf-8"),
    (HEADER + GOOD + b"c2,2024-01-02T00:00+00:00,5\xe9\n", 3, "amount", "utf-8"),
    (b"customer_id,\xffat,amount\n" + GOOD, 1, None, "utf-8"),
    (HEADER + b'c1,"2024-01-01\n",5\nc2,2024-01-02T00:00+00:00,\xc3\n', 4, "amount", "utf-8"),
    (HEADER + GOOD + b"c2,9999-12-31T23:00-05:00,5\n", 3, "at", "range"),
    (HEADER + GOOD + b"c2,9999-12-31T23:00+00:00,5\n", 3, "at", "range"),
    (HEADER + GOOD + b"c2,9999-12-31T23:59:59+14:00,5\n", 3, "at", "range"),
    (HEADER + b"c2,0001-01-01T00:00+00:00,5\n", 2, "at", "range"),
    (HEADER + b"c2,0001-01-01T06:00+08:00,5\n", 2, "at", "range"),
    (HEADER + GOOD + b",2024-01-02T00:00+00:00,5\n", 3, "customer_id", "empty"),
    (HEADER + GOOD + b"  ,2024-01-02T00:00+00:00,5\n", 3, "customer_id", "empty"),
    (b"customer_id,at,amount,amount\n" + GOOD, 1, "amount", "2 times"),
    (b"customer_id,at, amount,amount \n" + GOOD, 1, "amount", "2 times"),
    (HEADER + b"c1,2024-01-01T00:00+00:00,1_000\n", 2, "amount", "not a decimal"),
    (HEADER + b"c1,2024-01-01T00:00+00:00,\xd9\xa5\n", 2, "amount", "not a decimal"),
    (HEADER + b"c1,2024-01-01T00:00+00:00,\xef\xbc\x95.00\n", 2, "amount", "not a decimal"),
    (HEADER + b"c1,2024-01-01T00:00+00:00,\xe0\xa5\xab\n", 2, "amount", "not a decimal"),
    (HEADER + b"c1,2024-01-01T00:00+00:00,1e3\n", 2, "amount", "not a decimal"),
    (HEADER + b"c1,2024-01-01T00:00+00:00,1.2.3\n", 2, "amount", "not a decimal"),
    (HEADER + b"c1,2024-01-01T00:00+00:00,--5\n", 2, "amount", "not a decimal"),
    (HEADER + b"c1,\xd9\xa2\xd9\xa0\xd9\xa2\xd9\xa4-01-01T00:00+00:00,5\n", 2, "at", "timestamp"),
    (HEADER + b'c1,2024-01-01T00:00+00:00,"' + b"9" * 200_000 + b'"\n', 2, None, "limit"),
]


@pytest.mark.parametrize(("data", "line", "column", "phrase"), BAD_FILES)
def test_a_bad_file_names_its_file_line_and_column(
    tmp_path: Path, data: bytes, line: int, column: str | None, phrase: str
) -> None:
    path = _write(tmp_path, data)
    with pytest.raises(LoyaltyError) as info:
        TransactionLog.from_csv(path)
    err = info.value
    message = str(err)
    assert "\n" not in message
    assert message.startswith(f"{path}, line {line}")
    assert (err.path, err.line) == (str(path), line)  # type: ignore[attr-defined]
    if column is not None:
        assert f"column {column!r}" in message
        assert err.column == column  # type: ignore[attr-defined]
    assert phrase in message


def test_an_undecodable_byte_is_shown_as_its_hex_value(tmp_path: Path) -> None:
    path = _write(tmp_path, HEADER + GOOD + b"c\xff2,2024-01-02T00:00+00:00,5\n")
    with pytest.raises(InvalidColumn, match=r"0xff") as info:
        TransactionLog.from_csv(path)
    assert isinstance(info.value, ValueError)


def test_another_encoding_reads_the_same_bytes(tmp_path: Path) -> None:
    path = _write(tmp_path, HEADER + b"caf\xe9,2024-01-01T00:00+00:00,5\n")
    log = TransactionLog.from_csv(path, encoding="latin-1")
    assert log.customer_ids.tolist() == ["café"]


def test_an_unknown_encoding_is_an_argument_error(tmp_path: Path) -> None:
    path = _write(tmp_path, HEADER + GOOD)
    with pytest.raises(InvalidArgument, match="encoding='no-such-codec'"):
        TransactionLog.from_csv(path, encoding="no-such-codec")


@pytest.mark.parametrize("delimiter", ["", ";;", "\n", '"'])
def test_a_bad_delimiter_is_an_argument_error(tmp_path: Path, delimiter: str) -> None:
    path = _write(tmp_path, HEADER + GOOD)
    with pytest.raises(InvalidArgument, match="delimiter="):
        TransactionLog.from_csv(path, delimiter=delimiter)


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "UTF8"])
def test_an_excel_byte_order_mark_is_read(tmp_path: Path, encoding: str) -> None:
    path = _write(tmp_path, b"\xef\xbb\xbf" + HEADER + GOOD)
    log = TransactionLog.from_csv(path, encoding=encoding)
    assert log.customer_ids.tolist() == ["c1"]
    assert log.amount.tolist() == [500]


def test_a_utf16_file_with_its_byte_order_mark_is_read(tmp_path: Path) -> None:
    path = _write(tmp_path, (HEADER + GOOD).decode().encode("utf-16"))
    assert TransactionLog.from_csv(path, encoding="utf-16").amount.tolist() == [500]


def test_a_duplicated_column_that_is_not_read_is_harmless(tmp_path: Path) -> None:
    path = _write(tmp_path, b"customer_id,at,amount,note,note\nc1,2024-01-01T00:00Z,5,a,b\n")
    assert TransactionLog.from_csv(path).amount.tolist() == [500]


def test_line_numbers_count_physical_lines_of_quoted_fields(tmp_path: Path) -> None:
    body = b'c1,2024-01-01T00:00+00:00,"5"\n"c\n2",2024-01-02T00:00+00:00,x\n'
    path = _write(tmp_path, HEADER + body)
    with pytest.raises(InvalidColumn, match=r"line 3, column 'amount'"):
        TransactionLog.from_csv(path)
    path = _write(tmp_path, HEADER + b'"c\n1",2024-01-02T00:00+00:00,5\nc2,yesterday,5\n')
    with pytest.raises(InvalidColumn, match=r"line 4, column 'at'"):
        TransactionLog.from_csv(path)


@pytest.mark.parametrize(
    ("text", "minor"),
    [("5", 500), ("+5", 500), ("-0", 0), (" 5.25 ", 525), (".5", 50), ("5.", 500)],
)
def test_plain_ascii_amounts_are_read(tmp_path: Path, text: str, minor: int) -> None:
    path = _write(tmp_path, HEADER + f"c1,2024-01-01T00:00Z,{text}\n".encode())
    assert TransactionLog.from_csv(path).amount.tolist() == [minor]


@pytest.mark.parametrize("text", ["1_0", "\u0665", "\uff15", "1e2", "Infinity", "0x10"])
def test_text_amounts_from_arrays_are_plain_ascii_decimals(text: str) -> None:
    with pytest.raises(InvalidColumn, match=r"amount\[0\]"):
        TransactionLog.from_arrays(["a"], ["2024-01-01T00:00Z"], [text])


def test_float_and_decimal_amounts_in_object_columns_still_read() -> None:
    from decimal import Decimal

    amounts = np.array([1e-2, Decimal("1E+1"), 3], dtype=object)
    log = TransactionLog.from_arrays(["a"] * 3, ["2024-01-01T00:00Z"] * 3, amounts)
    assert log.amount.tolist() == [1, 1000, 300]


@pytest.mark.parametrize("text", ["1_0", "\u0665", "+\u0662"])
def test_csv_quantities_are_plain_ascii_integers(tmp_path: Path, text: str) -> None:
    data = b"customer_id,at,amount,qty\nc1,2024-01-01T00:00Z,5," + text.encode() + b"\n"
    path = _write(tmp_path, data)
    with pytest.raises(InvalidColumn, match=r"line 2, column 'qty'.*not an integer"):
        TransactionLog.from_csv(path, quantity="qty")


def test_empty_ids_are_refused_from_arrays_too() -> None:
    with pytest.raises(InvalidColumn, match=r"customer\[1\] is empty"):
        TransactionLog.from_arrays(["a", ""], ["2024-01-01T00:00Z"] * 2, [1, 2])
    log = TransactionLog.from_arrays(
        ["a", "b"], ["2024-01-01T00:00Z"] * 2, [1, 2], category=["", "x"]
    )
    assert log.category_labels is not None
    assert log.category_labels.tolist() == ["", "x"]


@pytest.mark.parametrize(
    "at",
    [
        np.array(["9999-06-01T00:00"], dtype="datetime64[us]"),
        np.array(["0001-01-01T12:00"], dtype="datetime64[us]"),
        np.array([to_micros(datetime(9999, 1, 1, tzinfo=UTC))], dtype=np.int64),
        np.array(["9998-12-31T23:00"], dtype="datetime64[m]"),
    ],
)
def test_instants_outside_the_supported_range_are_refused_in_any_form(at: object) -> None:
    with pytest.raises(InvalidColumn, match=r"at\[0\].*outside the supported range"):
        TransactionLog.from_arrays(["a"], at, [1], tz="America/New_York")


def test_the_ends_of_the_supported_range_are_read() -> None:
    first = datetime(1, 1, 2, tzinfo=UTC)
    last = datetime(9998, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)
    log = TransactionLog.from_arrays(["a", "b"], [first, last], [1, 2])
    assert log.at.tolist() == [to_micros(first), to_micros(last)]


def test_a_calibration_end_before_every_purchase_is_refused() -> None:
    log = TransactionLog.from_arrays([1, 2], ["2024-03-01T00:00Z", "2024-04-01T00:00Z"], [10, 20])
    with pytest.raises(EmptyData, match="calibration_end=2024-01-01T00:00:00\\+00:00") as info:
        calibration_holdout(
            log,
            calibration_end=datetime(2024, 1, 1, tzinfo=UTC),
            observation_end=datetime(2024, 6, 1, tzinfo=UTC),
        )
    assert info.value.field == "calibration_end"  # type: ignore[attr-defined]
    split = calibration_holdout(
        log,
        calibration_end=datetime(2024, 3, 2, tzinfo=UTC),
        observation_end=datetime(2024, 6, 1, tzinfo=UTC),
    )
    assert split.calibration.customer_id.tolist() == [1]


@pytest.mark.parametrize(
    "as_of",
    [date(1, 1, 1), datetime(9999, 12, 31, 23, tzinfo=timezone(timedelta(hours=-5)))],
)
def test_an_as_of_at_the_ends_of_the_calendar_is_an_argument_error(as_of: object) -> None:
    log = TransactionLog.from_arrays([1], ["2024-01-01T00:00Z"], [1])
    with pytest.raises(InvalidArgument, match=r"as_of=.*outside the years 1 to 9999"):
        summarize(log, as_of=as_of, tz="Asia/Tokyo")  # type: ignore[arg-type]

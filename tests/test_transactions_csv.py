"""Reading transaction files that are not what they claim to be.

Every bad file gives one :class:`~loyaltycore.errors.LoyaltyError` whose
message starts with the file, the line and, where there is one, the column:
wrong encodings, duplicated header columns, records the csv module refuses.
A UTF-8 byte-order mark (Excel's "CSV UTF-8") is read, not refused.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from loyaltycore.errors import InvalidArgument, InvalidColumn, LoyaltyError
from loyaltycore.transactions import TransactionLog

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
    (b"customer_id,at,amount,amount\n" + GOOD, 1, "amount", "2 times"),
    (b"customer_id,at, amount,amount \n" + GOOD, 1, "amount", "2 times"),
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

"""Reading CSV files: the pyarrow path accepts and refuses exactly what the stdlib reader does.

Each example writes a small file with some rows possibly spoiled (a bad
timestamp, too many decimals, an empty id, a short line, a negative amount,
a blank line, stray spaces) and reads it with ``engine="python"`` (the
stdlib reader) and with the default engine (pyarrow when installed): both
give equal logs, or both raise the same error naming the same file, line and
column.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loyaltycore.errors import InvalidArgument, LoyaltyError
from loyaltycore.transactions import TransactionLog

GOOD_AT = ("2024-01-05T10:00:00+01:00", "2024-02-01T00:30:00Z", "2024-03-31T02:30:00")
BAD_AT = ("2024-13-01", "yesterday", "")
GOOD_AMOUNT = ("10.50", "3", " 7.25 ", "0.01", "1e2")
BAD_AMOUNT = ("1.005", "ten", "", "-4", "NaN", "\u0665", "1_000", "Infinity", "+")
QTY = ("1", "+2", "0", "1_0", "\u0663", "3.0", "99999999999999999999999")
IDS = ("0042", "42", "c-1", "Zoë", "\u00a0c1", "c1\x1c", " ")


@st.composite
def files(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    rows = []
    for _ in range(draw(st.integers(1, 8))):
        spoil = draw(st.sampled_from(["none"] * 6 + ["at", "amount", "id", "short", "blank"]))
        customer = "" if spoil == "id" else draw(st.sampled_from(IDS))
        at = draw(st.sampled_from(BAD_AT if spoil == "at" else GOOD_AT))
        amount = draw(st.sampled_from(BAD_AMOUNT if spoil == "amount" else GOOD_AMOUNT))
        returned = draw(st.sampled_from(["no", "No", "0", "false"]))
        if spoil == "short":
            rows.append(f"{customer},{at}")
        elif spoil == "blank":
            rows.append("")
        else:
            rows.append(f"{customer},{at},{amount},{returned},tea,{draw(st.sampled_from(QTY))}")
    kwargs: dict[str, Any] = {"tz": draw(st.sampled_from([None, "Europe/Berlin"]))}
    if draw(st.booleans()):
        kwargs |= {"is_return": "returned", "category": "category"}
    if draw(st.booleans()):
        kwargs["quantity"] = "qty"
    head = draw(st.sampled_from(["", "\ufeff"])) + "customer_id,at,amount,returned,category,qty"
    return head + "\n" + "\n".join(rows) + "\n", kwargs


def _read(path: Path, engine: str, kwargs: dict[str, Any]) -> TransactionLog | str:
    try:
        return TransactionLog.from_csv(path, engine=engine, **kwargs)  # type: ignore[arg-type]
    except LoyaltyError as exc:
        return f"{type(exc).__name__}: {exc}"


@settings(max_examples=150)
@given(case=files())
def test_pyarrow_and_stdlib_readers_agree(tmp_path_factory: Any, case: Any) -> None:
    text, kwargs = case
    path = tmp_path_factory.mktemp("csv") / "tx.csv"
    path.write_text(text, encoding="utf-8")
    assert _read(path, "auto", kwargs) == _read(path, "python", kwargs)


def test_the_pyarrow_path_reads_a_plain_file(tmp_path: Path) -> None:
    from loyaltycore.transactions import _arrow

    path = tmp_path / "tx.csv"
    path.write_text("customer_id,at,amount\n0042, 2024-01-01T09:00+01:00 ,19.99\n")
    wanted = {"customer": "customer_id", "at": "at", "amount": "amount"}
    parts = _arrow.read_csv(
        path, wanted, delimiter=",", header=True, encoding="utf-8", tz=None, at_format=None,
        exponent=2,
    )  # fmt: skip
    assert parts is not None
    assert parts["customer"][1].tolist() == ["0042"]
    assert parts["amount"].tolist() == [1999]
    log = TransactionLog.from_csv(path, engine="pyarrow")
    assert log == TransactionLog.from_csv(path, engine="python")


def test_the_pyarrow_path_reads_a_spreadsheet_export(tmp_path: Path) -> None:
    # (Excel's "CSV UTF-8": a byte-order mark, CRLF line ends, quoted text with commas)
    from loyaltycore.transactions import _arrow

    path = tmp_path / "export.csv"
    text = (
        "\ufeffCustomer ID,Store Name,Date,Amount\r\n"
        'C1,"Joe\'s ""Best"" Coffee, Main St",2024-01-01T09:00+01:00,19.99\r\n'
        "C2,Plain,2024-01-02T10:00:00Z,5.00\r\n"
    )
    path.write_bytes(text.encode("utf-8"))
    wanted = {"customer": "Customer ID", "at": "Date", "amount": "Amount"}
    parts = _arrow.read_csv(
        path, wanted, delimiter=",", header=True, encoding="utf-8", tz=None, at_format=None,
        exponent=2,
    )  # fmt: skip
    assert parts is not None
    assert parts["customer"][1].tolist() == ["C1", "C2"]
    assert parts["amount"].tolist() == [1999, 500]
    kwargs: dict[str, Any] = {"customer": "Customer ID", "at": "Date", "amount": "Amount"}
    log = TransactionLog.from_csv(path, engine="pyarrow", **kwargs)
    assert log == TransactionLog.from_csv(path, engine="python", **kwargs)


def test_errors_name_file_line_and_column_on_both_engines(tmp_path: Path) -> None:
    path = tmp_path / "tx.csv"
    path.write_text("customer_id,at,amount\nc1,2024-01-01T09:00Z,1.999\n")
    for engine in ("auto", "pyarrow", "python"):
        with pytest.raises(LoyaltyError, match=r"tx.csv, line 2, column 'amount': amount\[0\]"):
            TransactionLog.from_csv(path, engine=engine)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument, match="engine='java' must be"):
        TransactionLog.from_csv(path, engine="java")  # type: ignore[arg-type]


def test_parquet_reads_like_csv_and_names_the_file(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    csv = tmp_path / "tx.csv"
    csv.write_text("customer_id,at,amount\n0042,2024-01-01T09:00+01:00,19.99\nb,2024-01-02,5\n")
    table = pa.table(
        {
            "customer_id": ["0042", "b"],
            "at": pa.array([1704096000000000, 1704153600000000], pa.timestamp("us", tz="UTC")),
            "amount": pa.array(["19.99", "5.00"]).cast(pa.decimal128(10, 2)),
        }
    )
    pq.write_table(table, tmp_path / "tx.parquet")
    log = TransactionLog.from_parquet(tmp_path / "tx.parquet")
    assert log == TransactionLog.from_csv(csv, tz="UTC")
    pq.write_table(table.set_column(2, "amount", pa.array([1.999, 5.0])), tmp_path / "bad.pq")
    with pytest.raises(LoyaltyError, match=r"bad.pq, column 'amount': amount\[0\]=1.999"):
        TransactionLog.from_parquet(tmp_path / "bad.pq")


def test_report_reads_parquet(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    import pyarrow.parquet as pq

    from loyaltycore.report import load_sample, main

    sample = load_sample()
    pq.write_table(sample.to_arrow(money="float"), tmp_path / "sample.parquet")
    args = ["--at", "at", "--category", "category", "--channel", "channel", "--no-clv"]
    args += ["--currency", "EUR"]
    assert main([str(tmp_path / "sample.parquet"), *args, "--format", "json"]) == 0
    from_parquet = json.loads(capsys.readouterr().out)
    assert main(["--no-clv", "--format", "json", "--tz", "UTC"]) == 0
    from_csv = json.loads(capsys.readouterr().out)
    # Everything but the name of the file read is the same.
    assert from_parquet["source"].pop("name").endswith("sample.parquet")
    from_csv["source"].pop("name")
    assert from_parquet == from_csv


def test_repeated_header_names_are_left_to_the_stdlib_reader(tmp_path: Path) -> None:
    path = tmp_path / "tx.csv"
    path.write_text("customer_id,at,amount,amount\nc1,2024-01-01T09:00Z,1,2\n")
    assert _read(path, "auto", {}) == _read(path, "python", {})
    assert str(_read(path, "auto", {})).startswith("InvalidColumn")

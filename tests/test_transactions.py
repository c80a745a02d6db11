"""Tests of the transaction log, summaries and the calibration/holdout split."""

from __future__ import annotations

import csv
import importlib
import itertools
import pickle
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from loyaltycore import transactions
from loyaltycore.calendar import UTC, to_micros
from loyaltycore.errors import (
    DuplicateId,
    EmptyData,
    InvalidAmount,
    InvalidArgument,
    InvalidColumn,
    InvalidTime,
    InvalidType,
    LoyaltyError,
    NaiveDatetime,
    NotFound,
)
from loyaltycore.transactions import (
    MISSING,
    CalibrationHoldout,
    Facts,
    Summary,
    TransactionLog,
    calibration_holdout,
    summarize,
)

CDNOW_END = datetime(1997, 9, 30, tzinfo=UTC)


def cdnow_log(data_dir: Path) -> TransactionLog:
    return TransactionLog.from_csv(
        data_dir / "CDNOW_sample.txt",
        customer=1,
        at=2,
        amount=4,
        quantity=3,
        header=False,
        delimiter=None,
        at_format="%Y%m%d",
        tz="UTC",
    )


def test_public_names_are_sorted() -> None:
    assert transactions.__all__ == sorted(transactions.__all__)
    for name in transactions.__all__:
        assert hasattr(transactions, name)


# -- the CDNOW reference ------------------------------------------------------------


def test_cdnow_summary_matches_the_published_table(data_dir: Path) -> None:
    summary = summarize(cdnow_log(data_dir), as_of=CDNOW_END, unit="week")
    with open(data_dir / "cdnow_customers_summary.csv", newline="") as handle:
        reference = list(csv.DictReader(handle))
    assert len(summary) == len(reference) == 2357
    ids = np.array([int(x) for x in summary.customer_id])
    np.testing.assert_array_equal(ids, [int(row["ID"]) for row in reference])
    np.testing.assert_array_equal(summary.frequency, [int(row["frequency"]) for row in reference])
    np.testing.assert_allclose(
        summary.recency, [float(row["recency"]) for row in reference], atol=0.01
    )
    np.testing.assert_allclose(summary.T, [float(row["T"]) for row in reference], atol=0.01)
    first = summary.facts(0)
    assert (first.frequency, round(first.recency, 2), round(first.T, 2)) == (2, 30.43, 38.86)


def test_cdnow_monetary_matches_zbar(data_dir: Path) -> None:
    summary = summarize(cdnow_log(data_dir), as_of=CDNOW_END, unit="week")
    with open(data_dir / "cdnow_customers_summary_with_transactions.csv", newline="") as handle:
        zbar = [float(row["zbar"]) for row in csv.DictReader(handle)]
    np.testing.assert_allclose(summary.monetary, zbar, atol=0.006)


def test_cdnow_rows_after_as_of_are_ignored(data_dir: Path) -> None:
    log = cdnow_log(data_dir)
    summary = summarize(log, as_of=CDNOW_END)
    facts = summary.facts(summary.index_of("0001"))
    assert facts.count == 3  # the fourth purchase (1997-12-12) is after as_of
    assert facts.last_at == datetime(1997, 8, 2, tzinfo=UTC)
    assert facts.previous_at == datetime(1997, 1, 18, tzinfo=UTC)
    assert facts.days_since_last == (date(1997, 9, 30) - date(1997, 8, 2)).days
    assert facts.median_gap == pytest.approx((17 + 196) / 2)


# -- summary definitions ------------------------------------------------------------


def small_log(**kwargs: Any) -> TransactionLog:
    return TransactionLog.from_arrays(
        customer=["a", "a", "a", "b", "a"],
        at=[
            "2024-01-01T09:00+00:00",
            "2024-01-01T17:00+00:00",
            "2024-01-05T10:00+00:00",
            "2024-01-02T10:00+00:00",
            "2024-01-15T10:00+00:00",
        ],
        amount=["10.00", "5.00", "20.00", "7.50", "40.00"],
        **kwargs,
    )


def test_summary_fields_by_hand() -> None:
    s = summarize(small_log(), as_of=datetime(2024, 1, 22, tzinfo=UTC), unit="day")
    a = s.facts(0)
    assert a.customer_id == "a"
    assert a.count == 4
    assert a.frequency == 2
    assert a.recency == 14.0
    assert a.T == 21.0
    assert a.days_since_last == 7.0
    assert a.monetary == pytest.approx(30.0)  # mean of 20 and 40; the first day is left out
    assert a.total == 7500
    assert a.aov == pytest.approx(18.75)
    assert a.median_gap == pytest.approx(7.0)  # gaps 4 and 10
    assert a.first == to_micros(datetime(2024, 1, 1, 9, tzinfo=UTC))
    assert a.previous == to_micros(datetime(2024, 1, 5, 10, tzinfo=UTC))
    b = s.facts(1)
    assert (b.frequency, b.recency, b.monetary, b.previous) == (0, 0.0, 0.0, None)
    assert np.isnan(b.median_gap)
    assert s.previous[1] == MISSING


def test_week_is_days_over_seven() -> None:
    as_of = datetime(2024, 1, 22, tzinfo=UTC)
    days = summarize(small_log(), as_of=as_of, unit="day")
    weeks = summarize(small_log(), as_of=as_of, unit="week")
    np.testing.assert_allclose(weeks.recency * 7, days.recency)
    np.testing.assert_allclose(weeks.T * 7, days.T)
    np.testing.assert_array_equal(weeks.days_since_last, days.days_since_last)


def test_days_are_local_to_the_program_zone() -> None:
    log = TransactionLog.from_arrays(
        [1, 1], ["2024-06-01T23:30+00:00", "2024-06-02T00:30+00:00"], [1, 1]
    )
    as_of = datetime(2024, 6, 10, tzinfo=UTC)
    assert summarize(log, as_of=as_of, tz="UTC").frequency[0] == 1
    assert summarize(log, as_of=as_of, tz="Europe/Berlin").frequency[0] == 0
    assert summarize(log, as_of=as_of, tz=ZoneInfo("America/New_York")).frequency[0] == 0


def test_date_as_of_means_local_midnight() -> None:
    log = TransactionLog.from_arrays([1, 1], ["2024-03-01", "2024-03-05T12:00"], [1, 1], tz="UTC")
    s = summarize(log, as_of=date(2024, 3, 5), tz="UTC", unit="day")
    assert s.frequency[0] == 0  # noon on the 5th is after local midnight
    assert s.as_of == datetime(2024, 3, 5, tzinfo=UTC)


def test_returns_reduce_total_but_are_not_purchases() -> None:
    log = TransactionLog.from_arrays(
        [1, 1, 1],
        ["2024-01-01", "2024-01-03", "2024-01-09"],
        [50, -20, 10],
        tz="UTC",
        is_return=[False, True, False],
    )
    f = summarize(log, as_of=datetime(2024, 2, 1, tzinfo=UTC), unit="day").facts(0)
    assert (f.count, f.frequency, f.total, f.monetary) == (2, 1, 4000, 10.0)
    assert f.total_amount() == Decimal("40.00")


def test_categories_are_counted_per_customer() -> None:
    log = TransactionLog.from_arrays(
        [1, 1, 1, 2],
        np.zeros(4, "datetime64[s]"),
        [1, 1, 1, 1],
        tz="UTC",
        category=["books", "music", "books", "music"],
    )
    s = summarize(log, as_of=datetime(1970, 1, 2, tzinfo=UTC))
    np.testing.assert_array_equal(s.categories, [2, 1])


def test_empty_summary_when_nothing_before_as_of() -> None:
    s = summarize(small_log(), as_of=datetime(2020, 1, 1, tzinfo=UTC))
    assert len(s) == 0
    assert s.columns()["frequency"].dtype == np.int64


def test_summary_reads_like_a_frame_and_is_frozen() -> None:
    s = summarize(small_log(), as_of=datetime(2024, 1, 22, tzinfo=UTC))
    assert list(s) == list(Summary.fields) == list(s.keys())
    assert s["T"] is s.T
    assert dict(s.columns()).keys() == set(s)
    with pytest.raises(ValueError, match="read-only"):
        s.frequency[0] = 99
    with pytest.raises(InvalidArgument, match="not a summary field"):
        s["nope"]
    with pytest.raises(NotFound):
        s.index_of("zz")


def test_log_columns_are_copied_and_read_only() -> None:
    ids = np.array([3, 1, 3])
    log = TransactionLog.from_arrays(ids, np.zeros(3, "datetime64[s]"), [1, 2, 3], tz="UTC")
    ids[0] = 99
    assert log.customer.tolist() == [3, 1, 3]
    assert not log.at.flags.writeable
    with pytest.raises(ValueError, match="read-only"):
        log.amount[0] = 0


def test_values_pickle_and_compare() -> None:
    log = small_log(category=["x", "y", "x", "y", "z"])
    s = summarize(log, as_of=datetime(2024, 1, 22, tzinfo=UTC))
    for value in (log, s, s.facts(1)):
        assert pickle.loads(pickle.dumps(value)) == value
    assert s != summarize(log, as_of=datetime(2024, 1, 23, tzinfo=UTC))


# -- constructors -------------------------------------------------------------------


def test_from_frame_pandas_and_polars_agree() -> None:
    pd = importlib.import_module("pandas")
    pl = importlib.import_module("polars")
    data = {
        "cust": ["a", "b", "a"],
        "when": [datetime(2024, 1, 1, 10), datetime(2024, 1, 2), datetime(2024, 1, 9)],
        "spend": [10.5, 3.0, 7.25],
        "cat": ["x", "y", "x"],
    }
    kwargs: dict[str, Any] = {"customer": "cust", "at": "when", "amount": "spend"}
    a = TransactionLog.from_frame(pd.DataFrame(data), tz="UTC", category="cat", **kwargs)
    b = TransactionLog.from_frame(pl.DataFrame(data), tz="UTC", category="cat", **kwargs)
    assert a == b
    aware = pl.DataFrame(data).with_columns(pl.col("when").dt.replace_time_zone("Asia/Tokyo"))
    c = TransactionLog.from_frame(aware, **kwargs)
    assert int(c.at[0]) == to_micros(datetime(2024, 1, 1, 1, tzinfo=UTC))


def test_from_csv_with_header(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text(
        "id,time,value,qty\nu1,2024-01-01T10:00:00+02:00,1.10,2\n\nu2,2024-01-02,3,1\n"
    )
    log = TransactionLog.from_csv(
        path, customer="id", at="time", amount="value", quantity="qty", tz="Europe/Paris"
    )
    assert log.amount.tolist() == [110, 300]
    assert log.quantity is not None
    assert log.quantity.tolist() == [2, 1]
    assert log.at.tolist() == [
        to_micros(datetime(2024, 1, 1, 8, tzinfo=UTC)),
        to_micros(datetime(2024, 1, 1, 23, tzinfo=UTC)),
    ]


def test_from_csv_reads_return_flags(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("id;at;amount;ret\na;2024-01-01T00:00Z;10;no\na;2024-01-02T00:00Z;-4;Yes\n")
    log = TransactionLog.from_csv(path, customer="id", delimiter=";", is_return="ret")
    assert log.is_return is not None
    assert log.is_return.tolist() == [False, True]
    assert summarize(log, as_of=datetime(2024, 2, 1, tzinfo=UTC)).total.tolist() == [600]
    path.write_text("id;at;amount;ret\na;2024-01-01T00:00Z;10;maybe\n")
    with pytest.raises(InvalidColumn, match=r"is_return\[0\]='maybe'"):
        TransactionLog.from_csv(path, customer="id", delimiter=";", is_return="ret")


def test_string_int_and_object_ids_order_the_same() -> None:
    at = np.zeros(3, "datetime64[s]")
    assert TransactionLog.from_arrays([10, 2, 10], at, [1, 1, 1], tz="UTC").codes.tolist() == [
        1,
        0,
        1,
    ]
    mixed = TransactionLog.from_arrays(
        np.array([1, "a", 1], dtype=object), at, [1, 1, 1], tz="UTC"
    )
    assert mixed.customer_ids.tolist() == [1, "a"]
    # hash(-1) == hash(-2) in CPython: the exact path takes over on the collision
    clash = TransactionLog.from_arrays(
        np.array([-1, "x", -2], dtype=object), at, [1, 1, 1], tz="UTC"
    )
    assert clash.customer_ids.tolist() == [-2, -1, "x"]
    assert clash.codes.tolist() == [1, 2, 0]
    sparse = TransactionLog.from_arrays([2**60, -5, 2**60], at, [1, 1, 1], tz="UTC")
    assert sparse.customer_ids.tolist() == [-5, 2**60]


def test_float_amounts_are_exact_cents() -> None:
    at = np.zeros(3, "datetime64[s]")
    for dtype in (np.float64, np.float32):
        amount = np.array([29.33, 0.1, 123456.78], dtype=dtype)
        log = TransactionLog.from_arrays([1, 2, 3], at, amount, tz="UTC")
        assert log.amount.tolist() == [2933, 10, 12345678]
    yen = TransactionLog.from_arrays([1], at[:1], [1500.0], tz="UTC", exponent=0)
    assert yen.amount.tolist() == [1500]
    with pytest.raises(InvalidAmount, match="more than 0 decimals"):
        TransactionLog.from_arrays([1], at[:1], [1500.5], tz="UTC", exponent=0)


def test_plain_initializer_checks_lengths() -> None:
    with pytest.raises(InvalidColumn, match="amount has 1 rows, expected 2"):
        TransactionLog(codes=[0, 0], customer_ids=[5], at=[0, 1], amount=[3])


def test_aware_datetime_objects_and_minor_units() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    log = TransactionLog.from_arrays(
        ["a"], [datetime(2024, 7, 1, tzinfo=berlin)], np.array([1999]), minor_units=True
    )
    assert log.at[0] == to_micros(datetime(2024, 6, 30, 22, tzinfo=UTC))
    assert log.amount[0] == 1999


# -- bad input --------------------------------------------------------------------

AT2 = np.array(["2024-01-01", "2024-01-02"], dtype="datetime64[D]")
BAD_INPUT: list[tuple[str, dict[str, Any], type[LoyaltyError], str]] = [
    ("nan amount", {"amount": [1.0, float("nan")]}, InvalidColumn, r"amount\[1\]=nan"),
    ("inf amount", {"amount": [float("inf"), 1.0]}, InvalidColumn, r"amount\[0\]=inf"),
    ("too many decimals", {"amount": [1.005, 1.0]}, InvalidAmount, r"amount\[0\].*2 decimals"),
    ("negative, not a return", {"amount": [1.0, -2.0]}, InvalidAmount, r"amount\[1\].*negat"),
    (
        "negative, other row flagged",
        {"amount": [1.0, -2.0], "is_return": [True, False]},
        InvalidAmount,
        r"amount\[1\] is negative but not flagged",
    ),
    (
        "positive return",
        {"amount": [1.0, 2.0], "is_return": [False, True]},
        InvalidAmount,
        r"amount\[1\] is a return with a positive",
    ),
    ("huge amount", {"amount": [1e20, 1.0]}, InvalidAmount, r"amount\[0\]=1e\+20 is too large"),
    ("bad decimal text", {"amount": ["1.0", "abc"]}, InvalidColumn, r"amount\[1\]"),
    ("bool amounts", {"amount": [True, False]}, InvalidType, "bool"),
    (
        "NaT",
        {"at": np.array(["2024-01-01", "NaT"], dtype="datetime64[D]")},
        InvalidColumn,
        r"at\[1\] is NaT",
    ),
    ("datetime64 without tz", {"tz": None}, NaiveDatetime, "without a zone"),
    (
        "naive text",
        {"at": ["2024-01-01T10:00", "2024-01-01T11:00"], "tz": None},
        NaiveDatetime,
        r"at\[0\]='2024-01-01T10:00' has no time zone",
    ),
    (
        "naive datetime",
        {"at": [datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 1, 1)], "tz": None},
        NaiveDatetime,
        r"at\[1\]",
    ),
    (
        "unparseable text",
        {"at": ["2024-01-01T10:00+00:00", "yesterday"]},
        InvalidColumn,
        r"at\[1\]='yesterday' is not a timestamp",
    ),
    ("missing timestamp", {"at": ["2024-01-01T10:00+00:00", None]}, InvalidColumn, r"at\[1\]"),
    ("float timestamps", {"at": [1.0, 2.0]}, InvalidType, "datetime64"),
    ("short column", {"amount": [1.0]}, InvalidColumn, "amount has 1 rows, expected 2"),
    ("None id", {"customer": ["a", None]}, InvalidColumn, r"customer\[1\] is missing"),
    ("NaN id", {"customer": [1.0, float("nan")]}, InvalidColumn, r"customer\[1\] is missing"),
    ("float ids", {"customer": [1.0, 2.0]}, InvalidType, "int or str ids"),
    ("2-d ids", {"customer": [[1, 2]]}, InvalidColumn, "one-dimensional"),
    ("bad zone", {"tz": "Mars/Base"}, InvalidArgument, "Mars/Base"),
    ("bad exponent", {"exponent": 12}, InvalidArgument, "exponent=12"),
    ("float quantity", {"quantity": [1.5, 1.0]}, InvalidColumn, r"quantity\[0\]"),
    ("int is_return", {"is_return": [0, 1]}, InvalidType, "bool column"),
    ("float minor units", {"minor_units": True}, InvalidType, "minor units"),
]


@pytest.mark.parametrize(
    ("case", "change", "error", "pattern"), BAD_INPUT, ids=[row[0] for row in BAD_INPUT]
)
def test_bad_input_is_refused_naming_row_or_column(
    case: str, change: dict[str, Any], error: type[LoyaltyError], pattern: str
) -> None:
    kwargs: dict[str, Any] = {"customer": [1, 2], "at": AT2, "amount": [1.0, 2.0], "tz": "UTC"}
    kwargs.update(change)
    with pytest.raises(error, match=pattern) as info:
        TransactionLog.from_arrays(**kwargs)
    assert pickle.loads(pickle.dumps(info.value)).args == info.value.args


def test_missing_frame_column_names_it() -> None:
    pd = importlib.import_module("pandas")
    df = pd.DataFrame({"customer_id": [1], "amount": [1.0]})
    with pytest.raises(InvalidColumn, match=r"column 'at' \(at\) is missing"):
        TransactionLog.from_frame(df)
    with pytest.raises(InvalidType, match="data frame"):
        TransactionLog.from_frame({"customer_id": [1]})


def test_missing_values_in_frames_name_the_row() -> None:
    pd = importlib.import_module("pandas")
    at = pd.to_datetime(["2024-01-01", "2024-01-02"]).tz_localize("UTC")
    frames = {
        r"customer\[1\] is missing": {
            "customer_id": pd.array([1, None], dtype="Int64"),
            "at": at,
            "amount": [1.0, 2.0],
        },
        r"at\[0\] is NaT": {
            "customer_id": [1, 2],
            "at": pd.to_datetime([None, "2024-01-02"]).tz_localize("UTC"),
            "amount": [1.0, 2.0],
        },
        r"amount\[1\]=nan is not a finite amount": {
            "customer_id": [1, 2],
            "at": at,
            "amount": pd.array([1.0, None], dtype="Float64"),
        },
    }
    for pattern, data in frames.items():
        with pytest.raises(InvalidColumn, match=pattern):
            TransactionLog.from_frame(pd.DataFrame(data))
    with pytest.raises(InvalidColumn, match=r"customer\[2\] is missing \(nan\)"):
        TransactionLog.from_arrays(
            np.array([1, "a", float("nan")], dtype=object),
            np.zeros(3, "datetime64[s]"),
            [1, 2, 3],
            tz="UTC",
        )
    with pytest.raises(InvalidColumn, match=r"customer\[1\]=\[1\] is not hashable"):
        TransactionLog.from_arrays(
            np.array([1, [1]], dtype=object), np.zeros(2, "datetime64[s]"), [1, 2], tz="UTC"
        )


def test_missing_csv_column_and_short_line(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("id,at\nu1,2024-01-01T00:00+00:00\n")
    with pytest.raises(InvalidColumn, match="'amount'"):
        TransactionLog.from_csv(path, customer="id")
    path.write_text("a b c\nd e\n")
    with pytest.raises(InvalidColumn, match="line 2: 2 fields, expected at least 3"):
        TransactionLog.from_csv(path, customer=0, at=1, amount=2, header=False, delimiter=None)


def test_bad_summarize_arguments() -> None:
    log = small_log()
    with pytest.raises(NaiveDatetime):
        summarize(log, as_of=datetime(2024, 1, 1))
    with pytest.raises(InvalidArgument, match="unit='month'"):
        summarize(log, as_of=datetime(2024, 1, 1, tzinfo=UTC), unit="month")  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument, match="IANA"):
        summarize(log, as_of=datetime(2024, 1, 1, tzinfo=UTC), tz=timezone(timedelta(hours=1)))
    with pytest.raises(InvalidType, match="TransactionLog"):
        summarize("log", as_of=datetime(2024, 1, 1, tzinfo=UTC))  # type: ignore[arg-type]


# -- merging ------------------------------------------------------------------------


def test_concat_refuses_mismatched_or_empty() -> None:
    log = small_log()
    a = summarize(log.select(log.customer == "a"), as_of=datetime(2024, 2, 1, tzinfo=UTC))
    b = summarize(log.select(log.customer == "b"), as_of=datetime(2024, 2, 2, tzinfo=UTC))
    with pytest.raises(InvalidArgument, match="differ in as_of"):
        a.merge(b)
    with pytest.raises(EmptyData):
        Summary.concat([])
    with pytest.raises(DuplicateId):
        a.merge(a)
    with pytest.raises(InvalidType):
        Summary.concat([a, "b"])  # type: ignore[list-item]


START = datetime(2023, 1, 1, tzinfo=UTC)
rows = st.lists(
    st.tuples(
        st.integers(0, 12),  # customer
        st.integers(0, 400 * 24),  # hour offset from START
        st.integers(-500, 50_000),  # cents (negatives become returns)
    ),
    min_size=1,
    max_size=60,
)


def build(rows_: list[tuple[int, int, int]], string_ids: bool) -> TransactionLog:
    ids: list[Any] = [f"c{r[0]:02d}" if string_ids else r[0] for r in rows_]
    at = [START + timedelta(hours=r[1]) for r in rows_]
    amount = np.array([r[2] for r in rows_], dtype=np.int64)
    category = [r[1] % 3 for r in rows_]
    return TransactionLog.from_arrays(
        ids, at, amount, minor_units=True, is_return=amount < 0, category=category
    )


@given(rows, st.integers(0, 12), st.booleans(), st.sampled_from(["UTC", "America/Chicago"]))
def test_summarize_of_a_union_is_the_merge_of_the_parts(
    rows_: list[tuple[int, int, int]], cut: int, string_ids: bool, tz: str
) -> None:
    as_of = START + timedelta(days=300)
    log = build(rows_, string_ids)
    codes = np.array([r[0] for r in rows_])
    whole = summarize(log, as_of=as_of, tz=tz)
    left = summarize(log.select(codes < cut), as_of=as_of, tz=tz)
    right = summarize(log.select(codes >= cut), as_of=as_of, tz=tz)
    assert Summary.concat([left, right]) == whole
    assert right.merge(left) == whole
    sub = [r for r in rows_ if r[0] >= cut]
    if sub:  # built on its own (other codes, other labels), the same facts
        assert summarize(build(sub, string_ids), as_of=as_of, tz=tz) == right


@given(rows, st.randoms(use_true_random=False))
def test_summarize_ignores_row_order(rows_: list[tuple[int, int, int]], rnd: Any) -> None:
    shuffled = list(rows_)
    rnd.shuffle(shuffled)
    as_of = START + timedelta(days=200)
    assert summarize(build(rows_, False), as_of=as_of) == summarize(
        build(shuffled, False), as_of=as_of
    )


@given(rows, st.sampled_from(["UTC", "Europe/Berlin", "Australia/Lord_Howe", "Asia/Kolkata"]))
def test_summary_matches_a_plain_python_reference(
    rows_: list[tuple[int, int, int]], tz: str
) -> None:
    zone_ = ZoneInfo(tz)
    as_of = START + timedelta(days=250)
    s = summarize(build(rows_, False), as_of=as_of, unit="day", tz=tz)
    by_customer: dict[int, list[tuple[datetime, int]]] = {}
    for cust, hours, cents in rows_:
        at = START + timedelta(hours=hours)
        if at <= as_of and cents >= 0:
            by_customer.setdefault(cust, []).append((at, cents))
    assert s.customer_id.tolist() == sorted(by_customer)
    as_of_day = as_of.astimezone(zone_).date()
    for i, cust in enumerate(sorted(by_customer)):
        days: dict[date, int] = {}
        for at, cents in by_customer[cust]:
            day = at.astimezone(zone_).date()
            days[day] = days.get(day, 0) + cents
        ordered = sorted(days)
        f = s.facts(i)
        instants = [at for at, _ in by_customer[cust]]
        assert f.first_at == min(instants)
        assert f.last_at == max(instants)
        assert f.count == len(instants)
        net = [c for k, h, c in rows_ if k == cust and START + timedelta(hours=h) <= as_of]
        assert f.total == sum(net)  # returns (negative) net against the purchases
        if len(ordered) > 1:
            on_previous = [at for at in instants if at.astimezone(zone_).date() == ordered[-2]]
            assert f.previous_at == max(on_previous)
        else:
            assert f.previous is None
        assert f.frequency == len(ordered) - 1
        assert f.recency == (ordered[-1] - ordered[0]).days
        assert (as_of_day - ordered[0]).days == f.T
        assert (as_of_day - ordered[-1]).days == f.days_since_last
        repeat = [days[d] for d in ordered[1:]]
        assert f.monetary == pytest.approx(sum(repeat) / len(repeat) / 100 if repeat else 0.0)
        gaps = sorted((b - a).days for a, b in itertools.pairwise(ordered))
        if gaps:
            assert f.median_gap == pytest.approx(float(np.median(gaps)))


# -- calibration / holdout ----------------------------------------------------------


def test_calibration_holdout_on_cdnow(data_dir: Path) -> None:
    log = cdnow_log(data_dir)
    split = calibration_holdout(
        log,
        calibration_end=datetime(1997, 9, 30, tzinfo=UTC),
        observation_end=datetime(1998, 6, 30, tzinfo=UTC),
    )
    assert isinstance(split, CalibrationHoldout)
    assert split.calibration == summarize(log, as_of=CDNOW_END)
    i = split.calibration.index_of("0001")
    assert split.holdout_frequency[i] == 1  # 1997-12-12
    assert split.holdout_monetary[i] == pytest.approx(26.48)
    assert split.duration == pytest.approx(273 / 7)
    assert pickle.loads(pickle.dumps(split)) == split


def test_calibration_holdout_needs_a_later_end() -> None:
    with pytest.raises(InvalidTime):
        calibration_holdout(
            small_log(),
            calibration_end=datetime(2024, 1, 10, tzinfo=UTC),
            observation_end=datetime(2024, 1, 10, tzinfo=timezone(timedelta(hours=1))),
        )


def test_facts_properties() -> None:
    f = Facts("x", 0, 86_400_000_000, 86_400_000_000, 2, 1, 1.0, 2.0, 1.0, 3.0, 600, 3.0, 1.0, 0)
    assert f.previous_at == datetime(1970, 1, 2, tzinfo=UTC)
    assert f.first_at == datetime(1970, 1, 1, tzinfo=UTC)


def test_an_empty_log_summarizes_to_an_empty_summary() -> None:
    log = TransactionLog.from_arrays([], [], [])
    assert len(log) == log.n_customers == 0
    assert len(summarize(log, as_of=datetime(2024, 1, 1, tzinfo=UTC))) == 0


@pytest.mark.parametrize(
    ("body", "line", "column"),
    [
        ("c1,2024-01-01T00:00+00:00,5\n\nc2,2024-01-02T00:00+00:00,abc\n", 4, "amount"),
        ("c1,2024-01-01T00:00+00:00,5\nc2,not a time,5\n", 3, "at"),
        ("c1,2024-01-01T00:00+00:00,-5\n", 2, "amount"),
        ("c1,2024-01-01T00:00+00:00\n", 2, None),
    ],
)
def test_csv_errors_name_the_file_line_and_column(
    tmp_path: Path, body: str, line: int, column: str | None
) -> None:
    path = tmp_path / "orders.csv"
    path.write_text("customer_id,at,amount\n" + body)
    with pytest.raises(LoyaltyError) as info:
        TransactionLog.from_csv(path)
    err = info.value
    assert (err.line, err.path) == (line, str(path))  # type: ignore[attr-defined]
    assert str(err).startswith(f"{path}, line {line}")
    if column is not None:
        assert err.column == column  # type: ignore[attr-defined]
        assert f"column {column!r}" in str(err)


def test_csv_missing_column_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "orders.csv"
    path.write_text("customer_id,at\nc1,2024-01-01T00:00+00:00\n")
    with pytest.raises(InvalidColumn, match="column 'amount'") as info:
        TransactionLog.from_csv(path)
    assert str(info.value).startswith(str(path))

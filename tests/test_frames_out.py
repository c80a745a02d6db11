"""Every tabular result converts to pyarrow, pandas and polars with typed columns.

One table below lists each result with the kind of each of its columns; the
tests derive the expected pyarrow, pandas and polars type of each column from
its kind, check the values agree across the three targets (nulls where the
numpy column holds its missing sentinel), and read each result through the
Arrow C stream from polars, pyarrow and DuckDB.
"""

from __future__ import annotations

import pickle
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

from loyaltycore import metrics
from loyaltycore.clv import Histories
from loyaltycore.errors import InvalidArgument
from loyaltycore.lifecycle import stage_table, transition_matrix
from loyaltycore.points import PointsLedger
from loyaltycore.predicates import Always, Event, Member
from loyaltycore.rules import FixedPoints, PointsPerSpend, Rule, RuleSet
from loyaltycore.segments import Segment as Seg
from loyaltycore.segments import SegmentSet, rfm_scores
from loyaltycore.transactions import TransactionLog, calibration_holdout, summarize

AS_OF = datetime(2024, 4, 1, tzinfo=UTC)


def _log(ids: str = "str") -> TransactionLog:
    customer: list[Any] = ["0042", "b", "0042", "c", "b"]
    if ids == "int":
        customer = [100_000_000_042, 7, 100_000_000_042, 9, 7]
    return TransactionLog.from_arrays(
        customer,
        ["2024-01-05", "2024-01-20", "2024-02-03", "2024-02-10", "2024-03-01"],
        ["10.50", "4", "6.25", "1", "2"],
        tz="UTC",
        category=["tea", "cake", "tea", "tea", "coffee"],
        is_return=[False, False, False, False, False],
        quantity=[1, 2, 1, 1, 3],
    )


def _summary_kinds() -> dict[str, str]:
    kinds = {"customer_id": "id:str"} | dict.fromkeys(("first", "previous", "last"), "instant")
    kinds |= dict.fromkeys(("count", "frequency"), "int")
    kinds |= dict.fromkeys(("recency", "T", "days_since_last", "monetary"), "float")
    return kinds | {"total": "money", "aov": "float", "median_gap": "float", "categories": "int"}


def _batch() -> Any:
    rs = RuleSet(
        [
            Rule("base", Always(), PointsPerSpend("2"), base=True),
            Rule("bonus", Always(), FixedPoints(5)),
        ]
    )
    at = datetime(2024, 1, 1, tzinfo=UTC)
    events = [Event("o1", "purchase", at, "12.50"), Event("o2", "purchase", at, "3")]
    return rs.evaluate_batch(events, [Member("m1"), Member("m2")])


def _statement() -> Any:
    at = datetime(2024, 1, 5, tzinfo=UTC)
    ledger = PointsLedger.open("m-1").earn("e1", at=at, points=100)
    ledger = ledger.redeem("r1", at=at + timedelta(hours=1), points=40)
    return ledger.statement(datetime(2024, 1, 1, tzinfo=UTC), at + timedelta(days=1))


CUSTOMERS = ["a", "b", "a", "c", "b", "a"]
STAMPS = np.array(
    ["2024-01-03", "2024-01-09", "2024-02-04", "2024-02-10", "2024-03-01", "2024-03-02"],
    dtype="datetime64[D]",
)

#: (name, build the result, {column: kind}); "id:str" / "id:int" say which ids.
RESULTS: list[tuple[str, Callable[[], Any], dict[str, str]]] = [
    ("Summary", lambda: summarize(_log(), as_of=AS_OF), _summary_kinds()),
    (
        "Summary int ids",
        lambda: summarize(_log("int"), as_of=AS_OF),
        {**_summary_kinds(), "customer_id": "id:int"},
    ),
    (
        "TransactionLog",
        _log,
        {
            "customer_id": "id:str",
            "at": "instant",
            "amount": "money",
            "quantity": "int",
            "category": "category",
            "is_return": "bool",
        },
    ),
    (
        "CalibrationHoldout",
        lambda: calibration_holdout(
            _log(), calibration_end=datetime(2024, 2, 1, tzinfo=UTC), observation_end=AS_OF
        ),
        {**_summary_kinds(), "holdout_frequency": "int", "holdout_monetary": "float"},
    ),
    (
        "PeriodRates",
        lambda: metrics.retention_rate(CUSTOMERS, STAMPS, tz="UTC", as_of=AS_OF),
        {"period": "date", "numerator": "int", "denominator": "int", "rate": "float"},
    ),
    (
        "CohortTable",
        lambda: metrics.cohort_retention(CUSTOMERS, STAMPS, tz="UTC", as_of=AS_OF),
        {"cohort": "date", "offset": "int", "size": "int", "customers": "int", "rate": "float"},
    ),
    (
        "CustomerValues",
        lambda: metrics.historic_clv(CUSTOMERS, [1.0, 2, 3, 4, 5, 6]),
        {"customer_id": "id:str", "value": "float"},
    ),
    (
        "RedemptionCurve",
        lambda: metrics.RedemptionCurve.fit([100, 100], [[40, 60], [50, np.nan]]),
        {"age": "int", "cumulative": "float", "factor": "float"},
    ),
    (
        "Distribution",
        lambda: metrics.tier_distribution(["gold", "base"], labels=["base", "gold", "vip"]),
        {"label": "category", "count": "int", "share": "float"},
    ),
    (
        "MigrationMatrix",
        lambda: metrics.migration_matrix(["a", "a", "b"], ["a", "b", "b"]),
        {"before": "category", "after": "category", "count": "int", "rate": "float"},
    ),
    (
        "TransitionMatrix",
        lambda: transition_matrix(["new", "active"], ["active", "churned"]),
        {"before": "category", "after": "category", "count": "int", "rate": "float"},
    ),
    (
        "StageTable",
        lambda: stage_table(summarize(_log(), as_of=AS_OF), as_of=AS_OF),
        {"customer_id": "id:str", "stage": "category"},
    ),
    (
        "RFMScores",
        lambda: rfm_scores([1, 5, 30, 90], [9, 4, 2, 0], [90, 40, 15, 5], bins=2),
        {"r": "int", "f": "int", "m": "int", "code": "int"},
    ),
    (
        "Assignment",
        lambda: SegmentSet([Seg("busy", Always())]).assign({"frequency": np.arange(3)}),
        {"segment": "category"},
    ),
    (
        "Membership",
        lambda: SegmentSet([Seg("a", Always()), Seg("b", ~Always())], mode="all").evaluate(
            {"frequency": np.arange(2)}
        ),
        {"a": "bool", "b": "bool"},
    ),
    (
        "BatchEvaluation",
        _batch,
        {
            "event_id": "id:str",
            "member_id": "id:str",
            "eligible": "money",
            "points": "int",
            "award:base": "int",
            "outcome:base": "category",
            "award:bonus": "int",
            "outcome:bonus": "category",
        },
    ),
    (
        "Statement",
        _statement,
        {
            "at": "instant",
            "day": "date",
            "kind": "category",
            "id": "text",
            "text": "text",
            "change": "int",
            "balance": "int",
        },
    ),
    (
        "Histories",
        lambda: Histories(np.array([2.0, 0]), np.array([3.0, 0]), np.array([9.0, 9]), "week"),
        {"frequency": "float", "recency": "float", "T": "float"},
    ),
]

IDS = [name for name, _, _ in RESULTS]

ARROW = {
    "instant": pa.timestamp("us", tz="UTC"),
    "date": pa.date32(),
    "money": pa.int64(),
    "category": pa.dictionary(pa.int32(), pa.string()),
    "int": pa.int64(),
    "float": pa.float64(),
    "bool": pa.bool_(),
    "id:int": pa.int64(),
    "id:str": pa.string(),
    "text": pa.string(),
}
POLARS = {
    "instant": pl.Datetime("us", "UTC"),
    "date": pl.Date(),
    "money": pl.Int64(),
    "int": pl.Int64(),
    "float": pl.Float64(),
    "bool": pl.Boolean(),
    "id:int": pl.Int64(),
    "id:str": pl.String(),
    "text": pl.String(),
}
PANDAS = {
    "instant": "datetime64[us, UTC]",
    "date": "datetime64[s]",
    "money": "int64",
    "category": "category",
    "int": "int64",
    "float": "float64",
    "bool": "bool",
    "id:int": "int64",
}


@pytest.mark.parametrize(("name", "build", "kinds"), RESULTS, ids=IDS)
def test_arrow_types(name: str, build: Callable[[], Any], kinds: dict[str, str]) -> None:
    table = build().to_arrow()
    assert table.column_names == list(kinds)
    for column, kind in kinds.items():
        assert table.schema.field(column).type == ARROW[kind], column


@pytest.mark.parametrize(("name", "build", "kinds"), RESULTS, ids=IDS)
def test_polars_types(name: str, build: Callable[[], Any], kinds: dict[str, str]) -> None:
    frame = build().to_polars()
    assert frame.columns == list(kinds)
    for column, kind in kinds.items():
        dtype = frame.schema[column]
        if kind == "category":
            assert isinstance(dtype, pl.Enum), column
        else:
            assert dtype == POLARS[kind], column


@pytest.mark.parametrize(("name", "build", "kinds"), RESULTS, ids=IDS)
def test_pandas_types(name: str, build: Callable[[], Any], kinds: dict[str, str]) -> None:
    frame = build().to_pandas()
    assert list(frame.columns) == list(kinds)
    for column, kind in kinds.items():
        dtype = frame[column].dtype
        if kind in ("id:str", "text"):
            assert pd.api.types.is_string_dtype(dtype), column
        elif kind == "int" and frame[column].isna().any():
            assert str(dtype) == "Int64", column
        else:
            assert str(dtype) == PANDAS[kind], column


def _plain(value: Any) -> Any:
    """A value as Python compares it across the three libraries (None for null)."""
    if value is None or value is pd.NaT or (isinstance(value, float) and np.isnan(value)):
        return None
    if value is pd.NA:
        return None
    if isinstance(value, pd.Timestamp):
        value = value.to_pydatetime()
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.date()  # a pandas local date (midnight, naive)
    if isinstance(value, np.generic):
        return value.item()
    return value


@pytest.mark.parametrize(("name", "build", "kinds"), RESULTS, ids=IDS)
def test_values_agree_across_targets(
    name: str, build: Callable[[], Any], kinds: dict[str, str]
) -> None:
    result = build()
    arrow = result.to_arrow().to_pylist()
    polars = result.to_polars().to_dicts()
    pandas = result.to_pandas().astype(object).to_dict("records")
    assert len(arrow) == len(polars) == len(pandas) > 0
    for a, p, d in zip(arrow, polars, pandas, strict=True):
        assert {k: _plain(v) for k, v in a.items()} == {k: _plain(v) for k, v in p.items()}
        assert {k: _plain(v) for k, v in a.items()} == {k: _plain(v) for k, v in d.items()}


def test_summary_values_and_nulls() -> None:
    s = summarize(_log(), as_of=AS_OF)
    rows = {row["customer_id"]: row for row in s.to_arrow().to_pylist()}
    assert rows["0042"]["total"] == 1675  # leading zeros kept, money in minor units
    assert rows["c"]["previous"] is None  # one purchase day: MISSING becomes null
    assert rows["c"]["median_gap"] is None  # NaN becomes null
    assert rows["b"]["first"] == datetime(2024, 1, 20, tzinfo=UTC)
    assert s.to_pandas()["previous"].isna().tolist() == [False, False, True]


def test_money_float_view() -> None:
    s = summarize(_log(), as_of=AS_OF)
    assert s.to_pandas(money="float")["total"].tolist() == [16.75, 6.0, 1.0]
    assert s.to_polars(money="float")["total"].dtype == pl.Float64
    assert s.to_arrow(money="float").schema.field("total").type == pa.float64()
    assert s.to_pandas()["total"].tolist() == [1675, 600, 100]
    with pytest.raises(InvalidArgument, match=r"money='cents' must be 'minor'"):
        s.to_pandas(money="cents")  # type: ignore[arg-type]


def test_local_dates_and_categories() -> None:
    table = metrics.cohort_retention(CUSTOMERS, STAMPS, tz="UTC", as_of=AS_OF)
    frame = table.to_polars()
    assert frame["cohort"].to_list()[:3] == [date(2024, 1, 1)] * 3
    assert frame["offset"].to_list()[:3] == [0, 1, 2]
    assert frame.height == 6  # 3 cohorts: 3 + 2 + 1 observed cells
    assigned = SegmentSet([Seg("busy", ~Always())]).assign({"frequency": np.arange(2)})
    assert assigned.to_pandas()["segment"].isna().all()  # -1 (no segment) becomes null
    assert assigned.to_arrow().column("segment").null_count == 2
    assert assigned.to_polars()["segment"].null_count() == 2


@pytest.mark.parametrize(("name", "build", "kinds"), RESULTS, ids=IDS)
def test_arrow_c_stream(name: str, build: Callable[[], Any], kinds: dict[str, str]) -> None:
    import duckdb

    result = build()
    expected = result.to_arrow()
    assert pa.table(result).equals(expected)
    assert pl.DataFrame(result).columns == list(kinds)
    relation = duckdb.from_arrow(result)
    assert relation.columns == list(kinds)
    assert len(relation.fetchall()) == expected.num_rows


def test_duckdb_queries_a_result_by_name() -> None:
    import duckdb

    summary = summarize(_log(), as_of=AS_OF)  # noqa: F841 (read by name in the query)
    query = "select customer_id, total from summary order by customer_id"
    assert duckdb.sql(query).fetchall() == [("0042", 1675), ("b", 600), ("c", 100)]


@pytest.mark.parametrize(("name", "build", "kinds"), RESULTS, ids=IDS)
def test_results_still_pickle(name: str, build: Callable[[], Any], kinds: dict[str, str]) -> None:
    result = build()
    again = pickle.loads(pickle.dumps(result))
    assert again.to_arrow().equals(result.to_arrow())


@pytest.mark.parametrize(
    ("method", "module", "extra"),
    [("to_pandas", "pandas", "pandas"), ("to_polars", "polars", "polars"),
     ("to_arrow", "pyarrow", "arrow"), ("__arrow_c_stream__", "pyarrow", "arrow")],
)  # fmt: skip
def test_missing_library_names_the_extra(method: str, module: str, extra: str) -> None:
    code = (
        f"import sys; sys.modules[{module!r}] = None\n"
        "from loyaltycore.metrics import tier_distribution\n"
        "try:\n"
        f"    tier_distribution(['a']).{method}()\n"
        "except ImportError as err:\n"
        "    print(type(err).__name__, err)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.startswith("MissingDependency"), out.stdout + out.stderr
    assert f"pip install 'loyaltycore[{extra}]'" in out.stdout


def test_int_column_with_a_null_marker() -> None:
    from loyaltycore._frames import Col, to_arrow, to_pandas, to_polars

    cols = (Col("n", "int", np.array([3, -1, 5]), null=-1),)
    assert to_arrow(cols).column("n").to_pylist() == [3, None, 5]
    assert to_polars(cols)["n"].to_list() == [3, None, 5]
    frame = to_pandas(cols)
    assert str(frame["n"].dtype) == "Int64"
    assert frame["n"].isna().tolist() == [False, True, False]


def test_ids_of_other_types_are_written_as_text() -> None:
    import uuid

    ids = [uuid.UUID(int=2), uuid.UUID(int=1)]
    values = metrics.historic_clv(ids, [1.0, 2.0])
    assert values.to_arrow().column("customer_id").to_pylist() == [str(ids[1]), str(ids[0])]
    assert values.to_polars()["customer_id"].dtype == pl.String


def _tables_with_columns() -> list[tuple[str, Callable[[], Any]]]:
    from loyaltycore.campaigns import assign, balance, breakdown, uplift_by_decile, windows
    from loyaltycore.clv import BetaGeo, frequency_recency_matrix
    from loyaltycore.clv._diagnostics import CumulativeTransactions

    bg = BetaGeo(r=0.243, alpha=4.414, a=0.793, b=2.426, unit="week")
    day = [datetime(2024, 6, d, 12, tzinfo=UTC) for d in (3, 12, 20, 21)]
    log = TransactionLog.from_arrays(["a", "b", "c", "d"], day, ["5", "7", "1", "2"])
    arms = ["treatment", "treatment", "control", "control"]
    return [
        ("CumulativeTransactions", lambda: CumulativeTransactions(
            np.array([1, 2]), np.array([0.0, 3]), np.array([0.5, 2.5]))),
        ("FrequencyRecencyMatrix", lambda: frequency_recency_matrix(
            bg, T=39.0, max_frequency=2, recencies=[13.0, 39.0])),
        ("UpliftTable", lambda: uplift_by_decile(
            [1, 0, 1, 0], [0.9, 0.8, 0.2, 0.1], [True, False] * 2, bins=2)),
        ("Breakdown", lambda: breakdown([1.0, 2.0, 1.0, 2.0], [True, True, False, False],
                                        ["s"] * 4)),
        ("Balance", lambda: balance({"x": [1, 2, 2, 1]}, [True, False, True, False])),
        ("campaigns.Assignment", lambda: assign(["a", "b"], share=0.5, salt="doc")),
        ("Windows", lambda: windows(log, ["a", "b", "c", "d"], arms, start=day[1], end=day[2],
                                    horizons=(7,))),
    ]  # fmt: skip


_ARROW_OF_DTYPE = {"i": pa.int64(), "u": pa.int64(), "f": pa.float64(), "b": pa.bool_()}


@pytest.mark.parametrize("index", range(7))
def test_tables_convert_by_their_columns(index: int) -> None:
    name, build = _tables_with_columns()[index]
    result = build()
    columns = result.columns()
    table = result.to_arrow()
    assert table.column_names == list(columns), name
    for column, values in columns.items():
        kind = np.asarray(values).dtype.kind
        expected = _ARROW_OF_DTYPE.get(kind)
        if expected is not None:
            assert table.schema.field(column).type == expected, (name, column)
    assert result.to_polars().columns == list(columns)
    assert list(result.to_pandas().columns) == list(columns)
    assert result.to_frame("polars").shape == result.to_polars().shape
    assert pa.table(result).num_rows == len(next(iter(columns.values())))
    with pytest.raises(InvalidArgument, match="backend='spark'"):
        result.to_frame("spark")

"""Frames of every engine in: the frame path equals the numpy path.

Each property draws a small transaction table (sparse 12-digit int ids, or
text ids with leading zeros and UUIDs), builds it as a pandas, polars and
pyarrow frame and a DuckDB relation, and checks that the log, its summary,
the KPIs and the segment, RFM and lifecycle results read from the frame equal
those computed from the numpy columns.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loyaltycore import metrics
from loyaltycore.errors import InvalidColumn, InvalidType
from loyaltycore.lifecycle import stage_table, stages
from loyaltycore.predicates import field
from loyaltycore.segments import Segment, SegmentSet, rfm_scores
from loyaltycore.transactions import TransactionLog, summarize

AS_OF = datetime(2024, 7, 1, tzinfo=UTC)
START_US = 1_704_067_200_000_000  # 2024-01-01T00:00Z
SPAN_US = 180 * 86_400_000_000


def _pandas(table: dict[str, Any]) -> Any:
    data = dict(table)
    data["at"] = pd.to_datetime(table["at"], unit="us", utc=True).tz_convert("Europe/Berlin")
    return pd.DataFrame(data)


def _polars(table: dict[str, Any]) -> Any:
    return pl.from_pandas(_pandas(table))


def _arrow(table: dict[str, Any]) -> Any:
    return pa.Table.from_pandas(_pandas(table), preserve_index=False)


def _duckdb(table: dict[str, Any]) -> Any:
    return duckdb.from_arrow(_arrow(table))


BACKENDS: dict[str, Callable[[dict[str, Any]], Any]] = {
    "pandas": _pandas,
    "polars": _polars,
    "pyarrow": _arrow,
    "duckdb": _duckdb,
}

_TEXT_IDS = st.one_of(
    st.integers(0, 999).map(lambda i: f"{i:04d}"),  # "0042": never the number 42
    st.integers(0, 3).map(lambda i: str(uuid.UUID(int=i))),
)
_INT_IDS = st.integers(100_000_000_000, 100_000_000_020)  # sparse 12-digit ids


@st.composite
def tables(draw: st.DrawFn) -> dict[str, Any]:
    n = draw(st.integers(1, 25))
    ids = draw(st.sampled_from([_TEXT_IDS, _INT_IDS]))
    customer = draw(st.lists(ids, min_size=n, max_size=n))
    at = draw(st.lists(st.integers(START_US, START_US + SPAN_US), min_size=n, max_size=n))
    amount = draw(st.lists(st.integers(1, 100_000), min_size=n, max_size=n))
    column = np.empty(n, dtype=object) if isinstance(customer[0], str) else None
    if column is not None:
        column[:] = customer
    return {
        "customer_id": column if column is not None else np.array(customer, dtype=np.int64),
        "at": np.array(at, dtype=np.int64),
        "amount": np.array(amount, dtype=np.int64),
    }


def _numpy_log(table: dict[str, Any]) -> TransactionLog:
    return TransactionLog.from_arrays(
        table["customer_id"], table["at"], table["amount"], minor_units=True
    )


@pytest.mark.parametrize("backend", BACKENDS)
@settings(max_examples=30)
@given(table=tables())
def test_log_and_summary_from_any_frame(backend: str, table: dict[str, Any]) -> None:
    frame = BACKENDS[backend](table)
    log = TransactionLog.from_frame(frame, minor_units=True)
    expected = _numpy_log(table)
    assert log == expected
    assert log.customer_ids.tolist() == expected.customer_ids.tolist()  # "0042" stays text
    assert summarize(log, as_of=AS_OF) == summarize(expected, as_of=AS_OF)


@pytest.mark.parametrize("backend", BACKENDS)
@settings(max_examples=30)
@given(table=tables(), period=st.sampled_from(["week", "month"]))
def test_kpis_from_any_frame(backend: str, table: dict[str, Any], period: str) -> None:
    frame = BACKENDS[backend](table)
    customer, at = table["customer_id"], table["at"]
    kw: dict[str, Any] = {"period": period, "tz": "Europe/Berlin", "as_of": AS_OF}
    cohorts = metrics.cohort_retention("customer_id", "at", data=frame, **kw)
    assert cohorts == metrics.cohort_retention(customer, at, **kw)
    retention = metrics.retention_rate("customer_id", "at", data=frame, **kw)
    assert retention == metrics.retention_rate(customer, at, **kw)
    values = metrics.historic_clv("customer_id", "amount", data=frame, exponent=2)
    assert values == metrics.historic_clv(customer, table["amount"], exponent=2)
    assert metrics.purchase_frequency("customer_id", data=frame) == metrics.purchase_frequency(
        customer
    )


_SUMMARY_FRAMES: dict[str, Callable[[Any], Any]] = {
    "pandas": lambda s: s.to_pandas(),
    "polars": lambda s: s.to_polars(),
    "pyarrow": lambda s: s.to_arrow(),
    "duckdb": lambda s: duckdb.from_arrow(s.to_arrow()),
    "stream": lambda s: s,  # the result itself, read as an Arrow C stream
}

SEGMENTS = SegmentSet(
    [
        Segment("loyal", field("frequency") >= 2),
        Segment("lapsed", field("days_since_last") > 60),
        Segment("big", field("total") >= 50_000),
    ]
)


@pytest.mark.parametrize("backend", _SUMMARY_FRAMES)
@settings(max_examples=30)
@given(table=tables())
def test_segments_rfm_and_stages_from_summary_frames(backend: str, table: dict[str, Any]) -> None:
    summary = summarize(_numpy_log(table), as_of=AS_OF)
    frame = _SUMMARY_FRAMES[backend](summary)
    assert SEGMENTS.assign(frame) == SEGMENTS.assign(summary)
    assert SEGMENTS.evaluate(frame) == SEGMENTS.evaluate(summary)
    assert rfm_scores(data=frame, bins=3) == rfm_scores(data=summary, bins=3)
    codes = stages(frame, as_of=AS_OF, tz="UTC")
    assert codes.tolist() == stages(summary, as_of=summary.as_of).tolist()
    assert stage_table(frame, as_of=AS_OF, tz="UTC") == stage_table(summary, as_of=summary.as_of)
    assert metrics.churn_rate("days_since_last", data=frame, threshold_days=30) == (
        metrics.churn_rate(summary.days_since_last, threshold_days=30)
    )


def test_text_ids_are_never_numbers() -> None:
    frame = pl.DataFrame(
        {"customer_id": ["0042", "42", "007"], "at": [0, 1, 2], "amount": [1] * 3}
    )
    frame = frame.with_columns(pl.col("at").cast(pl.Datetime("us", "UTC")))
    log = TransactionLog.from_frame(frame, minor_units=True)
    assert log.customer_ids.tolist() == ["0042", "007", "42"]
    assert log.n_customers == 3


def test_native_series_are_columns() -> None:
    at = pd.Series(pd.to_datetime(["2024-01-31 23:30", "2024-02-01 00:30"]).tz_localize("UTC"))
    ids = pd.Series(["0042", "0042"], dtype="category")
    table = metrics.cohort_retention(ids, at.dt.tz_convert("Europe/Berlin"), tz="UTC", as_of=AS_OF)
    assert table.counts.tolist() == [[1, 1], [0, 0]]  # read as instants, not wall times


def test_frame_errors_name_the_column() -> None:
    frame = pd.DataFrame({"customer_id": ["a"], "at": pd.to_datetime(["2024-01-01"], utc=True)})
    with pytest.raises(InvalidColumn, match=r"column 'ts' \(at\) is missing; the data has"):
        metrics.retention_rate("customer_id", "ts", data=frame, as_of=AS_OF)
    with pytest.raises(InvalidType, match="data must be a data frame"):
        metrics.retention_rate("customer_id", "at", data=42, as_of=AS_OF)
    lazy = duckdb.from_arrow(pa.table({"customer_id": ["a", None], "at": [1, 2]}))
    with pytest.raises(InvalidColumn, match=r"customer\[1\] is missing"):
        metrics.retention_rate("customer_id", "at", data=lazy, as_of=AS_OF)

"""Plain activity rows read column by column give what the row-by-row check gives."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loyaltycore.errors import InvalidData
from loyaltycore.tiers import Tier, TierProgram, at_least
from loyaltycore.tiers._index import activity_of, checked_entries_of_rows, entries_of_rows
from loyaltycore.tiers._model import METRIC_NAMES

PROGRAM = TierProgram(
    [
        Tier("Blue", 0),
        Tier("Silver", 1, at_least("spend", 300)),
        Tier("Gold", 2, at_least("spend", 1000) & at_least("nights", 10)),
    ]
)
POW10 = PROGRAM._config.pow10
IDS = ["a", "b", "c", "d"]
ZONES = [UTC, timezone(timedelta(hours=2)), timezone(timedelta(hours=-5, minutes=-30))]

instants = st.builds(
    lambda at, zone, micro: (
        (at.replace(microsecond=0) if not micro else at).replace(tzinfo=UTC).astimezone(zone)
    ),
    st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2090, 1, 1)),
    st.sampled_from(ZONES),
    st.booleans(),
)
plain_amounts = st.decimals(
    min_value=Decimal("-5000"), max_value=Decimal("5000"), places=2, allow_nan=False
).map(str)
odd: list[Any] = ["0", "-0.00", "1E+2", " 5 ", "1_000", "NaN", "-Infinity", "sNaN", "1.2345678"]
odd += [5, None, ["1"], "1" * 120, "1e99", "x", "٣"]
amounts = st.one_of(plain_amounts, st.sampled_from(odd))
texts = st.one_of(
    instants.map(datetime.isoformat),
    instants.map(lambda at: at.astimezone(UTC).isoformat().replace("+00:00", "Z")),
    st.sampled_from(["2025-03-01", "2025-03-01T10:00:00", "garbage", "", None, 3, []]),
)
ids = st.one_of(st.sampled_from(IDS), st.sampled_from(["", " ", "\t", 7, None, ["a"]]))
metrics = st.one_of(st.sampled_from(METRIC_NAMES), st.sampled_from(["bogus", 3, None, ["spend"]]))


sources = st.one_of(st.sampled_from(IDS), st.text(min_size=1))


@st.composite
def good_rows(draw: st.DrawFn) -> list[Any]:
    """A row as ActivityIndex.rows writes it (a return reverses an id that may exist)."""
    metric = draw(st.sampled_from(["spend", "nights"]))
    amount = draw(plain_amounts.filter(lambda text: abs(Decimal(text)) >= 1))
    if metric == "nights" and draw(st.integers(0, 9)):  # (else a bad amount: nights are whole)
        amount = str(Decimal(amount).to_integral_value())
    at = draw(instants)
    if draw(st.integers(0, 9)):  # (else another offset than UTC)
        at = at.astimezone(UTC)
    reverses = draw(st.sampled_from(IDS)) if not draw(st.integers(0, 3)) else None
    if reverses is not None and draw(st.integers(0, 9)):  # (else a bad return: amount > 0)
        amount = str(-abs(Decimal(amount)))
    return [metric, amount, at.isoformat(), draw(sources), reverses]


any_rows = st.one_of(
    st.lists(st.one_of(metrics, amounts, texts, ids, st.none()), min_size=5, max_size=5),
    st.builds(lambda *row: list(row), metrics, amounts, texts, ids, st.one_of(st.none(), ids)),
    st.tuples(metrics, amounts, texts, ids, st.none()),
    st.lists(metrics, max_size=6),
    good_rows(),
)
tables = st.one_of(
    st.lists(good_rows(), max_size=12, unique_by=lambda row: (row[3], row[0])),
    st.lists(any_rows, max_size=12),
    st.sampled_from([None, (), {}, "rows"]),
)


def _outcome(read: Any, rows: Any, keys: dict[tuple[str, int], int]) -> tuple[Any, ...]:
    keys = dict(keys)
    try:
        checked, entries = read(rows, POW10, keys, "$.rows")
    except InvalidData as error:
        return ("invalid", str(error), keys)
    assert checked is rows
    return ("ok", entries, keys)


@settings(max_examples=400)
@given(tables, st.lists(good_rows(), max_size=4))
def test_rows_read_as_the_row_by_row_check_reads_them(rows: Any, before: list[Any]) -> None:
    keys: dict[tuple[str, int], int] = {}
    try:
        checked_entries_of_rows(before, POW10, keys, "$.before")
    except InvalidData:
        keys = {}
    assert _outcome(entries_of_rows, rows, keys) == _outcome(checked_entries_of_rows, rows, keys)


@settings(max_examples=200)
@given(st.lists(good_rows(), max_size=15, unique_by=lambda row: (row[3], row[0])))
def test_an_index_of_rows_equals_the_index_of_their_activity(rows: list[Any]) -> None:
    try:
        index = PROGRAM.index_from_rows(rows)
    except InvalidData:
        return
    again = PROGRAM.index([activity_of(row) for row in rows])
    assert index == again
    assert index._entries == again._entries
    assert index._wins == again._wins
    n = len(rows)
    for m, column in index._cum.items():
        assert len(column) == n + 1
        units = [u for _, w_m, u, _ in _by_win(index) if w_m == m]
        assert column[-1] == sum(units)
    for k in range(n + 1):
        for m, column in index._cum.items():
            assert column[k] == sum(u for _, w_m, u, _ in _by_win(index)[:k] if w_m == m)


def _by_win(index: Any) -> list[tuple[int, int, int, int]]:
    return sorted((win, m, units, occ) for occ, win, m, units, _ in index._entries)


def test_utc_rows_in_any_spelling_are_read_as_the_same_instant() -> None:
    at = datetime(2025, 3, 1, 9, 30, tzinfo=UTC)
    spellings = [at.isoformat(), "2025-03-01T09:30:00Z", "2025-03-01T10:30:00+01:00"]
    rows = [["spend", "1.50", text, f"o-{i}", None] for i, text in enumerate(spellings)]
    instants = {occ for occ, *_ in PROGRAM.index_from_rows(rows)._entries}
    assert len(instants) == 1


@settings(max_examples=500)
@given(st.lists(good_rows(), min_size=1, max_size=12, unique_by=lambda row: (row[3], row[0])))
def test_written_rows_read_as_the_row_by_row_check_reads_them(rows: list[Any]) -> None:
    assert _outcome(entries_of_rows, rows, {}) == _outcome(checked_entries_of_rows, rows, {})


def test_an_amount_of_a_huge_exponent_is_a_bad_row_not_a_hang() -> None:
    import pytest

    for amount in ("1e999999999", "1e-999999999", "1e101"):
        rows = [["spend", "1.50", "2025-03-01T09:30:00+00:00", "o-1", None]]
        rows.append(["spend", amount, "2025-03-01T09:30:00+00:00", "o-2", None])
        with pytest.raises(InvalidData, match=r"\[1\]"):
            PROGRAM.index_from_rows(rows, path="$.activity")


@settings(max_examples=60, deadline=None)
@given(
    metric=st.sampled_from(METRIC_NAMES),
    units=st.integers(1, 10**9),
    places=st.integers(0, 2),
    at=instants,
    source=st.sampled_from(IDS),
)
def test_an_entry_made_of_checked_values_is_the_checked_entry(
    metric: str, units: int, places: int, at: datetime, source: str
) -> None:
    from loyaltycore.tiers import Activity
    from loyaltycore.tiers._model import METRICS

    amount = Decimal(units).scaleb(-places if METRICS[metric] != "count" else 0)
    utc = at.astimezone(UTC)
    made = Activity._made(metric, amount, utc, source)
    checked = Activity(metric, amount, utc, source)
    assert made == checked
    assert (made._us, made._m, made._num, made._den) == (
        checked._us,
        checked._m,
        checked._num,
        checked._den,
    )
    assert PROGRAM.index([made]).rows() == PROGRAM.index([checked]).rows()


def test_an_entry_made_of_an_unknown_metric_is_refused_naming_it() -> None:
    from loyaltycore.errors import InvalidRule
    from loyaltycore.tiers import Activity

    at = datetime(2025, 3, 1, tzinfo=UTC)
    with pytest.raises(InvalidRule, match="karma"):
        Activity._made("karma", Decimal(3), at, "a")

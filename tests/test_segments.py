"""Segments on the shared predicate language: two engines proven equal, plain data."""

from __future__ import annotations

import pickle
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import attrs
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from loyaltycore.calendar import to_micros
from loyaltycore.errors import DuplicateId, InvalidArgument, InvalidType
from loyaltycore.predicates import (
    MISSING_INT,
    BirthdayMonth,
    BirthdayWindow,
    Member,
    Predicate,
    during,
    field,
)
from loyaltycore.segments import Assignment, Membership, Segment, SegmentSet

# -- random facts and predicates -------------------------------------------------

INT_FIELDS = ("frequency", "count", "categories")
FLOAT_FIELDS = ("days_since_last", "aov", "T", "monetary")
MONEY_FIELDS = ("total",)

ints = st.integers(min_value=0, max_value=8)
floats = st.sampled_from([0.0, 0.5, 1.0, 2.5, 7.0, 30.0, 90.0])
cents = st.sampled_from([0, 1, 99, 100, 250, 1000, 12345])


def int_column(n: int) -> Any:
    return st.lists(st.one_of(ints, st.just(MISSING_INT)), min_size=n, max_size=n)


def float_column(n: int) -> Any:
    return st.lists(st.one_of(floats, st.just(float("nan"))), min_size=n, max_size=n)


@st.composite
def fact_columns(draw: Any) -> dict[str, np.ndarray]:
    n = draw(st.integers(min_value=0, max_value=25))
    cols: dict[str, np.ndarray] = {}
    for name in INT_FIELDS:
        cols[name] = np.array(draw(int_column(n)), dtype=np.int64)
    for name in MONEY_FIELDS:
        values = draw(st.lists(st.one_of(cents, st.just(MISSING_INT)), min_size=n, max_size=n))
        cols[name] = np.array(values, dtype=np.int64)
    for name in FLOAT_FIELDS:
        cols[name] = np.array(draw(float_column(n)), dtype=np.float64)
    return cols


def leaf() -> Any:
    int_leaf = st.builds(
        lambda name, op, v: field(name)._compare(op, v),
        st.sampled_from(INT_FIELDS),
        st.sampled_from(["==", "!=", "<", "<=", ">", ">="]),
        ints,
    )
    float_leaf = st.builds(
        lambda name, op, v: field(name)._compare(op, v),
        st.sampled_from(FLOAT_FIELDS),
        st.sampled_from(["<", "<=", ">", ">="]),
        floats,
    )
    money_leaf = st.builds(
        lambda op, v: field("total")._compare(op, Decimal(v)),
        st.sampled_from(["<", "<=", ">", ">=", "=="]),
        st.sampled_from(["0", "0.99", "1.005", "2.50", "100"]),
    )
    between = st.builds(
        lambda name, lo, width: field(name).between(lo, lo + width),
        st.sampled_from(INT_FIELDS),
        ints,
        ints,
    )
    isin = st.builds(
        lambda name, values: field(name).isin(values),
        st.sampled_from(INT_FIELDS),
        st.frozensets(ints, min_size=1, max_size=3),
    )
    return st.one_of(int_leaf, float_leaf, money_leaf, between, isin)


predicates: Any = st.recursive(
    leaf(),
    lambda inner: st.one_of(
        st.builds(lambda a, b: a & b, inner, inner),
        st.builds(lambda a, b: a | b, inner, inner),
        st.builds(lambda a: ~a, inner),
    ),
    max_leaves=6,
)


def facts_of(columns: dict[str, np.ndarray], row: int) -> dict[str, Any]:
    """One row of the columns as a facts mapping (missing values as None)."""
    facts: dict[str, Any] = {}
    for name, column in columns.items():
        value = column[row].item()
        missing = value == MISSING_INT if column.dtype.kind == "i" else value != value
        facts[name] = None if missing else value
    return facts


segment_sets = st.lists(predicates, min_size=1, max_size=4).flatmap(
    lambda wheres: st.builds(
        SegmentSet,
        st.just([Segment(f"s{i}", w) for i, w in enumerate(wheres)]),
        st.sampled_from(["first", "all"]),
    )
)


@given(predicates, fact_columns())
def test_a_segment_answers_the_same_one_by_one_and_vectorized(
    where: Predicate, columns: dict[str, np.ndarray]
) -> None:
    segment = Segment("s", where)
    mask = segment.mask(columns, size=len(columns["frequency"]))
    assert mask.dtype == np.bool_
    one_by_one = [segment.contains(facts_of(columns, i)) for i in range(len(mask))]
    assert mask.tolist() == one_by_one


@given(segment_sets, fact_columns())
def test_a_segment_set_answers_the_same_one_by_one_and_vectorized(
    segments: SegmentSet, columns: dict[str, np.ndarray]
) -> None:
    n = len(columns["frequency"])
    membership = segments.evaluate(columns, size=n)
    assignment = segments.assign(columns, size=n)
    for i in range(n):
        scalar = segments.of(facts_of(columns, i))
        assert membership.of(i) == scalar
        first = (
            segments.segments
            and [s.name for s in segments.segments if s.contains(facts_of(columns, i))][:1]
        )
        assert assignment.labels()[i] == (first[0] if first else None)
    if segments.mode == "first":
        assert (membership.matches.sum(axis=1) <= 1).all()


# -- time windows as of a date ---------------------------------------------------

JOINED = [
    datetime(2024, 1, 1, 23, 30, tzinfo=UTC),
    datetime(2024, 2, 10, 12, tzinfo=UTC),
    datetime(2024, 3, 1, 0, 0, tzinfo=UTC),
]


BIRTHDAYS = [date(1990, 12, 30), date(2000, 2, 29), None]  # year end, leap day, none


@given(
    st.datetimes(
        min_value=datetime(2024, 1, 1), max_value=datetime(2025, 6, 1), timezones=st.just(UTC)
    ),
    st.sampled_from(["UTC", "Asia/Tokyo", "America/New_York"]),
)
def test_time_window_conditions_are_read_as_of_the_given_date(as_of: datetime, tz: str) -> None:
    windows = SegmentSet(
        [
            Segment("birthday_week", BirthdayWindow(before=3, after=3)),
            Segment("new", field("days_since_joined").between(0, 30)),
            Segment("spring_campaign", during(date(2024, 3, 1), date(2024, 5, 31))),
            Segment("birthday_month", BirthdayMonth()),
            Segment("settled", field("days_since_joined") > 30),
        ],
        mode="all",
    )
    members = [
        Member(f"m{i}", joined_at=at, birthday=born)
        for i, (at, born) in enumerate(zip(JOINED, BIRTHDAYS, strict=True))
    ]
    columns = {
        "joined_at": np.array([to_micros(at) for at in JOINED], dtype=np.int64),
        "birthday": np.array(
            [MISSING_INT if b is None else (b - date(1970, 1, 1)).days for b in BIRTHDAYS],
            dtype=np.int64,
        ),
    }
    membership = windows.evaluate(columns, as_of=as_of, tz=tz)
    assert [membership.of(i) for i in range(3)] == [
        windows.of(member=m, as_of=as_of, tz=tz) for m in members
    ]
    first = attrs.evolve(windows, mode="first")
    assert first.assign(columns, as_of=as_of, tz=tz).labels().tolist() == [
        (first.of(member=m, as_of=as_of, tz=tz) or (None,))[0] for m in members
    ]


def test_a_window_moves_with_the_as_of_date() -> None:
    recent = Segment("joined_recently", field("days_since_joined") <= 30)
    member = Member("m1", joined_at=datetime(2024, 3, 1, 12, tzinfo=UTC))
    day = datetime(2024, 3, 1, 12, tzinfo=UTC)
    assert recent.contains(member=member, as_of=day + timedelta(days=30))
    assert not recent.contains(member=member, as_of=day + timedelta(days=31))
    columns = {"joined_at": np.array([to_micros(member.joined_at)])}
    assert recent.mask(columns, as_of=day + timedelta(days=30)).tolist() == [True]
    assert recent.mask(columns, as_of=day + timedelta(days=31)).tolist() == [False]


# -- values ----------------------------------------------------------------------


def test_segments_pickle_and_compare_by_value() -> None:
    regulars = SegmentSet(
        [Segment("vip", field("aov") >= 100.0, "big baskets"), Segment("x", field("count") > 1)],
        mode="all",
    )
    assert pickle.loads(pickle.dumps(regulars)) == regulars
    assert regulars.names == ("vip", "x")
    result = regulars.evaluate({"aov": np.array([150.0]), "count": np.array([2])})
    assert isinstance(result, Membership)
    assert pickle.loads(pickle.dumps(result)) == result
    assigned = regulars.assign({"aov": np.array([150.0]), "count": np.array([2])})
    assert isinstance(assigned, Assignment)
    assert assigned.labels().tolist() == ["vip"]


BAD: list[tuple[str, Any, type[Exception], str]] = [
    ("name empty", lambda: Segment("", field("count") > 1), InvalidArgument, "name=''"),
    ("name int", lambda: Segment(5, field("count") > 1), InvalidType, "name=5"),
    ("where not predicate", lambda: Segment("a", "count > 1"), InvalidType, "where="),
    ("description", lambda: Segment("a", field("count") > 1, 5), InvalidType, "description=5"),
    (
        "duplicate",
        lambda: SegmentSet([Segment("a", field("count") > 1)] * 2),
        DuplicateId,
        "'a' appears twice",
    ),
    ("not segments", lambda: SegmentSet(["a"]), InvalidType, r"segments\[0\]='a'"),
    ("one segment", lambda: SegmentSet(Segment("a", field("count") > 1)), InvalidType, "sequence"),
    (
        "columns",
        lambda: Segment("a", field("count") > 1).mask([1, 2]),
        InvalidType,
        "columns must be a mapping",
    ),
    (
        "mode",
        lambda: SegmentSet([Segment("a", field("count") > 1)], mode="any"),
        InvalidArgument,
        "mode='any'",
    ),
]


@pytest.mark.parametrize(
    ("build", "error", "message"), [case[1:] for case in BAD], ids=[case[0] for case in BAD]
)
def test_bad_segments_raise_a_named_error(
    build: Any, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        build()


def test_importing_segments_loads_no_optional_extra() -> None:
    import subprocess
    import sys

    code = (
        "import sys, loyaltycore.segments\n"
        "heavy = {'scipy', 'pandas', 'polars', 'matplotlib', 'sklearn', 'hypothesis'}\n"
        "print(','.join(sorted(heavy & {m.split('.')[0] for m in sys.modules})))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == ""


@given(segment_sets)
def test_segment_sets_round_trip_through_plain_data(segments: SegmentSet) -> None:
    from loyaltycore import serialize

    text = serialize.dumps(segments)
    again = serialize.loads(text, SegmentSet)
    assert again == segments
    assert serialize.dumps(again) == text

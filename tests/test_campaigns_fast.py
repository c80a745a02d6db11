"""The read-out's speed tricks agree with the plain definitions they replace."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loyaltycore.campaigns import windows
from loyaltycore.campaigns._fast import interval_sums, member_of_code, spread
from loyaltycore.errors import InvalidColumn, InvalidType, LoyaltyError
from loyaltycore.transactions import TransactionLog

START = datetime(2024, 6, 10, tzinfo=UTC)
END = datetime(2024, 6, 17, tzinfo=UTC)


def _text(value: object) -> str:
    return str(int(value)) if isinstance(value, int | np.integer) else str(value)


def _plain_member_of_code(members: list[object], ids: list[object]) -> list[int]:
    index = {_text(m): i for i, m in enumerate(members)}
    return [index.get(_text(v), -1) for v in ids]


IDS = st.one_of(
    st.integers(-5, 40),
    st.text(alphabet="ab1\x00\u00e9", max_size=3),
)


def _objects(values: list[object]) -> np.ndarray:
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


@settings(max_examples=200)
@given(st.lists(IDS, max_size=12), st.lists(IDS, max_size=12))
def test_member_of_code_is_a_lookup_by_text(members: list[object], ids: list[object]) -> None:
    texts = [_text(m) for m in members]
    if len(set(texts)) < len(texts):
        with pytest.raises(InvalidColumn, match="repeats members"):
            member_of_code(_objects(members), _objects(ids))
        return
    got = member_of_code(_objects(members), _objects(ids))
    assert got.tolist() == _plain_member_of_code(members, ids)


@given(st.lists(st.integers(-(2**62), 2**62), max_size=12, unique=True), st.data())
def test_member_of_code_on_ints_needs_no_text(members: list[int], data: st.DataObject) -> None:
    ids = data.draw(st.lists(st.sampled_from([*members, 7, -7]), max_size=12, unique=True))
    got = member_of_code(np.array(members, dtype=np.int64), np.array(ids, dtype=np.int64))
    assert got.tolist() == _plain_member_of_code(list(members), list(ids))


def test_the_first_repeat_is_named_with_its_first_occurrence() -> None:
    members = _objects(["x", "b", 3, "a", "b", "3", "a"])
    with pytest.raises(InvalidColumn, match=r"members\[4\]='b' repeats members\[1\]"):
        member_of_code(members, _objects([]))


def test_ids_that_differ_only_by_a_trailing_nul_stay_apart() -> None:
    members = _objects(["a", "a\x00"])
    assert member_of_code(members, _objects(["a\x00", "a", "b"])).tolist() == [1, 0, -1]


def test_very_long_ids_are_matched_without_a_wide_array() -> None:
    long = "x" * 10_000
    members = _objects(["a", long, 7])
    assert member_of_code(members, _objects(["7", long, "b"])).tolist() == [2, 1, -1]
    with pytest.raises(InvalidColumn, match=r"members\[3\]=7 repeats members\[2\]"):
        member_of_code(_objects([*members, 7]), _objects([]))


@settings(max_examples=100)
@given(
    st.lists(st.tuples(st.integers(0, 4), st.integers(-5, 30), st.integers(-99, 99)), max_size=40),
    st.lists(st.integers(0, 25), min_size=1, max_size=20, unique=True),
)
def test_interval_sums_are_sums_over_each_interval(
    rows: list[tuple[int, int, int]], edges: list[int]
) -> None:
    edges.sort()
    codes = np.array([r[0] for r in rows], dtype=np.int64)
    at = np.array([r[1] for r in rows], dtype=np.int64)
    values = np.array([r[2] for r in rows], dtype=np.int64)
    (got,) = interval_sums(codes, at, [values], np.array(edges, dtype=np.int64), 5)
    assert got.shape == (5, len(edges) - 1)
    for code in range(5):
        for k in range(len(edges) - 1):
            want = sum(v for c, t, v in rows if c == code and edges[k] <= t < edges[k + 1])
            assert got[code, k] == want


def test_spread_leaves_unmatched_members_at_zero() -> None:
    table = np.array([[1, 2], [3, 4]], dtype=np.int64)
    assert spread(table, np.array([2, -1]), 3).tolist() == [[0, 0], [0, 0], [1, 2]]


@settings(max_examples=40)
@given(
    st.lists(
        st.tuples(st.integers(0, 9), st.integers(-40 * 24, 50 * 24), st.integers(-50, 50)),
        max_size=60,
    )
)
def test_points_are_summed_over_the_same_windows_as_spend(
    rows: list[tuple[int, int, int]],
) -> None:
    customer = [f"c{r[0]}" for r in rows]
    at = np.array([START + timedelta(hours=r[1]) for r in rows], dtype=object)
    points = np.array([r[2] for r in rows], dtype=np.int64)
    log = TransactionLog.from_arrays(customer, at, np.full(len(rows), 100), minor_units=True)
    members = [f"c{i}" for i in range(8)]
    r = windows(log, members, [True, False] * 4, start=START, end=END, horizons=(3, 30),
                points=points)  # fmt: skip
    assert r.points_during is not None
    assert r.points_pre is not None
    assert r.points_post is not None
    for i, m in enumerate(members):
        mine = [(t, p) for c, t, p in zip(customer, at, points, strict=True) if c == m]
        assert r.points_during[i] == sum(p for t, p in mine if START <= t < END)
        for j, days in enumerate((3, 30)):
            span = timedelta(days=days)
            assert r.points_pre[i, j] == sum(p for t, p in mine if START - span <= t < START)
            assert r.points_post[i, j] == sum(p for t, p in mine if END <= t < END + span)
    assert windows(log, members, [True, False] * 4, start=START, end=END).points_during is None


@pytest.mark.parametrize(
    ("points", "error", "message"),
    [
        ([1, 2], InvalidColumn, "points has 2 rows, expected 1"),
        ([1.5], InvalidType, "points must be an int column"),
    ],
)
def test_points_must_be_ints_aligned_with_the_log(
    points: list[float], error: type[LoyaltyError], message: str
) -> None:
    log = TransactionLog.from_arrays(["a"], np.array([START], dtype=object), [1])
    with pytest.raises(error, match=message):
        windows(log, ["a", "b", "c", "d"], [True, True, False, False], start=START, end=END,
                points=points)  # fmt: skip

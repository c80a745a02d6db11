"""RFM scores, the named RFM grid and coverage checks."""

from __future__ import annotations

import pickle
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from loyaltycore.errors import EmptyData, InvalidArgument, InvalidColumn, InvalidRule, InvalidType
from loyaltycore.segments import (
    RFM_SEGMENTS,
    Assignment,
    RFMEdges,
    RFMScores,
    SegmentMap,
    all_cells,
    check_coverage,
    rfm_scores,
)

# The grid of the specification, typed out again on purpose: R rows, FM columns.
EXPECTED_GRID = {
    5: ["new", "potential_loyalist", "potential_loyalist", "champions", "champions"],
    4: ["promising", "potential_loyalist", "potential_loyalist", "loyal", "loyal"],
    3: ["about_to_sleep", "about_to_sleep", "need_attention", "loyal", "loyal"],
    2: ["hibernating", "hibernating", "at_risk", "at_risk", "cant_lose"],
    1: ["lost", "hibernating", "at_risk", "at_risk", "cant_lose"],
}
CELLS = [(r, f, m) for r in range(1, 6) for f in range(1, 6) for m in range(1, 6)]


@pytest.mark.parametrize(("r", "f", "m"), CELLS, ids=[f"{r}{f}{m}" for r, f, m in CELLS])
def test_each_of_the_125_cells_has_the_segment_of_the_grid(r: int, f: int, m: int) -> None:
    expected = EXPECTED_GRID[r][(f + m + 1) // 2 - 1]
    assert RFM_SEGMENTS.segment_of(r, f, m) == expected
    owners = [name for name, cells in RFM_SEGMENTS.segments if (r, f, m) in cells]
    assert owners == [expected]
    scores = RFMScores(
        r=[r], f=[f], m=[m], edges=RFMEdges((1, 2, 3, 4), (1, 2, 3, 4), (1, 2, 3, 4))
    )
    assert RFM_SEGMENTS.assign(scores).labels().tolist() == [expected]


def test_the_rfm_map_covers_every_cell_once() -> None:
    report = check_coverage(RFM_SEGMENTS)
    assert report.ok
    assert (report.gaps, report.overlaps, report.outside) == ((), (), ())
    assert sum(len(cells) for _, cells in RFM_SEGMENTS.segments) == 125
    assert set(RFM_SEGMENTS.names) == {name for row in EXPECTED_GRID.values() for name in row}


def test_coverage_reports_every_gap_and_overlap() -> None:
    cells = {name: set(c) for name, c in RFM_SEGMENTS.segments}
    cells["champions"].discard((5, 5, 5))
    cells["champions"].discard((5, 4, 5))
    cells["lost"].add((3, 3, 3))
    cells["lost"].add((9, 1, 1))
    report = check_coverage(cells)
    assert not report.ok
    assert report.gaps == ((5, 4, 5), (5, 5, 5))
    assert report.overlaps == (((3, 3, 3), ("need_attention", "lost")),)
    assert report.outside == (((9, 1, 1), "lost"),)
    text = report.describe()
    assert "gap: (5, 5, 5)" in text
    assert "overlap: (3, 3, 3)" in text
    assert "outside: (9, 1, 1)" in text


def test_assign_refuses_an_incomplete_map() -> None:
    partial = SegmentMap({"best": [(5, 5, 5)]})
    scores = rfm_scores([1, 2, 3, 4, 5], [5, 4, 3, 2, 1], [5, 4, 3, 2, 1])
    with pytest.raises(InvalidRule, match="gap: "):
        partial.assign(scores)
    with pytest.raises(InvalidArgument, match="bins"):
        RFM_SEGMENTS.assign(rfm_scores([1, 2], [1, 2], [1, 2], bins=2))


def test_from_grid_builds_the_same_map_for_other_bins() -> None:
    three = SegmentMap.from_grid({3: ["a", "b", "c"], 2: ["d", "e", "f"], 1: ["g", "h", "i"]}, 3)
    assert check_coverage(three).ok
    assert len(all_cells(3)) == 27
    assert three.segment_of(3, 3, 2) == "c"  # FM = (3 + 2 + 1) // 2 = 3
    assert three.segment_of(1, 1, 2) == "h"  # FM = 2


# -- scoring -------------------------------------------------------------------

finite = st.floats(min_value=0, max_value=1e6, allow_nan=False, allow_infinity=False)
small_ints = st.integers(min_value=0, max_value=6).map(float)


@st.composite
def rfm_columns(draw: Any, min_size: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n = draw(st.integers(min_value=min_size, max_value=60))
    elements = st.one_of(small_ints, finite)
    days = draw(hnp.arrays(np.float64, n, elements=elements))
    freq = draw(hnp.arrays(np.float64, n, elements=small_ints))
    money = draw(hnp.arrays(np.float64, n, elements=elements))
    return days, freq, money


def reference_score(edges: tuple[float, ...], value: float, *, lower_is_better: bool) -> int:
    """One customer's score, the slow way: count the edges it beats."""
    if lower_is_better:
        return 1 + sum(1 for e in edges if value < e)
    return 1 + sum(1 for e in edges if value > e)


@given(rfm_columns(), st.integers(min_value=2, max_value=9))
def test_scores_agree_with_a_per_customer_reference(columns: Any, bins: int) -> None:
    days, freq, money = columns
    scores = rfm_scores(days, freq, money, bins=bins)
    probs = [k / bins for k in range(1, bins)]
    assert scores.edges.recency == pytest.approx(tuple(np.quantile(days, probs)), abs=0, rel=0)
    assert scores.edges.frequency == tuple(np.quantile(freq, probs))
    for i in range(len(days)):
        assert scores.r[i] == reference_score(scores.edges.recency, days[i], lower_is_better=True)
        assert scores.f[i] == reference_score(
            scores.edges.frequency, freq[i], lower_is_better=False
        )
        assert scores.m[i] == reference_score(
            scores.edges.monetary, money[i], lower_is_better=False
        )


@given(rfm_columns(), st.randoms(use_true_random=False))
def test_scores_do_not_depend_on_row_order(columns: Any, random: Any) -> None:
    days, freq, money = columns
    order = list(range(len(days)))
    random.shuffle(order)
    scores = rfm_scores(days, freq, money)
    shuffled = rfm_scores(days[order], freq[order], money[order])
    assert shuffled.edges == scores.edges
    assert np.array_equal(shuffled.code, scores.code[order])


@given(rfm_columns())
def test_ties_share_a_score_and_scores_are_monotone(columns: Any) -> None:
    days, freq, money = columns
    scores = rfm_scores(days, freq, money)
    for values, score, sign in ((days, scores.r, -1), (freq, scores.f, 1), (money, scores.m, 1)):
        assert score.min() >= 1
        assert score.max() <= 5
        order = np.argsort(sign * values, kind="stable")
        assert (np.diff(score[order].astype(int)) >= 0).all()
        for value in np.unique(values):
            assert len(set(score[values == value].tolist())) == 1


@given(rfm_columns(min_size=5))
def test_distinct_values_fill_every_bin(columns: Any) -> None:
    days, _, _ = columns
    n = len(days)
    distinct = np.arange(n, dtype=np.float64)
    scores = rfm_scores(distinct, distinct, distinct)
    assert set(scores.f.tolist()) == {1, 2, 3, 4, 5}
    assert scores.r[0] == 5
    assert scores.f[n - 1] == 5


def test_fixed_breakpoints_are_used_as_given() -> None:
    edges = RFMEdges(recency=(30, 90), frequency=(1, 3), monetary=(20, 100))
    scores = rfm_scores([0, 30, 31, 90, 91], [0, 1, 2, 3, 4], [20, 21, 100, 101, 5], bins=edges)
    assert scores.r.tolist() == [3, 2, 2, 1, 1]
    assert scores.f.tolist() == [1, 1, 2, 2, 3]
    assert scores.m.tolist() == [1, 2, 2, 3, 1]
    assert scores.edges is edges
    assert scores == edges.score([0, 30, 31, 90, 91], [0, 1, 2, 3, 4], [20, 21, 100, 101, 5])


def test_edges_fitted_on_one_population_score_another() -> None:
    edges = RFMEdges.fit(np.arange(100.0), np.arange(100.0), np.arange(100.0))
    assert edges.bins == 5
    scores = edges.score([0, 1000], [1000, 0], [50, 50])
    assert scores.r.tolist() == [5, 1]
    assert scores.f.tolist() == [5, 1]
    assert scores.m.tolist() == [3, 3]


def test_integer_columns_and_lists_are_accepted() -> None:
    a = rfm_scores(np.array([1, 2, 3], dtype=np.int64), [1, 2, 3], (1, 2, 3))
    b = rfm_scores([1.0, 2.0, 3.0], [1.0, 2.0, 3.0], [1.0, 2.0, 3.0])
    assert a == b
    assert len(a) == 3


def test_scores_arrays_are_frozen_and_pickle() -> None:
    scores = rfm_scores([1, 2, 3], [1, 2, 3], [1, 2, 3])
    for array in (scores.r, scores.f, scores.m):
        with pytest.raises(ValueError, match="read-only"):
            array[0] = 1
    again = pickle.loads(pickle.dumps(scores))
    assert again == scores
    assert not again.r.flags.writeable
    assigned = RFM_SEGMENTS.assign(scores)
    assert pickle.loads(pickle.dumps(assigned)) == assigned
    assert pickle.loads(pickle.dumps(RFM_SEGMENTS)) == RFM_SEGMENTS
    assert pickle.loads(pickle.dumps(check_coverage(RFM_SEGMENTS))) == check_coverage(RFM_SEGMENTS)


def test_counts_and_labels_of_an_assignment() -> None:
    scores = rfm_scores([1, 2, 300, 400], [9, 8, 0, 0], [90, 80, 1, 1], bins=2)
    two = SegmentMap.from_grid({2: ["up", "best"], 1: ["gone", "down"]}, bins=2)
    result = two.assign(scores)
    assert isinstance(result, Assignment)
    assert result.labels().tolist() == ["best", "best", "gone", "gone"]
    assert result.counts() == {"best": 2, "up": 0, "gone": 2, "down": 0}


NAN = float("nan")
BAD_INPUTS: list[tuple[str, tuple[Any, ...], dict[str, Any], type[Exception], str]] = [
    ("nan days", ([NAN], [1], [1]), {}, InvalidColumn, "days_since_last holds a non-finite"),
    ("inf money", ([1], [1], [float("inf")]), {}, InvalidColumn, "monetary holds a non-finite"),
    ("negative days", ([-1], [1], [1]), {}, InvalidColumn, "days_since_last holds -1.0"),
    ("negative frequency", ([1], [-2], [1]), {}, InvalidColumn, "frequency holds -2.0"),
    ("lengths", ([1, 2], [1], [1]), {}, InvalidColumn, "differ in length"),
    ("strings", (["1"], [1], [1]), {}, InvalidColumn, "numeric array"),
    ("bools", ([True], [1], [1]), {}, InvalidColumn, "numeric array"),
    ("2-D", ([[1]], [1], [1]), {}, InvalidColumn, "1-D"),
    ("a str column", ("123", [1], [1]), {}, InvalidType, "days_since_last='123'"),
    ("None column", (None, [1], [1]), {}, InvalidType, "days_since_last=None"),
    ("empty", ([], [], []), {}, EmptyData, "at least one customer"),
    ("one bin", ([1], [1], [1]), {"bins": 1}, InvalidArgument, "bins=1 must be between 2"),
    ("ten bins", ([1], [1], [1]), {"bins": 10}, InvalidArgument, "bins=10"),
    ("float bins", ([1], [1], [1]), {"bins": 5.0}, InvalidType, "bins=5.0 must be an int"),
]


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "message"),
    [case[1:] for case in BAD_INPUTS],
    ids=[case[0] for case in BAD_INPUTS],
)
def test_bad_inputs_raise_a_named_error(
    args: tuple[Any, ...], kwargs: dict[str, Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        rfm_scores(*args, **kwargs)


BAD_EDGES: list[tuple[str, dict[str, Any], type[Exception], str]] = [
    ("decreasing", {"recency": (5, 1)}, InvalidArgument, "non-decreasing"),
    ("nan", {"recency": (1, NAN)}, InvalidArgument, "finite"),
    ("none", {"recency": ()}, InvalidArgument, "between 1 and 8 edges"),
    ("lengths", {"recency": (1, 2, 3)}, InvalidArgument, "as many edges"),
    ("text", {"recency": "12"}, InvalidType, "sequence of numbers"),
    ("bool", {"recency": (True, 2)}, InvalidType, "real number"),
]


@pytest.mark.parametrize(
    ("change", "error", "message"),
    [case[1:] for case in BAD_EDGES],
    ids=[case[0] for case in BAD_EDGES],
)
def test_bad_edges_raise_a_named_error(
    change: dict[str, Any], error: type[Exception], message: str
) -> None:
    fields = {"recency": (1, 2), "frequency": (1, 2), "monetary": (1, 2)} | change
    with pytest.raises(error, match=message):
        RFMEdges(**fields)


BAD_MAPS: list[tuple[str, Any, type[Exception], str]] = [
    ("cell not a triple", {"a": [(1, 2)]}, InvalidType, "triple"),
    ("cell of floats", {"a": [(1, 2, 3.0)]}, InvalidType, "must be an int"),
    ("name not str", [(1, [(1, 1, 1)])], InvalidType, "non-empty str"),
    ("duplicate name", [("a", [(1, 1, 1)]), ("a", [(1, 1, 2)])], InvalidRule, "twice"),
    ("not pairs", ["abc"], InvalidType, "pair"),
]


@pytest.mark.parametrize(
    ("segments", "error", "message"),
    [case[1:] for case in BAD_MAPS],
    ids=[case[0] for case in BAD_MAPS],
)
def test_bad_segment_maps_raise_a_named_error(
    segments: Any, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        SegmentMap(segments)


def test_bad_grids_raise_a_named_error() -> None:
    with pytest.raises(InvalidRule, match="rows"):
        SegmentMap.from_grid({1: ["a", "b"]}, bins=2)
    with pytest.raises(InvalidRule, match="has 1 names"):
        SegmentMap.from_grid({1: ["a"], 2: ["b", "c"]}, bins=2)
    with pytest.raises(InvalidRule, match="order"):
        SegmentMap.from_grid({1: ["a", "a"], 2: ["b", "c"]}, bins=2, order=["a", "b"])
    with pytest.raises(InvalidRule, match="in no segment"):
        SegmentMap({"a": [(1, 1, 1)]}).segment_of(2, 2, 2)


@given(
    st.integers(min_value=2, max_value=4).flatmap(
        lambda bins: st.tuples(
            st.just(bins),
            st.lists(
                st.frozensets(st.sampled_from(all_cells(bins)), max_size=bins**3),
                min_size=1,
                max_size=4,
            ),
        )
    )
)
def test_coverage_reports_exactly_the_cells_owned_zero_or_several_times(case: Any) -> None:
    bins, cell_sets = case
    mapping = {f"s{i}": cells for i, cells in enumerate(cell_sets)}
    report = check_coverage(mapping, bins=bins)
    owners = {
        cell: [n for n, cells in mapping.items() if cell in cells] for cell in all_cells(bins)
    }
    assert report.gaps == tuple(c for c, names in owners.items() if not names)
    assert report.overlaps == tuple((c, tuple(n)) for c, n in owners.items() if len(n) > 1)
    assert report.ok == all(len(n) == 1 for n in owners.values())


@given(
    st.integers(min_value=2, max_value=6).flatmap(
        lambda bins: st.tuples(
            st.just(bins),
            st.lists(
                st.lists(st.sampled_from("abcd"), min_size=bins, max_size=bins),
                min_size=bins,
                max_size=bins,
            ),
            st.lists(st.integers(min_value=1, max_value=bins), min_size=3, max_size=90),
        )
    )
)
def test_any_grid_covers_every_cell_once_and_assigns_like_the_scalar_lookup(case: Any) -> None:
    bins, rows, flat = case
    grid = {r: rows[r - 1] for r in range(1, bins + 1)}
    segment_map = SegmentMap.from_grid(grid, bins)
    assert check_coverage(segment_map).ok
    n = len(flat) // 3
    r, f, m = flat[:n], flat[n : 2 * n], flat[2 * n : 3 * n]
    edges = RFMEdges(*(tuple(range(1, bins)),) * 3)
    scores = RFMScores(r=r, f=f, m=m, edges=edges)
    labels = segment_map.assign(scores).labels().tolist()
    assert labels == [segment_map.segment_of(*cell) for cell in zip(r, f, m, strict=True)]
    assert labels == [grid[a][(b + c + 1) // 2 - 1] for a, b, c in zip(r, f, m, strict=True)]


@given(rfm_columns(), st.integers(min_value=2, max_value=9))
def test_scores_equal_numpy_searchsorted_on_the_edges(columns: Any, bins: int) -> None:
    days, freq, money = columns
    scores = rfm_scores(days, freq, money, bins=bins)
    edges = scores.edges
    expected_r = bins - np.searchsorted(np.asarray(edges.recency), days, side="right")
    expected_f = 1 + np.searchsorted(np.asarray(edges.frequency), freq, side="left")
    expected_m = 1 + np.searchsorted(np.asarray(edges.monetary), money, side="left")
    assert np.array_equal(scores.r, expected_r)
    assert np.array_equal(scores.f, expected_f)
    assert np.array_equal(scores.m, expected_m)

"""Value segments, behaviour segments and RFM clusters."""

from __future__ import annotations

import pickle
import sys
from typing import Any

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from loyaltycore.errors import (
    DuplicateId,
    EmptyData,
    InvalidArgument,
    InvalidColumn,
    InvalidType,
    MissingDependency,
)
from loyaltycore.segments import (
    Assignment,
    BehaviourPolicy,
    Membership,
    RFMClusters,
    behaviour_segments,
    cluster_rfm,
    value_segments,
)

spend = hnp.arrays(
    np.float64,
    st.integers(min_value=1, max_value=80),
    elements=st.one_of(
        st.integers(min_value=0, max_value=20).map(float),
        st.floats(min_value=0, max_value=1e5, allow_nan=False),
    ),
)


@given(spend, st.floats(min_value=0.05, max_value=0.95))
def test_pareto_top_is_the_smallest_tie_closed_set_reaching_the_share(
    revenue: np.ndarray, share: float
) -> None:
    top = value_segments(revenue, share=share).mask("top")
    total = revenue.sum()
    if total == 0:
        assert not top.any()
        return
    assert revenue[top].sum() >= share * total * (1 - 1e-12)
    # every top customer spent at least as much as every other customer
    if top.any() and (~top).any():
        assert revenue[top].min() >= revenue[~top].max()
        # without the lowest-spending top group, the share would not be reached
        lowest = revenue[top].min()
        assert revenue[top & (revenue > lowest)].sum() < share * total * (1 + 1e-12)
    for value in np.unique(revenue):
        assert len(set(top[revenue == value].tolist())) == 1


@given(spend, st.integers(min_value=2, max_value=9), st.randoms(use_true_random=False))
def test_quantile_tiers_are_monotone_and_do_not_depend_on_row_order(
    revenue: np.ndarray, bins: int, random: Any
) -> None:
    tiers = value_segments(revenue, "quantile", bins=bins)
    assert tiers.names == tuple(f"value_{k}" for k in range(bins, 0, -1))
    codes = tiers.codes
    order = np.argsort(-revenue, kind="stable")
    assert (np.diff(codes[order].astype(int)) >= 0).all()
    perm = list(range(len(revenue)))
    random.shuffle(perm)
    again = value_segments(revenue[perm], "quantile", bins=bins)
    assert np.array_equal(again.codes, codes[perm])


def test_eighty_twenty_on_a_textbook_population() -> None:
    revenue = np.array([800.0] * 20 + [25.0] * 80)
    result = value_segments(revenue)
    assert result.counts() == {"top": 20, "rest": 80}
    named = value_segments(revenue, share=0.5, names=["vip", "others"])
    assert named.counts() == {"vip": 20, "others": 80}


def column_sets(n: int) -> Any:
    small = st.integers(min_value=0, max_value=5).map(float)
    cols = {name: hnp.arrays(np.float64, n, elements=small) for name in ("frequency", "T")}
    cols["aov"] = hnp.arrays(np.float64, n, elements=st.sampled_from([5.0, 10.0, 20.0, 40.0]))
    cols["categories"] = hnp.arrays(np.int64, n, elements=st.integers(0, 4))
    return st.fixed_dictionaries(cols)


ratios = st.floats(min_value=0, max_value=3, allow_nan=False)


@given(
    st.integers(min_value=1, max_value=40).flatmap(column_sets),
    st.builds(BehaviourPolicy, ratios, ratios, ratios, ratios),
)
def test_behaviour_segments_match_a_per_customer_reading(
    columns: dict[str, np.ndarray], policy: BehaviourPolicy
) -> None:
    result = behaviour_segments(columns, policy)
    limits = policy.thresholds(columns)
    assert limits["frequency"] == policy.frequency * float(np.median(columns["frequency"]))
    for i in range(len(result)):
        freq, tenure = columns["frequency"][i], columns["T"][i]
        aov, cats = columns["aov"][i], columns["categories"][i]
        expected = []
        if freq > limits["frequency"] and tenure > limits["T"]:
            expected.append("loyal")
        if freq > limits["frequency"] and aov < limits["aov"]:
            expected.append("impulsive")
        if freq < limits["frequency"] and aov > limits["aov"]:
            expected.append("rational")
        if cats > limits["categories"]:
            expected.append("diverse")
        assert result.of(i) == tuple(expected)


def test_membership_first_and_counts() -> None:
    cols = {
        "frequency": [5, 0, 1],
        "T": [50, 1, 9],
        "aov": [1.0, 9.0, 3.0],
        "categories": [3, 0, 1],
    }
    result = behaviour_segments(cols)
    assert result.counts() == {"loyal": 1, "impulsive": 1, "rational": 1, "diverse": 1}
    assert result.first().labels().tolist() == ["loyal", "rational", None]
    assert pickle.loads(pickle.dumps(result)) == result
    assert not pickle.loads(pickle.dumps(result)).matches.flags.writeable


BAD_VALUE: list[tuple[str, tuple[Any, ...], dict[str, Any], type[Exception], str]] = [
    ("negative", ([-1.0, 2.0],), {}, InvalidColumn, "revenue holds -1.0"),
    ("nan", ([float("nan")],), {}, InvalidColumn, "non-finite"),
    ("share 1", ([1.0],), {"share": 1.0}, InvalidArgument, "share=1.0 must be between"),
    ("share text", ([1.0],), {"share": "0.8"}, InvalidType, "share='0.8'"),
    ("method", ([1.0],), {"method": "median"}, InvalidArgument, "method='median'"),
    ("names count", ([1.0],), {"names": ["a"]}, InvalidArgument, "must hold 2 names"),
    ("names twice", ([1.0],), {"names": ["a", "a"]}, DuplicateId, "twice"),
    ("empty tiers", ([],), {"method": "quantile"}, EmptyData, "at least one"),
    ("bins", ([1.0],), {"method": "quantile", "bins": 1}, InvalidArgument, "bins=1"),
]


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "message"),
    [case[1:] for case in BAD_VALUE],
    ids=[case[0] for case in BAD_VALUE],
)
def test_bad_value_segment_inputs(
    args: tuple[Any, ...], kwargs: dict[str, Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        value_segments(*args, **kwargs)


GOOD_COLS = {"frequency": [1, 2], "T": [1, 2], "aov": [1, 2], "categories": [1, 2]}
BAD_BEHAVIOUR: list[tuple[str, Any, Any, type[Exception], str]] = [
    ("missing column", {"frequency": [1]}, None, InvalidColumn, "lack 'T'"),
    ("lengths", GOOD_COLS | {"aov": [1]}, None, InvalidColumn, "differ in length"),
    ("negative", GOOD_COLS | {"T": [-1, 2]}, None, InvalidColumn, "T holds -1.0"),
    ("empty", {k: [] for k in GOOD_COLS}, None, EmptyData, "median"),
    ("not a mapping", 5, None, InvalidType, "columns must be a mapping"),
    ("policy type", GOOD_COLS, "strict", InvalidType, "BehaviourPolicy"),
]


@pytest.mark.parametrize(
    ("columns", "policy", "error", "message"),
    [case[1:] for case in BAD_BEHAVIOUR],
    ids=[case[0] for case in BAD_BEHAVIOUR],
)
def test_bad_behaviour_inputs(
    columns: Any, policy: Any, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        behaviour_segments(columns, policy)


def test_policies_pickle() -> None:
    policy = BehaviourPolicy(frequency=1.5, categories=2)
    assert pickle.loads(pickle.dumps(policy)) == policy
    with pytest.raises(InvalidArgument) as info:
        BehaviourPolicy(tenure=-2)
    again = pickle.loads(pickle.dumps(info.value))
    assert (type(again), again.field, again.value) == (InvalidArgument, "tenure", -2)


def test_bad_policies_and_results() -> None:
    with pytest.raises(InvalidArgument, match="frequency=-1 must be >= 0"):
        BehaviourPolicy(frequency=-1)
    with pytest.raises(InvalidType, match="tenure=True"):
        BehaviourPolicy(tenure=True)
    with pytest.raises(InvalidColumn, match="codes must lie in"):
        Assignment(codes=[2], names=("a", "b"))
    with pytest.raises(InvalidColumn, match="2 columns for 1 names"):
        Membership(matches=[[True, False]], names=("a",))
    with pytest.raises(LookupError, match="not a segment"):
        Assignment(codes=[0], names=("a",)).mask("b")


# -- clusters ------------------------------------------------------------------


def three_groups(seed: int = 3) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    days = np.concatenate(
        [rng.integers(0, 10, 40), rng.integers(80, 120, 40), rng.integers(300, 400, 40)]
    )
    freq = np.concatenate(
        [rng.integers(8, 15, 40), rng.integers(2, 4, 40), rng.integers(0, 1, 40)]
    )
    money = np.concatenate([rng.gamma(50, 4, 40), rng.gamma(20, 2, 40), rng.gamma(5, 2, 40)])
    return days.astype(float), freq.astype(float), money


def test_clusters_are_seeded_ordered_by_value_and_described() -> None:
    days, freq, money = three_groups()
    clusters = cluster_rfm(days, freq, money, k=3, seed=11)
    again = cluster_rfm(days, freq, money, k=3, seed=11)
    assert clusters == again
    assert clusters.k == 3
    assert clusters.labels[:40].tolist() == [0] * 40
    assert clusters.labels[80:].tolist() == [2] * 40
    assert clusters.names[0] == "recent, frequent, high spend"
    assert clusters.names[2] == "lapsed, rare, low spend"
    assert clusters.sizes() == dict.fromkeys(clusters.names, 40)
    lines = clusters.describe()
    assert lines[0].startswith("0 recent, frequent, high spend: 40 customers; days ")
    # the centroids are in original units and ordered like the value
    assert clusters.centroids[0, 0] < clusters.centroids[1, 0] < clusters.centroids[2, 0]
    assert np.array_equal(clusters.predict(days, freq, money), clusters.labels)
    assert pickle.loads(pickle.dumps(clusters)) == clusters


def test_clusters_do_not_depend_on_row_order() -> None:
    days, freq, money = three_groups()
    perm = np.random.default_rng(5).permutation(days.size)
    clusters = cluster_rfm(days, freq, money, k=3)
    shuffled = cluster_rfm(days[perm], freq[perm], money[perm], k=3)
    assert np.array_equal(shuffled.labels, clusters.labels[perm])
    assert shuffled.names == clusters.names


def test_clustering_without_scikit_learn_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "sklearn.cluster", None)
    with pytest.raises(MissingDependency, match=r"pip install 'loyaltycore\[cluster\]'"):
        cluster_rfm([1, 2], [1, 2], [1, 2], k=1)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"k": 0}, InvalidArgument, "k=0 must be >= 1"),
        ({"k": 5}, InvalidArgument, "at most the number of customers"),
        ({"seed": -1}, InvalidArgument, "seed=-1"),
        ({"n_init": 1.5}, InvalidType, "n_init=1.5"),
    ],
)
def test_bad_cluster_arguments(
    kwargs: dict[str, Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        cluster_rfm([1, 2], [1, 2], [1, 2], **kwargs)


def test_clusters_refuse_more_clusters_than_distinct_customers() -> None:
    with pytest.raises(InvalidArgument, match=r"k=2 must be at most .* distinct customers \(1\)"):
        cluster_rfm([3, 3, 3], [1, 1, 1], [9.5, 9.5, 9.5], k=2)


def test_clusters_refuse_negative_money_and_no_customers() -> None:
    with pytest.raises(InvalidColumn, match="monetary >= 0"):
        cluster_rfm([1, 2], [1, 2], [1, -2], k=1)
    with pytest.raises(EmptyData):
        cluster_rfm([], [], [], k=1)
    assert isinstance(cluster_rfm([1, 2], [1, 2], [1, 2], k=2), RFMClusters)


@given(
    st.integers(min_value=1, max_value=40).flatmap(column_sets),
    st.builds(BehaviourPolicy, ratios, ratios, ratios, ratios),
)
def test_behaviour_segment_sets_agree_with_the_array_engine(
    columns: dict[str, np.ndarray], policy: BehaviourPolicy
) -> None:
    typed = columns | {"frequency": columns["frequency"].astype(np.int64)}
    expected = behaviour_segments(typed, policy)
    segment_set = policy.segment_set(typed)
    assert segment_set.names == expected.names
    assert segment_set.evaluate(typed) == expected
    for i in range(len(expected)):
        facts = {name: column[i].item() for name, column in typed.items()}
        assert segment_set.of(facts) == expected.of(i)


@settings(max_examples=25)
@given(
    st.integers(min_value=6, max_value=60).flatmap(
        lambda n: st.tuples(
            hnp.arrays(np.float64, n, elements=st.integers(0, 400).map(float)),
            hnp.arrays(np.float64, n, elements=st.integers(0, 12).map(float)),
            hnp.arrays(np.float64, n, elements=st.floats(0, 500, allow_nan=False)),
        )
    ),
    st.integers(min_value=1, max_value=4),
    st.integers(min_value=0, max_value=2**31),
)
def test_clusters_are_reproducible_and_ranked_by_value(
    columns: tuple[np.ndarray, np.ndarray, np.ndarray], k: int, seed: int
) -> None:
    days, freq, money = columns
    distinct = np.unique(np.column_stack(columns), axis=0).shape[0]
    assume(distinct >= k)
    clusters = cluster_rfm(days, freq, money, k=k, seed=seed, n_init=2)
    assert clusters == cluster_rfm(days, freq, money, k=k, seed=seed, n_init=2)
    assert set(clusters.labels.tolist()) <= set(range(k))
    assert len(set(clusters.names)) == k
    centres = (np.log1p(clusters.centroids) - clusters.mean) / clusters.scale
    value = centres @ np.array([-1.0, 1.0, 1.0])
    assert (np.diff(value) <= 1e-9).all()

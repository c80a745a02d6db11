"""Lift by segment with Holm / Benjamini-Hochberg, equal to statsmodels' multipletests."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from statsmodels.stats.multitest import multipletests

from loyaltycore.campaigns import breakdown, compare, p_adjust
from loyaltycore.errors import EmptyArm, EmptyData, InvalidArgument, InvalidColumn, LoyaltyError

METHODS = {"holm": "holm", "bh": "fdr_bh"}

p_values = st.lists(
    st.one_of(st.floats(0, 1), st.sampled_from([0.0, 0.01, 0.05, 0.5, 1.0])),
    min_size=1,
    max_size=30,
)


# multipletests runs a full garbage collection on every call (0.3 s in this
# process), so the comparison sees fewer examples than the properties below.
@settings(max_examples=25)
@given(p_values, st.sampled_from(["holm", "bh"]), st.sampled_from([0.01, 0.05, 0.1]))
def test_p_adjust_equals_statsmodels_multipletests(
    p: list[float], method: str, alpha: float
) -> None:
    reject, corrected, _, _ = multipletests(p, alpha=alpha, method=METHODS[method])
    ours = p_adjust(p, method=method)  # type: ignore[arg-type]
    np.testing.assert_allclose(ours, corrected, rtol=1e-12, atol=1e-15)
    np.testing.assert_array_equal(ours <= alpha, reject)


@settings(max_examples=150)
@given(p_values)
def test_holm_is_never_more_lenient_than_bh(p: list[float]) -> None:
    assert (p_adjust(p, method="holm") >= p_adjust(p, method="bh") - 1e-15).all()
    assert (p_adjust(p, method="bh") >= np.asarray(p) - 1e-15).all()


def test_breakdown_rows_are_per_segment_welch_comparisons() -> None:
    rng = np.random.default_rng(1)
    n = 3000
    segment = rng.choice(["lapsed", "new", "vip"], n)
    treated = rng.random(n) < 0.5
    lift = np.select([segment == "vip", segment == "new"], [8.0, 0.5], 0.0)
    y = rng.gamma(2.0, 10.0, n) + lift * treated
    b = breakdown(y, treated, segment, adjust="holm")
    assert b.segment.tolist() == ["lapsed", "new", "vip"]
    for i, name in enumerate(b.segment.tolist()):
        inside = segment == name
        c = compare(y[inside & treated], y[inside & ~treated])
        assert (b.difference[i], b.low[i], b.high[i], b.p_value[i]) == pytest.approx(
            (c.difference, c.difference_low, c.difference_high, c.p_value)
        )
        assert (b.n_treatment[i], b.n_control[i]) == (c.n_treatment, c.n_control)
    assert b.p_adjusted.tolist() == pytest.approx(p_adjust(b.p_value, method="holm").tolist())
    assert b.significant.tolist() == [False, False, True]
    assert pickle.loads(pickle.dumps(b)) == b
    assert list(b.columns()) == [
        "segment", "n_treatment", "n_control", "treatment_mean", "control_mean",
        "difference", "low", "high", "p_value", "p_adjusted", "significant",
    ]  # fmt: skip


def test_many_null_segments_rarely_find_a_holm_winner() -> None:
    """Twenty segments where nothing happened: Holm keeps false winners near alpha."""
    rng = np.random.default_rng(2)
    found_raw = found_holm = 0
    for _ in range(60):
        n = 2000
        segment = rng.integers(0, 20, n)
        treated = rng.random(n) < 0.5
        b = breakdown(rng.normal(0, 1, n), treated, segment)
        found_raw += bool((b.p_value <= 0.05).any())
        found_holm += bool(b.significant.any())
    assert found_raw > 30  # about 1 - 0.95**20 = 64% of the runs
    assert found_holm <= 10  # about 5%


BAD = [
    ({"segment": ["a", "a", "a", "a", "b", "b"]}, EmptyArm, "segment 'b': treatment has 1"),
    ({"segment": ["a", "a", None, "a", "a", "a"]}, InvalidColumn, "segment\\[2\\]=None"),
    ({"segment": ["a"] * 5}, InvalidColumn, "segment has 5 rows, expected 6"),
    ({"adjust": "bonferroni"}, InvalidArgument, "adjust='bonferroni' must be one of"),
    ({"alpha": 0}, InvalidArgument, "alpha=0 must be between 0 and 1"),
    ({"outcome": [], "arm": [], "segment": []}, EmptyData, "outcome is empty"),
]


@pytest.mark.parametrize(("change", "error", "message"), BAD)
def test_bad_breakdowns_raise_named_errors(
    change: dict[str, object], error: type[LoyaltyError], message: str
) -> None:
    kwargs: dict[str, object] = {
        "outcome": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
        "arm": [True, False, True, False, True, False],
        "segment": ["a"] * 6,
    }
    kwargs.update(change)
    with pytest.raises(error, match=message):
        breakdown(**kwargs)  # type: ignore[arg-type]


def test_bad_p_values_raise_named_errors() -> None:
    with pytest.raises(InvalidColumn, match=r"p_values\[1\]=1\.5 must be in \[0, 1\]"):
        p_adjust([0.1, 1.5])
    with pytest.raises(InvalidColumn, match="p_values\\[0\\]=nan is not finite"):
        p_adjust([float("nan")])
    with pytest.raises(EmptyData, match="p_values is empty"):
        p_adjust([])
    with pytest.raises(InvalidArgument, match="method='fdr_bh' must be one of"):
        p_adjust([0.1], method="fdr_bh")  # type: ignore[arg-type]


def test_the_breakdown_keeps_its_interval_level() -> None:
    y = [5.0, 6.0, 1.0, 2.0, 3.0, 3.5, 3.0, 2.5]
    b = breakdown(y, [True, True, False, False] * 2, ["a"] * 4 + ["b"] * 4, ci=0.9)
    assert b.ci == 0.9
    assert pickle.loads(pickle.dumps(b)) == b

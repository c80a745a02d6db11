"""Uplift metrics equal scikit-uplift's on the same arrays (ties included)."""

from __future__ import annotations

import contextlib
import pickle
import warnings
from collections.abc import Iterator

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklift import metrics as sk

from loyaltycore.campaigns import qini_auc, qini_curve, uplift_at_k, uplift_by_decile
from loyaltycore.errors import EmptyArm, InvalidArgument, InvalidColumn, LoyaltyError

# scikit-uplift 0.5.1 calls a helper scikit-learn deprecated in 1.8, and a pandas
# keyword pandas 3.1 deprecated.
pytestmark = [
    pytest.mark.filterwarnings("ignore:Function stable_cumsum is deprecated"),
    pytest.mark.filterwarnings("ignore:The inplace keyword in DataFrame.set_index"),
]


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Silence the mean-of-empty-slice warnings scikit-uplift's NaN answers come with."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


@st.composite
def campaigns(draw: st.DrawFn, min_size: int = 12) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(outcome, score, treatment) with both arms present and scores that tie often."""
    n = draw(st.integers(min_size, 120))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    treatment = np.r_[0, 1, rng.integers(0, 2, n - 2)]
    rng.shuffle(treatment)
    distinct = draw(st.sampled_from([3, 10, 1000]))
    score = rng.integers(0, distinct, n) / distinct
    outcome = (rng.random(n) < 0.2 + 0.4 * score * treatment).astype(np.int64)
    outcome[rng.choice(n, 2, replace=False)] = [0, 1]  # scikit-uplift wants both values
    return outcome, score, treatment


@settings(max_examples=100)
@given(
    campaigns(), st.sampled_from([0.1, 0.3, 0.5, 0.77]), st.sampled_from(["overall", "by_group"])
)
def test_uplift_at_k_equals_sklift(
    data: tuple[np.ndarray, np.ndarray, np.ndarray], k: float, strategy: str
) -> None:
    y, s, t = data
    with _quiet():
        expected = sk.uplift_at_k(y, s, t, strategy=strategy, k=k)
    if np.isnan(expected):  # sklift returns NaN when an arm is missing from the top k
        with pytest.raises(EmptyArm):
            uplift_at_k(y, s, t.astype(bool), k=k, strategy=strategy)  # type: ignore[arg-type]
        return
    ours = uplift_at_k(y, s, t.astype(bool), k=k, strategy=strategy)  # type: ignore[arg-type]
    assert ours == pytest.approx(expected, rel=1e-12, abs=1e-12)


@settings(max_examples=60)
@given(campaigns(), st.integers(1, 11))
def test_uplift_at_an_absolute_k_equals_sklift(
    data: tuple[np.ndarray, np.ndarray, np.ndarray], k: int
) -> None:
    y, s, t = data
    with _quiet():
        expected = sk.uplift_at_k(y, s, t, strategy="overall", k=k)
    if np.isnan(expected):
        return
    assert uplift_at_k(y, s, t.astype(bool), k=k) == pytest.approx(expected, abs=1e-12)


@settings(max_examples=100)
@given(campaigns())
def test_qini_curve_equals_sklift(data: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
    y, s, t = data
    x_ref, q_ref = sk.qini_curve(y, s, t)
    ours = qini_curve(y, s, np.where(t == 1, "treatment", "control"))
    np.testing.assert_allclose(ours.targeted, x_ref, rtol=0, atol=0)
    np.testing.assert_allclose(ours.gain, q_ref, rtol=1e-12, atol=1e-9)


@settings(max_examples=100)
@given(campaigns(), st.booleans())
def test_qini_auc_equals_sklift(
    data: tuple[np.ndarray, np.ndarray, np.ndarray], negative_effect: bool
) -> None:
    y, s, t = data
    ours = qini_auc(y, s, t.astype(bool), negative_effect=negative_effect)
    try:
        with _quiet():
            expected = sk.qini_auc_score(y, s, t, negative_effect=negative_effect)
    except ValueError:  # no perfect curve without negative effects when the total is < 0
        assert not negative_effect
        assert np.isnan(ours)
        return
    except ZeroDivisionError:  # a flat perfect curve: no area to compare with
        assert np.isnan(ours)
        return
    if np.isnan(expected) or np.isinf(expected):
        assert np.isnan(ours) or np.isinf(ours)
        return
    assert ours == pytest.approx(expected, rel=1e-9, abs=1e-9)


@settings(max_examples=80)
@given(
    campaigns(min_size=25), st.sampled_from([2, 5, 10]), st.sampled_from(["overall", "by_group"])
)
def test_uplift_by_decile_equals_sklift(
    data: tuple[np.ndarray, np.ndarray, np.ndarray], bins: int, strategy: str
) -> None:
    y, s, t = data
    if strategy == "by_group" and min(t.sum(), (1 - t).sum()) < bins:
        return  # sklift would average empty bins
    with _quiet():
        ref = sk.uplift_by_percentile(y, s, t, strategy=strategy, bins=bins)
    ours = uplift_by_decile(y, s, t.astype(bool), bins=bins, strategy=strategy)  # type: ignore[arg-type]
    assert pickle.loads(pickle.dumps(ours)) == ours
    np.testing.assert_array_equal(ours.n_treatment, ref["n_treatment"].to_numpy())
    np.testing.assert_array_equal(ours.n_control, ref["n_control"].to_numpy())
    for ours_col, ref_col in [
        (ours.treatment_mean, "response_rate_treatment"),
        (ours.control_mean, "response_rate_control"),
        (ours.uplift, "uplift"),
    ]:
        np.testing.assert_allclose(ours_col, ref[ref_col].to_numpy(), rtol=1e-12, equal_nan=True)


def test_a_perfect_ranking_scores_one_and_a_reversed_one_scores_below_zero() -> None:
    y = np.array([1, 1, 0, 0, 0, 1, 0, 0])
    t = np.array([1, 1, 1, 1, 0, 0, 0, 0], dtype=bool)
    perfect = np.where(t, y, -y).astype(float)
    assert qini_auc(y, perfect, t) == pytest.approx(1.0)
    assert qini_auc(y, -perfect, t) < 0


def test_continuous_outcomes_work_where_the_definition_allows() -> None:
    spend = np.array([30.0, 0.0, 12.5, 0.0, 8.0, 0.0])
    arm = np.array([True, False, True, False, True, False])
    score = np.array([0.9, 0.8, 0.5, 0.4, 0.2, 0.1])
    assert uplift_at_k(spend, score, arm, k=0.5) == pytest.approx((30.0 + 12.5) / 2 - 0.0)
    curve = qini_curve(spend, score, arm)
    assert curve.gain[-1] == pytest.approx(50.5)
    assert pickle.loads(pickle.dumps(curve)) == curve
    with pytest.raises(InvalidColumn, match=r"outcome\[0\]=30\.0 must be 0 or 1 for qini_auc"):
        qini_auc(spend, score, arm)


BAD = [
    ({"k": 0.0}, InvalidArgument, "k=0.0 must be in \\(0, 1\\) as a share"),
    ({"k": 1.0}, InvalidArgument, "k=1.0 must be in \\(0, 1\\)"),
    ({"k": 6}, InvalidArgument, "k=6 must be below n=6"),
    ({"k": True}, LoyaltyError, "k=True must be an int"),
    ({"k": 1}, EmptyArm, "the top k's control has no member"),
    ({"strategy": "top"}, InvalidArgument, "strategy='top' must be one of"),
    ({"score": [0.1, 0.2]}, InvalidColumn, "score has 2 rows, expected 6"),
    ({"score": [0.1, 0.2, float("nan"), 0, 0, 0]}, InvalidColumn, "score\\[2\\]=nan"),
    ({"arm": [True] * 6}, EmptyArm, "control has 0 members"),
]


@pytest.mark.parametrize(("change", "error", "message"), BAD)
def test_bad_uplift_inputs_raise_named_errors(
    change: dict[str, object], error: type[LoyaltyError], message: str
) -> None:
    kwargs: dict[str, object] = {
        "outcome": [1, 0, 1, 0, 0, 1],
        "score": [0.9, 0.8, 0.7, 0.2, 0.1, 0.05],
        "arm": [True, False, True, False, True, False],
    }
    kwargs.update(change)
    with pytest.raises(error, match=message):
        uplift_at_k(**kwargs)  # type: ignore[arg-type]


def test_bad_bins_raise_named_errors() -> None:
    with pytest.raises(InvalidArgument, match="bins=4 must be fewer than the 4 members"):
        uplift_by_decile([1, 0, 1, 0], [1, 2, 3, 4], [True, False] * 2, bins=4)
    with pytest.raises(InvalidArgument, match="negative_effect=1 must be a bool"):
        qini_auc([1, 0], [1, 2], [True, False], negative_effect=1)  # type: ignore[arg-type]

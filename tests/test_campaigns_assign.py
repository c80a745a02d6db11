"""Holdout assignment: stable salted hashes, exact strata, households, bad input."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loyaltycore.campaigns import Assignment, assign
from loyaltycore.errors import (
    DuplicateId,
    InvalidArgument,
    InvalidColumn,
    InvalidType,
    LoyaltyError,
    NotFound,
)

MEMBERS = ["m-1", "m-2", "m-3", "m-4", "m-5", "m-6", 42, "x"]
#: Written down once from BLAKE2b-64("golden" NUL id) < 0.5 -> control; a change
#: of the hashing scheme would move members of every running holdout.
GOLDEN = ["treatment", "treatment", "treatment", "control", "control", "treatment"]
GOLDEN += ["treatment", "treatment"]

ids = st.lists(
    st.one_of(st.text(min_size=1, max_size=8), st.integers(-(10**9), 10**9)),
    min_size=1,
    max_size=60,
    unique_by=lambda v: str(v),
)


def test_golden_arms_never_change() -> None:
    assert assign(MEMBERS, share=0.5, salt="golden").arm.tolist() == GOLDEN


@pytest.mark.parametrize("hash_seed", ["0", "12345", "random"])
def test_arms_are_the_same_in_other_processes_and_hash_seeds(hash_seed: str) -> None:
    members = [f"member-{i}" for i in range(300)] + list(range(300))
    code = (
        "import json, sys\n"
        "from loyaltycore.campaigns import assign\n"
        "members = json.loads(sys.stdin.read())\n"
        "a = assign(members, share=0.2, salt='spring', unit=[str(m)[-1] for m in members])\n"
        "b = assign(members, share=0.3, salt='spring', strata=[len(str(m)) for m in members])\n"
        "print(json.dumps([a.arm.tolist(), b.arm.tolist()]))\n"
    )
    env = {**os.environ, "PYTHONHASHSEED": hash_seed}
    out = subprocess.run(
        [sys.executable, "-c", code],
        input=json.dumps(members),
        capture_output=True,
        text=True,
        check=True,
        env=env,
    ).stdout
    here_a = assign(members, share=0.2, salt="spring", unit=[str(m)[-1] for m in members])
    here_b = assign(members, share=0.3, salt="spring", strata=[len(str(m)) for m in members])
    assert json.loads(out) == [here_a.arm.tolist(), here_b.arm.tolist()]


def test_ids_are_hashed_by_their_text() -> None:
    a = assign([7, np.int64(8), "9"], share=0.5, salt="t")
    b = assign(["7", "8", 9], share=0.5, salt="t")
    assert a.arm.tolist() == b.arm.tolist()


def test_share_is_the_expected_holdout_rate() -> None:
    a = assign(np.arange(20_000), share=0.1, salt="rate")
    # binomial(20000, 0.1): sd 42.4; 5 sd either side
    assert abs(a.n_control - 2_000) < 5 * 42.5


@settings(max_examples=60)
@given(ids, st.floats(0.01, 0.99), st.floats(0.01, 0.99))
def test_a_larger_share_holds_out_a_superset(members: list[object], s1: float, s2: float) -> None:
    low, high = sorted((s1, s2))
    small = assign(members, share=low, salt="nest").arm == "control"
    large = assign(members, share=high, salt="nest").arm == "control"
    assert not (small & ~large).any()


@settings(max_examples=60)
@given(ids, st.integers(0, 59))
def test_a_member_joining_later_moves_nobody(members: list[object], cut: int) -> None:
    cut = min(cut, len(members))
    before = assign(members[:cut] or members, share=0.3, salt="global")
    after = assign(members, share=0.3, salt="global")
    known = {str(m): arm for m, arm in zip(after.member.tolist(), after.arm.tolist(), strict=True)}
    for m, arm in zip(before.member.tolist(), before.arm.tolist(), strict=True):
        assert known[str(m)] == arm


@settings(max_examples=80)
@given(
    st.lists(st.sampled_from("abcd"), min_size=1, max_size=80),
    st.floats(0.01, 0.99),
    st.text(min_size=1, max_size=5).filter(lambda s: "\x00" not in s),
)
def test_strata_hold_out_exactly_the_rounded_share(
    strata: list[str], share: float, salt: str
) -> None:
    members = [f"m{i}" for i in range(len(strata))]
    a = assign(members, share=share, salt=salt, strata=strata)
    sizes = Counter(strata)
    held = Counter(s for s, arm in zip(strata, a.arm.tolist(), strict=True) if arm == "control")
    for stratum, n in sizes.items():
        assert held[stratum] == int(np.floor(share * n + 0.5))


@settings(max_examples=80)
@given(st.lists(st.integers(0, 15), min_size=1, max_size=80), st.floats(0.05, 0.95))
def test_households_share_one_arm(households: list[int], share: float) -> None:
    members = [f"m{i}" for i in range(len(households))]
    a = assign(members, share=share, salt="house", unit=households)
    arms: dict[int, set[str]] = {}
    for h, arm in zip(households, a.arm.tolist(), strict=True):
        arms.setdefault(h, set()).add(arm)
    assert all(len(v) == 1 for v in arms.values())


def test_stratified_households_count_each_household_once() -> None:
    members = [f"m{i}" for i in range(12)]
    unit = ["h1", "h1", "h1", "h2", "h3", "h4", "h5", "h5", "h6", "h7", "h8", "h9"]
    strata = ["a"] * 6 + ["b"] * 6  # a: h1..h4 (4 households), b: h5..h9 (5 households)
    a = assign(members, share=0.5, salt="hs", strata=strata, unit=unit)
    held = {u for u, arm in zip(unit, a.arm.tolist(), strict=True) if arm == "control"}
    assert len(held & {"h1", "h2", "h3", "h4"}) == 2
    assert len(held & {"h5", "h6", "h7", "h8", "h9"}) == 3  # 2.5 rounds half up


def test_different_salts_draw_independent_splits() -> None:
    members = np.arange(10_000)
    a = assign(members, share=0.5, salt="one").treated
    b = assign(members, share=0.5, salt="two").treated
    agreement = float((a == b).mean())
    assert abs(agreement - 0.5) < 5 * 0.005  # binomial sd of a mean of 10,000 coin flips


def test_assignment_is_a_frozen_pickling_value_with_columns() -> None:
    a = assign(["a", "b", "c"], share=0.5, salt="v", strata=["x", "x", "y"])
    assert pickle.loads(pickle.dumps(a)) == a
    assert a == assign(["a", "b", "c"], share=0.5, salt="v", strata=["x", "x", "y"])
    assert sorted(a.columns()) == ["arm", "member", "strata"]
    with pytest.raises(ValueError, match="read-only"):
        a.arm[0] = "control"
    assert isinstance(a, Assignment)
    assert repr(a).startswith("Assignment(members=3,")
    assert a.arm_of("b") == a.arm[1]


BAD = [
    ({"members": ["a", "a"]}, DuplicateId, "members\\[1\\]='a' repeats members\\[0\\]"),
    ({"members": [1, "1"]}, DuplicateId, "repeats"),
    ({"members": ["a", None]}, InvalidColumn, "members\\[1\\]=None"),
    ({"members": ["a", ""]}, InvalidColumn, "members\\[1\\]=''"),
    ({"members": [1.5, 2.5]}, InvalidType, "members must hold str or int ids"),
    ({"members": [[1, 2]]}, InvalidColumn, "one-dimensional"),
    ({"share": 0.0}, InvalidArgument, "share=0.0 must be between 0 and 1"),
    ({"share": 1}, InvalidArgument, "share=1 must be between 0 and 1"),
    ({"share": True}, InvalidType, "share=True must be a real number"),
    ({"share": float("nan")}, InvalidArgument, "share=nan must be finite"),
    ({"salt": ""}, InvalidArgument, "salt='' must be a non-empty str"),
    ({"salt": 5}, InvalidType, "salt=5 must be a str"),
    ({"strata": ["a"]}, InvalidColumn, "strata has 1 rows, expected 3"),
    ({"strata": ["a", None, "b"]}, InvalidColumn, "strata\\[1\\]=None is missing"),
    ({"unit": ["h", "h"]}, InvalidColumn, "unit has 2 rows, expected 3"),
    ({"unit": ["h", "h", "k"], "strata": ["a", "b", "b"]}, InvalidColumn, "spans strata"),
]


@pytest.mark.parametrize(("change", "error", "message"), BAD)
def test_bad_input_raises_a_named_error(
    change: dict[str, object], error: type[LoyaltyError], message: str
) -> None:
    kwargs: dict[str, object] = {"members": ["a", "b", "c"], "share": 0.5, "salt": "s"}
    kwargs.update(change)
    with pytest.raises(error, match=message):
        assign(**kwargs)  # type: ignore[arg-type]


def test_arm_of_an_unknown_member_is_not_found() -> None:
    with pytest.raises(NotFound, match="member='z' was not assigned"):
        assign(["a", "b"], share=0.5, salt="s").arm_of("z")

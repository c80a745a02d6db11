"""The sorting tricks equal the plain numpy computations they replace."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from loyaltycore.transactions import _sort

_IDS = st.lists(
    st.one_of(st.integers(-(2**40), 2**40), st.integers(10**11, 10**11 + 5)),
    min_size=1,
    max_size=60,
)


@given(ids=_IDS)
def test_sparse_codes_equal_numpy_unique(ids: list[int]) -> None:
    array = np.array(ids, dtype=np.int64)
    found = _sort.sparse_codes(array)
    assert found is not None
    uniques, inverse = np.unique(array, return_inverse=True)
    assert found[0].tolist() == inverse.tolist()
    assert found[1].tolist() == uniques.tolist()


def test_sparse_codes_decline_keys_wider_than_64_bits() -> None:
    assert _sort.sparse_codes(np.array([-(2**62), 2**62, 0])) is None


_SMALL = st.tuples(st.integers(0, 2), st.integers(7, 9))  # few cells: the presence table
_WIDE = st.tuples(st.integers(0, 30), st.integers(-5, 4000))  # many cells: the sort


@given(pairs=st.one_of(st.lists(_SMALL, min_size=4, max_size=80), st.lists(_WIDE, min_size=1)))
def test_distinct_pairs_by_presence_table_and_by_sort(pairs: list[tuple[int, int]]) -> None:
    codes = np.array([c for c, _ in pairs], dtype=np.int64)
    numbers = np.array([p for _, p in pairs], dtype=np.int64)
    got = _sort.distinct_pairs(codes, numbers)
    assert list(zip(got[0].tolist(), got[1].tolist(), strict=True)) == sorted(set(pairs))

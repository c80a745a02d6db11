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


_ROWS = st.lists(
    st.tuples(st.integers(0, 40), st.integers(0, 30 * 86_400_000_000), st.integers(0, 9)),
    min_size=1,
    max_size=80,
)


@given(rows=_ROWS, bits=st.integers(0, 4))
def test_by_customer_is_a_stable_sort_by_partition(
    rows: list[tuple[int, int, int]], bits: int
) -> None:
    codes = np.array([c for c, _, _ in rows], dtype=np.int64)
    values = np.arange(len(rows), dtype=np.int64)
    bounds, bases, local, (moved,) = _sort.by_customer(codes, [values], bits)
    order = np.argsort(codes >> bits, kind="stable")
    assert moved.tolist() == order.tolist()
    assert (local + np.repeat(bases, np.diff(bounds))).tolist() == codes[order].tolist()
    assert bounds[0] == 0
    assert bounds[-1] == len(rows)
    for lo, hi, base in zip(bounds[:-1], bounds[1:], bases, strict=True):
        assert ((local[lo:hi] >= 0) & (local[lo:hi] < 1 << bits)).all()
        assert (codes[order][lo:hi] >> bits == base >> bits).all()


@given(rows=_ROWS, bits=st.integers(0, 4), zoned=st.booleans())
def test_summary_facts_by_partition_equal_the_whole(
    rows: list[tuple[int, int, int]], bits: int, zoned: bool
) -> None:
    from loyaltycore.calendar import DAY_US
    from loyaltycore.transactions import _summary

    codes = np.array([c for c, _, _ in rows], dtype=np.int64)
    at = np.array([t for _, t, _ in rows], dtype=np.int64)
    amount = np.array([a for _, _, a in rows], dtype=np.int64)
    days = at // DAY_US
    day_lo = int(days.min())
    span = int(days.max()) - day_lo + 1
    local = (days - day_lo) if zoned else None

    def day_of(b: slice) -> np.ndarray:
        return days[b] - day_lo

    whole = _summary._facts(codes, at, amount, day_of, span)
    parts = _summary._partitioned_facts(codes, at, amount, local, day_lo, span, bits)
    assert whole.keys() == parts.keys()
    for name, column in whole.items():
        np.testing.assert_array_equal(parts[name], column, err_msg=name)


@given(
    pairs=st.sets(st.tuples(st.integers(0, 6), st.integers(0, 5)), min_size=1),
    block=st.integers(1, 5),
)
def test_cohort_counts_carry_each_cohort_across_blocks(
    pairs: set[tuple[int, int]], block: int
) -> None:
    ordered = sorted(pairs)
    codes = np.array([c for c, _ in ordered], dtype=np.int64)
    offsets = np.array([k for _, k in ordered], dtype=np.int64)
    expected = np.zeros((6, 6), dtype=np.int64)
    for code in {c for c, _ in ordered}:
        seen = [k for c, k in ordered if c == code]
        for k in seen:
            expected[seen[0], k - seen[0]] += 1
    got = _sort.cohort_counts(codes, offsets, 6, block)
    assert got.tolist() == expected.tolist()

"""Packed columns read back exactly what was packed, and refuse what is not a packed column."""

from __future__ import annotations

import base64
import json
import zlib

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from loyaltycore._packed import can_pack_texts, pack_ints, pack_texts, unpack_ints, unpack_texts

int64 = st.integers(-(2**63), 2**63 - 1)
texts = st.lists(st.text(st.characters(blacklist_characters="\x00")))


@given(st.lists(int64))
def test_ints_round_trip_through_json(column: list[int]) -> None:
    packed = json.loads(json.dumps(pack_ints(column)))
    assert unpack_ints(packed, "c").tolist() == column
    assert unpack_ints(column, "c").tolist() == column


@given(st.integers(1, 4).flatmap(lambda w: st.tuples(st.just(w), st.lists(int64, max_size=40))))
def test_tables_round_trip_through_json(table: tuple[int, list[int]]) -> None:
    width, column = table
    column = column[: len(column) - len(column) % width]
    packed = json.loads(json.dumps(pack_ints(column, width)))
    assert unpack_ints(packed, "c").tolist() == column


def test_ordered_and_small_ints_pack_as_narrow_differences() -> None:
    instants = [1_700_000_000_000_000 + 60_000_000 * k for k in range(1000)]
    rows = [x for k, at in enumerate(instants) for x in (at, -(2**63), k % 7)]
    packed = pack_ints(rows, width=3)
    assert packed["sizes"] == "411"  # (instants a minute apart; a constant; small counts)
    plain = base64.b64encode(zlib.compress(np.array(rows, dtype="<i8").tobytes(), 1))
    assert len(packed["deltas"]) * 4 < len(plain)
    assert unpack_ints(packed, "lots").tolist() == rows
    # nothing narrower to write: the plain form
    assert set(pack_ints([0, 2**62, -(2**62)])) == {"int64"}


@given(texts)
def test_texts_round_trip_through_json(column: list[str]) -> None:
    packed = json.loads(json.dumps(pack_texts(column)))
    assert unpack_texts(packed, "c") == column


def test_a_text_with_nul_is_not_packed() -> None:
    assert not can_pack_texts(["a\x00b"])
    with pytest.raises(ValueError, match="NUL"):
        pack_texts(["a\x00b"])


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ({"int64": "###"}, "not deflated"),
        ({"int64": 5}, "base64 text"),
        ({"int32": ""}, "list of ints or"),
        ([1.5], "list of ints"),
        (pack_texts(["a"])["texts"], "list of ints"),
        ({"deltas": pack_ints([1, 2])["deltas"], "sizes": "3"}, "widths 1, 2, 4 and 8"),
        ({"deltas": pack_ints([1, 2])["deltas"], "sizes": ""}, "widths"),
        ({"deltas": pack_ints([1, 2])["deltas"], "sizes": 1}, "widths"),
        ({"deltas": pack_ints([1, 2])["deltas"], "sizes": "11"}, "whole table of 2"),
        ({"deltas": pack_ints([1, 2])["deltas"]}, "list of ints or"),
        ({"deltas": "###", "sizes": "1"}, "not deflated"),
    ],
)
def test_a_bad_int_column_names_itself(value: object, problem: str) -> None:
    with pytest.raises(ValueError, match=f"lots.*{problem}|{problem}"):
        unpack_ints(value, "lots")


def test_a_column_inflating_past_the_bound_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    import loyaltycore._packed as packed

    monkeypatch.setattr(packed, "MAX_BYTES", 64)
    with pytest.raises(ValueError, match="at most"):
        unpack_ints(pack_ints(range(100)), "lots")

"""Packed columns read back exactly what was packed, and refuse what is not a packed column."""

from __future__ import annotations

import json

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

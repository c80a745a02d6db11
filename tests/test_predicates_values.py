"""Event, Item and Member refuse values that would break later: NaN, infinity, absurd money."""

from __future__ import annotations

import math
import pickle
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from loyaltycore import serialize
from loyaltycore.errors import InvalidAmount, InvalidArgument, InvalidData
from loyaltycore.predicates import Event, FrozenMap, Item, Member, Spend, field

AT = datetime(2024, 5, 1, 12, tzinfo=UTC)

NOT_FINITE: list[Any] = [
    math.nan,
    math.inf,
    -math.inf,
    np.float64("nan"),
    Decimal("NaN"),
    Decimal("sNaN"),
    Decimal("Infinity"),
    Decimal("-Infinity"),
]


@pytest.mark.parametrize("value", NOT_FINITE, ids=repr)
@pytest.mark.parametrize(
    "make",
    [
        lambda attrs: Event("e", "purchase", AT, attributes=attrs),
        lambda attrs: Member("m", attributes=attrs),
    ],
    ids=["event", "member"],
)
def test_attributes_that_are_not_finite_are_refused(make: Any, value: Any) -> None:
    with pytest.raises(InvalidArgument, match=r"attributes\['score'\]=.* must be finite") as info:
        make({"ok": 1.5, "score": value})
    assert info.value.field == "attributes.score"
    assert pickle.loads(pickle.dumps(info.value)).field == "attributes.score"


def test_finite_attributes_still_round_trip() -> None:
    event = Event("e", "purchase", AT, attributes={"x": 1e300, "d": Decimal("-1.5"), "n": None})
    assert serialize.loads(serialize.dumps(event)) == event


@pytest.mark.parametrize("decimal", ["NaN", "sNaN", "Infinity", "1e999999"])
def test_a_document_with_a_bad_decimal_attribute_is_invalid_data(decimal: str) -> None:
    doc = {
        "schema": "predicates.Member",
        "version": 1,
        "data": {"id": "m", "attributes": {"x": {"decimal": decimal}}},
    }
    with pytest.raises(InvalidData, match=r"@ \$\.data\.attributes"):
        serialize.from_data(doc)


BAD_MONEY: list[Any] = [
    "sNaN",
    Decimal("sNaN"),
    "NaN",
    Decimal("-NaN"),
    "Infinity",
    Decimal("Infinity"),
    Decimal("1e999999"),
    "1e999999",
    "1e15",
    "1000000000000000.00",
    "0.0000000001",
    "1e-999999",
    Decimal("1.0000000001"),
]
MONEY_FIELDS = [
    ("amount", lambda v: Event("e", "purchase", AT, v)),
    ("discount", lambda v: Event("e", "purchase", AT, "5", discount=v)),
    ("points_paid", lambda v: Event("e", "purchase", AT, "5", points_paid=v)),
    ("unit_price", lambda v: Item("A", unit_price=v)),
    ("discount", lambda v: Item("A", unit_price="1e14", quantity=9, discount=v)),
]


@pytest.mark.parametrize("value", BAD_MONEY, ids=repr)
@pytest.mark.parametrize(("name", "make"), MONEY_FIELDS, ids=[m[0] for m in MONEY_FIELDS])
def test_money_that_is_not_a_sane_amount_is_refused(name: str, make: Any, value: Any) -> None:
    with pytest.raises(InvalidAmount) as info:
        make(value)
    assert info.value.field == name
    assert str(info.value).startswith(f"{name}=")


@pytest.mark.parametrize("value", ["999999999999999.999999999", "0.000000001", "1.5000000000000"])
def test_money_within_the_bounds_is_kept_exactly(value: str) -> None:
    assert Event("e", "purchase", AT, value).amount == Decimal(value)
    assert Item("A", unit_price=value).unit_price == Decimal(value)


def test_a_line_total_beyond_the_bound_is_refused() -> None:
    with pytest.raises(InvalidAmount, match=r"quantity \* unit_price"):
        Item("A", quantity=10**20, unit_price="1000")
    with pytest.raises(InvalidAmount, match=r"quantity \* unit_price"):
        Item("A", quantity=2, unit_price="999999999999999")
    assert Item("A", quantity=10**20, unit_price="0.000000001").gross == Decimal("100000000000")


@pytest.mark.parametrize(
    "make",
    [
        lambda: field("amount") >= Decimal("1e999999"),
        lambda: field("amount") <= "-1e999999",
        lambda: Spend("1e999999"),
    ],
)
def test_money_thresholds_of_absurd_magnitude_are_refused(make: Any) -> None:
    with pytest.raises(InvalidArgument, match="must be less than 10\\*\\*100 in magnitude"):
        make()


# -- FrozenMap: a read-only mapping that reads like a dict -------------------------------------


@given(
    st.dictionaries(st.text(max_size=4), st.integers(), max_size=6),
    st.text(max_size=4),
)
def test_frozen_map_reads_like_the_sorted_dict_it_holds(data: dict[str, int], key: str) -> None:
    m = FrozenMap(data)
    expected = dict(sorted(data.items()))
    assert list(m.keys()) == list(expected.keys())
    assert list(m.items()) == list(expected.items())
    assert list(m.values()) == list(expected.values())
    assert (key in m) == (key in data)
    assert m.get(key) == data.get(key)
    assert m.get(key, "absent") == data.get(key, "absent")
    assert m.get(key, default="absent") == data.get(key, "absent")
    assert dict(m) == data
    assert m == data
    assert m == FrozenMap(m)
    assert hash(m) == hash(FrozenMap(m))


def test_frozen_map_views_cannot_change_it() -> None:
    m = FrozenMap({"b": 2, "a": 1})
    copy = FrozenMap(m)
    view = m.items()
    with pytest.raises(TypeError):
        view.mapping["c"] = 3  # type: ignore[attr-defined]
    assert not hasattr(m.keys(), "add")
    assert not hasattr(m.values(), "append")
    assert m == {"a": 1, "b": 2}
    assert copy == m
    assert pickle.loads(pickle.dumps(m)) == m


def test_items_without_a_discount_share_the_default_and_others_are_checked() -> None:
    plain, other = Item("a", "c", 1, "2.00"), Item("b", "c", 1, "3.00")
    assert plain.discount is other.discount == Decimal(0)
    assert Item("a", "c", 1, "2.00", discount=Decimal("0.50")).discount == Decimal("0.50")
    with pytest.raises(InvalidAmount, match="discount"):
        Item("a", "c", 1, "2.00", discount=Decimal("-1"))

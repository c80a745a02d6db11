"""Plain-data form of predicates and the bad-input tables of every node type."""

from __future__ import annotations

import json
import pickle
from datetime import UTC, date, datetime
from typing import Any

import attrs
import pytest
from hypothesis import given

from loyaltycore import serialize
from loyaltycore.errors import InvalidData, InvalidRule, LoyaltyError
from loyaltycore.predicates import (
    Always,
    And,
    Between,
    BirthdayMonth,
    BirthdayWindow,
    Compare,
    Contains,
    FirstPurchase,
    InSegment,
    IsIn,
    Not,
    Or,
    Predicate,
    Quantity,
    Recurs,
    Spend,
    TierAtLeast,
    field,
    from_plain,
    to_plain,
)
from loyaltycore.testing import events, members, predicates

#: Every kind of node, over every field of events, members and facts.
EVERYTHING = ("event", "member", "facts")
LADDER = ("bronze", "silver", "gold", "platinum")


@given(predicates(tiers=LADDER, max_leaves=6, sources=EVERYTHING))
def test_plain_data_round_trips_through_json(pred: Predicate) -> None:
    plain = to_plain(pred)
    text = json.dumps(plain, sort_keys=True)
    again = from_plain(json.loads(text))
    assert again == pred
    assert to_plain(again) == plain


@given(predicates(tiers=LADDER, max_leaves=3, sources=EVERYTHING))
def test_documents_round_trip(pred: Predicate) -> None:
    text = serialize.dumps(pred)
    assert serialize.loads(text) == pred
    assert serialize.loads(text, Predicate) == pred


@attrs.frozen
class Holder:
    """A host class with a predicate field, as rules and segments have."""

    name: str
    when: Predicate


serialize.register_document(Holder, "testpredicates.Holder", 1)


def test_a_predicate_field_of_another_class_round_trips_with_full_paths() -> None:
    holder = Holder("double", (field("amount") >= 10) & ~InSegment("staff"))
    data = serialize.to_data(holder)
    assert serialize.from_data(data) == holder
    data["data"]["when"]["all"][1]["not"]["segment"] = ""
    with pytest.raises(InvalidData) as info:
        serialize.from_data(data)
    assert info.value.errors == (
        "segment='' must be a non-empty str @ $.data.when.all[1].not.segment",
    )


def _doc(node: Any) -> dict[str, Any]:
    return {
        "schema": "predicates.Predicate",
        "version": 1,
        "data": {"type": "all", "all": [{"type": "always"}, node]},
    }


P = "$.data.all[1]"

#: (bad node, every expected "message @ path" fragment), covering every node type.
BAD_DATA = [
    (
        {"type": "compare", "field": "amount", "op": ">=", "value": 9.9},
        ["not float @ " + P + ".value"],
    ),
    (
        {"type": "compare", "field": "amout", "op": ">=", "value": "1"},
        ["not a known field", P + ".field"],
    ),
    ({"type": "compare", "field": "amount", "op": "=>", "value": "1"}, ["op='=>'", P + ".op"]),
    (
        {"type": "compare", "field": "channel", "op": "<", "value": "app"},
        ["not defined", P + ".op"],
    ),
    (
        {"type": "compare", "field": "at", "op": "<", "value": "2024-01-01T00:00"},
        ["no UTC offset @ " + P + ".value"],
    ),
    (
        {"type": "compare", "field": "amount", "op": ">="},
        ["required field missing @ " + P + ".value"],
    ),
    (
        {"type": "compare", "field": "attributes.n", "kind": "complex", "op": "==", "value": 1},
        [P + ".kind"],
    ),
    ({"type": "isin", "field": "weekday", "values": [1, "2"]}, ["not str @ " + P + ".values[1]"]),
    ({"type": "isin", "field": "weekday", "values": []}, ["at least one", P]),
    (
        {"type": "between", "field": "birthday", "low": "2000-13-01", "high": "2001-01-01"},
        [P + ".low"],
    ),
    ({"type": "between", "field": "frequency", "low": 5, "high": 1}, ["greater than", P + ".low"]),
    ({"type": "all", "all": []}, ["non-empty list of predicates @ " + P + ".all"]),
    (
        {"type": "any", "any": [{"type": "nope"}]},
        ["is not a predicate type", "tier_at_least @ " + P + ".any[0].type"],
    ),
    ({"type": "not", "not": 3}, ["expected a predicate object, got int @ " + P + ".not"]),
    ({"type": "always", "extra": 1}, ["unknown keys ['extra'] @ " + P]),
    ({"type": "contains", "skus": [], "categories": []}, ["needs skus or categories", P]),
    ({"type": "contains", "skus": "A1"}, ["must be a list of str @ " + P + ".skus"]),
    ({"type": "quantity", "at_least": 0}, ["at_least=0 must be >= 1 @ " + P + ".at_least"]),
    ({"type": "quantity", "at_least": True}, ["not bool @ " + P + ".at_least"]),
    ({"type": "spend", "at_least": "-1"}, ["@ " + P + ".at_least"]),
    ({"type": "spend", "at_least": 1.5}, ["not float @ " + P + ".at_least"]),
    ({"type": "recurs", "rule": "FREQ=SOMETIMES"}, ["RFC 5545", P + ".rule"]),
    ({"type": "recurs", "rule": "FREQ=YEARLY;BYWEEKNO=1"}, ["finite", P + ".rule"]),
    ({"type": "birthday", "before": 200}, ["<= 183 @ " + P + ".before"]),
    ({"type": "birthday", "after": -1}, ["@ " + P + ".after"]),
    ({"type": "birthday_month", "month": 2}, ["unknown keys ['month'] @ " + P]),
    ({"type": "tier_at_least"}, ["required field missing @ " + P + ".tier"]),
    ({"type": "in_segment", "segment": 7}, ["not int @ " + P + ".segment"]),
    ({"type": "first_purchase", "counter": ""}, ["non-empty str @ " + P + ".counter"]),
    ("compare", ["expected a predicate object, got str @ " + P]),
    ({"field": "amount"}, ["required field missing @ " + P + ".type"]),
]


@pytest.mark.parametrize(("node", "fragments"), BAD_DATA)
def test_bad_plain_data_names_the_path(node: Any, fragments: list[str]) -> None:
    with pytest.raises(InvalidData) as info:
        serialize.from_data(_doc(node))
    text = "\n".join(info.value.errors)
    for fragment in fragments:
        assert fragment in text
    again = pickle.loads(pickle.dumps(info.value))
    assert again.errors == info.value.errors


def test_every_node_type_has_bad_plain_data_in_the_table() -> None:
    from loyaltycore.predicates._data import BY_TAG

    covered = {node["type"] for node, _ in BAD_DATA if isinstance(node, dict) and "type" in node}
    assert covered == set(BY_TAG)


def test_every_problem_is_listed_at_once() -> None:
    nodes = [
        {"type": "compare", "field": "amount", "op": ">=", "value": 9.9},
        {"type": "quantity", "at_least": 0, "x": 1},
    ]
    with pytest.raises(InvalidData) as info:
        from_plain({"type": "any", "any": nodes})
    assert info.value.errors == (
        "value=9.9 must be a Decimal as str or int, not float @ $.any[0].value",
        "unknown keys ['x'] @ $.any[1]",
        "at_least=0 must be >= 1 @ $.any[1].at_least",
    )


#: Constructor calls that must be refused, covering every node type.
BAD_CALLS = [
    (lambda: Compare("amount", ">=", 1.5), "must be a Decimal"),
    (lambda: Compare("nope", "==", 1), "not a known field"),
    (lambda: Compare("segments", "==", "vip"), "use in_segment"),
    (lambda: Compare("at", ">", datetime(2024, 1, 1)), "naive"),
    (lambda: Compare("frequency", ">", 2**70), "int64"),
    (lambda: Compare("attributes.x", "==", 1, kind="set"), "not allowed"),
    (lambda: IsIn("channel", "app"), "set of literals"),
    (lambda: IsIn("local_date", {datetime(2024, 1, 1, tzinfo=UTC)}), "must be a date"),
    (lambda: Between("amount", "5", "1"), "greater than"),
    (lambda: Between("tier", "a", "b"), "not defined"),
    (lambda: And([]), "at least one"),
    (lambda: Or([field("amount") > 1, "x"]), "must be a predicate"),
    (lambda: Not(True), "must be a predicate"),
    (lambda: Always(1), ""),  # type: ignore[call-arg]
    (lambda: Contains(), "needs skus or categories"),
    (lambda: Contains(skus="A1"), "set of str"),
    (lambda: Quantity(0), ">= 1"),
    (lambda: Spend(0), "> 0"),
    (lambda: Spend(9.5), "not float"),
    (lambda: Recurs(42), "RFC 5545"),
    (lambda: BirthdayWindow(before=-1), ">= 0"),
    (lambda: BirthdayWindow(after=400), "<= 183"),
    (lambda: BirthdayMonth(2), ""),  # type: ignore[call-arg]
    (lambda: TierAtLeast(""), "non-empty"),
    (lambda: InSegment(None), "non-empty"),
    (lambda: FirstPurchase(counter=3), "non-empty"),
]


@pytest.mark.parametrize(("call", "message"), BAD_CALLS)
def test_bad_constructor_arguments_are_refused(call: Any, message: str) -> None:
    with pytest.raises((InvalidRule, TypeError)) as info:
        call()
    assert message in str(info.value)
    if isinstance(info.value, LoyaltyError):
        assert isinstance(info.value, InvalidRule | LoyaltyError)
        again = pickle.loads(pickle.dumps(info.value))
        assert str(again) == str(info.value)


def test_every_node_type_has_a_bad_constructor_call() -> None:
    import inspect

    from loyaltycore.predicates._data import NODE_TYPES

    sources = "\n".join(inspect.getsource(call) for call, _ in BAD_CALLS)
    missing = [cls.__name__ for cls in NODE_TYPES if f"{cls.__name__}(" not in sources]
    assert missing == []


def test_plain_literals_are_json_types() -> None:
    pred = (
        Compare("at", ">=", datetime(2024, 3, 10, 8, tzinfo=UTC))
        & Between("birthday", date(2000, 1, 1), date(2000, 12, 31))
        & Compare("total", ">", "99.95")
        & Compare("attributes.rating", ">=", 4, kind="float")
    )
    assert to_plain(pred)["all"] == [
        {"type": "compare", "field": "at", "op": ">=", "value": "2024-03-10T08:00:00+00:00"},
        {"type": "between", "field": "birthday", "low": "2000-01-01", "high": "2000-12-31"},
        {"type": "compare", "field": "total", "op": ">", "value": "99.95"},
        {
            "type": "compare",
            "field": "attributes.rating",
            "op": ">=",
            "value": 4.0,
            "kind": "float",
        },
    ]


@given(events(), members(tiers=(*LADDER, "legacy")))
def test_events_and_members_round_trip_as_documents(event: Any, member: Any) -> None:
    assert serialize.loads(serialize.dumps(event)) == event
    assert serialize.loads(serialize.dumps(member)) == member


def test_decimal_attributes_round_trip_exactly() -> None:
    from decimal import Decimal

    from loyaltycore.predicates import Event

    event = Event("e", "x", datetime(2024, 1, 1, tzinfo=UTC), attributes={"tip": Decimal("1.50")})
    data = serialize.to_data(event)
    assert data["data"]["attributes"] == {"tip": {"decimal": "1.50"}}
    assert serialize.from_data(data).attributes["tip"] == Decimal("1.50")
    data["data"]["items"] = [{"sku": "A", "quantity": 0}]
    with pytest.raises(InvalidData, match=r"quantity=0 must be >= 1 @ \$\.data\.items\[0\]"):
        serialize.from_data(data)

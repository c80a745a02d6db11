"""Bad plain data: every loader raises InvalidData naming the path, never a raw error."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

import loyaltycore
import loyaltycore.accounts
import loyaltycore.lifecycle
import loyaltycore.points
import loyaltycore.predicates
import loyaltycore.rules
import loyaltycore.segments
import loyaltycore.tiers  # noqa: F401
from loyaltycore import serialize
from loyaltycore.errors import InvalidData, InvalidType
from loyaltycore.predicates import Always, Event, Member, Not, Predicate, from_plain

SCHEMAS = sorted(
    name
    for name, doc in serialize._BY_NAME.items()
    if doc.cls.__module__.startswith("loyaltycore.")
)
NOT_OBJECTS = ["text", 5, 1.5, True, None, [1, 2], []]


def test_every_schema_of_every_area_is_covered() -> None:
    areas = {name.split(".")[0] for name in SCHEMAS}
    assert areas >= {"accounts", "lifecycle", "points", "predicates", "rules", "segments", "tiers"}
    assert len(SCHEMAS) >= 22


@pytest.mark.parametrize("schema", SCHEMAS)
@pytest.mark.parametrize("data", NOT_OBJECTS, ids=repr)
def test_data_that_is_not_an_object_names_the_path(schema: str, data: Any) -> None:
    with pytest.raises(InvalidData) as info:
        serialize.from_data({"schema": schema, "version": 1, "data": data})
    assert any(line.endswith("@ $.data") for line in info.value.errors), info.value.errors


def test_a_nested_value_that_is_not_an_object_names_its_path() -> None:
    doc = {"schema": "rules.RuleSet", "version": 1, "data": {"rules": ["text"]}}
    with pytest.raises(InvalidData) as info:
        serialize.from_data(doc)
    assert info.value.errors == ("expected an object for Rule, got str @ $.data.rules[0]",)


def _nested_not(depth: int) -> dict[str, Any]:
    node: dict[str, Any] = {"type": "always"}
    for _ in range(depth):
        node = {"type": "not", "not": node}
    return node


@pytest.mark.parametrize("depth", [1_000, 10_000])
def test_a_deep_predicate_is_invalid_data_not_a_recursion_error(depth: int) -> None:
    deep = _nested_not(depth)
    with pytest.raises(InvalidData, match="nested deeper than 100"):
        from_plain(deep)
    doc = {"schema": "predicates.Predicate", "version": 1, "data": deep}
    with pytest.raises(InvalidData, match="nested deeper than 100"):
        serialize.from_data(doc)
    text = '{"schema": "predicates.Predicate", "version": 1, "data": %s}' % (
        '{"type": "not", "not": ' * depth + '{"type": "always"}' + "}" * depth
    )
    with pytest.raises(InvalidData, match="nested deeper than 100"):
        serialize.loads(text)
    rules = {
        "schema": "rules.RuleSet",
        "version": 1,
        "data": {
            "rules": [{"id": "r", "when": deep, "award": {"type": "fixed_points", "points": 1}}]
        },
    }
    with pytest.raises(InvalidData, match=r"@ \$\.data\.rules\[0\]\.when\.not\.not"):
        serialize.from_data(rules)


def test_nesting_up_to_the_cap_loads_and_evaluates() -> None:
    chain: Predicate = Always()
    for _ in range(99):
        chain = Not(chain)
    doc = {"schema": "predicates.Predicate", "version": 1, "data": _nested_not(99)}
    assert serialize.from_data(doc) == chain
    assert serialize.loads(serialize.dumps(chain)) == chain
    with pytest.raises(InvalidData, match=r"nested deeper than 100 @ \$\.data(\.not){100}$"):
        serialize.from_data({**doc, "data": _nested_not(100)})
    # The deepest predicate a rule set document can hold still compiles and evaluates.
    when = _nested_not(95)
    rules = {
        "schema": "rules.RuleSet",
        "version": 1,
        "data": {
            "rules": [{"id": "r", "when": when, "award": {"type": "fixed_points", "points": 1}}]
        },
    }
    loaded = serialize.from_data(rules)
    at = datetime(2024, 1, 1, tzinfo=UTC)
    assert loaded.evaluate(Event("e", "purchase", at), Member("m")).points == 0
    assert loaded.evaluate_batch([Event("e", "purchase", at)], [Member("m")]).points.tolist() == [
        0
    ]


def test_json_text_nested_past_the_parser_is_invalid_data() -> None:
    with pytest.raises(InvalidData, match="nested deeper"):
        serialize.loads("[" * 200_000 + "]" * 200_000)


@pytest.mark.parametrize(
    "text",
    [
        '{"schema": "predicates.Item", "version": 1, "data": {"sku": "A", "unit_price": NaN}}',
        '{"schema": "predicates.Item", "version": 1, "data": {"sku": "A", "quantity": Infinity}}',
        '{"schema": "predicates.Item", "version": 1, "data": {"sku": "A", "quantity": -Infinity}}',
        '{"schema": "predicates.Item", "version": 1, "data": {"sku": "A", "quantity": 1%s}}'
        % ("0" * 5000),
        b'{"schema": "predicates.Item", "version": 1, "data": {"sku": "\xff"}}',
    ],
    ids=["NaN", "Infinity", "-Infinity", "5000 digits", "bad utf-8"],
)
def test_json_text_that_is_not_strict_json_is_invalid_data(text: str | bytes) -> None:
    with pytest.raises(InvalidData, match=r"@ \$"):
        serialize.loads(text)


def test_loads_needs_text() -> None:
    with pytest.raises(InvalidType, match="text="):
        serialize.loads(5)  # type: ignore[arg-type]

"""An evaluation is plain data: stored with an order, it drives the refund later."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loyaltycore import serialize
from loyaltycore.errors import InvalidData
from loyaltycore.predicates import Event, Item, Member
from loyaltycore.rules import Evaluation, RuleSet
from loyaltycore.testing import events, members, rule_sets

TIERS = ("silver", "gold")


@settings(max_examples=30)
@given(rule_sets(tiers=TIERS), events(), members(tiers=TIERS))
def test_an_evaluation_round_trips_through_json(
    rules: RuleSet, event: Event, member: Member
) -> None:
    done = rules.evaluate(event, member)
    text = serialize.dumps(done)
    again = serialize.loads(text, Evaluation)
    assert again == done
    assert again.lines == done.lines
    assert again.trace.explain() == done.trace.explain()
    assert serialize.dumps(again) == text


@settings(max_examples=20)
@given(rule_sets(tiers=TIERS), events(), members(tiers=TIERS), st.data())
def test_a_stored_evaluation_refunds_like_the_original(
    rules: RuleSet, event: Event, member: Member, data: st.DataObject
) -> None:
    done = rules.evaluate(event, member)
    stored = serialize.from_data(json.loads(json.dumps(serialize.to_data(done))), Evaluation)
    skus = sorted({item.sku for item in event.items})
    back = (
        dict.fromkeys(data.draw(st.lists(st.sampled_from(skus), unique=True)), 1) if skus else None
    )
    assert rules.reverse(stored, back) == rules.reverse(done, back)


def test_bad_evaluation_data_names_the_path() -> None:
    at = datetime(2024, 3, 1, tzinfo=UTC)
    rules = RuleSet([])
    data = serialize.to_data(
        rules.evaluate(
            Event("o", "purchase", at, "10", items=(Item("A", unit_price="10"),)), Member("m")
        )
    )
    data["data"]["eligible"] = "1000"
    with pytest.raises(InvalidData, match=r"\$\.data\.eligible"):
        serialize.from_data(data, Evaluation)
    data["data"]["eligible"] = 1000
    data["data"]["trace"]["codes"] = [0]
    with pytest.raises(InvalidData, match="trace"):
        serialize.from_data(data, Evaluation)

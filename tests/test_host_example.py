"""A host team's property tests for its own rule set (shown in docs/testing.md)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings

from loyaltycore.predicates import Always, BirthdayMonth, FirstPurchase, field, on_weekdays
from loyaltycore.rules import (
    Evaluation,
    FixedPoints,
    Limit,
    Multiplier,
    PointsPerSpend,
    Rule,
    RuleSet,
    TierMultiplier,
)
from loyaltycore.testing import check_rule_set, events, members

OUR_RULES = RuleSet(
    [
        Rule("base", Always(), PointsPerSpend("1"), base=True),
        Rule("double-wed", on_weekdays("WE") & (field("channel") == "app"), Multiplier("2")),
        Rule("birthday", BirthdayMonth(), Multiplier("2")),
        Rule("welcome", FirstPurchase(), FixedPoints(500), limit=Limit(times=1)),
        Rule("gold", Always(), TierMultiplier({"gold": "1.5"})),
        Rule(
            "big-basket",
            field("amount") >= 100,
            FixedPoints(50),
            limit=Limit(times=2, period="month"),
        ),
    ],
    tz="Europe/Paris",
    tiers=("silver", "gold"),
)


def no_more_than_ten_times_the_spend(rules: RuleSet, result: Evaluation) -> None:
    """Our finance rule: an event never earns more than 10 points per euro + 600."""
    assert result.points <= result.eligible // 10 + 600, result


def test_our_rule_set_passes_the_loyaltycore_checks() -> None:
    check_rule_set(OUR_RULES, max_examples=60, extra=no_more_than_ten_times_the_spend)


@settings(max_examples=60)
@given(events(), members(tiers=("silver", "gold")))
def test_a_purchase_earns_at_least_its_base_points(event, member) -> None:  # type: ignore[no-untyped-def]
    result = OUR_RULES.evaluate(event, member)
    assert result.points >= result.eligible // 100


def test_a_broken_rule_set_is_caught() -> None:
    broken = RuleSet([Rule("oops", Always(), PointsPerSpend("1"), base=True)])

    def never_more_than_100(rules: RuleSet, result: Evaluation) -> None:
        assert result.points <= 100, "more than 100 points for one event"

    with pytest.raises(AssertionError, match="more than 100 points"):
        check_rule_set(broken, max_examples=200, extra=never_more_than_100)

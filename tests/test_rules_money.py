"""Money entering the rules: amounts finer than the currency, refunds beyond the purchase."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from loyaltycore.errors import InvalidAmount, InvalidArgument, OverReversal
from loyaltycore.predicates import Always, Event, Item, Member
from loyaltycore.rules import FixedPoints, PointsPerSpend, Rule, RuleSet

AT = datetime(2024, 3, 1, tzinfo=UTC)
BASE = Rule("base", Always(), PointsPerSpend("1"), base=True)


def purchase(amount: str | None = None, **kw: Any) -> Event:
    return Event("o-1", "purchase", AT, amount, **kw)


FINER = [
    ("amount", purchase("10.005")),
    ("discount", purchase("10", discount="0.001")),
    ("points_paid", purchase("10", points_paid="0.001")),
    (
        "items[1].unit_price",
        purchase(items=(Item("A", unit_price="1"), Item("B", unit_price="2.505"))),
    ),
    ("items[0].discount", purchase(items=(Item("A", unit_price="3", discount="0.125"),))),
]


@pytest.mark.parametrize(("name", "event"), FINER, ids=[f[0] for f in FINER])
def test_an_amount_finer_than_the_currency_exponent_is_refused(name: str, event: Event) -> None:
    rules = RuleSet([BASE])
    with pytest.raises(InvalidAmount, match="more decimals than the currency exponent 2") as info:
        rules.evaluate(event, Member("m"))
    assert str(info.value).startswith(f"{name}=")
    assert info.value.field == name
    # The vectorized engine refuses the same events.
    with pytest.raises(InvalidArgument, match="more decimals than the currency exponent 2"):
        rules.evaluate_batch([event], [Member("m")])
    # With three decimals in the currency, the same event earns.
    assert RuleSet([BASE], exponent=3).evaluate(event, Member("m")).points >= 0


def test_the_currency_exponent_is_at_most_nine() -> None:
    with pytest.raises(InvalidArgument, match="exponent=10 must be <= 9"):
        RuleSet([BASE], exponent=10)


def test_a_refund_of_more_units_than_bought_is_an_over_reversal() -> None:
    rules = RuleSet([BASE, Rule("bonus", Always(), FixedPoints(5))])
    basket = (
        Item("A", unit_price="8"),
        Item("B", quantity=2, unit_price="2"),
        Item("A", unit_price="1"),
    )
    done = rules.evaluate(purchase(items=basket), Member("m"))
    with pytest.raises(OverReversal, match=r"refunded_items\['B'\]=3 is more than the 2 bought"):
        rules.reverse(done, {"B": 3})
    with pytest.raises(OverReversal, match=r"refunded_items\['A'\]=3 is more than the 2 bought"):
        rules.reverse(done, {"A": 3})
    # Units of one sku are counted over all its lines.
    assert rules.reverse(done, {"A": 2}).points == 9
    # Still an InvalidArgument for callers that catch that.
    with pytest.raises(InvalidArgument):
        rules.reverse(done, {"B": 3})


def test_a_refund_of_more_money_than_paid_is_an_over_reversal() -> None:
    rules = RuleSet([BASE])
    done = rules.evaluate(purchase("120"), Member("m"))
    with pytest.raises(OverReversal, match=r"refunded_amount=120\.01 is more than the amount 120"):
        rules.reverse(done, refunded_amount="120.01")
    with pytest.raises(InvalidAmount, match="refunded_amount='1e999999' must be less than"):
        rules.reverse(done, refunded_amount="1e999999")
    with pytest.raises(InvalidAmount, match="more decimals than the currency exponent 2"):
        rules.reverse(done, refunded_amount="0.001")
    assert rules.reverse(done, refunded_amount="20").points == 20

"""The coffee-chain scenario of docs/accounts.md, step by step, with every figure checked."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from loyaltycore.accounts import Account, Profile, Tender, example_program
from loyaltycore.errors import DuplicateId, IdempotencyConflict
from loyaltycore.predicates import Item

PARIS = ZoneInfo("Europe/Paris")


def at(month: int, day: int, hour: int = 9, year: int = 2024) -> datetime:
    return datetime(year, month, day, hour, tzinfo=PARIS)


def lines(outcome: object) -> list[tuple[str, int, int, str | None]]:
    return [(x.rule, x.points, x.granted, x.cap) for x in outcome.lines]  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def story() -> dict[str, object]:
    """Ann's first months, as the docs tell them; every account and outcome kept."""
    program = example_program()
    profile = Profile(ref="crm-381", birthday=date(1990, 3, 17))
    ann = Account.open("ann", program=program, at=at(3, 1, 8), profile=profile)
    seen: dict[str, object] = {"program": program, "profile": profile, "opened": ann}
    steps = [
        (
            "o-1",
            lambda a: a.order(
                "o-1",
                at=at(3, 5),
                lines=[Item("latte", "drinks", 1, "4.50"), Item("croissant", "food", 2, "1.80")],
            ),
        ),
        (
            "o-2",
            lambda a: a.order(
                "o-2", at=at(3, 8, 12), lines=[Item("catering", "food", 1, "240.00")]
            ),
        ),
        (
            "o-3",
            lambda a: a.order("o-3", at=at(3, 8, 17), lines=[Item("latte", "drinks", 1, "4.50")]),
        ),
        (
            "o-4",
            lambda a: a.order("o-4", at=at(3, 20), lines=[Item("beans", "retail", 6, "12.50")]),
        ),
        (
            "o-5",
            lambda a: a.order("o-5", at=at(3, 22), lines=[Item("latte", "drinks", 1, "4.50")]),
        ),
        ("f-4", lambda a: a.refund("f-4", at=at(3, 25), of="o-4")),
        ("rv-1", lambda a: a.review("rv-1", at=at(4, 2))),
        (
            "o-6",
            lambda a: a.order(
                "o-6",
                at=at(4, 2, 10),
                lines=[Item("beans", "retail", 2, "12.50")],
                tenders=[Tender("points", "10.00", points=1000), Tender("card", "15.00")],
            ),
        ),
        ("f-6", lambda a: a.refund("f-6", at=at(4, 3), of="o-6", items={"beans": 1})),
        ("rv-2", lambda a: a.review("rv-2", at=at(7, 2))),
    ]
    for name, step in steps:
        ann, outcome = step(ann)
        seen[name] = outcome
        seen[f"after {name}"] = ann
    seen["ann"] = ann
    return seen


def test_a_birthday_month_order_earns_the_bonus_once(story: dict[str, object]) -> None:
    assert lines(story["o-1"]) == [("base", 81, 81, None), ("birthday-month", 500, 500, None)]
    # later March orders do not get it again (once per birthday year)
    assert "birthday-month" not in [x[0] for x in lines(story["o-5"])]


def test_member_day_doubles_points_up_to_the_daily_cap(story: dict[str, object]) -> None:
    assert lines(story["o-2"]) == [
        ("base", 2400, 2400, None),
        ("member-day", 2400, 2000, "daily-bonus"),
    ]
    assert lines(story["o-3"]) == [("base", 45, 45, None), ("member-day", 45, 0, "daily-bonus")]
    after = story["after o-3"]
    assert after.caps == {  # type: ignore[attr-defined]
        "daily-bonus/2024-03-05": 500,
        "daily-bonus/2024-03-08": 2000,
    }


def test_rolling_spend_upgrades_to_gold_and_gold_earns_more(story: dict[str, object]) -> None:
    upgrade = story["o-4"]
    assert (upgrade.tier, upgrade.change) == ("gold", "upgrade")  # type: ignore[attr-defined]
    assert lines(story["o-5"]) == [("base", 45, 45, None), ("tier-benefits", 22, 22, None)]


def test_a_refund_after_the_upgrade_claws_back_and_the_tier_lapses_by_the_rules(
    story: dict[str, object],
) -> None:
    refund = story["f-4"]
    assert (refund.clawed_back, refund.tier) == (750, "gold")  # type: ignore[attr-defined]
    # the order earned at gold is not re-rated
    assert story["after f-4"].orders["o-5"].granted == (45, 22)  # type: ignore[attr-defined]
    review = story["after rv-1"]
    assert review.tier == "gold"  # type: ignore[attr-defined]
    assert review.status.grace_until == date(2024, 6, 30)  # type: ignore[attr-defined]
    assert story["rv-2"].tier == "silver"  # type: ignore[attr-defined]


def test_points_plus_cash_earns_on_cash_and_a_partial_refund_returns_points_in_proportion(
    story: dict[str, object],
) -> None:
    paid = story["o-6"]
    assert (paid.redeemed, paid.earned) == (1000, 225)  # type: ignore[attr-defined]
    back = story["f-6"]
    assert (back.clawed_back, back.returned) == (113, 500)  # type: ignore[attr-defined]


def test_a_retried_order_returns_the_stored_outcome(story: dict[str, object]) -> None:
    ann: Account = story["after o-3"]  # type: ignore[assignment]
    ann = ann.order("o-3b", at=at(3, 9), lines=[Item("beans", "retail", 2, "12.50")]).account
    again = ann.order("o-3", at=at(3, 10), lines=[Item("latte", "drinks", 1, Decimal("4.5"))])
    assert again.account is ann  # (after the counters changed)
    assert again.outcome == story["o-3"]
    with pytest.raises(IdempotencyConflict) as err:
        ann.order("o-3", at=at(3, 10), lines=[Item("latte", "drinks", 1, "4.60")])
    assert err.value.field == "lines[0].unit_price"  # type: ignore[attr-defined]


def test_an_order_id_reused_after_the_window_is_refused_while_its_activity_counts(
    story: dict[str, object],
) -> None:
    ann: Account = story["ann"]  # type: ignore[assignment]
    assert "o-3" not in ann.outcomes
    with pytest.raises(DuplicateId, match="o-3"):
        ann.order("o-3", at=at(8, 1), lines=[Item("latte", "drinks", 1, "4.50")])


def test_the_whole_story_replays_and_restores(story: dict[str, object]) -> None:
    ann: Account = story["ann"]  # type: ignore[assignment]
    program, profile = story["program"], story["profile"]
    assert Account.replay(ann.events, programs=program, profile=profile) == ann  # type: ignore[arg-type]
    middle: Account = story["after o-4"]  # type: ignore[assignment]
    doc = json.loads(json.dumps(middle.snapshot()))
    tail = ann.events_since(middle.version)
    assert Account.restore(doc, tail, programs=program, profile=profile) == ann  # type: ignore[arg-type]


def test_clock_skew_posts_with_the_last_command(story: dict[str, object]) -> None:
    ann: Account = story["ann"]  # type: ignore[assignment]
    behind = ann.last_at - timedelta(milliseconds=400)
    after, out = ann.redeem("r-skew", at=behind, points=10)
    assert out.at == ann.last_at
    assert out.occurred_at == behind
    assert after.ledger.events[-1].at == ann.last_at

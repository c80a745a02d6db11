"""The coffee-chain program used by the docs, the examples and the tests."""

from __future__ import annotations

from loyaltycore.accounts._program import Cap, Program
from loyaltycore.points import ExpireAfter
from loyaltycore.predicates import BirthdayMonth, Recurs, field
from loyaltycore.rules import FixedPoints, Multiplier, PointsPerSpend, Rule, RuleSet
from loyaltycore.tiers import Benefits, Rolling, Span, Tier, TierProgram, at_least

ZONE = "Europe/Paris"


def coffee_program(version: int = 1) -> Program:
    """Silver / gold / diamond by 12-month rolling spend, member day, birthday bonus, a cap."""
    purchase = field("kind") == "purchase"
    rules = RuleSet(
        [
            Rule("base", purchase, PointsPerSpend("10"), base=True),
            Rule("member-day", Recurs("FREQ=MONTHLY;BYMONTHDAY=8") & purchase, Multiplier("2")),
            Rule("birthday-month", BirthdayMonth() & purchase, FixedPoints(500)),
        ],
        tz=ZONE,
    )
    tiers = TierProgram(
        [
            Tier("silver", 0),
            Tier("gold", 1, at_least("spend", 300), Benefits("1.5")),
            Tier("diamond", 2, at_least("spend", 1000), Benefits(2)),
        ],
        window=Rolling(months=12),
        tz=ZONE,
        grace=Span(months=3),
    )
    return Program(
        id="coffee",
        version=version,
        rules=rules,
        tiers=tiers,
        tz=ZONE,
        currency="EUR",
        expiry=ExpireAfter(months=12),
        caps=[Cap("daily-bonus", 2_000, "day")],
        refund_days=60,
    )

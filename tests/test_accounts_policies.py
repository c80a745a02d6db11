"""The account's stated policies, one by one: caps, refunds, windows, merges, migrations, data."""

from __future__ import annotations

import json
import pickle
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import attrs
import pytest

from loyaltycore import serialize
from loyaltycore.accounts import (
    Account,
    Award,
    Cap,
    Profile,
    Program,
    Tender,
    event_from_data,
    event_to_data,
    example_program,
    merge,
    transfer,
)
from loyaltycore.errors import DuplicateId, InvalidData, InvalidRule
from loyaltycore.points import NeverExpire
from loyaltycore.predicates import FirstPurchase, Item, TierAtLeast, field
from loyaltycore.rules import FixedPoints, Limit, Multiplier, PointsPerSpend, Rule, RuleSet
from loyaltycore.tiers import Benefits, Tier, TierProgram, at_least

T = datetime(2024, 6, 3, 9, tzinfo=UTC)
P = example_program()
LATTE = Item("latte", "drinks", 1, "4.50")
MAP = {"silver": "silver", "gold": "gold", "diamond": "diamond"}


def program(rules: list[Rule], **kwargs: object) -> Program:
    tiers = TierProgram([Tier("silver", 0), Tier("gold", 1, at_least("spend", 100))])
    return Program(id="p", version=1, rules=RuleSet(rules), tiers=tiers, tz="UTC", **kwargs)  # type: ignore[arg-type]


# -- the program --------------------------------------------------------------------


def test_a_program_round_trips_through_plain_data_and_pickle() -> None:
    again = serialize.loads(serialize.dumps(P), Program)
    assert again == P
    assert again.rule_set == P.rule_set
    assert pickle.loads(pickle.dumps(P)) == P


@pytest.mark.parametrize(
    ("rules", "where"),
    [
        ([Rule("vip", TierAtLeast("Gold"), FixedPoints(5))], "rule 'vip': when"),
        ([Rule("vip", field("tier") == "platinum", FixedPoints(5))], "rule 'vip': when"),
        ([Rule("vip", field("tier").isin({"gold", "Gold"}), FixedPoints(5))], "rule 'vip': when"),
    ],
)
def test_a_rule_naming_an_unknown_tier_is_refused_naming_the_rule(
    rules: list[Rule], where: str
) -> None:
    with pytest.raises(InvalidRule, match=where):
        program(rules)


def test_zone_exponent_and_tier_order_must_be_the_programs() -> None:
    tiers = TierProgram([Tier("silver", 0)])
    with pytest.raises(InvalidRule, match=r"rules\.tz"):
        Program(id="p", version=1, rules=RuleSet([], tz="Asia/Tokyo"), tiers=tiers, tz="UTC")
    with pytest.raises(InvalidRule, match=r"rules\.exponent"):
        Program(id="p", version=1, rules=RuleSet([]), tiers=tiers, tz="UTC", exponent=3)
    with pytest.raises(InvalidRule, match=r"rules\.tiers"):
        Program(id="p", version=1, rules=RuleSet([], tiers=("gold",)), tiers=tiers, tz="UTC")


def test_tier_earn_multipliers_are_declared_once() -> None:
    tiers = TierProgram([Tier("silver", 0), Tier("gold", 1, at_least("spend", 100), Benefits(2))])
    rules = RuleSet([Rule("boost", None, Multiplier("2"))])
    p = Program(id="p", version=1, rules=rules, tiers=tiers, tz="UTC")
    assert p.rule_set.rules[-1].award.factors == {"gold": Decimal(2)}  # type: ignore[union-attr]
    from loyaltycore.rules import TierMultiplier

    twice = RuleSet([Rule("boost", None, TierMultiplier({"gold": 2}))])
    with pytest.raises(InvalidRule, match="declare them once"):
        Program(id="p", version=1, rules=twice, tiers=tiers, tz="UTC")


def test_caps_are_checked() -> None:
    with pytest.raises(DuplicateId):
        program([], caps=[Cap("c", 5, "day"), Cap("c", 9, "month")])
    with pytest.raises(InvalidRule, match="group 'promo'"):
        program([], caps=[Cap("c", 5, "day", "groups", {"promo"})])
    with pytest.raises(InvalidRule, match="groups"):
        Cap("c", 5, "day", "bonus", {"promo"})


# -- caps -------------------------------------------------------------------------------


def test_a_cap_cuts_the_later_rules_first_and_a_refund_gives_room_back() -> None:
    rules = [
        Rule("base", None, PointsPerSpend("1"), base=True),
        Rule("promo-a", None, FixedPoints(60), group="promo"),
        Rule("bonus-b", None, FixedPoints(60)),
    ]
    p = program(
        rules,
        caps=[
            Cap("promo-cap", 50, "week", "groups", {"promo"}),
            Cap("all-cap", 100, "day", "all"),
        ],
    )
    a = Account.open("m", program=p, at=T)
    a, out = a.order("o-1", at=T, amount="30")
    assert [(x.rule, x.granted, x.cap) for x in out.lines] == [
        ("base", 30, None),
        ("promo-a", 50, "promo-cap"),
        ("bonus-b", 20, "all-cap"),
    ]
    a, back = a.refund("f-1", at=T, of="o-1")
    assert back.clawed_back == 100
    assert a.caps == {}
    assert a.order("o-2", at=T, amount="30").outcome.earned == 100


# -- refunds ----------------------------------------------------------------------------


def test_buying_and_refunding_never_reopens_a_once_only_bonus() -> None:
    rules = [
        Rule("base", None, PointsPerSpend("1"), base=True),
        Rule("welcome", FirstPurchase(), FixedPoints(500), limit=Limit(times=1)),
    ]
    a = Account.open("m", program=program(rules), at=T)
    a, first = a.order("o-1", at=T, amount="10")
    a, back = a.refund("f-1", at=T, of="o-1")
    assert (first.earned, back.clawed_back) == (510, 510)
    a, second = a.order("o-2", at=T, amount="10")
    assert second.earned == 10
    assert a.counters["purchases"] == 2
    assert a.counters["welcome/lifetime/times"] == 1


def test_partial_refunds_add_up_to_the_whole() -> None:
    basket = [Item("a", quantity=3, unit_price="10"), Item("b", unit_price="5")]
    a = Account.open(
        "m", program=program([Rule("base", None, PointsPerSpend("1"), base=True)]), at=T
    )
    a = a.adjust("x", at=T, points=30, reason="gift").account
    paid = [Tender("points", "3.00", points=30), Tender("cash", "32.00")]
    a, out = a.order("o-1", at=T, lines=basket, tenders=paid)
    taken = returned = 0
    for i, items in enumerate(({"a": 1}, {"a": 1}, {"b": 1}, None)):
        a, back = a.refund(f"f-{i}", at=T, of="o-1", items=items)
        taken += back.clawed_back
        returned += back.returned
    assert (taken, returned) == (out.earned, out.redeemed)
    assert a.balance().available == 30  # the gift, the points tendered back
    assert a.orders["o-1"].refunded_all


def test_an_unknown_order_is_refunded_by_amount_at_the_programs_rate() -> None:
    p = program([Rule("base", None, PointsPerSpend("1"), base=True)], unknown_refund_rate="2")
    a = Account.open("m", program=p, at=T).adjust("x", at=T, points=15, reason="gift").account
    a, out = a.refund("f-1", at=T, of="from-the-old-system", amount="10.00")
    assert (out.clawed_back, out.uncollected) == (15, 5)


def test_an_order_in_another_currency_converts_each_value_once() -> None:
    p = program([Rule("base", None, PointsPerSpend("1"), base=True)])
    a = Account.open("m", program=p, at=T)
    basket = [Item("a", quantity=3, unit_price="3.335")]
    a, out = a.order("o-1", at=T, lines=basket, currency="USD", rate="0.5")
    assert out.earned == 5
    # 3.335 USD -> 1.6675 -> 1.67 EUR (half-even, once per value): 3 x 1.67 = 5.01
    assert a.orders["o-1"].stored_evaluation().eligible == 501
    assert (a.orders["o-1"].currency, a.orders["o-1"].rate) == ("USD", Decimal("0.5"))
    a, back = a.refund("f-1", at=T, of="o-1", items={"a": 1})
    assert back.clawed_back == 2  # 5 points on 5.01, 3 on the 3.34 left


# -- idempotency ------------------------------------------------------------------------


def test_the_idempotency_window_is_bounded_by_count_and_age() -> None:
    p = attrs.evolve(P, retry_count=3, retry_days=2)
    a = Account.open("m", program=p, at=T).adjust("x", at=T, points=1000, reason="gift").account
    a = a.redeem("r-1", at=T, points=10).account
    assert a.redeem("r-1", at=T, points=10).account is a
    for i in range(3):
        a = a.redeem(f"n-{i}", at=T, points=1).account
    assert "r-1" not in a.outcomes  # pushed out by count: a new command again
    assert a.redeem("r-1", at=T, points=10).account.version == a.version + 1
    b = a.redeem("r-9", at=T, points=1).account
    later = b.adjust("y", at=T + timedelta(days=3), points=1, reason="x").account
    assert "r-9" not in later.outcomes  # and by age


# -- two accounts -----------------------------------------------------------------------


def test_a_transfer_retry_returns_both_outcomes() -> None:
    a = Account.open("a", program=P, at=T).adjust("x", at=T, points=100, reason="gift").account
    b = Account.open("b", program=P, at=T)
    (a2, sent), (b2, got) = transfer(a, b, "t-1", at=T, points=40)
    (a3, sent2), (b3, got2) = transfer(a2, b2, "t-1", at=T, points=40)
    assert (a3, b3, sent2, got2) == (a2, b2, sent, got)
    assert a3 is a2


def test_a_merge_keeps_the_higher_tier_adds_counters_and_dedupes_activity() -> None:
    big = [Item("beans", "retail", 90, "12.50")]
    a = Account.open("a", program=P, at=T).order("o-1", at=T, lines=[LATTE]).account
    b = Account.open("b", program=P, at=T).order("o-9", at=T, lines=big).account
    assert (a.tier, b.tier) == ("silver", "diamond")
    later = T + timedelta(days=1)
    (a2, _), (b2, _) = merge(a, b, "g-1", at=later)
    assert a2.tier == "diamond"
    assert a2.counters["purchases"] == 2
    assert {x.source_id for x in a2.activity} == {"o-1:spend", "o-9:spend"}
    assert b2.merged_into == "a"
    # the absorbed account's order is still refundable, and its id still answers retries
    a3, back = a2.refund("f-9", at=later, of="o-9", items={"beans": 1})
    assert back.clawed_back == 125
    assert a3.order("o-9", at=later, lines=big).account is a3
    assert Account.replay(a3.events, programs=P) == a3
    assert Account.replay(b2.events, programs=P) == b2


def test_a_referral_award_is_emitted_for_the_referrer_and_applies_once() -> None:
    rules = [
        Rule("base", None, PointsPerSpend("1"), base=True),
        Rule(
            "referral",
            field("attributes.referrer").isin({"ben"}),
            FixedPoints(300, recipient="referrer", pending_days=30),
        ),
    ]
    p = program(rules)
    ann = Account.open("ann", program=p, at=T)
    ann, out = ann.order("o-1", at=T, amount="10", attributes={"referrer": "ben"})
    [award] = out.emitted
    assert isinstance(award, Award)
    assert (award.member, award.points, award.available_at) == ("ben", 300, T + timedelta(days=30))
    ben = Account.open("ben", program=p, at=T)
    ben, got = award.apply(ben)
    assert got.pending == 300
    assert award.apply(ben).account is ben


# -- migration --------------------------------------------------------------------------


def test_a_migration_keeps_expiry_maps_tiers_and_refunds_by_the_old_program() -> None:
    a = Account.open("m", program=P, at=T)
    a = a.order("o-1", at=T, lines=[Item("beans", "retail", 30, "12.50")]).account
    expiry = a.ledger.lots[0].expires_at
    v2 = attrs.evolve(
        P,
        version=2,
        expiry=NeverExpire(),
        rules=RuleSet([Rule("base", None, PointsPerSpend("1"), base=True)], tz=P.tz),
    )
    later = T + timedelta(days=2)
    a, out = a.migrate("mv", at=later, program=v2, tier_map={**MAP, "diamond": "gold"})
    assert (a.tier, out.note) == ("gold", "migrated from coffee v1 to coffee v2")
    assert [lot.expires_at for lot in a.ledger.lots] == [expiry]
    a, back = a.refund("f-1", at=later, of="o-1")
    assert back.clawed_back == 3750  # by the order's own evaluation: 10 a euro
    assert a.order("o-2", at=later, amount="10").outcome.earned == 15  # v2: 1 a euro, gold x1.5
    assert Account.replay(a.events, programs=[P, v2]) == a


# -- plain data, personal data, bounded state ---------------------------------------------


def test_events_are_plain_data_and_bad_data_names_the_path() -> None:
    a = Account.open("m", program=P, at=T).order("o-1", at=T, lines=[LATTE]).account
    for event in a.events:
        assert event_from_data(json.loads(json.dumps(event_to_data(event)))) == event
    data = event_to_data(a.events[-1])
    data["data"]["version"] = "2"
    with pytest.raises(InvalidData, match=r"\$\.data\.version"):
        event_from_data(data)


def test_no_personal_datum_is_in_events_outcomes_or_snapshots() -> None:
    profile = Profile(
        ref="crm-7731",
        birthday=date(1987, 6, 11),
        segments={"vip-secret"},
        attributes={"postcode": "75011"},
    )
    rules = [Rule("base", None, PointsPerSpend("1"), base=True)]
    a = Account.open("m", program=program(rules), at=T, profile=profile)
    a = a.order("o-1", at=T, lines=[LATTE]).account
    a = a.refund("f-1", at=T, of="o-1").account
    stored = json.dumps([event_to_data(e) for e in a.events]) + json.dumps(a.snapshot())
    for secret in ("crm-7731", "1987-06-11", "vip-secret", "75011", "postcode"):
        assert secret not in stored


def test_the_state_stays_the_size_of_recent_activity() -> None:
    p = attrs.evolve(P, refund_days=30, retry_days=7, carry_every=64)
    a = Account.open("m", program=p, at=T)
    biggest = {1: 0, 2: 0}
    for day in range(0, 3 * 365, 3):
        at = T + timedelta(days=day)
        a = a.order(f"o-{day}", at=at, lines=[LATTE]).account
        if day % 9 == 0:
            a = a.refund(f"f-{day}", at=at, of=f"o-{day}").account
        year = day // 365
        if year and day % 45 == 0:
            biggest[year] = max(biggest[year], len(json.dumps(a.snapshot())))
    assert biggest[2] < 1.1 * biggest[1]
    assert len(a.ledger.events) < 5 * p.carry_every
    assert Account.replay(a.events, programs=p) == a


def test_a_member_with_many_open_lots_is_carried_forward_less_often() -> None:
    # carrying forward costs time in proportion to the lots: a member keeping
    # hundreds of open lots waits as many commands as it carried lots
    p = attrs.evolve(P, carry_every=16)
    a = Account.open("m", program=p, at=T)
    carries, kept = 0, 0
    for k in range(600):
        before = len(a.ledger.events)
        a = a.award(f"a-{k}", at=T + timedelta(minutes=k), points=5, reason="visit").account
        if len(a.ledger.events) < before:
            carries += 1
            kept = sum(1 for lot in a.ledger.lots if lot.remaining)
            assert a.rotate_at - a.ledger_ops >= kept
    assert kept > 200
    assert 4 <= carries <= 8  # (every 16 commands would be 37)
    assert a.balance().available == 5 * 600
    assert Account.replay(a.events, programs=p) == a
    assert Account.restore(a.snapshot(), (), programs=p) == a

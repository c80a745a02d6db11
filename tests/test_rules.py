"""Earning rules: awards, eligible spend, stacking, limits, budgets, traces, both engines."""

from __future__ import annotations

import pickle
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import attrs
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loyaltycore import errors
from loyaltycore.predicates import (
    Always,
    Event,
    Item,
    Member,
    Predicate,
    encode,
    field,
    on_weekdays,
)
from loyaltycore.rules import (
    BatchEvaluation,
    Budget,
    Evaluation,
    FixedPoints,
    Limit,
    Multiplier,
    Outcome,
    PointsPerSpend,
    Rule,
    RuleSet,
    TierMultiplier,
    Window,
)
from loyaltycore.testing import events, members, predicates, rule_sets

AT = datetime(2024, 5, 1, 12, tzinfo=UTC)  # a Wednesday
BASE = Rule("base", Always(), PointsPerSpend("1"), base=True)


def purchase(amount: str | None = "10", **kw: Any) -> Event:
    return Event(kw.pop("id", "o"), kw.pop("kind", "purchase"), kw.pop("at", AT), amount, **kw)


# -- bad input ------------------------------------------------------------------------

BAD: list[tuple[str, Any, type[Exception], str]] = [
    (
        "rate negative",
        lambda: PointsPerSpend("-1"),
        errors.InvalidArgument,
        "rate=-1 must be >= 0",
    ),
    ("rate float", lambda: PointsPerSpend(1.5), errors.InvalidType, "rate=1.5"),
    ("rounding", lambda: PointsPerSpend("1", "UP"), errors.InvalidArgument, "rounding='UP'"),
    ("points negative", lambda: FixedPoints(-5), errors.InvalidPoints, "points=-5"),
    ("points float", lambda: FixedPoints(1.5), errors.InvalidType, "points=1.5"),
    (
        "factor below 1",
        lambda: Multiplier("0.5"),
        errors.InvalidArgument,
        "factor=0.5 must be >= 1",
    ),
    ("tier factor", lambda: TierMultiplier({"gold": "0.9"}), errors.InvalidArgument, "factors"),
    ("factors type", lambda: TierMultiplier("gold"), errors.InvalidType, "factors='gold'"),
    ("currency", lambda: FixedPoints(1, currency=""), errors.InvalidArgument, "currency=''"),
    ("pending", lambda: FixedPoints(1, pending_days=-1), errors.InvalidArgument, "pending_days"),
    (
        "expiry",
        lambda: FixedPoints(1, expires_after_days="9"),
        errors.InvalidType,
        "expires_after_days",
    ),
    ("recipient", lambda: FixedPoints(1, recipient="friend"), errors.InvalidArgument, "friend"),
    ("empty limit", lambda: Limit(), errors.InvalidRule, "times= or points="),
    ("limit times", lambda: Limit(times=0), errors.InvalidArgument, "times=0"),
    ("limit period", lambda: Limit(times=1, period="week"), errors.InvalidArgument, "'week'"),
    ("window order", lambda: Window(AT, AT), errors.InvalidRule, "must be after start"),
    ("window naive", lambda: Window(datetime(2024, 1, 1)), errors.NaiveDatetime, "start="),
    ("window end naive", lambda: Window(end=datetime(2024, 1, 1)), errors.NaiveDatetime, "end="),
    ("budget id", lambda: Budget("", 5, {"r"}), errors.InvalidArgument, "id=''"),
    ("budget points", lambda: Budget("b", 0, {"r"}), errors.InvalidArgument, "points=0"),
    ("budget rules", lambda: Budget("b", 5, "r"), errors.InvalidType, "rules='r'"),
    ("rule id", lambda: Rule("", Always(), FixedPoints(1)), errors.InvalidArgument, "id=''"),
    ("rule when", lambda: Rule("r", 5, FixedPoints(1)), errors.InvalidType, "when=5"),
    ("rule award", lambda: Rule("r", None, 5), errors.InvalidType, "award=5"),
    (
        "rule priority",
        lambda: Rule("r", None, FixedPoints(1), priority=1.5),
        errors.InvalidType,
        "priority=1.5",
    ),
    ("rule base", lambda: Rule("r", None, FixedPoints(1), base=1), errors.InvalidType, "base=1"),
    (
        "base multiplier",
        lambda: Rule("r", None, Multiplier("2"), base=True),
        errors.InvalidRule,
        "cannot be a multiplier",
    ),
    (
        "rule limit",
        lambda: Rule("r", None, FixedPoints(1), limit=3),
        errors.InvalidType,
        "limit=3",
    ),
    (
        "unknown field",
        lambda: Rule("r", field("amout") > 1, FixedPoints(1)),
        errors.InvalidRule,
        "amout",
    ),
    (
        "duplicate ids",
        lambda: RuleSet([BASE, attrs.evolve(BASE, award=PointsPerSpend("2"))]),
        errors.DuplicateId,
        "rules[1].id='base' duplicates rules[0].id",
    ),
    (
        "unknown currency",
        lambda: RuleSet([Rule("r", None, FixedPoints(1, currency="miles2"))]),
        errors.InvalidRule,
        "rules[0].award.currency='miles2'",
    ),
    (
        "empty group",
        lambda: RuleSet([BASE], groups={"g": "best"}),
        errors.InvalidRule,
        "groups['g']",
    ),
    (
        "group mode",
        lambda: RuleSet([Rule("r", None, FixedPoints(1), group="g")], groups={"g": "max"}),
        errors.InvalidRule,
        "groups['g']='max'",
    ),
    (
        "mixed group",
        lambda: RuleSet(
            [attrs.evolve(BASE, group="g"), Rule("r", None, FixedPoints(1), group="g")]
        ),
        errors.InvalidRule,
        "rules[1].group='g' mixes",
    ),
    (
        "budget rule",
        lambda: RuleSet([BASE], budgets=[Budget("b", 5, {"nope"})]),
        errors.InvalidRule,
        "budgets[0].rules names unknown rule 'nope'",
    ),
    (
        "tier factor name",
        lambda: RuleSet([Rule("t", None, TierMultiplier({"diamond": "2"}))], tiers=("gold",)),
        errors.InvalidRule,
        "rules[0].award.factors names tier 'diamond'",
    ),
    ("rules type", lambda: RuleSet("base"), errors.InvalidType, "rules='base'"),
    ("rules item", lambda: RuleSet([BASE, 3]), errors.InvalidType, "rules[1]=3"),
    ("exponent", lambda: RuleSet([BASE], exponent=-1), errors.InvalidArgument, "exponent=-1"),
    ("zone", lambda: RuleSet([BASE], tz="Mars/Base"), errors.InvalidArgument, "Mars/Base"),
    ("event", lambda: RuleSet([BASE]).evaluate("e", Member("m")), errors.InvalidType, "event="),
    ("member", lambda: RuleSet([BASE]).evaluate(purchase(), "m"), errors.InvalidType, "member="),
    (
        "cost per point",
        lambda: RuleSet([BASE]).simulate([purchase()], [Member("m")], cost_per_point=0.01),
        errors.InvalidType,
        "cost_per_point=0.01",
    ),
    (
        "batch members",
        lambda: RuleSet([BASE]).evaluate_batch([purchase()], [Member("m")] * 2),
        errors.InvalidArgument,
        "members has 2 rows",
    ),
    (
        "batch member missing",
        lambda: RuleSet([BASE]).evaluate_batch(
            {"event_id": np.array([1]), "member_id": np.array([9]), "at": np.array([0])},
            {"member_id": np.array([1])},
        ),
        errors.InvalidArgument,
        "member_id=9",
    ),
    (
        "batch at",
        lambda: RuleSet([BASE]).evaluate_batch(
            {"event_id": np.array([1]), "member_id": np.array([1]), "at": np.array([0.5])},
            {"member_id": np.array([1])},
        ),
        errors.InvalidColumn,
        "'at'",
    ),
]


@pytest.mark.parametrize(("label", "make", "error", "text"), BAD, ids=[b[0] for b in BAD])
def test_bad_input_is_refused_with_a_named_field(
    label: str, make: Any, error: type[Exception], text: str
) -> None:
    with pytest.raises(error) as info:
        make()
    assert text in str(info.value)
    assert isinstance(info.value, errors.LoyaltyError)


def test_bad_refunds_name_the_sku() -> None:
    rs = RuleSet([BASE])
    done = rs.evaluate(purchase("10", items=(Item("A", unit_price="10"),)), Member("m"))
    with pytest.raises(errors.NotFound, match="'Z'"):
        rs.reverse(done, {"Z": 1})
    with pytest.raises(errors.InvalidArgument, match=r"refunded_items\['A'\]=2 is more than"):
        rs.reverse(done, {"A": 2})
    with pytest.raises(errors.InvalidArgument, match="refunded_amount is for events without"):
        rs.reverse(done, refunded_amount="1")


BAD_DATA = [
    (["rules", 0, "award", "rate"], "-1", "rate=-1 must be >= 0 @ $.data.rules[0].award"),
    (["rules", 0, "award", "currency"], "miles2", "currency='miles2'"),
    (
        ["rules", 0, "when"],
        {"type": "compare", "field": "amout", "op": ">", "value": "1"},
        "amout",
    ),
    (["rules", 0, "award", "type"], "bonus", "$.data.rules[0].award"),
    (["rules", 0, "priority"], 1.5, "1.5 must be an int, not float @ $.data.rules[0].priority"),
    (["rules", 0, "limit"], {"times": 0, "points": None, "period": "month"}, "times=0"),
    (["groups"], {"nope": "best"}, "groups['nope'] has no rules"),
]


@pytest.mark.parametrize(("path", "value", "text"), BAD_DATA, ids=[str(b[0]) for b in BAD_DATA])
def test_bad_plain_data_names_the_path(path: list[Any], value: Any, text: str) -> None:
    rs = RuleSet([Rule("r", field("amount") >= 1, PointsPerSpend("1"), limit=Limit(times=1))])
    data = rs.to_data()
    node = data["data"]
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    with pytest.raises(errors.InvalidData) as info:
        RuleSet.from_data(data)
    assert text in str(info.value)


def test_duplicate_ids_in_plain_data_are_refused() -> None:
    data = RuleSet([BASE]).to_data()
    data["data"]["rules"].append(data["data"]["rules"][0])
    with pytest.raises(errors.InvalidData, match=r"rules\[1\]\.id='base' duplicates"):
        RuleSet.from_data(data)


# -- awards -------------------------------------------------------------------------

MODES = ["ROUND_DOWN", "ROUND_UP", "ROUND_HALF_UP", "ROUND_HALF_DOWN", "ROUND_HALF_EVEN"]


@given(
    st.integers(0, 10**9),
    st.sampled_from(["0.5", "1", "1.25", "3", "0.333", "7.5"]),
    st.sampled_from(MODES),
)
def test_points_per_spend_rounds_once_like_decimal(cents: int, rate: str, mode: str) -> None:
    amount = Decimal(cents).scaleb(-2)
    rs = RuleSet([Rule("r", None, PointsPerSpend(rate, mode))])
    got = rs.evaluate(purchase(str(amount)), Member("m")).points
    assert got == int((amount * Decimal(rate)).to_integral_value(rounding=mode))


def test_multipliers_add_and_never_multiply_bonus_lines() -> None:
    rs = RuleSet(
        [
            BASE,
            Rule("bonus", None, FixedPoints(100)),
            Rule("double", None, Multiplier("2")),
            Rule("triple", None, Multiplier("3")),
        ]
    )
    assert rs.evaluate(purchase("10.99"), Member("m")).by_rule() == {
        "base": 10,
        "bonus": 100,
        "double": 10,
        "triple": 20,
    }


def test_tier_metric_awards_become_activity_for_the_tier_program() -> None:
    rs = RuleSet([BASE, Rule("sp", None, PointsPerSpend("2", currency="status_points"))])
    result = rs.evaluate(purchase("12"), Member("m"))
    assert result.points == 12
    (activity,) = result.activity
    assert (activity.metric, activity.amount, activity.source_id) == (
        "status_points",
        Decimal(24),
        "o:sp",
    )


def test_pending_days_and_expiry_override_set_the_line_dates() -> None:
    rs = RuleSet([Rule("r", None, FixedPoints(5, pending_days=14, expires_after_days=90))])
    (line,) = rs.evaluate(purchase(), Member("m")).awards
    assert line.available_at == AT + timedelta(days=14)
    assert line.expires_at == AT + timedelta(days=90)


# -- eligible spend ---------------------------------------------------------------------


@given(events(half_cents=False))
def test_eligible_spend_never_exceeds_the_product_lines(event: Event) -> None:
    rs = RuleSet([BASE])
    result = rs.evaluate(event, Member("m"))
    products = sum((i.net for i in event.items if i.kind == "product" and i.earning), Decimal(0))
    if event.items:
        assert 0 <= result.eligible <= products * 100
    assert result.points == result.eligible // 100


def test_basket_discount_is_prorated_and_adds_up() -> None:
    from loyaltycore.rules._spend import line_eligible

    basket = tuple(Item(s, unit_price="1.00") for s in "ABC")
    e = purchase("3", items=basket, discount="1.00")
    assert line_eligible(e, 2) == [67, 67, 66]
    assert sum(line_eligible(e, 2)) == 200


# -- stacking, limits, budgets, trace ---------------------------------------------------


def test_group_ties_go_to_the_larger_award_then_the_id() -> None:
    rules = [
        Rule("b", None, FixedPoints(10), group="g"),
        Rule("a", None, FixedPoints(10), group="g"),
        Rule("c", None, FixedPoints(5), group="g"),
    ]
    result = RuleSet(rules).evaluate(purchase(), Member("m"))
    assert result.by_rule() == {"a": 10}
    best = RuleSet([*rules[:2], attrs.evolve(rules[2], priority=1)], groups={"g": "best"})
    assert best.evaluate(purchase(), Member("m")).by_rule() == {"a": 10}
    priority = RuleSet([*rules[:2], attrs.evolve(rules[2], priority=1)])
    assert priority.evaluate(purchase(), Member("m")).by_rule() == {"c": 5}


def test_every_outcome_is_traced() -> None:
    past = Window(datetime(2020, 1, 1, tzinfo=UTC), datetime(2021, 1, 1, tzinfo=UTC))
    rs = RuleSet(
        [
            BASE,
            Rule("cond", field("channel") == "app", FixedPoints(1)),
            Rule("window", None, FixedPoints(1), valid=past),
            Rule("zero", None, PointsPerSpend("0")),
            Rule("times", None, FixedPoints(1), limit=Limit(times=1)),
            Rule("cap", None, FixedPoints(50), limit=Limit(points=60)),
            Rule("capped", None, FixedPoints(50), limit=Limit(points=60, period="year")),
            Rule("win", None, FixedPoints(3), group="g", priority=1),
            Rule("lose", None, FixedPoints(9), group="g", priority=2),
            Rule("budget", None, FixedPoints(1)),
            Rule("ref", None, FixedPoints(1, recipient="referrer")),
        ],
        budgets=[Budget("b", 10, {"budget"})],
    )
    member = Member(
        "m",
        counters={"times/lifetime/times": 1, "cap/lifetime/points": 60, "capped/2024/points": 30},
    )
    result = rs.evaluate(purchase(), member, budgets_used={"b": 10})
    outcomes = {rid: result.trace.outcome(rid).name for rid in result.trace.rule_ids}
    assert outcomes == {
        "base": "FIRED",
        "cond": "CONDITION",
        "window": "NOT_VALID",
        "zero": "ZERO",
        "times": "LIMIT_TIMES",
        "cap": "LIMIT_POINTS",
        "capped": "TRUNCATED",
        "win": "FIRED",
        "lose": "LOST_GROUP",
        "budget": "BUDGET",
        "ref": "NO_RECIPIENT",
    }
    assert result.by_rule()["capped"] == 30
    assert result.trace.fired() == ("base", "capped", "win")
    assert "cond: condition failed: Compare(field='channel'" in result.trace.explain()
    with pytest.raises(errors.NotFound):
        result.trace.why("nope")


def test_the_first_failed_conjunct_is_named() -> None:
    rs = RuleSet([Rule("r", on_weekdays("WE") & (field("amount") >= 50), FixedPoints(1))])
    trace = rs.evaluate(purchase("10"), Member("m")).trace
    assert trace.details == (1,)
    assert trace.why("r").endswith("value=Decimal('50'), kind=None)")


def test_a_budget_stops_its_rules_once_reached() -> None:
    rs = RuleSet([Rule("r", None, FixedPoints(40))], budgets=[Budget("b", 100, {"r"})])
    evs = [purchase(id=f"o{i}", at=AT + timedelta(hours=i)) for i in range(5)]
    batch = rs.evaluate_batch(evs, [Member("m")] * 5)
    assert batch.amounts("r").tolist() == [40, 40, 40, 0, 0]
    assert rs.evaluate(evs[0], Member("m"), budgets_used={"b": 99}).points == 40


# -- both engines ---------------------------------------------------------------------------


def _sequential(rs: RuleSet, pairs: list[tuple[Event, Member]]) -> list[Evaluation]:
    from loyaltycore.testing import _sequential as run

    return run(rs, pairs)[0]


@settings(max_examples=40)
@given(rule_sets(), st.data())
def test_scalar_equals_batch_on_random_rule_sets(rs: RuleSet, data: st.DataObject) -> None:
    people = data.draw(st.lists(members(st.sampled_from(["a", "b"])), min_size=1, max_size=2))
    n = data.draw(st.integers(1, 8))
    evs = [
        attrs.evolve(e, id=f"e{k}")
        for k, e in enumerate(
            data.draw(st.lists(events(half_cents=False), min_size=n, max_size=n))
        )
    ]
    pairs = [(e, data.draw(st.sampled_from(people))) for e in evs]
    by_id = {}
    for _, m in pairs:
        by_id.setdefault(m.id, m)
    pairs = [(e, by_id[m.id]) for e, m in pairs]
    scalar = _sequential(rs, pairs)
    batch = rs.evaluate_batch([e for e, _ in pairs], [m for _, m in pairs])
    for rid in rs._compiled.ids:
        assert batch.amounts(rid).tolist() == [r.by_rule().get(rid, 0) for r in scalar]
    assert batch.codes.T.tolist() == [list(r.trace.codes) for r in scalar]
    assert batch.points.tolist() == [r.points for r in scalar]


@settings(max_examples=60)
@given(predicates(), events(half_cents=False), members())
def test_compiled_conditions_agree_with_the_predicates(
    pred: Predicate, event: Event, member: Member
) -> None:
    rs = RuleSet(
        [Rule("r", pred, FixedPoints(1))],
        tz="America/New_York",
        tiers=("silver", "gold", "platinum"),
    )
    got = rs.evaluate(event, member).trace.outcome("r") is Outcome.FIRED
    assert got == pred.test(event=event, member=member, as_of=event.at, tz=rs.tz, tiers=rs.tiers)


@pytest.mark.parametrize(
    ("when", "event", "member"),
    [
        (field("attributes.visits", "int") >= 1, purchase(attributes={"visits": 2}), Member("m")),
        (
            field("attributes.staff", "bool") == True,  # noqa: E712
            purchase(attributes={"staff": True}),
            Member("m"),
        ),
        (
            field("attributes.rating", "float") > 2.5,
            purchase(attributes={"rating": 3.0}),
            Member("m"),
        ),
        (
            field("member.attributes.score", "int") >= 1,
            purchase(),
            Member("m", attributes={"score": 2}),
        ),
    ],
)
def test_batch_reads_typed_attributes_as_the_scalar_engine_does(
    when: Predicate, event: Event, member: Member
) -> None:
    rs = RuleSet([Rule("r", when, FixedPoints(5))])
    bare = purchase(id="bare")  # no attributes: the comparison is False in both engines
    assert rs.evaluate(event, member).points == 5
    assert rs.evaluate(bare, Member("n")).points == 0
    assert rs.evaluate_batch([event, bare], [member, Member("n")]).points.tolist() == [5, 0]


def test_batch_refuses_one_attribute_read_as_two_kinds() -> None:
    rs = RuleSet(
        [
            Rule("r", field("attributes.visits", "int") >= 1, FixedPoints(5)),
            Rule("s", field("attributes.visits") == "2", FixedPoints(1)),
        ]
    )
    with pytest.raises(errors.InvalidArgument, match=r"'attributes\.visits' is read as 'int'"):
        rs.evaluate_batch([purchase()], [Member("m")])


def test_columns_in_any_order_give_the_object_results_in_input_order() -> None:
    rs = RuleSet(
        [
            BASE,
            Rule("first", None, FixedPoints(100), limit=Limit(times=1, period="month")),
            Rule("vip", field("tier") == "gold", Multiplier("2")),
        ]
    )
    people = {"a": Member("a", tier="gold"), "b": Member("b")}
    evs = [
        purchase("10", id="3", at=AT + timedelta(days=1)),
        purchase("20", id="1", at=AT),
        purchase("30", id="2", at=AT),
    ]
    who = ["a", "a", "b"]
    objects = rs.evaluate_batch(evs, [people[w] for w in who])
    cols = encode(evs)
    cols["member_id"] = np.array(who, dtype=object)
    table = encode(members=list(people.values()))
    columns = rs.evaluate_batch(cols, table)
    assert columns == objects
    assert objects.event_id.tolist() == ["3", "1", "2"]
    assert objects.amounts("first").tolist() == [0, 100, 100]
    assert objects.increments() == {
        "a": {"first/2024-05/times": 1, "first/2024-05/points": 100},
        "b": {"first/2024-05/times": 1, "first/2024-05/points": 100},
    }
    assert objects.by_member() == {"a": 100 + 30 + 30, "b": 130}


def test_batch_counters_start_from_the_members_counters() -> None:
    rs = RuleSet([Rule("r", None, FixedPoints(40), limit=Limit(points=100, period="month"))])
    cols = {
        "event_id": np.arange(3),
        "member_id": np.array([7, 7, 7]),
        "at": np.array([0, 1, 2], dtype=np.int64),
    }
    table = {"member_id": np.array([7]), "counters": np.array([{"r/1970-01/points": 30}])}
    assert rs.evaluate_batch(cols, table).amounts("r").tolist() == [40, 30, 0]


# -- refunds and what-if ---------------------------------------------------------------------


@given(events(half_cents=False), st.data())
def test_a_refund_never_claws_back_more_than_was_given(event: Event, data: st.DataObject) -> None:
    rs = RuleSet(
        [
            BASE,
            Rule("big", field("amount") >= 50, FixedPoints(20)),
            Rule("x2", None, Multiplier("2")),
        ]
    )
    done = rs.evaluate(event, Member("m"))
    skus: dict[str, int] = {}
    for item in event.items:
        skus[item.sku] = skus.get(item.sku, 0) + item.quantity
    refund = {s: data.draw(st.integers(1, q)) for s, q in skus.items() if data.draw(st.booleans())}
    back = rs.reverse(done, refund if refund or event.items else None)
    given_by_rule = done.by_rule()
    for line in back.clawback:
        assert 0 < line.points <= given_by_rule[line.rule]
    if back.remaining is not None:
        assert back.points + back.remaining.points >= done.points
    else:
        assert back.points == done.points


def test_a_full_refund_takes_everything_back_and_decrements_counters() -> None:
    rs = RuleSet([BASE, Rule("once", None, FixedPoints(5), limit=Limit(times=1))])
    done = rs.evaluate(purchase("12.34", items=(Item("A", unit_price="12.34"),)), Member("m"))
    back = rs.reverse(done)
    assert back.points == done.points == 17
    assert back.decrements == {"once/lifetime/times": 1, "once/lifetime/points": 5}


def test_a_partial_refund_of_a_basket_without_an_amount_keeps_no_amount() -> None:
    rs = RuleSet([BASE])
    basket = (Item("A", unit_price="80"), Item("B", unit_price="40"))
    done = rs.evaluate(purchase(None, items=basket), Member("m"))
    back = rs.reverse(done, {"B": 1})
    assert back.remaining is not None
    assert back.remaining.event.amount is None
    assert (done.points, back.points, back.remaining.points) == (120, 40, 80)


def test_refunded_tier_metrics_become_negative_activity() -> None:
    rs = RuleSet([Rule("sp", None, PointsPerSpend("1", currency="status_points"))])
    done = rs.evaluate(
        purchase("30", items=(Item("A", quantity=3, unit_price="10"),)), Member("m")
    )
    (entry,) = rs.reverse(done, {"A": 1}).activity
    assert (entry.amount, entry.reverses) == (Decimal(-10), "o:sp")


def test_simulate_reports_points_per_rule_and_member_and_cost() -> None:
    rs = RuleSet([BASE, Rule("wed", on_weekdays("WE"), Multiplier("2"))])
    evs = [purchase("10", id="1"), purchase("5", id="2", at=AT + timedelta(days=1))]
    sim = rs.simulate(evs, [Member("a"), Member("b")], cost_per_point="0.01")
    assert (sim.events, sim.points, sim.by_rule, sim.by_member) == (
        2,
        25,
        {"base": 15, "wed": 10},
        {"a": 20, "b": 5},
    )
    assert sim.cost == Decimal("0.25")


# -- values ---------------------------------------------------------------------------------


@settings(max_examples=30)
@given(rule_sets())
def test_rule_sets_round_trip_through_plain_data_and_pickle(rs: RuleSet) -> None:
    from loyaltycore import serialize

    assert RuleSet.from_data(rs.to_data()) == rs
    assert serialize.loads(serialize.dumps(rs), RuleSet) == rs
    assert pickle.loads(pickle.dumps(rs)) == rs


def test_results_and_errors_pickle() -> None:
    rs = RuleSet([BASE, Rule("ref", None, FixedPoints(5, recipient="referrer"))])
    e = purchase("10", items=(Item("A", unit_price="10"),), attributes={"referrer": "r"})
    result = rs.evaluate(e, Member("m", birthday=date(2000, 2, 29)))
    again = pickle.loads(pickle.dumps(result))
    assert again == result
    assert pickle.loads(pickle.dumps(rs.reverse(result))) == rs.reverse(result)
    batch = rs.evaluate_batch([e], [Member("m")])
    assert isinstance(batch, BatchEvaluation)
    assert pickle.loads(pickle.dumps(batch)) == batch
    err = pickle.loads(pickle.dumps(errors.DuplicateId("x", field="rules[1].id")))
    assert err.field == "rules[1].id"

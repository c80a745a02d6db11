"""The testing kit: strategies reach the edges, check_rule_set catches broken engines."""

from __future__ import annotations

import math
import re
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import TypeVar
from zoneinfo import ZoneInfo

import pytest
from hypothesis import find, given, settings
from hypothesis import strategies as st

from loyaltycore import errors
from loyaltycore import predicates as P
from loyaltycore.points import PointsLedger
from loyaltycore.predicates import FIELDS, MISSING_INT, Always, field
from loyaltycore.rules import BatchEvaluation, FixedPoints, PointsPerSpend, Rule, RuleSet
from loyaltycore.testing import (
    amounts,
    apply_commands,
    birthdays,
    check_rule_set,
    events,
    facts,
    instants,
    items,
    ledger_commands,
    members,
    predicates,
    rule_sets,
    transaction_logs,
    zones,
)

ROOT = Path(__file__).resolve().parent.parent
T = TypeVar("T")


def _seen(strategy: st.SearchStrategy[object], n: int = 300) -> list[object]:
    """Values drawn from ``strategy`` in ``n`` examples (no shrinking involved)."""
    out: list[object] = []

    @settings(max_examples=n, database=None, derandomize=True)
    @given(strategy)
    def collect(value: object) -> None:
        out.append(value)

    collect()
    return out


def _local(t: datetime, zone: str) -> datetime:
    return t.astimezone(ZoneInfo(zone))


def _reaches(strategy: st.SearchStrategy[T], condition: Callable[[T], bool]) -> T:
    """An example satisfying ``condition`` (hypothesis.find; raises if none)."""
    return find(
        strategy,
        condition,
        settings=settings(max_examples=2000, database=None, derandomize=True),
    )


#: The first instants of the spring-forward gaps (the local hour that is skipped).
NEW_YORK_GAP = datetime(2024, 3, 10, 7, tzinfo=UTC)
BERLIN_GAP = datetime(2024, 3, 31, 1, tzinfo=UTC)


def _in_the_hour_after(t: datetime, start: datetime) -> bool:
    return timedelta(0) <= t - start < timedelta(hours=1)


@pytest.mark.parametrize(
    "condition",
    [
        pytest.param(lambda t: _local(t, "America/New_York").fold == 1, id="New York fold"),
        pytest.param(lambda t: _local(t, "Europe/Berlin").fold == 1, id="Berlin fold"),
        pytest.param(lambda t: _local(t, "Australia/Lord_Howe").fold == 1, id="Lord Howe fold"),
        pytest.param(lambda t: _in_the_hour_after(t, NEW_YORK_GAP), id="New York gap"),
        pytest.param(lambda t: _in_the_hour_after(t, BERLIN_GAP), id="Berlin gap"),
        pytest.param(lambda t: (t.month, t.day) == (2, 29), id="Feb 29"),
        pytest.param(lambda t: _local(t, "Asia/Kolkata").time() == time(0), id="Kolkata midnight"),
        pytest.param(lambda t: _local(t, "Europe/Berlin").time() == time(0), id="Berlin midnight"),
        pytest.param(lambda t: t.year < 2024, id="before the recurrences start"),
        pytest.param(lambda t: t.year > 2025, id="after a recurrence ends"),
    ],
)
def test_instants_reach_dst_changes_midnights_and_the_recurrence_bounds(
    condition: Callable[[datetime], bool],
) -> None:
    assert condition(_reaches(instants(), condition))


def test_zones_reach_every_zone() -> None:
    assert set(_seen(zones(), 50)) == {
        "UTC",
        "Europe/Berlin",
        "America/New_York",
        "Australia/Lord_Howe",
        "Asia/Kolkata",
    }


def test_amounts_reach_thresholds_half_cents_and_other_exponents() -> None:
    cent = Decimal("0.01")
    seen = _seen(amounts())
    assert any(a % cent != 0 for a in seen)
    assert {Decimal("0"), Decimal("10.01"), Decimal("100")} <= set(seen)
    assert any(str(a) == "10.00" for a in seen)
    assert all(a % cent == 0 for a in _seen(amounts(half_cents=False)))


def test_events_and_items_reach_the_edges() -> None:
    evs = _seen(events(), 1000)
    cent = Decimal("0.01")
    assert all(e.amount is None or e.amount % cent == 0 for e in evs)
    halves = _seen(events(half_cents=True), 1000)
    assert any(e.amount is not None and e.amount % cent != 0 for e in halves)
    assert any(e.amount == Decimal("100") for e in evs)
    assert any(e.amount is None and e.channel is None and e.store is None for e in evs)
    assert any(e.kind == "purchase" and not e.items for e in evs)
    assert any(e.kind != "purchase" and e.items for e in evs)
    assert any(e.discount > 0 and e.points_paid > 0 for e in evs)
    assert any("referrer" in e.attributes for e in evs)
    assert any(isinstance(e.attributes.get("rating"), float) for e in evs)
    assert any(isinstance(e.attributes.get("staff"), bool) for e in evs)
    lines = _seen(items())
    assert {i.kind for i in lines} == {"product", "tax", "shipping", "reward", "gift_card"}
    assert any(not i.earning for i in lines)
    assert any(i.discount == i.unit_price * i.quantity > 0 for i in lines)  # fully discounted


def test_members_reach_missing_values_feb_29_and_retired_tiers() -> None:
    people = _seen(members(tiers=("silver", "gold", "retired")))
    assert any(
        m.birthday is not None and (m.birthday.month, m.birthday.day) == (2, 29) for m in people
    )
    assert any(m.tier is None and m.birthday is None and m.joined_at is None for m in people)
    assert any(m.tier == "retired" for m in people)
    assert any(m.attributes and m.counters.get("referrals") for m in people)
    days = {(d.month, d.day) for d in _seen(birthdays()) if d is not None}
    assert {(2, 29), (2, 28), (3, 1), (12, 31), (1, 1)} <= days
    assert all(m.tier is None for m in _seen(members(tiers=()), 50))


def test_facts_have_every_field_and_its_missing_value() -> None:
    names = {name for name, spec in FIELDS.items() if spec.source == "facts"}
    rows = _seen(facts())
    assert all(set(row) == names for row in rows)
    for name in names:
        kind = FIELDS[name].kind
        values = [row[name] for row in rows]
        if kind == "float":
            assert any(math.isnan(v) for v in values), name
        elif kind in ("instant", "money"):
            assert any(v == MISSING_INT for v in values), name
        assert len(set(values)) > 2, name


#: Every field a comparison can read: the registry (segments are read by
#: InSegment) and attributes, member attributes and counters.
COMPARABLE = (set(FIELDS) - {"segments"}) | {
    "attributes.promo",
    "attributes.visits",
    "attributes.rating",
    "attributes.staff",
    "member.attributes.vip",
    "member.attributes.score",
    "counters.purchases",
    "counters.referrals",
}
LADDER = ("bronze", "silver", "gold", "platinum")
EVERYTHING = ("event", "member", "facts")


def _nodes(pred: P.Predicate) -> list[P.Predicate]:
    out = [pred]
    for child in getattr(pred, "terms", ()):
        out += _nodes(child)
    if isinstance(pred, P.Not):
        out += _nodes(pred.term)
    return out


def test_comparisons_reach_every_field_and_shape() -> None:
    leaves = [
        n
        for p in _seen(predicates(sources=EVERYTHING, leaves=["compare"], max_leaves=1), 600)
        for n in _nodes(p)
        if isinstance(n, P.Compare | P.IsIn | P.Between)
    ]
    assert {n.field for n in leaves} == COMPARABLE
    assert {type(n) for n in leaves} == {P.Compare, P.IsIn, P.Between}
    assert {n.op for n in leaves if isinstance(n, P.Compare)} == {"==", "!=", "<", "<=", ">", ">="}
    comparisons = predicates(sources=EVERYTHING, leaves=["compare"], max_leaves=1)
    _reaches(
        comparisons,
        lambda p: (
            isinstance(p, P.Compare) and p.field == "amount" and p.value % Decimal("0.01") != 0
        ),
    )
    _reaches(comparisons, lambda p: isinstance(p, P.Between) and p.field == "at")


def test_predicates_reach_every_node_type() -> None:
    nodes = [
        n for p in _seen(predicates(tiers=LADDER, sources=EVERYTHING), 400) for n in _nodes(p)
    ]
    kinds = {type(n).__name__ for n in nodes}
    assert kinds == {
        "Always",
        "And",
        "Between",
        "BirthdayMonth",
        "BirthdayWindow",
        "Compare",
        "Contains",
        "FirstPurchase",
        "InSegment",
        "IsIn",
        "Not",
        "Or",
        "Quantity",
        "Recurs",
        "Spend",
        "TierAtLeast",
    }
    assert any(isinstance(n, P.And | P.Or) and len(n.terms) == 1 for n in nodes)
    assert any(isinstance(n, P.BirthdayWindow) and n.before > 10 for n in nodes)
    assert {n.counter for n in nodes if isinstance(n, P.FirstPurchase)} == {
        "purchases",
        "referrals",
    }
    assert any(isinstance(n, P.Spend) and n.skus and n.categories for n in nodes)
    assert len({n.rule for n in nodes if isinstance(n, P.Recurs)}) >= 8


@pytest.mark.parametrize(
    ("sources", "allowed"),
    [
        (["event"], {"event", "context", "derived"}),
        (["member", "facts"], {"member", "facts", "context", "derived"}),
    ],
)
def test_predicates_read_only_the_sources_asked_for(sources: list[str], allowed: set[str]) -> None:
    fields = {f for p in _seen(predicates(sources=sources), 200) for f in p.fields()}
    # calendar conditions read the event's time, or as_of without an event
    read = {f.source for f in fields if f.name != "at"}
    assert read <= allowed
    assert read - {"context", "derived"} == set(sources)


@pytest.mark.parametrize(
    ("kwargs", "error", "fragment"),
    [
        ({"sources": ["events"]}, errors.InvalidArgument, "sources=['events']"),
        ({"sources": []}, errors.InvalidArgument, "sources=[]"),
        ({"sources": "event"}, errors.InvalidType, "sources='event'"),
        ({"leaves": ["leaf"]}, errors.InvalidArgument, "leaves=['leaf']"),
        ({"leaves": ["basket"], "sources": ["facts"]}, errors.InvalidArgument, "no leaf"),
        ({"max_leaves": 0}, errors.InvalidArgument, "max_leaves=0"),
        ({"max_leaves": True}, errors.InvalidType, "max_leaves=True"),
    ],
)
def test_predicates_refuse_bad_arguments(
    kwargs: dict[str, object], error: type[Exception], fragment: str
) -> None:
    with pytest.raises(error, match=re.escape(fragment)):
        predicates(**kwargs)  # type: ignore[arg-type]


@settings(max_examples=50)
@given(events())
def test_events_without_half_cents_encode(event: object) -> None:
    from loyaltycore.predicates import encode

    assert len(encode([event])["amount"]) == 1


def test_every_rule_feature_is_generated() -> None:
    sets = _seen(rule_sets(), 40)
    assert any(r.group is not None for rs in sets for r in rs.rules)
    assert any(r.limit is not None for rs in sets for r in rs.rules)
    assert any(rs.budgets for rs in sets)
    assert any(r.award.recipient == "referrer" for rs in sets for r in rs.rules)
    assert any(type(p).__name__ == "Or" for p in _seen(predicates(), 100))


@settings(max_examples=30)
@given(transaction_logs())
def test_transaction_logs_are_valid_logs(log: object) -> None:
    from loyaltycore.transactions import TransactionLog

    assert isinstance(log, TransactionLog)
    assert len(log) >= 1
    assert set(log.customer.tolist()) <= {"a", "b", "c"}


@settings(max_examples=50)
@given(ledger_commands())
def test_ledger_commands_apply_or_are_refused_without_change(commands: list[object]) -> None:
    ledger, refused = apply_commands(PointsLedger.open("m"), commands)  # type: ignore[arg-type]
    assert all(isinstance(e, errors.LoyaltyError) for e in refused)
    assert PointsLedger.replay(ledger.events) == ledger


def test_check_rule_set_passes_a_sound_rule_set() -> None:
    rules = RuleSet(
        [
            Rule("base", Always(), PointsPerSpend("1"), base=True),
            Rule("big", field("amount") >= 100, FixedPoints(50), group="g"),
            Rule("app", field("channel") == "app", FixedPoints(10), group="g", priority=1),
        ]
    )
    check_rule_set(rules, max_examples=40)


def test_check_rule_set_reports_a_batch_that_disagrees(monkeypatch: pytest.MonkeyPatch) -> None:
    original = BatchEvaluation.amounts

    def off_by_one(self: BatchEvaluation, rule_id: str) -> object:
        return original(self, rule_id) + 1

    monkeypatch.setattr(BatchEvaluation, "amounts", off_by_one)
    rules = RuleSet([Rule("base", Always(), PointsPerSpend("1"), base=True)])
    with pytest.raises(AssertionError, match="scalar equals batch"):
        check_rule_set(rules, max_examples=20)


def test_check_rule_set_refuses_what_is_not_a_rule_set() -> None:
    with pytest.raises(errors.InvalidType, match="rule_set="):
        check_rule_set("rules")  # type: ignore[arg-type]


def test_the_documented_host_file_is_the_one_that_runs() -> None:
    doc = (ROOT / "docs" / "testing.md").read_text()
    host = (ROOT / "tests" / "test_host_example.py").read_text()
    assert f"```python\n{host}```" in doc


def test_loyaltycore_and_rules_do_not_import_hypothesis() -> None:
    code = "import sys, loyaltycore, loyaltycore.rules\nprint('hypothesis' in sys.modules)\n"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == "False"


def test_the_testing_kit_without_hypothesis_names_the_extra() -> None:
    code = (
        "import sys\n"
        "sys.modules['hypothesis'] = None\n"
        "try:\n"
        "    import loyaltycore.testing\n"
        "except Exception as exc:\n"
        "    print(type(exc).__name__, exc)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out.startswith("MissingDependency")
    assert "pip install 'loyaltycore[testing]'" in out


_ = (UTC, datetime, st)

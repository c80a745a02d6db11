"""The testing kit: strategies reach the edges, check_rule_set catches broken engines."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loyaltycore import errors
from loyaltycore.points import PointsLedger
from loyaltycore.predicates import Always, field
from loyaltycore.rules import BatchEvaluation, FixedPoints, PointsPerSpend, Rule, RuleSet
from loyaltycore.testing import (
    apply_commands,
    check_rule_set,
    events,
    instants,
    ledger_commands,
    members,
    predicates,
    rule_sets,
    transaction_logs,
)

ROOT = Path(__file__).resolve().parent.parent


def _seen(strategy: st.SearchStrategy[object], n: int = 300) -> list[object]:
    """Values drawn from ``strategy`` in ``n`` examples (no shrinking involved)."""
    out: list[object] = []

    @settings(max_examples=n, database=None, derandomize=True)
    @given(strategy)
    def collect(value: object) -> None:
        out.append(value)

    collect()
    return out


def test_strategies_reach_the_edges() -> None:
    ny = ZoneInfo("America/New_York")
    assert any(t.astimezone(ny).fold == 1 for t in _seen(instants()))
    assert any((t.month, t.day) == (2, 29) for t in _seen(instants()))
    evs = _seen(events())
    cent = Decimal("0.01")
    assert all(e.amount is None or e.amount % cent == 0 for e in evs)
    halves = _seen(events(half_cents=True))
    assert any(e.amount is not None and e.amount % cent != 0 for e in halves)
    assert any(e.amount == Decimal("100") for e in evs)
    assert any(e.amount is None for e in evs)
    assert any(e.kind == "purchase" and not e.items for e in evs)
    assert any(i.kind == "tax" for e in evs for i in e.items)
    assert any(not i.earning for e in evs for i in e.items)
    people = _seen(members())
    assert any(
        m.birthday is not None and (m.birthday.month, m.birthday.day) == (2, 29) for m in people
    )
    assert any(m.tier is None and m.birthday is None for m in people)


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

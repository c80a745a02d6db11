"""The account events' direct encoding equals the converter's generated one.

The reference is the general cattrs converter as it was set up for the
account types before they had their own functions: generated dict
functions that leave fields at their defaults out (``LedgerOp``,
``Outcome``, ``AwardResult``, ``OrderRecord``, ``AccountEvent``) or write
every field (the rest), and the evaluation through ``_EvaluationData``.
Every event of real histories, of every command type, must encode to the
same plain data, with the same keys in the same order (the stored JSON
text is written unsorted), and read back to the same event.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import attrs
import cattrs
import pytest
from cattrs.gen import make_dict_unstructure_fn
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import invariant

import tests.test_accounts_stateful as model
from loyaltycore import serialize
from loyaltycore._validate import DECIMAL_CONTEXT
from loyaltycore.accounts import (
    Account,
    AccountEvent,
    Profile,
    Program,
    Tender,
    event_from_data,
    event_to_data,
    example_program,
    merge,
    transfer,
)
from loyaltycore.accounts._codec import HOOKS, _line
from loyaltycore.accounts._payload import canonical
from loyaltycore.accounts._values import (
    Absorbed,
    Award,
    AwardResult,
    LedgerOp,
    OrderRecord,
    Outcome,
    Payload,
    ProgramRef,
    Seen,
    StoredEvaluation,
    TierOp,
)
from loyaltycore.points import ExpireAtPeriodEnd
from loyaltycore.predicates import FrozenMap, Item, field
from loyaltycore.rules import (
    Evaluation,
    FixedPoints,
    PointsPerSpend,
    Rule,
    RuleSet,
    _EvaluationData,
    _TraceData,
    describe,
)

OMITTING = (LedgerOp, Outcome, AwardResult, OrderRecord, AccountEvent)
WHOLE = (ProgramRef, Award, Seen, TierOp, Absorbed)


def _old_evaluation(conv: cattrs.Converter, value: Evaluation) -> Any:
    trace = value.trace
    plain = _EvaluationData(
        value.event,
        value.member,
        value.eligible,
        value.points,
        value.raw,
        dict(value.increments),
        dict(value.budget_increments),
        _TraceData(
            trace.rule_ids,
            trace.codes,
            trace.details,
            tuple(tuple(describe(node) for node in parts) for parts in trace.conditions),
        ),
    )
    return conv.unstructure(plain)


def _reference() -> cattrs.Converter:
    """The general converter with the account types' hooks generated, as before."""
    ref = serialize.converter.copy()
    ref.register_unstructure_hook(Evaluation, lambda v: _old_evaluation(ref, v))

    def evaluation_text(stored: StoredEvaluation) -> str:
        doc = {
            "schema": "rules.Evaluation",
            "version": 1,
            "data": _old_evaluation(ref, stored.value),  # (the kept value: no profile facts)
        }
        return json.dumps(doc, sort_keys=True, separators=(",", ":"), allow_nan=False)

    ref.register_unstructure_hook(StoredEvaluation, evaluation_text)

    def generated(cls: type[Any], omit: bool) -> None:
        ref.register_unstructure_hook(
            cls, make_dict_unstructure_fn(cls, ref, _cattrs_omit_if_default=omit)
        )

    # Each generated function binds the hooks its fields' types have when it is made, so
    # the order is the converter's as it was: the types without their own hook generated
    # whole on first use (an outcome's award lines among them: ``cap`` always written),
    # then the omitting ones registered in turn, then the rest generated on first use.
    for cls in (AwardResult, Award, ProgramRef, TierOp):
        generated(cls, False)
    for cls in OMITTING:  # (LedgerOp, Outcome, AwardResult, OrderRecord, AccountEvent)
        if cls is AccountEvent:
            generated(Seen, False)
            generated(Absorbed, False)
        generated(cls, True)
    return ref


REFERENCE = _reference()


def _text(data: Any) -> str:
    return json.dumps(data, separators=(",", ":"), allow_nan=False)


def check_event(event: AccountEvent) -> None:
    """The direct encoding of ``event`` is the reference's, key order included, and reads back."""
    expected = {"schema": "accounts.Event", "version": 1, "data": REFERENCE.unstructure(event)}
    found = event_to_data(event)
    assert found == expected
    assert _text(found) == _text(expected)
    assert event_from_data(json.loads(_text(found))) == event
    if event.order is not None:  # (the evaluation as a restored account reads it back)
        again = StoredEvaluation(text=event.order.evaluation.text)
        assert again.text == REFERENCE.unstructure(again)


def test_every_account_type_has_its_own_function() -> None:
    assert set(HOOKS) == set(OMITTING) | set(WHOLE)
    for cls in HOOKS:
        assert serialize.converter.get_unstructure_hook(cls) is HOOKS[cls]


@pytest.mark.parametrize("cls", [*OMITTING, *WHOLE])
def test_the_functions_know_every_field(cls: type[Any]) -> None:
    """A field added to a type fails here until its function writes it."""
    names = [f.name for f in attrs.fields(cls) if f.init]
    read = HOOKS[cls].__code__.co_names + (_line.__code__.co_names if cls is AwardResult else ())
    assert [name for name in names if name not in read] == []


# -- a history with every command ------------------------------------------------------

T0 = datetime(2024, 2, 27, 9, tzinfo=UTC)
BASE = attrs.evolve(example_program(), refund_days=40)


def referral_program(base: Program) -> Program:
    """``base`` with a base rule of 10 points per unit and a referral rule (300
    points to the referrer ``ben``), without caps."""
    return attrs.evolve(
        base,
        id="referrals",
        rules=RuleSet(
            [
                Rule("base", None, PointsPerSpend("10"), base=True),
                Rule(
                    "referral",
                    field("attributes.referrer").isin({"ben"}),
                    FixedPoints(300, recipient="referrer"),
                ),
            ],
            tz=base.tz,
        ),
        caps=(),
    )


REFERRALS = referral_program(BASE)
MIGRATED = attrs.evolve(REFERRALS, version=2, expiry=ExpireAtPeriodEnd(period="year"))
TIERS = {"silver": "silver", "gold": "gold", "diamond": "diamond"}
LATTE = Item("latte", "drinks", 2, "4.50")
BEANS = Item("beans", "retail", 1, "12.00")
COMMANDS = {
    "open",
    "order",
    "refund",
    "redeem",
    "hold",
    "capture",
    "release",
    "adjust",
    "award",
    "expire",
    "review",
    "migrate",
    "transfer_out",
    "transfer_in",
    "merge_in",
    "merged_into",
}


def history() -> list[AccountEvent]:
    """Every event of two accounts that ran every command, one merged into the other."""
    profile = Profile(ref="crm-1", birthday=date(1991, 3, 14), segments={"vip", "staff"})
    ann = Account.open("ann", program=REFERRALS, at=T0, profile=profile)
    bob = Account.open("bob", program=REFERRALS, at=T0)
    t = iter(T0 + timedelta(hours=k) for k in range(1, 1000))
    ann = ann.order("o-1", at=next(t), lines=[LATTE, BEANS]).account
    ann = ann.order(
        "o-2",
        at=next(t),
        lines=[BEANS],
        attributes={"referrer": "ben", "note": Decimal("1.5")},
        channel="app",
    ).account
    ann = ann.order("o-3", at=next(t), amount="20.00", currency="USD", rate="0.9137").account
    ann = ann.order(
        "o-4",
        at=next(t),
        lines=[BEANS],
        tenders=[Tender("points", "5.00", points=500), Tender("card", "7.00")],
    ).account
    ann = ann.refund("f-1", at=next(t), of="o-1", items={"latte": 1}).account
    ann = ann.refund("f-2", at=next(t), of="o-3", amount="5.00").account
    ann = ann.refund("f-3", at=next(t), of="o-4").account
    ann = ann.redeem("r-1", at=next(t), points=50, reason="reward").account
    deadline = T0 + timedelta(days=30)
    ann = ann.hold("h-1", at=next(t), points=30, deadline=deadline).account
    ann = ann.hold("h-2", at=next(t), points=20, deadline=deadline).account
    ann = ann.capture("c-1", at=next(t), hold="h-1", points=None).account
    ann = ann.release("c-2", at=next(t), hold="h-2").account
    ann = ann.adjust("a-1", at=next(t), points=-10, reason="service").account
    ann = ann.adjust("a-2", at=next(t), points=25, reason="service").account
    at = next(t)
    ann = ann.award(
        "w-1",
        at=at,
        points=70,
        reason="referral",
        available_at=at + timedelta(days=2),
        expires_at=at + timedelta(days=400),
    ).account
    ann = ann.expire("s-1", as_of=next(t) + timedelta(days=800)).account
    ann = ann.review("v-1", at=ann.last_at + timedelta(hours=1)).account
    at = ann.last_at + timedelta(hours=1)
    bob = bob.order("b-1", at=at, lines=[BEANS]).account
    (bob, _), (ann, _) = transfer(bob, ann, "t-1", at=at, points=40)
    (ann, _), (bob, _) = merge(ann, bob, "g-1", at=at + timedelta(hours=1))
    ann = ann.migrate("m-1", at=at + timedelta(hours=2), program=MIGRATED, tier_map=TIERS).account
    return [*ann.events, *bob.events]


def test_a_history_of_every_command_encodes_as_the_converter_did() -> None:
    events = history()
    assert {e.command for e in events} == COMMANDS
    assert any(e.outcome.emitted for e in events)
    assert any(e.absorbed is not None and e.absorbed.orders for e in events)
    assert any(op.parts for e in events for op in e.ledger)
    assert any(op.lots for e in events for op in e.ledger)
    assert any(op.policy is not None for e in events for op in e.ledger)
    for event in events:
        check_event(event)


def test_an_evaluation_encodes_as_the_converter_did() -> None:
    for event in history():
        if event.order is None:
            continue
        value = event.order.evaluation.value
        assert serialize.unstructure(value) == _old_evaluation(REFERENCE, value)
        assert _text(serialize.unstructure(value)) == _text(_old_evaluation(REFERENCE, value))


# -- random histories ------------------------------------------------------------------


class CodecMachine(model.AccountMachine):
    """The account model's random histories, every new event checked against the reference."""

    checked = 0

    @invariant()
    def new_events_encode_as_the_converter_did(self) -> None:
        for event in self.account.events_since(self.checked):
            check_event(event)
        self.checked = self.account.version


CodecMachine.TestCase.settings = settings(max_examples=15, stateful_step_count=25)
test_random_histories_encode_as_the_converter_did = CodecMachine.TestCase


# -- command payloads ---------------------------------------------------------------------


def _old_canonical(value: Any) -> Any:
    """The payloads' canonical form as first written (one isinstance chain), the reference."""
    kind = type(value)
    if kind in (str, int, bool, type(None)):
        return value
    if kind is Decimal:
        text = format(value.normalize(DECIMAL_CONTEXT), "f")
        return "0" if text in ("-0", "0") else text
    if kind is dict or isinstance(value, Mapping):
        return {str(k): _old_canonical(v) for k, v in sorted(value.items())}
    if kind is tuple or kind is list:
        return [_old_canonical(v) for v in value]
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, frozenset | set):
        return sorted(_old_canonical(v) for v in value)
    if attrs.has(kind):
        names = [f.name for f in attrs.fields(kind) if f.init]
        return {name: _old_canonical(getattr(value, name)) for name in names}
    if isinstance(value, bool | int | str):
        return value
    raise TypeError(f"no canonical form for {kind.__name__}")


_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.text(max_size=5),
    st.decimals(allow_nan=False, allow_infinity=False, places=3),
    st.datetimes(timezones=st.just(UTC)),
    st.dates(),
    st.builds(Item, st.sampled_from(["latte", "mug"]), quantity=st.integers(1, 3)),
    st.builds(Tender, st.just("card"), st.decimals(0, 100, places=2)),
    st.builds(FrozenMap, st.dictionaries(st.text(max_size=3), st.integers(), max_size=2)),
)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.lists(inner, max_size=3).map(tuple),
        st.dictionaries(st.text(max_size=3), inner, max_size=3),
        st.frozensets(st.text(max_size=3), max_size=3),
    ),
    max_leaves=12,
)


@given(st.dictionaries(st.text(max_size=5), _VALUES, max_size=4))
def test_payloads_are_written_as_the_isinstance_chain_wrote_them(payload: dict[str, Any]) -> None:
    assert canonical(payload) == _old_canonical(payload)
    assert Payload(payload).text == json.dumps(
        _old_canonical(payload), sort_keys=True, separators=(",", ":")
    )

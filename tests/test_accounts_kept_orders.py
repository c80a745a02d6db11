"""An order kept for refunds: its evaluation as kept parts, as text, and refunds from either."""

from __future__ import annotations

import json
import pickle
from datetime import UTC, date, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from loyaltycore import serialize
from loyaltycore.accounts import Account, OrderRecord, Profile, Tender, example_program
from loyaltycore.accounts._kept import KeptOrders
from loyaltycore.accounts._values import StoredEvaluation
from loyaltycore.predicates import Item
from loyaltycore.rules import Evaluation

PROGRAM = example_program()
PROFILE = Profile(ref="crm-1", birthday=date(1990, 5, 17))
START = datetime(2024, 5, 6, 8, tzinfo=UTC)
MENU = (
    Item("latte", "drinks", 1, "4.50"),
    Item("croissant", "food", 2, "1.80"),
    Item("beans", "retail", 1, "12.50"),
)


def ordered(days: list[int]) -> Account:
    account = Account.open("ann", program=PROGRAM, at=START, profile=PROFILE)
    for k, day in enumerate(days):
        at = START + timedelta(days=day, hours=k)
        lines = MENU[: 1 + k % len(MENU)]
        account = account.order(f"o{k}", at=at, lines=lines, channel="app").account
    return account


def test_the_kept_evaluation_has_no_profile_facts_or_condition_texts() -> None:
    account = ordered([8])  # (the 8th: member day, in the birthday month)
    kept = account.orders["o0"].evaluation
    value = kept.value
    assert value.points > 0
    assert value.member.birthday is None
    assert all(c == () for c in value.trace.conditions)
    assert "1990" not in kept.text
    assert serialize.loads(kept.text, Evaluation) == value


def test_the_kept_parts_read_back_equal_to_the_text() -> None:
    kept = ordered([0, 1, 8]).orders["o2"].evaluation
    from_text = StoredEvaluation(text=kept.text)
    assert from_text == kept
    assert from_text.value == kept.value
    assert pickle.loads(pickle.dumps(kept)) == kept


@settings(max_examples=25, deadline=None)
@given(
    days=st.lists(st.integers(0, 40), min_size=1, max_size=6).map(sorted),
    which=st.integers(0, 5),
    part=st.booleans(),
)
def test_a_refund_is_the_same_from_a_live_and_a_restored_account(
    days: list[int], which: int, part: bool
) -> None:
    live = ordered(days)
    restored = Account.restore(
        json.loads(json.dumps(live.snapshot())), programs=PROGRAM, profile=PROFILE
    )
    assert restored == live
    oid = f"o{which % len(days)}"
    items = {"latte": 1} if part else None
    at = live.last_at + timedelta(hours=1)
    a = live.refund("f-1", at=at, of=oid, items=items)
    b = restored.refund("f-1", at=at, of=oid, items=items)
    assert a.outcome == b.outcome
    assert a.account == b.account


# -- untouched orders kept compact ---------------------------------------------------


def busy(steps: list[tuple[int, int]]) -> Account:
    """Orders (some paid partly with points), refunds in part or in whole, by ``steps``."""
    account = Account.open("ann", program=PROGRAM, at=START, profile=PROFILE)
    account = account.adjust("welcome", at=START, points=500, reason="welcome").account
    at = START
    for k, (kind, which) in enumerate(steps):
        at += timedelta(hours=7)
        if kind == 0:
            lines = MENU[: 1 + which % len(MENU)]
            account = account.order(f"o{k}", at=at, lines=lines, channel="app").account
        elif kind == 1:
            paid = [Tender("points", "1.00", points=100), Tender("card", "11.50")]
            account = account.order(f"t{k}", at=at, lines=MENU[2:], tenders=paid).account
        else:
            open_orders = [o for o, r in account.orders.items() if not r.refunded_all]
            if open_orders:
                of = open_orders[which % len(open_orders)]
                record = account.orders[of]
                has_latte = any(i.sku == "latte" for i in record.stored_evaluation().event.items)
                part = kind == 2 and has_latte and "latte" not in record.refunded_items
                items = {"latte": 1} if part else None
                account = account.refund(f"f{k}", at=at, of=of, items=items).account
    return account


steps = st.lists(st.tuples(st.integers(0, 3), st.integers(0, 5)), min_size=1, max_size=10)


@settings(max_examples=30, deadline=None)
@given(steps=steps)
def test_compact_orders_read_back_equal_to_the_records_the_events_hold(
    steps: list[tuple[int, int]],
) -> None:
    live = busy(steps)
    replayed = Account.replay(live.events, programs=PROGRAM, profile=PROFILE)
    assert replayed == live
    assert dict(live.orders) == dict(replayed.orders)
    for oid, record in live.orders.items():
        again = replayed.orders[oid]
        assert record == again
        assert record.evaluation.text == again.evaluation.text
        assert record.stored_evaluation() == again.stored_evaluation()
    back = pickle.loads(pickle.dumps(live))
    assert back == live
    assert dict(back.orders) == dict(live.orders)
    assert live._earn_orders() == replayed._earn_orders() == back._earn_orders()


@settings(max_examples=25, deadline=None)
@given(steps=steps, part=st.booleans())
def test_a_refund_of_a_compact_order_is_the_refund_of_its_record(
    steps: list[tuple[int, int]], part: bool
) -> None:
    live = busy([*steps, (0, 2)])
    replayed = Account.replay(live.events, programs=PROGRAM, profile=PROFILE)
    at = live.last_at + timedelta(hours=1)
    oid = next(reversed(list(live.orders)))
    items = {"latte": 1} if part else None
    a = live.refund("f-last", at=at, of=oid, items=items)
    b = replayed.refund("f-last", at=at, of=oid, items=items)
    assert a.outcome == b.outcome
    assert a.account == b.account
    assert a.account.orders[oid] == b.account.orders[oid]
    assert a.account.orders[oid].refunded_all == (not part)


def test_an_untouched_order_is_one_tuple_and_a_refunded_one_its_record() -> None:
    account = busy([(0, 0), (0, 2), (1, 0)])
    kept = account.orders
    assert isinstance(kept, KeptOrders)
    assert all(type(kept.kept(oid)) is tuple for oid in kept)
    refunded = account.refund("f-1", at=account.last_at, of="o0").account.orders
    assert isinstance(refunded, KeptOrders)
    assert type(refunded.kept("o0")) is OrderRecord
    assert refunded["o0"].refunded_all
    assert type(refunded.kept("o1")) is tuple  # (the others stay compact)
    assert kept.kept("o0") is not refunded.kept("o0")  # (the earlier version is unchanged)
    assert not account.orders["o0"].refunded_all


def test_kept_orders_behave_as_a_mapping_of_records() -> None:
    account = busy([(0, 0), (0, 1), (1, 0)])
    kept = account.orders
    assert isinstance(kept, KeptOrders)
    assert list(kept) == ["o0", "o1", "t2"]
    copy = kept.copy()
    del copy["o0"]
    assert "o0" in kept
    assert "o0" not in copy
    assert len(copy) == 2
    assert kept.oldest() == ("o0", kept["o0"].at, PROGRAM.key)
    assert list(kept.program_keys()) == [PROGRAM.key] * 3
    assert list(kept.ledger_ids()) == [
        i
        for r in kept.values()
        for i in [*(e for e, _ in r.earns), *([r.tender] if r.tender else [])]
    ]
    assert kept.earn_orders() == {e: r.id for r in kept.values() for e, _ in r.earns}
    assert kept.kept("nope") is None
    plain = pickle.loads(pickle.dumps(kept))
    assert type(plain) is dict
    assert plain == dict(kept)
    assert repr(kept) == "KeptOrders(3 orders)"
    assert KeptOrders().oldest() is None

"""An order kept for refunds: its evaluation as kept parts, as text, and refunds from either."""

from __future__ import annotations

import json
import pickle
from datetime import UTC, date, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from loyaltycore import serialize
from loyaltycore.accounts import Account, Profile, example_program
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

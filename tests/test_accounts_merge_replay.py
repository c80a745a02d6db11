"""A merge posted with a clock behind the last command replays to the same account."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from loyaltycore.accounts import Account, event_from_data, event_to_data, example_program, merge
from loyaltycore.predicates import Item

PROGRAM = example_program()
START = datetime(2024, 5, 6, 8, tzinfo=UTC)


def test_a_merge_posted_after_a_later_command_replays_to_the_same_ledger() -> None:
    ann = Account.open("ann", program=PROGRAM, at=START)
    ann = ann.order("a-1", at=START, lines=[Item("latte", unit_price="4.50")]).account
    bob = Account.open("bob", program=PROGRAM, at=START)
    bob = bob.order("b-1", at=START + timedelta(hours=2), lines=[Item("beans", unit_price="12")])
    bob = bob.account
    # (a clock 1 ms behind the last command: the merge posts at that command's time)
    last = max(ann.last_at, bob.last_at)
    skewed = last - timedelta(milliseconds=1)
    (merged, outcome), _ = merge(ann, bob, "g-1", at=skewed)
    assert outcome.at == last
    assert outcome.occurred_at == skewed
    events = [event_from_data(json.loads(json.dumps(event_to_data(e)))) for e in merged.events]
    replayed = Account.replay(events, programs=PROGRAM)
    assert replayed.ledger == merged.ledger
    assert replayed == merged

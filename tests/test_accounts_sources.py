"""Each account earn records its lot source: an order's purchase, an award's bonus, a referral."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loyaltycore.accounts import (
    Account,
    AccountEvent,
    Award,
    event_from_data,
    event_to_data,
    example_program,
    transfer,
)
from loyaltycore.errors import IdempotencyConflict, InvalidArgument, InvalidType
from loyaltycore.points import Redeemed
from loyaltycore.predicates import Item
from tests.test_accounts_codec import referral_program

T = datetime(2024, 6, 3, 9, tzinfo=UTC)
BASE = example_program()
PROGRAM = referral_program(BASE)
BEANS = Item("beans", "retail", 1, "12.00")


def sources(account: Account) -> dict[str, int]:
    """The points of the account's lots, by source."""
    out: Counter[str] = Counter()
    for lot in account.ledger.lots:
        out[lot.source] += lot.amount
    return dict(out)


def day() -> tuple[Account, Account]:
    """Ann orders (referred by Ben), gets a bonus and a goodwill award; Ben gets the referral."""
    ann = Account.open("ann", program=PROGRAM, at=T)
    ben = Account.open("ben", program=PROGRAM, at=T)
    ordered = ann.order(
        "o-1", at=T + timedelta(hours=1), lines=[BEANS], attributes={"referrer": "ben"}
    )
    ann = ordered.account
    (emitted,) = ordered.outcome.emitted
    ben = emitted.apply(ben).account
    ann = ann.award("w-1", at=T + timedelta(hours=2), points=40, reason="birthday").account
    ann = ann.award(
        "w-2", at=T + timedelta(hours=3), points=25, reason="late", source="goodwill"
    ).account
    return ann, ben


def test_each_command_records_its_source_in_the_lot_and_the_event() -> None:
    ann, ben = day()
    assert [(lot.amount, lot.source) for lot in ann.ledger.lots] == [
        (120, "purchase"),
        (40, "bonus"),
        (25, "goodwill"),
    ]
    assert [lot.source for lot in ben.ledger.lots] == ["referral"]
    ops = {e.id: e.ledger[0] for e in (*ann.events, *ben.events) if e.ledger}
    assert ops["o-1"].source == "purchase"
    assert ops["w-1"].source == "bonus"
    assert ops["w-2"].source == "goodwill"
    assert ops["referral:ann:o-1"].source == "referral"


def test_the_event_document_writes_a_source_only_when_it_is_not_purchase() -> None:
    ann, ben = day()
    written = {e.id: event_to_data(e)["data"] for e in (*ann.events, *ben.events)}
    assert "source" not in written["o-1"]["ledger"][0]  # type: ignore[index]
    assert written["w-1"]["ledger"][0]["source"] == "bonus"  # type: ignore[index]
    assert written["referral:ann:o-1"]["ledger"][0]["source"] == "referral"  # type: ignore[index]
    for event in (*ann.events, *ben.events):
        assert event_from_data(json.loads(json.dumps(event_to_data(event)))) == event


def test_a_redemption_and_the_statement_name_the_sources_they_consumed() -> None:
    ann, _ = day()
    ann = ann.redeem("r-1", at=T + timedelta(hours=4), points=180, reason="reward").account
    redeemed = [ev for ev in ann.ledger.events if type(ev) is Redeemed]
    assert dict(redeemed[-1].sources) == {"purchase": 120, "bonus": 40, "goodwill": 20}
    text = str(ann.ledger.statement(T, T + timedelta(days=1)))
    assert "[purchase 120, bonus 40, goodwill 20]" in text


def test_replay_and_restore_keep_the_sources() -> None:
    ann, _ = day()
    mid = ann.snapshot()
    ann2 = ann.award(
        "w-3", at=T + timedelta(hours=5), points=10, reason="partner", source="partner"
    ).account
    tail = ann2.events_since(ann.version)
    replayed = Account.replay(ann2.events, programs=PROGRAM)
    restored = Account.restore(mid, tail, programs=PROGRAM)
    from_plain = Account.restore(json.loads(json.dumps(mid)), tail, programs=PROGRAM)
    assert replayed == ann2
    assert restored.ledger == ann2.ledger
    assert from_plain.ledger == ann2.ledger
    assert sources(replayed) == sources(restored) == sources(ann2)
    assert sources(ann2) == {"purchase": 120, "bonus": 40, "goodwill": 25, "partner": 10}


def _without_source(event: AccountEvent) -> AccountEvent:
    doc: dict[str, Any] = json.loads(json.dumps(event_to_data(event)))
    for op in doc["data"].get("ledger", ()):
        op.pop("source", None)
    return event_from_data(doc)


def test_an_event_written_before_sources_replays_as_purchase() -> None:
    ann, _ = day()
    old = [_without_source(e) for e in ann.events]
    assert all(op.source == "purchase" for e in old for op in e.ledger)
    replayed = Account.replay(old, programs=PROGRAM)
    assert sources(replayed) == {"purchase": 185}
    assert replayed.balance() == ann.balance()


def test_a_transfer_keeps_the_sources_of_the_lots_it_moves() -> None:
    ann, ben = day()
    (ann, _), (ben, _) = transfer(ann, ben, "t-1", at=T + timedelta(hours=5), points=185)
    moved = ben.ledger.lots[1:]  # (after Ben's own referral lot)
    assert {lot.source: lot.amount for lot in moved} == {
        "purchase": 120,
        "bonus": 40,
        "goodwill": 25,
    }
    assert Account.replay(ben.events, programs=PROGRAM).ledger == ben.ledger


def test_a_retry_compares_the_source() -> None:
    ann, _ = day()
    at = T + timedelta(hours=2)
    again = ann.award("w-1", at=at, points=40, reason="birthday")
    assert again.account is ann
    with pytest.raises(IdempotencyConflict, match="source"):
        ann.award("w-1", at=at, points=40, reason="birthday", source="goodwill")
    with pytest.raises(IdempotencyConflict, match="source"):
        ann.award("w-2", at=T + timedelta(hours=3), points=25, reason="late")


def test_a_referral_award_stored_without_a_source_is_still_a_retry() -> None:
    # (an award applied before awards recorded a source has a payload without one)
    award = Award("ben", "referral:ann:o-1", T, 300, "referral for order o-1 of ann")
    ben = Account.open("ben", program=PROGRAM, at=T)
    ben = ben.award(award.id, at=award.at, points=award.points, reason=award.reason).account
    again = award.apply(ben)
    assert again.account is ben
    assert again.outcome == ben.outcomes[award.id].outcome
    with pytest.raises(IdempotencyConflict, match="points"):
        attrs.evolve(award, points=301).apply(ben)


@pytest.mark.parametrize(
    ("source", "error"),
    [("", InvalidArgument), ("  ", InvalidArgument), (5, InvalidType), (None, InvalidType)],
)
def test_a_bad_source_is_refused_naming_it(source: Any, error: type[Exception]) -> None:
    ann, _ = day()
    before = ann.snapshot()
    with pytest.raises(error, match="source=") as info:
        ann.award("w-9", at=T + timedelta(hours=5), points=5, reason="x", source=source)
    assert getattr(info.value, "field", None) == "source"
    assert ann.snapshot() == before


_SOURCES = st.sampled_from(["bonus", "goodwill", "partner", "referral", "host:coffee"])


@settings(max_examples=25, deadline=None)
@given(
    st.lists(st.one_of(st.none(), st.tuples(_SOURCES, st.integers(1, 500))), max_size=12),
    st.integers(0, 12),
)
def test_lot_sources_add_up_to_what_the_commands_gave(steps: list[Any], cut: int) -> None:
    account = Account.open("ann", program=BASE, at=T)
    expected: Counter[str] = Counter()
    snapshot, version = account.snapshot(), account.version
    for k, step in enumerate(steps):
        if k == cut:
            snapshot, version = account.snapshot(), account.version
        at = T + timedelta(hours=k + 1)
        if step is None:
            account = account.order(f"o-{k}", at=at, lines=[BEANS]).account
            expected["purchase"] += account.outcomes[f"o-{k}"].outcome.earned
        else:
            source, points = step
            applied = account.award(f"w-{k}", at=at, points=points, reason="r", source=source)
            account = applied.account
            expected[source] += points
    assert sources(account) == {k: v for k, v in expected.items() if v}
    assert Account.replay(account.events, programs=BASE) == account
    tail = account.events_since(version)
    restored = Account.restore(json.loads(json.dumps(snapshot)), tail, programs=BASE)
    assert restored.ledger == account.ledger

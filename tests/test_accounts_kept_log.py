"""The log keeps events compact: what a host reads back is the event the command made."""

from __future__ import annotations

import gc
import pickle
from datetime import UTC, datetime, timedelta

import attrs
from hypothesis import given, settings
from hypothesis import strategies as st

from loyaltycore.accounts import (
    Account,
    AccountEvent,
    Tender,
    event_from_data,
    event_to_data,
    example_program,
    merge,
    transfer,
)
from loyaltycore.accounts._log import Log, expand
from loyaltycore.predicates import Item

PROGRAM = example_program()
START = datetime(2024, 5, 6, 8, tzinfo=UTC)
BASKETS = (
    (Item("latte", "drinks", 1, "4.50"),),
    (Item("croissant", "food", 2, "1.80"), Item("latte", "drinks", 3, "4.50")),
    (Item("beans", "retail", 2, "12.50"),),
)


def busy(member: str, steps: list[tuple[int, int]]) -> Account:
    """An account after orders, refunds, redemptions, holds, awards and a points tender."""
    a = Account.open(member, program=PROGRAM, at=START)
    a = a.adjust("welcome", at=START, points=400, reason="welcome").account
    at = START
    for k, (kind, basket) in enumerate(steps):
        at += timedelta(hours=5)
        if kind == 0:
            a = a.order(f"o{k}", at=at, lines=BASKETS[basket], channel="app").account
        elif kind == 1:
            open_orders = [o for o, record in a.orders.items() if not record.refunded_all]
            if open_orders:
                a = a.refund(f"f{k}", at=at, of=open_orders[0]).account
        elif kind == 2:
            a = a.redeem(f"r{k}", at=at, points=10, reason="cup").account
        elif kind == 3:
            a = a.hold(f"h{k}", at=at, points=5, deadline=at + timedelta(minutes=9)).account
            a = a.capture(f"c{k}", at=at, hold=f"h{k}").account
        elif kind == 4:
            a = a.award(f"a{k}", at=at, points=30, reason="partner", source="partner").account
        else:
            paid = [Tender("points", "1.00", points=100), Tender("card", "24.00")]
            a = a.order(f"t{k}", at=at, lines=BASKETS[2], tenders=paid).account
    return a


steps = st.lists(st.tuples(st.integers(0, 5), st.integers(0, 2)), min_size=1, max_size=12)


@settings(max_examples=40, deadline=None)
@given(steps=steps)
def test_events_read_back_equal_their_documents_and_rebuild_the_account(
    steps: list[tuple[int, int]],
) -> None:
    account = busy("ann", steps)
    events = account.events
    assert [e.version for e in events] == list(range(1, account.version + 1))
    for event in events:
        loaded = event_from_data(event_to_data(event))
        assert loaded == event
        assert expand(Log.of(loaded).items[0]) == loaded  # (kept from a document's values)
    assert Account.replay(events, programs=PROGRAM) == account
    assert pickle.loads(pickle.dumps(account)).events == events
    assert account.events_since(account.version - 2) == events[-2:]


def test_an_orders_kept_event_holds_only_atoms_besides_its_own_values() -> None:
    account = busy("ann", [(0, 0), (5, 0), (2, 0), (1, 0)])
    items = account._log.items  # type: ignore[union-attr]
    compact = [item for item in items if not isinstance(item, AccountEvent)]
    assert len(compact) == len(items) - 1  # (all but the open)
    gc.collect()
    for *_, atoms in compact:
        assert not gc.is_tracked(atoms)


def test_two_account_commands_and_migrations_read_back_equal() -> None:
    a = busy("ann", [(0, 1), (4, 0)])
    b = busy("ben", [(0, 2)])
    at = a.last_at + timedelta(hours=1)
    (a, _), (b, _) = transfer(a, b, "t-1", at=at, points=50)
    (a, _), (b, _) = merge(a, b, "g-1", at=at)
    new = attrs.evolve(PROGRAM, version=2)
    tiers = {name: name for name in PROGRAM.tiers.names}
    a = a.migrate("m-1", at=at, program=new, tier_map=tiers).account
    a = a.order("o-after", at=at, lines=BASKETS[0]).account
    for account in (a, b):
        events = account.events
        assert [event_from_data(event_to_data(e)) for e in events] == list(events)
        assert Account.replay(events, programs=(PROGRAM, new)) == account


@settings(max_examples=25, deadline=None)
@given(steps=steps)
def test_a_replayed_accounts_kept_payloads_read_back_as_the_live_ones(
    steps: list[tuple[int, int]],
) -> None:
    live = busy("ann", steps)
    retried = live.order("o-x", at=live.last_at, lines=BASKETS[0]).account
    retried.order("o-x", at=live.last_at, lines=BASKETS[0])  # (a retry writes the stored text)
    replayed = Account.replay(retried.events, programs=PROGRAM)  # (payloads read as texts)
    assert replayed.events == retried.events
    assert [e.payload.text for e in replayed.events] == [e.payload.text for e in retried.events]
    assert pickle.loads(pickle.dumps(replayed)).events == retried.events


def test_an_order_with_attributes_and_a_rate_keeps_its_event_and_refunds_alike() -> None:
    a = Account.open("ann", program=PROGRAM, at=START)
    at = START + timedelta(hours=1)
    a = a.order("o-1", at=at, lines=BASKETS[1], attributes={"table": 7}).account
    a = a.order("o-2", at=at, lines=BASKETS[2], currency="USD", rate="0.9").account
    replayed = Account.replay(a.events, programs=PROGRAM)
    for oid in ("o-1", "o-2"):
        live_value = a.orders[oid].stored_evaluation()
        assert live_value == replayed.orders[oid].stored_evaluation()
        assert a.orders[oid].evaluation.text == replayed.orders[oid].evaluation.text
    assert a.orders["o-1"].stored_evaluation().event.attributes == {"table": 7}
    later = at + timedelta(hours=1)
    for oid in ("o-1", "o-2"):
        x = a.refund(f"f-{oid}", at=later, of=oid)
        y = replayed.refund(f"f-{oid}", at=later, of=oid)
        assert x.outcome == y.outcome
        assert x.account == y.account

"""The projection's lot rows, read from the ledger's columns, equal those of its Lot values."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from unittest.mock import ANY

import attrs
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import invariant, rule

import tests.test_accounts_stateful as model
from loyaltycore.accounts import Account, Program, example_program
from loyaltycore.predicates import Item
from loyaltycore.stores import LotRow, lot_sources
from loyaltycore.stores._logic import lot_changes, projection_of


def lots_from_values(account: Account) -> list[LotRow]:
    """The open lots as the public ``Lot`` values give them (the reference)."""
    open_lots = [lot for lot in account.ledger.lots if lot.remaining]
    sources = lot_sources(account, open_lots)
    return [
        LotRow(
            lot.id,
            lot.remaining,
            lot.pending,
            None if lot.expires_at is None else lot.expires_at.isoformat(),
            sources[lot.id],
        )
        for lot in open_lots
    ]


class ProjectionMachine(model.AccountMachine):
    """The account model's random histories (holds, expiry, transfers, merges, migrations)."""

    @invariant()
    def lot_rows_equal_the_lot_values(self) -> None:
        row, lots = projection_of(self.account)
        assert lots == lots_from_values(self.account)
        balance = self.account.balance()
        assert (row.available, row.pending, row.held, row.debt) == (
            balance.available,
            balance.pending,
            balance.held,
            balance.debt,
        )


ProjectionMachine.TestCase.settings = settings(max_examples=15, stateful_step_count=25)
test_projected_lots_equal_the_lot_values = ProjectionMachine.TestCase


# -- what a write reads: only the lots a command touched --------------------------------------

T0 = datetime(2024, 3, 4, 9, tzinfo=UTC)
PROGRAM = example_program()  # (carries its ledger forward every 256 ledger commands)


def _many(n: int, program: Program = PROGRAM, *, order: bool = True) -> Account:
    account = Account.open("ann", program=program, at=T0)
    if order:
        account = account.order("o-1", at=T0, lines=[Item("beans", unit_price="12.50")]).account
    for k in range(n):
        at = T0 + timedelta(hours=k + 1)
        account = account.award(f"w-{k}", at=at, points=3, reason="visit").account
    return account


def _apply(before: list[LotRow], changes: tuple[list[LotRow], list[str]]) -> list[LotRow]:
    changed, gone = changes
    rows = {lot.lot: lot for lot in before}
    for name in gone:
        rows.pop(name, None)
    rows.update((lot.lot, lot) for lot in changed)
    return sorted(rows.values())


def test_a_write_reads_only_the_lots_a_command_touched() -> None:
    before = _many(100)  # (past 64 lots: the table is shared in chunks between versions)
    at = before.last_at
    earned = before.award("w-new", at=at, points=5, reason="visit").account
    assert lot_changes(before, earned) == (
        [LotRow("103.0", 5, False, ANY, "command:103")],
        [],
    )
    spent = earned.redeem("r-1", at=at, points=6).account  # (the order's lot, then w-0's)
    changed, gone = lot_changes(earned, spent)  # type: ignore[misc]
    assert [lot.lot for lot in changed] == ["2.0"]
    assert gone == []
    assert _apply(projection_of(earned)[1], (changed, gone)) == sorted(projection_of(spent)[1])


def test_an_order_leaving_the_refund_window_relabels_its_lot() -> None:
    before = _many(100)
    later = before.last_at + timedelta(days=PROGRAM.refund_days + 1)
    after = before.award("w-late", at=later, points=5, reason="visit").account
    assert "o-1" in before.orders
    assert "o-1" not in after.orders
    changes = lot_changes(before, after)
    assert changes is not None
    sources = {lot.lot: lot.source for lot in changes[0]}
    assert sources["2.0"] == "command:2"
    assert _apply(projection_of(before)[1], changes) == sorted(projection_of(after)[1])


def test_a_carried_ledger_is_compared_row_by_row() -> None:
    before = _many(100, attrs.evolve(PROGRAM, carry_every=128), order=False)
    assert not any(lot.id.startswith("~/") for lot in before.ledger.lots)
    after = before
    for k in range(40):  # (the 128th ledger command carries it forward)
        after = after.award(f"w-x{k}", at=after.last_at, points=5, reason="visit").account
    assert any(lot.id.startswith("~/") for lot in after.ledger.lots)
    assert lot_changes(before, after) is None
    small = _many(3)
    more = small.award("w", at=small.last_at, points=1, reason="x").account
    assert lot_changes(small, more) is None  # (a small table: compared row by row)


class LotChangesMachine(model.AccountMachine):
    """The account model's random histories, with bursts of awards past 64 lots."""

    @rule(count=st.sampled_from([30, 70]))
    def many_awards(self, count: int) -> None:
        for _ in range(count):
            aid = self.next_id("w")
            at = self.t
            self.send(aid, lambda a, aid=aid, at=at: a.award(aid, at=at, points=7, reason="visit"))

    @invariant()
    def the_changes_bring_the_last_rows_up_to_date(self) -> None:
        seen = getattr(self, "seen", None)
        now = self.account
        if seen is not None and seen.member == now.member and seen.version <= now.version:
            changes = lot_changes(seen, now)
            if changes is not None:
                assert _apply(projection_of(seen)[1], changes) == sorted(projection_of(now)[1])
        self.seen = now


LotChangesMachine.TestCase.settings = settings(max_examples=8, stateful_step_count=15)
test_lot_changes_bring_the_rows_up_to_date = LotChangesMachine.TestCase

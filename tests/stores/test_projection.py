"""The projection's lot rows, read from the ledger's columns, equal those of its Lot values."""

from __future__ import annotations

from hypothesis import settings
from hypothesis.stateful import invariant

import tests.test_accounts_stateful as model
from loyaltycore.accounts import Account
from loyaltycore.stores import LotRow, lot_sources
from loyaltycore.stores._logic import projection_of


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

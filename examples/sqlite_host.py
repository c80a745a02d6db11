"""A small host that keeps member accounts in SQLite through ``SQLiteStore``.

Each command is one transaction: the store takes SQLite's write lock before
it reads the account, runs the command, appends its events at the expected
version and writes the outcome, the projection and the outbox. A retried
command (a payment service timing out and sending it again) returns its
stored outcome; several processes may share the file.

Run it with ``python examples/sqlite_host.py [path.db]`` (default: in memory).
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta

from loyaltycore.accounts import Account, Tender, example_program
from loyaltycore.predicates import Item
from loyaltycore.stores import SQLiteStore

PROGRAM = example_program()
T = datetime(2024, 5, 2, 9, 0, tzinfo=UTC)


def store_at(path: str) -> SQLiteStore:
    """The store every process of the host opens on the same file."""
    return SQLiteStore(path, programs=PROGRAM)


def main(path: str = ":memory:") -> None:
    store = store_at(path)
    store.create(Account.open("claire", program=PROGRAM, at=T))
    beans = [Item("beans", "retail", 4, "12.50")]
    store.execute("claire", lambda a: a.order("order-1", at=T, lines=beans))
    later = T + timedelta(days=3)
    paid = [Tender("points", "2.00", points=200), Tender("card", "2.50")]
    latte = [Item("latte", "drinks", 1, "4.50")]
    # The payment service times out and retries the checkout: applied once.
    for _ in range(2):
        outcome = store.execute(
            "claire", lambda a: a.order("order-2", at=later, lines=latte, tenders=paid)
        ).outcome
    print(
        f"order-2: redeemed {outcome.redeemed}, earned {outcome.earned}, version {outcome.version}"
    )
    print("stored events:", ", ".join(f"{e.version}:{e.command}" for e in store.events("claire")))
    row = store.projection("claire")
    print(f"projection: available {row.available}, tier {row.tier}")
    print("open lots:", [(lot.remaining, lot.source) for lot in store.lots("claire")])


if __name__ == "__main__":
    main(*sys.argv[1:2])

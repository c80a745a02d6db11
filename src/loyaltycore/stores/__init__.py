"""Accounts persisted: the store contract, and SQLite as the embedded default.

A store keeps each member's account as its events (append-only, one row per
command's event), a snapshot every few versions (a cache: a stale one is
replayed over and rewritten), a projection finance can read with plain SQL,
an outbox (events to publish, commands for other members) and program-wide
budget counters, all written in the command's own transaction:

>>> from datetime import datetime, timezone
>>> from loyaltycore.accounts import Account, example_program
>>> program = example_program()
>>> store = SQLiteStore(":memory:", programs=program)
>>> at = datetime(2024, 5, 6, 8, tzinfo=timezone.utc)
>>> store.create(Account.open("ann", program=program, at=at))
>>> applied = store.execute("ann", lambda a: a.adjust("a-1", at=at, points=500, reason="welcome"))
>>> store.execute("ann", lambda a: a.redeem("r-1", at=at, points=200)).outcome.available
300
>>> store.projection("ann").available, [e.command for e in store.events("ann")]
(300, ['open', 'adjust', 'redeem'])

:class:`Store` holds the database-independent logic (what to read, what to
append, how versions are checked and commands retried); :class:`SQLiteStore`
is its SQLite layer and :class:`PostgresStore` its PostgreSQL one (inside the
host's own transactions when it has one; ``pip install 'loyaltycore[postgres]'``).
:func:`ddl` gives the table definitions for hosts that
own their migrations. See ``docs/stores.md`` for the guarantees.
"""

from __future__ import annotations

from loyaltycore._public import publish
from loyaltycore.stores._logic import LotRow, OutboxItem, Projection, Store, lot_sources
from loyaltycore.stores._postgres import PostgresStore
from loyaltycore.stores._schema import SCHEMA_VERSION, ddl
from loyaltycore.stores._sqlite import SQLiteStore

__all__ = [
    "LotRow",
    "OutboxItem",
    "PostgresStore",
    "Projection",
    "SCHEMA_VERSION",
    "SQLiteStore",
    "Store",
    "ddl",
    "lot_sources",
]

publish(__name__, __all__, globals())

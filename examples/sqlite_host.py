"""A small host application that keeps points ledgers in SQLite.

The ledger is a pure value; the host decides how to store it. Here each
member's events are rows of one append-only table (stdlib ``sqlite3``): a
command loads the member's ledger by replaying its rows, applies the command,
and appends the new events in the same transaction. Retrying a command (say,
after a timeout) is safe: the same id and payload changes nothing.

Several processes may share the database file. A command takes SQLite's
write lock *before* it reads the member's rows (``BEGIN IMMEDIATE``), so
two processes never decide on the same balance and never append the same
row number; the other waits (the busy timeout) and, if it is still locked
out, retries a few times. The connection is in autocommit mode
(``isolation_level=None``) so that Python's sqlite3 opens no transaction of
its own, and in WAL mode so that readers do not block the writer.

Run it with ``python examples/sqlite_host.py [path.db]`` (default: in memory).
"""

from __future__ import annotations

import json
import sqlite3
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

from loyaltycore.points import (
    ExpireAfter,
    PointsLedger,
    event_from_data,
    event_to_data,
)

SCHEMA = """
CREATE TABLE IF NOT EXISTS points_events (
    member TEXT NOT NULL,
    seq INTEGER NOT NULL,
    type TEXT NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (member, seq)
)
"""


#: How long one attempt waits for another process's write lock.
BUSY_TIMEOUT_S = 5.0
#: Attempts at a command before giving up while others hold the lock.
ATTEMPTS = 5


class StoreBusy(RuntimeError):
    """The database stayed locked by other writers through every attempt."""


def connect(path: str) -> sqlite3.Connection:
    """A connection for one process: explicit transactions, WAL, a busy timeout."""
    db = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
    db.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
    if path != ":memory:":
        db.execute("PRAGMA journal_mode = WAL")
    return db


def _locked(exc: sqlite3.OperationalError) -> bool:
    return "database is locked" in str(exc) or "database is busy" in str(exc)


class PointsStore:
    """Ledgers persisted as their event histories."""

    def __init__(self, db: sqlite3.Connection) -> None:
        if db.isolation_level is not None:
            raise ValueError("open the connection with connect() (isolation_level=None)")
        self.db = db
        self.db.execute(SCHEMA)

    @contextmanager
    def _writing(self) -> Iterator[None]:
        """One transaction that holds the write lock from its first read."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield
            self.db.execute("COMMIT")
        except BaseException:
            if self.db.in_transaction:
                self.db.execute("ROLLBACK")
            raise

    def _write(self, step: Callable[[], PointsLedger]) -> PointsLedger:
        """Run ``step`` in a write transaction; retry while others hold the lock."""
        for attempt in range(ATTEMPTS):
            try:
                with self._writing():
                    return step()
            except sqlite3.OperationalError as exc:
                if not _locked(exc):
                    raise
                time.sleep(0.01 * 2**attempt)
        raise StoreBusy(f"the database stayed locked through {ATTEMPTS} attempts")

    def load(self, member: str) -> PointsLedger | None:
        rows = self.db.execute(
            "SELECT body FROM points_events WHERE member = ? ORDER BY seq", (member,)
        ).fetchall()
        if not rows:
            return None
        return PointsLedger.replay(event_from_data(json.loads(body)) for (body,) in rows)

    def save(self, before: PointsLedger | None, after: PointsLedger) -> int:
        """Append the events ``after`` has beyond ``before``; returns how many."""
        start = 0 if before is None else len(before.events)
        new = after.events[start:]
        self.db.executemany(
            "INSERT INTO points_events (member, seq, type, body) VALUES (?, ?, ?, ?)",
            [
                (after.member, start + i, type(ev).__name__, json.dumps(event_to_data(ev)))
                for i, ev in enumerate(new)
            ],
        )
        return len(new)

    def open_account(self, member: str) -> PointsLedger:
        """Open the member's ledger, or return it if it is already open."""

        def step() -> PointsLedger:
            existing = self.load(member)
            if existing is not None:
                return existing
            ledger = PointsLedger.open(member, tz="Europe/Paris", policy=ExpireAfter(months=24))
            self.save(None, ledger)
            return ledger

        return self._write(step)

    def command(self, member: str, apply: Callable[[PointsLedger], PointsLedger]) -> PointsLedger:
        """Load, apply one command, append its events: all in one transaction.

        A command the ledger refuses raises its LoyaltyError and stores nothing.
        """

        def step() -> PointsLedger:
            before = self.load(member)
            assert before is not None, f"no account for {member}"
            after = apply(before)
            self.save(before, after)
            return after

        return self._write(step)


def main(path: str = ":memory:") -> None:
    store = PointsStore(connect(path))
    store.open_account("claire")
    t = datetime(2024, 5, 2, 9, 0, tzinfo=UTC)
    store.command("claire", lambda x: x.earn("order-1", at=t, points=640))
    store.command("claire", lambda x: x.redeem("reward-1", at=t + timedelta(days=3), points=200))
    hold_at = t + timedelta(days=10)
    store.command(
        "claire",
        lambda x: x.hold("cart-1", at=hold_at, points=300, deadline=hold_at + timedelta(hours=1)),
    )
    # The payment service times out and retries the capture: applied once.
    for _ in range(2):
        store.command("claire", lambda x: x.capture("pay-1", at=hold_at, hold="cart-1"))

    rows = store.db.execute(
        "SELECT seq, type FROM points_events WHERE member = 'claire' ORDER BY seq"
    ).fetchall()
    print("stored events:", ", ".join(f"{seq}:{kind}" for seq, kind in rows))
    rebuilt = store.load("claire")
    assert rebuilt is not None
    balance = rebuilt.balance()
    print(
        f"rebuilt from {len(rows)} rows: available {balance.available}, "
        f"redeemed {balance.redeemed}"
    )
    print(
        "expiring:",
        [
            (e.last_usable.isoformat(), e.points)
            for e in rebuilt.expiring(until=t + timedelta(days=3 * 365))
        ],
    )


if __name__ == "__main__":
    main(*sys.argv[1:2])

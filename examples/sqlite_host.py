"""A small host application that keeps points ledgers in SQLite.

The ledger is a pure value; the host decides how to store it. Here each
member's events are rows of one append-only table (stdlib ``sqlite3``): a
command loads the member's ledger by replaying its rows, applies the command,
and appends the new events in the same transaction. Retrying a command (say,
after a timeout) is safe: the same id and payload changes nothing.

Run it with ``python examples/sqlite_host.py [path.db]`` (default: in memory).
"""

from __future__ import annotations

import json
import sqlite3
import sys
from collections.abc import Callable
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


class PointsStore:
    """Ledgers persisted as their event histories."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db
        self.db.execute(SCHEMA)

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

    def open_account(self, member: str) -> None:
        with self.db:
            ledger = PointsLedger.open(member, tz="Europe/Paris", policy=ExpireAfter(months=24))
            self.save(None, ledger)

    def command(self, member: str, apply: Callable[[PointsLedger], PointsLedger]) -> PointsLedger:
        """Load, apply one command, append its events: all in one transaction."""
        with self.db:
            before = self.load(member)
            assert before is not None, f"no account for {member}"
            after = apply(before)
            self.save(before, after)
            return after


def main(path: str = ":memory:") -> None:
    store = PointsStore(sqlite3.connect(path))
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

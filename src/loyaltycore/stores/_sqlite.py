"""The embedded store: stdlib ``sqlite3``, one file, no server.

The connection is in autocommit mode (``isolation_level=None``), so Python
opens no transaction of its own; every write is ``BEGIN IMMEDIATE``, which
takes the file's write lock *before* the command reads the account, so two
processes never decide on the same balance. The file is in WAL mode
(readers never block the writer) with ``synchronous=FULL`` by default (a
committed command survives a power cut).

Writers of one file queue for it: before ``BEGIN IMMEDIATE`` a store takes
an exclusive ``flock`` on a companion file (``<path>-writers``), so a
waiting writer sleeps in the kernel and wakes as soon as the writer before
it commits, instead of polling SQLite's lock with growing sleeps while
others take it (the latency of one busy member's commands was set by
those sleeps). The lock is the process's: it goes when the process does,
a ``kill -9`` included. A writer that still finds SQLite's lock taken (a
program writing the file without this lock) waits up to the busy timeout,
then the store retries the whole transaction a bounded number of times.
Where ``fcntl`` does not exist (Windows) only SQLite's lock is used.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import time
import weakref
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any, Final

from loyaltycore.accounts import Program
from loyaltycore.errors import InvalidArgument, SchemaVersionError
from loyaltycore.stores._logic import (
    Busy,
    EventRow,
    Head,
    KnownId,
    LotRow,
    OutboxItem,
    OutcomeRow,
    Projection,
    Resolver,
    SnapshotRow,
    Store,
)
from loyaltycore.stores._schema import (
    SCHEMA_VERSION,
    erasable_reads,
    erasable_write,
    statements,
)

_SYNC: Final = ("OFF", "NORMAL", "FULL", "EXTRA")
_BUSY: Final = ("locked", "busy")

fcntl: ModuleType | None
try:
    import fcntl
except ImportError:  # pragma: no cover  (Windows: SQLite's own lock only)
    fcntl = None


class _Rows:
    """The SQL of one SQLite transaction (see :class:`loyaltycore.stores._logic.Rows`)."""

    commits = True

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db
        #: Profiles read with their head row (one statement for both).
        self._profiles: dict[str, str | None] = {}

    def head(self, member: str) -> Head | None:
        row = self.db.execute(
            "SELECT a.version, a.program_id, a.program_version, a.merged_into, p.body"
            " FROM loyalty_accounts a LEFT JOIN loyalty_profiles p ON p.member = a.member"
            " WHERE a.member = ?",
            (member,),
        ).fetchone()
        if row is None:
            return None
        self._profiles[member] = row[4]
        return Head(*row[:4])

    def put_head(self, member: str, expected: int | None, head: Head) -> bool:
        if expected is None:
            try:
                self.db.execute(
                    "INSERT INTO loyalty_accounts VALUES (?, ?, ?, ?, ?)", (member, *head)
                )
            except sqlite3.IntegrityError:
                return False
            return True
        cur = self.db.execute(
            "UPDATE loyalty_accounts SET version = ?, program_id = ?, program_version = ?,"
            " merged_into = ? WHERE member = ? AND version = ?",
            (*head, member, expected),
        )
        return cur.rowcount == 1

    def snapshot(self, member: str) -> SnapshotRow | None:
        row = self.db.execute(
            "SELECT version, schema, schema_version, program_id, program_version, body"
            " FROM loyalty_snapshots WHERE member = ?",
            (member,),
        ).fetchone()
        return None if row is None else SnapshotRow(*row)

    def put_snapshot(self, member: str, row: SnapshotRow) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO loyalty_snapshots VALUES (?, ?, ?, ?, ?, ?, ?)",
            (member, *row),
        )

    def events(self, member: str, after: int) -> list[tuple[int, str]]:
        return self.db.execute(
            "SELECT version, body FROM loyalty_events WHERE member = ? AND version > ?"
            " ORDER BY version",
            (member, after),
        ).fetchall()

    def add_events(self, member: str, rows: Sequence[EventRow]) -> None:
        try:
            self.db.executemany(
                "INSERT INTO loyalty_events VALUES (?, ?, ?, ?, ?, ?)",
                [(member, *row) for row in rows],
            )
        except sqlite3.IntegrityError:
            raise Busy(member) from None  # (another writer appended this version)

    def outcome(self, member: str, command_id: str) -> tuple[str, str] | None:
        row = self.db.execute(
            "SELECT payload, body FROM loyalty_outcomes WHERE member = ? AND command_id = ?",
            (member, command_id),
        ).fetchone()
        return None if row is None else (str(row[0]), str(row[1]))

    def put_outcomes(
        self, member: str, rows: Sequence[OutcomeRow], fresh: Collection[str] = ()
    ) -> None:
        for row in rows:
            if row.command_id in fresh:
                cur = self.db.execute(
                    "INSERT INTO loyalty_outcomes VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                    (member, *row),
                )
                if cur.rowcount != 1:
                    raise KnownId(row.command_id)
            else:
                self.db.execute(
                    "INSERT OR REPLACE INTO loyalty_outcomes VALUES (?, ?, ?, ?, ?)",
                    (member, *row),
                )

    def put_projection(self, row: Projection, lots: Sequence[LotRow], gone: Sequence[str]) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO loyalty_projections VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            tuple(row),
        )
        self.db.executemany(
            "DELETE FROM loyalty_lots WHERE member = ? AND lot = ?",
            [(row.member, name) for name in gone],
        )
        self.db.executemany(
            "INSERT OR REPLACE INTO loyalty_lots VALUES (?, ?, ?, ?, ?, ?)",
            [
                (row.member, lot.lot, lot.remaining, int(lot.pending), lot.expires_at, lot.source)
                for lot in lots
            ],
        )

    def projection(self, member: str) -> Projection | None:
        row = self.db.execute(
            "SELECT * FROM loyalty_projections WHERE member = ?", (member,)
        ).fetchone()
        return None if row is None else Projection(*row)

    def lots(self, member: str) -> list[LotRow]:
        rows = self.db.execute(
            "SELECT lot, remaining, pending, expires_at, source FROM loyalty_lots"
            " WHERE member = ? ORDER BY lot",
            (member,),
        ).fetchall()
        return [LotRow(r[0], r[1], bool(r[2]), r[3], r[4]) for r in rows]

    def add_outbox(self, rows: Sequence[tuple[OutboxItem, str]]) -> None:
        self.db.executemany(
            "INSERT INTO loyalty_outbox (member, version, part, id, kind, target, at, body)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (r.member, r.version, r.part, r.id, r.kind, r.target, r.at, text)
                for r, text in rows
            ],
        )

    def pending(self, limit: int) -> list[OutboxItem]:
        rows = self.db.execute(
            "SELECT id, member, version, part, kind, target, at, body FROM loyalty_outbox"
            " WHERE published = 0 ORDER BY at, member, version, part LIMIT ?",
            (limit,),
        ).fetchall()
        return [
            OutboxItem(row[0], row[1], row[2], row[3], row[4], row[5], row[6], json.loads(row[7]))
            for row in rows
        ]

    def mark_published(self, ids: Sequence[str]) -> None:
        self.db.executemany(
            "UPDATE loyalty_outbox SET published = 1 WHERE id = ?", [(i,) for i in ids]
        )

    def budgets(self, ids: Sequence[str]) -> dict[str, int]:
        out = {}
        for budget in ids:
            row = self.db.execute(
                "SELECT used FROM loyalty_budgets WHERE budget = ?", (budget,)
            ).fetchone()
            out[budget] = 0 if row is None else int(row[0])
        return out

    def add_budgets(self, used: Mapping[str, int]) -> None:
        for budget, points in used.items():
            self.db.execute(
                "INSERT INTO loyalty_budgets VALUES (?, ?)"
                " ON CONFLICT (budget) DO UPDATE SET used = used + excluded.used",
                (budget, points),
            )

    def profile(self, member: str) -> str | None:
        if member in self._profiles:
            return self._profiles[member]
        row = self.db.execute(
            "SELECT body FROM loyalty_profiles WHERE member = ?", (member,)
        ).fetchone()
        return None if row is None else str(row[0])

    def put_profile(self, member: str, body: str | None) -> None:
        self._profiles.pop(member, None)
        if body is None:
            self.db.execute("DELETE FROM loyalty_profiles WHERE member = ?", (member,))
        else:
            self.db.execute(
                "INSERT OR REPLACE INTO loyalty_profiles VALUES (?, ?)", (member, body)
            )

    def bodies(self, member: str) -> list[tuple[str, tuple[Any, ...], str]]:
        return [
            (table, tuple(row[:-1]), row[-1])
            for table, query in erasable_reads("?")
            for row in self.db.execute(query, (member,))
        ]

    def put_body(self, table: str, key: tuple[Any, ...], body: str) -> None:
        self.db.execute(erasable_write(table, "?"), (body, *key))


class SQLiteStore(Store):
    """Accounts in one SQLite file: the embedded default, no server needed.

    Args:
        path: the database file (created with its tables if new), or
            ``":memory:"``.
        programs: the programs accounts run (a Program, several, or a resolver).
        snapshot_every: write a snapshot every this many versions.
        retries: how many times a transaction that found the write lock
            taken is tried again (after waits of 0.5 ms growing to 10 ms),
            before :class:`~loyaltycore.errors.ConcurrencyConflict`.
        busy_timeout: seconds SQLite itself waits for the lock on each try
            (short: its own waits grow to 100 ms, which idles a busy store).
        synchronous: SQLite's ``synchronous`` level (``"FULL"``: a commit
            survives a power cut; ``"NORMAL"``: it survives the process).

    One store object holds one connection: use one per thread or process.
    The file's schema is created, or migrated forward, when it is opened.

    Raises:
        SchemaVersionError: the file's schema is newer than this release's.

    >>> from datetime import datetime, timezone
    >>> from loyaltycore.accounts import Account, example_program
    >>> store = SQLiteStore(":memory:", programs=example_program())
    >>> at = datetime(2024, 5, 6, tzinfo=timezone.utc)
    >>> store.create(Account.open("ann", program=example_program(), at=at))
    >>> applied = store.execute("ann", lambda a: a.adjust("a-1", at=at, points=50, reason="hi"))
    >>> applied.outcome.available
    50
    """

    def __init__(
        self,
        path: str | Path,
        *,
        programs: Program | Iterable[Program] | Resolver,
        snapshot_every: int = 100,
        retries: int = 500,
        busy_timeout: float = 0.01,
        synchronous: str = "FULL",
    ) -> None:
        super().__init__(programs, snapshot_every=snapshot_every, retries=retries)
        if synchronous not in _SYNC:
            raise InvalidArgument(
                f"synchronous={synchronous!r} must be one of {list(_SYNC)}",
                field="synchronous",
                value=synchronous,
            )
        if (
            isinstance(busy_timeout, bool)
            or not isinstance(busy_timeout, int | float)
            or busy_timeout < 0
        ):
            raise InvalidArgument(
                f"busy_timeout={busy_timeout!r} must be a number of seconds >= 0",
                field="busy_timeout",
                value=busy_timeout,
            )
        self.path = str(path)
        self._db = sqlite3.connect(
            self.path, isolation_level=None, timeout=float(busy_timeout), check_same_thread=False
        )
        self._db.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
        #: The descriptor of the companion file whose flock queues this file's writers
        #: (None: in memory), closed with the store or when it is collected.
        self._writers: int | None = None
        if self.path != ":memory:" and fcntl is not None:
            self._writers = os.open(self.path + "-writers", os.O_RDWR | os.O_CREAT, 0o644)
            self._close_writers = weakref.finalize(self, os.close, self._writers)
        if self.path != ":memory:":
            self._wal(retries)
        self._db.execute(f"PRAGMA synchronous = {synchronous}")
        self._migrate()

    def _wal(self, retries: int) -> None:
        """Put the file in WAL mode, in the writers' queue (processes opening a new
        file at once: the switch needs the file to itself), retried while it is busy."""
        delay = 0.0005
        for attempt in range(retries):
            try:
                with self._queued():
                    self._db.execute("PRAGMA journal_mode = WAL")
                return
            except sqlite3.OperationalError as exc:
                if not any(word in str(exc) for word in _BUSY) or attempt + 1 == retries:
                    raise
            time.sleep(delay)  # (a reader without the queue holds the file: wait, then again)
            delay = min(delay * 1.5, 0.01)

    def close(self) -> None:
        """Close the connection.

        >>> from loyaltycore.accounts import example_program
        >>> SQLiteStore(":memory:", programs=example_program()).close()
        """
        self._db.close()
        if self._writers is not None:
            self._close_writers()

    def schema_version(self) -> int:
        """The schema version of the file.

        >>> from loyaltycore.accounts import example_program
        >>> SQLiteStore(":memory:", programs=example_program()).schema_version()
        1
        """
        row = self._db.execute("SELECT version FROM loyalty_schema").fetchone()
        return int(row[0])

    def _migrate(self) -> None:
        def work(rows: Any) -> None:
            db: sqlite3.Connection = rows.db
            found = db.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'loyalty_schema'"
            ).fetchone()
            version = (
                0
                if found is None
                else int(db.execute("SELECT version FROM loyalty_schema").fetchone()[0])
            )
            if version > SCHEMA_VERSION:
                raise SchemaVersionError(
                    f"the database schema is version {version}; this release reads up to "
                    f"{SCHEMA_VERSION}",
                    field="version",
                    value=version,
                    errors=(f"unsupported version {version} @ loyalty_schema",),
                )
            for statement in statements("sqlite", version):
                db.execute(statement)
            if version and version < SCHEMA_VERSION:
                db.execute("UPDATE loyalty_schema SET version = ?", (SCHEMA_VERSION,))

        self._run(True, work)

    @contextlib.contextmanager
    def _transaction(self, write: bool) -> Iterator[_Rows]:
        with (
            self._queued() if write else contextlib.nullcontext(),
            self._locked_transaction(write) as rows,
        ):
            yield rows

    @contextlib.contextmanager
    def _queued(self) -> Iterator[None]:
        """This file's turn among its writers (the flock of the companion file)."""
        queue = self._writers
        if queue is None:
            yield
            return
        assert fcntl is not None
        fcntl.flock(queue, fcntl.LOCK_EX)  # (waits for the writers before it)
        try:
            yield
        finally:
            fcntl.flock(queue, fcntl.LOCK_UN)

    @contextlib.contextmanager
    def _locked_transaction(self, write: bool) -> Iterator[_Rows]:
        db = self._db
        try:
            db.execute("BEGIN IMMEDIATE" if write else "BEGIN")
        except sqlite3.OperationalError as exc:
            if any(word in str(exc) for word in _BUSY):
                raise Busy(str(exc)) from None
            raise
        try:
            yield _Rows(db)
        except sqlite3.OperationalError as exc:
            if db.in_transaction:
                db.execute("ROLLBACK")
            if any(word in str(exc) for word in _BUSY):
                raise Busy(str(exc)) from None
            raise
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
        try:
            db.execute("COMMIT")
        except sqlite3.OperationalError as exc:
            if db.in_transaction:
                db.execute("ROLLBACK")
            if any(word in str(exc) for word in _BUSY):
                raise Busy(str(exc)) from None
            raise

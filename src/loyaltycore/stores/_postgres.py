"""The PostgreSQL store: psycopg 3, inside the host's own transactions when it has one.

The host passes a ``psycopg_pool.ConnectionPool`` or a ``psycopg.Connection``;
the store never holds a connection string. Each command runs in
``connection.transaction()``: on an idle connection that is the store's own
transaction (``BEGIN`` ... ``COMMIT``); on a connection already in a
transaction it is a savepoint inside the host's, which the host commits or
rolls back with its own rows (an order and its points together).

Statements are pipelined (psycopg's pipeline mode): a command waits for the
server only for what it reads, once to check its writes, and once to commit.

Isolation is the server's default, READ COMMITTED. A write first locks the
account's head row (``SELECT ... FOR UPDATE``), so two writers of one member
queue there, and each reads the account only after it holds the lock: the
second sees the first's committed events. The head row changes only if it
still holds the version read (``UPDATE ... WHERE version = %s``), and the
events' primary key ``(member, version)`` refuses a second event at one
version, whatever path wrote it. Program budgets are locked the same way
(their rows, in id order, after the members').

psycopg is imported when a store is made, never when ``loyaltycore`` is.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final

from loyaltycore._validate import require
from loyaltycore.accounts import Program
from loyaltycore.errors import (
    ConcurrencyConflict,
    InvalidArgument,
    InvalidType,
    SchemaVersionError,
)
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

if TYPE_CHECKING:
    from psycopg import Connection
    from psycopg.rows import TupleRow
    from psycopg_pool import ConnectionPool

#: The advisory lock key migrations take (so two processes never create the tables twice).
_MIGRATION_LOCK: Final = 0x6C6F79616C7479  # "loyalty"


class _Rows:
    """The SQL of one PostgreSQL transaction (see :class:`loyaltycore.stores._logic.Rows`)."""

    def __init__(self, conn: Connection[TupleRow], commits: bool, write: bool) -> None:
        self.conn = conn
        self.commits = commits
        self.write = write
        #: The head-row writes, checked (one row each) before the transaction commits.
        self.heads: list[Any] = []
        #: The inserts of outcome rows that must be new, checked like the head rows.
        self.fresh: list[Any] = []
        #: Profiles read with their head row (one statement for both).
        self._profiles: dict[str, str | None] = {}

    def _one(self, sql: str, args: Sequence[Any]) -> tuple[Any, ...] | None:
        return self.conn.execute(sql, args).fetchone()

    def _all(self, sql: str, args: Sequence[Any]) -> list[tuple[Any, ...]]:
        return self.conn.execute(sql, args).fetchall()

    def head(self, member: str) -> Head | None:
        row = self._one(
            "SELECT a.version, a.program_id, a.program_version, a.merged_into, p.body"
            " FROM loyalty_accounts a LEFT JOIN loyalty_profiles p ON p.member = a.member"
            " WHERE a.member = %s" + (" FOR UPDATE OF a" if self.write else ""),
            (member,),
        )
        if row is None:
            return None
        self._profiles[member] = row[4]
        return Head(*row[:4])

    def put_head(self, member: str, expected: int | None, head: Head) -> bool:
        # (statements are pipelined: the row counts are checked before the commit)
        if expected is None:
            cur = self.conn.execute(
                "INSERT INTO loyalty_accounts VALUES (%s, %s, %s, %s, %s)"
                " ON CONFLICT (member) DO NOTHING",
                (member, *head),
            )
        else:
            cur = self.conn.execute(
                "UPDATE loyalty_accounts SET version = %s, program_id = %s,"
                " program_version = %s, merged_into = %s WHERE member = %s AND version = %s",
                (*head, member, expected),
            )
        self.heads.append(cur)
        return True

    def snapshot(self, member: str) -> SnapshotRow | None:
        row = self._one(
            "SELECT version, schema, schema_version, program_id, program_version, body"
            " FROM loyalty_snapshots WHERE member = %s",
            (member,),
        )
        return None if row is None else SnapshotRow(*row)

    def put_snapshot(self, member: str, row: SnapshotRow) -> None:
        self.conn.execute(
            "INSERT INTO loyalty_snapshots VALUES (%s, %s, %s, %s, %s, %s, %s)"
            " ON CONFLICT (member) DO UPDATE SET version = excluded.version,"
            " schema = excluded.schema, schema_version = excluded.schema_version,"
            " program_id = excluded.program_id, program_version = excluded.program_version,"
            " body = excluded.body",
            (member, *row),
        )

    def events(self, member: str, after: int) -> list[tuple[int, str]]:
        return [
            (int(r[0]), str(r[1]))
            for r in self._all(
                "SELECT version, body FROM loyalty_events WHERE member = %s AND version > %s"
                " ORDER BY version",
                (member, after),
            )
        ]

    def add_events(self, member: str, rows: Sequence[EventRow]) -> None:
        # (a second event at one version fails on the key when the pipeline syncs: Busy)
        with self.conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO loyalty_events VALUES (%s, %s, %s, %s, %s, %s)",
                [(member, *row) for row in rows],
            )

    def outcome(self, member: str, command_id: str) -> tuple[str, str] | None:
        row = self._one(
            "SELECT payload, body FROM loyalty_outcomes WHERE member = %s AND command_id = %s",
            (member, command_id),
        )
        return None if row is None else (str(row[0]), str(row[1]))

    def put_outcomes(
        self, member: str, rows: Sequence[OutcomeRow], fresh: Collection[str] = ()
    ) -> None:
        # (statements are pipelined: a fresh row's count is checked before the commit)
        for row in rows:
            if row.command_id in fresh:
                self.fresh.append(
                    self.conn.execute(
                        "INSERT INTO loyalty_outcomes VALUES (%s, %s, %s, %s, %s)"
                        " ON CONFLICT (member, command_id) DO NOTHING",
                        (member, *row),
                    )
                )
            else:
                self.conn.execute(
                    "INSERT INTO loyalty_outcomes VALUES (%s, %s, %s, %s, %s)"
                    " ON CONFLICT (member, command_id) DO UPDATE SET version = excluded.version,"
                    " payload = excluded.payload, body = excluded.body",
                    (member, *row),
                )

    def put_projection(self, row: Projection, lots: Sequence[LotRow], gone: Sequence[str]) -> None:
        self.conn.execute(
            "INSERT INTO loyalty_projections VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
            " ON CONFLICT (member) DO UPDATE SET version = excluded.version,"
            " available = excluded.available, pending = excluded.pending,"
            " held = excluded.held, debt = excluded.debt, tier = excluded.tier,"
            " tier_valid_until = excluded.tier_valid_until, program_id = excluded.program_id,"
            " program_version = excluded.program_version, merged_into = excluded.merged_into",
            tuple(row),
        )
        if gone:
            self.conn.execute(
                "DELETE FROM loyalty_lots WHERE member = %s AND lot = ANY(%s)",
                (row.member, list(gone)),
            )
        if lots:
            with self.conn.cursor() as cur:
                cur.executemany(
                    "INSERT INTO loyalty_lots VALUES (%s, %s, %s, %s, %s, %s)"
                    " ON CONFLICT (member, lot) DO UPDATE SET remaining = excluded.remaining,"
                    " pending = excluded.pending, expires_at = excluded.expires_at,"
                    " source = excluded.source",
                    [
                        (
                            row.member,
                            lot.lot,
                            lot.remaining,
                            int(lot.pending),
                            lot.expires_at,
                            lot.source,
                        )
                        for lot in lots
                    ],
                )

    def projection(self, member: str) -> Projection | None:
        row = self._one(
            "SELECT member, version, available, pending, held, debt, tier, tier_valid_until,"
            " program_id, program_version, merged_into FROM loyalty_projections"
            " WHERE member = %s",
            (member,),
        )
        return None if row is None else Projection(*row)

    def lots(self, member: str) -> list[LotRow]:
        rows = self._all(
            "SELECT lot, remaining, pending, expires_at, source FROM loyalty_lots"
            " WHERE member = %s ORDER BY lot",
            (member,),
        )
        return [LotRow(r[0], r[1], bool(r[2]), r[3], r[4]) for r in rows]

    def add_outbox(self, rows: Sequence[tuple[OutboxItem, str]]) -> None:
        if not rows:
            return
        with self.conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO loyalty_outbox (member, version, part, id, kind, target, at, body)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                [
                    (r.member, r.version, r.part, r.id, r.kind, r.target, r.at, text)
                    for r, text in rows
                ],
            )

    def pending(self, limit: int) -> list[OutboxItem]:
        rows = self._all(
            "SELECT id, member, version, part, kind, target, at, body FROM loyalty_outbox"
            " WHERE published = 0 ORDER BY at, member, version, part LIMIT %s",
            (limit,),
        )
        return [
            OutboxItem(row[0], row[1], row[2], row[3], row[4], row[5], row[6], json.loads(row[7]))
            for row in rows
        ]

    def mark_published(self, ids: Sequence[str]) -> None:
        if ids:
            self.conn.execute(
                "UPDATE loyalty_outbox SET published = 1 WHERE id = ANY(%s)", (list(ids),)
            )

    def budgets(self, ids: Sequence[str]) -> dict[str, int]:
        if not ids:
            return {}
        chosen = sorted(set(ids))
        if self.write:  # (the counter rows exist, then are locked in id order)
            with self.conn.cursor() as cur:
                cur.executemany(
                    "INSERT INTO loyalty_budgets VALUES (%s, 0) ON CONFLICT (budget) DO NOTHING",
                    [(b,) for b in chosen],
                )
        found = dict(
            self._all(
                "SELECT budget, used FROM loyalty_budgets WHERE budget = ANY(%s) ORDER BY budget"
                + (" FOR UPDATE" if self.write else ""),
                (chosen,),
            )
        )
        return {b: int(found.get(b, 0)) for b in ids}

    def add_budgets(self, used: Mapping[str, int]) -> None:
        with self.conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO loyalty_budgets VALUES (%s, %s)"
                " ON CONFLICT (budget) DO UPDATE SET used = loyalty_budgets.used + excluded.used",
                sorted(used.items()),
            )

    def profile(self, member: str) -> str | None:
        if member in self._profiles:
            return self._profiles[member]
        row = self._one("SELECT body FROM loyalty_profiles WHERE member = %s", (member,))
        return None if row is None else str(row[0])

    def put_profile(self, member: str, body: str | None) -> None:
        self._profiles.pop(member, None)
        if body is None:
            self.conn.execute("DELETE FROM loyalty_profiles WHERE member = %s", (member,))
        else:
            self.conn.execute(
                "INSERT INTO loyalty_profiles VALUES (%s, %s)"
                " ON CONFLICT (member) DO UPDATE SET body = excluded.body",
                (member, body),
            )

    def bodies(self, member: str) -> list[tuple[str, tuple[Any, ...], str]]:
        return [
            (table, tuple(row[:-1]), row[-1])
            for table, query in erasable_reads("%s")
            for row in self._all(query, (member,))
        ]

    def put_body(self, table: str, key: tuple[Any, ...], body: str) -> None:
        self.conn.execute(erasable_write(table, "%s"), (body, *key))


class PostgresStore(Store):
    """Accounts in PostgreSQL, through the host's connection pool or connection.

    Args:
        db: a ``psycopg_pool.ConnectionPool`` (the store takes a connection
            per transaction) or a ``psycopg.Connection``. A connection that
            is already in a transaction when a command runs keeps it: the
            store writes inside it (a savepoint) and does not commit, so the
            host's own rows and the loyalty events commit or roll back
            together. The store never opens a connection of its own.
        programs: the programs accounts run (a Program, several, or a resolver).
        snapshot_every: write a snapshot every this many versions.
        retries: how many times a transaction that met another writer (a
            moved version, a deadlock, a serialization failure) is tried
            again before :class:`~loyaltycore.errors.ConcurrencyConflict`.

    The tables (``stores.ddl("postgresql")``) are created, or migrated
    forward, in the connection's ``search_path`` when the store is made.
    Inside a host's transaction a serialization failure (the host chose
    REPEATABLE READ or SERIALIZABLE) raises ``ConcurrencyConflict`` at
    once: only the host can retry its whole transaction.

    Raises:
        MissingDependency: psycopg is not installed (``loyaltycore[postgres]``).
        SchemaVersionError: the database's schema is newer than this release's.

    >>> PostgresStore(None, programs=())  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    loyaltycore.errors.InvalidType: db=None must be a psycopg Connection or a ...ConnectionPool
    """

    def __init__(
        self,
        db: ConnectionPool[Connection[TupleRow]] | Connection[TupleRow],
        *,
        programs: Program | Iterable[Program] | Resolver,
        snapshot_every: int = 100,
        retries: int = 500,
    ) -> None:
        super().__init__(programs, snapshot_every=snapshot_every, retries=retries)
        psycopg = require("psycopg", "PostgresStore", extra="postgres")
        self._errors = psycopg.errors
        self._idle = psycopg.pq.TransactionStatus.IDLE
        self._failed = psycopg.pq.TransactionStatus.INERROR
        if isinstance(db, psycopg.Connection):
            self._pool = None
            self._conn: Connection[TupleRow] | None = db
        else:
            pools = require("psycopg_pool", "PostgresStore", extra="postgres")
            if not isinstance(db, pools.ConnectionPool):
                raise InvalidType(
                    f"db={db!r} must be a psycopg Connection or a psycopg_pool.ConnectionPool",
                    field="db",
                    value=db,
                )
            self._pool = db
            self._conn = None
        self._migrate()

    def schema_version(self) -> int:
        """The schema version of the database (as recorded in ``loyalty_schema``)."""

        def work(rows: Any) -> int:
            return int(rows._one("SELECT version FROM loyalty_schema", ())[0])

        return self._run(False, work)  # type: ignore[no-any-return]

    def _migrate(self) -> None:
        def work(rows: Any) -> None:
            rows.conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
            found = rows._one("SELECT to_regclass('loyalty_schema')", ())
            version = 0
            if found is not None and found[0] is not None:
                row = rows._one("SELECT version FROM loyalty_schema", ())
                version = 0 if row is None else int(row[0])
            if version > SCHEMA_VERSION:
                raise SchemaVersionError(
                    f"the database schema is version {version}; this release reads up to "
                    f"{SCHEMA_VERSION}",
                    field="version",
                    value=version,
                    errors=(f"unsupported version {version} @ loyalty_schema",),
                )
            for statement in statements("postgresql", version):
                rows.conn.execute(statement)
            if version and version < SCHEMA_VERSION:
                rows.conn.execute("UPDATE loyalty_schema SET version = %s", (SCHEMA_VERSION,))

        self._run(True, work)

    @contextlib.contextmanager
    def _connection(self) -> Iterator[Connection[TupleRow]]:
        if self._conn is not None:
            yield self._conn
        else:
            assert self._pool is not None
            with self._pool.connection() as conn:
                yield conn

    @contextlib.contextmanager
    def _transaction(self, write: bool) -> Iterator[_Rows]:
        errors = self._errors
        with self._connection() as conn:
            status = conn.info.transaction_status
            if status == self._failed:
                raise InvalidArgument(
                    "the connection's transaction has failed: roll it back first",
                    field="db",
                    value=str(status),
                )
            commits = status == self._idle
            try:
                with conn.pipeline() as pipeline, conn.transaction():
                    rows = _Rows(conn, commits, write)
                    yield rows
                    if rows.heads or rows.fresh:
                        pipeline.sync()
                        if any(cur.rowcount != 1 for cur in rows.heads):
                            raise Busy("the account's version moved")
                        if any(cur.rowcount != 1 for cur in rows.fresh):
                            raise KnownId("a command id taken as new has an outcome")
            except errors.UniqueViolation as exc:  # (another writer appended this version)
                raise Busy(str(exc)) from None
            except errors.SerializationFailure as exc:
                if not commits:
                    raise ConcurrencyConflict(
                        f"the host's transaction met another writer ({exc.sqlstate}): "
                        "retry it whole",
                        field="db",
                        value=exc.sqlstate,
                    ) from None
                raise Busy(str(exc)) from None
            except (errors.DeadlockDetected, errors.LockNotAvailable) as exc:
                raise Busy(str(exc)) from None

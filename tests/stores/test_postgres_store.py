"""PostgresStore passes the store contract on a real server and keeps the host's transactions.

Each store the contract opens gets its own schema (named after the
contract's ``path``) in the session's database; the server is the
``postgres_server`` fixture of ``tests/conftest.py``.
"""

from __future__ import annotations

import functools
import hashlib
import json
import multiprocessing
import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from psycopg_pool import ConnectionPool

from loyaltycore.errors import ConcurrencyConflict, InvalidType, SchemaVersionError
from loyaltycore.stores import SCHEMA_VERSION, PostgresStore, ddl
from tests.stores.contract import (
    BEANS,
    LATTE,
    PROGRAMS,
    T0,
    StoreContract,
    opened,
)

#: Connections and pools this process opened for stores, closed after each test.
_OPEN: list[Any] = []


def schema_of(path: str) -> str:
    return "s" + hashlib.sha1(path.encode()).hexdigest()[:24]


def connect(dsn: str, path: str, **kwargs: Any) -> psycopg.Connection[Any]:
    """A connection whose ``search_path`` is the path's own schema (created if new)."""
    schema = schema_of(path)
    conn = psycopg.connect(dsn, options=f"-c search_path={schema}", **kwargs)
    conn.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
    conn.commit()
    _OPEN.append(conn)
    return conn


def open_store(dsn: str, path: str) -> PostgresStore:
    """The store the contract runs: one connection, the store's own transactions."""
    return PostgresStore(connect(dsn, path), programs=PROGRAMS, snapshot_every=50)


def open_pooled(dsn: str, path: str) -> PostgresStore:
    connect(dsn, path)  # (the schema)
    pool: ConnectionPool[Any] = ConnectionPool(
        dsn,
        min_size=1,
        max_size=2,
        kwargs={"options": f"-c search_path={schema_of(path)}"},
        open=False,
    )
    pool.open(wait=True)
    _OPEN.append(pool)
    return PostgresStore(pool, programs=PROGRAMS, snapshot_every=50)


@pytest.fixture(autouse=True)
def _close_connections() -> Iterator[None]:
    yield
    while _OPEN:
        _OPEN.pop().close()


def rows_of(dsn: str, path: str, table: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(dsn, options=f"-c search_path={schema_of(path)}") as conn:
        return conn.execute(f"SELECT * FROM {table}").fetchall()


class TestPostgresStore(StoreContract):
    @pytest.fixture
    def factory(self, postgres_dsn: str) -> functools.partial[PostgresStore]:
        return functools.partial(open_store, postgres_dsn)

    @pytest.fixture(autouse=True)
    def _dsn(self, postgres_dsn: str) -> None:
        self.dsn = postgres_dsn

    def dump(self, path: str) -> str:
        with psycopg.connect(self.dsn, options=f"-c search_path={schema_of(path)}") as conn:
            tables = [
                r[0]
                for r in conn.execute(
                    "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
                    (schema_of(path),),
                )
            ]
            assert "loyalty_events" in tables
            return "\n".join(
                repr(row) for table in tables for row in conn.execute(f"SELECT * FROM {table}")
            )

    def check_integrity(self, path: str) -> None:
        with psycopg.connect(self.dsn, options=f"-c search_path={schema_of(path)}") as conn:
            heads = dict(conn.execute("SELECT member, version FROM loyalty_accounts").fetchall())
            assert heads
            for member, version in heads.items():
                top = conn.execute(
                    "SELECT max(version), count(*) FROM loyalty_events WHERE member = %s",
                    (member,),
                ).fetchone()
                assert top == (version, version), member  # nothing half-written


# -- the pool, the host's transactions ----------------------------------------------------


def test_a_store_over_a_pool_takes_a_connection_per_transaction(
    postgres_dsn: str, tmp_path: Any
) -> None:
    path = str(tmp_path / "pool")
    store = open_pooled(postgres_dsn, path)
    other = open_pooled(postgres_dsn, path)
    for member in ("ann", "ben"):
        store.create(opened(member))
    store.execute("ann", lambda a: a.order("o-1", at=T0, lines=[BEANS]))
    other.execute("ann", lambda a: a.redeem("r-1", at=T0, points=100))
    assert store.load("ann").balance().available == 25
    assert other.projection("ann").available == 25


@pytest.fixture
def host(postgres_dsn: str, tmp_path: Any) -> tuple[psycopg.Connection[Any], str]:
    """A host's connection with its own ``orders`` table, and the path naming its schema."""
    path = str(tmp_path / "host")
    conn = connect(postgres_dsn, path)
    conn.execute("CREATE TABLE orders (id TEXT PRIMARY KEY, member TEXT NOT NULL)")
    conn.commit()
    return conn, path


def test_the_host_order_and_the_loyalty_events_commit_together(
    host: tuple[psycopg.Connection[Any], str], postgres_dsn: str
) -> None:
    conn, path = host
    store = PostgresStore(conn, programs=PROGRAMS)
    store.create(opened("ann"))  # (an idle connection: the store's own transaction)
    with conn.transaction():
        conn.execute("INSERT INTO orders VALUES ('o-1', 'ann')")
        applied = store.execute("ann", lambda a: a.order("o-1", at=T0, lines=[LATTE]))
        assert rows_of(postgres_dsn, path, "orders") == []  # (not committed yet)
        assert len(rows_of(postgres_dsn, path, "loyalty_events")) == 1
    assert rows_of(postgres_dsn, path, "orders") == [("o-1", "ann")]
    assert [r[1] for r in rows_of(postgres_dsn, path, "loyalty_events")] == [1, 2]
    assert open_store(postgres_dsn, path).load("ann") == applied.account


def test_a_failure_before_the_host_commits_leaves_neither(
    host: tuple[psycopg.Connection[Any], str], postgres_dsn: str
) -> None:
    conn, path = host
    store = PostgresStore(conn, programs=PROGRAMS)
    store.create(opened("ann"))

    def checkout() -> None:
        with conn.transaction():
            conn.execute("INSERT INTO orders VALUES ('o-1', 'ann')")
            store.execute("ann", lambda a: a.order("o-1", at=T0, lines=[LATTE]))
            raise RuntimeError("payment declined")  # after the loyalty write, before the commit

    with pytest.raises(RuntimeError, match="payment declined"):
        checkout()
    assert rows_of(postgres_dsn, path, "orders") == []
    assert [r[1] for r in rows_of(postgres_dsn, path, "loyalty_events")] == [1]
    assert [r[1] for r in rows_of(postgres_dsn, path, "loyalty_outbox")] == [1]
    assert store.load("ann").version == 1  # (the store forgot what the host rolled back)
    assert store.projection("ann").available == 0
    # the host retries its whole transaction: applied once
    with conn.transaction():
        conn.execute("INSERT INTO orders VALUES ('o-1', 'ann')")
        again = store.execute("ann", lambda a: a.order("o-1", at=T0, lines=[LATTE]))
    assert again.account.version == 2
    assert store.execute("ann", lambda a: a.order("o-1", at=T0, lines=[LATTE])).outcome == (
        again.outcome
    )
    assert open_store(postgres_dsn, path).load("ann") == again.account


def _host_killed_before_commit(dsn: str, path: str) -> None:
    conn = psycopg.connect(dsn, options=f"-c search_path={schema_of(path)}")
    store = PostgresStore(conn, programs=PROGRAMS)
    conn.execute("INSERT INTO orders VALUES ('o-9', 'ann')")  # (the host's transaction begins)
    store.execute("ann", lambda a: a.order("o-9", at=T0, lines=[BEANS]))
    os.kill(os.getpid(), signal.SIGKILL)


def test_a_host_killed_before_its_commit_leaves_neither(
    host: tuple[psycopg.Connection[Any], str], postgres_dsn: str
) -> None:
    conn, path = host
    PostgresStore(conn, programs=PROGRAMS).create(opened("ann"))
    process = multiprocessing.get_context("fork").Process(
        target=_host_killed_before_commit, args=(postgres_dsn, path)
    )
    process.start()
    process.join(timeout=60)
    assert process.exitcode == -signal.SIGKILL
    assert rows_of(postgres_dsn, path, "orders") == []
    assert [r[1] for r in rows_of(postgres_dsn, path, "loyalty_events")] == [1]
    assert open_store(postgres_dsn, path).load("ann").version == 1


def test_a_repeatable_read_host_transaction_that_meets_a_writer_must_retry_whole(
    host: tuple[psycopg.Connection[Any], str], postgres_dsn: str
) -> None:
    conn, path = host
    store = PostgresStore(conn, programs=PROGRAMS)
    store.create(opened("ann"))
    other = open_store(postgres_dsn, path)

    def checkout() -> None:
        with conn.transaction():
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            conn.execute("SELECT count(*) FROM orders")  # (the snapshot is taken)
            other.execute("ann", lambda a: a.order("o-1", at=T0, lines=[LATTE]))
            store.execute("ann", lambda a: a.order("o-2", at=T0, lines=[LATTE]))

    with pytest.raises(ConcurrencyConflict):
        checkout()
    assert [e.id for e in other.events("ann")] == ["", "o-1"]


# -- schema, settings, imports --------------------------------------------------------------


def test_the_published_ddl_builds_the_schema(postgres_dsn: str, tmp_path: Any) -> None:
    path = str(tmp_path / "ddl")
    conn = connect(postgres_dsn, path)
    conn.execute(ddl("postgresql"))
    conn.commit()
    store = PostgresStore(conn, programs=PROGRAMS)  # (takes the host's tables as they are)
    assert store.schema_version() == SCHEMA_VERSION
    keys = conn.execute(
        "SELECT tc.table_name, kcu.column_name FROM information_schema.table_constraints tc"
        " JOIN information_schema.key_column_usage kcu USING (constraint_schema, constraint_name)"
        " WHERE tc.table_schema = %s AND tc.constraint_type = 'PRIMARY KEY'"
        " AND kcu.ordinal_position = 1",
        (schema_of(path),),
    ).fetchall()
    assert len(keys) == 9
    for table, column in keys:
        if table != "loyalty_budgets":
            assert column == "member", table


def test_a_newer_schema_is_refused(postgres_dsn: str, tmp_path: Any) -> None:
    path = str(tmp_path / "newer")
    open_store(postgres_dsn, path)
    conn = connect(postgres_dsn, path)
    conn.execute("UPDATE loyalty_schema SET version = 99")
    conn.commit()
    with pytest.raises(SchemaVersionError):
        open_store(postgres_dsn, path)


def test_a_store_needs_a_connection_or_a_pool(postgres_dsn: str) -> None:
    for bad in (postgres_dsn, None, 3):
        with pytest.raises(InvalidType):
            PostgresStore(bad, programs=PROGRAMS)  # type: ignore[arg-type]


def test_importing_the_stores_loads_no_driver() -> None:
    code = (
        "import json, sys\n"
        "import loyaltycore, loyaltycore.stores\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith('psycopg'))))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, check=True, text=True)
    assert json.loads(out.stdout) == []


def test_the_session_server_is_throw_away_and_its_pool_reaches_it(
    postgres_server: Any, pg_pool: ConnectionPool[Any]
) -> None:
    with pg_pool.connection() as conn:
        assert conn.execute("SHOW fsync").fetchone() == ("off",)
        assert conn.execute("SELECT current_database()").fetchone() == ("loyaltycore",)
    assert str(postgres_server.folder).startswith(tempfile.gettempdir())
    assert postgres_server.dsn().startswith("host=127.0.0.1 port=")

"""SQLiteStore passes the store contract, and SQLite's own checks hold."""

from __future__ import annotations

import functools
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from loyaltycore.errors import SchemaVersionError
from loyaltycore.stores import SCHEMA_VERSION, SQLiteStore, ddl
from tests.stores.contract import LATTE, PROGRAMS, T0, StoreContract, opened


def open_store(path: str, **kwargs: object) -> SQLiteStore:
    """The store the contract runs (NORMAL sync: a commit survives the process, as tested)."""
    return SQLiteStore(path, programs=PROGRAMS, snapshot_every=50, synchronous="NORMAL", **kwargs)  # type: ignore[arg-type]


class TestSQLiteStore(StoreContract):
    @pytest.fixture
    def factory(self) -> functools.partial[SQLiteStore]:
        return functools.partial(open_store)

    def dump(self, path: str) -> str:
        db = sqlite3.connect(path)
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return "\n".join(
            repr(row) for table in tables for row in db.execute(f"SELECT * FROM {table}")
        )

    def check_integrity(self, path: str) -> None:
        db = sqlite3.connect(path)
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        heads = dict(db.execute("SELECT member, version FROM loyalty_accounts"))
        for member, version in heads.items():
            top = db.execute(
                "SELECT max(version), count(*) FROM loyalty_events WHERE member = ?", (member,)
            ).fetchone()
            assert top == (version, version), member  # nothing half-written


def test_the_published_ddl_builds_the_schema(tmp_path: Path) -> None:
    db = sqlite3.connect(tmp_path / "host.db")
    db.executescript(ddl("sqlite"))
    assert db.execute("SELECT version FROM loyalty_schema").fetchone() == (SCHEMA_VERSION,)
    store = open_store(str(tmp_path / "host.db"))  # (takes the host's tables as they are)
    assert store.schema_version() == SCHEMA_VERSION
    assert "BIGINT" in ddl("postgresql")
    columns = [r[1] for r in db.execute("PRAGMA table_info(loyalty_events)")]
    assert columns[0] == "member"


def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = str(tmp_path / "a.db")
    open_store(path).close()
    db = sqlite3.connect(path)
    db.execute("UPDATE loyalty_schema SET version = 99")
    db.commit()
    with pytest.raises(SchemaVersionError):
        open_store(path)


def test_every_key_leads_with_the_member(tmp_path: Path) -> None:
    path = str(tmp_path / "a.db")
    open_store(path).close()
    db = sqlite3.connect(path)
    for (table,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'"):
        keys = [
            r[1]
            for r in sorted(db.execute(f"PRAGMA table_info({table})"), key=lambda r: r[5])
            if r[5]
        ]
        if keys and table not in ("loyalty_budgets",):
            assert keys[0] == "member", table


def test_bad_settings_are_refused() -> None:
    from loyaltycore.errors import InvalidArgument

    for kwargs in ({"synchronous": "SOMETIMES"}, {"busy_timeout": -1}):
        with pytest.raises(InvalidArgument):
            SQLiteStore(":memory:", programs=PROGRAMS, **kwargs)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument):
        SQLiteStore(":memory:", programs=PROGRAMS, snapshot_every=0)


def test_an_order_reads_the_head_once_and_no_outcome(tmp_path: Path) -> None:
    """A new command id is taken as new (its outcome row's insert checks it): no lookup."""
    store = open_store(str(tmp_path / "a.db"))
    store.create(opened("ann"))
    store.execute("ann", lambda a: a.order("o-1", at=T0, lines=[LATTE]))
    seen: list[str] = []
    store._db.set_trace_callback(seen.append)
    store.execute("ann", lambda a: a.order("o-2", at=T0, lines=[LATTE]))
    store._db.set_trace_callback(None)
    reads = [sql for sql in seen if sql.startswith("SELECT")]
    assert len(reads) == 1
    assert "loyalty_accounts" in reads[0]
    assert "loyalty_outcomes" not in " ".join(reads)
    assert len(seen) <= 10


def test_the_stores_read_the_snapshot_version_accounts_write() -> None:
    """Else every load would replay the whole history and rewrite the snapshot."""
    from datetime import UTC, datetime

    from loyaltycore.accounts import Account
    from loyaltycore.stores._logic import _SNAPSHOT

    doc = Account.open("x", program=PROGRAMS[0], at=datetime(2024, 1, 1, tzinfo=UTC)).snapshot()
    assert (doc["schema"], doc["version"]) == _SNAPSHOT


def test_writers_queue_on_the_companion_file(tmp_path: Path) -> None:
    """A write waits while another writer holds the file's queue, and runs once it is let go."""
    import fcntl
    import os
    import threading

    path = str(tmp_path / "q.db")
    store = open_store(path)
    store.create(opened("ann"))
    fd = os.open(path + "-writers", os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_EX)  # (another writer's turn)
    done = threading.Event()

    def write() -> None:
        store.execute("ann", lambda a: a.adjust("a-1", at=T0, points=5, reason="x"))
        done.set()

    worker = threading.Thread(target=write)
    worker.start()
    assert not done.wait(0.3)  # (it waits its turn, without giving up)
    fcntl.flock(fd, fcntl.LOCK_UN)
    os.close(fd)
    worker.join(10)
    assert done.is_set()
    assert open_store(path).load("ann").balance().available == 5
    store.close()
    store.close()  # (closing twice is harmless)


def _open_and_write(path: str, n: int, start: Any, out: Any) -> None:
    start.wait()  # (every process opens the new file at once)
    try:
        store = open_store(path)
        store.create(opened(f"m-{n}"))
        out.put("ok")
    except Exception as exc:  # (reported to the test, which fails on it)
        out.put(f"{type(exc).__name__}: {exc}")


def test_processes_opening_a_new_file_at_once_all_open_it(tmp_path: Path) -> None:
    """Switching a new file to WAL needs it to itself: openers queue for it, none fails."""
    import multiprocessing

    context = multiprocessing.get_context("fork")
    path = str(tmp_path / "new.db")
    start, out = context.Barrier(8), context.Queue()
    procs = [context.Process(target=_open_and_write, args=(path, n, start, out)) for n in range(8)]
    for p in procs:
        p.start()
    results = [out.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(10)
    assert results == ["ok"] * 8
    store = open_store(path)
    assert store._db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    assert sorted(m for m in (f"m-{n}" for n in range(8)) if store.load(m)) == [
        f"m-{n}" for n in range(8)
    ]


def test_a_new_file_another_connection_is_writing_opens_once_it_is_done(tmp_path: Path) -> None:
    """The switch to WAL waits (bounded) while another connection holds the file."""
    import threading

    path = str(tmp_path / "busy.db")
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    other.execute("CREATE TABLE host_orders (id TEXT)")
    done = threading.Timer(0.3, lambda: other.execute("COMMIT"))
    done.start()
    store = open_store(path)  # (SQLite's own wait is 10 ms: the store waits its turn)
    done.join()
    assert store._db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    store.create(opened("ann"))
    assert store.load("ann").version == 1

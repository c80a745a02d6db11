"""Benchmark the SQLite and PostgreSQL stores against bare INSERTs of the same rows.

Each figure is printed with its target and a ratio measured in the same run:

* ``baseline``: one process per writer inserting, one transaction per
  command (``BEGIN IMMEDIATE`` ... ``COMMIT``, WAL, ``synchronous=FULL``),
  the rows a store command writes (its event, outcome, projection, lot and
  outbox rows, the bodies taken from a real command) through the same
  ``sqlite3`` driver;
* ``distinct`` (target >= 0.5 of the baseline): ``SQLiteStore.execute`` of an
  order on members no other writer touches, with 1, 4 and 8 processes;
* ``ceiling``: the baseline plus the same ``Account.order`` done in memory
  before each transaction (the best any store could do with this command),
  and the store's ratio to it: what is left to win in the store itself;
* ``award``: the store with a plain ``award`` command instead (little domain
  work), and its ratio to the baseline (for comparison, no target);
* ``hot``: 8 writers on one member (the checkout case): p50 and p99 latency
  of a command (lock waits included) and commands/s;
* ``lots``: CPU time of a stored ``award`` on a member with 5,000 open lots
  (full size) against one with 10, 200 chained commands each: a write
  reads only the lots its command touched, so the ratio stays near 1 (no
  target in the issue; the ledger's 1.5x is the guide);
* ``load`` (target <= 5 ms): ``SQLiteStore.load`` of a member with 100,000
  events (full size) through its snapshot, by a store that has not seen the
  member, query included; a member with only the history the bounded
  state still reflects (18 months) is the reference.

The same ``distinct`` and ``hot`` figures follow for ``PostgresStore`` on a
throw-away local server (``tests/postgres_server.py``, started with
``fsync=on`` by default, so a commit is as durable as SQLite's
``synchronous=FULL``; ``--pg-fsync off`` for the tests' setting), each
writer with its own connection, against bare INSERTs of the same rows
through the same driver (psycopg 3), one transaction per command. Without
the server binaries the PostgreSQL lines say why they are missing.

Times are wall-clock (the store's work is I/O and lock waits as much as
CPU). Usage: ``python benchmarks/stores.py --size tiny|full [--pg-fsync on|off]``.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import multiprocessing
import queue
import signal
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(1, str(Path(__file__).parent.parent))  # (the tests' throw-away server)

from accounts import _RECENT_DAYS, long_member

from loyaltycore.accounts import Account, Program, event_to_data, example_program
from loyaltycore.errors import LoyaltyError
from loyaltycore.predicates import Item
from loyaltycore.stores import PostgresStore, SQLiteStore, Store
from loyaltycore.stores._logic import projection_of

SIZES = {
    "tiny": {"commands": 20, "members": 64, "hot": 10, "history": 1_200, "lots": 300},
    "full": {"commands": 1_000, "members": 2_000, "hot": 200, "history": 100_000, "lots": 5_000},
}
LOTS_GUIDE = 1.5
DISTINCT_TARGET = 0.5
LOAD_TARGET_MS = 5.0
T0 = datetime(2024, 6, 3, 8, tzinfo=UTC)
PROGRAM = example_program()
LATTE = [Item("latte", "drinks", 1, "4.50")]


def verdict(ok: bool) -> str:
    return "ok" if ok else "MISSED"


def sample_rows() -> tuple[Any, ...]:
    """The rows one order writes, as the store would write them (bodies from a real order)."""
    account = Account.open("sample", program=PROGRAM, at=T0)
    after = account.order("o-1", at=T0, lines=LATTE).account
    event = after.events[-1]
    body = json.dumps(event_to_data(event), sort_keys=True, separators=(",", ":"))
    outcome = json.dumps({"outcome": "x" * 600})
    projection, lots = projection_of(after)
    return body, event.payload.text, outcome, tuple(projection)[2:], tuple(lots[0])


# -- the baseline ---------------------------------------------------------------------------


def in_memory(worker: int, commands: int) -> Any:
    """The distinct workers' orders done on accounts in memory: ``step(k)`` runs the k-th."""
    accounts = {
        f"w{worker}-{m}": Account.open(f"w{worker}-{m}", program=PROGRAM, at=T0)
        for m in range(min(commands, 200))
    }

    def step(k: int) -> None:
        member = f"w{worker}-{k % 200}"
        at = T0 + timedelta(minutes=k)
        accounts[member] = accounts[member].order(f"o-{k}", at=at, lines=LATTE).account

    return step


def begin_like_the_store(db: sqlite3.Connection) -> None:
    """``BEGIN IMMEDIATE``, retried after waits of 0.5 ms growing to 10 ms (the store's)."""
    delay = 0.0005
    while True:
        try:
            db.execute("BEGIN IMMEDIATE")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc):
                raise
        time.sleep(delay)
        delay = min(delay * 1.5, 0.01)


def baseline_worker(path: str, worker: int, commands: int, out: Any, domain: bool = False) -> None:
    """Bare INSERTs, a transaction per command; with ``domain``, each after the order in memory."""
    # (the ceiling waits for the write lock as the store does, a short busy timeout and its
    # own short retries: SQLite's own waits grow to 100 ms, which would idle it, not the bound)
    db = sqlite3.connect(path, isolation_level=None, timeout=30)
    db.execute("PRAGMA synchronous = FULL")  # (the file is in WAL mode already: see baseline)
    if domain:
        db.execute("PRAGMA busy_timeout = 10")
    body, payload, outcome, projection, lot = sample_rows()  # (warm, as the store's workers are)
    step = in_memory(worker, commands) if domain else None
    start = time.perf_counter()
    for k in range(commands):
        member = f"w{worker}-{k}"
        if step is not None:
            step(k)
            begin_like_the_store(db)
        else:
            db.execute("BEGIN IMMEDIATE")
        db.execute(
            "INSERT INTO events VALUES (?, ?, ?, ?, ?, ?)", (member, 2, "order", "o-1", "t", body)
        )
        db.execute(
            "INSERT INTO outcomes VALUES (?, ?, ?, ?, ?)", (member, "o-1", 2, payload, outcome)
        )
        db.execute(
            "INSERT OR REPLACE INTO projections VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (member, 2, *projection),
        )
        db.execute("INSERT OR REPLACE INTO lots VALUES (?, ?, ?, ?, ?, ?)", (member, *lot))
        db.execute(
            "INSERT INTO outbox VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0)",
            (member, 2, 0, f"{member}:2:0", "event", None, "t", body),
        )
        db.execute("COMMIT")
    out.put(time.perf_counter() - start)


def baseline(folder: Path, processes: int, commands: int, domain: bool = False) -> float:
    path = str(folder / f"baseline-{processes}{'-domain' if domain else ''}.db")
    db = sqlite3.connect(path)
    db.executescript(
        "CREATE TABLE events (member TEXT, version INTEGER, command TEXT, command_id TEXT,"
        " at TEXT, body TEXT, PRIMARY KEY (member, version));"
        "CREATE TABLE outcomes (member TEXT, command_id TEXT, version INTEGER, payload TEXT,"
        " body TEXT, PRIMARY KEY (member, command_id));"
        "CREATE TABLE projections (member TEXT PRIMARY KEY, version INTEGER, a INTEGER,"
        " b INTEGER, c INTEGER, d INTEGER, e TEXT, f TEXT, g TEXT, h INTEGER, i TEXT);"
        "CREATE TABLE lots (member TEXT, lot TEXT, remaining INTEGER, pending INTEGER,"
        " expires_at TEXT, source TEXT, PRIMARY KEY (member, lot));"
        "CREATE TABLE outbox (member TEXT, version INTEGER, part INTEGER, id TEXT UNIQUE,"
        " kind TEXT, target TEXT, at TEXT, body TEXT, published INTEGER,"
        " PRIMARY KEY (member, version, part));"
    )
    # (once, before the workers start: switching needs the file to itself, and workers
    # switching it at once may find it locked; the mode stays with the file)
    db.execute("PRAGMA journal_mode = WAL")
    db.close()
    return _processes(functools.partial(baseline_worker, domain=domain), path, processes, commands)


def _processes(target: Any, path: str, processes: int, commands: int) -> float:
    """Commands per second of ``processes`` workers running ``commands`` each (wall clock)."""
    context = multiprocessing.get_context("fork")
    out = context.Queue()
    procs = [
        context.Process(target=target, args=(path, w, commands, out)) for w in range(processes)
    ]
    for p in procs:
        p.start()
    elapsed = _results(out, procs)
    return processes * commands / max(elapsed)  # (the command loops, not process start-up)


def _results(out: Any, procs: Sequence[Any]) -> list[Any]:
    """One result from each worker; a worker that dies without one fails the run at once."""
    results: list[Any] = []
    while len(results) < len(procs):
        try:
            results.append(out.get(timeout=0.5))
        except queue.Empty:
            failed = [p.exitcode for p in procs if p.exitcode]
            if failed:
                raise SystemExit(f"a worker failed (exit code {failed[0]})") from None
    for p in procs:
        p.join()
        if p.exitcode:
            raise SystemExit(f"a worker failed (exit code {p.exitcode})")
    return results


# -- the store --------------------------------------------------------------------------------


def store_at(path: str) -> Store:
    """The store named by ``path``: a SQLite file, or a PostgreSQL connection string."""
    if path.startswith("host="):
        import psycopg

        return PostgresStore(psycopg.connect(path), programs=PROGRAM)
    return SQLiteStore(path, programs=PROGRAM)


def distinct_worker(
    path: str, worker: int, commands: int, out: Any, command: str = "order"
) -> None:
    store = store_at(path)
    store.load(f"w{worker}-0")  # (imports and caches warm before the clock starts)
    start = time.perf_counter()
    for k in range(commands):
        member = f"w{worker}-{k % 200}"
        at = T0 + timedelta(minutes=k)
        if command == "award":
            store.execute(
                member, lambda a, k=k, at=at: a.award(f"w-{k}", at=at, points=10, reason="x")
            )
        else:
            store.execute(member, lambda a, k=k, at=at: a.order(f"o-{k}", at=at, lines=LATTE))
    out.put(time.perf_counter() - start)


def distinct(
    folder: Path, processes: int, commands: int, path: str | None = None, command: str = "order"
) -> float:
    path = path or str(folder / f"store-{processes}-{command}.db")
    store = store_at(path)
    for w in range(processes):
        for m in range(min(commands, 200)):
            store.create(Account.open(f"w{w}-{m}", program=PROGRAM, at=T0))
    if isinstance(store, SQLiteStore):
        store.close()
    worker = functools.partial(distinct_worker, command=command)
    return _processes(worker, path, processes, commands)


def hot_worker(path: str, worker: int, commands: int, out: Any) -> None:
    store = store_at(path)
    latencies = []
    for k in range(commands):
        at = T0 + timedelta(seconds=k)
        cid = f"w{worker}-{k}"
        start = time.perf_counter()
        if k % 3 == 2:
            with contextlib.suppress(LoyaltyError):  # (a refusal costs a transaction too)
                store.execute("hot", lambda a, cid=cid, at=at: a.redeem(cid, at=at, points=40))
        else:
            store.execute("hot", lambda a, cid=cid, at=at: a.order(cid, at=at, lines=LATTE))
        latencies.append(time.perf_counter() - start)
    out.put(latencies)


def hot(folder: Path, commands: int, path: str | None = None) -> tuple[float, float, float]:
    path = path or str(folder / "hot.db")
    store = store_at(path)
    store.create(Account.open("hot", program=PROGRAM, at=T0))
    if isinstance(store, SQLiteStore):
        store.close()
    context = multiprocessing.get_context("fork")
    out = context.Queue()
    start = time.perf_counter()
    procs = [context.Process(target=hot_worker, args=(path, w, commands, out)) for w in range(8)]
    for p in procs:
        p.start()
    latencies = [x for result in _results(out, procs) for x in result]
    rate = len(latencies) / (time.perf_counter() - start)
    cuts = statistics.quantiles(latencies, n=100)
    return cuts[49] * 1e3, cuts[98] * 1e3, rate


# -- PostgreSQL ---------------------------------------------------------------------------------


def pg_baseline_worker(
    dsn: str, worker: int, commands: int, out: Any, domain: bool = False
) -> None:
    import psycopg

    conn = psycopg.connect(dsn)
    body, payload, outcome, projection, lot = sample_rows()
    lot = (*lot[:2], int(lot[2]), *lot[3:])  # (pending: an integer column, as the store's)
    step = in_memory(worker, commands) if domain else None
    start = time.perf_counter()
    for k in range(commands):
        member = f"w{worker}-{k}"
        if step is not None:
            step(k)
        with conn.transaction():
            conn.execute(
                "INSERT INTO events VALUES (%s, %s, %s, %s, %s, %s)",
                (member, 2, "order", "o-1", "t", body),
            )
            conn.execute(
                "INSERT INTO outcomes VALUES (%s, %s, %s, %s, %s)",
                (member, "o-1", 2, payload, outcome),
            )
            conn.execute(
                "INSERT INTO projections VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
                " ON CONFLICT (member) DO UPDATE SET version = excluded.version",
                (member, 2, *projection),
            )
            conn.execute(
                "INSERT INTO lots VALUES (%s, %s, %s, %s, %s, %s)"
                " ON CONFLICT (member, lot) DO UPDATE SET remaining = excluded.remaining",
                (member, *lot),
            )
            conn.execute(
                "INSERT INTO outbox VALUES (%s, %s, %s, %s, %s, %s, %s, %s, 0)",
                (member, 2, 0, f"{member}:2:0", "event", None, "t", body),
            )
    out.put(time.perf_counter() - start)


def pg_baseline(server: Any, processes: int, commands: int, domain: bool = False) -> float:
    import psycopg

    dsn = server.create_database(f"baseline_{processes}{'_domain' if domain else ''}")
    with psycopg.connect(dsn, autocommit=True) as conn:
        for statement in (
            "CREATE TABLE events (member TEXT, version BIGINT, command TEXT, command_id TEXT,"
            " at TEXT, body TEXT, PRIMARY KEY (member, version))",
            "CREATE TABLE outcomes (member TEXT, command_id TEXT, version BIGINT, payload TEXT,"
            " body TEXT, PRIMARY KEY (member, command_id))",
            "CREATE TABLE projections (member TEXT PRIMARY KEY, version BIGINT, a BIGINT,"
            " b BIGINT, c BIGINT, d BIGINT, e TEXT, f TEXT, g TEXT, h BIGINT, i TEXT)",
            "CREATE TABLE lots (member TEXT, lot TEXT, remaining BIGINT, pending BIGINT,"
            " expires_at TEXT, source TEXT, PRIMARY KEY (member, lot))",
            "CREATE TABLE outbox (member TEXT, version BIGINT, part BIGINT, id TEXT UNIQUE,"
            " kind TEXT, target TEXT, at TEXT, body TEXT, published BIGINT,"
            " PRIMARY KEY (member, version, part))",
        ):
            conn.execute(statement)
    worker = functools.partial(pg_baseline_worker, domain=domain)
    return _processes(worker, dsn, processes, commands)


def postgres_figures(n: int, hot_n: int, fsync: bool) -> None:
    """The distinct and hot figures on a throw-away local server (or why there are none)."""
    from tests import postgres_server

    reason = postgres_server.missing_reason()
    if reason is not None:
        print(f"postgres  no figures: {reason}", flush=True)
        return
    server = postgres_server.start(fsync=fsync)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # (the server is stopped even then)
    try:
        import psycopg

        with psycopg.connect(server.dsn()) as conn:
            version = conn.execute("SHOW server_version").fetchone()
        print(
            f"postgres  server {version[0] if version else '?'}, fsync={'on' if fsync else 'off'},"
            f" psycopg {psycopg.__version__} ({psycopg.pq.__impl__})",
            flush=True,
        )
        for processes in (1, 4, 8):
            base = pg_baseline(server, processes, n)
            ours = distinct(Path(), processes, n, server.create_database(f"store_{processes}"))
            ratio = ours / base
            print(
                f"pg distinct  {processes} process{'es' if processes > 1 else '  '}"
                f"  {ours:8,.0f} commands/s"
                f"  | bare INSERTs of the same rows {base:,.0f} /s  ratio {ratio:.2f}"
                f"  target >= {DISTINCT_TARGET}  {verdict(ratio >= DISTINCT_TARGET)}",
                flush=True,
            )
            ceiling = pg_baseline(server, processes, n, domain=True)
            award = distinct(
                Path(), processes, n, server.create_database(f"award_{processes}"), "award"
            )
            print(extra_lines("pg ", processes, ours, base, ceiling, award), flush=True)
        p50, p99, rate = hot(Path(), hot_n, server.create_database("hot"))
        print(
            f"pg hot       8 writers, one member  p50 {p50:.1f} ms  p99 {p99:.1f} ms"
            f"  {rate:,.0f} commands/s",
            flush=True,
        )
    finally:
        server.stop()


def extra_lines(
    prefix: str, processes: int, ours: float, base: float, ceiling: float, award: float
) -> str:
    """The ceiling and award lines that follow a distinct line (same run, same processes)."""
    label = f"{processes} process{'es' if processes > 1 else '  '}"
    return (
        f"{prefix}ceiling   {label}  {ceiling:8,.0f} commands/s"
        f"  | bare INSERTs + the same order in memory; store / ceiling {ours / ceiling:.2f}"
        f"  (ceiling / bare INSERTs {ceiling / base:.2f})\n"
        f"{prefix}award     {label}  {award:8,.0f} commands/s"
        f"  | a plain award (little domain work); ratio to bare INSERTs {award / base:.2f}"
    )


def load_ms(folder: Path, account: Account, program: Program, name: str) -> tuple[float, int]:
    """Median ms of a cold store's load of ``account`` (stored through ``create``)."""
    path = str(folder / f"{name}.db")
    store = SQLiteStore(path, programs=program, snapshot_every=10**9)
    store.create(account)
    store._run(True, lambda rows: rows.put_snapshot(account.member, store._snapshot_row(account)))
    later = store.execute(
        account.member, lambda a: a.award("t", at=a.last_at, points=1, reason="x")
    )
    times = []
    for _ in range(15):
        cold = SQLiteStore(path, programs=program)
        start = time.perf_counter()
        loaded = cold.load(account.member)
        times.append(time.perf_counter() - start)
        cold.close()
    assert loaded == later.account
    return statistics.median(times) * 1e3, account.version


def lots_ms(folder: Path, lots: int, chained: int = 200) -> float:
    """Median CPU ms of a stored award, chained, on a member with ``lots`` open lots."""
    account = Account.open("many", program=PROGRAM, at=T0)
    at = T0
    for k in range(lots):  # (one an hour: none expires, about 8 months of them)
        at += timedelta(hours=1)
        account = account.award(f"w-{k}", at=at, points=5, reason="visit").account
    store = SQLiteStore(str(folder / f"lots-{lots}.db"), programs=PROGRAM)
    store.create(account)
    times = []
    for k in range(chained):
        at += timedelta(minutes=5)
        start = time.process_time()
        store.execute("many", lambda a, k=k, at=at: a.award(f"x-{k}", at=at, points=5, reason="x"))
        times.append(time.process_time() - start)
    assert len(store.lots("many")) == lots + chained
    store.close()
    return statistics.median(times) * 1e3


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=sorted(SIZES), default="tiny")
    parser.add_argument("--pg-fsync", choices=("on", "off"), default="on")
    args = parser.parse_args(argv)
    size = SIZES[args.size]
    n = int(size["commands"])
    print(
        f"stores benchmark, size={args.size} (python {sys.version.split()[0]},"
        f" sqlite {sqlite3.sqlite_version})",
        flush=True,
    )
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for processes in (1, 4, 8):
            base = baseline(folder, processes, n)
            ours = distinct(folder, processes, n)
            ratio = ours / base
            print(
                f"distinct  {processes} process{'es' if processes > 1 else '  '}"
                f"  {ours:8,.0f} commands/s"
                f"  | bare INSERTs of the same rows {base:,.0f} /s  ratio {ratio:.2f}"
                f"  target >= {DISTINCT_TARGET}  {verdict(ratio >= DISTINCT_TARGET)}",
                flush=True,
            )
            ceiling = baseline(folder, processes, n, domain=True)
            award = distinct(folder, processes, n, command="award")
            print(extra_lines("", processes, ours, base, ceiling, award), flush=True)
        p50, p99, rate = hot(folder, int(size["hot"]))
        print(
            f"hot       8 writers, one member  p50 {p50:.1f} ms  p99 {p99:.1f} ms"
            f"  {rate:,.0f} commands/s",
            flush=True,
        )
        many, few = lots_ms(folder, int(size["lots"])), lots_ms(folder, 10)
        print(
            f"lots      a stored award, {int(size['lots']):,} open lots  {many:.3f} ms cpu"
            f"  | 10 open lots {few:.3f} ms  ratio {many / few:.2f}"
            f"  guide <= {LOTS_GUIDE}  {verdict(many / few <= LOTS_GUIDE)}",
            flush=True,
        )
        step = timedelta(days=3650) / 100_000
        program = PROGRAM
        from accounts import make_program

        program = make_program()
        events = int(size["history"])
        ms, versions = load_ms(folder, long_member(program, events, step), program, "long")
        recent = min(events, int(timedelta(days=_RECENT_DAYS) / step))
        ref, _ = load_ms(folder, long_member(program, recent, step), program, "short")
        ok = ms <= LOAD_TARGET_MS
        print(
            f"load      {versions:,} events, through the snapshot  {ms:.2f} ms"
            f"  target <= {LOAD_TARGET_MS} ms  {verdict(ok)}"
            f"  | {recent:,} events {ref:.2f} ms  ratio {ms / ref:.2f}",
            flush=True,
        )
    postgres_figures(n, int(size["hot"]), args.pg_fsync == "on")
    return 0


if __name__ == "__main__":
    sys.exit(main())

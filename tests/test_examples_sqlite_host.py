"""examples/sqlite_host.py under concurrent writers.

Eight processes open the example's store on one file and send orders and
redemptions for one member, retrying some. Every command is applied exactly
once or refused with a LoyaltyError (never a raw sqlite3 error), and the
stored events replay to the projection.
"""

from __future__ import annotations

import multiprocessing
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

from loyaltycore.accounts import Account
from loyaltycore.errors import LoyaltyError
from loyaltycore.predicates import Item
from tests.scripts import load_script

EXAMPLE = Path(__file__).parent.parent / "examples" / "sqlite_host.py"
MEMBER = "claire"
AT = datetime(2024, 5, 2, 9, 0, tzinfo=UTC)
WORKERS, COMMANDS = 8, 16


def _example() -> ModuleType:
    return load_script(EXAMPLE, "sqlite_host_example")


def _worker(path: str, worker: int, results: Any) -> None:
    store = _example().store_at(path)
    outcomes = []
    for n in range(COMMANDS):
        cid = f"w{worker}-{n}"
        at = AT + timedelta(minutes=n)
        if (n + worker) % 3:

            def command(a: Account, cid: str = cid, at: datetime = at) -> Any:
                return a.redeem(cid, at=at, points=70)
        else:

            def command(a: Account, cid: str = cid, at: datetime = at) -> Any:
                return a.order(cid, at=at, lines=[Item("latte", unit_price="4.50")])

        for _ in range(2 if n % 4 == 0 else 1):
            try:
                outcomes.append((cid, "applied", store.execute(MEMBER, command).outcome.version))
            except LoyaltyError as exc:
                outcomes.append((cid, f"refused {type(exc).__name__}", None))
            except Exception as exc:  # what the test looks for
                outcomes.append((cid, f"raw {type(exc).__name__}: {exc}", None))
    results.put(outcomes)


def test_concurrent_writers_apply_each_command_once(tmp_path: Path) -> None:
    example = _example()
    path = str(tmp_path / "accounts.db")
    store = example.store_at(path)
    store.create(Account.open(MEMBER, program=example.PROGRAM, at=AT))
    store.execute(MEMBER, lambda a: a.adjust("seed", at=AT, points=1_000, reason="seed"))
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    workers = [context.Process(target=_worker, args=(path, k, results)) for k in range(WORKERS)]
    for process in workers:
        process.start()
    outcomes = [o for _ in workers for o in results.get(timeout=120)]
    for process in workers:
        process.join(timeout=10)
        assert process.exitcode == 0
    assert [o for o in outcomes if o[1].startswith("raw")] == []
    events = store.events(MEMBER)
    assert [e.version for e in events] == list(range(1, len(events) + 1))
    applied = {e.id: e.version for e in events if e.id}
    for cid, status, version in outcomes:
        if status == "applied":
            assert applied[cid] == version  # once: a retry returns the same version
        else:
            assert status == "refused InsufficientPoints"
    assert any(status != "applied" for _, status, _ in outcomes)  # the points did run out
    replayed = Account.replay(events, programs=example.PROGRAM)
    assert store.projection(MEMBER).available == replayed.balance().available >= 0

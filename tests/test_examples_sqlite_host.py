"""examples/sqlite_host.py under concurrent writers.

Eight processes redeem from and earn into one member's ledger at once,
retrying some commands. Every command must be applied exactly once or
refused with a LoyaltyError — never a raw sqlite3 error — and the stored
events must replay to the balance the applied commands add up to.
"""

from __future__ import annotations

import importlib.util
import multiprocessing
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

from loyaltycore.errors import LoyaltyError
from loyaltycore.points import Earned, Redeemed

EXAMPLE = Path(__file__).parent.parent / "examples" / "sqlite_host.py"
MEMBER = "claire"
AT = datetime(2024, 5, 2, 9, 0, tzinfo=UTC)
SEED = 120
EARN, REDEEM = 5, 7
WORKERS, COMMANDS = 8, 16


def _example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("sqlite_host_example", EXAMPLE)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _commands(worker: int) -> list[tuple[str, str, int]]:
    """(id, kind, points): mostly redemptions, so the balance runs out."""
    out = []
    for i in range(COMMANDS):
        kind = "earn" if (i + worker) % 3 == 0 else "redeem"
        out.append((f"{kind}-{worker}-{i}", kind, EARN if kind == "earn" else REDEEM))
    return out


def _worker(path: str, worker: int, start: Any, results: Any) -> None:
    """Run this worker's commands, each retried once when it is a fourth one."""
    example = _example()
    store = example.PointsStore(example.connect(path))
    outcomes = []
    start.wait()
    for n, (id_, kind, points) in enumerate(_commands(worker)):
        for _ in range(2 if n % 4 == 0 else 1):

            def apply(ledger: Any, id_: str = id_, kind: str = kind, points: int = points) -> Any:
                command = ledger.earn if kind == "earn" else ledger.redeem
                return command(id_, at=AT, points=points)

            try:
                store.command(MEMBER, apply)
                outcomes.append((id_, "applied"))
            except LoyaltyError as exc:
                outcomes.append((id_, f"refused {type(exc).__name__}"))
            except Exception as exc:  # what the test looks for
                outcomes.append((id_, f"raw {type(exc).__name__}: {exc}"))
    results.put((worker, outcomes))


def test_concurrent_writers_apply_each_command_once(tmp_path: Path) -> None:
    example = _example()
    path = str(tmp_path / "points.db")
    store = example.PointsStore(example.connect(path))
    store.open_account(MEMBER)
    store.command(MEMBER, lambda ledger: ledger.earn("seed", at=AT, points=SEED))

    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["loyaltycore.points", "sqlite3"])
    start = context.Barrier(WORKERS)
    results = context.Queue()
    workers = [
        context.Process(target=_worker, args=(path, k, start, results)) for k in range(WORKERS)
    ]
    for process in workers:
        process.start()
    outcomes = dict(results.get(timeout=60) for _ in workers)
    for process in workers:
        process.join(timeout=10)
        assert process.exitcode == 0

    raw = [o for k in outcomes for o in outcomes[k] if o[1].startswith("raw")]
    assert raw == []
    attempts: dict[str, list[str]] = {}
    for done in outcomes.values():
        for id_, outcome in done:
            attempts.setdefault(id_, []).append(outcome)
    for id_, tries in attempts.items():
        assert set(tries) <= {"applied", "refused InsufficientPoints"}, (id_, tries)
        if "applied" in tries:  # once applied, a retry is applied too (and changes nothing)
            assert set(tries[tries.index("applied") :]) == {"applied"}, (id_, tries)
    final = {id_: "applied" if "applied" in tries else tries[0] for id_, tries in attempts.items()}
    refused = {id_ for id_, outcome in final.items() if outcome != "applied"}

    ledger = store.load(MEMBER)
    ids = [ev.id for ev in ledger.events if isinstance(ev, Earned | Redeemed)]
    assert len(ids) == len(set(ids))  # nothing applied twice
    applied = {id_ for id_, outcome in final.items() if outcome == "applied"}
    assert set(ids) == applied | {"seed"}
    earned = sum(EARN for id_ in applied if id_.startswith("earn"))
    redeemed = sum(REDEEM for id_ in applied if id_.startswith("redeem"))
    balance = ledger.balance(as_of=AT)
    assert balance.available == SEED + earned - redeemed
    assert (balance.earned, balance.redeemed, balance.debt) == (SEED + earned, redeemed, 0)
    assert refused  # the balance did run out: the test exercised refusals
    assert redeemed > 0

    rows = sqlite3.connect(path).execute(
        "SELECT seq FROM points_events WHERE member = ? ORDER BY seq", (MEMBER,)
    )
    assert [seq for (seq,) in rows] == list(range(len(ledger.events)))

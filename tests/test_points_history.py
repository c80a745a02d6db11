"""Versions of one ledger share the storage that grows with its history.

Each version sees exactly its own prefix: versions appending to the same
parent (what-if branches, retries, threads) never see each other's records,
and a command's cost does not depend on the history's length.
"""

from __future__ import annotations

import pickle
import threading
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from loyaltycore import errors
from loyaltycore.points import ExpireAfter, PointsLedger

T0 = datetime(2024, 1, 10, 12, tzinfo=UTC)


def long_ledger(earns: int, *, reason: str = "") -> PointsLedger:
    ledger = PointsLedger.open("m-1", policy=ExpireAfter(months=12))
    for k in range(earns):
        ledger = ledger.earn(f"e{k}", at=T0 + timedelta(minutes=k), points=100, reason=reason)
    return ledger


def snapshot(ledger: PointsLedger) -> tuple[object, ...]:
    return (ledger.events, ledger.lots, ledger.balance(), ledger.holds)


def test_a_long_chain_equals_its_replay_and_keeps_every_version() -> None:
    # Past the sizes where ids and lots move to their long-ledger storage.
    ledger = PointsLedger.open("m-1", policy=ExpireAfter(days=30))
    kept: list[tuple[PointsLedger, tuple[object, ...]]] = []
    at = T0
    for k in range(400):
        at += timedelta(hours=1)
        ledger = ledger.earn(f"e{k}", at=at, points=50, reason="order" if k % 7 else "")
        if k % 3 == 0:
            ledger = ledger.redeem(f"r{k}", at=at, points=30)
        if k % 11 == 0:
            ledger = ledger.hold(f"h{k}", at=at, points=10, deadline=at + timedelta(hours=2))
        if k % 13 == 0 and k:
            ledger = ledger.reverse(f"c{k}", at=at, of=f"r{k - 1 - (k - 1) % 3}", points=5)
        if k % 17 == 0:
            ledger = ledger.reverse(f"f{k}", at=at, of=f"e{k}", points=10)
        if k % 50 == 0:
            kept.append((ledger, snapshot(ledger)))
    assert len(ledger.lots) > 300
    assert PointsLedger.replay(ledger.events) == ledger
    assert pickle.loads(pickle.dumps(ledger)) == ledger
    for version, seen in kept:
        assert snapshot(version) == seen
        assert PointsLedger.replay(version.events) == version


@pytest.mark.parametrize("earns", [10, 300])
def test_two_versions_appending_to_one_parent_never_see_each_others_records(earns: int) -> None:
    parent = long_ledger(earns, reason="r")
    before = snapshot(parent)
    at = parent.last_at
    assert at is not None
    a = parent.earn("x", at=at, points=5, reason="a")
    b = parent.redeem("y", at=at, points=150, reason="b")
    c = parent.earn("x", at=at, points=7)  # the same id as a's, another payload
    assert snapshot(parent) == before
    assert a.events[:-1] == b.events[:-1] == c.events[:-1] == parent.events
    assert (a.events[-1].id, a.events[-1].reason, c.events[-1].points) == ("x", "a", 7)
    assert b.events[-1].reason == "b"
    assert a.lot("x").amount == 5
    assert c.lot("x").amount == 7
    with pytest.raises(errors.NotFound):
        b.lot("x")
    assert a != c
    assert a != b
    for version in (parent, a, b, c):
        assert PointsLedger.replay(version.events) == version
        assert pickle.loads(pickle.dumps(version)) == version
    # Each keeps appending after the others did.
    a2, c2 = a.earn("x2", at=at, points=1), c.redeem("y2", at=at, points=1)
    assert a2.events[:-1] == a.events
    assert c2.events[:-1] == c.events
    assert PointsLedger.replay(c2.events) == c2


def test_a_failed_command_leaves_nothing_behind() -> None:
    parent = long_ledger(300)
    at = parent.last_at
    assert at is not None
    with pytest.raises(errors.InsufficientPoints):
        parent.redeem("too-much", at=at, points=10**6)
    with pytest.raises(errors.UnknownEvent):
        parent.reverse("g", at=at, of="missing")
    with pytest.raises(errors.IdempotencyConflict):
        parent.earn("e0", at=at, points=1)
    child = parent.earn("next", at=at, points=1)
    assert child.events[:-1] == parent.events
    assert PointsLedger.replay(child.events) == child


def test_reading_a_version_at_a_later_instant_changes_nothing() -> None:
    parent = long_ledger(300)
    later = T0 + timedelta(days=800)
    assert parent.balance(as_of=later).expired == 300 * 100
    assert parent.expiring(until=later, as_of=T0 + timedelta(days=10))
    child = parent.earn("n", at=parent.last_at or T0, points=1)  # appends in place
    assert child.balance().available == 300 * 100 + 1
    assert PointsLedger.replay(child.events) == child


def test_branching_from_one_parent_on_two_threads_is_safe() -> None:
    parent = long_ledger(200)
    at = parent.last_at
    assert at is not None
    results: dict[str, list[PointsLedger]] = {"a": [], "b": []}
    barrier = threading.Barrier(2)

    def work(name: str) -> None:
        barrier.wait()
        for k in range(300):
            ledger = parent.earn(f"{name}{k}", at=at, points=k + 1)
            if k % 2:
                ledger = ledger.redeem(f"{name}{k}r", at=at, points=k + 1)
            results[name].append(ledger)

    threads = [threading.Thread(target=work, args=(name,)) for name in results]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for name, ledgers in results.items():
        assert len(ledgers) == 300
        for k, ledger in enumerate(ledgers):
            own = ledger.events[len(parent.events) :]
            assert ledger.events[: len(parent.events)] == parent.events
            assert [ev.id for ev in own] == [f"{name}{k}"] + ([f"{name}{k}r"] if k % 2 else [])
            assert ledger.balance().available == 200 * 100 + (0 if k % 2 else k + 1)
    assert PointsLedger.replay(results["b"][-1].events) == results["b"][-1]


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.integers(1, 400)), min_size=1, max_size=60))
@example([(0, 1), (0, 1), (0, 31)])  # two children of one parent, records of the same length
def test_any_tree_of_versions_matches_replaying_each(steps: list[tuple[int, int]]) -> None:
    # Each step picks an earlier version (its parent) and applies one command;
    # every version must equal the replay of its own events.
    versions = [long_ledger(140)]
    at = versions[0].last_at
    assert at is not None
    for k, (kind, pick) in enumerate(steps):
        parent = versions[pick % len(versions)]
        try:
            if kind == 0:
                child = parent.earn(f"n{k}", at=at, points=pick)
            elif kind == 1:
                child = parent.redeem(f"n{k}", at=at, points=pick)
            elif kind == 2:
                child = parent.hold(f"n{k}", at=at, points=pick, deadline=at + timedelta(hours=1))
            else:
                child = parent.reverse(f"n{k}", at=at, of=f"e{pick % 140}", points=1)
        except errors.LoyaltyError:
            continue
        versions.append(child)
    for version in versions:
        assert PointsLedger.replay(version.events) == version


def test_branches_of_branches_of_a_long_ledger_each_see_their_own_ids() -> None:
    # Each step branches twice from the newest version, so the id logs of a
    # long ledger nest (and are flattened once they nest deeply).
    parent = long_ledger(200)
    at = parent.last_at
    assert at is not None
    versions = [parent]
    for k in range(30):
        first = versions[-1].earn(f"a{k}", at=at, points=1)
        second = versions[-1].redeem(f"b{k}", at=at, points=1)
        versions += [first, second]
    for version in versions:
        assert PointsLedger.replay(version.events) == version
    last = versions[-1]
    assert [ev.id for ev in last.events[201:]] == [f"b{k}" for k in range(30)]
    with pytest.raises(errors.NotFound):
        last.lot("a29")
    assert last.reverse("x", at=at, of="b3", points=1).balance().cancelled == 1

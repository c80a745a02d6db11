"""Points replay: the quick path of the usual events against the general one.

Replay applies a plain earn, redemption, hold, capture, release or
reversal, and a hold timing out, in one step (``_replay._GIVEN``),
checking its recorded outcome against the state; any other event goes
through its command's handler (or the time passing) and the comparison
of records. The quick path must accept exactly what the general one accepts,
with the same outcome, and refuse the rest with the same error naming the
same event: every test here replays a history both ways (the general way
with the quick steps switched off) and compares.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loyaltycore import errors
from loyaltycore.points import (
    Captured,
    Earned,
    EarnReversed,
    ExpireAfter,
    Held,
    HoldTimedOut,
    PointsLedger,
    Redeemed,
    Released,
    _replay,
)

T0 = datetime(2024, 3, 30, 12, tzinfo=UTC)
QUICK = (Earned, Redeemed, Held, EarnReversed, Captured, Released, HoldTimedOut)


@contextmanager
def general_only() -> Iterator[None]:
    """Replay with every event going the general way."""
    saved = _replay._GIVEN
    _replay._GIVEN = {}  # type: ignore[misc]
    try:
        yield
    finally:
        _replay._GIVEN = saved  # type: ignore[misc]


def outcome(events: Any) -> tuple[Any, ...]:
    """What replaying ``events`` gives: the ledger (its events, balance, lots,
    and what two months and an earn then add), or the error."""
    try:
        ledger = PointsLedger.replay(events)
    except errors.LoyaltyError as exc:
        return ("refused", type(exc).__name__, str(exc))
    assert ledger.last_at is not None
    later = ledger.earn("after-all", at=ledger.last_at + timedelta(days=60), points=1)
    after = later.events[len(ledger.events) :]
    return ("replayed", ledger.events, ledger.balance(), ledger.lots, ledger, after)


def both_ways(events: Any) -> tuple[Any, ...]:
    quick = outcome(events)
    with general_only():
        general = outcome(events)
    assert quick == general
    return quick


def history() -> tuple[Any, ...]:
    """Runs of each quick type: earns, redemptions over several lots, holds,
    a whole and a partial capture, a release, partial and whole reversals
    (of a lot's remainder, of its expired points, charging other lots), then
    holds timing out and lots expiring."""
    led = PointsLedger.open("m-1", tz="Europe/Berlin", policy=ExpireAfter(months=1))
    at = T0
    for k in range(6):
        led = led.earn(f"e{k}", at=at, points=100 + k)
        at += timedelta(hours=1)
    for k in range(4):
        led = led.redeem(f"r{k}", at=at, points=70)
        at += timedelta(hours=1)
    for k in range(3):
        led = led.hold(f"h{k}", at=at, points=40, deadline=at + timedelta(days=1))
        at += timedelta(hours=1)
    led = led.capture("c0", at=at, hold="h0")
    led = led.hold("h3", at=at, points=30, deadline=at + timedelta(days=1))
    led = led.capture("c1", at=at, hold="h3", points=12)  # (releases the rest)
    led = led.hold("h4", at=at, points=20, deadline=at + timedelta(days=1))
    led = led.release("x0", at=at, hold="h4")
    for k, (of, points) in enumerate([("e5", 5), ("e4", None), ("e3", 7), ("e5", 3)]):
        led = led.reverse(f"f{k}", at=at, of=of, points=points)
        at += timedelta(hours=1)
    led = led.earn("e9", at=at + timedelta(days=2), points=500)  # (h1 and h2 time out)
    led = led.reverse("f9", at=led.last_at, of="e0", points=10)  # (charges other lots)
    led = led.earn("late", at=at + timedelta(days=40), points=50)  # (lots expire)
    led = led.reverse("f10", at=led.last_at, of="e5", points=4)  # (of its expired points)
    led = led.earn("e10", at=led.last_at, points=60)
    led = led.reverse("f11", at=led.last_at, of="e10")  # (the whole lot)
    return led.events


def noting_the_general_way(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The ids of the commands that go the general way (their handler runs)."""
    general: list[str] = []

    def noting(handler: Any) -> Any:
        def run(state: Any, at_us: int, id: str, *inputs: Any) -> None:
            general.append(id)
            handler(state, at_us, id, *inputs)

        return run

    monkeypatch.setattr(
        _replay,
        "HANDLERS",
        {kind: (noting(h), inputs) for kind, (h, inputs) in _replay.HANDLERS.items()},
    )
    return general


def test_the_usual_events_take_the_quick_path(monkeypatch: pytest.MonkeyPatch) -> None:
    # None of the usual commands goes the general way, the reversals that
    # charge other lots (f1, f2, f9) included.
    general = noting_the_general_way(monkeypatch)
    events = history()
    assert PointsLedger.replay(events).events == events
    assert general == []
    reversals = [e for e in events if type(e) is EarnReversed]
    assert [(r.id, r.taken, r.reclassified, r.charged != ()) for r in reversals] == [
        ("f0", 5, 0, False),
        ("f1", 98, 0, True),
        ("f2", 0, 0, True),
        ("f3", 3, 0, False),
        ("f9", 0, 0, True),
        ("f10", 0, 4, False),  # (of expired points)
        ("f11", 60, 0, False),  # (the whole lot)
    ]
    assert [e.released != () for e in events if type(e) is Captured] == [False, True]


def timeouts() -> tuple[Any, ...]:
    """Holds timing out: two at one instant (in id order), one on a lot that
    has expired by then, one at the instant another lot expires, one that
    repays debt."""
    day = timedelta(days=1)
    led = PointsLedger.open("m-2", policy=ExpireAfter(months=1))
    led = led.earn("e0", at=T0, points=100)
    led = led.hold("hb", at=T0, points=30, deadline=T0 + day)
    led = led.hold("ha", at=T0, points=30, deadline=T0 + day)
    led = led.earn("e1", at=T0 + day, points=50)  # (ha, then hb, time out)
    at = led.last_at
    assert at is not None
    led = led.earn("x", at=at, points=20, expires_at=T0 + 3 * day)
    led = led.hold("hx", at=at, points=20, deadline=T0 + 4 * day)  # (all of x)
    led = led.hold("hz", at=at, points=10, deadline=T0 + 5 * day)  # (of e0)
    led = led.earn("y", at=at, points=20, expires_at=T0 + 5 * day)
    led = led.earn("e2", at=T0 + 6 * day, points=10)  # (x's part expires; y, then hz)
    led = led.earn("e3", at=led.last_at, points=40)
    everything = led.balance().available
    led = led.hold("hd", at=led.last_at, points=everything, deadline=T0 + 7 * day)
    led = led.reverse("f0", at=led.last_at, of="e3")  # (in debt)
    return led.earn("e4", at=T0 + 8 * day, points=5).events  # (hd repays it)


def test_a_hold_timing_out_takes_the_quick_path_when_due_first_and_its_lots_usable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    noted: list[tuple[str, bool]] = []
    quick = _replay._GIVEN[HoldTimedOut]

    def noting(state: Any, ev: Any, at_us: int) -> int:
        words = quick(state, ev, at_us)
        noted.append((ev.hold, words > 0))
        return words

    monkeypatch.setitem(_replay._GIVEN, HoldTimedOut, noting)
    events = timeouts()
    assert PointsLedger.replay(events).events == events
    kinds = [type(e).__name__ for e in events if e.derived]
    assert kinds == [
        "HoldTimedOut",
        "HoldTimedOut",
        "HoldTimedOut",
        "Expired",
        "Expired",
        "HoldTimedOut",
        "HoldTimedOut",
        "DebtRepaid",
    ]
    assert [e.cause for e in events if type(e).__name__ == "Expired"] == ["hold", "lot"]
    # (hx's lot has expired by then; hz times out with y's expiry, which goes
    # first, and hd in debt: both the general way, without asking)
    assert noted == [("ha", True), ("hb", True), ("hx", False)]
    assert both_ways(events)[:2] == ("replayed", events)


def test_a_reversal_that_leaves_debt_goes_the_general_way(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    general = noting_the_general_way(monkeypatch)
    events = timeouts()
    assert PointsLedger.replay(events).events == events
    assert [(e.id, e.debt) for e in events if type(e) is EarnReversed] == [("f0", 40)]
    assert general == ["x", "y", "f0"]  # (and the earns with an expiry of their own)


@pytest.mark.parametrize("charged", [(("e1", 49),), (("e1", 51),), ()])
def test_a_reversal_charging_other_lots_as_recorded_or_not_at_all(
    charged: tuple[tuple[str, int], ...],
) -> None:
    # A charge other than the one recorded is refused the same both ways,
    # as not following (under a strict policy, not as a debt refused).
    led = PointsLedger.open("m-4", policy=ExpireAfter(months=1), debt_policy="strict")
    led = led.earn("e0", at=T0, points=100).earn("e1", at=T0, points=50)
    led = led.redeem("r0", at=T0, points=90).reverse("f0", at=T0, of="e0", points=60)
    events = list(led.earn("e2", at=T0 + timedelta(hours=1), points=5).events)
    assert (events[-2].taken, events[-2].charged) == (10, (("e1", 50),))
    assert both_ways(events)[:2] == ("replayed", tuple(events))
    events[-2] = attrs.evolve(events[-2], charged=charged)
    result = both_ways(events)
    assert result[0] == "refused"
    assert result[2].endswith(
        f"EarnReversed does not follow from the events before it @ $.events[{len(events) - 2}]"
    ), result


@pytest.mark.parametrize("hold", ["hb", "hz"])
def test_what_falls_due_together_goes_in_order_either_way(hold: str) -> None:
    # hb times out after ha (id order), hz after the expiry of lot y
    events = list(timeouts())
    k = next(i for i, e in enumerate(events) if getattr(e, "hold", "") == hold) - 1
    assert events[k].at == events[k + 1].at
    events[k], events[k + 1] = events[k + 1], events[k]
    result = both_ways(events)
    assert result[0] == "refused"
    assert result[2].endswith(f"@ $.events[{k}]"), result


def test_a_hold_timing_out_as_points_vest_goes_after_them_either_way() -> None:
    due = T0 + timedelta(days=1)
    led = PointsLedger.open("m-3", policy=ExpireAfter(months=1))
    led = led.earn("e0", at=T0, points=100)
    led = led.earn("p0", at=T0, points=10, available_at=due)
    led = led.hold("h0", at=T0, points=30, deadline=due)
    events = list(led.earn("e1", at=due + timedelta(days=1), points=5).events)
    assert [type(e).__name__ for e in events[-3:-1]] == ["Vested", "HoldTimedOut"]
    assert both_ways(events)[:2] == ("replayed", tuple(events))
    events[-3], events[-2] = events[-2], events[-3]
    result = both_ways(events)
    assert result[0] == "refused"
    assert result[2].endswith(f"@ $.events[{len(events) - 3}]"), result


def test_the_whole_history_replays_the_same_both_ways() -> None:
    events = history()
    assert both_ways(events)[:2] == ("replayed", events)


def _part(event: Any, shift: int) -> Any:
    (lot, x), *rest = event.lots
    return ((lot, x + shift), *rest)


#: (event type, the k-th of that type, change, whether the history is then refused)
TAMPERED: list[tuple[type[Any], int, dict[str, Any] | str, bool]] = [
    (Earned, 2, {"points": 0}, True),
    (Earned, 2, {"points": 101}, True),  # (the redemptions after it take other parts)
    (Earned, 3, {"id": "e1"}, True),
    (Earned, 3, {"at": T0}, True),
    (Earned, 3, "occurred_at after at", True),
    (Earned, 3, "expiry before at", True),
    (Earned, 3, {"reason": "x"}, False),  # (an input: the rest still follows)
    (Earned, 3, "expiry not UTC", False),
    (Earned, 5, "expiry moved", True),  # (applied as recorded: its Expired is later)
    (Earned, 0, {"lot_expires_at": T0 + timedelta(days=50)}, True),  # (the order of lots)
    (Redeemed, 1, "part +1", True),
    (Redeemed, 1, "part -1", True),
    (Redeemed, 1, {"lots": ()}, True),
    (Redeemed, 1, "lots of another earn", True),
    (Redeemed, 1, "lots reversed", True),
    (Redeemed, 1, "an extra part", True),
    (Redeemed, 1, "a part not a pair", True),
    (Redeemed, 1, "a lot id not a str", True),
    (Redeemed, 1, {"sources": (("bonus", 70),)}, True),
    (Redeemed, 1, {"sources": ()}, True),
    (Redeemed, 1, {"points": 71}, True),
    (Redeemed, 1, {"points": 10**6}, True),
    (Redeemed, 1, {"reason": "gift"}, False),
    (Redeemed, 1, "deadline under a policy without one", True),
    (Redeemed, 1, {"id": "e0"}, True),
    (Held, 1, "part +1", True),
    (Held, 1, {"lots": ()}, True),
    (Held, 1, "deadline at at", True),
    (Held, 1, "deadline not UTC", False),
    (Held, 1, {"points": 41}, True),
    (EarnReversed, 0, {"amount": 6}, True),
    (EarnReversed, 0, {"taken": 4}, True),
    (EarnReversed, 0, {"reclassified": 1}, True),
    (EarnReversed, 0, {"debt": 1}, True),
    (EarnReversed, 0, {"charged": (("e0", 5),)}, True),
    (EarnReversed, 0, {"of": "r0"}, True),
    (EarnReversed, 0, {"of": "nobody"}, True),
    (EarnReversed, 0, {"points": 10**6}, True),
    (EarnReversed, 0, {"points": 0}, True),
    (EarnReversed, 0, {"amount": True}, True),
    (EarnReversed, 1, {"points": 5}, True),  # (a whole reversal made partial)
    (EarnReversed, 3, {"taken": 0, "reclassified": 3}, True),
    (EarnReversed, 1, {"charged": ()}, True),
    (EarnReversed, 1, {"charged": (("e4", 6),)}, True),
    (EarnReversed, 1, {"charged": (("e5", 6), ("e3", 0))}, True),
    (EarnReversed, 1, "charged +1", True),
    (EarnReversed, 1, "charged -1", True),
    (EarnReversed, 1, {"debt": 1}, True),
    (EarnReversed, 1, {"taken": 97}, True),
    (EarnReversed, 2, {"charged": (("e4", 1),)}, True),
    (EarnReversed, 2, {"debt": 1}, True),
    (EarnReversed, 4, {"charged": (("e2", 10),)}, True),
    (Captured, 1, {"released": ()}, True),
    (Captured, 1, {"released": (("e4", 17),)}, True),
    (Captured, 1, {"amount": 13}, True),
    (Captured, 1, {"points": None}, True),
    (Captured, 1, {"hold": "h0"}, True),  # (captured already)
    (Released, 0, {"lots": (("e4", 19),)}, True),
    (Released, 0, {"lots": ()}, True),
    (Released, 0, {"hold": "h3"}, True),
    (Released, 0, {"hold": "zz"}, True),
    (HoldTimedOut, 0, {"points": 39}, True),
    (HoldTimedOut, 0, {"points": True}, True),
    (HoldTimedOut, 0, "part +1", True),
    (HoldTimedOut, 0, {"lots": ()}, True),
    (HoldTimedOut, 0, "lots of another earn", True),
    (HoldTimedOut, 0, {"hold": "h2"}, True),  # (open, but due later)
    (HoldTimedOut, 0, {"hold": "h0"}, True),  # (captured)
    (HoldTimedOut, 0, {"hold": "zz"}, True),
    (HoldTimedOut, 0, "a microsecond later", True),
    (HoldTimedOut, 0, "a microsecond earlier", True),
    (HoldTimedOut, 0, "at not UTC", False),  # (the same instant: kept as given)
    (HoldTimedOut, 1, {"points": 41}, True),
    # the general way between quick ones: checked when the next quick one comes
    (Captured, 0, {"amount": 39}, True),
    (Captured, 0, {"lots": (("e2", 23), ("e3", 16))}, True),
    (Captured, 0, {"sources": (("bonus", 40),)}, True),
]


def _charged(event: Any, shift: int) -> Any:
    (lot, x), *rest = event.charged
    return ((lot, x + shift), *rest)


def _tamper(event: Any, change: dict[str, Any] | str) -> Any:
    if isinstance(change, dict):
        return attrs.evolve(event, **change)
    at = event.at
    berlin = ZoneInfo("Europe/Berlin")
    edits: dict[str, dict[str, Any]] = {
        "occurred_at after at": {"occurred_at": at + timedelta(seconds=1)},
        "expiry before at": {"lot_expires_at": at - timedelta(days=1)},
        "expiry not UTC": {"lot_expires_at": event.lot_expires_at.astimezone(berlin)}
        if type(event) is Earned
        else {},
        "expiry moved": {"lot_expires_at": event.lot_expires_at + timedelta(minutes=1)}
        if type(event) is Earned
        else {},
        "part +1": {"lots": _part(event, 1)} if hasattr(event, "lots") else {},
        "part -1": {"lots": _part(event, -1)} if hasattr(event, "lots") else {},
        "charged +1": {"charged": _charged(event, 1)} if type(event) is EarnReversed else {},
        "charged -1": {"charged": _charged(event, -1)} if type(event) is EarnReversed else {},
        "lots of another earn": {"lots": tuple(("e5", x) for _, x in event.lots)}
        if hasattr(event, "lots")
        else {},
        "lots reversed": {"lots": event.lots[::-1]} if hasattr(event, "lots") else {},
        "an extra part": {"lots": (*event.lots, ("e5", 0))} if hasattr(event, "lots") else {},
        "a part not a pair": {"lots": (*event.lots[:-1], (*event.lots[-1], 0))}
        if hasattr(event, "lots")
        else {},
        "a lot id not a str": {"lots": ((1, event.lots[0][1]), *event.lots[1:])}
        if hasattr(event, "lots")
        else {},
        "deadline under a policy without one": {"inactivity_deadline": at + timedelta(days=9)},
        "a microsecond later": {"at": at + timedelta(microseconds=1)},
        "a microsecond earlier": {"at": at - timedelta(microseconds=1)},
        "at not UTC": {"at": at.astimezone(berlin)},
        "deadline at at": {"deadline": at},
        "deadline not UTC": {"deadline": event.deadline.astimezone(berlin)}
        if type(event) is Held
        else {},
    }
    return attrs.evolve(event, **edits[change])


@pytest.mark.parametrize(("kind", "nth", "change", "refused"), TAMPERED)
def test_a_tampered_event_in_a_run_of_usual_events_is_named_the_same_both_ways(
    kind: type[Any], nth: int, change: dict[str, Any] | str, refused: bool
) -> None:
    events = list(history())
    k = [i for i, e in enumerate(events) if type(e) is kind][nth]
    assert {type(events[k - 1]), type(events[k + 1])} & set(QUICK)  # (in a run of them)
    events[k] = _tamper(events[k], change)
    result = both_ways(events)
    assert (result[0] == "refused") == refused, result
    if refused:  # the event named is the tampered one, or one after it that no longer follows
        named = int(result[2].rsplit("[", 1)[1].rstrip("]"))
        assert named >= k, result


def test_a_recorded_expiry_that_differs_is_noted_by_an_audit_either_way() -> None:
    events = list(history())
    events = events[: next(i for i, e in enumerate(events) if type(e).__name__ == "Expired")]
    k = [i for i, e in enumerate(events) if type(e) is Earned][5]
    moved = events[k].lot_expires_at + timedelta(minutes=1)  # (the last lot: the order holds)
    events[k] = attrs.evolve(events[k], lot_expires_at=moved)
    quick = PointsLedger.audit(events)
    with general_only():
        assert PointsLedger.audit(events) == quick
    assert [(d.index, d.field) for d in quick] == [(k, "lot_expires_at")]
    with pytest.raises(
        errors.InvalidData, match=rf"lot_expires_at of 'e5' .* @ \$\.events\[{k}\]"
    ):
        PointsLedger.replay(events, mode="recompute")


_FIELDS = {
    Earned: ("points", "lot_expires_at", "id"),
    Redeemed: ("points", "lots", "sources"),
    Held: ("points", "lots", "deadline"),
    EarnReversed: ("points", "amount", "taken", "reclassified", "charged", "debt", "of"),
    Captured: ("points", "amount", "lots", "released", "sources", "hold"),
    Released: ("lots", "hold"),
    HoldTimedOut: ("points", "lots", "hold", "at"),
}


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_any_single_change_to_a_usual_event_replays_the_same_both_ways(data: Any) -> None:
    events = list(history())
    k = data.draw(st.sampled_from([i for i, e in enumerate(events) if type(e) in QUICK]))
    event = events[k]
    field = data.draw(st.sampled_from(_FIELDS[type(event)]))
    value = getattr(event, field)
    if field in ("lots", "charged", "released"):
        ids = st.sampled_from(["e0", "e1", "e2", "e3", "e4", "e5", "r0"])
        new: Any = data.draw(
            st.lists(st.tuples(ids, st.integers(0, 120)), max_size=3).map(tuple)
            | st.just(value[::-1])
        )
    elif field == "sources":
        new = data.draw(st.sampled_from([(), (("bonus", event.points),), value + value]))
    elif field in ("lot_expires_at", "deadline"):
        new = value + timedelta(hours=data.draw(st.integers(-24 * 40, 24 * 40)))
    elif field == "at":
        new = value + timedelta(microseconds=data.draw(st.integers(-2, 2) | st.integers()))
    elif field in ("id", "of", "hold"):
        new = data.draw(st.sampled_from(["e0", "e3", "r1", "h0", "h3", "h4", "f0", "zz"]))
    else:  # (a count: near its value, or None where that is allowed)
        near = st.integers(-2, 200) if value is None else st.integers(value - 2, value + 2)
        new = data.draw(near | st.integers(-2, 200) | st.none() | st.just(True))
    events[k] = attrs.evolve(event, **{field: new})
    both_ways(events)


@pytest.mark.parametrize("earns", [10, 80, 300])  # (rows in the header, or a table of their own)
def test_a_balance_as_of_an_earlier_instant_advances_the_replayed_ledger(earns: int) -> None:
    # Reading as of an earlier instant replays the history up to it and lets
    # the time pass on the replayed builder, after its replay is done: the
    # same as the ledger of that day, which was never replayed.
    led = PointsLedger.open("m-1", tz="Europe/Berlin", policy=ExpireAfter(months=1))
    versions = []
    at = T0
    for k in range(earns):
        led = led.earn(f"e{k}", at=at, points=10 + k % 7)
        if k % 3 == 2:
            led = led.redeem(f"r{k}", at=at, points=12)
        if k % 5 == 4:
            led = led.hold(f"h{k}", at=at, points=5, deadline=at + timedelta(days=2))
        versions.append(led)
        at += timedelta(days=1)
    for k in range(0, earns, max(1, earns // 12)):
        when = T0 + timedelta(days=k, hours=20)  # (before the next day's commands)
        assert led.balance(as_of=when) == versions[k].balance(as_of=when), k
        until = when + timedelta(days=60)
        assert led.expiring(until=until, as_of=when) == versions[k].expiring(
            until=until, as_of=when
        ), k

"""Points ledger history: replay, plain data, the golden document, determinism, pickling."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
from datetime import UTC
from pathlib import Path
from typing import Any

import pytest

from loyaltycore import errors, serialize
from loyaltycore.points import PointsLedger

GOLDEN = Path(__file__).parent / "golden" / "points_ledger_v1.json"
GOLDEN_V2 = Path(__file__).parent / "golden" / "points_ledger_v2.json"
GOLDEN_V3 = Path(__file__).parent / "golden" / "points_ledger_v3.json"
GOLDEN_V3_SOURCES = Path(__file__).parent / "golden" / "points_ledger_v3_sources.json"

# Runs in this process and in subprocesses; prints the canonical JSON of a
# scenario that touches every event type.
SCENARIO = r"""
from datetime import datetime, timedelta, timezone
from loyaltycore import serialize
from loyaltycore.points import (
    ExpireAfter, ExpireOnInactivity, PointsLedger, merge, transfer,
)

UTC = timezone.utc
T0 = datetime(2024, 1, 31, 10, tzinfo=UTC)
def d(n):
    return T0 + timedelta(days=n)

led = PointsLedger.open("m-1", tz="Europe/Berlin", policy=ExpireAfter(months=1))
led = led.earn("e1", at=T0, points=500, reason="order 1")
led = led.earn("e2", at=d(1), points=300, available_at=d(15))
led = led.redeem("r1", at=d(2), points=200)
led = led.hold("h1", at=d(3), points=100, deadline=d(3) + timedelta(hours=1))
led = led.capture("c1", at=d(3), hold="h1", points=60)
led = led.hold("h2", at=d(4), points=50, deadline=d(5))
led = led.adjust("a1", at=d(6), points=25, reason="goodwill")
friend = PointsLedger.open("m-2", tz="Europe/Berlin")
led, friend = transfer(led, friend, "t1", at=d(7), points=40)
led = led.reverse("f1", at=d(8), of="e1")
led = led.reverse("x1", at=d(40), of="r1", points=50, grace_days=10)
dup = PointsLedger.open("m-3", tz="Europe/Berlin", policy=ExpireOnInactivity(months=2))
dup = dup.earn("d1", at=d(1), points=70)
led = merge(led, dup, "g1", at=d(41))
led = led.expire(as_of=d(120))
result = serialize.dumps(led)
"""


def scenario() -> PointsLedger:
    namespace: dict[str, Any] = {}
    exec(SCENARIO, namespace)
    ledger: PointsLedger = namespace["led"]
    return ledger


def sources_scenario() -> PointsLedger:
    """Lots of several sources and values, spent, transferred and merged."""
    from datetime import datetime, timedelta
    from decimal import Decimal

    from loyaltycore.points import ExpireAfter, merge, transfer

    t0 = datetime(2024, 3, 30, 12, tzinfo=UTC)
    led = PointsLedger.open("m-1", tz="Europe/Berlin", policy=ExpireAfter(months=12))
    led = led.earn("e1", at=t0, points=100, value_per_point=Decimal("0.01"))
    led = led.earn("b1", at=t0, points=50, source="bonus", value_per_point="0.005")
    led = led.earn("p1", at=t0, points=30, source="airline-x", reason="partner flight")
    led = led.adjust("a1", at=t0, points=20, reason="goodwill")
    led = led.redeem("r1", at=t0 + timedelta(days=1), points=160)
    led = led.hold("h1", at=t0 + timedelta(days=2), points=30, deadline=t0 + timedelta(days=3))
    led = led.capture("c1", at=t0 + timedelta(days=2), hold="h1", points=20)
    friend = PointsLedger.open("m-2", tz="Europe/Berlin").earn(
        "f1", at=t0, points=40, source="referral"
    )
    _, led = transfer(friend, led, "t1", at=t0 + timedelta(days=4), points=25)
    dup = PointsLedger.open("m-3", tz="Europe/Berlin").earn(
        "d1", at=t0, points=5, source="partner"
    )
    return merge(led, dup, "g1", at=t0 + timedelta(days=5))


def test_scenario_touches_every_event_type() -> None:
    kinds = {type(e).__name__ for e in scenario().events}
    assert kinds >= {
        "Opened", "Earned", "Redeemed", "Held", "Captured", "HoldTimedOut", "Adjusted",
        "TransferredOut", "EarnReversed", "RedemptionCancelled", "Merged", "Vested",
        "Expired", "DebtRepaid",
    }  # fmt: skip


def test_replay_and_round_trip_rebuild_an_equal_ledger() -> None:
    led = scenario()
    assert PointsLedger.replay(led.events) == led
    again = serialize.from_data(serialize.to_data(led))
    assert again == led
    assert serialize.loads(serialize.dumps(led), PointsLedger) == led
    assert serialize.dumps(again) == serialize.dumps(led)


def _upgraded(doc: dict[str, Any]) -> PointsLedger:
    """The ledger of an older golden document: the scenario's, but for the zone
    data version, which an upgraded history records as unknown."""
    upgraded = serialize.from_data(doc)
    assert isinstance(upgraded, PointsLedger)
    assert upgraded.events[0].tzdata == "upgraded"  # type: ignore[union-attr]
    return upgraded


def test_golden_document_v3_loads_and_matches() -> None:
    golden = json.loads(GOLDEN_V3.read_text())
    assert golden["schema"] == "points.PointsLedger"
    assert golden["version"] == 3
    led = scenario()
    assert serialize.from_data(golden) == led
    assert json.loads(json.dumps(serialize.to_data(led))) == golden


def test_golden_sources_document_v3_loads_and_matches() -> None:
    golden = json.loads(GOLDEN_V3_SOURCES.read_text())
    led = sources_scenario()
    assert serialize.from_data(golden) == led
    assert json.loads(json.dumps(serialize.to_data(led))) == golden


@pytest.mark.parametrize("path", [GOLDEN, GOLDEN_V2], ids=["v1", "v2"])
def test_older_golden_documents_upgrade_to_the_scenario_with_derived_effects(path: Path) -> None:
    # versions 1 and 2 recorded no effects: the upgrade derives them, and the
    # history is the scenario's but for the zone data version it records
    led = scenario()
    upgraded = _upgraded(json.loads(path.read_text()))
    assert upgraded.events[1:] == led.events[1:]
    assert upgraded.lots == led.lots
    assert upgraded.balance() == led.balance()
    assert upgraded != led  # (the histories differ in their Opened)
    written = serialize.to_data(upgraded)
    assert written["version"] == 3
    assert written["data"]["events"][1:] == serialize.to_data(led)["data"]["events"][1:]  # type: ignore[index]
    assert serialize.from_data(written) == upgraded


def _without(doc: dict[str, Any], event: int, *path: str) -> dict[str, Any]:
    doc = json.loads(json.dumps(doc))
    target = doc["data"]["events"][event]
    for key in path[:-1]:
        target = target[key]
    del target[path[-1]]
    return doc


def _written_keys(path: Path) -> list[tuple[int, tuple[str, ...]]]:
    """Every key the writer writes in a scenario's document (tags aside)."""
    events = json.loads(path.read_text())["data"]["events"]
    found = []
    for i, event in enumerate(events):
        for key, value in event.items():
            if key != "type":
                found.append((i, (key,)))
            if key == "policy":
                found += [(i, (key, sub)) for sub in value if sub != "type"]
    return found


WRITTEN = _written_keys(GOLDEN_V3)
WRITTEN_V2 = _written_keys(GOLDEN_V2)


@pytest.mark.parametrize(
    ("event", "path"), WRITTEN, ids=[f"{e}.{'.'.join(p)}" for e, p in WRITTEN]
)
def test_every_key_the_writer_writes_is_required(event: int, path: tuple[str, ...]) -> None:
    from loyaltycore.points import event_from_data

    golden = json.loads(GOLDEN_V3.read_text())
    with pytest.raises(errors.InvalidData) as info:
        serialize.from_data(_without(golden, event, *path))
    assert f"required field missing @ $.data.events[{event}].{'.'.join(path)}" in str(info.value)
    one = _without(golden, event, *path)["data"]["events"][event]
    with pytest.raises(errors.InvalidData, match="required field missing"):
        event_from_data(one)


def _default(data: dict[str, Any], key: str) -> Any:
    """The plain default of field ``key`` of the tagged value ``data``, or a marker."""
    import attrs

    from loyaltycore import points

    cls = getattr(points, data["type"])
    field = attrs.fields_dict(cls)[key]
    if field.default is attrs.NOTHING:
        return "(required)"
    return json.loads(json.dumps(serialize.unstructure(field.default)))


def _left_out_defaults() -> list[tuple[int, tuple[str, ...]]]:
    """The keys of the scenario's document whose value is their field's default."""
    events = json.loads(GOLDEN.read_text())["data"]["events"]
    found = []
    for event, path in WRITTEN_V2:
        owner = events[event] if len(path) == 1 else events[event][path[0]]
        if owner[path[-1]] == _default(owner, path[-1]):
            found.append((event, path))
    return found


DEFAULTED = _left_out_defaults()


@pytest.mark.parametrize(
    ("event", "path"), DEFAULTED, ids=[f"{e}.{'.'.join(p)}" for e, p in DEFAULTED]
)
def test_a_version_1_document_may_leave_out_a_default(event: int, path: tuple[str, ...]) -> None:
    golden = json.loads(GOLDEN.read_text())
    upgraded = _upgraded(_without(golden, event, *path))
    assert upgraded.events[1:] == scenario().events[1:]


def test_the_scenario_writes_many_defaults() -> None:
    assert len({path[-1] for _, path in DEFAULTED}) >= 10


def test_a_strict_ledger_does_not_load_as_a_lenient_one() -> None:
    from datetime import datetime

    at = datetime(2024, 1, 5, tzinfo=UTC)
    strict = PointsLedger.open("m-1", debt_policy="strict").earn("e1", at=at, points=10)
    doc = serialize.to_data(strict)
    del doc["data"]["events"][0]["debt_policy"]
    with pytest.raises(
        errors.InvalidData, match=r"required field missing @ \$\.data\.events\[0\]\.debt_policy"
    ):
        serialize.from_data(doc)
    # a version 1 document left it out when it was the default, and still loads so
    assert serialize.from_data({**doc, "version": 1}).debt_policy == "debt"


def _run(env: dict[str, str], prefix: str = "") -> bytes:
    code = prefix + SCENARIO + "\nimport sys; sys.stdout.write(result)\n"
    out = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, **env},
        capture_output=True,
        check=True,
    )
    return out.stdout


def test_same_commands_give_byte_identical_json_everywhere() -> None:
    first = _run({"PYTHONHASHSEED": "0"})
    assert first == _run({"PYTHONHASHSEED": "4242"})
    assert first == _run(
        {"PYTHONHASHSEED": "1"}, "import decimal\ndecimal.getcontext().prec = 4\n"
    )
    assert first.decode() == serialize.dumps(scenario())


@pytest.mark.parametrize("attr", ["events", "lots", "holds"])
def test_values_pickle(attr: str) -> None:
    led = scenario()
    values = getattr(led, attr)
    assert pickle.loads(pickle.dumps(values)) == values


def test_ledger_balance_statement_and_errors_pickle() -> None:
    led = scenario()
    assert pickle.loads(pickle.dumps(led)) == led
    assert pickle.loads(pickle.dumps(led.balance())) == led.balance()
    st = led.statement(led.events[1].at, led.last_at)  # type: ignore[union-attr,arg-type]
    assert pickle.loads(pickle.dumps(st)) == st
    with pytest.raises(errors.InsufficientPoints) as info:
        led.redeem("too-much", at=led.last_at, points=10**6)  # type: ignore[arg-type]
    again = pickle.loads(pickle.dumps(info.value))
    assert (type(again), str(again), again.requested) == (
        errors.InsufficientPoints,
        str(info.value),
        10**6,
    )


def test_replay_checks_a_plain_history_in_one_comparison(monkeypatch: pytest.MonkeyPatch) -> None:
    # Replay encodes each event as the engine records it and compares the two
    # histories once; the event-by-event check is only for unusual input. A
    # history written by the ledger itself must never need it.
    from datetime import datetime, timedelta

    from loyaltycore.points import _replay, transfer

    def fail(*args: object) -> None:
        raise AssertionError("the event-by-event check ran")

    at = datetime(2024, 1, 5, tzinfo=UTC)
    other = PointsLedger.open("m-9").earn("e9", at=at, points=80, reason="order 9")
    other = other.hold("h9", at=at, points=30, deadline=at + timedelta(hours=1))
    other = other.release("x9", at=at, hold="h9")
    other, friend = transfer(other, PointsLedger.open("m-8"), "t9", at=at, points=20)
    monkeypatch.setattr(_replay, "_first_difference", fail)
    for ledger in (scenario(), other, friend):
        assert PointsLedger.replay(ledger.events) == ledger


def test_a_command_event_is_read_from_its_own_record() -> None:
    # A retry, a cancelled redemption and a transfer read one earlier command;
    # it is read from its record alone, stepping over the records before it,
    # and must be exactly the event the history holds.
    from datetime import datetime, timedelta
    from zoneinfo import ZoneInfo

    from loyaltycore.points import Earned, NeverExpire, Opened, Redeemed, transfer

    t0 = datetime(2024, 1, 5, tzinfo=UTC)
    other = PointsLedger.open("m-9").earn("e9", at=t0, points=80)
    other = other.hold("h9", at=t0, points=30, deadline=t0 + timedelta(hours=1))
    other = other.release("x9", at=t0, hold="h9")
    other, friend = transfer(other, PointsLedger.open("m-8"), "t9", at=t0, points=20)
    kinds = set()
    for ledger in (scenario(), other, friend):
        commands = [e for e in ledger.events[1:] if not e.derived]
        assert [ledger._command_event(k) for k in range(len(commands))] == commands
        kinds |= {type(e) for e in commands}
    assert len(kinds) == 11  # every command type
    at = datetime(2024, 7, 1, 12, tzinfo=ZoneInfo("Europe/Berlin"))
    zoned = PointsLedger.replay(
        (Opened("m-1", tz="UTC", policy=NeverExpire()), Earned("e1", at, at, 10),
         Redeemed("r1", at, at, 4, lots=(("e1", 4),), sources=(("purchase", 4),)))
    )  # fmt: skip
    assert zoned._command_event(1).at.tzinfo is at.tzinfo  # the given event itself


def test_replay_keeps_instants_given_in_another_zone() -> None:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from loyaltycore.points import Earned, NeverExpire, Opened

    at = datetime(2024, 7, 1, 12, tzinfo=ZoneInfo("Europe/Berlin"))
    events = (Opened("m-1", tz="UTC", policy=NeverExpire()), Earned("e1", at, at, 10))
    ledger = PointsLedger.replay(events)
    assert ledger.events == events
    assert ledger.events[1].at.tzinfo is at.tzinfo
    assert ledger.lot("e1").earned_at == at  # lots are in UTC, the same instant


@pytest.mark.parametrize("where", ["command", "replay"])
def test_ids_with_a_nul_character_are_refused(where: str) -> None:
    from datetime import datetime

    from loyaltycore.points import Earned, NeverExpire, Opened

    at = datetime(2024, 1, 5, tzinfo=UTC)
    ledger = PointsLedger.open("m-1")
    if where == "command":
        with pytest.raises(errors.InvalidArgument) as info:
            ledger.earn("a\x00b", at=at, points=10)
        assert info.value.field == "id"
        assert ledger.balance().available == 0
    else:
        with pytest.raises(errors.InvalidData, match=r"NUL character @ \$\.events\[2\]"):
            PointsLedger.replay(
                [Opened("m-1", tz="UTC", policy=NeverExpire()), Earned("ok", at, at, 5),
                 Earned("a\x00b", at, at, 10)]
            )  # fmt: skip


@pytest.mark.parametrize("then", ["nothing", "a repeated id", "a redemption of other lots"])
def test_replay_names_the_event_that_takes_a_total_beyond_int64(then: str) -> None:
    # Replay builds its state in a list and makes it an array at the end; the
    # event that crosses the int64 limit is still the one named, even when a
    # later event is wrong as well.
    from datetime import datetime

    from loyaltycore.points import Earned, NeverExpire, Opened, Redeemed

    at = datetime(2024, 1, 5, tzinfo=UTC)
    events: list[Any] = [
        Opened("m-1", tz="UTC", policy=NeverExpire()),
        Earned("e1", at, at, 2**62),
        Earned("e2", at, at, 2**62),
    ]
    if then == "a repeated id":
        events.append(Earned("e1", at, at, 5))
    elif then == "a redemption of other lots":
        events.append(Redeemed("r1", at, at, 5, lots=(("e2", 5),)))
    with pytest.raises(errors.InvalidData, match=r"@ \$\.events\[2\]$"):
        PointsLedger.replay(events)
    ok = PointsLedger.replay(events[:2])
    assert ok.balance().available == 2**62


def test_a_tampered_history_names_the_first_event_that_does_not_follow() -> None:
    import attrs

    events = list(scenario().events)
    k = next(i for i, e in enumerate(events) if type(e).__name__ == "Redeemed")
    events[k] = attrs.evolve(events[k], lots=(("e2", events[k].points),))
    with pytest.raises(
        errors.InvalidData, match=rf"Redeemed does not follow .* @ \$\.events\[{k}\]"
    ):
        PointsLedger.replay(events)


@pytest.mark.parametrize("where", [0, 1, 2])
def test_replay_names_a_value_that_is_not_an_event(where: int) -> None:
    import attrs

    from loyaltycore.points import Lot

    events: list[Any] = list(scenario().events[:3])
    fields = {f.name: getattr(events[where], f.name) for f in attrs.fields(type(events[where]))}
    # looks like the event it replaces, attribute for attribute
    events[where] = type("Impostor", (), fields)()
    with pytest.raises(
        errors.InvalidData, match=rf"Impostor is not a points event @ \$\.events\[{where}\]"
    ) as info:
        PointsLedger.replay(events)
    assert info.value.__context__ is None  # not chained to what the replay ran into
    events[where] = scenario().lots[0]
    assert isinstance(events[where], Lot)
    with pytest.raises(
        errors.InvalidData, match=rf"Lot is not a points event @ \$\.events\[{where}\]"
    ):
        PointsLedger.replay(events)


def test_holds_and_hold_errors_are_read_from_their_records() -> None:
    # The holds, and why a hold can no longer be captured, come from the hold
    # records alone; they must agree with the typed history, given events too.
    from datetime import datetime, timedelta
    from zoneinfo import ZoneInfo

    from loyaltycore.points import (
        Captured,
        Earned,
        Held,
        HoldTimedOut,
        NeverExpire,
        Opened,
        Released,
    )

    t0 = datetime(2024, 1, 5, tzinfo=UTC)
    led = PointsLedger.open("m-1").earn("e1", at=t0, points=100)
    for n, end in enumerate(("capture", "release", "time out", "open")):
        led = led.hold(f"h{n}", at=t0, points=10, deadline=t0 + timedelta(hours=n + 1))
        if end == "capture":
            led = led.capture(f"c{n}", at=t0, hold=f"h{n}", points=4)
        elif end == "release":
            led = led.release(f"c{n}", at=t0, hold=f"h{n}")
    led = led.earn("e2", at=t0 + timedelta(hours=3, minutes=30), points=5)  # h2 times out
    at = datetime(2024, 1, 5, 1, tzinfo=ZoneInfo("Europe/Berlin"))  # 00:00 UTC
    zoned = PointsLedger.replay(
        (Opened("m-2", tz="UTC", policy=NeverExpire()), Earned("e1", at, at, 10),
         Held("h0", at, at, 5, at + timedelta(hours=1), (("e1", 5),)),
         Released("c0", at, at, "h0", (("e1", 5),)),
         Held("h2", at, at, 5, at + timedelta(hours=1), (("e1", 5),)),
         HoldTimedOut(at + timedelta(hours=1), "h2", 5, (("e1", 5),)))
    ).earn("e2", at=t0 + timedelta(hours=2), points=1)  # fmt: skip
    assert zoned._raw is not None
    assert zoned.holds[0].deadline.tzinfo is at.tzinfo  # the given event's own instant
    for ledger in (led, zoned):
        expected = {}
        for ev in ledger.events:
            if type(ev) is Held:
                expected[ev.id] = ("open", 0)
            elif type(ev) is Captured:
                expected[ev.hold] = ("captured", ev.amount)
            elif type(ev) is Released:
                expected[ev.hold] = ("released", 0)
            elif type(ev) is HoldTimedOut:
                expected[ev.hold] = ("timed_out", 0)
        assert {h.id: (h.status, h.captured) for h in ledger.holds} == expected
        last = ledger.last_at
        for hold_id, (status, _) in expected.items():
            error = {
                "captured": errors.HoldAlreadyResolved,
                "released": errors.HoldAlreadyResolved,
                "timed_out": errors.HoldExpired,
                "open": None,
            }[status]
            if error is not None:
                with pytest.raises(error, match=hold_id):
                    ledger.capture("x", at=last, hold=hold_id)
        with pytest.raises(errors.UnknownHold):
            ledger.release("x", at=last, hold="e1")  # an earn, not a hold


def test_a_v1_event_whose_type_is_not_a_string_is_invalid_data() -> None:
    import json
    from pathlib import Path

    from loyaltycore.errors import InvalidData

    doc = json.loads((Path(__file__).parent / "golden" / "points_ledger_v1.json").read_text())
    doc = doc if doc.get("schema") else next(iter(doc.values()))
    doc["data"]["events"][1]["type"] = ["Earned"]
    with pytest.raises(InvalidData):
        serialize.from_data(doc)

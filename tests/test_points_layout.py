"""The engine's seams: every event type brings its record, handler and description.

A new command is one event class (its fields, its record layout ``_record``
and its statement line ``_line``), one handler registered with
``@handles`` in ``points._commands``, and its public method. These tests
fail when a type misses one of them.
"""

from __future__ import annotations

import linecache
import traceback
from datetime import UTC, datetime, timedelta
from typing import Any

import attrs
import pytest

from loyaltycore.points import ExpireAfter, PointsLedger, merge, transfer
from loyaltycore.points import _replay as replay_module
from loyaltycore.points._commands import HANDLERS, State
from loyaltycore.points._records import _READ, _SKIP, _SPECS, CODE
from loyaltycore.points._state import instant
from loyaltycore.points._values import EVENT_TYPES, Opened

T0 = datetime(2024, 3, 1, 9, tzinfo=UTC)
DAY = timedelta(days=1)
COMMANDS = [cls for cls in EVENT_TYPES if cls is not Opened and not cls.derived]
RECORDED = [cls for cls in EVENT_TYPES if cls is not Opened]


def _every_kind() -> list[PointsLedger]:
    """Ledgers whose histories hold every event type between them."""
    led = PointsLedger.open("m-1", tz="UTC", policy=ExpireAfter(days=30))
    led = led.earn("e1", at=T0, points=100)
    led = led.earn("e2", at=T0, points=50, available_at=T0 + 2 * DAY, source="bonus")
    led = led.redeem("r1", at=T0 + DAY, points=30)
    led = led.hold("h1", at=T0 + DAY, points=10, deadline=T0 + 2 * DAY)
    led = led.capture("c1", at=T0 + DAY, hold="h1", points=5)
    led = led.hold("h2", at=T0 + DAY, points=10, deadline=T0 + 2 * DAY)
    led = led.release("x2", at=T0 + DAY, hold="h2")
    led = led.hold("h3", at=T0 + DAY, points=10, deadline=T0 + 2 * DAY)
    led = led.reverse("v1", at=T0 + DAY, of="r1", points=10)
    led = led.adjust("a1", at=T0 + DAY, points=-5, reason="fix")
    led = led.earn("e3", at=T0 + 3 * DAY, points=20)
    led = led.reverse("v2", at=T0 + 3 * DAY, of="e1")  # (debt, repaid later)
    led = led.earn("e4", at=T0 + 4 * DAY, points=500)
    led, friend = transfer(
        led, PointsLedger.open("m-2", tz="UTC"), "t1", at=T0 + 4 * DAY, points=7
    )
    merged = merge(
        friend,
        PointsLedger.open("m-3", tz="UTC").earn("d1", at=T0, points=3),
        "g1",
        at=T0 + 4 * DAY,
    )
    led = led.expire(as_of=T0 + 60 * DAY)
    owing = PointsLedger.open("m-4", tz="UTC").earn("o1", at=T0, points=10)
    owing = owing.redeem("o2", at=T0, points=10).reverse("o3", at=T0, of="o1")
    owing = owing.earn("o4", at=T0 + DAY, points=20)  # (repays the debt)
    return [led, merged, owing]


def test_every_event_type_has_a_record_spec_of_one_letter_a_field() -> None:
    for cls in RECORDED:
        spec = cls.__dict__.get("_record")
        assert spec, f"{cls.__name__} has no record layout of its own"
        assert _SPECS[cls] == spec
        assert len(spec) == len(attrs.fields(cls)), cls.__name__
        assert _READ[CODE[cls]][0] is cls


def test_every_command_type_has_exactly_one_handler_of_the_state() -> None:
    assert sorted(HANDLERS, key=CODE.__getitem__) == COMMANDS
    for cls, (handler, inputs) in HANDLERS.items():
        assert getattr(State, handler.__name__) is handler, cls.__name__
        event = next(ev for led in _every_kind() for ev in led.events if type(ev) is cls)
        assert inputs(event) == (event.id, *(getattr(event, name) for name in cls.inputs))


def test_every_event_type_describes_itself_in_a_statement_line() -> None:
    seen = set()
    for led in _every_kind():
        for event in led.events:
            assert "_line" in type(event).__dict__, type(event).__name__
            ident, text = event._line(UTC)
            assert type(ident) is str
            assert type(text) is str
            assert text
            seen.add(type(event))
    assert seen == set(EVENT_TYPES)  # (the scenario covers them all)


@pytest.mark.parametrize("cls", RECORDED, ids=lambda cls: cls.__name__)
def test_a_traceback_through_generated_code_names_a_file_with_its_lines(cls: Any) -> None:
    _, read, _ = _READ[CODE[cls]]
    code = CODE[cls]  # (no flag set: every optional field present, and the record runs out)
    with pytest.raises(IndexError) as info:
        read([code], 0, (), "x", [], [], instant)
    last = traceback.extract_tb(info.value.__traceback__)[-1]
    assert last.filename == read.__code__.co_filename
    assert last.filename.startswith(f"<loyaltycore points reader {cls.__name__} ")
    assert last.line
    assert last.line in linecache.getline(last.filename, last.lineno)
    skip = _SKIP[CODE[cls]]
    assert linecache.getline(skip.__code__.co_filename, 1).startswith("def s(")


def test_replay_checks_a_plain_history_in_one_comparison(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*args: object) -> None:
        raise AssertionError("the event-by-event check ran")

    ledgers = _every_kind()
    monkeypatch.setattr(replay_module, "_first_difference", fail)
    for led in ledgers:
        assert PointsLedger.replay(led.events) == led

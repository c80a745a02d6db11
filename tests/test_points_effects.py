"""Points ledger: lot sources and values, recorded effects, replay modes and the audit."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loyaltycore import errors, serialize
from loyaltycore.points import (
    TZDATA,
    Difference,
    Earned,
    ExpireAfter,
    ExpireOnInactivity,
    PointsLedger,
    Redeemed,
    merge,
    transfer,
)

T0 = datetime(2024, 3, 30, 12, tzinfo=UTC)


def _ledger(policy: Any = None) -> PointsLedger:
    return PointsLedger.open("m-1", tz="Europe/Berlin", policy=policy or ExpireAfter(months=12))


# -- sources and values ----------------------------------------------------------


def test_a_lot_keeps_its_source_and_value_and_a_redemption_names_what_it_consumed() -> None:
    led = _ledger().earn("e1", at=T0, points=100, value_per_point=Decimal("0.01"))
    led = led.earn("b1", at=T0, points=50, source="bonus", value_per_point="0.005")
    led = led.earn("p1", at=T0, points=30, source="airline-x")
    assert [(lot.source, lot.value_per_point) for lot in led.lots] == [
        ("purchase", Decimal("0.01")),
        ("bonus", Decimal("0.005")),
        ("airline-x", None),
    ]
    led = led.redeem("r1", at=T0, points=160)
    last = led.events[-1]
    assert isinstance(last, Redeemed)
    assert last.sources == (("purchase", 100), ("bonus", 50), ("airline-x", 10))
    line = led.statement(T0, T0 + timedelta(days=1)).lines[-1]
    assert line.text == "redeemed r1 [purchase 100, bonus 50, airline-x 10]"
    assert PointsLedger.replay(led.events) == led
    assert serialize.from_data(serialize.to_data(led)) == led
    assert PointsLedger.from_state(led.state()) == led


def test_transfers_merges_and_credits_keep_or_name_the_source() -> None:
    friend = PointsLedger.open("m-2", tz="Europe/Berlin").earn(
        "f1", at=T0, points=40, source="referral", value_per_point=1
    )
    _, led = transfer(friend, _ledger(), "t1", at=T0, points=25)
    dup = PointsLedger.open("m-3", tz="Europe/Berlin")
    dup = dup.earn("d1", at=T0, points=5, source="partner")
    led = merge(led, dup, "g1", at=T0).adjust("a1", at=T0, points=7, reason="sorry")
    assert [(lot.id, lot.source, lot.value_per_point) for lot in led.lots] == [
        ("t1#0", "referral", Decimal(1)),
        ("g1/d1", "partner", None),
        ("a1", "adjustment", None),
    ]
    assert PointsLedger.replay(led.events) == led
    assert PointsLedger.from_state(led.state()) == led


BAD_SOURCES = [
    ("", errors.InvalidArgument),
    ("   ", errors.InvalidArgument),
    (3, errors.InvalidType),
    (None, errors.InvalidType),
]
BAD_VALUES = [
    (-1, errors.InvalidAmount),
    ("NaN", errors.InvalidAmount),
    ("Infinity", errors.InvalidAmount),
    (Decimal("-0.5"), errors.InvalidAmount),
    (0.5, errors.InvalidType),
    ("x", errors.InvalidAmount),
]


@pytest.mark.parametrize(("value", "error"), BAD_SOURCES)
def test_a_bad_source_is_refused_naming_it(value: Any, error: type[Exception]) -> None:
    led = _ledger()
    with pytest.raises(error) as info:
        led.earn("e1", at=T0, points=10, source=value)
    assert info.value.field == "source"  # type: ignore[attr-defined]
    assert led.events == _ledger().events


@pytest.mark.parametrize(("value", "error"), BAD_VALUES)
def test_a_bad_value_per_point_is_refused_naming_it(value: Any, error: type[Exception]) -> None:
    with pytest.raises(error) as info:
        _ledger().earn("e1", at=T0, points=10, value_per_point=value)
    assert info.value.field == "value_per_point"  # type: ignore[attr-defined]
    assert repr(value) in str(info.value) or str(value) in str(info.value)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(1, 50), st.sampled_from(["purchase", "bonus", "mine", "partner"])),
        min_size=1,
        max_size=12,
    ),
    st.data(),
)
def test_the_sources_of_a_redemption_sum_to_its_points(
    earns: list[tuple[int, str]], data: st.DataObject
) -> None:
    led = _ledger()
    for k, (points, source) in enumerate(earns):
        led = led.earn(f"e{k}", at=T0 + timedelta(hours=k), points=points, source=source)
    total = sum(points for points, _ in earns)
    spend = data.draw(st.integers(1, total))
    led = led.redeem("r", at=T0 + timedelta(days=1), points=spend)
    last = led.events[-1]
    assert isinstance(last, Redeemed)
    assert sum(points for _, points in last.sources) == spend
    by_lot = {lot.id: lot.source for lot in led.lots}
    expected: list[tuple[str, int]] = []
    for lot_id, points in last.lots:  # in consumption order, adjacent sources summed
        if expected and expected[-1][0] == by_lot[lot_id]:
            expected[-1] = (by_lot[lot_id], expected[-1][1] + points)
        else:
            expected.append((by_lot[lot_id], points))
    assert last.sources == tuple(expected)
    assert PointsLedger.replay(led.events) == led


# -- recorded effects --------------------------------------------------------------


def test_an_earn_records_its_expiry_and_the_history_its_zone_data() -> None:
    led = _ledger().earn("e1", at=T0, points=10)
    assert led.events[0].tzdata == TZDATA  # type: ignore[union-attr]
    earned = led.events[1]
    assert isinstance(earned, Earned)
    assert earned.expires_at is None  # (no explicit expiry was given)
    assert earned.lot_expires_at == led.lots[0].expires_at
    # 00:00 Berlin after 2025-03-30 falls after the spring change: 22:00 UTC
    assert earned.lot_expires_at == datetime(2025, 3, 30, 22, tzinfo=UTC)


def test_an_inactivity_policy_records_the_deadline_after_each_command() -> None:
    led = _ledger(ExpireOnInactivity(months=2)).earn("e1", at=T0, points=10)
    led = led.redeem("r1", at=T0 + timedelta(days=20), points=3)
    led = led.adjust("a1", at=T0 + timedelta(days=30), points=-2, reason="fix")
    deadlines = [getattr(ev, "inactivity_deadline", None) for ev in led.events[1:]]
    assert deadlines[0] is not None
    assert deadlines[0] < deadlines[1] == deadlines[2]
    assert PointsLedger.audit(led.events) == ()


def _moved(events: tuple[Any, ...], index: int, **changes: Any) -> tuple[Any, ...]:
    return (*events[:index], attrs.evolve(events[index], **changes), *events[index + 1 :])


def test_a_recorded_expiry_that_the_rules_give_differently_replays_as_recorded() -> None:
    # as if the history had been written under other zone rules: e1's expiry
    # is an hour later than the bundled zone data gives
    led = _ledger().earn("e1", at=T0, points=100).earn("e2", at=T0, points=50)
    rules = led.events[1].lot_expires_at  # type: ignore[union-attr]
    recorded = rules + timedelta(hours=1)
    history = _moved(led.events, 1, lot_expires_at=recorded)

    replayed = PointsLedger.replay(history)  # mode="recorded"
    assert replayed.lot("e1").expires_at == recorded
    # e2 expires under the rules, an hour before e1: between the two, 100 are left
    assert replayed.balance(as_of=rules + timedelta(minutes=30)).available == 100
    assert replayed.events == history

    assert PointsLedger.audit(history) == (Difference(1, "e1", "lot_expires_at", recorded, rules),)
    with pytest.raises(errors.InvalidData, match=r"lot_expires_at of 'e1' recorded"):
        PointsLedger.replay(history, mode="recompute")
    assert PointsLedger.replay(led.events, mode="recompute") == led


def test_an_audit_reports_each_difference_once_where_it_arises() -> None:
    policy = ExpireOnInactivity(months=2)
    led = _ledger(policy).earn("e1", at=T0, points=10).redeem("r1", at=T0, points=1)
    later = led.events[2].inactivity_deadline + timedelta(days=1)  # type: ignore[union-attr]
    history = _moved(led.events, 2, inactivity_deadline=later)
    found = PointsLedger.audit(history)
    assert [(d.index, d.event, d.field, d.recorded) for d in found] == [
        (2, "r1", "inactivity_deadline", later)
    ]
    assert PointsLedger.replay(history).events == history


def test_a_recorded_effect_that_cannot_be_is_invalid_data() -> None:
    led = _ledger().earn("e1", at=T0, points=10)
    history = _moved(led.events, 1, inactivity_deadline=T0 + timedelta(days=9))
    with pytest.raises(errors.InvalidData, match=r"\$\.events\[1\]"):
        PointsLedger.replay(history)


def test_a_bad_replay_mode_is_refused() -> None:
    with pytest.raises(errors.InvalidArgument, match="mode="):
        PointsLedger.replay(_ledger().events, mode="guess")  # type: ignore[arg-type]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(0, 400), min_size=1, max_size=8), st.integers(1, 3))
def test_histories_audit_clean_and_recompute_to_themselves(days: list[int], which: int) -> None:
    led = _ledger(ExpireOnInactivity(months=which))
    at = T0
    for k, day in enumerate(sorted(days)):
        at = T0 + timedelta(days=day)
        led = led.earn(f"e{k}", at=at, points=10)
    assert PointsLedger.audit(led.events) == ()
    assert PointsLedger.replay(led.events, mode="recompute") == led


def test_an_event_that_leaves_its_effects_out_has_them_derived() -> None:
    # (a history written by hand: the effects are derived, the events kept as given)
    led = _ledger(ExpireOnInactivity(months=2)).earn("e1", at=T0, points=10)
    led = led.redeem("r1", at=T0 + timedelta(days=1), points=4, reason="gift")
    bare = tuple(
        attrs.evolve(ev, lot_expires_at=None, inactivity_deadline=None)
        if isinstance(ev, Earned)
        else attrs.evolve(ev, inactivity_deadline=None)
        if isinstance(ev, Redeemed)
        else ev
        for ev in led.events
    )
    again = PointsLedger.replay(bare)
    assert again == led
    assert again.events == led.events  # (with the effects derived)
    assert PointsLedger.audit(bare) == ()
    assert PointsLedger.replay(bare, mode="recompute") == led


def test_a_hand_written_plain_earn_expires_under_the_policy() -> None:
    history = (_ledger().events[0], Earned("e1", T0, T0, 10))
    led = PointsLedger.replay(history)
    assert led.lots[0].expires_at == datetime(2025, 3, 30, 22, tzinfo=UTC)
    assert led.events[1].lot_expires_at == led.lots[0].expires_at  # type: ignore[union-attr]

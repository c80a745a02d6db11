"""Every kind of bad input to the points ledger, in one table.

Each row raises a specific ``LoyaltyError`` subclass whose message names the
argument and the value, and leaves the ledger unchanged.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
import pytest

from loyaltycore import errors, serialize
from loyaltycore._validate import check_int, check_points
from loyaltycore.points import (
    ExpireAfter,
    ExpireAtPeriodEnd,
    ExpireOnInactivity,
    PointsLedger,
    TransferredOut,
    event_to_data,
    merge,
    transfer,
)

T0 = datetime(2024, 1, 10, 12, tzinfo=UTC)
NAIVE = datetime(2024, 1, 10, 12)
#: Late in the last year a datetime holds: expiry dates derived from it fall beyond it.
Y9999 = datetime(9999, 6, 1, tzinfo=UTC)


def base() -> PointsLedger:
    led = PointsLedger.open("m-1", policy=ExpireAfter(months=12)).earn("e1", at=T0, points=100)
    led = led.redeem("r1", at=T0, points=10)
    return led.hold("h1", at=T0, points=20, deadline=T0 + timedelta(hours=1))


OTHER = PointsLedger.open("m-2").earn("x1", at=T0, points=5)
OTHER_HOLD = OTHER.hold("hx", at=T0, points=1, deadline=T0 + timedelta(hours=1)).holds[0]

Call = Callable[[PointsLedger], Any]
CASES: list[tuple[str, Call, type[Exception], str]] = [
    ("float points", lambda x: x.earn("e", at=T0, points=5.0), errors.InvalidType, "points=5.0"),
    ("bool points", lambda x: x.earn("e", at=T0, points=True), errors.InvalidType, "points=True"),
    (
        "Decimal points",
        lambda x: x.redeem("e", at=T0, points=Decimal(5)),
        errors.InvalidType,
        "points=Decimal('5')",
    ),
    ("str points", lambda x: x.earn("e", at=T0, points="5"), errors.InvalidType, "points='5'"),
    ("zero points", lambda x: x.earn("e", at=T0, points=0), errors.InvalidPoints, "points=0"),
    ("negative", lambda x: x.redeem("e", at=T0, points=-5), errors.InvalidPoints, "points=-5"),
    (
        "zero adjust",
        lambda x: x.adjust("a", at=T0, points=0, reason="r"),
        errors.InvalidPoints,
        "points=0",
    ),
    ("naive at", lambda x: x.earn("e", at=NAIVE, points=5), errors.NaiveDatetime, "at="),
    (
        "naive occurred_at",
        lambda x: x.earn("e", at=T0, occurred_at=NAIVE, points=5),
        errors.NaiveDatetime,
        "occurred_at=",
    ),
    (
        "occurred after at",
        lambda x: x.earn("e", at=T0, occurred_at=T0 + timedelta(seconds=1), points=5),
        errors.InvalidTime,
        "occurred_at=",
    ),
    ("str at", lambda x: x.earn("e", at="2024-01-10", points=5), errors.InvalidType, "at="),
    ("empty id", lambda x: x.earn("", at=T0, points=5), errors.InvalidArgument, "id=''"),
    ("blank id", lambda x: x.earn("  ", at=T0, points=5), errors.InvalidArgument, "id='  '"),
    ("int id", lambda x: x.earn(7, at=T0, points=5), errors.InvalidType, "id=7"),
    (
        "empty reason",
        lambda x: x.adjust("a", at=T0, points=5, reason=""),
        errors.InvalidArgument,
        "reason=''",
    ),
    (
        "unknown hold",
        lambda x: x.capture("c", at=T0, hold="nope"),
        errors.UnknownHold,
        "hold='nope'",
    ),
    (
        "foreign hold",
        lambda x: x.release("c", at=T0, hold=OTHER_HOLD),
        errors.ForeignHold,
        "hold='hx'",
    ),
    (
        "unknown event",
        lambda x: x.reverse("f", at=T0, of="nope"),
        errors.UnknownEvent,
        "of='nope'",
    ),
    (
        "reverse a hold",
        lambda x: x.reverse("f", at=T0, of="h1"),
        errors.InvalidArgument,
        "of='h1'",
    ),
    (
        "over-reversal",
        lambda x: x.reverse("f", at=T0, of="e1", points=101),
        errors.OverReversal,
        "points=101",
    ),
    (
        "over-cancel",
        lambda x: x.reverse("f", at=T0, of="r1", points=11),
        errors.OverReversal,
        "points=11",
    ),
    (
        "over-capture",
        lambda x: x.capture("c", at=T0, hold="h1", points=21),
        errors.OverCapture,
        "points=21",
    ),
    (
        "insufficient",
        lambda x: x.redeem("r", at=T0, points=71),
        errors.InsufficientPoints,
        "points=71",
    ),
    (
        "out of order",
        lambda x: x.earn("e", at=T0 - timedelta(days=1), points=5),
        errors.OutOfOrder,
        "at=",
    ),
    (
        "deadline before at",
        lambda x: x.hold("h", at=T0, points=1, deadline=T0),
        errors.InvalidTime,
        "deadline=",
    ),
    (
        "idempotency conflict",
        lambda x: x.earn("e1", at=T0, points=99),
        errors.IdempotencyConflict,
        "points=100",
    ),
    (
        "same member transfer",
        lambda x: transfer(x, x, "t", at=T0, points=1),
        errors.SameMember,
        "dst='m-1'",
    ),
    ("same member merge", lambda x: merge(x, x, "g", at=T0), errors.SameMember, "duplicate='m-1'"),
    (
        "bad zone",
        lambda x: PointsLedger.open("m", tz="Mars/Base"),
        errors.InvalidArgument,
        "tz='Mars/Base'",
    ),
    (
        "bad policy",
        lambda x: PointsLedger.open("m", policy="12 months"),
        errors.InvalidType,
        "policy='12 months'",
    ),
    (
        "bad debt policy",
        lambda x: PointsLedger.open("m", debt_policy="lenient"),
        errors.InvalidArgument,
        "debt_policy='lenient'",
    ),
    (
        "negative grace",
        lambda x: x.reverse("f", at=T0, of="r1", grace_days=-1),
        errors.InvalidArgument,
        "grace_days=-1",
    ),
    (
        "numpy bool points",
        lambda x: x.earn("e", at=T0, points=np.True_),
        errors.InvalidType,
        "points=",
    ),
    (
        "numpy float points",
        lambda x: x.redeem("e", at=T0, points=np.float64(5.0)),
        errors.InvalidType,
        "points=",
    ),
    (
        "numpy bool adjust",
        lambda x: x.adjust("a", at=T0, points=np.False_, reason="r"),
        errors.InvalidType,
        "points=",
    ),
    (
        "numpy float grace",
        lambda x: x.reverse("f", at=T0, of="r1", grace_days=np.float32(2)),
        errors.InvalidType,
        "grace_days=",
    ),
    (
        "numpy negative points",
        lambda x: x.hold("h", at=T0, points=np.int64(-3), deadline=T0 + timedelta(hours=1)),
        errors.InvalidPoints,
        "points=-3",
    ),
    (
        "expiry beyond year 9999",
        lambda x: x.earn("e", at=Y9999, points=5),
        errors.InvalidTime,
        "at=9999-06-01T00:00:00+00:00",
    ),
    (
        "late claim beyond year 9999",
        lambda x: x.earn("e", at=Y9999, occurred_at=Y9999 - timedelta(days=1), points=5),
        errors.InvalidTime,
        "occurred_at=9999-05-31T00:00:00+00:00",
    ),
    (
        "credit beyond year 9999",
        lambda x: x.adjust("a", at=Y9999, points=5, reason="r"),
        errors.InvalidTime,
        "at=9999-06-01",
    ),
    (
        "transfer in beyond year 9999",
        lambda x: transfer(OTHER, x, "t", at=Y9999, points=5, keep_expiry=False),
        errors.InvalidTime,
        "at=9999-06-01",
    ),
    (
        "grace beyond any date",
        lambda x: x.reverse("f", at=T0, of="r1", grace_days=10**7),
        errors.InvalidArgument,
        "grace_days=10000000",
    ),
]


@pytest.mark.parametrize(("label", "call", "error", "named"), CASES, ids=[c[0] for c in CASES])
def test_bad_input_raises_specific_error_and_changes_nothing(
    label: str, call: Call, error: type[Exception], named: str
) -> None:
    led = base()
    before = (led.events, led.lots, led.holds, led.balance())
    with pytest.raises(error) as info:
        call(led)
    assert isinstance(info.value, errors.LoyaltyError)
    assert named in str(info.value)
    assert (led.events, led.lots, led.holds, led.balance()) == before


INACTIVE = PointsLedger.open("m-5", policy=ExpireOnInactivity(months=1))
INACTIVE = INACTIVE.earn("e1", at=datetime(9999, 11, 20, tzinfo=UTC), points=100)
SPENT = PointsLedger.open("m-8", policy=ExpireAfter(days=10)).earn("e1", at=T0, points=100)
SPENT = SPENT.redeem("r1", at=T0, points=40).expire(as_of=T0 + timedelta(days=20))

#: Bad input needing another ledger than ``base()``: (label, ledger, call, error, named).
MORE: list[tuple[str, PointsLedger, Call, type[Exception], str]] = [
    (
        "inactivity deadline beyond year 9999, earn",
        INACTIVE,
        lambda x: x.earn("e2", at=datetime(9999, 12, 5, tzinfo=UTC), points=5),
        errors.InvalidTime,
        "at=9999-12-05T00:00:00+00:00",
    ),
    (
        "inactivity deadline beyond year 9999, redeem",
        INACTIVE,
        lambda x: x.redeem("r1", at=datetime(9999, 12, 5, tzinfo=UTC), points=5),
        errors.InvalidTime,
        "at=9999-12-05T00:00:00+00:00",
    ),
    (
        "period end beyond year 9999",
        PointsLedger.open("m-6", tz="Asia/Tokyo", policy=ExpireAtPeriodEnd("year", 0)),
        lambda x: x.earn("e1", at=datetime(9999, 12, 31, 14, tzinfo=UTC), points=5),
        errors.InvalidTime,
        "at=9999-12-31T14:00:00+00:00",
    ),
    (
        "grace lot beyond year 9999",
        SPENT,
        lambda x: x.reverse("k1", at=T0 + timedelta(days=20), of="r1", grace_days=3_000_000),
        errors.InvalidTime,
        "grace_days=3000000",
    ),
    (
        "local date beyond year 9999",
        PointsLedger.open("m-7", tz="Asia/Tokyo"),
        lambda x: x.earn("e1", at=datetime(9999, 12, 31, 20, tzinfo=UTC), points=5),
        errors.InvalidTime,
        "at=9999-12-31T20:00:00+00:00",
    ),
]


@pytest.mark.parametrize(
    ("label", "ledger", "call", "error", "named"), MORE, ids=[c[0] for c in MORE]
)
def test_more_bad_input_raises_specific_error_and_changes_nothing(
    label: str, ledger: PointsLedger, call: Call, error: type[Exception], named: str
) -> None:
    before = (ledger.events, ledger.lots, ledger.holds, ledger.balance())
    with pytest.raises(error) as info:
        call(ledger)
    assert isinstance(info.value, errors.LoyaltyError)
    assert named in str(info.value)
    assert info.value.field == named.split("=")[0]
    assert (ledger.events, ledger.lots, ledger.holds, ledger.balance()) == before


# -- expiry policies -----------------------------------------------------------

POLICIES: list[tuple[str, Callable[[], Any], type[Exception], str]] = [
    ("days beyond any date", lambda: ExpireAfter(days=10**9), errors.InvalidRule, "days"),
    ("days one too many", lambda: ExpireAfter(days=3_652_058), errors.InvalidRule, "days"),
    ("months beyond any date", lambda: ExpireAfter(months=10**6), errors.InvalidRule, "months"),
    ("months one too many", lambda: ExpireAfter(months=119_988), errors.InvalidRule, "months"),
    (
        "inactivity months",
        lambda: ExpireOnInactivity(months=119_988),
        errors.InvalidRule,
        "months",
    ),
    (
        "years after",
        lambda: ExpireAtPeriodEnd("year", 9998),
        errors.InvalidRule,
        "periods_after",
    ),
    (
        "quarters after",
        lambda: ExpireAtPeriodEnd("quarter", 39_995),
        errors.InvalidRule,
        "periods_after",
    ),
    (
        "months after",
        lambda: ExpireAtPeriodEnd("month", 119_987),
        errors.InvalidRule,
        "periods_after",
    ),
    ("zero days", lambda: ExpireAfter(days=0), errors.InvalidArgument, "days"),
    ("bool months", lambda: ExpireAfter(months=True), errors.InvalidType, "months"),
    (
        "numpy bool months",
        lambda: ExpireOnInactivity(months=np.True_),
        errors.InvalidType,
        "months",
    ),
    ("float days", lambda: ExpireAfter(days=1.0), errors.InvalidType, "days"),
]


@pytest.mark.parametrize(
    ("label", "make", "error", "field"), POLICIES, ids=[c[0] for c in POLICIES]
)
def test_a_policy_that_cannot_give_a_date_is_refused_when_built(
    label: str, make: Callable[[], Any], error: type[Exception], field: str
) -> None:
    with pytest.raises(error) as info:
        make()
    assert info.value.field == field
    assert str(info.value).startswith(f"{field}=")


def test_the_largest_policies_give_an_expiry_from_the_first_day() -> None:
    from datetime import date

    first = datetime(1, 1, 1, tzinfo=UTC)
    largest = [
        (ExpireAfter(days=3_652_057), date(9999, 12, 30)),
        (ExpireAfter(months=119_987), date(9999, 12, 1)),
        (ExpireAtPeriodEnd("year", 9997), date(9998, 12, 31)),
        (ExpireAtPeriodEnd("quarter", 39_994), date(9999, 9, 30)),
        (ExpireAtPeriodEnd("month", 119_986), date(9999, 11, 30)),
    ]
    for policy, last in largest:
        assert policy.last_usable(date.min) == last
        led = PointsLedger.open("m-1", policy=policy).earn("e1", at=first, points=1)
        assert led.lots[0].expires_at == datetime.combine(last, datetime.min.time(), UTC) + (
            timedelta(days=1)
        )
    with pytest.raises(errors.InvalidTime, match="day=9999-12-02"):
        ExpireAfter(months=1).last_usable(date(9999, 12, 2))
    with pytest.raises(errors.InvalidTime, match="day=9999-12-02"):
        ExpireOnInactivity(months=1).deadline_usable(date(9999, 12, 2))


# -- integer arguments: Python and numpy integers, never bool ---------------------

INTS = [np.int64, np.int32, np.int16, np.int8, int]


@pytest.mark.parametrize("kind", INTS, ids=lambda k: k.__name__)
def test_every_integer_argument_takes_numpy_integers(kind: type[Any]) -> None:
    def run(n: Callable[[int], Any]) -> PointsLedger:
        policy = ExpireAfter(months=n(12))
        led = PointsLedger.open("m-1", policy=policy).earn("e1", at=T0, points=n(100))
        led = led.redeem("r1", at=T0, points=n(10))
        led = led.hold("h1", at=T0, points=n(20), deadline=T0 + timedelta(hours=1))
        led = led.capture("c1", at=T0, hold="h1", points=n(15))
        led = led.reverse("k1", at=T0, of="r1", points=n(5), grace_days=n(3))
        led = led.reverse("f1", at=T0, of="e1", points=n(7))
        led = led.adjust("a1", at=T0, points=n(-4), reason="fix")
        led = led.adjust("a2", at=T0, points=n(4), reason="fix")
        led, _ = transfer(led, PointsLedger.open("m-2"), "t1", at=T0, points=n(6))
        return led

    plain = run(int)
    numpy_built = run(kind)
    assert numpy_built == plain
    assert serialize.dumps(numpy_built) == serialize.dumps(plain)
    for event in numpy_built.events[1:]:
        assert type(getattr(event, "points", 0)) in (int, type(None))
    assert type(numpy_built.policy.months) is int  # type: ignore[union-attr]
    assert numpy_built.earn("e1", at=T0, points=kind(100)) is numpy_built  # a retry


def test_policies_keep_python_ints() -> None:
    assert ExpireAfter(days=np.int64(30)) == ExpireAfter(days=30)
    assert type(ExpireOnInactivity(months=np.int16(6)).months) is int
    assert type(ExpireAtPeriodEnd("month", np.uint8(2)).periods_after) is int


@pytest.mark.parametrize("value", [np.int64(7), np.uint32(7), np.int8(7), 7])
def test_shared_integer_checks_take_numpy_integers(value: Any) -> None:
    assert check_int(value, "n") == 7
    assert type(check_int(value, "n")) is int
    assert check_points(value) == 7
    assert type(check_points(value)) is int


@pytest.mark.parametrize(
    "value", [True, np.True_, 7.0, np.float64(7), Decimal(7), "7", np.array([7]), None]
)
def test_shared_integer_checks_refuse_what_is_not_an_integer(value: Any) -> None:
    with pytest.raises(errors.InvalidType, match=r"^n="):
        check_int(value, "n")
    with pytest.raises(errors.InvalidType, match=r"^points="):
        check_points(value)


def test_shared_integer_check_bounds() -> None:
    with pytest.raises(errors.InvalidArgument, match=r"^n=9 must be <= 8"):
        check_int(np.int64(9), "n", maximum=8)
    with pytest.raises(errors.InvalidRule, match=r"^n=0 must be >= 1"):
        check_int(0, "n", minimum=1, error=errors.InvalidRule)


# -- histories holding another member's events ---------------------------------


def _histories() -> list[tuple[str, tuple[Any, ...], str]]:
    mine = PointsLedger.open("m-1").earn("e1", at=T0, points=100)
    theirs = PointsLedger.open("m-2").earn("x1", at=T0, points=50)
    sent, received = transfer(mine, theirs, "t1", at=T0, points=10)
    _, sent_back = transfer(theirs, mine, "t2", at=T0, points=10)
    merged = merge(theirs, mine, "g1", at=T0)
    return [
        (
            "receiver's transfer in the sender's history",
            mine.events + received.events[-1:],
            r"TransferredIn id='t1' from member 'm-1' cannot be in the history of "
            r"member 'm-1'.* @ \$.events\[2\]",
        ),
        (
            "sender's transfer in the receiver's history",
            theirs.events + sent.events[-1:],
            r"TransferredOut id='t1' to member 'm-2' cannot be in the history of "
            r"member 'm-2'.* @ \$.events\[2\]",
        ),
        (
            "merge into the duplicate's own history",
            mine.events + merged.events[-1:],
            r"Merged id='g1' from member 'm-1' cannot be in the history of "
            r"member 'm-1'.* @ \$.events\[2\]",
        ),
        (
            "another member's Opened",
            mine.events + theirs.events,
            r"Opened of member 'm-2' inside the history of member 'm-1' @ \$.events\[2\]",
        ),
        (
            "its own Opened again",
            sent_back.events + mine.events[:1],
            r"Opened of member 'm-1' inside the history of member 'm-1' @ \$.events\[3\]",
        ),
    ]


HISTORIES = _histories()


@pytest.mark.parametrize(("label", "events", "named"), HISTORIES, ids=[h[0] for h in HISTORIES])
def test_replay_refuses_another_members_event(
    label: str, events: tuple[Any, ...], named: str
) -> None:
    with pytest.raises(errors.InvalidData, match=named):
        PointsLedger.replay(events)
    doc = serialize.to_data(PointsLedger.open("m-0"))
    doc["data"]["events"] = [event_to_data(ev) for ev in events]
    with pytest.raises(errors.InvalidData, match=named.replace(r"\$.events", r"\$.data.events")):
        serialize.from_data(doc)


def test_an_event_naming_another_member_is_still_accepted_where_it_belongs() -> None:
    event = TransferredOut("t1", T0, T0, "m-2", 10, lots=(("e1", 10),))
    mine = PointsLedger.open("m-1").earn("e1", at=T0, points=100)
    assert PointsLedger.replay((*mine.events, event)).balance().available == 90


def _doc() -> dict[str, Any]:
    return serialize.to_data(base())


def _set(path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    doc = copy.deepcopy(_doc())
    target: Any = doc
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return doc


def _drop(path: tuple[Any, ...]) -> dict[str, Any]:
    doc = copy.deepcopy(_doc())
    target: Any = doc
    for key in path[:-1]:
        target = target[key]
    del target[path[-1]]
    return doc


BAD_DATA = [
    ("unknown key", _set(("data", "events", 1, "bonus"), 1), "bonus"),
    ("float for int", _set(("data", "events", 1, "points"), 5.7), "5.7"),
    ("str for int", _set(("data", "events", 1, "points"), "5"), "'5'"),
    ("bool for int", _set(("data", "events", 1, "points"), True), "True"),
    ("naive datetime", _set(("data", "events", 1, "at"), "2024-01-10T12:00:00"), "offset"),
    ("unknown tag", _set(("data", "events", 1, "type"), "Gifted"), "events"),
    ("negative points", _set(("data", "events", 1, "points"), -5), "points=-5"),
    (
        "changed outcome",
        _set(("data", "events", 2, "lots"), [["e1", 9]]),
        "Redeemed does not follow from the events before it @ $.data.events[2]",
    ),
    ("unknown top key", _set(("data", "owner"), "x"), "owner"),
    ("unknown zone", _set(("data", "events", 0, "tz"), "Mars/Base"), "Mars/Base"),
    ("bad debt policy", _set(("data", "events", 0, "debt_policy"), "lenient"), "debt_policy"),
    (
        "missing debt policy",
        _drop(("data", "events", 0, "debt_policy")),
        "required field missing @ $.data.events[0].debt_policy",
    ),
    (
        "missing policy field",
        _drop(("data", "events", 0, "policy", "round_to")),
        "required field missing @ $.data.events[0].policy.round_to",
    ),
    ("missing reason", _drop(("data", "events", 1, "reason")), "events[1].reason"),
    ("missing type", _drop(("data", "events", 1, "type")), "missing @ $.data.events[1].type"),
    ("missing events", _drop(("data", "events")), "required field missing @ $.data.events"),
    (
        "events not a list",
        _set(("data", "events"), "x"),
        "'x' must be a list of events, not str @ $.data.events",
    ),
    ("event not an object", _set(("data", "events", 1), "junk"), "not str @ $.data.events[1]"),
    (
        "unknown policy",
        _set(("data", "events", 0, "policy", "type"), "Sometimes"),
        "type='Sometimes' must be one of",
    ),
    (
        "policy beyond any date",
        _set(("data", "events", 0, "policy", "months"), 10**6),
        "months=1000000 must be <= 119987 @ $.data.events[0].policy",
    ),
    ("missing lots", _drop(("data", "events", 2, "lots")), "events[2].lots"),
]


@pytest.mark.parametrize(("label", "doc", "named"), BAD_DATA, ids=[c[0] for c in BAD_DATA])
def test_malformed_plain_data_raises_invalid_data(
    label: str, doc: dict[str, Any], named: str
) -> None:
    with pytest.raises(errors.InvalidData) as info:
        serialize.from_data(doc)
    assert named in str(info.value)
    assert all(line.count(" @ $") <= 1 for line in str(info.value).splitlines())  # one path


def test_replay_refuses_a_history_that_does_not_follow() -> None:
    events = base().events
    with pytest.raises(errors.InvalidData, match="Opened"):
        PointsLedger.replay(events[1:])
    with pytest.raises(errors.InvalidData, match=r"more than the 0 available @ \$.events\[1\]"):
        PointsLedger.replay(events[:1] + events[2:])  # the redemption without its earn
    with pytest.raises(errors.InvalidData, match="not a points event"):
        PointsLedger.replay([*events, "junk"])  # type: ignore[list-item]

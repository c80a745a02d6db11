"""Every command checks its inputs: a bad one raises a LoyaltyError naming the field.

A failed command changes nothing (the account's snapshot is the same after it).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import attrs
import pytest

from loyaltycore.accounts import Account, Profile, Tender, example_program, merge, transfer
from loyaltycore.errors import (
    HoldAlreadyResolved,
    HoldExpired,
    IdempotencyConflict,
    InsufficientPoints,
    InvalidAmount,
    InvalidArgument,
    InvalidPoints,
    InvalidTime,
    InvalidType,
    LoyaltyError,
    NaiveDatetime,
    NotFound,
    OverCapture,
    OverReversal,
    SameMember,
    UnknownHold,
)
from loyaltycore.predicates import Item

P = example_program()
T = datetime(2024, 6, 3, 9, tzinfo=UTC)
NAIVE = datetime(2024, 6, 3, 9)
LATTE = Item("latte", "drinks", 1, "4.50")


def base() -> Account:
    a = Account.open("ann", program=P, at=T)
    a = a.adjust("a-0", at=T, points=500, reason="welcome").account
    a = a.order("o-1", at=T, lines=[LATTE, Item("cake", "food", 2, "3.00")]).account
    a = a.order("o-2", at=T, amount="20.00").account
    a = a.hold("h-1", at=T, points=100, deadline=T + timedelta(hours=1)).account
    a = a.hold("h-2", at=T, points=50, deadline=T + timedelta(hours=2)).account
    return a.release("x-2", at=T, hold="h-2").account


ORDER = {"id": "o-9", "at": T, "lines": [LATTE]}
LATER = T + timedelta(minutes=5)
HOUR = timedelta(hours=1)

Case = tuple[str, dict[str, Any], type[LoyaltyError], str]

CASES: list[Case] = [
    ("order", {"id": ""}, InvalidArgument, "id"),
    ("order", {"id": 7}, InvalidType, "id"),
    ("order", {"at": NAIVE}, NaiveDatetime, "at"),
    ("order", {"at": "2024-06-03"}, InvalidType, "at"),
    ("order", {"occurred_at": T + timedelta(seconds=1)}, InvalidTime, "occurred_at"),
    ("order", {"occurred_at": T - timedelta(days=1)}, InvalidTime, "occurred_at"),
    ("order", {"lines": "latte"}, InvalidType, "lines"),
    ("order", {"lines": [5]}, InvalidType, "lines[0]"),
    ("order", {"lines": ()}, InvalidArgument, "lines"),
    ("order", {"amount": "-1"}, InvalidAmount, "amount"),
    ("order", {"amount": 1.5}, InvalidType, "amount"),
    ("order", {"tenders": "cash"}, InvalidType, "tenders"),
    ("order", {"tenders": [("card", "4.50")]}, InvalidType, "tenders[0]"),
    ("order", {"tenders": [Tender("card", "1.00")]}, InvalidAmount, "tenders"),
    (
        "order",
        {"tenders": [Tender("points", "4.50", points=10_000)]},
        InsufficientPoints,
        "points",
    ),
    ("order", {"currency": "usd"}, InvalidArgument, "currency"),
    ("order", {"currency": "USD"}, InvalidArgument, "rate"),
    ("order", {"currency": "USD", "rate": "0"}, InvalidAmount, "rate"),
    ("order", {"currency": "USD", "rate": 0.9}, InvalidType, "rate"),
    ("order", {"rate": "2"}, InvalidArgument, "rate"),
    ("order", {"discount": "5.00"}, InvalidAmount, "discount"),
    ("order", {"discount": "-1"}, InvalidAmount, "discount"),
    ("order", {"channel": 3}, InvalidType, "channel"),
    ("order", {"store": ""}, InvalidArgument, "store"),
    ("order", {"attributes": [1]}, InvalidType, "attributes"),
    ("order", {"attributes": {"x": object()}}, InvalidType, "attributes.x"),
    ("refund", {"of": ""}, InvalidArgument, "of"),
    ("refund", {"of": "nope"}, NotFound, "of"),
    ("refund", {"of": "nope", "items": {"latte": 1}}, NotFound, "of"),
    ("refund", {"of": "o-1", "items": {"latte": 0}}, InvalidArgument, "items['latte']"),
    ("refund", {"of": "o-1", "items": {"latte": True}}, InvalidType, "items['latte']"),
    ("refund", {"of": "o-1", "items": {}}, InvalidArgument, "items"),
    ("refund", {"of": "o-1", "items": ["latte"]}, InvalidType, "items"),
    ("refund", {"of": "o-1", "items": {"tea": 1}}, NotFound, "refunded_items"),
    ("refund", {"of": "o-1", "items": {"latte": 2}}, InvalidArgument, "refunded_items"),
    ("refund", {"of": "o-1", "amount": "1.00"}, InvalidArgument, "amount"),
    ("refund", {"of": "o-2", "items": {"latte": 1}}, InvalidArgument, "items"),
    ("refund", {"of": "o-2", "amount": "21.00"}, InvalidArgument, "amount"),
    ("refund", {"of": "o-2", "amount": "-1"}, InvalidAmount, "amount"),
    ("refund", {"of": "o-1", "items": {"latte": 1}, "amount": "1"}, InvalidArgument, "amount"),
    ("redeem", {"points": 0}, InvalidPoints, "points"),
    ("redeem", {"points": True}, InvalidType, "points"),
    ("redeem", {"points": 10**6}, InsufficientPoints, "points"),
    ("redeem", {"points": 10, "reason": 5}, InvalidType, "reason"),
    ("redeem", {"points": 10, "at": NAIVE}, NaiveDatetime, "at"),
    ("hold", {"points": 10, "deadline": T}, InvalidTime, "deadline"),
    ("hold", {"points": 10, "deadline": NAIVE}, NaiveDatetime, "deadline"),
    ("hold", {"points": -1, "deadline": LATER + HOUR}, InvalidPoints, "points"),
    ("hold", {"points": 10**6, "deadline": LATER + HOUR}, InsufficientPoints, "points"),
    ("hold", {"id": "h-1", "points": 10, "deadline": LATER}, IdempotencyConflict, "deadline"),
    ("capture", {"hold": "nope"}, UnknownHold, "hold"),
    ("capture", {"hold": ""}, InvalidArgument, "hold"),
    ("capture", {"hold": "h-1", "points": 0}, InvalidPoints, "points"),
    ("capture", {"hold": "h-1", "points": 101}, OverCapture, "points"),
    ("capture", {"hold": "h-2"}, HoldAlreadyResolved, "hold"),
    ("capture", {"hold": "h-1", "at": T + timedelta(hours=1)}, HoldExpired, "hold"),
    ("release", {"hold": "nope"}, UnknownHold, "hold"),
    ("release", {"hold": 4}, InvalidType, "hold"),
    ("release", {"hold": "h-2"}, HoldAlreadyResolved, "hold"),
    ("adjust", {"points": 0, "reason": "x"}, InvalidPoints, "points"),
    ("adjust", {"points": 1.5, "reason": "x"}, InvalidType, "points"),
    ("adjust", {"points": 5, "reason": ""}, InvalidArgument, "reason"),
    ("adjust", {"points": -(10**6), "reason": "x"}, InsufficientPoints, "points"),
    ("award", {"points": 0, "reason": "x"}, InvalidPoints, "points"),
    ("award", {"points": 5, "reason": ""}, InvalidArgument, "reason"),
    ("award", {"points": 5, "reason": "x", "available_at": NAIVE}, NaiveDatetime, "available_at"),
    ("award", {"points": 5, "reason": "x", "expires_at": T}, InvalidTime, "expires_at"),
    ("expire", {"at": None, "as_of": NAIVE}, NaiveDatetime, "at"),
    ("expire", {"at": None, "id": "", "as_of": T}, InvalidArgument, "id"),
    ("review", {"at": NAIVE}, NaiveDatetime, "at"),
    ("review", {"id": None}, InvalidType, "id"),
    ("migrate", {"program": "coffee", "tier_map": {}}, InvalidType, "program"),
    ("migrate", {"program": "v2", "tier_map": {"silver": "silver"}}, InvalidArgument, "tier_map"),
    (
        "migrate",
        {"program": "v2", "tier_map": {"silver": "silver", "gold": "gold", "diamond": "black"}},
        NotFound,
        "tier",
    ),
    ("migrate", {"program": "v2", "tier_map": "silver"}, InvalidType, "tier_map"),
    ("migrate", {"program": "v1", "tier_map": "same"}, InvalidArgument, "program"),
]

FULL_MAP = {"silver": "silver", "gold": "gold", "diamond": "diamond"}


def call(account: Account, command: str, overrides: dict[str, Any]) -> Any:
    kwargs: dict[str, Any] = {"id": f"{command}-9", "at": LATER}
    if command == "order":
        kwargs.update(ORDER)
    kwargs.update(overrides)
    if kwargs.get("at") is None:
        kwargs.pop("at")
    if command == "migrate":
        kwargs["program"] = {"v2": attrs.evolve(P, version=2), "v1": P}.get(
            kwargs["program"], kwargs["program"]
        )
        if kwargs["tier_map"] == "same":
            kwargs["tier_map"] = FULL_MAP
    method: Callable[..., Any] = getattr(account, command)
    return method(**kwargs)


@pytest.fixture(scope="module")
def account() -> Account:
    return base()


@pytest.mark.parametrize(
    ("command", "overrides", "error", "field"),
    CASES,
    ids=[f"{c[0]}-{c[3]}-{i}" for i, c in enumerate(CASES)],
)
def test_a_bad_input_names_its_field_and_changes_nothing(
    account: Account,
    command: str,
    overrides: dict[str, Any],
    error: type[LoyaltyError],
    field: str,
) -> None:
    before = account.snapshot()
    with pytest.raises(error) as raised:
        call(account, command, overrides)
    assert isinstance(raised.value, LoyaltyError)
    assert getattr(raised.value, "field", None) == field, str(raised.value)
    assert account.snapshot() == before


def test_a_refunded_order_refuses_more() -> None:
    a = base().refund("f-1", at=T, of="o-1").account
    with pytest.raises(OverReversal) as raised:
        a.refund("f-2", at=T, of="o-1")
    assert raised.value.field == "of"  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("kwargs", "error", "field"),
    [
        ({"member": ""}, InvalidArgument, "member"),
        ({"program": None}, InvalidType, "program"),
        ({"at": NAIVE}, NaiveDatetime, "at"),
        ({"profile": "crm-1"}, InvalidType, "profile"),
    ],
)
def test_open_checks_its_inputs(
    kwargs: dict[str, Any], error: type[Exception], field: str
) -> None:
    args: dict[str, Any] = {"member": "ann", "program": P, "at": T, **kwargs}
    member = args.pop("member")
    with pytest.raises(error) as raised:
        Account.open(member, **args)
    assert raised.value.field == field  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("kwargs", "error", "field"),
    [
        ({"birthday": "1990-03-17"}, InvalidType, "birthday"),
        ({"segments": "vip"}, InvalidType, "segments"),
        ({"attributes": {"x": []}}, InvalidType, "attributes.x"),
        ({"ref": ""}, InvalidArgument, "ref"),
    ],
)
def test_a_profile_checks_its_facts(
    kwargs: dict[str, Any], error: type[Exception], field: str
) -> None:
    with pytest.raises(error) as raised:
        Profile(**kwargs)
    assert raised.value.field == field  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("kwargs", "error", "field"),
    [
        ({"points": 0}, InvalidPoints, "points"),
        ({"points": 10**6}, InsufficientPoints, "points"),
        ({"dst": "same"}, SameMember, "dst"),
        ({"dst": "bob-account"}, InvalidType, "dst"),
        ({"at": NAIVE}, NaiveDatetime, "at"),
    ],
)
def test_transfer_checks_its_inputs(
    account: Account, kwargs: dict[str, Any], error: type[Exception], field: str
) -> None:
    bob = Account.open("bob", program=P, at=T)
    args: dict[str, Any] = {"at": T, "points": 10, **kwargs}
    dst = {"same": account, "bob-account": "bob"}.get(args.pop("dst", ""), bob)
    before = (account.snapshot(), bob.snapshot())
    with pytest.raises(error) as raised:
        transfer(account, dst, "t-9", **args)  # type: ignore[arg-type]
    assert raised.value.field == field  # type: ignore[attr-defined]
    assert (account.snapshot(), bob.snapshot()) == before


@pytest.mark.parametrize(
    ("absorbed", "error", "field"),
    [
        ("same", SameMember, "absorbed"),
        ("v2", InvalidArgument, "absorbed"),
        ("held", InvalidArgument, "duplicate"),
    ],
)
def test_merge_checks_its_inputs(
    account: Account, absorbed: str, error: type[Exception], field: str
) -> None:
    other = {
        "same": account,
        "v2": Account.open("bob", program=attrs.evolve(P, version=2), at=T),
        "held": account.with_profile(None),
    }[absorbed]
    into = account if absorbed != "held" else Account.open("cy", program=P, at=T)
    if absorbed == "held":
        other = attrs.evolve(account, member="ann-2")
    with pytest.raises(error) as raised:
        merge(into, other, "g-9", at=T)
    assert raised.value.field == field  # type: ignore[attr-defined]


def test_a_merged_account_refuses_new_commands_but_answers_retries() -> None:
    a = base().release("x-1", at=T, hold="h-1").account
    (_, _), (gone, _) = merge(Account.open("cy", program=P, at=T), a, "g-1", at=T)
    with pytest.raises(InvalidArgument) as raised:
        gone.redeem("r-9", at=T, points=1)
    assert raised.value.field == "member"  # type: ignore[attr-defined]
    assert gone.release("x-1", at=T, hold="h-1").account is gone

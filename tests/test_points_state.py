"""The state document: ``from_state(state(l))`` is ``l``, for every command after.

Replay, state and snapshot-plus-tail must agree: a ledger restored from the
state of a prefix of its history, then given the rest of the commands,
equals the ledger that ran them all and the ledger replayed from its events.
"""

from __future__ import annotations

import base64
import json
import zlib
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loyaltycore import errors
from loyaltycore._packed import pack_ints, pack_texts, unpack_ints, unpack_texts
from loyaltycore.points import (
    ExpireAfter,
    ExpireOnInactivity,
    NeverExpire,
    PointsLedger,
    merge,
    transfer,
)
from loyaltycore.points._state import Deferred

T0 = datetime(2024, 1, 10, 12, tzinfo=UTC)

Command = tuple[str, int, int]
commands = st.lists(
    st.tuples(
        st.sampled_from(
            [
                "earn",
                "pending",
                "redeem",
                "hold",
                "capture",
                "release",
                "reverse",
                "cancel",
                "adjust",
                "expire",
                "in",
                "out",
                "merge",
            ]
        ),
        st.integers(1, 300),
        st.integers(0, 100),
    ),
    max_size=50,
)


def apply(ledger: PointsLedger, k: int, command: Command) -> PointsLedger:
    """Command ``k`` of a stream: an hour after the one before it."""
    kind, points, ref = command
    at = T0 + timedelta(hours=k)
    cid = f"c{k}"
    if kind == "earn":
        return ledger.earn(cid, at=at, points=points, reason="order" if ref % 2 else "")
    if kind == "pending":
        return ledger.earn(cid, at=at, points=points, available_at=at + timedelta(hours=ref))
    if kind == "redeem":
        return ledger.redeem(cid, at=at, points=points)
    if kind == "hold":
        return ledger.hold(cid, at=at, points=points, deadline=at + timedelta(hours=ref + 1))
    if kind in ("capture", "release"):
        holds = [h.id for h in ledger.holds]
        hold = holds[ref % len(holds)] if holds else "none"
        if kind == "capture":
            return ledger.capture(cid, at=at, hold=hold, points=points if ref % 2 else None)
        return ledger.release(cid, at=at, hold=hold)
    if kind in ("reverse", "cancel"):
        return ledger.reverse(cid, at=at, of=f"c{ref}", points=points if ref % 3 else None)
    if kind == "adjust":
        return ledger.adjust(cid, at=at, points=points if ref % 2 else -points, reason="fix")
    if kind == "expire":
        return ledger.expire(as_of=at + timedelta(days=ref))
    other = PointsLedger.open("m-2").earn(f"x{k}", at=at, points=400)
    if kind == "in":
        return transfer(other, ledger, cid, at=at, points=points)[1]
    if kind == "out":
        return transfer(ledger, other, cid, at=at, points=points)[0]
    return merge(ledger, other, cid, at=at)


def outcome(ledger: PointsLedger, k: int, command: Command) -> tuple[Any, PointsLedger]:
    try:
        after = apply(ledger, k, command)
    except errors.LoyaltyError as exc:
        return (type(exc), str(exc)), ledger
    return after.state(), after


def restored(ledger: PointsLedger, packed: bool = False) -> PointsLedger:
    return PointsLedger.from_state(json.loads(json.dumps(ledger.state(packed=packed))))


@settings(max_examples=60, deadline=None)
@given(
    commands,
    st.integers(0, 50),
    st.sampled_from([NeverExpire(), ExpireAfter(days=2), ExpireOnInactivity(months=1)]),
    st.booleans(),
)
def test_a_restored_ledger_behaves_identically_for_every_command(
    stream: list[Command], cut: int, policy: Any, packed: bool
) -> None:
    ledger = PointsLedger.open("m-1", tz="Europe/Berlin", policy=policy)
    cut = min(cut, len(stream))
    for k, command in enumerate(stream[:cut]):
        ledger = outcome(ledger, k, command)[1]
    snapshot = restored(ledger, packed)
    assert snapshot == ledger
    assert snapshot.events == ledger.events
    for k, command in enumerate(stream[cut:], start=cut):
        seen, ledger = outcome(ledger, k, command)
        again, snapshot = outcome(snapshot, k, command)
        assert again == seen
        assert snapshot == ledger
    replayed = PointsLedger.replay(ledger.events)
    assert replayed.state() == ledger.state() == snapshot.state()
    assert restored(replayed, not packed) == ledger


@pytest.mark.parametrize("packed", [False, True])
def test_a_long_ledger_round_trips(packed: bool) -> None:
    # Past the sizes where ids and lots move to their long-ledger storage.
    ledger = PointsLedger.open("m-1", policy=ExpireAfter(days=30))
    for k in range(300):
        ledger = ledger.earn(f"e{k}", at=T0 + timedelta(hours=k), points=50)
        if k % 4 == 0:
            ledger = ledger.redeem(f"r{k}", at=T0 + timedelta(hours=k), points=40)
    back = restored(ledger, packed)
    assert back == ledger
    assert back.events == ledger.events
    at = T0 + timedelta(hours=400)
    assert back.reverse("x", at=at, of="r8", points=3) == ledger.reverse(
        "x", at=at, of="r8", points=3
    )
    r8 = T0 + timedelta(hours=8)
    assert back.redeem("r8", at=r8, points=40) is back  # a retry: the same payload


def test_a_packed_document_is_smaller_and_reads_back_the_same() -> None:
    ledger = PointsLedger.open("m-1", policy=ExpireAfter(days=30))
    for k in range(300):
        ledger = ledger.earn(f"e{k}", at=T0 + timedelta(hours=k), points=50)
    plain, packed = ledger.state(), ledger.state(packed=True)
    assert len(json.dumps(packed)) * 3 < len(json.dumps(plain))
    assert PointsLedger.from_state(packed).state() == plain


def test_a_merged_list_of_lots_is_built_only_when_its_event_is_read() -> None:
    other = PointsLedger.open("m-2", policy=ExpireAfter(days=30))
    for k in range(200):
        other = other.earn(
            f"x{k}",
            at=T0 + timedelta(hours=k),
            points=10 + k,
            source="bonus" if k % 2 else "partner",
            value_per_point=Decimal("0.004") if k % 3 else None,
        )
    at = T0 + timedelta(days=20)
    ledger = merge(PointsLedger.open("m-1", policy=ExpireAfter(days=30)), other, "g1", at=at)
    ledger = ledger.earn("e1", at=at, points=5, reason="after the merge")
    doc = json.loads(json.dumps(ledger.state(packed=True)))
    merged = [x for _, x in doc["objs"]["lists"] if "merged_lots" in x]
    assert len(merged) == 1
    assert isinstance(merged[0]["merged_lots"]["points"], dict)
    back = PointsLedger.from_state(doc)
    later = at + timedelta(hours=1)
    # a command appending a value of its own leaves the deferred list deferred
    after = back.earn("e2", at=later, points=7, reason="later")
    assert any(type(x) is Deferred for x in list.__iter__(after._objs))
    assert after.balance() == ledger.earn("e2", at=later, points=7, reason="later").balance()
    assert after == ledger.earn("e2", at=later, points=7, reason="later")
    assert back.events == ledger.events
    assert {lot.source for lot in back.lots} == {"bonus", "partner", "purchase"}
    assert [(lot.source, lot.value_per_point) for lot in back.lots] == [
        (lot.source, lot.value_per_point) for lot in ledger.lots
    ]
    assert not any(type(x) is Deferred for x in list.__iter__(back._objs))
    assert after.state() == ledger.earn("e2", at=later, points=7, reason="later").state()


def _merged_ledger() -> PointsLedger:
    """A ledger that merged 40 lots, then earned after the merge."""
    other = PointsLedger.open("m-2")
    for k in range(40):
        other = other.earn(f"x{k}", at=T0 + timedelta(hours=k), points=10 + k)
    at = T0 + timedelta(days=5)
    ledger = merge(PointsLedger.open("m-1"), other, "g1", at=at)
    return ledger.earn("e1", at=at, points=5, reason="after the merge")


def test_a_restored_list_of_lots_is_written_back_packed_without_being_built() -> None:
    ledger = _merged_ledger()
    doc = json.loads(json.dumps(ledger.state(packed=True)))
    back = PointsLedger.from_state(doc)
    again = back.earn("e2", at=T0 + timedelta(days=6), points=3).state(packed=True)
    # the merged list is the document's own columns, not rebuilt, and still deferred
    assert [x for _, x in again["objs"]["lists"]] == [x for _, x in doc["objs"]["lists"]]
    assert any(type(x) is Deferred for x in list.__iter__(back._objs))
    # the document is the caller's: changing it changes nothing in the ledger
    again["objs"]["lists"][0][1]["merged_lots"]["points"]["deltas"] = "changed"
    assert back.state(packed=True)["objs"]["lists"] == doc["objs"]["lists"]
    assert back == ledger  # (equality builds it, once)
    assert not any(type(x) is Deferred for x in list.__iter__(back._objs))
    assert back.state(packed=True) == ledger.state(packed=True)


def test_a_bad_list_of_lots_is_refused_when_its_event_is_read() -> None:
    doc = _merged_ledger().state(packed=True)
    ((_, merged),) = doc["objs"]["lists"]
    merged["merged_lots"]["points"] = pack_ints([5])  # (40 lots, one points)
    back = PointsLedger.from_state(json.loads(json.dumps(doc)))
    assert back.balance().available == _merged_ledger().balance().available
    with pytest.raises(errors.InvalidData, match="differ in length"):
        _ = back.events
    with pytest.raises(errors.InvalidData, match="points ledger state"):
        back.state()
    # a packed document keeps it as it was: nothing is lost, nothing is made up
    assert back.state(packed=True)["objs"]["lists"] == doc["objs"]["lists"]


def _with_sources() -> PointsLedger:
    """A ledger whose redemptions consumed bonus and purchase lots (sources kept as values)."""
    ledger = PointsLedger.open("m-1")
    for k in range(30):
        at = T0 + timedelta(hours=k)
        source = "bonus" if k % 3 else "purchase"
        ledger = ledger.earn(f"e{k}", at=at, points=20, source=source)
        if k % 2:
            ledger = ledger.redeem(f"r{k}", at=at, points=15)
    return ledger


def test_the_sources_redemptions_consumed_pack_as_columns() -> None:
    ledger = _with_sources()
    doc = json.loads(json.dumps(ledger.state(packed=True)))
    columns = doc["objs"]["sources"]
    assert set(columns) == {"at", "count", "source", "points"}
    assert not any("sources" in x for _, x in doc["objs"]["lists"])
    back = PointsLedger.from_state(doc)
    waiting = [x for x in list.__iter__(back._objs) if type(x) is Deferred]
    assert len(waiting) > 5  # (built when read)
    assert len({id(x) for x in waiting}) == 1
    assert back == ledger
    assert back.events == ledger.events
    assert [e.sources for e in back.events if type(e).__name__ == "Redeemed"] == [
        e.sources for e in ledger.events if type(e).__name__ == "Redeemed"
    ]
    assert back.state(packed=True) == ledger.state(packed=True)


def test_a_packed_document_with_sources_in_its_lists_reads_the_same() -> None:
    # (as packed documents were written before the sources columns)
    ledger = _with_sources()
    plain = ledger.state()
    doc = ledger.state(packed=True)
    objs = plain["objs"]
    doc["objs"] = {
        "strs": doc["objs"]["strs"],
        "lists": [[i, x] for i, x in enumerate(objs) if type(x) is not str],
    }
    assert PointsLedger.from_state(json.loads(json.dumps(doc))) == ledger


def _sources_doc(**columns: Any) -> dict[str, Any]:
    doc = _with_sources().state(packed=True)
    doc["objs"]["sources"] = {**doc["objs"]["sources"], **columns}
    return doc


def _sources_without(key: str) -> dict[str, Any]:
    doc = _with_sources().state(packed=True)
    del doc["objs"]["sources"][key]
    return doc


def _doc() -> dict[str, Any]:
    ledger = PointsLedger.open("m-1").earn("e1", at=T0, points=100)
    return ledger.redeem("r1", at=T0, points=30, reason="gift").state()


def _packed_bytes(raw: bytes) -> dict[str, str]:
    return {"int64": base64.b64encode(zlib.compress(raw)).decode()}


BAD: list[tuple[str, Any]] = [
    ("not an object", []),
    ("missing key", {k: v for k, v in _doc().items() if k != "queue"}),
    ("unknown key", {**_doc(), "extra": 1}),
    ("other format", {**_doc(), "format": "points.PointsLedger"}),
    ("other version", {**_doc(), "version": 1}),
    ("floats", {**_doc(), "totals": [0.5] * 16}),
    ("bools", {**_doc(), "queue": [True]}),
    ("beyond int64", {**_doc(), "records": [2**70]}),
    ("lots cut short", {**_doc(), "lots": [1, 2, 3]}),
    ("queue names no lot", {**_doc(), "queue": [5]}),
    ("records without the commands", {**_doc(), "records": []}),
    ("repeated ids", {**_doc(), "command_ids": ["e1", "e1"]}),
    ("bad policy", {**_doc(), "policy": {"type": "Nope"}}),
    ("bad zone", {**_doc(), "tz": "Mars/Olympus"}),
    ("packed, not base64", {**_doc(), "lots": {"int64": "not base64!"}}),
    ("packed, not deflated", {**_doc(), "lots": {"int64": "AAAAAAAAAAA="}}),
    ("packed, other key", {**_doc(), "lots": {"int32": ""}}),
    ("packed, partial int", {**_doc(), "queue": _packed_bytes(b"\x00" * 7)}),
    ("packed, lots cut short", {**_doc(), "lots": _packed_bytes(b"\x00" * 24)}),
    ("packed lots, columns missing", {**_doc(), "objs": ["gift", {"merged_lots": {}}]}),
    (
        "packed lots, a column neither a list nor packed",
        {
            **_doc(),
            "objs": [
                "gift",
                {
                    "transfer_in": {
                        "points": 5,
                        "expires_at": [],
                        "source": [],
                        "value_per_point": [],
                    }
                },
            ],
        },
    ),
    (
        "packed lots, ints packed as texts",
        {
            **_doc(),
            "objs": [
                "gift",
                {
                    "transfer_in": {
                        "points": pack_texts(["5"]),
                        "expires_at": [],
                        "source": [],
                        "value_per_point": [],
                    }
                },
            ],
        },
    ),
    (
        "packed lots, lengths differ",
        {
            **_doc(),
            "objs": ["gift", {"transfer_in": {"points": [5], "expires_at": _packed_bytes(b"")}}],
        },
    ),
    ("packed ids, not texts", {**_doc(), "lot_ids": _packed_bytes(b"\xff\x00")}),
    ("packed ids, unterminated", {**_doc(), "lot_ids": {"texts": _packed_bytes(b"e1")["int64"]}}),
    ("packed objs, index twice", {**_doc(), "objs": {"strs": ["gift"], "lists": [[0, "x"]] * 2}}),
    ("packed objs, index out", {**_doc(), "objs": {"strs": [], "lists": [[3, "x"]]}}),
    ("sources, not pairs", {**_doc(), "objs": ["gift", {"sources": [["bonus", "5"]]}]}),
    ("sources, a bool", {**_doc(), "objs": ["gift", {"sources": [["bonus", True]]}]}),
    ("sources, a float", {**_doc(), "objs": ["gift", {"sources": [["bonus", 5.0]]}]}),
    ("sources, a list inside", {**_doc(), "objs": ["gift", {"sources": [["bonus", [5]]]}]}),
    ("sources, short", {**_doc(), "objs": ["gift", {"sources": [["bonus"]]}]}),
    ("sources, not a list", {**_doc(), "objs": ["gift", {"sources": "bonus"}]}),
    ("obj, two tags", {**_doc(), "objs": ["gift", {"sources": [], "decimal": "1"}]}),
    ("obj, unknown tag", {**_doc(), "objs": ["gift", {"points": 5}]}),
    ("value, not decimal", {**_doc(), "objs": ["gift", {"decimal": "lots"}]}),
    ("value, not text", {**_doc(), "objs": ["gift", {"decimal": 5}]}),
    ("packed objs, other keys", {**_doc(), "objs": {"strs": ["gift"]}}),
    ("packed sources, a column missing", _sources_without("points")),
    ("packed sources, not packed ints", _sources_doc(points=None)),
    ("packed sources, counts short", _sources_doc(count={"int64": _packed_bytes(b"")["int64"]})),
    (
        "packed sources, an index twice",
        _sources_doc(at=_packed_bytes((3).to_bytes(8, "little") * 2)),
    ),
    (
        "packed sources, indexes out of order",
        _sources_doc(
            at=pack_ints(unpack_ints(_sources_doc()["objs"]["sources"]["at"], "at")[::-1])
        ),
    ),
    (
        "packed sources, an index past objs",
        _sources_doc(
            at=pack_ints(unpack_ints(_sources_doc()["objs"]["sources"]["at"], "at") + 99)
        ),
    ),
    (
        "packed sources, an empty source",
        _sources_doc(
            source=pack_texts(
                ["", *unpack_texts(_sources_doc()["objs"]["sources"]["source"], "s")[1:]]
            )
        ),
    ),
]


@pytest.mark.parametrize(("name", "data"), BAD, ids=[name for name, _ in BAD])
def test_a_bad_state_document_raises_invalid_data(name: str, data: Any) -> None:
    with pytest.raises(errors.InvalidData, match="points ledger state"):
        PointsLedger.from_state(data)

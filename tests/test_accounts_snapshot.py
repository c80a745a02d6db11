"""The snapshot document: version 3 reads back with little work per item; 1 and 2 still load."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from loyaltycore import serialize
from loyaltycore._packed import pack_texts, unpack_texts
from loyaltycore.accounts import Account, example_program
from loyaltycore.errors import InvalidData
from loyaltycore.points import PointsLedger
from loyaltycore.predicates import Item

GOLDEN = Path(__file__).parent / "golden"
T = datetime(2024, 6, 3, 9, tzinfo=UTC)
P = example_program()
LATTE = Item("latte", "drinks", 1, "4.50")


def golden(name: str) -> Any:
    return json.loads((GOLDEN / name).read_text())


def busy() -> Account:
    """Five orders and five adjustments, an hour apart."""
    account = Account.open("ann", program=P, at=T)
    for k in range(5):
        at = T + timedelta(hours=2 * k + 1)
        account = account.order(f"o-{k}", at=at, lines=[LATTE]).account
        at += timedelta(hours=1)
        account = account.adjust(f"a-{k}", at=at, points=5, reason="visit").account
    return account


def plain(account: Account) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(json.dumps(account.snapshot()))
    return doc


def unpacked(doc: dict[str, Any]) -> dict[str, Any]:
    """A snapshot with its ledger state unpacked (deflated bytes may differ across zlib builds)."""
    data = {**doc["data"], "ledger": PointsLedger.from_state(doc["data"]["ledger"]).state()}
    for name in ("outcomes", "orders"):
        data[name] = by_id(data[name])
    return {**doc, "data": data}


def by_id(packed: dict[str, Any]) -> dict[str, str]:
    """A snapshot's outcomes or orders as an object of JSON texts by id."""
    ids = unpack_texts(packed["ids"], "ids")
    return dict(zip(ids, unpack_texts(packed["texts"], "texts"), strict=True))


def test_version_1_and_2_snapshots_restore_the_account_version_3_writes() -> None:
    v1, v2, v3 = (golden(f"accounts_v{k}.json") for k in (1, 2, 3))
    program = serialize.from_data(v1["program"])
    old = Account.restore(v1["snapshot"], programs=program)
    assert old == Account.restore(v2["snapshot"], programs=program)
    assert old == Account.restore(v3["snapshot"], programs=program)
    assert unpacked(plain(old)) == unpacked(v3["snapshot"])
    assert v3["snapshot"]["version"] == 3


def test_the_ledger_is_its_packed_state_and_restores_without_a_replay() -> None:
    account = busy()
    doc = plain(account)
    ledger = doc["data"]["ledger"]
    assert ledger["format"] == "points.LedgerState"
    assert set(ledger["records"]) == {"int64"}
    assert PointsLedger.from_state(ledger) == account.ledger
    assert Account.restore(doc, programs=P).ledger == account.ledger


def test_the_layout_is_rows_and_texts_by_id() -> None:
    account = busy()
    data = plain(account)["data"]
    assert data["activity"][0] == ["spend", "4.50", "2024-06-03T10:00:00+00:00", "o-0:spend", None]
    assert list(by_id(data["outcomes"])) == list(account.outcomes)
    assert json.loads(by_id(data["orders"])["o-1"])["id"] == "o-1"
    assert data["programs"] == [{"id": P.id, "version": P.version}]


def test_outcomes_are_read_when_their_id_is_first_looked_up() -> None:
    account = busy()
    doc = plain(account)
    doc["data"]["outcomes"] = by_id(doc["data"]["outcomes"])  # (the object form reads too)
    doc["data"]["outcomes"]["o-2"] = '{"id": "o-2"}'
    restored = Account.restore(doc, programs=P)  # (not read yet)
    later = restored.adjust("a-9", at=T + timedelta(days=1), points=1, reason="x").account
    assert (
        later.balance()
        == account.adjust("a-9", at=T + timedelta(days=1), points=1, reason="x").account.balance()
    )
    with pytest.raises(InvalidData, match=r"\$\.data\.outcomes\['o-2'\]"):
        restored.order("o-2", at=T + timedelta(days=1), lines=[LATTE])
    # a retry of an intact one returns its outcome, read from its text
    again = restored.adjust("a-3", at=T + timedelta(hours=8), points=5, reason="visit")
    assert again.outcome == account.outcomes["a-3"].outcome


def test_orders_are_read_when_first_refunded() -> None:
    account = busy()
    doc = plain(account)
    doc["data"]["orders"] = by_id(doc["data"]["orders"])
    doc["data"]["orders"]["o-3"] = doc["data"]["orders"]["o-4"]
    restored = Account.restore(doc, programs=P)
    refunded = restored.refund("f-1", at=T + timedelta(days=1), of="o-1")
    assert refunded.outcome == account.refund("f-1", at=T + timedelta(days=1), of="o-1").outcome
    with pytest.raises(InvalidData, match=r"names another id @ \$\.data\.orders\['o-3'\]"):
        restored.refund("f-2", at=T + timedelta(days=1), of="o-3")


@pytest.mark.parametrize(
    ("change", "where"),
    [
        (lambda d: d["activity"][0].__setitem__(1, "0"), "$.data.activity[0]"),
        (lambda d: d["activity"].append(d["activity"][0]), "$.data.activity[5]"),
        (lambda d: d.__setitem__("activity", {}), "$.data.activity"),
        (lambda d: d.__setitem__("outcomes", []), "$.data.outcomes"),
        (lambda d: d["outcomes"].__setitem__("o-1", 7), "$.data.outcomes['o-1']"),
        (lambda d: d["orders"].__setitem__("o-1", "[]"), "$.data.orders['o-1']"),
        (lambda d: d["orders"].__setitem__("ids", pack_texts(["o-1"])), "$.data.orders"),
        (lambda d: d["orders"].__setitem__("texts", {"texts": "?"}), "$.data.orders"),
        (lambda d: d["outcomes"].__setitem__("ids", pack_texts(["a", "a"])), "$.data.outcomes"),
        (lambda d: d["ledger"].__setitem__("records", {"int64": "!"}), "$.data.ledger"),
        (lambda d: d["ledger"].__setitem__("lots", [1]), "$.data.ledger"),
        (lambda d: d["ledger"].pop("objs"), "$.data.ledger"),
    ],
)
def test_a_bad_snapshot_names_the_path(change: Any, where: str) -> None:
    doc = plain(busy())
    bad = copy.deepcopy(doc)
    change(bad["data"])
    with pytest.raises(InvalidData) as caught:
        Account.restore(bad, programs=P)
    assert where in str(caught.value)


def test_a_restored_account_pickles_and_snapshots_as_the_live_one() -> None:
    import pickle

    account = busy()
    restored = Account.restore(plain(account), programs=P)
    assert plain(restored) == plain(account)
    assert pickle.loads(pickle.dumps(restored)) == account

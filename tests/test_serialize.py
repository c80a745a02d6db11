"""The strict converter and versioned documents."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import attrs
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from loyaltycore import serialize
from loyaltycore.calendar import zone
from loyaltycore.errors import InvalidData, InvalidType, SchemaVersionError

UTC = UTC


@attrs.frozen
class Award:
    points: int
    rate: float
    amount: Decimal
    at: datetime
    day: date
    tz: ZoneInfo
    tags: frozenset[str] = frozenset()
    note: str | None = None


@attrs.frozen
class Plan:
    name: str
    awards: tuple[Award, ...]


def _upgrade_v1(data: dict[str, object]) -> dict[str, object]:
    return {"name": data["title"], "awards": data["awards"]}


serialize.register_document(Plan, "testdoc.Plan", 2, upgraders={1: _upgrade_v1})

GOOD_AWARD = {
    "points": 5,
    "rate": 1.5,
    "amount": "9.99",
    "at": "2024-03-10T12:00:00+01:00",
    "day": "2024-02-29",
    "tz": "Europe/Berlin",
    "tags": ["b", "a"],
    "note": None,
}


def test_round_trip_writes_utc_sorted_sets_and_decimal_text() -> None:
    plan = serialize.structure({"name": "p", "awards": [GOOD_AWARD]}, Plan)
    award = plan.awards[0]
    assert award.at == datetime(2024, 3, 10, 11, tzinfo=UTC)
    assert award.amount == Decimal("9.99")
    data = serialize.unstructure(plan)
    assert data["awards"][0]["at"] == "2024-03-10T11:00:00+00:00"
    assert data["awards"][0]["tags"] == ["a", "b"]
    assert data["awards"][0]["amount"] == "9.99"
    assert serialize.structure(data, Plan) == plan


@pytest.mark.parametrize(
    ("key", "bad", "needle"),
    [
        ("points", 5.7, "must be an int, not float"),
        ("points", True, "must be an int, not bool"),
        ("points", "5", "must be an int, not str"),
        ("rate", True, "must be a number, not bool"),
        ("rate", float("nan"), "finite"),
        ("amount", 9.99, "must be a Decimal as str or int, not float"),
        ("amount", "NaN", "finite"),
        ("amount", "abc", "not a decimal"),
        ("at", "2024-03-10T12:00:00", "no UTC offset"),
        ("at", 1700000000, "must be ISO-8601 text"),
        ("day", "2024-02-30", "not an ISO-8601 date"),
        ("tz", "Mars/Olympus", "not an IANA time zone"),
        ("note", 5, "must be a str"),
    ],
)
def test_strict_scalars_name_the_path(key: str, bad: object, needle: str) -> None:
    data = {"name": "p", "awards": [GOOD_AWARD, {**GOOD_AWARD, key: bad}]}
    with pytest.raises(InvalidData) as info:
        serialize.structure(data, Plan)
    assert any(needle in e and f"$.awards[1].{key}" in e for e in info.value.errors), info.value


def test_unknown_and_missing_keys_are_listed_together() -> None:
    award = {k: v for k, v in GOOD_AWARD.items() if k != "rate"} | {"bonus": 1}
    with pytest.raises(InvalidData) as info:
        serialize.structure({"name": "p", "awards": [award]}, Plan)
    text = "\n".join(info.value.errors)
    assert "unknown keys ['bonus'] @ $.awards[0]" in text
    assert "required field missing @ $.awards[0].rate" in text


def test_documents_carry_schema_and_version_and_upgrade_old_versions() -> None:
    plan = serialize.structure({"name": "p", "awards": [GOOD_AWARD]}, Plan)
    doc = serialize.to_data(plan)
    assert (doc["schema"], doc["version"]) == ("testdoc.Plan", 2)
    assert serialize.from_data(doc, Plan) == plan
    old = {"schema": "testdoc.Plan", "version": 1, "data": {"title": "p", "awards": [GOOD_AWARD]}}
    assert serialize.from_data(old) == plan
    assert serialize.loads(serialize.dumps(plan), Plan) == plan


@pytest.mark.parametrize(
    ("doc", "error", "needle"),
    [
        ({"schema": "testdoc.Plan", "version": 3, "data": {}}, SchemaVersionError, "version=3"),
        ({"schema": "testdoc.Plan", "version": True, "data": {}}, SchemaVersionError, "version"),
        ({"schema": "nope.Thing", "version": 1, "data": {}}, SchemaVersionError, "nope.Thing"),
        ({"schema": "testdoc.Plan", "version": 2}, InvalidData, "$.data"),
        (
            {"schema": "testdoc.Plan", "version": 2, "data": {}, "x": 1},
            InvalidData,
            "unknown keys",
        ),
        ([], InvalidData, "document object"),
    ],
)
def test_bad_documents(doc: object, error: type[Exception], needle: str) -> None:
    with pytest.raises(error) as info:
        serialize.from_data(doc)
    assert needle in str(info.value)


def test_wrong_document_type_and_unregistered_objects() -> None:
    with pytest.raises(InvalidType):
        serialize.to_data(object())
    with pytest.raises(InvalidData):
        serialize.loads("{not json")


@given(
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.decimals(allow_nan=False, allow_infinity=False, places=4),
    st.datetimes(timezones=st.sampled_from([UTC, ZoneInfo("America/New_York")])),
    st.frozensets(st.text(max_size=5), max_size=4),
)
# 01:00 on the night US clocks went back in 1983: a wall time inside a fold.
@example(
    0, Decimal(0), datetime(1983, 10, 30, 1, tzinfo=ZoneInfo("America/New_York")), frozenset()
)
def test_round_trip_property(
    points: int, amount: Decimal, at: datetime, tags: frozenset[str]
) -> None:
    # A zone loads as the bundled zone of its key (see test_calendar_zones).
    award = Award(points, 0.5, amount, at, date(2024, 1, 1), zone("Asia/Shanghai"), tags)
    plan = Plan("x", (award,))
    again = serialize.loads(serialize.dumps(plan), Plan)
    # Instants come back in UTC. Compare with the UTC instant, not the local
    # one: by PEP 495 a wall time inside a DST fold never equals an instant
    # in another zone, even the same instant.
    assert again == Plan("x", (attrs.evolve(award, at=at.astimezone(UTC)),))
    assert serialize.dumps(again) == serialize.dumps(plan)
    json.loads(serialize.dumps(plan))

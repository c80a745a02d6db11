"""Tier state documents need every key their writer writes; configuration keeps defaults."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import loyaltycore.tiers
from loyaltycore import serialize
from loyaltycore.errors import InvalidData

GOLDEN = Path(__file__).parent / "golden"
STATE = json.loads((GOLDEN / "tiers_status_v1.json").read_text())
PROGRAM = json.loads((GOLDEN / "tiers_v1.json").read_text())


def _state_documents() -> list[dict[str, Any]]:
    return [STATE["status"], STATE["decision"], *STATE["activity"]]


def _objects(value: Any, path: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every object inside a document's data, with its path (``$.data.history[0]``)."""
    if isinstance(value, dict):
        yield path, value
        for key, item in value.items():
            yield from _objects(item, f"{path}.{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _objects(item, f"{path}[{i}]")


def _drops() -> list[tuple[str, int, str, str]]:
    """(schema, document index, object path, key) for every key of every state object."""
    out = []
    for n, doc in enumerate(_state_documents()):
        for path, obj in _objects(doc["data"], "$.data"):
            out.extend((doc["schema"], n, path, key) for key in obj)
    return out


DROPS = _drops()


def test_the_drops_cover_status_history_pending_decision_and_activity() -> None:
    paths = {path for _, _, path, _ in DROPS}
    assert {"$.data", "$.data.history[0]", "$.data.pending", "$.data.status"} <= paths
    assert "$.data.status.history[0]" in paths


@pytest.mark.parametrize(
    ("schema", "n", "path", "key"), DROPS, ids=[f"{s}:{p}.{k}" for s, _, p, k in DROPS]
)
def test_a_state_document_without_a_key_its_writer_writes_is_invalid(
    schema: str, n: int, path: str, key: str
) -> None:
    doc = copy.deepcopy(_state_documents()[n])
    target = next(obj for where, obj in _objects(doc["data"], "$.data") if where == path)
    del target[key]
    with pytest.raises(InvalidData) as info:
        serialize.from_data(doc)
    assert f"required field missing @ {path}.{key}" in info.value.errors


def test_every_state_key_is_written_even_when_it_holds_the_default() -> None:
    for doc in _state_documents():
        again = serialize.to_data(serialize.from_data(doc))
        assert again == doc


@pytest.mark.parametrize("key", ["window", "tz", "downgrade", "grace", "extension"])
def test_a_program_may_leave_out_keys_that_have_defaults(key: str) -> None:
    doc = copy.deepcopy(PROGRAM)
    assert key in doc["data"]
    del doc["data"][key]
    assert isinstance(serialize.from_data(doc), loyaltycore.tiers.TierProgram)


def _status_with_override_and_challenge() -> dict[str, Any]:
    from datetime import UTC, date, datetime

    from loyaltycore.tiers import Tier, TierProgram, at_least

    program = TierProgram(
        [
            Tier("Blue", 0),
            Tier("Gold", 1, at_least("nights", 25)),
            Tier("Plat", 2, at_least("nights", 50)),
        ]
    )
    joined = datetime(2025, 1, 1, tzinfo=UTC)
    status = program.override(
        program.join(joined), [], tier="Plat", until=date(2025, 6, 30), at=joined
    )
    status = program.challenge(
        status,
        [],
        tier="Gold",
        target=at_least("nights", 8),
        deadline=date(2025, 3, 31),
        at=joined,
    )
    return serialize.to_data(status)


def test_override_and_challenge_keys_are_required_too() -> None:
    doc = _status_with_override_and_challenge()
    assert doc["data"]["challenge"] is not None
    for path, obj in _objects(doc["data"], "$.data"):
        if path.endswith((".override", ".challenge")):
            for key in list(obj):
                broken = copy.deepcopy(doc)
                target = next(o for w, o in _objects(broken["data"], "$.data") if w == path)
                del target[key]
                with pytest.raises(InvalidData) as info:
                    serialize.from_data(broken)
                assert f"required field missing @ {path}.{key}" in info.value.errors
    assert serialize.to_data(serialize.from_data(doc)) == doc
    # The override's reason is written even when it is the default "".
    assert doc["data"]["override"]["reason"] == ""

"""Golden documents: every schema version this release writes is kept and still loads.

``tests/golden/*.json`` hold documents written by earlier runs. A release that
can no longer read one of them, or that writes it differently, breaks its
users' stored data; a new schema version must come with a new golden file
(and an upgrader for the old one).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import loyaltycore  # registers the documents of every module
import loyaltycore.accounts
import loyaltycore.rules  # noqa: F401
from loyaltycore import serialize

GOLDEN = Path(__file__).parent / "golden"


def _documents(value: Any) -> Iterator[dict[str, Any]]:
    if isinstance(value, dict):
        if set(value) == {"schema", "version", "data"}:
            yield value
            return
        for item in value.values():
            yield from _documents(item)
    elif isinstance(value, list):
        for item in value:
            yield from _documents(item)


DOCUMENTS = [
    (f"{path.name}:{n}", doc)
    for path in sorted(GOLDEN.glob("*.json"))
    for n, doc in enumerate(_documents(json.loads(path.read_text())))
]


def test_every_registered_schema_version_has_a_golden_document() -> None:
    kept = {(doc["schema"], doc["version"]) for _, doc in DOCUMENTS}
    registered = {
        (name, doc.version)
        for name, doc in serialize._BY_NAME.items()
        if doc.cls.__module__.startswith("loyaltycore.")  # not types made by tests or docs
    }
    assert registered <= kept, sorted(registered - kept)


@pytest.mark.parametrize(("where", "doc"), DOCUMENTS, ids=[w for w, _ in DOCUMENTS])
def test_golden_document_loads_and_writes_back_identically(
    where: str, doc: dict[str, Any]
) -> None:
    # a document of an older version is written back as its upgrade to the current one
    registered = serialize._BY_NAME[doc["schema"]]
    expected = doc["data"]
    for step in range(doc["version"], registered.version):
        expected = registered.upgraders[step](expected)
    value = serialize.from_data(doc)
    written = json.loads(json.dumps(serialize.to_data(value)))
    expected = json.loads(json.dumps(expected))  # (an upgrader may write tuples for lists)
    assert written == {**doc, "version": registered.version, "data": expected}

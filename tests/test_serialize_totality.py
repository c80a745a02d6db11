"""Loading is total: any mutation of a golden document loads or raises InvalidData.

Each example takes a document from ``tests/golden/`` (all are schema version
1) and applies a few mutations: keys dropped, added, renamed and swapped,
values of another type, deep nesting, huge numbers, ``"NaN"`` and
``"Infinity"`` strings, strings and lists where objects are expected.
``from_data`` and ``loads`` must then return an object or raise
:class:`~loyaltycore.errors.InvalidData` — never any other exception — and
whatever loads must dump again.
"""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

import loyaltycore
import loyaltycore.accounts
import loyaltycore.lifecycle
import loyaltycore.points
import loyaltycore.rules
import loyaltycore.segments
import loyaltycore.tiers  # noqa: F401  (registers every document)
from loyaltycore import serialize
from loyaltycore.errors import InvalidData

GOLDEN = Path(__file__).parent / "golden"

Path_ = tuple[str | int, ...]


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
    doc
    for path in sorted(GOLDEN.glob("*.json"))
    for doc in _documents(json.loads(path.read_text()))
]

STRINGS = [
    "NaN",
    "-NaN",
    "sNaN",
    "Infinity",
    "-Infinity",
    "inf",
    "1e999999",
    "-1e999999",
    "1e-999999",
    "",
    " ",
    "x" * 300,
    "0",
    "-1",
    "1.5",
    "0.001",
    "99999999999999999999",
    "2024-01-01",
    "2024-02-30",
    "2024-01-01T00:00:00",
    "2024-01-01T00:00:00+00:00",
    "9999-12-31T23:59:59-12:00",
    "0001-01-01T00:00:00+14:00",
    "0001-01-01",
    "Europe",
    "localtime",
    "../etc/passwd",
    "UTC",
    "points",
    "always",
    "not",
    "all",
    "FREQ=SECONDLY;COUNT=2;BYMONTH=2;BYMONTHDAY=30",
    "FREQ=DAILY;COUNT=3;UNTIL=20240101",
    "FREQ=YEARLY;BYEASTER=0;COUNT=9999",
    "ROUND_HALF_UP",
    "Earned",
    "fixed_points",
]
NUMBERS = [
    0,
    -1,
    1,
    2**31,
    2**53 + 1,
    2**63,
    -(2**63) - 1,
    2**64,
    10**18,
    10**100,
    -(10**100),
    10**4000,
    -(10**4200),
    1e308,
    -1e308,
    5e-324,
    0.5,
    -0.0,
    math.nan,
    math.inf,
    -math.inf,
]
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**6), 10**6),
    st.sampled_from(NUMBERS),
    st.floats(),
    st.sampled_from(STRINGS),
    st.text(max_size=6),
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from(["type", "data", "not", "x", "amount", "id"]), inner, max_size=3
        )
    ),
    max_leaves=6,
)


def _nodes(tree: Any) -> list[Path_]:
    """Paths of the nodes of ``tree`` down to 120 levels (deeper ones are past the cap)."""
    found: list[Path_] = []
    todo: list[tuple[Any, Path_]] = [(tree, ())]
    while todo:
        node, path = todo.pop()
        found.append(path)
        if len(path) >= 120:
            continue
        if isinstance(node, dict):
            todo.extend((item, (*path, key)) for key, item in node.items())
        elif isinstance(node, list):
            todo.extend((item, (*path, i)) for i, item in enumerate(node))
    return found


def _get(tree: Any, path: Path_) -> Any:
    for step in path:
        tree = tree[step]
    return tree


def _set(tree: Any, path: Path_, value: Any) -> Any:
    if not path:
        return value
    _get(tree, path[:-1])[path[-1]] = value
    return tree


def _like(node: Any) -> st.SearchStrategy[Any]:
    """Values of the same JSON type as ``node``: the mutations most likely to load."""
    if isinstance(node, bool):
        return st.booleans()
    if isinstance(node, int):
        ints = [n for n in NUMBERS if isinstance(n, int)]
        return st.one_of(st.sampled_from(ints), st.integers(-(2**70), 2**70))
    if isinstance(node, float):
        return st.floats()
    if isinstance(node, str):
        return st.one_of(st.sampled_from(STRINGS), st.text(max_size=8))
    if isinstance(node, list):
        return st.lists(st.sampled_from(node), max_size=2 * len(node)) if node else st.just([])
    if isinstance(node, dict):
        return st.just({key: node[key] for key in reversed(list(node))})
    return values


def _mutate(tree: Any, data: st.DataObject) -> Any:
    path = data.draw(st.sampled_from(_nodes(tree)), label="path")
    node = _get(tree, path)
    ops = ["tweak"] * 6 + ["replace", "nest", "stringify", "listify"]
    if isinstance(node, dict):
        ops += ["drop", "add", "swap", "rename"] * 2
    if isinstance(node, list):
        ops += ["drop", "add"]
    op = data.draw(st.sampled_from(ops), label="op")
    if op == "tweak":
        return _set(tree, path, data.draw(_like(node), label="value"))
    if op == "replace":
        return _set(tree, path, data.draw(values, label="value"))
    if op == "nest":
        depth = data.draw(st.sampled_from([2, 50, 99, 100, 101, 300, 3000]), label="depth")
        shape = data.draw(st.sampled_from(["list", "not", "data"]), label="shape")
        for _ in range(depth):
            node = (
                [node]
                if shape == "list"
                else {"type": "not", "not": node}
                if shape == "not"
                else {"data": node}
            )
        return _set(tree, path, node)
    if op == "stringify":
        return _set(tree, path, data.draw(st.sampled_from(STRINGS), label="string"))
    if op == "listify":
        return _set(tree, path, [node])
    if isinstance(node, list):
        if op == "drop" and node:
            node.pop(data.draw(st.integers(0, len(node) - 1), label="index"))
        elif op == "add":
            node.append(data.draw(st.one_of(values, st.just(list(node))), label="item"))
        return tree
    keys = list(node)
    if op == "drop" and keys:
        del node[data.draw(st.sampled_from(keys), label="key")]
    elif op == "add":
        node[data.draw(st.sampled_from([*keys, "extra", "type"]), label="key")] = data.draw(values)
    elif op == "swap" and len(keys) >= 2:
        a, b = data.draw(st.lists(st.sampled_from(keys), min_size=2, max_size=2, unique=True))
        node[a], node[b] = node[b], node[a]
    elif op == "rename" and keys:
        old = data.draw(st.sampled_from(keys), label="old")
        new = data.draw(st.sampled_from([k for k in keys if k != old] + [old.upper(), old + "_"]))
        node[new] = node.pop(old)
    return tree


def _total(load: Any, arg: Any) -> None:
    try:
        loaded = load(arg)
    except InvalidData:
        return
    serialize.dumps(loaded)  # whatever loads can be written back


@given(st.sampled_from(range(len(DOCUMENTS))), st.sampled_from([1, 1, 1, 2, 3]), st.data())
@settings(max_examples=400)
def test_a_mutated_golden_document_loads_or_raises_invalid_data(
    which: int, mutations: int, data: st.DataObject
) -> None:
    tree: Any = copy.deepcopy(DOCUMENTS[which])
    for _ in range(mutations):
        tree = _mutate(tree, data)
    _total(serialize.from_data, tree)
    try:
        text = json.dumps(tree)
    except (ValueError, RecursionError):
        return  # a number or a nesting that JSON text cannot hold
    _total(serialize.loads, text)


def test_every_golden_document_is_in_the_pool() -> None:
    assert {doc["schema"] for doc in DOCUMENTS} >= {
        name
        for name, doc in serialize._BY_NAME.items()
        if doc.cls.__module__.startswith("loyaltycore.")
    }
    for doc in DOCUMENTS:
        serialize.dumps(serialize.from_data(doc))

"""Canonical command payloads: what a retry is compared with.

A payload is the command's checked input as JSON text with sorted keys.
Money is written in its shortest exact form, so ``Decimal("1.0")`` and
``"1.00"`` are the same payload; instants are ISO-8601 in UTC. The posting
time ``at`` is never part of a payload (a retry is sent later), the business
time ``occurred_at`` only when the caller gave it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Final

import attrs

from loyaltycore._validate import DECIMAL_CONTEXT
from loyaltycore.calendar import UTC
from loyaltycore.predicates import FrozenMap

_PLAIN: Final = (str, int, bool, type(None))


def _decimal(value: Decimal) -> str:
    text = format(value.normalize(DECIMAL_CONTEXT), "f")
    return "0" if text in ("-0", "0") else text


def _mapping(value: Mapping[Any, Any]) -> dict[str, Any]:
    return {str(k): canonical(v) for k, v in sorted(value.items())}


def _sequence(value: Any) -> list[Any]:
    return [canonical(v) for v in value]


def _instant(value: datetime) -> str:
    return value.astimezone(UTC).isoformat()


def _day(value: date) -> str:
    return value.isoformat()


def _set(value: Any) -> list[Any]:
    return sorted(canonical(v) for v in value)


def _record(names: tuple[str, ...]) -> Callable[[Any], dict[str, Any]]:
    def write(value: Any) -> dict[str, Any]:
        return {name: canonical(getattr(value, name)) for name in names}

    return write


#: How each exact type is written (attrs classes are added on first sight).
_WRITERS: dict[type[Any], Callable[[Any], Any]] = {
    Decimal: _decimal,
    dict: _mapping,
    FrozenMap: _mapping,  # (an order's attributes)
    tuple: _sequence,
    list: _sequence,
    datetime: _instant,
    date: _day,
    frozenset: _set,
    set: _set,
}


def canonical(value: Any) -> Any:
    """Plain JSON-safe data with one spelling per value."""
    kind = type(value)
    if kind in _PLAIN:
        return value
    write = _WRITERS.get(kind)
    if write is not None:
        return write(value)
    if isinstance(value, Mapping):
        return _mapping(value)
    if isinstance(value, datetime):
        return _instant(value)
    if isinstance(value, date):
        return _day(value)
    if isinstance(value, frozenset | set):
        return _set(value)
    if attrs.has(kind):
        write = _WRITERS[kind] = _record(tuple(f.name for f in attrs.fields(kind) if f.init))
        return write(value)
    if isinstance(value, bool | int | str):
        return value
    raise TypeError(f"no canonical form for {kind.__name__}")


def dumps(payload: Mapping[str, Any]) -> str:
    """The canonical JSON text of a payload."""
    return json.dumps(canonical(payload), sort_keys=True, separators=(",", ":"))


def first_difference(old: str, new: str) -> tuple[str, Any, Any] | None:
    """The path of the first field where two payloads differ, with both values."""
    return _diff(json.loads(old), json.loads(new), "")


def _diff(a: Any, b: Any, path: str) -> tuple[str, Any, Any] | None:
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b)):
            sub = f"{path}.{key}" if path else key
            if key not in a or key not in b:
                return sub, a.get(key), b.get(key)
            found = _diff(a[key], b[key], sub)
            if found is not None:
                return found
        return None
    if isinstance(a, list) and isinstance(b, list):
        for i, (x, y) in enumerate(zip(a, b, strict=False)):
            found = _diff(x, y, f"{path}[{i}]")
            if found is not None:
                return found
        if len(a) != len(b):
            return f"{path}[{min(len(a), len(b))}]", a[len(b) :] or None, b[len(a) :] or None
        return None
    return None if a == b else (path, a, b)

"""Inputs of the batch engine: events and members as aligned columns.

Events come as columns (``event_id``, ``member_id``, ``at`` and whatever the
conditions read, money in int64 minor units) or as a sequence of
:class:`~loyaltycore.predicates.Event` with a parallel sequence of
:class:`~loyaltycore.predicates.Member`. Members come as columns (one row per
member, ``member_id`` plus member fields and optionally ``counters``, an
object array of mappings) or as a sequence of members. Member fields are
joined onto event rows by ``member_id``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import numpy as np
import numpy.typing as npt

from loyaltycore._validate import type_name
from loyaltycore.errors import InvalidArgument, InvalidColumn, InvalidType
from loyaltycore.predicates import (
    MISSING_INT,
    Field,
    Frame,
    Member,
    encode,
    lookup,
    minor_units,
)
from loyaltycore.rules._batch import Inputs
from loyaltycore.rules._engine import Compiled
from loyaltycore.rules._spend import eligible_column

Array = npt.NDArray[Any]
I64 = npt.NDArray[np.int64]

#: Event fields the engine itself reads besides the conditions' fields.
_ENGINE_EVENT = ("event_id", "at", "amount", "attributes.referrer")
_ENGINE_MEMBER = ("member_id", "tier", "birthday")


def _objects(values: Sequence[Any]) -> Array:
    out = np.empty(len(values), dtype=object)
    out[:] = list(values)
    return out


def needed_fields(c: Compiled) -> tuple[dict[str, Field], dict[str, Field]]:
    """(event fields, member fields) the rule set reads, by name, engine fields included.

    Each field keeps the kind its conditions read it as (an attribute may be
    an ``int``, ``float`` or ``bool``), so its column is encoded as the
    scalar engine reads the value.

    Raises:
        InvalidArgument: two conditions read one field as different kinds
            (a column has one kind).
    """
    event = {name: lookup(name) for name in _ENGINE_EVENT}
    member = {name: lookup(name) for name in _ENGINE_MEMBER}
    for rule in c.rules:
        if rule.when is None:
            continue
        for spec in rule.when.fields():
            found = {"event": event, "member": member}.get(spec.source)
            if found is None:
                continue
            known = found.setdefault(spec.name, spec)
            if known.kind != spec.kind:
                raise InvalidArgument(
                    f"field {spec.name!r} is read as {known.kind!r} and as {spec.kind!r}; "
                    f"a batch column has one kind",
                    field="when",
                    value=spec.name,
                )
    return event, member


def _event_objects(
    c: Compiled, events: Sequence[Any], members: Sequence[Any]
) -> tuple[dict[str, Any], list[Member]]:
    if len(events) != len(members):
        raise InvalidArgument(
            f"members has {len(members)} rows, expected one per event ({len(events)})",
            field="members",
            value=len(members),
        )
    for i, member in enumerate(members):
        if not isinstance(member, Member):
            raise InvalidType(
                f"members[{i}]={member!r} must be a Member, not {type_name(member)}",
                field="members",
                value=member,
            )
    wanted, _ = needed_fields(c)
    extra = [spec for name, spec in wanted.items() if name.startswith("attributes.")]
    cols = encode(list(events), fields=extra, exponent=c.exponent)
    cols["member_id"] = _objects([m.id for m in members])
    cols["discount"] = np.array(
        [minor_units(e.discount, c.exponent, "discount") for e in events], dtype=np.int64
    )
    cols["points_paid"] = np.array(
        [minor_units(e.points_paid, c.exponent, "points_paid") for e in events], dtype=np.int64
    )
    table: dict[str, Member] = {}
    for member in members:
        table.setdefault(member.id, member)
    return cols, list(table.values())


def _member_table(c: Compiled, members: Any) -> tuple[dict[str, Array], list[Mapping[str, int]]]:
    if isinstance(members, Mapping):
        cols = {k: np.asarray(v) for k, v in members.items() if k != "counters"}
        if "member_id" not in cols:
            raise InvalidColumn("members has no 'member_id' column", field="member_id")
        n = len(cols["member_id"])
        raw = members.get("counters")
        counters = [{} for _ in range(n)] if raw is None else list(raw)
        return cols, counters
    members = list(members)
    for i, member in enumerate(members):
        if not isinstance(member, Member):
            raise InvalidType(
                f"members[{i}]={member!r} must be a Member, not {type_name(member)}",
                field="members",
                value=member,
            )
    _, wanted = needed_fields(c)
    own = ("member.attributes.", "counters.")
    extra = [spec for name, spec in wanted.items() if name.startswith(own)]
    cols = encode(members=members, fields=extra, exponent=c.exponent) if members else {}
    return cols, [m.counters for m in members]


class Joined(Mapping[str, Any]):
    """Event columns plus member columns spread to event rows on first use."""

    def __init__(self, events: dict[str, Any], members: Mapping[str, Any], row: I64) -> None:
        self._events = events
        self._members = members
        self._row = row

    def __getitem__(self, name: str) -> Any:
        if name in self._events:
            return self._events[name]
        if name in self._members and name != "member_id":
            column = np.asarray(self._members[name])[self._row]
            self._events[name] = column
            return column
        raise KeyError(name)

    def __contains__(self, name: object) -> bool:
        return name in self._events or (name in self._members and name != "member_id")

    def __iter__(self) -> Any:
        names = list(self._events)
        names += [k for k in self._members if k != "member_id" and k not in self._events]
        return iter(names)

    def __len__(self) -> int:
        return sum(1 for _ in self)


def _dense_join(event_members: Array, member_ids: Array) -> tuple[I64, I64] | None:
    """The join for int ids in a small range: a lookup table instead of a search."""
    if member_ids.dtype.kind not in "iu" or event_members.dtype.kind not in "iu":
        return None
    lo, hi = int(member_ids.min()), int(member_ids.max())
    if hi - lo > 4 * member_ids.size + 1024:
        return None
    if event_members.size and (int(event_members.min()) < lo or int(event_members.max()) > hi):
        return None
    table = np.full(hi - lo + 1, -1, dtype=np.int64)
    table[member_ids - lo] = np.arange(member_ids.size, dtype=np.int64)
    if np.count_nonzero(table >= 0) != member_ids.size:
        return None
    row = table[event_members - lo]
    if (row < 0).any():
        return None
    rank_of = np.cumsum(table >= 0) - 1
    return row, rank_of[event_members - lo].astype(np.int64)


def _plain(value: Any) -> Any:
    """A numpy scalar as the Python value (for messages)."""
    return value.item() if isinstance(value, np.generic) else value


def _join(event_members: Array, member_ids: Array) -> tuple[I64, I64]:
    """Member row of each event and the member's rank in id order."""
    if member_ids.size == 0:
        if event_members.size:
            raise InvalidArgument("members is empty", field="members")
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    dense = _dense_join(event_members, member_ids)
    if dense is not None:
        return dense
    order = np.argsort(member_ids, kind="stable")
    ordered = member_ids[order]
    if ordered.size > 1 and (ordered[1:] == ordered[:-1]).any():
        dup = _plain(ordered[1:][ordered[1:] == ordered[:-1]][0])
        raise InvalidArgument(f"members lists member_id={dup!r} twice", field="member_id")
    pos = np.searchsorted(ordered, event_members)
    pos = np.minimum(pos, ordered.size - 1)
    found = ordered[pos] == event_members
    if not np.all(found):
        bad = _plain(event_members[~found][0])
        raise InvalidArgument(
            f"event member_id={bad!r} is not in members", field="member_id", value=bad
        )
    return order[pos].astype(np.int64), pos.astype(np.int64)


def _rank(member_rank: I64, at: I64, event_ids: Array) -> I64:
    """Position of each row in (member, at, event id) order."""
    n = at.size
    if n < 2:
        return np.arange(n, dtype=np.int64)
    d_member = np.diff(member_rank)
    d_at = np.diff(at)
    ties = np.flatnonzero((d_member == 0) & (d_at == 0))
    ok = bool(np.all((d_member > 0) | ((d_member == 0) & (d_at >= 0))))
    if ok and ties.size:
        ok = bool(np.all(event_ids[ties + 1] > event_ids[ties]))
    if ok:
        return np.arange(n, dtype=np.int64)
    id_order = np.argsort(event_ids, kind="stable")
    id_rank = np.empty(n, dtype=np.int64)
    id_rank[id_order] = np.arange(n, dtype=np.int64)
    order = np.lexsort((id_rank, at, member_rank))
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n, dtype=np.int64)
    return rank


def prepare(
    c: Compiled,
    tiers: Sequence[str],
    events: Any,
    members: Any,
    as_of: datetime | None,
) -> tuple[Inputs, Mapping[str, Any]]:
    """Build the engine inputs and return them with the joined columns."""
    if isinstance(events, Mapping):
        cols = dict(events)
        table, counters = _member_table(c, members)
    elif isinstance(events, Sequence) and not isinstance(events, str | bytes):
        cols, member_objects = _event_objects(c, events, members)
        table, counters = _member_table(c, member_objects)
    else:
        raise InvalidType(
            f"events must be columns (a mapping) or a sequence of Event, not {type_name(events)}",
            field="events",
            value=type(events),
        )
    for name in ("event_id", "member_id", "at"):
        if name not in cols:
            raise InvalidColumn(f"events has no {name!r} column", field=name)
    event_members = np.asarray(cols["member_id"])
    row, member_rank = _join(event_members, np.asarray(table.get("member_id", _objects([]))))
    joined = Joined(cols, table, row)
    at = np.asarray(cols["at"])
    if at.dtype.kind not in "iu":
        raise InvalidColumn(f"column 'at' must be int64 micros UTC, not {at.dtype}", field="at")
    at = at.astype(np.int64, copy=False)
    if at.size and (at == MISSING_INT).any():
        raise InvalidColumn("column 'at' has a missing instant", field="at")
    frame = Frame(joined, tz=c.tz, as_of=as_of, tiers=tiers, exponent=c.exponent, size=at.size)
    referrer_col = cols.get("attributes.referrer")
    if referrer_col is None:
        referrer = np.zeros(at.size, dtype=np.bool_)
    else:
        ref = np.asarray(referrer_col, dtype=object)
        # numpy's stubs reject None as a ufunc operand; it is valid for object arrays.
        present = np.not_equal(ref, None)  # type: ignore[call-overload]
        referrer = np.asarray(present & np.not_equal(ref, ""), dtype=np.bool_)
    tier = joined.get("tier")
    birthday = joined.get("birthday")
    member_frame = (
        Frame(table, tz=c.tz, as_of=as_of, tiers=tiers, exponent=c.exponent, size=len(counters))
        if table
        else None
    )
    inputs = Inputs(
        frame=frame,
        member_frame=member_frame,
        at=at,
        member=row,
        member_ids=np.asarray(table.get("member_id", _objects([]))),
        counters=counters,
        eligible=eligible_column(cols, at.size),
        rank=_rank(member_rank, at, np.asarray(cols["event_id"])),
        referrer=referrer,
        tier=None if tier is None else np.asarray(tier, dtype=object),
        birthday=None if birthday is None else np.asarray(birthday, dtype=np.int64),
    )
    return inputs, joined

"""The state document of a ledger: what a replay rebuilds, as plain data.

:func:`state_of` writes a ledger's state (balances, counters, every lot's
row, the usable-lot queue, pending lots, open holds, cancelled totals, the
ids, and the compact records the engine keeps) without building a single
typed event; :func:`from_state` reads it back. The int columns are plain
lists decoded with numpy in one step each, so a restore costs little Python
per lot: the records are walked once, to check they hold exactly the
commands the document names.

Instants are microseconds since the epoch (UTC); ``None`` stands for "none".
Lot rows are ``LOT_COLUMNS`` ints each, in that order; a pending lot's
``available`` carries ``2**61`` on top of its instant until it vests.

Version 2 added each lot's ``source`` column and the ``tzdata`` key, and
the values records refer to now include values per point and the sources
redemptions consumed. A version 1 document is refused (``InvalidData``
naming the version): rebuild the state from the ledger's history instead.

In a *packed* document (``state(packed=True)``, see
:mod:`loyaltycore._packed`) each int column (``totals``, ``lots``,
``queue``, ``pending``, ``command_at``, ``records``) is ``{"int64": text}``
and each id column ``{"texts": text}``; ``objs`` is ``{"strs": texts,
"lists": [[index, lots], ...], "sources": columns}``, a merge's or a
transfer's list of lots being an object of columns, built into lots only
when its event is read (its contents checked then; until it is built, a
packed document writes it back as it was), and the sources redemptions
consumed being four columns (``at``: the value's index, ``count``: its
pairs, then ``source`` and ``points`` of every pair), checked as columns
and built into each redemption's pairs only when its event is read. A packed document
written before the ``sources`` columns holds them in ``lists``; it reads
the same.
Both forms read back the same; the packed one is several times smaller as
JSON text and is read in a few C calls, which is what a host that keeps the
document as text wants.
"""

from __future__ import annotations

import bisect
import functools
from array import array
from datetime import datetime
from decimal import Decimal
from typing import Any, Final

import numpy as np

from loyaltycore import serialize
from loyaltycore._packed import (
    INTS,
    TEXTS,
    can_pack_texts,
    is_packed,
    pack_ints,
    pack_texts,
    unpack_ints,
    unpack_texts,
)
from loyaltycore.calendar import NEVER, micros
from loyaltycore.errors import InvalidData, LoyaltyError
from loyaltycore.points._commands import State
from loyaltycore.points._records import _READ
from loyaltycore.points._state import (
    _CHUNK,
    _FAN_MASK,
    BIG_IDS,
    H_DEADLINE,
    H_HN,
    H_KILL,
    H_LAST,
    H_NEV,
    H_NEXT,
    H_NOBJ,
    H_QLO,
    HDR,
    NO,
    SEP,
    SMALL_HISTORY,
    SMALL_LOTS,
    Core,
    Deferred,
    IdLog,
    LazyObjs,
    S,
    _as_array,
    _Big,
    instant,
)
from loyaltycore.points._values import ExpiryPolicy, MergedLot, Opened, TransferIn

#: The state document's format and version.
FORMAT: Final = "points.LedgerState"
VERSION: Final = 2
#: A lot row's columns, in order.
LOT_COLUMNS: Final = (
    "earned_at",
    "expires_at",
    "available",
    "remaining",
    "held",
    "used",
    "expired",
    "reversed",
    "clawed_back",
    "source",
)
_KEYS: Final = (
    "format",
    "version",
    "member",
    "tz",
    "policy",
    "debt_policy",
    "tzdata",
    "totals",
    "last",
    "deadline",
    "kill",
    "events",
    "lot_ids",
    "lots",
    "queue",
    "pending",
    "holds",
    "cancelled",
    "command_ids",
    "command_at",
    "records",
    "objs",
)


#: The columns of a packed list of lots in ``objs``, by tag (ids, if any, first).
_LOT_LIST_COLUMNS: Final = {
    "transfer_in": ("points", "expires_at", "source", "value_per_point"),
    "merged_lots": (
        "lot",
        "points",
        "earned_at",
        "expires_at",
        "available_at",
        "pending",
        "source",
        "value_per_point",
    ),
}
#: The text columns of a packed list of lots (the rest are ints).
_TEXT_COLUMNS: Final = frozenset({"lot", "source", "value_per_point"})


def _value_text(lot: TransferIn | MergedLot) -> str:
    """A lot's value per point as text, "" for none."""
    return "" if lot.value_per_point is None else str(lot.value_per_point)


def _value(text: str) -> Decimal | None:
    return None if text == "" else _decimal(text)


def _us(value: datetime | None) -> int:
    return NO if value is None else micros(value)


def _obj_data(value: Any, packed: bool, i: int) -> Any:
    """The value at place ``i`` of ``objs``, as plain data (a str, or tagged parts).

    A list of lots still packed as a restored document held it is written
    back as it was (when ``packed``), without building its lots.
    """
    if type(value) is str:
        return value
    if type(value) is Deferred:
        if packed and value.raw is not None:  # (a copy: the caller owns the document)
            return {
                tag: {k: type(c)(c) for k, c in parts.items()} for tag, parts in value.raw.items()
            }
        value = value.value(i)
    if type(value) is Decimal:
        return {"decimal": str(value)}
    items = tuple(value)
    if items and type(items[0]) is tuple:
        return {"sources": [list(item) for item in items]}
    if all(type(x) is TransferIn for x in items):
        if packed:
            return {
                "transfer_in": {
                    "points": pack_ints([x.points for x in items]),
                    "expires_at": pack_ints([_us(x.expires_at) for x in items]),
                    "source": pack_texts([x.source for x in items]),
                    "value_per_point": pack_texts([_value_text(x) for x in items]),
                }
            }
        return {"transfer_in": serialize.converter.unstructure(items, tuple[TransferIn, ...])}
    if packed:
        return {
            "merged_lots": {
                "lot": pack_texts([x.lot for x in items]),
                "points": pack_ints([x.points for x in items]),
                "earned_at": pack_ints([micros(x.earned_at) for x in items]),
                "expires_at": pack_ints([_us(x.expires_at) for x in items]),
                "available_at": pack_ints([_us(x.available_at) for x in items]),
                "pending": pack_ints([int(x.pending) for x in items]),
                "source": pack_texts([x.source for x in items]),
                "value_per_point": pack_texts([_value_text(x) for x in items]),
            }
        }
    return {"merged_lots": serialize.converter.unstructure(items, tuple[MergedLot, ...])}


def _when(us: int) -> datetime | None:
    return None if us == NO else instant(us)


def _lists(columns: tuple[Any, ...]) -> list[list[Any]]:
    return [c if isinstance(c, list) else c.tolist() for c in columns]


def _transfers_in(columns: tuple[Any, ...], _: int) -> tuple[TransferIn, ...]:
    return tuple(
        TransferIn(p, _when(e), source, _value(v))
        for p, e, source, v in zip(*_lists(columns), strict=True)
    )


def _merged_lots(columns: tuple[Any, ...], _: int) -> tuple[MergedLot, ...]:
    return tuple(
        MergedLot(lot, p, instant(e), _when(x), _when(a), bool(d), source, _value(v))
        for lot, p, e, x, a, d, source, v in zip(*_lists(columns), strict=True)
    )


def _obj_value(data: Any) -> Any:
    if type(data) is str:
        return data
    if type(data) is not dict or len(data) != 1:
        raise ValueError(f"{data!r} is not a value a record refers to")
    ((tag, value),) = data.items()  # (one tag each: read it once, most often "sources")
    if tag == "sources":
        return _sources(value)
    if tag == "decimal":
        if type(value) is not str:
            raise ValueError(f"a value per point must be decimal text, not {value!r}")
        return _decimal(value)
    if tag in _LOT_LIST_COLUMNS and isinstance(value, dict):
        return _lot_list(tag, value)
    if tag == "transfer_in":
        return serialize.structure(value, tuple[TransferIn, ...])
    if tag == "merged_lots":
        return serialize.structure(value, tuple[MergedLot, ...])
    raise ValueError(f"{data!r} is not a value a record refers to")


@functools.lru_cache(maxsize=1024)
def _decimal(text: str) -> Decimal:
    """A value per point (values repeat: each text is checked once)."""
    value: Decimal = serialize.structure(text, Decimal)
    return value


def _sources(data: Any) -> tuple[tuple[str, int], ...]:
    """The sources a redemption consumed: ``[source, points]`` pairs (read once per record)."""
    if type(data) is not list or not all(
        type(item) is list and len(item) == 2 and type(item[0]) is str and type(item[1]) is int
        for item in data
    ):
        raise ValueError("sources must be a list of [source, points] pairs")
    return tuple(map(tuple, data))


def _lot_list(tag: str, parts: dict[str, Any]) -> Deferred:
    """A packed list of lots, kept packed until its event is read.

    Its shape is checked now: the columns it must have, each a list or a
    packed column. Its contents are checked when it is built (a bad one
    raises :class:`~loyaltycore.errors.InvalidData` then); until it is, a
    packed document writes it back as it was. A carried-forward ledger
    begins with such a list, holding every lot it carried: a restore,
    or a snapshot of the restored ledger, never reads it.
    """
    names = _LOT_LIST_COLUMNS[tag]
    if set(parts) != set(names):
        raise ValueError(f"a packed {tag} list must have the columns {', '.join(names)}")
    kept: dict[str, Any] = {}
    for name, column in parts.items():
        key = TEXTS if name in _TEXT_COLUMNS else INTS
        if is_packed(column, key):
            kept[name] = dict(column)
        elif isinstance(column, list):
            kept[name] = list(column)
        else:
            raise ValueError(f'{tag}.{name} must be a list or {{"{key}": base64 text}}')
    return Deferred((tag, kept), _built_lot_list, {tag: kept})


def _built_lot_list(data: tuple[str, dict[str, Any]], _: int) -> Any:
    tag, parts = data
    try:
        return _checked_lot_list(tag, parts)
    except (ValueError, TypeError, OverflowError) as exc:
        raise InvalidData.from_messages([f"{exc} @ $.objs"], what="points ledger state") from None


def _checked_lot_list(tag: str, parts: dict[str, Any]) -> Any:
    """The lots of a packed list, its columns checked."""
    names = _LOT_LIST_COLUMNS[tag]
    ints = {name: _ints(parts, name) for name in names if name not in _TEXT_COLUMNS}
    texts = {name: unpack_texts(parts[name], name) for name in names if name in _TEXT_COLUMNS}
    lots = texts.get("lot", ())
    distinct = set(lots)
    if "" in distinct or len(distinct) != len(lots):
        raise ValueError(f"the lot ids of a packed {tag} list must be distinct and not empty")
    if "" in texts["source"]:
        raise ValueError(f"the sources of a packed {tag} list must not be empty")
    try:  # (each distinct value once)
        values = [_value(v) for v in set(texts["value_per_point"])]
    except ArithmeticError:
        raise ValueError(f"the values per point of a packed {tag} list must be numbers") from None
    if any(v is not None and not (v.is_finite() and v >= 0) for v in values):
        raise ValueError(f"the values per point of a packed {tag} list must be finite, >= 0")
    lengths = {len(c) for c in (*ints.values(), *texts.values())}
    if len(lengths) != 1:
        raise ValueError(f"the columns of a packed {tag} list differ in length")
    if (ints["points"] <= 0).any():
        raise ValueError(f"the points of a packed {tag} list must be positive")
    if tag == "merged_lots" and ((ints["pending"] < 0) | (ints["pending"] > 1)).any():
        raise ValueError("pending must be 0 or 1")
    columns = tuple(texts[name] if name in _TEXT_COLUMNS else ints[name] for name in names)
    build = _merged_lots if tag == "merged_lots" else _transfers_in
    return build(columns, 0)


def state_of(ledger: Core, *, packed: bool = False) -> dict[str, Any]:
    """The state document of ``ledger`` (see the module's docstring)."""
    doc = _state_of(ledger, packed)
    if packed:
        for key in _INT_COLUMNS:
            doc[key] = pack_ints(doc[key], S if key == "lots" else 1)
        for key in ("lot_ids", "command_ids"):
            doc[key] = pack_texts(doc[key])
        objs = doc["objs"]
        strs = [x for x in objs if type(x) is str]
        if can_pack_texts(strs):
            doc["objs"] = _packed_objs(objs, strs)
    return doc


def _packed_objs(objs: list[Any], strs: list[str]) -> dict[str, Any]:
    """``objs`` packed: texts joined, redemptions' sources as columns, the rest as it is."""
    at: list[int] = []
    counts: list[int] = []
    names: list[str] = []
    points: list[int] = []
    lists = []
    for i, x in enumerate(objs):
        if type(x) is str:
            continue
        if type(x) is dict and len(x) == 1 and "sources" in x:
            at.append(i)
            counts.append(len(x["sources"]))
            for name, part in x["sources"]:
                names.append(name)
                points.append(part)
        else:
            lists.append([i, x])
    if not can_pack_texts(names):  # (a host's source with a NUL: kept as lists)
        return {
            "strs": pack_texts(strs),
            "lists": [[i, x] for i, x in enumerate(objs) if type(x) is not str],
        }
    sources = {
        "at": pack_ints(at),
        "count": pack_ints(counts),
        "source": pack_texts(names),
        "points": pack_ints(points),
    }
    return {"strs": pack_texts(strs), "lists": lists, "sources": sources}


def _state_of(ledger: Core, packed: bool) -> dict[str, Any]:
    a = ledger._a
    conf = ledger._conf
    eids, lids = ledger._ids()
    return {
        "format": FORMAT,
        "version": VERSION,
        "member": ledger._member_id,
        "tz": conf.tzname,
        "policy": serialize.converter.unstructure(conf.policy, ExpiryPolicy),
        "debt_policy": "strict" if conf.strict else "debt",
        "tzdata": conf.tzdata,
        "totals": list(a[:16]),
        "last": None if a[H_LAST] == NO else a[H_LAST],
        "deadline": None if a[H_DEADLINE] == NEVER else a[H_DEADLINE],
        "kill": a[H_KILL],
        "events": a[H_NEV],
        "lot_ids": lids,
        "lots": ledger._rows() if packed else list(ledger._rows()),
        "queue": ledger._queue(),
        "pending": [x for item in ledger._pend for x in item],
        "holds": [
            [hold_id, points, until, list(parts), k]
            for hold_id, (points, until, parts, k) in ledger._open_holds.items()
        ],
        "cancelled": dict(ledger._canc),
        "command_ids": eids,
        "command_at": _command_positions(ledger, len(eids)),
        "records": ledger._records() if packed else list(ledger._records()),
        "objs": [_obj_data(x, packed, i) for i, x in enumerate(_own_objs(ledger))],
    }


def _command_positions(ledger: Core, n: int) -> list[int]:
    """Where each of the ``n`` commands' records begins."""
    eids = ledger._eids
    if type(eids) is IdLog and eids.base is None and eids.pos is not None:
        return eids.pos[:n].tolist()
    return [ledger._command_pos(k) for k in range(n)]


def _own_objs(ledger: Core) -> list[Any]:
    """The values ``ledger``'s records refer to, any still :class:`Deferred` left so."""
    objs, n = ledger._objs, ledger._a[H_NOBJ]
    return list.__getitem__(objs, slice(0, n)) if type(objs) is LazyObjs else list(objs[:n])


#: The columns of ints, which a packed document writes as base64.
_INT_COLUMNS: Final = ("totals", "lots", "queue", "pending", "command_at", "records")


def _ints(data: dict[str, Any], key: str) -> Any:
    """The int column ``key`` (packed or a list) as an int64 numpy array."""
    return unpack_ints(data[key], key)


def _strs(data: dict[str, Any], key: str) -> list[str]:
    """The ids ``key``, non-empty and without NUL (the caller checks they are distinct)."""
    value = unpack_texts(data[key], key)
    # (a packed column is cut at each NUL: only a list can hold one)
    if not all(value) or (type(data[key]) is list and SEP in "".join(value)):
        raise ValueError(f"{key} must hold ids without NUL characters")
    return value


def _id_log(ids: list[str], key: str, kinds: bytearray | None, pos: Any) -> IdLog:
    log = IdLog(ids, kinds, pos)
    if len(log.index) != len(ids):
        raise ValueError(f"{key} must hold distinct ids")
    return log


#: Whether a type code is a command's.
_IS_COMMAND: Final = np.array([command for _, _, command in _READ] + [False] * 32)[:32]


def _chunked_columns(rows: Any) -> _Big:
    """A large lot table of flat int64 ``rows`` (chunks cut from the numpy array)."""
    top = _Big()
    size = _CHUNK * S
    for c in range(0, len(rows), size):
        if not (c // size) & _FAN_MASK:
            top.append([])
        top[-1].append(array("q", rows[c : c + size].tobytes()))
    return top


def _command_kinds(records: Any, at: Any) -> Any:
    """The type code of each command, checking that ``at`` points at command
    records in order (the records in between are not read)."""
    if len(at) and (at.min() < 0 or at.max() >= len(records) or (np.diff(at) <= 0).any()):
        raise ValueError("command_at must point into the records, in order")
    kinds = records[at] & 31 if len(at) else np.zeros(0, dtype=np.int64)
    if not _IS_COMMAND[kinds].all():
        raise ValueError("command_at must point at command records")
    return kinds


def from_state(data: Any) -> State:
    """A frozen state rebuilt from a state document (a builder, published by the caller).

    Raises:
        InvalidData: the document is not a state document this version
            writes (names the problem).
    """
    try:
        return _from_state(data)
    except (ValueError, TypeError, KeyError, IndexError, OverflowError, LoyaltyError) as exc:
        problem = exc.args[0] if type(exc) is KeyError else str(exc)
        raise InvalidData.from_messages(
            [f"{problem} @ $"] if type(exc) is not KeyError else [f"missing key {problem} @ $"],
            what="points ledger state",
        ) from None


def _objs(value: Any) -> list[Any]:
    """The values records refer to, from a document's ``objs`` (packed or a list).

    A packed document's redemption sources are checked as columns, and
    each redemption's pairs are built when its event is read (one
    :class:`Deferred` stands at every redemption's place), so a restore
    spends no Python step per redemption.
    """
    if isinstance(value, list):
        return [x if type(x) is str else _obj_value(x) for x in value]
    if not isinstance(value, dict) or set(value) not in _PACKED_OBJS:
        raise ValueError(
            'objs must be a list or {"strs": texts, "lists": [[index, lots]], "sources": columns}'
        )
    strs, lists = unpack_texts(value["strs"], "objs.strs"), value["lists"]
    if not isinstance(lists, list) or not all(
        isinstance(x, list) and len(x) == 2 and type(x[0]) is int for x in lists
    ):
        raise ValueError("objs.lists must be [index, lots] pairs")
    at, sources = _packed_sources(value.get("sources"))
    n = len(strs) + len(lists) + len(at)
    places = np.sort(np.concatenate((np.array([i for i, _ in lists], dtype=np.int64), at)))
    if len(places) and (places[0] < 0 or places[-1] >= n or (np.diff(places) == 0).any()):
        raise ValueError("objs.lists and objs.sources must name distinct indexes within objs")
    out = np.empty(n, dtype=object)
    is_str = np.ones(n, dtype=bool)
    is_str[places] = False
    out[is_str] = strs
    out[at] = sources
    for i, item in lists:
        out[i] = _obj_value(item)
    return out.tolist()


#: The keys of packed ``objs`` (older packed documents have no ``sources``).
_PACKED_OBJS: Final = ({"strs", "lists"}, {"strs", "lists", "sources"})


def _pairs(
    table: tuple[list[int], list[int], list[str], list[int]], i: int
) -> tuple[tuple[str, int], ...]:
    """The sources of the redemption at place ``i`` of ``objs`` (see :func:`_packed_sources`)."""
    at, ends, names, points = table
    k = bisect.bisect_left(at, i)
    start, end = (ends[k - 1] if k else 0), ends[k]
    return tuple(zip(names[start:end], points[start:end], strict=True))


def _packed_sources(value: Any) -> tuple[Any, Deferred | None]:
    """The places in ``objs`` of the redemptions' packed sources (sorted), and the one
    :class:`Deferred` that builds each. Checked here as columns: counts that cover the
    pairs, names that are not empty."""
    if value is None:
        return np.zeros(0, dtype=np.int64), None
    if not isinstance(value, dict) or set(value) != {"at", "count", "source", "points"}:
        raise ValueError("objs.sources must have the columns at, count, source and points")
    at, counts = _ints(value, "at"), _ints(value, "count")
    names, points = unpack_texts(value["source"], "source"), _ints(value, "points")
    if len(at) != len(counts) or (counts < 0).any() or int(counts.sum()) != len(names):
        raise ValueError("objs.sources: the counts must cover the sources, one count per index")
    if len(points) != len(names):
        raise ValueError("objs.sources: the source and points columns differ in length")
    if "" in names:
        raise ValueError("objs.sources: a source must not be empty")
    if (np.diff(at) <= 0).any():
        raise ValueError("objs.sources: the indexes must be in order")
    return at, Deferred((at.tolist(), np.cumsum(counts).tolist(), names, points.tolist()), _pairs)


def _from_state(data: Any) -> State:
    if not isinstance(data, dict):
        raise TypeError("a state document must be an object")
    missing = [key for key in _KEYS if key not in data]
    if missing:
        raise KeyError(missing[0])
    extra = sorted(set(data) - set(_KEYS))
    if extra:
        raise ValueError(f"unknown key {extra[0]!r}")
    if data["format"] != FORMAT or data["version"] != VERSION:
        raise ValueError(
            f"format {data['format']!r} version {data['version']!r} is not {FORMAT} "
            f"{VERSION} (rebuild an older state from the ledger's history)"
        )
    policy: ExpiryPolicy = serialize.structure(data["policy"], ExpiryPolicy)  # type: ignore[arg-type]
    s = State.opened(
        Opened(
            data["member"],
            tz=data["tz"],
            policy=policy,
            debt_policy=data["debt_policy"],
            tzdata=data["tzdata"],
        )
    )
    lot_ids, command_ids = _strs(data, "lot_ids"), _strs(data, "command_ids")
    for key, ids in (("lot_ids", lot_ids), ("command_ids", command_ids)):
        if len(ids) <= BIG_IDS and len(set(ids)) != len(ids):  # (else the id log checks)
            raise ValueError(f"{key} must hold distinct ids")
    objs = _objs(data["objs"])
    totals, lots, queue = _ints(data, "totals"), _ints(data, "lots"), _ints(data, "queue")
    pending, records = _ints(data, "pending"), _ints(data, "records")
    command_at = _ints(data, "command_at")
    n = len(lot_ids)
    if len(totals) != 16 or len(lots) != n * len(LOT_COLUMNS) or len(pending) % 2:
        raise ValueError("totals, lots or pending have the wrong length")
    for column in (queue, pending[1::2]):
        if len(column) and not (column.min() >= 0 and column.max() < n):
            raise ValueError("queue and pending must name lots of the ledger")
    if len(command_at) != len(command_ids):
        raise ValueError("command_at must name where each command's record begins")
    kinds = _command_kinds(records, command_at)
    h = array("q", records.tobytes())
    header = [*totals.tolist(), NO, NEVER, NEVER, 0, n, 0, 0, len(queue), len(h)]
    header += [len(command_ids), len(objs)]
    header[H_LAST] = NO if data["last"] is None else int(data["last"])
    header[H_DEADLINE] = NEVER if data["deadline"] is None else int(data["deadline"])
    header[H_KILL], header[H_NEV] = int(data["kill"]), int(data["events"])
    if len(header) != HDR or header[H_QLO] or header[H_HN] != len(h):  # (the layout changed)
        raise AssertionError("the state header is out of step with the engine's layout")
    if n <= SMALL_LOTS and len(h) <= SMALL_HISTORY:  # (rows, queue, records follow)
        s._a = _as_array(header + lots.tolist() + queue.tolist() + records.tolist())
    elif n <= SMALL_LOTS:  # (the rows, then the queue, follow the header)
        s._a = _as_array(header + lots.tolist() + queue.tolist())
        s._h = h
    else:
        s._a = _as_array(header)
        s._lots = _chunked_columns(lots)
        s._q = array("q", queue.tobytes())
        s._h = h
    if any(type(x) is Deferred for x in objs):
        s._objs = LazyObjs(objs)
    else:
        s._objs = tuple(objs)
    if len(command_ids) > BIG_IDS:
        pos = array("q", command_at.tobytes())
        kind_bytes = bytearray(kinds.astype(np.uint8).tobytes())
        s._eids = _id_log(list(command_ids), "command_ids", kind_bytes, pos)
    else:
        s._eids = SEP + SEP.join(command_ids) + SEP if command_ids else SEP
        s._kinds = kinds.astype(np.uint8).tobytes()
    if n > BIG_IDS:
        s._lids = _id_log(list(lot_ids), "lot_ids", None, None)
    else:
        s._lids = SEP + SEP.join(lot_ids) + SEP if lot_ids else SEP
    flat = pending.tolist()
    s._pend = tuple(zip(flat[0::2], flat[1::2], strict=True))
    s._open_holds = {
        str(hold_id): (int(points), int(until), tuple(int(x) for x in parts), int(k))
        for hold_id, points, until, parts, k in data["holds"]
    } or s._open_holds
    cancelled = data["cancelled"]
    if not isinstance(cancelled, dict):
        raise TypeError("cancelled must be an object")
    s._canc = {str(key): int(value) for key, value in cancelled.items()} or s._canc
    s._a[H_NEXT] = s.next_due()[0]
    s.freeze()  # (in place)
    return s

"""A ledger's state: its memory layout, thaw and freeze, the lot queue.

A ledger's state is a handful of flat values, so that a hundred thousand
ledgers fit in memory, and a command costs what it touches (its lots and its
own records), not the length of the history:

- ``_a``: the header, an int64 array of the sixteen balance totals, a few
  scalars (last instant, next due instant, inactivity deadline) and the
  counts of what this version sees of the shared storage below. While a
  ledger has at most ``SMALL_LOTS`` lots, their rows (earned, expires,
  available as int microseconds UTC, then remaining, held, used, expired,
  reversed and clawed-back points, then the source and value per point:
  ``SRC``) and then the usable lots' queue follow the header, and while
  it is short (``SHORT_LEDGER``) its records follow them too: a short
  ledger is one array copied per command, and a command on a longer one
  copies only what is bounded.
- ``_lots``: a larger lot table, chunked (:class:`_Big`): a command copies
  the chunks it changes. ``_q``: a larger ledger's queue, soonest-expiring
  first (ties: oldest), ``q[QLO:QHI]``.
- ``_h``: a longer ledger's history as records (a word holding the event
  type and which optional fields are left out, then the fields; lots and
  commands by index, other values in ``_objs``); None while they are in
  ``_a``.
- ``_lids`` / ``_eids``: lot ids and command ids, joined into one string
  (``"\\0a\\0b\\0"``) while few, with ``_kinds`` a byte per command; an
  :class:`IdLog` (a list and a dict index) beyond ``BIG_IDS``.

What grows with the history (``_h``, a large ledger's ``_q``, ``_objs``, an
IdLog) is shared by every version and only appended to: each version sees
its own prefix, so a command appends in place, and a second version
appending to the same parent copies its prefix first (see ``_claim``).

Typed events and lots are rebuilt from these when asked for. A builder (:class:`Builder`;
the policies are its subclass ``State`` in :mod:`loyaltycore.points._commands`)
is a state thawed for one command (header copied, everything else shared); once
it has applied the command it is frozen and becomes the new ledger itself
(builder and ledger share one slot layout, :class:`Core`, so only the
object's class changes). A command that raises leaves its builder behind
and gives back what it appended, so the ledger it came from is untouched.
"""

from __future__ import annotations

import functools
import struct
import threading
from array import array
from collections.abc import Callable, Iterator, MutableSequence, Sequence
from datetime import date, datetime, timedelta, tzinfo
from typing import Any, Final, Self

import attrs

from loyaltycore.calendar import EPOCH, NEVER, zone
from loyaltycore.errors import (
    DuplicateId,
    InvalidArgument,
    InvalidTime,
)
from loyaltycore.points._records import (
    _READ,
    _SKIP,
    _SOURCE_CODE,
    CODE,
    SOURCE_OWN,
)
from loyaltycore.points._thaw import thaw as _thaw
from loyaltycore.points._values import (
    AVAILABLE,
    PENDING,
    SOURCES,
    Captured,
    ExpireOnInactivity,
    ExpiryPolicy,
    Held,
    Hold,
    HoldTimedOut,
    Lot,
    Opened,
    Released,
    expiry_for,
)

#: Separates the ids joined in ``lids`` and ``eids`` (ids may not contain it).
SEP: Final = "\x00"
#: An absent instant in the state (None).
NO: Final = -(2**63)

# -- the layout of ``a`` -------------------------------------------------------

#: Balance totals are a[0:16] (indices from _points_values), then:
H_LAST: Final = 16  # the last event's instant, or NO
H_NEXT: Final = 17  # the next vesting/expiry/timeout/deadline, or NEVER
H_DEADLINE: Final = 18  # the inactivity deadline, or NEVER
H_KILL: Final = 19  # lots below this index died of inactivity
H_NLOTS: Final = 20
H_NEV: Final = 21  # events in the history, Opened included
H_QLO: Final = 22  # the usable lots' queue: q[QLO:QHI] (see Core._qbuf)
H_QHI: Final = 23
H_HN: Final = 24  # the history's records are h[:HN]
H_NCMD: Final = 25  # commands in the history (their ids: eids)
H_NOBJ: Final = 26  # the values records refer to are objs[:NOBJ]
HDR: Final = 27
#: A lot's row: S ints at ``row(i)``. A pending lot's ``AVAIL`` carries
#: PBIT on top of its instant until it vests (a lot reversed while pending
#: stays pending). ``SRC`` holds the lot's source and value per point: the
#: source's code in the low 32 bits (an index into SOURCES, or SOURCE_OWN
#: plus the index of a host's own source in objs), and 1 + the index of the
#: value (a Decimal) in objs above them (0: none). 0 is ("purchase", None).
EARNED_AT, EXPIRES, AVAIL, REM, HELD_, USED, EXPD, REV, CLAW, SRC = range(10)
S: Final = 10
_LOW: Final = (1 << 32) - 1
PBIT: Final = 2**61
_ROW: Final = array("q", [0] * S)
_BYTE: Final = [bytes((code,)) for code in range(32)]
_FRESH: Final = array("q", [0] * 16 + [NO, NEVER, NEVER, 0, 0, 1, 0, 0, 0, 0, 0])
#: A lot table of up to SMALL_LOTS lots is one array of rows; a larger one is
#: a _Big list of "mids", each a list of up to FAN chunks of CHUNK rows.
SMALL_LOTS: Final = 64
CHUNK_BITS: Final = 5  # CHUNK = 32 lots
FAN_BITS: Final = 6  # FAN = 64 chunks
_CHUNK: Final = 1 << CHUNK_BITS
_MID_SHIFT: Final = CHUNK_BITS + FAN_BITS
_FAN_MASK: Final = (1 << FAN_BITS) - 1
_CHUNK_MASK: Final = _CHUNK - 1
#: A short ledger keeps up to this many ints of records after its queue
#: (read when replaying or restoring), and moves them out of ``a`` once ``a``
#: is longer than SHORT_LEDGER.
SMALL_HISTORY: Final = 512
SHORT_LEDGER: Final = HDR + 32 * S + 32 + SMALL_HISTORY
#: Ledgers with more command or lot ids than this keep them in an IdLog.
BIG_IDS: Final = 128
#: A builder's flag: it is only read, so it claims no shared storage.
READ_ONLY: Final = 16384
# _claim: how versions append to storage they share without a lock.
#
# A version that sees the first n items of a shared list or array, and finds
# the storage n long, appends its items in one step (a single C call, which
# no other thread interleaves), and then checks the length: n + its count
# means they landed right after its prefix, so the storage is now its own
# to go on appending to. Anything else means another version appended to
# the same parent: it copies its prefix and appends to the copy (when two
# threads raced, its own items stay behind as junk past every prefix, which
# nobody reads). A look at the length can only make a version copy when it
# need not, never share when it must not.

#: Guards every check-then-append on storage shared between versions.
_LOCK: Final = threading.Lock()


class _Big(list):  # type: ignore[type-arg]
    """The top level of a large lot table: mids (lists of chunk arrays)."""

    __slots__ = ()


class Deferred:
    """A value records refer to, kept as checked plain data until first read.

    A restored ledger (:mod:`loyaltycore.points._document`) holds a merge's or
    a transfer's list of lots this way: only reading the event builds it.
    One Deferred may stand at many places of ``objs`` (the sources of every
    redemption, kept as shared columns): ``build`` is given the place read.
    ``raw``, if not None, is the value's packed data as the document held
    it, which a packed document writes back unchanged without building it.
    """

    __slots__ = ("_build", "_data", "raw")

    def __init__(self, data: Any, build: Callable[[Any, int], Any], raw: Any = None) -> None:
        self._data = data
        self._build = build
        self.raw = raw

    def value(self, i: int) -> Any:
        return self._build(self._data, i)


class LazyObjs(list):  # type: ignore[type-arg]
    """``objs`` with some items :class:`Deferred`: each is built when first
    read, and replaced by its value (the list may be shared: same value)."""

    __slots__ = ()

    def __getitem__(self, i: Any) -> Any:
        if type(i) is slice:
            return LazyObjs(list.__getitem__(self, i))
        value = list.__getitem__(self, i)
        if type(value) is Deferred:
            value = value.value(i if i >= 0 else i + len(self))
            list.__setitem__(self, i, value)
        return value

    def __iter__(self) -> Iterator[Any]:
        return (self[i] for i in range(len(self)))


def _values(objs: Sequence[Any], n: int) -> list[Any]:
    """The first ``n`` values of ``objs``, a :class:`LazyObjs`'s built in place (once)."""
    return [objs[i] for i in range(n)] if type(objs) is LazyObjs else list(objs[:n])


class IdLog:
    """The ids of a long ledger's commands (or lots), shared by its versions.

    Append-only: a version sees the first ``n`` entries (its own count), so
    entries appended by a later version are invisible to it. A second
    version appending to the same parent does not copy the ids: it starts
    an overlay whose first ``start`` entries are the parent's (read through
    ``base``, whose entries below ``start`` never change) and appends its
    own after them. ``kinds`` and ``pos`` hold each command's type code and
    where its record begins (None for lot ids).
    """

    __slots__ = ("base", "depth", "ids", "index", "kinds", "pos", "start")

    base: IdLog | None
    depth: int
    start: int

    def __init__(
        self,
        ids: list[str],
        kinds: bytearray | None,
        pos: array[int] | None,
        base: IdLog | None = None,
        start: int = 0,
    ) -> None:
        self.base, self.start = base, start
        self.depth = 0 if base is None else base.depth + 1
        self.ids = ids
        self.index = dict(zip(ids, range(start, start + len(ids)), strict=True))
        self.kinds = kinds
        self.pos = pos

    def __len__(self) -> int:
        return self.start + len(self.ids)

    def find(self, key: str, n: int) -> int:
        """The ordinal of ``key`` among the first ``n`` entries, or -1."""
        k = self.index.get(key)
        if k is not None:
            return k if k < n else -1
        base = self.base
        return -1 if base is None else base.find(key, min(n, self.start))

    def listing(self, n: int) -> list[str]:
        """The first ``n`` entries."""
        own = self.ids[: max(0, n - self.start)]
        base = self.base
        return own if base is None else base.listing(min(n, self.start)) + own

    def entry(self, k: int) -> str:
        """Entry ``k`` (an id)."""
        log = self
        while k < log.start:
            assert log.base is not None
            log = log.base
        return log.ids[k - log.start]

    def kind(self, k: int) -> int:
        """Command ``k``'s type code."""
        if k >= self.start:
            assert self.kinds is not None
            return self.kinds[k - self.start]
        assert self.base is not None
        return self.base.kind(k)

    def position(self, k: int) -> int:
        """Where command ``k``'s record begins."""
        if k >= self.start:
            assert self.pos is not None
            return self.pos[k - self.start]
        assert self.base is not None
        return self.base.position(k)

    def prefix(self, n: int) -> IdLog:
        """A log of the first ``n`` entries, to append to (an overlay, or a copy
        once overlays would nest deeply)."""
        commands = self.kinds is not None
        if self.depth >= 8:
            pos = array("q", map(self.position, range(n))) if commands else None
            kinds = bytearray(map(self.kind, range(n))) if commands else None
            return IdLog(self.listing(n), kinds, pos)
        if n <= self.start and self.base is not None:
            return self.base.prefix(n)
        return IdLog(
            [], bytearray() if commands else None, array("q") if commands else None, self, n
        )

    def append(self, key: str, kind: int, pos: int) -> None:
        self.index[key] = len(self)
        self.ids.append(key)
        if self.kinds is not None and self.pos is not None:
            self.kinds.append(kind)
            self.pos.append(pos)

    def truncate(self, n: int) -> None:
        """Drop the entries from ``n`` on (an aborted builder's; ``n >= start``)."""
        index = self.index
        cut = n - self.start
        for key in self.ids[cut:]:
            del index[key]
        del self.ids[cut:]
        if self.kinds is not None and self.pos is not None:
            del self.kinds[cut:]
            del self.pos[cut:]


def _chunked(flat: Sequence[int], *, big: bool = False) -> array[int] | _Big:
    """The lot table of ``flat`` rows (exactly sized arrays; ``big``: chunked
    whatever its size)."""
    n = len(flat) // S
    if n <= SMALL_LOTS and not big:
        return _as_array(flat)
    top = _Big()
    for c in range(0, n, _CHUNK):
        if not (c >> CHUNK_BITS) & _FAN_MASK:
            top.append([])
        top[-1].append(_as_array(flat[c * S : (c + _CHUNK) * S]))
    return top


def _rows(lots: Any) -> Sequence[int]:
    """Every row of a lot table, flat."""
    if type(lots) is not _Big:
        return lots  # type: ignore[no-any-return]
    out = array("q")
    for mid in lots:
        for chunk in mid:
            out += chunk
    return out


_EMPTY: Final[tuple[Any, ...]] = ()


_NO_HOLDS: Final[dict[str, Any]] = {}


def find(joined: str, key: str) -> int:
    """The index of ``key`` in a joined id string, or -1."""
    pos = joined.find(SEP + key + SEP)
    return -1 if pos < 0 else joined.count(SEP, 0, pos)


def split(joined: str) -> list[str]:
    """The ids of a joined id string, in order."""
    return joined.split(SEP)[1:-1]


def instant(us: int) -> datetime:
    """The UTC datetime of ``us`` microseconds since the epoch."""
    return EPOCH + timedelta(microseconds=us)


def _iso(us: int) -> str:
    return instant(us).isoformat()


def _too_late(at: datetime, occurred_at: datetime, what: str) -> InvalidTime:
    """The error of a command whose ``what`` (an expiry, an inactivity deadline)
    would fall after the last date a datetime holds; it names the command's
    time the date derives from."""
    name, value = ("at", at) if occurred_at == at else ("occurred_at", occurred_at)
    return InvalidTime(
        f"{name}={value.isoformat()} is too late: {what} would fall after {date.max.isoformat()}",
        field=name,
        value=value,
    )


@functools.lru_cache(maxsize=256)
def conf_of(tzname: str, policy: ExpiryPolicy, strict: bool, tzdata: str) -> Conf:
    """The shared settings object of ledgers with these settings."""
    if type(tzdata) is not str or not tzdata:
        raise ValueError(f"tzdata={tzdata!r} must be a non-empty str")
    return Conf(zone(tzname), tzname, policy, strict, tzdata)


_HOUR: Final = 3_600_000_000


class Conf:
    """A ledger's fixed program settings, shared by every ledger that has them."""

    __slots__ = ("inactive", "memo", "policy", "strict", "tz", "tzdata", "tzname")

    def __init__(
        self, tz: tzinfo, tzname: str, policy: ExpiryPolicy, strict: bool, tzdata: str
    ) -> None:
        self.tz = tz
        #: The zone data version the history's instants were computed with.
        self.tzdata = tzdata
        self.tzname = tzname
        self.policy = policy
        self.strict = strict
        #: Whether activity matters (the policy is ExpireOnInactivity).
        self.inactive = type(policy) is ExpireOnInactivity
        #: UTC hour -> expiry micros under the policy, for hours within one local date.
        self.memo: dict[int, int] = {}

    def expiry(self, when: datetime, hour: int, at: datetime) -> int:
        """The policy's expiry (micros, or NEVER) of points earned at ``when``
        (posted ``at``)."""
        tz = self.tz
        try:
            found = expiry_for(self.policy, tz, when.astimezone(tz).date())
        except (InvalidTime, OverflowError):
            raise _too_late(at, when, "the points' expiry") from None
        exp = NEVER if found is None else found[1]
        try:
            first = instant(hour * _HOUR).astimezone(tz).date()
            last = instant(hour * _HOUR + _HOUR - 1).astimezone(tz).date()
        except OverflowError:  # at the ends of the datetime range
            return exp
        if first == last:  # every instant of this hour has the same local date
            if len(self.memo) >= 100_000:
                self.memo.clear()
            self.memo[hour] = exp
        return exp


def _converter() -> Callable[[int], datetime]:
    """Micros to datetime, remembering the last one (instants repeat a lot)."""
    last = [NO, EPOCH]

    def dt(us: int) -> datetime:
        if us != last[0]:
            last[0], last[1] = us, EPOCH + timedelta(microseconds=us)
        return last[1]  # type: ignore[return-value]

    return dt


_new_state: Final = object.__new__


class Core:
    """A ledger's data: the slots every state has, and reading it back.

    Two classes share this layout: a builder (:class:`Builder`, with the
    policies on top in ``points._commands.State``) that changes it while one
    command runs, and the public ``PointsLedger``, a frozen one. A builder
    becomes a ledger by changing its class, so a command allocates one
    object; neither adds slots (replay's ``Replayer`` does, and hands its
    contents to a plain builder when done).

    What grows with the history is shared by every version of a ledger and
    only appended to: the records ``h``, the queue ``q``, ``objs`` and (for
    long ledgers) the id logs. A version sees its own prefix of each (its
    counts are in the header ``a``), so a command appends in place; a
    second version appending to the same parent copies the prefix first
    (copy-on-branch, under ``_LOCK``). Lot rows change, so a large lot table
    is chunked and a command copies only the chunks it changes.
    """

    __slots__ = (
        "_a",
        "_cache",
        "_canc",
        "_conf",
        "_eids",
        "_h",
        "_kinds",
        "_lids",
        "_lots",
        "_member_id",
        "_mine",
        "_objs",
        "_open_holds",
        "_own",
        "_pend",
        "_q",
        "_raw",
        "_tx",
    )

    _conf: Conf
    _member_id: str
    #: The header: balance totals and counts (a list while a history replays).
    _a: MutableSequence[int]
    #: Lot rows: an array (a list while replaying), or a _Big table.
    #: Lot rows: None while few (they follow the header in ``a``), a flat
    #: array or list (a replay's), or a _Big table.
    _lots: Any
    #: Usable lot indices, soonest-expiring first (ties: oldest), in q[QLO:QHI];
    #: None while the lot rows follow the header: the queue then follows them.
    _q: Any
    #: The history's records, h[:HN]: a word holding the event type and which
    #: optional fields are left out, then the fields.
    _h: Any
    _objs: Any  # objs[:NOBJ]: a tuple or a list shared with later versions
    _lids: str | IdLog  # the lot ids: joined ("\0a\0b\0") while few, else an IdLog
    _eids: str | IdLog  # the command ids, likewise
    _kinds: bytes  # each command's type code, a byte each (b"" with an IdLog)
    #: Pending lots: sorted (available micros, lot index).
    _pend: Any
    #: Open holds: id -> (points, deadline micros, flat parts, command index).
    _open_holds: dict[str, tuple[int, int, tuple[int, ...], int]]
    #: Points cancelled so far per redemption id.
    _canc: dict[str, int]
    #: The events a history was replayed from, when they are not all plain UTC.
    _raw: tuple[Any, ...] | None
    #: A builder's flags: which containers it owns or has claimed (see Builder).
    _own: int
    #: A builder's new records (None when frozen).
    _tx: Any
    #: A builder's copied chunks of a large lot table (ids), or None.
    _mine: set[int] | None
    #: A ledger's typed events, once asked for (unset until then).
    _cache: tuple[Any, ...]

    # -- ids ------------------------------------------------------------------

    def _ordinal(self, event_id: str) -> int:
        """The index of the command called ``event_id``, or -1."""
        e = self._eids
        if type(e) is str:
            return find(e, event_id)
        return e.find(event_id, self._a[H_NCMD])

    def _lot_index(self, lot_id: str) -> int:
        """The index of the lot called ``lot_id``, or -1."""
        e = self._lids
        if type(e) is str:
            return find(e, lot_id)
        return e.find(lot_id, self._a[H_NLOTS])

    def _ids(self) -> tuple[list[str], list[str]]:
        """(command ids, lot ids) in order."""
        e, lids = self._eids, self._lids
        return (
            split(e) if type(e) is str else e.listing(self._a[H_NCMD]),  # type: ignore[union-attr]
            split(lids) if type(lids) is str else lids.listing(self._a[H_NLOTS]),  # type: ignore[union-attr]
        )

    def _id_lists(self) -> tuple[list[str], list[str]]:
        """Lists of the command and lot ids, each beginning with this version's
        (a record names earlier commands and lots: a log's whole list will do)."""
        e, lids = self._eids, self._lids
        ids = split(e) if type(e) is str else e.listing(len(e))  # type: ignore[union-attr]
        names = split(lids) if type(lids) is str else lids.listing(len(lids))  # type: ignore[union-attr]
        return ids, names

    def _kind(self, k: int) -> int:
        """The type code of command ``k``."""
        e = self._eids
        if type(e) is str:
            return self._kinds[k]
        return e.kind(k)  # type: ignore[union-attr]

    def _command_pos(self, k: int) -> int:
        """Where command ``k``'s record begins in ``h``."""
        e = self._eids
        if type(e) is not str:
            return e.position(k)  # type: ignore[union-attr]
        h, off, _ = self._hbuf()
        i, count = off, 0
        while True:
            code = h[i] & 31
            if _READ[code][2]:
                if count == k:
                    return i - off
                count += 1
            i = _SKIP[code](h, i)

    def _history_end(self) -> int:
        """Where this version's records end in ``h``."""
        return self._a[H_HN]

    def _hbuf(self) -> tuple[Any, int, int]:
        """(the array holding the records, where they begin, where they end):
        a short ledger's follow its queue in ``a`` (a builder's own new ones
        included), a longer one's are the shared ``h``."""
        h = self._h
        if h is None:
            a = self._a
            return a, HDR + a[H_NLOTS] * S + a[H_QHI], len(a)
        return h, 0, self._history_end()

    # -- lots -----------------------------------------------------------------

    def _row(self, i: int) -> tuple[Any, int]:
        """(the array holding lot ``i``'s row, where the row begins), to read."""
        lots = self._lots
        if lots is None:
            return self._a, HDR + i * S
        if type(lots) is _Big:
            return lots[i >> _MID_SHIFT][(i >> CHUNK_BITS) & _FAN_MASK], (i & _CHUNK_MASK) * S
        return lots, i * S

    def column_of(self, lot: int, column: int) -> int:
        """One column of lot ``lot``'s row (``REM``, ``EXPIRES``, ``SRC``...)."""
        row, base = self._row(lot)
        return row[base + column]  # type: ignore[no-any-return]

    def remaining_of(self, lot: int) -> int:
        """Lot ``lot``'s usable (or, while pending, not yet usable) points."""
        row, base = self._row(lot)
        return row[base + REM]  # type: ignore[no-any-return]

    # -- reading back -------------------------------------------------------

    def _opened_event(self) -> Opened:
        conf = self._conf
        return Opened(
            self._member_id,
            tz=conf.tzname,
            policy=conf.policy,
            debt_policy="strict" if conf.strict else "debt",
            tzdata=conf.tzdata,
        )

    def _history(self) -> list[Any]:
        """The typed history, oldest first."""
        ids, names = self._ids()
        objs, dt = self._objs, _converter()
        out: list[Any] = [self._opened_event()]
        h, i, n = self._hbuf()
        k = 0
        while i < n:
            cls, read, command = _READ[h[i] & 31]
            if command:
                values, i = read(h, i, objs, ids[k], ids, names, dt)
                k += 1
            else:
                values, i = read(h, i, objs, None, ids, names, dt)
            out.append(cls(*values))
        raw = self._raw
        if raw is not None:
            out[: len(raw)] = raw
        return out

    def _command_event(self, k: int) -> Any:
        """The ``k``-th command event, read from its record alone.

        A long ledger knows where each command's record begins; a short one
        steps over the records before it. Either way a retry, a cancelled
        redemption or a transfer does not build the events before it.
        """
        if self._raw is not None:  # (given events stand in for the records)
            commands = [ev for ev in self._history()[1:] if not ev.derived]
            return commands[k]
        h, off, _ = self._hbuf()
        i = off + self._command_pos(k)
        cls, read, _ = _READ[h[i] & 31]
        ids, names = self._id_lists()
        return cls(*read(h, i, self._objs, ids[k], ids, names, _converter())[0])

    def _command_named(self, event_id: str) -> Any:
        """The command event called ``event_id``, or None."""
        k = self._ordinal(event_id)
        return None if k < 0 else self._command_event(k)

    def _lot_value(self, i: int, names: list[str] | None = None) -> Lot:
        """The public value of lot ``i``."""
        r, b = self._row(i)
        avail = r[b + AVAIL]
        exp = r[b + EXPIRES]
        counts = r[b + REM : b + CLAW]  # (named first: see loyaltycore._compiled)
        rem, held, used, expd, rev = counts
        source, value = self._source_of(r[b + SRC])
        return Lot(
            (names or self._ids()[1])[i],
            i + 1,
            rem + held + used + expd + rev,
            instant(r[b + EARNED_AT]),
            None if exp == NEVER else instant(exp),
            None if avail == NO else instant(avail - PBIT if avail > PBIT // 2 else avail),
            avail > PBIT // 2,
            rem,
            held,
            used,
            expd,
            rev,
            source,
            value,
        )

    def _source_of(self, column: int) -> tuple[str, Any]:
        """(source, value per point) of a lot row's ``SRC`` column."""
        if not column:
            return "purchase", None
        code, value = column & _LOW, column >> 32
        objs = self._objs
        source = SOURCES[code] if code < SOURCE_OWN else objs[code - SOURCE_OWN]
        return source, objs[value - 1] if value else None

    def _lot_values(self, *, unspent: bool = False) -> tuple[Lot, ...]:
        """Every lot (or every lot with points left), in the order they were created.

        The rows are read in one pass; each distinct instant and source is
        made once (lots earned on one day expire together, and most share
        their source).
        """
        names = self._ids()[1]
        flat = self._rows()
        made: dict[int, datetime] = {}
        sources: dict[int, tuple[str, Any]] = {}

        def when(us: int) -> datetime:
            found = made.get(us)
            if found is None:
                found = made[us] = instant(us)
            return found

        lots = []
        for i in range(self._a[H_NLOTS]):
            b = i * S
            row = flat[b : CLAW + b]  # (named first: see loyaltycore._compiled)
            earned, exp, avail, rem, held, used, expd, rev = row
            if unspent and not rem:
                continue
            pending = avail > PBIT // 2
            if pending:
                avail -= PBIT
            column = flat[b + SRC]
            source = sources.get(column)
            if source is None:
                source = sources[column] = self._source_of(column)
            lots.append(
                Lot(
                    names[i],
                    i + 1,
                    rem + held + used + expd + rev,
                    when(earned),
                    None if exp == NEVER else when(exp),
                    None if avail == NO else when(avail),
                    pending,
                    rem,
                    held,
                    used,
                    expd,
                    rev,
                    *source,
                )
            )
        return tuple(lots)

    def _events_of(self, *kinds: type[Any]) -> list[Any]:
        """The history's events of ``kinds``, oldest first, each read from its
        record alone (the other records are stepped over)."""
        if self._raw is not None:  # (given events stand in for the records)
            return [ev for ev in self._history() if type(ev) in kinds]
        codes = {CODE[kind] for kind in kinds}
        objs = self._objs
        ids, names = self._ids()
        dt = _converter()
        found: list[Any] = []
        h, i, n = self._hbuf()
        k = 0
        tx = self._tx
        if tx and tx is not h:  # (a builder's own records so far come after)
            h = list(h[i:n]) + tx
            i, n = 0, len(h)
        while i < n:
            code = h[i] & 31
            cls, read, command = _READ[code]
            if code in codes:
                found.append(
                    cls(*read(h, i, objs, ids[k] if command else None, ids, names, dt)[0])
                )
            i = _SKIP[code](h, i)
            k += command
        return found

    def _hold_values(self) -> tuple[Hold, ...]:
        """Every hold, in the order placed, rebuilt from the history."""
        found: dict[str, Hold] = {}
        for ev in self._events_of(Held, Captured, Released, HoldTimedOut):
            kind = type(ev)
            if kind is Held:
                found[ev.id] = Hold(ev.id, self._member_id, ev.points, ev.deadline, ev.lots)
            elif kind is Captured:
                found[ev.hold] = attrs.evolve(
                    found[ev.hold], status="captured", captured=ev.amount
                )
            elif kind is Released:
                found[ev.hold] = attrs.evolve(found[ev.hold], status="released")
            else:
                found[ev.hold] = attrs.evolve(found[ev.hold], status="timed_out")
        return tuple(found.values())

    def _qbuf(self) -> tuple[Any, int]:
        """(the array holding the queue, where its q[0] is)."""
        q = self._q
        if q is None:
            a = self._a
            return a, HDR + a[H_NLOTS] * S
        return q, 0

    def _queue(self) -> list[int]:
        """The usable lots, soonest-expiring first (a copy)."""
        a = self._a
        q, off = self._qbuf()
        return list(q[off + a[H_QLO] : off + a[H_QHI]])

    def _records(self) -> Sequence[int]:
        """This version's records (a copy)."""
        h, off, end = self._hbuf()
        return h[off:end]  # type: ignore[no-any-return]

    def _rows(self) -> Sequence[int]:
        """Every lot row, flat."""
        lots = self._lots
        if lots is None:
            return self._a[HDR : HDR + self._a[H_NLOTS] * S]
        return _rows(lots)

    def _last_instant(self) -> datetime | None:
        last = self._a[H_LAST]
        return None if last == NO else instant(last)

    def _same_state(self, other: Core) -> bool:
        """Whether two states hold the same ledger (a cache and the layout aside)."""
        a, b = self._a, other._a
        return (
            a[:H_NEXT] == b[:H_NEXT]  # the next due instant is a cache
            and a[H_NEXT + 1 : H_QLO] == b[H_NEXT + 1 : H_QLO]
            and a[H_NCMD:HDR] == b[H_NCMD:HDR]  # (HN: a short ledger's is not kept)
            and self._queue() == other._queue()
            and self._records() == other._records()
            and self._rows() == other._rows()
            and _values(self._objs, a[H_NOBJ]) == _values(other._objs, b[H_NOBJ])
            and self._ids() == other._ids()
        )


def _bad_id(event_id: str) -> InvalidArgument:
    return InvalidArgument(
        f"id={event_id!r} must not contain a NUL character", field="id", value=event_id
    )


def _bad_lot_id(lot_id: str) -> InvalidArgument:
    if SEP in lot_id:
        return InvalidArgument(
            f"lot id={lot_id!r} must not contain a NUL character", field="id", value=lot_id
        )
    return DuplicateId(f"lot id={lot_id!r} already exists", field="id", value=lot_id)


def _insort(pend: list[tuple[int, int]], item: tuple[int, int]) -> None:
    k = len(pend)
    while k and pend[k - 1] > item:
        k -= 1
    pend.insert(k, item)


_PACK: Final[dict[int, Callable[..., None]]] = {}
_ZERO: Final = array("q", [0])
#: The packing format of an int64: the C long where it has 64 bits, as on
#: 64-bit Linux and macOS. CPython reads a long of two or more digits (any
#: instant in micros) as a C long in a loop, but as a long long by way of a
#: byte array, which makes packing them over twice as slow.
_INT64: Final = "l" if struct.calcsize("l") == 8 else "q"


def _as_array(items: Sequence[int]) -> array[int]:
    """``array("q", items)`` in about half the time: packing reads each int as
    such, where an array parses it as an argument (and see ``_INT64``).
    Exactly sized; OverflowError beyond int64."""
    n = len(items)
    pack_into = _PACK.get(n)
    if pack_into is None:
        pack_into = struct.Struct(f"{n}{_INT64}").pack_into
        if len(_PACK) < 1024:
            _PACK[n] = pack_into
    out = _ZERO * n
    try:
        pack_into(out, 0, *items)
    except struct.error:
        raise OverflowError("a value is beyond int64") from None
    return out


class Builder(Core):
    """A builder: a state thawed for one command, or one replaying a history.

    ``_own`` flags what the builder may change in place: the pending list
    (1), open holds (2), cancelled totals (4), objs (8), a small lot table
    (16), the queue by appending (32) or anyhow (64), the command ids (256)
    and lot ids (1024) of an IdLog. A shared container appended to in place
    is claimed (128, 512, 2048, 4096 for the queue, command ids, lot ids,
    objs): a builder that is not published gives its claims back
    (:meth:`abort`), so its parent keeps appending in place.
    """

    __slots__ = ()

    # -- construction -------------------------------------------------------

    @classmethod
    def opened(cls, ev: Opened) -> Self:
        """A fresh builder for a ledger opened by ``ev``."""
        return cls.fresh(ev.member, ev.tz, ev.policy, ev.debt_policy, ev.tzdata)

    @classmethod
    def fresh(
        cls, member: str, tz: str, policy: ExpiryPolicy, debt_policy: str, tzdata: str
    ) -> Self:
        """A fresh builder for a ledger opened with these settings (the fields
        of its :class:`Opened`, which is not built: it is read back from them)."""
        if debt_policy not in ("debt", "strict"):
            raise ValueError(f"debt_policy={debt_policy!r} must be 'debt' or 'strict'")
        s = cls.__new__(cls)
        s._conf = conf_of(tz, policy, debt_policy == "strict", tzdata)
        s._member_id = member
        s._a = _FRESH[:]
        s._lots = s._q = s._h = None
        s._objs = _EMPTY
        s._lids = s._eids = SEP
        s._kinds = b""
        s._pend = _EMPTY
        s._open_holds = _NO_HOLDS
        s._canc = _NO_HOLDS
        s._raw = None
        s._own = 0
        s._tx = None
        s._mine = None
        return s

    @classmethod
    def thaw(cls, f: Core) -> Self:
        """A builder for one command on frozen ``f`` (its header copied, the rest shared)."""
        return _thaw(cls, f)  # (interpreted: see points/_thaw.py)

    def freeze(self) -> Builder:
        """This builder, frozen: its records appended to the shared history.

        It must not be changed afterwards.
        """
        rec = self._tx
        if rec and self._h is not None:  # (a short ledger's records end a: nothing to do)
            h, a = self._h, self._a
            n = a[H_HN]
            end = n + len(rec)
            if len(h) == n:
                h.extend(rec)  # (see _claim)
                if len(h) != end:  # (two threads raced: copy)
                    self._h = h[:n] + array("q", rec)
            else:  # another version appended to the parent: copy
                self._h = h[:n] + array("q", rec)
            a[H_HN] = end
        self._tx = None  # (a large table's _mine stays: nobody reads it any more)
        a = self._a
        lo = a[H_QLO]
        if lo and self._q is None:  # (drop the inline queue's spent entries)
            off = HDR + a[H_NLOTS] * S
            del a[off : off + lo]
            a[H_QHI] -= lo
            a[H_QLO] = 0
        if len(a) > SHORT_LEDGER and self._h is None:  # (the records move out)
            self.h_out()
        if self._own:  # (containers it never copied are still frozen ones)
            if not self._pend:
                self._pend = _EMPTY
            if not self._open_holds:
                self._open_holds = _NO_HOLDS
            if not self._canc:
                self._canc = _NO_HOLDS
            self._own = 0
        return self

    def abort(self, parent: Core) -> None:
        """Give back what this unpublished builder appended to shared containers."""
        own = self._own
        if not own & (128 | 512 | 2048 | 4096):
            return
        base = parent._a
        with _LOCK:
            if own & 128:
                del self._q[base[H_QHI] :]
            if own & 512:
                self._eids.truncate(base[H_NCMD])  # type: ignore[union-attr]
            if own & 2048:
                self._lids.truncate(base[H_NLOTS])  # type: ignore[union-attr]
            if own & 4096:
                del self._objs[base[H_NOBJ] :]
        self._own = own & ~(128 | 512 | 2048 | 4096 | 32 | 256 | 1024 | 8)

    # The rarely changed containers are shared with the state a builder was
    # thawed from, and copied before the builder first changes one of them.

    def own_pend(self) -> list[tuple[int, int]]:
        """``pend``, copied if still shared."""
        if not self._own & 1:
            self._pend = list(self._pend)
            self._own |= 1
        pend: list[tuple[int, int]] = self._pend
        return pend

    def own_open(self) -> dict[str, tuple[int, int, tuple[int, ...], int]]:
        """``open``, copied if still shared."""
        if not self._own & 2:
            self._open_holds = dict(self._open_holds)
            self._own |= 2
        return self._open_holds

    def own_canc(self) -> dict[str, int]:
        """``canc``, copied if still shared."""
        if not self._own & 4:
            self._canc = dict(self._canc)
            self._own |= 4
        return self._canc

    def own_row(self, i: int) -> tuple[Any, int]:
        """(the array holding lot ``i``'s row, where the row begins), to change:
        the row's chunk (a small table: the table) copied if still shared."""
        lots = self._lots
        if lots is None:
            return self._a, HDR + i * S
        if type(lots) is not _Big:
            if not self._own & 16:
                lots = self._lots = lots[:]
                self._own |= 16
            return lots, i * S
        mine = getattr(self, "_mine", None)  # (a thawed builder leaves it unset)
        if mine is None:
            mine = self._mine = set()
        if id(lots) not in mine:
            lots = self._lots = _Big(lots)
            mine.add(id(lots))
        m = i >> _MID_SHIFT
        mid = lots[m]
        if id(mid) not in mine:
            mid = lots[m] = mid[:]
            mine.add(id(mid))
        c = (i >> CHUNK_BITS) & _FAN_MASK
        chunk = mid[c]
        if id(chunk) not in mine:
            chunk = mid[c] = chunk[:]
            mine.add(id(chunk))
        return chunk, (i & _CHUNK_MASK) * S

    def move(self, lot: int, points: int, source: int, target: int) -> None:
        """Move ``points`` of lot ``lot`` from its column ``source`` to ``target``
        (``REM``, ``HELD_``, ``USED``, ``EXPD``, ``REV``: remaining, held, used,
        expired, reversed)."""
        row, base = self.own_row(lot)
        row[base + source] -= points
        row[base + target] += points

    def set_column(self, lot: int, column: int, value: int) -> None:
        """Set one column of lot ``lot``'s row."""
        row, base = self.own_row(lot)
        row[base + column] = value

    def add_to(self, lot: int, column: int, amount: int) -> None:
        """Add ``amount`` to one column of lot ``lot``'s row."""
        row, base = self.own_row(lot)
        row[base + column] += amount

    def add_row(self, row: tuple[int, ...]) -> None:
        """Append a new lot's row (the header's lot count not yet raised)."""
        a = self._a
        n = a[H_NLOTS]
        lots = self._lots
        if lots is None:
            if n < SMALL_LOTS:
                if self._q is None:  # (before the queue)
                    qs = HDR + n * S
                    a[qs:qs] = array("q", row)
                else:
                    a.extend(row)
                return
            self.q_inline()
            big = self._lots = _chunked(a[HDR:], big=True)  # (all of it new: this builder's)
            del a[HDR:]
            assert type(big) is _Big
            self._mine = {id(big)} | {id(mid) for mid in big}
            self._mine |= {id(chunk) for mid in big for chunk in mid}
        elif type(lots) is not _Big:  # (a replay's table stays flat)
            lots.extend(row)
            return
        if n & _CHUNK_MASK:
            chunk, _ = self.own_row(n - 1)
            chunk.extend(row)
            return
        self.own_row(n - 1)  # (owns the table and the last mid)
        lots = self._lots
        chunk = array("q", row)
        mine = self._mine
        assert mine is not None
        mine.add(id(chunk))
        if (n >> CHUNK_BITS) & _FAN_MASK:
            lots[-1].append(chunk)
        else:
            mid = [chunk]
            mine.add(id(mid))
            lots.append(mid)

    # -- the queue ------------------------------------------------------------

    def q_append(self, i: int) -> None:
        """Put lot ``i`` at the end of the queue."""
        a = self._a
        hi = a[H_QHI]
        if self._q is None:  # (in the builder's own header)
            a.insert(HDR + a[H_NLOTS] * S + hi, i)
        elif self._own & 32:
            self._q.append(i)
        else:
            q = self._q
            claimed = False
            if len(q) == hi and not self._own & READ_ONLY:
                q.append(i)  # (see _claim)
                claimed = len(q) == hi + 1
            if claimed:  # (the parent's length kept above bit 16, to give it back)
                self._own |= 32 | 128 | hi << 16
            else:  # another version appended to the parent: copy
                self.q_private()
                self._q.append(i)
                hi = a[H_QHI]
        a[H_QHI] = hi + 1

    def q_insert(self, pos: int, i: int) -> None:
        """Put lot ``i`` at ``pos`` of the queue (q[pos], from QLO to QHI)."""
        a = self._a
        if self._q is None:
            a.insert(HDR + a[H_NLOTS] * S + pos, i)
        else:
            lo = a[H_QLO]
            q = self.q_private()  # (which may move QLO)
            q.insert(pos - lo + a[H_QLO], i)
        a[H_QHI] += 1

    def q_remove(self, i: int) -> None:
        """Take lot ``i`` out of the queue."""
        a = self._a
        q = self._a if self._q is None else self.q_private()
        off = HDR + a[H_NLOTS] * S if self._q is None else 0
        del q[q.index(i, off + a[H_QLO], off + a[H_QHI])]
        a[H_QHI] -= 1

    def h_out(self) -> None:
        """Move a short ledger's records out of ``a`` into a history of their own."""
        if self._h is None:
            a = self._a
            off = HDR + a[H_NLOTS] * S + a[H_QHI]
            self._h = a[off:]
            del a[off:]
            a[H_HN] = len(self._h)
            if self._tx is a:  # (a builder: its records from now on are new ones)
                self._tx = []

    def q_inline(self) -> None:
        """Move an inline queue out of the header (before the lot table grows large)."""
        self.h_out()
        if self._q is None:
            a = self._a
            off = HDR + a[H_NLOTS] * S
            self._q = a[off + a[H_QLO] : off + a[H_QHI]]
            del a[off:]
            a[H_QLO], a[H_QHI] = 0, len(self._q)
            self._own |= 32 | 64

    def q_private(self) -> Any:
        """The queue as this builder's own, to change anywhere (copied if shared)."""
        if not self._own & 64:
            a, q = self._a, self._q
            lo, hi = a[H_QLO], a[H_QHI]
            mine = q[lo:hi]
            if self._own & 128:  # (give back what it claimed)
                with _LOCK:
                    del q[self._own >> 16 :]
            self._q = mine
            a[H_QLO], a[H_QHI] = 0, hi - lo
            self._own = (self._own | 32 | 64) & ~128
        return self._q

    # -- ids ------------------------------------------------------------------

    def _log_append(self, log: IdLog, n: int, bit: int, key: str, kind: int, pos: int) -> IdLog:
        """Append ``key`` to ``log`` (at ``n``), claiming it or copying it first."""
        if not self._own & bit:
            with _LOCK:
                claimed = len(log) == n
                if claimed:
                    log.append(key, kind, pos)
            if claimed:
                self._own |= bit | bit << 1
                return log
            log = log.prefix(n)
            self._own |= bit
        log.append(key, kind, pos)
        return log

    def name_lot(self, lot_id: str, i: int) -> None:
        """Give the new lot ``i`` its id, which must be new."""
        lids = self._lids
        if type(lids) is str:
            if (SEP + lot_id + SEP) in lids or SEP in lot_id:
                raise _bad_lot_id(lot_id)
            if i < BIG_IDS:
                self._lids = lids + lot_id + SEP
                return
            lids = self._lids = IdLog(split(lids), None, None)
            self._own |= 1024
        elif self._lot_index(lot_id) >= 0 or SEP in lot_id:
            raise _bad_lot_id(lot_id)
        self._lids = self._log_append(lids, i, 1024, lot_id, 0, 0)  # type: ignore[arg-type]

    def command(self, event_id: str, code: int, at_us: int) -> None:
        """Record that the command ``event_id`` (of type ``code``) happened at ``at_us``."""
        if SEP in event_id:
            raise _bad_id(event_id)
        a = self._a
        e = self._eids
        n = a[H_NCMD]
        if type(e) is str and n < BIG_IDS:
            self._eids = e + event_id + SEP
            self._kinds += _BYTE[code]
        else:
            if type(e) is str:
                pos = array("q", map(self._command_pos, range(n)))
                e = IdLog(split(e), bytearray(self._kinds), pos)
                self._kinds = b""
                self._own |= 256
            h, off, end = self._hbuf()  # (the command's record comes next)
            pos_now = end - off if h is a else a[H_HN] + len(self._tx)
            self._eids = self._log_append(e, n, 256, event_id, code, pos_now)  # type: ignore[arg-type]
        a[H_NCMD] = n + 1
        a[H_NEV] += 1
        if at_us > a[H_LAST]:
            a[H_LAST] = at_us

    def obj(self, value: Any) -> int:
        """Keep ``value`` in objs; its index."""
        a = self._a
        n = a[H_NOBJ]
        if not self._own & 8:
            objs = self._objs
            claimed = False
            if type(objs) in (list, LazyObjs) and len(objs) == n:
                objs.append(value)  # (see _claim)
                claimed = len(objs) == n + 1
            if claimed:
                self._own |= 8 | 4096
                a[H_NOBJ] = n + 1
                return n
            self._objs = objs[:n] if type(objs) is LazyObjs else list(objs[:n])
            self._own |= 8
        self._objs.append(value)
        a[H_NOBJ] = n + 1
        return n

    def source_code(self, source: str) -> int:
        """The code of a lot source (see ``SRC``), keeping a host's own in objs."""
        code = _SOURCE_CODE.get(source)
        return SOURCE_OWN + self.obj(source) if code is None else code

    def src_column(self, source: str, value: Any) -> int:
        """A new lot's ``SRC`` column, keeping what it needs in objs."""
        if source == "purchase" and value is None:
            return 0
        code = self.source_code(source)
        return code if value is None else code | (self.obj(value) + 1) << 32

    def sources_of(self, parts: Sequence[int]) -> tuple[tuple[str, int], ...] | None:
        """The points of flat lot ``parts`` per source, in order (adjacent
        parts of one source summed); None when all of them are purchases."""
        lots = self._lots
        if lots is None or type(lots) is not _Big:  # (the usual answer, in one pass)
            rows, start = (self._a, HDR + SRC) if lots is None else (lots, SRC)
            for lot in parts[::2]:
                if rows[start + lot * S]:
                    break
            else:
                return None  # every part's SRC column is 0: all purchases
        columns = []
        for j in range(0, len(parts), 2):
            r, b = self._row(parts[j])
            columns.append(r[b + SRC])
        if not any(columns):
            return None
        out: list[tuple[str, int]] = []
        for column, x in zip(columns, parts[1::2], strict=True):
            source = self._source_of(column)[0]
            if out and out[-1][0] == source:
                out[-1] = (source, out[-1][1] + x)
            else:
                out.append((source, x))
        return tuple(out)

    # -- bookkeeping --------------------------------------------------------

    def derived(self, at_us: int) -> None:
        """Record that a derived event happened at ``at_us``."""
        a = self._a
        a[H_NEV] += 1
        if at_us > a[H_LAST]:
            a[H_LAST] = at_us

    def expiry_of(self, i: int) -> int:
        """Lot ``i``'s expiry (micros, or NEVER)."""
        r, b = self._row(i)
        return r[b + EXPIRES]  # type: ignore[no-any-return]

    def enqueue(self, i: int) -> None:
        """Put usable lot ``i`` into the queue, by (expiry, index)."""
        a = self._a
        exp = self.expiry_of(i)
        q, off = self._qbuf()
        lo, hi = a[H_QLO], a[H_QHI]
        if lo == hi:
            self.q_append(i)
            return
        last = q[off + hi - 1]
        e = self.expiry_of(last)
        if e < exp or (e == exp and last < i):  # the newest usually sorts last
            self.q_append(i)
            return
        while lo < hi:
            mid = (lo + hi) // 2
            j = q[off + mid]
            e = self.expiry_of(j)
            if e < exp or (e == exp and j < i):
                lo = mid + 1
            else:
                hi = mid
        self.q_insert(lo, i)

    def new_lot(
        self,
        lot_id: str,
        points: int,
        earned: int,
        exp: int,
        avail: int | None,
        pending: bool,
        src: int = 0,
    ) -> int:
        a = self._a
        i = a[H_NLOTS]
        self.name_lot(lot_id, i)
        column = NO if avail is None else avail + PBIT if pending else avail
        lots = self._lots
        flat = self._own & 8192  # (a replay's)
        if lots is None and i < SMALL_LOTS:  # (the common cases)
            if self._q is None:  # (before the queue)
                qs = HDR + i * S
                a[qs:qs] = _ROW
                a[qs] = earned
                a[qs + 1] = exp
                a[qs + 2] = column
                a[qs + 3] = points
                a[qs + SRC] = src
            else:
                a.extend((earned, exp, column, points, 0, 0, 0, 0, 0, src))
        elif flat:
            lots.extend((earned, exp, column, points, 0, 0, 0, 0, 0, src))
        else:
            self.add_row((earned, exp, column, points, 0, 0, 0, 0, 0, src))
            lots = self._lots  # (a short table may have become a large one)
        a[H_NLOTS] = i + 1
        if pending:
            assert avail is not None
            _insort(self.own_pend(), (avail, i))
            a[PENDING] += points
            return i
        a[AVAILABLE] += points
        hi = a[H_QHI]
        if hi > a[H_QLO]:
            q = self._q
            last = q[hi - 1] if q is not None else a[HDR + (i + 1) * S + hi - 1]
            if flat:
                last_exp = lots[last * S + EXPIRES]
            elif lots is None:
                last_exp = a[HDR + last * S + EXPIRES]
            else:
                last_exp = self.expiry_of(last)
            if last_exp > exp:  # (the newest usually sorts last)
                self.enqueue(i)
                return i
        if self._q is None:
            a.insert(HDR + (i + 1) * S + hi, i)
            a[H_QHI] = hi + 1
        elif self._own & 32:
            self._q.append(i)
            a[H_QHI] = hi + 1
        else:
            self.q_append(i)
        return i

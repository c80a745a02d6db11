"""The points ledger engine: a compact state and the builder that changes it.

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

Typed events and lots are rebuilt from these when asked for. A builder is a
state thawed for one command (header copied, everything else shared); once
it has applied the command it is frozen and becomes the new ledger itself
(builder and ledger share one slot layout, :class:`Core`, so only the
object's class changes). A command that raises leaves its builder behind
and gives back what it appended, so the ledger it came from is untouched.
Replay runs every event of a history through one builder, checking each
event against the record the engine wrote for it. A command's handler takes
the command's inputs as arguments (``HANDLERS``): a public method passes its
checked arguments without building the event, and replay passes a given
event's fields. Each event class carries its record layout (``_record``)
and its statement line (``_line``): a new command is an event class, a
handler here and its public method.

The policies themselves (consumption order, clawback order, expiry, holds,
debt) are specified executably by the reference model in
``tests/test_points_stateful.py``, which shares no code with this module:
change a policy there first.

Inputs reaching the engine are already validated by :mod:`loyaltycore.points`.
"""

from __future__ import annotations

import functools
import struct
import threading
from array import array
from collections.abc import Callable, Iterator, MutableSequence, Sequence
from datetime import date, datetime, timedelta, tzinfo
from operator import attrgetter
from typing import Any, Final

import attrs

from loyaltycore._generated import run_generated
from loyaltycore.calendar import EPOCH, NEVER, UTC, micros, start_of_day, zone
from loyaltycore.errors import (
    DuplicateId,
    HoldAlreadyResolved,
    HoldExpired,
    InsufficientPoints,
    InvalidArgument,
    InvalidData,
    InvalidPoints,
    InvalidTime,
    OverCapture,
    OverReversal,
    SameMember,
    StrictPolicyViolation,
    UnknownEvent,
    UnknownHold,
)
from loyaltycore.points._values import (
    ADJUSTED_IN,
    ADJUSTED_OUT,
    AVAILABLE,
    CANCELLED,
    CLAWED_BACK,
    DEBT,
    DEBT_REPAID,
    EARNED,
    EVENT_TYPES,
    EXPIRED,
    HELD,
    MERGED_DEBT,
    MERGED_IN,
    PENDING,
    REDEEMED,
    SOURCES,
    TRANSFERRED_IN,
    TRANSFERRED_OUT,
    Adjusted,
    Captured,
    DebtRepaid,
    Earned,
    EarnReversed,
    Expired,
    ExpireOnInactivity,
    ExpiryPolicy,
    Held,
    Hold,
    HoldTimedOut,
    Lot,
    Merged,
    MergedLot,
    Opened,
    Redeemed,
    RedemptionCancelled,
    Released,
    TransferIn,
    TransferredIn,
    TransferredOut,
    Vested,
    expiry_for,
    inactivity_deadline,
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
#: A source code from this on is a host's own source: objs[code - SOURCE_OWN].
SOURCE_OWN: Final = 8
_SOURCE_CODE: Final = {source: k for k, source in enumerate(SOURCES)}
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
    """

    __slots__ = ("_build", "_data")

    def __init__(self, data: Any, build: Callable[[Any], Any]) -> None:
        self._data = data
        self._build = build

    def value(self) -> Any:
        return self._build(self._data)


class LazyObjs(list):  # type: ignore[type-arg]
    """``objs`` with some items :class:`Deferred`: each is built when first
    read, and replaced by its value (the list may be shared: same value)."""

    __slots__ = ()

    def __getitem__(self, i: Any) -> Any:
        if type(i) is slice:
            return LazyObjs(list.__getitem__(self, i))
        value = list.__getitem__(self, i)
        if type(value) is Deferred:
            value = value.value()
            list.__setitem__(self, i, value)
        return value

    def __iter__(self) -> Iterator[Any]:
        return (self[i] for i in range(len(self)))


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


#: Event type codes: the index in EVENT_TYPES.
CODE: Final[dict[type[Any], int]] = {cls: code for code, cls in enumerate(EVENT_TYPES)}
C_EARNED: Final = CODE[Earned]
C_REDEEMED: Final = CODE[Redeemed]
C_CAPTURED: Final = CODE[Captured]
C_HELD: Final = CODE[Held]
_BYTE_EARNED: Final = bytes((C_EARNED,))
_CAUSES: Final = ("lot", "inactivity", "hold", "cancel")
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


# -- history records -------------------------------------------------------------
#
# Each event type's fields, one letter each (attrs field order), as its class's
# ``_record`` gives them:
#   i  the command's own id (kept in eids, not in the record)
#   T  an instant, always stored (the first one is the event's ``at``)
#   t  an instant left out when equal to ``at`` (occurred_at)
#   N  an optional instant, left out when None
#   I  an int; n  an optional int, left out when None; z  an int left out when 0
#   b  a bool left out when True
#   r  a str left out when empty, else an index into objs; o  any value, in objs
#   E  a command, by its index; L  a lot, by its index
#   P  lot parts: a count and (lot index, points) pairs, left out when empty
#   c  an Expired cause, left out when "lot"
#   s  a lot source, left out when "purchase", else its code (see SRC)
#   v  an optional value (a Decimal), left out when None, else in objs
#   u  the sources consumed, left out when all "purchase" (the writer is
#      given None), else a tuple in objs; read back as (("purchase", I),)
#      then, with I the record's first int
_SPECS: Final[dict[type[Any], str]] = {cls: cls._record for cls in EVENT_TYPES[1:]}
_OPTIONAL: Final = "tNnzbrPcsvu"


def _writer_source(code: int, spec: str) -> str:
    """A function appending one record, given its fields in engine form."""
    args = [f"f{k}" for k, c in enumerate(spec) if c != "i"]
    kinds = [c for c in spec if c != "i"]
    at = args[kinds.index("T")]
    flags, body, bit = [], [], 1
    for name, c in zip(args, kinds, strict=True):
        omitted = {
            "t": f"{name} == {at}",
            "N": f"{name} is None",
            "n": f"{name} is None",
            "z": f"not {name}",
            "b": f"{name}",
            "r": f"not {name}",
            "P": f"not {name}",
            "c": f"{name} == 'lot'",
            "s": f"{name} == 'purchase'",
            "v": f"{name} is None",
            "u": f"{name} is None",
        }.get(c)
        store = {
            "b": "h.append(0)",
            "s": f"h.append(b.source_code({name}))",
            "v": f"h.append(b.obj({name}))",
            "u": f"h.append(b.obj({name}))",
            "r": f"h.append(b.obj({name}))",
            "o": f"h.append(b.obj({name}))",
            "P": f"h.append(len({name}) >> 1); h.extend({name})",
            "c": f"h.append(CAUSES.index({name}))",
        }.get(c, f"h.append({name})")
        if omitted is None:
            body.append(f"    {store}")
        else:
            flags.append(f"({bit} if {omitted} else 0)")
            body.append(f"    if not fl & {bit}: {store}")
            bit <<= 1
    lines = [f"def w(h, b, {', '.join(args)}):"]
    lines.append(f"    fl = {' | '.join(flags) or '0'}")
    lines.append(f"    h.append({code} | fl << 5)")
    return "\n".join(lines + body)


def _reader_source(spec: str) -> str:
    """A function reading one record back into the event's field values."""
    lines = ["def r(h, i, objs, eid, ids, names, dt):", "    fl = h[i] >> 5", "    i += 1"]
    names_ = []
    at = ""
    bit = 1
    first_int = f"f{spec.find('I')}"
    for k, c in enumerate(spec):
        v = f"f{k}"
        names_.append(v)
        if c == "i":
            lines.append(f"    {v} = eid")
            continue
        read = {
            "T": "dt(h[i])",
            "t": "dt(h[i])",
            "N": "dt(h[i])",
            "b": "bool(h[i])",
            "r": "objs[h[i]]",
            "o": "objs[h[i]]",
            "E": "ids[h[i]]",
            "L": "names[h[i]]",
            "c": "CAUSES[h[i]]",
            "s": "(SOURCES[h[i]] if h[i] < SOURCE_OWN else objs[h[i] - SOURCE_OWN])",
            "v": "objs[h[i]]",
            "u": "objs[h[i]]",
        }.get(c, "h[i]")
        default = {
            "t": at,
            "N": "None",
            "n": "None",
            "z": "0",
            "b": "True",
            "r": "''",
            "P": "()",
            "c": "'lot'",
            "s": "'purchase'",
            "v": "None",
            "u": f"(('purchase', {first_int}),)",
        }.get(c)
        if c == "P":
            step = [
                "n = 2 * h[i]",
                f"{v} = tuple(zip([names[x] for x in h[i + 1 : i + 1 + n : 2]], "
                "h[i + 2 : i + 2 + n : 2]))",
                "i += n + 1",
            ]
        else:
            step = [f"{v} = {read}", "i += 1"]
        if default is None:
            lines.extend(f"    {s}" for s in step)
        else:
            lines.append(f"    if fl & {bit}:")
            lines.append(f"        {v} = {default}")
            lines.append("    else:")
            lines.extend(f"        {s}" for s in step)
            bit <<= 1
        if c == "T" and not at:
            at = v
    lines.append(f"    return ({', '.join(names_)},), i")
    return "\n".join(lines)


def _skipper_source(spec: str) -> str:
    """A function giving where the record after the one at ``i`` begins."""
    lines = ["def s(h, i):", "    fl = h[i] >> 5", "    i += 1"]
    bit = 1
    for c in spec:
        if c == "i":
            continue
        step = "i += 2 * h[i] + 1" if c == "P" else "i += 1"
        if c in _OPTIONAL:
            lines.append(f"    if not fl & {bit}: {step}")
            bit <<= 1
        else:
            lines.append(f"    {step}")
    lines.append("    return i")
    return "\n".join(lines)


def _canon_source(cls: type[Any], spec: str) -> str:
    """A function telling whether an event reads back as itself from its record.

    Instants must be plain UTC datetimes, ints and bools exactly that.
    """
    tests = []
    for f, c in zip(attrs.fields(cls), spec, strict=True):
        x = f"ev.{f.name}"
        test = f"(type({x}) is datetime and {x}.tzinfo is UTC and not {x}.fold)"
        if c in "Tt":
            tests.append(test)
        elif c == "N":
            tests.append(f"({x} is None or {test})")
        elif c in "Iz":
            tests.append(f"type({x}) is int")
        elif c == "n":
            tests.append(f"({x} is None or type({x}) is int)")
        elif c == "b":
            tests.append(f"type({x}) is bool")
    return f"def c(ev):\n    return {' and '.join(tests) or 'True'}"


class _Unusual(Exception):
    """An input event the quick check of a replay does not cover."""


#: The encoder's source lines per field letter (see _SPECS), formatted with
#: the field's variable ``x``, its flag ``bit``, the event's ``at`` variable,
#: the ``unusual`` test of an instant and the micros expression ``us``.
_ENCODE_FIRST_AT: Final = ("if {unusual}: raise Unusual", "out.append(at_us)")
_ENCODE_STEPS: Final[dict[str, tuple[str, ...]]] = {
    "T": ("if {unusual}: raise Unusual", "d = {x} - EPOCH", "out.append({us})"),
    "t": (
        "if {x} is {at}: fl |= {bit}",
        "else:",
        "    if {unusual}: raise Unusual",
        "    d = {x} - EPOCH",
        "    u = {us}",
        "    if u == at_us: fl |= {bit}",
        "    else: out.append(u)",
    ),
    "N": (
        "if {x} is None: fl |= {bit}",
        "else:",
        "    if {unusual}: raise Unusual",
        "    d = {x} - EPOCH",
        "    out.append({us})",
    ),
    "I": ("if type({x}) is not int: raise Unusual", "out.append({x})"),
    "n": (
        "if {x} is None: fl |= {bit}",
        "elif type({x}) is int: out.append({x})",
        "else: raise Unusual",
    ),
    "z": (
        "if type({x}) is not int: raise Unusual",
        "if {x}: out.append({x})",
        "else: fl |= {bit}",
    ),
    "b": (
        "if {x} is True: fl |= {bit}",
        "elif {x} is False: out.append(0)",
        "else: raise Unusual",
    ),
    "r": (
        "if type({x}) is str and not {x}: fl |= {bit}",
        "elif not {x}: raise Unusual",
        "else: objs.append({x}); out.append(len(objs) - 1)",
    ),
    "o": ("objs.append({x})", "out.append(len(objs) - 1)"),
    "E": ("out.append(idix[{x}])",),
    "L": ("out.append(lotix[{x}])",),
    "P": (
        "if type({x}) is not tuple: raise Unusual",
        "if not {x}: fl |= {bit}",
        "else:",
        "    out.append(len({x}))",
        "    for lot, x in {x}:",
        "        if type(x) is not int: raise Unusual",
        "        out.append(lotix[lot])",
        "        out.append(x)",
    ),
    "c": ("if {x} == 'lot': fl |= {bit}", "else: out.append(CAUSES.index({x}))"),
    "s": (
        "if type({x}) is not str or not {x}: raise Unusual",
        "if {x} == 'purchase': fl |= {bit}",
        "elif {x} in SOURCE_CODE: out.append(SOURCE_CODE[{x}])",
        "else: objs.append({x}); out.append(SOURCE_OWN + len(objs) - 1)",
    ),
    "v": ("if {x} is None: fl |= {bit}", "else: objs.append({x}); out.append(len(objs) - 1)"),
    "u": (
        "if {x} == (('purchase', {first_int}),): fl |= {bit}",
        "else: objs.append({x}); out.append(len(objs) - 1)",
    ),
}


def _encoder_source(code: int, spec: str) -> str:
    """A function appending an input event's record as the engine would write it.

    Replay compares these with what the engine wrote. Anything unusual
    (instants not in plain UTC, non-int counts, unknown references) raises,
    and the replay checks event by event instead.
    """
    names = [f"f{k}" for k in range(len(spec))]
    lines = ["def e(ev, at_us, out, objs, idix, lotix):", f"    {', '.join(names)}, = get(ev)"]
    unusual = "(type({0}) is not datetime or {0}.tzinfo is not UTC or {0}.fold)"
    kinds = [c for c in spec if c not in "i" + _OPTIONAL]
    if kinds == ["T", "I"] and set(spec) <= set("iTItNr"):
        # (Earned) a quick path when every optional field is left out
        at, points = names[spec.index("T")], names[spec.index("I")]
        defaults = {"t": f"is {at}", "N": "is None", "r": '== ""'}
        tests = [f"{n} {defaults[c]}" for n, c in zip(names, spec, strict=True) if c in defaults]
        tests += [f"type({points}) is int", f"not {unusual.format(at)}"]
        full = (1 << sum(c in _OPTIONAL for c in spec)) - 1
        lines += [
            f"    if {' and '.join(tests)}:",
            f"        out.extend(({code | full << 5}, at_us, {points}))",
            "        return",
        ]
    lines += ["    p = len(out)", "    out.append(0)", "    fl = 0"]
    us = "(d.days * 86_400 + d.seconds) * 1_000_000 + d.microseconds"
    at = ""
    bit = 1
    first_int = f"f{spec.find('I')}"
    for name, c in zip(names, spec, strict=True):
        if c == "i":
            continue
        first = c == "T" and not at
        if first:
            at = name
        fields = {
            "x": name,
            "bit": bit,
            "at": at,
            "unusual": unusual.format(name),
            "us": us,
            "first_int": first_int,
        }
        steps = _ENCODE_FIRST_AT if first else _ENCODE_STEPS[c]
        lines += ["    " + step.format(**fields) for step in steps]
        if c in _OPTIONAL:
            bit <<= 1
    lines.append(f"    out[p] = {code} | fl << 5")
    return "\n".join(lines)


def _compile(source: str, name: str, what: str, **extra: Any) -> Callable[..., Any]:
    """The function ``name`` that ``source`` defines, compiled under a file name of
    its own (``what`` says which generator and event type) for tracebacks."""
    scope: dict[str, Any] = {
        "CAUSES": _CAUSES,
        "datetime": datetime,
        "UTC": UTC,
        "EPOCH": EPOCH,
        "Unusual": _Unusual,
        "SOURCES": SOURCES,
        "SOURCE_CODE": _SOURCE_CODE,
        "SOURCE_OWN": SOURCE_OWN,
        **extra,
    }
    run_generated(source, f"points {what}", scope)
    fn: Callable[..., Any] = scope[name]
    return fn


#: Per type code: (event class, reader, whether it is a command).
_READ: Final[list[tuple[type[Any], Callable[..., Any], bool]]] = []
#: Per type code: where the record after one of this type begins.
_SKIP: Final[list[Callable[[Any, int], int]]] = []
_WRITE: Final[dict[type[Any], Callable[..., None]]] = {}
_CANON: Final[dict[type[Any], Callable[[Any], bool]]] = {}
_ENCODE: Final[dict[type[Any], Callable[..., None]]] = {}
#: Each event type's field values as a tuple (equal tuples: equal events).
FIELDS: Final[dict[type[Any], Callable[[Any], tuple[Any, ...]]]] = {}
for _cls in EVENT_TYPES:
    FIELDS[_cls] = attrgetter(*(f.name for f in attrs.fields(_cls)))
    if _cls is Opened:
        _READ.append((_cls, lambda *_: None, False))
        _SKIP.append(lambda h, i: i)  # (never in a history)
        continue
    _spec, _name = _SPECS[_cls], _cls.__name__
    _WRITE[_cls] = _compile(_writer_source(CODE[_cls], _spec), "w", f"writer {_name}")
    _READ.append((_cls, _compile(_reader_source(_spec), "r", f"reader {_name}"), _spec[0] == "i"))
    _SKIP.append(_compile(_skipper_source(_spec), "s", f"skipper {_name}"))
    _CANON[_cls] = _compile(_canon_source(_cls, _spec), "c", f"check {_name}")
    _ENCODE[_cls] = _compile(
        _encoder_source(CODE[_cls], _spec), "e", f"encoder {_name}", get=FIELDS[_cls]
    )
_w_earned = _WRITE[Earned]
#: The first word of a plain earn's record (every optional field left out but
#: the lot's expiry): W_PLAIN_EARN with the expiry, W_PLAIN_NEVER without.
_EARNED_FLAGS: Final = (1 << sum(c in _OPTIONAL for c in _SPECS[Earned])) - 1
_EXPIRY_BIT: Final = 1 << sum(
    c in _OPTIONAL
    for c in _SPECS[Earned][: [f.name for f in attrs.fields(Earned)].index("lot_expires_at")]
)
W_PLAIN_NEVER: Final = C_EARNED | _EARNED_FLAGS << 5
W_PLAIN_EARN: Final = C_EARNED | (_EARNED_FLAGS & ~_EXPIRY_BIT) << 5
_w_redeemed = _WRITE[Redeemed]
_w_held = _WRITE[Held]
_w_captured = _WRITE[Captured]
_w_released = _WRITE[Released]
_w_reversed = _WRITE[EarnReversed]
_w_cancelled = _WRITE[RedemptionCancelled]
_w_adjusted = _WRITE[Adjusted]
_w_out = _WRITE[TransferredOut]
_w_in = _WRITE[TransferredIn]
_w_merged = _WRITE[Merged]
_w_vested = _WRITE[Vested]
_w_expired = _WRITE[Expired]
_w_timed_out = _WRITE[HoldTimedOut]
_w_repaid = _WRITE[DebtRepaid]


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

    Two classes share this layout: :class:`State`, a builder that changes it
    while one command runs, and the public ``PointsLedger``, a frozen one.
    A builder becomes a ledger by changing its class, so a command allocates
    one object; neither subclass adds slots.

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
    #: A builder's flags: which containers it owns or has claimed (see State).
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
        rem, held, used, expd, rev = r[b + REM : b + CLAW]
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

    def _lot_values(self) -> tuple[Lot, ...]:
        """Every lot, in the order they were created."""
        names = self._ids()[1]
        return tuple(self._lot_value(i, names) for i in range(self._a[H_NLOTS]))

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
            and tuple(self._objs[: a[H_NOBJ]]) == tuple(other._objs[: b[H_NOBJ]])
            and self._ids() == other._ids()
        )


class State(Core):
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
    def opened(cls, ev: Opened) -> State:
        """A fresh builder for a ledger opened by ``ev``."""
        if ev.debt_policy not in ("debt", "strict"):
            raise ValueError(f"debt_policy={ev.debt_policy!r} must be 'debt' or 'strict'")
        s = cls.__new__(cls)
        s._conf = conf_of(ev.tz, ev.policy, ev.debt_policy == "strict", ev.tzdata)
        s._member_id = ev.member
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

    @staticmethod
    def thaw(f: Core) -> State:
        """A builder for one command on frozen ``f`` (its header copied, the rest shared)."""
        s = _new_state(State)
        s._conf = f._conf
        s._member_id = f._member_id
        s._a = f._a[:]
        s._lots = f._lots
        s._q = f._q
        s._h = f._h
        s._objs = f._objs
        s._lids = f._lids
        s._eids = f._eids
        s._kinds = f._kinds
        s._pend = f._pend
        s._open_holds = f._open_holds
        s._canc = f._canc
        s._raw = f._raw
        s._own = 0
        s._tx = s._a if s._h is None else []  # (a short ledger's records end a)
        return s

    def freeze(self) -> State:
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

    # -- recorded effects -----------------------------------------------------
    #
    # What a command derives from the program's rules and the zone data (a
    # lot's expiry instant, the inactivity deadline) is written into its
    # event. A replay applies a given event's recorded effect instead of
    # deriving it again (``given``: the event being replayed); an audit
    # (``audit``: a list) also notes each effect that differs from what the
    # rules derive now, and goes on with the recorded one, so each
    # difference is reported once, where it arises.

    #: The event a replay is applying (None: a live command).
    given: Any = None
    #: A replay's list of (event id, field, recorded, derived) micros, or None.
    audit: list[tuple[str, str, int, int]] | None = None
    #: Whether a replay derives every effect instead (upgrading a history
    #: written before effects were recorded).
    derive: bool = False

    def effect(self, field: str, derived: int, recorded: datetime | None) -> int:
        """The instant (micros, or NEVER) to apply: the ``recorded`` one, or the
        derived one where none is recorded (None: "never" in an engine's
        history, which the rules derive alike, or an event written by hand)."""
        if self.derive or recorded is None:
            return derived
        rec = micros(recorded)
        if rec != derived and self.audit is not None:
            self.audit.append((self.given.id, field, rec, derived))
        return rec

    def deadline_effect(self) -> int | None:
        """The inactivity deadline after this command (micros, or None), a
        replayed event's as recorded."""
        a = self._a
        given = self.given
        if given is not None:
            recorded = given.inactivity_deadline
            if self._conf.inactive:
                a[H_DEADLINE] = self.effect("inactivity_deadline", a[H_DEADLINE], recorded)
            elif recorded is not None:
                raise ValueError(
                    f"inactivity_deadline={recorded!r} is recorded under a policy without one"
                )
        deadline = a[H_DEADLINE]
        return None if deadline == NEVER else deadline

    def expiry_effect(self, derived: int) -> int:
        """The expiry (micros, or NEVER) of the lot this command creates, a
        replayed event's as recorded."""
        given = self.given
        if given is None:
            return derived
        return self.effect("lot_expires_at", derived, given.lot_expires_at)

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

    def next_due(self) -> tuple[int, int, str]:
        """(instant, rank, hold) of the next vesting/expiry/timeout/deadline
        (``hold``: the hold that times out, for rank 2; holds due at the same
        instant time out in id order)."""
        when, rank, which = NEVER, 9, ""
        if self._pend:
            when, rank = self._pend[0][0], 0
        a = self._a
        if a[H_QHI] > a[H_QLO]:
            if self._q is None:  # (a short ledger's queue and rows are in a)
                first = a[HDR + a[HDR + a[H_NLOTS] * S + a[H_QLO]] * S + EXPIRES]
            else:
                first = self.expiry_of(self._q[a[H_QLO]])
            if first < when:
                when, rank = first, 1
        for hold_id, hold in self._open_holds.items():
            if hold[1] < when or (hold[1] == when and rank == 2 and hold_id < which):
                when, rank, which = hold[1], 2, hold_id
        deadline = self._a[H_DEADLINE]
        if deadline < when:
            when, rank = deadline, 3
        return when, rank, which

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

    def take(self, points: int, *, hold: bool = False) -> list[int]:
        """Consume ``points`` of usable lots, soonest-expiring first; flat parts."""
        a = self._a
        col = HELD_ if hold else USED
        parts: list[int] = []
        need = points
        if self._q is None:  # a short ledger: rows and queue in a
            off = HDR + a[H_NLOTS] * S
            k = off + a[H_QLO]
            while need:
                i = a[k]
                b = HDR + i * S
                rem = a[b + REM]
                x = rem if rem < need else need
                a[b + REM] = rem - x
                a[b + col] += x
                parts += (i, x)
                need -= x
                if x == rem:
                    k += 1
            a[H_QLO] = k - off
            a[AVAILABLE] -= points
            return parts
        q = self._q
        k = a[H_QLO]
        while need:
            i = q[k]
            r, b = self.own_row(i)
            rem = r[b + REM]
            x = rem if rem < need else need
            r[b + REM] = rem - x
            r[b + col] += x
            parts += (i, x)
            need -= x
            if x == rem:
                k += 1
        a[H_QLO] = k
        a[AVAILABLE] -= points
        return parts

    def give_back(self, i: int, x: int, col: int) -> None:
        """Return ``x`` points from column ``col`` to lot ``i``'s usable remainder."""
        r, b = self.own_row(i)
        rem = r[b + REM]
        r[b + REM] = rem + x
        r[b + col] -= x
        if rem == 0:
            self.enqueue(i)
        self._a[AVAILABLE] += x

    def dead(self, i: int, at_us: int) -> bool:
        """Whether lot ``i`` has expired by ``at_us`` (own expiry or inactivity)."""
        return i < self._a[H_KILL] or self.expiry_of(i) <= at_us

    def deadline_after(self, occurred_at: datetime, at: datetime) -> int:
        """The inactivity deadline (micros) after activity at ``occurred_at``."""
        conf = self._conf
        assert type(conf.policy) is ExpireOnInactivity
        try:
            day = occurred_at.astimezone(conf.tz).date()
            return inactivity_deadline(conf.policy, conf.tz, day)[1]
        except (InvalidTime, OverflowError):
            raise _too_late(at, occurred_at, "the inactivity deadline") from None

    def activity(self, occurred_at: datetime, at: datetime) -> None:
        deadline = self.deadline_after(occurred_at, at)
        a = self._a
        if a[H_LAST] != NO and deadline <= a[H_LAST]:
            return
        if a[H_DEADLINE] == NEVER or deadline > a[H_DEADLINE]:
            a[H_DEADLINE] = deadline

    def settle(self, at_us: int) -> None:
        """Repay debt from usable points."""
        a = self._a
        if a[DEBT] and a[AVAILABLE]:
            pay = min(a[DEBT], a[AVAILABLE])
            parts = self.take(pay)
            a[DEBT] -= pay
            a[DEBT_REPAID] += pay
            _w_repaid(self._tx, self, at_us, pay, parts)
            self.derived(at_us)

    def release_parts(self, parts: Sequence[int], at_us: int) -> list[int]:
        """Put held parts back; parts of expired lots expire at once (returned)."""
        a = self._a
        expired: list[int] = []
        for k in range(0, len(parts), 2):
            i, x = parts[k], parts[k + 1]
            a[HELD] -= x
            if self.dead(i, at_us):
                r, b = self.own_row(i)
                r[b + HELD_] -= x
                r[b + EXPD] += x
                a[EXPIRED] += x
                expired += (i, x)
            else:
                self.give_back(i, x, HELD_)
        return expired

    def expired_parts(self, parts: list[int], at_us: int, cause: str) -> None:
        for k in range(0, len(parts), 2):
            _w_expired(self._tx, self, at_us, parts[k], parts[k + 1], cause)
            self.derived(at_us)

    # -- time passing -------------------------------------------------------

    def advance(self, until_us: int, *, recorded: bool = False) -> None:
        """Apply every vesting, expiry, timeout and deadline due by ``until_us``.

        ``recorded``: stop before an inactivity deadline that would pass
        unrecorded (nothing available to expire, nothing else due by
        ``until_us``). A history cannot show such a deadline, so a ledger
        published without a command after it must not have passed it either:
        the next command passes it, as replay does.
        """
        while True:
            when, rank, hold_id = self.next_due()
            if when > until_us or (recorded and rank == 3 and self.unrecorded(until_us)):
                self._a[H_NEXT] = when
                return
            if rank == 0:
                self.vest()
            elif rank == 1:
                self.expire_first()
            elif rank == 2:
                self.time_out(hold_id)
            else:
                self.inactivity()

    def unrecorded(self, until_us: int) -> bool:
        """Whether the inactivity deadline, due next, would pass without an event
        (no usable lot) and nothing else falls due by ``until_us``."""
        a = self._a
        if a[H_QHI] > a[H_QLO] or (self._pend and self._pend[0][0] <= until_us):
            return False
        return all(hold[1] > until_us for hold in self._open_holds.values())

    def vest(self) -> None:
        avail, i = self.own_pend().pop(0)
        a = self._a
        r, b = self.own_row(i)
        r[b + AVAIL] -= PBIT
        rem = r[b + REM]
        self.enqueue(i)
        a[PENDING] -= rem
        a[AVAILABLE] += rem
        _w_vested(self._tx, self, avail, i, rem)
        self.derived(avail)
        self.settle(avail)

    def expire_first(self) -> None:
        a = self._a
        lo = a[H_QLO]
        q, off = self._qbuf()
        i = q[off + lo]
        a[H_QLO] = lo + 1
        self.expire_rest(i, self.expiry_of(i), "lot")

    def expire_rest(self, i: int, at: int, cause: str) -> None:
        """Expire usable lot ``i``'s remainder at ``at`` (the caller dequeues it)."""
        a = self._a
        r, b = self.own_row(i)
        x = r[b + REM]
        r[b + REM] = 0
        r[b + EXPD] += x
        a[AVAILABLE] -= x
        a[EXPIRED] += x
        _w_expired(self._tx, self, at, i, x, cause)
        self.derived(at)

    def time_out(self, hold_id: str) -> None:
        points, at, parts, k = self.own_open().pop(hold_id)
        expired = self.release_parts(parts, at)
        _w_timed_out(self._tx, self, at, k, points, parts)
        self.derived(at)
        self.expired_parts(expired, at, "hold")
        self.settle(at)

    def inactivity(self) -> None:
        a = self._a
        at = a[H_DEADLINE]
        for i in self._queue():
            self.expire_rest(i, at, "inactivity")
        a[H_QLO] = a[H_QHI]
        a[H_KILL] = a[H_NLOTS]
        a[H_DEADLINE] = NEVER

    # -- commands -----------------------------------------------------------

    def after(self, at_us: int) -> None:
        """After a command: repay debt, note when something is due next."""
        a = self._a
        if a[DEBT] and a[AVAILABLE]:
            self.settle(at_us)
        if self._pend or self._open_holds or a[H_DEADLINE] != NEVER:
            a[H_NEXT] = self.next_due()[0]
        else:  # the common case: only lot expiries can be due
            lo = a[H_QLO]
            if a[H_QHI] <= lo:
                a[H_NEXT] = NEVER
            elif self._q is None:  # (a short ledger's queue and rows are in a)
                a[H_NEXT] = a[HDR + a[HDR + a[H_NLOTS] * S + lo] * S + EXPIRES]
            else:
                a[H_NEXT] = self.expiry_of(self._q[lo])

    def local_expiry(self, occurred_at: datetime, occurred_us: int, at: datetime) -> int:
        """The policy's expiry for points earned at ``occurred_at`` (memoised per hour)."""
        hour = occurred_us // _HOUR
        exp = self._conf.memo.get(hour)
        return self._conf.expiry(occurred_at, hour, at) if exp is None else exp

    def earn(
        self,
        at_us: int,
        id: str,
        at: datetime,
        occurred_at: datetime,
        points: int,
        available_at: datetime | None,
        expires_at: datetime | None,
        reason: str,
        source: str,
        value_per_point: Any,
    ) -> None:
        if points <= 0:
            raise InvalidPoints(f"points={points!r} must be a positive int", field="points")
        conf = self._conf
        occurred = at_us if occurred_at is at else micros(occurred_at)
        explicit = None if expires_at is None else micros(expires_at)
        if explicit is None:
            hour = occurred // _HOUR
            exp = conf.memo.get(hour)
            if exp is None:
                exp = conf.expiry(occurred_at, hour, at)
        else:
            exp = explicit
        if self.given is not None:
            exp = self.expiry_effect(exp)
        avail = None if available_at is None else micros(available_at)
        start = at_us if avail is None or avail <= at_us else avail
        if exp <= start or conf.inactive:
            self.check_expiry(exp, start, id, at, occurred_at)
        i = self.new_lot(id, points, occurred, exp, avail, start > at_us)
        a = self._a
        a[EARNED] += points
        if conf.inactive:
            self.activity(occurred_at, at)
        deadline = self.deadline_effect()
        self.command(id, C_EARNED, at_us)
        lot_exp = None if exp == NEVER else exp
        _w_earned(
            self._tx,
            self,
            at_us,
            occurred,
            points,
            avail,
            explicit,
            reason,
            source,
            value_per_point,
            lot_exp,
            deadline,
        )
        if source != "purchase" or value_per_point is not None:
            # (the writer kept a host's own source, then the value, last in objs)
            n = a[H_NOBJ]
            column = 0 if value_per_point is None else n << 32
            n -= value_per_point is not None
            code = _SOURCE_CODE.get(source)
            column |= SOURCE_OWN + n - 1 if code is None else code
            r, b = self.own_row(i)
            r[b + SRC] = column

    def earn_plain(self, eid: str, at_us: int, points: int, recorded: int = -1) -> int:
        """:meth:`earn` of a plain earn (positive ``points``, nothing optional), in one step.

        Returns the length of the record it wrote, or 0, having changed
        nothing, when the general path is needed:
        something falls due by ``at_us``, the ledger has debt or an inactivity
        policy, or the policy's expiry for this hour is not memoised yet, or
        differs from the ``recorded`` expiry of a replayed earn (-1: none).
        """
        a = self._a
        conf = self._conf
        if at_us >= a[H_NEXT] or a[DEBT] or conf.inactive:
            return False
        exp = conf.memo.get(at_us // _HOUR)
        if exp is None or exp <= at_us or (recorded != -1 and recorded != exp):
            return 0
        i = a[H_NLOTS]
        lids, eids = self._lids, self._eids
        if (
            self._lots is None  # (not a replay's: it keeps ids in dicts)
            and self._q is None
            and type(lids) is str
            and type(eids) is str
            and i < SMALL_LOTS
            and a[H_NCMD] < BIG_IDS
            and SEP not in eid
            and (SEP + eid + SEP) not in lids
        ):  # a short ledger: new_lot, command and the record in one step
            self._lids = lids + eid + SEP
            self._eids = eids + eid + SEP
            self._kinds += _BYTE_EARNED
            qs = HDR + i * S  # (the row goes before the queue)
            a[qs:qs] = _ROW
            a[qs] = at_us
            a[qs + 1] = exp
            a[qs + 2] = NO
            a[qs + 3] = points
            a[H_NLOTS] = i + 1
            a[AVAILABLE] += points
            hi = a[H_QHI]
            qs += S
            if hi > a[H_QLO] and a[HDR + a[qs + hi - 1] * S + EXPIRES] > exp:
                self.enqueue(i)
            else:
                a.insert(qs + hi, i)
                a[H_QHI] = hi + 1
            a[H_NCMD] += 1
            a[H_NEV] += 1
            if at_us > a[H_LAST]:
                a[H_LAST] = at_us
        else:
            self.new_lot(eid, points, at_us, exp, None, False)
            self.command(eid, C_EARNED, at_us)
        a[EARNED] += points
        h, n, rec = self._h, a[H_HN], self._tx
        words = (
            (W_PLAIN_NEVER, at_us, points) if exp == NEVER else (W_PLAIN_EARN, at_us, points, exp)
        )
        if h is None or rec is h:  # (a short ledger's, or a replay's: rec ends it)
            rec.extend(words)
        elif not rec and len(h) == n:  # the record, straight into the history
            h.extend(words)  # (see _claim)
            if len(h) == n + len(words):
                a[H_HN] = n + len(words)
            else:  # (two threads raced: freeze copies)
                rec.extend(words)
        else:
            rec.extend(words)
        if exp < a[H_NEXT]:  # (what after() would find: nothing else changed)
            a[H_NEXT] = exp
        return len(words)

    def check_expiry(
        self, exp: int, start: int, id: str, at: datetime, occurred_at: datetime
    ) -> None:
        if exp <= start:
            raise InvalidTime(
                f"id={id!r} would expire at {_iso(exp)}, not after it becomes "
                f"usable at {_iso(start)}",
                field="expires_at",
                value=instant(exp),
            )
        if self._conf.inactive:
            deadline = self.deadline_after(occurred_at, at)
            if deadline <= start:
                raise InvalidTime(
                    f"occurred_at={occurred_at.isoformat()} is older than the inactivity "
                    f"period: points would be expired at {_iso(deadline)}",
                    field="occurred_at",
                    value=occurred_at,
                )

    def need(self, points: int, what: str) -> None:
        if points <= 0:
            raise InvalidPoints(f"points={points!r} must be a positive int", field="points")
        available = self._a[AVAILABLE]
        if points > available:
            raise InsufficientPoints(
                f"{what} of points={points} asks for more than the {available} available",
                field="points",
                requested=points,
                available=available,
            )

    def redeem(
        self, at_us: int, id: str, at: datetime, occurred_at: datetime, points: int, reason: str
    ) -> None:
        if not 0 < points <= self._a[AVAILABLE]:
            self.need(points, "redemption")
        parts = self.take(points)
        self._a[REDEEMED] += points
        if self._conf.inactive:
            self.activity(occurred_at, at)
        deadline = self.deadline_effect()
        self.command(id, C_REDEEMED, at_us)
        occurred = at_us if occurred_at is at else micros(occurred_at)
        sources = self.sources_of(parts)
        _w_redeemed(self._tx, self, at_us, occurred, points, reason, parts, sources, deadline)

    def hold(
        self,
        at_us: int,
        id: str,
        at: datetime,
        occurred_at: datetime,
        points: int,
        deadline: datetime,
    ) -> None:
        if not 0 < points <= self._a[AVAILABLE]:
            self.need(points, "hold")
        until = micros(deadline)
        if until <= at_us:
            raise InvalidTime(
                f"deadline={deadline.isoformat()} must be after at={at.isoformat()}",
                field="deadline",
                value=deadline,
            )
        parts = self.take(points, hold=True)
        self._a[HELD] += points
        self.own_open()[id] = (points, until, tuple(parts), self._a[H_NCMD])
        self.command(id, C_HELD, at_us)
        occurred = at_us if occurred_at is at else micros(occurred_at)
        _w_held(self._tx, self, at_us, occurred, points, until, parts)

    def open_hold(self, hold_id: str) -> tuple[int, int, tuple[int, ...], int]:
        found = self._open_holds.get(hold_id)
        if found is not None:
            return found
        k = self._ordinal(hold_id)
        if k < 0 or self._kind(k) != C_HELD:
            raise UnknownHold(
                f"hold={hold_id!r} is not a hold of this ledger", field="hold", value=hold_id
            )
        ends = [
            ev for ev in self._events_of(Captured, Released, HoldTimedOut) if ev.hold == hold_id
        ]
        if type(ends[0]) is HoldTimedOut:
            raise HoldExpired(
                f"hold={hold_id!r} expired at {ends[0].at.isoformat()}",
                field="hold",
                value=hold_id,
            )
        status = "captured" if type(ends[0]) is Captured else "released"
        raise HoldAlreadyResolved(
            f"hold={hold_id!r} was already {status}", field="hold", value=hold_id
        )

    def capture(
        self,
        at_us: int,
        id: str,
        at: datetime,
        occurred_at: datetime,
        hold: str,
        points: int | None,
    ) -> None:
        held, _, parts, k = self.open_hold(hold)
        amount = held if points is None else points
        if amount <= 0:
            raise InvalidPoints(f"points={amount!r} must be a positive int", field="points")
        if amount > held:
            raise OverCapture(
                f"points={amount} is more than the {held} held by hold={hold!r}",
                field="points",
                value=amount,
                held=held,
            )
        a = self._a
        captured: list[int] = []
        released: list[int] = []
        need = amount
        for j in range(0, len(parts), 2):
            i, x = parts[j], parts[j + 1]
            y = x if x < need else need
            if y:
                r, b = self.own_row(i)
                r[b + HELD_] -= y
                r[b + USED] += y
                captured += (i, y)
                need -= y
            if x > y:
                released += (i, x - y)
        a[HELD] -= amount
        a[REDEEMED] += amount
        expired = self.release_parts(released, at_us)
        del self.own_open()[hold]
        if self._conf.inactive:
            self.activity(occurred_at, at)
        deadline = self.deadline_effect()
        self.command(id, C_CAPTURED, at_us)
        occurred = at_us if occurred_at is at else micros(occurred_at)
        sources = self.sources_of(captured)
        _w_captured(
            self._tx,
            self,
            at_us,
            occurred,
            k,
            points,
            amount,
            captured,
            released,
            sources,
            deadline,
        )
        self.expired_parts(expired, at_us, "hold")

    def release(self, at_us: int, id: str, at: datetime, occurred_at: datetime, hold: str) -> None:
        _, _, parts, k = self.open_hold(hold)
        expired = self.release_parts(parts, at_us)
        del self.own_open()[hold]
        self.command(id, CODE[Released], at_us)
        occurred = at_us if occurred_at is at else micros(occurred_at)
        _w_released(self._tx, self, at_us, occurred, k, parts)
        self.expired_parts(expired, at_us, "hold")

    def target(self, of: str, kinds: tuple[int, ...], what: str) -> int:
        """The index of the command ``of``, which must be of one of ``kinds``."""
        k = self._ordinal(of)
        if k < 0:
            raise UnknownEvent(f"of={of!r} is not an event of this ledger", field="of", value=of)
        kind = self._kind(k)
        if kind not in kinds:
            raise InvalidArgument(
                f"of={of!r} is a {EVENT_TYPES[kind].__name__}, not {what}", field="of", value=of
            )
        return k

    def reverse_earn(
        self,
        at_us: int,
        id: str,
        at: datetime,
        occurred_at: datetime,
        of: str,
        points: int | None,
    ) -> None:
        k = self.target(of, (C_EARNED,), "an earn")
        i = self._lot_index(of)
        a = self._a
        r, b = self._row(i)
        rem, held, used, expd, rev = r[b + REM], r[b + HELD_], r[b + USED], r[b + EXPD], r[b + REV]
        amount = self.over_reversal(of, points, rem + held + used + expd + rev, r[b + CLAW])
        taken = reclassified = debt = 0
        charged: list[int] = []
        avail = r[b + AVAIL]
        if avail > PBIT // 2:  # pending
            taken = amount
            r, b = self.own_row(i)
            r[b + REM] = rem - amount
            r[b + REV] = rev + amount
            a[PENDING] -= amount
            if rem == amount:
                self.own_pend().remove((avail - PBIT, i))
        else:
            taken = min(amount, rem)
            reclassified = min(amount - taken, expd)
            rest = amount - taken - reclassified
            if taken and rem == taken:
                self.q_remove(i)
            r, b = self.own_row(i)
            r[b + REM] = rem - taken
            r[b + EXPD] = expd - reclassified
            r[b + REV] = rev + taken + reclassified
            a[AVAILABLE] -= taken
            a[EXPIRED] -= reclassified
            if rest:
                pay = min(rest, a[AVAILABLE])
                debt = rest - pay
                if debt and self._conf.strict:
                    raise StrictPolicyViolation(
                        f"reversing points={amount} of {of!r} would leave a debt of {debt} "
                        "(the ledger's debt policy is strict)",
                        field="points",
                        value=amount,
                        debt=debt,
                    )
                if pay:
                    charged = self.take(pay)
                a[DEBT] += debt
        a[CLAWED_BACK] += amount
        r, b = self.own_row(i)
        r[b + CLAW] += amount
        self.command(id, CODE[EarnReversed], at_us)
        occurred = at_us if occurred_at is at else micros(occurred_at)
        _w_reversed(
            self._tx, self, at_us, occurred, k, points, amount, taken, reclassified, charged, debt
        )

    def over_reversal(self, of: str, points: int | None, total: int, done: int) -> int:
        left = total - done
        amount = left if points is None else points
        if amount <= 0 and points is not None:
            raise InvalidPoints(f"points={amount!r} must be a positive int", field="points")
        if amount > left or left == 0:
            raise OverReversal(
                f"points={amount} would reverse more of {of!r} than the {left} left (of {total})",
                field="points",
                value=amount,
                left=left,
            )
        return amount

    def cancel(
        self,
        at_us: int,
        id: str,
        at: datetime,
        occurred_at: datetime,
        of: str,
        points: int | None,
        grace_days: int | None,
    ) -> None:
        k = self.target(of, (C_REDEEMED, C_CAPTURED), "a redemption or capture")
        lots = self._command_event(k).lots
        total = sum(x for _, x in lots)
        done = self._canc.get(of, 0)
        amount = self.over_reversal(of, points, total, done)
        a = self._a
        restored: list[int] = []
        expired: list[int] = []
        grace: list[int] = []
        skip, need = done, amount
        for lot_id, x in lots:
            if skip >= x:
                skip -= x
                continue
            y = min(x - skip, need)
            skip = 0
            need -= y
            i = self._lot_index(lot_id)
            if not self.dead(i, at_us):
                self.give_back(i, y, USED)
                restored += (i, y)
            elif grace_days is not None:
                grace += (i, y)
            else:
                r, b = self.own_row(i)
                r[b + USED] -= y
                r[b + EXPD] += y
                a[EXPIRED] += y
                expired += (i, y)
            if not need:
                break
        until: int | None = None
        if grace:
            assert grace_days is not None
            tz = self._conf.tz
            try:
                last = at.astimezone(tz).date() + timedelta(days=grace_days)
                until = micros(start_of_day(last + timedelta(days=1), tz=tz))
            except OverflowError:
                raise InvalidTime(
                    f"grace_days={grace_days!r} from at={at.isoformat()} would end after "
                    f"{date.max.isoformat()}",
                    field="grace_days",
                    value=grace_days,
                ) from None
            until = self.expiry_effect(until)
            first, b = self._row(grace[0])  # (the grace lot takes the first part's source)
            src = first[b + SRC]
            self.new_lot(f"{id}:grace", sum(grace[1::2]), at_us, until, None, False, src)
            if until == NEVER:
                until = None
        a[CANCELLED] += amount
        self.own_canc()[of] = done + amount
        self.command(id, CODE[RedemptionCancelled], at_us)
        _w_cancelled(
            self._tx,
            self,
            at_us,
            at_us if occurred_at is at else micros(occurred_at),
            k,
            points,
            grace_days,
            amount,
            restored,
            expired,
            grace,
            until,
        )
        self.expired_parts(expired, at_us, "cancel")

    def adjust(
        self, at_us: int, id: str, at: datetime, occurred_at: datetime, points: int, reason: str
    ) -> None:
        occurred = at_us if occurred_at is at else micros(occurred_at)
        parts: list[int] = []
        lot_exp = None
        if points > 0:
            exp = self.expiry_effect(self.local_expiry(occurred_at, occurred, at))
            self.check_expiry(exp, at_us, id, at, occurred_at)
            self.new_lot(id, points, occurred, exp, None, False, _SOURCE_CODE["adjustment"])
            self._a[ADJUSTED_IN] += points
            if self._conf.inactive:
                self.activity(occurred_at, at)
            lot_exp = None if exp == NEVER else exp
        else:
            if self.given is not None and self.given.lot_expires_at is not None:
                raise ValueError("a debit has no lot_expires_at")
            self.need(-points, "debit")
            parts = self.take(-points)
            self._a[ADJUSTED_OUT] -= points
        deadline = self.deadline_effect()
        self.command(id, CODE[Adjusted], at_us)
        _w_adjusted(self._tx, self, at_us, occurred, points, reason, parts, lot_exp, deadline)

    def other_member(self, kind: type[Any], id: str, way: str, member: str) -> None:
        """Check that a transfer or merge names another member than this ledger's."""
        if member == self._member_id:
            raise SameMember(
                f"{kind.__name__} id={id!r} {way} member {member!r} cannot be in the "
                f"history of member {self._member_id!r}: it names the ledger's own member",
                field="source" if way == "from" else "to",
                value=member,
            )

    def transfer_out(
        self,
        at_us: int,
        id: str,
        at: datetime,
        occurred_at: datetime,
        to: str,
        points: int,
        keep_expiry: bool,
    ) -> None:
        self.other_member(TransferredOut, id, "to", to)
        self.need(points, "transfer")
        parts = self.take(points)
        self._a[TRANSFERRED_OUT] += points
        self.command(id, CODE[TransferredOut], at_us)
        occurred = at_us if occurred_at is at else micros(occurred_at)
        _w_out(self._tx, self, at_us, occurred, to, points, keep_expiry, parts)

    def transfer_in(
        self,
        at_us: int,
        id: str,
        at: datetime,
        occurred_at: datetime,
        source: str,
        points: int,
        keep_expiry: bool,
        parts: tuple[TransferIn, ...],
    ) -> None:
        self.other_member(TransferredIn, id, "from", source)
        if points <= 0 or sum(p.points for p in parts) != points:
            raise InvalidPoints(
                f"points={points!r} must be positive and equal the sum of the parts",
                field="points",
                value=points,
            )
        occurred = at_us if occurred_at is at else micros(occurred_at)
        lot_exp = None
        if not keep_expiry:
            exp = self.expiry_effect(self.local_expiry(occurred_at, occurred, at))
            self.check_expiry(exp, at_us, id, at, occurred_at)
            kinds = {(part.source, part.value_per_point) for part in parts}
            origin = kinds.pop() if len(kinds) == 1 else ("transfer", None)
            self.new_lot(f"{id}#0", points, occurred, exp, None, False, self.src_column(*origin))
            lot_exp = None if exp == NEVER else exp
        elif self.given is not None and self.given.lot_expires_at is not None:
            raise ValueError("a transfer keeping its expiry has no lot_expires_at")
        for i, part in enumerate(parts if keep_expiry else ()):
            exp = NEVER if part.expires_at is None else micros(part.expires_at)
            self.check_expiry(exp, at_us, id, at, occurred_at)
            src = self.src_column(part.source, part.value_per_point)
            self.new_lot(f"{id}#{i}", part.points, occurred, exp, None, False, src)
        self._a[TRANSFERRED_IN] += points
        self.command(id, CODE[TransferredIn], at_us)
        _w_in(self._tx, self, at_us, occurred, source, points, keep_expiry, parts, lot_exp)

    def merge(
        self,
        at_us: int,
        id: str,
        at: datetime,
        occurred_at: datetime,
        source: str,
        lots: tuple[MergedLot, ...],
        debt: int,
    ) -> None:
        self.other_member(Merged, id, "from", source)
        if debt < 0 or any(item.points <= 0 for item in lots):
            raise InvalidPoints(
                f"id={id!r}: merged points and debt must not be negative",
                field="lots",
                value=lots,
            )
        a = self._a
        for item in lots:
            exp = NEVER if item.expires_at is None else micros(item.expires_at)
            avail = None if item.available_at is None else micros(item.available_at)
            pending = item.pending and avail is not None and avail > at_us
            self.new_lot(
                f"{id}/{item.lot}",
                item.points,
                micros(item.earned_at),
                exp,
                avail,
                pending,
                self.src_column(item.source, item.value_per_point),
            )
            a[MERGED_IN] += item.points
        a[DEBT] += debt
        a[MERGED_DEBT] += debt
        self.command(id, CODE[Merged], at_us)
        occurred = at_us if occurred_at is at else micros(occurred_at)
        _w_merged(self._tx, self, at_us, occurred, source, lots, debt)


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


class Replayer(State):
    """A builder replaying a history: ids kept in dicts (in order: id -> index).

    Unless ``exact``, its header, lot rows, queue and records are lists until
    the replay is done (a list's items are several times faster to read and
    update than an array's); :func:`replay` then turns them into arrays,
    which is where a value beyond int64 shows, and replays again exactly to
    name the event. Its records are written straight into ``h``.
    """

    __slots__ = ("audit", "cpos", "derive", "given", "idix", "kinds", "lotix")

    idix: dict[str, int]
    lotix: dict[str, int]
    cpos: list[int]
    kinds: bytearray

    @classmethod
    def opened(cls, ev: Opened, *, exact: bool = False) -> Replayer:
        if ev.debt_policy not in ("debt", "strict"):
            raise ValueError(f"debt_policy={ev.debt_policy!r} must be 'debt' or 'strict'")
        s = _new_state(cls)
        s._conf = conf_of(ev.tz, ev.policy, ev.debt_policy == "strict", ev.tzdata)
        s._member_id = ev.member
        s._lids = s._eids = SEP
        s._kinds = b""
        s._pend = _EMPTY
        s._open_holds = _NO_HOLDS
        s._canc = _NO_HOLDS
        s._raw = s._mine = None
        if exact:
            s._a = _FRESH[:]
            s._lots, s._q, s._h = array("q"), array("q"), array("q")
        else:
            s._a = _FRESH.tolist()
            s._lots, s._q, s._h = [], [], []
        s._tx = s._h
        s._objs = []
        s._own = 8 | 16 | 32 | 64 | 8192  # (8192: the lot table stays flat)
        s.kinds = bytearray()
        s.idix, s.lotix, s.cpos = {}, {}, []
        s.given = s.audit = None
        s.derive = False
        return s

    def _ordinal(self, event_id: str) -> int:
        return self.idix.get(event_id, -1)

    def _lot_index(self, lot_id: str) -> int:
        return self.lotix.get(lot_id, -1)

    def _ids(self) -> tuple[list[str], list[str]]:
        return list(self.idix), list(self.lotix)

    def _id_lists(self) -> tuple[list[str], list[str]]:
        return self._ids()

    def _kind(self, k: int) -> int:
        return self.kinds[k]

    def _command_pos(self, k: int) -> int:
        return self.cpos[k]

    def _history_end(self) -> int:
        return len(self._h)

    def name_lot(self, lot_id: str, i: int) -> None:
        # (ids are checked for SEP once the replay is done: see joined())
        lotix = self.lotix
        if lot_id in lotix:
            raise _bad_lot_id(lot_id)
        lotix[lot_id] = i

    def joined(self) -> tuple[str | IdLog, str | IdLog]:
        """(eids, lids): the ids joined (an IdLog each when many), checked for separators."""
        idix, lotix = self.idix, self.lotix
        for ids, error in ((idix, _bad_id), (lotix, _bad_lot_id)):
            bad = next((x for x in ids if SEP in x), None) if len(ids) > BIG_IDS else None
            if bad is not None:
                raise error(bad)
        if len(idix) > BIG_IDS:
            eids: str | IdLog = IdLog(list(idix), self.kinds, _as_array(self.cpos))
        else:
            eids = SEP + SEP.join(idix) + SEP if idix else SEP
            if eids.count(SEP) != len(idix) + 1:
                raise _bad_id(next(x for x in idix if SEP in x))
        if len(lotix) > BIG_IDS:
            lids: str | IdLog = IdLog(list(lotix), None, None)
        else:
            lids = SEP + SEP.join(lotix) + SEP if lotix else SEP
            if lids.count(SEP) != len(lotix) + 1:
                raise _bad_lot_id(next(x for x in lotix if SEP in x))
        return eids, lids

    def command(self, event_id: str, code: int, at_us: int) -> None:
        # (replay() refuses a repeated id before applying its command)
        idix = self.idix
        idix[event_id] = len(idix)
        self.kinds.append(code)
        self.cpos.append(len(self._h))
        a = self._a
        a[H_NCMD] += 1
        a[H_NEV] += 1
        if at_us > a[H_LAST]:
            a[H_LAST] = at_us

    def freeze(self) -> State:
        """A frozen plain state with this builder's contents, which it takes over
        (:func:`replay` has made its containers exactly sized arrays)."""
        s = State.__new__(State)
        s._conf, s._member_id, s._raw, s._own = self._conf, self._member_id, self._raw, 0
        s._a = self._a
        s._lots, s._q, s._h = self._lots, self._q, self._h
        s._objs = tuple(self._objs)
        s._eids, s._lids = self._eids, self._lids  # (joined by replay())
        s._kinds = b"" if type(s._eids) is IdLog else bytes(self.kinds)
        s._pend = tuple(self._pend) if self._pend else _EMPTY
        s._open_holds = self._open_holds or _NO_HOLDS
        s._canc = self._canc or _NO_HOLDS
        s._tx = s._mine = None
        return s

    def finish(self) -> None:
        """Make the header, lots, queue and records exactly sized arrays, and
        set the counts in the header (OverflowError: a value beyond int64)."""
        a = self._a
        a[H_NOBJ] = len(self._objs)
        a[H_HN] = len(self._h)
        lo, hi = a[H_QLO], a[H_QHI]
        a[H_QLO], a[H_QHI] = 0, hi - lo
        lots, q, h = self._lots, self._q[lo:hi], self._h
        if a[H_NLOTS] > SMALL_LOTS:
            self._a = _as_array(a)
            self._lots = _chunked(lots)
            self._q = _as_array(q)
            self._h = _as_array(h)
        elif len(h) > SMALL_HISTORY:  # (the rows, then the queue, follow the header)
            self._a = _as_array([*a, *lots, *q])
            self._lots = self._q = None
            self._h = _as_array(h)
        else:  # (and then the records)
            self._a = _as_array([*a, *lots, *q, *h])
            self._lots = self._q = self._h = None


def _insort(pend: list[tuple[int, int]], item: tuple[int, int]) -> None:
    k = len(pend)
    while k and pend[k - 1] > item:
        k -= 1
    pend.insert(k, item)


def _bad(i: int, message: str) -> InvalidData:
    """The error naming event ``i`` (also kept as ``index``, the message as ``problem``)."""
    line = f"{message} @ $.events[{i}]"
    return InvalidData(
        f"invalid points history:\n  {line}", errors=(line,), index=i, problem=message
    )


def replay(
    events: Sequence[Any],
    *,
    step: Callable[[int, State], None] | None = None,
    audit: list[tuple[str, str, int, int]] | None = None,
    derive: bool = False,
) -> Replayer:
    """Rebuild a builder from a whole history, checking every event follows.

    Commands are applied (their outcome fields recomputed) and derived events
    must come out of the time passing before them. Each input event is
    encoded as the engine would have recorded it, and the two histories are
    compared at the end; when they differ, or an event is unusual, the
    events are compared one by one to name the first that does not follow.

    The state is built in a list and made an array at the end. A history
    that does not replay, or takes a value beyond int64, is replayed again
    with the array throughout, so the error names the same event as a
    command would have.

    Effects a command derived (expiry instants, inactivity deadlines) are
    applied as each event records them; with an ``audit`` list, each one
    that differs from what the rules derive now is noted in it; with
    ``derive``, they are derived as a live command would (the events'
    recorded effects are then not read: ``step`` may fill them in).
    """
    try:
        return _replay(events, step, audit, derive, exact=False)
    except (InvalidData, OverflowError):
        pass
    return _replay(events, step, audit, derive, exact=True)  # (raises)


def _replay(
    events: Sequence[Any],
    step: Callable[[int, State], None] | None,
    audit: list[tuple[str, str, int, int]] | None,
    derive: bool,
    *,
    exact: bool,
) -> Replayer:
    if not events or type(events[0]) is not Opened:
        raise _bad(0, "the first event must be Opened")
    try:
        s = Replayer.opened(events[0], exact=exact)
    except (ValueError, TypeError) as exc:
        raise _bad(0, str(exc)) from None
    a = s._a
    idix, lotix = s.idix, s.lotix
    if audit is not None:
        audit.clear()
        s.audit = audit
    s.derive = derive
    quick = not exact
    ints: list[int] = []  # the input events as records
    objs: list[Any] = []
    if step is not None:
        step(0, s)
    handlers, encoders, epoch = HANDLERS, _ENCODE, EPOCH
    for i in range(1, len(events)):
        ev = events[i]
        try:
            d = ev.at - epoch
            at_us = (d.days * 86_400 + d.seconds) * 1_000_000 + d.microseconds
            if a[H_NEV] <= i:
                if (
                    type(ev) is Earned
                    and ev.occurred_at is ev.at
                    and ev.available_at is None
                    and ev.expires_at is None
                    and ev.reason == ""
                    and ev.source == "purchase"
                    and ev.value_per_point is None
                    and ev.inactivity_deadline is None
                    and type(ev.points) is int
                    and ev.points > 0
                    and ev.id not in idix
                    and at_us >= a[H_LAST]
                    and (
                        words := s.earn_plain(
                            ev.id,
                            at_us,
                            ev.points,
                            -1 if ev.lot_expires_at is None else micros(ev.lot_expires_at),
                        )
                    )
                ):  # the common case, in one step
                    if quick:
                        at, exp = ev.at, ev.lot_expires_at
                        if (
                            type(at) is datetime
                            and at.tzinfo is UTC
                            and not at.fold
                            and (
                                exp is None
                                or (type(exp) is datetime and exp.tzinfo is UTC and not exp.fold)
                            )
                        ):  # (earn_plain's record: its inputs, and its expiry as
                            # recorded, or derived where the event leaves it out)
                            ints += s._h[-words:]
                        else:  # (the events are compared one by one)
                            quick = False
                    if step is not None:
                        step(i, s)
                    continue
                if ev.derived:
                    s.advance(at_us)
                else:  # a command, checking what a history adds
                    if ev.id in idix:
                        raise ValueError(f"id={ev.id!r} is repeated")
                    if at_us < a[H_LAST]:
                        raise ValueError(
                            f"at={ev.at.isoformat()} is earlier than the event before it"
                        )
                    if ev.occurred_at is not ev.at and ev.occurred_at > ev.at:
                        raise ValueError(f"occurred_at={ev.occurred_at.isoformat()} is after at")
                    if at_us >= a[H_NEXT]:
                        s.advance(at_us)
                    handler, inputs = handlers[type(ev)]
                    s.given = ev
                    handler(s, at_us, *inputs(ev))
                    s.after(at_us)
            elif not ev.derived:  # the engine's event i is a derived one
                raise _Unusual
        except (
            ValueError,
            LookupError,
            TypeError,
            AttributeError,
            OverflowError,
            _Unusual,
        ) as exc:
            first = _first_difference(events, s, i)[0]
            if first is None and type(ev) is Opened:
                raise _bad(
                    i,
                    f"Opened of member {ev.member!r} inside the history of member "
                    f"{s._member_id!r}",
                ) from None
            if first is not None or isinstance(exc, _Unusual):
                raise _not_following(events, i if first is None else first) from None
            raise _bad(i, str(exc)) from None
        if a[H_NEV] <= i:
            first = _first_difference(events, s, i)[0]
            raise _not_following(events, i if first is None else first)
        if quick:
            try:
                encoders[type(ev)](ev, at_us, ints, objs, idix, lotix)
            except (_Unusual, LookupError, TypeError, ValueError, AttributeError, OverflowError):
                quick = False
        if step is not None:
            step(i, s)
    if a[H_NEV] > len(events):
        raise _bad(len(events), "the history ends before the events that follow from it")
    try:
        s._eids, s._lids = s.joined()
    except InvalidArgument as exc:
        first = next(
            j
            for j, ev in enumerate(events)
            if SEP in getattr(ev, "id", "")
            or (type(ev) is Merged and any(SEP in item.lot for item in ev.lots))
        )
        raise _bad(first, str(exc)) from None
    if quick:
        quick = s._h == ints and objs == list(s._objs)
    s.finish()  # exactly sized arrays (OverflowError: replay() replays exactly)
    if not quick:
        first, canonical = _first_difference(events, s, len(events))
        if first is not None:
            raise _not_following(events, first)
        if not canonical:
            s._raw = tuple(events)
    return s


_PACK: Final[dict[int, Callable[..., None]]] = {}
_ZERO: Final = array("q", [0])


def _as_array(items: Sequence[int]) -> array[int]:
    """``array("q", items)`` in about a fifth less time: packing reads each int as
    such, where an array parses it as an argument. Exactly sized; OverflowError
    beyond int64."""
    n = len(items)
    pack_into = _PACK.get(n)
    if pack_into is None:
        pack_into = struct.Struct(f"{n}q").pack_into
        if len(_PACK) < 1024:
            _PACK[n] = pack_into
    out = _ZERO * n
    try:
        pack_into(out, 0, *items)
    except struct.error:
        raise OverflowError("a value is beyond int64") from None
    return out


def _not_following(events: Sequence[Any], i: int) -> InvalidData:
    return _bad(i, f"{type(events[i]).__name__} does not follow from the events before it")


def _first_difference(events: Sequence[Any], s: State, stop: int) -> tuple[int | None, bool]:
    """The first of ``events[1:stop]`` that differs from the engine's record, if any,
    and whether they all read back exactly (instants in plain UTC)."""
    ids, names = s._ids()
    dt = _converter()
    h, pos, end = s._hbuf()
    k = 0
    canonical = True
    for i in range(1, stop):
        ev = events[i]
        kind = type(ev)
        if pos >= end or _READ[h[pos] & 31][0] is not kind:
            return i, canonical
        _, read, command = _READ[h[pos] & 31]
        values, pos = read(h, pos, s._objs, ids[k] if command else None, ids, names, dt)
        k += command
        given = FIELDS[kind](ev)
        if values != given:
            effects = _EFFECTS.get(kind)
            if effects is None or values != tuple(
                values[j] if j in effects and x is None else x for j, x in enumerate(given)
            ):
                return i, canonical
            # (an effect left out: the ledger's events carry the derived one)
        canonical = canonical and _CANON[kind](ev)
    return None, canonical


#: Per command type with recorded effects: their places among its fields
#: (an event that leaves one out, None, follows when the rest is the same).
_EFFECTS: Final[dict[type[Any], frozenset[int]]] = {
    cls: frozenset(
        j
        for j, field in enumerate(attrs.fields(cls))
        if field.name in ("lot_expires_at", "inactivity_deadline")
    )
    for cls in EVENT_TYPES
    if {"lot_expires_at", "inactivity_deadline"} & {f.name for f in attrs.fields(cls)}
}

#: Per command type: its handler, called as ``handler(state, at_us, id, *inputs)``,
#: and a getter of those arguments from an event (its ``id`` and ``inputs``).
HANDLERS: Final[dict[type[Any], tuple[Callable[..., None], Callable[[Any], tuple[Any, ...]]]]] = {
    cls: (handler, attrgetter("id", *cls.inputs))
    for cls, handler in (
        (Earned, State.earn),
        (Redeemed, State.redeem),
        (Held, State.hold),
        (Captured, State.capture),
        (Released, State.release),
        (EarnReversed, State.reverse_earn),
        (RedemptionCancelled, State.cancel),
        (Adjusted, State.adjust),
        (TransferredOut, State.transfer_out),
        (TransferredIn, State.transfer_in),
        (Merged, State.merge),
    )
}

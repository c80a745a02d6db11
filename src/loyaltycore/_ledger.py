"""The points ledger engine: a mutable builder behind the immutable ledger.

A :class:`Book` is thawed from a ledger's frozen book (containers copied,
values shared), applies one command — first every vesting, expiry, hold
timeout and inactivity deadline due at or before the command's time — and is
frozen, becoming the new ledger's state. A command that raises leaves its book
behind, so the ledger it came from is untouched. Replay runs every event of a
history through one book and freezes once.

Inputs reaching the engine are already validated by :mod:`loyaltycore.points`.
"""

from __future__ import annotations

import contextlib
from array import array
from bisect import bisect_left, insort
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta, tzinfo
from operator import attrgetter
from typing import Any, Final

import attrs

from loyaltycore._points_values import (
    ADJUSTED_IN,
    ADJUSTED_OUT,
    AVAILABLE,
    BALANCE_FIELDS,
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
    NEVER,
    PENDING,
    REDEEMED,
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
    Opened,
    Parts,
    Redeemed,
    RedemptionCancelled,
    Released,
    TransferredIn,
    TransferredOut,
    Vested,
    expiry_for,
    inactivity_deadline,
    micros,
)
from loyaltycore.calendar import EPOCH, UTC, start_of_day, zone
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
    StrictPolicyViolation,
    UnknownEvent,
    UnknownHold,
)

#: The history as a chain of batches, newest last: ``(previous, batch)``
#: where a batch is a tuple of events, or one bare event.
Log = tuple[Any, Any] | None
_ZERO: Final = (0,) * len(BALANCE_FIELDS)
# Frozen states share these instead of holding empty containers of their own;
# a book always copies before changing anything.
_EMPTY_DICT: Final[dict[Any, Any]] = {}
_EMPTY_LIST: Final[list[Any]] = []


class Conf:
    """A ledger's fixed settings, shared by all its versions."""

    __slots__ = ("inactive", "member", "policy", "strict", "tz", "tzname")

    def __init__(
        self, member: str, tz: tzinfo, tzname: str, policy: ExpiryPolicy, strict: bool
    ) -> None:
        self.member = member
        self.tz = tz
        self.tzname = tzname
        self.policy = policy
        self.strict = strict
        #: Whether activity matters (the policy is ExpireOnInactivity).
        self.inactive = type(policy) is ExpireOnInactivity


def events_of(log: Log) -> tuple[Any, ...]:
    """All events of a log chain, oldest first."""
    batches = []
    while log is not None:
        log, batch = log
        batches.append(batch)
    batches.reverse()
    events: list[Any] = []
    for batch in batches:
        if type(batch) is tuple:
            events.extend(batch)
        elif type(batch) is Packed:
            events.extend(batch.events())
        else:
            events.append(batch)  # a batch of one event is stored bare
    return tuple(events)


# -- compact histories --------------------------------------------------------

#: The value of an id in a book's id table whose event lives in its packed history.
STORED: Final = ...


def _field_code(kind: Any) -> str:
    """How a field is packed: d/D instant (or None), i/n int (or None), b bool, p parts, o as is.

    ``kind`` is the field's annotation, as a string or resolved.
    """
    codes: dict[str, str] = {
        "datetime": "d",
        "datetime | None": "D",
        "int": "i",
        "int | None": "n",
        "bool": "b",
        "Parts": "p",
        "tuple[tuple[str, int], ...]": "p",
    }
    if not isinstance(kind, str):  # a resolved annotation
        kind = "Parts" if kind == Parts else repr(kind).replace("datetime.datetime", "datetime")
        kind = kind.replace("<class '", "").replace("'>", "")
    return codes.get(kind, "o")


class _Unpackable(Exception):
    """A value the compact form cannot hold exactly (the history is kept as is)."""


def _bits(cls: type[Any], spec: str) -> tuple[int, ...]:
    """Each field's flag bit (0: always stored).

    A flagged field is left out of the packed form: an instant that is the
    event's own instant (``occurred_at is at``), None, or an empty reason.
    """
    bits, bit, first = [], 1, True
    for f, c in zip(attrs.fields(cls), spec, strict=True):
        optional = c in "Dn" or (c == "d" and not first) or (c == "o" and f.name == "reason")
        first = first and c != "d"
        bits.append(bit if optional else 0)
        bit <<= optional
    return tuple(bits)


def _encoder(code: int, spec: str, bits: tuple[int, ...]) -> str:
    """Source of a function packing one event: its flags and type, fields, then parts.

    Generated per event type, so that packing a history costs little more
    than reading its fields.
    """
    names = [f"f{k}" for k in range(len(spec))]
    lines = ["def enc(ev, us, ia, oa, ie, oe):", f"    {', '.join(names)}, = get(ev)"]
    us = "(d.days * 86_400 + d.seconds) * 1_000_000 + d.microseconds"
    first = names[spec.index("d")] if "d" in spec else ""
    left_out = []
    for name, c, bit in zip(names, spec, bits, strict=True):
        if bit:
            test = {
                "d": f"{name} is {first}",
                "o": f"(type({name}) is str and not {name})",
            }.get(c, f"{name} is None")
            left_out.append(f"({bit} if {test} else 0)")
    lines.append(f"    fl = {' | '.join(left_out) or '0'}")
    lines.append(f"    ia({code} | fl << 5)")
    parts = []
    for name, c, bit in zip(names, spec, bits, strict=True):
        step = [
            f"if type({name}) is not datetime or {name}.tzinfo is not UTC or {name}.fold:"
            " raise _Unpackable"
        ]
        if c == "o":
            step = [f"oa({name})"]
        elif c in "dD" and name == first:  # the event's own instant, whose micros may be known
            step += [f"if us is None: d = {name} - EPOCH; us = {us}", "ia(us)"]
        elif c in "dD":
            step += [f"d = {name} - EPOCH", f"ia({us})"]
        elif c in "inb":
            kind = "bool" if c == "b" else "int"
            step = [f"if type({name}) is not {kind}: raise _Unpackable", f"ia({name})"]
        else:
            step = [f"if type({name}) is not tuple: raise _Unpackable", f"ia(len({name}))"]
            parts.append(name)
        if bit:
            lines.append(f"    if not fl & {bit}:")
            lines.extend(f"        {line}" for line in step)
        else:
            lines.extend(f"    {line}" for line in step)
    for name in parts:
        lines.append(f"    for lot, x in {name}:")
        lines.append("        if type(x) is not int: raise _Unpackable")
        lines.append("        oa(lot)")
        lines.append("        ia(x)")
    return "\n".join(lines)


def _compile(code: int, cls: type[Any], spec: str) -> Callable[..., None]:
    scope: dict[str, Any] = {
        "get": attrgetter(*(f.name for f in attrs.fields(cls))),
        "datetime": datetime,
        "UTC": UTC,
        "EPOCH": EPOCH,
        "_Unpackable": _Unpackable,
    }
    exec(_encoder(code, spec, _bits(cls, spec)), scope)
    encode: Callable[..., None] = scope["enc"]
    return encode


_PACK: Final[dict[type[Any], Callable[..., None]]] = {}
_UNPACK: Final[list[tuple[type[Any], str, tuple[int, ...]]]] = []
#: Each event type's field values as a tuple (equal tuples: equal events).
FIELDS: Final[dict[type[Any], Callable[[Any], tuple[Any, ...]]]] = {}
for _code, _cls in enumerate(EVENT_TYPES):
    _spec = "".join(_field_code(f.type) for f in attrs.fields(_cls))
    _PACK[_cls] = _compile(_code, _cls, _spec)
    FIELDS[_cls] = attrgetter(*(f.name for f in attrs.fields(_cls)))
    _UNPACK.append((_cls, _spec, _bits(_cls, _spec)))


class Packed:
    """A history stored compactly, its events rebuilt when asked for.

    Instants are int microseconds UTC, counts and points ints — all in one
    int64 array; ids, reasons and other values in one tuple; lot parts are
    flattened. Only exactly representable histories are packed: UTC instants
    of plain datetimes, ints within int64, parts of ``(str, int)`` pairs.
    """

    __slots__ = ("index", "ints", "objs")

    def __init__(self, ints: array[int], objs: tuple[Any, ...]) -> None:
        self.ints = ints
        self.objs = objs
        #: id -> command event, built on the first look-up by id.
        self.index: dict[str, Any] | None = None

    def events(self) -> list[Any]:
        """The typed events, oldest first."""
        ints, objs = self.ints, self.objs
        i = j = 0
        out: list[Any] = []
        last_us, last = -1, EPOCH
        n = len(ints)
        while i < n:
            cls, spec, bits = _UNPACK[ints[i] & 31]
            flags = ints[i] >> 5
            i += 1
            values: list[Any] = []
            parts: list[int] = []
            at: datetime | None = None
            for c, bit in zip(spec, bits, strict=True):
                if flags & bit:  # left out: the event's instant, None or ""
                    values.append(at if c == "d" else "" if c == "o" else None)
                    continue
                if c == "o":
                    values.append(objs[j])
                    j += 1
                    continue
                x = ints[i]
                i += 1
                if c in "dD":
                    if x != last_us:
                        last_us, last = x, EPOCH + timedelta(microseconds=x)
                    if at is None and c == "d":
                        at = last
                    values.append(last)
                elif c == "b":
                    values.append(bool(x))
                else:
                    if c == "p":
                        parts.append(len(values))
                    values.append(x)
            for k in parts:
                x = values[k]
                values[k] = tuple(zip(objs[j : j + x], ints[i : i + x], strict=True))
                i += x
                j += x
            out.append(cls(*values))
        return out

    def find(self, event_id: str) -> Any:
        """The command event called ``event_id``."""
        if self.index is None:
            self.index = {ev.id: ev for ev in self.events()[1:] if not ev.derived}
        return self.index[event_id]


#: A lot inside the engine: a plain tuple (cheap to build), laid out as the
#: fields of :class:`Lot` followed by the expiry in micros.
Row = tuple[Any, ...]
(
    L_ID,
    L_SEQ,
    L_AMOUNT,
    L_EARNED,
    L_EXPIRES,
    L_AVAIL,
    L_PENDING,
    L_REM,
    L_HELD,
    L_USED,
    L_EXPIRED,
    L_REV,
    L_EXPUS,
) = range(13)


def _lot(
    lot: Row, pending: bool, remaining: int, held: int, used: int, expired: int, rev: int
) -> Row:
    return (
        lot[0],
        lot[1],
        lot[2],
        lot[3],
        lot[4],
        lot[5],
        pending,
        remaining,
        held,
        used,
        expired,
        rev,
        lot[12],
    )


def _key(lot: Row) -> tuple[int, int, str]:
    return (lot[L_EXPUS], lot[L_SEQ], lot[L_ID])


def public_lot(row: Row) -> Lot:
    """The public value of an engine lot."""
    return Lot(*row[:12])


class Book:
    """A ledger's state: mutable while a command runs, frozen afterwards.

    A book thawed from a frozen one has copies of its containers (values are
    shared); once frozen, its containers are never mutated again.
    """

    __slots__ = (
        "conf",
        "count",
        "deadline",
        "holds",
        "ids",
        "kill_seq",
        "last_at",
        "log",
        "lots",
        "next_us",
        "open",
        "out",
        "own",
        "packed",
        "pend",
        "queue",
        "reversed",
        "seq",
        "tot",
    )

    conf: Conf
    lots: dict[str, Row]
    queue: list[tuple[int, int, str]]
    pend: list[tuple[int, int, str]]
    holds: dict[str, Hold]
    open: dict[str, int]
    ids: dict[str, Any]
    reversed: dict[str, int]
    tot: list[int]
    last_at: datetime | None
    deadline: tuple[datetime, int] | None
    kill_seq: int
    seq: int
    log: Log
    count: int
    out: list[Any]
    own: bool
    next_us: int
    packed: Packed | None

    # -- construction -------------------------------------------------------

    @classmethod
    def opened(cls, ev: Opened) -> Book:
        """A fresh book for a ledger opened by ``ev``."""
        book = cls.__new__(cls)
        book.conf = Conf(ev.member, zone(ev.tz), ev.tz, ev.policy, ev.debt_policy == "strict")
        book.own = True
        book.lots = {}
        book.queue = []
        book.pend = []
        book.holds = {}
        book.open = {}
        book.ids = {}
        book.reversed = {}
        book.tot = list(_ZERO)
        book.last_at = None
        book.deadline = None
        book.kill_seq = -1
        book.seq = 0
        book.log = None
        book.count = 0
        book.out = [ev]
        book.next_us = NEVER
        book.packed = None
        return book

    @classmethod
    def thaw(cls, s: Book) -> Book:
        """A book that changes copies of frozen ``s``'s containers."""
        book = cls.__new__(cls)
        book.conf = s.conf
        book.lots = s.lots.copy()
        book.queue = s.queue.copy()
        book.pend = s.pend
        book.holds = s.holds
        book.open = s.open
        book.ids = s.ids.copy()
        book.reversed = s.reversed
        book.own = False
        book.tot = s.tot.copy()
        book.last_at = s.last_at
        book.deadline = s.deadline
        book.kill_seq = s.kill_seq
        book.seq = s.seq
        book.log = s.log
        book.count = s.count
        book.out = []
        book.next_us = s.next_us
        book.packed = s.packed
        return book

    def freeze(self, history: tuple[Any, ...] | None = None) -> Book:
        """This book, frozen: it must not be changed afterwards.

        ``history``: the whole history this book was replayed from (equal to
        its output), kept as the log instead of a copy — packed when it can
        be, the id table then pointing into it.
        """
        out = self.out
        if history is not None:
            packed = self.packed
            if packed is not None:
                self.ids = dict.fromkeys(self.ids, STORED)
            self.log = (None, history if packed is None else packed)
            self.count = len(history)
            self.out = _EMPTY_LIST
        elif out:
            self.log = (self.log, out[0] if len(out) == 1 else tuple(out))
            self.count += len(out)
            self.out = _EMPTY_LIST
        if not self.queue:
            self.queue = _EMPTY_LIST
        if not self.pend:
            self.pend = _EMPTY_LIST
        if not self.holds:
            self.holds = _EMPTY_DICT
        if not self.open:
            self.open = _EMPTY_DICT
        if not self.reversed:
            self.reversed = _EMPTY_DICT
        return self

    # -- bookkeeping --------------------------------------------------------

    def event(self, event_id: str) -> Any:
        """The command event called ``event_id``, or None."""
        ev = self.ids.get(event_id)
        if ev is STORED:
            assert self.packed is not None
            return self.packed.find(event_id)
        return ev

    def mine(self) -> None:
        """Copy the rarely changed containers before changing one of them."""
        if not self.own:
            self.holds = self.holds.copy()
            self.open = self.open.copy()
            self.reversed = self.reversed.copy()
            self.pend = self.pend.copy()
            self.own = True

    def emit(self, ev: Any) -> None:
        self.out.append(ev)
        if self.last_at is None or ev.at > self.last_at:
            self.last_at = ev.at

    def next_due(self) -> tuple[int, int]:
        """(instant, rank) of the next vesting/expiry/timeout/deadline."""
        when, rank = NEVER, 9
        if self.pend:
            when, rank = self.pend[0][0], 0
        if self.queue and self.queue[0][0] < when:
            when, rank = self.queue[0][0], 1
        if self.open:
            first = min(self.open.values())
            if first < when:
                when, rank = first, 2
        if self.deadline is not None and self.deadline[1] < when:
            when, rank = self.deadline[1], 3
        return when, rank

    def new_lot(
        self,
        lot_id: str,
        points: int,
        earned_at: datetime,
        expires: tuple[datetime, int] | None,
        available_at: datetime | None,
        pending: bool,
    ) -> None:
        if lot_id in self.lots:
            raise DuplicateId(f"lot id={lot_id!r} already exists", field="id", value=lot_id)
        self.seq += 1
        exp_dt, exp_us = (None, NEVER) if expires is None else expires
        self.lots[lot_id] = (
            lot_id,
            self.seq,
            points,
            earned_at,
            exp_dt,
            available_at,
            pending,
            points,
            0,
            0,
            0,
            0,
            exp_us,
        )
        if pending:
            assert available_at is not None
            self.mine()
            insort(self.pend, (micros(available_at), self.seq, lot_id))
            self.tot[PENDING] += points
        else:
            insort(self.queue, (exp_us, self.seq, lot_id))
            self.tot[AVAILABLE] += points

    def take(self, points: int, *, hold: bool = False) -> Parts:
        """Consume ``points`` of available lots, soonest-expiring first."""
        queue, lots = self.queue, self.lots
        parts = []
        need = points
        k = 0
        while need:
            lot_id = queue[k][2]
            lot = lots[lot_id]
            x = lot[L_REM] if lot[L_REM] < need else need
            if hold:
                new = _lot(
                    lot,
                    False,
                    lot[L_REM] - x,
                    lot[L_HELD] + x,
                    lot[L_USED],
                    lot[L_EXPIRED],
                    lot[L_REV],
                )
            else:
                new = _lot(
                    lot,
                    False,
                    lot[L_REM] - x,
                    lot[L_HELD],
                    lot[L_USED] + x,
                    lot[L_EXPIRED],
                    lot[L_REV],
                )
            lots[lot_id] = new
            parts.append((lot_id, x))
            need -= x
            if new[L_REM] == 0:
                k += 1
        del queue[:k]
        self.tot[AVAILABLE] -= points
        return tuple(parts)

    def give_back(self, lot: Row, x: int, *, from_held: bool) -> Row:
        """Return ``x`` points to ``lot``'s usable remainder."""
        if from_held:
            new = _lot(
                lot,
                False,
                lot[L_REM] + x,
                lot[L_HELD] - x,
                lot[L_USED],
                lot[L_EXPIRED],
                lot[L_REV],
            )
        else:
            new = _lot(
                lot,
                False,
                lot[L_REM] + x,
                lot[L_HELD],
                lot[L_USED] - x,
                lot[L_EXPIRED],
                lot[L_REV],
            )
        self.lots[lot[L_ID]] = new
        if lot[L_REM] == 0:
            insort(self.queue, _key(new))
        self.tot[AVAILABLE] += x
        return new

    def dead(self, lot: Row, at_us: int) -> bool:
        """Whether ``lot`` has expired by ``at_us`` (own expiry or inactivity)."""
        if lot[L_SEQ] <= self.kill_seq:
            return True
        return bool(lot[L_EXPUS] <= at_us)

    def activity(self, occurred_at: datetime) -> None:
        policy = self.conf.policy
        if type(policy) is not ExpireOnInactivity:
            return
        deadline = inactivity_deadline(
            policy, self.conf.tz, occurred_at.astimezone(self.conf.tz).date()
        )
        last = self.last_at
        if last is not None and deadline[0] <= last:
            return
        if self.deadline is None or deadline[1] > self.deadline[1]:
            self.deadline = deadline

    def settle(self, at: datetime) -> None:
        """Repay debt from available points."""
        tot = self.tot
        if tot[DEBT] and tot[AVAILABLE]:
            pay = min(tot[DEBT], tot[AVAILABLE])
            parts = self.take(pay)
            tot[DEBT] -= pay
            tot[DEBT_REPAID] += pay
            self.emit(DebtRepaid(at, pay, parts))

    def release_parts(self, parts: Parts, at: datetime, at_us: int) -> list[Expired]:
        """Put held parts back; parts of expired lots expire at once."""
        expired = []
        for lot_id, x in parts:
            lot = self.lots[lot_id]
            self.tot[HELD] -= x
            if self.dead(lot, at_us):
                self.lots[lot_id] = _lot(
                    lot,
                    False,
                    lot[L_REM],
                    lot[L_HELD] - x,
                    lot[L_USED],
                    lot[L_EXPIRED] + x,
                    lot[L_REV],
                )
                self.tot[EXPIRED] += x
                expired.append(Expired(at, lot_id, x, "hold"))
            else:
                self.give_back(lot, x, from_held=True)
        return expired

    # -- time passing -------------------------------------------------------

    def advance(self, until_us: int) -> None:
        """Apply every vesting, expiry, timeout and deadline due by ``until_us``."""
        while True:
            when, rank = self.next_due()
            if when > until_us:
                self.next_us = when
                return
            if rank == 0:
                self.vest()
            elif rank == 1:
                self.expire_first()
            elif rank == 2:
                self.time_out(min(self.open, key=lambda h: (self.open[h], h)))
            else:
                self.inactivity()

    def vest(self) -> None:
        self.mine()
        _, _, lot_id = self.pend.pop(0)
        lot = self.lots[lot_id]
        assert lot[L_AVAIL] is not None
        new = _lot(lot, False, lot[L_REM], lot[L_HELD], lot[L_USED], lot[L_EXPIRED], lot[L_REV])
        self.lots[lot_id] = new
        insort(self.queue, _key(new))
        self.tot[PENDING] -= lot[L_REM]
        self.tot[AVAILABLE] += lot[L_REM]
        self.emit(Vested(lot[L_AVAIL], lot_id, lot[L_REM]))
        self.settle(lot[L_AVAIL])

    def expire_first(self) -> None:
        _, _, lot_id = self.queue.pop(0)
        lot = self.lots[lot_id]
        assert lot[L_EXPIRES] is not None
        x = lot[L_REM]
        self.lots[lot_id] = _lot(
            lot, False, 0, lot[L_HELD], lot[L_USED], lot[L_EXPIRED] + x, lot[L_REV]
        )
        self.tot[AVAILABLE] -= x
        self.tot[EXPIRED] += x
        self.emit(Expired(lot[L_EXPIRES], lot_id, x, "lot"))

    def time_out(self, hold_id: str) -> None:
        hold = self.holds[hold_id]
        self.mine()
        del self.open[hold_id]
        at = hold.deadline
        self.holds[hold_id] = Hold(
            hold.id, hold.member, hold.points, at, hold.lots, "timed_out", 0
        )
        expired = self.release_parts(hold.lots, at, micros(at))
        self.emit(HoldTimedOut(at, hold_id, hold.points, hold.lots))
        for ev in expired:
            self.emit(ev)
        self.settle(at)

    def inactivity(self) -> None:
        assert self.deadline is not None
        at = self.deadline[0]
        for _, _, lot_id in self.queue:
            lot = self.lots[lot_id]
            x = lot[L_REM]
            self.lots[lot_id] = _lot(
                lot, False, 0, lot[L_HELD], lot[L_USED], lot[L_EXPIRED] + x, lot[L_REV]
            )
            self.tot[AVAILABLE] -= x
            self.tot[EXPIRED] += x
            self.emit(Expired(at, lot_id, x, "inactivity"))
        self.queue.clear()
        self.kill_seq = self.seq
        self.deadline = None

    # -- commands -----------------------------------------------------------

    def apply(self, ev: Any) -> int:
        """Apply one command event (its outcome fields are recomputed); its micros."""
        d: timedelta = ev.at - EPOCH
        at_us = (d.days * 86_400 + d.seconds) * 1_000_000 + d.microseconds
        if at_us >= self.next_us:
            self.advance(at_us)
        _HANDLERS[type(ev)](self, ev, at_us)
        tot = self.tot
        if tot[DEBT] and tot[AVAILABLE]:
            self.settle(ev.at)
        if self.pend or self.open or self.deadline is not None:
            self.next_us = self.next_due()[0]
        else:  # the common case: only lot expiries can be due
            self.next_us = self.queue[0][0] if self.queue else NEVER
        return at_us

    def record(self, ev: Any) -> None:
        self.ids[ev.id] = ev
        self.out.append(ev)
        if self.last_at is None or ev.at > self.last_at:
            self.last_at = ev.at

    def earn(self, ev: Earned, at_us: int) -> None:
        if ev.points <= 0:
            raise InvalidPoints(f"points={ev.points!r} must be a positive int", field="points")
        day = ev.occurred_at.astimezone(self.conf.tz).date()
        if ev.expires_at is not None:
            expires: tuple[datetime, int] | None = (ev.expires_at, micros(ev.expires_at))
        else:
            expires = expiry_for(self.conf.policy, self.conf.tz, day)
        start = ev.at
        if ev.available_at is not None and ev.available_at > start:
            start = ev.available_at
        self.check_expiry(expires, start, ev)
        pending = ev.available_at is not None and ev.available_at > ev.at
        self.new_lot(ev.id, ev.points, ev.occurred_at, expires, ev.available_at, pending)
        self.tot[EARNED] += ev.points
        if self.conf.inactive:
            self.activity(ev.occurred_at)
        self.record(ev)

    def check_expiry(self, expires: tuple[datetime, int] | None, start: datetime, ev: Any) -> None:
        if expires is not None and expires[0] <= start:
            raise InvalidTime(
                f"id={ev.id!r} would expire at {expires[0].isoformat()}, not after it becomes "
                f"usable at {start.isoformat()}",
                field="expires_at",
                value=expires[0],
            )
        policy = self.conf.policy
        if type(policy) is ExpireOnInactivity:
            day = ev.occurred_at.astimezone(self.conf.tz).date()
            deadline = inactivity_deadline(policy, self.conf.tz, day)[0]
            if deadline <= start:
                raise InvalidTime(
                    f"occurred_at={ev.occurred_at.isoformat()} is older than the inactivity "
                    f"period: points would be expired at {deadline.isoformat()}",
                    field="occurred_at",
                    value=ev.occurred_at,
                )

    def need(self, points: int, what: str) -> None:
        if points <= 0:
            raise InvalidPoints(f"points={points!r} must be a positive int", field="points")
        available = self.tot[AVAILABLE]
        if points > available:
            raise InsufficientPoints(
                f"{what} of points={points} asks for more than the {available} available",
                field="points",
                requested=points,
                available=available,
            )

    def redeem(self, ev: Redeemed, at_us: int) -> None:
        self.need(ev.points, "redemption")
        parts = self.take(ev.points)
        self.tot[REDEEMED] += ev.points
        if self.conf.inactive:
            self.activity(ev.occurred_at)
        if ev.lots != parts:  # a replayed event that already holds its outcome is kept
            ev = Redeemed(ev.id, ev.at, ev.occurred_at, ev.points, ev.reason, parts)
        self.record(ev)

    def hold(self, ev: Held, at_us: int) -> None:
        self.need(ev.points, "hold")
        if ev.deadline <= ev.at:
            raise InvalidTime(
                f"deadline={ev.deadline.isoformat()} must be after at={ev.at.isoformat()}",
                field="deadline",
                value=ev.deadline,
            )
        parts = self.take(ev.points, hold=True)
        self.tot[HELD] += ev.points
        self.mine()
        self.holds[ev.id] = Hold(ev.id, self.conf.member, ev.points, ev.deadline, parts)
        self.open[ev.id] = micros(ev.deadline)
        if ev.lots != parts:
            ev = Held(ev.id, ev.at, ev.occurred_at, ev.points, ev.deadline, parts)
        self.record(ev)

    def open_hold(self, hold_id: str) -> Hold:
        hold = self.holds.get(hold_id)
        if hold is None:
            raise UnknownHold(
                f"hold={hold_id!r} is not a hold of this ledger", field="hold", value=hold_id
            )
        if hold.status == "timed_out":
            raise HoldExpired(
                f"hold={hold_id!r} expired at {hold.deadline.isoformat()}",
                field="hold",
                value=hold_id,
            )
        if hold.status != "open":
            raise HoldAlreadyResolved(
                f"hold={hold_id!r} was already {hold.status}", field="hold", value=hold_id
            )
        return hold

    def capture(self, ev: Captured, at_us: int) -> None:
        hold = self.open_hold(ev.hold)
        amount = hold.points if ev.points is None else ev.points
        if amount <= 0:
            raise InvalidPoints(f"points={amount!r} must be a positive int", field="points")
        if amount > hold.points:
            raise OverCapture(
                f"points={amount} is more than the {hold.points} held by hold={ev.hold!r}",
                field="points",
                value=amount,
                held=hold.points,
            )
        captured, released = [], []
        need = amount
        for lot_id, x in hold.lots:
            y = x if x < need else need
            if y:
                lot = self.lots[lot_id]
                self.lots[lot_id] = _lot(
                    lot,
                    False,
                    lot[L_REM],
                    lot[L_HELD] - y,
                    lot[L_USED] + y,
                    lot[L_EXPIRED],
                    lot[L_REV],
                )
                captured.append((lot_id, y))
                need -= y
            if x > y:
                released.append((lot_id, x - y))
        self.tot[HELD] -= amount
        self.tot[REDEEMED] += amount
        rel = tuple(released)
        expired = self.release_parts(rel, ev.at, at_us)
        self.mine()
        self.holds[hold.id] = Hold(
            hold.id, hold.member, hold.points, hold.deadline, hold.lots, "captured", amount
        )
        del self.open[hold.id]
        if self.conf.inactive:
            self.activity(ev.occurred_at)
        lots = tuple(captured)
        if ev.amount != amount or ev.lots != lots or ev.released != rel:
            ev = Captured(ev.id, ev.at, ev.occurred_at, ev.hold, ev.points, amount, lots, rel)
        self.record(ev)
        for exp in expired:
            self.emit(exp)

    def release(self, ev: Released, at_us: int) -> None:
        hold = self.open_hold(ev.hold)
        expired = self.release_parts(hold.lots, ev.at, at_us)
        self.mine()
        self.holds[hold.id] = Hold(
            hold.id, hold.member, hold.points, hold.deadline, hold.lots, "released", 0
        )
        del self.open[hold.id]
        if ev.lots != hold.lots:
            ev = Released(ev.id, ev.at, ev.occurred_at, ev.hold, hold.lots)
        self.record(ev)
        for exp in expired:
            self.emit(exp)

    def target(self, of: str) -> Any:
        target = self.event(of)
        if target is None:
            raise UnknownEvent(f"of={of!r} is not an event of this ledger", field="of", value=of)
        return target

    def reverse_earn(self, ev: EarnReversed, at_us: int) -> None:
        target = self.target(ev.of)
        if type(target) is not Earned:
            raise InvalidArgument(
                f"of={ev.of!r} is a {type(target).__name__}, not an earn", field="of", value=ev.of
            )
        done = self.reversed.get(ev.of, 0)
        amount = self.over_reversal(ev, target.points, done)
        lot = self.lots[ev.of]
        tot = self.tot
        taken = reclassified = debt = 0
        charged: Parts = ()
        if lot[L_PENDING]:
            taken = amount
            self.lots[ev.of] = _lot(
                lot,
                True,
                lot[L_REM] - amount,
                lot[L_HELD],
                lot[L_USED],
                lot[L_EXPIRED],
                lot[L_REV] + amount,
            )
            tot[PENDING] -= amount
            if lot[L_REM] == amount:
                assert lot[L_AVAIL] is not None
                self.mine()
                self.pend.remove((micros(lot[L_AVAIL]), lot[L_SEQ], lot[L_ID]))
        else:
            taken = min(amount, lot[L_REM])
            reclassified = min(amount - taken, lot[L_EXPIRED])
            rest = amount - taken - reclassified
            if taken and lot[L_REM] == taken:
                key = _key(lot)
                del self.queue[bisect_left(self.queue, key)]
            self.lots[ev.of] = _lot(
                lot,
                False,
                lot[L_REM] - taken,
                lot[L_HELD],
                lot[L_USED],
                lot[L_EXPIRED] - reclassified,
                lot[L_REV] + taken + reclassified,
            )
            tot[AVAILABLE] -= taken
            tot[EXPIRED] -= reclassified
            if rest:
                pay = min(rest, tot[AVAILABLE])
                debt = rest - pay
                if debt and self.conf.strict:
                    raise StrictPolicyViolation(
                        f"reversing points={amount} of {ev.of!r} would leave a debt of {debt} "
                        "(the ledger's debt policy is strict)",
                        field="points",
                        value=amount,
                        debt=debt,
                    )
                charged = self.take(pay) if pay else ()
                tot[DEBT] += debt
        tot[CLAWED_BACK] += amount
        self.mine()
        self.reversed[ev.of] = done + amount
        if (ev.amount, ev.taken, ev.reclassified, ev.charged, ev.debt) != (
            amount,
            taken,
            reclassified,
            charged,
            debt,
        ):
            ev = EarnReversed(
                ev.id,
                ev.at,
                ev.occurred_at,
                ev.of,
                ev.points,
                amount,
                taken,
                reclassified,
                charged,
                debt,
            )
        self.record(ev)

    def over_reversal(self, ev: Any, total: int, done: int) -> int:
        left = total - done
        amount = left if ev.points is None else ev.points
        if amount <= 0 and ev.points is not None:
            raise InvalidPoints(f"points={amount!r} must be a positive int", field="points")
        if amount > left or left == 0:
            raise OverReversal(
                f"points={amount} would reverse more of {ev.of!r} than the {left} left "
                f"(of {total})",
                field="points",
                value=amount,
                left=left,
            )
        return amount

    def cancel(self, ev: RedemptionCancelled, at_us: int) -> None:
        target = self.target(ev.of)
        if type(target) not in (Redeemed, Captured):
            raise InvalidArgument(
                f"of={ev.of!r} is a {type(target).__name__}, not a redemption or capture",
                field="of",
                value=ev.of,
            )
        parts = target.lots
        total = sum(x for _, x in parts)
        done = self.reversed.get(ev.of, 0)
        amount = self.over_reversal(ev, total, done)
        restored, expired, grace = [], [], []
        skip, need = done, amount
        for lot_id, x in parts:
            if skip >= x:
                skip -= x
                continue
            y = min(x - skip, need)
            skip = 0
            need -= y
            lot = self.lots[lot_id]
            if not self.dead(lot, at_us):
                self.give_back(lot, y, from_held=False)
                restored.append((lot_id, y))
            elif ev.grace_days is not None:
                grace.append((lot_id, y))
            else:
                self.lots[lot_id] = _lot(
                    lot,
                    False,
                    lot[L_REM],
                    lot[L_HELD],
                    lot[L_USED] - y,
                    lot[L_EXPIRED] + y,
                    lot[L_REV],
                )
                self.tot[EXPIRED] += y
                expired.append((lot_id, y))
            if not need:
                break
        if grace:
            assert ev.grace_days is not None
            last = ev.at.astimezone(self.conf.tz).date() + timedelta(days=ev.grace_days)
            instant = start_of_day(last + timedelta(days=1), self.conf.tz)
            self.new_lot(
                f"{ev.id}:grace",
                sum(y for _, y in grace),
                ev.at,
                (instant, micros(instant)),
                None,
                False,
            )
        self.tot[CANCELLED] += amount
        self.mine()
        self.reversed[ev.of] = done + amount
        self.record(
            RedemptionCancelled(
                ev.id,
                ev.at,
                ev.occurred_at,
                ev.of,
                ev.points,
                ev.grace_days,
                amount,
                tuple(restored),
                tuple(expired),
                tuple(grace),
            )
        )
        for lot_id, y in expired:
            self.emit(Expired(ev.at, lot_id, y, "cancel"))

    def adjust(self, ev: Adjusted, at_us: int) -> None:
        if ev.points > 0:
            day = ev.occurred_at.astimezone(self.conf.tz).date()
            expires = expiry_for(self.conf.policy, self.conf.tz, day)
            self.check_expiry(expires, ev.at, ev)
            self.new_lot(ev.id, ev.points, ev.occurred_at, expires, None, False)
            self.tot[ADJUSTED_IN] += ev.points
            if self.conf.inactive:
                self.activity(ev.occurred_at)
            self.record(ev)
            return
        self.need(-ev.points, "debit")
        parts = self.take(-ev.points)
        self.tot[ADJUSTED_OUT] -= ev.points
        self.record(Adjusted(ev.id, ev.at, ev.occurred_at, ev.points, ev.reason, parts))

    def transfer_out(self, ev: TransferredOut, at_us: int) -> None:
        self.need(ev.points, "transfer")
        parts = self.take(ev.points)
        self.tot[TRANSFERRED_OUT] += ev.points
        self.record(
            TransferredOut(ev.id, ev.at, ev.occurred_at, ev.to, ev.points, ev.keep_expiry, parts)
        )

    def transfer_in(self, ev: TransferredIn, at_us: int) -> None:
        if ev.points <= 0 or sum(p.points for p in ev.parts) != ev.points:
            raise InvalidPoints(
                f"points={ev.points!r} must be positive and equal the sum of the parts",
                field="points",
                value=ev.points,
            )
        if not ev.keep_expiry:
            day = ev.occurred_at.astimezone(self.conf.tz).date()
            expires = expiry_for(self.conf.policy, self.conf.tz, day)
            self.check_expiry(expires, ev.at, ev)
            self.new_lot(f"{ev.id}#0", ev.points, ev.occurred_at, expires, None, False)
        for i, part in enumerate(ev.parts if ev.keep_expiry else ()):
            expires = (
                None if part.expires_at is None else (part.expires_at, micros(part.expires_at))
            )
            self.check_expiry(expires, ev.at, ev)
            self.new_lot(f"{ev.id}#{i}", part.points, ev.occurred_at, expires, None, False)
        self.tot[TRANSFERRED_IN] += ev.points
        self.record(ev)

    def merge(self, ev: Merged, at_us: int) -> None:
        if ev.debt < 0 or any(item.points <= 0 for item in ev.lots):
            raise InvalidPoints(
                f"id={ev.id!r}: merged points and debt must not be negative",
                field="lots",
                value=ev.lots,
            )
        for item in ev.lots:
            expires = (
                None if item.expires_at is None else (item.expires_at, micros(item.expires_at))
            )
            pending = item.pending and item.available_at is not None and item.available_at > ev.at
            self.new_lot(
                f"{ev.id}/{item.lot}",
                item.points,
                item.earned_at,
                expires,
                item.available_at,
                pending,
            )
            self.tot[MERGED_IN] += item.points
        self.tot[DEBT] += ev.debt
        self.tot[MERGED_DEBT] += ev.debt
        self.record(ev)

    def check_command(self, ev: Any) -> None:
        """Checks a replayed command needs beyond its types."""
        if ev.id in self.ids:
            raise InvalidData.from_messages([f"id={ev.id!r} is repeated"], what="points history")
        if self.last_at is not None and ev.at < self.last_at:
            raise InvalidData.from_messages(
                [f"at={ev.at.isoformat()} is earlier than the event before it"],
                what="points history",
            )
        if ev.occurred_at > ev.at:
            raise InvalidData.from_messages(
                [f"occurred_at={ev.occurred_at.isoformat()} is after at"], what="points history"
            )


def replay(
    events: Sequence[Any], *, step: Callable[[int, Book], None] | None = None, pack: bool = False
) -> Book:
    """Rebuild a book from a whole history, checking every event follows.

    ``pack``: also pack the history (into the book's ``packed``) as it goes,
    while each event is at hand; a history that cannot be packed exactly
    leaves ``packed`` None.
    """
    if not events or type(events[0]) is not Opened:
        raise InvalidData.from_messages(
            ["the first event must be Opened @ $.events[0]"], what="points history"
        )
    try:
        book = Book.opened(events[0])
    except (ValueError, TypeError) as exc:
        raise InvalidData.from_messages([f"{exc} @ $.events[0]"], what="points history") from None
    out = book.out
    if step is not None:
        step(0, book)
    ints: list[int] = []
    objs: list[Any] = []
    ia, oa, ie, oe = ints.append, objs.append, ints.extend, objs.extend
    encoders = _PACK
    packing = pack and _packs(events[0], None, ia, oa, ie, oe)
    ids = book.ids
    for i in range(1, len(events)):
        ev = events[i]
        at_us = None
        if len(out) <= i:
            try:
                if ev.derived:
                    at_us = micros(ev.at)
                    book.advance(at_us)
                else:
                    last = book.last_at
                    if (
                        ev.id in ids
                        or (last is not None and ev.at < last)
                        or ev.occurred_at > ev.at
                    ):
                        book.check_command(ev)  # raises
                    at_us = book.apply(ev)
            except (InvalidData, ValueError, LookupError, TypeError) as exc:
                raise InvalidData.from_messages(
                    [f"{exc} @ $.events[{i}]"], what="points history"
                ) from None
        if len(out) <= i or (
            out[i] is not ev
            and (type(out[i]) is not type(ev) or FIELDS[type(ev)](out[i]) != FIELDS[type(ev)](ev))
        ):
            raise InvalidData.from_messages(
                [f"{type(ev).__name__} does not follow from the events before it @ $.events[{i}]"],
                what="points history",
            )
        if packing:
            try:
                encoders[type(ev)](ev, at_us, ia, oa, ie, oe)
            except (_Unpackable, KeyError, OverflowError, TypeError, ValueError):
                packing = False
        if step is not None:
            step(i, book)
    if packing:
        with contextlib.suppress(OverflowError):  # an int beyond int64: kept as is
            book.packed = Packed(array("q", ints), tuple(objs))
    return book


def _packs(ev: Any, *args: Any) -> bool:
    """Pack ``ev``; whether it could be packed."""
    try:
        _PACK[type(ev)](ev, *args)
    except (_Unpackable, KeyError, OverflowError, TypeError, ValueError):
        return False
    return True


#: A frozen book: the state an immutable ledger holds.
State = Book

_HANDLERS: Final[dict[type[Any], Callable[[Book, Any, int], None]]] = {
    Earned: Book.earn,
    Redeemed: Book.redeem,
    Held: Book.hold,
    Captured: Book.capture,
    Released: Book.release,
    EarnReversed: Book.reverse_earn,
    RedemptionCancelled: Book.cancel,
    Adjusted: Book.adjust,
    TransferredOut: Book.transfer_out,
    TransferredIn: Book.transfer_in,
    Merged: Book.merge,
}

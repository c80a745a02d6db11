"""The policies: what each command does to a ledger's state.

:class:`State` is the builder of :mod:`loyaltycore.points._state` with the
business rules on top: the consumption order (soonest-expiring usable lot
first, ties oldest first), holds and their timeouts, clawback when an earn
is reversed (its lot's remainder, then its expired points, then other
usable points, then debt), cancelled redemptions and their grace lots,
expiry (each lot's own, and inactivity), debt repaid from new points,
transfers and merges.

A command's handler takes the command's inputs as arguments and registers
itself for its event class (:func:`handles`, filling ``HANDLERS``): a
public method passes its checked arguments without building the event, and
replay passes a given event's fields. Each event class carries its record
layout (``_record``, see :mod:`loyaltycore.points._records`) and its
statement line (``_line``): a new command is an event class, a handler here
and its public method.

Handlers read and change lots through named operations (``take``,
``give_back``, ``release_parts``, ``expire_rest``, and the builder's
``new_lot``, ``enqueue``, ``move``); the code that runs once per lot a
command touches (and a reversal) indexes the rows directly, with the
offsets named in a comment: an accessor call there costs several per cent
of a command.

The policies are specified executably by the reference model in
``tests/test_points_stateful.py``, which shares no code with this module:
change a policy there first. Inputs reaching the engine are already
validated by :mod:`loyaltycore.points`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, datetime, timedelta
from operator import attrgetter
from typing import Any, Final, TypeVar

from loyaltycore.calendar import NEVER, micros, start_of_day
from loyaltycore.errors import (
    HoldAlreadyResolved,
    HoldExpired,
    InsufficientPoints,
    InvalidArgument,
    InvalidPoints,
    InvalidTime,
    OverCapture,
    OverReversal,
    SameMember,
    StrictPolicyViolation,
    UnknownEvent,
    UnknownHold,
)
from loyaltycore.points._records import (
    _BYTE_EARNED,
    _SOURCE_CODE,
    C_CAPTURED,
    C_EARNED,
    C_HELD,
    C_REDEEMED,
    CODE,
    SOURCE_OWN,
    W_PLAIN_EARN,
    W_PLAIN_NEVER,
    W_REASON_EARN,
    W_REASON_NEVER,
    _w_adjusted,
    _w_cancelled,
    _w_captured,
    _w_earned,
    _w_expired,
    _w_held,
    _w_in,
    _w_merged,
    _w_out,
    _w_redeemed,
    _w_released,
    _w_repaid,
    _w_reversed,
    _w_timed_out,
    _w_vested,
)
from loyaltycore.points._state import (
    _HOUR,
    _ROW,
    AVAIL,
    BIG_IDS,
    CLAW,
    EXPD,
    EXPIRES,
    H_DEADLINE,
    H_HN,
    H_KILL,
    H_LAST,
    H_NCMD,
    H_NEV,
    H_NEXT,
    H_NLOTS,
    H_NOBJ,
    H_QHI,
    H_QLO,
    HDR,
    HELD_,
    NO,
    PBIT,
    REM,
    REV,
    SEP,
    SMALL_LOTS,
    SRC,
    USED,
    Builder,
    S,
    _Big,
    _iso,
    _too_late,
    instant,
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
    TRANSFERRED_IN,
    TRANSFERRED_OUT,
    Adjusted,
    Captured,
    Earned,
    EarnReversed,
    ExpireOnInactivity,
    Held,
    HoldTimedOut,
    Merged,
    MergedLot,
    Redeemed,
    RedemptionCancelled,
    Released,
    TransferIn,
    TransferredIn,
    TransferredOut,
    inactivity_deadline,
)

#: Per command type: its handler, called as ``handler(state, at_us, id, *inputs)``,
#: and a getter of those arguments from an event (its ``id`` and ``inputs``).
#: Each handler registers itself (:func:`handles`) where it is defined.
HANDLERS: Final[dict[type[Any], tuple[Callable[..., None], Callable[[Any], tuple[Any, ...]]]]] = {}

_Handler = TypeVar("_Handler", bound=Callable[..., None])


def handles(cls: type[Any]) -> Callable[[_Handler], _Handler]:
    """Register the decorated method as the handler of command type ``cls``."""

    def register(handler: _Handler) -> _Handler:
        HANDLERS[cls] = (handler, attrgetter("id", *cls.inputs))
        return handler

    return register


def split_hold(parts: Sequence[int], amount: int) -> tuple[list[int], list[int]]:
    """A capture of ``amount`` from a hold's flat ``(lot, points)`` parts: the
    parts captured and the parts released. The hold's parts are taken in
    order, the first ``amount`` points captured and the rest released.

    >>> split_hold([3, 40, 5, 60], 70)
    ([3, 40, 5, 30], [5, 30])
    """
    captured: list[int] = []
    released: list[int] = []
    need = amount
    for pair in range(0, len(parts), 2):
        lot, share = parts[pair], parts[pair + 1]
        portion = share if share < need else need
        if portion:
            captured += (lot, portion)
            need -= portion
        if share > portion:
            released += (lot, share - portion)
    return captured, released


class State(Builder):
    """A builder that applies commands: the policies."""

    __slots__ = ()

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
        header = self._a
        given = self.given
        if given is not None:
            recorded = given.inactivity_deadline
            if self._conf.inactive:
                header[H_DEADLINE] = self.effect(
                    "inactivity_deadline", header[H_DEADLINE], recorded
                )
            elif recorded is not None:
                raise ValueError(
                    f"inactivity_deadline={recorded!r} is recorded under a policy without one"
                )
        deadline = header[H_DEADLINE]
        return None if deadline == NEVER else deadline

    def expiry_effect(self, derived: int) -> int:
        """The expiry (micros, or NEVER) of the lot this command creates, a
        replayed event's as recorded."""
        given = self.given
        if given is None:
            return derived
        return self.effect("lot_expires_at", derived, given.lot_expires_at)

    def next_due(self) -> tuple[int, int, str]:
        """(instant, rank, hold) of the next vesting/expiry/timeout/deadline
        (``hold``: the hold that times out, for rank 2; holds due at the same
        instant time out in id order)."""
        when, rank, which = NEVER, 9, ""
        if self._pend:
            when, rank = self._pend[0][0], 0
        header = self._a
        if header[H_QHI] > header[H_QLO]:  # (the queue's first lot's expiry, inlined)
            if self._q is None:  # (a short ledger's rows, then its queue, follow the header)
                first = header[
                    HDR + header[HDR + header[H_NLOTS] * S + header[H_QLO]] * S + EXPIRES
                ]
            else:
                first = self.first_expiry()
            if first < when:
                when, rank = first, 1
        for hold_id, hold in self._open_holds.items():
            if hold[1] < when or (hold[1] == when and rank == 2 and hold_id < which):
                when, rank, which = hold[1], 2, hold_id
        deadline = self._a[H_DEADLINE]
        if deadline < when:
            when, rank = deadline, 3
        return when, rank, which

    def first_expiry(self) -> int:
        """The expiry of the queue's first lot (a queue of its own: ``q``)."""
        lot = self._q[self._a[H_QLO]]
        lots = self._lots
        if lots is not None and type(lots) is not _Big:  # (a flat table: the row by offset)
            return lots[lot * S + EXPIRES]  # type: ignore[no-any-return]
        return self.expiry_of(lot)

    def take(self, points: int, *, hold: bool = False) -> list[int]:
        """Consume ``points`` of usable lots, soonest-expiring first; flat parts."""
        header = self._a
        column = HELD_ if hold else USED  # (where the points taken go)
        parts: list[int] = []
        need = points
        # The innermost loop, once per lot consumed: ``row[base + REM]`` is the
        # lot's remaining points, ``row[base + column]`` its held or used ones.
        # Each lot in queue order gives what it has, up to what is still
        # needed; a lot emptied leaves the queue's head (position moves on).
        if self._q is None:  # a short ledger: rows and queue follow the header
            queue_start = HDR + header[H_NLOTS] * S
            position = queue_start + header[H_QLO]
            while need:
                lot = header[position]
                base = HDR + lot * S
                remaining = header[base + REM]
                share = remaining if remaining < need else need
                header[base + REM] = remaining - share
                header[base + column] += share
                parts += (lot, share)
                need -= share
                if share == remaining:
                    position += 1
            header[H_QLO] = position - queue_start
            header[AVAILABLE] -= points
            return parts
        queue = self._q
        position = header[H_QLO]
        while need:
            lot = queue[position]
            row, base = self.own_row(lot)
            remaining = row[base + REM]
            share = remaining if remaining < need else need
            row[base + REM] = remaining - share
            row[base + column] += share
            parts += (lot, share)
            need -= share
            if share == remaining:
                position += 1
        header[H_QLO] = position
        header[AVAILABLE] -= points
        return parts

    def give_back(self, lot: int, points: int, column: int) -> None:
        """Return ``points`` from ``column`` (held or used) to ``lot``'s usable
        remainder, putting the lot back in the queue if it had left it."""
        # (once per part a command returns: the row by offset, one lookup)
        row, base = self.own_row(lot)
        remaining = row[base + REM]
        row[base + REM] = remaining + points
        row[base + column] -= points
        if remaining == 0:
            self.enqueue(lot)
        self._a[AVAILABLE] += points

    def dead(self, lot: int, at_us: int) -> bool:
        """Whether ``lot`` has expired by ``at_us`` (own expiry or inactivity)."""
        return lot < self._a[H_KILL] or self.expiry_of(lot) <= at_us

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
        header = self._a
        if header[H_LAST] != NO and deadline <= header[H_LAST]:
            return
        if header[H_DEADLINE] == NEVER or deadline > header[H_DEADLINE]:
            header[H_DEADLINE] = deadline

    def settle(self, at_us: int) -> None:
        """Repay debt from usable points."""
        header = self._a
        if header[DEBT] and header[AVAILABLE]:
            pay = min(header[DEBT], header[AVAILABLE])
            parts = self.take(pay)
            header[DEBT] -= pay
            header[DEBT_REPAID] += pay
            _w_repaid(self._tx, self, at_us, pay, parts)
            self.derived(at_us)

    def release_parts(self, parts: Sequence[int], at_us: int) -> list[int]:
        """Put held parts back; parts of expired lots expire at once (returned)."""
        header = self._a
        expired: list[int] = []
        for pair in range(0, len(parts), 2):
            lot, share = parts[pair], parts[pair + 1]
            header[HELD] -= share
            if self.dead(lot, at_us):  # (the part's held points expire)
                row, base = self.own_row(lot)
                row[base + HELD_] -= share
                row[base + EXPD] += share
                header[EXPIRED] += share
                expired += (lot, share)
            else:
                self.give_back(lot, share, HELD_)
        return expired

    def expired_parts(self, parts: list[int], at_us: int, cause: str) -> None:
        for pair in range(0, len(parts), 2):
            _w_expired(self._tx, self, at_us, parts[pair], parts[pair + 1], cause)
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
        header = self._a
        if header[H_QHI] > header[H_QLO] or (self._pend and self._pend[0][0] <= until_us):
            return False
        return all(hold[1] > until_us for hold in self._open_holds.values())

    def vest(self) -> None:
        avail, lot = self.own_pend().pop(0)
        header = self._a
        self.add_to(lot, AVAIL, -PBIT)  # (no longer pending)
        remaining = self.remaining_of(lot)
        self.enqueue(lot)
        header[PENDING] -= remaining
        header[AVAILABLE] += remaining
        _w_vested(self._tx, self, avail, lot, remaining)
        self.derived(avail)
        self.settle(avail)

    def expire_first(self) -> None:
        header = self._a
        head = header[H_QLO]
        queue, start = self._qbuf()
        lot = queue[start + head]
        header[H_QLO] = head + 1
        self.expire_rest(lot, self.expiry_of(lot), "lot")

    def expire_rest(self, lot: int, at: int, cause: str) -> None:
        """Expire usable ``lot``'s remainder at ``at`` (the caller dequeues it)."""
        header = self._a
        # (once per lot that expires: the row by offset, one lookup)
        row, base = self.own_row(lot)
        remaining = row[base + REM]
        row[base + REM] = 0
        row[base + EXPD] += remaining
        header[AVAILABLE] -= remaining
        header[EXPIRED] += remaining
        _w_expired(self._tx, self, at, lot, remaining, cause)
        self.derived(at)

    def time_out(self, hold_id: str) -> None:
        points, at, parts, placed = self.own_open().pop(hold_id)
        expired = self.release_parts(parts, at)
        _w_timed_out(self._tx, self, at, placed, points, parts)
        self.derived(at)
        self.expired_parts(expired, at, "hold")
        self.settle(at)

    def inactivity(self) -> None:
        header = self._a
        at = header[H_DEADLINE]
        for lot in self._queue():
            self.expire_rest(lot, at, "inactivity")
        header[H_QLO] = header[H_QHI]
        header[H_KILL] = header[H_NLOTS]
        header[H_DEADLINE] = NEVER

    # -- commands -----------------------------------------------------------

    def after(self, at_us: int) -> None:
        """After a command: repay debt, note when something is due next."""
        header = self._a
        if header[DEBT] and header[AVAILABLE]:
            self.settle(at_us)
        if self._pend or self._open_holds or header[H_DEADLINE] != NEVER:
            header[H_NEXT] = self.next_due()[0]
        else:  # the common case: only lot expiries can be due
            head = header[H_QLO]
            if header[H_QHI] <= head:
                header[H_NEXT] = NEVER
            elif self._q is None:  # (the first lot's expiry, as in next_due: once per command)
                header[H_NEXT] = header[
                    HDR + header[HDR + header[H_NLOTS] * S + head] * S + EXPIRES
                ]
            else:
                header[H_NEXT] = self.first_expiry()

    def local_expiry(self, occurred_at: datetime, occurred_us: int, at: datetime) -> int:
        """The policy's expiry for points earned at ``occurred_at`` (memoised per hour)."""
        hour = occurred_us // _HOUR
        exp = self._conf.memo.get(hour)
        return self._conf.expiry(occurred_at, hour, at) if exp is None else exp

    @handles(Earned)
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
        lot = self.new_lot(id, points, occurred, exp, avail, start > at_us)
        header = self._a
        header[EARNED] += points
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
            kept = header[H_NOBJ]
            column = 0 if value_per_point is None else kept << 32
            kept -= value_per_point is not None
            code = _SOURCE_CODE.get(source)
            column |= SOURCE_OWN + kept - 1 if code is None else code
            self.set_column(lot, SRC, column)

    def earn_plain(self, eid: str, at_us: int, points: int, reason: str = "") -> int:
        """:meth:`earn` of a plain earn (positive ``points``, nothing optional but a
        ``reason``), in one step (a replay has its own: ``Replayer.earn_given``).

        Returns the length of the record it wrote, or 0, having changed
        nothing, when the general path is needed:
        something falls due by ``at_us``, the ledger has debt or an inactivity
        policy, or the policy's expiry for this hour is not memoised yet.
        """
        header = self._a
        conf = self._conf
        if at_us >= header[H_NEXT] or header[DEBT] or conf.inactive:
            return False
        exp = conf.memo.get(at_us // _HOUR)
        if exp is None or exp <= at_us:
            return 0
        lot = header[H_NLOTS]
        lids, eids = self._lids, self._eids
        if (
            self._lots is None  # (the rows in the header)
            and self._q is None
            and type(lids) is str
            and type(eids) is str
            and lot < SMALL_LOTS
            and header[H_NCMD] < BIG_IDS
            and SEP not in eid
            and (SEP + eid + SEP) not in lids
        ):  # a short ledger: new_lot, command and the record in one step
            self._lids = lids + eid + SEP
            self._eids = eids + eid + SEP
            self._kinds += _BYTE_EARNED
            # (the hot path: the row's first columns by number, EARNED_AT,
            # EXPIRES, AVAIL and REM; the row goes before the queue)
            row_start = HDR + lot * S
            header[row_start:row_start] = _ROW
            header[row_start] = at_us
            header[row_start + 1] = exp
            header[row_start + 2] = NO
            header[row_start + 3] = points
            header[H_NLOTS] = lot + 1
            header[AVAILABLE] += points
            queue_end = header[H_QHI]
            queue_start = row_start + S
            if (
                queue_end > header[H_QLO]
                and header[HDR + header[queue_start + queue_end - 1] * S + EXPIRES] > exp
            ):  # (the last queued lot expires later: the new one sorts before it)
                self.enqueue(lot)
            else:
                header.insert(queue_start + queue_end, lot)
                header[H_QHI] = queue_end + 1
            header[H_NCMD] += 1
            header[H_NEV] += 1
            if at_us > header[H_LAST]:
                header[H_LAST] = at_us
        else:
            self.new_lot(eid, points, at_us, exp, None, False)
            self.command(eid, C_EARNED, at_us)
        header[EARNED] += points
        history, history_end, rec = self._h, header[H_HN], self._tx
        if reason:  # (the record of an earn with a reason: the reason's index in objs)
            kept = self.obj(reason)
            words: tuple[int, ...] = (
                (W_REASON_NEVER, at_us, points, kept)
                if exp == NEVER
                else (W_REASON_EARN, at_us, points, kept, exp)
            )
        else:
            words = (
                (W_PLAIN_NEVER, at_us, points)
                if exp == NEVER
                else (W_PLAIN_EARN, at_us, points, exp)
            )
        if history is None or rec is history:  # (a short ledger's, or a replay's: rec ends it)
            rec.extend(words)
        elif not rec and len(history) == history_end:  # the record, straight into the history
            history.extend(words)  # (see _claim)
            if len(history) == history_end + len(words):
                header[H_HN] = history_end + len(words)
            else:  # (two threads raced: freeze copies)
                rec.extend(words)
        else:
            rec.extend(words)
        if exp < header[H_NEXT]:  # (what after() would find: nothing else changed)
            header[H_NEXT] = exp
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

    @handles(Redeemed)
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

    @handles(Held)
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
        placed = self._ordinal(hold_id)
        if placed < 0 or self._kind(placed) != C_HELD:
            raise UnknownHold(
                f"hold={hold_id!r} is not a hold of this ledger", field="hold", value=hold_id
            )
        ends = [
            event
            for event in self._events_of(Captured, Released, HoldTimedOut)
            if event.hold == hold_id
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

    @handles(Captured)
    def capture(
        self,
        at_us: int,
        id: str,
        at: datetime,
        occurred_at: datetime,
        hold: str,
        points: int | None,
    ) -> None:
        held, _, parts, placed = self.open_hold(hold)
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
        header = self._a
        captured, released = split_hold(parts, amount)
        for pair in range(0, len(captured), 2):  # (held points become used)
            row, base = self.own_row(captured[pair])
            row[base + HELD_] -= captured[pair + 1]
            row[base + USED] += captured[pair + 1]
        header[HELD] -= amount
        header[REDEEMED] += amount
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
            placed,
            points,
            amount,
            captured,
            released,
            sources,
            deadline,
        )
        self.expired_parts(expired, at_us, "hold")

    @handles(Released)
    def release(self, at_us: int, id: str, at: datetime, occurred_at: datetime, hold: str) -> None:
        _, _, parts, placed = self.open_hold(hold)
        expired = self.release_parts(parts, at_us)
        del self.own_open()[hold]
        self.command(id, CODE[Released], at_us)
        occurred = at_us if occurred_at is at else micros(occurred_at)
        _w_released(self._tx, self, at_us, occurred, placed, parts)
        self.expired_parts(expired, at_us, "hold")

    def target(self, of: str, kinds: tuple[int, ...], what: str) -> int:
        """The index of the command ``of``, which must be of one of ``kinds``."""
        index = self._ordinal(of)
        if index < 0:
            raise UnknownEvent(f"of={of!r} is not an event of this ledger", field="of", value=of)
        kind = self._kind(index)
        if kind not in kinds:
            raise InvalidArgument(
                f"of={of!r} is a {EVENT_TYPES[kind].__name__}, not {what}", field="of", value=of
            )
        return index

    @handles(EarnReversed)
    def reverse_earn(
        self,
        at_us: int,
        id: str,
        at: datetime,
        occurred_at: datetime,
        of: str,
        points: int | None,
    ) -> None:
        earn = self.target(of, (C_EARNED,), "an earn")
        lot = self._lot_index(of)
        header = self._a
        # (a frequent command: the lot's row by offset, REM to CLAW, no accessor calls)
        row, base = self._row(lot)
        counts = row[base + REM : base + CLAW]  # (named first: see loyaltycore._compiled)
        remaining, held, used, expired, reversed_points = counts
        total = remaining + held + used + expired + reversed_points
        amount = self.over_reversal(of, points, total, row[base + CLAW])
        taken = reclassified = debt = 0
        charged: list[int] = []
        avail = row[base + AVAIL]
        if avail > PBIT // 2:  # pending: it loses what is not yet usable
            taken = amount
            row, base = self.own_row(lot)
            row[base + REM] = remaining - amount
            row[base + REV] = reversed_points + amount
            header[PENDING] -= amount
            if remaining == amount:
                self.own_pend().remove((avail - PBIT, lot))
        else:
            # The lot's usable remainder first, then its expired points, then
            # other usable points, then debt.
            taken = min(amount, remaining)
            reclassified = min(amount - taken, expired)
            rest = amount - taken - reclassified
            if taken and remaining == taken:
                self.q_remove(lot)
            row, base = self.own_row(lot)
            row[base + REM] = remaining - taken
            row[base + EXPD] = expired - reclassified
            row[base + REV] = reversed_points + taken + reclassified
            header[AVAILABLE] -= taken
            header[EXPIRED] -= reclassified
            if rest:
                pay = min(rest, header[AVAILABLE])
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
                header[DEBT] += debt
        header[CLAWED_BACK] += amount
        row, base = self.own_row(lot)
        row[base + CLAW] += amount
        self.command(id, CODE[EarnReversed], at_us)
        occurred = at_us if occurred_at is at else micros(occurred_at)
        _w_reversed(
            self._tx,
            self,
            at_us,
            occurred,
            earn,
            points,
            amount,
            taken,
            reclassified,
            charged,
            debt,
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

    @handles(RedemptionCancelled)
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
        redemption = self.target(of, (C_REDEEMED, C_CAPTURED), "a redemption or capture")
        lots = self._command_event(redemption).lots
        total = sum(share for _, share in lots)
        done = self._canc.get(of, 0)
        amount = self.over_reversal(of, points, total, done)
        header = self._a
        restored: list[int] = []
        expired: list[int] = []
        grace: list[int] = []
        skip, need = done, amount
        for lot_id, share in lots:
            if skip >= share:
                skip -= share
                continue
            portion = min(share - skip, need)
            skip = 0
            need -= portion
            lot = self._lot_index(lot_id)
            if not self.dead(lot, at_us):
                self.give_back(lot, portion, USED)
                restored += (lot, portion)
            elif grace_days is not None:
                grace += (lot, portion)
            else:
                self.move(lot, portion, USED, EXPD)
                header[EXPIRED] += portion
                expired += (lot, portion)
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
            source = self.column_of(grace[0], SRC)  # (the grace lot takes the first part's)
            self.new_lot(f"{id}:grace", sum(grace[1::2]), at_us, until, None, False, source)
            if until == NEVER:
                until = None
        header[CANCELLED] += amount
        self.own_canc()[of] = done + amount
        self.command(id, CODE[RedemptionCancelled], at_us)
        _w_cancelled(
            self._tx,
            self,
            at_us,
            at_us if occurred_at is at else micros(occurred_at),
            redemption,
            points,
            grace_days,
            amount,
            restored,
            expired,
            grace,
            until,
        )
        self.expired_parts(expired, at_us, "cancel")

    @handles(Adjusted)
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

    @handles(TransferredOut)
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

    @handles(TransferredIn)
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
        if points <= 0 or sum(part.points for part in parts) != points:
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
        for number, part in enumerate(parts if keep_expiry else ()):
            exp = NEVER if part.expires_at is None else micros(part.expires_at)
            self.check_expiry(exp, at_us, id, at, occurred_at)
            src = self.src_column(part.source, part.value_per_point)
            self.new_lot(f"{id}#{number}", part.points, occurred, exp, None, False, src)
        self._a[TRANSFERRED_IN] += points
        self.command(id, CODE[TransferredIn], at_us)
        _w_in(self._tx, self, at_us, occurred, source, points, keep_expiry, parts, lot_exp)

    @handles(Merged)
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
        header = self._a
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
            header[MERGED_IN] += item.points
        header[DEBT] += debt
        header[MERGED_DEBT] += debt
        self.command(id, CODE[Merged], at_us)
        occurred = at_us if occurred_at is at else micros(occurred_at)
        _w_merged(self._tx, self, at_us, occurred, source, lots, debt)

"""Replay: rebuilding a ledger from its history, and auditing it.

Replay runs every event of a history through one builder
(:class:`Replayer`, which keeps ids in dicts and its containers in lists
until the end), applying each command's recorded effects, and checks each
event against the record the engine wrote for it: the input events are
encoded as the engine would record them and the two are compared once;
only when they differ, or an event is unusual, are they compared one by
one (:func:`_first_difference`) to name the first that does not follow.

The usual events (a plain earn, redemption, hold, capture, release or
reversal, and a hold timing out) take a quicker way (``_GIVEN``): their
recorded outcome is checked against the state as it is applied, and their
record written from it, with no handler run and nothing to compare later.
Whatever that way cannot settle goes the general way, which names the
errors; the tests in ``tests/test_points_replay_quick.py`` hold the two
ways to the same result.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Final

import attrs

from loyaltycore.calendar import EPOCH, NEVER, UTC, micros
from loyaltycore.errors import (
    InvalidArgument,
    InvalidData,
)
from loyaltycore.points._commands import (
    HANDLERS,
    State,
    split_hold,
)
from loyaltycore.points._records import (
    _CANON,
    _ENCODE,
    _READ,
    C_CAPTURED,
    C_EARNED,
    C_HELD,
    C_REDEEMED,
    C_RELEASED,
    C_REVERSED,
    FIELDS,
    W_PLAIN_EARN,
    W_PLAIN_HOLD,
    W_PLAIN_NEVER,
    W_PLAIN_REDEEM,
    _Unusual,
    _w_captured,
    _w_released,
    _w_reversed,
    _w_timed_out,
)
from loyaltycore.points._state import (
    _EMPTY,
    _FRESH,
    _HOUR,
    _NO_HOLDS,
    AVAIL,
    BIG_IDS,
    CLAW,
    EXPD,
    EXPIRES,
    H_DEADLINE,
    H_HN,
    H_LAST,
    H_NCMD,
    H_NEV,
    H_NEXT,
    H_NLOTS,
    H_NOBJ,
    H_QHI,
    H_QLO,
    HELD_,
    NO,
    PBIT,
    REM,
    REV,
    SEP,
    SMALL_HISTORY,
    SMALL_LOTS,
    SRC,
    USED,
    IdLog,
    S,
    _as_array,
    _bad_id,
    _bad_lot_id,
    _chunked,
    _converter,
    _new_state,
    conf_of,
)
from loyaltycore.points._values import (
    AVAILABLE,
    CLAWED_BACK,
    DEBT,
    EARNED,
    EVENT_TYPES,
    EXPIRED,
    HELD,
    REDEEMED,
    Captured,
    Earned,
    EarnReversed,
    Held,
    HoldTimedOut,
    Merged,
    Opened,
    Redeemed,
    Released,
)

#: A fresh header as a list (a replay's header starts as a copy).
_FRESH_LIST: Final = _FRESH.tolist()


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
            s._a = _FRESH_LIST[:]
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

    # (A quick replay's lot table is one flat list until finish(): a row by
    # offset, without the layout tests of the general accessors, which run
    # once per lot a command touches. An exact replay's, and a finished
    # one's, which is still read and advanced to an earlier instant, take
    # the general accessors.)

    def _row(self, i: int) -> tuple[Any, int]:
        lots = self._lots
        if type(lots) is list:
            return lots, i * S
        return State._row(self, i)

    def own_row(self, i: int) -> tuple[Any, int]:
        lots = self._lots
        if type(lots) is list:
            return lots, i * S
        return State.own_row(self, i)

    def expiry_of(self, i: int) -> int:
        lots = self._lots
        if type(lots) is list:
            return lots[i * S + EXPIRES]  # type: ignore[no-any-return]
        return State.expiry_of(self, i)

    def first_expiry(self) -> int:
        lots = self._lots
        if type(lots) is list:
            return lots[self._q[self._a[H_QLO]] * S + EXPIRES]  # type: ignore[no-any-return]
        return State.first_expiry(self)

    def after(self, at_us: int) -> None:
        # (State.after for a quick replay's flat lists, once per command: with
        # nothing pending, no debt and no inactivity deadline, what falls due
        # next is the queue's first lot's expiry or an open hold's deadline,
        # whichever is sooner)
        a, lots = self._a, self._lots
        if type(lots) is not list or self._pend or a[DEBT] or a[H_DEADLINE] != NEVER:
            State.after(self, at_us)
            return
        head = a[H_QLO]
        when = NEVER if a[H_QHI] <= head else lots[self._q[head] * S + EXPIRES]
        for hold in self._open_holds.values():
            if hold[1] < when:
                when = hold[1]
        a[H_NEXT] = when

    def name_lot(self, lot_id: str, i: int) -> None:
        # (ids are checked for SEP once the replay is done: see joined())
        lotix = self.lotix
        if lot_id in lotix:
            raise _bad_lot_id(lot_id)
        lotix[lot_id] = i

    def joined(self) -> tuple[str | IdLog, str | IdLog]:
        """(eids, lids): the ids joined (an IdLog each when many), checked for separators."""
        idix, lotix = self.idix, self.lotix
        if len(idix) <= BIG_IDS and len(lotix) <= BIG_IDS:  # (the usual case, in one step)
            joined = f"{SEP}{SEP.join(idix)}{SEP}" if idix else SEP
            names = f"{SEP}{SEP.join(lotix)}{SEP}" if lotix else SEP
            if joined.count(SEP) == len(idix) + 1 and names.count(SEP) == len(lotix) + 1:
                return joined, names
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

    # -- the usual events, applied in one step ---------------------------------
    #
    # Replay's quick way through the usual events (see ``_GIVEN``): a plain
    # earn, redemption, hold, capture, release or reversal of a ledger with
    # nothing due, no debt and no inactivity policy, its instants in plain
    # UTC (the replay loop checks what is common to them: a new id, in time
    # order, nothing due by then, no debt, ``at`` in plain UTC and
    # ``occurred_at`` the same object; no inactivity policy), and a hold
    # timing out when something is next due. Each checks the event's
    # recorded outcome against the state (the lots a redemption or hold
    # takes: :meth:`take_given`; the amounts of a reversal; the parts of a
    # capture, release or timeout), applies it and writes the engine's
    # record, returning the record's length. Anything else returns 0 having
    # changed nothing, and the event takes the general way (its handler, or
    # the time passing, then the comparison of records), which raises the
    # errors: these paths only ever accept an event the general way
    # accepts, with the same outcome. They repeat a little of
    # the policies (the consumption order, a capture's split, a reversal's
    # remainder first, the order of what falls due together): a policy
    # changed in ``_commands`` is changed here too (the tests in
    # tests/test_points_replay_quick.py compare the two ways on tampered
    # histories, and count the events that go the general way).

    def earn_given(self, ev: Earned, at_us: int) -> int:
        """A plain earn (positive ``points``, no optional field but the lot's
        expiry): :meth:`State.earn_plain` for this builder's flat lists, the
        expiry as recorded (as the rules derive it where left out).

        The general path is needed (0) also where the policy's expiry for
        this hour is not memoised yet (the general path derives it, so a
        history whose rules cannot derive an expiry fails there as before),
        or, in an audit or a derivation, differs from the one recorded.
        """
        points = ev.points
        recorded = ev.lot_expires_at
        if not (
            type(points) is int
            and points > 0
            and ev.available_at is None
            and ev.expires_at is None
            and ev.reason == ""
            and ev.source == "purchase"
            and ev.value_per_point is None
            and ev.inactivity_deadline is None
            and (
                recorded is None
                or (type(recorded) is datetime and recorded.tzinfo is UTC and not recorded.fold)
            )
        ):
            return 0
        a = self._a
        exp = self._conf.memo.get(at_us // _HOUR)
        if exp is None:
            return 0
        if recorded is not None:
            rec = micros(recorded)
            if rec != exp:
                if self.derive or self.audit is not None:
                    return 0
                exp = rec
        eid = ev.id
        lotix = self.lotix
        if exp <= at_us or eid in lotix:
            return 0
        # new_lot(): the row (EARNED_AT, EXPIRES, AVAIL, REM, then zeros), and
        # the queue, where the newest lot usually sorts last
        lot = a[H_NLOTS]
        lotix[eid] = lot
        lots, queue = self._lots, self._q
        lots.extend((at_us, exp, NO, points, 0, 0, 0, 0, 0, 0))
        a[H_NLOTS] = lot + 1
        a[AVAILABLE] += points
        a[EARNED] += points
        end = a[H_QHI]
        if end > a[H_QLO] and lots[queue[end - 1] * S + EXPIRES] > exp:
            self.enqueue(lot)
        else:
            queue.append(lot)
            a[H_QHI] = end + 1
        self.command(eid, C_EARNED, at_us)
        h = self._h
        if exp == NEVER:
            h.extend((W_PLAIN_NEVER, at_us, points))
            return 3
        h.extend((W_PLAIN_EARN, at_us, points, exp))
        if exp < a[H_NEXT]:  # (what after() would find: nothing else changed)
            a[H_NEXT] = exp
        return 4

    def redeem_given(self, ev: Redeemed, at_us: int) -> int:
        """A plain redemption (no reason, all from purchases): its recorded lots
        checked and applied (:meth:`take_given`)."""
        points, reason = ev.points, ev.reason
        if not (
            type(reason) is str
            and not reason
            and ev.inactivity_deadline is None
            and type(points) is int
            and ev.sources == (("purchase", points),)  # (as recorded when all are)
        ):
            return 0
        parts = self.take_given(ev.lots, points, USED, purchases=True)
        if parts is None:
            return 0
        self._a[REDEEMED] += points
        self.command(ev.id, C_REDEEMED, at_us)
        self._h += (W_PLAIN_REDEEM, at_us, points, len(parts) >> 1, *parts)
        self.after(at_us)
        return 4 + len(parts)

    def hold_given(self, ev: Held, at_us: int) -> int:
        """A hold: its recorded lots checked and applied (:meth:`take_given`)."""
        points, deadline = ev.points, ev.deadline
        if not (
            type(points) is int
            and type(deadline) is datetime
            and deadline.tzinfo is UTC
            and not deadline.fold
        ):
            return 0
        until = micros(deadline)
        if until <= at_us:
            return 0
        parts = self.take_given(ev.lots, points, HELD_, purchases=False)
        if parts is None:
            return 0
        a = self._a
        a[HELD] += points
        self.own_open()[ev.id] = (points, until, tuple(parts), a[H_NCMD])
        self.command(ev.id, C_HELD, at_us)
        self._h += (W_PLAIN_HOLD, at_us, points, until, len(parts) >> 1, *parts)
        self.after(at_us)
        return 5 + len(parts)

    def reverse_given(self, ev: EarnReversed, at_us: int) -> int:
        """A reversal that leaves no debt (the earn's own lot's remainder, then
        its expired points, then other usable points as :meth:`take_given`
        checks them), the lot usable: the recorded amounts checked (see
        :meth:`State.reverse_earn`)."""
        of, points = ev.of, ev.points
        if not (type(of) is str and (points is None or type(points) is int)):
            return 0
        earn = self.idix.get(of)
        lot = self.lotix.get(of)
        if earn is None or lot is None or self.kinds[earn] != C_EARNED:
            return 0
        lots = self._lots
        base = lot * S
        # (the lot's row by offset: REM to CLAW, as reverse_earn reads it)
        counts = lots[base + REM : base + CLAW]  # (named first: see loyaltycore._compiled)
        remaining, held, used, expired, reversed_points = counts
        left = remaining + held + used + expired + reversed_points - lots[base + CLAW]
        amount = left if points is None else points
        if amount <= 0 or amount > left or lots[base + AVAIL] > PBIT // 2:
            return 0  # (refused, or a pending lot)
        taken = min(amount, remaining)
        reclassified = min(amount - taken, expired)
        rest = amount - taken - reclassified  # (charged to other lots)
        a = self._a
        if not (
            rest <= a[AVAILABLE] - taken
            and type(ev.amount) is int
            and ev.amount == amount
            and type(ev.taken) is int
            and ev.taken == taken
            and type(ev.reclassified) is int
            and ev.reclassified == reclassified
            and (rest or ev.charged == ())
            and type(ev.charged) is tuple
            and type(ev.debt) is int
            and ev.debt == 0
        ):
            return 0
        dequeued = taken and remaining == taken
        if dequeued:
            self.q_remove(lot)
        lots[base + REM] = remaining - taken
        lots[base + EXPD] = expired - reclassified
        a[AVAILABLE] -= taken
        charged: list[int] = []
        if rest:  # (the lot's own changes first, as reverse_earn makes them)
            parts = self.take_given(ev.charged, rest, USED, purchases=False)
            if parts is None:  # (given back)
                lots[base + REM] = remaining
                lots[base + EXPD] = expired
                a[AVAILABLE] += taken
                if dequeued:
                    self.enqueue(lot)
                return 0
            charged = parts
        lots[base + REV] = reversed_points + taken + reclassified
        lots[base + CLAW] += amount
        a[EXPIRED] -= reclassified
        a[CLAWED_BACK] += amount
        h = self._h
        start = len(h)
        self.command(ev.id, C_REVERSED, at_us)
        _w_reversed(h, self, at_us, at_us, earn, points, amount, taken, reclassified, charged, 0)
        self.after(at_us)
        return len(h) - start

    def capture_given(self, ev: Captured, at_us: int) -> int:
        """A capture of an open hold whose lots are all usable still (nothing
        of what it releases expires), all purchases: the recorded amount and
        parts checked (see :meth:`State.capture`)."""
        hold, points = ev.hold, ev.points
        if not (
            type(hold) is str
            and (points is None or type(points) is int)
            and ev.inactivity_deadline is None
        ):
            return 0
        found = self._open_holds.get(hold)
        if found is None:
            return 0
        held, _, parts, placed = found
        amount = held if points is None else points
        if not 0 < amount <= held or type(ev.amount) is not int or ev.amount != amount:
            return 0
        lots = self._lots
        captured, released = split_hold(parts, amount)
        if any(lots[lot * S + SRC] for lot in captured[::2]) or any(
            self.dead(lot, at_us) for lot in released[::2]
        ):
            return 0  # (not all purchases, or a lot released has expired)
        if not (
            self.same_parts(ev.lots, captured)
            and self.same_parts(ev.released, released)
            and ev.sources == (("purchase", amount),)  # (as recorded when all are)
        ):
            return 0
        for pair in range(0, len(captured), 2):  # (held points become used)
            base = captured[pair] * S
            lots[base + HELD_] -= captured[pair + 1]
            lots[base + USED] += captured[pair + 1]
        a = self._a
        a[HELD] -= amount
        a[REDEEMED] += amount
        self.release_parts(released, at_us)  # (none expires: see above)
        del self.own_open()[hold]
        h = self._h
        start = len(h)
        self.command(ev.id, C_CAPTURED, at_us)
        _w_captured(h, self, at_us, at_us, placed, points, amount, captured, released, None, None)
        self.after(at_us)
        return len(h) - start

    def timeout_given(self, ev: HoldTimedOut, at_us: int) -> int:
        """A hold timing out, due first now (the replay loop checks that its
        instant is when something next falls due, and there is no debt to
        repay), whose lots are all usable still: the recorded points and
        parts checked (see :meth:`State.time_out` and :meth:`State.advance`;
        nothing pending, no lot expiring by then, no hold due at the same
        instant with a smaller id)."""
        hold = ev.hold
        if type(hold) is not str or self._pend:
            return 0
        found = self._open_holds.get(hold)
        if found is None:
            return 0
        points, until, parts, placed = found
        if until != at_us or type(ev.points) is not int or ev.points != points:
            return 0
        # (what next_due() would pick: a lot expiring by then goes first, and
        # holds due at the same instant time out in id order)
        a, lots = self._a, self._lots
        head = a[H_QLO]
        if a[H_QHI] > head and lots[self._q[head] * S + EXPIRES] <= at_us:
            return 0
        for other, (_, due, _, _) in self._open_holds.items():
            if due < at_us or (due == at_us and other < hold):
                return 0
        if not self.put_back_given(hold, parts, ev.lots, at_us):
            return 0
        h = self._h
        start = len(h)
        _w_timed_out(h, self, at_us, placed, points, parts)
        self.derived(at_us)
        self.after(at_us)  # (what falls due next; nothing to repay)
        return len(h) - start

    def release_given(self, ev: Released, at_us: int) -> int:
        """A release of an open hold whose lots are all usable still: the
        recorded parts checked (see :meth:`State.release`)."""
        hold = ev.hold
        if type(hold) is not str:
            return 0
        found = self._open_holds.get(hold)
        if found is None:
            return 0
        _, _, parts, placed = found
        if not self.put_back_given(hold, parts, ev.lots, at_us):
            return 0
        h = self._h
        start = len(h)
        self.command(ev.id, C_RELEASED, at_us)
        _w_released(h, self, at_us, at_us, placed, parts)
        self.after(at_us)
        return len(h) - start

    def put_back_given(self, hold: str, parts: Sequence[int], given: Any, at_us: int) -> bool:
        """Put the open ``hold``'s flat ``parts`` back and close it, when all its
        lots are usable still and ``given`` (the event's) are those parts; else
        False, having changed nothing (a release or a timeout)."""
        for pair in range(0, len(parts), 2):
            if self.dead(parts[pair], at_us):
                return False
        if not self.same_parts(given, parts):
            return False
        self.release_parts(parts, at_us)  # (none expires: checked above)
        del self.own_open()[hold]
        return True

    def same_parts(self, given: Any, parts: Sequence[int]) -> bool:
        """Whether ``given`` (lot id, points) parts are the flat ``parts``, as an
        event records them (a tuple of pairs, ids str, points int)."""
        if type(given) is not tuple or 2 * len(given) != len(parts):
            return False
        lotix = self.lotix
        for k, part in enumerate(given):
            if type(part) is not tuple or len(part) != 2:
                return False
            lot_id, x = part
            if (
                type(lot_id) is not str
                or type(x) is not int
                or lotix.get(lot_id) != parts[2 * k]
                or x != parts[2 * k + 1]
            ):
                return False
        return True

    def take_given(
        self, given: Any, points: int, column: int, *, purchases: bool
    ) -> list[int] | None:
        """:meth:`State.take` of ``points`` into ``column`` (used or held) as a
        history records it: ``given``, its (lot id, points) parts, must be
        exactly the parts take() would consume (the queue's lots from its
        head, each emptied but the last), and with ``purchases`` every lot a
        purchase. Returns the flat parts, applied; None, having changed
        nothing, where they differ (or ``points`` is not what is available).
        """
        a = self._a
        if type(given) is not tuple or not 0 < points <= a[AVAILABLE]:
            return None
        lots, queue, lotix = self._lots, self._q, self.lotix
        position, end = a[H_QLO], a[H_QHI]
        need = points
        parts: list[int] = []
        # (the innermost loop: REM is the lot's remaining points, SRC its
        # source; each part is applied as it is checked, and given back below
        # if a later one differs)
        for part in given:
            if type(part) is not tuple or len(part) != 2 or not need or position >= end:
                break
            lot_id, x = part
            lot = queue[position]
            base = lot * S
            remaining = lots[base + REM]
            share = remaining if remaining < need else need
            if (
                type(lot_id) is not str
                or type(x) is not int
                or x != share
                or lotix.get(lot_id) != lot
                or (purchases and lots[base + SRC])
            ):
                break
            lots[base + REM] = remaining - share
            lots[base + column] += share
            parts += (lot, share)
            need -= share
            if share == remaining:
                position += 1
        else:
            if not need:
                a[H_QLO] = position
                a[AVAILABLE] -= points
                return parts
        for j in range(0, len(parts), 2):  # (each lot is taken from once)
            base = parts[j] * S
            lots[base + REM] += parts[j + 1]
            lots[base + column] -= parts[j + 1]
        return None

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


#: Per event type: the builder's quick way (see Replayer.earn_given).
_GIVEN: Final[dict[type[Any], Callable[[Replayer, Any, int], int]]] = {
    Earned: Replayer.earn_given,
    Redeemed: Replayer.redeem_given,
    EarnReversed: Replayer.reverse_given,
    Captured: Replayer.capture_given,
    Released: Replayer.release_given,
    Held: Replayer.hold_given,
    HoldTimedOut: Replayer.timeout_given,
}


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
    # The input events as records, since the last event applied in one step:
    # the records up to ``synced`` are the events' own (compared, or written
    # from an event whose outcome was checked as it was applied).
    ints: list[int] = []
    synced = 0
    objs: list[Any] = []
    if step is not None:
        step(0, s)
    handlers, encoders, epoch = HANDLERS, _ENCODE, EPOCH
    quick_steps = {} if s._conf.inactive else _GIVEN
    for i in range(1, len(events)):
        ev = events[i]
        try:
            at = ev.at
            d = at - epoch
            at_us = (d.days * 86_400 + d.seconds) * 1_000_000 + d.microseconds
            if a[H_NEV] <= i:
                if (
                    quick
                    and (given := quick_steps.get(type(ev))) is not None
                    and (
                        at_us == a[H_NEXT]  # (a hold timing out: see Replayer.timeout_given)
                        if ev.derived
                        else a[H_LAST] <= at_us < a[H_NEXT] and ev.id not in idix
                    )
                    and (ev.derived or ev.occurred_at is at)  # (two clauses: see _compiled)
                    and not a[DEBT]
                    and type(at) is datetime
                    and at.tzinfo is UTC
                    and not at.fold
                ):  # (a usual event, perhaps: see Replayer.earn_given)
                    words = given(s, ev, at_us)
                    if words:  # (applied as recorded: the record is the event's)
                        h = s._h
                        if ints:  # (the records since the last one synced, compared now)
                            quick = h[synced : len(h) - words] == ints
                            ints.clear()
                        synced = len(h)
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
        quick = s._h[synced:] == ints and objs == list(s._objs)
    s.finish()  # exactly sized arrays (OverflowError: replay() replays exactly)
    if not quick:
        first, canonical = _first_difference(events, s, len(events))
        if first is not None:
            raise _not_following(events, first)
        if not canonical:
            s._raw = tuple(events)
    return s


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

"""One member's points account as an immutable value.

A :class:`PointsLedger` is opened for a member, in the program's IANA zone,
with an expiry policy. Every command takes an idempotency ``id`` and a
posting time ``at`` (never earlier than the ledger's last event), optionally
``occurred_at <= at`` for late postings, and returns a new ledger; the old
one is unchanged. Before a command, everything due at or before its ``at``
happens first: pending points vest, lots expire, holds time out, the
inactivity deadline passes. Those events carry their own instant.

>>> from datetime import datetime, timedelta, timezone
>>> at = datetime(2024, 3, 1, 12, tzinfo=timezone.utc)
>>> ledger = PointsLedger.open("m-1", policy=ExpireAfter(months=12))
>>> ledger = ledger.earn("order-1", at=at, points=500)
>>> ledger = ledger.redeem("reward-1", at=at + timedelta(days=1), points=200)
>>> ledger.balance().available
300
>>> [soon] = ledger.expiring(until=datetime(2025, 12, 31, tzinfo=timezone.utc))
>>> soon.last_usable, soon.points
(datetime.date(2025, 3, 1), 300)

Redemptions use the soonest-expiring lots first and remember them, so a
cancellation gives back exactly; refunds of an earn claw back what is left of
its lot first, then its expired part, then other points, and only then
create debt. See ``docs/points.md`` for the whole model.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta, tzinfo
from decimal import Decimal
from typing import Any, Final, Literal

import attrs
from cattrs.errors import (
    AttributeValidationNote,
    BaseValidationError,
    ClassValidationError,
    ForbiddenExtraKeysError,
    IterableValidationError,
    IterableValidationNote,
)
from cattrs.strategies import configure_tagged_union

from loyaltycore import serialize
from loyaltycore._deprecate import keyword_only
from loyaltycore._public import publish
from loyaltycore._validate import (
    MAX_POINTS,
    check_id,
    check_int,
    check_money,
    check_points,
    check_str,
    type_name,
)
from loyaltycore.calendar import NEVER, UTC, micros, to_utc, zone
from loyaltycore.errors import (
    ForeignHold,
    IdempotencyConflict,
    InvalidArgument,
    InvalidData,
    InvalidPoints,
    InvalidTime,
    InvalidType,
    LoyaltyError,
    OutOfOrder,
    SameMember,
)
from loyaltycore.points._document import from_state, state_of
from loyaltycore.points._ledger import (
    AVAIL,
    C_CAPTURED,
    C_REDEEMED,
    EXPIRES,
    H_DEADLINE,
    H_LAST,
    H_NEV,
    H_NEXT,
    H_NLOTS,
    HANDLERS,
    PBIT,
    READ_ONLY,
    REM,
    SEP,
    Core,
    Replayer,
    State,
    instant,
    replay,
)
from loyaltycore.points._values import (
    AVAILABLE,
    DEBT,
    EVENT_TYPES,
    HELD,
    MAX_DAYS,
    PENDING,
    POLICY_TYPES,
    TZDATA,
    TZDATA_UPGRADED,
    Adjusted,
    Balance,
    Captured,
    DebtRepaid,
    Difference,
    Earned,
    EarnReversed,
    ExpireAfter,
    ExpireAtPeriodEnd,
    Expired,
    ExpireOnInactivity,
    ExpiringPoints,
    ExpiryPolicy,
    Held,
    Hold,
    HoldTimedOut,
    Lot,
    Merged,
    MergedLot,
    NeverExpire,
    Opened,
    PointsEvent,
    Redeemed,
    RedemptionCancelled,
    Released,
    Statement,
    StatementLine,
    TransferIn,
    TransferredIn,
    TransferredOut,
    Vested,
)

__all__ = [
    "Adjusted",
    "Balance",
    "Captured",
    "DebtRepaid",
    "Difference",
    "EarnReversed",
    "Earned",
    "ExpireAfter",
    "ExpireAtPeriodEnd",
    "ExpireOnInactivity",
    "Expired",
    "ExpiringPoints",
    "ExpiryPolicy",
    "Held",
    "Hold",
    "HoldTimedOut",
    "Lot",
    "Merged",
    "MergedLot",
    "NeverExpire",
    "Opened",
    "PointsEvent",
    "PointsLedger",
    "Redeemed",
    "RedemptionCancelled",
    "Released",
    "Statement",
    "StatementLine",
    "TZDATA",
    "TransferIn",
    "TransferredIn",
    "TransferredOut",
    "Vested",
    "event_from_data",
    "event_to_data",
    "merge",
    "transfer",
]

DebtPolicy = Literal["debt", "strict"]
_DEBT_POLICIES: Final = ("debt", "strict")


# -- boundary checks --------------------------------------------------------


def _utc(value: object, name: str) -> datetime:
    if type(value) is datetime and value.tzinfo is UTC:
        return value  # already aware and in UTC: the common case, kept cheap
    return to_utc(value, name)


def _times(at: object, occurred_at: object) -> tuple[datetime, datetime]:
    at_utc = _utc(at, "at")
    if occurred_at is None:
        return at_utc, at_utc
    occurred = _utc(occurred_at, "occurred_at")
    if occurred > at_utc:
        raise InvalidTime(
            f"occurred_at={occurred_at!r} must not be after at={at!r}",
            field="occurred_at",
            value=occurred_at,
        )
    return at_utc, occurred


def _command(id: object, at: object, occurred_at: object) -> tuple[datetime, datetime]:
    """Check a command's ``id`` and times: ``(at, occurred_at)`` in UTC.

    One call on the common path (a str id, an aware UTC ``at``); anything
    else goes through the full checks, in the same order.
    """
    if type(id) is not str or not id or id.isspace():
        check_id(id)
    if occurred_at is None and type(at) is datetime and at.tzinfo is UTC:
        return at, at
    return _times(at, occurred_at)


def _reason(value: object, *, required: bool = False) -> str:
    if required:
        return check_id(value, "reason")
    return check_str(value, "reason")


def _optional_points(value: object) -> int | None:
    return None if value is None else check_points(value)


def _source(value: object) -> str:
    """A lot source: one of :data:`SOURCES` or a host's own non-empty str."""
    if type(value) is str and value and not value.isspace():
        return value
    return check_id(value, "source")


def _value_per_point(value: object) -> Decimal | None:
    """A value per point at issue: None, or a finite Decimal >= 0 (no floats)."""
    return None if value is None else check_money(value, "value_per_point")


def _same_payload(prior: Any, ev: Any) -> None:
    if type(prior) is not type(ev):
        raise IdempotencyConflict(
            f"id={ev.id!r} was already used for a {type(prior).__name__}, "
            f"not a {type(ev).__name__}",
            field="type",
            value=type(ev).__name__,
            id=ev.id,
        )
    for name in ev.inputs:
        old, new = getattr(prior, name), getattr(ev, name)
        if old != new:
            raise IdempotencyConflict(
                f"id={ev.id!r} was already used with {name}={old!r}, not {new!r}",
                field=name,
                value=new,
                id=ev.id,
            )


# -- the ledger -------------------------------------------------------------


class PointsLedger(Core):
    """One member's points account: lots, holds, debt, history.

    Open one with :meth:`open`; rebuild one from its history with
    :meth:`replay`. Commands return a new ledger. A command that fails raises
    and records nothing, so retrying it (after fixing the cause) may succeed;
    retrying a command that succeeded (same id and payload) returns the
    ledger unchanged.

    >>> from datetime import datetime, timezone
    >>> at = datetime(2024, 1, 5, 9, tzinfo=timezone.utc)
    >>> a = PointsLedger.open("m-1")
    >>> b = a.earn("e1", at=at, points=100)
    >>> b.earn("e1", at=at, points=100) is b
    True
    >>> a.balance().available, b.balance().available
    (0, 100)
    """

    __slots__ = ()  # (the state's own: see loyaltycore.points._state.Core)

    def __init__(self) -> None:
        raise TypeError("open a ledger with PointsLedger.open, or rebuild one with replay")

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"PointsLedger is immutable; {name} cannot be set")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"PointsLedger is immutable; {name} cannot be deleted")

    __hash__ = None  # type: ignore[assignment]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PointsLedger):
            return NotImplemented
        a, b = self, other
        return (
            a._member_id == b._member_id
            and a._conf.tzname == b._conf.tzname
            and a._conf.policy == b._conf.policy
            and a._conf.strict == b._conf.strict
            and a._conf.tzdata == b._conf.tzdata
            and a._same_state(b)
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (_from_events, (self.events,))

    def __repr__(self) -> str:
        t = self._a
        return (
            f"PointsLedger(member={self.member!r}, available={t[AVAILABLE]}, "
            f"pending={t[PENDING]}, held={t[HELD]}, debt={t[DEBT]}, events={t[H_NEV]})"
        )

    # -- construction -------------------------------------------------------

    @classmethod
    def open(
        cls,
        member: str,
        *,
        tz: str | tzinfo = "UTC",
        policy: ExpiryPolicy | None = None,
        debt_policy: DebtPolicy = "debt",
    ) -> PointsLedger:
        """A new, empty ledger for ``member``.

        Args:
            member: the member's id (recorded on holds and transfers).
            tz: the program's IANA zone; local dates and expiry dates use it.
            policy: the expiry policy (default :class:`NeverExpire`).
            debt_policy: ``"debt"`` lets a refund whose points were spent leave
                debt; ``"strict"`` refuses such a refund.

        Returns:
            The ledger, whose only event is :class:`Opened`.

        Raises:
            InvalidArgument: a bad zone or debt policy; InvalidType: a bad type.

        >>> PointsLedger.open("m-1", tz="Europe/Berlin", policy=ExpireOnInactivity(months=18))
        PointsLedger(member='m-1', available=0, pending=0, held=0, debt=0, events=1)

        The :class:`Opened` event records the bundled zone data version
        (:data:`TZDATA`) the history's instants are computed with.
        """
        check_id(member, "member")
        tz_name = _zone_name(tz)
        if policy is None:
            policy = NeverExpire()
        if not isinstance(policy, POLICY_TYPES):
            raise InvalidType(
                f"policy={policy!r} must be an expiry policy, not {type_name(policy)}",
                field="policy",
                value=policy,
            )
        if debt_policy not in _DEBT_POLICIES:
            raise InvalidArgument(
                f"debt_policy={debt_policy!r} must be 'debt' or 'strict'",
                field="debt_policy",
                value=debt_policy,
            )
        return _publish(State.fresh(member, tz_name, policy, debt_policy, TZDATA))

    @classmethod
    def replay(
        cls, events: Iterable[PointsEvent], *, mode: Literal["recorded", "recompute"] = "recorded"
    ) -> PointsLedger:
        """Rebuild a ledger from its events (as returned by :attr:`events`).

        Every event must follow from the ones before it; the result equals the
        ledger the events came from. The effects a command derived from the
        program's rules and the zone data (each lot's ``lot_expires_at``, the
        ``inactivity_deadline`` after it) are applied as recorded
        (``mode="recorded"``), so a history replays the same on every host
        and under every ``tzdata``. ``mode="recompute"`` derives them again
        and refuses a history where any differs (see :meth:`audit`).

        Raises:
            InvalidData: the history does not replay (names the event index),
                or (``mode="recompute"``) a recorded effect differs from the
                one derived now (names each).
            InvalidArgument: ``mode`` is neither of the two.

        >>> from datetime import datetime, timezone
        >>> at = datetime(2024, 1, 5, tzinfo=timezone.utc)
        >>> ledger = PointsLedger.open("m-1").earn("e1", at=at, points=10)
        >>> PointsLedger.replay(ledger.events) == ledger
        True
        >>> PointsLedger.replay(ledger.events, mode="recompute") == ledger
        True
        """
        if mode not in ("recorded", "recompute"):
            raise InvalidArgument(
                f"mode={mode!r} must be 'recorded' or 'recompute'", field="mode", value=mode
            )
        events = tuple(events)
        if mode == "recompute":
            differences = cls.audit(events)
            if differences:
                lines = [
                    f"{d.field} of {d.event!r} recorded {_text(d.recorded)}, "
                    f"recomputed {_text(d.recomputed)} @ $.events[{d.index}]"
                    for d in differences
                ]
                raise InvalidData.from_messages(lines, what="points history")
        try:
            return _publish_replayed(replay(events))
        except Exception:
            not_an_event = _not_an_event(events)  # named before any other problem
            if not_an_event is None:
                raise
        raise not_an_event

    @classmethod
    def audit(cls, events: Iterable[PointsEvent]) -> tuple[Difference, ...]:
        """Every recorded effect of a history that the rules derive differently now.

        Replays ``events`` as recorded and, at each command, derives its
        effects again from the policy and the bundled zone data: a lot's
        expiry instant (``lot_expires_at``) and the inactivity deadline after
        it (``inactivity_deadline``). Each one that differs is a
        :class:`Difference`, in history order; the replay goes on with the
        recorded value, so a difference is reported where it arises and not
        again in what follows from it. This is how a host checks what a
        ``tzdata`` update or a policy fix would change before adopting it.
        An empty tuple: the history recomputes exactly.

        Raises:
            InvalidData: the history does not replay as recorded.

        >>> from datetime import datetime, timezone
        >>> at = datetime(2024, 1, 5, tzinfo=timezone.utc)
        >>> ledger = PointsLedger.open("m-1", policy=ExpireAfter(months=12))
        >>> ledger = ledger.earn("e1", at=at, points=10)
        >>> PointsLedger.audit(ledger.events)
        ()
        >>> moved = datetime(2025, 3, 1, tzinfo=timezone.utc)
        >>> edited = (*ledger.events[:1], attrs.evolve(ledger.events[1], lot_expires_at=moved))
        >>> [(d.event, d.field, d.recorded.date(), d.recomputed.date())
        ...  for d in PointsLedger.audit(edited)]
        [('e1', 'lot_expires_at', datetime.date(2025, 3, 1), datetime.date(2025, 1, 6))]
        """
        events = tuple(events)
        found: list[tuple[str, str, int, int]] = []
        try:
            replay(events, audit=found)
        except Exception:
            not_an_event = _not_an_event(events)
            if not_an_event is None:
                raise
            raise not_an_event from None
        index = {getattr(ev, "id", None): k for k, ev in enumerate(events) if k}
        return tuple(
            Difference(
                index[event],
                event,
                field,
                None if recorded == NEVER else instant(recorded),
                None if derived == NEVER else instant(derived),
            )
            for event, field, recorded, derived in found
        )

    def state(self, *, packed: bool = False) -> dict[str, object]:
        """The ledger's state as plain data: what a replay rebuilds, not typed events.

        Balances, counters, every lot, the usable-lot queue, pending lots,
        open holds, cancelled totals, the ids and the engine's compact
        records, as lists of ints and strs (instants in microseconds UTC).
        :meth:`from_state` reads it back in time that follows the state's
        size with little Python per lot, which is how a host restores a
        ledger quickly. The document is JSON-ready.

        Args:
            packed: write each int column as ``{"int64": base64 text}``
                (little-endian int64s) instead of a list: several times
                smaller as JSON and decoded in one step. Both forms read back.

        >>> from datetime import datetime, timezone
        >>> at = datetime(2024, 1, 5, tzinfo=timezone.utc)
        >>> ledger = PointsLedger.open("m-1").earn("e1", at=at, points=100)
        >>> doc = ledger.state()
        >>> doc["lot_ids"], doc["totals"][:2]
        (['e1'], [100, 0])
        >>> PointsLedger.from_state(ledger.state(packed=True)) == ledger
        True
        """
        return state_of(self, packed=packed)

    @classmethod
    def from_state(cls, data: object) -> PointsLedger:
        """The ledger of a :meth:`state` document: equal to the ledger it came
        from, events included, and behaving identically for every command.

        Raises:
            InvalidData: not a state document (names the problem).

        >>> from datetime import datetime, timezone
        >>> at = datetime(2024, 1, 5, tzinfo=timezone.utc)
        >>> ledger = PointsLedger.open("m-1").earn("e1", at=at, points=100)
        >>> PointsLedger.from_state(ledger.state()) == ledger
        True
        """
        return _publish(from_state(data))

    # -- attributes ---------------------------------------------------------

    @property
    def member(self) -> str:
        """The member's id.

        >>> PointsLedger.open("m-1").member
        'm-1'
        """
        return self._member_id

    @property
    def tz(self) -> str:
        """The program's zone name.

        >>> PointsLedger.open("m-1", tz="Asia/Shanghai").tz
        'Asia/Shanghai'
        """
        return self._conf.tzname

    @property
    def policy(self) -> ExpiryPolicy:
        """The expiry policy.

        >>> PointsLedger.open("m-1", policy=ExpireAfter(months=6)).policy
        ExpireAfter(months=6, days=None, round_to=None)
        """
        return self._conf.policy

    @property
    def debt_policy(self) -> DebtPolicy:
        """``"debt"`` or ``"strict"``.

        >>> PointsLedger.open("m-1", debt_policy="strict").debt_policy
        'strict'
        """
        return "strict" if self._conf.strict else "debt"

    @property
    def last_at(self) -> datetime | None:
        """The instant of the last event (commands may not be earlier).

        >>> from datetime import datetime, timezone
        >>> at = datetime(2024, 1, 5, tzinfo=timezone.utc)
        >>> PointsLedger.open("m-1").earn("e1", at=at, points=1).last_at == at
        True
        """
        return self._last_instant()

    @property
    def events(self) -> tuple[PointsEvent, ...]:
        """The append-only history, oldest first.

        >>> from datetime import datetime, timezone
        >>> at = datetime(2024, 1, 5, tzinfo=timezone.utc)
        >>> [type(e).__name__ for e in PointsLedger.open("m-1").earn("e1", at=at, points=1).events]
        ['Opened', 'Earned']
        """
        try:
            found: tuple[PointsEvent, ...] = self._cache
        except AttributeError:  # not asked for yet
            found = tuple(self._history())
            _SET_CACHE(self, found)
        return found

    @property
    def lots(self) -> tuple[Lot, ...]:
        """Every lot, in the order they were created.

        >>> from datetime import datetime, timezone
        >>> at = datetime(2024, 1, 5, tzinfo=timezone.utc)
        >>> [lot.id for lot in PointsLedger.open("m-1").earn("e1", at=at, points=1).lots]
        ['e1']
        """
        return self._lot_values()

    def _open_lots(self) -> list[tuple[str, int, bool, int | None]]:
        """``(id, remaining, pending, expires)`` of each lot with points left, oldest first.

        Read from the lot rows without building :class:`Lot` values (what a
        store's projection reads after every command); ``expires`` is in
        microseconds since the epoch (:func:`loyaltycore.calendar.from_micros`),
        None for never.
        """
        names = self._ids()[1]
        out = []
        for i in range(self._a[H_NLOTS]):
            r, b = self._row(i)
            rem = r[b + REM]
            if rem:
                exp = r[b + EXPIRES]
                pending = r[b + AVAIL] > PBIT // 2
                out.append((names[i], rem, pending, None if exp == NEVER else exp))
        return out

    def _lots_changed(
        self, before: PointsLedger
    ) -> list[tuple[str, int, bool, int | None]] | None:
        """``(id, remaining, pending, expires)`` of each lot whose row differs from ``before``'s.

        ``before`` is a version this ledger was built from by commands. A
        spent lot shows ``remaining`` 0. None when only reading every row
        could tell (a small lot table, or tables that share nothing, such as
        a ledger carried forward).

        A large lot table is shared in chunks between the versions of a
        ledger, a command copying only the chunks it changes; so only those
        chunks and the lots added since are read, and what a store writes
        after a command costs what the command touched, not the member's
        number of lots.
        """
        from loyaltycore.points import _state as engine

        lots, old = self._lots, before._lots
        if type(lots) is not engine._Big or type(old) is not engine._Big:
            return None
        n, m = self._a[H_NLOTS], before._a[H_NLOTS]
        if n < m:
            return None
        shared = False
        maybe: list[int] = []
        for x, (mid, old_mid) in enumerate(zip(lots, old, strict=False)):
            if mid is old_mid:  # (rows below m unchanged; rows added later are read below)
                shared = True
                continue
            for y, (chunk, old_chunk) in enumerate(zip(mid, old_mid, strict=False)):
                if chunk is old_chunk:
                    shared = True
                    continue
                first = (x << engine._MID_SHIFT) | (y << engine.CHUNK_BITS)
                maybe.extend(range(first, min(first + engine._CHUNK, m)))
        if not shared:
            return None
        out = []
        for i in maybe:
            r, b = self._row(i)
            rem, avail, exp = r[b + REM], r[b + AVAIL], r[b + EXPIRES]
            r0, b0 = before._row(i)
            if (rem, avail, exp) != (r0[b0 + REM], r0[b0 + AVAIL], r0[b0 + EXPIRES]):
                out.append((i, rem, avail, exp))
        for i in range(m, n):
            r, b = self._row(i)
            out.append((i, r[b + REM], r[b + AVAIL], r[b + EXPIRES]))
        lids = self._lids
        name = lids.split(SEP)[1:-1].__getitem__ if type(lids) is str else lids.entry  # type: ignore[union-attr]
        return [
            (
                name(i),
                rem,
                avail > PBIT // 2,
                None if exp == NEVER else exp,
            )
            for i, rem, avail, exp in out
        ]

    @property
    def holds(self) -> tuple[Hold, ...]:
        """Every hold, open or resolved, in the order they were placed.

        >>> PointsLedger.open("m-1").holds
        ()
        """
        return self._hold_values()

    def lot(self, lot_id: str) -> Lot:
        """The lot called ``lot_id`` (an earn's lot has the earn's id).

        >>> from datetime import datetime, timezone
        >>> at = datetime(2024, 1, 5, tzinfo=timezone.utc)
        >>> PointsLedger.open("m-1").earn("e1", at=at, points=10).lot("e1").amount
        10
        """
        found = self._lot_index(lot_id) if type(lot_id) is str else -1
        if found < 0:
            from loyaltycore.errors import NotFound

            raise NotFound(
                f"lot={lot_id!r} is not a lot of this ledger", field="lot", value=lot_id
            )
        return self._lot_value(found)

    # -- commands -----------------------------------------------------------

    def _posting(self, id: str, at: datetime) -> int | None:
        """A new command's ``at`` in micros, or None if ``id`` was already used.

        Raises:
            OutOfOrder: ``at`` is earlier than the ledger's last event.
        """
        eids = self._eids
        if (SEP + id + SEP in eids) if type(eids) is str else self._ordinal(id) >= 0:
            return None
        d = at - _EPOCH
        at_us = (d.days * 86_400 + d.seconds) * 1_000_000 + d.microseconds
        if at_us < self._a[H_LAST]:
            raise OutOfOrder(
                f"at={at.isoformat()} is earlier than the ledger's last event at "
                f"{instant(self._a[H_LAST]).isoformat()}",
                field="at",
                value=at,
            )
        return at_us

    def _run(self, cls: type[Any], id: str, at: datetime, *inputs: Any) -> PointsLedger:
        """Apply the command event ``cls(id, at, *inputs)`` (its checked inputs).

        The event itself is not built: its handler takes the inputs, and the
        state records the event. A retry builds it to compare the payloads.
        """
        at_us = self._posting(id, at)
        if at_us is None:  # a retry: the same payload, or an error naming the difference
            _same_payload(self._command_event(self._ordinal(id)), cls(id, at, *inputs))
            return self
        book = _THAW(self)
        try:
            if at_us >= book._a[H_NEXT]:
                book.advance(at_us)
            HANDLERS[cls][0](book, at_us, id, at, *inputs)
            book.after(at_us)
        except OverflowError:
            book.abort(self)
            raise InvalidPoints(
                f"id={id!r} would take a total beyond {2**63 - 1}", field="points"
            ) from None
        except BaseException:
            book.abort(self)  # (the ledger keeps appending in place)
            raise
        return _publish(book)

    def _plain_earn(
        self, id: str, at: datetime, points: int, reason: str = ""
    ) -> PointsLedger | None:
        """:meth:`earn` with nothing optional but a reason in one step (checked inputs:
        a str ``id``, ``at`` in UTC, positive ``points``, a str ``reason``), or None
        for the general path: a retry (which compares the payload).

        Raises:
            OutOfOrder: as the general path would (every other input is valid).
        """
        at_us = self._posting(id, at)
        if at_us is None:
            return None
        book = _THAW(self)
        try:
            if not book.earn_plain(id, at_us, points, reason):
                return None  # (having changed nothing)
        except BaseException:
            book.abort(self)
            raise
        return _publish(book)

    def earn(
        self,
        id: str,
        *,
        at: datetime,
        points: int,
        occurred_at: datetime | None = None,
        available_at: datetime | None = None,
        expires_at: datetime | None = None,
        reason: str = "",
        source: str = "purchase",
        value_per_point: Decimal | int | str | None = None,
    ) -> PointsLedger:
        """Earn ``points`` in a new lot that expires under the ledger's policy.

        Args:
            id: idempotency key; also the lot's id.
            at: posting time.
            points: a positive int.
            occurred_at: when the activity happened (expiry counts from it).
            available_at: end of the return window; points are pending until then.
            expires_at: an explicit expiry instant instead of the policy's.
            reason: free text for statements.
            source: where the points come from: ``"purchase"``, ``"bonus"``,
                ``"goodwill"``, ``"referral"``, ``"partner"``, ``"transfer"``,
                ``"adjustment"`` or a host's own non-empty str.
            value_per_point: what one point is worth at issue (a Decimal, int
                or str, finite and >= 0; floats refused), or None.

        Raises:
            InvalidTime: the points would expire before they become usable.
            InvalidArgument: a blank ``source``; InvalidAmount: a bad
                ``value_per_point`` (both name the field and the value).

        The lot records both (:attr:`Lot.source`, :attr:`Lot.value_per_point`),
        and the event records its expiry instant as derived:

        >>> from datetime import datetime, timezone
        >>> from decimal import Decimal
        >>> at = datetime(2024, 1, 5, tzinfo=timezone.utc)
        >>> ledger = PointsLedger.open("m-1", policy=ExpireAfter(months=12)).earn(
        ...     "e2", at=at, points=50, source="bonus", value_per_point="0.01")
        >>> ledger.lots[0].source, ledger.lots[0].value_per_point
        ('bonus', Decimal('0.01'))
        >>> ledger.events[-1].lot_expires_at.date()
        datetime.date(2025, 1, 6)

        >>> from datetime import datetime, timedelta, timezone
        >>> at = datetime(2024, 1, 5, tzinfo=timezone.utc)
        >>> ledger = PointsLedger.open("m-1").earn(
        ...     "e1", at=at, points=100, available_at=at + timedelta(days=30))
        >>> ledger.balance().pending, ledger.balance(as_of=at + timedelta(days=30)).available
        (100, 100)
        """
        if (  # the common case, checked in one step (else in order, below)
            type(id) is str
            and type(at) is datetime
            and at.tzinfo is UTC
            and type(points) is int
            and 0 < points <= MAX_POINTS
            and (
                occurred_at is None
                or occurred_at is at
                or (type(occurred_at) is datetime and occurred_at == at)
            )  # (an occurred_at equal to at is left out of the record)
            and available_at is None
            and expires_at is None
            and type(reason) is str
            and source == "purchase"
            and value_per_point is None
            and id
            and not id.isspace()
        ):
            done = self._plain_earn(id, at, points, reason)
            if done is not None:
                return done
        at_utc, occurred = _command(id, at, occurred_at)
        if type(points) is not int or not 0 < points <= MAX_POINTS:
            points = check_points(points)
        avail = None if available_at is None else _utc(available_at, "available_at")
        expires = None if expires_at is None else _utc(expires_at, "expires_at")
        return self._run(
            Earned,
            id,
            at_utc,
            occurred,
            points,
            avail,
            expires,
            reason if type(reason) is str else _reason(reason),
            _source(source),
            _value_per_point(value_per_point),
        )

    def redeem(
        self,
        id: str,
        *,
        at: datetime,
        points: int,
        occurred_at: datetime | None = None,
        reason: str = "",
    ) -> PointsLedger:
        """Spend ``points``, soonest-expiring lots first (ties: oldest first).

        Raises:
            InsufficientPoints: more than available (names requested and available).

        >>> from datetime import datetime, timezone
        >>> at = datetime(2024, 1, 5, tzinfo=timezone.utc)
        >>> ledger = PointsLedger.open("m-1").earn("e1", at=at, points=100)
        >>> ledger.redeem("r1", at=at, points=30).events[-1].lots
        (('e1', 30),)
        """
        at_utc, occurred = _command(id, at, occurred_at)
        if type(points) is not int or not 0 < points <= MAX_POINTS:
            points = check_points(points)
        text = reason if type(reason) is str else _reason(reason)
        return self._run(Redeemed, id, at_utc, occurred, points, text)

    def hold(
        self,
        id: str,
        *,
        at: datetime,
        points: int,
        deadline: datetime,
        occurred_at: datetime | None = None,
    ) -> PointsLedger:
        """Reserve ``points`` of specific lots for a checkout until ``deadline``.

        Raises:
            InsufficientPoints: at once, if more than available.

        >>> from datetime import datetime, timedelta, timezone
        >>> at = datetime(2024, 1, 5, tzinfo=timezone.utc)
        >>> ledger = PointsLedger.open("m-1").earn("e1", at=at, points=100)
        >>> ledger.hold("h1", at=at, points=60, deadline=at + timedelta(minutes=15)).balance().held
        60
        """
        at_utc, occurred = _command(id, at, occurred_at)
        if type(points) is not int or not 0 < points <= MAX_POINTS:
            points = check_points(points)
        until = _utc(deadline, "deadline")
        if until <= at_utc:
            raise InvalidTime(
                f"deadline={deadline!r} must be after at={at!r}", field="deadline", value=deadline
            )
        return self._run(Held, id, at_utc, occurred, points, until)

    def _hold_id(self, hold: object) -> str:
        if isinstance(hold, Hold):
            if hold.member != self.member:
                raise ForeignHold(
                    f"hold={hold.id!r} belongs to member {hold.member!r}, not {self.member!r}",
                    field="hold",
                    value=hold.id,
                )
            return hold.id
        return check_id(hold, "hold")

    def capture(
        self,
        id: str,
        *,
        at: datetime,
        hold: str | Hold,
        points: int | None = None,
        occurred_at: datetime | None = None,
    ) -> PointsLedger:
        """Capture a hold, whole (``points=None``) or in part; the rest is released.

        Raises:
            UnknownHold, ForeignHold, HoldExpired (at or after its deadline),
            HoldAlreadyResolved, OverCapture.

        >>> from datetime import datetime, timedelta, timezone
        >>> at = datetime(2024, 1, 5, tzinfo=timezone.utc)
        >>> ledger = PointsLedger.open("m-1").earn("e1", at=at, points=100)
        >>> ledger = ledger.hold("h1", at=at, points=60, deadline=at + timedelta(hours=1))
        >>> b = ledger.capture("c1", at=at, hold="h1", points=50).balance()
        >>> b.available, b.held, b.redeemed
        (50, 0, 50)
        """
        at_utc, occurred = _command(id, at, occurred_at)
        hold_id = self._hold_id(hold)
        return self._run(Captured, id, at_utc, occurred, hold_id, _optional_points(points))

    def release(
        self, id: str, *, at: datetime, hold: str | Hold, occurred_at: datetime | None = None
    ) -> PointsLedger:
        """Release a hold; points of lots that expired meanwhile expire at once.

        >>> from datetime import datetime, timedelta, timezone
        >>> at = datetime(2024, 1, 5, tzinfo=timezone.utc)
        >>> ledger = PointsLedger.open("m-1").earn("e1", at=at, points=100)
        >>> ledger = ledger.hold("h1", at=at, points=60, deadline=at + timedelta(hours=1))
        >>> ledger.release("x1", at=at, hold="h1").balance().available
        100
        """
        at_utc, occurred = _command(id, at, occurred_at)
        return self._run(Released, id, at_utc, occurred, self._hold_id(hold))

    def reverse(
        self,
        id: str,
        *,
        at: datetime,
        of: str,
        points: int | None = None,
        occurred_at: datetime | None = None,
        grace_days: int | None = None,
    ) -> PointsLedger:
        """Refund an earn, or cancel a redemption or capture, whole or in part.

        For an earn (``of`` is its id) the points come, in order, from its
        lot's unspent remainder, its expired part (reclassified from expired
        to clawed back), other available lots soonest-expiring first, and the
        rest becomes debt (refused under the strict debt policy). A pending
        lot is simply cancelled. For a redemption, points go back to the exact
        lots used; a part whose lot expired meanwhile stays expired, unless
        ``grace_days`` gives it a new lot usable for that many local days.

        Raises:
            UnknownEvent, OverReversal, StrictPolicyViolation.

        >>> from datetime import datetime, timezone
        >>> at = datetime(2024, 1, 5, tzinfo=timezone.utc)
        >>> ledger = PointsLedger.open("m-1").earn("e1", at=at, points=100)
        >>> ledger = ledger.redeem("r1", at=at, points=80)
        >>> b = ledger.reverse("f1", at=at, of="e1").balance()
        >>> b.available, b.debt, b.clawed_back
        (0, 80, 100)
        """
        at_utc, occurred = _command(id, at, occurred_at)
        check_id(of, "of")
        amount = _optional_points(points)
        k = self._ordinal(of)
        if k >= 0 and self._kind(k) in (C_REDEEMED, C_CAPTURED):
            grace = None
            if grace_days is not None:
                grace = check_int(grace_days, "grace_days", minimum=0, maximum=MAX_DAYS)
            return self._run(RedemptionCancelled, id, at_utc, occurred, of, amount, grace)
        if grace_days is not None:
            raise InvalidArgument(
                "grace_days applies only to cancelled redemptions",
                field="grace_days",
                value=grace_days,
            )
        return self._run(EarnReversed, id, at_utc, occurred, of, amount)

    def adjust(
        self,
        id: str,
        *,
        at: datetime,
        points: int,
        reason: str,
        occurred_at: datetime | None = None,
    ) -> PointsLedger:
        """Credit (``points > 0``) or debit (``points < 0``) with a reason.

        A credit is a new lot under the policy; a debit takes available points
        soonest-expiring first.

        >>> from datetime import datetime, timezone
        >>> at = datetime(2024, 1, 5, tzinfo=timezone.utc)
        >>> ledger = PointsLedger.open("m-1").adjust("a1", at=at, points=50, reason="goodwill")
        >>> ledger.adjust("a2", at=at, points=-20, reason="correction").balance().available
        30
        """
        at_utc, occurred = _command(id, at, occurred_at)
        if type(points) is not int:
            points = check_int(points, "points")
        if points == 0:
            raise InvalidPoints("points=0 must be a non-zero int", field="points", value=0)
        check_points(abs(points))
        return self._run(Adjusted, id, at_utc, occurred, points, _reason(reason, required=True))

    def expire(self, *, as_of: datetime) -> PointsLedger:
        """Apply every vesting, expiry, timeout and deadline due by ``as_of``.

        Idempotent: calling it again with the same or an earlier ``as_of``
        returns the ledger unchanged. An inactivity deadline that passes with
        no point available to expire records nothing, so it is left for the
        next command to pass (as :meth:`replay` of the history does); the
        ledger equals its replayed history either way.

        >>> from datetime import datetime, timezone
        >>> at = datetime(2024, 1, 5, tzinfo=timezone.utc)
        >>> ledger = PointsLedger.open("m-1", policy=ExpireAfter(days=10))
        >>> ledger = ledger.earn("e1", at=at, points=100)
        >>> later = ledger.expire(as_of=datetime(2024, 2, 1, tzinfo=timezone.utc))
        >>> later.events[-1]
        Expired(at=datetime.datetime(2024, 1, 16, 0, 0, tzinfo=...), lot='e1', points=100, ...)
        >>> later.expire(as_of=datetime(2024, 2, 1, tzinfo=timezone.utc)) is later
        True
        """
        until = micros(to_utc(as_of, "as_of"))
        if until < self._a[H_NEXT]:
            return self
        book = State.thaw(self)
        try:
            book.advance(until, recorded=True)
        except BaseException:
            book.abort(self)
            raise
        if book._a[H_NEV] == self._a[H_NEV]:  # nothing happened that a history shows
            book.abort(self)
            return self
        return _publish(book)

    def carry_forward(
        self,
        id: str,
        *,
        at: datetime,
        policy: ExpiryPolicy | None = None,
        tz: str | tzinfo | None = None,
        debt_policy: DebtPolicy | None = None,
    ) -> PointsLedger:
        """A new ledger for the same member holding this one's unspent points, without its history.

        Everything due by ``at`` happens first. The new ledger's history is
        :class:`Opened` and one :class:`Merged` event at ``at`` whose source
        is ``"{member}/{id}"`` (the member's own earlier ledger): each lot
        with points left arrives with its
        remaining points, earning instant, expiry and pending state, under
        the id ``"{id}/{lot}"`` (a lot carried forward before under the same
        ``id`` keeps its name), and the debt carries over. Lifetime totals
        start again, the carried points counting as merged in. ``policy``,
        ``tz`` and ``debt_policy`` default to this ledger's; another policy
        (a program migration) applies to points earned from now on, while
        the carried lots keep their expiry. The inactivity clock of an
        :class:`ExpireOnInactivity` policy starts again at the next activity.

        Raises:
            InvalidArgument: the ledger has open holds at ``at``.
            OutOfOrder: ``at`` is before the ledger's last event.

        >>> from datetime import datetime, timezone
        >>> at = datetime(2024, 1, 5, tzinfo=timezone.utc)
        >>> ledger = PointsLedger.open("m-1", policy=ExpireAfter(months=12))
        >>> ledger = ledger.earn("e1", at=at, points=100).redeem("r1", at=at, points=30)
        >>> carried = ledger.carry_forward("c", at=at, policy=NeverExpire())
        >>> [(lot.id, lot.remaining, lot.expires_at.year) for lot in carried.lots]
        [('c/e1', 70, 2025)]
        >>> len(carried.events), carried.policy
        (2, NeverExpire())
        """
        at_utc, occurred = _command(id, at, None)
        at_us = micros(at_utc)
        if at_us < self._a[H_LAST]:
            raise OutOfOrder(
                f"at={at_utc.isoformat()} is earlier than the ledger's last event at "
                f"{instant(self._a[H_LAST]).isoformat()}",
                field="at",
                value=at,
            )
        book = _read_at(self, at_us)
        if book._open_holds:
            raise InvalidArgument(
                f"the ledger has open holds {sorted(book._open_holds)}; resolve them first",
                field="at",
                value=at,
            )
        prefix = id + "/"
        lots = tuple(
            MergedLot.of(lot, name=lot.id[len(prefix) :] if lot.id.startswith(prefix) else None)
            for lot in book._lot_values(unspent=True)
        )
        fresh = PointsLedger.open(
            self.member,
            tz=self.tz if tz is None else tz,
            policy=self.policy if policy is None else policy,
            debt_policy=self.debt_policy if debt_policy is None else debt_policy,
        )
        source = f"{self.member}/{id}"  # (the member's own earlier ledger, not another member)
        return fresh._run(Merged, id, at_utc, occurred, source, lots, book._a[DEBT])

    # -- queries ------------------------------------------------------------

    def _book_at(self, as_of: object) -> State:
        """The ledger as of ``as_of``, to read (not to publish)."""
        when = to_utc(as_of, "as_of")
        if micros(when) >= self._a[H_LAST]:
            return _read_at(self, micros(when))
        events = self.events
        n = 1
        while n < len(events) and events[n].at <= when:  # type: ignore[union-attr]
            n += 1
        book: State = replay(events[:n])
        book.advance(micros(when))
        return book

    @keyword_only("as_of", removed_in="0.3.0")
    def balance(self, *, as_of: datetime | None = None) -> Balance:
        """Available, pending, held, debt and lifetime totals per flow.

        With ``as_of``, the balance at that instant: later than the last
        event, it includes expiries and vesting due by then (without
        recording them); earlier, it is rebuilt from the history.

        >>> from datetime import datetime, timezone
        >>> at = datetime(2024, 1, 5, tzinfo=timezone.utc)
        >>> ledger = PointsLedger.open("m-1", policy=ExpireAfter(days=10))
        >>> ledger = ledger.earn("e1", at=at, points=100)
        >>> ledger.balance(as_of=datetime(2024, 2, 1, tzinfo=timezone.utc)).expired
        100
        """
        tot = self._a if as_of is None else self._book_at(as_of)._a
        return Balance(*tot[:_N_TOTALS])

    def expiring(
        self, *, until: datetime, as_of: datetime | None = None
    ) -> tuple[ExpiringPoints, ...]:
        """Available points that expire after ``as_of`` and at or before ``until``.

        Each entry gives the last usable local date, the instant the points
        stop being usable, and whether a lot's own expiry or the inactivity
        deadline is the cause. Without ``as_of``, the ledger as of its last
        event.

        >>> from datetime import datetime, timezone
        >>> at = datetime(2024, 1, 5, tzinfo=timezone.utc)
        >>> ledger = PointsLedger.open("m-1", tz="Asia/Shanghai", policy=ExpireAtPeriodEnd())
        >>> ledger = ledger.earn("e1", at=at, points=100)
        >>> until = datetime(2026, 1, 1, tzinfo=timezone.utc)
        >>> [(e.last_usable, e.points) for e in ledger.expiring(until=until)]
        [(datetime.date(2025, 12, 31), 100)]
        """
        stop = micros(to_utc(until, "until"))
        book: Core = self if as_of is None else self._book_at(as_of)
        return _expiring(book, stop)

    def statement(self, start: datetime, end: datetime) -> Statement:
        """The events in ``[start, end)`` with opening and closing balances.

        The balance on a statement is ``available + pending + held - debt``.

        >>> from datetime import datetime, timezone
        >>> at = datetime(2024, 1, 5, tzinfo=timezone.utc)
        >>> ledger = PointsLedger.open("m-1").earn("e1", at=at, points=100, reason="order 1")
        >>> print(ledger.statement(datetime(2024, 1, 1, tzinfo=timezone.utc),
        ...                        datetime(2024, 2, 1, tzinfo=timezone.utc)))
        Statement for m-1: 2024-01-01 00:00 to 2024-02-01 00:00
                    opening balance                                            0
        2024-01-05  earned e1: order 1                                      +100       100
                    closing balance                                          100
        available 100, pending 0, held 0, debt 0
        """
        lo, hi = to_utc(start, "start"), to_utc(end, "end")
        if hi < lo:
            raise InvalidTime(
                f"end={end!r} must not be before start={start!r}", field="end", value=end
            )
        return _statement(self, lo, hi)


# The slot descriptors' setters: the immutable ledger's private constructor.
_SET_CACHE: Final[Any] = Core.__dict__["_cache"].__set__
_SET_CLASS: Final = object.__setattr__


def _text(value: datetime | None) -> str:
    return "never" if value is None else value.isoformat()


def _publish(book: State) -> PointsLedger:
    """The builder ``book``, frozen into a ledger: the same object, retyped."""
    _SET_CLASS(book.freeze(), "__class__", PointsLedger)
    return book  # type: ignore[return-value]


def _publish_replayed(builder: Replayer) -> PointsLedger:
    """A ledger with a replayed builder's contents (the builder itself is left behind)."""
    state = builder.freeze()  # a new, frozen State
    _SET_CLASS(state, "__class__", PointsLedger)
    return state  # type: ignore[return-value]


_THAW: Final = State.thaw


def _read_at(ledger: Core, until_us: int) -> State:
    """A builder of ``ledger`` with the time up to ``until_us`` passed, to read
    only: it copies what it would append to storage the ledger shares."""
    book = State.thaw(ledger)
    book._own = READ_ONLY
    book.advance(until_us)
    return book


_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_N_TOTALS: Final = len(attrs.fields(Balance))


# -- helpers for queries ----------------------------------------------------


def _not_an_event(events: tuple[Any, ...]) -> InvalidData | None:
    """The error naming the first of ``events`` that is not a points event, if any."""
    for i, ev in enumerate(events):
        if not isinstance(ev, EVENT_TYPES):
            return InvalidData.from_messages(
                [f"{type_name(ev)} is not a points event @ $.events[{i}]"],
                what="points history",
            )
    return None


def _net(tot: list[int] | tuple[int, ...]) -> int:
    return tot[AVAILABLE] + tot[PENDING] + tot[HELD] - tot[DEBT]


def _last_usable(instant: datetime, tz: tzinfo) -> date:
    return (instant - timedelta(microseconds=1)).astimezone(tz).date()


def _expiring(book: Core, stop: int) -> tuple[ExpiringPoints, ...]:
    found: dict[int, int] = {}
    beyond = 0
    a = book._a
    deadline = a[H_DEADLINE]
    for i in book._queue():
        r, b = book._row(i)
        exp_us, rem = r[b + EXPIRES], r[b + REM]
        if deadline != NEVER and exp_us > deadline:
            beyond += rem
        elif exp_us <= stop and exp_us != NEVER:
            found[exp_us] = found.get(exp_us, 0) + rem
    tz = book._conf.tz
    result = [
        ExpiringPoints(_last_usable(instant(when), tz), instant(when), pts, "lot")
        for when, pts in found.items()
    ]
    if deadline != NEVER and deadline <= stop and beyond:
        when = instant(deadline)
        result.append(ExpiringPoints(_last_usable(when, tz), when, beyond, "inactivity"))
    return tuple(sorted(result, key=lambda e: e.expires_at))


def _statement(ledger: PointsLedger, lo: datetime, hi: datetime) -> Statement:
    events = ledger.events
    totals: list[tuple[int, ...]] = []

    def step(i: int, book: State) -> None:
        totals.append(tuple(book._a[:_N_TOTALS]))

    replay(events, step=step)
    tz = zone(ledger.tz)
    first = 0  # the last event before the statement
    before = 0  # the last event on it
    lines = []
    for i in range(1, len(events)):
        ev: Any = events[i]
        if ev.at < lo:
            first = before = i
            continue
        if ev.at >= hi:
            break
        ident, text = ev._line(tz)
        net = _net(totals[i])
        lines.append(
            StatementLine(
                ev.at,
                ev.at.astimezone(tz).date(),
                type(ev).__name__,
                ident,
                text,
                net - _net(totals[i - 1]),
                net,
            )
        )
        before = i
    return Statement(
        ledger.member,
        lo,
        hi,
        _net(totals[first]),
        _net(totals[before]),
        tuple(lines),
        Balance(*totals[before]),
        tz=ledger.tz,
    )


# -- two-ledger commands ----------------------------------------------------


def _transfer_parts(src: PointsLedger, out: TransferredOut) -> tuple[TransferIn, ...]:
    parts: list[TransferIn] = []
    for lot_id, x in out.lots:
        lot = src._lot_value(src._lot_index(lot_id))
        expires, source, value = lot.expires_at, lot.source, lot.value_per_point
        last = parts[-1] if parts else None
        if last and (last.expires_at, last.source, last.value_per_point) == (
            expires,
            source,
            value,
        ):
            parts[-1] = TransferIn(last.points + x, expires, source, value)
        else:
            parts.append(TransferIn(x, expires, source, value))
    return tuple(parts)


def transfer(
    src: PointsLedger,
    dst: PointsLedger,
    id: str,
    *,
    at: datetime,
    points: int,
    occurred_at: datetime | None = None,
    keep_expiry: bool = True,
) -> tuple[PointsLedger, PointsLedger]:
    """Move available points from ``src`` to ``dst``; returns ``(src, dst)``.

    The same ``id`` is recorded on both. The receiver keeps the sender's
    expiry dates (``keep_expiry=False``: its own policy from ``at``) and repays
    its debt first. Pending and held points cannot move.

    Raises:
        SameMember, InsufficientPoints, IdempotencyConflict, OutOfOrder.

    >>> from datetime import datetime, timezone
    >>> at = datetime(2024, 1, 5, tzinfo=timezone.utc)
    >>> a = PointsLedger.open("m-1").earn("e1", at=at, points=100)
    >>> a, b = transfer(a, PointsLedger.open("m-2"), "t1", at=at, points=40)
    >>> a.balance().available, b.balance().available, b.events[-1].source
    (60, 40, 'm-1')
    """
    if not isinstance(src, PointsLedger) or not isinstance(dst, PointsLedger):
        raise InvalidType("transfer needs two PointsLedger values", field="dst", value=dst)
    at_utc, occurred = _command(id, at, occurred_at)
    points = check_points(points)
    if type(keep_expiry) is not bool:
        raise InvalidType(
            f"keep_expiry={keep_expiry!r} must be a bool", field="keep_expiry", value=keep_expiry
        )
    if src.member == dst.member:
        raise SameMember(f"dst={dst.member!r} is the sender itself", field="dst", value=dst.member)
    new_src = src._run(TransferredOut, id, at_utc, occurred, dst.member, points, keep_expiry)
    parts = _transfer_parts(new_src, new_src._command_named(id))
    return new_src, dst._run(
        TransferredIn, id, at_utc, occurred, src.member, points, keep_expiry, parts
    )


def merge(
    into: PointsLedger,
    duplicate: PointsLedger,
    id: str,
    *,
    at: datetime,
    occurred_at: datetime | None = None,
) -> PointsLedger:
    """Fold a duplicate account into ``into``, every lot keeping its expiry.

    The duplicate's usable and pending points arrive as lots named
    ``"{id}/{lot}"``; its debt becomes ``into``'s debt (repaid at once from
    available points). The duplicate must have no open hold. The host closes
    the duplicate.

    Raises:
        SameMember, InvalidArgument (open holds), OutOfOrder.

    >>> from datetime import datetime, timezone
    >>> at = datetime(2024, 1, 5, tzinfo=timezone.utc)
    >>> dup = PointsLedger.open("m-dup").earn("e1", at=at, points=70)
    >>> merge(PointsLedger.open("m-1"), dup, "g1", at=at).lot("g1/e1").remaining
    70
    """
    if not isinstance(into, PointsLedger) or not isinstance(duplicate, PointsLedger):
        raise InvalidType(
            "merge needs two PointsLedger values", field="duplicate", value=duplicate
        )
    at_utc, occurred = _command(id, at, occurred_at)
    if into.member == duplicate.member:
        raise SameMember(
            f"duplicate={duplicate.member!r} is the same member",
            field="duplicate",
            value=duplicate.member,
        )
    if micros(at_utc) < duplicate._a[H_LAST]:
        raise OutOfOrder(
            f"at={at_utc.isoformat()} is earlier than the duplicate's last event",
            field="at",
            value=at_utc,
        )
    book = _read_at(duplicate, micros(at_utc))
    if book._open_holds:
        raise InvalidArgument(
            f"duplicate={duplicate.member!r} has open holds {sorted(book._open_holds)}",
            field="duplicate",
            value=duplicate.member,
        )
    lots = tuple(MergedLot.of(lot) for lot in book._lot_values(unspent=True))
    return into._run(Merged, id, at_utc, occurred, duplicate.member, lots, book._a[DEBT])


# -- plain data -------------------------------------------------------------


def _zone_name(tz: object) -> str:
    if isinstance(tz, str):
        zone(tz)
        return "UTC" if tz.upper() == "UTC" else tz
    if isinstance(tz, tzinfo):
        return serialize.converter.unstructure(tz, tzinfo)  # type: ignore[no-any-return]
    raise InvalidType(
        f"tz={tz!r} must be an IANA zone name, not {type_name(tz)}", field="tz", value=tz
    )


def event_to_data(event: PointsEvent) -> dict[str, object]:
    """Plain data of one event, tagged with its ``"type"`` (for an event store).

    >>> from datetime import datetime, timezone
    >>> at = datetime(2024, 1, 5, tzinfo=timezone.utc)
    >>> event_to_data(Redeemed("r1", at, at, 40, lots=(("e1", 40),)))["type"]
    'Redeemed'
    """
    if not isinstance(event, EVENT_TYPES):
        raise InvalidType(f"event={event!r} is not a points event", field="event", value=event)
    data: dict[str, object] = serialize.converter.unstructure(event, PointsEvent)
    return data


def event_from_data(data: object) -> PointsEvent:
    """The event made by :func:`event_to_data` (strict: bad data raises InvalidData).

    >>> from datetime import datetime, timezone
    >>> at = datetime(2024, 1, 5, tzinfo=timezone.utc)
    >>> event = Earned("e1", at, at, 100)
    >>> event_from_data(event_to_data(event)) == event
    True
    """
    result: PointsEvent = serialize.structure(data, PointsEvent, what="points event")  # type: ignore[arg-type]
    return result


def _from_events(events: tuple[PointsEvent, ...]) -> PointsLedger:
    return PointsLedger.replay(events)


def _unstructure_ledger(ledger: PointsLedger) -> dict[str, Any]:
    return {"events": serialize.converter.unstructure(ledger.events, tuple[PointsEvent, ...])}


def _structure_ledger(data: Any, _: Any) -> PointsLedger:
    """The ledger of a document's ``data``: its history, replayed.

    Problems are raised as cattrs validation errors whose leaves carry their
    place, so the document's error names each path once
    (``$.data.events[3].reason``).
    """
    if not isinstance(data, dict):
        raise InvalidType(f"{data!r} must be an object with events", field="data", value=data)
    problems: list[Exception] = []
    extra = set(data) - {"events"}
    if extra:
        problems.append(ForbiddenExtraKeysError("", PointsLedger, extra))
    events = data.get("events")
    if "events" not in data:
        problems.append(_placed(KeyError("events"), "events"))
    elif not isinstance(events, list):
        problem = InvalidType(
            f"{events!r} must be a list of events, not {type_name(events)}",
            field="events",
            value=events,
        )
        problems.append(_placed(problem, "events"))
    else:
        try:
            history = serialize.converter.structure(events, tuple[PointsEvent, ...])
        except (BaseValidationError, LoyaltyError, ValueError, TypeError) as exc:
            problems.append(_placed(exc, "events"))
    if problems:
        raise ClassValidationError("While structuring PointsLedger", problems, PointsLedger)
    try:
        return PointsLedger.replay(history)
    except InvalidData as exc:
        index, reason = getattr(exc, "index", None), getattr(exc, "problem", None)
        if index is None or reason is None:
            raise
        leaf = InvalidData(reason, errors=exc.errors)
        leaf.add_note(IterableValidationNote(f"Structuring event @ index {index}", index, Any))
        at = IterableValidationError("While structuring events", [leaf], tuple)
        raise ClassValidationError(
            "While structuring PointsLedger", [_placed(at, "events")], PointsLedger
        ) from None


def _placed(exc: BaseException, name: str) -> Exception:
    """``exc`` noted as the problem of the ledger document's key ``name``."""
    exc.add_note(AttributeValidationNote(f"Structuring PointsLedger @ {name}", name, Any))
    assert isinstance(exc, Exception)
    return exc


def _check_tagged(conv: Any, union: Any, classes: dict[str, type[Any]]) -> None:
    """Make the converter name a tagged value that is not an object, or whose
    ``type`` tag is missing or unknown, at that value's path."""
    base = conv.get_structure_hook(union)

    def hook(data: Any, type_: Any) -> Any:
        if not isinstance(data, dict):
            raise InvalidType(
                f"{data!r} must be an object with a 'type', not {type_name(data)}",
                field="data",
                value=data,
            )
        tag = data.get("type", _MISSING)
        if tag not in classes:
            problem: Exception = KeyError("type")
            if tag is not _MISSING:
                problem = InvalidArgument(
                    f"type={tag!r} must be one of {sorted(classes)}", field="type", value=tag
                )
            problem.add_note(AttributeValidationNote("Structuring @ type", "type", str))
            raise ClassValidationError("While structuring a tagged value", [problem], dict)
        return base(data, type_)

    conv.register_structure_hook(union, hook)


_MISSING: Final = object()


def _require_every_key(conv: Any, cls: type[Any]) -> None:
    """Make the converter refuse plain data of ``cls`` that leaves out a field.

    The writer writes every field, so a missing key is damage, not a default:
    a field with a default is reported like a field without one (``required
    field missing``), in field order with the other problems of the object.
    """
    base = conv.get_structure_hook(cls)
    order = {field.name: k for k, field in enumerate(attrs.fields(cls))}
    defaulted = [field for field in attrs.fields(cls) if field.default is not attrs.NOTHING]

    def where(exc: BaseException) -> int:
        notes = getattr(exc, "__notes__", ())
        names = [n.name for n in notes if isinstance(n, AttributeValidationNote)]
        return order.get(names[-1], len(order)) if names else len(order)

    def hook(data: Any, type_: Any) -> Any:
        found: list[Exception] = []
        if isinstance(data, dict):
            for field in defaulted:
                if field.name not in data:
                    exc = KeyError(field.name)
                    exc.add_note(
                        AttributeValidationNote(
                            f"Structuring class {cls.__qualname__} @ attribute {field.name}",
                            field.name,
                            field.type,
                        )
                    )
                    found.append(exc)
        try:
            value = base(data, type_)
        except ClassValidationError as exc:
            found += exc.exceptions
        if found:
            found.sort(key=where)
            raise ClassValidationError(f"While structuring {cls.__name__}", found, cls)
        return value

    conv.register_structure_hook(cls, hook)


def _with_defaults(data: Any, classes: dict[str, type[Any]]) -> Any:
    """A tagged value of one of ``classes`` with each left-out field's default."""
    tag = data.get("type") if isinstance(data, dict) else None
    if not isinstance(tag, str) or tag not in classes:
        return data  # left for the strict loader to refuse, naming the path
    filled = dict(data)
    for field in attrs.fields(classes[data["type"]]):
        if field.name not in filled and field.default is not attrs.NOTHING:
            filled[field.name] = serialize.converter.unstructure(field.default)
    if isinstance(filled.get("policy"), dict):
        filled["policy"] = _with_defaults(filled["policy"], _POLICY_CLASSES)
    return filled


_POLICY_CLASSES: Final = {cls.__name__: cls for cls in POLICY_TYPES}
_EVENT_CLASSES: Final = {cls.__name__: cls for cls in EVENT_TYPES}


def _upgrade_v1(data: Any) -> Any:
    """Version 1 to 2: the same document, where version 1 read a left-out key
    of an event or policy as its default; version 2 requires every key."""
    if isinstance(data, dict) and isinstance(data.get("events"), list):
        events = [_with_defaults(event, _EVENT_CLASSES) for event in data["events"]]
        for event, given in zip(events, data["events"], strict=True):
            if isinstance(given, dict) and "tzdata" not in given and event is not given:
                event.pop("tzdata", None)  # (a version 3 key: the next upgrade sets it)
        return {**data, "events": events}
    return data


#: Version 2's nested values: the keys version 3 added, with their defaults.
_NESTED_V3: Final = {
    ("TransferredIn", "parts"): {"source": "transfer", "value_per_point": None},
    ("Merged", "lots"): {"source": "purchase", "value_per_point": None},
}


def _upgrade_v2(data: Any) -> Any:
    """Version 2 to 3: lots gain a source and a value per point, redemptions
    the sources they consumed, commands their derived effects, and Opened the
    zone data version.

    Version 2 recorded no effects: they are derived here, by replaying the
    history as live commands would, with the bundled zone data; ``tzdata``
    says ``"upgraded"``. Earned lots are purchases, lots received by a
    transfer ``"transfer"``, merged lots purchases; no value per point. A
    history that does not replay keeps the defaults, for the loader to
    refuse naming the event.
    """
    if not isinstance(data, dict) or not isinstance(data.get("events"), list):
        return data
    events: list[Any] = []
    for event in data["events"]:
        if isinstance(event, dict):
            event = dict(event)
            if event.get("type") == "Opened":
                event.setdefault("tzdata", TZDATA_UPGRADED)
            for (tag, key), added in _NESTED_V3.items():
                if event.get("type") == tag and isinstance(event.get(key), list):
                    event[key] = [
                        {**added, **item} if isinstance(item, dict) else item
                        for item in event[key]
                    ]
        events.append(_with_defaults(event, _EVENT_CLASSES))
    filled = {**data, "events": events}
    try:
        history = list(serialize.converter.structure(events, tuple[PointsEvent, ...]))
        replay(history, step=_derived_effects(history), derive=True)
    except (BaseValidationError, LoyaltyError, ValueError, TypeError, LookupError):
        return filled
    return {**data, "events": serialize.converter.unstructure(history, list[PointsEvent])}


def _derived_effects(history: list[Any]) -> Any:
    """A replay step writing the effects the engine derived into ``history``."""

    def at(us: int) -> datetime | None:
        return None if us == NEVER else instant(us)

    def step(i: int, book: Any) -> None:
        ev = history[i]
        kind = type(ev)
        changes: dict[str, Any] = {}
        lot = {
            Earned: ev.id if kind is Earned else None,
            Adjusted: ev.id if kind is Adjusted and ev.points > 0 else None,
            TransferredIn: f"{ev.id}#0" if kind is TransferredIn and not ev.keep_expiry else None,
            RedemptionCancelled: f"{ev.id}:grace"
            if kind is RedemptionCancelled and ev.grace
            else None,
        }.get(kind)
        if lot is not None:
            r, b = book._row(book.lotix[lot])
            changes["lot_expires_at"] = at(r[b + EXPIRES])
        if kind in (Earned, Redeemed, Captured, Adjusted):
            changes["inactivity_deadline"] = at(book._a[H_DEADLINE])
        if kind in (Redeemed, Captured):
            flat = [x for name, points in ev.lots for x in (book.lotix[name], points)]
            total = sum(points for _, points in ev.lots)
            changes["sources"] = book.sources_of(flat) or (("purchase", total),)
        if changes:
            history[i] = attrs.evolve(ev, **changes)

    return step


def _register() -> None:
    conv = serialize.converter
    for policy in POLICY_TYPES:  # (each union takes its members' hooks as they are)
        _require_every_key(conv, policy)
    configure_tagged_union(
        ExpiryPolicy,
        conv,
        tag_name="type",
        tag_generator=lambda cl: cl.__name__,
    )
    _check_tagged(conv, ExpiryPolicy, _POLICY_CLASSES)
    for event in EVENT_TYPES:
        _require_every_key(conv, event)
    configure_tagged_union(
        PointsEvent,
        conv,
        tag_name="type",
        tag_generator=lambda cl: cl.__name__,
    )
    _check_tagged(conv, PointsEvent, _EVENT_CLASSES)
    conv.register_unstructure_hook(PointsLedger, _unstructure_ledger)
    conv.register_structure_hook(PointsLedger, _structure_ledger)
    serialize.register_document(
        PointsLedger, "points.PointsLedger", 3, upgraders={1: _upgrade_v1, 2: _upgrade_v2}
    )


_register()

publish(__name__, __all__, globals())

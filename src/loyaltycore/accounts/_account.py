"""One member's account under one program: a command in, one outcome out.

Every command follows the same three steps:

1. check the inputs (a bad one raises a ``LoyaltyError`` naming the field and
   changes nothing), then look the id up: a retry with the same canonical
   payload returns the stored outcome, another payload raises
   ``IdempotencyConflict`` naming the first differing field;
2. decide: run the points-ledger commands, the rules and the tier program
   on the account as it is, and describe every effect in one
   :class:`AccountEvent`;
3. apply the event (:meth:`Account._evolve`), the one place the state
   changes. Replay applies the same events to an opened account, so live
   state and replayed state are the same function of the events.

Posting time is ``max(at, last posted)``: app servers' clocks differ, so a
command a little "earlier" than the last one is posted with it instead of
being refused; ``occurred_at`` (default: the caller's ``at``) stays the
business time the rules, the expiry and the tier windows read.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping, MutableMapping
from datetime import datetime, timedelta
from decimal import Decimal
from operator import attrgetter
from typing import Any, Final, NamedTuple

import attrs

from loyaltycore import serialize
from loyaltycore._validate import check_id, check_points, check_str, to_decimal, type_name
from loyaltycore.accounts import _orders, _payload, _points, _snapshot, _tiers
from loyaltycore.accounts._log import Log
from loyaltycore.accounts._program import Program, currency_code
from loyaltycore.accounts._values import (
    Absorbed,
    AccountEvent,
    Award,
    HoldRecord,
    LedgerOp,
    OrderRecord,
    Outcome,
    Payload,
    Profile,
    ProgramRef,
    Seen,
    StoredEvaluation,
    Tender,
    TierOp,
    shared,
)
from loyaltycore.calendar import to_utc
from loyaltycore.errors import (
    DuplicateId,
    HoldAlreadyResolved,
    HoldExpired,
    IdempotencyConflict,
    InvalidArgument,
    InvalidData,
    InvalidPoints,
    InvalidTime,
    InvalidType,
    NotFound,
    OverReversal,
    SameMember,
    UnknownHold,
)
from loyaltycore.points import Balance, PointsLedger
from loyaltycore.points import merge as merge_ledgers
from loyaltycore.points import transfer as transfer_ledgers
from loyaltycore.predicates import FrozenMap, Item, Member
from loyaltycore.rules import POINTS, Evaluation
from loyaltycore.tiers import Activity, ActivityIndex, TierStatus

Resolver = Callable[[str, int], Program]
#: What answers for commands past the idempotency window (a store's outcomes, by id).
Recall = Callable[[str], Seen | None]
_LIFETIME: Final = tuple(f.name for f in attrs.fields(Balance))[4:]
_TIER_COMMANDS: Final = frozenset({"order", "refund", "review", "merge_in", "migrate"})


class Applied(NamedTuple):
    """The result of a command: the new account and the command's outcome.

    >>> from datetime import datetime, timezone
    >>> from loyaltycore.accounts import Account, example_program
    >>> at = datetime(2024, 5, 1, tzinfo=timezone.utc)
    >>> account, outcome = Account.open("ann", program=example_program(), at=at).adjust(
    ...     "a-1", at=at, points=50, reason="welcome")
    >>> account.version, outcome.earned
    (2, 50)
    """

    account: Account
    outcome: Outcome


#: (accounts pickled before the log kept compact events name this class)
_Log = Log


class _Cmd(NamedTuple):
    """A checked command about to be decided."""

    name: str
    id: str
    at: datetime  # the posting time
    occurred: datetime  # the business time
    payload: Payload
    version: int

    def lid(self, k: int) -> str:
        """The id of the command's ``k``-th points-ledger command (never reused)."""
        return f"{self.version}.{k}"


def _resolver(programs: object) -> Resolver:
    """A resolver from a Program, programs, a mapping by (id, version) or a callable."""
    if isinstance(programs, Program):
        return _resolver((programs,))
    if callable(programs):
        return programs
    if isinstance(programs, Mapping):
        found = dict(programs)
    elif isinstance(programs, Iterable) and not isinstance(programs, str | bytes):
        found = {}
        for p in programs:
            if not isinstance(p, Program):
                raise InvalidType(f"programs item {p!r} must be a Program", field="programs")
            found[p.key] = p
    else:
        raise InvalidType(
            f"programs={programs!r} must be a Program, programs or a resolver",
            field="programs",
            value=programs,
        )

    def resolve(program_id: str, version: int) -> Program:
        try:
            return found[(program_id, version)]  # type: ignore[no-any-return]
        except KeyError:
            raise NotFound(
                f"program {program_id!r} version {version} is not among the programs given",
                field="programs",
                value=(program_id, version),
            ) from None

    return resolve


def _add(base: Mapping[str, int], delta: Mapping[str, int]) -> dict[str, int]:
    out = dict(base.items())  # (a FrozenMap's items are its dict's: no per-key lookup)
    for key, value in delta.items():
        total = out.get(key, 0) + value
        if total > 0:
            out[key] = total
        else:
            out.pop(key, None)
    return out


def _plus(a: Balance, b: Balance, sign: int = 1) -> Balance:
    """``a`` with ``b``'s lifetime totals added (``sign=-1``: taken away)."""
    return Balance(
        *(
            getattr(a, f.name) + sign * getattr(b, f.name)
            if f.name in _LIFETIME
            else getattr(a, f.name)
            for f in attrs.fields(Balance)
        )
    )


def _utc(value: object, name: str) -> datetime:
    return to_utc(value, name)


def _optional_str(value: object, name: str) -> str | None:
    return None if value is None else check_id(value, name)


#: The default discount, as ``to_decimal(0)`` makes it (Decimals are immutable: one serves).
_NO_DISCOUNT: Final[Decimal] = Decimal(0)

#: An empty map (one shared value, so an order's event, member and record do not each make
#: one: no attributes, nothing refunded or decremented yet).
_NO_ATTRIBUTES: Final[FrozenMap[Any]] = FrozenMap()


def _attrs_map(value: object) -> Mapping[str, Any]:
    """An order's attributes, checked as the rules' event checks them."""
    if value is None or (type(value) is dict and not value):
        return _NO_ATTRIBUTES
    attributes: Mapping[str, Any] = Member("order", attributes=value).attributes
    return attributes


@attrs.frozen(eq=False, repr=False)
class Account:
    """One member's account under one program: points, tier, counters, outcomes.

    Open one with :meth:`open`; rebuild one with :meth:`replay` (from its
    events) or :meth:`restore` (from a snapshot and the events after it).
    Every command takes an ``id`` and a posting time ``at`` and returns
    :class:`Applied` ``(account, outcome)``; the account it was called on is
    unchanged. A retried command (same id, same canonical payload) returns
    its stored outcome and the same account. Equality compares the state,
    not the history or the budgets a store lent.

    Attributes:
        member: the member id.
        program: the program in force.
        version: one more per applied command (1 when opened).
        ledger: the points ledger (bounded: see ``docs/accounts.md``).
        status: the tier status, as of the last order, refund or review.
        activity: the qualifying activity a tier decision may still read.
        counters: the rule counters (limits, ``purchases``).
        caps: points used per member-wide cap and period.
        outcomes: the commands within the idempotency window, by id.
        orders: the orders kept for refunds, by id.
        holds: holds placed through the account, by hold id.
        profile: the personal facts the rules read (never in events).

    >>> from datetime import datetime, timezone
    >>> from loyaltycore.predicates import Item
    >>> at = datetime(2024, 5, 6, 8, tzinfo=timezone.utc)
    >>> account = Account.open("ann", program=example_program(), at=at)
    >>> account, outcome = account.order("o-1", at=at, lines=[Item("latte", unit_price="4.50")])
    >>> outcome.earned, account.balance().available, account.tier
    (45, 45, 'silver')
    >>> account.order("o-1", at=at, lines=[Item("latte", unit_price="4.50")]).outcome is outcome
    True
    """

    member: str
    program: Program
    version: int
    ledger: PointsLedger
    status: TierStatus
    #: (None: the entries of ``_tally``, made into values on first need)
    _activity: tuple[Activity, ...] | None
    counters: FrozenMap[int]
    caps: Mapping[str, int]
    outcomes: Mapping[str, Seen]
    orders: Mapping[str, OrderRecord]
    holds: Mapping[str, HoldRecord]
    programs: Mapping[tuple[str, int], Program]
    joined_at: datetime
    last_at: datetime
    offset: Balance
    merged_into: str | None = None
    absorbed: tuple[str, ...] = ()
    ledger_ops: int = 0
    rotate_at: int = 256
    profile: Profile | None = None
    _log: Log | None = attrs.field(default=None)
    _budgets: Mapping[str, int] = attrs.field(factory=dict)
    _recall: Recall | None = attrs.field(default=None)
    #: ``activity`` indexed for the tier program (built on first need; not state)
    _tally: ActivityIndex | None = attrs.field(default=None)

    __hash__ = None  # type: ignore[assignment]

    def _state(self) -> tuple[Any, ...]:
        return (
            self.member,
            self.program.key,
            self.version,
            self.ledger,
            self.status,
            self.activity,
            dict(self.counters),
            dict(self.caps),
            dict(self.outcomes),
            dict(self.orders),
            dict(self.holds),
            sorted(self.programs),
            self.joined_at,
            self.last_at,
            self.offset,
            self.merged_into,
            self.absorbed,
            self.ledger_ops,
            self.rotate_at,
            self.profile,
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Account):
            return NotImplemented
        return self._state() == other._state()

    @property
    def activity(self) -> tuple[Activity, ...]:
        """The qualifying activity a tier decision may still read, oldest posted first.

        >>> from datetime import datetime, timezone
        >>> from loyaltycore.predicates import Item
        >>> at = datetime(2024, 5, 6, 8, tzinfo=timezone.utc)
        >>> a = Account.open("ann", program=example_program(), at=at)
        >>> a = a.order("o-1", at=at, lines=[Item("latte", unit_price="4.50")]).account
        >>> [(x.metric, x.amount, x.source_id) for x in a.activity]
        [('spend', Decimal('4.50'), 'o-1:spend')]
        """
        items = self._activity
        if items is None:
            assert self._tally is not None
            items = self._tally.activity
            object.__setattr__(self, "_activity", items)
        return items

    def _indexed(self) -> ActivityIndex:
        """The activity with running totals, so a tier check does not rescan it."""
        tally = self._tally
        if tally is None:
            tally = self.program.tiers.index(self.activity)
            object.__setattr__(self, "_tally", tally)
        return tally

    def __repr__(self) -> str:
        b = self.ledger.balance()
        return (
            f"Account(member={self.member!r}, program={self.program.id!r}@{self.program.version}, "
            f"version={self.version}, available={b.available}, tier={self.tier!r})"
        )

    # -- construction ---------------------------------------------------------------

    @classmethod
    def open(
        cls, member: str, *, program: Program, at: datetime, profile: Profile | None = None
    ) -> Account:
        """A new account for ``member``, joining ``program`` at ``at`` (version 1).

        Raises:
            InvalidArgument, InvalidType: a bad member id, program, time or profile.

        >>> from datetime import datetime, timezone
        >>> at = datetime(2024, 5, 6, tzinfo=timezone.utc)
        >>> account = Account.open("ann", program=example_program(), at=at)
        >>> account.version, account.tier, [e.command for e in account.events]
        (1, 'silver', ['open'])
        """
        check_id(member, "member")
        if not isinstance(program, Program):
            raise InvalidType(
                f"program={program!r} must be a Program, not {type_name(program)}",
                field="program",
                value=program,
            )
        at_utc = _utc(at, "at")
        if profile is not None and not isinstance(profile, Profile):
            raise InvalidType(
                f"profile={profile!r} must be a Profile, not {type_name(profile)}",
                field="profile",
                value=profile,
            )
        payload = Payload({"command": "open", "member": member, "program": program.key})
        ref = ProgramRef(*program.key)
        outcome = Outcome("open", "", 1, at_utc, at_utc, tier=program.tiers.names[0])
        event = AccountEvent(1, "open", "", at_utc, at_utc, payload, outcome, program=ref)
        return _opened(event, member, program, profile)

    @classmethod
    def replay(
        cls,
        events: Iterable[AccountEvent],
        *,
        programs: Program | Iterable[Program] | Resolver,
        profile: Profile | None = None,
    ) -> Account:
        """Rebuild an account from all its events, oldest first.

        Args:
            events: the account's events, starting with its ``open``.
            programs: the program of each ``(id, version)`` the events name:
                a :class:`Program`, several, or a resolver
                ``(program_id, version) -> Program`` (a migration changes
                programs mid-history).
            profile: the member's profile (kept outside the events).

        Raises:
            InvalidData: the events do not start with an open or skip a version.

        >>> from datetime import datetime, timezone
        >>> at = datetime(2024, 5, 6, tzinfo=timezone.utc)
        >>> p = example_program()
        >>> account = Account.open("ann", program=p, at=at).adjust(
        ...     "a-1", at=at, points=50, reason="welcome").account
        >>> Account.replay(account.events, programs=p) == account
        True
        """
        resolve = _resolver(programs)
        items = iter(events)
        first = next(items, None)
        if not isinstance(first, AccountEvent) or first.command != "open":
            raise InvalidData.from_messages(
                ["the first event must be an open @ $.events[0]"], what="account history"
            )
        assert first.program is not None
        opened_member = _payload_member(first.payload.text)
        account = _opened(first, opened_member, resolve(*first.program.key), profile)
        return account.apply(items, programs=resolve)

    def apply(
        self, events: Iterable[AccountEvent], *, programs: Program | Iterable[Program] | Resolver
    ) -> Account:
        """The account after ``events``, the ones that follow its version.

        Raises:
            InvalidData: an event is not the next version.

        >>> from datetime import datetime, timezone
        >>> at = datetime(2024, 5, 6, tzinfo=timezone.utc)
        >>> p = example_program()
        >>> start = Account.open("ann", program=p, at=at)
        >>> later = start.adjust("a-1", at=at, points=50, reason="welcome").account
        >>> start.apply(later.events[1:], programs=p) == later
        True
        """
        resolve = programs if callable(programs) else _resolver(programs)
        account = self
        for i, event in enumerate(events):
            if not isinstance(event, AccountEvent) or event.version != account.version + 1:
                got = getattr(event, "version", type_name(event))
                raise InvalidData.from_messages(
                    [f"expected version {account.version + 1}, got {got} @ $.events[{i}]"],
                    what="account history",
                )
            account = account._evolve(event, resolve)
        return account

    def snapshot(self) -> dict[str, object]:
        """The account's state as a versioned plain-data document (no history, no profile).

        Its size follows the member's recent activity, not the length of
        the history; :meth:`restore` reads it back.

        >>> from datetime import datetime, timezone
        >>> at = datetime(2024, 5, 6, tzinfo=timezone.utc)
        >>> a = Account.open("ann", program=example_program(), at=at)
        >>> doc = a.adjust("a-1", at=at, points=50, reason="welcome").account.snapshot()
        >>> doc["schema"], doc["version"], doc["data"]["version"]
        ('accounts.Snapshot', 3, 2)
        """
        data = _snapshot.SnapshotData(
            self.member,
            self.version,
            ProgramRef(*self.program.key),
            tuple(ProgramRef(*key) for key in self.programs),
            self.ledger.state(packed=True),
            self.offset,
            self.status,
            self._indexed().rows(),
            dict(self.counters),
            dict(self.caps),
            _snapshot.texts(self.outcomes),
            _snapshot.texts(self.orders),
            dict(self.holds),
            self.joined_at,
            self.last_at,
            self.merged_into,
            self.absorbed,
            self.ledger_ops,
            self.rotate_at,
        )
        return serialize.to_data(data)

    @classmethod
    def restore(
        cls,
        snapshot: Mapping[str, object],
        events_after: Iterable[AccountEvent] = (),
        *,
        programs: Program | Iterable[Program] | Resolver,
        profile: Profile | None = None,
    ) -> Account:
        """The account of a :meth:`snapshot`, with the events after it applied.

        Its cost follows the snapshot's size and the events after it, never
        the history before the snapshot.

        Raises:
            InvalidData, SchemaVersionError: a bad or unknown snapshot document.

        >>> from datetime import datetime, timezone
        >>> at = datetime(2024, 5, 6, tzinfo=timezone.utc)
        >>> p = example_program()
        >>> a = Account.open("ann", program=p, at=at).adjust("a-1", at=at, points=50,
        ...                                                  reason="welcome").account
        >>> b = a.redeem("r-1", at=at, points=20).account
        >>> Account.restore(a.snapshot(), b.events_since(a.version), programs=p) == b
        True
        """
        resolve = _resolver(programs)
        data = _snapshot.read(snapshot)
        program = resolve(*data.program.key)
        tally = program.tiers.index_from_rows(data.activity, path="$.data.activity")
        account = Account(
            member=data.member,
            program=program,
            version=data.version,
            ledger=_snapshot.ledger_of(data.ledger),
            status=data.status,
            activity=None,
            counters=FrozenMap(data.counters),
            caps=data.caps,
            outcomes=_snapshot.stored(data.outcomes, Seen, "outcomes"),
            orders=_snapshot.stored(data.orders, OrderRecord, "orders"),
            holds=data.holds,
            programs={p.key: resolve(*p.key) for p in (data.program, *data.programs)},
            tally=tally,
            joined_at=data.joined_at,
            last_at=data.last_at,
            offset=data.offset,
            merged_into=data.merged_into,
            absorbed=data.absorbed,
            ledger_ops=data.ledger_ops,
            rotate_at=data.rotate_at,
            profile=profile,
        )
        return account.apply(events_after, programs=resolve)

    # -- queries --------------------------------------------------------------------

    @property
    def tier(self) -> str:
        """The effective tier, as of the last order, refund or review.

        >>> from datetime import datetime, timezone
        >>> Account.open("ann", program=example_program(),
        ...              at=datetime(2024, 5, 6, tzinfo=timezone.utc)).tier
        'silver'
        """
        return self.status.tier

    @property
    def events(self) -> tuple[AccountEvent, ...]:
        """The events since the account was opened (or restored), oldest first.

        >>> from datetime import datetime, timezone
        >>> at = datetime(2024, 5, 6, tzinfo=timezone.utc)
        >>> account = Account.open("ann", program=example_program(), at=at)
        >>> account = account.adjust("a-1", at=at, points=5, reason="welcome").account
        >>> [(e.version, e.command) for e in account.events]
        [(1, 'open'), (2, 'adjust')]
        """
        log = self._log
        return () if log is None else tuple(log.newest(log.size))

    def events_since(self, version: int) -> tuple[AccountEvent, ...]:
        """The events after ``version`` (what a store appends after a command).

        >>> from datetime import datetime, timezone
        >>> at = datetime(2024, 5, 6, tzinfo=timezone.utc)
        >>> a = Account.open("ann", program=example_program(), at=at)
        >>> b = a.adjust("a-1", at=at, points=5, reason="x").account
        >>> [e.command for e in b.events_since(a.version)]
        ['adjust']
        """
        count = self.version - version
        if count <= 0 or self._log is None:
            return ()
        return tuple(self._log.newest(count))

    def without_events(self) -> Account:
        """This account without the events it keeps, once they are stored.

        An account keeps every event since it was opened or restored, so
        that :attr:`events` and :meth:`events_since` can answer; one held in
        memory across many commands grows with each. After storing them, a
        host keeps this instead: the same account (equal, same state), whose
        :attr:`events` starts again empty and whose :meth:`events_since`
        answers for the commands that follow. The stores do this with every
        account they remember.

        >>> from datetime import datetime, timezone
        >>> at = datetime(2024, 5, 6, tzinfo=timezone.utc)
        >>> a = Account.open("ann", program=example_program(), at=at)
        >>> a = a.adjust("a-1", at=at, points=5, reason="x").account.without_events()
        >>> a.events, a.balance().available
        ((), 5)
        >>> b = a.adjust("a-2", at=at, points=5, reason="y").account
        >>> [e.command for e in b.events_since(a.version)]
        ['adjust']
        """
        return self if self._log is None else _replaced(self, "_log", None)

    def balance(self) -> Balance:
        """Available, pending, held and debt now, with lifetime totals since opening.

        Lifetime totals include the ledgers this account carried forward
        (a migration, the bounded ledger); the identity of
        :class:`~loyaltycore.points.Balance` holds.

        >>> from datetime import datetime, timezone
        >>> at = datetime(2024, 5, 6, tzinfo=timezone.utc)
        >>> a = Account.open("ann", program=example_program(), at=at)
        >>> a.adjust("a-1", at=at, points=5, reason="x").account.balance().adjusted_in
        5
        """
        return _plus(self.ledger.balance(), self.offset)

    def with_profile(self, profile: Profile | None) -> Account:
        """The same account with another profile (no command, no event, same version).

        >>> from datetime import date, datetime, timezone
        >>> a = Account.open("ann", program=example_program(),
        ...                  at=datetime(2024, 5, 6, tzinfo=timezone.utc))
        >>> a.with_profile(Profile(birthday=date(1990, 5, 17))).profile.birthday.month
        5
        """
        if profile is not None and not isinstance(profile, Profile):
            raise InvalidType(
                f"profile={profile!r} must be a Profile, not {type_name(profile)}",
                field="profile",
                value=profile,
            )
        return self if profile is self.profile else _replaced(self, "profile", profile)

    def with_budgets(self, used: Mapping[str, int]) -> Account:
        """The same account reading these program budgets (a store lends them; not state).

        >>> from datetime import datetime, timezone
        >>> a = Account.open("ann", program=example_program(),
        ...                  at=datetime(2024, 5, 6, tzinfo=timezone.utc))
        >>> a.with_budgets({"launch": 10}) == a
        True
        """
        if not isinstance(used, Mapping):
            raise InvalidType(f"used={used!r} must be a mapping", field="used", value=used)
        return attrs.evolve(self, budgets=dict(used))

    def with_recall(self, recall: Recall | None) -> Account:
        """The same account answering retries from ``recall`` past its idempotency window.

        The account keeps the outcomes of its recent commands only (the
        program's ``retry_count`` and ``retry_days``); a store keeps every
        outcome. ``recall(id)`` returns the stored :class:`Seen` of a command
        id, or None. A command whose id the window has forgotten asks it: the
        same payload is a retry and returns the stored outcome; another
        payload raises :class:`~loyaltycore.errors.IdempotencyConflict`, so
        with a store an id is never used twice, at any age. A store lends it
        for one command; the accounts that command returns do not keep it.

        >>> from datetime import datetime, timezone
        >>> at = datetime(2024, 5, 6, tzinfo=timezone.utc)
        >>> a = Account.open("ann", program=example_program(), at=at)
        >>> old = a.adjust("a-1", at=at, points=5, reason="hi")
        >>> seen = old.account.outcomes["a-1"]
        >>> lent = a.with_recall({"a-1": seen}.get)
        >>> lent.adjust("a-1", at=at, points=5, reason="hi").account.version  # a retry
        1
        >>> lent == a
        True
        """
        if recall is not None and not callable(recall):
            raise InvalidType(f"recall={recall!r} must be callable", field="recall", value=recall)
        return _replaced(self, "_recall", recall)

    def member_value(self) -> Member:
        """The rules' view of the member now (profile facts, tier, counters).

        >>> from datetime import datetime, timezone
        >>> a = Account.open("ann", program=example_program(),
        ...                  at=datetime(2024, 5, 6, tzinfo=timezone.utc))
        >>> a.member_value().tier
        'silver'
        """
        return self._member(self.status.tier)

    def _member(self, tier: str) -> Member:
        p = self.profile
        if p is None:
            return Member(
                self.member,
                joined_at=self.joined_at,
                tier=tier,
                counters=self.counters,
                attributes=_NO_ATTRIBUTES,
            )
        return Member(
            self.member,
            joined_at=self.joined_at,
            birthday=p.birthday,
            tier=tier,
            segments=p.segments,
            attributes=p.attributes,
            counters=self.counters,
        )

    # -- the command frame ----------------------------------------------------------

    def _start(
        self, name: str, id: object, at: object, occurred_at: object, payload: dict[str, Any]
    ) -> _Cmd | Applied:
        """Check the id and times; a retry's stored outcome, or the command to decide."""
        cid = check_id(id)
        at_utc = _utc(at, "at")
        occurred = at_utc if occurred_at is None else _utc(occurred_at, "occurred_at")
        if occurred > at_utc:
            raise InvalidTime(
                f"occurred_at={occurred_at!r} must not be after at={at!r}",
                field="occurred_at",
                value=occurred_at,
            )
        if occurred < self.joined_at:
            if occurred_at is not None:
                raise InvalidTime(
                    f"occurred_at={occurred.isoformat()} is before the account was opened "
                    f"at {self.joined_at.isoformat()}",
                    field="occurred_at",
                    value=occurred_at,
                )
            occurred = self.joined_at  # (a clock a little behind the one that opened it)
        body = {"command": name, **payload}
        if occurred_at is not None:
            body["occurred_at"] = occurred
        given = Payload(body)
        seen = self.outcomes.get(cid)
        if seen is None and self._recall is not None:
            seen = self._recall(cid)
        if seen is not None:
            if seen.payload == given:
                return Applied(self, seen.outcome)
            raise _conflict(cid, seen.payload.text, given.text)
        if self.merged_into is not None:
            raise InvalidArgument(
                f"account {self.member!r} was merged into {self.merged_into!r}; "
                "send its commands there",
                field="member",
                value=self.member,
            )
        posted = at_utc if at_utc > self.last_at else self.last_at
        return _Cmd(name, cid, posted, occurred, given, self.version + 1)

    def _finish(
        self,
        cmd: _Cmd,
        ledger: PointsLedger,
        ops: tuple[LedgerOp, ...],
        *,
        status: TierStatus | None = None,
        resolve: Resolver | None = None,
        tally: ActivityIndex | None = None,
        **parts: Any,
    ) -> Applied:
        """Build the outcome and the event, and apply it (``tally``: the activity after it)."""
        fields = {
            k: parts.pop(k)
            for k in (
                "earned",
                "redeemed",
                "clawed_back",
                "returned",
                "uncollected",
                "expired",
                "lines",
                "emitted",
                "budgets",
                "note",
            )
            if k in parts
        }
        after = status if status is not None else self.status
        b = ledger.balance()
        outcome = Outcome(
            cmd.name,
            cmd.id,
            cmd.version,
            cmd.at,
            cmd.occurred,
            available=b.available,
            pending=b.pending,
            held=b.held,
            debt=b.debt,
            tier=after.tier,
            counters=dict(parts.get("counters", {})),
            change=_tiers.change(self.program.tiers, self.status.tier, after.tier)
            if parts.get("program") is None
            else "retain",
            **fields,
        )
        event = AccountEvent(
            cmd.version, cmd.name, cmd.id, cmd.at, cmd.occurred, cmd.payload, outcome, ops, **parts
        )
        account = self._evolve(
            event, resolve or _no_programs, ledger=ledger, status=status, tally=tally
        )
        return Applied(account, outcome)

    # -- commands -------------------------------------------------------------------

    def order(
        self,
        id: str,
        *,
        at: datetime,
        lines: Iterable[Item] = (),
        amount: Decimal | str | int | None = None,
        tenders: Iterable[Tender] = (),
        currency: str | None = None,
        rate: Decimal | str | int | None = None,
        discount: Decimal | str | int = 0,
        channel: str | None = None,
        store: str | None = None,
        attributes: Mapping[str, object] | None = None,
        occurred_at: datetime | None = None,
    ) -> Applied:
        """One checkout: price it, take the points tendered, earn, count activity, check the tier.

        The rules evaluate the order with the member's tier and counters as
        they were before it; the points tendered are redeemed first and earn
        nothing; member-wide caps cut the awards; the qualifying spend (what
        the rules found eligible) and tier-metric awards go to the tier
        program; the evaluation is kept for refunds. Awards for another
        member (a referrer) come back as :class:`Award` commands in
        ``outcome.emitted``.

        Args:
            id: the order id (also its idempotency key).
            at: the posting time.
            lines: the basket (:class:`~loyaltycore.predicates.Item`).
            amount: the order total, for an order without lines (or to
                state the total of one with lines).
            tenders: how it was paid (:class:`Tender`); they must add up
                to the total. A points tender redeems its points.
            currency, rate: the order's currency and the host's rate
                (program units per order unit), when not the program's.
            discount: a basket discount, in the order currency.
            channel, store, attributes: what the rules may read.
            occurred_at: the business time, if not ``at``.

        Raises:
            InvalidAmount: tenders that do not add up, a negative amount.
            InsufficientPoints: more points tendered than available.
            IdempotencyConflict, DuplicateId: an id already used otherwise.

        >>> from datetime import datetime, timezone
        >>> from loyaltycore.predicates import Item
        >>> at = datetime(2024, 5, 6, 8, tzinfo=timezone.utc)
        >>> a = Account.open("ann", program=example_program(), at=at)
        >>> a = a.adjust("a-1", at=at, points=500, reason="welcome").account
        >>> paid = [Tender("points", "5.00", points=500), Tender("card", "7.00")]
        >>> a, out = a.order("o-1", at=at, lines=[Item("beans", unit_price="12.00")], tenders=paid)
        >>> out.redeemed, out.earned
        (500, 70)
        """
        program = self.program
        basket = _orders.items(lines)
        total = None if amount is None else to_decimal(amount, "amount")
        paid = _orders.tenders(tenders)
        cur = program.currency if currency is None else currency_code(currency)
        rate_ = _orders.rate(cur, rate, program)
        disc = (
            _NO_DISCOUNT
            if type(discount) is int and discount == 0
            else to_decimal(discount, "discount")
        )
        chan = _optional_str(channel, "channel")
        shop = _optional_str(store, "store")
        extra = _attrs_map(attributes)
        payload = {
            "lines": basket,
            "amount": total,
            "tenders": paid,
            "currency": cur,
            "rate": rate_,
            "discount": disc,
            "channel": chan,
            "store": shop,
            "attributes": extra,  # (written as a dict: one empty map serves every order)
        }
        cmd = self._start("order", id, at, occurred_at, payload)
        if isinstance(cmd, Applied):
            return cmd
        if cmd.id in self.orders:
            raise DuplicateId(
                f"id={cmd.id!r} is an order this account keeps for refunds; order ids must "
                "be unique",
                field="id",
                value=cmd.id,
            )
        priced = _orders.price(
            id=cmd.id,
            occurred=cmd.occurred,
            lines=basket,
            amount=total,
            paid=paid,
            rate_=rate_,
            discount=disc,
            channel=chan,
            store=shop,
            attributes=extra,
            program=program,
        )
        return self._order(cmd, priced, cur, rate_)

    def _order(
        self, cmd: _Cmd, priced: _orders.Priced, currency: str, rate: Decimal | None
    ) -> Applied:
        program = self.program
        ledger = self.ledger
        ops: list[LedgerOp] = []
        tender_id = ""
        if priced.tendered:
            tender_id = cmd.lid(len(ops))
            op = LedgerOp("redeem", tender_id, points=priced.tendered, reason=f"order {cmd.id}")
            ledger = _points.run(ledger, op, cmd.at, cmd.occurred)
            ops.append(op)
        before = _tiers.before(self.status, self._indexed(), program, cmd.at)
        evaluation = program.rule_set.evaluate(
            priced.event, self._member(before.tier), budgets_used=self._budgets
        )
        granted, cap_keys, cut_by, cap_use = _orders.apply_caps(
            evaluation, self.member, program, self.caps, cmd.occurred
        )
        groups, line_earn = _orders.earn_groups(evaluation, self.member, granted)
        earns = []
        for points, available_at, expires_at in groups:
            op = LedgerOp(
                "earn",
                cmd.lid(len(ops)),
                points=points,
                available_at=available_at,
                expires_at=expires_at,
                reason=f"order {cmd.id}",
            )
            ledger = _points.run(ledger, op, cmd.at, cmd.occurred)
            ops.append(op)
            earns.append((op.id, points))
        activity = _order_activity(evaluation, program, self.member)
        try:
            tally = self._indexed().add(activity)
            status = program.tiers.evaluate(before, tally, as_of=cmd.at).status
        except DuplicateId:
            raise DuplicateId(
                f"id={cmd.id!r} names an order whose activity still counts for the tier; "
                "order ids must be unique",
                field="id",
                value=cmd.id,
            ) from None
        counters = dict(evaluation.increments)
        counters["purchases"] = counters.get("purchases", 0) + 1
        record = OrderRecord(
            cmd.id,
            cmd.version,
            cmd.at,
            cmd.occurred,
            _ref(program.key),
            self.member,
            _stored(evaluation),
            currency,
            rate,
            priced.total,
            shared(granted),
            shared(cap_keys),
            tuple(earns),
            shared(line_earn),
            tender=tender_id,
            tendered=priced.tendered,
            clawed=shared((0,) * len(granted)),
            refunded_items=_NO_ATTRIBUTES,  # (nothing refunded yet: one empty map for all)
            decremented=_NO_ATTRIBUTES,
        )
        return self._finish(
            cmd,
            ledger,
            tuple(ops),
            status=status,
            earned=sum(p for p, _, _ in groups),
            redeemed=priced.tendered,
            lines=_orders.results(evaluation, granted, cut_by),
            emitted=_referrals(evaluation, self.member, cmd),
            budgets=dict(evaluation.budget_increments),
            activity=activity,
            counters=counters,
            caps=cap_use,
            order=record,
            tally=tally,
        )

    def refund(
        self,
        id: str,
        *,
        at: datetime,
        of: str,
        items: Mapping[str, int] | None = None,
        amount: Decimal | str | int | None = None,
        occurred_at: datetime | None = None,
    ) -> Applied:
        """Reverse what an order did, in whole or in part, by the stated policy.

        * The clawback comes from the order's stored evaluation, with the
          rules of the program in force when it was made: each award keeps
          what the remaining basket earns, at most what was granted (an
          award a cap had cut loses only what it kept beyond that).
        * Points tendered come back in proportion to the money refunded
          (lots that expired meanwhile stay expired).
        * Limit counters of points are lowered; counters of times and the
          ``purchases`` counter are not, so buying and refunding never
          re-opens a once-only bonus. Later orders are not re-rated.
        * The refunded spend leaves the tier activity and the tier is
          checked again under the program's downgrade and return policies.
        * An order the account does not know (or no longer keeps) is
          refunded by ``amount`` at the program's ``unknown_refund_rate``;
          an order made before a migration or in an absorbed account by its
          evaluation, taking available points (what cannot be taken is
          reported as ``uncollected``).

        Args:
            id: the refund's id.
            at: the posting time.
            of: the order id.
            items: units returned per sku (orders with lines).
            amount: money returned, in the order currency (orders without
                lines, or unknown orders). Neither: the whole order (or what
                is left of it).

        Raises:
            OverReversal: the order was already refunded in full.
            NotFound: an unknown order without ``amount``, an unknown sku.
            StrictPolicyViolation: the clawback would leave debt under a
                strict debt policy.

        >>> from datetime import datetime, timezone
        >>> from loyaltycore.predicates import Item
        >>> at = datetime(2024, 5, 6, 8, tzinfo=timezone.utc)
        >>> a = Account.open("ann", program=example_program(), at=at)
        >>> a = a.order("o-1", at=at, lines=[Item("cup", unit_price="8"),
        ...                                  Item("latte", unit_price="4")]).account
        >>> a, out = a.refund("f-1", at=at, of="o-1", items={"cup": 1})
        >>> out.clawed_back, a.balance().available
        (80, 40)
        """
        check_id(of, "of")
        units = _orders.refund_items(items)
        money = None if amount is None else to_decimal(amount, "amount")
        if units is not None and money is not None:
            raise InvalidArgument("pass items= or amount=, not both", field="amount", value=amount)
        payload = {"of": of, "items": units, "amount": money}
        cmd = self._start("refund", id, at, occurred_at, payload)
        if isinstance(cmd, Applied):
            return cmd
        record = self.orders.get(of)
        if record is None:
            return self._refund_unknown(cmd, of, units, money)
        return self._refund(cmd, record, units, money)

    def _refund_unknown(
        self, cmd: _Cmd, of: str, units: dict[str, int] | None, money: Decimal | None
    ) -> Applied:
        if money is None or units is not None:
            raise NotFound(
                f"of={of!r} is not an order this account keeps; refund it by amount=",
                field="of",
                value=of,
            )
        rate = self.program.unknown_refund_rate
        points = int((money * rate).to_integral_value(rounding="ROUND_DOWN"))
        ledger, ops, taken = self._debit(cmd, self.ledger, [], points, f"refund of {of}")
        return self._finish(
            cmd,
            ledger,
            tuple(ops),
            clawed_back=taken,
            uncollected=points - taken,
            note=f"order {of} unknown: by amount at {rate} points per unit",
        )

    def _debit(
        self, cmd: _Cmd, ledger: PointsLedger, ops: list[LedgerOp], points: int, reason: str
    ) -> tuple[PointsLedger, list[LedgerOp], int]:
        """Take up to ``points`` available points (soonest-expiring first)."""
        take = min(points, ledger.balance().available)
        if take > 0:
            op = LedgerOp("adjust", cmd.lid(len(ops)), points=-take, reason=reason)
            ledger = _points.run(ledger, op, cmd.at, cmd.occurred)
            ops.append(op)
        return ledger, ops, max(take, 0)

    def _refund(
        self, cmd: _Cmd, record: OrderRecord, units: dict[str, int] | None, money: Decimal | None
    ) -> Applied:
        if record.refunded_all:
            raise OverReversal(
                f"order {record.id!r} was already refunded in full", field="of", value=record.id
            )
        then = self.programs[record.program.key]
        stored = record.stored_evaluation()
        evaluation = attrs.evolve(stored, member=self._refund_member(stored.member))
        event = evaluation.event
        cum_items: dict[str, int] | None = None
        cum_money = record.refunded_amount
        if units is not None:
            if not event.items:
                raise InvalidArgument(
                    f"order {record.id!r} has no lines: refund it by amount=",
                    field="items",
                    value=units,
                )
            cum_items = _add(record.refunded_items, units)
            reversal = then.rule_set.reverse(evaluation, cum_items)
        elif money is not None:
            if event.items:
                raise InvalidArgument(
                    f"order {record.id!r} has lines: refund it by items=",
                    field="amount",
                    value=money,
                )
            cum_money = record.refunded_amount + money
            if cum_money > record.total:
                raise InvalidArgument(
                    f"amount={money} would refund {cum_money}, more than the order's "
                    f"{record.total}",
                    field="amount",
                    value=money,
                )
            converted = _orders.convert(cum_money, record.rate, then.exponent)
            if cum_money == record.total or event.amount is None:
                reversal = then.rule_set.reverse(evaluation)
            else:
                reversal = then.rule_set.reverse(
                    evaluation, refunded_amount=min(converted, event.amount)
                )
        else:
            reversal = then.rule_set.reverse(evaluation)
        return self._take_back(cmd, record, evaluation, reversal, cum_items, cum_money)

    def _refund_member(self, stored: Member) -> Member:
        """The order's member with today's profile facts (events keep none)."""
        p = self.profile
        if p is None:
            return stored
        return Member(
            stored.id,
            joined_at=stored.joined_at,
            tier=stored.tier,
            counters=stored.counters,
            birthday=p.birthday,
            segments=p.segments,
            attributes=p.attributes,
        )

    def _take_back(
        self,
        cmd: _Cmd,
        record: OrderRecord,
        evaluation: Evaluation,
        reversal: Any,
        cum_items: dict[str, int] | None,
        cum_money: Decimal,
    ) -> Applied:
        program = self.program
        then = self.programs[record.program.key]
        lost = _orders.losses(evaluation, reversal)
        targets = _orders.claw_targets(record, evaluation, lost)
        previous = record.clawed or (0,) * len(targets)
        now = [t - p for t, p in zip(targets, previous, strict=True)]
        lines = evaluation.lines
        ledger, ops = self.ledger, list[LedgerOp]()
        clawed = uncollected = 0
        per_earn = [0] * len(record.earns)
        owner = record.member  # (an absorbed account's order names its member)
        mine = [
            i
            for i, line in enumerate(lines)
            if line.currency == POINTS and line.recipient == owner
        ]
        for i in mine:
            if now[i] and record.line_earn[i] >= 0:
                per_earn[record.line_earn[i]] += now[i]
        if record.in_ledger:
            for k, points in enumerate(per_earn):
                if points:
                    op = LedgerOp(
                        "reverse", cmd.lid(len(ops)), points=points, of=record.earns[k][0]
                    )
                    ledger = _points.run(ledger, op, cmd.at, cmd.occurred)
                    ops.append(op)
                    clawed += points
        else:
            wanted = sum(per_earn)
            ledger, ops, clawed = self._debit(cmd, ledger, ops, wanted, f"refund of {record.id}")
            uncollected = wanted - clawed
        remaining = reversal.remaining
        left = Decimal(0) if remaining is None else _orders.money_basis(remaining.event)
        returned_total = (
            record.tendered
            - _orders.share(record.tendered, left, _orders.money_basis(evaluation.event))
            if record.tendered
            else 0
        )
        give = returned_total - record.returned
        if give > 0:
            if record.in_ledger:
                op = LedgerOp("reverse", cmd.lid(len(ops)), points=give, of=record.tender)
            else:
                op = LedgerOp(
                    "adjust", cmd.lid(len(ops)), points=give, reason=f"refund of {record.id}"
                )
            ledger = _points.run(ledger, op, cmd.at, cmd.occurred)
            ops.append(op)
        counters = self._decrements(record, reversal)
        caps: dict[str, int] = {}
        for i in mine:
            for key in record.caps[i] if now[i] else ():
                if key in self.caps:
                    caps[key] = caps.get(key, 0) - min(now[i], self.caps[key])
        spend_total = evaluation.eligible - (0 if remaining is None else remaining.eligible)
        activity = _refund_activity(
            cmd, record, evaluation, then, spend_total - record.spend_back, now, self.activity
        )
        tally = self._indexed().add(activity)
        status = program.tiers.evaluate(self.status, tally, as_of=cmd.at).status
        updated = attrs.evolve(
            record,
            refunded_items=cum_items if cum_items is not None else record.refunded_items,
            refunded_amount=cum_money,
            refunded_all=remaining is None,
            clawed=targets,
            returned=max(returned_total, record.returned),
            decremented=_add(record.decremented, {k: -v for k, v in counters.items()}),
            spend_back=max(spend_total, record.spend_back),
        )
        return self._finish(
            cmd,
            ledger,
            tuple(ops),
            status=status,
            clawed_back=clawed,
            uncollected=uncollected,
            returned=max(give, 0),
            activity=activity,
            counters=counters,
            caps=caps,
            order=updated,
            tally=tally,
        )

    def _decrements(self, record: OrderRecord, reversal: Any) -> dict[str, int]:
        """Counter changes of a refund: points counters only, never below zero."""
        out = {}
        for key, total in reversal.decrements.items():
            if not key.endswith("/points"):
                continue
            now = total - record.decremented.get(key, 0)
            have = self.counters.get(key, 0)
            if now > 0 and have:
                out[key] = -min(now, have)
        return out

    def redeem(
        self,
        id: str,
        *,
        at: datetime,
        points: int,
        reason: str = "",
        occurred_at: datetime | None = None,
    ) -> Applied:
        """Spend ``points`` on a reward, soonest-expiring lots first.

        Raises:
            InsufficientPoints: more than available.

        >>> from datetime import datetime, timezone
        >>> at = datetime(2024, 5, 6, tzinfo=timezone.utc)
        >>> a = Account.open("ann", program=example_program(), at=at)
        >>> a = a.adjust("a-1", at=at, points=300, reason="welcome").account
        >>> a.redeem("r-1", at=at, points=120, reason="free latte").outcome.available
        180
        """
        n = check_points(points)
        text = check_str(reason, "reason")
        cmd = self._start("redeem", id, at, occurred_at, {"points": n, "reason": text})
        if isinstance(cmd, Applied):
            return cmd
        op = LedgerOp("redeem", cmd.lid(0), points=n, reason=text or f"redeem {cmd.id}")
        ledger = _points.run(self.ledger, op, cmd.at, cmd.occurred)
        return self._finish(cmd, ledger, (op,), redeemed=n)

    def hold(
        self,
        id: str,
        *,
        at: datetime,
        points: int,
        deadline: datetime,
        occurred_at: datetime | None = None,
    ) -> Applied:
        """Reserve ``points`` for a checkout until ``deadline``; ``id`` names the hold.

        Raises:
            InsufficientPoints: more than available; InvalidTime: a deadline not after ``at``.

        >>> from datetime import datetime, timedelta, timezone
        >>> at = datetime(2024, 5, 6, tzinfo=timezone.utc)
        >>> a = Account.open("ann", program=example_program(), at=at)
        >>> a = a.adjust("a-1", at=at, points=300, reason="welcome").account
        >>> a.hold("h-1", at=at, points=100, deadline=at + timedelta(minutes=15)).outcome.held
        100
        """
        n = check_points(points)
        until = _utc(deadline, "deadline")
        cmd = self._start("hold", id, at, occurred_at, {"points": n, "deadline": until})
        if isinstance(cmd, Applied):
            return cmd
        if cmd.id in self.holds:
            raise DuplicateId(
                f"id={cmd.id!r} already names a hold of this account", field="id", value=cmd.id
            )
        if until <= cmd.at:
            raise InvalidTime(
                f"deadline={until.isoformat()} must be after the posting time "
                f"{cmd.at.isoformat()}",
                field="deadline",
                value=deadline,
            )
        op = LedgerOp("hold", cmd.lid(0), points=n, deadline=until)
        ledger = _points.run(self.ledger, op, cmd.at, cmd.occurred)
        return self._finish(cmd, ledger, (op,), hold=cmd.id)

    def _open_hold(self, hold: object, at: datetime) -> HoldRecord:
        hold_id = check_id(hold, "hold")
        record = self.holds.get(hold_id)
        if record is None:
            raise UnknownHold(
                f"hold={hold_id!r} is not a hold of this account", field="hold", value=hold_id
            )
        if record.state != "open":
            raise HoldAlreadyResolved(
                f"hold={hold_id!r} was already {record.state}", field="hold", value=hold_id
            )
        if record.deadline <= at:
            raise HoldExpired(
                f"hold={hold_id!r} expired at {record.deadline.isoformat()}",
                field="hold",
                value=hold_id,
            )
        return record

    def capture(
        self,
        id: str,
        *,
        at: datetime,
        hold: str,
        points: int | None = None,
        occurred_at: datetime | None = None,
    ) -> Applied:
        """Capture a hold, whole or ``points`` of it (the rest is released).

        Raises:
            UnknownHold, HoldExpired, HoldAlreadyResolved, OverCapture.

        >>> from datetime import datetime, timedelta, timezone
        >>> at = datetime(2024, 5, 6, tzinfo=timezone.utc)
        >>> a = Account.open("ann", program=example_program(), at=at)
        >>> a = a.adjust("a-1", at=at, points=300, reason="welcome").account
        >>> a = a.hold("h-1", at=at, points=100, deadline=at + timedelta(minutes=15)).account
        >>> out = a.capture("c-1", at=at, hold="h-1", points=80).outcome
        >>> out.redeemed, out.available
        (80, 220)
        """
        hold_id = check_id(hold, "hold")
        n = None if points is None else check_points(points)
        cmd = self._start("capture", id, at, occurred_at, {"hold": hold_id, "points": n})
        if isinstance(cmd, Applied):
            return cmd
        record = self._open_hold(hold_id, cmd.at)
        op = LedgerOp("capture", cmd.lid(0), points=n, of=record.ledger_id)
        ledger = _points.run(self.ledger, op, cmd.at, cmd.occurred)
        taken = ledger.balance().redeemed - self.ledger.balance().redeemed
        return self._finish(cmd, ledger, (op,), redeemed=taken, hold=hold_id)

    def release(
        self, id: str, *, at: datetime, hold: str, occurred_at: datetime | None = None
    ) -> Applied:
        """Release a hold: its points are available again.

        >>> from datetime import datetime, timedelta, timezone
        >>> at = datetime(2024, 5, 6, tzinfo=timezone.utc)
        >>> a = Account.open("ann", program=example_program(), at=at)
        >>> a = a.adjust("a-1", at=at, points=300, reason="welcome").account
        >>> a = a.hold("h-1", at=at, points=100, deadline=at + timedelta(minutes=15)).account
        >>> a.release("x-1", at=at, hold="h-1").outcome.available
        300
        """
        hold_id = check_id(hold, "hold")
        cmd = self._start("release", id, at, occurred_at, {"hold": hold_id})
        if isinstance(cmd, Applied):
            return cmd
        record = self._open_hold(hold_id, cmd.at)
        op = LedgerOp("release", cmd.lid(0), of=record.ledger_id)
        ledger = _points.run(self.ledger, op, cmd.at, cmd.occurred)
        return self._finish(cmd, ledger, (op,), hold=hold_id)

    def adjust(
        self,
        id: str,
        *,
        at: datetime,
        points: int,
        reason: str,
        occurred_at: datetime | None = None,
    ) -> Applied:
        """Credit (``points > 0``) or debit (``points < 0``) with a reason.

        >>> from datetime import datetime, timezone
        >>> at = datetime(2024, 5, 6, tzinfo=timezone.utc)
        >>> a = Account.open("ann", program=example_program(), at=at)
        >>> a.adjust("a-1", at=at, points=50, reason="goodwill").outcome.earned
        50
        """
        if type(points) is not int or points == 0:
            if type(points) is int:
                raise InvalidPoints("points=0 must be a non-zero int", field="points", value=0)
            check_points(points)
        check_points(abs(points))
        text = check_id(reason, "reason")
        cmd = self._start("adjust", id, at, occurred_at, {"points": points, "reason": text})
        if isinstance(cmd, Applied):
            return cmd
        op = LedgerOp("adjust", cmd.lid(0), points=points, reason=text)
        ledger = _points.run(self.ledger, op, cmd.at, cmd.occurred)
        if points > 0:
            return self._finish(cmd, ledger, (op,), earned=points)
        return self._finish(cmd, ledger, (op,), redeemed=-points)

    def award(
        self,
        id: str,
        *,
        at: datetime,
        points: int,
        reason: str,
        available_at: datetime | None = None,
        expires_at: datetime | None = None,
        occurred_at: datetime | None = None,
        source: str = "bonus",
    ) -> Applied:
        """Earn ``points`` outside an order: a referral bonus another account emitted, a partner.

        The points go into a lot of ``source`` (``"bonus"`` unless told:
        ``"goodwill"``, ``"partner"``, ``"referral"`` or a host's own
        non-empty str; :meth:`Award.apply` gives ``"referral"``).

        >>> from datetime import datetime, timedelta, timezone
        >>> at = datetime(2024, 5, 6, tzinfo=timezone.utc)
        >>> a = Account.open("ann", program=example_program(), at=at)
        >>> a.award("ref-1", at=at, points=100, reason="referral",
        ...         available_at=at + timedelta(days=30)).outcome.pending
        100
        >>> a.award("gw-1", at=at, points=50, reason="late delivery",
        ...         source="goodwill").account.ledger.lots[0].source
        'goodwill'
        """
        n = check_points(points)
        text = check_id(reason, "reason")
        kind = check_id(source, "source")
        avail = None if available_at is None else _utc(available_at, "available_at")
        expires = None if expires_at is None else _utc(expires_at, "expires_at")
        payload = {"points": n, "reason": text, "available_at": avail, "expires_at": expires}
        if kind != "bonus":  # (a retry compares the source only when one was given)
            payload["source"] = kind
        cmd = self._start_award(id, at, occurred_at, payload)
        if isinstance(cmd, Applied):
            return cmd
        op = LedgerOp(
            "earn",
            cmd.lid(0),
            points=n,
            available_at=avail,
            expires_at=expires,
            reason=text,
            source=kind,
        )
        ledger = _points.run(self.ledger, op, cmd.at, cmd.occurred)
        return self._finish(cmd, ledger, (op,), earned=n)

    def _start_award(
        self, id: object, at: object, occurred_at: object, payload: dict[str, Any]
    ) -> _Cmd | Applied:
        """:meth:`_start` for an award.

        An :class:`Award` from an outbox may be applied again after an upgrade:
        a referral award stored before awards recorded a source (its payload has
        none) matches the same payload without ``source``.
        """
        try:
            return self._start("award", id, at, occurred_at, payload)
        except IdempotencyConflict as exc:
            if payload.get("source") != "referral":
                raise
            plain = {k: v for k, v in payload.items() if k != "source"}
            try:
                return self._start("award", id, at, occurred_at, plain)
            except IdempotencyConflict:
                raise exc from None

    def expire(self, id: str, *, as_of: datetime) -> Applied:
        """Apply every expiry, vesting and hold timeout due by ``as_of`` (a period-end sweep).

        >>> from datetime import datetime, timezone
        >>> at = datetime(2024, 5, 6, tzinfo=timezone.utc)
        >>> a = Account.open("ann", program=example_program(), at=at)
        >>> a = a.adjust("a-1", at=at, points=50, reason="welcome").account
        >>> a.expire("sweep-2026", as_of=datetime(2026, 1, 1, tzinfo=timezone.utc)).outcome.expired
        50
        """
        cmd = self._start("expire", id, as_of, None, {})
        if isinstance(cmd, Applied):
            return cmd
        op = LedgerOp("expire", cmd.lid(0))
        ledger = _points.run(self.ledger, op, cmd.at, cmd.occurred)
        gone = ledger.balance().expired - self.ledger.balance().expired
        return self._finish(cmd, ledger, (op,), expired=gone)

    def review(self, id: str, *, at: datetime) -> Applied:
        """Close the tier windows due by ``at`` (the program's retro policy applies).

        With ``retro="next_review"`` activity posted late for a window
        already reviewed counts from the next review on; with
        ``retro="reopen"`` the review judges reviewed windows again.

        >>> from datetime import datetime, timezone
        >>> at = datetime(2024, 5, 6, tzinfo=timezone.utc)
        >>> a = Account.open("ann", program=example_program(), at=at)
        >>> a.review("rv-1", at=datetime(2025, 1, 1, tzinfo=timezone.utc)).outcome.tier
        'silver'
        """
        cmd = self._start("review", id, at, None, {})
        if isinstance(cmd, Applied):
            return cmd
        status = _next_status(self, "review", self.activity, cmd.at, None)
        return self._finish(cmd, self.ledger, (), status=status)

    def migrate(
        self, id: str, *, at: datetime, program: Program, tier_map: Mapping[str, str]
    ) -> Applied:
        """Move the account to another program (or version).

        Existing lots keep their expiry (the ledger is carried forward under
        the new expiry and debt policies); the tier is mapped by ``tier_map``,
        which must name every tier of the old ladder, keeping its validity;
        counters and activity stay; orders made before keep their program
        for refunds, which then take and give points by amount.

        Raises:
            InvalidArgument: open holds, the same program, a tier left unmapped.
            NotFound: a mapped tier that is not in the new ladder.

        >>> from datetime import datetime, timezone
        >>> at = datetime(2024, 5, 6, tzinfo=timezone.utc)
        >>> old = example_program()
        >>> new = attrs.evolve(old, version=2)
        >>> a = Account.open("ann", program=old, at=at)
        >>> a, out = a.migrate("m-1", at=at, program=new,
        ...                    tier_map={"silver": "silver", "gold": "gold", "diamond": "diamond"})
        >>> a.program.version, out.note
        (2, 'migrated from coffee v1 to coffee v2')
        """
        if not isinstance(program, Program):
            raise InvalidType(
                f"program={program!r} must be a Program, not {type_name(program)}",
                field="program",
                value=program,
            )
        mapping = _tier_map(tier_map, self.program, program)
        payload = {"program": program.key, "tier_map": mapping}
        cmd = self._start("migrate", id, at, None, payload)
        if isinstance(cmd, Applied):
            return cmd
        if program.key == self.program.key:
            raise InvalidArgument(
                f"program={program.id!r} version {program.version} is already in force",
                field="program",
                value=program.key,
            )
        open_holds = sorted(
            h for h, r in self.holds.items() if r.state == "open" and r.deadline > cmd.at
        )
        if open_holds:
            raise InvalidArgument(
                f"holds {open_holds} are open; capture or release them first",
                field="hold",
                value=open_holds,
            )
        now = _tiers.before(self.status, self.activity, self.program, cmd.at)
        tier = TierOp("join", mapping[now.tier], now.valid_until)
        op = LedgerOp(
            "carry",
            _points.CARRY_ID,
            policy=program.expiry,
            tz=program.tz,
            debt_policy=program.debt,
        )
        ledger = _points.run(self.ledger, op, cmd.at, cmd.occurred)
        old = self.program
        note = f"migrated from {old.id} v{old.version} to {program.id} v{program.version}"
        status = _next_status(self, "migrate", self.activity, cmd.at, tier, program)
        return self._finish(
            cmd,
            ledger,
            (op,),
            status=status,
            resolve=lambda i, v: program,
            note=note,
            program=ProgramRef(*program.key),
            tier=tier,
        )

    # -- applying events ------------------------------------------------------------

    def _evolve(
        self,
        event: AccountEvent,
        resolve: Resolver,
        *,
        ledger: PointsLedger | None = None,
        status: TierStatus | None = None,
        tally: ActivityIndex | None = None,
    ) -> Account:
        """The account after ``event``: the one place an account's state changes."""
        command = event.command
        program = self.program
        offset = self.offset
        if ledger is None:
            ledger = self.ledger
            for op in event.ledger:
                ledger = _points.run(ledger, op, event.at, event.occurred_at)
        if command == "migrate":
            assert event.program is not None
            old = self.ledger.balance(as_of=max(event.at, self.ledger.last_at or event.at))
            offset = _plus(_plus(offset, old), ledger.balance(), -1)
            program = resolve(*event.program.key)
        if tally is None and command not in ("migrate", "merge_in"):
            tally = self._indexed().add(event.activity) if event.activity else self._tally
        # (with a tally, the activity is the tally's, made into a tuple on first need)
        activity = None if tally is not None else self.activity + event.activity
        if status is None:
            read: Iterable[Activity] | None = tally if tally is not None else activity
            assert read is not None
            status = _next_status(self, command, read, event.at, event.tier, program)
        counters = _add(self.counters, event.counters) if event.counters else self.counters
        caps = _add(self.caps, event.caps) if event.caps else self.caps
        outcomes = _snapshot.copied(self.outcomes)
        outcomes[event.id] = Seen(event.id, command, event.payload, event.outcome)
        orders = _snapshot.copied(self.orders)
        if event.order is not None:
            orders[event.order.id] = event.order
        holds = _holds_after(self.holds, event)
        absorbed = self.absorbed
        merged_into = self.merged_into
        if command == "merge_in" and event.absorbed is not None:
            absorbed = (*absorbed, event.absorbed.member)
            for seen in event.absorbed.outcomes:
                outcomes.setdefault(seen.id, seen)
            for record in event.absorbed.orders:
                orders.setdefault(record.id, attrs.evolve(record, in_ledger=False))
        elif command == "merged_into":
            merged_into = event.member
        elif command == "migrate":
            orders = {k: attrs.evolve(r, in_ledger=False) for k, r in orders.items()}
        dropped = _prune_window(outcomes, orders, program, event.at)
        if dropped:
            dropped.discard(program.key)  # (the program in force stays)
        programs = self.programs
        if (
            command in ("migrate", "merge_in")
            or dropped
            or (event.order is not None and event.order.program.key not in programs)
        ):  # (else ``programs`` still holds exactly the programs the kept orders name)
            programs = _programs_for(program, orders, self.programs, resolve)
        if command in ("review", "migrate", "merge_in") or _new_month(
            self.last_at, event.at, program
        ):
            today = event.at.astimezone(program.zone).date()
            if activity is None:
                assert tally is not None
                activity = tally.activity
            kept = len(activity)
            activity, status = _tiers.prune_activity(activity, status, program)
            if len(activity) != kept:
                tally = None
            counters = _tiers.prune_counters(counters, today)
            caps = _tiers.prune_caps(caps, today)
        ops = self.ledger_ops + len(event.ledger)
        rotate_at = self.rotate_at
        if command == "migrate":  # (the ledger was just carried forward)
            ops, rotate_at = 0, program.carry_every
        elif ops >= rotate_at:
            ledger, offset, ops, rotate_at = _rotated(
                ledger, offset, ops, orders, holds, program.carry_every
            )
        return Account(
            member=self.member,
            program=program,
            version=event.version,
            ledger=ledger,
            status=status,
            activity=activity,
            counters=counters if type(counters) is FrozenMap else FrozenMap(counters),
            caps=caps,
            outcomes=outcomes,
            orders=orders,
            holds=holds,
            programs=programs,
            joined_at=self.joined_at,
            last_at=event.at if event.at > self.last_at else self.last_at,
            offset=offset,
            merged_into=merged_into,
            absorbed=absorbed,
            ledger_ops=ops,
            rotate_at=rotate_at,
            profile=self.profile,
            log=Log.of(event) if self._log is None else self._log.add(event),
            budgets=self._budgets,
            tally=tally if command != "migrate" else None,
        )


#: An account's fields as attrs names them (``_log``...), all their values in one call,
#: and the slots' own setters (a frozen class refuses ``setattr``).
_FIELDS: Final = tuple(f.name for f in attrs.fields(Account))
_field_values: Final = attrgetter(*_FIELDS)
_SETTERS: Final = tuple(Account.__dict__[name].__set__ for name in _FIELDS)
_SETTER: Final = dict(zip(_FIELDS, _SETTERS, strict=True))


def _replaced(account: Account, name: str, value: object) -> Account:
    """``account`` with field ``name`` set to ``value`` (the events it keeps, a checked
    profile, a recall), the other fields copied slot by slot: what ``attrs.evolve``
    does, without gathering every field as a keyword argument first (a store does
    this on every command)."""
    new = object.__new__(type(account))
    for set_field, old in zip(_SETTERS, _field_values(account), strict=True):
        set_field(new, old)
    _SETTER[name](new, value)
    return new


def _rotated(
    ledger: PointsLedger,
    offset: Balance,
    ops: int,
    orders: Mapping[str, OrderRecord],
    holds: Mapping[str, HoldRecord],
    every: int,
) -> tuple[PointsLedger, Balance, int, int]:
    """The ledger carried forward if it can be (see :func:`_points.rotate`)."""
    keep = {h.ledger_id for h in holds.values() if h.state == "open"}
    for record in orders.values():
        if record.in_ledger:
            keep.update(earn for earn, _ in record.earns)
            if record.tender:
                keep.add(record.tender)
    found = _points.rotate(ledger, keep)
    if found is None:
        return ledger, offset, ops, ops + every
    rotated, left, carried = found
    offset = _plus(_plus(offset, ledger.balance()), rotated.balance(), -1)
    return rotated, offset, left, left + max(every, carried // 2)


@functools.lru_cache(maxsize=256)
def _ref(key: tuple[str, int]) -> ProgramRef:
    """One ``ProgramRef`` per program, shared by the orders that name it."""
    return ProgramRef(*key)


def _no_programs(program_id: str, version: int) -> Program:
    raise NotFound(
        f"program {program_id!r} version {version} is not known here",
        field="programs",
        value=(program_id, version),
    )


def _payload_member(payload: str) -> str:
    import json

    member = json.loads(payload).get("member")
    if not isinstance(member, str):
        raise InvalidData.from_messages(
            ["the open event names no member @ $.events[0].payload"], what="account history"
        )
    return member


def _opened(
    event: AccountEvent, member: str, program: Program, profile: Profile | None
) -> Account:
    """The account an ``open`` event creates."""
    at = event.at
    ledger = PointsLedger.open(
        member, tz=program.tz, policy=program.expiry, debt_policy=program.debt
    )
    seen = {event.id: Seen(event.id, "open", event.payload, event.outcome)} if event.id else {}
    return Account(
        member=member,
        program=program,
        version=1,
        ledger=ledger,
        status=program.tiers.join(at),
        activity=(),
        counters=FrozenMap(),
        caps={},
        outcomes=seen,
        orders={},
        holds={},
        programs={program.key: program},
        joined_at=at,
        last_at=at,
        offset=Balance(),
        rotate_at=program.carry_every,
        profile=profile,
        log=Log.of(event),
    )


def _conflict(id: str, old: str, new: str) -> IdempotencyConflict:
    found = _payload.first_difference(old, new)
    path, was, now = found if found is not None else ("payload", old, new)
    return IdempotencyConflict(
        f"id={id!r} was already used with {path}={was!r}, not {now!r}",
        field=path,
        value=now,
        id=id,
    )


def _stored(evaluation: Evaluation) -> StoredEvaluation:
    """An order's evaluation as kept for refunds (its text leaves out the profile facts)."""
    return StoredEvaluation(evaluation)


def _order_activity(evaluation: Evaluation, program: Program, member: str) -> tuple[Activity, ...]:
    """The qualifying activity of an order: its eligible spend and tier-metric awards."""
    event = evaluation.event
    out = []
    # (the entries are made of checked values: a metric the rule set knows, a positive
    # exact amount, the event's UTC instant and id; so without checking them again)
    if evaluation.eligible > 0:
        spend = Decimal(evaluation.eligible).scaleb(-program.exponent)
        out.append(Activity._made("spend", spend, event.at, f"{event.id}:spend"))
    for rule, amount, currency, recipient, _, _ in evaluation.raw:
        # (evaluation.activity, without building the award lines)
        if currency != POINTS and recipient == member and amount > 0:
            out.append(Activity._made(currency, Decimal(amount), event.at, f"{event.id}:{rule}"))
    return tuple(out)


def _refund_activity(
    cmd: _Cmd,
    record: OrderRecord,
    evaluation: Evaluation,
    then: Program,
    spend: int,
    now: list[int],
    activity: tuple[Activity, ...],
) -> tuple[Activity, ...]:
    """Negative entries reversing the refunded spend and tier-metric awards."""
    known = {(a.source_id, a.metric) for a in activity}
    out = []

    def entry(metric: str, amount: Decimal, original: str, source: str) -> Activity:
        reverses = original if (original, metric) in known else None
        return Activity(metric, -amount, cmd.occurred, source, reverses=reverses)

    if spend > 0:
        value = Decimal(spend).scaleb(-then.exponent)
        out.append(entry("spend", value, f"{record.id}:spend", f"{cmd.id}:spend"))
    for i, (rule, _, currency, recipient, _, _) in enumerate(evaluation.raw):
        if currency != POINTS and recipient == record.member and now[i] > 0:
            out.append(entry(currency, Decimal(now[i]), f"{record.id}:{rule}", f"{cmd.id}:{rule}"))
    return tuple(out)


def _referrals(evaluation: Evaluation, member: str, cmd: _Cmd) -> tuple[Award, ...]:
    """Awards of the order for other members, as commands for their accounts."""
    if all(line[3] == member for line in evaluation.raw):
        return ()
    out = []
    for line in evaluation.lines:
        if line.currency == POINTS and line.recipient != member and line.points > 0:
            out.append(
                Award(
                    line.recipient,
                    f"{line.rule}:{member}:{cmd.id}",
                    cmd.at,
                    line.points,
                    f"{line.rule} for order {cmd.id} of {member}",
                    line.available_at if line.available_at > cmd.at else None,
                    line.expires_at,
                )
            )
    return tuple(out)


def _tier_map(value: object, old: Program, new: Program) -> dict[str, str]:
    if not isinstance(value, Mapping):
        raise InvalidType(
            f"tier_map={value!r} must be a mapping of old tier to new tier",
            field="tier_map",
            value=value,
        )
    out = {}
    for name in old.tiers.names:
        if name not in value:
            raise InvalidArgument(
                f"tier_map does not map tier {name!r} of the old ladder",
                field="tier_map",
                value=name,
            )
        out[name] = new.tiers.tier(check_id(value[name], f"tier_map[{name!r}]")).name
    extra = sorted(set(value) - set(old.tiers.names), key=str)
    if extra:
        raise InvalidArgument(
            f"tier_map names {extra}, not tiers of the old ladder", field="tier_map", value=extra
        )
    return out


def _next_status(
    account: Account,
    command: str,
    activity: Iterable[Activity],
    at: datetime,
    tier: TierOp | None,
    new_program: Program | None = None,
) -> TierStatus:
    """The tier status after a command (the same code live and on replay)."""
    program = account.program
    if command not in _TIER_COMMANDS:
        return account.status
    if command == "order":
        before = _tiers.before(account.status, account._indexed(), program, at)
        return program.tiers.evaluate(before, activity, as_of=at).status
    if command == "migrate":
        assert tier is not None
        assert new_program is not None
        return _tiers.joined(
            new_program.tiers, account.joined_at, at, tier.tier, tier.until, activity
        )
    reopen = command == "review" and program.retro == "reopen"
    status = program.tiers.evaluate(account.status, activity, as_of=at, reopen=reopen).status
    if command == "merge_in" and tier is not None and tier.tier is not None:
        until = _tiers.override_until(tier.until)
        status = program.tiers.override(
            status, activity, tier=tier.tier, until=until, at=at, reason="merged account"
        )
    return status


def _holds_after(holds: Mapping[str, HoldRecord], event: AccountEvent) -> Mapping[str, HoldRecord]:
    if event.command not in ("hold", "capture", "release"):
        return holds
    out = dict(holds)
    if event.command == "hold":
        op = event.ledger[0]
        assert op.deadline is not None
        out[event.hold] = HoldRecord(op.id, op.deadline)
    elif event.command == "capture":
        out[event.hold] = attrs.evolve(out[event.hold], state="captured")
    elif event.command == "release":
        out[event.hold] = attrs.evolve(out[event.hold], state="released")
    return out


def _prune_window(
    outcomes: MutableMapping[str, Seen],
    orders: MutableMapping[str, OrderRecord],
    program: Program,
    at: datetime,
) -> set[tuple[str, int]]:
    """Forget outcomes past the idempotency window and orders past the refund window.

    Returns the programs the forgotten orders named.
    """
    oldest = at - timedelta(days=program.retry_days)
    named = set()
    while outcomes:
        first = next(iter(outcomes))  # (the count first: a restored outcome is read when needed)
        if len(outcomes) > program.retry_count or outcomes[first].outcome.at < oldest:
            del outcomes[first]
        else:
            break
    oldest = program._refundable_since(at)  # (one instant for all, not refund_until per order)
    while orders:
        record = next(iter(orders.values()))
        if record.at < oldest:
            del orders[record.id]
            named.add(record.program.key)
        else:
            break
    return named


def _programs_for(
    program: Program,
    orders: Mapping[str, OrderRecord],
    known: Mapping[tuple[str, int], Program],
    resolve: Resolver,
) -> dict[tuple[str, int], Program]:
    out = {program.key: program}
    for record in orders.values():
        key = record.program.key
        if key not in out:
            out[key] = known[key] if key in known else resolve(*key)
    return out


def _new_month(before: datetime, after: datetime, program: Program) -> bool:
    tz = program.zone
    a, b = before.astimezone(tz), after.astimezone(tz)
    return (a.year, a.month) != (b.year, b.month)


def example_program() -> Program:
    """The coffee-chain program of ``docs/accounts.md`` (for examples and tests).

    Silver, gold and diamond by 12-month rolling spend with three months'
    grace; 10 points per euro; double points on the 8th of each month
    (member day) and in the birthday month; a 2,000 point daily cap on
    bonus points; points expire 12 months after they are earned.

    >>> p = example_program()
    >>> p.id, p.tiers.names, [r.id for r in p.rules.rules]
    ('coffee', ('silver', 'gold', 'diamond'), ['base', 'member-day', 'birthday-month'])
    """
    from loyaltycore.accounts._example import coffee_program

    return coffee_program()


# -- two accounts --------------------------------------------------------------------


def _pair(a: object, b: object, second: str) -> tuple[Account, Account]:
    if not isinstance(a, Account) or not isinstance(b, Account):
        raise InvalidType(
            f"{second}={b!r} and the first account must both be Account values",
            field=second,
            value=b,
        )
    if a.member == b.member:
        raise SameMember(f"{second}={b.member!r} is the same member", field=second, value=b.member)
    return a, b


def _both(
    a: Account, b: Account, cmd_a: _Cmd | Applied, cmd_b: _Cmd | Applied
) -> tuple[Applied, Applied] | None:
    """Both stored outcomes of a retried two-account command, or None if new to both."""
    done_a, done_b = isinstance(cmd_a, Applied), isinstance(cmd_b, Applied)
    if done_a and done_b:
        return cmd_a, cmd_b  # type: ignore[return-value]
    if done_a or done_b:
        which = a if done_a else b
        raise IdempotencyConflict(
            f"id was applied to {which.member!r} only; the two accounts disagree",
            field="id",
            value=(cmd_a if done_a else cmd_b).outcome.id,  # type: ignore[union-attr]
        )
    return None


def transfer(
    src: Account,
    dst: Account,
    id: str,
    *,
    at: datetime,
    points: int,
    occurred_at: datetime | None = None,
) -> tuple[Applied, Applied]:
    """Move available points from ``src`` to ``dst``; each account records its own outcome.

    The receiver keeps the sender's expiry dates. Both accounts post the
    transfer at the later of their posting clocks; the same ``id`` is each
    account's idempotency key, so a retry returns both stored outcomes.

    Raises:
        SameMember, InsufficientPoints, IdempotencyConflict.

    >>> from datetime import datetime, timezone
    >>> at = datetime(2024, 5, 6, tzinfo=timezone.utc)
    >>> p = example_program()
    >>> mum = Account.open("mum", program=p, at=at).adjust("a", at=at, points=500,
    ...                                                    reason="welcome").account
    >>> (mum, out), (kid, got) = transfer(mum, Account.open("kid", program=p, at=at), "t-1",
    ...                                   at=at, points=200)
    >>> out.redeemed, got.earned, kid.balance().available
    (200, 200, 200)
    """
    src, dst = _pair(src, dst, "dst")
    n = check_points(points)
    cmd_a = src._start("transfer_out", id, at, occurred_at, {"to": dst.member, "points": n})
    cmd_b = dst._start("transfer_in", id, at, occurred_at, {"from": src.member, "points": n})
    done = _both(src, dst, cmd_a, cmd_b)
    if done is not None:
        return done
    assert isinstance(cmd_a, _Cmd)
    assert isinstance(cmd_b, _Cmd)
    posted = max(cmd_a.at, cmd_b.at)
    cmd_a, cmd_b = cmd_a._replace(at=posted), cmd_b._replace(at=posted)
    tid = f"{src.member}:{cmd_a.version}"
    new_src, new_dst = transfer_ledgers(
        src.ledger, dst.ledger, tid, at=posted, points=n, occurred_at=cmd_a.occurred
    )
    parts = _points.transfer_parts(new_dst, tid)
    out_op = LedgerOp("transfer_out", tid, points=n, other=dst.member)
    in_op = LedgerOp("transfer_in", tid, points=n, other=src.member, parts=parts)
    applied_src = src._finish(cmd_a, new_src, (out_op,), redeemed=n, member=dst.member)
    applied_dst = dst._finish(cmd_b, new_dst, (in_op,), earned=n, member=src.member)
    return applied_src, applied_dst


def merge(into: Account, absorbed: Account, id: str, *, at: datetime) -> tuple[Applied, Applied]:
    """Fold a duplicate account into ``into``; returns both accounts with their outcomes.

    The policy:

    * points: every unspent lot moves with its expiry, and the debt with it;
      the absorbed account must have no open hold;
    * tier: the higher effective tier wins (an override through its
      validity when it is the absorbed account's);
    * counters and cap usage add up, so a limit the two accounts reached
      together stays reached (a once-a-year bonus is never granted twice);
    * activity is de-duplicated by source id (activity from before the
      surviving member joined does not count);
    * the absorbed account's recent outcomes and kept orders move over, so
      retries and refunds against its ids still work (a colliding id keeps
      the surviving account's); its orders are refunded by taking points.

    The absorbed account is closed (``merged_into``): it refuses new
    commands and answers retries. Both must run the same program.

    Raises:
        SameMember, InvalidArgument (open holds, another program, a closed account).

    >>> from datetime import datetime, timezone
    >>> at = datetime(2024, 5, 6, tzinfo=timezone.utc)
    >>> p = example_program()
    >>> old = Account.open("ann-old", program=p, at=at).adjust("a", at=at, points=70,
    ...                                                        reason="welcome").account
    >>> (ann, out), (gone, _) = merge(Account.open("ann", program=p, at=at), old, "g-1", at=at)
    >>> ann.balance().available, gone.merged_into, ann.absorbed
    (70, 'ann', ('ann-old',))
    """
    into, absorbed = _pair(into, absorbed, "absorbed")
    cmd_a = into._start("merge_in", id, at, None, {"absorbed": absorbed.member})
    cmd_b = absorbed._start("merged_into", id, at, None, {"into": into.member})
    done = _both(into, absorbed, cmd_a, cmd_b)
    if done is not None:
        return done
    assert isinstance(cmd_a, _Cmd)
    assert isinstance(cmd_b, _Cmd)
    if into.program.key != absorbed.program.key:
        raise InvalidArgument(
            f"absorbed={absorbed.member!r} runs program {absorbed.program.key}, not "
            f"{into.program.key}: migrate it first",
            field="absorbed",
            value=absorbed.program.key,
        )
    posted = max(cmd_a.at, cmd_b.at)
    cmd_a, cmd_b = cmd_a._replace(at=posted), cmd_b._replace(at=posted)
    mid = f"{absorbed.member}:{cmd_b.version}"
    lots, debt = _points.merged_lots(absorbed.ledger, posted)
    new_ledger = merge_ledgers(
        into.ledger, absorbed.ledger, mid, at=posted, occurred_at=cmd_a.occurred
    )
    op = LedgerOp("merge_in", mid, other=absorbed.member, lots=lots, debt=debt)
    program = into.program
    theirs = _tiers.before(absorbed.status, absorbed.activity, program, posted)
    ours = _tiers.before(into.status, into.activity, program, posted)
    tier = None
    if _tiers.rank(program.tiers, theirs.tier) > _tiers.rank(program.tiers, ours.tier):
        tier = TierOp("override", theirs.tier, theirs.valid_until)
    sources = {(a.source_id, a.metric) for a in into.activity}
    joined = into.status.joined_at
    activity = tuple(
        a
        for a in absorbed.activity
        if (a.source_id, a.metric) not in sources
        and a.occurred_at >= joined
        and not a.source_id.startswith(_tiers.CARRIED)
    )
    carried = Absorbed(
        absorbed.member,
        tuple(s for k, s in absorbed.outcomes.items() if k not in into.outcomes),
        tuple(r for k, r in absorbed.orders.items() if k not in into.orders),
    )
    status = _next_status(into, "merge_in", into.activity + activity, posted, tier)
    applied_into = into._finish(
        cmd_a,
        new_ledger,
        (op,),
        status=status,
        earned=sum(lot.points for lot in lots),
        activity=activity,
        counters=dict(absorbed.counters),
        caps=dict(absorbed.caps),
        tier=tier,
        absorbed=carried,
        member=absorbed.member,
        note=f"merged {absorbed.member}",
    )
    applied_absorbed = absorbed._finish(
        cmd_b, absorbed.ledger, (), member=into.member, note=f"merged into {into.member}"
    )
    return applied_into, applied_absorbed

"""The store contract's logic, apart from any database.

A :class:`Store` decides what to read, what to append and how to check
versions and retry; a subclass supplies one thing, a transaction that hands
out a :class:`Rows` object (the SQL of one database). The SQLite store, a
PostgreSQL store and an asynchronous one are thin layers over this.

One command is one transaction:

1. read the account's head row (its version), then the account: the last one
   this store saw, brought forward with the events after it; else the
   snapshot and the events after it; else every event;
2. run the command (``Account -> Applied``) on it, lending it the program
   budgets' shared counters;
3. append the new events at the expected version (the head row changes only
   if it still holds the version read, else the transaction is retried),
   and write the outcome, the projection, the outbox rows, the budget
   counters and, every ``snapshot_every`` versions, a snapshot; commit.

A retry of a committed command changes nothing: the account answers it from
its idempotency window, or the store from its outcomes table when the caller
names the command ``id``.
"""

from __future__ import annotations

import abc
import contextlib
import json
import time
from collections import OrderedDict
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from typing import Any, Final, NamedTuple, Protocol, cast

from loyaltycore import serialize
from loyaltycore.accounts import (
    Account,
    AccountEvent,
    Applied,
    Award,
    Outcome,
    Payload,
    Profile,
    Program,
    Seen,
    event_from_data,
    event_to_data,
)
from loyaltycore.calendar import from_micros, micros
from loyaltycore.errors import (
    ConcurrencyConflict,
    InvalidArgument,
    InvalidData,
    InvalidType,
    LoyaltyError,
    NotFound,
    SameMember,
)
from loyaltycore.points import Lot

Resolver = Callable[[str, int], Program]
Command = Callable[[Account], Applied]
PairCommand = Callable[[Account, Account], tuple[Applied, Applied]]

#: The snapshot document this release writes (older ones are replayed and rewritten).
_SNAPSHOT: Final = ("accounts.Snapshot", 3)


class Busy(Exception):
    """A transaction met another writer (a lock timeout, a version that moved): retry it."""


class KnownId(Exception):
    """A command id taken as new already has an outcome row: run the command again, reading."""


class Head(NamedTuple):
    """An account's head row: its version, program and the account it was merged into."""

    version: int
    program_id: str
    program_version: int
    merged_into: str | None


class SnapshotRow(NamedTuple):
    version: int
    schema: str
    schema_version: int
    program_id: str
    program_version: int
    body: str


class EventRow(NamedTuple):
    version: int
    command: str
    command_id: str
    at: str
    body: str


class OutcomeRow(NamedTuple):
    command_id: str
    version: int
    payload: str
    body: str


class LotRow(NamedTuple):
    """One open lot in ``loyalty_lots``: its points left, expiry and source.

    >>> LotRow("2.0", 45, False, "2025-05-06T00:00:00+00:00", "order:o-1").source
    'order:o-1'
    """

    lot: str
    remaining: int
    pending: bool
    expires_at: str | None
    source: str


class Projection(NamedTuple):
    """One member's row of ``loyalty_projections``: what finance reads with SQL.

    >>> Projection("ann", 3, 120, 0, 0, 0, "gold", "2025-01-31", "coffee", 1, None).tier
    'gold'
    """

    member: str
    version: int
    available: int
    pending: int
    held: int
    debt: int
    tier: str
    tier_valid_until: str | None
    program_id: str
    program_version: int
    merged_into: str | None


class OutboxItem(NamedTuple):
    """An outbox row: an event to publish or a command for another member.

    ``id`` is stable (``member:version:part``), so consumers can drop
    duplicates; ``kind`` is ``"event"`` or ``"award"`` (for ``target``).

    >>> OutboxItem("ann:2:0", "ann", 2, 0, "event", None, "2024-05-01T00:00:00+00:00", {}).kind
    'event'
    """

    id: str
    member: str
    version: int
    part: int
    kind: str
    target: str | None
    at: str
    body: dict[str, Any]


#: What a write leaves the store to remember once it commits: the account, its lot rows
#: and whether it wrote the snapshot.
Written = tuple[Account, dict[str, LotRow] | None, bool]


class Rows(Protocol):
    """What one transaction of a database offers the store logic.

    ``commits`` is True when the transaction is the store's own (it commits
    on success); False inside a host's transaction, which the host may still
    roll back, so the store remembers nothing it wrote or read there.
    """

    commits: bool

    def head(self, member: str) -> Head | None: ...

    def put_head(self, member: str, expected: int | None, head: Head) -> bool: ...

    def snapshot(self, member: str) -> SnapshotRow | None: ...

    def put_snapshot(self, member: str, row: SnapshotRow) -> None: ...

    def events(self, member: str, after: int) -> list[tuple[int, str]]: ...

    def add_events(self, member: str, rows: Sequence[EventRow]) -> None: ...

    def outcome(self, member: str, command_id: str) -> tuple[str, str] | None:
        """The stored ``(payload, body)`` of the member's command ``command_id``."""

    def put_outcomes(
        self, member: str, rows: Sequence[OutcomeRow], fresh: Collection[str] = ()
    ) -> None:
        """Write outcome rows; those of the ``fresh`` ids must be new (else :class:`KnownId`).

        The check may come when the transaction checks its writes, before it commits.
        """

    def put_projection(
        self, row: Projection, lots: Sequence[LotRow], gone: Sequence[str]
    ) -> None: ...

    def projection(self, member: str) -> Projection | None: ...

    def lots(self, member: str) -> list[LotRow]: ...

    def add_outbox(self, rows: Sequence[tuple[OutboxItem, str]]) -> None: ...

    def pending(self, limit: int) -> list[OutboxItem]: ...

    def mark_published(self, ids: Sequence[str]) -> None: ...

    def budgets(self, ids: Sequence[str]) -> dict[str, int]: ...

    def add_budgets(self, used: Mapping[str, int]) -> None: ...

    def profile(self, member: str) -> str | None: ...

    def put_profile(self, member: str, body: str | None) -> None: ...

    def bodies(self, member: str) -> list[tuple[str, tuple[Any, ...], str]]: ...

    def put_body(self, table: str, key: tuple[Any, ...], body: str) -> None: ...


def _fast_dumps(data: Any) -> str:
    """JSON text of a document as written (keys in the converter's order)."""
    return json.dumps(data, separators=(",", ":"), allow_nan=False)


def _outcome_text(event_doc: dict[str, Any]) -> str:
    """An event's outcome as its own document (taken from the event's plain data)."""
    return _fast_dumps(
        {"schema": "accounts.Outcome", "version": 1, "data": event_doc["data"]["outcome"]}
    )


def _dumps(data: Any) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), allow_nan=False)


def _resolver(programs: object) -> Resolver:
    if isinstance(programs, Program):
        programs = (programs,)
    if callable(programs):
        return programs
    if not isinstance(programs, Iterable):
        raise InvalidType(
            f"programs={programs!r} must be programs or a resolver", field="programs"
        )
    found: dict[tuple[str, int], Program] = {}
    for p in programs:
        if not isinstance(p, Program):
            raise InvalidType(f"programs item {p!r} must be a Program", field="programs")
        found[p.key] = p

    def resolve(program_id: str, version: int) -> Program:
        try:
            return found[(program_id, version)]
        except KeyError:
            raise NotFound(
                f"program {program_id!r} version {version} is not known to this store",
                field="programs",
                value=(program_id, version),
            ) from None

    return resolve


def lot_sources(account: Account, lots: Iterable[Lot] | None = None) -> dict[str, str]:
    """Where each lot of the account's ledger came from, as far as the account knows.

    ``order:<id>`` for the lots of orders kept for refunds, ``transfer:<member>``,
    ``merge:<member>``, ``carried`` (carried forward, origin forgotten) or
    ``command:<version>`` (the account version that earned it).

    >>> from datetime import datetime, timezone
    >>> from loyaltycore.accounts import Account, example_program
    >>> from loyaltycore.predicates import Item
    >>> at = datetime(2024, 5, 6, tzinfo=timezone.utc)
    >>> a = Account.open("ann", program=example_program(), at=at)
    >>> a = a.order("o-1", at=at, lines=[Item("latte", unit_price="4.50")]).account
    >>> lot_sources(a.adjust("a-1", at=at, points=5, reason="hi").account)
    {'2.0': 'order:o-1', '3.0': 'command:3'}
    """
    ids = [lot.id for lot in (account.ledger.lots if lots is None else lots)]
    return _sources(account, ids)


def _sources(account: Account, ids: Iterable[str]) -> dict[str, str]:
    """Where each of the lots named ``ids`` came from (see :func:`lot_sources`)."""
    orders = {
        earn: f"order:{record.id}"
        for record in account.orders.values()
        for earn, _ in record.earns
    }
    out = {}
    for lot_id in ids:
        name = lot_id.removeprefix("~/")
        if name in orders:
            out[lot_id] = orders[name]
        elif "#" in name:
            out[lot_id] = "transfer:" + name.split(":", 1)[0]
        elif "/" in name:
            out[lot_id] = "merge:" + name.split(":", 1)[0]
        elif lot_id.startswith("~/"):
            out[lot_id] = "carried"
        else:
            out[lot_id] = "command:" + name.split(".", 1)[0]
    return out


#: ISO texts of lot expiry instants (microseconds), as lots keep theirs from command to command.
_EXPIRY_TEXTS: dict[int, str] = {}


def _expiry(micros: int) -> str:
    text = _EXPIRY_TEXTS.get(micros)
    if text is None:
        if len(_EXPIRY_TEXTS) >= 65_536:
            _EXPIRY_TEXTS.clear()
        text = _EXPIRY_TEXTS[micros] = from_micros(micros).isoformat()
    return text


def projection_of(account: Account) -> tuple[Projection, list[LotRow]]:
    """The projection row and open lots of an account (zeros for a merged-away one)."""
    row = _projection_row(account)
    if account.merged_into is not None:
        return row, []
    return row, _lot_rows(account, account.ledger._open_lots())  # (no Lot values built)


def _lot_rows(
    account: Account, open_lots: list[tuple[str, int, bool, int | None]]
) -> list[LotRow]:
    """The rows of ``(id, remaining, pending, expires)`` lots, with their sources."""
    sources = _sources(account, [lot[0] for lot in open_lots])
    return [
        LotRow(lot, left, pending, None if expires is None else _expiry(expires), sources[lot])
        for lot, left, pending, expires in open_lots
    ]


def _projection_row(account: Account) -> Projection:
    b = account.ledger.balance()
    closed = account.merged_into is not None
    until = account.status.valid_until
    return Projection(
        account.member,
        account.version,
        0 if closed else b.available,
        0 if closed else b.pending,
        0 if closed else b.held,
        0 if closed else b.debt,
        account.status.tier,
        None if until is None else until.isoformat(),
        account.program.id,
        account.program.version,
        account.merged_into,
    )


def lot_changes(before: Account, after: Account) -> tuple[list[LotRow], list[str]] | None:
    """The open lots whose rows commands changed between two versions of an account,
    and the lots they spent; None when only comparing every lot can tell.

    Reads only the lots the commands touched (see ``PointsLedger._lots_changed``),
    and those whose source the account reads from an order kept for refunds
    that came or went, so a member's number of lots does not slow a store's write.
    """
    if before.merged_into is not None or after.merged_into is not None:
        return None
    ledger = after.ledger
    touched = ledger._lots_changed(before.ledger)
    if touched is None:
        return None
    names = {lot[0] for lot in touched}
    came_or_went = before.orders.keys() ^ after.orders.keys()
    if came_or_went:  # (their lots' source names the order, or no longer does)
        for order_id in came_or_went:
            record = (after.orders if order_id in after.orders else before.orders)[order_id]
            for earn, _ in record.earns:
                for name in (earn, "~/" + earn):
                    if name not in names and ledger._lot_index(name) >= 0:
                        lot = ledger.lot(name)
                        names.add(name)
                        expires = None if lot.expires_at is None else micros(lot.expires_at)
                        touched.append((name, lot.remaining, lot.pending, expires))
    changed = _lot_rows(after, [lot for lot in touched if lot[1]])
    return changed, [lot[0] for lot in touched if not lot[1]]


class Store(abc.ABC):
    """The store contract: accounts persisted as events, snapshots, projections and an outbox.

    Args:
        programs: the programs accounts run (a Program, several, or a
            resolver ``(id, version) -> Program``).
        snapshot_every: write a snapshot every this many versions.
        retries: how many times a transaction that met another writer is
            tried again before :class:`~loyaltycore.errors.ConcurrencyConflict`.

    Subclasses implement :meth:`_transaction`; everything else is here.

    >>> Store.__abstractmethods__
    frozenset({'_transaction'})
    """

    def __init__(
        self,
        programs: Program | Iterable[Program] | Resolver,
        *,
        snapshot_every: int = 100,
        retries: int = 500,
    ) -> None:
        if type(snapshot_every) is not int or snapshot_every < 1:
            raise InvalidArgument(
                f"snapshot_every={snapshot_every!r} must be a positive int",
                field="snapshot_every",
                value=snapshot_every,
            )
        if type(retries) is not int or retries < 1:
            raise InvalidArgument(
                f"retries={retries!r} must be a positive int", field="retries", value=retries
            )
        self._resolve = _resolver(programs)
        self._snapshot_every = snapshot_every
        self._retries = retries
        self._seen: OrderedDict[str, Account] = OrderedDict()
        #: Members whose snapshot was found stale or broken: the next write rewrites it.
        self._stale: set[str] = set()
        #: The lot rows last written per member, with the version they belong to.
        self._lots: dict[str, tuple[int, dict[str, LotRow]]] = {}

    # -- what a database provides ------------------------------------------------------

    @abc.abstractmethod
    def _transaction(self, write: bool) -> contextlib.AbstractContextManager[Rows]:
        """One transaction: commit on exit, roll back on error; :class:`Busy` to retry."""

    # -- running transactions ------------------------------------------------------------

    def _run(self, write: bool, work: Callable[[Rows], Any]) -> Any:
        """Run ``work`` in a transaction, again while it meets other writers (bounded)."""
        delay = 0.0005
        for attempt in range(self._retries):
            try:
                with self._transaction(write) as rows:
                    return work(rows)
            except Busy:  # (what this store remembers stays valid: reads check the version)
                if attempt + 1 == self._retries:
                    break
                time.sleep(delay)
                delay = min(delay * 1.5, 0.01)  # (short: a command holds the lock briefly)
        raise ConcurrencyConflict(
            f"gave up after {self._retries} tries: other writers kept the account busy",
            field="retries",
            value=self._retries,
        )

    # -- reading accounts ------------------------------------------------------------------

    def _decode(self, bodies: Iterable[tuple[int, str]]) -> list[AccountEvent]:
        return [event_from_data(json.loads(body)) for _, body in bodies]

    def _profile(self, rows: Rows, member: str) -> Profile | None:
        body = rows.profile(member)
        if body is None:
            return None
        found: Profile = serialize.from_data(json.loads(body), Profile)
        return found

    def _load(self, rows: Rows, member: str) -> tuple[Account, bool]:
        """The account at its head version; and whether its snapshot should be rewritten."""
        return self._load_at(rows, member, rows.head(member))

    def _load_at(self, rows: Rows, member: str, head: Head | None) -> tuple[Account, bool]:
        """:meth:`_load` with the member's head row already read."""
        if head is None:
            raise NotFound(
                f"member={member!r} has no account in this store", field="member", value=member
            )
        profile = self._profile(rows, member)
        seen = self._seen.get(member)
        if seen is not None and seen.version <= head.version:
            tail = [] if seen.version == head.version else rows.events(member, seen.version)
            account = seen.apply(self._decode(tail), programs=self._resolve)
            stale = False
        else:
            account, stale = self._rebuild(rows, member, profile)
            if stale:
                self._stale.add(member)
            else:
                self._stale.discard(member)
        stale = member in self._stale
        if account.version != head.version:
            raise InvalidData.from_messages(
                [
                    f"events end at version {account.version}, the head row says {head.version}"
                    f" @ loyalty_events[{member!r}]"
                ],
                what="stored account",
            )
        return account.with_profile(profile), stale

    def _rebuild(self, rows: Rows, member: str, profile: Profile | None) -> tuple[Account, bool]:
        snap = rows.snapshot(member)
        if snap is not None and (snap.schema, snap.schema_version) == _SNAPSHOT:
            try:
                self._resolve(snap.program_id, snap.program_version)
                tail = self._decode(rows.events(member, snap.version))
                doc = json.loads(snap.body)
                return Account.restore(doc, tail, programs=self._resolve, profile=profile), False
            except LoyaltyError:
                pass  # (a snapshot is a cache: replay instead, and write it again)
        events = self._decode(rows.events(member, 0))
        return Account.replay(events, programs=self._resolve, profile=profile), snap is not None

    def _remember(self, account: Account) -> None:
        # (its events are stored: kept, they would grow with every command it runs here)
        self._seen[account.member] = account.without_events()
        self._seen.move_to_end(account.member)
        while len(self._seen) > 1024:
            self._seen.popitem(last=False)

    # -- writing accounts ------------------------------------------------------------------

    def _write(
        self,
        rows: Rows,
        before: Account | None,
        after: Account,
        stale: bool,
        fresh: Collection[str] = (),
    ) -> Written:
        """Append ``after``'s new events and write everything that follows from them.

        ``fresh`` are command ids taken as new without reading: their outcome
        rows must not be there yet (else :class:`KnownId` when the
        transaction checks its writes).
        """
        member = after.member
        start = 0 if before is None else before.version
        events = after.events_since(start)
        if len(events) != after.version - start:
            raise InvalidArgument(
                f"the account's events from version {start + 1} are not all known",
                field="account",
                value=member,
            )
        head = Head(after.version, after.program.id, after.program.version, after.merged_into)
        if not rows.put_head(member, None if before is None else before.version, head):
            raise Busy(member)
        docs = [event_to_data(e) for e in events]
        texts = [_fast_dumps(d) for d in docs]
        rows.add_events(
            member,
            [
                EventRow(e.version, e.command, e.id, e.at.isoformat(), text)
                for e, text in zip(events, texts, strict=True)
            ],
        )
        rows.put_outcomes(
            member,
            [
                OutcomeRow(e.id, e.version, e.payload.text, _outcome_text(d))
                for e, d in zip(events, docs, strict=True)
                if e.id
            ],
            fresh,
        )
        changes = None if before is None else lot_changes(before, after)
        remembered: dict[str, LotRow] | None
        if changes is not None:
            assert before is not None
            changed, gone = changes
            rows.put_projection(_projection_row(after), changed, gone)
            known = self._lots.get(member)
            remembered = None
            if known is not None and known[0] == before.version:
                remembered = dict(known[1])
                for name in gone:
                    remembered.pop(name, None)
                remembered.update((lot.lot, lot) for lot in changed)
        else:
            row, lots = projection_of(after)
            if before is None:
                rows.put_projection(row, lots, ())
            else:
                old = self._lot_rows(before)
                changed = [lot for lot in lots if old.get(lot.lot) != lot]
                kept = {lot.lot for lot in lots}
                rows.put_projection(row, changed, [name for name in old if name not in kept])
            remembered = {lot.lot: lot for lot in lots}
        rows.add_outbox(self._outbox(member, events, docs, texts))
        used: dict[str, int] = {}
        for e in events:
            for budget, points in e.outcome.budgets.items():
                used[budget] = used.get(budget, 0) + points
        if used:
            rows.add_budgets(used)
        snapshot = stale or start // self._snapshot_every < after.version // self._snapshot_every
        if snapshot:
            rows.put_snapshot(member, self._snapshot_row(after))
        return after, remembered, snapshot

    def _settle(self, commits: bool, written: Sequence[Written], read: Sequence[Account]) -> None:
        """Remember what a transaction wrote and read, once it is committed.

        Inside a host's transaction (``commits`` False) nothing is remembered,
        and what was remembered of these members is forgotten: the host may
        still roll back.
        """
        if not commits:
            for account in (*read, *(w[0] for w in written)):
                self._forget(account.member)
            return
        for account, lots, snapshot in written:
            if lots is None:
                self._lots.pop(account.member, None)
            else:
                self._lots[account.member] = (account.version, lots)
                if len(self._lots) > 1024:
                    self._lots.pop(next(iter(self._lots)))
            if snapshot:
                self._stale.discard(account.member)
        for account in read:
            self._remember(account)

    def _forget(self, member: str) -> None:
        self._seen.pop(member, None)
        self._lots.pop(member, None)

    def _lot_rows(self, account: Account) -> dict[str, LotRow]:
        """The lot rows stored for ``account`` (remembered, or built again)."""
        known = self._lots.get(account.member)
        if known is not None and known[0] == account.version:
            return known[1]
        return {lot.lot: lot for lot in projection_of(account)[1]}

    @staticmethod
    def _snapshot_row(account: Account) -> SnapshotRow:
        doc = account.snapshot()
        return SnapshotRow(
            account.version,
            cast(str, doc["schema"]),
            cast(int, doc["version"]),
            account.program.id,
            account.program.version,
            _dumps(doc),
        )

    @staticmethod
    def _outbox(
        member: str,
        events: Sequence[AccountEvent],
        docs: Sequence[dict[str, Any]],
        texts: Sequence[str],
    ) -> list[tuple[OutboxItem, str]]:
        out = []
        for event, doc, text in zip(events, docs, texts, strict=True):
            at = event.at.isoformat()
            item = OutboxItem(
                f"{member}:{event.version}:0", member, event.version, 0, "event", None, at, doc
            )
            out.append((item, text))
            for k, award in enumerate(event.outcome.emitted, 1):
                body = serialize.converter.unstructure(award)
                item = OutboxItem(
                    f"{member}:{event.version}:{k}",
                    member,
                    event.version,
                    k,
                    "award",
                    award.member,
                    at,
                    body,
                )
                out.append((item, _fast_dumps(body)))
        return out

    # -- the contract --------------------------------------------------------------------

    def create(self, account: Account) -> None:
        """Store a new account (as :meth:`Account.open` made it, or with its first events).

        Raises:
            InvalidArgument: the member already has an account here.

        >>> from datetime import datetime, timezone
        >>> from loyaltycore.accounts import Account, example_program
        >>> from loyaltycore.stores import SQLiteStore
        >>> store = SQLiteStore(":memory:", programs=example_program())
        >>> at = datetime(2024, 5, 6, tzinfo=timezone.utc)
        >>> store.create(Account.open("ann", program=example_program(), at=at))
        >>> store.load("ann").version
        1
        """
        if not isinstance(account, Account):
            raise InvalidType(
                f"account={account!r} must be an Account", field="account", value=account
            )
        if account.events_since(0) == () or account.events[0].command != "open":
            raise InvalidArgument(
                "account must carry its history from its open event",
                field="account",
                value=account.member,
            )

        def work(rows: Rows) -> tuple[Written, bool]:
            if rows.head(account.member) is not None:
                raise InvalidArgument(
                    f"member={account.member!r} already has an account here",
                    field="member",
                    value=account.member,
                )
            written = self._write(rows, None, account, False)
            rows.put_profile(account.member, self._profile_body(account.profile))
            return written, rows.commits

        written, commits = self._run(True, work)
        self._settle(commits, [written], [account])

    @staticmethod
    def _profile_body(profile: Profile | None) -> str | None:
        return None if profile is None else _dumps(serialize.to_data(profile))

    def load(self, member: str) -> Account:
        """The member's account as stored (through its snapshot when there is one).

        Raises:
            NotFound: no account for ``member``.

        >>> from loyaltycore.accounts import example_program
        >>> from loyaltycore.stores import SQLiteStore
        >>> SQLiteStore(":memory:", programs=example_program()).load("nobody")
        Traceback (most recent call last):
        ...
        loyaltycore.errors.NotFound: member='nobody' has no account in this store
        """
        (account, _), commits = self._run(
            False, lambda rows: (self._load(rows, member), rows.commits)
        )
        self._settle(commits, (), [account])
        return account  # type: ignore[no-any-return]

    def _target(self, rows: Rows, member: str) -> tuple[str, Head | None]:
        """The account that answers for ``member`` (a merged account's survivor), its head row."""
        for _ in range(64):
            head = rows.head(member)
            if head is None or head.merged_into is None:
                return member, head
            member = head.merged_into
        raise InvalidData.from_messages([f"merge chain too long @ loyalty_accounts[{member!r}]"])

    def execute(self, member: str, command: Command, *, id: str | None = None) -> Applied:
        """Apply ``command`` to the member's account in one transaction.

        ``command`` is a callable ``Account -> Applied`` (usually a lambda
        calling one account command). Commands for an account merged into
        another go to the surviving account. With ``id``, a command whose id
        the store has an outcome for returns that outcome without running.
        ``command`` may be called more than once (on an account this store
        remembers it is decided before the transaction, and again if the
        account changed meanwhile; a transaction that meets another writer
        runs again), so it must depend on the account alone.

        Raises:
            ConcurrencyConflict: other writers kept the account busy past the retries.
            LoyaltyError: whatever the command raises (nothing is written).

        >>> from datetime import datetime, timezone
        >>> from loyaltycore.accounts import Account, example_program
        >>> from loyaltycore.stores import SQLiteStore
        >>> p = example_program()
        >>> store = SQLiteStore(":memory:", programs=p)
        >>> at = datetime(2024, 5, 6, tzinfo=timezone.utc)
        >>> store.create(Account.open("ann", program=p, at=at))
        >>> def welcome(a):
        ...     return a.adjust("w-1", at=at, points=100, reason="welcome")
        >>> store.execute("ann", welcome).outcome.available
        100
        >>> store.execute("ann", welcome).account.version  # a retry: nothing new
        2
        """

        def decide(accounts: Sequence[Account]) -> list[Applied]:
            applied = command(accounts[0])
            if not isinstance(applied, Applied):
                raise InvalidType(
                    f"command returned {applied!r}, not Applied", field="command", value=applied
                )
            return [applied]

        return self._transact([member], decide, id=id, early=True)[0]

    def execute_pair(self, a: str, b: str, command: PairCommand) -> tuple[Applied, Applied]:
        """Apply a two-account command (``transfer``, ``merge``) in one transaction.

        >>> from datetime import datetime, timezone
        >>> from loyaltycore.accounts import Account, example_program, transfer
        >>> from loyaltycore.stores import SQLiteStore
        >>> p = example_program()
        >>> store = SQLiteStore(":memory:", programs=p)
        >>> at = datetime(2024, 5, 6, tzinfo=timezone.utc)
        >>> for m in ("mum", "kid"):
        ...     store.create(Account.open(m, program=p, at=at))
        >>> _ = store.execute("mum", lambda x: x.adjust("a", at=at, points=300, reason="gift"))
        >>> sent, got = store.execute_pair("mum", "kid",
        ...     lambda x, y: transfer(x, y, "t-1", at=at, points=120))
        >>> store.load("kid").balance().available
        120
        """
        if a == b:
            raise SameMember(f"b={b!r} is the same member as a", field="b", value=b)

        def decide(accounts: Sequence[Account]) -> list[Applied]:
            result = command(*accounts)
            if (
                not isinstance(result, tuple)
                or len(result) != 2
                or not all(isinstance(x, Applied) for x in result)
            ):
                raise InvalidType(
                    f"command returned {result!r}, not two Applied", field="command", value=result
                )
            return list(result)

        first, second = self._transact([a, b], decide)
        return first, second

    def _transact(
        self,
        members: Sequence[str],
        decide: Callable[[Sequence[Account]], list[Applied]],
        *,
        id: str | None = None,
        early: bool = False,
    ) -> list[Applied]:
        """One command over the members' accounts: begin, read, decide, append, commit.

        ``decide`` gets the accounts (lent the program budgets and the stored
        outcomes, for retries past the account's idempotency window) and
        returns one :class:`Applied` per member; the accounts whose version
        moved are written. A transaction that meets another writer is run
        again from the start (bounded); what it wrote is remembered only once
        committed.

        With ``early``, a command on one account this store remembers is
        decided before the transaction, on that account, and the decision is
        used if the transaction finds the account unchanged (same version,
        same profile): the domain work then runs outside the write lock,
        where other writers' commits do not wait for it. Commands are pure
        functions of the account, so the decision is the one the
        transaction would make; otherwise it decides again.
        """
        guess = self._guess(members[0], decide, id) if early else None

        def work(rows: Rows, careful: bool) -> tuple[list[Applied], list[Written], bool]:
            targets = [self._target(rows, m) for m in members]
            if len(targets) == 2 and targets[0][0] == targets[1][0]:
                merged = [m for m, (t, _) in zip(members, targets, strict=True) if m != t]
                raise SameMember(
                    f"a={members[0]!r} and b={members[1]!r} are one account: "
                    f"{' and '.join(map(repr, merged))} merged into {targets[0][0]!r}",
                    field="b",
                    value=members[1],
                )
            # A first try takes a command id the account does not remember as new, without
            # reading the outcomes table; the outcome row's insert checks it (else: run again,
            # reading). Inside a host's transaction, ids are always read.
            fresh: dict[str, set[str]] | None = None if careful or not rows.commits else {}
            if id is not None:
                found = rows.outcome(targets[0][0], id)
                if found is not None:
                    outcome: Outcome = serialize.from_data(json.loads(found[1]), Outcome)
                    account = self._load_at(rows, *targets[0])[0]
                    return [Applied(account, outcome)], [], rows.commits
            loaded = [self._load_at(rows, target, head) for target, head in targets]
            if (
                guess is not None
                and fresh is not None
                and targets[0][0] == members[0]
                and loaded[0][0].version == guess[0].version
                and loaded[0][0].profile == guess[0].profile
            ):
                results, taken = guess[1], guess[2]
                if taken:
                    fresh[members[0]] = set(taken)
            else:
                lent = [self._lend(rows, account, fresh, id) for account, _ in loaded]
                try:
                    results = decide(lent)
                except LoyaltyError:
                    if fresh:  # (the refusal may come from an id taken as new: decide, reading)
                        raise KnownId(sorted(fresh)) from None
                    raise
            out: list[Applied] = []
            written: list[Written] = []
            for (before, stale), applied in zip(loaded, results, strict=True):
                after = applied.account
                if after.member != before.member:
                    raise InvalidArgument(
                        f"command returned {after.member!r}'s account, not {before.member!r}'s",
                        field="command",
                        value=after.member,
                    )
                if after.version == before.version:
                    if fresh and fresh.get(before.member):  # (a stored outcome may answer it)
                        raise KnownId(sorted(fresh[before.member]))
                    out.append(Applied(before, applied.outcome))  # (not the lent account)
                    if stale:
                        written.append(self._write(rows, before, before, stale))
                    continue
                new = set() if fresh is None else fresh.get(before.member, set())
                written.append(self._write(rows, before, after, stale, new))
                out.append(applied)
            return out, written, rows.commits

        try:
            result = self._run(True, lambda rows: work(rows, False))
        except KnownId:  # (an id taken as new was stored: the account must see its outcome)
            result = self._run(True, lambda rows: work(rows, True))
        out, written, commits = result
        self._settle(commits, written, [applied.account for applied in out])
        return out  # type: ignore[no-any-return]

    def _guess(
        self,
        member: str,
        decide: Callable[[Sequence[Account]], list[Applied]],
        id: str | None,
    ) -> tuple[Account, list[Applied], set[str]] | None:
        """A decision on the remembered account, made outside any transaction, or None.

        Returns the account it was made on, the decision, and the command
        ids taken as new. None for an account not remembered (or merged
        away), a program with budgets (their counters are read in the
        transaction), a command checked by ``id``, or a refusal (the
        transaction decides again, and raises).
        """
        seen = self._seen.get(member)
        if seen is None or seen.merged_into is not None or id is not None:
            return None
        if self._budget_ids(seen):
            return None
        taken: dict[str, set[str]] = {}  # (ids taken as new: the outcome row's insert checks them)
        try:
            results = decide([self._lend(None, seen, taken)])
        except LoyaltyError:
            return None
        return seen, results, taken.get(member, set())

    def _lend(
        self,
        rows: Rows | None,
        account: Account,
        fresh: dict[str, set[str]] | None = None,
        checked: str | None = None,
    ) -> Account:
        """The account lent the budgets' counters and the stored outcomes (not its state).

        With ``fresh``, the ids the account asks for are taken as new and
        noted there (by member), not read; ``checked`` is an id already
        looked up (and not found) in this transaction. ``rows`` is None
        outside a transaction: then ``fresh`` is given and there are no budgets.
        """
        member = account.member

        def recall(command_id: str) -> Seen | None:
            if command_id == checked:
                return None
            if fresh is not None:
                fresh.setdefault(member, set()).add(command_id)
                return None
            assert rows is not None
            found = rows.outcome(member, command_id)
            if found is None:
                return None
            payload, body = found
            outcome: Outcome = serialize.from_data(json.loads(body), Outcome)
            name = json.loads(payload).get("command", "")
            return Seen(command_id, str(name), Payload(text=payload), outcome)

        lent = account.with_recall(recall)
        budgets = self._budget_ids(account)
        if not budgets:
            return lent
        assert rows is not None
        return lent.with_budgets(rows.budgets(budgets))

    @staticmethod
    def _budget_ids(account: Account) -> list[str]:
        return [b.id for b in account.program.rule_set.budgets]

    def outcome(self, member: str, command_id: str) -> Outcome:
        """The stored outcome of the member's command ``command_id`` (the latest use of the id).

        Raises:
            NotFound: no such command.

        >>> from datetime import datetime, timezone
        >>> from loyaltycore.accounts import Account, example_program
        >>> from loyaltycore.stores import SQLiteStore
        >>> p = example_program()
        >>> store = SQLiteStore(":memory:", programs=p)
        >>> at = datetime(2024, 5, 6, tzinfo=timezone.utc)
        >>> store.create(Account.open("ann", program=p, at=at))
        >>> _ = store.execute("ann", lambda a: a.adjust("w-1", at=at, points=5, reason="hi"))
        >>> store.outcome("ann", "w-1").earned
        5
        """
        found = self._run(False, lambda rows: rows.outcome(member, command_id))
        if found is None:
            raise NotFound(
                f"member={member!r} has no command id={command_id!r}",
                field="command_id",
                value=command_id,
            )
        outcome: Outcome = serialize.from_data(json.loads(found[1]), Outcome)
        return outcome

    def events(self, member: str, after: int = 0) -> tuple[AccountEvent, ...]:
        """The member's stored events after version ``after``, oldest first.

        >>> from datetime import datetime, timezone
        >>> from loyaltycore.accounts import Account, example_program
        >>> from loyaltycore.stores import SQLiteStore
        >>> p = example_program()
        >>> store = SQLiteStore(":memory:", programs=p)
        >>> at = datetime(2024, 5, 6, tzinfo=timezone.utc)
        >>> store.create(Account.open("ann", program=p, at=at))
        >>> [e.command for e in store.events("ann")]
        ['open']
        """
        bodies = self._run(False, lambda rows: rows.events(member, after))
        return tuple(self._decode(bodies))

    def projection(self, member: str) -> Projection:
        """The member's projection row.

        >>> from datetime import datetime, timezone
        >>> from loyaltycore.accounts import Account, example_program
        >>> from loyaltycore.stores import SQLiteStore
        >>> p = example_program()
        >>> store = SQLiteStore(":memory:", programs=p)
        >>> at = datetime(2024, 5, 6, tzinfo=timezone.utc)
        >>> store.create(Account.open("ann", program=p, at=at))
        >>> store.projection("ann").tier
        'silver'
        """
        row = self._run(False, lambda rows: rows.projection(member))
        if row is None:
            raise NotFound(
                f"member={member!r} has no account in this store", field="member", value=member
            )
        return row  # type: ignore[no-any-return]

    def lots(self, member: str) -> tuple[LotRow, ...]:
        """The member's open lots as projected (what finance reads for liability by expiry).

        >>> from datetime import datetime, timezone
        >>> from loyaltycore.accounts import Account, example_program
        >>> from loyaltycore.stores import SQLiteStore
        >>> p = example_program()
        >>> store = SQLiteStore(":memory:", programs=p)
        >>> at = datetime(2024, 5, 6, tzinfo=timezone.utc)
        >>> store.create(Account.open("ann", program=p, at=at))
        >>> _ = store.execute("ann", lambda a: a.adjust("a-1", at=at, points=5, reason="hi"))
        >>> [(lot.remaining, lot.source) for lot in store.lots("ann")]
        [(5, 'command:2')]
        """
        return tuple(self._run(False, lambda rows: rows.lots(member)))

    def pending(self, limit: int = 100) -> tuple[OutboxItem, ...]:
        """Unpublished outbox rows, in commit order per member.

        >>> from datetime import datetime, timezone
        >>> from loyaltycore.accounts import Account, example_program
        >>> from loyaltycore.stores import SQLiteStore
        >>> p = example_program()
        >>> store = SQLiteStore(":memory:", programs=p)
        >>> at = datetime(2024, 5, 6, tzinfo=timezone.utc)
        >>> store.create(Account.open("ann", program=p, at=at))
        >>> [(item.id, item.kind) for item in store.pending(10)]
        [('ann:1:0', 'event')]
        """
        if type(limit) is not int or limit < 1:
            raise InvalidArgument(
                f"limit={limit!r} must be a positive int", field="limit", value=limit
            )
        return tuple(self._run(False, lambda rows: rows.pending(limit)))

    def mark_published(self, ids: Iterable[str]) -> None:
        """Mark outbox rows as published (unknown ids are ignored).

        >>> from datetime import datetime, timezone
        >>> from loyaltycore.accounts import Account, example_program
        >>> from loyaltycore.stores import SQLiteStore
        >>> p = example_program()
        >>> store = SQLiteStore(":memory:", programs=p)
        >>> at = datetime(2024, 5, 6, tzinfo=timezone.utc)
        >>> store.create(Account.open("ann", program=p, at=at))
        >>> store.mark_published([item.id for item in store.pending(10)])
        >>> store.pending(10)
        ()
        """
        chosen = list(ids)
        self._run(True, lambda rows: rows.mark_published(chosen))

    def deliver(self, limit: int = 100) -> int:
        """Apply pending commands for other members (referral awards); how many were applied.

        Each goes through the recipient's own :meth:`execute`, idempotent by
        its id, and is marked published after it; a recipient with no
        account here is skipped (left pending).

        >>> from loyaltycore.accounts import example_program
        >>> from loyaltycore.stores import SQLiteStore
        >>> SQLiteStore(":memory:", programs=example_program()).deliver()
        0
        """
        done = 0
        for item in self.pending(limit):
            if item.kind != "award" or item.target is None:
                continue
            award: Award = serialize.converter.structure(item.body, Award)
            try:
                self.execute(item.target, award.apply)
            except NotFound:
                continue
            self.mark_published([item.id])
            done += 1
        return done

    def budget(self, budget_id: str) -> int:
        """Points issued so far under a program budget (0 before its first award).

        >>> from loyaltycore.accounts import example_program
        >>> from loyaltycore.stores import SQLiteStore
        >>> SQLiteStore(":memory:", programs=example_program()).budget("launch")
        0
        """
        return self._run(False, lambda rows: rows.budgets([budget_id])).get(budget_id, 0)  # type: ignore[no-any-return]

    def set_profile(self, member: str, profile: Profile | None) -> None:
        """Replace the member's profile (personal data, kept apart from events).

        >>> from datetime import date, datetime, timezone
        >>> from loyaltycore.accounts import Account, Profile, example_program
        >>> from loyaltycore.stores import SQLiteStore
        >>> p = example_program()
        >>> store = SQLiteStore(":memory:", programs=p)
        >>> at = datetime(2024, 5, 6, tzinfo=timezone.utc)
        >>> store.create(Account.open("ann", program=p, at=at))
        >>> store.set_profile("ann", Profile(birthday=date(1990, 5, 17)))
        >>> store.load("ann").profile.birthday
        datetime.date(1990, 5, 17)
        """
        if profile is not None and not isinstance(profile, Profile):
            raise InvalidType(
                f"profile={profile!r} must be a Profile", field="profile", value=profile
            )

        def work(rows: Rows) -> None:
            if rows.head(member) is None:
                raise NotFound(
                    f"member={member!r} has no account in this store", field="member", value=member
                )
            rows.put_profile(member, self._profile_body(profile))

        self._run(True, work)

    def erase(self, member: str) -> None:
        """Remove the member's personal data; amounts stay auditable.

        The profile row is deleted, and the free ``attributes`` a host
        passed with orders are emptied in the member's stored events,
        outcomes, snapshot and outbox. Nothing else in them is personal
        (see ``docs/accounts.md``), so finance keeps every amount.

        >>> from datetime import date, datetime, timezone
        >>> from loyaltycore.accounts import Account, Profile, example_program
        >>> from loyaltycore.stores import SQLiteStore
        >>> p = example_program()
        >>> store = SQLiteStore(":memory:", programs=p)
        >>> at = datetime(2024, 5, 6, tzinfo=timezone.utc)
        >>> store.create(Account.open("ann", program=p, at=at,
        ...                           profile=Profile(birthday=date(1990, 5, 17))))
        >>> store.erase("ann")
        >>> store.load("ann").profile is None
        True
        """

        def work(rows: Rows) -> None:
            if rows.head(member) is None:
                raise NotFound(
                    f"member={member!r} has no account in this store", field="member", value=member
                )
            rows.put_profile(member, None)
            for table, key, body in rows.bodies(member):
                scrubbed = _scrub(json.loads(body))
                text = _dumps(scrubbed)
                if text != body:
                    rows.put_body(table, key, text)

        self._run(True, work)
        self._seen.pop(member, None)


#: Fields that hold a document as JSON text (a payload, an order's evaluation).
_JSON_TEXTS: Final = frozenset({"payload", "evaluation"})


def _scrub(data: Any) -> Any:
    """Plain data with every ``attributes`` mapping emptied (payload texts included)."""
    if isinstance(data, dict):
        out: dict[str, Any] = {}
        for key, value in data.items():
            if key == "attributes" and isinstance(value, dict):
                out[key] = {}
            elif key in _JSON_TEXTS and isinstance(value, str) and value.startswith("{"):
                out[key] = _dumps(_scrub(json.loads(value)))
            else:
                out[key] = _scrub(value)
        return out
    if isinstance(data, list):
        return [_scrub(v) for v in data]
    return data

"""Value types of an account: profile, tenders, outcomes, events and their records.

Everything here is a frozen attrs value that converts to plain data, so an
account's events, outcomes and snapshot are JSON documents.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime
from decimal import Decimal
from operator import attrgetter
from typing import TYPE_CHECKING, Any, Final, Literal, TypeVar

import attrs

from loyaltycore import serialize
from loyaltycore._validate import check_id, check_int, check_str, to_decimal, type_name
from loyaltycore.calendar import to_utc
from loyaltycore.errors import InvalidArgument, InvalidType
from loyaltycore.points import ExpiryPolicy, MergedLot, TransferIn
from loyaltycore.predicates import Event, FrozenMap, Member
from loyaltycore.rules import Evaluation
from loyaltycore.tiers import Activity

if TYPE_CHECKING:
    from loyaltycore.accounts._account import Account, Applied

Attr = str | int | float | bool | Decimal | None
_T = TypeVar("_T", bound=tuple[Any, ...])
HoldState = Literal["open", "captured", "released"]


def _profile_member(profile: Profile) -> Member:
    """Check the profile's facts the way a rule's member would hold them."""
    return Member(
        "profile",
        birthday=profile.birthday,
        segments=profile.segments,
        attributes=profile.attributes,
    )


def _optional_ref(value: object) -> str | None:
    return None if value is None else check_id(value, "ref")


def _segments(value: object) -> frozenset[str]:
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise InvalidType(
            f"segments={value!r} must be a set of str, not {type_name(value)}",
            field="segments",
            value=value,
        )
    return frozenset(check_str(v, "segments item") for v in value)


def _attributes(value: object) -> FrozenMap[Attr]:
    if not isinstance(value, Mapping):
        raise InvalidType(
            f"attributes={value!r} must be a mapping, not {type_name(value)}",
            field="attributes",
            value=value,
        )
    return value if isinstance(value, FrozenMap) else FrozenMap(value)


@attrs.frozen
class Profile:
    """The personal facts the rules read, kept apart from the event stream.

    ``ref`` is the host's reference to its own personal record (name,
    contact details); ``birthday``, ``segments`` and ``attributes`` are what
    rules may test. An account holds its profile beside its state: events,
    outcomes and snapshots never contain it, so erasing a member's personal
    data is dropping the profile (see ``docs/accounts.md``).

    >>> from datetime import date
    >>> Profile(ref="crm-17", birthday=date(1990, 5, 17)).birthday.month
    5
    """

    ref: str | None = attrs.field(default=None, converter=_optional_ref)
    birthday: date | None = attrs.field(default=None)
    segments: frozenset[str] = attrs.field(default=frozenset(), converter=_segments)
    attributes: FrozenMap[Attr] = attrs.field(factory=FrozenMap, converter=_attributes)

    def __attrs_post_init__(self) -> None:
        _profile_member(self)  # the member's checks, naming the field


def _kind(value: object) -> str:
    return check_id(value, "kind")


def _money(value: object) -> Decimal:
    return to_decimal(value, "amount")


def _optional_points(value: object) -> int | None:
    return None if value is None else check_int(value, "points", minimum=1)


@attrs.frozen
class Tender:
    """How part of an order was paid: ``"cash"``, ``"card"``, ``"points"`` ...

    ``amount`` is the money covered, in the order's currency. A points
    tender also names the ``points`` redeemed for it; the rules earn nothing
    on the part paid with points.

    >>> Tender("points", "5.00", points=500).points
    500
    >>> Tender("card", "4.20").kind
    'card'
    """

    kind: str = attrs.field(converter=_kind)
    amount: Decimal = attrs.field(converter=_money)
    points: int | None = attrs.field(default=None, converter=_optional_points)

    def __attrs_post_init__(self) -> None:
        if (self.kind == "points") != (self.points is not None):
            raise InvalidArgument(
                f"tender kind={self.kind!r}: points= is given for a points tender and only for it",
                field="points",
                value=self.points,
            )


@attrs.frozen
class AwardResult:
    """One award of an order: what the rule gave and what the member-wide caps let through.

    >>> AwardResult("bonus", "points", "m-1", 300, 200, "daily-bonus").granted
    200
    """

    rule: str
    currency: str
    recipient: str
    points: int
    granted: int
    cap: str | None = None


def _at(value: object) -> datetime:
    return to_utc(value, "at")


def _available_at(value: object) -> datetime | None:
    return None if value is None else to_utc(value, "available_at")


def _expires_at(value: object) -> datetime | None:
    return None if value is None else to_utc(value, "expires_at")


def _member_id(_: object, __: object, value: Any) -> None:
    check_id(value, "member")


def _award_id(_: object, __: object, value: Any) -> None:
    check_id(value, "id")


def _award_points(_: object, __: object, value: Any) -> None:
    check_int(value, "points", minimum=1)


@attrs.frozen
class Award:
    """A points award for another member, emitted by a command (a referral bonus).

    It is a command for that member's own account, idempotent by its ``id``:
    a store keeps it in its outbox and applies it through that member's
    ``execute``, never writing two accounts at once.

    >>> from datetime import datetime, timezone
    >>> at = datetime(2024, 5, 1, tzinfo=timezone.utc)
    >>> Award("m-2", "referral:m-1:o-1:referral", at, 1000, "referral by m-1").points
    1000
    """

    member: str = attrs.field(validator=_member_id)
    id: str = attrs.field(validator=_award_id)
    at: datetime = attrs.field(converter=_at)
    points: int = attrs.field(validator=_award_points)
    reason: str = ""
    available_at: datetime | None = attrs.field(default=None, converter=_available_at)
    expires_at: datetime | None = attrs.field(default=None, converter=_expires_at)

    def apply(self, account: Account) -> Applied:
        """Apply the award to the recipient's account (its ``award`` command).

        The points go into a lot whose source is ``"referral"``.

        >>> from datetime import datetime, timezone
        >>> from loyaltycore.accounts import Account, example_program
        >>> at = datetime(2024, 5, 1, tzinfo=timezone.utc)
        >>> ben = Account.open("ben", program=example_program(), at=at)
        >>> applied = Award("ben", "ref-1", at, 250, "referral").apply(ben)
        >>> applied.outcome.earned, applied.account.ledger.lots[0].source
        (250, 'referral')
        """
        return account.award(
            self.id,
            at=self.at,
            points=self.points,
            reason=self.reason,
            available_at=self.available_at,
            expires_at=self.expires_at,
            source="referral",
        )


@attrs.frozen
class Outcome:
    """What one command did, as stored for retries.

    Points fields are this command's own flows; ``available`` to ``debt``
    are the balances after it; ``tier`` is the effective tier after it and
    ``change`` how it moved (``"upgrade"``, ``"retain"``, ``"downgrade"``).
    ``lines`` are an order's awards, ``emitted`` the commands for other
    members, ``counters`` the rule-counter changes (a refund's are
    negative), ``budgets`` the program-budget points used (a store adds them
    to its shared counters), ``uncollected`` clawback that found no points
    to take.

    >>> from datetime import datetime, timezone
    >>> at = datetime(2024, 5, 1, tzinfo=timezone.utc)
    >>> Outcome("redeem", "r-1", 7, at, at, redeemed=200, available=300, tier="silver").redeemed
    200
    """

    command: str
    id: str
    version: int
    at: datetime
    occurred_at: datetime
    earned: int = 0
    redeemed: int = 0
    clawed_back: int = 0
    returned: int = 0
    uncollected: int = 0
    expired: int = 0
    available: int = 0
    pending: int = 0
    held: int = 0
    debt: int = 0
    tier: str = ""
    change: str = "retain"
    lines: tuple[AwardResult, ...] = ()
    emitted: tuple[Award, ...] = ()
    counters: Mapping[str, int] = attrs.field(factory=dict)
    budgets: Mapping[str, int] = attrs.field(factory=dict)
    note: str = ""


@attrs.frozen
class ProgramRef:
    """``(id, version)`` of a program, as events and snapshots name it.

    >>> ProgramRef("coffee", 2).version
    2
    """

    id: str
    version: int

    @property
    def key(self) -> tuple[str, int]:
        """``(id, version)``."""
        return (self.id, self.version)


@attrs.frozen
class LedgerOp:
    """One points-ledger command an account command ran, as recorded in its event.

    Replay runs these again, in order, at the event's posting and business
    times, so a ledger is rebuilt from account events alone. An earn's
    ``source`` is the lot source the command chose (an order's earns
    ``"purchase"``, an award ``"bonus"`` or the source it was given); replay
    earns with the recorded one, and an op recorded without one is a purchase.

    >>> LedgerOp("redeem", "7.0", points=200).op
    'redeem'
    """

    op: str
    id: str = ""
    points: int | None = None
    available_at: datetime | None = None
    expires_at: datetime | None = None
    deadline: datetime | None = None
    reason: str = ""
    of: str = ""
    other: str = ""
    parts: tuple[TransferIn, ...] = ()
    lots: tuple[MergedLot, ...] = ()
    debt: int = 0
    policy: ExpiryPolicy | None = None
    tz: str | None = attrs.field(default=None, kw_only=True)
    debt_policy: str | None = attrs.field(default=None, kw_only=True)
    source: str = attrs.field(default="purchase", kw_only=True)


class Payload:
    """A command's canonical input, what a retry is compared with.

    It keeps the checked values a command was given and writes them as
    canonical JSON text (sorted keys, money in its shortest exact form,
    instants in UTC) on first need: a retry's comparison, plain data. Two
    payloads are equal when their texts are.

    >>> from decimal import Decimal
    >>> Payload({"amount": Decimal("1.0")}) == Payload({"amount": "1.00"})
    False
    >>> Payload({"amount": Decimal("1.0")}).text == Payload({"amount": Decimal("1.00")}).text
    True
    """

    __slots__ = ("_body", "_text")

    def __init__(self, body: Mapping[str, object] | None = None, text: str | None = None) -> None:
        if (body is None) == (text is None):
            raise InvalidArgument("give a payload's values or its text", field="payload")
        self._body = body
        self._text = text

    @property
    def text(self) -> str:
        """The canonical JSON text."""
        if self._text is None:
            from loyaltycore.accounts._payload import dumps

            assert self._body is not None
            self._text = dumps(self._body)
        return self._text

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Payload):
            return NotImplemented
        return self is other or self.text == other.text

    __hash__ = None  # type: ignore[assignment]

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return f"Payload({self.text})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (Payload, (None, self.text))


#: An evaluation as an order keeps it in memory: one flat tuple of atoms (see :func:`_parts`).
_Parts = tuple[Any, ...]


#: Tuples of ints and strs that orders keep, by value: orders of the same basket keep one
#: copy of their award lines and trace codes (bounded: cleared when full).
_SHARED: dict[tuple[Any, ...], tuple[Any, ...]] = {}
_SHARED_MAX = 4096


def shared(value: _T) -> _T:
    """The kept tuple equal to ``value`` (only for tuples of ints, strs, None and such tuples).

    Such tuples are equal only when their items are the same values, so
    sharing one changes nothing a reader can see.
    """
    found = _SHARED.get(value)
    if found is None:
        if len(_SHARED) >= _SHARED_MAX:
            _SHARED.clear()
        _SHARED[value] = found = value
    return found  # type: ignore[return-value]


#: The fields of an order's event a kept evaluation holds as atoms (its items and attributes
#: aside), in this order.
_EVENT: Final = ("id", "kind", "at", "amount", "channel", "store", "discount", "points_paid")
_event_fields: Final = attrgetter(*_EVENT)
#: An empty attributes map (what an event without attributes holds: one for all).
_NO_ATTRIBUTES: Final[FrozenMap[Any]] = FrozenMap()


def _put_map(out: list[Any], value: Mapping[str, int], kinds: tuple[type, ...] = (dict,)) -> None:
    """Write a mapping of ``kinds`` as its length, keys and values (another: -1 and itself)."""
    if type(value) in kinds:
        out.append(len(value))
        for pair in value.items():
            out += pair
    else:
        out += (-1, value)


def _get_map(parts: _Parts, i: int) -> tuple[Mapping[str, int], int]:
    """The mapping :func:`_put_map` wrote at ``parts[i]``, and the index after it."""
    n = parts[i]
    if n < 0:
        return parts[i + 1], i + 2
    flat = parts[i + 1 : i + 1 + 2 * n]
    return dict(zip(flat[::2], flat[1::2], strict=True)), i + 1 + 2 * n


def _parts(evaluation: Evaluation) -> tuple[object, _Parts]:
    """What an order keeps of its evaluation: its event's items, then one tuple of atoms.

    The member without profile facts and the trace without conditions, as
    plain values rather than objects: an account keeps one per order in its
    refund window, and a tuple of atoms costs the garbage collector nothing
    (it stops tracking one at its first collection, and no inner tuple is
    made per counter). The parts, in order: the event's ``_EVENT`` fields;
    the member's id, ``joined_at`` and tier; eligible, points, the raw award
    lines; the trace's rule ids, codes and details; then the member's
    counters, the increments and the budget increments (each as its length
    and its keys and values). The award lines and the trace's codes (ints
    and strs only, so an equal tuple is the same value) are shared between
    orders that have equal ones. The first value is the event's items, or
    the event itself when it has attributes.
    """
    event, m, trace = evaluation.event, evaluation.member, evaluation.trace
    out: list[Any] = [
        *_event_fields(event),
        m.id,
        m.joined_at,
        m.tier,
        evaluation.eligible,
        evaluation.points,
        shared(evaluation.raw),
        trace.rule_ids,
        shared(trace.codes),
        shared(trace.details),
    ]
    _put_map(out, m.counters, (dict, FrozenMap))  # (a member's counters are made a map)
    _put_map(out, evaluation.increments)
    _put_map(out, evaluation.budget_increments)
    return (event.items if not event.attributes else event), tuple(out)


def _kept(held: object, parts: _Parts) -> Evaluation:
    """The evaluation of :func:`_parts` (no profile facts, no conditions)."""
    from loyaltycore.predicates import Member
    from loyaltycore.rules import Trace

    width = len(_EVENT)
    id, kind, at, amount, channel, store, discount, points_paid = parts[:width]
    event = (
        held
        if type(held) is Event
        else Event(
            id,
            kind,
            at,
            amount,
            items=held,
            channel=channel,
            store=store,
            attributes=_NO_ATTRIBUTES,
            discount=discount,
            points_paid=points_paid,
        )
    )
    member, joined_at, tier, eligible, points, raw, rule_ids, codes, details = parts[
        width : width + 9
    ]
    counters, i = _get_map(parts, width + 9)
    increments, i = _get_map(parts, i)
    budgets, _ = _get_map(parts, i)
    return Evaluation(
        event,
        Member(member, joined_at=joined_at, tier=tier, counters=counters),
        eligible,
        points,
        raw,
        increments,
        budgets,
        Trace(rule_ids, codes, details, ((),) * len(rule_ids)),
    )


class StoredEvaluation:
    """An order's evaluation as kept for refunds: its parts, the value or its document text.

    An order keeps the parts of the value it computed; a replayed or
    restored account keeps the text it read. The value (for a refund) and
    the text (for plain data and equality) are made on first need, so
    commands never pay for serialising and loads never pay for parsing.
    Both leave out the member's profile facts and the trace's condition
    texts: a live account and a restored one refund from the same value.

    >>> from datetime import datetime, timezone
    >>> from loyaltycore.predicates import Event, Member
    >>> from loyaltycore.rules import FixedPoints, Rule, RuleSet
    >>> done = RuleSet([Rule("r", None, FixedPoints(5))]).evaluate(
    ...     Event("o", "purchase", datetime(2024, 1, 1, tzinfo=timezone.utc)), Member("m"))
    >>> kept = StoredEvaluation(done)
    >>> StoredEvaluation(text=kept.text) == kept, StoredEvaluation(text=kept.text).value.points
    (True, 5)
    """

    __slots__ = ("_held", "_parts", "_text", "_value")

    def __init__(self, value: Evaluation | None = None, text: str | None = None) -> None:
        if (value is None) == (text is None):
            raise InvalidArgument("give an evaluation or its text", field="evaluation")
        #: (the event's items, or the event; then the parts: see ``_parts``)
        self._held: object = None
        self._parts: _Parts | None = None
        if value is not None:
            self._held, self._parts = _parts(value)
        self._value: Evaluation | None = None
        self._text = text

    @property
    def text(self) -> str:
        """The evaluation's document as canonical JSON text (no profile facts, no conditions)."""
        if self._text is None:
            self._text = serialize.dumps(self.value)
        return self._text

    @property
    def value(self) -> Evaluation:
        """The evaluation (without the member's profile facts or the condition texts)."""
        if self._value is None:
            if self._parts is not None:
                self._value = _kept(self._held, self._parts)
            else:
                assert self._text is not None
                self._value = serialize.loads(self._text, Evaluation)
        return self._value

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, StoredEvaluation):
            return NotImplemented
        return self is other or self.text == other.text

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"StoredEvaluation(points={self.value.points})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (StoredEvaluation, (None, self.text))


@attrs.frozen
class OrderRecord:
    """An order kept for refunds: its evaluation and what was granted and taken back.

    ``evaluation`` is the order's :class:`~loyaltycore.rules.Evaluation`
    (without the member's profile facts or the trace's condition texts),
    as plain data its document's JSON text (:class:`StoredEvaluation`);
    ``member`` is the member it was made by. ``granted`` and ``clawed``
    have one entry per award line of the evaluation; ``earns`` are the
    ledger earns that hold the order's points and ``line_earn`` which earn
    holds each line; ``tender`` is the ledger
    redemption of the points tendered. ``in_ledger`` is False once the
    order's ledger entries are no longer in this ledger (after a migration
    or a merge): its refunds then debit and credit points instead.

    >>> OrderRecord.__name__
    'OrderRecord'
    """

    id: str
    version: int
    at: datetime
    occurred_at: datetime
    program: ProgramRef
    member: str
    evaluation: StoredEvaluation
    currency: str
    rate: Decimal | None
    total: Decimal
    granted: tuple[int, ...]
    caps: tuple[tuple[str, ...], ...]
    earns: tuple[tuple[str, int], ...]
    line_earn: tuple[int, ...]
    tender: str = ""
    tendered: int = 0
    in_ledger: bool = True
    refunded_items: Mapping[str, int] = attrs.field(factory=dict)
    refunded_amount: Decimal = Decimal(0)
    refunded_all: bool = False
    clawed: tuple[int, ...] = ()
    returned: int = 0
    decremented: Mapping[str, int] = attrs.field(factory=dict)
    spend_back: int = 0

    def stored_evaluation(self) -> Evaluation:
        """The order's evaluation, read back from its stored text.

        >>> from datetime import datetime, timezone
        >>> from loyaltycore.accounts import Account, example_program
        >>> from loyaltycore.predicates import Item
        >>> at = datetime(2024, 5, 6, tzinfo=timezone.utc)
        >>> a = Account.open("ann", program=example_program(), at=at)
        >>> a = a.order("o-1", at=at, lines=[Item("latte", unit_price="4.50")]).account
        >>> a.orders["o-1"].stored_evaluation().points
        45
        """
        return self.evaluation.value


@attrs.frozen
class HoldRecord:
    """A hold placed through the account: its ledger id, deadline and state.

    >>> from datetime import datetime, timezone
    >>> HoldRecord("3.0", datetime(2024, 5, 1, tzinfo=timezone.utc), "open").state
    'open'
    """

    ledger_id: str
    deadline: datetime
    state: HoldState = "open"


@attrs.frozen
class Seen:
    """A command remembered for retries: its id, canonical payload and outcome.

    >>> Seen.__name__
    'Seen'
    """

    id: str
    command: str
    payload: Payload
    outcome: Outcome


@attrs.frozen
class TierOp:
    """A tier command an event carries: a join (open, migrate) or an override (merge).

    >>> TierOp("join").tier is None
    True
    """

    kind: Literal["join", "override"]
    tier: str | None = None
    until: date | None = None


@attrs.frozen
class Absorbed:
    """What a merge brings over from the absorbed account besides points and activity.

    >>> Absorbed("m-old").outcomes
    ()
    """

    member: str
    outcomes: tuple[Seen, ...] = ()
    orders: tuple[OrderRecord, ...] = ()


@attrs.frozen
class AccountEvent:
    """One command's effects, as an account's history records them.

    ``payload`` is the command's canonical input (:class:`Payload`, what a
    retry is compared with); ``ledger`` the points-ledger commands it ran; ``activity``
    the tier activity it added; ``counters`` and ``caps`` the counter
    changes; ``order`` the order record it stored or updated; ``program``,
    ``tier`` and ``absorbed`` what an open, a migration or a merge set.
    Personal data is never part of an event.

    >>> AccountEvent.__name__
    'AccountEvent'
    """

    version: int
    command: str
    id: str
    at: datetime
    occurred_at: datetime
    payload: Payload
    outcome: Outcome
    ledger: tuple[LedgerOp, ...] = ()
    activity: tuple[Activity, ...] = ()
    counters: Mapping[str, int] = attrs.field(factory=dict)
    caps: Mapping[str, int] = attrs.field(factory=dict)
    order: OrderRecord | None = None
    program: ProgramRef | None = None
    tier: TierOp | None = None
    absorbed: Absorbed | None = None
    member: str = ""
    hold: str = ""


VALUE_TYPES = (
    Profile,
    Tender,
    AwardResult,
    Award,
    Outcome,
    ProgramRef,
    LedgerOp,
    OrderRecord,
    HoldRecord,
    Seen,
    TierOp,
    Absorbed,
    AccountEvent,
)

"""Values of the points ledger: expiry policies, lots, holds, balances, events.

These are plain frozen values. The ledger engine (:mod:`loyaltycore.points._ledger`)
builds them through their dumb ``__init__`` once the public boundary
(:mod:`loyaltycore.points`) has validated the input.
"""

from __future__ import annotations

import functools
import importlib
from datetime import date, datetime, timedelta, tzinfo
from decimal import Decimal
from typing import Any, ClassVar, Final, Literal, SupportsIndex, TypeAlias

import attrs
import numpy as np

from loyaltycore._frames import Col, Frames
from loyaltycore._validate import check_int
from loyaltycore.calendar import (
    Period,
    add_months,
    micros,
    period_bounds,
    start_of_day,
)
from loyaltycore.errors import InvalidRule, InvalidTime

Parts: TypeAlias = tuple[tuple[str, int], ...]
#: Points consumed per lot source: (source, points), in consumption order.
Sources: TypeAlias = tuple[tuple[str, int], ...]

#: The version of the zone data bundled with ``tzdata`` (read once, at import):
#: a history records the version its instants were computed with.
TZDATA: Final[str] = str(importlib.import_module("tzdata").IANA_VERSION)
#: The ``tzdata`` of a history upgraded from a version that did not record it.
TZDATA_UPGRADED: Final = "upgraded"

#: The lot sources every program has (a host may use its own non-empty strings).
SOURCES: Final = ("purchase", "bonus", "goodwill", "referral", "partner", "transfer", "adjustment")


# -- expiry policies --------------------------------------------------------

#: The largest offsets for which some earn date has an expiry instant a
#: datetime can hold (00:00 local after the last usable date, by 9999-12-31):
#: from 0001-01-01, 3,652,057 days are usable through 9999-12-30, 119,987
#: months through 9999-12-01, and the 9,997th year after year 1 ends on
#: 9998-12-31. A policy with a larger offset could never give an expiry, so
#: it is refused when built.
MAX_DAYS: Final = (date.max - date.min).days - 1
MAX_MONTHS: Final = 12 * (date.max.year - date.min.year) + date.max.month - date.min.month
MAX_PERIODS: Final[dict[str, int]] = {
    "month": MAX_MONTHS - 1,
    "quarter": MAX_MONTHS // 3 - 1,
    "year": MAX_MONTHS // 12 - 1,
}


def _whole(value: SupportsIndex | None) -> Any:
    """A numpy integer as a Python int (everything else is left to the validator)."""
    return int(value) if isinstance(value, np.integer) else value


def _positive(_: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is not None:
        biggest = MAX_DAYS if attribute.name == "days" else MAX_MONTHS
        check_int(value, attribute.name, minimum=1, maximum=biggest, error=InvalidRule)


def _beyond(policy: object, day: date) -> InvalidTime:
    """The error of a policy whose date for ``day`` is later than a date can be."""
    return InvalidTime(
        f"day={day.isoformat()}: {policy!r} gives a date after {date.max.isoformat()}",
        field="day",
        value=day,
    )


def _period(_: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is not None and value not in ("month", "quarter", "year"):
        raise InvalidRule(
            f"{attribute.name}={value!r} must be 'month', 'quarter' or 'year'",
            field=attribute.name,
            value=value,
        )


@attrs.frozen(cache_hash=True)
class NeverExpire:
    """Points never expire.

    >>> NeverExpire().last_usable(date(2024, 1, 31)) is None
    True
    """

    def last_usable(self, day: date) -> date | None:
        """The last local date on which points earned on ``day`` can be used.

        >>> NeverExpire().last_usable(date(2024, 5, 1)) is None
        True
        """
        return None


@attrs.frozen(cache_hash=True)
class ExpireAfter:
    """Points expire a fixed number of months or days after the local earn date.

    The offset is taken from the earn date in one step, so Jan 31 + 1 month is
    Feb 29 (or 28) and Feb 29 + 12 months is Feb 28. The result is the last
    usable local date; ``round_to`` moves it to the end of its month, quarter
    or year.

    >>> ExpireAfter(months=1).last_usable(date(2024, 1, 31))
    datetime.date(2024, 2, 29)
    >>> ExpireAfter(days=30).last_usable(date(2024, 1, 1))
    datetime.date(2024, 1, 31)
    >>> ExpireAfter(months=12, round_to="quarter").last_usable(date(2024, 5, 17))
    datetime.date(2025, 6, 30)
    """

    months: int | None = attrs.field(default=None, converter=_whole, validator=_positive)
    days: int | None = attrs.field(
        default=None, converter=_whole, validator=_positive, kw_only=True
    )
    round_to: Period | None = attrs.field(default=None, validator=_period, kw_only=True)

    def __attrs_post_init__(self) -> None:
        if (self.months is None) == (self.days is None):
            raise InvalidRule(
                f"ExpireAfter(months={self.months!r}, days={self.days!r}) needs exactly one "
                "of months= or days=",
                field="months",
                value=self.months,
            )

    def last_usable(self, day: date) -> date | None:
        """The last local date on which points earned on ``day`` can be used.

        >>> ExpireAfter(months=12).last_usable(date(2024, 2, 29))
        datetime.date(2025, 2, 28)

        Raises:
            InvalidTime: the date would be after 9999-12-31.
        """
        try:
            if self.months is not None:
                last = add_months(day, self.months)
            else:
                assert self.days is not None
                last = day + timedelta(days=self.days)
            if self.round_to is not None:
                last = period_bounds(last, self.round_to)[1] - timedelta(days=1)
        except (ValueError, OverflowError):
            raise _beyond(self, day) from None
        return last


@attrs.frozen(cache_hash=True)
class ExpireAtPeriodEnd:
    """Points expire at the end of the period ``periods_after`` the earn period.

    ``ExpireAtPeriodEnd("year", 1)``: points earned during 2024 expire on
    31 Dec 2025 (the instant 00:00 local on 1 Jan 2026).

    >>> ExpireAtPeriodEnd().last_usable(date(2024, 3, 5))
    datetime.date(2025, 12, 31)
    >>> ExpireAtPeriodEnd("quarter", 0).last_usable(date(2024, 3, 5))
    datetime.date(2024, 3, 31)
    """

    period: Period = attrs.field(default="year", validator=_period)
    periods_after: int = attrs.field(default=1, converter=_whole)

    @periods_after.validator
    def _check_after(self, attribute: attrs.Attribute[int], value: int) -> None:
        biggest = MAX_PERIODS.get(self.period, 0)
        check_int(value, "periods_after", minimum=0, maximum=biggest, error=InvalidRule)

    def last_usable(self, day: date) -> date | None:
        """The last local date on which points earned on ``day`` can be used.

        >>> ExpireAtPeriodEnd("quarter", 1).last_usable(date(2024, 2, 10))
        datetime.date(2024, 6, 30)

        Raises:
            InvalidTime: the date would be after 9999-12-31.
        """
        try:
            end = period_bounds(day, self.period, offset=self.periods_after)[1]
            return end - timedelta(days=1)
        except (ValueError, OverflowError):
            raise _beyond(self, day) from None


@attrs.frozen(cache_hash=True)
class ExpireOnInactivity:
    """All points expire when the member has been inactive for ``months``.

    One ledger-level deadline (last activity's local date + ``months``); lots
    carry no expiry of their own. Earning, redeeming, capturing and credit
    adjustments are activity; holds and incoming transfers are not.

    >>> ExpireOnInactivity(months=18).deadline_usable(date(2024, 1, 31))
    datetime.date(2025, 7, 31)
    """

    months: int = attrs.field(default=18, converter=_whole, validator=_positive)

    def last_usable(self, day: date) -> date | None:
        """Lots never expire on their own under this policy.

        >>> ExpireOnInactivity().last_usable(date(2024, 2, 10)) is None
        True
        """
        return None

    def deadline_usable(self, day: date) -> date:
        """The last usable local date when the last activity was on ``day``.

        >>> ExpireOnInactivity(months=1).deadline_usable(date(2024, 1, 31))
        datetime.date(2024, 2, 29)

        Raises:
            InvalidTime: the date would be after 9999-12-31.
        """
        try:
            return add_months(day, self.months)
        except (ValueError, OverflowError):
            raise _beyond(self, day) from None


ExpiryPolicy: TypeAlias = NeverExpire | ExpireAfter | ExpireAtPeriodEnd | ExpireOnInactivity
POLICY_TYPES: Final = (NeverExpire, ExpireAfter, ExpireAtPeriodEnd, ExpireOnInactivity)


@functools.lru_cache(maxsize=65_536)
def expiry_for(policy: ExpiryPolicy, tz: tzinfo, day: date) -> tuple[datetime, int] | None:
    """The expiry instant (and its micros) of points earned on local ``day``.

    Memoised per (policy, zone, local date): the instant is 00:00 local on the
    day after the last usable date.

    Raises:
        InvalidTime: the instant would be after the last a datetime holds.
    """
    last = policy.last_usable(day)
    if last is None:
        return None
    return _day_after(policy, last, tz, day)


@functools.lru_cache(maxsize=65_536)
def inactivity_deadline(policy: ExpireOnInactivity, tz: tzinfo, day: date) -> tuple[datetime, int]:
    """The inactivity deadline instant after activity on local ``day``.

    Raises:
        InvalidTime: the instant would be after the last a datetime holds.
    """
    return _day_after(policy, policy.deadline_usable(day), tz, day)


def _day_after(policy: object, last: date, tz: tzinfo, day: date) -> tuple[datetime, int]:
    """The instant 00:00 local after the local date ``last`` (and its micros)."""
    try:
        instant = start_of_day(last + timedelta(days=1), tz=tz)
    except OverflowError:
        raise _beyond(policy, day) from None
    return instant, micros(instant)


@attrs.frozen
class Difference:
    """A recorded effect that the rules derive differently now (see ``PointsLedger.audit``).

    ``index`` is the event's place in the history, ``event`` its id,
    ``field`` the effect (``"lot_expires_at"`` or ``"inactivity_deadline"``);
    ``None`` stands for "never" / "none".

    >>> from datetime import timezone
    >>> at = datetime(2025, 1, 5, tzinfo=timezone.utc)
    >>> Difference(1, "e1", "lot_expires_at", at, at + timedelta(hours=1)).field
    'lot_expires_at'
    """

    index: int
    event: str
    field: str
    recorded: datetime | None
    recomputed: datetime | None


def _sources_text(sources: Sources) -> str:
    """A statement's note of the sources points came from: `` [bonus 40, purchase 10]``."""
    if not sources or (len(sources) == 1 and sources[0][0] == "purchase"):
        return ""
    return " [" + ", ".join(f"{source} {points}" for source, points in sources) + "]"


# -- state values -----------------------------------------------------------


@attrs.frozen
class Lot:
    """Points from one earn (or credit, transfer, merge), tracked to the point.

    ``amount = remaining + held + used + expired + reversed`` at all times:
    ``remaining`` is usable (or pending while ``pending``), ``held`` is
    reserved by holds, ``used`` went to redemptions, captures, debits,
    transfers and debt repayment, ``expired`` expired and ``reversed`` was
    clawed back by a refund of this lot's earn. ``source`` says where the
    points came from and ``value_per_point`` what each was worth at issue
    (``None``: not given); lots received by a transfer or merge keep them.

    >>> from loyaltycore.points import PointsLedger
    >>> from datetime import datetime, timezone
    >>> at = datetime(2024, 1, 5, tzinfo=timezone.utc)
    >>> ledger = PointsLedger.open("m-1").earn("e1", at=at, points=100)
    >>> ledger.lots[0].id, ledger.lots[0].remaining
    ('e1', 100)
    """

    id: str
    seq: int
    amount: int
    earned_at: datetime
    expires_at: datetime | None
    available_at: datetime | None
    pending: bool
    remaining: int
    held: int = 0
    used: int = 0
    expired: int = 0
    reversed: int = 0
    source: str = "purchase"
    value_per_point: Decimal | None = None


HoldStatus: TypeAlias = Literal["open", "captured", "released", "timed_out"]


@attrs.frozen
class Hold:
    """Points reserved from specific lots for a checkout.

    >>> from loyaltycore.points import PointsLedger
    >>> from datetime import datetime, timedelta, timezone
    >>> at = datetime(2024, 1, 5, tzinfo=timezone.utc)
    >>> ledger = PointsLedger.open("m-1").earn("e1", at=at, points=100)
    >>> ledger = ledger.hold("h1", at=at, points=30, deadline=at + timedelta(minutes=15))
    >>> ledger.holds[0].status, ledger.holds[0].lots
    ('open', (('e1', 30),))
    """

    id: str
    member: str
    points: int
    deadline: datetime
    lots: Parts
    status: HoldStatus = "open"
    captured: int = 0


@attrs.frozen
class Balance:
    """A ledger's balance and its lifetime totals per flow.

    Conservation: ``earned + adjusted_in + transferred_in + merged_in ==
    available + pending + held + (redeemed - cancelled) + expired +
    clawed_back + adjusted_out + transferred_out + merged_debt - debt``.

    >>> from loyaltycore.points import PointsLedger
    >>> from datetime import datetime, timezone
    >>> at = datetime(2024, 1, 5, tzinfo=timezone.utc)
    >>> b = PointsLedger.open("m-1").earn("e1", at=at, points=100).balance()
    >>> b.available, b.earned, b.total
    (100, 100, 100)
    """

    available: int = 0
    pending: int = 0
    held: int = 0
    debt: int = 0
    earned: int = 0
    adjusted_in: int = 0
    transferred_in: int = 0
    merged_in: int = 0
    redeemed: int = 0
    cancelled: int = 0
    expired: int = 0
    clawed_back: int = 0
    adjusted_out: int = 0
    transferred_out: int = 0
    merged_debt: int = 0
    debt_repaid: int = 0

    @property
    def total(self) -> int:
        """Points the member owns net of debt: available + pending + held - debt.

        >>> Balance(available=10, held=5, debt=0).total
        15
        """
        return self.available + self.pending + self.held - self.debt


#: Names of the Balance fields in order (the engine keeps them in a list).
BALANCE_FIELDS: Final = tuple(a.name for a in attrs.fields(Balance))
(
    AVAILABLE,
    PENDING,
    HELD,
    DEBT,
    EARNED,
    ADJUSTED_IN,
    TRANSFERRED_IN,
    MERGED_IN,
    REDEEMED,
    CANCELLED,
    EXPIRED,
    CLAWED_BACK,
    ADJUSTED_OUT,
    TRANSFERRED_OUT,
    MERGED_DEBT,
    DEBT_REPAID,
) = range(len(BALANCE_FIELDS))


@attrs.frozen
class ExpiringPoints:
    """Points that stop being usable after ``last_usable`` (a local date).

    >>> from datetime import timezone
    >>> e = ExpiringPoints(date(2024, 12, 31), datetime(2025, 1, 1, tzinfo=timezone.utc), 40)
    >>> e.last_usable, e.points
    (datetime.date(2024, 12, 31), 40)
    """

    last_usable: date
    expires_at: datetime
    points: int
    cause: Literal["lot", "inactivity"] = "lot"


@attrs.frozen
class StatementLine:
    """One event on a statement: what happened and the balance after it.

    ``change`` is the change of ``available + pending + held - debt``.

    >>> from datetime import timezone
    >>> at = datetime(2024, 1, 5, tzinfo=timezone.utc)
    >>> StatementLine(at, date(2024, 1, 5), "Earned", "e1", "earned 100", 100, 100).change
    100
    """

    at: datetime
    day: date
    kind: str
    id: str
    text: str
    change: int
    balance: int


@attrs.frozen
class Statement(Frames):
    """The events of ``[start, end)`` with opening and closing balances.

    As a frame: one row per line (``at``, ``day``, ``kind``, ``id``,
    ``text``, ``change``, ``balance``).

    >>> from loyaltycore.points import PointsLedger
    >>> from datetime import datetime, timezone
    >>> at = datetime(2024, 1, 5, tzinfo=timezone.utc)
    >>> ledger = PointsLedger.open("m-1").earn("e1", at=at, points=100)
    >>> s = ledger.statement(datetime(2024, 1, 1, tzinfo=timezone.utc), at + timedelta(days=1))
    >>> s.opening, s.closing, len(s.lines)
    (0, 100, 1)
    """

    member: str
    start: datetime
    end: datetime
    opening: int
    closing: int
    lines: tuple[StatementLine, ...]
    balance: Balance
    tz: str = attrs.field(default="UTC", kw_only=True)

    def _columns_for_frames(self) -> tuple[Col, ...]:
        import numpy as np

        from loyaltycore.calendar import to_micros

        lines = self.lines
        kinds = sorted({line.kind for line in lines})

        def objects(values: list[str]) -> Any:
            out = np.empty(len(values), dtype=object)
            out[:] = values
            return out

        return (
            Col("at", "instant", np.array([to_micros(x.at) for x in lines], dtype=np.int64)),
            Col("day", "date", np.array([x.day for x in lines], dtype="datetime64[D]")),
            Col("kind", "category", np.array([kinds.index(x.kind) for x in lines]), labels=kinds),
            Col("id", "text", objects([x.id for x in lines])),
            Col("text", "text", objects([x.text for x in lines])),
            Col("change", "int", np.array([x.change for x in lines], dtype=np.int64)),
            Col("balance", "int", np.array([x.balance for x in lines], dtype=np.int64)),
        )

    def __str__(self) -> str:
        from loyaltycore.calendar import zone

        tz = zone(self.tz)
        first, last = self.start.astimezone(tz), self.end.astimezone(tz)
        rows = [f"Statement for {self.member}: {first:%Y-%m-%d %H:%M} to {last:%Y-%m-%d %H:%M}"]
        rows.append(f"{'':10}  {'opening balance':<50}{self.opening:>10}")
        for line in self.lines:
            rows.append(
                f"{line.day.isoformat():10}  {line.text:<50}{line.change:>+10}{line.balance:>10}"
            )
        rows.append(f"{'':10}  {'closing balance':<50}{self.closing:>10}")
        b = self.balance
        rows.append(f"available {b.available}, pending {b.pending}, held {b.held}, debt {b.debt}")
        return "\n".join(rows)


# -- events -----------------------------------------------------------------


#: How a statement words each cause of an expiry.
_EXPIRY_CAUSES: Final = {
    "lot": "reached its expiry",
    "inactivity": "inactivity",
    "hold": "expired while held",
    "cancel": "expired before cancellation",
}


@attrs.frozen
class Opened:
    """First event of every ledger: its member and program settings.

    ``tzdata`` is the version of the zone data the history's instants were
    computed with (:data:`TZDATA` when opened; ``"upgraded"`` for a history
    written before versions were recorded).

    >>> Opened("m-1", tz="UTC", policy=NeverExpire()).member
    'm-1'
    """

    member: str
    tz: str = attrs.field(kw_only=True)
    policy: ExpiryPolicy = attrs.field(kw_only=True)
    debt_policy: Literal["debt", "strict"] = attrs.field(default="debt", kw_only=True)
    tzdata: str = attrs.field(default=TZDATA, kw_only=True)
    derived: ClassVar[bool] = False
    #: Its record in the engine's history (see ``points._records``), a letter a field.
    _record: ClassVar[str] = ""
    inputs: ClassVar[tuple[str, ...]] = ()

    def _line(self, tz: tzinfo) -> tuple[str, str]:
        """(what it names, its text) on a statement."""
        return "", "Opened"


@attrs.frozen
class Earned:
    """Points earned, usable from ``available_at`` (pending until then).

    ``source`` and ``value_per_point`` are the new lot's. The engine records
    the effects it derived: ``lot_expires_at``, the lot's expiry instant
    (``None``: never), and ``inactivity_deadline``, the member's inactivity
    deadline after the earn (``None``: none). A replay applies them as
    written (one left as ``None`` is derived); :meth:`PointsLedger.audit`
    re-derives them.

    >>> from datetime import timezone
    >>> at = datetime(2024, 1, 5, tzinfo=timezone.utc)
    >>> Earned("e1", at, at, 100).points
    100
    """

    id: str
    at: datetime
    occurred_at: datetime
    points: int
    available_at: datetime | None = None
    expires_at: datetime | None = None
    reason: str = ""
    source: str = "purchase"
    value_per_point: Decimal | None = None
    lot_expires_at: datetime | None = None
    inactivity_deadline: datetime | None = None
    derived: ClassVar[bool] = False
    #: Its record in the engine's history (see ``points._records``), a letter a field.
    _record: ClassVar[str] = "iTtINNrsvNN"
    inputs: ClassVar[tuple[str, ...]] = (
        "at",
        "occurred_at",
        "points",
        "available_at",
        "expires_at",
        "reason",
        "source",
        "value_per_point",
    )

    def _line(self, tz: tzinfo) -> tuple[str, str]:
        """(what it names, its text) on a statement."""
        text = f"earned {self.id}" + (f": {self.reason}" if self.reason else "")
        return self.id, text + ("" if self.source == "purchase" else f" [{self.source}]")


@attrs.frozen
class Redeemed:
    """Points redeemed from ``lots`` (soonest-expiring first).

    ``sources`` totals the points taken per lot source, in the order they
    were consumed; ``inactivity_deadline`` is the deadline after it.

    >>> from datetime import timezone
    >>> at = datetime(2024, 1, 5, tzinfo=timezone.utc)
    >>> Redeemed("r1", at, at, 40, lots=(("e1", 40),), sources=(("bonus", 40),)).sources
    (('bonus', 40),)
    """

    id: str
    at: datetime
    occurred_at: datetime
    points: int
    reason: str = ""
    lots: Parts = ()
    sources: Sources = ()
    inactivity_deadline: datetime | None = None
    derived: ClassVar[bool] = False
    #: Its record in the engine's history (see ``points._records``), a letter a field.
    _record: ClassVar[str] = "iTtIrPuN"
    inputs: ClassVar[tuple[str, ...]] = ("at", "occurred_at", "points", "reason")

    def _line(self, tz: tzinfo) -> tuple[str, str]:
        """(what it names, its text) on a statement."""
        text = f"redeemed {self.id}" + (f": {self.reason}" if self.reason else "")
        return self.id, text + _sources_text(self.sources)


@attrs.frozen
class Held:
    """Points reserved for a checkout until ``deadline``.

    >>> from datetime import timezone
    >>> at = datetime(2024, 1, 5, tzinfo=timezone.utc)
    >>> Held("h1", at, at, 40, at + timedelta(minutes=15)).points
    40
    """

    id: str
    at: datetime
    occurred_at: datetime
    points: int
    deadline: datetime
    lots: Parts = ()
    derived: ClassVar[bool] = False
    #: Its record in the engine's history (see ``points._records``), a letter a field.
    _record: ClassVar[str] = "iTtITP"
    inputs: ClassVar[tuple[str, ...]] = ("at", "occurred_at", "points", "deadline")

    def _line(self, tz: tzinfo) -> tuple[str, str]:
        """(what it names, its text) on a statement."""
        return self.id, f"hold {self.id} until {self.deadline.astimezone(tz):%Y-%m-%d %H:%M}"


@attrs.frozen
class Captured:
    """A hold captured (``points=None``: all of it); the rest is released.

    ``sources`` totals the captured points per lot source, in order;
    ``inactivity_deadline`` is the deadline after it.

    >>> from datetime import timezone
    >>> at = datetime(2024, 1, 5, tzinfo=timezone.utc)
    >>> Captured("c1", at, at, "h1", None, amount=40).amount
    40
    """

    id: str
    at: datetime
    occurred_at: datetime
    hold: str
    points: int | None
    amount: int = 0
    lots: Parts = ()
    released: Parts = ()
    sources: Sources = ()
    inactivity_deadline: datetime | None = None
    derived: ClassVar[bool] = False
    #: Its record in the engine's history (see ``points._records``), a letter a field.
    _record: ClassVar[str] = "iTtEnIPPuN"
    inputs: ClassVar[tuple[str, ...]] = ("at", "occurred_at", "hold", "points")

    def _line(self, tz: tzinfo) -> tuple[str, str]:
        """(what it names, its text) on a statement."""
        return self.id, f"captured {self.amount} of hold {self.hold}" + _sources_text(self.sources)


@attrs.frozen
class Released:
    """A hold released by the host; its points go back to their lots.

    >>> from datetime import timezone
    >>> at = datetime(2024, 1, 5, tzinfo=timezone.utc)
    >>> Released("x1", at, at, "h1").hold
    'h1'
    """

    id: str
    at: datetime
    occurred_at: datetime
    hold: str
    lots: Parts = ()
    derived: ClassVar[bool] = False
    #: Its record in the engine's history (see ``points._records``), a letter a field.
    _record: ClassVar[str] = "iTtEP"
    inputs: ClassVar[tuple[str, ...]] = ("at", "occurred_at", "hold")

    def _line(self, tz: tzinfo) -> tuple[str, str]:
        """(what it names, its text) on a statement."""
        return self.id, f"released hold {self.hold}"


@attrs.frozen
class EarnReversed:
    """A refund of an earn: ``taken`` from the lot's remainder, ``reclassified``
    from its expired part, ``charged`` from other lots, and the rest as ``debt``.

    >>> from datetime import timezone
    >>> at = datetime(2024, 1, 5, tzinfo=timezone.utc)
    >>> EarnReversed("f1", at, at, "e1", 50, amount=50, taken=50).taken
    50
    """

    id: str
    at: datetime
    occurred_at: datetime
    of: str
    points: int | None
    amount: int = 0
    taken: int = 0
    reclassified: int = 0
    charged: Parts = ()
    debt: int = 0
    derived: ClassVar[bool] = False
    #: Its record in the engine's history (see ``points._records``), a letter a field.
    _record: ClassVar[str] = "iTtEnIzzPz"
    inputs: ClassVar[tuple[str, ...]] = ("at", "occurred_at", "of", "points")

    def _line(self, tz: tzinfo) -> tuple[str, str]:
        """(what it names, its text) on a statement."""
        return self.id, f"refund of {self.of}" + (f" (debt {self.debt})" if self.debt else "")


@attrs.frozen
class RedemptionCancelled:
    """A redemption (or capture) cancelled: points go back to the lots used.

    ``restored`` went back to usable lots; ``expired`` went to lots that had
    expired meanwhile (and stay expired); ``grace`` became new lots usable
    for ``grace_days``, until ``lot_expires_at`` (recorded; ``None`` without one).

    >>> from datetime import timezone
    >>> at = datetime(2024, 1, 5, tzinfo=timezone.utc)
    >>> RedemptionCancelled("x1", at, at, "r1", None, amount=40).amount
    40
    """

    id: str
    at: datetime
    occurred_at: datetime
    of: str
    points: int | None
    grace_days: int | None = None
    amount: int = 0
    restored: Parts = ()
    expired: Parts = ()
    grace: Parts = ()
    lot_expires_at: datetime | None = None
    derived: ClassVar[bool] = False
    #: Its record in the engine's history (see ``points._records``), a letter a field.
    _record: ClassVar[str] = "iTtEnnIPPPN"
    inputs: ClassVar[tuple[str, ...]] = ("at", "occurred_at", "of", "points", "grace_days")

    def _line(self, tz: tzinfo) -> tuple[str, str]:
        """(what it names, its text) on a statement."""
        return self.id, f"cancelled {self.amount} of {self.of}"


@attrs.frozen
class Adjusted:
    """A manual credit (``points > 0``) or debit (``points < 0``) with a reason.

    A credit's lot has the source ``"adjustment"``; the engine records its
    expiry (``lot_expires_at``) and the inactivity deadline after it.

    >>> from datetime import timezone
    >>> at = datetime(2024, 1, 5, tzinfo=timezone.utc)
    >>> Adjusted("a1", at, at, -20, "duplicate award").points
    -20
    """

    id: str
    at: datetime
    occurred_at: datetime
    points: int
    reason: str
    lots: Parts = ()
    lot_expires_at: datetime | None = None
    inactivity_deadline: datetime | None = None
    derived: ClassVar[bool] = False
    #: Its record in the engine's history (see ``points._records``), a letter a field.
    _record: ClassVar[str] = "iTtIrPNN"
    inputs: ClassVar[tuple[str, ...]] = ("at", "occurred_at", "points", "reason")

    def _line(self, tz: tzinfo) -> tuple[str, str]:
        """(what it names, its text) on a statement."""
        return self.id, f"adjustment: {self.reason}"


@attrs.frozen
class TransferredOut:
    """Points sent to another member; ``lots`` lists (lot, points) taken.

    >>> from datetime import timezone
    >>> at = datetime(2024, 1, 5, tzinfo=timezone.utc)
    >>> TransferredOut("t1", at, at, "m-2", 30).to
    'm-2'
    """

    id: str
    at: datetime
    occurred_at: datetime
    to: str
    points: int
    keep_expiry: bool = True
    lots: Parts = ()
    derived: ClassVar[bool] = False
    #: Its record in the engine's history (see ``points._records``), a letter a field.
    _record: ClassVar[str] = "iTtoIbP"
    inputs: ClassVar[tuple[str, ...]] = ("at", "occurred_at", "to", "points", "keep_expiry")

    def _line(self, tz: tzinfo) -> tuple[str, str]:
        """(what it names, its text) on a statement."""
        return self.id, f"transfer to {self.to}"


@attrs.frozen
class TransferIn:
    """One received part of a transfer: the expiry it keeps (or ``None``),
    and the source and value per point of the sender's lots it came from.

    >>> TransferIn(30, None).points
    30
    """

    points: int
    expires_at: datetime | None
    source: str = "transfer"
    value_per_point: Decimal | None = None


@attrs.frozen
class TransferredIn:
    """Points received from another member, with the sender's expiry by default.

    Without ``keep_expiry`` the one new lot expires under this ledger's
    policy, at ``lot_expires_at`` (recorded).

    >>> from datetime import timezone
    >>> at = datetime(2024, 1, 5, tzinfo=timezone.utc)
    >>> TransferredIn("t1", at, at, "m-1", 30, parts=(TransferIn(30, None),)).points
    30
    """

    id: str
    at: datetime
    occurred_at: datetime
    source: str
    points: int
    keep_expiry: bool = True
    parts: tuple[TransferIn, ...] = ()
    lot_expires_at: datetime | None = None
    derived: ClassVar[bool] = False
    #: Its record in the engine's history (see ``points._records``), a letter a field.
    _record: ClassVar[str] = "iTtoIboN"
    inputs: ClassVar[tuple[str, ...]] = (
        "at",
        "occurred_at",
        "source",
        "points",
        "keep_expiry",
        "parts",
    )

    def _line(self, tz: tzinfo) -> tuple[str, str]:
        """(what it names, its text) on a statement."""
        return self.id, f"transfer from {self.source}"


@attrs.frozen
class MergedLot:
    """A lot of a merged account as it arrives: usable points and dates.

    >>> from datetime import timezone
    >>> at = datetime(2024, 1, 5, tzinfo=timezone.utc)
    >>> MergedLot("e1", 70, at, None, None, False).points
    70
    """

    lot: str
    points: int
    earned_at: datetime
    expires_at: datetime | None
    available_at: datetime | None
    pending: bool
    source: str = "purchase"
    value_per_point: Decimal | None = None

    @classmethod
    def of(cls, lot: Lot, *, name: str | None = None) -> MergedLot:
        """The usable part of ``lot`` as it arrives in a merge (named ``name``, else its id).

        >>> from datetime import timezone
        >>> at = datetime(2024, 1, 5, tzinfo=timezone.utc)
        >>> lot = Lot("e1", 0, 100, at, None, None, False, remaining=70, used=30)
        >>> MergedLot.of(lot, name="x").lot, MergedLot.of(lot).points
        ('x', 70)
        """
        return cls(
            lot.id if name is None else name,
            lot.remaining,
            lot.earned_at,
            lot.expires_at,
            lot.available_at,
            lot.pending,
            lot.source,
            lot.value_per_point,
        )


@attrs.frozen
class Merged:
    """A duplicate account folded into this one, every lot keeping its expiry.

    >>> from datetime import timezone
    >>> at = datetime(2024, 1, 5, tzinfo=timezone.utc)
    >>> Merged("g1", at, at, "m-dup").source
    'm-dup'
    """

    id: str
    at: datetime
    occurred_at: datetime
    source: str
    lots: tuple[MergedLot, ...] = ()
    debt: int = 0
    derived: ClassVar[bool] = False
    #: Its record in the engine's history (see ``points._records``), a letter a field.
    _record: ClassVar[str] = "iTtooz"
    inputs: ClassVar[tuple[str, ...]] = ("at", "occurred_at", "source", "lots", "debt")

    def _line(self, tz: tzinfo) -> tuple[str, str]:
        """(what it names, its text) on a statement."""
        return self.id, f"merged account {self.source}"


@attrs.frozen
class Vested:
    """A pending lot became usable at the end of its return window.

    >>> from datetime import timezone
    >>> Vested(datetime(2024, 2, 4, tzinfo=timezone.utc), "e1", 100).points
    100
    """

    at: datetime
    lot: str
    points: int
    derived: ClassVar[bool] = True
    #: Its record in the engine's history (see ``points._records``), a letter a field.
    _record: ClassVar[str] = "TLI"

    def _line(self, tz: tzinfo) -> tuple[str, str]:
        """(what it names, its text) on a statement."""
        return self.lot, f"{self.points} of {self.lot} now usable"


@attrs.frozen
class Expired:
    """Points of ``lot`` expired at ``at``; ``cause`` says why.

    ``"lot"``: the lot reached its expiry; ``"inactivity"``: the member's
    inactivity deadline passed; ``"hold"``: a held part of an expired lot came
    back from a hold; ``"cancel"``: a cancelled redemption gave points back to
    a lot that had expired.

    >>> from datetime import timezone
    >>> Expired(datetime(2025, 1, 1, tzinfo=timezone.utc), "e1", 60, "lot").cause
    'lot'
    """

    at: datetime
    lot: str
    points: int
    cause: Literal["lot", "inactivity", "hold", "cancel"] = "lot"
    derived: ClassVar[bool] = True
    #: Its record in the engine's history (see ``points._records``), a letter a field.
    _record: ClassVar[str] = "TLIc"

    def _line(self, tz: tzinfo) -> tuple[str, str]:
        """(what it names, its text) on a statement."""
        return self.lot, f"expired {self.points} of {self.lot} ({_EXPIRY_CAUSES[self.cause]})"


@attrs.frozen
class HoldTimedOut:
    """A hold reached its deadline unresolved; its points went back to the lots.

    >>> from datetime import timezone
    >>> HoldTimedOut(datetime(2024, 1, 5, tzinfo=timezone.utc), "h1", 40).hold
    'h1'
    """

    at: datetime
    hold: str
    points: int
    lots: Parts = ()
    derived: ClassVar[bool] = True
    #: Its record in the engine's history (see ``points._records``), a letter a field.
    _record: ClassVar[str] = "TEIP"

    def _line(self, tz: tzinfo) -> tuple[str, str]:
        """(what it names, its text) on a statement."""
        return self.hold, f"hold {self.hold} timed out"


@attrs.frozen
class DebtRepaid:
    """Debt repaid from points as soon as they became usable.

    >>> from datetime import timezone
    >>> DebtRepaid(datetime(2024, 1, 5, tzinfo=timezone.utc), 25).points
    25
    """

    at: datetime
    points: int
    lots: Parts = ()
    derived: ClassVar[bool] = True
    #: Its record in the engine's history (see ``points._records``), a letter a field.
    _record: ClassVar[str] = "TIP"

    def _line(self, tz: tzinfo) -> tuple[str, str]:
        """(what it names, its text) on a statement."""
        return "", f"debt repaid {self.points}"


PointsEvent: TypeAlias = (
    Opened
    | Earned
    | Redeemed
    | Held
    | Captured
    | Released
    | EarnReversed
    | RedemptionCancelled
    | Adjusted
    | TransferredOut
    | TransferredIn
    | Merged
    | Vested
    | Expired
    | HoldTimedOut
    | DebtRepaid
)
EVENT_TYPES: Final = (
    Opened,
    Earned,
    Redeemed,
    Held,
    Captured,
    Released,
    EarnReversed,
    RedemptionCancelled,
    Adjusted,
    TransferredOut,
    TransferredIn,
    Merged,
    Vested,
    Expired,
    HoldTimedOut,
    DebtRepaid,
)
CommandEvent: TypeAlias = (
    Earned
    | Redeemed
    | Held
    | Captured
    | Released
    | EarnReversed
    | RedemptionCancelled
    | Adjusted
    | TransferredOut
    | TransferredIn
    | Merged
)

"""Values of the tier module: requirements, tiers, windows, activity, status.

Public names are re-exported by :mod:`loyaltycore.tiers`, whose docstrings
and page (``docs/tiers.md``) show them in use.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime, timedelta
from decimal import Decimal
from types import MappingProxyType
from typing import Any, Final, Literal, TypeAlias

import attrs
from dateutil.relativedelta import relativedelta
from dateutil.rrule import rrule, rrulestr

from loyaltycore._validate import (
    DECIMAL_CONTEXT,
    check_id,
    check_int,
    check_str,
    to_decimal,
    type_name,
)
from loyaltycore.calendar import to_micros, to_utc
from loyaltycore.errors import InvalidArgument, InvalidRule, InvalidType

#: Qualifying metrics and their kind. Money (``spend``) is a Decimal in the
#: program currency; the others count whole units.
METRICS: Final[Mapping[str, str]] = MappingProxyType(
    {
        "miles": "count",
        "nights": "count",
        "segments": "count",
        "spend": "money",
        "status_points": "count",
        "stays": "count",
        "visits": "count",
    }
)
METRIC_NAMES: Final = tuple(sorted(METRICS))
METRIC_INDEX: Final = {name: i for i, name in enumerate(METRIC_NAMES)}

EventKind: TypeAlias = Literal[
    "join",
    "upgrade",
    "retain",
    "downgrade",
    "grace",
    "lifetime",
    "override",
    "override_end",
    "challenge",
    "challenge_won",
    "challenge_lost",
]
DecisionKind: TypeAlias = Literal["upgrade", "retain", "downgrade"]


def check_metric(value: object, name: str = "metric") -> str:
    """Return ``value`` if it names a known metric, else raise :class:`InvalidRule`."""
    if value not in METRICS:
        raise InvalidRule(
            f"{name}={value!r} is not a known metric; use one of {list(METRIC_NAMES)}",
            field=name,
            value=value,
        )
    assert isinstance(value, str)
    return value


def _nonneg_int(name: str) -> Callable[[Any, Any, Any], None]:
    def check(_: Any, __: Any, value: Any) -> None:
        check_int(value, name, minimum=0)

    return check


def _occurred_at(value: object) -> datetime:
    return to_utc(value, "occurred_at")


def _start(value: object) -> datetime:
    return to_utc(value, "start")


def _at(value: object) -> datetime:
    return to_utc(value, "at")


def _optional_date(name: str) -> Callable[[Any, Any, Any], None]:
    def check(_: Any, __: Any, value: Any) -> None:
        if value is not None and (not isinstance(value, date) or isinstance(value, datetime)):
            raise InvalidType(
                f"{name}={value!r} must be a date or None, not {type_name(value)}",
                field=name,
                value=value,
            )

    return check


def _date(name: str) -> Callable[[Any, Any, Any], None]:
    def check(_: Any, __: Any, value: Any) -> None:
        if value is None:
            raise InvalidType(f"{name}=None must be a date", field=name, value=value)
        _optional_date(name)(_, __, value)

    return check


@attrs.frozen
class Span:
    """A calendar offset in months and days (grace, extension, minimum hold).

    Added to a date in one :class:`~dateutil.relativedelta.relativedelta`
    step, so one month after Jan 31 is the last day of February.

    >>> Span(months=1).after(date(2025, 1, 31))
    datetime.date(2025, 2, 28)
    """

    months: int = attrs.field(default=0, validator=_nonneg_int("months"))
    days: int = attrs.field(default=0, validator=_nonneg_int("days"))

    def after(self, day: date) -> date:
        """``day`` plus this span.

        >>> Span(days=30).after(date(2025, 1, 1))
        datetime.date(2025, 1, 31)
        """
        if not self.months:
            return day + timedelta(days=self.days)
        result: date = day + relativedelta(months=self.months, days=self.days)
        return result

    def __bool__(self) -> bool:
        return bool(self.months or self.days)


# -- requirements -------------------------------------------------------------


class _Combine:
    """``|`` builds :class:`AnyOf`, ``&`` builds :class:`AllOf` (flattened)."""

    __slots__ = ()

    def __or__(self, other: Requirement) -> AnyOf:
        return AnyOf(_flat(self, AnyOf) + _flat(other, AnyOf))

    def __and__(self, other: Requirement) -> AllOf:
        return AllOf(_flat(self, AllOf) + _flat(other, AllOf))


def _flat(req: Any, kind: type[Any]) -> tuple[Requirement, ...]:
    if isinstance(req, kind):
        items: tuple[Requirement, ...] = req.items
        return items
    if not isinstance(req, Threshold | AnyOf | AllOf):
        raise InvalidType(
            f"requirement={req!r} must be a Threshold, AnyOf or AllOf, not {type_name(req)}",
            field="requirement",
            value=req,
        )
    return (req,)


def _threshold_amount(value: object) -> Decimal:
    return to_decimal(value, "amount", allow_negative=True)


def _optional_amount(value: object) -> Decimal | None:
    return None if value is None else to_decimal(value, "total", allow_negative=True)


@attrs.frozen
class Threshold(_Combine):
    """At least ``amount`` of ``metric`` in the qualification window.

    >>> either = Threshold("nights", 25) | Threshold("spend", "5000")
    >>> [item.metric for item in either.items]
    ['nights', 'spend']
    """

    metric: str = attrs.field(validator=lambda _, __, v: check_metric(v))
    amount: Decimal = attrs.field(converter=_threshold_amount)

    @amount.validator
    def _check_amount(self, _: Any, value: Decimal) -> None:
        if value <= 0:
            raise InvalidRule(
                f"amount={value} of {self.metric} must be positive", field="amount", value=value
            )
        if METRICS[self.metric] == "count" and value != value.to_integral_value(
            context=DECIMAL_CONTEXT
        ):
            raise InvalidRule(
                f"amount={value} of {self.metric} must be a whole number",
                field="amount",
                value=value,
            )


def _items(value: Iterable[Requirement]) -> tuple[Requirement, ...]:
    items = tuple(value)
    for item in items:
        _flat(item, type(None))
    if not items:
        raise InvalidRule("a requirement group needs at least one item", field="items", value=())
    return items


@attrs.frozen
class AnyOf(_Combine):
    """Met when any one of ``items`` is met (``25 nights or 5,000 spend``).

    >>> AnyOf([Threshold("nights", 25), Threshold("stays", 12)]).items[1].metric
    'stays'
    """

    items: tuple[Requirement, ...] = attrs.field(converter=_items)


@attrs.frozen
class AllOf(_Combine):
    """Met when every one of ``items`` is met (``50,000 miles and 6,000 spend``).

    >>> len((Threshold("miles", 50000) & Threshold("spend", 6000)).items)
    2
    """

    items: tuple[Requirement, ...] = attrs.field(converter=_items)


Requirement: TypeAlias = Threshold | AnyOf | AllOf


def at_least(metric: str, amount: Decimal | int | str) -> Threshold:
    """Shorthand for :class:`Threshold`.

    >>> at_least("miles", 25000)
    Threshold(metric='miles', amount=Decimal('25000'))
    """
    return Threshold(metric, amount)


def options(req: Requirement) -> list[dict[str, Decimal]]:
    """The minimal ways to meet ``req``: a list of per-metric minimums (DNF).

    >>> ways = options(at_least("miles", 50) & (at_least("spend", 6) | at_least("segments", 2)))
    >>> [sorted(way) for way in ways]
    [['miles', 'spend'], ['miles', 'segments']]
    """
    if isinstance(req, Threshold):
        return [{req.metric: req.amount}]
    if isinstance(req, AnyOf):
        found = [opt for item in req.items for opt in options(item)]
    else:
        found = []
        for combo in itertools.product(*(options(item) for item in req.items)):
            merged: dict[str, Decimal] = {}
            for part in combo:
                for metric, amount in part.items():
                    merged[metric] = max(merged.get(metric, amount), amount)
            found.append(merged)
    return _minimal(found)


def _dominates(a: dict[str, Decimal], b: dict[str, Decimal]) -> bool:
    """Whether meeting ``b`` always meets ``a`` (``a`` asks no more than ``b``)."""
    return all(metric in b and b[metric] >= amount for metric, amount in a.items())


def _minimal(found: list[dict[str, Decimal]]) -> list[dict[str, Decimal]]:
    result: list[dict[str, Decimal]] = []
    for i, opt in enumerate(found):
        redundant = any(
            _dominates(other, opt) and (other != opt or j < i)
            for j, other in enumerate(found)
            if j != i
        )
        if not redundant:
            result.append(dict(sorted(opt.items())))
    return result


def holds(req: Requirement, totals: dict[str, Decimal]) -> bool:
    """Whether ``totals`` meet ``req`` (missing metrics count as zero).

    >>> holds(at_least("nights", 25) | at_least("spend", 5000), {"nights": Decimal(30)})
    True
    """
    if isinstance(req, Threshold):
        return totals.get(req.metric, Decimal(0)) >= req.amount
    if isinstance(req, AnyOf):
        return any(holds(item, totals) for item in req.items)
    return all(holds(item, totals) for item in req.items)


# -- tiers ------------------------------------------------------------------


def _multiplier(value: object) -> Decimal:
    result = to_decimal(value, "earn_multiplier")
    if result <= 0:
        raise InvalidRule(
            f"earn_multiplier={value!r} must be positive", field="earn_multiplier", value=value
        )
    return result


def _perks(value: Iterable[str]) -> frozenset[str]:
    if isinstance(value, str):
        raise InvalidType(
            f"perks={value!r} must be a collection of str, not str", field="perks", value=value
        )
    return frozenset(check_id(p, "perks") for p in value)


@attrs.frozen
class Benefits:
    """What a tier gives: an earn multiplier on redeemable points and named perks.

    >>> Benefits(earn_multiplier="1.5", perks={"lounge"}).earn_multiplier
    Decimal('1.5')
    """

    earn_multiplier: Decimal = attrs.field(default=Decimal(1), converter=_multiplier)
    perks: frozenset[str] = attrs.field(default=frozenset(), converter=_perks)


def _requirement(value: object) -> Requirement | None:
    if value is None:
        return None
    return _flat(value, type(None))[0]


@attrs.frozen
class Tier:
    """One rung of the ladder. The lowest tier has no requirement.

    >>> gold = Tier("Gold", 2, at_least("nights", 25), Benefits(earn_multiplier="1.5"))
    >>> gold.name, gold.rank
    ('Gold', 2)
    """

    name: str = attrs.field(validator=lambda _, __, v: check_id(v, "name"))
    rank: int = attrs.field(validator=lambda _, __, v: check_int(v, "rank", minimum=0))
    requires: Requirement | None = attrs.field(default=None, converter=_requirement)
    benefits: Benefits = attrs.field(
        factory=Benefits, validator=attrs.validators.instance_of(Benefits)
    )


# -- windows ----------------------------------------------------------------


@attrs.frozen
class CalendarYear:
    """Qualify Jan 1 - Dec 31 in the program zone; status lasts to the end of next year.

    >>> CalendarYear()
    CalendarYear()
    """


@attrs.frozen
class Anniversary:
    """Qualify over membership years from the join date (Feb 29 -> Feb 28).

    >>> Anniversary()
    Anniversary()
    """


@functools.lru_cache(maxsize=64)
def review_rule(text: str) -> rrule:
    """Parse an RRULE anchored at 2000-01-01 (cached)."""
    try:
        rule = rrulestr(text, dtstart=datetime(2000, 1, 1))
    except (ValueError, TypeError) as exc:
        raise InvalidRule(
            f"review={text!r} is not an RRULE: {exc}", field="review", value=text
        ) from None
    if not isinstance(rule, rrule):
        raise InvalidRule(f"review={text!r} must be one RRULE", field="review", value=text)
    if getattr(rule, "_count", None) is not None or getattr(rule, "_until", None) is not None:
        raise InvalidRule(
            f"review={text!r} must not end (no COUNT or UNTIL)", field="review", value=text
        )
    return rule


#: The anchor of every review schedule (its first day, and the phase of its interval).
REVIEW_ANCHOR: Final = date(2000, 1, 1)
_YEARLY, _MONTHLY, _WEEKLY, _DAILY = 0, 1, 2, 3


def _period_start(freq: int, interval: int, day: date) -> date | None:
    """The start of the schedule period one before the one containing ``day``.

    Periods are counted from :data:`REVIEW_ANCHOR` in steps of ``interval``
    years, months, weeks or days, so a schedule started there has the same
    review dates from that day on (its defaults, taken from the anchor's
    month, day and weekday, are the same too). None: before the anchor, or
    a frequency finer than a day.
    """
    anchor = REVIEW_ANCHOR
    if freq == _YEARLY:
        k = ((day.year - anchor.year) // interval - 1) * interval
        return date(anchor.year + k, 1, 1) if k >= 0 else None
    if freq == _MONTHLY:
        k = (((day.year - anchor.year) * 12 + day.month - 1) // interval - 1) * interval
        return date(anchor.year + k // 12, k % 12 + 1, 1) if k >= 0 else None
    if freq in (_WEEKLY, _DAILY):
        step = interval * (7 if freq == _WEEKLY else 1)
        k = ((day - anchor).days // step - 1) * step
        return anchor + timedelta(days=k) if k >= 0 else None
    return None


@functools.lru_cache(maxsize=1024)
def _review_from(text: str, start: date) -> rrule:
    """The review schedule ``text`` started at ``start`` (a period start of the anchored one)."""
    rule = rrulestr(text, dtstart=datetime.combine(start, datetime.min.time()))
    assert isinstance(rule, rrule)
    return rule


@functools.lru_cache(maxsize=65536)
def next_review(text: str, day: date) -> date:
    """The first review date strictly after ``day``.

    Read from the schedule started at the period before ``day`` (see
    :func:`_period_start`): the same dates as the schedule anchored at
    2000-01-01, without stepping through every review since then.
    """
    rule = review_rule(text)
    fields = vars(rule)  # (dateutil keeps the frequency and interval it parsed here)
    start = _period_start(fields["_freq"], fields["_interval"], day)
    if start is not None:
        rule = _review_from(text, start)
    found = rule.after(datetime.combine(day, datetime.min.time()))
    assert found is not None
    return found.date()


def _check_review(_: Any, __: Any, value: Any) -> None:
    check_str(value, "review")
    review_rule(value)


@attrs.frozen
class Rolling:
    """A trailing window of ``months``, re-checked on the ``review`` schedule.

    ``review`` is an RFC 5545 RRULE (anchored at 2000-01-01, local dates);
    the default reviews on the first of every month. ``min_hold`` keeps an
    upgraded member at the tier at least that long.

    >>> Rolling(months=12).review
    'FREQ=MONTHLY;BYMONTHDAY=1'
    """

    months: int = attrs.field(default=12)
    review: str = attrs.field(default="FREQ=MONTHLY;BYMONTHDAY=1", validator=_check_review)
    min_hold: Span = attrs.field(factory=Span, validator=attrs.validators.instance_of(Span))

    @months.validator
    def _check_months(self, _: Any, value: Any) -> None:
        check_int(value, "months", minimum=1)


@attrs.frozen
class Lifetime:
    """Every activity since joining counts and status never expires.

    >>> Lifetime()
    Lifetime()
    """


Window: TypeAlias = CalendarYear | Anniversary | Rolling | Lifetime


@attrs.frozen
class LifetimeRule:
    """Lifetime status: ``years`` at or above ``tier``, or a cumulative ``total`` of ``metric``.

    >>> LifetimeRule("Gold", years=10).years
    10
    >>> LifetimeRule("Gold", metric="nights", total=1000).total
    Decimal('1000')
    """

    tier: str = attrs.field(validator=lambda _, __, v: check_id(v, "tier"))
    years: int | None = None
    metric: str | None = None
    total: Decimal | None = attrs.field(default=None, converter=_optional_amount)

    def __attrs_post_init__(self) -> None:
        by_years = self.years is not None
        by_total = self.metric is not None or self.total is not None
        if by_years == by_total:
            raise InvalidRule(
                f"lifetime rule for {self.tier!r} needs either years= or metric= and total=",
                field="years",
                value=self.years,
            )
        if by_years:
            check_int(self.years, "years", minimum=1)
        else:
            Threshold(check_metric(self.metric), self.total)


# -- activity ---------------------------------------------------------------


def _activity_amount(value: object) -> Decimal:
    return to_decimal(value, "amount", allow_negative=True)


@attrs.frozen
class Activity:
    """One dated entry of qualifying activity; a return is a negative entry.

    A return names the entry it ``reverses`` so it counts in the window of
    the original activity.

    >>> from datetime import timezone
    >>> stay = Activity("nights", 3, datetime(2025, 3, 1, tzinfo=timezone.utc), "stay-1")
    >>> back = Activity("nights", -1, datetime(2025, 3, 9, tzinfo=timezone.utc), "ret-1",
    ...                 reverses="stay-1")
    >>> stay.amount + back.amount
    Decimal('2')
    """

    metric: str = attrs.field(validator=lambda _, __, v: check_metric(v))
    amount: Decimal = attrs.field(converter=_activity_amount)
    occurred_at: datetime = attrs.field(converter=_occurred_at)
    source_id: str = attrs.field(validator=lambda _, __, v: check_id(v, "source_id"))
    reverses: str | None = attrs.field(default=None)
    _us: int = attrs.field(init=False, eq=False, repr=False)
    _m: int = attrs.field(init=False, eq=False, repr=False)
    _num: int = attrs.field(init=False, eq=False, repr=False)
    _den: int = attrs.field(init=False, eq=False, repr=False)

    @amount.validator
    def _check_amount(self, _: Any, value: Decimal) -> None:
        if value == 0:
            raise InvalidArgument(
                f"amount={value} of {self.metric} must not be zero", field="amount", value=value
            )
        if METRICS[self.metric] == "count" and value != value.to_integral_value(
            context=DECIMAL_CONTEXT
        ):
            raise InvalidArgument(
                f"amount={value} of {self.metric} must be a whole number",
                field="amount",
                value=value,
            )

    @reverses.validator
    def _check_reverses(self, _: Any, value: Any) -> None:
        if value is not None:
            check_id(value, "reverses")
            if self.amount > 0:
                raise InvalidArgument(
                    f"amount={self.amount} must be negative when reversing {value!r}",
                    field="amount",
                    value=self.amount,
                )

    @classmethod
    def _made(
        cls, metric: str, amount: Decimal, occurred_at: datetime, source_id: str
    ) -> Activity:
        """An entry (no return) of values its caller made as the fields would check them.

        A speed path for an account, which makes an order's entries from values
        it built itself: a known metric, a positive finite Decimal (whole for a
        count metric), an instant in UTC and a non-empty id. It skips the
        converters and validators; what ``__attrs_post_init__`` sets is set alike.
        """
        if metric not in METRIC_INDEX:  # (the checked way, to name what is wrong)
            return cls(metric, amount, occurred_at, source_id)
        self = object.__new__(cls)
        set_ = object.__setattr__
        set_(self, "metric", metric)
        set_(self, "amount", amount)
        set_(self, "occurred_at", occurred_at)
        set_(self, "source_id", source_id)
        set_(self, "reverses", None)
        self.__attrs_post_init__()
        return self

    def __attrs_post_init__(self) -> None:
        num, den = self.amount.as_integer_ratio()
        object.__setattr__(self, "_us", to_micros(self.occurred_at))
        object.__setattr__(self, "_m", METRIC_INDEX[self.metric])
        object.__setattr__(self, "_num", num)
        object.__setattr__(self, "_den", den)


# -- status -----------------------------------------------------------------


@attrs.frozen
class Override:
    """A manual floor: the member holds at least ``tier`` through ``until``.

    >>> Override("Gold", date(2025, 12, 31), "service recovery").tier
    'Gold'
    """

    tier: str = attrs.field(validator=lambda _, __, v: check_id(v, "tier"))
    until: date = attrs.field(validator=_date("until"))
    reason: str = attrs.field(default="", validator=lambda _, __, v: check_str(v, "reason"))


def _req_required(value: object) -> Requirement:
    req = _requirement(value)
    if req is None:
        raise InvalidRule("a challenge needs a target", field="target", value=value)
    return req


@attrs.frozen
class Challenge:
    """A status match: ``tier`` at once, kept if ``target`` is met by ``deadline``.

    Activity from ``start`` through ``deadline`` (local dates) counts.

    >>> from datetime import timezone
    >>> Challenge("Gold", at_least("nights", 10), datetime(2025, 3, 1, tzinfo=timezone.utc),
    ...           date(2025, 5, 31)).tier
    'Gold'
    """

    tier: str = attrs.field(validator=lambda _, __, v: check_id(v, "tier"))
    target: Requirement = attrs.field(converter=_req_required)
    start: datetime = attrs.field(converter=_start)
    deadline: date = attrs.field(validator=_date("deadline"))


@attrs.frozen
class Pending:
    """The earned status before upgrades not yet confirmed by a window close."""

    earned: str
    earned_until: date | None
    since: datetime
    grace_until: date | None = None


@attrs.frozen
class TierEvent:
    """One entry of a member's tier history.

    ``tier`` and ``previous`` are the effective tiers after and before it;
    ``override`` and ``challenge`` carry the command of those events so the
    history can be replayed.

    >>> from datetime import timezone
    >>> TierEvent("upgrade", datetime(2025, 5, 1, tzinfo=timezone.utc), "Gold", "Silver",
    ...           date(2026, 12, 31), "qualified for Gold in 2025").kind
    'upgrade'
    """

    kind: EventKind
    at: datetime = attrs.field(converter=_at)
    tier: str
    previous: str
    valid_until: date | None
    reason: str
    override: Override | None = None
    challenge: Challenge | None = None


@attrs.frozen
class TierStatus:
    """A member's tier state; made by :meth:`TierProgram.join`, advanced by ``evaluate``.

    ``tier`` is the effective tier (the best of the earned tier, a lifetime
    tier, an active override floor and an active challenge), valid through
    ``valid_until`` (a local date; ``None``: no end). ``earned`` is the tier
    the activity earned, valid through ``earned_until``. ``seen`` counts the
    activity entries dated up to ``evaluated_at``, so entries posted late are
    noticed.

    >>> from loyaltycore.tiers import TierProgram, Tier
    >>> from datetime import timezone
    >>> program = TierProgram([Tier("Blue", 0)])
    >>> program.join(datetime(2025, 1, 5, tzinfo=timezone.utc)).tier
    'Blue'
    """

    tier: str
    valid_until: date | None
    earned: str
    earned_until: date | None
    since: datetime
    joined_at: datetime
    evaluated_at: datetime
    grace_until: date | None = None
    lifetime: str | None = None
    override: Override | None = None
    challenge: Challenge | None = None
    pending: Pending | None = None
    years: tuple[int, ...] = ()
    seen: int = 0
    history: tuple[TierEvent, ...] = ()


@attrs.frozen
class TierDecision:
    """The outcome of :meth:`TierProgram.evaluate`.

    ``kind`` compares the effective tier after with the one before
    (``upgrade``, ``retain`` or ``downgrade``); ``events`` are the history
    entries added by this evaluation.

    >>> from loyaltycore.tiers import TierProgram, Tier
    >>> from datetime import timezone
    >>> program = TierProgram([Tier("Blue", 0)])
    >>> joined = datetime(2025, 1, 5, tzinfo=timezone.utc)
    >>> program.evaluate(program.join(joined), [], as_of=joined).kind
    'retain'
    """

    kind: DecisionKind
    tier: str
    previous: str
    valid_until: date | None
    reason: str
    status: TierStatus
    events: tuple[TierEvent, ...] = ()

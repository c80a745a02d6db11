"""Value types of the rules module: awards, limits, windows, rules, results.

The public names are re-exported by :mod:`loyaltycore.rules`, whose
docstrings carry the examples.
"""

from __future__ import annotations

import enum
import functools
from collections.abc import Mapping
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Final, Literal, TypeAlias

import attrs

from loyaltycore._validate import check_id, check_int, check_rounding, to_decimal
from loyaltycore.calendar import to_utc
from loyaltycore.errors import InvalidArgument, InvalidPoints, InvalidRule, InvalidType
from loyaltycore.predicates import Event, Member, Predicate

if TYPE_CHECKING:
    from loyaltycore.tiers import Activity

#: The redeemable currency; every other currency is a tier metric.
POINTS: Final = "points"
#: Tier metrics a rule set accepts unless told otherwise.
DEFAULT_METRICS: Final = ("miles", "nights", "segments", "status_points", "stays", "visits")

Recipient: TypeAlias = Literal["member", "referrer"]
LimitPeriod: TypeAlias = Literal["day", "month", "quarter", "year", "lifetime", "birthday_year"]
LIMIT_PERIODS: Final = ("birthday_year", "day", "lifetime", "month", "quarter", "year")
GroupMode: TypeAlias = Literal["priority", "best"]


def _currency(value: object) -> str:
    return check_id(value, "currency")


def _days(name: str) -> Any:
    def check(_: object, attribute: attrs.Attribute[Any], value: object) -> None:
        if value is not None:
            check_int(value, name, minimum=0)

    return check


def _recipient(_: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if value not in ("member", "referrer"):
        raise InvalidArgument(
            f"recipient={value!r} must be 'member' or 'referrer'", field="recipient", value=value
        )


def _rounding(_: object, attribute: attrs.Attribute[Any], value: object) -> None:
    check_rounding(value, "rounding")


def _decimal_at_least(value: object, name: str, minimum: Decimal) -> Decimal:
    result = to_decimal(value, name, allow_negative=True)
    if result < minimum:
        raise InvalidArgument(f"{name}={result} must be >= {minimum}", field=name, value=value)
    return result


def _rate(value: object) -> Decimal:
    return _decimal_at_least(value, "rate", Decimal(0))


def _factor(value: object) -> Decimal:
    return _decimal_at_least(value, "factor", Decimal(1))


@attrs.frozen(kw_only=True)
class _AwardBase:
    """Options every award shares."""

    currency: str = attrs.field(default=POINTS, converter=_currency)
    pending_days: int = attrs.field(default=0, validator=_days("pending_days"))
    expires_after_days: int | None = attrs.field(
        default=None, validator=_days("expires_after_days")
    )
    recipient: Recipient = attrs.field(default="member", validator=_recipient)


@attrs.frozen
class PointsPerSpend(_AwardBase):
    """Points per currency unit of eligible spend, rounded once.

    >>> from loyaltycore.rules import PointsPerSpend
    >>> PointsPerSpend("1.5", "ROUND_HALF_UP").rate
    Decimal('1.5')
    """

    rate: Decimal = attrs.field(converter=_rate)
    rounding: str = attrs.field(default="ROUND_DOWN", validator=_rounding)


def _fixed_points(value: object) -> int:
    if type(value) is not int:
        raise InvalidType(
            f"points={value!r} must be an int, not {type(value).__name__}",
            field="points",
            value=value,
        )
    if value < 0:
        raise InvalidPoints(f"points={value!r} must not be negative", field="points", value=value)
    return value


@attrs.frozen
class FixedPoints(_AwardBase):
    """A fixed number of points (or of a tier metric) per qualifying event.

    >>> from loyaltycore.rules import FixedPoints
    >>> FixedPoints(2, currency="nights").currency
    'nights'
    """

    points: int = attrs.field(converter=_fixed_points)


@attrs.frozen
class Multiplier(_AwardBase):
    """``factor`` times the base award: adds one line of ``(factor - 1) x base``.

    >>> from loyaltycore.rules import Multiplier
    >>> Multiplier("2").factor
    Decimal('2')
    """

    factor: Decimal = attrs.field(converter=_factor)
    rounding: str = attrs.field(default="ROUND_DOWN", validator=_rounding)


def _factors(value: object) -> Mapping[str, Decimal]:
    if not isinstance(value, Mapping):
        raise InvalidType(
            f"factors={value!r} must be a mapping of tier to factor", field="factors", value=value
        )
    out: dict[str, Decimal] = {}
    for tier in sorted(value):
        check_id(tier, "factors")
        out[tier] = _decimal_at_least(value[tier], "factors", Decimal(1))
    return out


@attrs.frozen
class TierMultiplier(_AwardBase):
    """A multiplier chosen by the tier the member held before the event.

    >>> from loyaltycore.rules import TierMultiplier
    >>> TierMultiplier({"gold": "1.5", "platinum": 2}).factors
    {'gold': Decimal('1.5'), 'platinum': Decimal('2')}
    """

    factors: Mapping[str, Decimal] = attrs.field(converter=_factors)
    rounding: str = attrs.field(default="ROUND_DOWN", validator=_rounding)


Award: TypeAlias = PointsPerSpend | FixedPoints | Multiplier | TierMultiplier
AWARD_TYPES: Final = (PointsPerSpend, FixedPoints, Multiplier, TierMultiplier)


def _optional_count(name: str) -> Any:
    def check(_: object, attribute: attrs.Attribute[Any], value: object) -> None:
        if value is not None:
            check_int(value, name, minimum=1)

    return check


def _period(_: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if value not in LIMIT_PERIODS:
        raise InvalidArgument(
            f"period={value!r} must be one of {list(LIMIT_PERIODS)}", field="period", value=value
        )


@attrs.frozen
class Limit:
    """A per-member cap on one rule within a period of the program calendar.

    A points cap truncates the award to what remains; a times cap skips the
    rule. Periods: ``"day"``, ``"month"``, ``"quarter"``, ``"year"``,
    ``"lifetime"`` and ``"birthday_year"`` (the year of the nearest birthday).

    >>> from loyaltycore.rules import Limit
    >>> Limit(points=1_000, period="year")
    Limit(times=None, points=1000, period='year')
    """

    times: int | None = attrs.field(default=None, validator=_optional_count("times"))
    points: int | None = attrs.field(default=None, validator=_optional_count("points"))
    period: LimitPeriod = attrs.field(default="lifetime", validator=_period)

    def __attrs_post_init__(self) -> None:
        if self.times is None and self.points is None:
            raise InvalidRule("a Limit needs times= or points=", field="limit", value=self)


def _start(value: object) -> datetime | None:
    return None if value is None else to_utc(value, "start")


def _end(value: object) -> datetime | None:
    return None if value is None else to_utc(value, "end")


@attrs.frozen
class Window:
    """The half-open interval ``[start, end)`` in which a rule may fire.

    >>> from loyaltycore.rules import Window
    >>> from datetime import timezone
    >>> w = Window(datetime(2024, 12, 1, tzinfo=timezone.utc))
    >>> w.contains(datetime(2025, 1, 1, tzinfo=timezone.utc))
    True
    """

    start: datetime | None = attrs.field(default=None, converter=_start)
    end: datetime | None = attrs.field(default=None, converter=_end)

    def __attrs_post_init__(self) -> None:
        if self.start is not None and self.end is not None and self.end <= self.start:
            raise InvalidRule(
                f"valid window end={self.end.isoformat()} must be after start", field="valid"
            )

    def contains(self, at: datetime) -> bool:
        """Whether the instant ``at`` (UTC) lies in the window."""
        return (self.start is None or at >= self.start) and (self.end is None or at < self.end)


def _id(value: object) -> str:
    return check_id(value, "id")


def _rule_ids(value: object) -> frozenset[str]:
    if isinstance(value, str) or not hasattr(value, "__iter__"):
        raise InvalidType(f"rules={value!r} must be a set of rule ids", field="rules", value=value)
    return frozenset(check_id(v, "rules") for v in value)


@attrs.frozen
class Budget:
    """An advisory program-wide points budget over some rules.

    The host passes the points already issued (``budgets_used=``); the
    budget's rules stop once it is reached (the award that crosses it is
    given in full). The host must apply ``budget_increments`` atomically.

    >>> from loyaltycore.rules import Budget
    >>> Budget("holiday", 1_000_000, {"holiday"}).rules
    frozenset({'holiday'})
    """

    id: str = attrs.field(converter=_id)
    points: int = attrs.field(validator=_optional_count("points"))
    rules: frozenset[str] = attrs.field(converter=_rule_ids)


class Outcome(enum.IntEnum):
    """Why a rule did or did not award, as stored in a trace.

    >>> from loyaltycore.rules import Outcome
    >>> Outcome(6).name
    'LOST_GROUP'
    """

    FIRED = 0
    CONDITION = 1
    NOT_VALID = 2
    ZERO = 3
    LIMIT_TIMES = 4
    LIMIT_POINTS = 5
    LOST_GROUP = 6
    BUDGET = 7
    NO_RECIPIENT = 8
    TRUNCATED = 9


OUTCOME_TEXT: Final = {
    Outcome.FIRED: "fired",
    Outcome.CONDITION: "condition failed",
    Outcome.NOT_VALID: "outside its valid window",
    Outcome.ZERO: "award rounds to zero",
    Outcome.LIMIT_TIMES: "times limit reached",
    Outcome.LIMIT_POINTS: "points limit reached",
    Outcome.LOST_GROUP: "another rule of its exclusive group won",
    Outcome.BUDGET: "program budget exhausted",
    Outcome.NO_RECIPIENT: "no referrer on the event",
    Outcome.TRUNCATED: "fired, truncated by its points limit",
}


def _when(value: object) -> Any:
    if value is None or callable(getattr(value, "test", None)):
        return value
    raise InvalidType(
        f"when={value!r} must be a predicate (field('amount') >= 10 ...) or None",
        field="when",
        value=value,
    )


def _award(value: object) -> Any:
    if not isinstance(value, AWARD_TYPES):
        raise InvalidType(
            f"award={value!r} must be PointsPerSpend, FixedPoints, Multiplier or TierMultiplier",
            field="award",
            value=value,
        )
    return value


def _optional(kind: type[Any], name: str) -> Any:
    def check(_: object, attribute: attrs.Attribute[Any], value: object) -> None:
        if value is not None and not isinstance(value, kind):
            raise InvalidType(
                f"{name}={value!r} must be a {kind.__name__} or None", field=name, value=value
            )

    return check


def _group(value: object) -> str | None:
    return None if value is None else check_id(value, "group")


def _bool(name: str) -> Any:
    def check(_: object, attribute: attrs.Attribute[Any], value: object) -> None:
        if type(value) is not bool:
            raise InvalidType(f"{name}={value!r} must be a bool", field=name, value=value)

    return check


@attrs.frozen
class Rule:
    """One earning or promotion rule: when it applies and what it awards.

    Args:
        id: a unique id (counter keys and traces use it).
        when: a predicate, or None for always.
        award: :class:`PointsPerSpend`, :class:`FixedPoints`,
            :class:`Multiplier` or :class:`TierMultiplier`.
        priority: lower wins within an exclusive group.
        group: the exclusive group, or None.
        limit: a :class:`Limit`, or None.
        valid: a :class:`Window`, or None.
        base: whether the rule gives base points (which multipliers multiply).

    >>> from loyaltycore.rules import FixedPoints, Rule
    >>> from loyaltycore.predicates import field
    >>> Rule("app", field("channel") == "app", FixedPoints(10)).priority
    100
    """

    id: str = attrs.field(converter=_id)
    when: Predicate | None = attrs.field(converter=_when)
    award: Award = attrs.field(converter=_award)
    priority: int = attrs.field(default=100, kw_only=True)
    group: str | None = attrs.field(default=None, kw_only=True, converter=_group)
    limit: Limit | None = attrs.field(
        default=None, kw_only=True, validator=_optional(Limit, "limit")
    )
    valid: Window | None = attrs.field(
        default=None, kw_only=True, validator=_optional(Window, "valid")
    )
    base: bool = attrs.field(default=False, kw_only=True, validator=_bool("base"))

    @priority.validator
    def _check_priority(self, attribute: attrs.Attribute[int], value: object) -> None:
        check_int(value, "priority")

    def __attrs_post_init__(self) -> None:
        if self.base and isinstance(self.award, Multiplier | TierMultiplier):
            raise InvalidRule(
                f"rule {self.id!r}: a base rule cannot be a multiplier",
                field="base",
                value=self.id,
            )


@attrs.frozen
class AwardLine:
    """One line of an evaluation: a rule's award to one recipient.

    ``available_at`` is when pending points become usable, ``expires_at`` an
    expiry override (None: the ledger's policy) — the arguments of
    ``PointsLedger.earn``.

    >>> from loyaltycore.rules import AwardLine
    >>> from datetime import timezone
    >>> at = datetime(2024, 1, 1, tzinfo=timezone.utc)
    >>> AwardLine("base", 12, "points", "m-1", at).points
    12
    """

    rule: str
    points: int
    currency: str
    recipient: str
    available_at: datetime
    expires_at: datetime | None = None


def describe(node: object) -> str:
    """Short text of a predicate node for a trace line."""
    if node is None:
        return "always"
    text = getattr(node, "describe", None)
    if callable(text):
        return str(text())
    return str(node)


@attrs.frozen
class Trace:
    """Why each rule of a rule set did or did not fire for one event.

    Stored as small integers (one outcome and one detail per rule) and
    rendered to text only when asked.

    >>> from loyaltycore.rules import Trace
    >>> trace = Trace(("base", "app"), (0, 1), (-1, 0), ((), ("channel is app",)))
    >>> trace.fired(), trace.why("app")
    (('base',), 'app: condition failed: channel is app')
    """

    rule_ids: tuple[str, ...] = attrs.field(repr=False)
    codes: tuple[int, ...]
    details: tuple[int, ...]
    conditions: tuple[tuple[object, ...], ...] = attrs.field(repr=False, eq=False)

    def outcome(self, rule_id: str) -> Outcome:
        """The outcome of the rule ``rule_id``."""
        return Outcome(self.codes[self._index(rule_id)])

    def fired(self) -> tuple[str, ...]:
        """The ids of the rules that awarded something, in rule-set order."""
        return tuple(
            rid
            for rid, code in zip(self.rule_ids, self.codes, strict=True)
            if code in (Outcome.FIRED, Outcome.TRUNCATED)
        )

    def why(self, rule_id: str) -> str:
        """One line explaining the outcome of ``rule_id``."""
        i = self._index(rule_id)
        code = Outcome(self.codes[i])
        text = f"{rule_id}: {OUTCOME_TEXT[code]}"
        if code is Outcome.CONDITION:
            parts = self.conditions[i]
            detail = self.details[i]
            if 0 <= detail < len(parts):
                text += f": {describe(parts[detail])}"
        return text

    def explain(self) -> str:
        """Every rule's line, in rule-set order."""
        return "\n".join(self.why(rid) for rid in self.rule_ids)

    def _index(self, rule_id: str) -> int:
        try:
            return self.rule_ids.index(rule_id)
        except ValueError:
            from loyaltycore.errors import NotFound

            raise NotFound(f"rule={rule_id!r} is not in this rule set", field="rule") from None


def activity_source(event_id: str, rule_id: str) -> str:
    """The ``source_id`` of the qualifying activity a rule gives for an event."""
    return f"{event_id}:{rule_id}"


@attrs.frozen(repr=False)
class Evaluation:
    """What one event earns: award lines, counter increments and the trace.

    ``lines`` holds every award in every currency and to every recipient;
    :attr:`awards` are the redeemable ones, :attr:`activity` the tier-metric
    ones of the event's member as :class:`loyaltycore.tiers.Activity`.
    Made by :meth:`loyaltycore.rules.RuleSet.evaluate`.

    >>> from loyaltycore.rules import FixedPoints, Rule
    >>> from datetime import timezone
    >>> from loyaltycore.predicates import Event, Member
    >>> from loyaltycore.rules import RuleSet
    >>> rs = RuleSet([Rule("nights", None, FixedPoints(2, currency="nights"))])
    >>> stay = Event("s-1", "stay", datetime(2024, 1, 3, tzinfo=timezone.utc))
    >>> result = rs.evaluate(stay, Member("m-1"))
    >>> result.points, [(a.metric, a.amount) for a in result.activity]
    (0, [('nights', Decimal('2'))])
    """

    event: Event = attrs.field(repr=False)
    member: Member = attrs.field(repr=False)
    eligible: int
    #: redeemable points for the event's member (referral lines excluded)
    points: int
    #: (rule id, amount, currency, recipient, pending days, expiry days) per line
    raw: tuple[tuple[str, int, str, str, int, int | None], ...] = attrs.field(repr=False)
    increments: Mapping[str, int]
    budget_increments: Mapping[str, int]
    trace: Trace = attrs.field(repr=False)

    @functools.cached_property
    def lines(self) -> tuple[AwardLine, ...]:
        """Every award line, in rule-set order (built on first use)."""
        at = self.event.at
        return tuple(
            AwardLine(
                rule,
                amount,
                currency,
                who,
                at + timedelta(days=pending) if pending else at,
                None if expiry is None else at + timedelta(days=expiry),
            )
            for rule, amount, currency, who, pending, expiry in self.raw
        )

    def __repr__(self) -> str:
        return (
            f"Evaluation(eligible={self.eligible!r}, points={self.points!r}, "
            f"lines={self.lines!r}, increments={self.increments!r}, "
            f"budget_increments={self.budget_increments!r})"
        )

    @property
    def awards(self) -> tuple[AwardLine, ...]:
        """The redeemable (``"points"``) lines, for every recipient."""
        return tuple(line for line in self.lines if line.currency == POINTS)

    @property
    def activity(self) -> tuple[Activity, ...]:
        """Tier-metric lines of the event's member, as tier-program activity."""
        from loyaltycore.tiers import Activity

        return tuple(
            Activity(
                line.currency,
                line.points,
                self.event.at,
                activity_source(self.event.id, line.rule),
            )
            for line in self.lines
            if line.currency != POINTS and line.recipient == self.member.id
        )

    def by_rule(self) -> dict[str, int]:
        """Amount per rule id (all currencies, all recipients), in rule-set order."""
        out: dict[str, int] = {}
        for rule, amount, *_ in self.raw:
            out[rule] = out.get(rule, 0) + amount
        return out


# Resolve the string annotations now, against this module, so converters and
# the plain-data hooks never look them up again (a module imported twice, as
# doctest runners do, would otherwise resolve them to the other copy).
for _cls in (
    PointsPerSpend,
    FixedPoints,
    Multiplier,
    TierMultiplier,
    Limit,
    Window,
    Budget,
    Rule,
    AwardLine,
    Trace,
    Evaluation,
):
    attrs.resolve_types(_cls)

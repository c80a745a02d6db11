"""The program document: rules, the one tier ladder, expiry, debt, zone, currency, caps.

A :class:`Program` is validated once, when it is built: the rule set and the
tier program must speak the program's zone and currency exponent, the rule
set's tier order is the ladder's, and every tier a rule names (a tier
multiplier, a ``tier_at_least`` condition, a comparison on ``tier``) must be
a tier of the ladder. Tier earn multipliers declared as tier benefits become
one derived rule, so the ladder is declared once.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from datetime import date, datetime, timedelta, tzinfo
from decimal import Decimal
from typing import Any, Final, Literal

import attrs

from loyaltycore import serialize
from loyaltycore._validate import check_id, check_int, to_decimal, type_name
from loyaltycore.calendar import zone
from loyaltycore.errors import DuplicateId, InvalidArgument, InvalidRule, InvalidType
from loyaltycore.points import ExpiryPolicy, NeverExpire
from loyaltycore.predicates import Compare, IsIn, TierAtLeast, walk
from loyaltycore.rules import Rule, RuleSet, TierMultiplier
from loyaltycore.tiers import TierProgram

CapPeriod = Literal["day", "week", "month"]
CapScope = Literal["bonus", "all", "groups"]
DebtPolicy = Literal["debt", "strict"]
Retro = Literal["next_review", "reopen"]

#: The id of the rule a program derives from its tiers' earn multipliers.
BENEFITS_RULE: Final = "tier-benefits"
_CURRENCY: Final = re.compile(r"[A-Z]{3}")


def _positive(name: str) -> Any:
    def check(_: object, __: object, value: object) -> None:
        check_int(value, name, minimum=1)

    return check


def _choice(name: str, *allowed: str) -> Any:
    def check(_: object, __: object, value: object) -> None:
        if value not in allowed:
            raise InvalidArgument(
                f"{name}={value!r} must be one of {list(allowed)}", field=name, value=value
            )

    return check


def _groups(value: object) -> frozenset[str]:
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise InvalidType(f"groups={value!r} must be a set of group names", field="groups")
    return frozenset(check_id(v, "groups") for v in value)


@attrs.frozen
class Cap:
    """A member-wide cap: at most ``points`` per member per local ``period``.

    The scope says which redeemable awards count: ``"bonus"`` (every rule
    that is not a base rule), ``"all"``, or ``"groups"`` (the rules of the
    exclusive ``groups`` named). Awards are granted in rule-set order; the
    award that meets a cap's end is cut to what is left and the awards after
    it get nothing, so the rules listed last are cut first. The outcome names
    the cap that cut each award. Periods are local days, ISO weeks (Monday
    first) and months of the program zone, by the order's business time.

    >>> Cap("daily-bonus", 2_000, "day").scope
    'bonus'
    """

    id: str = attrs.field(validator=lambda _, __, v: check_id(v, "id"))
    points: int = attrs.field(validator=_positive("points"))
    period: CapPeriod = attrs.field(validator=_choice("period", "day", "week", "month"))
    scope: CapScope = attrs.field(
        default="bonus", validator=_choice("scope", "bonus", "all", "groups")
    )
    groups: frozenset[str] = attrs.field(default=frozenset(), converter=_groups)

    def __attrs_post_init__(self) -> None:
        if (self.scope == "groups") != bool(self.groups):
            raise InvalidRule(
                f"cap {self.id!r}: scope='groups' needs groups, and only it takes them",
                field="groups",
                value=sorted(self.groups),
            )

    def covers(self, rule: Rule) -> bool:
        """Whether awards of ``rule`` count towards this cap.

        >>> from loyaltycore.rules import FixedPoints
        >>> Cap("c", 10, "day").covers(Rule("r", None, FixedPoints(5), base=True))
        False
        """
        if self.scope == "all":
            return True
        if self.scope == "bonus":
            return not rule.base
        return rule.group in self.groups

    def label(self, day: date) -> str:
        """The label of the period containing the local ``day``.

        >>> Cap("c", 10, "week").label(date(2024, 12, 30))
        '2025-W01'
        """
        if self.period == "day":
            return day.isoformat()
        if self.period == "week":
            year, week, _ = day.isocalendar()
            return f"{year:04d}-W{week:02d}"
        return f"{day.year:04d}-{day.month:02d}"


def _zone_name(value: object) -> str:
    if not isinstance(value, str):
        raise InvalidType(
            f"tz={value!r} must be an IANA zone name, not {type_name(value)}", field="tz"
        )
    zone(value)
    return value


def currency_code(value: object) -> str:
    if not isinstance(value, str) or not _CURRENCY.fullmatch(value):
        raise InvalidArgument(
            f"currency={value!r} must be an ISO 4217 code like 'EUR'",
            field="currency",
            value=value,
        )
    return value


def _policy(_: object, __: object, value: object) -> None:
    from loyaltycore.points import ExpireAfter, ExpireAtPeriodEnd, ExpireOnInactivity

    if not isinstance(value, NeverExpire | ExpireAfter | ExpireAtPeriodEnd | ExpireOnInactivity):
        raise InvalidType(
            f"expiry={value!r} must be an expiry policy, not {type_name(value)}",
            field="expiry",
            value=value,
        )


def _optional_money(value: object) -> Decimal | None:
    return None if value is None else to_decimal(value, "point_value")


def _rate(value: object) -> Decimal:
    return to_decimal(value, "unknown_refund_rate")


def _caps(value: object) -> tuple[Cap, ...]:
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise InvalidType(f"caps={value!r} must be a sequence of Cap", field="caps")
    caps = tuple(value)
    for i, cap in enumerate(caps):
        if not isinstance(cap, Cap):
            raise InvalidType(
                f"caps[{i}]={cap!r} must be a Cap, not {type_name(cap)}", field=f"caps[{i}]"
            )
    return caps


def _instance(kind: type[Any], name: str) -> Any:
    def check(_: object, __: object, value: object) -> None:
        if not isinstance(value, kind):
            raise InvalidType(
                f"{name}={value!r} must be a {kind.__name__}, not {type_name(value)}",
                field=name,
                value=value,
            )

    return check


@attrs.frozen(kw_only=True)
class Program:
    """One loyalty program, versioned: what an account runs under.

    Args:
        id: the program's id; ``(id, version)`` names one document.
        version: a positive int; a changed program is a new version.
        rules: the earning rules. Their zone and exponent must be the
            program's; their tier order is taken from ``tiers``.
        tiers: the tier program, the one tier ladder: tier multipliers,
            ``tier_at_least`` and comparisons on ``tier`` in the rules must
            name its tiers (checked here, naming the rule). Tier earn
            multipliers declared as :class:`~loyaltycore.tiers.Benefits`
            become one derived rule, ``"tier-benefits"``.
        tz: the IANA zone of the program's calendar.
        currency: the ISO 4217 code of the program's money.
        exponent: the currency's decimal places.
        expiry: the expiry policy of earned points.
        debt: ``"debt"`` lets a refund of spent points leave debt;
            ``"strict"`` refuses such a refund.
        caps: member-wide caps (:class:`Cap`).
        refund_days: how long an order's evaluation is kept for refunds.
        retry_days, retry_count: the idempotency window: a command id is
            remembered this many days and at most this many commands back.
        retro: ``"next_review"`` (a late purchase dated in a reviewed window
            counts from the next review on) or ``"reopen"`` (a review judges
            reviewed windows again with what was posted late).
        point_value: money per point, recorded on each earn for accounting
            (optional).
        unknown_refund_rate: points per currency unit clawed back when an
            order the account does not know (or no longer keeps) is refunded
            by amount.
        carry_every: how many ledger commands an account runs at least
            between two attempts to carry its ledger forward (the bounded
            ledger); after a carry that kept more than twice this many
            lots, it waits half as many commands as it kept lots.

    Raises:
        InvalidRule: a zone, exponent or tier order that differs from the
            rule set's or the tier program's, a rule naming an unknown tier,
            earn multipliers declared twice, a cap naming an unknown group.
        DuplicateId: two caps share an id.

    >>> from loyaltycore.rules import FixedPoints, Rule, RuleSet, TierMultiplier
    >>> from loyaltycore.tiers import Tier, TierProgram, at_least
    >>> ladder = TierProgram([Tier("silver", 0), Tier("gold", 1, at_least("spend", 500))])
    >>> rules = RuleSet([Rule("boost", None, TierMultiplier({"Gold": 2}))])
    >>> Program(id="coffee", version=1, rules=rules, tiers=ladder, tz="UTC")
    Traceback (most recent call last):
    ...
    loyaltycore.errors.InvalidRule: rule 'boost': award.factors names tier 'Gold', not a tier ...
    """

    id: str = attrs.field(validator=lambda _, __, v: check_id(v, "id"))
    version: int = attrs.field(validator=_positive("version"))
    rules: RuleSet = attrs.field(validator=_instance(RuleSet, "rules"))
    tiers: TierProgram = attrs.field(validator=_instance(TierProgram, "tiers"))
    tz: str = attrs.field(converter=_zone_name)
    currency: str = attrs.field(default="EUR", converter=currency_code)
    exponent: int = attrs.field(default=2)
    expiry: ExpiryPolicy = attrs.field(factory=NeverExpire, validator=_policy)
    debt: DebtPolicy = attrs.field(default="debt", validator=_choice("debt", "debt", "strict"))
    caps: tuple[Cap, ...] = attrs.field(default=(), converter=_caps)
    refund_days: int = attrs.field(default=90)
    retry_days: int = attrs.field(default=7)
    retry_count: int = attrs.field(default=200, validator=_positive("retry_count"))
    retro: Retro = attrs.field(
        default="next_review", validator=_choice("retro", "next_review", "reopen")
    )
    point_value: Decimal | None = attrs.field(default=None, converter=_optional_money)
    unknown_refund_rate: Decimal = attrs.field(default=Decimal(0), converter=_rate)
    carry_every: int = attrs.field(default=256, validator=_positive("carry_every"))

    @exponent.validator
    def _check_exponent(self, _: object, value: object) -> None:
        check_int(value, "exponent", minimum=0)

    @refund_days.validator
    def _check_refund_days(self, _: object, value: object) -> None:
        check_int(value, "refund_days", minimum=0)

    @retry_days.validator
    def _check_retry_days(self, _: object, value: object) -> None:
        check_int(value, "retry_days", minimum=0)

    def __attrs_post_init__(self) -> None:
        _check_program(self)

    def __getstate__(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in attrs.fields(type(self))}

    def __setstate__(self, state: dict[str, Any]) -> None:
        for key, value in state.items():
            object.__setattr__(self, key, value)

    @functools.cached_property
    def rule_set(self) -> RuleSet:
        """The rule set the accounts run: the tier order set, the benefits rule added.

        >>> from loyaltycore.rules import RuleSet
        >>> from loyaltycore.tiers import Benefits, Tier, TierProgram, at_least
        >>> ladder = TierProgram([Tier("silver", 0),
        ...                       Tier("gold", 1, at_least("spend", 500), Benefits("1.5"))])
        >>> p = Program(id="p", version=1, rules=RuleSet([]), tiers=ladder, tz="UTC")
        >>> [r.id for r in p.rule_set.rules], p.rule_set.tiers
        (['tier-benefits'], ('silver', 'gold'))
        """
        rules = list(self.rules.rules)
        factors = _benefit_factors(self.tiers)
        if factors:
            rules.append(Rule(BENEFITS_RULE, None, TierMultiplier(factors)))
        return attrs.evolve(self.rules, rules=rules, tiers=self.tiers.names)

    @functools.cached_property
    def zone(self) -> tzinfo:
        """The program zone as a ``tzinfo``.

        >>> from loyaltycore.rules import RuleSet
        >>> from loyaltycore.tiers import Tier, TierProgram
        >>> Program(id="p", version=1, rules=RuleSet([]), tiers=TierProgram([Tier("a", 0)]),
        ...         tz="UTC").zone
        datetime.timezone.utc
        """
        return zone(self.tz)

    @property
    def key(self) -> tuple[str, int]:
        """``(id, version)``, what a resolver is asked for on replay.

        >>> from loyaltycore.rules import RuleSet
        >>> from loyaltycore.tiers import Tier, TierProgram
        >>> Program(id="p", version=3, rules=RuleSet([]), tiers=TierProgram([Tier("a", 0)]),
        ...         tz="UTC").key
        ('p', 3)
        """
        return (self.id, self.version)

    def refund_until(self, at: datetime) -> datetime:
        """The last instant an order posted at ``at`` may be refunded by its evaluation.

        >>> from datetime import timezone
        >>> from loyaltycore.rules import RuleSet
        >>> from loyaltycore.tiers import Tier, TierProgram
        >>> p = Program(id="p", version=1, rules=RuleSet([]), tiers=TierProgram([Tier("a", 0)]),
        ...             tz="UTC", refund_days=30)
        >>> p.refund_until(datetime(2024, 1, 1, tzinfo=timezone.utc)).date()
        datetime.date(2024, 1, 31)
        """
        return at + timedelta(days=self.refund_days)

    def _refundable_since(self, at: datetime) -> datetime:
        """The first posting instant whose order may still be refunded at ``at``:
        ``refund_until(posted) < at`` exactly when ``posted`` is before it."""
        return at - timedelta(days=self.refund_days)


def _tz_key(value: tzinfo) -> str:
    name: str = serialize.converter.unstructure(value, tzinfo)
    return name


def _benefit_factors(tiers: TierProgram) -> dict[str, Decimal]:
    return {
        t.name: t.benefits.earn_multiplier
        for t in tiers.tiers
        if t.benefits.earn_multiplier != Decimal(1)
    }


def _check_program(p: Program) -> None:
    names = p.tiers.names
    if _tz_key(p.rules.tz) != _tz_key(p.zone):
        raise InvalidRule(
            f"rules.tz={_tz_key(p.rules.tz)!r} is not the program zone {p.tz!r}",
            field="rules.tz",
            value=_tz_key(p.rules.tz),
        )
    if _tz_key(p.tiers.tz) != _tz_key(p.zone):
        raise InvalidRule(
            f"tiers.tz={_tz_key(p.tiers.tz)!r} is not the program zone {p.tz!r}",
            field="tiers.tz",
            value=_tz_key(p.tiers.tz),
        )
    for name, value in (("rules", p.rules.exponent), ("tiers", p.tiers.exponent)):
        if value != p.exponent:
            raise InvalidRule(
                f"{name}.exponent={value} is not the program exponent {p.exponent}",
                field=f"{name}.exponent",
                value=value,
            )
    if p.rules.tiers and tuple(p.rules.tiers) != names:
        raise InvalidRule(
            f"rules.tiers={list(p.rules.tiers)} is not the program ladder {list(names)}",
            field="rules.tiers",
            value=list(p.rules.tiers),
        )
    for rule in p.rules.rules:
        _check_rule_tiers(rule, names)
    factors = _benefit_factors(p.tiers)
    if factors:
        _check_benefits(p, factors)
    _check_caps(p)


def _unknown_tier(rule: Rule, where: str, tier: object, names: tuple[str, ...]) -> InvalidRule:
    return InvalidRule(
        f"rule {rule.id!r}: {where} names tier {tier!r}, not a tier of the program "
        f"({', '.join(names)})",
        field=f"rules[{rule.id!r}].{where}",
        value=tier,
    )


def _check_rule_tiers(rule: Rule, names: tuple[str, ...]) -> None:
    if isinstance(rule.award, TierMultiplier):
        for tier in rule.award.factors:
            if tier not in names:
                raise _unknown_tier(rule, "award.factors", tier, names)
    if rule.when is None:
        return
    for node in walk(rule.when):
        if isinstance(node, TierAtLeast) and node.tier not in names:
            raise _unknown_tier(rule, "when", node.tier, names)
        value = node.value if isinstance(node, Compare) and node.field == "tier" else None
        if isinstance(value, str) and value not in names:
            raise _unknown_tier(rule, "when", value, names)
        if isinstance(node, IsIn) and node.field == "tier":
            for value in sorted(str(v) for v in node.values):
                if value not in names:
                    raise _unknown_tier(rule, "when", value, names)


def _check_benefits(p: Program, factors: dict[str, Decimal]) -> None:
    for rule in p.rules.rules:
        if isinstance(rule.award, TierMultiplier):
            raise InvalidRule(
                f"rule {rule.id!r} is a tier multiplier and the tiers declare earn "
                "multipliers too: declare them once",
                field=f"rules[{rule.id!r}].award",
                value=rule.id,
            )
        if rule.id == BENEFITS_RULE:
            raise DuplicateId(
                f"rule id {BENEFITS_RULE!r} is reserved for the tiers' earn multipliers",
                field="rules",
                value=rule.id,
            )
    for tier, factor in factors.items():
        if factor < 1:
            raise InvalidRule(
                f"tier {tier!r}: earn_multiplier={factor} must be at least 1 in a program",
                field=f"tiers[{tier!r}].benefits.earn_multiplier",
                value=factor,
            )


def _check_caps(p: Program) -> None:
    seen: set[str] = set()
    groups = {rule.group for rule in p.rules.rules if rule.group is not None}
    for cap in p.caps:
        if cap.id in seen:
            raise DuplicateId(f"caps: id={cap.id!r} is used twice", field="caps", value=cap.id)
        seen.add(cap.id)
        for group in sorted(cap.groups - groups):
            raise InvalidRule(
                f"cap {cap.id!r} names group {group!r}, which no rule has",
                field=f"caps[{cap.id!r}].groups",
                value=group,
            )


def register() -> None:
    """Register the program document (``accounts.Program``)."""
    attrs.resolve_types(Cap)
    attrs.resolve_types(Program)
    serialize.register_document(Program, "accounts.Program", 1)

"""The scalar rule engine: one event, one member, one evaluation.

A rule set is compiled once (:class:`Compiled`): rules are split into the base
stage and the bonus stage, each stage into units (a standalone rule, or an
exclusive group ordered by priority), and each rule's condition into the
conjuncts the trace reports on. Evaluating an event then walks the units with
plain Python ints; the batch engine reproduces the same decisions with numpy.
"""

from __future__ import annotations

from calendar import isleap
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime, tzinfo
from typing import Any, Final

from loyaltycore.rules._codegen import compile_engine
from loyaltycore.rules._math import ratio, scale_round
from loyaltycore.rules._model import (
    Budget,
    Evaluation,
    FixedPoints,
    Limit,
    Multiplier,
    Outcome,
    PointsPerSpend,
    Rule,
    TierMultiplier,
    Trace,
)

FIRED: Final = int(Outcome.FIRED)
CONDITION: Final = int(Outcome.CONDITION)
NOT_VALID: Final = int(Outcome.NOT_VALID)
ZERO: Final = int(Outcome.ZERO)
LIMIT_TIMES: Final = int(Outcome.LIMIT_TIMES)
LIMIT_POINTS: Final = int(Outcome.LIMIT_POINTS)
LOST_GROUP: Final = int(Outcome.LOST_GROUP)
BUDGET: Final = int(Outcome.BUDGET)
NO_RECIPIENT: Final = int(Outcome.NO_RECIPIENT)
TRUNCATED: Final = int(Outcome.TRUNCATED)

#: Award kinds, as small ints for the hot loop.
K_SPEND, K_FIXED, K_MULT, K_TIER = 0, 1, 2, 3


def period_label(period: str, day: date, birthday: date | None) -> str:
    """The counter label of the limit period containing the local ``day``.

    >>> period_label("quarter", date(2024, 5, 17), None)
    '2024-Q2'
    >>> period_label("birthday_year", date(2025, 9, 1), date(2000, 2, 29))
    'birthday-2026'
    """
    if period == "month":
        return f"{day.year:04d}-{day.month:02d}"
    if period == "quarter":
        return f"{day.year:04d}-Q{(day.month - 1) // 3 + 1}"
    if period == "year":
        return f"{day.year:04d}"
    if period == "day":
        return day.isoformat()
    if period == "birthday_year":
        if birthday is None:
            return "birthday-none"
        return f"birthday-{birthday_year(day, birthday):04d}"
    return "lifetime"


def birthday_year(day: date, birthday: date) -> int:
    """The year of the birthday nearest to ``day`` (Feb 29 is Feb 28 in common years).

    A birthday month, or a window of days around the birthday, then always
    falls in one birthday year; an exact tie goes to the earlier year.

    >>> birthday_year(date(2024, 5, 3), date(1990, 5, 17))
    2024
    >>> birthday_year(date(2025, 1, 2), date(1990, 12, 30))
    2024
    """
    best = (366 * 2, day.year)
    month, mday = birthday.month, birthday.day
    for year in (day.year - 1, day.year, day.year + 1):
        leap_day = month == 2 and mday == 29 and not isleap(year)
        distance = abs((day - date(year, month, 28 if leap_day else mday)).days)
        if distance < best[0]:
            best = (distance, year)
    return best[1]


def counter_keys(rule_id: str, label: str) -> tuple[str, str]:
    """The member counter keys (times, points) of a rule in one period."""
    return f"{rule_id}/{label}/times", f"{rule_id}/{label}/points"


class Unit:
    """A standalone rule or an exclusive group, in evaluation order."""

    __slots__ = ("best", "group", "members", "static")

    def __init__(self, group: str | None, members: tuple[int, ...], best: bool, static: bool):
        self.group = group
        self.members = members
        self.best = best
        #: the winner order does not depend on award sizes (distinct priorities)
        self.static = static


class Compiled:
    """A rule set prepared for evaluation (built once, cached on the rule set)."""

    def __init__(
        self,
        rules: Sequence[Rule],
        *,
        tz: tzinfo,
        exponent: int,
        group_modes: Mapping[str, str],
        budgets: Sequence[Budget],
        limits: Sequence[Limit | None],
        conditions: Sequence[tuple[Any, ...]],
        tiers: Sequence[str],
    ) -> None:
        self.rules = tuple(rules)
        self.ids = tuple(r.id for r in rules)
        self.tz = tz
        self.exponent = exponent
        self.limits = tuple(limits)
        self.conditions = tuple(conditions)
        self.budgets = tuple(budgets)
        self.budget_of = tuple(tuple(b for b in budgets if r.id in b.rules) for r in rules)
        self.kind = tuple(_kind(r) for r in rules)
        self.fraction = tuple(_fraction(r, exponent) for r in rules)
        self.tier_fractions = tuple(
            {t: ratio(f) for t, f in r.award.factors.items()}
            if isinstance(r.award, TierMultiplier)
            else {}
            for r in rules
        )
        self.stages = (
            _units(rules, group_modes, base=True),
            _units(rules, group_modes, base=False),
        )
        self.has_budgets = bool(budgets)
        self.line_spec = tuple(
            (
                r.id,
                r.award.currency,
                r.award.recipient == "member",
                r.award.pending_days,
                r.award.expires_after_days,
            )
            for r in rules
        )
        self.needs_day = any(lim is not None for lim in limits)
        self.plan = tuple(tuple(self._step(unit) for unit in stage) for stage in self.stages)
        self.units = tuple(unit for stage in self.stages for unit in stage)
        unit_base = tuple(
            is_base
            for stage, is_base in zip(self.stages, (True, False), strict=True)
            for _ in stage
        )
        steps = []
        extra = []
        for k, (unit, is_base) in enumerate(zip(self.units, unit_base, strict=True)):
            simple, i, kind, num, den, rounding, currency, _ = self._step(unit)
            steps.append((simple, i, kind, num, den, rounding, currency, is_base, k, unit.members))
            for j in unit.members[1:]:
                _, _, kind, num, den, rounding, currency, _ = self._step(
                    Unit(None, (j,), False, True)
                )
                extra.append((True, j, kind, num, den, rounding, currency, is_base, -1, (j,)))
        units = self.units

        def resolve(s: State, k: int, event: Any, member: Any) -> None:
            _resolve(self, s, units[k], event, member, unit_base[k])

        self.run, self.needs_context = compile_engine(
            self.conditions,
            steps,
            extra,
            tz=tz,
            tiers=tiers,
            tier_fractions=self.tier_fractions,
            resolve=resolve,
            has_valid=[r.valid is not None for r in self.rules],
        )

    def _step(self, unit: Unit) -> tuple[Any, ...]:
        """``(simple, i, kind, num, den, rounding, currency, unit)`` for the hot loop.

        A unit is simple when it is one rule without limit, budget, valid
        window, tier factors or referrer; simple units are inlined.
        """
        i = unit.members[0]
        rule = self.rules[i]
        award = rule.award
        simple = (unit.group is None or unit.static) and all(
            self.limits[j] is None
            and not self.budget_of[j]
            and self.rules[j].valid is None
            and self.rules[j].award.recipient == "member"
            for j in unit.members
        )
        num, den = self.fraction[i]
        rounding = getattr(award, "rounding", "ROUND_DOWN")
        return (simple, i, self.kind[i], num, den, rounding, award.currency, unit)


def _kind(rule: Rule) -> int:
    award = rule.award
    if isinstance(award, PointsPerSpend):
        return K_SPEND
    if isinstance(award, FixedPoints):
        return K_FIXED
    if isinstance(award, Multiplier):
        return K_MULT
    return K_TIER


def _fraction(rule: Rule, exponent: int) -> tuple[int, int]:
    award = rule.award
    if isinstance(award, PointsPerSpend):
        num, den = ratio(award.rate)
        return num, den * 10**exponent
    if isinstance(award, Multiplier):
        num, den = ratio(award.factor)
        return num - den, den
    if isinstance(award, FixedPoints):
        return award.points, 1
    return 0, 1


def _units(rules: Sequence[Rule], modes: Mapping[str, str], *, base: bool) -> tuple[Unit, ...]:
    groups: dict[str, list[int]] = {}
    units: list[tuple[int, Unit | str]] = []
    for i, rule in enumerate(rules):
        if rule.base != base:
            continue
        if rule.group is None:
            units.append((i, Unit(None, (i,), False, True)))
        elif rule.group in groups:
            groups[rule.group].append(i)
        else:
            groups[rule.group] = [i]
            units.append((i, rule.group))
    out = []
    for _, unit in units:
        if isinstance(unit, Unit):
            out.append(unit)
            continue
        members = sorted(groups[unit], key=lambda j: (rules[j].priority, rules[j].id))
        best = modes.get(unit, "priority") == "best"
        priorities = [rules[j].priority for j in members]
        static = not best and len(set(priorities)) == len(priorities)
        out.append(Unit(unit, tuple(members), best, static))
    return tuple(out)


def raw_award(c: Compiled, i: int, eligible: int, base: Mapping[str, int], tier: Any) -> int:
    """The award of rule ``i`` before limits (a non-negative int)."""
    kind = c.kind[i]
    num, den = c.fraction[i]
    if kind == K_FIXED:
        return num
    rule = c.rules[i]
    if kind == K_SPEND:
        return scale_round(eligible, num, den, rule.award.rounding) if eligible > 0 else 0  # type: ignore[union-attr]
    amount = base.get(rule.award.currency, 0)
    if amount <= 0:
        return 0
    if kind == K_TIER:
        pair = c.tier_fractions[i].get(tier) if tier is not None else None
        if pair is None:
            return 0
        num, den = pair[0] - pair[1], pair[1]
    return scale_round(amount, num, den, rule.award.rounding)  # type: ignore[union-attr]


class State:
    """Mutable scratch state of one evaluation (never escapes the engine)."""

    __slots__ = (
        "at",
        "base",
        "birthday",
        "budget_inc",
        "budgets_used",
        "codes",
        "counters",
        "day",
        "details",
        "eligible",
        "failed",
        "fired",
        "increments",
        "keys",
        "referrer",
        "tier",
    )

    # Set by :func:`evaluate` right after construction (kept out of
    # ``__init__`` so building the scratch state stays cheap).
    at: datetime
    eligible: int
    referrer: str | None
    counters: Mapping[str, int]
    budgets_used: Mapping[str, int]
    tier: Any
    day: date | None
    birthday: date | None

    def __init__(self, n: int) -> None:
        self.codes = [CONDITION] * n
        self.details = [-1] * n
        self.failed = [-1] * n
        self.keys: dict[int, tuple[str, str]] = {}
        self.fired: list[tuple[int, int]] = []
        self.base: dict[str, int] = {}
        self.increments: dict[str, int] = {}
        self.budget_inc: dict[str, int] = {}


def _keys(c: Compiled, s: State, i: int, limit: Limit) -> tuple[str, str]:
    got = s.keys.get(i)
    if got is None:
        if s.day is None:
            s.day = s.at.astimezone(c.tz).date()
        got = counter_keys(c.ids[i], period_label(limit.period, s.day, s.birthday))
        s.keys[i] = got
    return got


def _limit(c: Compiled, s: State, i: int, amount: int) -> tuple[int, int]:
    """Apply rule ``i``'s limit: the amount left and the outcome code."""
    limit = c.limits[i]
    if limit is None:
        return amount, FIRED
    k_times, k_points = _keys(c, s, i, limit)
    if limit.times is not None and s.counters.get(k_times, 0) >= limit.times:
        return 0, LIMIT_TIMES
    if limit.points is not None:
        remaining = limit.points - s.counters.get(k_points, 0)
        if remaining <= 0:
            return 0, LIMIT_POINTS
        if amount > remaining:
            return remaining, TRUNCATED
    return amount, FIRED


def _budget_blocks(c: Compiled, s: State, i: int) -> bool:
    for budget in c.budget_of[i]:
        used = s.budgets_used.get(budget.id, 0) + s.budget_inc.get(budget.id, 0)
        if used >= budget.points:
            return True
    return False


def _candidate(c: Compiled, s: State, i: int, event: Any, member: Any) -> tuple[int, int] | None:
    rule = c.rules[i]
    codes = s.codes
    if rule.valid is not None and not rule.valid.contains(s.at):
        codes[i] = NOT_VALID
        return None
    failed = s.failed[i]
    if failed >= 0:
        s.details[i] = failed
        return None
    if rule.award.recipient == "referrer" and s.referrer is None:
        codes[i] = NO_RECIPIENT
        return None
    amount = raw_award(c, i, s.eligible, s.base, s.tier)
    if amount <= 0:
        codes[i] = ZERO
        return None
    amount, code = _limit(c, s, i, amount)
    if amount <= 0:
        codes[i] = code
        return None
    if c.budget_of[i] and _budget_blocks(c, s, i):
        codes[i] = BUDGET
        return None
    codes[i] = code
    return amount, code


def _resolve(c: Compiled, s: State, unit: Unit, event: Any, member: Any, base: bool) -> None:
    if unit.group is None:
        i = unit.members[0]
        got = _candidate(c, s, i, event, member)
        if got is not None:
            _fire(c, s, i, got[0], base)
        return
    candidates = []
    for i in unit.members:
        got = _candidate(c, s, i, event, member)
        if got is not None:
            candidates.append((i, got[0]))
    if not candidates:
        return
    rules = c.rules
    if unit.best:
        win = min(candidates, key=lambda p: (-p[1], rules[p[0]].priority, rules[p[0]].id))
    else:
        win = min(candidates, key=lambda p: (rules[p[0]].priority, -p[1], rules[p[0]].id))
    for i, _ in candidates:
        if i != win[0]:
            s.codes[i] = LOST_GROUP
    _fire(c, s, win[0], win[1], base)


def _fire(c: Compiled, s: State, i: int, amount: int, base: bool) -> None:
    s.fired.append((i, amount))
    rule = c.rules[i]
    if base:
        cur = rule.award.currency
        s.base[cur] = s.base.get(cur, 0) + amount
    limit = c.limits[i]
    if limit is not None:
        k_times, k_points = _keys(c, s, i, limit)
        inc = s.increments
        inc[k_times] = inc.get(k_times, 0) + 1
        inc[k_points] = inc.get(k_points, 0) + amount
    for budget in c.budget_of[i]:
        s.budget_inc[budget.id] = s.budget_inc.get(budget.id, 0) + amount


def evaluate(
    c: Compiled,
    event: Any,
    member: Any,
    at: datetime,
    eligible: int,
    referrer: str | None,
    counters: Mapping[str, int],
    budgets_used: Mapping[str, int],
    make_context: Callable[[], Any] | None,
) -> Evaluation:
    """Evaluate one event for one member (arguments already checked)."""
    s = State(len(c.rules))
    s.at = at
    s.eligible = eligible
    s.referrer = referrer
    s.counters = counters
    s.budgets_used = budgets_used
    s.tier = member.tier
    s.day = None
    s.birthday = member.birthday
    c.run(event, member, s, make_context, eligible)
    return _result(c, s, event, member)


def _result(c: Compiled, s: State, event: Any, member: Any) -> Evaluation:
    fired = s.fired
    if len(fired) > 1:
        fired.sort()
    spec = c.line_spec
    raw = []
    points = 0
    for i, amount in fired:
        rule_id, currency, to_member, pending, expiry = spec[i]
        if to_member:
            raw.append((rule_id, amount, currency, member.id, pending, expiry))
            if currency == "points":
                points += amount
        else:
            raw.append((rule_id, amount, currency, s.referrer, pending, expiry))
    trace = Trace(c.ids, tuple(s.codes), tuple(s.details), c.conditions)
    return Evaluation(
        event, member, s.eligible, points, tuple(raw), s.increments, s.budget_inc, trace
    )

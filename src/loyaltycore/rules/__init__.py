"""Earning and promotion rules: awards, eligible spend, stacking, limits, traces.

A :class:`RuleSet` turns an event (a purchase, a signup, a referral) into
awards. Each :class:`Rule` has a condition (a predicate of
:mod:`loyaltycore.predicates`), an award, and optionally a priority, an
exclusive group, a :class:`Limit` and a valid :class:`Window`.

* Awards: :class:`PointsPerSpend` (rate per currency unit of eligible spend,
  one named rounding mode), :class:`FixedPoints`, :class:`Multiplier` and
  :class:`TierMultiplier`. Each is in a currency: redeemable ``"points"`` or
  a tier metric (``"status_points"``, ``"nights"`` ...), which becomes
  qualifying activity for the tier program instead of points.
* Base awards come from rules marked ``base=True``; a multiplier ``m`` adds
  its own line of ``(m - 1) x base``, rounded once. Multipliers add to each
  other and never multiply bonus lines. :class:`TierMultiplier` reads the
  tier the member held *before* the event (the member value passed in).
* Eligible spend: only product lines earn; tax, shipping, gift cards, reward
  lines, products flagged ``earning=False`` and the part paid with points
  earn nothing; a basket discount is prorated over the product lines.
* Stacking: in an exclusive group one rule awards — the lowest priority
  number, ties to the larger award, then the rule id; or, with
  ``groups={"g": "best"}``, the largest award.
* Limits per member per period (a points cap truncates, a times cap skips),
  kept in the member's counters; birthday rules default to once per member
  per birthday year. Budgets are program-wide and advisory: see
  :class:`Budget`.

>>> from datetime import datetime, timezone
>>> from loyaltycore.predicates import Always, Event, Member, field
>>> rules = RuleSet([
...     Rule("base", Always(), PointsPerSpend("1"), base=True),
...     Rule("app-double", field("channel") == "app", Multiplier("2")),
... ])
>>> at = datetime(2024, 5, 1, 12, tzinfo=timezone.utc)
>>> result = rules.evaluate(Event("o-1", "purchase", at, "25.90", channel="app"), Member("m-1"))
>>> result.points, result.by_rule()
(50, {'base': 25, 'app-double': 25})
"""

from __future__ import annotations

import functools
import json
from collections.abc import Hashable, Iterable, Mapping, Sequence
from datetime import datetime, tzinfo
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Final

import attrs
import numpy as np
import numpy.typing as npt
from cattrs.strategies import configure_tagged_union

from loyaltycore import serialize
from loyaltycore._frames import Col, Frames
from loyaltycore._public import publish
from loyaltycore._validate import (
    DECIMAL_CONTEXT,
    MAX_PLACES,
    check_int,
    freeze,
    to_decimal,
    type_name,
)
from loyaltycore.calendar import UTC, to_utc, zone
from loyaltycore.errors import DuplicateId, InvalidRule, InvalidType
from loyaltycore.predicates import And, Context, Event, Member, Predicate
from loyaltycore.progress import Progress, check_progress
from loyaltycore.rules._batch import Inputs, Run, key_label, run_with_budgets
from loyaltycore.rules._columns import prepare
from loyaltycore.rules._engine import Compiled, counter_keys, evaluate
from loyaltycore.rules._model import (
    DEFAULT_METRICS,
    POINTS,
    AwardLine,
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
    Window,
    describe,
)
from loyaltycore.rules._refund import Reversal, remaining_event, reversal
from loyaltycore.rules._spend import eligible

if TYPE_CHECKING:
    from loyaltycore.transactions import TransactionLog

__all__ = [
    "AwardLine",
    "BatchEvaluation",
    "Budget",
    "Evaluation",
    "FixedPoints",
    "Limit",
    "Multiplier",
    "Outcome",
    "POINTS",
    "PointsPerSpend",
    "Reversal",
    "Rule",
    "RuleSet",
    "Simulation",
    "TierMultiplier",
    "Trace",
    "Window",
]

_MODES: Final = ("best", "priority")


def _rules(value: object) -> tuple[Rule, ...]:
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        raise InvalidType(
            f"rules={value!r} must be a sequence of Rule", field="rules", value=value
        )
    rules = tuple(value)
    for i, rule in enumerate(rules):
        if not isinstance(rule, Rule):
            raise InvalidType(
                f"rules[{i}]={rule!r} must be a Rule, not {type_name(rule)}",
                field=f"rules[{i}]",
                value=rule,
            )
    return rules


def _names(value: object, name: str = "metrics") -> frozenset[str]:
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise InvalidType(f"{name}={value!r} must be a set of names", field=name, value=value)
    return frozenset(value)


def _budgets(value: object) -> tuple[Budget, ...]:
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        raise InvalidType(f"budgets={value!r} must be a sequence", field="budgets", value=value)
    budgets = tuple(value)
    for i, budget in enumerate(budgets):
        if not isinstance(budget, Budget):
            raise InvalidType(
                f"budgets[{i}]={budget!r} must be a Budget", field=f"budgets[{i}]", value=budget
            )
    return budgets


def _groups(value: object) -> Mapping[str, str]:
    if not isinstance(value, Mapping):
        raise InvalidType(f"groups={value!r} must be a mapping", field="groups", value=value)
    for key, mode in value.items():
        if mode not in _MODES:
            raise InvalidRule(
                f"groups[{key!r}]={mode!r} must be 'priority' or 'best'",
                field=f"groups[{key!r}]",
                value=mode,
            )
    return dict(sorted(value.items()))


def _tiers(value: object) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise InvalidType(f"tiers={value!r} must be a sequence of tier names", field="tiers")
    return tuple(value)


def conjuncts(node: Predicate | None) -> tuple[Predicate, ...]:
    """The parts of a condition the trace reports on (the terms of an ``&``)."""
    if node is None:
        return ()
    if isinstance(node, And):
        return tuple(node.terms)
    return (node,)


def _uses_birthday(node: Any) -> bool:
    if node is None:
        return False
    if "birthday" in type(node).__name__.lower():
        return True
    fields = getattr(node, "fields", None)
    return bool(callable(fields) and any(f.name == "birthday" for f in fields()))


def effective_limit(rule: Rule) -> Limit | None:
    """The limit a rule runs with: its own, or once per birthday year for birthday rules.

    >>> from loyaltycore.predicates import Always
    >>> effective_limit(Rule("r", Always(), FixedPoints(5))) is None
    True
    """
    if rule.limit is not None:
        return rule.limit
    if _uses_birthday(rule.when):
        return Limit(times=1, period="birthday_year")
    return None


@attrs.frozen
class RuleSet:
    """An ordered set of rules with the program's zone, tiers and currencies.

    Args:
        rules: the rules; their order is the order of the trace.
        tz: the program's IANA zone (calendar conditions, limit periods).
        tiers: tier names, lowest first (``tier_at_least``, tier multipliers).
        exponent: the currency exponent (minor units per unit = 10**exponent), 0 to 9.
        metrics: the tier metrics an award may be in, besides ``"points"``.
        groups: exclusive groups' modes, ``"priority"`` (default) or ``"best"``.
        budgets: advisory program budgets (:class:`Budget`).

    Raises:
        DuplicateId: two rules share an id.
        InvalidRule: an unknown currency or tier, a group without rules, a
            group mixing base and bonus rules, a budget naming an unknown
            rule; the message names the path (``rules[2].award.currency``).

    >>> from loyaltycore.predicates import Always
    >>> RuleSet([Rule("a", Always(), FixedPoints(1)), Rule("a", Always(), FixedPoints(2))])
    Traceback (most recent call last):
    ...
    loyaltycore.errors.DuplicateId: rules[1].id='a' duplicates rules[0].id
    """

    rules: tuple[Rule, ...] = attrs.field(converter=_rules)
    tz: tzinfo = attrs.field(default=UTC, converter=zone, kw_only=True)
    tiers: tuple[str, ...] = attrs.field(default=(), converter=_tiers, kw_only=True)
    exponent: int = attrs.field(default=2, kw_only=True)
    metrics: frozenset[str] = attrs.field(
        default=frozenset(DEFAULT_METRICS), converter=_names, kw_only=True
    )
    groups: Mapping[str, str] = attrs.field(factory=dict, converter=_groups, kw_only=True)
    budgets: tuple[Budget, ...] = attrs.field(default=(), converter=_budgets, kw_only=True)

    @exponent.validator
    def _check_exponent(self, _: object, value: object) -> None:
        check_int(value, "exponent", minimum=0, maximum=MAX_PLACES)

    def __attrs_post_init__(self) -> None:
        _validate(self)

    @functools.cached_property
    def _compiled(self) -> Compiled:
        return _compile(self)

    def __getstate__(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in attrs.fields(type(self))}

    def __setstate__(self, state: dict[str, Any]) -> None:
        for key, value in state.items():
            object.__setattr__(self, key, value)

    def rule(self, rule_id: str) -> Rule:
        """The rule called ``rule_id``.

        >>> from loyaltycore.predicates import Always
        >>> RuleSet([Rule("a", Always(), FixedPoints(1))]).rule("a").award.points
        1
        """
        for rule in self.rules:
            if rule.id == rule_id:
                return rule
        from loyaltycore.errors import NotFound

        raise NotFound(f"rule={rule_id!r} is not in this rule set", field="rule", value=rule_id)

    def evaluate(
        self,
        event: Event,
        member: Member,
        *,
        as_of: datetime | None = None,
        facts: object = None,
        budgets_used: Mapping[str, int] | None = None,
    ) -> Evaluation:
        """What ``event`` earns for ``member`` (the member as it was before the event).

        Args:
            event: the :class:`~loyaltycore.predicates.Event`.
            member: the :class:`~loyaltycore.predicates.Member`, with the
                tier held before the event and the counters of its limits.
            as_of: the evaluation time (default: the event's ``at``).
            facts: the member's purchase-history facts, for rules that read them.
            budgets_used: points already issued per budget id (read by the
                host from its own counters; see :class:`Budget`).

        Returns:
            An :class:`Evaluation`: redeemable awards, qualifying activity,
            the counter increments to persist and the trace.

        Raises:
            InvalidAmount: an amount, discount, unit price or line discount
                with more decimals than the currency ``exponent``; the
                message names it (``items[1].unit_price=2.505 ...``).

        >>> from datetime import datetime, timezone
        >>> from loyaltycore.predicates import Always, Event, Member
        >>> rs = RuleSet([Rule("signup", Always(), FixedPoints(500))])
        >>> e = Event("s-1", "signup", datetime(2024, 1, 1, tzinfo=timezone.utc))
        >>> rs.evaluate(e, Member("m-1")).points
        500
        """
        if not isinstance(event, Event):
            raise InvalidType(f"event={event!r} must be an Event", field="event", value=event)
        if not isinstance(member, Member):
            raise InvalidType(f"member={member!r} must be a Member", field="member", value=member)
        c = self._compiled
        when = event.at if as_of is None else to_utc(as_of, "as_of")
        make_context = None
        if c.needs_context:

            def make_context() -> Context:
                return Context(
                    event,
                    member,
                    facts,
                    as_of=when,
                    tz=c.tz,
                    tiers=self.tiers,
                    exponent=self.exponent,
                )

        referrer = event.attributes.get("referrer") if event.attributes else None
        return evaluate(
            c,
            event,
            member,
            event.at,
            eligible(event, self.exponent),
            referrer if isinstance(referrer, str) and referrer else None,
            member.counters,
            budgets_used or {},
            make_context,
        )

    def evaluate_batch(
        self,
        events: Mapping[str, npt.ArrayLike] | Sequence[Event],
        members: Mapping[str, npt.ArrayLike] | Sequence[Member],
        *,
        as_of: datetime | None = None,
        budgets_used: Mapping[str, int] | None = None,
        progress: Progress | None = None,
    ) -> BatchEvaluation:
        """Evaluate many events at once; the same answers as :meth:`evaluate` in a loop.

        Events are processed in (member, at, event id) order, carrying each
        member's limit counters (and the budgets) forward, so capped results
        equal sequential scalar evaluation exactly; results come back in input
        order.

        Args:
            events: columns (``event_id``, ``member_id``, ``at`` as int64
                micros UTC, money as int64 minor units, the fields the
                conditions read, optional ``discount``, ``points_paid`` and
                ``items.*`` made by :func:`loyaltycore.predicates.encode`),
                or a sequence of :class:`~loyaltycore.predicates.Event`.
            members: with event columns, member columns (one row per member:
                ``member_id``, member fields, optional ``counters``) or a
                sequence of members; with a sequence of events, the member of
                each event (a parallel sequence; a member's first row is the
                state at the start of the batch).
            as_of: the evaluation time for conditions that read ``as_of``;
                None: each event's own ``at`` (as :meth:`evaluate`).
            budgets_used: points already issued per budget id.
            progress: called as ``(done, total, "rules")`` after each group
                of rules has run over every event (:mod:`loyaltycore.progress`);
                raising from it cancels. With budgets, ``total`` counts the
                most re-runs they can cause, and the last call reports it.

        Returns:
            A :class:`BatchEvaluation`.

        >>> from datetime import datetime, timezone
        >>> from loyaltycore.predicates import Always, Event, Member
        >>> rs = RuleSet([Rule("first", Always(), FixedPoints(100), limit=Limit(times=1))])
        >>> at = datetime(2024, 1, 1, tzinfo=timezone.utc)
        >>> events = [Event(f"o-{i}", "purchase", at, "10") for i in range(3)]
        >>> rs.evaluate_batch(events, [Member("m-1")] * 3).points.tolist()
        [100, 0, 0]
        """
        checked = check_progress(progress)
        c = self._compiled
        inputs, cols = prepare(c, self.tiers, events, members, as_of)
        run = run_with_budgets(c, inputs, budgets_used or {}, checked)
        referrer = cols.get("attributes.referrer")
        return BatchEvaluation._from_run(self, inputs, run, np.asarray(cols["event_id"]), referrer)

    def reverse(
        self,
        evaluation: Evaluation,
        refunded_items: Mapping[str, int] | None = None,
        *,
        refunded_amount: Decimal | str | int | None = None,
        facts: object = None,
    ) -> Reversal:
        """What a refund takes back: awards recomputed on what remains of the basket.

        Args:
            evaluation: the :class:`Evaluation` of the original event.
            refunded_items: units returned per sku; ``None`` (and no
                ``refunded_amount``) refunds the whole event. When nothing
                remains, every award is taken back, fixed bonuses included.
            refunded_amount: for an event without items, the money returned.
            facts: the facts passed to the original evaluation, if any.

        Returns:
            A :class:`Reversal`: clawback per award line (a threshold bonus
            is lost when the basket drops below the threshold) and the
            counter decrements; this drives the ledger's ``reverse``.

        Raises:
            NotFound: a sku the event does not have.
            OverReversal: more units of a sku than were bought, or more
                money than the event's amount.

        >>> from datetime import datetime, timezone
        >>> from loyaltycore.predicates import Always, Event, Item, Member, field
        >>> rs = RuleSet([Rule("base", Always(), PointsPerSpend("1"), base=True),
        ...               Rule("big", field("amount") >= 100, FixedPoints(50))])
        >>> basket = (Item("A", unit_price="80"), Item("B", unit_price="40"))
        >>> at = datetime(2024, 3, 1, tzinfo=timezone.utc)
        >>> done = rs.evaluate(Event("o", "purchase", at, "120", items=basket), Member("m"))
        >>> back = rs.reverse(done, {"B": 1})
        >>> back.points, [(line.rule, line.points) for line in back.clawback]
        (90, [('base', 40), ('big', 50)])
        """
        if not isinstance(evaluation, Evaluation):
            raise InvalidType(
                f"evaluation={evaluation!r} must be an Evaluation",
                field="evaluation",
                value=evaluation,
            )
        event = remaining_event(evaluation.event, refunded_items, refunded_amount, self.exponent)
        if event is None:
            return reversal(evaluation, None)
        return reversal(evaluation, self.evaluate(event, evaluation.member, facts=facts))

    def simulate(
        self,
        log: TransactionLog | Mapping[str, npt.ArrayLike] | Sequence[Event],
        members: Mapping[str, npt.ArrayLike] | Sequence[Member] | None = None,
        *,
        cost_per_point: Decimal | str | int,
        as_of: datetime | None = None,
        progress: Progress | None = None,
    ) -> Simulation:
        """Replay a historical log: points per rule and per member, and what they cost.

        Args:
            log: a :class:`~loyaltycore.transactions.TransactionLog` (each
                non-return row is a purchase of its amount), event columns
                or a sequence of events (as for :meth:`evaluate_batch`).
            members: member columns or members (as for :meth:`evaluate_batch`);
                for a transaction log, None means members with no attributes.
            cost_per_point: what one redeemable point costs the program
                (a Decimal, str or int money amount).
            as_of: the evaluation time for conditions that read ``as_of``;
                None: each event's own ``at``.
            progress: as for :meth:`evaluate_batch`.

        Returns:
            A :class:`Simulation`.

        >>> import numpy as np
        >>> from loyaltycore.predicates import Always, on_weekdays
        >>> from loyaltycore.transactions import TransactionLog
        >>> log = TransactionLog.from_arrays(["a", "a", "b"], np.array(
        ...     ["2024-05-01", "2024-05-02", "2024-05-08"], dtype="datetime64[D]"),
        ...     ["10", "20", "30"], tz="UTC")
        >>> rs = RuleSet([Rule("base", Always(), PointsPerSpend("1"), base=True),
        ...               Rule("double-wed", on_weekdays("WE"), Multiplier("2"))])
        >>> sim = rs.simulate(log, cost_per_point="0.01")
        >>> sim.by_rule, sim.cost
        ({'base': 60, 'double-wed': 40}, Decimal('1.00'))
        """
        cpp = to_decimal(cost_per_point, "cost_per_point")
        events, members = _log_inputs(log, members)
        batch = self.evaluate_batch(events, members, as_of=as_of, progress=progress)
        by_rule = {
            rid: total
            for rid, total in batch.by_rule().items()
            if self.rule(rid).award.currency == POINTS
        }
        return Simulation(
            len(batch.points), sum(by_rule.values()), by_rule, batch.by_member(), cpp
        )

    def to_data(self) -> dict[str, object]:
        """The rule set as a versioned plain-data document (JSON-safe).

        >>> from loyaltycore.predicates import field
        >>> rs = RuleSet([Rule("app", field("channel") == "app", FixedPoints(10))])
        >>> RuleSet.from_data(rs.to_data()) == rs
        True
        """
        return serialize.to_data(self)

    @classmethod
    def from_data(cls, data: object) -> RuleSet:
        """Load a rule set from :meth:`to_data`; one error lists every bad path.

        Raises:
            InvalidData: unknown keys or fields, a negative rate, an unknown
                currency, duplicate ids ..., each with its path.

        >>> RuleSet.from_data({"schema": "rules.RuleSet", "version": 1, "data": {
        ...     "rules": [{"id": "r", "when": None, "award": {"type": "fixed_points",
        ...     "points": -5}}]}})
        Traceback (most recent call last):
        ...
        loyaltycore.errors.InvalidData: invalid rules.RuleSet:
          points=-5 must not be negative @ $.data.rules[0].award
        """
        return serialize.from_data(data, cls)


def _compile(rs: RuleSet) -> Compiled:
    return Compiled(
        rs.rules,
        tz=rs.tz,
        exponent=rs.exponent,
        group_modes=rs.groups,
        budgets=rs.budgets,
        limits=[effective_limit(r) for r in rs.rules],
        conditions=[conjuncts(r.when) for r in rs.rules],
        tiers=rs.tiers,
    )


def _validate(rs: RuleSet) -> None:
    seen: dict[str, int] = {}
    kinds: dict[str, set[bool]] = {}
    for i, rule in enumerate(rs.rules):
        if rule.id in seen:
            raise DuplicateId(
                f"rules[{i}].id={rule.id!r} duplicates rules[{seen[rule.id]}].id",
                field=f"rules[{i}].id",
                value=rule.id,
            )
        seen[rule.id] = i
        currency = rule.award.currency
        if currency != POINTS and currency not in rs.metrics:
            raise InvalidRule(
                f"rules[{i}].award.currency={currency!r} is not 'points' or a tier metric"
                f" ({', '.join(sorted(rs.metrics))})",
                field=f"rules[{i}].award.currency",
                value=currency,
            )
        if isinstance(rule.award, TierMultiplier) and rs.tiers:
            for tier in rule.award.factors:
                if tier not in rs.tiers:
                    raise InvalidRule(
                        f"rules[{i}].award.factors names tier {tier!r},"
                        f" not one of {list(rs.tiers)}",
                        field=f"rules[{i}].award.factors",
                        value=tier,
                    )
        if rule.group is not None:
            kinds.setdefault(rule.group, set()).add(rule.base)
            if len(kinds[rule.group]) > 1:
                raise InvalidRule(
                    f"rules[{i}].group={rule.group!r} mixes base and bonus rules",
                    field=f"rules[{i}].group",
                    value=rule.group,
                )
    for name in rs.groups:
        if name not in kinds:
            raise InvalidRule(
                f"groups[{name!r}] has no rules", field=f"groups[{name!r}]", value=name
            )
    for b, budget in enumerate(rs.budgets):
        for rid in sorted(budget.rules):
            if rid not in seen:
                raise InvalidRule(
                    f"budgets[{b}].rules names unknown rule {rid!r}",
                    field=f"budgets[{b}].rules",
                    value=rid,
                )


def _frozen(values: npt.ArrayLike) -> npt.NDArray[Any]:
    return freeze(np.asarray(values))


def _owned(values: npt.ArrayLike) -> npt.NDArray[Any]:
    """Make an array the engine built read-only, without copying it."""
    array = np.asarray(values)
    array.flags.writeable = False
    return array


@attrs.frozen(eq=False)
class BatchEvaluation(Frames):
    """What a batch of events earns, column by column, in input order.

    Attributes:
        rule_ids: the rule ids, in rule-set order.
        event_id: the event ids.
        member_id: each event's member id.
        eligible: eligible spend per event (int64 minor units).
        points: redeemable points per event for the event's member.
        codes: the trace: an int8 array (rules x events) of :class:`Outcome` codes.
        exponent: the currency exponent of ``eligible``.

    As a frame: one row per event with ``event_id``, ``member_id``,
    ``eligible`` (money), ``points``, and for each rule ``award:<rule id>``
    (its amount, in its currency) and ``outcome:<rule id>`` (the
    :class:`Outcome` name, lower case).

    >>> from datetime import datetime, timezone
    >>> from loyaltycore.predicates import Always, Event, Member
    >>> rs = RuleSet([Rule("base", Always(), PointsPerSpend("2"), base=True)])
    >>> at = datetime(2024, 1, 1, tzinfo=timezone.utc)
    >>> batch = rs.evaluate_batch([Event("o", "purchase", at, "12.50")], [Member("m")])
    >>> batch.points.tolist(), batch.by_rule()
    ([25], {'base': 25})
    """

    rule_ids: tuple[str, ...]
    event_id: npt.NDArray[Any] = attrs.field(converter=_frozen)
    member_id: npt.NDArray[Any] = attrs.field(converter=_owned)
    eligible: npt.NDArray[np.int64] = attrs.field(converter=_owned)
    points: npt.NDArray[np.int64] = attrs.field(converter=_owned)
    codes: npt.NDArray[np.int8] = attrs.field(converter=_owned)
    _rows: tuple[npt.NDArray[np.int64], ...] = attrs.field(repr=False)
    _amounts: tuple[npt.NDArray[np.int64], ...] = attrs.field(repr=False)
    _currency: tuple[str, ...] = attrs.field(repr=False)
    _recipient: tuple[npt.NDArray[Any], ...] = attrs.field(repr=False)
    _increments: tuple[tuple[npt.NDArray[Any], ...] | None, ...] = attrs.field(repr=False)
    _periods: tuple[str | None, ...] = attrs.field(repr=False)
    exponent: int = attrs.field(default=2, kw_only=True)

    @classmethod
    def _from_run(
        cls, rs: RuleSet, x: Inputs, run: Run, event_id: Any, referrer: Any
    ) -> BatchEvaluation:
        c = rs._compiled
        member_id = x.member_ids[x.member] if x.n else np.zeros(0, dtype=object)
        points = np.zeros(x.n, dtype=np.int64)
        recipients = []
        for i, rule in enumerate(c.rules):
            rows = run.rows[i]
            if rule.award.recipient == "member":
                recipients.append(member_id[rows])
                if rule.award.currency == POINTS:
                    points[rows] += run.amounts[i]
            else:
                recipients.append(np.asarray(referrer, dtype=object)[rows])
        return cls(
            c.ids,
            event_id,
            member_id,
            x.eligible,
            points,
            run.codes,
            tuple(_owned(r) for r in run.rows),
            tuple(_owned(a) for a in run.amounts),
            tuple(r.award.currency for r in c.rules),
            tuple(recipients),
            tuple(None if inc is None else (x.member_ids[inc[0]], *inc[1:]) for inc in run.inc),
            tuple(None if lim is None else lim.period for lim in c.limits),
            exponent=rs.exponent,
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, BatchEvaluation):
            return NotImplemented
        return (
            self.rule_ids == other.rule_ids
            and all(
                np.array_equal(getattr(self, k), getattr(other, k))
                for k in ("event_id", "member_id", "eligible", "points", "codes")
            )
            and all(np.array_equal(self.amounts(r), other.amounts(r)) for r in self.rule_ids)
        )

    __hash__ = None  # type: ignore[assignment]

    def _columns_for_frames(self) -> tuple[Col, ...]:
        cols = [
            Col("event_id", "id", self.event_id),
            Col("member_id", "id", self.member_id),
            Col("eligible", "money", self.eligible, exponent=self.exponent),
            Col("points", "int", self.points),
        ]
        outcomes = [outcome.name.lower() for outcome in Outcome]
        for rid in self.rule_ids:
            cols.append(Col(f"award:{rid}", "int", self.amounts(rid)))
            cols.append(Col(f"outcome:{rid}", "category", self.outcome(rid), labels=outcomes))
        return tuple(cols)

    def _index(self, rule_id: str) -> int:
        try:
            return self.rule_ids.index(rule_id)
        except ValueError:
            from loyaltycore.errors import NotFound

            raise NotFound(f"rule={rule_id!r} is not in this rule set", field="rule") from None

    def amounts(self, rule_id: str) -> npt.NDArray[np.int64]:
        """What ``rule_id`` awarded on each event (0 where it did not fire).

        >>> from datetime import datetime, timezone
        >>> from loyaltycore.predicates import Always, Event, Member
        >>> rs = RuleSet([Rule("a", Always(), FixedPoints(7))])
        >>> at = datetime(2024, 1, 1, tzinfo=timezone.utc)
        >>> rs.evaluate_batch([Event("o", "signup", at)], [Member("m")]).amounts("a").tolist()
        [7]
        """
        i = self._index(rule_id)
        out = np.zeros(self.points.size, dtype=np.int64)
        out[self._rows[i]] = self._amounts[i]
        return out

    def outcome(self, rule_id: str) -> npt.NDArray[np.int8]:
        """The :class:`Outcome` code of ``rule_id`` on each event.

        >>> from datetime import datetime, timezone
        >>> from loyaltycore.predicates import Event, Member, field
        >>> rs = RuleSet([Rule("app", field("channel") == "app", FixedPoints(7))])
        >>> at = datetime(2024, 1, 1, tzinfo=timezone.utc)
        >>> batch = rs.evaluate_batch([Event("o", "signup", at)], [Member("m")])
        >>> Outcome(int(batch.outcome("app")[0])).name
        'CONDITION'
        """
        result: npt.NDArray[np.int8] = self.codes[self._index(rule_id)]
        return result

    def by_rule(self) -> dict[str, int]:
        """Total amount per rule id (in each rule's own currency).

        >>> from datetime import datetime, timezone
        >>> from loyaltycore.predicates import Always, Event, Member
        >>> rs = RuleSet([Rule("a", Always(), FixedPoints(7))])
        >>> at = datetime(2024, 1, 1, tzinfo=timezone.utc)
        >>> rs.evaluate_batch([Event("o", "signup", at)] * 1, [Member("m")]).by_rule()
        {'a': 7}
        """
        return {rid: int(a.sum()) for rid, a in zip(self.rule_ids, self._amounts, strict=True)}

    def by_member(self, currency: str = POINTS) -> dict[Hashable, int]:
        """Amount of ``currency`` per recipient (referrers included), sorted by id.

        >>> from datetime import datetime, timezone
        >>> from loyaltycore.predicates import Always, Event, Member
        >>> rs = RuleSet([Rule("a", Always(), FixedPoints(7))])
        >>> at = datetime(2024, 1, 1, tzinfo=timezone.utc)
        >>> rs.evaluate_batch([Event("o", "signup", at)], [Member("m")]).by_member()
        {'m': 7}
        """
        out: dict[Hashable, int] = {}
        for i, who in enumerate(self._recipient):
            if self._currency[i] != currency:
                continue
            for member, amount in zip(who.tolist(), self._amounts[i].tolist(), strict=True):
                out[member] = out.get(member, 0) + amount
        return dict(sorted(out.items(), key=lambda kv: str(kv[0])))

    def increments(self) -> dict[Hashable, dict[str, int]]:
        """Counter increments to persist, per member id (same keys as the scalar engine).

        >>> from datetime import datetime, timezone
        >>> from loyaltycore.predicates import Always, Event, Member
        >>> yearly = Limit(times=2, period="year")
        >>> rs = RuleSet([Rule("a", Always(), FixedPoints(7), limit=yearly)])
        >>> at = datetime(2024, 1, 1, tzinfo=timezone.utc)
        >>> rs.evaluate_batch([Event("o", "signup", at)], [Member("m")]).increments()
        {'m': {'a/2024/times': 1, 'a/2024/points': 7}}
        """
        out: dict[Hashable, dict[str, int]] = {}
        for rid, inc, period in zip(self.rule_ids, self._increments, self._periods, strict=True):
            if inc is None or period is None:
                continue
            members, keys, times, points = inc
            for m, k, t, p in zip(
                members.tolist(), keys.tolist(), times.tolist(), points.tolist(), strict=True
            ):
                k_t, k_p = counter_keys(rid, key_label(period, k))
                slot = out.setdefault(m, {})
                slot[k_t] = slot.get(k_t, 0) + t
                slot[k_p] = slot.get(k_p, 0) + p
        return out


@attrs.frozen
class Simulation:
    """What a rule set would have issued over a historical log, and its cost.

    >>> sim = Simulation(2, 300, {"base": 300}, {"m": 300}, Decimal("0.01"))
    >>> sim.cost, sim.cost_by_rule()
    (Decimal('3.00'), {'base': Decimal('3.00')})
    """

    events: int
    points: int
    by_rule: Mapping[str, int]
    by_member: Mapping[Hashable, int]
    cost_per_point: Decimal

    @property
    def cost(self) -> Decimal:
        """Redeemable points issued times the cost per point."""
        return DECIMAL_CONTEXT.multiply(Decimal(self.points), self.cost_per_point)

    def cost_by_rule(self) -> dict[str, Decimal]:
        """The cost of each rule's points.

        >>> Simulation(1, 5, {"a": 5}, {}, Decimal("0.5")).cost_by_rule()
        {'a': Decimal('2.5')}
        """
        return {
            rid: DECIMAL_CONTEXT.multiply(Decimal(points), self.cost_per_point)
            for rid, points in self.by_rule.items()
        }


def _log_inputs(log: Any, members: Any) -> tuple[Any, Any]:
    from loyaltycore.transactions import TransactionLog

    if not isinstance(log, TransactionLog):
        return log, members
    keep = np.ones(len(log), dtype=np.bool_) if log.is_return is None else ~log.is_return
    rows = np.flatnonzero(keep)
    kind = np.empty(rows.size, dtype=object)
    kind[:] = "purchase"
    columns: dict[str, Any] = {
        "event_id": rows.astype(np.int64),
        "member_id": log.customer[rows],
        "at": log.at[rows],
        "amount": log.amount[rows],
        "kind": kind,
    }
    if log.channel is not None and log.channel_labels is not None:
        columns["channel"] = np.asarray(log.channel_labels, dtype=object)[log.channel[rows]]
    if members is None:
        members = {"member_id": log.customer_ids}
    return columns, members


def _tag(cls: type[Any]) -> str:
    return {
        PointsPerSpend: "points_per_spend",
        FixedPoints: "fixed_points",
        Multiplier: "multiplier",
        TierMultiplier: "tier_multiplier",
    }[cls]


@attrs.frozen
class _TraceData:
    """The plain form of a :class:`Trace`: conditions kept as their text."""

    rule_ids: tuple[str, ...]
    codes: tuple[int, ...]
    details: tuple[int, ...]
    conditions: tuple[tuple[str, ...], ...]


@attrs.frozen
class _EvaluationData:
    """The plain form of an :class:`Evaluation` (what a refund needs, and the trace)."""

    event: Event
    member: Member
    eligible: int
    points: int
    raw: tuple[tuple[str, int, str, str, int, int | None], ...]
    increments: dict[str, int]
    budget_increments: dict[str, int]
    trace: _TraceData


def _at(value: datetime) -> str:
    return value.astimezone(UTC).isoformat()


def _plain_map(value: Mapping[str, Any]) -> Any:
    return {} if not value else serialize.converter.unstructure(value)


def _event_data(event: Event) -> dict[str, Any]:
    return {
        "id": event.id,
        "kind": event.kind,
        "at": _at(event.at),
        "amount": None if event.amount is None else str(event.amount),
        "items": [
            {
                "sku": item.sku,
                "category": item.category,
                "quantity": item.quantity,
                "unit_price": str(item.unit_price),
                "discount": str(item.discount),
                "kind": item.kind,
                "earning": item.earning,
            }
            for item in event.items
        ],
        "channel": event.channel,
        "store": event.store,
        "attributes": _plain_map(event.attributes),
        "discount": str(event.discount),
        "points_paid": str(event.points_paid),
    }


def _member_data(member: Member) -> dict[str, Any]:
    return {
        "id": member.id,
        "joined_at": None if member.joined_at is None else _at(member.joined_at),
        "birthday": None if member.birthday is None else member.birthday.isoformat(),
        "tier": member.tier,
        "segments": sorted(member.segments, key=json.dumps) if member.segments else [],
        "attributes": _plain_map(member.attributes),
        "counters": _plain_map(member.counters),
    }


def _unstructure_evaluation(value: Evaluation) -> Any:
    """An evaluation's plain data, written field by field (the form of ``_EvaluationData``)."""
    trace = value.trace
    return {
        "event": _event_data(value.event),
        "member": _member_data(value.member),
        "eligible": value.eligible,
        "points": value.points,
        "raw": [tuple(line) for line in value.raw],
        "increments": dict(value.increments),
        "budget_increments": dict(value.budget_increments),
        "trace": {
            "rule_ids": list(trace.rule_ids),
            "codes": list(trace.codes),
            "details": list(trace.details),
            "conditions": [[describe(node) for node in parts] for parts in trace.conditions],
        },
    }


def _structure_evaluation(data: Any, _: Any) -> Evaluation:
    plain = serialize.converter.structure(data, _EvaluationData)
    trace = plain.trace
    n = len(trace.rule_ids)
    if not len(trace.codes) == len(trace.details) == len(trace.conditions) == n:
        raise InvalidType(
            f"trace has {n} rule ids but {len(trace.codes)} codes, {len(trace.details)} "
            f"details and {len(trace.conditions)} conditions",
            field="trace",
        )
    return Evaluation(
        plain.event,
        plain.member,
        plain.eligible,
        plain.points,
        plain.raw,
        plain.increments,
        plain.budget_increments,
        Trace(trace.rule_ids, trace.codes, trace.details, trace.conditions),
    )


def _register() -> None:
    configure_tagged_union(
        PointsPerSpend | FixedPoints | Multiplier | TierMultiplier,
        serialize.converter,
        tag_generator=_tag,
        tag_name="type",
    )
    for cls in (RuleSet, BatchEvaluation, Simulation):
        attrs.resolve_types(cls)
    serialize.register_document(RuleSet, "rules.RuleSet", 1)
    attrs.resolve_types(_TraceData)
    attrs.resolve_types(_EvaluationData)
    serialize.converter.register_unstructure_hook(Evaluation, _unstructure_evaluation)
    serialize.converter.register_structure_hook(Evaluation, _structure_evaluation)
    serialize.register_document(Evaluation, "rules.Evaluation", 1)


_register()

publish(__name__, __all__, globals())

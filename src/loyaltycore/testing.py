"""Hypothesis strategies and a property check for a host's own rule set.

Needs the ``testing`` extra (``pip install 'loyaltycore[testing]'``);
importing this module without hypothesis raises
:class:`~loyaltycore.errors.MissingDependency`.

The strategies draw from small pools on purpose, so generated cases hit the
edges that break loyalty code: amounts equal to thresholds (and a cent
either side), half-cent amounts, missing amounts, channels and birthdays,
empty baskets, instants in DST folds and gaps, Feb 29 birthdays and dates.

* :func:`events`, :func:`members`, :func:`predicates`, :func:`rule_sets`;
* :func:`transaction_logs` (a :class:`~loyaltycore.transactions.TransactionLog`);
* :func:`ledger_commands` (sequences of points-ledger commands, applied with
  :func:`apply_commands`);
* :func:`check_rule_set` — property-tests a rule set: every award is a
  positive int, limits hold, evaluation is deterministic, the scalar and
  batch engines agree, and plain data round-trips. A failure raises
  ``AssertionError`` naming the property, with hypothesis' minimal
  counterexample.

>>> from hypothesis import given, settings
>>> @settings(max_examples=5, database=None)
... @given(events())
... def test_amounts_are_never_negative(event):
...     assert event.amount is None or event.amount >= 0
>>> test_amounts_are_never_negative()
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, Final

from loyaltycore._validate import require

require("hypothesis", "loyaltycore.testing")

import attrs  # noqa: E402
from hypothesis import HealthCheck, Phase, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from loyaltycore.predicates import (  # noqa: E402
    Always,
    And,
    BirthdayMonth,
    BirthdayWindow,
    Contains,
    Event,
    FirstPurchase,
    InSegment,
    Item,
    Member,
    Not,
    Or,
    Predicate,
    Recurs,
    Spend,
    TierAtLeast,
    field,
    on_weekdays,
)
from loyaltycore.rules import (  # noqa: E402
    Budget,
    Evaluation,
    FixedPoints,
    Limit,
    Multiplier,
    PointsPerSpend,
    Rule,
    RuleSet,
    TierMultiplier,
    Window,
)

__all__ = [
    "apply_commands",
    "check_rule_set",
    "events",
    "ledger_commands",
    "members",
    "predicates",
    "rule_sets",
    "transaction_logs",
]

TIERS: Final = ("silver", "gold", "platinum")
ZONES: Final = ("UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe")
KINDS: Final = ("purchase", "purchase", "signup", "referral", "review")
CHANNELS: Final = ("app", "web", "store")
SKUS: Final = ("A1", "A2", "B1", "T0")
CATEGORIES: Final = ("coffee", "tea", "cake")
SEGMENTS: Final = ("vip", "new")
#: Amounts at and around the thresholds :func:`predicates` uses.
AMOUNTS: Final = ("0", "0.01", "9.99", "10", "10.01", "49.99", "50", "99.99", "100", "100.01")
THRESHOLDS: Final = ("10", "50", "100")
#: Instants in DST folds and gaps, at local midnights and around Feb 29.
ANCHORS: Final = (
    datetime(2024, 11, 3, 5, 30, tzinfo=UTC),  # 01:30 EDT, New York, first pass of the fold
    datetime(2024, 11, 3, 6, 30, tzinfo=UTC),  # 01:30 EST, second pass
    datetime(2024, 3, 10, 7, 0, tzinfo=UTC),  # New York spring-forward gap
    datetime(2024, 10, 27, 0, 30, tzinfo=UTC),  # Berlin fall-back fold
    datetime(2024, 10, 27, 1, 30, tzinfo=UTC),
    datetime(2024, 2, 28, 23, 0, tzinfo=UTC),  # Feb 29 begins in Berlin
    datetime(2024, 2, 29, 12, 0, tzinfo=UTC),
    datetime(2025, 2, 28, 23, 30, tzinfo=UTC),
    datetime(2024, 12, 31, 23, 0, tzinfo=UTC),  # New Year in Berlin
    datetime(2024, 4, 6, 14, 45, tzinfo=UTC),  # Lord Howe half-hour fall back
)
RECURRENCES: Final = (
    "FREQ=WEEKLY;BYDAY=WE",
    "FREQ=MONTHLY;BYMONTHDAY=8",
    "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29",
)


# -- the vocabulary ---------------------------------------------------------------


def instants() -> st.SearchStrategy[datetime]:
    """Aware UTC datetimes near DST changes, local midnights and Feb 29.

    >>> from hypothesis import find
    >>> find(instants(), lambda t: t.year == 2024 and t.month == 2 and t.day == 29).day
    29
    """
    near = st.builds(
        lambda anchor, minutes: anchor + timedelta(minutes=minutes),
        st.sampled_from(ANCHORS),
        st.integers(-36 * 60, 36 * 60),
    )
    spread = st.datetimes(
        min_value=datetime(2023, 1, 1), max_value=datetime(2026, 12, 31), timezones=st.just(UTC)
    )
    return st.one_of(near, spread)


def amounts(*, half_cents: bool = True) -> st.SearchStrategy[Decimal]:
    """Money amounts: at thresholds, a cent either side, and half cents.

    >>> from hypothesis import find
    >>> find(amounts(), lambda a: a % Decimal("0.01") != 0)
    Decimal('0.001')
    """
    pooled = st.sampled_from(AMOUNTS).map(Decimal)
    cents = st.integers(0, 30_000).map(lambda c: Decimal(c).scaleb(-2))
    if not half_cents:
        return st.one_of(pooled, cents)
    halves = st.integers(0, 20_000).map(lambda c: Decimal(2 * c + 1).scaleb(-3))
    return st.one_of(pooled, cents, halves)


def _item(half_cents: bool) -> st.SearchStrategy[Item]:
    def build(sku: str, category: str | None, quantity: int, price: Decimal, **kw: Any) -> Item:
        discount = min(kw.pop("discount"), price * quantity)
        return Item(sku, category, quantity, price, discount, **kw)

    return st.builds(
        build,
        st.sampled_from(SKUS),
        st.one_of(st.none(), st.sampled_from(CATEGORIES)),
        st.integers(1, 3),
        amounts(half_cents=half_cents),
        discount=st.sampled_from([Decimal(0), Decimal("0.50"), Decimal(1)]),
        kind=st.sampled_from(["product", "product", "product", "tax", "shipping", "gift_card"]),
        earning=st.sampled_from([True, True, False]),
    )


@st.composite
def events(
    draw: st.DrawFn,
    *,
    ids: st.SearchStrategy[str] | None = None,
    half_cents: bool = False,
    referrers: Sequence[str] = ("r1",),
) -> Event:
    """Events: purchases (with or without a basket), signups, referrals, reviews.

    Args:
        ids: the event ids (default: a few short ids).
        half_cents: also draw amounts finer than a cent, which a rule set
            with the default currency exponent 2 refuses (``InvalidAmount``
            from the scalar engine, ``InvalidColumn`` from the columnar
            encoding): draw them to test that refusal.
        referrers: referrer ids put in ``attributes["referrer"]`` of some events.

    >>> from hypothesis import find
    >>> find(events(), lambda e: e.kind == "purchase" and not e.items).items
    ()
    """
    kind = draw(st.sampled_from(KINDS))
    basket = draw(st.lists(_item(half_cents), max_size=3).map(tuple)) if kind == "purchase" else ()
    attributes: dict[str, Any] = {}
    pool: tuple[str, ...] = tuple(referrers)
    if pool:
        refer: bool = draw(st.booleans())
        if refer:
            attributes["referrer"] = draw(st.sampled_from(pool))
    return Event(
        draw(ids if ids is not None else st.sampled_from(["e1", "e2", "e3", "e4"])),
        kind,
        draw(instants()),
        draw(st.one_of(st.none(), amounts(half_cents=half_cents))),
        basket,
        draw(st.one_of(st.none(), st.sampled_from(CHANNELS))),
        attributes=attributes,
        discount=draw(st.sampled_from([Decimal(0), Decimal(0), Decimal(5)])),
        points_paid=draw(st.sampled_from([Decimal(0), Decimal(0), Decimal(2)])),
    )


def birthdays() -> st.SearchStrategy[date | None]:
    """Birthdays, often Feb 29 or at a year end, sometimes missing.

    >>> from hypothesis import find
    >>> find(birthdays(), lambda d: d is not None and d.month == 2 and d.day == 29)
    datetime.date(2000, 2, 29)
    """
    special = st.sampled_from([date(2000, 2, 29), date(1990, 12, 31), date(1985, 1, 1)])
    return st.one_of(st.none(), special, st.dates(date(1950, 1, 1), date(2008, 12, 31)))


def members(
    ids: st.SearchStrategy[str] | None = None, *, tiers: Sequence[str] = TIERS
) -> st.SearchStrategy[Member]:
    """Members with optional join time, birthday and tier, segments and counters.

    >>> from hypothesis import find
    >>> find(members(), lambda m: m.birthday is None).birthday is None
    True
    """
    return st.builds(
        Member,
        ids if ids is not None else st.sampled_from(["m1", "m2"]),
        st.one_of(st.none(), instants()),
        birthdays(),
        st.one_of(st.none(), st.sampled_from(tuple(tiers))) if tiers else st.none(),
        st.frozensets(st.sampled_from(SEGMENTS)),
        counters=st.fixed_dictionaries({}, optional={"purchases": st.integers(0, 2)}),
    )


def _leaves(tiers: Sequence[str]) -> st.SearchStrategy[Predicate]:
    threshold = st.sampled_from(THRESHOLDS)
    options = [
        st.just(Always()),
        st.builds(
            lambda t, op: field("amount").__getattribute__(op)(t),
            threshold,
            st.sampled_from(["__ge__", "__gt__", "__lt__"]),
        ),
        st.sampled_from(CHANNELS).map(lambda c: field("channel") == c),
        st.sampled_from(KINDS).map(lambda k: field("kind") == k),
        st.sampled_from([("WE",), ("SA", "SU")]).map(lambda d: on_weekdays(*d)),
        st.sampled_from(RECURRENCES).map(Recurs),
        st.just(BirthdayMonth()),
        st.builds(BirthdayWindow, st.integers(0, 3), st.integers(0, 3)),
        st.just(FirstPurchase()),
        st.sampled_from(SEGMENTS).map(InSegment),
        st.sampled_from(CATEGORIES).map(lambda c: Contains(categories={c})),
        threshold.map(lambda t: Spend(Decimal(t))),
        st.integers(0, 23).map(lambda h: field("hour") >= h),
    ]
    if tiers:
        options.append(st.sampled_from(tuple(tiers)).map(TierAtLeast))
    return st.one_of(*options)


def predicates(
    *, tiers: Sequence[str] = TIERS, max_leaves: int = 4
) -> st.SearchStrategy[Predicate]:
    """Random conditions: ``&``, ``|``, ``~`` over amount thresholds, calendar,
    basket and member conditions.

    >>> from hypothesis import find
    >>> isinstance(find(predicates(), lambda p: isinstance(p, Not)), Not)
    True
    """
    return st.recursive(
        _leaves(tiers),
        lambda children: st.one_of(
            st.lists(children, min_size=2, max_size=3).map(And),
            st.lists(children, min_size=2, max_size=3).map(Or),
            children.map(Not),
        ),
        max_leaves=max_leaves,
    )


def _awards(tiers: Sequence[str]) -> st.SearchStrategy[Any]:
    rounding = st.sampled_from(["ROUND_DOWN", "ROUND_HALF_UP", "ROUND_HALF_EVEN", "ROUND_UP"])
    currency = st.sampled_from(["points", "points", "points", "status_points"])
    options = [
        st.builds(
            PointsPerSpend,
            st.sampled_from(["0.5", "1", "1.25", "2", "0"]),
            rounding,
            currency=currency,
        ),
        st.builds(
            FixedPoints,
            st.sampled_from([0, 1, 10, 50, 500]),
            currency=currency,
            recipient=st.sampled_from(["member", "member", "referrer"]),
            pending_days=st.sampled_from([0, 30]),
            expires_after_days=st.sampled_from([None, 90]),
        ),
        st.builds(
            Multiplier, st.sampled_from(["1", "1.5", "2", "3"]), rounding, currency=currency
        ),
    ]
    if tiers:
        options.append(
            st.builds(
                TierMultiplier,
                st.dictionaries(
                    st.sampled_from(tuple(tiers)),
                    st.sampled_from(["1.25", "1.5", "2"]),
                    min_size=1,
                ),
                rounding,
            )
        )
    return st.one_of(*options)


def _limits() -> st.SearchStrategy[Limit | None]:
    period = st.sampled_from(["day", "month", "quarter", "year", "lifetime", "birthday_year"])
    return st.one_of(
        st.none(),
        st.builds(Limit, st.integers(1, 3), st.none(), period),
        st.builds(Limit, st.none(), st.sampled_from([10, 100, 250]), period),
        st.builds(Limit, st.integers(1, 3), st.sampled_from([10, 100]), period),
    )


@st.composite
def rule_sets(draw: st.DrawFn, *, tiers: Sequence[str] = TIERS, max_rules: int = 6) -> RuleSet:
    """Random rule sets: base and bonus rules, groups with ties, limits, windows, budgets.

    >>> from hypothesis import find
    >>> len(find(rule_sets(), lambda rs: len(rs.rules) >= 2).rules)
    2
    """
    n = draw(st.integers(1, max_rules))
    rules = []
    groups = ["g1", "g2"]
    for i in range(n):
        base = i == 0 or draw(st.integers(0, 4)) == 0
        award = draw(_awards(tiers))
        if base and not isinstance(award, PointsPerSpend | FixedPoints):
            award = PointsPerSpend(Decimal(1), currency=award.currency)
        group = draw(st.sampled_from([None, None, *groups]))
        if group is not None and base:
            group = f"{group}-base"
        valid = None
        if draw(st.integers(0, 5)) == 0:
            start = draw(instants())
            valid = Window(start, start + timedelta(days=draw(st.integers(1, 400))))
        rules.append(
            Rule(
                f"r{i}",
                draw(st.one_of(st.none(), predicates(tiers=tiers))),
                award,
                priority=draw(st.sampled_from([1, 2, 100])),
                group=group,
                limit=draw(_limits()),
                valid=valid,
                base=base,
            )
        )
    used = sorted({r.group for r in rules if r.group is not None})
    modes = {g: draw(st.sampled_from(["priority", "best"])) for g in used if draw(st.booleans())}
    budgets = []
    if draw(st.integers(0, 3)) == 0:
        budgets.append(Budget("b1", draw(st.sampled_from([50, 500])), {rules[-1].id}))
    return RuleSet(
        rules, tz=draw(st.sampled_from(ZONES)), tiers=tiers, groups=modes, budgets=budgets
    )


# -- logs and ledgers ---------------------------------------------------------------


@st.composite
def transaction_logs(draw: st.DrawFn, *, max_rows: int = 30) -> Any:
    """Transaction logs: a few customers, purchases at DST folds, half cents, returns.

    >>> from hypothesis import find
    >>> find(transaction_logs(), lambda log: len(log) >= 3).exponent
    2
    """
    import numpy as np

    from loyaltycore.calendar import to_micros
    from loyaltycore.transactions import TransactionLog

    n = draw(st.integers(1, max_rows))
    customers = draw(st.lists(st.sampled_from(["a", "b", "c"]), min_size=n, max_size=n))
    at = [to_micros(t) for t in draw(st.lists(instants(), min_size=n, max_size=n))]
    cents = draw(st.lists(st.integers(1, 30_000), min_size=n, max_size=n))
    returns = draw(st.lists(st.integers(0, 9).map(lambda k: k == 0), min_size=n, max_size=n))
    amount = [-c if r else c for c, r in zip(cents, returns, strict=True)]
    return TransactionLog.from_arrays(
        customers,
        np.array(at, dtype=np.int64),
        np.array(amount, dtype=np.int64),
        minor_units=True,
        is_return=np.array(returns),
        tz=draw(st.sampled_from(ZONES)),
    )


@attrs.frozen
class Command:
    """One points-ledger command: the method name and its keyword arguments."""

    name: str
    kwargs: dict[str, Any] = attrs.field(hash=False)


@st.composite
def ledger_commands(draw: st.DrawFn, *, max_size: int = 12) -> list[Command]:
    """Sequences of ledger commands with increasing posting times.

    Commands refer to earlier ones (a redemption of what was earned, a reverse
    of an earn, a capture of a hold), so most apply; some are invalid on
    purpose (redeeming more than the balance) and must raise a
    :class:`~loyaltycore.errors.LoyaltyError` without changing the ledger.

    >>> from hypothesis import find
    >>> [c.name for c in find(ledger_commands(), lambda cs: len(cs) >= 2)]
    ['earn', 'earn']
    """
    n = draw(st.integers(1, max_size))
    at = draw(instants())
    earned: list[str] = []
    holds: list[str] = []
    out: list[Command] = []
    for k in range(n):
        at = at + timedelta(hours=draw(st.integers(0, 24 * 40)))
        name = draw(
            st.sampled_from(
                [
                    "earn",
                    "earn",
                    "redeem",
                    "hold",
                    "capture",
                    "release",
                    "reverse",
                    "adjust",
                    "expire",
                ]
            )
        )
        points = draw(st.sampled_from([1, 50, 100, 250]))
        if (
            name == "earn"
            or (name in ("reverse",) and not earned)
            or (name in ("capture", "release") and not holds)
        ):
            name = "earn"
            out.append(Command("earn", {"id": f"c{k}", "at": at, "points": points}))
            earned.append(f"c{k}")
        elif name == "redeem":
            out.append(Command("redeem", {"id": f"c{k}", "at": at, "points": points}))
        elif name == "hold":
            deadline = at + timedelta(days=draw(st.integers(1, 10)))
            out.append(
                Command("hold", {"id": f"c{k}", "at": at, "points": points, "deadline": deadline})
            )
            holds.append(f"c{k}")
        elif name in ("capture", "release"):
            out.append(
                Command(name, {"id": f"c{k}", "at": at, "hold": draw(st.sampled_from(holds))})
            )
        elif name == "reverse":
            out.append(
                Command("reverse", {"id": f"c{k}", "at": at, "of": draw(st.sampled_from(earned))})
            )
        elif name == "adjust":
            out.append(
                Command(
                    "adjust",
                    {
                        "id": f"c{k}",
                        "at": at,
                        "points": draw(st.sampled_from([-20, 20])),
                        "reason": "goodwill",
                    },
                )
            )
        else:
            out.append(Command("expire", {"as_of": at}))
    return out


def apply_commands(ledger: Any, commands: Sequence[Command]) -> tuple[Any, list[Exception]]:
    """Apply commands in order; refused ones are skipped and returned.

    >>> from loyaltycore.points import PointsLedger
    >>> at = datetime(2024, 1, 1, tzinfo=UTC)
    >>> ledger, refused = apply_commands(PointsLedger.open("m"), [
    ...     Command("earn", {"id": "e", "at": at, "points": 10}),
    ...     Command("redeem", {"id": "r", "at": at, "points": 50})])
    >>> ledger.balance().available, [type(e).__name__ for e in refused]
    (10, ['InsufficientPoints'])
    """
    from loyaltycore.errors import LoyaltyError

    refused: list[Exception] = []
    for command in commands:
        try:
            ledger = getattr(ledger, command.name)(**command.kwargs)
        except LoyaltyError as exc:
            refused.append(exc)
    return ledger, refused


# -- checking a rule set -----------------------------------------------------------


def _sequential(
    rs: RuleSet, pairs: Sequence[tuple[Event, Member]]
) -> tuple[list[Evaluation], dict[str, dict[str, int]]]:
    """Scalar evaluation in (member, at, id) order, persisting counters and budgets."""
    order = sorted(
        range(len(pairs)), key=lambda i: (pairs[i][1].id, pairs[i][0].at, pairs[i][0].id)
    )
    counters: dict[str, dict[str, int]] = {}
    budgets: dict[str, int] = {}
    results: list[Any] = [None] * len(pairs)
    for i in order:
        event, member = pairs[i]
        state = counters.setdefault(member.id, dict(member.counters))
        result = rs.evaluate(event, attrs.evolve(member, counters=state), budgets_used=budgets)
        for key, value in result.increments.items():
            state[key] = state.get(key, 0) + value
        for key, value in result.budget_increments.items():
            budgets[key] = budgets.get(key, 0) + value
        results[i] = result
    return results, counters


def _cases(rs: RuleSet, size: int) -> st.SearchStrategy[list[tuple[Event, Member]]]:
    @st.composite
    def build(draw: st.DrawFn) -> list[tuple[Event, Member]]:
        people = [
            attrs.evolve(m, id=f"m{k}")
            for k, m in enumerate(
                draw(st.lists(members(st.just("m"), tiers=rs.tiers), min_size=1, max_size=3))
            )
        ]
        drawn = draw(
            st.lists(events(ids=st.just("e"), half_cents=False), min_size=1, max_size=size)
        )
        # ids in reverse drawing order, so ties on ``at`` exercise the id order
        evs = [attrs.evolve(e, id=f"e{len(drawn) - k:02d}") for k, e in enumerate(drawn)]
        return [(e, draw(st.sampled_from(people))) for e in evs]

    return build()


def _fail(prop: str, detail: str) -> None:
    raise AssertionError(f"check_rule_set: {prop}: {detail}")


def _check_awards(rs: RuleSet, results: Sequence[Evaluation]) -> None:
    for r in results:
        for line in r.lines:
            if type(line.points) is not int or line.points <= 0:
                _fail("awards are positive ints", f"{line!r} for event {r.event.id!r}")
        for key, value in r.increments.items():
            if type(value) is not int or value < 0:
                _fail("counter increments are non-negative ints", f"{key}={value!r}")


def _check_limits(rs: RuleSet, counters: dict[str, dict[str, int]]) -> None:
    from loyaltycore.rules import effective_limit

    for member_id, state in counters.items():
        for rule in rs.rules:
            limit = effective_limit(rule)
            if limit is None:
                continue
            for key, value in state.items():
                if not key.startswith(f"{rule.id}/"):
                    continue
                cap = limit.times if key.endswith("/times") else limit.points
                if cap is not None and value > cap:
                    _fail("limits hold", f"member {member_id!r}: {key}={value} > {cap}")


def _check_batch(
    rs: RuleSet, pairs: Sequence[tuple[Event, Member]], results: Sequence[Evaluation]
) -> None:
    batch = rs.evaluate_batch([e for e, _ in pairs], [m for _, m in pairs])
    for rule_id in rs._compiled.ids:
        got = batch.amounts(rule_id).tolist()
        want = [r.by_rule().get(rule_id, 0) for r in results]
        if got != want:
            _fail("scalar equals batch", f"rule {rule_id!r}: batch {got} != scalar {want}")
    codes = [list(r.trace.codes) for r in results]
    if batch.codes.T.tolist() != codes:
        _fail("scalar equals batch", f"trace codes {batch.codes.T.tolist()} != {codes}")


def check_rule_set(
    rule_set: RuleSet,
    *,
    max_examples: int = 100,
    events_per_case: int = 6,
    extra: Callable[[RuleSet, Evaluation], None] | None = None,
) -> None:
    """Property-test a rule set on generated events and members.

    Checks, on sequences of events for a few members evaluated in (member,
    at, id) order with counters persisted between events:

    * every award is a positive int and every counter increment a
      non-negative int;
    * every limit holds (times and points per period never exceed the cap);
    * evaluation is deterministic (twice the same, and the same after a
      pickle round trip of the rule set);
    * :meth:`~loyaltycore.rules.RuleSet.evaluate_batch` gives the same
      awards and trace codes as the scalar engine;
    * the plain-data form round-trips to an equal rule set that evaluates
      the same.

    Args:
        rule_set: the host's rule set.
        max_examples: hypothesis examples to try.
        events_per_case: the most events in one generated sequence.
        extra: an optional check of the host's own, called on every evaluation.

    Raises:
        AssertionError: naming the property that failed; hypothesis shrinks
            the case first and reports the minimal counterexample.

    >>> from loyaltycore.predicates import Always, field
    >>> rules = RuleSet([Rule("base", Always(), PointsPerSpend("1"), base=True),
    ...                  Rule("app", field("channel") == "app", FixedPoints(10),
    ...                       limit=Limit(times=1, period="month"))])
    >>> check_rule_set(rules, max_examples=10)
    """
    import pickle

    given_value: object = rule_set
    if not isinstance(given_value, RuleSet):
        from loyaltycore.errors import InvalidType

        raise InvalidType(
            f"rule_set={rule_set!r} must be a RuleSet", field="rule_set", value=rule_set
        )
    again = RuleSet.from_data(rule_set.to_data())
    if again != rule_set:
        _fail("plain data round-trips", f"{again!r} != {rule_set!r}")
    copy = pickle.loads(pickle.dumps(rule_set))

    @settings(
        max_examples=max_examples,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink],
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(_cases(rule_set, events_per_case))
    def run(pairs: list[tuple[Event, Member]]) -> None:
        results, counters = _sequential(rule_set, pairs)
        _check_awards(rule_set, results)
        _check_limits(rule_set, counters)
        if extra is not None:
            for result in results:
                extra(rule_set, result)
        for other, label in (
            (rule_set, "deterministic"),
            (copy, "deterministic after pickle"),
            (again, "plain data round-trips"),
        ):
            repeat, _ = _sequential(other, pairs)
            if [r.lines for r in repeat] != [r.lines for r in results]:
                _fail(label, f"{[r.lines for r in repeat]} != {[r.lines for r in results]}")
        _check_batch(rule_set, pairs, results)

    run()

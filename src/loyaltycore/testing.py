"""Hypothesis strategies and a property check for a host's own rule set.

Needs the ``testing`` extra (``pip install 'loyaltycore[testing]'``);
importing this module without hypothesis raises
:class:`~loyaltycore.errors.MissingDependency`.

The strategies draw from small pools on purpose, so generated cases hit the
edges that break loyalty code: amounts equal to thresholds (and a cent
either side), half-cent amounts, missing amounts, channels, stores, tiers,
birthdays and facts, empty baskets, instants in DST folds and gaps and at
local midnights, Feb 29 birthdays and dates. loyaltycore's own tests use
these same strategies.

* the vocabulary: :func:`zones`, :func:`instants`, :func:`amounts`,
  :func:`birthdays`, :func:`items`, :func:`events`, :func:`members`,
  :func:`facts`;
* :func:`predicates` (every node type, over the fields of the sources you
  name) and :func:`rule_sets`;
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

import functools
from collections.abc import Callable, Collection, Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Final

from loyaltycore._validate import require

if TYPE_CHECKING:
    from loyaltycore.points import PointsLedger
    from loyaltycore.transactions import TransactionLog

require("hypothesis", "loyaltycore.testing")

import attrs  # noqa: E402
from hypothesis import HealthCheck, Phase, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from loyaltycore.predicates import (  # noqa: E402
    MISSING_INT,
    Always,
    And,
    Between,
    BirthdayMonth,
    BirthdayWindow,
    Compare,
    Contains,
    Event,
    FirstPurchase,
    InSegment,
    IsIn,
    Item,
    Member,
    Not,
    Or,
    Predicate,
    Quantity,
    Recurs,
    Spend,
    TierAtLeast,
    lookup,
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
    "amounts",
    "apply_commands",
    "birthdays",
    "check_rule_set",
    "events",
    "facts",
    "instants",
    "items",
    "ledger_commands",
    "members",
    "predicates",
    "rule_sets",
    "transaction_logs",
    "zones",
]

TIERS: Final = ("silver", "gold", "platinum")
#: Program zones: DST north and south, a half-hour DST change, a half-hour offset, UTC.
ZONES: Final = ("UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata")
KINDS: Final = ("purchase", "purchase", "signup", "referral", "review")
CHANNELS: Final = ("app", "web", "store")
STORES: Final = ("s1", "s2")
SKUS: Final = ("A1", "A2", "B1", "T0")
CATEGORIES: Final = ("coffee", "tea", "cake")
SEGMENTS: Final = ("vip", "new", "lapsed", "students")
#: Amounts at and around the thresholds :func:`predicates` uses, the
#: thresholds first (hypothesis leans to the first entries); ``10.00`` is
#: equal to ``10`` with another exponent.
AMOUNTS: Final = (
    "10",
    "50",
    "100",
    "9.99",
    "10.01",
    "49.99",
    "99.99",
    "100.01",
    "10.00",
    "0",
    "0.01",
    "123.45",
)
#: Money thresholds of conditions, some finer than a cent.
THRESHOLDS: Final = ("0", "10", "10.005", "50", "99.999", "100")
#: Instants in DST folds and gaps, at local midnights and around Feb 29.
ANCHORS: Final = (
    datetime(2024, 11, 3, 5, 30, tzinfo=UTC),  # 01:30 EDT, New York, first pass of the fold
    datetime(2024, 11, 3, 6, 30, tzinfo=UTC),  # 01:30 EST, second pass
    datetime(2024, 3, 10, 7, 0, tzinfo=UTC),  # New York spring-forward gap
    datetime(2024, 3, 31, 1, 0, tzinfo=UTC),  # Berlin spring-forward gap
    datetime(2024, 10, 27, 0, 30, tzinfo=UTC),  # Berlin fall-back fold
    datetime(2024, 10, 27, 1, 30, tzinfo=UTC),
    datetime(2024, 2, 28, 23, 0, tzinfo=UTC),  # Feb 29 begins in Berlin
    datetime(2024, 2, 29, 12, 0, tzinfo=UTC),
    datetime(2024, 2, 29, 18, 30, tzinfo=UTC),  # Mar 1 begins in Kolkata
    datetime(2025, 2, 28, 23, 30, tzinfo=UTC),
    datetime(2024, 12, 31, 23, 0, tzinfo=UTC),  # New Year in Berlin
    datetime(2024, 4, 6, 14, 45, tzinfo=UTC),  # 01:45 in Lord Howe, first pass (+11:00)
    datetime(2024, 4, 6, 15, 15, tzinfo=UTC),  # 01:45 again after the half-hour fall back
    datetime(2023, 1, 8, 12, 0, tzinfo=UTC),  # a Sunday, before every recurrence starts
)
#: Recurrence rules covering every compiled part, and finite expansions.
RECURRENCES: Final = (
    "FREQ=WEEKLY;BYDAY=WE",
    "FREQ=MONTHLY;BYMONTHDAY=8",
    "FREQ=MONTHLY;BYMONTHDAY=-1,15",
    "FREQ=MONTHLY;BYDAY=-1FR,2TU",
    "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29",
    "FREQ=YEARLY;BYMONTH=11;BYDAY=4TH",
    "DTSTART:20240103T100000\nRRULE:FREQ=WEEKLY;INTERVAL=2;BYDAY=WE,SA",
    "DTSTART:20240131T000000\nRRULE:FREQ=MONTHLY;INTERVAL=3",
    "DTSTART:20240105T090000\nRRULE:FREQ=DAILY;INTERVAL=3;UNTIL=20250301T080000",
    "DTSTART:20240105T090000\nRRULE:FREQ=WEEKLY;COUNT=40;BYDAY=MO,FR",
)
#: The parts of a case a predicate can read (see ``sources`` of :func:`predicates`).
SOURCES: Final = ("event", "member", "facts")
#: The kinds of leaf :func:`predicates` draws (see its ``leaves``).
LEAVES: Final = ("always", "basket", "calendar", "compare", "member")


# -- the vocabulary ---------------------------------------------------------------


def zones() -> st.SearchStrategy[str]:
    """Program zone names: UTC, DST changes north and south, a half-hour offset.

    >>> from hypothesis import find
    >>> find(zones(), lambda z: z != "UTC")
    'Europe/Berlin'
    """
    return st.sampled_from(ZONES)


def instants() -> st.SearchStrategy[datetime]:
    """Aware UTC datetimes near DST changes, local midnights and Feb 29.

    >>> from hypothesis import find
    >>> find(instants(), lambda t: t.year == 2024 and t.month == 2 and t.day == 29).day
    29
    """
    # on an anchor or a minute or an hour either side, or anywhere within 36 hours
    offsets = st.one_of(
        st.sampled_from([0, -1, 1, -30, 30, -60, 60]), st.integers(-36 * 60, 36 * 60)
    )
    near = st.builds(
        lambda anchor, minutes: anchor + timedelta(minutes=minutes),
        st.sampled_from(ANCHORS),
        offsets,
    )
    spread = st.datetimes(
        min_value=datetime(2020, 1, 1), max_value=datetime(2028, 12, 31), timezones=st.just(UTC)
    )
    return st.one_of(near, spread)


def amounts(*, half_cents: bool = True) -> st.SearchStrategy[Decimal]:
    """Money amounts: at thresholds, a cent either side, and half cents.

    Args:
        half_cents: also draw amounts finer than a cent (``0.005``).

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


def _thresholds() -> st.SearchStrategy[Decimal]:
    return st.one_of(st.sampled_from(THRESHOLDS).map(Decimal), amounts())


def items(*, half_cents: bool = True) -> st.SearchStrategy[Item]:
    """Basket lines: products, tax, shipping, rewards and gift cards, some not earning.

    Args:
        half_cents: also draw unit prices finer than a cent.

    >>> from hypothesis import find
    >>> find(items(), lambda i: not i.earning and i.kind == "tax").kind
    'tax'
    """

    def build(sku: str, category: str | None, quantity: int, price: Decimal, **kw: Any) -> Item:
        discount = min(kw.pop("discount"), price * quantity)
        return Item(sku, category, quantity, price, discount, **kw)

    return st.builds(
        build,
        st.sampled_from(SKUS),
        st.one_of(st.none(), st.sampled_from(CATEGORIES)),
        st.integers(1, 4),
        amounts(half_cents=half_cents),
        discount=st.sampled_from([Decimal(0), Decimal("0.50"), Decimal(1)]),
        kind=st.sampled_from(
            ["product", "product", "product", "tax", "shipping", "reward", "gift_card"]
        ),
        earning=st.sampled_from([True, True, False]),
    )


def _event_attributes() -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {},
        optional={
            "promo": st.sampled_from(["spring", "fall"]),
            "visits": st.integers(0, 5),
            "rating": st.sampled_from([0.5, 3.0, 4.5]),
            "staff": st.booleans(),
        },
    )


@st.composite
def events(
    draw: st.DrawFn,
    *,
    ids: st.SearchStrategy[str] | None = None,
    half_cents: bool = False,
    referrers: Sequence[str] = ("r1",),
) -> Event:
    """Events: purchases, signups, referrals, reviews, with or without a basket.

    Amounts, channels and stores are sometimes missing; basket discounts and
    points tenders are sometimes set; ``attributes`` may hold ``promo`` (str),
    ``visits`` (int), ``rating`` (float) and ``staff`` (bool).

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
    basket = draw(st.lists(items(half_cents=half_cents), max_size=4).map(tuple))
    attributes = draw(_event_attributes())
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
        draw(st.one_of(st.none(), st.sampled_from(STORES))),
        attributes=attributes,
        discount=draw(st.sampled_from([Decimal(0), Decimal(0), Decimal(5)])),
        points_paid=draw(st.sampled_from([Decimal(0), Decimal(0), Decimal(2)])),
    )


def birthdays() -> st.SearchStrategy[date | None]:
    """Birthdays, often Feb 29, Feb 28, Mar 1 or at a year end, sometimes missing.

    >>> from hypothesis import find
    >>> find(birthdays(), lambda d: d is not None and d.month == 2 and d.day == 29)
    datetime.date(2000, 2, 29)
    """
    special = st.sampled_from(
        [
            date(2000, 2, 29),
            date(1996, 2, 29),
            date(1990, 12, 31),
            date(1985, 1, 1),
            date(1999, 3, 1),
            date(2001, 2, 28),
        ]
    )
    return st.one_of(st.none(), special, st.dates(date(1940, 1, 1), date(2010, 12, 31)))


def members(
    ids: st.SearchStrategy[str] | None = None, *, tiers: Sequence[str] = TIERS
) -> st.SearchStrategy[Member]:
    """Members with optional join time, birthday and tier, segments, attributes, counters.

    ``attributes`` may hold ``vip`` (bool), ``score`` (int) and ``city``
    (str); ``counters`` may hold ``purchases`` and ``referrals``.

    Args:
        ids: the member ids (default: ``"m1"`` or ``"m2"``).
        tiers: the tiers a member may hold (none when empty). Add a name the
            program's ladder lacks to test members with a retired tier.

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
        st.fixed_dictionaries(
            {}, optional={"vip": st.booleans(), "score": st.integers(0, 3), "city": st.just("x")}
        ),
        st.fixed_dictionaries(
            {}, optional={"purchases": st.integers(0, 3), "referrals": st.integers(0, 2)}
        ),
    )


def _small_floats() -> st.SearchStrategy[float]:
    return st.one_of(st.sampled_from([0.0, 3.0, 7.0, 30.0, 30.5]), st.floats(0, 400))


def facts() -> st.SearchStrategy[dict[str, object]]:
    """One member's facts as a mapping of the summary fields, often missing.

    The keys are the facts fields of :data:`~loyaltycore.predicates.FIELDS`
    (``first``, ``last``, ``frequency``, ``days_since_last`` ...), in the
    column form of a summary row: instants as int microseconds UTC, ``total``
    as int minor units, and each field sometimes missing
    (:data:`~loyaltycore.predicates.MISSING_INT` or NaN). Fields are drawn
    independently, so a row need not be a consistent history: predicates,
    segments and lifecycle policies must still answer the same in both
    engines.

    >>> import math
    >>> from hypothesis import find
    >>> math.isnan(find(facts(), lambda f: f["median_gap"] != f["median_gap"])["median_gap"])
    True
    """
    from loyaltycore.calendar import to_micros

    micros = st.one_of(st.just(MISSING_INT), instants().map(to_micros))
    floats = st.one_of(st.just(float("nan")), _small_floats())
    return st.fixed_dictionaries(
        {
            "first": micros,
            "previous": micros,
            "last": micros,
            "count": st.integers(0, 6),
            "frequency": st.integers(0, 5),
            "recency": floats,
            "T": floats,
            "days_since_last": floats,
            "monetary": floats,
            "total": st.one_of(st.just(MISSING_INT), st.integers(0, 20_000)),
            "aov": floats,
            "median_gap": floats,
            "categories": st.integers(0, 3),
        }
    )


# -- predicates ------------------------------------------------------------------


def _comparable(tiers: Sequence[str]) -> list[tuple[str, str | None, st.SearchStrategy[Any]]]:
    """(field, kind for attributes, literals) for every field a comparison may read."""
    small = st.one_of(st.sampled_from([0.0, 3.0, 7.0, 30.0, 30.5]), st.integers(0, 400).map(float))
    local_dates = st.one_of(
        instants().map(lambda at: at.date()), st.dates(date(2020, 1, 1), date(2028, 12, 31))
    )
    ints = {
        "item_count": (0, 6),
        "count": (0, 6),
        "frequency": (0, 5),
        "categories": (0, 3),
        "weekday": (0, 6),
        "day": (1, 31),
        "month": (1, 12),
        "year": (2020, 2028),
        "hour": (0, 23),
        "days_since_joined": (-5, 3000),
    }
    table: list[tuple[str, str | None, st.SearchStrategy[Any]]] = [
        *((name, None, _thresholds()) for name in ("amount", "discount", "points_paid", "total")),
        *(
            (name, None, instants())
            for name in ("at", "joined_at", "as_of", "first", "previous", "last")
        ),
        ("birthday", None, st.dates(date(1940, 1, 1), date(2010, 12, 31))),
        ("local_date", None, local_dates),
        *((name, None, st.integers(low, high)) for name, (low, high) in ints.items()),
        *(
            (name, None, small)
            for name in ("recency", "T", "days_since_last", "monetary", "aov", "median_gap")
        ),
        ("kind", None, st.sampled_from(KINDS)),
        ("channel", None, st.sampled_from(CHANNELS)),
        ("store", None, st.sampled_from(STORES)),
        ("tier", None, st.sampled_from(tuple(tiers) or TIERS)),
        ("event_id", None, st.sampled_from(["e1", "e2"])),
        ("member_id", None, st.sampled_from(["m1", "m2"])),
        ("attributes.promo", None, st.sampled_from(["spring", "fall"])),
        ("attributes.visits", "int", st.integers(0, 5)),
        ("attributes.rating", "float", st.sampled_from([0.5, 3.0, 4.5, 2])),
        ("attributes.staff", "bool", st.booleans()),
        ("member.attributes.vip", "bool", st.booleans()),
        ("member.attributes.score", "int", st.integers(0, 3)),
        ("counters.purchases", None, st.integers(0, 3)),
        ("counters.referrals", None, st.integers(0, 2)),
    ]
    return table


def _comparisons(
    table: Sequence[tuple[str, str | None, st.SearchStrategy[Any]]],
) -> st.SearchStrategy[Predicate]:
    """One comparison, ``isin`` or ``between`` on a field of ``table``."""

    @st.composite
    def build(draw: st.DrawFn) -> Predicate:
        name, kind, literal = draw(st.sampled_from(table))
        ordered = lookup(name, kind).kind not in ("str", "bool")
        shape = draw(st.sampled_from(["compare", "isin", "between"]))
        if shape == "isin":
            return IsIn(name, draw(st.frozensets(literal, min_size=1, max_size=4)), kind)
        if shape == "between" and ordered:
            low, high = sorted([draw(literal), draw(literal)])
            return Between(name, low, high, kind)
        ops = ["==", "!=", "<", "<=", ">", ">="] if ordered else ["==", "!="]
        return Compare(name, draw(st.sampled_from(ops)), draw(literal), kind)

    return build()


def _names(pool: Sequence[str]) -> st.SearchStrategy[frozenset[str]]:
    return st.frozensets(st.sampled_from(tuple(pool)), max_size=2)


@st.composite
def _basket(draw: st.DrawFn) -> Predicate:
    skus, categories = draw(_names(SKUS)), draw(_names(CATEGORIES))
    shape = draw(st.sampled_from(["contains", "quantity", "spend"]))
    if shape == "contains":
        # Contains needs at least one filter
        return Contains(skus if skus or categories else {SKUS[0]}, categories)
    if shape == "quantity":
        return Quantity(draw(st.integers(1, 6)), skus, categories)
    return Spend(draw(_thresholds().filter(lambda t: t > 0)), skus, categories)


def _calendar(birthdays: bool) -> st.SearchStrategy[Predicate]:
    options: list[st.SearchStrategy[Predicate]] = [st.sampled_from(RECURRENCES).map(Recurs)]
    if birthdays:
        days = st.one_of(st.integers(0, 10), st.integers(0, 183))
        options += [st.builds(BirthdayWindow, days, days), st.just(BirthdayMonth())]
    return st.one_of(*options)


def _member(tiers: Sequence[str], events: bool) -> st.SearchStrategy[Predicate]:
    options: list[st.SearchStrategy[Predicate]] = [st.sampled_from(SEGMENTS).map(InSegment)]
    if tiers:
        options.insert(0, st.sampled_from(tuple(tiers)).map(TierAtLeast))
    if events:  # a first purchase is an event of kind "purchase"
        options.append(st.sampled_from(["purchases", "referrals"]).map(FirstPurchase))
    return st.one_of(*options)


def _choice(name: str, value: object, allowed: Sequence[str]) -> tuple[str, ...]:
    from loyaltycore.errors import InvalidArgument, InvalidType

    if isinstance(value, str) or not isinstance(value, Collection):
        raise InvalidType(f"{name}={value!r} must be a collection of str", field=name, value=value)
    chosen = tuple(value)
    wrong = [v for v in chosen if v not in allowed]
    if wrong or not chosen:
        raise InvalidArgument(
            f"{name}={value!r} must be a non-empty collection of {list(allowed)}",
            field=name,
            value=value,
        )
    return chosen


def predicates(
    *,
    tiers: Sequence[str] = TIERS,
    max_leaves: int = 4,
    sources: Collection[str] = ("event", "member"),
    leaves: Collection[str] = LEAVES,
) -> st.SearchStrategy[Predicate]:
    """Random conditions: ``&``, ``|``, ``~`` trees over every kind of leaf.

    Leaves are comparisons (``==`` ... ``>=``, ``isin``, ``between``) on
    every field the ``sources`` provide, with literals at the edges (money
    thresholds finer than a cent, instants at DST changes, int literals on
    float attributes); basket conditions (contains, quantity, spend, with SKU
    and category filters); calendar conditions (recurrences, weekdays,
    birthday windows up to half a year, birthday month); member conditions
    (tier at least, segment, first purchase); and ``Always``. ``&`` and
    ``|`` may have a single child.

    Args:
        tiers: the program's tier ladder, lowest first (no tier condition
            when empty).
        max_leaves: the most leaves in one tree.
        sources: the parts of a case the conditions read: ``"event"``,
            ``"member"``, ``"facts"``. The evaluation time ``as_of`` and the
            local calendar (``weekday``, ``hour``, recurrences ...) are
            always included: they read the event's ``at``, or ``as_of``
            when there is no event. Earning rules read events and members;
            segments read members and facts.
        leaves: the kinds of leaf to draw: ``"always"``, ``"basket"``,
            ``"calendar"``, ``"compare"``, ``"member"``.

    Raises:
        InvalidArgument: an unknown or empty ``sources`` or ``leaves``, or no
            leaf readable from ``sources``.

    >>> from hypothesis import find
    >>> isinstance(find(predicates(), lambda p: isinstance(p, Not)), Not)
    True
    >>> reads_facts = lambda p: any(f.source == "facts" for f in p.fields())
    >>> find(predicates(sources=["member", "facts"]), reads_facts)
    Compare(field='total', op='==', value=Decimal('0'), kind=None)
    """
    from loyaltycore._validate import check_int
    from loyaltycore.errors import InvalidArgument

    check_int(max_leaves, "max_leaves", minimum=1)
    read = frozenset(_choice("sources", sources, SOURCES))
    kinds = frozenset(_choice("leaves", leaves, LEAVES))
    if not _leaf_options(tuple(tiers), read, kinds):
        raise InvalidArgument(
            f"leaves={leaves!r} has no leaf that reads sources={sources!r}",
            field="leaves",
            value=leaves,
        )
    return _trees(tuple(tiers), max_leaves, read, kinds)


@functools.cache
def _leaf_options(
    tiers: tuple[str, ...], sources: frozenset[str], kinds: frozenset[str]
) -> tuple[st.SearchStrategy[Predicate], ...]:
    """The leaf strategies of :func:`predicates`."""
    read = sources | {"context", "derived"}
    options: list[st.SearchStrategy[Predicate]] = []
    if "compare" in kinds:
        table = [row for row in _comparable(tiers) if lookup(row[0], row[1]).source in read]
        options.append(_comparisons(table))
    if "always" in kinds:
        options.append(st.just(Always()))
    if "basket" in kinds and "event" in read:
        options.append(_basket())
    if "calendar" in kinds:
        options.append(_calendar("member" in read))
    if "member" in kinds and "member" in read:
        options.append(_member(tiers, "event" in read))
    return tuple(options)


@functools.cache
def _trees(
    tiers: tuple[str, ...],
    max_leaves: int,
    sources: frozenset[str],
    kinds: frozenset[str],
) -> st.SearchStrategy[Predicate]:
    """``&`` / ``|`` / ``~`` trees over the leaves; built once per arguments, as
    building the strategy costs more than drawing from it."""
    return st.recursive(
        st.one_of(*_leaf_options(tiers, sources, kinds)),
        lambda children: st.one_of(
            st.lists(children, min_size=1, max_size=3).map(And),
            st.lists(children, min_size=1, max_size=3).map(Or),
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

    Conditions come from :func:`predicates` over events and members,
    comparisons of int, float and bool attributes included.

    >>> from hypothesis import given, settings
    >>> @settings(max_examples=10, database=None)
    ... @given(rule_sets(max_rules=3))
    ... def test_the_first_rule_is_a_base_rule(rs):
    ...     assert 1 <= len(rs.rules) <= 3 and rs.rules[0].base
    >>> test_the_first_rule_is_a_base_rule()
    """
    n = draw(st.integers(1, max_rules))
    when = _trees(tuple(tiers), 4, frozenset({"event", "member"}), frozenset(LEAVES))
    conditions = st.one_of(st.none(), when)
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
                draw(conditions),
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
    return RuleSet(rules, tz=draw(zones()), tiers=tiers, groups=modes, budgets=budgets)


# -- logs and ledgers ---------------------------------------------------------------


@st.composite
def transaction_logs(draw: st.DrawFn, *, max_rows: int = 30) -> TransactionLog:
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
        tz=draw(zones()),
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


def apply_commands(
    ledger: PointsLedger, commands: Sequence[Command]
) -> tuple[PointsLedger, list[Exception]]:
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

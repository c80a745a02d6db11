"""Hypothesis strategies for the shared vocabulary and for predicates.

Test modules import it as ``from tests import strategies as S`` (pytest runs
from the repository root with ``--import-mode=importlib``). It imports only
the public API of :mod:`loyaltycore.predicates` and hypothesis, so the public
:mod:`loyaltycore.testing` module can take these strategies over unchanged.

The values are drawn from small pools on purpose, so that generated cases
hit the edges: amounts equal to thresholds, half-cent thresholds, missing
values of every kind, instants in DST folds and gaps, Feb 29 birthdays,
empty baskets.

Strategies:

* :func:`zones` — program zones with DST (and UTC).
* :func:`instants` — aware UTC datetimes, biased to DST changes and to
  midnights and month ends in the program zones.
* :func:`items`, :func:`events`, :func:`members`, :func:`facts` — the
  vocabulary, with missing values.
* :func:`predicates` — random predicate trees over every node type.
* :func:`cases` — ``(events, members, facts, as_of, tz, tiers)`` rows for
  comparing the scalar and vectorized engines.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import strategies as st

from loyaltycore.predicates import MISSING_INT, Event, Item, Member

ZONES = ("UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata")
TIERS = ("bronze", "silver", "gold", "platinum")
SEGMENTS = ("vip", "lapsed", "new", "students")
CHANNELS = ("app", "web", "store")
STORES = ("s1", "s2")
SKUS = ("A1", "A2", "B1", "C9")
CATEGORIES = ("coffee", "tea", "cake")
KINDS = ("purchase", "signup", "referral", "review")
#: Money amounts around the thresholds used by :func:`predicates`.
AMOUNTS = ("0", "0.01", "9.99", "10", "10.00", "10.01", "49.99", "50", "100", "123.45")
#: Thresholds, including one finer than the minor unit.
THRESHOLDS = ("0", "10", "10.005", "50", "99.999", "100")

# Instants near DST changes (folds and gaps) and near local midnights.
_ANCHORS = (
    datetime(2024, 3, 10, 7, 0, tzinfo=UTC),  # US spring forward (gap)
    datetime(2024, 11, 3, 5, 30, tzinfo=UTC),  # US fall back (01:30 EDT, then EST: a fold)
    datetime(2024, 11, 3, 6, 30, tzinfo=UTC),
    datetime(2024, 3, 31, 1, 0, tzinfo=UTC),  # EU spring forward
    datetime(2024, 10, 27, 0, 30, tzinfo=UTC),  # EU fall back fold
    datetime(2024, 10, 27, 1, 30, tzinfo=UTC),
    datetime(2024, 4, 6, 14, 45, tzinfo=UTC),  # Lord Howe half-hour fall back
    datetime(2024, 2, 28, 23, 0, tzinfo=UTC),  # around Feb 29 in Europe
    datetime(2024, 2, 29, 18, 30, tzinfo=UTC),
    datetime(2025, 2, 28, 23, 30, tzinfo=UTC),
    datetime(2024, 12, 31, 23, 0, tzinfo=UTC),  # New Year in Berlin
    datetime(2023, 1, 8, 12, 0, tzinfo=UTC),
)


def zones() -> st.SearchStrategy[str]:
    """Program zone names."""
    return st.sampled_from(ZONES)


def instants() -> st.SearchStrategy[datetime]:
    """Aware UTC datetimes near DST changes, midnights and Feb 29."""
    near = st.builds(
        lambda anchor, minutes: anchor + timedelta(minutes=minutes),
        st.sampled_from(_ANCHORS),
        st.integers(-36 * 60, 36 * 60),
    )
    spread = st.datetimes(
        min_value=datetime(2020, 1, 1), max_value=datetime(2028, 12, 31), timezones=st.just(UTC)
    )
    return st.one_of(near, spread)


def amounts() -> st.SearchStrategy[Decimal]:
    """Money amounts (at most two decimals), often equal to a threshold."""
    pooled = st.sampled_from(AMOUNTS).map(Decimal)
    cents = st.integers(0, 20_000).map(lambda c: Decimal(c).scaleb(-2))
    return st.one_of(pooled, cents)


def thresholds() -> st.SearchStrategy[Decimal]:
    """Money literals, some finer than a cent."""
    return st.one_of(st.sampled_from(THRESHOLDS).map(Decimal), amounts())


def items() -> st.SearchStrategy[Item]:
    """Basket lines of every kind."""

    def build(sku: str, category: str | None, quantity: int, price: Decimal, **kw: Any) -> Item:
        gross = price * quantity
        discount = min(kw.pop("discount"), gross)
        return Item(sku, category, quantity, price, discount, **kw)

    return st.builds(
        build,
        st.sampled_from(SKUS),
        st.one_of(st.none(), st.sampled_from(CATEGORIES)),
        st.integers(1, 4),
        amounts(),
        discount=st.sampled_from([Decimal(0), Decimal("0.50"), Decimal("1")]),
        kind=st.sampled_from(["product", "product", "product", "tax", "reward", "gift_card"]),
        earning=st.booleans(),
    )


def events(ids: st.SearchStrategy[str] | None = None) -> st.SearchStrategy[Event]:
    """Events with optional amount, channel, store, attributes and a basket."""
    return st.builds(
        Event,
        ids if ids is not None else st.sampled_from(["e1", "e2", "e3"]),
        st.sampled_from(KINDS),
        instants(),
        st.one_of(st.none(), amounts()),
        st.lists(items(), max_size=4).map(tuple),
        st.one_of(st.none(), st.sampled_from(CHANNELS)),
        st.one_of(st.none(), st.sampled_from(STORES)),
        st.fixed_dictionaries(
            {},
            optional={
                "promo": st.sampled_from(["spring", "fall"]),
                "visits": st.integers(0, 5),
                "rating": st.sampled_from([0.5, 3.0, 4.5]),
                "staff": st.booleans(),
            },
        ),
    )


def birthdays() -> st.SearchStrategy[date | None]:
    """Birthdays, often Feb 29 or near a year end, sometimes missing."""
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


def members(ids: st.SearchStrategy[str] | None = None) -> st.SearchStrategy[Member]:
    """Members with optional join time, birthday, tier, segments, attributes, counters."""
    return st.builds(
        Member,
        ids if ids is not None else st.sampled_from(["m1", "m2"]),
        st.one_of(st.none(), instants()),
        birthdays(),
        st.one_of(st.none(), st.sampled_from(TIERS), st.just("legacy")),
        st.frozensets(st.sampled_from(SEGMENTS)),
        st.fixed_dictionaries(
            {}, optional={"vip": st.booleans(), "score": st.integers(0, 3), "city": st.just("x")}
        ),
        st.fixed_dictionaries(
            {}, optional={"purchases": st.integers(0, 3), "referrals": st.integers(0, 2)}
        ),
    )


def _micros_or_missing() -> st.SearchStrategy[int]:
    from loyaltycore.calendar import to_micros

    return st.one_of(st.just(MISSING_INT), instants().map(to_micros))


def facts() -> st.SearchStrategy[dict[str, Any]]:
    """One summary row as a mapping, with the missing value of each dtype."""
    small_float = st.one_of(
        st.just(float("nan")), st.sampled_from([0.0, 3.0, 30.0, 30.5, 7.0]), st.floats(0, 400)
    )
    return st.fixed_dictionaries(
        {
            "first": _micros_or_missing(),
            "previous": _micros_or_missing(),
            "last": _micros_or_missing(),
            "count": st.integers(0, 6),
            "frequency": st.integers(0, 5),
            "recency": small_float,
            "T": small_float,
            "days_since_last": small_float,
            "monetary": small_float,
            "total": st.one_of(st.just(MISSING_INT), st.integers(0, 20_000)),
            "aov": small_float,
            "median_gap": small_float,
            "categories": st.integers(0, 3),
        }
    )


def _small_floats() -> st.SearchStrategy[float]:
    return st.one_of(st.sampled_from([0.0, 3.0, 30.0, 30.5, 7.0]), st.integers(0, 400).map(float))


def _dates() -> st.SearchStrategy[date]:
    return st.one_of(
        instants().map(lambda at: at.date()), st.dates(date(2020, 1, 1), date(2028, 12, 31))
    )


#: (field name, kind or None, literal strategy) for every comparable field.
COMPARABLE: tuple[tuple[str, str | None, st.SearchStrategy[Any]], ...] = (
    ("amount", None, thresholds()),
    ("discount", None, thresholds()),
    ("points_paid", None, thresholds()),
    ("total", None, thresholds()),
    ("at", None, instants()),
    ("joined_at", None, instants()),
    ("as_of", None, instants()),
    ("first", None, instants()),
    ("previous", None, instants()),
    ("last", None, instants()),
    ("birthday", None, st.dates(date(1940, 1, 1), date(2010, 12, 31))),
    ("local_date", None, _dates()),
    ("item_count", None, st.integers(0, 6)),
    ("count", None, st.integers(0, 6)),
    ("frequency", None, st.integers(0, 5)),
    ("categories", None, st.integers(0, 3)),
    ("weekday", None, st.integers(0, 6)),
    ("day", None, st.integers(1, 31)),
    ("month", None, st.integers(1, 12)),
    ("year", None, st.integers(2020, 2028)),
    ("hour", None, st.integers(0, 23)),
    ("days_since_joined", None, st.integers(-5, 3000)),
    ("recency", None, _small_floats()),
    ("T", None, _small_floats()),
    ("days_since_last", None, _small_floats()),
    ("monetary", None, _small_floats()),
    ("aov", None, _small_floats()),
    ("median_gap", None, _small_floats()),
    ("kind", None, st.sampled_from(KINDS)),
    ("channel", None, st.sampled_from(CHANNELS)),
    ("store", None, st.sampled_from(STORES)),
    ("tier", None, st.sampled_from(TIERS)),
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
)
_UNORDERED = ("str", "bool")


@st.composite
def comparisons(draw: st.DrawFn) -> Any:
    """One comparison, ``isin`` or ``between`` node on a random field."""
    from loyaltycore.predicates import Between, Compare, IsIn, lookup

    name, kind, literal = draw(st.sampled_from(COMPARABLE))
    spec = lookup(name, kind)
    shape = draw(st.sampled_from(["compare", "isin", "between"]))
    if shape == "isin":
        return IsIn(name, draw(st.frozensets(literal, min_size=1, max_size=4)), kind)
    if shape == "between" and spec.kind not in _UNORDERED:
        low, high = draw(literal), draw(literal)
        # order the ends in comparison space (an instant's micros, a date's days)
        if Compare(name, "<=", high, kind)._cmp < Compare(name, "<=", low, kind)._cmp:
            low, high = high, low
        return Between(name, low, high, kind)
    ops = ["==", "!="] if spec.kind in _UNORDERED else ["==", "!=", "<", "<=", ">", ">="]
    return Compare(name, draw(st.sampled_from(ops)), draw(literal), kind)


#: Recurrence rules covering every compiled part (and the finite expansion).
RULES = (
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


def _names(pool: tuple[str, ...]) -> st.SearchStrategy[frozenset[str]]:
    return st.frozensets(st.sampled_from(pool), max_size=2)


@st.composite
def basket_conditions(draw: st.DrawFn) -> Any:
    """Contains, Quantity or Spend with random item filters."""
    from loyaltycore.predicates import Contains, Quantity, Spend

    skus, categories = draw(_names(SKUS)), draw(_names(CATEGORIES))
    shape = draw(st.sampled_from(["contains", "quantity", "spend"]))
    if shape == "contains":
        if not skus and not categories:
            skus = frozenset({SKUS[0]})
        return Contains(skus, categories)
    if shape == "quantity":
        return Quantity(draw(st.integers(1, 6)), skus, categories)
    return Spend(draw(thresholds().filter(lambda t: t > 0)), skus, categories)


def calendar_conditions() -> st.SearchStrategy[Any]:
    """Recurrences and birthday windows."""
    from loyaltycore.predicates import BirthdayMonth, BirthdayWindow, Recurs

    return st.one_of(
        st.sampled_from(RULES).map(Recurs),
        st.builds(
            BirthdayWindow,
            st.one_of(st.integers(0, 10), st.integers(0, 183)),
            st.one_of(st.integers(0, 10), st.integers(0, 183)),
        ),
        st.just(BirthdayMonth()),
    )


def member_conditions() -> st.SearchStrategy[Any]:
    """Tier order, segment membership and first purchase."""
    from loyaltycore.predicates import FirstPurchase, InSegment, TierAtLeast

    return st.one_of(
        st.sampled_from(TIERS).map(TierAtLeast),
        st.sampled_from(SEGMENTS).map(InSegment),
        st.sampled_from(["purchases", "referrals"]).map(FirstPurchase),
    )


def leaves() -> st.SearchStrategy[Any]:
    """Predicate leaves of every node type."""
    from loyaltycore.predicates import Always

    return st.one_of(
        comparisons(),
        st.just(Always()),
        basket_conditions(),
        calendar_conditions(),
        member_conditions(),
    )


def predicates(max_leaves: int = 6) -> st.SearchStrategy[Any]:
    """Random predicate trees (``&``, ``|``, ``~`` over :func:`leaves`)."""
    from loyaltycore.predicates import And, Not, Or

    return st.recursive(
        leaves(),
        lambda children: st.one_of(
            st.lists(children, min_size=1, max_size=3).map(And),
            st.lists(children, min_size=1, max_size=3).map(Or),
            children.map(Not),
        ),
        max_leaves=max_leaves,
    )


@st.composite
def cases(draw: st.DrawFn, *, max_rows: int = 6) -> dict[str, Any]:
    """Rows to evaluate in both engines: events, members, facts and parameters.

    Each of events / members / facts is either absent (None) or a list with
    one entry per row, some entries None (a missing event or member).
    """
    n = draw(st.integers(1, max_rows))

    def rows(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
        return st.one_of(
            st.none(), st.lists(st.one_of(st.none(), strategy), min_size=n, max_size=n)
        )

    return {
        "events": draw(rows(events())),
        "members": draw(rows(members())),
        "facts": draw(rows(facts())),
        "as_of": draw(st.one_of(st.none(), instants())),
        "tz": draw(zones()),
        "tiers": draw(st.sampled_from([TIERS, TIERS[:2], ()])),
        "size": n,
    }

"""Basket, calendar and member conditions.

Private module: the public names are re-exported by :mod:`loyaltycore.predicates`.
"""

from __future__ import annotations

from collections.abc import Container, Iterable
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, ClassVar, Final

import attrs
import numpy as np
import numpy.typing as npt

from loyaltycore._validate import DECIMAL_CONTEXT, check_int, to_decimal, type_name
from loyaltycore.calendar import (
    EPOCH_DATE,
    MISSING_INT,
    anniversary,
    civil,
    civil_days,
    days_in_month,
)
from loyaltycore.errors import InvalidRule, LoyaltyError
from loyaltycore.predicates._core import (
    And,
    Compare,
    IsIn,
    Mask,
    Predicate,
    int_compare,
    objects_in,
)
from loyaltycore.predicates._fields import (
    FIELDS,
    Context,
    Event,
    Field,
    Frame,
    frame_parts,
)
from loyaltycore.predicates._recur import Recurrence, compile_rule

__all__ = [
    "BirthdayMonth",
    "BirthdayWindow",
    "Contains",
    "FirstPurchase",
    "InSegment",
    "Quantity",
    "Recurs",
    "Spend",
    "TierAtLeast",
    "during",
    "on_weekdays",
]

_LOCAL_DATE: Final = FIELDS["local_date"]


def _rule_error(exc: LoyaltyError, name: str, value: object) -> InvalidRule:
    return InvalidRule(str(exc), field=name, value=value)


def _names(name: str) -> Any:
    def convert(value: object) -> frozenset[str]:
        if isinstance(value, str) or not isinstance(value, Iterable):
            raise InvalidRule(f"{name}={value!r} must be a set of str", field=name, value=value)
        result = frozenset(value)
        for item in result:
            if not isinstance(item, str) or not item:
                raise InvalidRule(
                    f"{name} item {item!r} must be a non-empty str", field=name, value=item
                )
        return result

    return convert


def _skus(value: object) -> frozenset[str]:
    result: frozenset[str] = _names("skus")(value)
    return result


def _categories(value: object) -> frozenset[str]:
    result: frozenset[str] = _names("categories")(value)
    return result


# -- basket --------------------------------------------------------------------


class _Basket(Predicate):
    """Shared item filter: product lines whose sku or category is listed."""

    __slots__ = ()
    skus: frozenset[str]
    categories: frozenset[str]

    def _matches(self, event: Event) -> list[Any]:
        skus, categories = self.skus, self.categories
        every = not skus and not categories
        return [
            item
            for item in event.items
            if item.kind == "product"
            and (every or item.sku in skus or (item.category in categories))
        ]

    def _item_mask(self, frame: Frame) -> tuple[npt.NDArray[np.int64], Mask]:
        rows = np.asarray(frame.raw("items.row"), dtype=np.int64)
        kinds = np.asarray(frame.raw("items.kind"), dtype=object)
        match = np.asarray(kinds == "product", dtype=np.bool_)
        if self.skus or self.categories:
            wanted = np.zeros(match.shape, dtype=np.bool_)
            if self.skus:
                wanted |= objects_in(np.asarray(frame.raw("items.sku"), dtype=object), self.skus)
            if self.categories:
                category = np.asarray(frame.raw("items.category"), dtype=object)
                wanted |= objects_in(category, self.categories)
            match &= wanted
        return rows, match

    def _sum(self, frame: Frame, column: str) -> npt.NDArray[np.int64]:
        rows, match = self._item_mask(frame)
        values = np.asarray(frame.raw(column), dtype=np.int64)
        out = np.zeros(frame.n, dtype=np.int64)
        np.add.at(out, rows[match], values[match])
        return out


@attrs.frozen
class Contains(_Basket):
    """The basket has a product line with one of ``skus`` or ``categories``.

    >>> from datetime import datetime, timezone
    >>> from loyaltycore.predicates import Event, Item
    >>> e = Event("o", "purchase", datetime(2024, 1, 1, tzinfo=timezone.utc),
    ...           items=[Item("LATTE", "coffee", 1, "3.20")])
    >>> Contains(categories={"coffee"}).test(event=e), Contains(skus={"SCONE"}).test(event=e)
    (True, False)
    """

    skus: frozenset[str] = attrs.field(default=frozenset(), converter=_skus)
    categories: frozenset[str] = attrs.field(default=frozenset(), converter=_categories)
    tag: ClassVar[str] = "contains"

    def __attrs_post_init__(self) -> None:
        if not self.skus and not self.categories:
            raise InvalidRule("contains needs skus or categories", field="skus", value=())

    def _test(self, ctx: Context) -> bool:
        event = ctx.event
        return event is not None and bool(self._matches(event))

    def _mask(self, frame: Frame) -> Mask:
        rows, match = self._item_mask(frame)
        out = np.zeros(frame.n, dtype=np.bool_)
        out[rows[match]] = True
        return out


def _at_least_int(value: object) -> int:
    try:
        return check_int(value, "at_least", minimum=1)
    except LoyaltyError as exc:
        raise _rule_error(exc, "at_least", value) from None


@attrs.frozen
class Quantity(_Basket):
    """At least ``at_least`` units of product lines (of ``skus`` / ``categories``
    when given; of any product otherwise).

    >>> from datetime import datetime, timezone
    >>> from loyaltycore.predicates import Event, Item
    >>> e = Event("o", "purchase", datetime(2024, 1, 1, tzinfo=timezone.utc),
    ...           items=[Item("A", "tea", 2, "1"), Item("B", "tea", 1, "1")])
    >>> Quantity(3, categories={"tea"}).test(event=e), Quantity(4).test(event=e)
    (True, False)
    """

    at_least: int = attrs.field(converter=_at_least_int)
    skus: frozenset[str] = attrs.field(default=frozenset(), converter=_skus)
    categories: frozenset[str] = attrs.field(default=frozenset(), converter=_categories)
    tag: ClassVar[str] = "quantity"

    def _test(self, ctx: Context) -> bool:
        event = ctx.event
        if event is None:
            return False
        units: int = sum(item.quantity for item in self._matches(event))
        return units >= self.at_least

    def _mask(self, frame: Frame) -> Mask:
        return self._sum(frame, "items.quantity") >= self.at_least


def _at_least_money(value: object) -> Decimal:
    try:
        amount = to_decimal(value, "at_least")
    except LoyaltyError as exc:
        raise _rule_error(exc, "at_least", value) from None
    if amount <= 0:
        raise InvalidRule(f"at_least={value!r} must be > 0", field="at_least", value=value)
    return amount


@attrs.frozen
class Spend(_Basket):
    """Product lines (of ``skus`` / ``categories`` when given) total at least
    ``at_least``, counting each line's net (``quantity * unit_price`` minus
    its line discount, before basket-level discounts).

    >>> from datetime import datetime, timezone
    >>> from loyaltycore.predicates import Event, Item
    >>> e = Event("o", "purchase", datetime(2024, 1, 1, tzinfo=timezone.utc),
    ...           items=[Item("A", "wine", 2, "15.00", discount="5.00")])
    >>> Spend("25", categories={"wine"}).test(event=e), Spend("25.01").test(event=e)
    (True, False)
    """

    at_least: Decimal = attrs.field(converter=_at_least_money)
    skus: frozenset[str] = attrs.field(default=frozenset(), converter=_skus)
    categories: frozenset[str] = attrs.field(default=frozenset(), converter=_categories)
    tag: ClassVar[str] = "spend"

    def _test(self, ctx: Context) -> bool:
        event = ctx.event
        if event is None:
            return False
        total = sum((item.net for item in self._matches(event)), Decimal(0))
        return DECIMAL_CONTEXT.compare(total, self.at_least) >= 0

    def _mask(self, frame: Frame) -> Mask:
        threshold = self.at_least.scaleb(frame.exponent, DECIMAL_CONTEXT)
        return int_compare(self._sum(frame, "items.net"), ">=", threshold)


# -- calendar ------------------------------------------------------------------

_WEEKDAYS: Final = {"MO": 0, "TU": 1, "WE": 2, "TH": 3, "FR": 4, "SA": 5, "SU": 6}


def _weekday(value: object) -> int:
    if isinstance(value, str) and value[:2].upper() in _WEEKDAYS and len(value) >= 2:
        full = ("MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY")
        code = value.upper()
        if code in _WEEKDAYS or code in full or code[:3] in {f[:3] for f in full}:
            return _WEEKDAYS[code[:2]]
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 6:
        return value
    weekday = getattr(value, "weekday", None)
    if isinstance(weekday, int) and getattr(value, "n", None) is None:
        return weekday
    raise InvalidRule(
        f"day={value!r} must be a weekday: 0-6 (Monday = 0), 'MO'..'SU', 'wed' or dateutil MO..SU",
        field="days",
        value=value,
    )


def on_weekdays(*days: object) -> IsIn:
    """The local weekday (in the program zone) is one of ``days``.

    Args:
        days: ints 0-6 (Monday = 0), names (``"WE"``, ``"wed"``,
            ``"Wednesday"``) or :mod:`dateutil.rrule` weekdays.

    Returns:
        ``field("weekday").isin(...)``.

    >>> on_weekdays("WE", "sat")
    IsIn(field='weekday', values=frozenset({2, 5}), kind=None)
    """
    if not days:
        raise InvalidRule("on_weekdays needs at least one day", field="days", value=())
    return IsIn("weekday", frozenset(_weekday(d) for d in days))


def during(start: date, end: date) -> Predicate:
    """The local date (in the program zone) is from ``start`` to ``end``, both included.

    >>> from datetime import date
    >>> advent = during(date(2024, 12, 1), date(2024, 12, 24))
    >>> advent.low, advent.high
    (datetime.date(2024, 12, 1), datetime.date(2024, 12, 24))
    """
    from loyaltycore.predicates._core import Between

    return Between("local_date", start, end)


def _rule_text(value: object) -> str:
    if isinstance(value, str):
        return value
    from dateutil.rrule import rrule

    if isinstance(value, rrule):
        return str(value)
    raise InvalidRule(
        f"rule={value!r} must be RFC 5545 text or a dateutil rrule, not {type_name(value)}",
        field="rule",
        value=value,
    )


@attrs.frozen
class Recurs(Predicate):
    """The local date (program zone) is an occurrence date of a recurrence rule.

    ``rule`` is RFC 5545 text (``"FREQ=WEEKLY;BYDAY=WE"``, optionally with a
    ``DTSTART:`` line; without one the rule starts 1970-01-01) or a
    :class:`dateutil.rrule.rrule`. It is compiled once into checks on the
    local date (weekday, day of month, month, n-th weekday, interval, start
    and until), so testing costs a few comparisons instead of an ``rrule``
    walk. Finite rules (``COUNT`` or ``UNTIL``) with parts that have no
    direct check (``BYSETPOS``, ``BYWEEKNO``, ``BYYEARDAY``, ``BYEASTER``,
    ``COUNT``) are compiled to their set of dates (at most 5,000), expanded
    within a static bound on the work: a rule whose dates cannot be found
    within a few centuries of its start (fewer for frequent ones), or with a
    sub-daily ``FREQ``, raises :class:`~loyaltycore.errors.InvalidRule`
    instead of running for seconds. Times of day in the rule are ignored: an
    event matches when its local date is a date on which the rule has an
    occurrence.

    >>> from datetime import datetime, timezone
    >>> wednesday = datetime(2024, 5, 1, 12, tzinfo=timezone.utc)
    >>> Recurs("FREQ=WEEKLY;BYDAY=WE").test(as_of=wednesday)
    True
    >>> Recurs("FREQ=MONTHLY;BYMONTHDAY=8").test(as_of=wednesday)
    False
    """

    rule: str = attrs.field(converter=_rule_text)
    _compiled: Recurrence = attrs.field(init=False, eq=False, repr=False, hash=False)
    _memo: dict[int, bool] = attrs.field(init=False, eq=False, repr=False, hash=False)
    tag: ClassVar[str] = "recurs"

    def __attrs_post_init__(self) -> None:
        object.__setattr__(self, "_compiled", compile_rule(self.rule))
        object.__setattr__(self, "_memo", {})

    def _test(self, ctx: Context) -> bool:
        today = _LOCAL_DATE.getter(ctx)
        if not isinstance(today, int):  # None: no day to test
            return False
        memo = self._memo
        if today not in memo:
            memo[today] = self._compiled.test(today)
        return memo[today]

    def _mask(self, frame: Frame) -> Mask:
        return self._compiled.mask(frame.get(FIELDS["local_date"]))

    def fields(self) -> frozenset[Field]:
        """The reference instant fields.

        >>> sorted(f.name for f in Recurs("FREQ=DAILY").fields())
        ['as_of', 'at']
        """
        return frozenset({FIELDS["at"], FIELDS["as_of"]})

    def __reduce__(self) -> tuple[Any, ...]:
        return (Recurs, (self.rule,))


def _window_days(name: str) -> Any:
    def convert(value: object) -> int:
        try:
            days = check_int(value, name, minimum=0)
        except LoyaltyError as exc:
            raise _rule_error(exc, name, value) from None
        if days > 183:
            raise InvalidRule(f"{name}={days} must be <= 183", field=name, value=days)
        return days

    return convert


def _before(value: object) -> int:
    result: int = _window_days("before")(value)
    return result


def _after(value: object) -> int:
    result: int = _window_days("after")(value)
    return result


def _anniversary_days(
    year: npt.NDArray[np.int64], month: npt.NDArray[np.int64], day: npt.NDArray[np.int64]
) -> npt.NDArray[np.int64]:
    """Day numbers of (year, month, day), Feb 29 -> Feb 28 in common years."""
    return civil_days(year, month, np.minimum(day, days_in_month(year, month)))


@attrs.frozen
class BirthdayWindow(Predicate):
    """The local date is within ``before`` days before to ``after`` days after
    the member's birthday (both included; 0 and 0 = on the day).

    A Feb 29 birthday falls on Feb 28 in common years. No birthday (or no
    member) is False. Windows cross year ends (a Dec 30 birthday with
    ``after=5`` covers Jan 4).

    >>> from datetime import date, datetime, timezone
    >>> from loyaltycore.predicates import Member
    >>> leapling = Member("m", birthday=date(2000, 2, 29))
    >>> on_28th = datetime(2025, 2, 28, 12, tzinfo=timezone.utc)
    >>> BirthdayWindow().test(member=leapling, as_of=on_28th)
    True
    >>> BirthdayWindow().test(member=Member("m"), as_of=on_28th)
    False
    """

    before: int = attrs.field(default=0, converter=_before)
    after: int = attrs.field(default=0, converter=_after)
    tag: ClassVar[str] = "birthday"

    def _test(self, ctx: Context) -> bool:
        today = FIELDS["local_date"].get(ctx)
        member = ctx.member
        if not isinstance(today, int) or member is None or member.birthday is None:
            return False
        day = EPOCH_DATE + timedelta(days=today)
        for year in (day.year - 1, day.year, day.year + 1):
            start = anniversary(member.birthday, year)
            if start - timedelta(days=self.before) <= day <= start + timedelta(days=self.after):
                return True
        return False

    def _mask(self, frame: Frame) -> Mask:
        today = frame.get(FIELDS["local_date"])
        birthday = frame.get(FIELDS["birthday"])
        ok = (today != MISSING_INT) & (birthday != MISSING_INT)
        year = np.where(ok, frame_parts(frame)[0], 1970)
        _, month, day = civil(np.where(ok, birthday, 0))
        out = np.zeros(frame.n, dtype=np.bool_)
        for shift in (-1, 0, 1):
            start = _anniversary_days(year + shift, month, day)
            out |= (start - self.before <= today) & (today <= start + self.after)
        return np.asarray(out & ok, dtype=np.bool_)

    def fields(self) -> frozenset[Field]:
        """The birthday and the reference instant.

        >>> sorted(f.name for f in BirthdayWindow().fields())
        ['as_of', 'at', 'birthday']
        """
        return frozenset({FIELDS["birthday"], FIELDS["at"], FIELDS["as_of"]})


@attrs.frozen
class BirthdayMonth(Predicate):
    """The local month is the month of the member's birthday (no birthday: False).

    >>> from datetime import date, datetime, timezone
    >>> from loyaltycore.predicates import Member
    >>> BirthdayMonth().test(member=Member("m", birthday=date(1990, 5, 31)),
    ...                      as_of=datetime(2024, 5, 1, tzinfo=timezone.utc))
    True
    """

    tag: ClassVar[str] = "birthday_month"

    def _test(self, ctx: Context) -> bool:
        month = FIELDS["month"].get(ctx)
        member = ctx.member
        if month is None or member is None or member.birthday is None:
            return False
        return bool(member.birthday.month == month)

    def _mask(self, frame: Frame) -> Mask:
        month = frame.get(FIELDS["month"])
        birthday = frame.get(FIELDS["birthday"])
        ok = (month != MISSING_INT) & (birthday != MISSING_INT)
        _, born, _ = civil(np.where(ok, birthday, 0))
        return np.asarray(ok & (born == month), dtype=np.bool_)

    def fields(self) -> frozenset[Field]:
        """The birthday and the reference instant.

        >>> sorted(f.name for f in BirthdayMonth().fields())
        ['as_of', 'at', 'birthday']
        """
        return frozenset({FIELDS["birthday"], FIELDS["at"], FIELDS["as_of"]})


# -- member --------------------------------------------------------------------


def _name(field_name: str) -> Any:
    def convert(value: object) -> str:
        if not isinstance(value, str) or not value:
            raise InvalidRule(
                f"{field_name}={value!r} must be a non-empty str", field=field_name, value=value
            )
        return value

    return convert


def _tier_name(value: object) -> str:
    result: str = _name("tier")(value)
    return result


def _segment_name(value: object) -> str:
    result: str = _name("segment")(value)
    return result


def _counter_name(value: object) -> str:
    result: str = _name("counter")(value)
    return result


@attrs.frozen
class TierAtLeast(Predicate):
    """The member's tier is ``tier`` or higher, in the order of the context's
    ``tiers`` (lowest first).

    No tier, a member tier not in the order, or a ``tier`` not in the order
    is False in both engines (a program validates its rules against its
    ladder once, with :func:`walk`, rather than on every event).

    >>> from loyaltycore.predicates import Member
    >>> TierAtLeast("gold").test(member=Member("m", tier="platinum"),
    ...                          tiers=("silver", "gold", "platinum"))
    True
    >>> TierAtLeast("gold").test(member=Member("m", tier="platinum"), tiers=())
    False
    """

    tier: str = attrs.field(converter=_tier_name)
    tag: ClassVar[str] = "tier_at_least"

    def _test(self, ctx: Context) -> bool:
        tiers = ctx.tiers
        tier = FIELDS["tier"].get(ctx)
        if self.tier not in tiers or tier not in tiers:
            return False
        return tiers.index(tier) >= tiers.index(self.tier)

    def _mask(self, frame: Frame) -> Mask:
        if self.tier not in frame.tiers:
            return np.zeros(frame.n, dtype=np.bool_)
        high = frozenset(frame.tiers[frame.tiers.index(self.tier) :])
        return objects_in(frame.get(FIELDS["tier"]), high)

    def fields(self) -> frozenset[Field]:
        """The tier.

        >>> [f.name for f in TierAtLeast("gold").fields()]
        ['tier']
        """
        return frozenset({FIELDS["tier"]})


@attrs.frozen
class InSegment(Predicate):
    """The member is in the segment ``segment`` (``Member.segments``).

    >>> from loyaltycore.predicates import Member
    >>> InSegment("vip").test(member=Member("m", segments={"vip"}))
    True
    """

    segment: str = attrs.field(converter=_segment_name)
    tag: ClassVar[str] = "in_segment"

    def _test(self, ctx: Context) -> bool:
        segments = FIELDS["segments"].get(ctx)
        return isinstance(segments, Container) and self.segment in segments

    def _mask(self, frame: Frame) -> Mask:
        column = frame.get(FIELDS["segments"]).tolist()
        name = self.segment
        return np.fromiter(
            (s is not None and name in s for s in column), dtype=np.bool_, count=frame.n
        )

    def fields(self) -> frozenset[Field]:
        """The segments.

        >>> [f.name for f in InSegment("vip").fields()]
        ['segments']
        """
        return frozenset({FIELDS["segments"]})


@attrs.frozen
class FirstPurchase(Predicate):
    """A purchase by a member whose purchase counter is still 0.

    The host (or the rule engine) keeps ``Member.counters[counter]``, the
    number of purchases already made; a counter never incremented reads 0.
    Equivalent to ``(field("kind") == "purchase") & (field("counters.<counter>") == 0)``.

    >>> from datetime import datetime, timezone
    >>> from loyaltycore.predicates import Event, Member
    >>> e = Event("o", "purchase", datetime(2024, 1, 1, tzinfo=timezone.utc))
    >>> FirstPurchase().test(event=e, member=Member("m"))
    True
    >>> FirstPurchase().test(event=e, member=Member("m", counters={"purchases": 2}))
    False
    """

    counter: str = attrs.field(default="purchases", converter=_counter_name)
    _expr: Predicate = attrs.field(init=False, eq=False, repr=False, hash=False)
    tag: ClassVar[str] = "first_purchase"

    def __attrs_post_init__(self) -> None:
        expr = And(
            (Compare("kind", "==", "purchase"), Compare(f"counters.{self.counter}", "==", 0))
        )
        object.__setattr__(self, "_expr", expr)

    def _test(self, ctx: Context) -> bool:
        return self._expr._test(ctx)

    def _mask(self, frame: Frame) -> Mask:
        return self._expr._mask(frame)

    def fields(self) -> frozenset[Field]:
        """The event kind and the counter.

        >>> sorted(f.name for f in FirstPurchase().fields())
        ['counters.purchases', 'kind']
        """
        return self._expr.fields()

    def __reduce__(self) -> tuple[Any, ...]:
        return (FirstPurchase, (self.counter,))

"""The shared vocabulary (Event, Item, Member), the field registry and contexts.

Private module: the public names are re-exported by :mod:`loyaltycore.predicates`.

Every field a predicate can read is described once here by a :class:`Field`:
its kind, how to read it from a scalar :class:`Context` and which column
(dtype, missing value) holds it in the vectorized form. Scalar getters
return values in *comparison space*:

========  ==========================  ==============================  ============
kind      scalar value                column dtype                    missing
========  ==========================  ==============================  ============
money     ``Decimal`` currency units  int64 minor units               int64 min
instant   int microseconds UTC        int64 microseconds UTC          int64 min
date      int days since 1970-01-01   int64 days since 1970-01-01     int64 min
int       ``int``                     int64                           int64 min
float     ``float``                   float64                         NaN
str       ``str``                     object                          ``None``
bool      ``bool``                    int8 (0/1; bool also accepted)  -1
set       ``frozenset[str]``          object (frozensets)             ``None``
========  ==========================  ==============================  ============

A missing scalar value is ``None``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, ItemsView, Iterable, Iterator, KeysView, Mapping, ValuesView
from datetime import date, datetime, timedelta, tzinfo
from decimal import Decimal
from typing import Any, Final, Literal, TypeAlias, TypeVar, get_args, overload

import attrs
import numpy as np
import numpy.typing as npt

from loyaltycore._validate import (
    DECIMAL_CONTEXT,
    MAX_MONEY,
    check_id,
    check_int,
    check_money,
    check_sequence,
    check_str,
    to_decimal,
    type_name,
)
from loyaltycore.calendar import (
    DAY_US,
    EPOCH,
    EPOCH_DATE,
    MISSING_INT,
    UTC,
    date_parts,
    local_wall_micros,
    to_micros,
    to_utc,
    zone,
)
from loyaltycore.errors import InvalidAmount, InvalidArgument, InvalidColumn, InvalidType

Kind: TypeAlias = Literal["money", "instant", "date", "int", "float", "str", "bool", "set"]
KINDS: Final = frozenset(get_args(Kind))
#: The missing value of int64 columns (money, instants, dates, ints); same bits as NaT.
INT64_MAX: Final = int(np.iinfo(np.int64).max)
ITEM_KINDS: Final = frozenset({"product", "tax", "shipping", "gift_card", "reward"})
ATTRIBUTE_TYPES: Final = (str, int, float, bool, Decimal, type(None))

V = TypeVar("V")
_T = TypeVar("_T")
Attr: TypeAlias = str | int | float | bool | Decimal | None


class FrozenMap(Mapping[str, V]):
    """A read-only, hashable, picklable mapping (attributes and counters).

    >>> m = FrozenMap({"b": 2, "a": 1})
    >>> m["a"], len(m), m == {"a": 1, "b": 2}
    (1, 2, True)
    """

    __slots__ = ("_data",)

    def __init__(self, data: Mapping[str, V] | Iterable[tuple[str, V]] = ()) -> None:
        if type(data) is FrozenMap:  # (already sorted, and never changed: shared)
            self._data: dict[str, V] = data._data
        elif type(data) is dict:
            self._data = dict(sorted(data.items()))
        else:
            self._data = dict(sorted(dict(data).items()))

    def __getitem__(self, key: str) -> V:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __contains__(self, key: object) -> bool:
        return key in self._data

    # (the dict's own views and lookups: read-only, and without the generic
    # Mapping methods' Python-level loop over keys and items)
    def keys(self) -> KeysView[str]:
        return self._data.keys()

    def items(self) -> ItemsView[str, V]:
        return self._data.items()

    def values(self) -> ValuesView[V]:
        return self._data.values()

    @overload
    def get(self, key: str) -> V | None: ...

    @overload
    def get(self, key: str, default: V | _T) -> V | _T: ...

    def get(self, key: str, default: object = None) -> object:
        return self._data.get(key, default)

    def __hash__(self) -> int:
        return hash(frozenset(self._data.items()))

    def __eq__(self, other: object) -> bool:
        if type(other) is FrozenMap:
            return self._data == other._data
        if isinstance(other, Mapping):
            return self._data == dict(other.items())
        return NotImplemented

    def __repr__(self) -> str:
        return f"FrozenMap({self._data!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (FrozenMap, (self._data,))


def _attributes(value: object) -> FrozenMap[Attr]:
    if not isinstance(value, Mapping):
        raise InvalidType(
            f"attributes={value!r} must be a mapping, not {type_name(value)}",
            field="attributes",
            value=value,
        )
    for key, item in value.items():
        check_str(key, "attributes key")
        if not isinstance(item, ATTRIBUTE_TYPES):
            raise InvalidType(
                f"attributes[{key!r}]={item!r} must be str, int, float, bool, Decimal or None,"
                f" not {type_name(item)}",
                field=f"attributes.{key}",
                value=item,
            )
        _check_finite(key, item)
    return value if isinstance(value, FrozenMap) else FrozenMap(value)


def _check_finite(key: str, item: object) -> None:
    """NaN and infinities cannot be compared or written as JSON: refuse them on entry."""
    if isinstance(item, float) and not math.isfinite(item):
        raise InvalidArgument(
            f"attributes[{key!r}]={item!r} must be finite", field=f"attributes.{key}", value=item
        )
    if isinstance(item, Decimal):
        try:
            to_decimal(item, f"attributes[{key!r}]", allow_negative=True)
        except InvalidAmount as exc:
            raise InvalidAmount(str(exc), field=f"attributes.{key}", value=item) from None


def _counters(value: object) -> FrozenMap[int]:
    if not isinstance(value, Mapping):
        raise InvalidType(
            f"counters={value!r} must be a mapping, not {type_name(value)}",
            field="counters",
            value=value,
        )
    for key, item in value.items():
        check_str(key, "counters key")
        check_int(item, f"counters[{key!r}]", minimum=0)
    return value if isinstance(value, FrozenMap) else FrozenMap(value)


def _opt_str(value: object, name: str) -> str | None:
    return None if value is None else check_str(value, name)


def _sku(value: object) -> str:
    return check_id(value, "sku")


def _category(value: object) -> str | None:
    return _opt_str(value, "category")


def _channel(value: object) -> str | None:
    return _opt_str(value, "channel")


def _store(value: object) -> str | None:
    return _opt_str(value, "store")


def _tier(value: object) -> str | None:
    return _opt_str(value, "tier")


def _unit_price(value: object) -> Decimal:
    return check_money(value, "unit_price")


#: The default of the money fields that default to nothing (one object: a
#: converter passes it on without checking it again).
_NO_MONEY: Final = Decimal(0)


def _discount(value: object) -> Decimal:
    return _NO_MONEY if value is _NO_MONEY else check_money(value, "discount")


def _points_paid(value: object) -> Decimal:
    return _NO_MONEY if value is _NO_MONEY else check_money(value, "points_paid")


def _opt_money(value: object) -> Decimal | None:
    return None if value is None else check_money(value, "amount")


def _joined_at(value: object) -> datetime | None:
    return None if value is None else to_utc(value, "joined_at")


def _as_of_utc(value: object) -> datetime | None:
    return None if value is None else to_utc(value, "as_of")


def _event_kind(value: object) -> str:
    return check_id(value, "kind")


def _item_kind(value: object) -> str:
    if value not in ITEM_KINDS:
        raise InvalidArgument(
            f"kind={value!r} must be one of {sorted(ITEM_KINDS)}", field="kind", value=value
        )
    assert isinstance(value, str)
    return value


def _positive_quantity(value: object) -> int:
    return check_int(value, "quantity", minimum=1)


def _earning(value: object) -> bool:
    if not isinstance(value, bool):
        raise InvalidType(
            f"earning={value!r} must be a bool, not {type_name(value)}",
            field="earning",
            value=value,
        )
    return value


@attrs.frozen
class Item:
    """One line of a basket.

    Args:
        sku: the product code (non-empty).
        category: the product category, or ``None``.
        quantity: units bought, an int >= 1.
        unit_price: price of one unit, a ``Decimal`` (from str or int) >= 0.
        discount: the line discount (total for the line, not per unit),
            at most ``quantity * unit_price``.
        kind: what the line is: ``"product"`` (the default), ``"tax"``,
            ``"shipping"``, ``"gift_card"`` (buying a gift card) or
            ``"reward"`` (a reward redeemed with points). Only product lines
            earn, and only product lines count in basket conditions.
        earning: ``False`` flags a product as non-earning (tobacco, a
            prescription, a charity donation ...).

    The part of a basket paid with points is :attr:`Event.points_paid`,
    a basket-level tender prorated like :attr:`Event.discount`.

    >>> Item("SKU-1", "coffee", 2, "3.50", discount="1.00").net
    Decimal('6.00')
    >>> Item("SKU-1", quantity=0)
    Traceback (most recent call last):
    ...
    loyaltycore.errors.InvalidArgument: quantity=0 must be >= 1
    """

    sku: str = attrs.field(converter=_sku)
    category: str | None = attrs.field(default=None, converter=_category)
    quantity: int = attrs.field(default=1, converter=_positive_quantity)
    unit_price: Decimal = attrs.field(default=Decimal(0), converter=_unit_price)
    discount: Decimal = attrs.field(default=_NO_MONEY, converter=_discount)
    kind: str = attrs.field(default="product", converter=_item_kind)
    earning: bool = attrs.field(default=True, converter=_earning)

    _gross: Decimal = attrs.field(init=False, eq=False, repr=False, hash=False)
    _net: Decimal = attrs.field(init=False, eq=False, repr=False, hash=False)

    def __attrs_post_init__(self) -> None:
        gross = DECIMAL_CONTEXT.multiply(Decimal(self.quantity), self.unit_price)
        if gross >= MAX_MONEY:
            raise InvalidAmount(
                f"quantity * unit_price = {self.quantity} * {self.unit_price} must be less"
                " than 10**15",
                field="quantity",
                value=self.quantity,
            )
        if self.discount > gross:
            raise InvalidAmount(
                f"discount={self.discount} must not exceed quantity * unit_price = {gross}",
                field="discount",
                value=self.discount,
            )
        object.__setattr__(self, "_gross", gross)
        object.__setattr__(self, "_net", DECIMAL_CONTEXT.subtract(gross, self.discount))

    @property
    def gross(self) -> Decimal:
        """``quantity * unit_price``, before the line discount.

        >>> Item("A", quantity=3, unit_price="0.99").gross
        Decimal('2.97')
        """
        return self._gross

    @property
    def net(self) -> Decimal:
        """The line total after the line discount (before basket discounts).

        >>> Item("A", quantity=2, unit_price="5", discount="1.5").net
        Decimal('8.5')
        """
        return self._net


def _items(value: object) -> tuple[Item, ...]:
    return check_sequence(value, "items", Item)


def _event_at(value: object) -> datetime:
    return to_utc(value, "at")


@attrs.frozen
class Event:
    """Something a member did: a purchase, a signup, a referral, a review ...

    Args:
        id: the host's id of the event (non-empty).
        kind: ``"purchase"``, ``"signup"``, ``"referral"``, ``"review"`` or
            the host's own kind (non-empty).
        at: when it happened: an aware datetime, stored in UTC.
        amount: the money amount (``Decimal`` from str or int), or ``None``.
        items: the basket, a tuple of :class:`Item`.
        channel: ``"app"``, ``"web"``, ``"store"`` ... or ``None``.
        store: the store id, or ``None``.
        attributes: free host data (str, int, float, bool, Decimal or None
            values), readable as the fields ``attributes.<key>``.
        discount: a basket-level discount, prorated over the items by the
            earning rules.
        points_paid: the part of the basket paid with points (a money
            amount), prorated like ``discount``; it earns nothing.

    >>> from datetime import datetime, timezone
    >>> e = Event("o-1", "purchase", datetime(2024, 5, 1, 12, tzinfo=timezone.utc), "42.50")
    >>> e.amount, e.items
    (Decimal('42.50'), ())
    """

    id: str = attrs.field(converter=check_id)
    kind: str = attrs.field(converter=_event_kind)
    at: datetime = attrs.field(converter=_event_at)
    amount: Decimal | None = attrs.field(default=None, converter=_opt_money)
    items: tuple[Item, ...] = attrs.field(default=(), converter=_items)
    channel: str | None = attrs.field(default=None, converter=_channel)
    store: str | None = attrs.field(default=None, converter=_store)
    attributes: FrozenMap[Attr] = attrs.field(factory=FrozenMap, converter=_attributes)
    discount: Decimal = attrs.field(default=_NO_MONEY, converter=_discount)
    points_paid: Decimal = attrs.field(default=_NO_MONEY, converter=_points_paid)


def _birthday(value: object) -> date | None:
    if value is None:
        return None
    if isinstance(value, datetime) or not isinstance(value, date):
        raise InvalidType(
            f"birthday={value!r} must be a date, not {type_name(value)}",
            field="birthday",
            value=value,
        )
    return value


def _segments(value: object) -> frozenset[str]:
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise InvalidType(
            f"segments={value!r} must be a set of str, not {type_name(value)}",
            field="segments",
            value=value,
        )
    return frozenset(check_str(v, "segments item") for v in value)


@attrs.frozen
class Member:
    """What the program knows of a member when it evaluates a rule.

    Args:
        id: the member id (non-empty).
        joined_at: when the member joined (aware datetime, stored in UTC) or None.
        birthday: a :class:`~datetime.date` (the year is ignored) or None.
        tier: the tier name held now, or None.
        segments: names of the segments the member belongs to.
        attributes: free host data, readable as ``member.attributes.<key>``.
        counters: the non-negative int counters a host keeps for limits
            (``purchases``, ``birthday:2024`` ...), readable as
            ``counters.<key>``; a counter never incremented reads 0.

    >>> from datetime import date
    >>> Member("m-1", birthday=date(2000, 2, 29), tier="gold").tier
    'gold'
    """

    id: str = attrs.field(converter=check_id)
    joined_at: datetime | None = attrs.field(default=None, converter=_joined_at)
    birthday: date | None = attrs.field(default=None, converter=_birthday)
    tier: str | None = attrs.field(default=None, converter=_tier)
    segments: frozenset[str] = attrs.field(factory=frozenset, converter=_segments)
    attributes: FrozenMap[Attr] = attrs.field(factory=FrozenMap, converter=_attributes)
    counters: FrozenMap[int] = attrs.field(factory=FrozenMap, converter=_counters)


def _tiers(value: object) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise InvalidType(
            f"tiers={value!r} must be a sequence of tier names, lowest first",
            field="tiers",
            value=value,
        )
    return tuple(check_str(v, "tiers item") for v in value)


def _exponent(value: object) -> int:
    result = check_int(value, "exponent", minimum=0)
    if result > 9:
        raise InvalidArgument(f"exponent={result} must be <= 9", field="exponent", value=result)
    return result


def _opt_event(value: object) -> Event | None:
    if value is not None and not isinstance(value, Event):
        raise InvalidType(
            f"event={value!r} must be an Event, not {type_name(value)}", field="event", value=value
        )
    return value


def _opt_member(value: object) -> Member | None:
    if value is not None and not isinstance(value, Member):
        raise InvalidType(
            f"member={value!r} must be a Member, not {type_name(value)}",
            field="member",
            value=value,
        )
    return value


@attrs.frozen
class Context:
    """Everything a predicate may read when it tests one case (the scalar engine).

    Args:
        event: the :class:`Event` being evaluated, or None (segments).
        member: the :class:`Member`, or None.
        facts: one member's purchase-history facts (a row of the summary):
            any object with the Summary field names as attributes, or a
            mapping; instants as aware datetimes or int micros (int64 min
            = missing), ``total`` as int minor units.
        as_of: the evaluation time (aware), keyword-only. Calendar
            conditions read the event's ``at``, or ``as_of`` when there is
            no event; None (no event and no ``as_of``) leaves them without a
            day, so they are False.
        tz: the program's IANA zone (local dates, weekdays, birthdays),
            keyword-only.
        tiers: tier names, lowest first, for ``tier_at_least``; keyword-only.
        exponent: the currency exponent (minor units per unit =
            10**exponent); keyword-only.

    >>> Context(tz="Europe/Paris").tz
    zone('Europe/Paris')
    """

    event: Event | None = attrs.field(default=None, converter=_opt_event)
    member: Member | None = attrs.field(default=None, converter=_opt_member)
    facts: object = None
    as_of: datetime | None = attrs.field(default=None, converter=_as_of_utc, kw_only=True)
    tz: tzinfo = attrs.field(default=UTC, converter=zone, kw_only=True)
    tiers: tuple[str, ...] = attrs.field(default=(), converter=_tiers, kw_only=True)
    exponent: int = attrs.field(default=2, converter=_exponent, kw_only=True)
    _cache: dict[str, Any] = attrs.field(
        factory=dict, init=False, repr=False, eq=False, hash=False
    )

    def value(self, name: str) -> object:
        """The scalar value of the registered field ``name`` (None when missing).

        >>> from datetime import datetime, timezone
        >>> e = Event("o-1", "purchase", datetime(2024, 5, 1, 23, tzinfo=timezone.utc))
        >>> Context(e, tz="Asia/Tokyo").value("weekday")  # Thursday in Tokyo
        3
        """
        return lookup(name).get(self)


# -- getters -----------------------------------------------------------------


def _micros(value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return to_micros(value)
    if isinstance(value, int | np.integer) and not isinstance(value, bool):
        result = int(value)
        return None if result == MISSING_INT else result
    raise InvalidType(
        f"{value!r} must be an aware datetime or int micros, not {type_name(value)}",
        value=value,
    )


def _days(value: date | None) -> int | None:
    return None if value is None else (value - EPOCH_DATE).days


def _float(value: object) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise InvalidType(f"{value!r} must be a number, not {type_name(value)}", value=value)
    result = float(value)
    return None if math.isnan(result) else result


def _int(value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise InvalidType(f"{value!r} must be an int, not {type_name(value)}", value=value)
    result = int(value)
    return None if result == MISSING_INT else result


def _fact(name: str) -> Callable[[Context], Any]:
    def get(ctx: Context) -> Any:
        facts = ctx.facts
        if facts is None:
            return None
        if isinstance(facts, Mapping):
            return facts.get(name)
        return getattr(facts, name, None)

    return get


def normalise(kind: str, raw: object, exponent: int) -> Any:
    """A raw scalar (from an object) in comparison space for ``kind``."""
    if raw is None:
        return None
    if kind == "instant":
        return _micros(raw)
    if kind == "float":
        return _float(raw)
    if kind == "int":
        return _int(raw)
    if kind == "money":
        if isinstance(raw, Decimal):
            return raw
        minor = _int(raw)
        return None if minor is None else Decimal(minor).scaleb(-exponent, DECIMAL_CONTEXT)
    if kind == "date":
        if isinstance(raw, date) and not isinstance(raw, datetime):
            return _days(raw)
        return _int(raw)
    if kind == "str" and not isinstance(raw, str):
        raise InvalidType(f"{raw!r} must be a str, not {type_name(raw)}", value=raw)
    if kind == "bool" and not isinstance(raw, bool):
        raise InvalidType(f"{raw!r} must be a bool, not {type_name(raw)}", value=raw)
    return raw


def _reference(ctx: Context) -> datetime | None:
    """The instant calendar conditions look at: the event's ``at``, else ``as_of``."""
    if ctx.event is not None:
        return ctx.event.at
    return ctx.as_of


def _local(ctx: Context) -> datetime | None:
    if "local" not in ctx._cache:
        ref = _reference(ctx)
        ctx._cache["local"] = None if ref is None else ref.astimezone(ctx.tz)
    result: datetime | None = ctx._cache["local"]
    return result


def _local_date(ctx: Context) -> int | None:
    cache = ctx._cache
    if "local_date" not in cache:
        local = _local(ctx)
        cache["local_date"] = None if local is None else (local.date() - EPOCH_DATE).days
    result: int | None = cache["local_date"]
    return result


def _local_part(part: str) -> Callable[[Context], int | None]:
    def get(ctx: Context) -> int | None:
        local = _local(ctx)
        if local is None:
            return None
        return local.weekday() if part == "weekday" else int(getattr(local, part))

    return get


def _days_since_joined(ctx: Context) -> int | None:
    today = _local_date(ctx)
    member = ctx.member
    if today is None or member is None or member.joined_at is None:
        return None
    return today - (member.joined_at.astimezone(ctx.tz).date() - EPOCH_DATE).days


def _item_count(ctx: Context) -> int | None:
    event = ctx.event
    if event is None:
        return None
    return sum(item.quantity for item in event.items if item.kind == "product")


def _event_attr(key: str) -> Callable[[Context], Any]:
    def get(ctx: Context) -> Any:
        return None if ctx.event is None else ctx.event.attributes.get(key)

    return get


def _member_attr(key: str) -> Callable[[Context], Any]:
    def get(ctx: Context) -> Any:
        return None if ctx.member is None else ctx.member.attributes.get(key)

    return get


def _counter(key: str) -> Callable[[Context], int | None]:
    def get(ctx: Context) -> int | None:
        return None if ctx.member is None else ctx.member.counters.get(key, 0)

    return get


def _event_get(name: str) -> Callable[[Context], Any]:
    def get(ctx: Context) -> Any:
        return None if ctx.event is None else getattr(ctx.event, name)

    return get


def _member_get(name: str) -> Callable[[Context], Any]:
    def get(ctx: Context) -> Any:
        return None if ctx.member is None else getattr(ctx.member, name)

    return get


_ONE_US: Final = timedelta(microseconds=1)


def _at_micros(ctx: Context) -> int | None:
    event = ctx.event
    return None if event is None else (event.at - EPOCH) // _ONE_US


def _joined_micros(ctx: Context) -> int | None:
    member = ctx.member
    if member is None or member.joined_at is None:
        return None
    return (member.joined_at - EPOCH) // _ONE_US


def _as_of(ctx: Context) -> datetime | None:
    return ctx.as_of


Source: TypeAlias = Literal["event", "member", "facts", "context", "derived"]
#: Scalar types already in comparison space, per kind (the fast path of Field.get).
#: Ints and floats are not listed: their missing values (int64 min, NaN) must become None.
_AS_IS: Final[dict[str, tuple[type, ...]]] = {
    "money": (Decimal,),
    "instant": (),
    "date": (),
    "int": (),
    "float": (),
    "str": (str,),
    "bool": (bool,),
    "set": (frozenset,),
}


@attrs.frozen
class Field:
    """One readable field: its name, kind, where it comes from, and its getters.

    ``source`` is ``"event"``, ``"member"`` or ``"facts"`` (an encoded column
    of that name), ``"context"`` (``as_of``) or ``"derived"`` (computed in
    both engines from other fields, e.g. ``weekday`` from ``at`` in the
    program zone). Fields of the registry are listed in :data:`FIELDS`;
    ``attributes.<key>``, ``member.attributes.<key>`` and
    ``counters.<key>`` are made on demand by :func:`lookup`.

    >>> lookup("amount").kind, lookup("frequency").source
    ('money', 'facts')
    """

    name: str
    kind: str
    source: str
    doc: str
    getter: Callable[[Context], object] = attrs.field(eq=False, repr=False)
    #: The getter already returns comparison-space values (validated objects).
    exact: bool = attrs.field(default=False, eq=False, repr=False)

    @property
    def fast(self) -> Callable[[Context], object]:
        """The cheapest callable giving :meth:`get`'s result (for node construction).

        >>> lookup("tier").fast(Context()) is None
        True
        """
        return self.getter if self.exact else self.get

    def get(self, ctx: Context) -> object:
        """The scalar value of this field in ``ctx``, normalised (None = missing).

        >>> lookup("amount").get(Context())
        """
        raw = self.getter(ctx)
        if self.exact:
            return raw
        if raw is None or raw.__class__ in _AS_IS[self.kind]:
            return raw
        try:
            return normalise(self.kind, raw, ctx.exponent)
        except InvalidType as exc:
            raise InvalidType(f"field {self.name!r}: {exc}", field=self.name, value=raw) from None

    def __reduce__(self) -> tuple[Any, ...]:
        return (lookup, (self.name, self.kind))


def _registry() -> dict[str, Field]:
    specs: list[tuple[str, str, str, str, Callable[[Context], Any]]] = [
        ("event_id", "str", "event", "the event id", _event_get("id")),
        ("kind", "str", "event", "the event kind", _event_get("kind")),
        ("at", "instant", "event", "when the event happened", _at_micros),
        ("amount", "money", "event", "the event amount", _event_get("amount")),
        ("discount", "money", "event", "the basket-level discount", _event_get("discount")),
        ("points_paid", "money", "event", "the part paid with points", _event_get("points_paid")),
        ("channel", "str", "event", "the sales channel", _event_get("channel")),
        ("store", "str", "event", "the store id", _event_get("store")),
        ("item_count", "int", "event", "units of product lines in the basket", _item_count),
        ("member_id", "str", "member", "the member id", _member_get("id")),
        ("joined_at", "instant", "member", "when the member joined", _joined_micros),
        (
            "birthday",
            "date",
            "member",
            "the member's birthday",
            lambda c: None if c.member is None else _days(c.member.birthday),
        ),
        ("tier", "str", "member", "the tier held now", _member_get("tier")),
        ("segments", "set", "member", "segments the member is in", _member_get("segments")),
        ("as_of", "instant", "context", "the evaluation time", _as_of),
        ("local_date", "date", "derived", "local date of at (or as_of)", _local_date),
        ("weekday", "int", "derived", "local weekday, Monday = 0", _local_part("weekday")),
        ("day", "int", "derived", "local day of the month", _local_part("day")),
        ("month", "int", "derived", "local month, 1-12", _local_part("month")),
        ("year", "int", "derived", "local year", _local_part("year")),
        ("hour", "int", "derived", "local hour, 0-23", _local_part("hour")),
        (
            "days_since_joined",
            "int",
            "derived",
            "local days from joined_at to at (or as_of)",
            _days_since_joined,
        ),
    ]
    facts = [
        ("first", "instant", "first purchase"),
        ("previous", "instant", "previous purchase (missing with one purchase day)"),
        ("last", "instant", "last purchase"),
        ("count", "int", "number of transactions"),
        ("frequency", "int", "repeat purchases: distinct purchase days - 1"),
        ("recency", "float", "last - first, in the summary unit"),
        ("T", "float", "as_of - first, in the summary unit"),
        ("days_since_last", "float", "local days from the last purchase to as_of"),
        ("monetary", "float", "mean repeat-purchase value, currency units"),
        ("total", "money", "total spend (int minor units in facts)"),
        ("aov", "float", "average order value, currency units"),
        ("median_gap", "float", "median days between purchase days"),
        ("categories", "int", "distinct categories bought"),
    ]
    fixed = {
        name: Field(name, kind, source, doc, get, exact=source != "context")
        for name, kind, source, doc, get in specs
    }
    fixed.update({name: Field(name, kind, "facts", doc, _fact(name)) for name, kind, doc in facts})
    return fixed


#: The field registry: every fixed field name a predicate can read.
FIELDS: Final[Mapping[str, Field]] = _registry()

_DYNAMIC: Final = {
    "attributes.": ("event", _event_attr),
    "member.attributes.": ("member", _member_attr),
}
_DYNAMIC_CACHE: dict[tuple[str, str], Field] = {}


def check_kind(kind: object) -> str:
    """Return ``kind`` if it is a field kind."""
    if kind not in KINDS:
        raise InvalidArgument(
            f"kind={kind!r} must be one of {sorted(KINDS)}", field="kind", value=kind
        )
    assert isinstance(kind, str)
    return kind


def lookup(name: object, kind: object = None) -> Field:
    """The :class:`Field` called ``name``.

    Fixed fields come from :data:`FIELDS` (``kind`` must then be None or
    their own kind). ``attributes.<key>`` (event) and
    ``member.attributes.<key>`` take a ``kind`` (default ``"str"``);
    ``counters.<key>`` is an int.

    >>> lookup("attributes.visits", "int")
    Field(name='attributes.visits', kind='int', source='event', doc='event attribute visits')
    >>> lookup("amout")
    Traceback (most recent call last):
    ...
    loyaltycore.errors.InvalidArgument: field='amout' is not a known field; ...
    """
    if not isinstance(name, str):
        raise InvalidType(
            f"field={name!r} must be a str, not {type_name(name)}", field="field", value=name
        )
    if name in FIELDS:
        spec = FIELDS[name]
        if kind is not None and kind != spec.kind:
            raise InvalidArgument(
                f"kind={kind!r} does not match field {name!r} of kind {spec.kind!r}",
                field="kind",
                value=kind,
            )
        return spec
    wanted = "str" if kind is None else check_kind(kind)
    for prefix, (source, make) in _DYNAMIC.items():
        key = name[len(prefix) :]
        if name.startswith(prefix) and key:
            if wanted == "set":
                raise InvalidArgument(
                    f"kind='set' is not allowed for {name!r}", field="kind", value=kind
                )
            return _dynamic(name, wanted, source, f"{source} attribute {key}", make(key))
    if name.startswith("counters.") and len(name) > len("counters."):
        if kind not in (None, "int"):
            raise InvalidArgument(
                f"kind={kind!r} does not match counter {name!r} of kind 'int'",
                field="kind",
                value=kind,
            )
        key = name[len("counters.") :]
        return _dynamic(name, "int", "member", f"member counter {key}", _counter(key), exact=True)
    raise InvalidArgument(
        f"field={name!r} is not a known field; known: {', '.join(sorted(FIELDS))},"
        " attributes.<key>, member.attributes.<key>, counters.<key>",
        field="field",
        value=name,
    )


def _dynamic(
    name: str,
    kind: str,
    source: str,
    doc: str,
    getter: Callable[[Context], Any],
    *,
    exact: bool = False,
) -> Field:
    key = (name, kind)
    if key not in _DYNAMIC_CACHE:
        _DYNAMIC_CACHE[key] = Field(name, kind, source, doc, getter, exact=exact)
    return _DYNAMIC_CACHE[key]


# -- columns -----------------------------------------------------------------

Array: TypeAlias = npt.NDArray[Any]


class Frame:
    """Columns plus the evaluation parameters (the vectorized engine's context).

    ``columns`` maps field names to numpy arrays, one row per case; money is
    int64 minor units, instants int64 microseconds UTC, dates int64 days
    since 1970-01-01 (missing: int64 min), floats float64 (missing: NaN),
    text and sets object arrays (missing: None), booleans int8 (missing: -1).
    Basket columns are ``items.*`` (see :func:`encode`). Derived columns
    (``local_date``, ``weekday`` ...) are computed once per frame and
    cached, so many predicates can share one frame.

    Args:
        columns: field name -> array.
        tz: the program's IANA zone.
        as_of: the evaluation time (aware), broadcast as the ``as_of`` column;
            None: a missing ``as_of`` column (conditions reading it are False).
        tiers: tier names, lowest first.
        exponent: the currency exponent of money columns.
        size: the number of rows, when ``columns`` is empty.

    >>> import numpy as np
    >>> frame = Frame({"frequency": np.array([1, 5])}, tz="Europe/Paris")
    >>> frame.n, frame.tz
    (2, zone('Europe/Paris'))
    """

    __slots__ = ("as_of", "cache", "columns", "exponent", "n", "tiers", "tz")

    def __init__(
        self,
        columns: Mapping[str, npt.ArrayLike],
        *,
        tz: str | tzinfo = "UTC",
        as_of: datetime | None = None,
        tiers: Iterable[str] = (),
        exponent: int = 2,
        size: int | None = None,
    ) -> None:
        if not isinstance(columns, Mapping):
            raise InvalidType(
                f"columns must be a mapping of field name to array, not {type_name(columns)}",
                field="columns",
                value=type(columns),
            )
        self.columns = columns
        self.tz = zone(tz)
        self.as_of = None if as_of is None else to_micros(to_utc(as_of, "as_of"))
        self.tiers = _tiers(tiers)
        self.exponent = _exponent(exponent)
        self.cache: dict[str, Array] = {}
        self.n = self._size(size)

    def _size(self, size: int | None) -> int:
        if size is not None:
            return check_int(size, "size", minimum=0)
        for name, column in self.columns.items():
            if not name.startswith("items."):
                return len(np.asarray(column))
        if "items.offsets" in self.columns:
            return len(np.asarray(self.columns["items.offsets"])) - 1
        raise InvalidColumn(
            "columns is empty: pass size= to say how many rows", field="columns", value=0
        )

    def raw(self, name: str) -> Array:
        """A stored column, checked for length (``items.*`` columns are not).

        >>> import numpy as np
        >>> Frame({"tier": np.array(["gold"], dtype=object)}).raw("tier")
        array(['gold'], dtype=object)
        """
        if name not in self.columns:
            raise InvalidColumn(f"columns has no {name!r} column", field=name, value=None)
        array = np.asarray(self.columns[name])
        if name.startswith("items.") or array.ndim == 0:
            return array
        if array.shape != (self.n,):
            raise InvalidColumn(
                f"column {name!r} has shape {array.shape}, expected ({self.n},)",
                field=name,
                value=array.shape,
            )
        return array

    def get(self, spec: Field) -> Array:
        """The column of ``spec`` in its canonical dtype (derived ones computed).

        >>> import numpy as np
        >>> Frame({"at": np.array([0])}, tz="Asia/Tokyo").get(lookup("hour"))
        array([9])
        """
        if spec.name not in self.cache:
            self.cache[spec.name] = self._column(spec)
        return self.cache[spec.name]

    def _column(self, spec: Field) -> Array:
        if spec.source == "derived":
            return _DERIVED[spec.name](self)
        if spec.name == "as_of" and "as_of" not in self.columns:
            value = MISSING_INT if self.as_of is None else self.as_of
            return np.full(self.n, value, dtype=np.int64)
        return canonical(spec, self.raw(spec.name))


def canonical(spec: Field, array: Array) -> Array:
    """``array`` as the canonical dtype of ``spec.kind``, or InvalidColumn."""
    kind, name = spec.kind, spec.name
    if kind in ("money", "instant", "date", "int"):
        if array.dtype.kind not in "iu":
            raise InvalidColumn(
                f"column {name!r} must be an integer array ({kind}), not {array.dtype}",
                field=name,
                value=array.dtype,
            )
        return array.astype(np.int64, copy=False)
    if kind == "float":
        if array.dtype.kind not in "fiu":
            raise InvalidColumn(
                f"column {name!r} must be a float array, not {array.dtype}",
                field=name,
                value=array.dtype,
            )
        return array.astype(np.float64, copy=False)
    if kind == "bool":
        if array.dtype.kind == "b":
            return array.astype(np.int8)
        if array.dtype.kind not in "iu":
            raise InvalidColumn(
                f"column {name!r} must be a bool or int8 array, not {array.dtype}",
                field=name,
                value=array.dtype,
            )
        return array.astype(np.int8, copy=False)
    if array.dtype.kind not in "OUT":
        raise InvalidColumn(
            f"column {name!r} must be an object array ({kind}), not {array.dtype}",
            field=name,
            value=array.dtype,
        )
    return array.astype(object, copy=False)


def missing(spec: Field, array: Array) -> npt.NDArray[np.bool_]:
    """Where ``array`` (canonical dtype for ``spec``) holds the missing value."""
    kind = spec.kind
    if kind in ("money", "instant", "date", "int"):
        return np.asarray(array == MISSING_INT)
    if kind == "float":
        return np.isnan(array)
    if kind == "bool":
        return np.asarray(array < 0)
    return np.asarray(array == None)  # noqa: E711 (elementwise on object arrays)


def _reference_micros(frame: Frame) -> npt.NDArray[np.int64]:
    """``at`` where there is an event (``at`` is never missing on one), else ``as_of``."""
    as_of = frame.get(FIELDS["as_of"])
    if "at" not in frame.columns:
        return as_of
    at = frame.get(FIELDS["at"])
    return np.where(at == MISSING_INT, as_of, at)


def local_wall(frame: Frame, micros: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """Wall-clock micros in the frame's zone; missing stays missing."""
    ok = micros != MISSING_INT
    out = np.full(micros.shape, MISSING_INT, dtype=np.int64)
    out[ok] = local_wall_micros(micros[ok], tz=frame.tz)
    return out


def _wall(frame: Frame) -> npt.NDArray[np.int64]:
    if "@wall" not in frame.cache:
        frame.cache["@wall"] = local_wall(frame, _reference_micros(frame))
    return frame.cache["@wall"]


def _floor_days(wall: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    ok = wall != MISSING_INT
    out = np.full(wall.shape, MISSING_INT, dtype=np.int64)
    out[ok] = wall[ok] // DAY_US
    return out


def _derived_local_date(frame: Frame) -> npt.NDArray[np.int64]:
    return _floor_days(_wall(frame))


def frame_parts(frame: Frame) -> tuple[Array, Array, Array]:
    """Cached (year, month, day) of the frame's local dates."""
    if "@parts" not in frame.cache:
        parts = date_parts(frame.get(FIELDS["local_date"]))
        frame.cache["@year"], frame.cache["@month"], frame.cache["@day"] = parts
        frame.cache["@parts"] = np.empty(0)
    return frame.cache["@year"], frame.cache["@month"], frame.cache["@day"]


def _derived_part(part: str) -> Callable[[Frame], Array]:
    def column(frame: Frame) -> Array:
        days = frame.get(FIELDS["local_date"])
        ok = days != MISSING_INT
        if part == "weekday":
            return np.where(ok, (days + 3) % 7, MISSING_INT)
        if part == "hour":
            wall = _wall(frame)
            return np.where(ok, (wall % DAY_US) // 3_600_000_000, MISSING_INT)
        year, month, day = frame_parts(frame)
        return {"year": year, "month": month, "day": day}[part]

    return column


def _derived_days_since_joined(frame: Frame) -> Array:
    today = frame.get(FIELDS["local_date"])
    joined = _floor_days(local_wall(frame, frame.get(FIELDS["joined_at"])))
    ok = (today != MISSING_INT) & (joined != MISSING_INT)
    return np.where(ok, today - np.where(ok, joined, 0), MISSING_INT)


_DERIVED: Final[dict[str, Callable[[Frame], Array]]] = {
    "local_date": _derived_local_date,
    "weekday": _derived_part("weekday"),
    "day": _derived_part("day"),
    "month": _derived_part("month"),
    "year": _derived_part("year"),
    "hour": _derived_part("hour"),
    "days_since_joined": _derived_days_since_joined,
}

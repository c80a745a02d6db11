"""Objects to columns: the encoder of the vectorized engine.

Private module: :func:`encode` is re-exported by :mod:`loyaltycore.predicates`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

import numpy as np
import numpy.typing as npt

from loyaltycore._validate import DECIMAL_CONTEXT, check_int, type_name
from loyaltycore.calendar import MISSING_INT
from loyaltycore.errors import InvalidArgument, InvalidColumn, InvalidType
from loyaltycore.predicates._fields import (
    FIELDS,
    INT64_MAX,
    Context,
    Event,
    Field,
    Member,
    lookup,
)

Array = npt.NDArray[Any]


def minor_units(amount: Decimal, exponent: int, name: str = "amount") -> int:
    """``amount`` in int minor units; refuses amounts finer than the minor unit.

    >>> minor_units(Decimal("12.34"), 2)
    1234
    >>> minor_units(Decimal("0.005"), 2)
    Traceback (most recent call last):
    ...
    loyaltycore.errors.InvalidColumn: amount=0.005 has more decimals than the currency exponent 2
    """
    scaled = amount.scaleb(exponent, DECIMAL_CONTEXT)
    whole = scaled.to_integral_value(context=DECIMAL_CONTEXT)
    if scaled != whole:
        raise InvalidColumn(
            f"{name}={amount} has more decimals than the currency exponent {exponent}",
            field=name,
            value=amount,
        )
    result = int(whole)
    if not MISSING_INT < result <= INT64_MAX:
        raise InvalidColumn(f"{name}={amount} does not fit int64 minor units", field=name)
    return result


def _column(spec: Field, values: list[Any], exponent: int) -> Array:
    kind = spec.kind
    if kind == "money":
        ints = [MISSING_INT if v is None else minor_units(v, exponent, spec.name) for v in values]
        return np.array(ints, dtype=np.int64)
    if kind in ("instant", "date", "int"):
        for v in values:
            if v is not None and not MISSING_INT < v <= INT64_MAX:
                raise InvalidColumn(f"{spec.name}={v} does not fit int64", field=spec.name)
        return np.array([MISSING_INT if v is None else v for v in values], dtype=np.int64)
    if kind == "float":
        return np.array([np.nan if v is None else v for v in values], dtype=np.float64)
    if kind == "bool":
        return np.array([-1 if v is None else int(v) for v in values], dtype=np.int8)
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


def _items(events: Sequence[Event | None], exponent: int) -> dict[str, Array]:
    offsets = [0]
    rows: list[int] = []
    sku: list[str] = []
    category: list[str | None] = []
    quantity: list[int] = []
    unit_price: list[int] = []
    discount: list[int] = []
    net: list[int] = []
    kind: list[str] = []
    earning: list[bool] = []
    for row, event in enumerate(events):
        for item in () if event is None else event.items:
            rows.append(row)
            sku.append(item.sku)
            category.append(item.category)
            quantity.append(item.quantity)
            unit_price.append(minor_units(item.unit_price, exponent, "unit_price"))
            discount.append(minor_units(item.discount, exponent, "discount"))
            net.append(minor_units(item.net, exponent, "net"))
            kind.append(item.kind)
            earning.append(item.earning)
        offsets.append(len(rows))

    def objects(values: list[Any]) -> Array:
        out = np.empty(len(values), dtype=object)
        out[:] = values
        return out

    return {
        "items.offsets": np.array(offsets, dtype=np.int64),
        "items.row": np.array(rows, dtype=np.int64),
        "items.sku": objects(sku),
        "items.category": objects(category),
        "items.quantity": np.array(quantity, dtype=np.int64),
        "items.unit_price": np.array(unit_price, dtype=np.int64),
        "items.discount": np.array(discount, dtype=np.int64),
        "items.net": np.array(net, dtype=np.int64),
        "items.kind": objects(kind),
        "items.earning": np.array(earning, dtype=np.bool_),
    }


def _length(name: str, values: Sequence[Any] | None, n: int | None) -> int | None:
    if values is None:
        return n
    if n is not None and len(values) != n:
        raise InvalidArgument(
            f"{name} has {len(values)} rows, expected {n}", field=name, value=len(values)
        )
    return len(values)


def _check_all(name: str, values: Sequence[Any], cls: type[Any]) -> None:
    for i, value in enumerate(values):
        if value is not None and not isinstance(value, cls):
            raise InvalidType(
                f"{name}[{i}]={value!r} must be a {cls.__name__} or None, not {type_name(value)}",
                field=name,
                value=value,
            )


def _specs(sources: set[str], fields: Iterable[str | Field]) -> list[Field]:
    specs = [spec for spec in FIELDS.values() if spec.source in sources]
    for wanted in fields:
        spec = wanted if isinstance(wanted, Field) else lookup(wanted)
        if spec.source in ("derived", "context"):
            continue
        if spec.source not in sources:
            raise InvalidArgument(
                f"field {spec.name!r} needs {spec.source} rows to encode",
                field="fields",
                value=spec.name,
            )
        if spec not in specs:
            specs.append(spec)
    return specs


def encode(
    events: Sequence[Event | None] | None = None,
    members: Sequence[Member | None] | None = None,
    facts: Sequence[object] | None = None,
    *,
    fields: Iterable[str | Field] = (),
    exponent: int = 2,
) -> dict[str, Array]:
    """Columns for rows of events, members and facts (row ``i`` of each together).

    Every registered field of the given sources is encoded (``at``,
    ``amount`` ... for events; ``tier``, ``birthday`` ... for members; the
    Summary fields for facts), plus the attribute and counter fields named in
    ``fields`` (pass ``predicate.fields()``). Events also give the basket
    columns: ``items.offsets`` (n + 1 int64: items of row ``i`` are
    ``offsets[i]:offsets[i+1]``), ``items.row``, ``items.sku``,
    ``items.category``, ``items.quantity``, ``items.unit_price``,
    ``items.discount``, ``items.net`` (money as int64 minor units),
    ``items.kind`` and ``items.earning``. A ``None`` row encodes as missing.

    Args:
        events: a sequence of :class:`Event` (or None), or None.
        members: a sequence of :class:`Member` (or None), or None.
        facts: a sequence of facts (objects or mappings), or None.
        fields: extra (attribute, counter) fields to encode.
        exponent: the currency exponent for money columns.

    Returns:
        A dict of field name to numpy array.

    Raises:
        InvalidColumn: an amount finer than the minor unit, or too large.
        InvalidArgument: sequences of different lengths, a field that needs
            rows that were not given.

    >>> from datetime import datetime, timezone
    >>> at = datetime(2024, 5, 1, tzinfo=timezone.utc)
    >>> cols = encode([Event("o-1", "purchase", at, "9.99")], fields=["attributes.promo"])
    >>> cols["amount"], cols["attributes.promo"]
    (array([999]), array([None], dtype=object))
    """
    exponent = check_int(exponent, "exponent", minimum=0)
    n: int | None = None
    n = _length("events", events, n)
    n = _length("members", members, n)
    n = _length("facts", facts, n)
    if n is None:
        raise InvalidArgument("encode needs events, members or facts", field="events")
    ev: Sequence[Event | None] = events if events is not None else [None] * n
    mem: Sequence[Member | None] = members if members is not None else [None] * n
    fa: Sequence[Any] = facts if facts is not None else [None] * n
    _check_all("events", ev, Event)
    _check_all("members", mem, Member)
    sources = {
        name
        for name, given in (("event", events), ("member", members), ("facts", facts))
        if given is not None
    }
    contexts = [Context(e, m, f, exponent=exponent) for e, m, f in zip(ev, mem, fa, strict=True)]
    out = {
        spec.name: _column(spec, [spec.get(c) for c in contexts], exponent)
        for spec in _specs(sources, fields)
    }
    if events is not None:
        out.update(_items(ev, exponent))
    return out

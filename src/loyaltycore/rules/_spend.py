"""Eligible spend: what part of a basket earns, in integer minor units.

Only product lines earn; tax, shipping, gift cards and reward lines earn
nothing, nor do products flagged ``earning=False``. A line's net is
``quantity x unit price - line discount`` in minor units; an amount finer
than the minor unit is refused (:class:`~loyaltycore.errors.InvalidAmount`
naming the field), as the columnar encoding refuses it. The basket-level
``discount`` and the part paid with points (``points_paid``) are prorated
over all product lines by net value with the cumulative-floor rule of
:func:`~loyaltycore.rules._math.prorate`, then subtracted; a line never
goes below zero. An event without items earns on its ``amount`` less
``discount`` and ``points_paid``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from loyaltycore.errors import InvalidAmount
from loyaltycore.rules._math import SAFE, minor_units, prorate

I64 = npt.NDArray[np.int64]


def _line_net(item: Any, index: int, exponent: int) -> int:
    """The net minor units of one product line, naming the line's field that is too fine."""
    try:
        return minor_units(item.net, exponent)
    except InvalidAmount:
        minor_units(item.unit_price, exponent, f"items[{index}].unit_price")
        minor_units(item.discount, exponent, f"items[{index}].discount")
        raise


def line_nets(items: Sequence[Any], exponent: int) -> list[int]:
    """Net minor units of each line (0 for lines that are not products).

    Raises:
        InvalidAmount: a unit price or line discount (of any line, as the
            columnar encoding) finer than the minor unit.
    """
    nets = [_line_net(item, i, exponent) for i, item in enumerate(items)]
    return [net if item.kind == "product" else 0 for item, net in zip(items, nets, strict=True)]


def line_eligible(event: Any, exponent: int) -> list[int]:
    """Eligible minor units per item line of ``event`` (after prorating)."""
    nets = line_nets(event.items, exponent)
    whole = sum(nets)
    discount = prorate(nets, min(minor_units(event.discount, exponent, "discount"), whole))
    paid = prorate(nets, min(minor_units(event.points_paid, exponent, "points_paid"), whole))
    out = []
    for item, net, d, p in zip(event.items, nets, discount, paid, strict=True):
        earns = item.kind == "product" and item.earning
        out.append(max(0, net - d - p) if earns else 0)
    return out


def eligible(event: Any, exponent: int) -> int:
    """The eligible spend of one event, in minor units.

    >>> from datetime import datetime, timezone
    >>> from loyaltycore.predicates import Event, Item
    >>> at = datetime(2024, 5, 1, tzinfo=timezone.utc)
    >>> basket = (Item("A", unit_price="30"), Item("B", unit_price="10"),
    ...           Item("T", kind="tax", unit_price="4"))
    >>> eligible(Event("o", "purchase", at, items=basket, discount="8"), 2)
    3200
    """
    if not event.items:
        if event.amount is None:
            return 0
        total = minor_units(event.amount, exponent, "amount")
        if event.discount or event.points_paid:
            total -= minor_units(event.discount, exponent, "discount")
            total -= minor_units(event.points_paid, exponent, "points_paid")
        return max(0, total)
    return sum(line_eligible(event, exponent))


def _per_event(values: I64, offsets: I64) -> I64:
    """Sum of ``values`` over each event's item rows (0 for an empty basket)."""
    cum = np.concatenate((np.zeros(1, dtype=np.int64), np.cumsum(values, dtype=np.int64)))
    result: I64 = cum[offsets[1:]] - cum[offsets[:-1]]
    return result


def _segment_cumsum(values: I64, offsets: I64) -> tuple[I64, I64]:
    """Inclusive cumulative sum within each event, and each row's event total."""
    counts = np.diff(offsets)
    cum = np.cumsum(values, dtype=np.int64)
    base = np.concatenate((np.zeros(1, dtype=np.int64), cum))[offsets[:-1]]
    within = cum - np.repeat(base, counts)
    return within, np.repeat(_per_event(values, offsets), counts)


def _floor_ratio(amount: I64, part: I64, whole: I64) -> I64:
    """``amount * part // whole`` (0 where ``whole`` is 0), exact beyond int64."""
    if int(amount.max(initial=0)) * int(whole.max(initial=0)) >= SAFE:
        values = [
            a * c // w if w > 0 else 0
            for a, c, w in zip(amount.tolist(), part.tolist(), whole.tolist(), strict=True)
        ]
        return np.array(values, dtype=np.int64)
    safe_whole = np.where(whole > 0, whole, 1)
    return np.where(whole > 0, amount * part // safe_whole, 0)


def _prorate_rows(weights: I64, offsets: I64, totals: I64) -> I64:
    """Vectorized :func:`prorate` of ``totals`` (one per event) over item rows."""
    if weights.size == 0:
        return np.zeros(0, dtype=np.int64)
    cum, whole = _segment_cumsum(weights, offsets)
    amount = np.repeat(totals, np.diff(offsets))
    return _floor_ratio(amount, cum, whole) - _floor_ratio(amount, cum - weights, whole)


def eligible_column(columns: Mapping[str, Any], n: int) -> I64:
    """Eligible spend (int64 minor units) of ``n`` encoded events.

    Reads ``items.offsets``, ``items.kind``, ``items.earning``,
    ``items.net`` (money in minor units) and the event columns ``amount``, ``discount``,
    ``points_paid``. Events with no item rows earn on their amount.
    """
    zeros = np.zeros(n, dtype=np.int64)
    discount = _money(columns, "discount", zeros)
    paid = _money(columns, "points_paid", zeros)
    amount = _money(columns, "amount", zeros)
    flat: I64 = np.maximum(amount - discount - paid, 0)
    if "items.offsets" not in columns:
        return flat
    offsets = np.asarray(columns["items.offsets"], dtype=np.int64)
    counts = np.diff(offsets)
    kind = np.asarray(columns["items.kind"], dtype=object)
    product = np.asarray(kind == "product", dtype=np.bool_)
    nets = np.where(product, np.asarray(columns["items.net"], dtype=np.int64), 0)
    whole = _per_event(nets, offsets)
    d_share = _prorate_rows(nets, offsets, np.minimum(discount, whole))
    p_share = _prorate_rows(nets, offsets, np.minimum(paid, whole))
    earning = np.asarray(columns["items.earning"]).astype(np.bool_) & product
    line = np.where(earning, np.maximum(nets - d_share - p_share, 0), 0)
    return np.where(counts > 0, _per_event(line, offsets), flat)


def _money(columns: Mapping[str, Any], name: str, default: I64) -> I64:
    if name not in columns:
        return default
    values = np.asarray(columns[name], dtype=np.int64)
    return np.where(values == np.iinfo(np.int64).min, 0, values)

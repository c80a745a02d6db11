"""Pricing an order and a refund: money in the program currency, caps, clawback.

Money of an order in another currency is converted with the rate the host
supplies (program units per order unit), each value rounded once, half-even,
to the program's minor unit. The rules then see the order in the program
currency; the order keeps its own currency and rate for refunds by amount.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Final

import attrs

from loyaltycore._validate import (
    DECIMAL_CONTEXT,
    check_id,
    check_int,
    check_sequence,
    to_decimal,
)
from loyaltycore.accounts._program import Program
from loyaltycore.accounts._values import AwardResult, OrderRecord, Tender
from loyaltycore.errors import InvalidAmount, InvalidArgument, InvalidType
from loyaltycore.predicates import Event, Item
from loyaltycore.rules import POINTS, Evaluation, Reversal, Rule


def items(value: object) -> tuple[Item, ...]:
    """Check an order's lines."""
    return check_sequence(value, "lines", Item)


def tenders(value: object) -> tuple[Tender, ...]:
    """Check an order's tenders."""
    return check_sequence(value, "tenders", Tender)


def refund_items(value: object) -> dict[str, int] | None:
    """Check the units returned per sku."""
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise InvalidType(
            f"items={value!r} must be a mapping of sku to units", field="items", value=value
        )
    out = {}
    for sku, units in sorted(value.items()):
        check_id(sku, "items key")
        out[sku] = check_int(units, f"items[{sku!r}]", minimum=1)
    if not out:
        raise InvalidArgument("items={} returns nothing", field="items", value=value)
    return out


def rate(currency: str, value: object, program: Program) -> Decimal | None:
    """The exchange rate for ``currency``: required unless it is the program's."""
    if currency == program.currency:
        if value is not None and to_decimal(value, "rate") != 1:
            raise InvalidArgument(
                f"rate={value!r} given for the program's own currency {currency}",
                field="rate",
                value=value,
            )
        return None
    if value is None:
        raise InvalidArgument(
            f"currency={currency!r} is not the program's {program.currency}: pass rate=",
            field="rate",
            value=None,
        )
    found = to_decimal(value, "rate")
    if found <= 0:
        raise InvalidAmount(f"rate={value!r} must be positive", field="rate", value=value)
    return found


def quantum(exponent: int) -> Decimal:
    return Decimal(1).scaleb(-exponent)


def convert(amount: Decimal, rate: Decimal | None, exponent: int) -> Decimal:
    """``amount`` in the program currency, rounded once to its minor unit."""
    if rate is None:
        return amount
    value = DECIMAL_CONTEXT.multiply(amount, rate)
    return value.quantize(quantum(exponent), rounding="ROUND_HALF_EVEN", context=DECIMAL_CONTEXT)


def basket_total(lines: Sequence[Item], discount: Decimal) -> Decimal:
    """What the lines cost after line discounts and the basket discount."""
    total = Decimal(0)
    for item in lines:
        total = DECIMAL_CONTEXT.add(total, item.net)
    return DECIMAL_CONTEXT.subtract(total, discount)


@attrs.frozen
class Priced:
    """An order as the rules see it, with the money checks done."""

    event: Event
    total: Decimal
    tendered: int


def price(
    *,
    id: str,
    occurred: datetime,
    lines: tuple[Item, ...],
    amount: Decimal | None,
    paid: tuple[Tender, ...],
    rate_: Decimal | None,
    discount: Decimal,
    channel: str | None,
    store: str | None,
    attributes: Mapping[str, object],
    program: Program,
) -> Priced:
    """Check the money of an order and build the rules' event in the program currency."""
    if not lines and amount is None:
        raise InvalidArgument("an order needs lines= or amount=", field="lines", value=())
    basket = basket_total(lines, discount) if lines else None
    if basket is not None and basket < 0:
        raise InvalidAmount(
            f"discount={discount} is more than the lines cost", field="discount", value=discount
        )
    total = amount if amount is not None else basket
    assert total is not None
    if paid:
        paid_total = sum((t.amount for t in paid), Decimal(0))
        if paid_total != total:
            raise InvalidAmount(
                f"tenders add up to {paid_total}, not the order total {total}",
                field="tenders",
                value=paid_total,
            )
    points_money, tendered = _points_tendered(paid) if paid else (_ZERO, 0)
    exp = program.exponent

    def money(value: Decimal) -> Decimal:
        return convert(value, rate_, exp)

    converted = (
        tuple(
            attrs.evolve(item, unit_price=money(item.unit_price), discount=money(item.discount))
            for item in lines
        )
        if rate_ is not None
        else lines
    )
    event = Event(
        id,
        "purchase",
        occurred,
        None if amount is None else money(amount),
        items=converted,
        channel=channel,
        store=store,
        attributes=attributes,
        discount=money(discount),
        points_paid=money(points_money),
    )
    return Priced(event, total, tendered)


#: Money no tender paid (Decimals are immutable: one serves).
_ZERO: Final[Decimal] = Decimal(0)


def _points_tendered(paid: tuple[Tender, ...]) -> tuple[Decimal, int]:
    """The money the points tenders cover and the points they redeem."""
    points = [t for t in paid if t.kind == "points"]
    return sum((t.amount for t in points), Decimal(0)), sum(t.points or 0 for t in points)


def money_basis(event: Event) -> Decimal:
    """The money of an event a refund is a share of: its lines' net, or its amount."""
    if event.items:
        return basket_total(event.items, Decimal(0))
    return event.amount if event.amount is not None else Decimal(0)


# -- caps -------------------------------------------------------------------------


def apply_caps(
    evaluation: Evaluation,
    member: str,
    program: Program,
    usage: Mapping[str, int],
    occurred: datetime,
) -> tuple[tuple[int, ...], tuple[tuple[str, ...], ...], tuple[str | None, ...], dict[str, int]]:
    """Grant each award line in rule-set order under the member-wide caps.

    The caps count per period of the order's local day (business time,
    ``occurred``, in the program's zone). Returns, per line, the points
    granted, the cap usage keys it counts towards and the cap that cut it;
    and the usage added per key.
    """
    raw = evaluation.raw
    if not program.caps:
        return tuple(line[1] for line in raw), ((),) * len(raw), (None,) * len(raw), {}
    day = occurred.astimezone(program.zone).date()
    rules = {rule.id: rule for rule in program.rule_set.rules}
    granted: list[int] = []
    keys_of: list[tuple[str, ...]] = []
    cut_by: list[str | None] = []
    added: dict[str, int] = {}
    for rule_id, amount, currency, recipient, _, _ in raw:
        rule: Rule = rules[rule_id]
        if currency != POINTS or recipient != member:
            granted.append(amount)
            keys_of.append(())
            cut_by.append(None)
            continue
        give, cut, keys = amount, None, []
        for cap in program.caps:
            if not cap.covers(rule):
                continue
            key = f"{cap.id}/{cap.label(day)}"
            keys.append(key)
            room = max(0, cap.points - usage.get(key, 0) - added.get(key, 0))
            if room < give:
                give, cut = room, cap.id if cut is None else cut
        for key in keys:
            added[key] = added.get(key, 0) + give
        granted.append(give)
        keys_of.append(tuple(keys))
        cut_by.append(cut)
    return tuple(granted), tuple(keys_of), tuple(cut_by), {k: v for k, v in added.items() if v}


def results(
    evaluation: Evaluation, granted: tuple[int, ...], cut_by: tuple[str | None, ...]
) -> tuple[AwardResult, ...]:
    """The outcome's award lines (redeemable points, every recipient).

    Equal lines are one shared value: an account keeps an outcome per
    command in its window, and orders of the same basket award the same
    lines, so most of them cost neither a construction nor a kept object.
    """
    return _lines(
        tuple(
            (rule, currency, recipient, amount, granted[i], cut_by[i])
            for i, (rule, amount, currency, recipient, _, _) in enumerate(evaluation.raw)
            if currency == POINTS
        )
    )


@functools.lru_cache(maxsize=4096)
def _lines(
    fields: tuple[tuple[str, str, str, int, int, str | None], ...],
) -> tuple[AwardResult, ...]:
    return tuple(AwardResult(*line) for line in fields)


def award_lines(
    fields: tuple[tuple[str, str, str, int, int, str | None], ...],
) -> tuple[AwardResult, ...]:
    """The award lines of their field tuples (rule, currency, recipient, points, granted, cap)."""
    return _lines(fields)


def earn_groups(
    evaluation: Evaluation, member: str, granted: tuple[int, ...]
) -> tuple[list[tuple[int, datetime | None, datetime | None]], tuple[int, ...]]:
    """Granted member points grouped by (available_at, expires_at), in line order.

    Returns the groups (points, available_at, expires_at) and, per line,
    the group that holds it (-1: none).
    """
    groups: list[tuple[int, datetime | None, datetime | None]] = []
    index: dict[tuple[int, int | None], int] = {}
    line_group: list[int] = []
    at = evaluation.event.at
    # (the dates of a line are its event's instant plus its pending and expiry days)
    for i, (_, _, currency, recipient, pending, expiry) in enumerate(evaluation.raw):
        if currency != POINTS or recipient != member or not granted[i]:
            line_group.append(-1)
            continue
        k = index.get((pending, expiry))
        if k is None:
            k = index[(pending, expiry)] = len(groups)
            groups.append(
                (
                    0,
                    at + timedelta(days=pending) if pending else None,
                    None if expiry is None else at + timedelta(days=expiry),
                )
            )
        points, avail, expires = groups[k]
        groups[k] = (points + granted[i], avail, expires)
        line_group.append(k)
    return groups, tuple(line_group)


# -- refunds ------------------------------------------------------------------------


def losses(evaluation: Evaluation, reversal: Reversal) -> list[int]:
    """What each award line of the original loses, as :meth:`RuleSet.reverse` counts it."""
    if reversal.remaining is None:
        return [line.points for line in evaluation.lines]
    after: dict[tuple[str, str, str], int] = {}
    for line in reversal.remaining.lines:
        key = (line.rule, line.recipient, line.currency)
        after[key] = after.get(key, 0) + line.points
    out = []
    for line in evaluation.lines:
        key = (line.rule, line.recipient, line.currency)
        keep = min(after.get(key, 0), line.points)
        after[key] = after.get(key, 0) - keep
        out.append(line.points - keep)
    return out


def claw_targets(record: OrderRecord, evaluation: Evaluation, lost: list[int]) -> tuple[int, ...]:
    """Per line, what the order should have taken back in all after this refund.

    A member keeps ``min(granted, what the remaining basket earns)``: an
    award a cap had cut loses only what the cap let through beyond that.
    Never less than what earlier refunds took.
    """
    raw = evaluation.raw
    out = []
    for i, (_, amount, _, _, _, _) in enumerate(raw):
        entitled = amount - lost[i]
        target = max(0, record.granted[i] - entitled)
        done = record.clawed[i] if record.clawed else 0
        out.append(max(target, done))
    return tuple(out)


def share(whole: int, part: Decimal, total: Decimal) -> int:
    """``whole * part / total`` rounded half-even (all of it when ``part == total``)."""
    if total <= 0 or part >= total:
        return whole
    value = DECIMAL_CONTEXT.divide(DECIMAL_CONTEXT.multiply(Decimal(whole), part), total)
    return int(value.to_integral_value(rounding="ROUND_HALF_EVEN", context=DECIMAL_CONTEXT))

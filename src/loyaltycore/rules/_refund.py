"""Refunds: the event that remains after returning some items, and the clawback.

Returning ``r`` of ``q`` units of a line keeps ``q - r`` units and the same
share of the line discount (rounded half-even to the minor unit). The
basket discount and the part paid with points shrink in proportion to the
product net that remains; the event amount drops by the net of the returned
units. The rule set then evaluates the remaining event for the member as it
was before the original event, and the clawback of each award is what it
loses (never negative: a refund does not add awards).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import TYPE_CHECKING

import attrs

from loyaltycore._validate import DECIMAL_CONTEXT, check_id, check_int, check_money
from loyaltycore.errors import InvalidArgument, InvalidType, NotFound, OverReversal
from loyaltycore.predicates import Event, Item

if TYPE_CHECKING:
    from loyaltycore.tiers import Activity
from loyaltycore.rules._math import minor_units
from loyaltycore.rules._model import AwardLine, Evaluation, activity_source


def _quantum(exponent: int) -> Decimal:
    return Decimal(1).scaleb(-exponent)


def _share(value: Decimal, part: Decimal, whole: Decimal, exponent: int) -> Decimal:
    if whole == 0:
        return Decimal(0)
    scaled = DECIMAL_CONTEXT.divide(DECIMAL_CONTEXT.multiply(value, part), whole)
    return scaled.quantize(_quantum(exponent), rounding="ROUND_HALF_EVEN", context=DECIMAL_CONTEXT)


def _check_refund(refunded: object, event: Event) -> dict[str, int]:
    if not isinstance(refunded, Mapping):
        raise InvalidType(
            f"refunded_items={refunded!r} must be a mapping of sku to units",
            field="refunded_items",
            value=refunded,
        )
    bought: dict[str, int] = {}
    for item in event.items:
        bought[item.sku] = bought.get(item.sku, 0) + item.quantity
    out: dict[str, int] = {}
    for sku, units in refunded.items():
        check_id(sku, "refunded_items key")
        check_int(units, f"refunded_items[{sku!r}]", minimum=1)
        if sku not in bought:
            raise NotFound(
                f"refunded_items[{sku!r}]: the event {event.id!r} has no such sku",
                field="refunded_items",
                value=sku,
            )
        if units > bought[sku]:
            raise OverReversal(
                f"refunded_items[{sku!r}]={units} is more than the {bought[sku]} bought",
                field="refunded_items",
                value=units,
            )
        out[sku] = units
    return out


def remaining_event(
    event: Event,
    refunded_items: Mapping[str, int] | None,
    refunded_amount: object,
    exponent: int,
) -> Event | None:
    """The event as it stands after the refund; None when nothing remains."""
    if refunded_items is None and refunded_amount is None:
        return None
    if refunded_amount is not None:
        if event.items:
            raise InvalidArgument(
                "refunded_amount is for events without items; pass refunded_items",
                field="refunded_amount",
                value=refunded_amount,
            )
        back = check_money(refunded_amount, "refunded_amount")
        minor_units(back, exponent, "refunded_amount")
        amount = event.amount if event.amount is not None else Decimal(0)
        if back > amount:
            raise OverReversal(
                f"refunded_amount={back} is more than the amount {amount}",
                field="refunded_amount",
                value=back,
            )
        if back == amount:
            return None
        return attrs.evolve(event, amount=DECIMAL_CONTEXT.subtract(amount, back))
    todo = _check_refund(refunded_items, event)
    items: list[Item] = []
    removed = Decimal(0)
    before = after = Decimal(0)
    for item in event.items:
        take = min(todo.get(item.sku, 0), item.quantity)
        if take:
            todo[item.sku] -= take
        keep = item.quantity - take
        if item.kind == "product":
            before += item.net
        if keep == 0:
            removed += item.net
            continue
        discount = _share(item.discount, Decimal(keep), Decimal(item.quantity), exponent)
        new = attrs.evolve(item, quantity=keep, discount=discount)
        removed += item.net - new.net
        if item.kind == "product":
            after += new.net
        items.append(new)
    if not items:
        return None
    # An event without an amount keeps none (its spend comes from the items).
    left: Decimal | None = None
    if event.amount is not None:
        left = max(Decimal(0), DECIMAL_CONTEXT.subtract(event.amount, removed))
    return attrs.evolve(
        event,
        items=tuple(items),
        amount=left,
        discount=_share(event.discount, after, before, exponent),
        points_paid=_share(event.points_paid, after, before, exponent),
    )


@attrs.frozen
class Reversal:
    """What a refund takes back: the clawback per award and the counter decrements.

    ``clawback`` has one line per award that shrinks, with the points to take
    back (the host reverses them on the recipient's ledger); ``decrements``
    are the limit counters to lower; ``remaining`` is the evaluation of what
    is left of the event (None after a full refund, which takes back every
    award, fixed bonuses included). Made by
    :meth:`loyaltycore.rules.RuleSet.reverse`.

    >>> from datetime import datetime, timezone
    >>> from loyaltycore.predicates import Event, Member
    >>> from loyaltycore.rules import FixedPoints, Rule, RuleSet
    >>> rs = RuleSet([Rule("bonus", None, FixedPoints(5))])
    >>> done = rs.evaluate(Event("o", "purchase", datetime(2024, 1, 1, tzinfo=timezone.utc), "9"),
    ...                    Member("m"))
    >>> rs.reverse(done).points
    5
    """

    original: Evaluation = attrs.field(repr=False)
    remaining: Evaluation | None = attrs.field(repr=False)
    clawback: tuple[AwardLine, ...]
    decrements: Mapping[str, int]
    budget_decrements: Mapping[str, int]

    @property
    def points(self) -> int:
        """Redeemable points to take back from the event's member."""
        member_id = self.original.member.id
        return sum(
            line.points
            for line in self.clawback
            if line.currency == "points" and line.recipient == member_id
        )

    @property
    def activity(self) -> tuple[Activity, ...]:
        """Negative tier activity reversing the member's lost tier-metric awards."""
        from loyaltycore.tiers import Activity

        event = self.original.event
        member_id = self.original.member.id
        return tuple(
            Activity(
                line.currency,
                -line.points,
                event.at,
                activity_source(event.id, line.rule) + ":refund",
                reverses=activity_source(event.id, line.rule),
            )
            for line in self.clawback
            if line.currency != "points" and line.recipient == member_id
        )


def _totals(lines: tuple[AwardLine, ...]) -> dict[tuple[str, str, str], int]:
    out: dict[tuple[str, str, str], int] = {}
    for line in lines:
        key = (line.rule, line.recipient, line.currency)
        out[key] = out.get(key, 0) + line.points
    return out


def _less(before: Mapping[str, int], after: Mapping[str, int]) -> dict[str, int]:
    out = {}
    for key, value in before.items():
        lost = value - after.get(key, 0)
        if lost > 0:
            out[key] = lost
    return out


def reversal(original: Evaluation, remaining: Evaluation | None) -> Reversal:
    """Compare the original evaluation with the one of the remaining event."""
    if remaining is None:
        return Reversal(
            original,
            None,
            original.lines,
            dict(original.increments),
            dict(original.budget_increments),
        )
    after = _totals(remaining.lines)
    clawback = []
    for line in original.lines:
        key = (line.rule, line.recipient, line.currency)
        keep = min(after.get(key, 0), line.points)
        after[key] = after.get(key, 0) - keep
        if line.points - keep > 0:
            clawback.append(attrs.evolve(line, points=line.points - keep))
    return Reversal(
        original,
        remaining,
        tuple(clawback),
        _less(original.increments, remaining.increments),
        _less(original.budget_increments, remaining.budget_increments),
    )

"""Return on a campaign: incremental margin less the points it gave and its fixed costs.

All arithmetic is Decimal in the library's context, from int minor units and
int points, so the result does not depend on float rounding:

    spend lift      = mean net spend (treatment) - mean net spend (control)
    incremental     = spend lift x treated members         (net of returns)
    margin          = incremental x margin rate
    points lift     = mean points (treatment) - mean points (control)
    extra points    = points lift x treated members        (the liability created, in points)
    points cost     = extra points x cost per point x expected redemption rate
    net             = margin - points cost - fixed costs
    roi             = net / (points cost + fixed costs)

The money totals are rounded once to the currency's minor unit
(ROUND_HALF_EVEN) before ``net`` is formed, so the reported parts add up.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

import attrs
import numpy as np
import numpy.typing as npt

from loyaltycore._validate import DECIMAL_CONTEXT, check_int, to_decimal
from loyaltycore.campaigns._arrays import (
    I64,
    arm_mask,
    check_length,
    column,
    need_members,
)
from loyaltycore.errors import InvalidAmount, InvalidColumn, InvalidType


@attrs.frozen
class Roi:
    """A campaign's return, with every input it was computed from.

    Money fields are Decimal currency units; ``spend_lift`` and
    ``points_lift`` are per treated member; ``extra_points`` is the points
    liability the campaign created (in points) and ``points_cost`` its value
    at ``cost_per_point`` x ``redemption_rate``. ``roi`` is None when the
    campaign cost nothing.

    >>> r = roi([5000, 7000, 4000, 4000], [60, 80, 40, 40], ["treatment"] * 2 + ["control"] * 2,
    ...         margin="0.3", cost_per_point="0.01", redemption_rate="0.6", fixed_costs="1")
    >>> r.incremental_spend, r.extra_points, r.net, r.roi
    (Decimal('40.00'), Decimal('60'), Decimal('10.64'), Decimal('7.8235'))
    """

    members_treated: int
    members_control: int
    exponent: int
    spend_lift: Decimal
    returns_lift: Decimal | None
    incremental_spend: Decimal
    margin: Decimal
    incremental_margin: Decimal
    points_lift: Decimal
    extra_points: Decimal
    cost_per_point: Decimal
    redemption_rate: Decimal
    points_cost: Decimal
    fixed_costs: Decimal
    net: Decimal
    roi: Decimal | None


def _ints(values: Any, name: str, n: int | None) -> I64:
    array = column(values, name)
    if n is not None:
        check_length(array, n, name, "arm")
    if array.dtype.kind not in "iu":
        raise InvalidType(
            f"{name} must be an int column (minor units or points), not {array.dtype}",
            field=name,
            value=str(array.dtype),
        )
    return array.astype(np.int64)


def _rate(value: object, name: str) -> Decimal:
    rate = to_decimal(value, name)
    if rate > 1:
        raise InvalidAmount(f"{name}={value!r} must be between 0 and 1", field=name, value=value)
    return rate


def _gaps(
    values: I64, treated: np.ndarray[Any, Any], factor: Decimal = Decimal(1)
) -> tuple[Decimal, Decimal]:
    """(mean(treated) - mean(control), that gap x treated members x ``factor``).

    The total is formed as (sum(treated) x n_c - sum(control) x n_t) x factor
    / n_c: every multiplication first and one division last, so it is exact
    whenever it terminates, and a value exactly halfway between two cents
    stays exactly halfway for the one rounding that follows.
    """
    ctx = DECIMAL_CONTEXT
    t, c = values[treated], values[~treated]
    sum_t, sum_c = Decimal(int(t.sum(dtype=object))), Decimal(int(c.sum(dtype=object)))
    n_t, n_c = Decimal(len(t)), Decimal(len(c))
    per_member = ctx.subtract(ctx.divide(sum_t, n_t), ctx.divide(sum_c, n_c))
    numerator = ctx.subtract(ctx.multiply(sum_t, n_c), ctx.multiply(sum_c, n_t))
    total = ctx.divide(ctx.multiply(numerator, factor), n_c)
    return per_member, total


def roi(
    spend: npt.ArrayLike,
    points: npt.ArrayLike,
    arm: npt.ArrayLike,
    *,
    margin: Decimal | str | int,
    cost_per_point: Decimal | str | int,
    redemption_rate: Decimal | str | int,
    fixed_costs: Decimal | str | int = 0,
    returns: npt.ArrayLike | None = None,
    exponent: int = 2,
) -> Roi:
    """The campaign's incremental margin less its points cost and fixed costs.

    Args:
        spend: each assigned member's spend over the read-out window, in int
            minor units, net of returns unless ``returns`` is given
            (``Windows.during + Windows.post[:, j]``).
        points: the points each member earned over the same window (int).
        arm: ``"treatment"`` / ``"control"`` labels or bools.
        margin: the gross margin rate on incremental spend, in [0, 1].
        cost_per_point: what a redeemed point costs the program (currency).
        redemption_rate: the share of this campaign's points expected to be
            redeemed (1 - breakage), in [0, 1].
        fixed_costs: creative, media and set-up costs (currency).
        returns: optional returned value per member (int minor units, >= 0),
            subtracted from ``spend``.
        exponent: the currency's decimals (2 for cents).

    Returns:
        A :class:`Roi` with every input and intermediate figure.

    Raises:
        InvalidType: float money or a float column.
        InvalidAmount: a negative cost, a rate above 1.
        EmptyArm: an arm with no member.

    >>> r = roi([5000, 7000, 4000, 4000], [60, 80, 40, 40], [True, True, False, False],
    ...         margin="0.3", cost_per_point="0.01", redemption_rate="0.6")
    >>> r.spend_lift, r.incremental_margin, r.points_cost, r.net
    (Decimal('20.00'), Decimal('12.00'), Decimal('0.36'), Decimal('11.64'))
    """
    treated = arm_mask(arm)
    n = len(treated)
    net_spend = _ints(spend, "spend", n)
    earned = _ints(points, "points", n)
    need_members(int(treated.sum()), 1, "treatment", "roi")
    need_members(int((~treated).sum()), 1, "control", "roi")
    exp = check_int(exponent, "exponent", minimum=0)
    margin_ = _rate(margin, "margin")
    redeem = _rate(redemption_rate, "redemption_rate")
    per_point = to_decimal(cost_per_point, "cost_per_point")
    fixed = to_decimal(fixed_costs, "fixed_costs")
    returns_lift = None
    if returns is not None:
        back = _ints(returns, "returns", n)
        if (back < 0).any():
            row = int(np.flatnonzero(back < 0)[0])
            raise InvalidColumn(
                f"returns[{row}]={int(back[row])} must be >= 0", field="returns", row=row
            )
        returns_lift = DECIMAL_CONTEXT.scaleb(_gaps(back, treated)[0], -exp)
        net_spend = net_spend - back
    ctx = DECIMAL_CONTEXT
    cent = Decimal(1).scaleb(-exp)

    def money(value: Decimal) -> Decimal:
        return value.quantize(cent, rounding=ROUND_HALF_EVEN, context=ctx)

    spend_gap, spend_total = _gaps(net_spend, treated)
    spend_lift = ctx.scaleb(spend_gap, -exp)
    incremental = money(ctx.scaleb(spend_total, -exp))
    gross = money(ctx.multiply(incremental, margin_))
    points_lift, extra = _gaps(earned, treated)
    points_cost = money(_gaps(earned, treated, ctx.multiply(per_point, redeem))[1])
    net = ctx.subtract(ctx.subtract(gross, points_cost), fixed)
    spent = ctx.add(points_cost, fixed)
    ratio = None
    if spent > 0:
        ratio = ctx.divide(net, spent).quantize(Decimal("0.0001"), ROUND_HALF_EVEN, ctx)
    return Roi(
        members_treated=int(treated.sum()),
        members_control=int((~treated).sum()),
        exponent=exp,
        spend_lift=spend_lift,
        returns_lift=returns_lift,
        incremental_spend=incremental,
        margin=margin_,
        incremental_margin=gross,
        points_lift=points_lift,
        extra_points=extra,
        cost_per_point=per_point,
        redemption_rate=redeem,
        points_cost=points_cost,
        fixed_costs=fixed,
        net=net,
        roi=ratio,
    )

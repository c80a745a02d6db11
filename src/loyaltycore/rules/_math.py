"""Exact integer arithmetic shared by the scalar and vectorized rule engines.

Money enters both engines as integer minor units and rates as exact
fractions, so "money times rate, rounded once with a named mode" is an
integer division with a rounding rule. The scalar engine calls the Python-int
functions, the batch engine the numpy ones; both implement the same formulas,
which is why they agree to the point.

>>> div_round(250, 100, "ROUND_HALF_EVEN"), div_round(350, 100, "ROUND_HALF_EVEN")
(2, 4)
>>> prorate([300, 100], 100)
[75, 25]
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from fractions import Fraction
from typing import Final

import numpy as np
import numpy.typing as npt

from loyaltycore._validate import DECIMAL_CONTEXT
from loyaltycore.errors import InvalidAmount

I64 = npt.NDArray[np.int64]

#: Rounding mode names as accepted everywhere money becomes points.
_MODES: Final = (
    "ROUND_DOWN",
    "ROUND_UP",
    "ROUND_FLOOR",
    "ROUND_CEILING",
    "ROUND_HALF_UP",
    "ROUND_HALF_DOWN",
    "ROUND_HALF_EVEN",
)

_SCALE: Final = tuple(Decimal(10) ** k for k in range(10))

#: Products above this fall back to Python ints in the vectorized engine.
SAFE: Final = 2**62


def ratio(value: Decimal) -> tuple[int, int]:
    """``value`` as an exact ``(numerator, denominator)`` pair, lowest terms.

    >>> ratio(Decimal("1.50"))
    (3, 2)
    """
    frac = Fraction(value)
    return frac.numerator, frac.denominator


def div_round(n: int, d: int, mode: str) -> int:
    """``n / d`` for ``n >= 0``, ``d > 0``, rounded with the decimal ``mode``.

    >>> div_round(5, 2, "ROUND_HALF_UP"), div_round(5, 2, "ROUND_HALF_DOWN")
    (3, 2)
    """
    if mode in ("ROUND_DOWN", "ROUND_FLOOR"):
        return n // d
    if mode in ("ROUND_UP", "ROUND_CEILING"):
        return -((-n) // d)
    if mode == "ROUND_HALF_UP":
        return (2 * n + d) // (2 * d)
    if mode == "ROUND_HALF_DOWN":
        return (2 * n + d - 1) // (2 * d)
    q, r = divmod(n, d)
    twice = 2 * r
    return q + (1 if twice > d or (twice == d and q % 2 == 1) else 0)


def div_round_array(n: I64, d: int, mode: str) -> I64:
    """Vectorized :func:`div_round`: same formulas on int64 arrays."""
    if mode in ("ROUND_DOWN", "ROUND_FLOOR"):
        return n // d
    if mode in ("ROUND_UP", "ROUND_CEILING"):
        return -((-n) // d)
    if mode == "ROUND_HALF_UP":
        return (2 * n + d) // (2 * d)
    if mode == "ROUND_HALF_DOWN":
        return (2 * n + d - 1) // (2 * d)
    q: I64
    r: I64
    q, r = np.divmod(n, d)
    twice = 2 * r
    # ndarray == is typed as returning Any in numpy's stubs.
    up: npt.NDArray[np.bool_] = (twice > d) | ((twice == d) & (q % 2 == 1))
    return q + up.astype(np.int64)


def scale_round(n: int, num: int, den: int, mode: str) -> int:
    """``n * num / den`` rounded once (all ints, ``n, num >= 0``)."""
    return div_round(n * num, den, mode)


def scale_round_array(n: I64, num: int, den: int, mode: str) -> I64:
    """Vectorized :func:`scale_round`; exact even when ``n * num`` leaves int64."""
    if n.size == 0:
        return np.zeros(0, dtype=np.int64)
    if den == 1 and num == 1:
        return n
    top = int(n.max()) * num if num else 0
    if den == 1 and top < SAFE:
        return n * num
    if 2 * (top + den) < SAFE:
        return div_round_array(n * num, den, mode)
    values = [div_round(int(v) * num, den, mode) for v in n.tolist()]
    return np.array(values, dtype=np.int64)


def minor_units(amount: Decimal, exponent: int, name: str = "amount") -> int:
    """A money amount as integer minor units; amounts finer than the minor unit are refused.

    >>> minor_units(Decimal("19.99"), 2)
    1999
    >>> minor_units(Decimal("19.995"), 2)
    Traceback (most recent call last):
    ...
    loyaltycore.errors.InvalidAmount: amount=19.995 has more decimals than the currency exponent 2
    """
    scaled = amount * _SCALE[exponent] if exponent < len(_SCALE) else None
    if scaled is not None:
        whole = int(scaled)
        if whole == scaled:
            return whole
    scaled = DECIMAL_CONTEXT.scaleb(amount, exponent)
    whole = int(scaled.to_integral_value(context=DECIMAL_CONTEXT))
    if whole != scaled:
        raise InvalidAmount(
            f"{name}={amount} has more decimals than the currency exponent {exponent}",
            field=name,
            value=amount,
        )
    return whole


def prorate(weights: Sequence[int], total: int) -> list[int]:
    """Split ``total`` over non-negative ``weights`` by cumulative flooring.

    Share ``i`` is ``floor(total * C_i / W) - floor(total * C_{i-1} / W)``
    where ``C`` is the running sum of weights: the shares add up to ``total``
    exactly, are proportional within one minor unit, and the same rule runs
    vectorized. A zero total weight gives zero shares.

    >>> prorate([1, 1, 1], 100)
    [33, 33, 34]
    """
    whole = sum(weights)
    if whole <= 0 or total == 0:
        return [0] * len(weights)
    shares = []
    before = 0
    running = 0
    for w in weights:
        running += w
        upto = total * running // whole
        shares.append(upto - before)
        before = upto
    return shares


def modes() -> tuple[str, ...]:
    """The rounding mode names, in a fixed order."""
    return _MODES

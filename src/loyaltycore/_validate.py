"""Boundary checks shared by every module.

Public functions validate their arguments here, once, and build internal
values through private constructors afterwards. Each check names the argument
and the value in its error.
"""

from __future__ import annotations

import decimal
import importlib
import math
from collections.abc import Iterable
from decimal import Decimal
from types import ModuleType
from typing import Any, Final, TypeVar, overload

import numpy as np
import numpy.typing as npt

from loyaltycore.errors import (
    InvalidAmount,
    InvalidArgument,
    InvalidPoints,
    InvalidType,
    LoyaltyError,
    MissingDependency,
)

#: Every Decimal operation in the library runs in this context, so a host's
#: global context (``getcontext().prec = 4``) cannot change a result.
DECIMAL_CONTEXT: Final = decimal.Context(
    prec=34,
    rounding=decimal.ROUND_HALF_EVEN,
    Emin=-999_999,
    Emax=999_999,
    traps=[decimal.InvalidOperation, decimal.DivisionByZero, decimal.Overflow],
)

#: Rounding modes accepted wherever money becomes points, by their decimal name.
ROUNDING_MODES: Final = frozenset(
    {
        decimal.ROUND_DOWN,
        decimal.ROUND_UP,
        decimal.ROUND_FLOOR,
        decimal.ROUND_CEILING,
        decimal.ROUND_HALF_UP,
        decimal.ROUND_HALF_DOWN,
        decimal.ROUND_HALF_EVEN,
    }
)

#: The largest points quantity one command may carry (fits int64 columns).
MAX_POINTS: Final = 2**53

#: Every Decimal the library accepts is below this magnitude, so no handful of
#: operations in :data:`DECIMAL_CONTEXT` can overflow it (thresholds may still
#: lie far beyond any real amount).
MAX_DECIMAL: Final = Decimal(10) ** 100
#: A money amount of an event or a basket line is below this (a quadrillion
#: units of any currency): a line total ``quantity * unit_price`` then stays
#: exact in :data:`DECIMAL_CONTEXT`.
MAX_MONEY: Final = Decimal(10) ** 15
#: The most decimal places a money amount may have (the largest currency exponent).
MAX_PLACES: Final = 9


def type_name(value: object) -> str:
    """The type name used in messages."""
    return type(value).__name__


def _as_int(value: object, name: str, label: str) -> int:
    """``value`` as a Python int if it is a Python or numpy integer (not a bool)."""
    if isinstance(value, int | np.integer) and not isinstance(value, bool):
        return int(value)
    raise InvalidType(
        f"{name}={value!r} must be {label}, not {type_name(value)}", field=name, value=value
    )


def check_int(
    value: object,
    name: str,
    *,
    minimum: int | None = None,
    maximum: int | None = None,
    error: type[LoyaltyError] = InvalidArgument,
) -> int:
    """Return ``value`` as an int if it is a Python or numpy integer within bounds.

    Bools (Python's and numpy's), floats, Decimals and strings are refused
    with :class:`InvalidType`; a value outside ``[minimum, maximum]`` with
    ``error`` (a policy raises :class:`~loyaltycore.errors.InvalidRule`).

    >>> import numpy as np
    >>> check_int(3, "days", minimum=0), check_int(np.int64(3), "days")
    (3, 3)
    >>> check_int(True, "days")
    Traceback (most recent call last):
    ...
    loyaltycore.errors.InvalidType: days=True must be an int, not bool
    >>> check_int(400, "days", maximum=366)
    Traceback (most recent call last):
    ...
    loyaltycore.errors.InvalidArgument: days=400 must be <= 366
    """
    if type(value) is not int:
        value = _as_int(value, name, "an int")
    if minimum is not None and value < minimum:
        raise error(f"{name}={value!r} must be >= {minimum}", field=name, value=value)
    if maximum is not None and value > maximum:
        raise error(f"{name}={value!r} must be <= {maximum}", field=name, value=value)
    return value


def check_points(value: object, name: str = "points") -> int:
    """Return ``value`` as an int if it is a positive number of points.

    Python and numpy integers are taken; floats, bools (Python's and numpy's),
    Decimals and strings are refused with :class:`InvalidType`; zero, negative
    and absurdly large numbers with :class:`InvalidPoints`.

    >>> import numpy as np
    >>> check_points(250), check_points(np.int32(250))
    (250, 250)
    >>> check_points(-5)
    Traceback (most recent call last):
    ...
    loyaltycore.errors.InvalidPoints: points=-5 must be a positive int
    """
    if type(value) is not int:
        value = _as_int(value, name, "a positive int")
    if value <= 0:
        raise InvalidPoints(f"{name}={value!r} must be a positive int", field=name, value=value)
    if value > MAX_POINTS:
        raise InvalidPoints(f"{name}={value!r} must be at most 2**53", field=name, value=value)
    return value


def check_id(value: object, name: str = "id") -> str:
    """Return ``value`` if it is a non-empty str.

    >>> check_id("ord-1")
    'ord-1'
    >>> check_id("")
    Traceback (most recent call last):
    ...
    loyaltycore.errors.InvalidArgument: id='' must be a non-empty str
    """
    if not isinstance(value, str):
        raise InvalidType(
            f"{name}={value!r} must be a non-empty str, not {type_name(value)}",
            field=name,
            value=value,
        )
    if not value or value.isspace():
        raise InvalidArgument(f"{name}={value!r} must be a non-empty str", field=name, value=value)
    return value


def check_str(value: object, name: str) -> str:
    """Return ``value`` if it is a str (possibly empty)."""
    if not isinstance(value, str):
        raise InvalidType(
            f"{name}={value!r} must be a str, not {type_name(value)}", field=name, value=value
        )
    return value


_T = TypeVar("_T")


def check_sequence(value: object, name: str, kind: type[_T]) -> tuple[_T, ...]:
    """Return ``value`` as a tuple if it is a sequence (not a str) of ``kind`` values.

    A wrong element is named by its index: ``lines[2]``.
    """
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        raise InvalidType(
            f"{name}={value!r} must be a sequence of {kind.__name__}, not {type_name(value)}",
            field=name,
            value=value,
        )
    out = tuple(value)
    for i, element in enumerate(out):
        if not isinstance(element, kind):
            article = "an" if kind.__name__[0] in "AEIOU" else "a"
            raise InvalidType(
                f"{name}[{i}]={element!r} must be {article} {kind.__name__}, "
                f"not {type_name(element)}",
                field=f"{name}[{i}]",
                value=element,
            )
    return out


def check_rounding(value: object, name: str = "rounding") -> str:
    """Return ``value`` if it names a :mod:`decimal` rounding mode.

    >>> check_rounding("ROUND_HALF_UP")
    'ROUND_HALF_UP'
    """
    if value not in ROUNDING_MODES:
        raise InvalidArgument(
            f"{name}={value!r} must be one of {sorted(ROUNDING_MODES)}", field=name, value=value
        )
    assert isinstance(value, str)
    return value


def to_decimal(value: object, name: str = "amount", *, allow_negative: bool = False) -> Decimal:
    """Convert a str, int or Decimal to a finite Decimal; floats are refused.

    >>> to_decimal("19.99")
    Decimal('19.99')
    >>> to_decimal(19.99)
    Traceback (most recent call last):
    ...
    loyaltycore.errors.InvalidType: amount=19.99 must be a Decimal, str or int, not float
    """
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        raise InvalidType(
            f"{name}={value!r} must be a Decimal, str or int, not {type_name(value)}",
            field=name,
            value=value,
        )
    try:
        result = Decimal(value.strip()) if isinstance(value, str) else Decimal(value)
    except decimal.InvalidOperation:
        raise InvalidAmount(
            f"{name}={value!r} is not a decimal number", field=name, value=value
        ) from None
    if not result.is_finite():
        raise InvalidAmount(f"{name}={value!r} must be finite", field=name, value=value)
    if abs(result) >= MAX_DECIMAL:
        raise InvalidAmount(
            f"{name}={value!r} must be less than 10**100 in magnitude", field=name, value=value
        )
    if not allow_negative and result < 0:
        raise InvalidAmount(f"{name}={value!r} must not be negative", field=name, value=value)
    return result


def decimal_places(value: Decimal) -> int:
    """How many decimal places ``value`` needs (trailing zeros do not count).

    >>> [decimal_places(Decimal(text)) for text in ("1.50", "2E+3", "1e-12")]
    [1, 0, 12]
    """
    exponent = value.as_tuple().exponent
    assert isinstance(exponent, int)
    if exponent >= 0:
        return 0
    normal = value.normalize(DECIMAL_CONTEXT).as_tuple().exponent
    assert isinstance(normal, int)
    return max(0, -normal)


def check_money(value: object, name: str = "amount") -> Decimal:
    """A non-negative money amount below :data:`MAX_MONEY` with at most :data:`MAX_PLACES` places.

    Floats are refused (:class:`InvalidType`); NaN, infinities, negative
    amounts, absurd magnitudes and too many decimal places raise
    :class:`InvalidAmount` naming the field. Whether the places fit a given
    currency exponent is checked where the exponent is known.

    >>> check_money("19.99")
    Decimal('19.99')
    >>> check_money("1e999999")
    Traceback (most recent call last):
    ...
    loyaltycore.errors.InvalidAmount: amount='1e999999' must be less than 10**100 in magnitude
    >>> check_money("0.0000000001")
    Traceback (most recent call last):
    ...
    loyaltycore.errors.InvalidAmount: amount='0.0000000001' has more than 9 decimal places
    """
    result = to_decimal(value, name)
    if result >= MAX_MONEY:
        raise InvalidAmount(f"{name}={value!r} must be less than 10**15", field=name, value=value)
    if decimal_places(result) > MAX_PLACES:
        raise InvalidAmount(
            f"{name}={value!r} has more than {MAX_PLACES} decimal places", field=name, value=value
        )
    return result


def _real(value: object, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidType(
            f"{name}={value!r} must be a real number, not {type_name(value)}",
            field=name,
            value=value,
        )
    return float(value)


def check_rate(value: object, name: str) -> float:
    """Return ``value`` as a float if it is a finite real number (not bool).

    >>> check_rate(2, "factor")
    2.0
    """
    result = _real(value, name)
    if not math.isfinite(result):
        raise InvalidArgument(f"{name}={value!r} must be finite", field=name, value=value)
    return result


def check_positive(
    value: object, name: str, *, error: type[LoyaltyError] = InvalidArgument
) -> float:
    """Return ``value`` as a float if it is a finite real number above zero.

    ``error`` is the class raised for a value out of range (a policy raises
    :class:`~loyaltycore.errors.InvalidRule`); a wrong type is always
    :class:`~loyaltycore.errors.InvalidType`.

    >>> check_positive(0.5, "alpha")
    0.5
    >>> check_positive(0.0, "alpha")
    Traceback (most recent call last):
    ...
    loyaltycore.errors.InvalidArgument: alpha=0.0 must be a positive finite number
    """
    result = _real(value, name)
    if not (math.isfinite(result) and result > 0):
        raise error(f"{name}={value!r} must be a positive finite number", field=name, value=value)
    return result


EXTRAS: Final = {
    "scipy": "clv",
    "matplotlib": "plot",
    "sklearn": "cluster",
    "hypothesis": "testing",
    "pyarrow": "arrow",
    "pandas": "pandas",
    "polars": "polars",
}


def require(module: str, feature: str, *, extra: str | None = None) -> ModuleType:
    """Import an optional dependency or raise :class:`MissingDependency`.

    The message names the extra to install, e.g.
    ``pip install 'loyaltycore[clv]'``; ``extra`` names it when the module
    belongs to several extras (scipy is in ``clv`` and ``stats``).
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        top = module.split(".")[0]
        extra = extra or EXTRAS.get(top, top)
        raise MissingDependency(
            f"{feature} needs {top}: pip install 'loyaltycore[{extra}]'",
            module=top,
            extra=extra,
        ) from exc


@overload
def freeze(value: None) -> None: ...
@overload
def freeze(value: npt.ArrayLike) -> npt.NDArray[Any]: ...
def freeze(value: npt.ArrayLike | None) -> npt.NDArray[Any] | None:
    """Return a read-only copy of ``value`` as a numpy array (None stays None)."""
    if value is None:
        return None
    copy = np.array(value, copy=True)
    copy.flags.writeable = False
    return copy

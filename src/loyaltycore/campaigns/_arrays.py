"""Column and argument checks shared by the campaign functions.

Every public function of :mod:`loyaltycore.campaigns` reads its columns
through these helpers, so the same bad input raises the same error
everywhere: NaN or mismatched lengths are :class:`InvalidColumn`, an arm
with too few members is :class:`EmptyArm`, a bad scalar names itself.
"""

from __future__ import annotations

import math
from typing import Any, Final, Literal, TypeAlias

import attrs
import numpy as np
import numpy.typing as npt

from loyaltycore._validate import check_int, type_name
from loyaltycore.errors import EmptyArm, InvalidArgument, InvalidColumn, InvalidType

F64: TypeAlias = npt.NDArray[np.float64]
I64: TypeAlias = npt.NDArray[np.int64]
Mask: TypeAlias = npt.NDArray[np.bool_]
Seed: TypeAlias = int | np.random.Generator

#: The two arm labels, as :func:`assign` writes them and every function reads them.
TREATMENT: Final = "treatment"
CONTROL: Final = "control"
Arm: TypeAlias = Literal["treatment", "control"]


def column(values: Any, name: str) -> npt.NDArray[Any]:
    """A one-dimensional numpy view (or copy) of a column."""
    array = values if isinstance(values, np.ndarray) else np.asarray(values)
    if array.ndim != 1:
        raise InvalidColumn(
            f"{name} must be one-dimensional, got shape {array.shape}", field=name, value=None
        )
    return array


def check_length(array: npt.NDArray[Any], n: int, name: str, other: str) -> None:
    """Raise :class:`InvalidColumn` unless ``array`` has ``n`` rows, like ``other``."""
    if len(array) != n:
        raise InvalidColumn(
            f"{name} has {len(array)} rows, expected {n} (as many as {other})",
            field=name,
            value=len(array),
        )


def floats(values: Any, name: str) -> F64:
    """A finite float64 column; bools read as 0/1, NaN, inf and text are refused."""
    array = column(values, name)
    if array.dtype.kind not in "biuf":
        raise InvalidType(
            f"{name} must be a numeric column, not {array.dtype}",
            field=name,
            value=str(array.dtype),
        )
    out = array.astype(np.float64)
    bad = ~np.isfinite(out)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise InvalidColumn(
            f"{name}[{row}]={out[row].item()!r} is not finite", field=name, row=row, value=None
        )
    return out


def arm_mask(values: Any, name: str = "arm") -> Mask:
    """True for treatment rows: labels ``"treatment"`` / ``"control"``, or bools.

    >>> arm_mask(["treatment", "control"]).tolist()
    [True, False]
    """
    array = column(values, name)
    if array.dtype.kind == "b" or len(array) == 0:
        return array.astype(np.bool_, copy=True)
    if array.dtype.kind in "UO":
        treated = array == TREATMENT
        bad = ~(treated | (array == CONTROL))
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            value = array[row].item() if isinstance(array[row], np.generic) else array[row]
            raise InvalidColumn(
                f"{name}[{row}]={value!r} must be 'treatment' or 'control'",
                field=name,
                row=row,
                value=value,
            )
        return np.asarray(treated, dtype=np.bool_)
    raise InvalidType(
        f"{name} must hold 'treatment' / 'control' labels or bools, not {array.dtype}",
        field=name,
        value=str(array.dtype),
    )


def need_members(count: int, minimum: int, arm: str, what: str) -> None:
    """Raise :class:`EmptyArm` when an arm has fewer than ``minimum`` members."""
    if count < minimum:
        plural = "member" if count == 1 else "members"
        raise EmptyArm(
            f"{arm} has {count} {plural}; {what} needs at least {minimum} in each arm",
            field=arm,
            value=count,
        )


def real(value: object, name: str) -> float:
    """A finite Python or numpy real number (never bool)."""
    if isinstance(value, bool | np.bool_) or not isinstance(value, int | float | np.number):
        raise InvalidType(
            f"{name}={value!r} must be a real number, not {type_name(value)}",
            field=name,
            value=value,
        )
    result = float(value)
    if not math.isfinite(result):
        raise InvalidArgument(f"{name}={value!r} must be finite", field=name, value=value)
    return result


def fraction(value: object, name: str, *, low: float = 0.0, high: float = 1.0) -> float:
    """A real number strictly between ``low`` and ``high``."""
    result = real(value, name)
    if not low < result < high:
        raise InvalidArgument(
            f"{name}={value!r} must be between {low:g} and {high:g} (exclusive)",
            field=name,
            value=value,
        )
    return result


def choice(value: object, name: str, allowed: tuple[str, ...]) -> str:
    """One of the ``allowed`` strings."""
    if not isinstance(value, str) or value not in allowed:
        raise InvalidArgument(
            f"{name}={value!r} must be one of {allowed}", field=name, value=value
        )
    return value


def generator(seed: object) -> np.random.Generator:
    """A numpy Generator from ``seed`` (an int >= 0 or a Generator).

    None is refused: randomness is a parameter, so a result repeats.
    """
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None:
        raise InvalidArgument(
            "seed=None: a random draw needs a seed (an int >= 0 or a numpy Generator), "
            "so that its result repeats",
            field="seed",
            value=None,
        )
    return np.random.default_rng(check_int(seed, "seed", minimum=0))


def frozen(value: npt.ArrayLike | None) -> Any:
    """A read-only copy of an array (None stays None)."""
    if value is None:
        return None
    array = np.array(value, copy=True)
    array.flags.writeable = False
    return array


def _array_eq(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is b
    if a.dtype.kind == "f" and b.dtype.kind == "f":
        return bool(np.array_equal(a, b, equal_nan=True))
    return bool(np.array_equal(a, b))


def array_field() -> Any:
    """An attrs field holding a read-only copy of an array, compared by value."""
    return attrs.field(converter=frozen, eq=attrs.cmp_using(eq=_array_eq), repr=False)


def optional_array_field() -> Any:
    """Like :func:`array_field`, None by default."""
    return attrs.field(
        default=None, converter=frozen, eq=attrs.cmp_using(eq=_array_eq), repr=False
    )

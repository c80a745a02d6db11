"""Covariate balance between the arms: standardised mean differences.

For each pre-period covariate, SMD = (mean_t - mean_c) / sqrt((s2_t + s2_c) / 2)
with sample variances (ddof=1), the usual definition (Austin 2009). An absolute SMD
above about 0.1 is the customary sign that randomisation (or a holdout
drawn from a biased list) left the arms unlike each other.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from typing import Any

import attrs
import numpy as np
import numpy.typing as npt

from loyaltycore._frames import Frames
from loyaltycore.campaigns._arrays import (
    F64,
    arm_mask,
    array_field,
    check_length,
    floats,
    need_members,
    real,
)
from loyaltycore.errors import EmptyData, InvalidArgument, InvalidType


class ImbalanceWarning(UserWarning):
    """Some covariate differs between the arms by more than ``warn_above`` SMD.

    >>> issubclass(ImbalanceWarning, UserWarning)
    True
    """


@attrs.frozen
class Balance(Frames):
    """Standardised mean differences of pre-period covariates, one row each.

    >>> b = balance({"spend": [10, 12, 11, 30, 29, 31]}, ["treatment"] * 3 + ["control"] * 3,
    ...             warn_above=None)
    >>> b.covariate, b.smd.round(1).tolist()
    (('spend',), [-19.0])
    """

    covariate: tuple[str, ...]
    n_treatment: int
    n_control: int
    warn_above: float | None
    mean_treatment: F64 = array_field()
    mean_control: F64 = array_field()
    smd: F64 = array_field()

    @property
    def imbalanced(self) -> tuple[str, ...]:
        """The covariates whose absolute SMD exceeds ``warn_above`` (none when it is None).

        >>> balance({"x": [1, 2, 2, 1]}, [True, False, True, False]).imbalanced
        ()
        """
        if self.warn_above is None:
            return ()
        over = np.abs(self.smd) > self.warn_above
        return tuple(name for name, bad in zip(self.covariate, over.tolist(), strict=True) if bad)

    def columns(self) -> dict[str, npt.NDArray[Any]]:
        """The table by column name.

        >>> list(balance({"x": [1, 2, 2, 1]}, [True, False, True, False]).columns())
        ['covariate', 'mean_treatment', 'mean_control', 'smd']
        """
        return {
            "covariate": np.array(self.covariate, dtype=object),
            "mean_treatment": self.mean_treatment,
            "mean_control": self.mean_control,
            "smd": self.smd,
        }


def _smd(x: F64, treated: npt.NDArray[np.bool_]) -> tuple[float, float, float]:
    t, c = x[treated], x[~treated]
    mt, mc = float(t.mean()), float(c.mean())
    pooled = math.sqrt((float(t.var(ddof=1)) + float(c.var(ddof=1))) / 2.0)
    diff = mt - mc
    if pooled == 0.0:
        return mt, mc, 0.0 if diff == 0.0 else math.copysign(math.inf, diff)
    return mt, mc, diff / pooled


def balance(
    covariates: Mapping[str, npt.ArrayLike],
    arm: npt.ArrayLike,
    *,
    warn_above: float | None = 0.1,
) -> Balance:
    """Standardised mean differences of pre-period covariates between the arms.

    Args:
        covariates: covariate name -> one value per member (pre-period only:
            spend, visits, tenure ...), aligned with ``arm``.
        arm: ``"treatment"`` / ``"control"`` labels (``Assignment.arm``) or bools.
        warn_above: emit an :class:`ImbalanceWarning` naming every covariate
            whose absolute SMD is above this; None never warns.

    Returns:
        A :class:`Balance` with one row per covariate, in the given order.

    Raises:
        EmptyArm: an arm with fewer than two members.
        InvalidColumn: NaN or a column whose length differs from ``arm``.

    >>> import warnings
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     b = balance({"visits": [1, 2, 3, 4], "tenure": [5, 5, 9, 9]},
    ...                 ["treatment", "treatment", "control", "control"])
    >>> b.imbalanced, caught[0].category.__name__
    (('visits', 'tenure'), 'ImbalanceWarning')
    """
    if not isinstance(covariates, Mapping):
        raise InvalidType(
            f"covariates must be a mapping of name -> column, not {type(covariates).__name__}",
            field="covariates",
            value=None,
        )
    if not covariates:
        raise EmptyData("covariates is empty", field="covariates")
    treated = arm_mask(arm)
    need_members(int(treated.sum()), 2, "treatment", "balance")
    need_members(int((~treated).sum()), 2, "control", "balance")
    threshold = None
    if warn_above is not None:
        threshold = real(warn_above, "warn_above")
        if threshold < 0:
            raise InvalidArgument(
                f"warn_above={warn_above!r} must be >= 0", field="warn_above", value=warn_above
            )
    rows = []
    for name, values in covariates.items():
        x = floats(values, f"covariates[{name!r}]")
        check_length(x, len(treated), f"covariates[{name!r}]", "arm")
        rows.append(_smd(x, treated))
    mt, mc, smd = (np.array(col, dtype=np.float64) for col in zip(*rows, strict=True))
    result = Balance(
        covariate=tuple(str(k) for k in covariates),
        mean_treatment=mt,
        mean_control=mc,
        smd=smd,
        n_treatment=int(treated.sum()),
        n_control=int((~treated).sum()),
        warn_above=threshold,
    )
    if result.imbalanced:
        listed = ", ".join(
            f"{name} ({value:+.3f})"
            for name, value in zip(result.covariate, smd.tolist(), strict=True)
            if name in result.imbalanced
        )
        warnings.warn(
            f"|SMD| above {threshold:g} between the arms: {listed}",
            ImbalanceWarning,
            stacklevel=2,
        )
    return result

"""CUPED: variance reduction with a pre-period covariate (Deng et al. 2013).

The adjusted outcome is y - theta (x - mean(x)). Theta is pooled across the
arms: the within-arm slope sum_a sum (y - ybar_a)(x - xbar_a) / sum_a sum
(x - xbar_a)^2, so a treatment effect on the mean does not leak into it.
The difference of adjusted means is then exactly the arm coefficient of the
regression y ~ 1 + arm + x (ANCOVA), and the share of variance removed is
the within-arm squared correlation of y and x.
"""

from __future__ import annotations

import attrs
import numpy.typing as npt

from loyaltycore.campaigns._arrays import (
    F64,
    Mask,
    Seed,
    arm_mask,
    array_field,
    check_length,
    floats,
    need_members,
)
from loyaltycore.campaigns._compare import Comparison, Method, compare


@attrs.frozen
class Cuped:
    """A CUPED-adjusted outcome, its theta and the variance it removed.

    >>> r = cuped([12.0, 9.0, 15.0, 7.0], [10.0, 8.0, 13.0, 7.0], [True, True, False, False])
    >>> round(r.theta, 3), round(r.variance_reduction, 3)
    (1.35, 0.999)
    """

    theta: float
    variance_reduction: float
    adjusted: F64 = array_field()
    treated: Mask = array_field()

    def compare(
        self,
        *,
        ci: float = 0.95,
        method: Method = "welch",
        resamples: int = 2000,
        seed: Seed | None = None,
    ) -> Comparison:
        """:func:`compare` on the adjusted outcome, treatment against control.

        >>> r = cuped([12.0, 9.0, 15.0, 7.0, 11.0, 10.0], [10.0, 8.0, 13.0, 7.0, 10.0, 9.0],
        ...           ["treatment"] * 3 + ["control"] * 3)
        >>> round(r.compare().difference, 3)
        0.615
        """
        return compare(
            self.adjusted[self.treated],
            self.adjusted[~self.treated],
            ci=ci,
            method=method,
            resamples=resamples,
            seed=seed,
        )


def _within(values: F64, treated: Mask) -> F64:
    """Values minus their own arm's mean."""
    out = values.copy()
    for mask in (treated, ~treated):
        out[mask] -= values[mask].mean()
    return out


def cuped(y: npt.ArrayLike, pre: npt.ArrayLike, arm: npt.ArrayLike) -> Cuped:
    """Adjust an outcome by its pre-period value, theta pooled across the arms.

    Args:
        y: the outcome of each member in the campaign window.
        pre: the same measure in the pre-period (spend before the campaign),
            unaffected by the treatment.
        arm: ``"treatment"`` / ``"control"`` labels or bools, one per member.

    Returns:
        A :class:`Cuped`: ``theta``, the ``adjusted`` outcome y - theta (pre -
        mean(pre)) (same overall mean as ``y``) and ``variance_reduction``,
        the share of within-arm variance removed (feed it to
        :func:`sample_size` when planning the next campaign).

    Raises:
        EmptyArm: an arm with fewer than two members.
        InvalidColumn: NaN, or columns of different lengths.

    >>> r = cuped([5.0, 7.0, 6.0, 4.0], [5.0, 7.0, 6.0, 4.0], ["treatment", "control"] * 2)
    >>> r.theta, r.variance_reduction
    (1.0, 1.0)
    """
    y_ = floats(y, "y")
    x = floats(pre, "pre")
    treated = arm_mask(arm)
    check_length(x, len(y_), "pre", "y")
    check_length(treated, len(y_), "arm", "y")
    need_members(int(treated.sum()), 2, "treatment", "cuped")
    need_members(int((~treated).sum()), 2, "control", "cuped")
    dy, dx = _within(y_, treated), _within(x, treated)
    sxx = float(dx @ dx)
    theta = float(dx @ dy) / sxx if sxx > 0 else 0.0
    syy = float(dy @ dy)
    residual = dy - theta * dx
    reduction = 1.0 - float(residual @ residual) / syy if syy > 0 else 0.0
    adjusted = y_ - theta * (x - x.mean())
    return Cuped(theta=theta, variance_reduction=reduction, adjusted=adjusted, treated=treated)

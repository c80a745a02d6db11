"""Difference in differences on a member panel, standard errors clustered by member.

The estimate is the interaction coefficient of the OLS regression

    y = b0 + b1 treated + b2 post + b3 treated x post + e,

with the cluster-robust (sandwich) covariance over members,
c (X'X)^-1 [sum_g X_g' e_g e_g' X_g] (X'X)^-1 with the small-sample factor
c = G/(G-1) x (N-1)/(N-K): statsmodels' ``OLS.fit(cov_type="cluster")``.
Intervals and p-values use Student's t with G - 1 degrees of freedom (the
number of members less one, as statsmodels does with ``use_t=True``): with
few clusters the normal quantile is too narrow.

The pre-trend check fits, on the pre-period rows only,
y = c0 + c1 treated + c2 period + c3 treated x period: c3 is how much faster
the treated arm's outcome was already moving per period. Parallel trends
(the assumption the estimate rests on) predict c3 = 0.
"""

from __future__ import annotations

import math
from typing import Any

import attrs
import numpy as np
import numpy.typing as npt

from loyaltycore._validate import require
from loyaltycore.campaigns._arrays import (
    F64,
    Mask,
    arm_mask,
    check_length,
    column,
    floats,
    fraction,
    need_members,
    real,
)
from loyaltycore.errors import EmptyData, InvalidColumn, InvalidType


@attrs.frozen
class PreTrend:
    """How much faster the treated arm moved per period before the campaign.

    >>> r = diff_in_diff(["a"] * 3 + ["b"] * 3 + ["c"] * 3 + ["d"] * 3, [0, 1, 2] * 4,
    ...                  [True] * 6 + [False] * 6,
    ...                  [1, 2, 9, 2, 3, 9, 1, 2, 3, 3, 4, 5], start=2)
    >>> r.pre_trend.slope_difference, r.pre_trend.periods
    (0.0, 2)
    """

    slope_difference: float
    standard_error: float
    p_value: float
    periods: int


@attrs.frozen
class DiffInDiff:
    """A difference-in-differences estimate with member-clustered errors.

    ``estimate`` = (treated post - treated pre) - (control post - control
    pre) in cell means; ``pre_trend`` is None when the panel has fewer than
    two pre-periods (or only a post flag).

    >>> r = diff_in_diff(["a", "a", "b", "b", "c", "c", "d", "d"], [False, True] * 4,
    ...                  [True] * 4 + [False] * 4, [1.0, 4.0, 2.0, 5.0, 1.0, 2.0, 2.0, 3.0])
    >>> r.estimate, r.treatment_post - r.treatment_pre
    (2.0, 3.0)
    """

    estimate: float
    standard_error: float
    low: float
    high: float
    p_value: float
    ci: float
    n_members: int
    n_rows: int
    treatment_pre: float
    treatment_post: float
    control_pre: float
    control_post: float
    pre_trend: PreTrend | None


def _groups(member: Any, n: int) -> tuple[npt.NDArray[np.int64], int]:
    ids = column(member, "member")
    check_length(ids, n, "member", "outcome")
    codes: dict[Any, int] = {}
    out = np.empty(n, dtype=np.int64)
    for i, value in enumerate(ids.tolist()):
        if value is None or (isinstance(value, float) and math.isnan(value)):
            raise InvalidColumn(f"member[{i}]={value!r} is missing", field="member", row=i)
        out[i] = codes.setdefault(value, len(codes))
    return out, len(codes)


def _cluster_ols(x: F64, y: F64, groups: npt.NDArray[np.int64], n_groups: int) -> tuple[F64, F64]:
    """OLS coefficients and their cluster-robust covariance (statsmodels' CR1)."""
    n, k = x.shape
    bread = np.linalg.inv(x.T @ x)
    beta = bread @ (x.T @ y)
    scores = x * (y - x @ beta)[:, None]
    per_group = np.zeros((n_groups, k))
    np.add.at(per_group, groups, scores)
    meat = per_group.T @ per_group
    factor = n_groups / (n_groups - 1) * (n - 1) / (n - k)
    return beta, factor * bread @ meat @ bread


def _t_test(estimate: float, se: float, df: int, ci: float) -> tuple[float, float, float]:
    """(low, high, two-sided p) with Student's t on ``df`` degrees of freedom."""
    require("scipy.stats", "diff_in_diff", extra="stats")
    from scipy import stats

    if se == 0.0:
        return math.nan, math.nan, math.nan
    q = float(stats.t.ppf((1 + ci) / 2, df))
    p = float(2 * stats.t.sf(abs(estimate) / se, df))
    return estimate - q * se, estimate + q * se, p


def _periods(period: Any, n: int, start: object) -> tuple[Mask, F64 | None]:
    """The post flag of each row and, when ``start`` is given, the numeric period."""
    values = column(period, "period")
    check_length(values, n, "period", "outcome")
    if start is None:
        if values.dtype.kind == "b":
            return values.astype(np.bool_), None
        if values.dtype.kind in "iu" and np.isin(values, (0, 1)).all():
            return values.astype(np.bool_), None
        raise InvalidType(
            "period must be a post flag (bools or 0/1) when start= is not given",
            field="period",
            value=str(values.dtype),
        )
    numeric = floats(values, "period")
    return numeric >= real(start, "start"), numeric


def _pre_trend(
    y: F64, treated: Mask, numeric: F64, pre: Mask, groups: npt.NDArray[np.int64], ci: float
) -> PreTrend | None:
    periods = len(np.unique(numeric[pre]))
    if periods < 2:
        return None
    yp, tp, pp = y[pre], treated[pre].astype(np.float64), numeric[pre]
    codes, index = np.unique(groups[pre], return_inverse=True)
    x = np.column_stack([np.ones_like(yp), tp, pp, tp * pp])
    beta, cov = _cluster_ols(x, yp, index.astype(np.int64), len(codes))
    se = math.sqrt(max(float(cov[3, 3]), 0.0))
    p = _t_test(float(beta[3]), se, len(codes) - 1, ci)[2]
    return PreTrend(slope_difference=float(beta[3]), standard_error=se, p_value=p, periods=periods)


def diff_in_diff(
    member: npt.ArrayLike,
    period: npt.ArrayLike,
    treated: npt.ArrayLike,
    outcome: npt.ArrayLike,
    *,
    start: float | None = None,
    ci: float = 0.95,
) -> DiffInDiff:
    """Difference in differences on a long panel (one row per member and period).

    Args:
        member: the member of each row; errors are clustered by it.
        period: a post flag (bools or 0/1) when ``start`` is None; otherwise
            a numeric period (week number, days since an origin ...), with
            ``period >= start`` the post-period.
        treated: whether the row's member was treated: bools or
            ``"treatment"`` / ``"control"`` labels, the same on every row of a
            member.
        outcome: the outcome of the member in the period (zero if nothing).
        start: the first post period.
        ci: the confidence level of the interval.

    Returns:
        A :class:`DiffInDiff`. ``estimate`` and ``standard_error`` equal
        statsmodels ``OLS(y, [1, treated, post, treated x post]).fit(
        cov_type="cluster", cov_kwds={"groups": member})``.

    Raises:
        InvalidColumn: NaN, columns of different lengths, a member both
            treated and not.
        EmptyArm: an arm with fewer than two members.
        EmptyData: no rows before or after ``start`` for an arm.

    >>> member = ["a", "a", "b", "b", "c", "c", "d", "d"]
    >>> r = diff_in_diff(member, [0, 1] * 4, [True] * 4 + [False] * 4,
    ...                  [1.0, 4.0, 2.0, 5.0, 1.0, 2.0, 2.0, 3.0], start=1)
    >>> r.estimate, round(r.standard_error, 6), r.n_members
    (2.0, 0.0, 4)
    """
    y = floats(outcome, "outcome")
    n = len(y)
    level = fraction(ci, "ci")
    groups, n_groups = _groups(member, n)
    arm = arm_mask(treated, "treated")
    check_length(arm, n, "treated", "outcome")
    post, numeric = _periods(period, n, start)
    first = np.full(n_groups, -1, dtype=np.int64)
    first[groups[::-1]] = arm[::-1]
    if (first[groups] != arm).any():
        row = int(np.flatnonzero(first[groups] != arm)[0])
        raise InvalidColumn(
            f"treated[{row}] differs from the member's other rows", field="treated", row=row
        )
    need_members(int(first.sum()), 2, "treatment", "diff_in_diff")
    need_members(int((first == 0).sum()), 2, "control", "diff_in_diff")
    cells = {}
    for arm_name, in_arm in (("treatment", arm), ("control", ~arm)):
        for when, in_time in (("pre", ~post), ("post", post)):
            rows = in_arm & in_time
            if not rows.any():
                raise EmptyData(
                    f"no {when}-period rows for the {arm_name} arm", field="period", value=when
                )
            cells[f"{arm_name}_{when}"] = float(y[rows].mean())
    t, p = arm.astype(np.float64), post.astype(np.float64)
    x = np.column_stack([np.ones(n), t, p, t * p])
    beta, cov = _cluster_ols(x, y, groups, n_groups)
    se = math.sqrt(max(float(cov[3, 3]), 0.0))
    low, high, p_value = _t_test(float(beta[3]), se, n_groups - 1, level)
    trend = None if numeric is None else _pre_trend(y, arm, numeric, ~post, groups, level)
    return DiffInDiff(
        estimate=float(beta[3]),
        standard_error=se,
        low=low,
        high=high,
        p_value=p_value,
        ci=level,
        n_members=n_groups,
        n_rows=n,
        pre_trend=trend,
        **cells,
    )

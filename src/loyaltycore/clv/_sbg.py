"""The shifted-beta-geometric model of contract renewals (Fader and Hardie 2007, 2010).

In a contractual setting (subscriptions, paid memberships) a member renews at
the end of each period with a constant probability ``1 - theta`` of their own;
across members ``theta`` is Beta(``alpha``, ``beta``). With ``B`` the beta
function, the period ``T`` in which a member churns has

    P(T = t) = B(alpha + 1, beta + t - 1) / B(alpha, beta)      (t = 1, 2, ...)
    S(t) = P(T > t) = B(alpha, beta + t) / B(alpha, beta)
    r(t) = S(t) / S(t - 1) = (beta + t - 1) / (alpha + beta + t - 1)

so the retention rate rises with tenure although no member's own rate
changes. Expected lifetime is ``sum_t S(t) = (alpha + beta - 1) / (alpha - 1)``
periods (infinite for alpha <= 1). With a discount rate ``d`` per period and one
unit of value at each renewal, the discounted expected residual lifetime of a
member who has made ``n - 1`` renewals, just before the next decision, is
(Fader and Hardie 2010, eq. 6)

    DERL = B(alpha, beta + n) / B(alpha, beta + n - 1)
           * 2F1(1, beta + n; alpha + beta + n; 1 / (1 + d)).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import ModuleType

import attrs
import numpy as np

from loyaltycore._validate import check_rate, require
from loyaltycore.clv import _data
from loyaltycore.clv._base import (
    ArrayLike,
    FitInfo,
    Float,
    Progress,
    _check_maxiter,
    _check_penalizer,
    _check_progress,
    _maximise,
    _positive,
    _real,
    _start,
)
from loyaltycore.errors import DegenerateFit, EmptyData, InvalidArgument, InvalidColumn

_NAMES = ("alpha", "beta")


def _special() -> ModuleType:
    return require("scipy.special", "clv models")


def objective(
    lost: Float, churn_at: Float, kept: Float, kept_at: Float
) -> tuple[Callable[[Float], float], Callable[[Float], tuple[float, Float]]]:
    """Total log-likelihood (and gradient) of ``lost`` members churning in period
    ``churn_at`` and ``kept`` members still active after ``kept_at`` periods."""
    sp = _special()

    def both(params: Float) -> tuple[float, Float]:
        alpha, beta = params
        base = sp.betaln(alpha, beta)
        d_base = sp.digamma(alpha + beta)
        log_p = sp.betaln(alpha + 1.0, beta + churn_at - 1.0) - base
        log_s = sp.betaln(alpha, beta + kept_at) - base
        value = _data.wsum(lost, log_p) + _data.wsum(kept, log_s)
        sum_p = sp.digamma(alpha + beta + churn_at)
        sum_s = sp.digamma(alpha + beta + kept_at)
        d_alpha = _data.wsum(lost, sp.digamma(alpha + 1.0) - sum_p) + _data.wsum(
            kept, sp.digamma(alpha) - sum_s
        )
        d_beta = _data.wsum(lost, sp.digamma(beta + churn_at - 1.0) - sum_p) + _data.wsum(
            kept, sp.digamma(beta + kept_at) - sum_s
        )
        total = float(lost.sum() + kept.sum())
        common = total * (d_base - sp.digamma(alpha)), total * (d_base - sp.digamma(beta))
        return value, np.array([d_alpha + common[0], d_beta + common[1]])

    def value(params: Float) -> float:
        return both(params)[0]

    return value, both


def _from_survivors(survivors: object) -> tuple[Float, Float, Float, Float]:
    counts = _data.as_float_column(survivors, "survivors")
    if counts.size < 2:
        raise InvalidArgument(
            f"survivors={survivors!r} must hold the cohort size and at least one later count",
            field="survivors",
        )
    for row in range(counts.size):
        value = float(counts[row])
        if value < 0 or value != np.floor(value) or (row and value > counts[row - 1]):
            raise InvalidColumn(
                f"survivors[{row}]={value!r} must be a whole number >= 0, "
                "no larger than the count before it",
                field="survivors",
                row=row,
                value=value,
            )
    if counts[0] == 0:
        raise EmptyData("survivors[0]=0.0: the cohort is empty", field="survivors")
    lost = counts[:-1] - counts[1:]
    periods = np.arange(1, counts.size, dtype=np.float64)
    return lost, periods, counts[-1:], periods[-1:]


def _from_lifetimes(lifetimes: object, censored: object) -> tuple[Float, Float, Float, Float]:
    length = _data.as_float_column(lifetimes, "lifetimes")
    if censored is None:
        raise InvalidColumn("censored: column missing (pass censored=...)", field="censored")
    flags = np.asarray(censored)
    if flags.shape != length.shape or flags.dtype != np.bool_:
        raise InvalidColumn(
            f"censored must be {length.size} booleans (True: still a member), one per lifetime",
            field="censored",
        )
    if length.size == 0:
        raise EmptyData("lifetimes: no members to fit", field="lifetimes")
    bad = np.flatnonzero((length != np.floor(length)) | (length < np.where(flags, 0, 1)))
    if bad.size:
        row = int(bad[0])
        raise InvalidColumn(
            f"lifetimes[{row}]={float(length[row])!r} must be a whole number of periods, "
            ">= 1 for a member who left (>= 0 if still a member)",
            field="lifetimes",
            row=row,
            value=float(length[row]),
        )
    (churn_at,), lost = _data.unique_rows((length[~flags],), np.ones(int((~flags).sum())))
    (kept_at,), kept = _data.unique_rows((length[flags],), np.ones(int(flags.sum())))
    return lost, churn_at, kept, kept_at


@attrs.frozen
class ShiftedBetaGeometric:
    """The shifted-beta-geometric (sBG) model of contract renewals.

    Each member churns in a period with a probability ``theta`` of their own,
    ``theta`` ~ Beta(``alpha``, ``beta``) across members. Periods are contract
    periods (a month for a monthly plan), so the model has no time unit.

    >>> m = ShiftedBetaGeometric(alpha=0.704, beta=1.182)
    >>> m.survival([1, 7]).round(3).tolist(), m.retention_rate([1, 7]).round(3).tolist()
    ([0.627, 0.239], [0.627, 0.911])
    """

    alpha: float = attrs.field(converter=_real, validator=_positive)
    beta: float = attrs.field(converter=_real, validator=_positive)
    fit_info: FitInfo | None = attrs.field(default=None, kw_only=True, eq=False, repr=False)

    @property
    def params(self) -> dict[str, float]:
        """The parameters by name.

        >>> ShiftedBetaGeometric(0.7, 1.2).params
        {'alpha': 0.7, 'beta': 1.2}
        """
        return {"alpha": self.alpha, "beta": self.beta}

    @classmethod
    def fit(
        cls,
        *,
        survivors: ArrayLike | None = None,
        lifetimes: ArrayLike | None = None,
        censored: ArrayLike | None = None,
        penalizer: float = 0.0,
        initial: Mapping[str, float] | None = None,
        maxiter: int = 1000,
        progress: Progress | None = None,
    ) -> ShiftedBetaGeometric:
        """Fit by maximum likelihood on a cohort's survivors or on member histories.

        Give either ``survivors``: the cohort's size, then how many are still
        members after each period (``[1000, 631, 468, ...]``); or
        ``lifetimes`` with ``censored``: per member, the periods of membership
        and whether they are still a member (True: at least that many periods)
        or left in that period (False).

        Args:
            survivors: members at the start and after each period.
            lifetimes: periods of membership per member.
            censored: per member, True if still a member.
            penalizer: L2 penalty (>= 0) on ``alpha**2 + beta**2``, against the
                mean log-likelihood per member.
            initial: optional starting values by parameter name.
            maxiter: iteration limit of the optimiser.
            progress: optional ``(done, total, stage)`` callback per iteration.

        Returns:
            The fitted model, with :attr:`fit_info` set (``customers`` is the
            number of members).

        Raises:
            InvalidArgument: both forms, or neither, were given.
            InvalidColumn: a bad count or lifetime (the row is named).
            DegenerateFit: nobody left, or everybody left in the first period.

        >>> regular = ShiftedBetaGeometric.fit(survivors=[1000, 631, 468, 382, 326, 289, 262, 241])
        >>> round(regular.alpha, 3), round(regular.beta, 3)
        (0.704, 1.182)
        """
        if (survivors is None) == (lifetimes is None):
            raise InvalidArgument(
                "pass either survivors=[...] or lifetimes=[...] with censored=[...]",
                field="survivors",
            )
        if survivors is not None:
            lost, churn_at, kept, kept_at = _from_survivors(survivors)
        else:
            lost, churn_at, kept, kept_at = _from_lifetimes(lifetimes, censored)
        total = float(lost.sum() + kept.sum())
        if lost.sum() == 0:
            raise DegenerateFit(
                "sBG fit is degenerate: no member left, so churn cannot be estimated",
                model="sBG",
                parameters={},
            )
        if kept.sum() == 0 and np.all(churn_at == 1):
            raise DegenerateFit(
                "sBG fit is degenerate: every member left in the first period",
                model="sBG",
                parameters={},
            )
        fitter = require("loyaltycore.clv._fit", "clv models")
        plain, both = objective(lost, churn_at, kept, kept_at)
        params, info = _maximise(
            fitter,
            plain,
            both,
            names=_NAMES,
            start=_start(_NAMES, np.ones(2), initial),
            weights=np.array([total]),
            rows=int(lost.size + kept.size),
            unit=None,
            penalizer=_check_penalizer(penalizer),
            scales=np.ones(2),
            maxiter=_check_maxiter(maxiter),
            model="sBG",
            progress=_check_progress(progress),
        )
        return cls(*params.tolist(), fit_info=info)

    def _log_survival(self, t: Float) -> Float:
        sp = _special()
        return np.asarray(
            sp.betaln(self.alpha, self.beta + t) - sp.betaln(self.alpha, self.beta),
            dtype=np.float64,
        )

    def survival(self, t: ArrayLike) -> Float:
        """``S(t)``: the share of a new cohort still members after ``t`` periods.

        >>> ShiftedBetaGeometric(alpha=0.668, beta=3.806).survival([0, 1, 12]).round(3).tolist()
        [1.0, 0.851, 0.378]
        """
        return np.exp(self._log_survival(_periods(t, "t")))

    def churn_probability(self, t: ArrayLike) -> Float:
        """``P(T = t)``: the share of a new cohort that leaves in period ``t`` (>= 1).

        >>> m = ShiftedBetaGeometric(alpha=0.704, beta=1.182)
        >>> m.churn_probability([1, 2]).round(3).tolist()
        [0.373, 0.153]
        """
        periods = _periods(t, "t")
        if np.any(periods < 1):
            raise InvalidArgument(f"t={t!r} must be >= 1", field="t", value=t)
        sp = _special()
        return np.asarray(
            np.exp(
                sp.betaln(self.alpha + 1.0, self.beta + periods - 1.0)
                - sp.betaln(self.alpha, self.beta)
            ),
            dtype=np.float64,
        )

    def retention_rate(self, t: ArrayLike) -> Float:
        """``r(t) = S(t) / S(t - 1)``: the share of period ``t - 1``'s members renewing in ``t``.

        >>> m = ShiftedBetaGeometric(alpha=0.668, beta=3.806)
        >>> m.retention_rate([1, 5, 20]).round(3).tolist()
        [0.851, 0.921, 0.972]
        """
        periods = _periods(t, "t")
        if np.any(periods < 1):
            raise InvalidArgument(f"t={t!r} must be >= 1", field="t", value=t)
        return (self.beta + periods - 1.0) / (self.alpha + self.beta + periods - 1.0)

    @property
    def expected_lifetime(self) -> float:
        """Mean number of periods a new member stays, ``(alpha + beta - 1) / (alpha - 1)``.

        Infinite when ``alpha <= 1`` (the tail of loyal members is too heavy).

        >>> ShiftedBetaGeometric(alpha=1.7, beta=3.0).expected_lifetime
        5.285714285714286
        """
        if self.alpha <= 1.0:
            return float("inf")
        return (self.alpha + self.beta - 1.0) / (self.alpha - 1.0)

    def discounted_expected_residual_lifetime(
        self, discount_rate: float, *, renewals: ArrayLike = 0
    ) -> Float:
        """DERL: discounted expected renewals ahead of a member, per unit of value each.

        For a member who has made ``renewals`` renewals and is about to
        decide on the next one, the sum over future periods of P(still a
        member) discounted at ``discount_rate`` per period, the next
        renewal's payment undiscounted (Fader and Hardie 2010, eq. 6). Times
        a margin per period, it values the member's remaining relationship;
        convert an annual rate with :func:`convert_discount_rate`.

        Args:
            discount_rate: per period (> 0).
            renewals: renewals made so far (0 for a member in their first period).

        >>> m = ShiftedBetaGeometric(alpha=0.668, beta=3.806)
        >>> m.discounted_expected_residual_lifetime(0.1, renewals=[0, 4]).round(2).tolist()
        [5.41, 6.9]
        """
        rate = check_rate(discount_rate, "discount_rate")
        if rate <= 0:
            raise InvalidArgument(
                f"discount_rate={discount_rate!r} must be > 0", field="discount_rate", value=rate
            )
        n = _periods(renewals, "renewals") + 1.0
        sp = _special()
        ratio = np.exp(
            sp.betaln(self.alpha, self.beta + n) - sp.betaln(self.alpha, self.beta + n - 1.0)
        )
        series = sp.hyp2f1(1.0, self.beta + n, self.alpha + self.beta + n, 1.0 / (1.0 + rate))
        return np.asarray(ratio * series, dtype=np.float64)

    def discounted_expected_lifetime(self, discount_rate: float) -> float:
        """DEL: a new member's discounted expected periods, the first payment included.

        ``2F1(1, beta; alpha + beta; 1 / (1 + d))`` (Fader and Hardie 2010).

        >>> m = ShiftedBetaGeometric(alpha=0.668, beta=3.806)
        >>> round(m.discounted_expected_lifetime(0.1), 3)
        5.923
        """
        rate = check_rate(discount_rate, "discount_rate")
        if rate <= 0:
            raise InvalidArgument(
                f"discount_rate={discount_rate!r} must be > 0", field="discount_rate", value=rate
            )
        sp = _special()
        return float(sp.hyp2f1(1.0, self.beta, self.alpha + self.beta, 1.0 / (1.0 + rate)))

    def log_likelihood(self, *, survivors: ArrayLike) -> float:
        """Log-likelihood of a cohort's survivor counts.

        >>> round(ShiftedBetaGeometric(0.704, 1.182).log_likelihood(survivors=[1000, 631, 468]), 2)
        -1019.3
        """
        lost, churn_at, kept, kept_at = _from_survivors(survivors)
        value, _ = objective(lost, churn_at, kept, kept_at)
        return value(np.array([self.alpha, self.beta]))


def _periods(value: object, name: str) -> Float:
    if np.ndim(value):  # type: ignore[arg-type]
        array = _data.as_float_column(value, name)
    else:
        array = np.asarray(check_rate(value, name), dtype=np.float64)
    if np.any(array < 0) or np.any(array != np.floor(array)):
        raise InvalidArgument(
            f"{name}={value!r} must be whole numbers of periods >= 0", field=name, value=value
        )
    return array

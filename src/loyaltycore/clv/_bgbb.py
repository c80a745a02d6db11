"""The BG/BB model of discrete-time repeat transactions (Fader, Hardie and Shang 2010).

Each period (a "transaction opportunity": a year of giving, an annual event) a
customer who is still active transacts with probability ``p``; before each
opportunity after the first, an active customer drops out for good with
probability ``theta``. Across customers ``p`` is Beta(``alpha``, ``beta``) and
``theta`` Beta(``gamma``, ``delta``). A history is ``frequency`` x (periods
with a transaction among ``n_periods`` n), ``recency`` t_x (the last such
period, 0 without any) and n.

The likelihood (FHS 2010, eq. 5), with ``B`` the beta function, is

    L = B(alpha + x, beta + n - x) / B(alpha, beta) * B(gamma, delta + n) / B(gamma, delta)
        + sum_{i=0}^{n - t_x - 1} B(alpha + x, beta + t_x - x + i) / B(alpha, beta)
          * B(gamma + 1, delta + t_x + i) / B(gamma, delta)

(alive through n, or dropped out after period t_x + i). Everything is computed
in log space. The gradient and the Hessian are analytic (digamma and trigamma
differences of the beta functions, weighted by each term's share of L), so a
fit is Newton's method: about ten evaluations. scipy is imported only when a
model computes something.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import ModuleType
from typing import Any

import attrs
import numpy as np
import numpy.typing as npt

from loyaltycore._validate import check_int, check_rate, freeze, require
from loyaltycore.clv import _data
from loyaltycore.clv._base import (
    ArrayLike,
    FitInfo,
    Float,
    Progress,
    Seed,
    _check_maxiter,
    _check_penalizer,
    _check_progress,
    _maximise,
    _positive,
    _real,
    _start,
)
from loyaltycore.errors import DegenerateFit, InvalidArgument, InvalidColumn

_NAMES = ("alpha", "beta", "gamma", "delta")
_COLUMNS = ("frequency", "recency", "n_periods")


def _special() -> ModuleType:
    return require("scipy.special", "clv models")


# -- the maths --------------------------------------------------------------------------


def _log_terms(params: Float, x: Float, t_x: Float, n: Float) -> tuple[Float, Float]:
    """(log of the alive-through-n term, log of each drop-out term) per row.

    The drop-out terms form a (max(n - t_x), rows) array, ``-inf`` past each
    row's last term.
    """
    sp = _special()
    alpha, beta, gamma, delta = params
    log_b_ab, log_b_gd = sp.betaln(alpha, beta), sp.betaln(gamma, delta)
    alive = sp.betaln(alpha + x, beta + n - x) - log_b_ab + sp.betaln(gamma, delta + n) - log_b_gd
    gap = n - t_x
    width = int(gap.max()) if gap.size else 0
    i = np.arange(width, dtype=np.float64)[:, None]
    with np.errstate(invalid="ignore"):
        dropped = (
            sp.betaln(alpha + x, beta + t_x - x + i)
            - log_b_ab
            + sp.betaln(gamma + 1.0, delta + t_x + i)
            - log_b_gd
        )
    return np.asarray(alive, dtype=np.float64), np.where(i < gap, dropped, -np.inf)


def _logsumexp(alive: Float, dropped: Float) -> Float:
    terms = np.concatenate([alive[None, :], dropped], axis=0)
    top = np.max(terms, axis=0)
    with np.errstate(under="ignore"):
        total = np.sum(np.exp(np.maximum(terms - top, -708.0)) * np.isfinite(terms), axis=0)
    return np.asarray(top + np.log(total), dtype=np.float64)


def loglik(params: Float, x: Float, t_x: Float, n: Float) -> Float:
    """Per-row BG/BB log-likelihood (0 for a row with no opportunity, n = 0)."""
    alive, dropped = _log_terms(params, x, t_x, n)
    return _logsumexp(alive, dropped)


def objective(
    x: Float, t_x: Float, n: Float, w: Float
) -> tuple[
    Callable[[Float], float],
    Callable[[Float], tuple[float, Float]],
    Callable[[Float], tuple[float, Float, Float]],
]:
    """The weighted total log-likelihood: alone, with its gradient, and with its Hessian.

    Each row's likelihood is a sum of terms (alive through n, or dropped out
    after period k = t_x, ..., n - 1), each a product of beta-function ratios
    whose logarithm is a sum of ``log Gamma(base + j)`` at whole numbers j. The
    special functions are therefore evaluated once per parameter on the few
    distinct j (``_Terms``) and gathered; with each term's gradient ``g`` and
    Hessian ``H`` (digamma and trigamma differences) and its share ``s`` of the
    row's likelihood, the row's gradient is ``sum(s g)`` and its Hessian
    ``sum(s (H + g g')) - (sum s g)(sum s g)'``.
    """
    terms = _Terms(x, t_x, n)

    def value(params: Float) -> float:
        return _data.wsum(w, loglik(params, x, t_x, n))

    def full(params: Float) -> tuple[float, Float, Float]:
        return terms.weighted(params, w)

    def both(params: Float) -> tuple[float, Float]:
        total, grad, _ = terms.weighted(params, w)
        return total, grad

    return value, both, full


class _Terms:
    """The likelihood terms of compressed BG/BB rows, as indices into special-function tables.

    Axis 0 of every (terms, rows) array is the term: 0 is "alive through n",
    1 + i is "dropped out after period t_x + i" (masked where i >= n - t_x).
    A term is ``B(alpha + x, beta + m) / B(alpha, beta)`` (``m`` = n - x alive,
    t_x + i - x dropped) times ``B(gamma + e, delta + k) / B(gamma, delta)``
    (``e`` = 0 and k = n alive, e = 1 and k = t_x + i dropped). With ``G_b(j) =
    log Gamma(b + j) - log Gamma(b)`` its logarithm is ``G_alpha(x) + G_beta(m)
    - G_alpha+beta(x + m) + e log(gamma) + G_delta(k) - G_gamma+delta(k + e)``.
    """

    def __init__(self, x: Float, t_x: Float, n: Float) -> None:
        gap = n - t_x
        width = int(gap.max()) if gap.size else 0
        i = np.arange(width, dtype=np.float64)[:, None]
        self.valid = np.concatenate([np.ones((1, x.size), dtype=bool), i < gap])
        dropped_k = np.where(i < gap, t_x + i, t_x)  # masked terms point at a valid index
        k = np.concatenate([n[None, :], dropped_k])
        self.dropped = np.zeros(k.shape)
        self.dropped[1:] = 1.0  # e: 0 for the alive term, 1 for a drop-out term
        self.x = self._index(x)
        self.m = self._index(k - x)
        self.xm = self._index(k)
        self.k = self._index(k)
        self.ke = self._index(k + self.dropped)

    @staticmethod
    def _index(values: Float) -> npt.NDArray[np.intp]:
        """The whole numbers ``values`` as indices into tables over j = 0, 1, ..., max."""
        return np.asarray(values, dtype=np.intp)

    @staticmethod
    def _tables(base: float, index: npt.NDArray[np.intp]) -> tuple[Float, ...]:
        """``G_base``, its first and its second derivative, gathered at ``index``.

        Tables over j = 0, ..., max(index) cost no more than the terms they feed,
        which number at least max(index) too (a row with n periods has n terms).
        """
        sp = _special()
        at = base + np.arange(int(index.max()) + 1 if index.size else 1, dtype=np.float64)
        tables = (sp.gammaln(at), sp.digamma(at), sp.polygamma(1, at))
        return tuple((table - table[0])[index] for table in tables)

    def weighted(self, params: Float, w: Float) -> tuple[float, Float, Float]:
        """Total weighted log-likelihood, gradient and Hessian at ``params``."""
        alpha, beta, gamma, delta = (float(v) for v in params)
        la, pa, ta = self._tables(alpha, self.x)
        lb, pb, tb = self._tables(beta, self.m)
        lab, pab, tab = self._tables(alpha + beta, self.xm)
        ld, pd, td = self._tables(delta, self.k)
        lgd, pgd, tgd = self._tables(gamma + delta, self.ke)
        e = self.dropped
        logs = la + lb - lab + e * np.log(gamma) + ld - lgd
        logs = np.where(self.valid, logs, -np.inf)
        top = logs.max(axis=0)  # finite: the alive term is always there
        with np.errstate(under="ignore"):
            scaled = np.exp(logs - top)
        row_total = scaled.sum(axis=0)
        log_rows = np.log(row_total) + top
        share = scaled / row_total
        # each term's gradient and the non-zero entries of its Hessian
        g = (pa - pab, pb - pab, e / gamma - pgd, pd - pgd)
        h_ab = -tab
        h = {
            (0, 0): ta - tab,
            (0, 1): h_ab,
            (1, 1): tb - tab,
            (2, 2): -e / gamma**2 - tgd,
            (2, 3): -tgd,
            (3, 3): td - tgd,
        }
        weighted_share = share * w
        row_grad = [np.einsum("ij,ij->j", share, gi) for gi in g]
        grad = np.array([_data.wsum(w, r) for r in row_grad])
        hess = np.empty((4, 4))
        for a in range(4):
            for b in range(a + 1):
                inner = np.einsum("ij,ij,ij->", weighted_share, g[a], g[b])
                if (b, a) in h:
                    inner += np.einsum("ij,ij->", weighted_share, h[(b, a)])
                outer = np.einsum("j,j,j->", w, row_grad[a], row_grad[b])
                hess[a, b] = hess[b, a] = float(inner - outer)
        return _data.wsum(w, log_rows), grad, hess


def p_alive(params: Float, x: Float, t_x: Float, n: Float, ahead: Float) -> Float:
    """P(alive at opportunity n + ahead | x, t_x, n) (FHS 2010, eq. 11 with ahead = 1)."""
    sp = _special()
    alpha, beta, gamma, delta = params
    log_l = loglik(params, x, t_x, n)
    log_alive = (
        sp.betaln(alpha + x, beta + n - x)
        - sp.betaln(alpha, beta)
        + sp.betaln(gamma, delta + n + ahead)
        - sp.betaln(gamma, delta)
    )
    return np.asarray(np.exp(np.minimum(log_alive - log_l, 0.0)), dtype=np.float64)


def expected(params: Float, future: Float, x: Float, t_x: Float, n: Float) -> Float:
    """E[X(n, n + future) | x, t_x, n] (FHS 2010, eq. 13)."""
    sp = _special()
    alpha, beta, gamma, delta = params
    log_l = loglik(params, x, t_x, n)
    lead = (
        sp.betaln(alpha + x + 1.0, beta + n - x)
        - sp.betaln(alpha, beta)
        - log_l
        + sp.gammaln(gamma + delta)
        - sp.gammaln(1.0 + delta)
    )
    return np.asarray(np.exp(lead) * delta * _growth(gamma, delta, n, future), dtype=np.float64)


def _growth(gamma: float, delta: float, n: Float, future: Float) -> Float:
    """``(G(1+d+n)/G(g+d+n) - G(1+d+n+f)/G(g+d+n+f)) / (g - 1)``, smooth through g = 1."""
    sp = _special()
    if abs(gamma - 1.0) < 1e-6:  # 0/0 at gamma = 1: the limit is a digamma difference
        return np.asarray(
            sp.digamma(1.0 + delta + n + future) - sp.digamma(1.0 + delta + n), dtype=np.float64
        )
    now = np.exp(sp.gammaln(1.0 + delta + n) - sp.gammaln(gamma + delta + n))
    later = np.exp(sp.gammaln(1.0 + delta + n + future) - sp.gammaln(gamma + delta + n + future))
    return np.asarray((now - later) / (gamma - 1.0), dtype=np.float64)


def expected_new(params: Float, n: Float) -> Float:
    """E[X(n)] for a new customer (FHS 2010, eq. 9)."""
    sp = _special()
    alpha, beta, gamma, delta = params
    scale = (
        alpha / (alpha + beta) * delta * np.exp(sp.gammaln(gamma + delta) - sp.gammaln(1 + delta))
    )
    return np.asarray(scale * _growth(gamma, delta, np.zeros_like(n), n), dtype=np.float64)


def probability(params: Float, k: Float, future: Float, x: Float, t_x: Float, n: Float) -> Float:
    """P(X(n, n + future) = k | x, t_x, n).

    Alive through n, the customer either stays through all ``future``
    opportunities and transacts in k of them, or drops out after i of them
    (k <= i < future) having transacted in k; a customer who dropped out before
    n transacts no more. With x = t_x = n = 0 this is the new-customer
    distribution P(X(future) = k) (FHS 2010, eq. 7).
    """
    sp = _special()
    alpha, beta, gamma, delta = params
    log_l = loglik(params, x, t_x, n)
    log_b_ab, log_b_gd = sp.betaln(alpha, beta), sp.betaln(gamma, delta)

    def log_choose(m: Float, j: Float) -> Float:
        return np.asarray(
            sp.gammaln(m + 1.0) - sp.gammaln(j + 1.0) - sp.gammaln(m - j + 1.0), dtype=np.float64
        )

    with np.errstate(invalid="ignore"):
        stay = (
            log_choose(future, k)
            + sp.betaln(alpha + x + k, beta + n - x + future - k)
            - log_b_ab
            + sp.betaln(gamma, delta + n + future)
            - log_b_gd
        )
    stay = np.where(k <= future, stay, -np.inf)
    width = int(np.max(future)) if future.size else 0
    i = np.arange(width, dtype=np.float64)[:, None]
    with np.errstate(invalid="ignore"):
        leave = (
            log_choose(i + 0.0 * k, k)
            + sp.betaln(alpha + x + k, beta + n - x + i - k)
            - log_b_ab
            + sp.betaln(gamma + 1.0, delta + n + i)
            - log_b_gd
        )
    leave = np.where((i >= k) & (i < future), leave, -np.inf)
    log_future = _logsumexp(stay, leave) - log_l
    alive, _ = _log_terms(params, x, t_x, n)
    gone = np.where(k == 0, -np.expm1(np.minimum(alive - log_l, 0.0)), 0.0)
    return np.asarray(np.exp(np.minimum(log_future, 0.0)) + gone, dtype=np.float64)


def simulate(params: Float, n: npt.NDArray[np.int64], rng: np.random.Generator) -> Float:
    """(frequency, recency) rows of customers with ``n`` opportunities each, stacked."""
    alpha, beta, gamma, delta = params
    p = rng.beta(alpha, beta, size=n.size)
    theta = rng.beta(gamma, delta, size=n.size)
    lasting = rng.geometric(np.clip(theta, 1e-300, 1.0)) - 1  # opportunities before dropping
    width = int(n.max()) if n.size else 0
    period = np.arange(1, width + 1)[None, :]
    active = period <= np.minimum(lasting, n)[:, None]
    buys = active & (rng.random((n.size, width)) < p[:, None])
    x = buys.sum(axis=1)
    t_x = np.where(x > 0, np.max(np.where(buys, period, 0), axis=1), 0)
    return np.stack([x, t_x]).astype(np.float64)


# -- data ------------------------------------------------------------------------------


def _columns(
    data: object, given: Mapping[str, object], *, allow_empty: bool = False
) -> tuple[Float, Float, Float]:
    columns = _data.collect(data, _COLUMNS, given)
    x, t_x, n = (columns[name] for name in _COLUMNS)
    if x.size == 0 and not allow_empty:
        from loyaltycore.errors import EmptyData

        raise EmptyData("frequency: no customers to fit", field="frequency")
    checks: tuple[tuple[str, Float, npt.NDArray[np.bool_], str], ...] = (
        ("n_periods", n, (n < 0) | (n != np.floor(n)), "must be a whole number >= 0"),
        ("frequency", x, (x < 0) | (x != np.floor(x)), "must be a whole number >= 0"),
        ("recency", t_x, (t_x < 0) | (t_x != np.floor(t_x)), "must be a whole number >= 0"),
        ("recency", t_x, t_x > n, "must not exceed n_periods"),
        ("frequency", x, x > t_x, "must not exceed recency (the last period with a transaction)"),
        ("recency", t_x, (x == 0) & (t_x != 0), "must be 0 when frequency is 0"),
    )
    for name, values, mask, rule in checks:
        rows = np.flatnonzero(mask)
        if rows.size:
            row = int(rows[0])
            raise InvalidColumn(
                f"{name}[{row}]={float(values[row])!r} {rule}",
                field=name,
                row=row,
                value=float(values[row]),
            )
    return x, t_x, n


def _whole(value: Any, name: str) -> Float:
    array = _data.as_float_column(value, name) if np.ndim(value) else None
    if array is None:
        if isinstance(value, bool):
            check_int(value, name)
        array = np.asarray(check_rate(value, name), dtype=np.float64)
    if np.any(array < 0) or np.any(array != np.floor(array)):
        raise InvalidArgument(
            f"{name}={value!r} must be whole numbers >= 0", field=name, value=value
        )
    return np.asarray(array, dtype=np.float64)


def _check_informative(x: Float, t_x: Float, n: Float) -> None:
    observed = n > 0
    if not np.any(observed):
        raise DegenerateFit(
            "BG/BB fit is degenerate: every n_periods is 0, so nobody had a transaction "
            "opportunity",
            model="BG/BB",
            parameters={},
        )
    if not np.any(x[observed] > 0):
        raise DegenerateFit(
            "BG/BB fit is degenerate: every frequency is 0 (no transaction in any "
            "period), so transaction and drop-out probabilities cannot be told apart",
            model="BG/BB",
            parameters={},
        )
    if np.all(x[observed] == n[observed]):
        raise DegenerateFit(
            "BG/BB fit is degenerate: every customer transacted in every period, so "
            "nobody is seen to drop out and the data show no heterogeneity",
            model="BG/BB",
            parameters={},
        )


# -- the values ------------------------------------------------------------------------


@attrs.frozen
class DiscreteHistories:
    """Discrete-time histories as arrays: what a BG/BB model fits and simulates.

    >>> h = DiscreteHistories(np.array([2.0, 0]), np.array([5.0, 0]), np.array([6.0, 6]))
    >>> h["frequency"].tolist(), h["n_periods"].tolist()
    ([2.0, 0.0], [6.0, 6.0])
    """

    frequency: Float = attrs.field(converter=freeze, eq=attrs.cmp_using(eq=np.array_equal))
    recency: Float = attrs.field(converter=freeze, eq=attrs.cmp_using(eq=np.array_equal))
    n_periods: Float = attrs.field(converter=freeze, eq=attrs.cmp_using(eq=np.array_equal))

    def __getitem__(self, name: str) -> Float:
        if name not in _COLUMNS:
            raise InvalidColumn(f"{name}: no such column in DiscreteHistories", field=name)
        value: Float = getattr(self, name)
        return value


@attrs.frozen
class BetaGeoBetaBinom:
    """The BG/BB model (Fader, Hardie and Shang 2010): discrete-time repeat transactions.

    Each period an active customer transacts with probability ``p`` ~
    Beta(``alpha``, ``beta``) and, before each later period, drops out with
    probability ``theta`` ~ Beta(``gamma``, ``delta``). Time is counted in
    transaction opportunities, so the model has no time unit.

    >>> m = BetaGeoBetaBinom(alpha=1.204, beta=0.750, gamma=0.657, delta=2.783)
    >>> m.expected_purchases(5, frequency=[6, 0], recency=[6, 0], n_periods=[6, 6]).round(2)
    array([3.75, 0.07])
    """

    alpha: float = attrs.field(converter=_real, validator=_positive)
    beta: float = attrs.field(converter=_real, validator=_positive)
    gamma: float = attrs.field(converter=_real, validator=_positive)
    delta: float = attrs.field(converter=_real, validator=_positive)
    fit_info: FitInfo | None = attrs.field(default=None, kw_only=True, eq=False, repr=False)

    @property
    def params(self) -> dict[str, float]:
        """The parameters by name.

        >>> BetaGeoBetaBinom(1.2, 0.75, 0.66, 2.8).params
        {'alpha': 1.2, 'beta': 0.75, 'gamma': 0.66, 'delta': 2.8}
        """
        return {name: float(getattr(self, name)) for name in _NAMES}

    def _vector(self) -> Float:
        return np.array([self.alpha, self.beta, self.gamma, self.delta], dtype=np.float64)

    @classmethod
    def fit(
        cls,
        data: object = None,
        *,
        frequency: ArrayLike | None = None,
        recency: ArrayLike | None = None,
        n_periods: ArrayLike | None = None,
        weights: ArrayLike | None = None,
        penalizer: float = 0.0,
        initial: Mapping[str, float] | None = None,
        maxiter: int = 1000,
        progress: Progress | None = None,
    ) -> BetaGeoBetaBinom:
        """Fit by maximum likelihood, on compressed weighted rows, and return a new model.

        Identical histories are collapsed first, so the per-customer table and
        the compressed table of the papers (one row per distinct history with
        its count in ``weights``) give the same fit.

        Args:
            data: an object or mapping with ``frequency``, ``recency`` and
                ``n_periods``, or None to pass them as keywords.
            frequency: periods with a transaction, per row.
            recency: the last period with a transaction (0 without any).
            n_periods: transaction opportunities observed.
            weights: customers per row (the papers' "number of customers").
            penalizer: L2 penalty (>= 0): the fit maximises the mean
                log-likelihood minus ``penalizer * (alpha**2 + beta**2 +
                gamma**2 + delta**2)``, lifetimes 0.11.3's
                ``BetaGeoBetaBinomFitter(penalizer_coef=...)`` objective.
            initial: optional starting values by parameter name.
            maxiter: iteration limit of the optimiser.
            progress: optional ``(done, total, stage)`` callback per iteration.

        Returns:
            The fitted model, with :attr:`fit_info` set.

        Raises:
            InvalidColumn: a missing column or a bad value (the row is named).
            DegenerateFit: nobody transacted, everybody transacted every
                period, or a parameter ran off to 0 or infinity.
            ConvergenceError: the optimiser failed.

        >>> table = dict(frequency=[0, 1, 2, 3, 3], recency=[0, 1, 3, 3, 5],
        ...              n_periods=[5] * 5, weights=[40, 20, 15, 10, 15])
        >>> fitted = BetaGeoBetaBinom.fit(table)
        >>> fitted.fit_info.customers, fitted.fit_info.unique_rows
        (100.0, 5)
        """
        given = {"frequency": frequency, "recency": recency, "n_periods": n_periods}
        x, t_x, n = _columns(data, given)
        given_weights = weights if weights is not None else _optional_weights(data)
        w = _data.weights_column(given_weights, x.size)
        (x, t_x, n), w = _data.unique_rows((x, t_x, n), w)
        _check_informative(x, t_x, n)
        fitter = require("loyaltycore.clv._fit", "clv models")
        plain, both, full = objective(x, t_x, n, w)
        params, info = _maximise(
            fitter,
            plain,
            both,
            names=_NAMES,
            start=_start(_NAMES, np.ones(4), initial),
            weights=w,
            rows=x.size,
            unit=None,
            penalizer=_check_penalizer(penalizer),
            scales=np.ones(4),
            maxiter=_check_maxiter(maxiter),
            model="BG/BB",
            progress=_check_progress(progress),
            full=full,
        )
        return cls(*params.tolist(), fit_info=info)

    def _history(self, data: object, given: Mapping[str, object]) -> tuple[Float, Float, Float]:
        return _columns(data, given, allow_empty=True)

    def expected_purchases(
        self,
        future: ArrayLike,
        data: object = None,
        *,
        frequency: ArrayLike | None = None,
        recency: ArrayLike | None = None,
        n_periods: ArrayLike | None = None,
    ) -> Float:
        """Expected transactions in the next ``future`` periods given each history (eq. 13).

        >>> m = BetaGeoBetaBinom(alpha=1.204, beta=0.750, gamma=0.657, delta=2.783)
        >>> m.expected_purchases([1, 5], frequency=3, recency=5, n_periods=6).round(3).tolist()
        [0.461, 1.805]
        """
        given = {"frequency": frequency, "recency": recency, "n_periods": n_periods}
        x, t_x, n = self._history(data, given)
        ahead = _whole(future, "future")
        x, t_x, n, ahead = _broadcast((x, t_x, n, ahead), "future")
        return expected(self._vector(), ahead, x, t_x, n)

    def p_alive(
        self,
        data: object = None,
        *,
        frequency: ArrayLike | None = None,
        recency: ArrayLike | None = None,
        n_periods: ArrayLike | None = None,
        ahead: ArrayLike = 1,
    ) -> Float:
        """Probability that each customer is still active at opportunity ``n_periods + ahead``.

        ``ahead=1`` (the default) is the paper's P(alive in period n + 1)
        (FHS 2010, eq. 11); ``ahead=0`` asks about period n itself.

        >>> m = BetaGeoBetaBinom(alpha=1.204, beta=0.750, gamma=0.657, delta=2.783)
        >>> m.p_alive(frequency=[0, 3, 6], recency=[0, 5, 6], n_periods=[6] * 3).round(3).tolist()
        [0.108, 0.767, 0.93]
        """
        given = {"frequency": frequency, "recency": recency, "n_periods": n_periods}
        x, t_x, n = self._history(data, given)
        steps = _whole(ahead, "ahead")
        x, t_x, n, steps = _broadcast((x, t_x, n, steps), "ahead")
        return p_alive(self._vector(), x, t_x, n, steps)

    def probability_of_purchases(
        self,
        k: ArrayLike,
        future: ArrayLike,
        data: object = None,
        *,
        frequency: ArrayLike | None = None,
        recency: ArrayLike | None = None,
        n_periods: ArrayLike | None = None,
    ) -> Float:
        """Probability of exactly ``k`` transactions in the next ``future`` periods.

        Without a history, for a new customer (FHS 2010, eq. 7); with one,
        conditional on it. ``k``, ``future`` and the customers broadcast.

        >>> m = BetaGeoBetaBinom(alpha=1.204, beta=0.750, gamma=0.657, delta=2.783)
        >>> m.probability_of_purchases([0, 6], 6).round(4).tolist()
        [0.3111, 0.1128]
        >>> m.probability_of_purchases(0, 5, frequency=6, recency=6, n_periods=6).round(3)
        array([0.132])
        """
        given = {"frequency": frequency, "recency": recency, "n_periods": n_periods}
        if data is None and all(v is None for v in given.values()):
            zero = np.zeros(1)
            x, t_x, n = zero, zero, zero
        else:
            x, t_x, n = self._history(data, given)
        count, ahead = _whole(k, "k"), _whole(future, "future")
        x, t_x, n, count, ahead = _broadcast((x, t_x, n, count, ahead), "k")
        return probability(self._vector(), count, ahead, x, t_x, n)

    def expected_purchases_new(self, n_periods: ArrayLike) -> Float:
        """Expected transactions of a new customer over their first ``n_periods`` (eq. 9).

        >>> m = BetaGeoBetaBinom(alpha=1.204, beta=0.750, gamma=0.657, delta=2.783)
        >>> m.expected_purchases_new([1, 6]).round(3).tolist()
        [0.616, 2.22]
        """
        return expected_new(self._vector(), _whole(n_periods, "n_periods"))

    def log_likelihood(
        self,
        data: object = None,
        *,
        frequency: ArrayLike | None = None,
        recency: ArrayLike | None = None,
        n_periods: ArrayLike | None = None,
        weights: ArrayLike | None = None,
    ) -> float:
        """Total (weighted) log-likelihood of the histories.

        >>> m = BetaGeoBetaBinom(alpha=1.204, beta=0.750, gamma=0.657, delta=2.783)
        >>> round(m.log_likelihood(frequency=[6], recency=[6], n_periods=[6], weights=[1203]), 1)
        -2484.8
        """
        given = {"frequency": frequency, "recency": recency, "n_periods": n_periods}
        x, t_x, n = _columns(data, given)
        given_weights = weights if weights is not None else _optional_weights(data)
        w = _data.weights_column(given_weights, x.size)
        return _data.wsum(w, loglik(self._vector(), x, t_x, n))

    def simulate(
        self, n_periods: ArrayLike, *, size: int | None = None, seed: Seed
    ) -> DiscreteHistories:
        """Simulate histories of customers with ``n_periods`` opportunities each.

        >>> m = BetaGeoBetaBinom(alpha=1.204, beta=0.750, gamma=0.657, delta=2.783)
        >>> sim = m.simulate(6, size=1000, seed=3)
        >>> bool((sim.frequency <= sim.recency).all() and (sim.recency <= 6).all())
        True
        """
        from loyaltycore.clv import _sim

        periods = _whole(n_periods, "n_periods")
        if size is not None:
            periods = np.broadcast_to(periods, (check_int(size, "size", minimum=1),)).copy()
        periods = np.atleast_1d(periods)
        rows = simulate(self._vector(), periods.astype(np.int64), _sim.rng_from(seed))
        return DiscreteHistories(rows[0], rows[1], periods)


def _optional_weights(data: object) -> object:
    """The ``weights`` column of ``data`` when it has one (a compressed table)."""
    try:
        return _data.get_column(data, "weights")
    except InvalidColumn:
        return None


def _broadcast(arrays: tuple[Float, ...], name: str) -> tuple[Float, ...]:
    try:
        return tuple(np.broadcast_arrays(*arrays))
    except ValueError:
        sizes = ", ".join(str(a.size) for a in arrays)
        raise InvalidArgument(
            f"{name}: the arrays have {sizes} values; pass one value, or one per customer",
            field=name,
        ) from None

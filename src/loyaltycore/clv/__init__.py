"""Probabilistic customer-lifetime-value models: BG/NBD, Pareto/NBD, Gamma-Gamma.

Each model is a frozen value holding its parameters. ``Model.fit(...)`` is a
classmethod that returns a new, fitted value (with :class:`FitInfo`:
log-likelihood, standard errors, sample size); nothing is ever mutated.
Fitting needs the ``clv`` extra (scipy) and raises
:class:`~loyaltycore.errors.MissingDependency` naming
``pip install 'loyaltycore[clv]'`` without it; importing this module does not
need scipy.

Data come as a Summary-like object (``frequency``, ``recency``, ``T`` and, for
spend, ``monetary`` as attributes or mapping keys) or as keyword arrays:
``frequency`` counts repeat purchases, ``recency`` is the time from the first
to the last purchase and ``T`` from the first purchase to the end of
observation, in the model's ``unit`` ("day" or "week").

>>> from loyaltycore.clv import BetaGeo
>>> model = BetaGeo(r=0.243, alpha=4.414, a=0.793, b=2.426, unit="week")
>>> round(float(model.expected_purchases(39, frequency=[2], recency=[30.43], T=[38.86])[0]), 3)
1.226
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from types import ModuleType
from typing import TYPE_CHECKING, Any, ClassVar, Self

import attrs
import numpy as np

from loyaltycore._frames import Col, Frames
from loyaltycore._public import publish
from loyaltycore._validate import check_rate, freeze
from loyaltycore.clv import _data, _sim
from loyaltycore.clv._base import (
    ArrayLike,
    FitInfo,
    Float,
    Progress,
    Seed,
    _check_maxiter,
    _check_penalizer,
    _check_progress,
    _check_unit,
    _fitted_info,
    _maximise,
    _penalize,
    _positive,
    _real,
    _scipy,
    _start,
    _time,
)
from loyaltycore.clv._bgbb import BetaGeoBetaBinom, DiscreteHistories
from loyaltycore.clv._diagnostics import (
    AliveHistory,
    CumulativeTransactions,
    FrequencyRecencyMatrix,
    HoldoutComparison,
    PeriodTransactions,
    calibration_vs_holdout,
    expected_cumulative_transactions,
    frequency_recency_matrix,
    p_alive_history,
    period_transactions,
)
from loyaltycore.clv._sbg import ShiftedBetaGeometric

if TYPE_CHECKING:
    from loyaltycore.clv import _lik
from loyaltycore.errors import ConvergenceError, InvalidArgument, InvalidColumn, InvalidType

for _public in (
    AliveHistory,
    BetaGeoBetaBinom,
    CumulativeTransactions,
    DiscreteHistories,
    FitInfo,
    FrequencyRecencyMatrix,
    HoldoutComparison,
    PeriodTransactions,
    ShiftedBetaGeometric,
    calibration_vs_holdout,
    expected_cumulative_transactions,
    frequency_recency_matrix,
    p_alive_history,
    period_transactions,
):
    _public.__module__ = __name__  # pickles and documents as loyaltycore.clv.<name>

__all__ = [
    "AliveHistory",
    "BetaGeo",
    "BetaGeoBetaBinom",
    "CumulativeTransactions",
    "DiscreteHistories",
    "FitInfo",
    "FrequencyRecencyMatrix",
    "GammaGamma",
    "Histories",
    "HoldoutComparison",
    "ModifiedBetaGeo",
    "ParetoNBD",
    "PeriodTransactions",
    "ShiftedBetaGeometric",
    "calibration_vs_holdout",
    "convert_discount_rate",
    "customer_lifetime_value",
    "expected_cumulative_transactions",
    "frequency_recency_matrix",
    "p_alive_history",
    "period_transactions",
]


@attrs.frozen
class Histories(Frames):
    """Purchase histories as arrays: what a model fits and what a simulator returns.

    >>> import numpy as np
    >>> h = Histories(np.array([2.0, 0]), np.array([30.43, 0]), np.array([38.86, 38.86]), "week")
    >>> h["frequency"].tolist(), h.unit
    ([2.0, 0.0], 'week')
    """

    frequency: Float = attrs.field(converter=freeze, eq=attrs.cmp_using(eq=np.array_equal))
    recency: Float = attrs.field(converter=freeze, eq=attrs.cmp_using(eq=np.array_equal))
    T: Float = attrs.field(converter=freeze, eq=attrs.cmp_using(eq=np.array_equal))
    unit: str = attrs.field(validator=_check_unit)
    monetary: Float | None = attrs.field(
        default=None, converter=freeze, eq=attrs.cmp_using(eq=np.array_equal)
    )

    def __getitem__(self, name: str) -> Any:
        if name not in ("frequency", "recency", "T", "monetary", "unit"):
            raise InvalidColumn(f"{name}: no such column in Histories", field=name)
        return getattr(self, name)

    def _columns_for_frames(self) -> tuple[Col, ...]:
        return tuple(Col(name, "float", values) for name, values in self.columns().items())

    def columns(self) -> dict[str, Float]:
        """The arrays by name (``monetary`` only when present).

        >>> sorted(Histories(np.zeros(1), np.zeros(1), np.ones(1), "day").columns())
        ['T', 'frequency', 'recency']
        """
        out = {"frequency": self.frequency, "recency": self.recency, "T": self.T}
        if self.monetary is not None:
            out["monetary"] = self.monetary
        return out


_HISTORY = ("frequency", "recency", "T")


def _history(
    data: object, frequency: object, recency: object, big_t: object, *, allow_empty: bool = False
) -> tuple[Float, Float, Float]:
    given = {"frequency": frequency, "recency": recency, "T": big_t}
    columns = _data.collect(data, _HISTORY, given)
    _data.check_history(columns, allow_empty=allow_empty)
    return columns["frequency"], columns["recency"], columns["T"]


def _start_alpha(big_t: Float, w: Float) -> float:
    return float(max(np.average(big_t, weights=w), 1e-3))


def _fit_purchases(
    kind: str,
    data: object,
    given: Mapping[str, object],
    *,
    weights: object,
    unit: str | None,
    initial: Mapping[str, float] | None,
    maxiter: int,
    penalizer: float,
    progress: Progress | None,
) -> tuple[Float, FitInfo, str]:
    """Fit BG/NBD (``kind="bg"``), MBG/NBD (``"mbg"``) or Pareto/NBD (``"pnbd"``)."""
    resolved = _data.resolve_unit(data, unit)
    x, t_x, big_t = _history(data, given["frequency"], given["recency"], given["T"])
    w = _data.weights_column(weights, x.size)
    (x, t_x, big_t), w = _data.unique_rows((x, t_x, big_t), w)
    _check_informative(kind, x, big_t)
    lik, fitter = _scipy()
    names = _NAMES[kind]
    alpha = _start_alpha(big_t, w)
    default = np.array([1.0, alpha, 1.0, alpha] if kind == "pnbd" else [1.0, alpha, 1.0, 1.0])
    start = _start(names, default, initial)
    longest = float(big_t.max())
    scales = np.array([1.0, longest, 1.0, longest if kind == "pnbd" else 1.0])
    plain, grad = _objective(lik, kind, x, t_x, big_t, w)
    from loyaltycore.clv import _scale  # needs scipy, like the fitter

    if kind == "pnbd" and x.size > _scale.DIRECT_ROWS:

        def objective(columns: tuple[Float, ...], weights: Float) -> tuple[Any, Any]:
            pair = _objective(lik, kind, columns[0], columns[1], columns[2], weights)
            return _penalize(
                *pair, penalizer=penalizer, total_weight=float(w.sum()), scales=scales
            )

        optimum = _scale.fit_in_levels(
            objective,
            (x, t_x, big_t),
            w,
            start,
            names=names,
            model=_LABELS[kind],
            maxiter=maxiter,
            limits=_limits(fitter, kind),
            hessian_step=1e-4,
            progress=progress,
        )
        if optimum is not None:
            info = _fitted_info(names, optimum, plain, w, x.size, resolved, penalizer)
            return optimum.params, info, resolved
    warm = None
    if x.size > _COARSE_ROWS:
        warm = _coarse_start(
            kind, lik, fitter, (x, t_x, big_t), w, start, maxiter, penalizer, scales
        )
    params, info = _maximise(
        fitter,
        plain,
        grad,
        names=names,
        start=start,
        weights=w,
        rows=x.size,
        unit=resolved,
        penalizer=penalizer,
        scales=scales,
        maxiter=maxiter,
        model=_LABELS[kind],
        progress=progress,
        warm=warm,
        high=_limits(fitter, kind),
        hessian_step=1e-4 if kind == "pnbd" else 1e-6,
        gtol=_GTOL[kind],
    )
    return params, info, resolved


def _check_informative(kind: str, x: Float, big_t: Float) -> None:
    """Refuse data from which no model can be fitted: nobody observed, nobody returning."""
    from loyaltycore.errors import DegenerateFit

    label = _LABELS[kind]
    if not np.any(big_t > 0):
        raise DegenerateFit(
            f"{label} fit is degenerate: every T is 0, so no customer was observed after "
            "the first purchase and the data say nothing about the model; use a later "
            "end of observation (as_of)",
            model=label,
            parameters={},
        )
    if not np.any(x[big_t > 0] > 0):
        raise DegenerateFit(
            f"{label} fit is degenerate: every frequency is 0 (no repeat purchase), so "
            "purchase rates cannot be told apart from drop-out; observe the customers "
            "longer, or check that frequency counts repeat purchases",
            model=label,
            parameters={},
        )


#: Above this many distinct histories, a fit starts from a fit on a coarser grid.
_COARSE_ROWS = 3000
_COARSE_GRID = 32


def _coarse_start(
    kind: str,
    lik: ModuleType,
    fitter: ModuleType,
    history: tuple[Float, Float, Float],
    w: Float,
    start: Float,
    maxiter: int,
    penalizer: float,
    scales: Float,
) -> tuple[Float, Float] | None:
    """(parameters, Hessian) of a fit with times rounded to 1/32 of the longest ``T``.

    On that grid there are few distinct histories, so the quasi-Newton search is
    cheap; a few Newton steps then finish the job on the exact data. None when
    the coarse fit fails (the exact data are then searched from ``start``).
    """
    x, t_x, big_t = history
    grid = float(big_t.max()) / _COARSE_GRID
    coarse_t = np.maximum(np.round(big_t / grid), 1.0) * grid
    coarse_tx = np.where(x > 0, np.clip(np.round(t_x / grid) * grid, grid / 2.0, coarse_t), 0.0)
    (cx, ctx, ct), cw = _data.unique_rows((x, coarse_tx, coarse_t), w)
    plain, grad = _objective(lik, kind, cx, ctx, ct, cw)
    loglik, fun = _penalize(
        plain, grad, penalizer=penalizer, total_weight=float(cw.sum()), scales=scales
    )
    try:
        optimum = fitter.maximise(
            loglik,
            start,
            _NAMES[kind],
            grad=fun,
            total_weight=float(cw.sum()),
            maxiter=maxiter,
            model=_LABELS[kind],
            high=_limits(fitter, kind),
            hessian_step=1e-4 if kind == "pnbd" else 1e-6,
            gtol=_GTOL[kind],
        )
    except ConvergenceError:
        return None
    return optimum.params, optimum.hessian


_NAMES = {
    "bg": ("r", "alpha", "a", "b"),
    "mbg": ("r", "alpha", "a", "b"),
    "pnbd": ("r", "alpha", "s", "beta"),
}
_LABELS = {"bg": "BG/NBD", "mbg": "MBG/NBD", "pnbd": "Pareto/NBD"}
#: BFGS's gradient tolerance: Pareto/NBD's gradient holds forward differences
#: (error about 1e-7 relative), whose noise floor is near 1e-8 per customer.
_GTOL = {"bg": 1e-9, "mbg": 1e-9, "pnbd": 2e-8}


def _limits(fitter: ModuleType, kind: str) -> Float:
    """Upper limits of the parameters, past which a fit is degenerate."""
    limits = np.full(4, fitter.HIGH)
    if kind == "pnbd":  # the shapes r and s
        limits[[0, 2]] = fitter.SHAPE_HIGH
    return limits


def _objective(
    lik: ModuleType, kind: str, x: Float, t_x: Float, big_t: Float, w: Float
) -> tuple[Callable[[Float], float], Callable[[Float], tuple[float, Float]]]:
    """The total log-likelihood, and the function giving it with its gradient."""
    if kind == "pnbd":
        pair: tuple[Callable[[Float], float], Callable[[Float], tuple[float, Float]]]
        pair = lik.pnbd_objective(x, t_x, big_t, w)
        return pair
    both: Callable[[Float], tuple[float, Float]] = lik.bg_objective(
        x, t_x, big_t, w, modified=kind == "mbg"
    )

    def value(params: Float) -> float:  # its value needs no per-row gamma functions
        return both(params)[0]

    return value, both


def _model(kind: str) -> _lik.Likelihood:
    """The likelihood functions of a purchase model, once scipy is known to be there."""
    lik, _ = _scipy()
    model: _lik.Likelihood = lik.MODELS[kind]
    return model


def _predict_expected(
    kind: str, params: Float, t: Float, x: Float, t_x: Float, big_t: Float
) -> Float:
    fn = _model(kind).expected
    try:
        t, x, t_x, big_t = np.broadcast_arrays(t, x, t_x, big_t)
    except ValueError:
        raise InvalidArgument(
            f"t has {t.size} values for {x.size} customers: pass one t, or one per customer",
            field="t",
        ) from None
    return np.asarray(fn(params, t, x, t_x, big_t), dtype=np.float64)


def _predict_alive(kind: str, params: Float, x: Float, t_x: Float, big_t: Float) -> Float:
    fn = _model(kind).p_alive
    return np.asarray(fn(params, x, t_x, big_t), dtype=np.float64)


def _predict_new(kind: str, params: Float, t: Float) -> Float:
    fn = _model(kind).expected_new
    return np.asarray(fn(params, t), dtype=np.float64)


def _predict_probability(
    kind: str,
    params: Float,
    n: Any,
    t: Float,
    history: tuple[Float, Float, Float] | None = None,
) -> Float:
    counts = _data.as_float_column(n, "n") if np.ndim(n) else np.asarray(check_rate(n, "n"))
    if np.any(counts < 0) or np.any(counts != np.floor(counts)):
        raise InvalidArgument(f"n={n!r} must be whole numbers >= 0", field="n", value=n)
    if history is None:
        try:
            counts, t = np.broadcast_arrays(counts, t)
        except ValueError:
            raise InvalidArgument(
                f"n has {counts.size} values and t {t.size}: pass one of them, or as many of each",
                field="n",
            ) from None
        fn = _model(kind).probability
        return np.asarray(fn(params, counts, t), dtype=np.float64)
    try:
        counts, t, x, t_x, big_t = np.broadcast_arrays(counts, t, *history)
    except ValueError:
        raise InvalidArgument(
            f"n has {counts.size} values and t {t.size} for {history[0].size} customers: "
            "pass one value, or one per customer",
            field="n",
        ) from None
    conditional = _model(kind).conditional_probability
    return np.asarray(conditional(params, counts, t, x, t_x, big_t), dtype=np.float64)


def _loglik(
    kind: str, params: Float, history: tuple[Float, Float, Float], weights: object
) -> float:
    x, t_x, big_t = history
    w = _data.weights_column(weights, x.size)
    fn = _model(kind).loglik
    return _data.wsum(w, fn(params, x, t_x, big_t))


def _simulate(
    kind: str, params: Float, big_t: object, size: int | None, seed: Seed, unit: str
) -> Histories:
    ages = _time(big_t, "T")
    if size is not None:
        from loyaltycore._validate import check_int

        ages = np.broadcast_to(ages, (check_int(size, "size", minimum=1),)).copy()
    ages = np.atleast_1d(ages)
    if np.any(ages <= 0):
        raise InvalidArgument(f"T={big_t!r} must be > 0", field="T", value=big_t)
    rng = _sim.rng_from(seed)
    if kind == "pnbd":
        x, t_x = _sim.pareto_nbd(params[0], params[1], params[2], params[3], ages, rng)
    else:
        r, alpha, a, b = params
        x, t_x = _sim.beta_geo(r, alpha, a, b, ages, rng, modified=kind == "mbg")
    return Histories(x, t_x, ages, unit)


class _PurchaseModel:
    """What BG/NBD and Pareto/NBD share: fitting and predictions from history."""

    __slots__ = ()
    KIND: ClassVar[str]
    unit: str
    fit_info: FitInfo | None

    if TYPE_CHECKING:

        def __init__(self, *params: float, unit: str, fit_info: FitInfo | None = None) -> None:
            """Declared for the type checker; each model's attrs ``__init__`` does the work."""

    def _vector(self) -> Float:
        return np.array([getattr(self, name) for name in _NAMES[self.KIND]], dtype=np.float64)

    @property
    def params(self) -> dict[str, float]:
        """The parameters by name.

        >>> BetaGeo(r=0.25, alpha=4.0, a=0.8, b=2.5, unit="week").params
        {'r': 0.25, 'alpha': 4.0, 'a': 0.8, 'b': 2.5}
        """
        return {name: float(getattr(self, name)) for name in _NAMES[self.KIND]}

    @classmethod
    def fit(
        cls,
        data: object = None,
        *,
        frequency: ArrayLike | None = None,
        recency: ArrayLike | None = None,
        T: ArrayLike | None = None,
        weights: ArrayLike | None = None,
        unit: str | None = None,
        initial: Mapping[str, float] | None = None,
        maxiter: int = 1000,
        penalizer: float = 0.0,
        progress: Progress | None = None,
    ) -> Self:
        """Fit by maximum likelihood and return a new fitted model.

        Identical histories are collapsed into weighted unique rows first.

        With ``penalizer`` c > 0 the fit maximises the mean log-likelihood
        per customer minus ``c * sum(theta**2)`` over the parameters, with
        the time-scale parameters (``alpha``; for Pareto/NBD also ``beta``)
        divided by the longest ``T``, so the penalty does not depend on the
        time unit. lifetimes 0.11.3 minimises ``-sum(w * ll) / sum(w) +
        penalizer_coef * sum(params**2)`` on times scaled to a longest ``T``
        of 1, which is the same objective for BG/NBD and MBG/NBD; its
        Pareto/NBD divides by ``mean(w)`` instead of ``sum(w)``.

        Args:
            data: a Summary-like object with ``frequency``, ``recency``, ``T``
                (attributes or keys) and optionally ``unit``; or None to pass
                the columns as keywords.
            frequency: repeat purchases per customer.
            recency: time from first to last purchase.
            T: time from first purchase to the end of observation.
            weights: optional number of customers each row stands for.
            unit: "day", "week", "month" (365.25 / 12 days) or "year"
                (365.25 days); taken from ``data.unit`` when omitted.
            initial: optional starting values by parameter name.
            maxiter: iteration limit of the optimiser.
            penalizer: L2 penalty coefficient (>= 0), as described above.
            progress: optional ``(done, total, stage)`` callback, called once
                per optimiser iteration; it may raise to cancel the fit.

        Returns:
            The fitted model, with :attr:`fit_info` set.

        Raises:
            InvalidColumn: a column is missing, of the wrong length, or has a
                bad value (the message names the row).
            MissingDependency: scipy is not installed.
            DegenerateFit: a parameter ran off to 0 or infinity, every ``T``
                is 0, or no customer has a repeat purchase.
            ConvergenceError: the optimiser failed; the message says what to try.

        >>> truth = BetaGeo(r=0.25, alpha=4.0, a=0.8, b=2.5, unit="week")
        >>> fitted = BetaGeo.fit(truth.simulate(39.0, size=2000, seed=1))
        >>> sorted(fitted.fit_info.standard_errors)
        ['a', 'alpha', 'b', 'r']
        >>> fitted.fit_info.customers, round(fitted.r, 1)
        (2000.0, 0.2)
        """
        params, info, resolved = _fit_purchases(
            cls.KIND,
            data,
            {"frequency": frequency, "recency": recency, "T": T},
            weights=weights,
            unit=unit,
            initial=initial,
            maxiter=_check_maxiter(maxiter),
            penalizer=_check_penalizer(penalizer),
            progress=_check_progress(progress),
        )
        return cls(*params.tolist(), unit=resolved, fit_info=info)

    def _histories(
        self, data: object, given: Mapping[str, object], unit: str | None
    ) -> tuple[Float, Float, Float, float]:
        """The history columns in the model's unit, and how many model units one data unit is.

        The data's unit is ``unit=``, else the data's own ``unit``, else the model's.
        """
        x, t_x, big_t = _history(data, given["frequency"], given["recency"], given["T"])
        scale = _data.unit_ratio(_data.data_unit(data, unit, self.unit), self.unit)
        return x, t_x * scale, big_t * scale, scale

    def expected_purchases(
        self,
        t: ArrayLike,
        data: object = None,
        *,
        frequency: ArrayLike | None = None,
        recency: ArrayLike | None = None,
        T: ArrayLike | None = None,
        unit: str | None = None,
    ) -> Float:
        """Expected purchases in the next ``t`` units, given each customer's history.

        ``t``, ``recency`` and ``T`` are in ``unit`` (default: the data's
        ``unit``, else the model's); they are converted to the model's unit.

        >>> m = BetaGeo(r=0.243, alpha=4.414, a=0.793, b=2.426, unit="week")
        >>> m.expected_purchases([13, 39], frequency=2, recency=30.43, T=38.86).round(3).tolist()
        [0.457, 1.226]
        >>> m.expected_purchases(273, frequency=2, recency=213.01, T=272.02, unit="day").round(3)
        array([1.226])
        """
        given = {"frequency": frequency, "recency": recency, "T": T}
        x, t_x, big_t, scale = self._histories(data, given, unit)
        horizon = _time(t, "t") * scale
        return _predict_expected(self.KIND, self._vector(), horizon, x, t_x, big_t)

    def p_alive(
        self,
        data: object = None,
        *,
        frequency: ArrayLike | None = None,
        recency: ArrayLike | None = None,
        T: ArrayLike | None = None,
        unit: str | None = None,
    ) -> Float:
        """Probability that each customer is still active at ``T``.

        ``recency`` and ``T`` are in ``unit`` (default: the data's, else the
        model's). Computed from log-odds without underflow, so it runs under
        ``numpy.seterr(all="raise")``.

        >>> m = BetaGeo(r=0.243, alpha=4.414, a=0.793, b=2.426, unit="week")
        >>> m.p_alive(frequency=[0, 2, 2], recency=[0, 30.43, 5], T=[38.86] * 3).round(3).tolist()
        [1.0, 0.727, 0.124]
        >>> m.p_alive(frequency=[2], recency=[213.01], T=[272.02], unit="day").round(3).tolist()
        [0.727]
        """
        given = {"frequency": frequency, "recency": recency, "T": T}
        x, t_x, big_t, _ = self._histories(data, given, unit)
        return _predict_alive(self.KIND, self._vector(), x, t_x, big_t)

    def expected_purchases_new(self, t: ArrayLike, *, unit: str | None = None) -> Float:
        """Expected repeat purchases in ``t`` units of a customer just acquired.

        ``t`` is in ``unit`` (default: the model's).

        >>> m = BetaGeo(r=0.243, alpha=4.414, a=0.793, b=2.426, unit="week")
        >>> m.expected_purchases_new([39, 78]).round(3).tolist()
        [1.197, 1.861]
        >>> m.expected_purchases_new([273], unit="day").round(3).tolist()
        [1.197]
        """
        scale = _data.unit_ratio(_data.data_unit(None, unit, self.unit), self.unit)
        return _predict_new(self.KIND, self._vector(), _time(t, "t") * scale)

    def probability_of_purchases(
        self,
        n: ArrayLike,
        t: ArrayLike,
        data: object = None,
        *,
        frequency: ArrayLike | None = None,
        recency: ArrayLike | None = None,
        T: ArrayLike | None = None,
        unit: str | None = None,
    ) -> Float:
        """Probability of exactly ``n`` purchases in the next ``t`` units.

        Without a history, for a customer just acquired (repeat purchases in
        ``(0, t]``). With ``frequency``, ``recency`` and ``T`` (or ``data``),
        conditional on each customer's history: ``P(X(T, T + t) = n | x, t_x,
        T)``, the mixture of "no longer active" (no purchase) and the
        new-customer distribution under the posterior of the purchase and
        drop-out parameters. ``n``, ``t`` and the customers broadcast together.

        >>> m = BetaGeo(r=0.243, alpha=4.414, a=0.793, b=2.426, unit="week")
        >>> m.probability_of_purchases([0, 1, 2], 39).round(3).tolist()
        [0.574, 0.199, 0.085]
        >>> history = dict(frequency=[2] * 3, recency=[30.43] * 3, T=[38.86] * 3)
        >>> m.probability_of_purchases([0, 1, 2], 39, **history).round(3).tolist()
        [0.445, 0.239, 0.144]
        """
        given = {"frequency": frequency, "recency": recency, "T": T}
        if data is None and all(v is None for v in given.values()):
            scale = _data.unit_ratio(_data.data_unit(None, unit, self.unit), self.unit)
            return _predict_probability(self.KIND, self._vector(), n, _time(t, "t") * scale)
        x, t_x, big_t, scale = self._histories(data, given, unit)
        history = (x, t_x, big_t)
        return _predict_probability(self.KIND, self._vector(), n, _time(t, "t") * scale, history)

    def log_likelihood(
        self,
        data: object = None,
        *,
        frequency: ArrayLike | None = None,
        recency: ArrayLike | None = None,
        T: ArrayLike | None = None,
        weights: ArrayLike | None = None,
        unit: str | None = None,
    ) -> float:
        """Total (weighted) log-likelihood of the histories, times in the model's unit.

        Times in another ``unit`` are converted first.

        >>> m = BetaGeo(r=0.243, alpha=4.414, a=0.793, b=2.426, unit="week")
        >>> round(m.log_likelihood(frequency=[0, 2], recency=[0, 30.43], T=[38.86, 38.86]), 3)
        -10.013
        """
        given = {"frequency": frequency, "recency": recency, "T": T}
        x, t_x, big_t, _ = self._histories(data, given, unit)
        return _loglik(self.KIND, self._vector(), (x, t_x, big_t), weights)

    def simulate(
        self,
        T: ArrayLike,
        *,
        size: int | None = None,
        seed: Seed,
    ) -> Histories:
        """Simulate histories of customers observed for ``T`` after their first purchase.

        Args:
            T: observation length per customer (or one value with ``size``).
            size: number of customers when ``T`` is one value.
            seed: an int seed or a :class:`numpy.random.Generator`.

        >>> m = BetaGeo(r=0.243, alpha=4.414, a=0.793, b=2.426, unit="week")
        >>> sim = m.simulate(39.0, size=1000, seed=7)
        >>> sim.frequency.shape, bool((sim.recency <= sim.T).all())
        ((1000,), True)
        """
        return _simulate(self.KIND, self._vector(), T, size, seed, self.unit)


@attrs.frozen
class BetaGeo(_PurchaseModel):
    """The BG/NBD model (Fader, Hardie and Lee 2005).

    While active, a customer buys at a rate drawn from Gamma(``r``, ``alpha``)
    and, after each repeat purchase, drops out with a probability drawn from
    Beta(``a``, ``b``). Time is measured in ``unit``.

    >>> m = BetaGeo(r=0.243, alpha=4.414, a=0.793, b=2.426, unit="week")
    >>> m.unit, m.fit_info is None
    ('week', True)
    """

    KIND: ClassVar[str] = "bg"
    r: float = attrs.field(converter=_real, validator=_positive)
    alpha: float = attrs.field(converter=_real, validator=_positive)
    a: float = attrs.field(converter=_real, validator=_positive)
    b: float = attrs.field(converter=_real, validator=_positive)
    unit: str = attrs.field(kw_only=True, validator=_check_unit)
    fit_info: FitInfo | None = attrs.field(default=None, kw_only=True, eq=False, repr=False)


@attrs.frozen
class ModifiedBetaGeo(_PurchaseModel):
    """The MBG/NBD model (Batislam, Denizel and Filiztekin 2007).

    BG/NBD in which a customer may also drop out right after the first
    purchase, so customers without repeat purchases are not all alive.

    >>> m = ModifiedBetaGeo(r=0.25, alpha=4.4, a=0.8, b=2.4, unit="week")
    >>> m.p_alive(frequency=[0, 2], recency=[0.0, 30.43], T=[38.86, 38.86]).round(3).tolist()
    [0.629, 0.772]
    """

    KIND: ClassVar[str] = "mbg"
    r: float = attrs.field(converter=_real, validator=_positive)
    alpha: float = attrs.field(converter=_real, validator=_positive)
    a: float = attrs.field(converter=_real, validator=_positive)
    b: float = attrs.field(converter=_real, validator=_positive)
    unit: str = attrs.field(kw_only=True, validator=_check_unit)
    fit_info: FitInfo | None = attrs.field(default=None, kw_only=True, eq=False, repr=False)


@attrs.frozen
class ParetoNBD(_PurchaseModel):
    """The Pareto/NBD model (Schmittlein, Morrison and Colombo 1987).

    While active, a customer buys at a rate drawn from Gamma(``r``, ``alpha``)
    and drops out at an exponential time whose rate is drawn from
    Gamma(``s``, ``beta``). The likelihood's hypergeometric terms follow
    Fader and Hardie's stable case split.

    >>> m = ParetoNBD(r=0.553, alpha=10.578, s=0.606, beta=11.669, unit="week")
    >>> round(float(m.expected_purchases(39, frequency=2, recency=30.43, T=38.86)[0]), 3)
    1.455
    """

    KIND: ClassVar[str] = "pnbd"
    r: float = attrs.field(converter=_real, validator=_positive)
    alpha: float = attrs.field(converter=_real, validator=_positive)
    s: float = attrs.field(converter=_real, validator=_positive)
    beta: float = attrs.field(converter=_real, validator=_positive)
    unit: str = attrs.field(kw_only=True, validator=_check_unit)
    fit_info: FitInfo | None = attrs.field(default=None, kw_only=True, eq=False, repr=False)


_SPEND = ("frequency", "monetary")
_FREE_REPEATS = (
    "must be > 0 when frequency > 0: Gamma-Gamma needs a positive mean spend; fit on "
    "the repeat customers with spend, keep = (frequency > 0) & (monetary > 0)"
)


def _spend_columns(
    data: object, frequency: object, monetary: object, *, fitting: bool = False
) -> tuple[Float, Float]:
    """Frequency and mean spend columns, checked.

    The likelihood needs a positive mean spend for every repeat customer
    (``fitting=True``); a prediction is defined for a mean spend of 0 too
    (a repeat customer whose purchases were free).
    """
    columns = _data.collect(data, _SPEND, {"frequency": frequency, "monetary": monetary})
    x, m = columns["frequency"], columns["monetary"]
    positive = (x > 0) & (m <= 0) if fitting else np.zeros(x.shape, dtype=bool)
    for name, values, mask, rule in (
        ("frequency", x, (x < 0) | (x != np.floor(x)), "must be a whole number >= 0"),
        ("monetary", m, positive, _FREE_REPEATS),
        ("monetary", m, m < 0, "must be >= 0"),
    ):
        rows = np.flatnonzero(mask)
        if rows.size:
            row = int(rows[0])
            raise InvalidColumn(
                f"{name}[{row}]={float(values[row])!r} {rule}",
                field=name,
                row=row,
                value=float(values[row]),
            )
    return x, m


@attrs.frozen
class GammaGamma:
    """The Gamma-Gamma model of spend per transaction (Fader, Hardie and Lee 2005).

    Each transaction's value is Gamma(``p``, ``nu``) with the customer's
    ``nu`` drawn from Gamma(``q``, ``gamma``); it is fitted on customers with
    at least one repeat purchase and their mean repeat-purchase value.

    >>> m = GammaGamma(p=6.25, q=3.74, gamma=15.44)
    >>> round(m.mean_spend, 2)
    35.22
    """

    p: float = attrs.field(converter=_real, validator=_positive)
    q: float = attrs.field(converter=_real, validator=_positive)
    gamma: float = attrs.field(converter=_real, validator=_positive)
    fit_info: FitInfo | None = attrs.field(default=None, kw_only=True, eq=False, repr=False)

    @property
    def params(self) -> dict[str, float]:
        """The parameters by name.

        >>> GammaGamma(p=6.0, q=4.0, gamma=15.0).params
        {'p': 6.0, 'q': 4.0, 'gamma': 15.0}
        """
        return {"p": self.p, "q": self.q, "gamma": self.gamma}

    @property
    def mean_spend(self) -> float:
        """Population mean spend per transaction, ``p * gamma / (q - 1)`` (inf if q <= 1).

        >>> GammaGamma(p=6.0, q=4.0, gamma=15.0).mean_spend
        30.0
        """
        return self.p * self.gamma / (self.q - 1.0) if self.q > 1.0 else math.inf

    @classmethod
    def fit(
        cls,
        data: object = None,
        *,
        frequency: ArrayLike | None = None,
        monetary: ArrayLike | None = None,
        weights: ArrayLike | None = None,
        initial: Mapping[str, float] | None = None,
        maxiter: int = 1000,
        penalizer: float = 0.0,
        progress: Progress | None = None,
    ) -> GammaGamma:
        """Fit on the repeat customers (``frequency > 0``) and return a fitted model.

        Args:
            data: a Summary-like object with ``frequency`` and ``monetary``, or
                None to pass them as keywords.
            frequency: repeat purchases per customer; rows with 0 are ignored.
            monetary: mean value of the repeat purchases, > 0 where frequency > 0.
            weights: optional number of customers each row stands for.
            initial: optional starting values by parameter name.
            maxiter: iteration limit of the optimiser.
            penalizer: L2 penalty (>= 0): the fit maximises the mean
                log-likelihood minus ``penalizer * (p**2 + q**2 + gamma**2)``,
                lifetimes 0.11.3's ``GammaGammaFitter(penalizer_coef=...)``
                objective exactly.
            progress: optional ``(done, total, stage)`` callback per iteration.

        Returns:
            The fitted model, with :attr:`fit_info` set.

        Raises:
            InvalidColumn: a missing column or a bad value (the row is named);
                a repeat customer whose mean spend is 0 (all their repeat
                purchases free) is refused, naming the filter to apply.
            EmptyData: no customer has a repeat purchase.
            DegenerateFit: a parameter ran off to 0 or infinity.
            ConvergenceError: the optimiser failed.

        >>> truth = GammaGamma(p=6.0, q=4.0, gamma=15.0)
        >>> frequency = [0, 1, 2, 3, 5] * 400
        >>> spends = truth.simulate(frequency, seed=2)
        >>> fitted = GammaGamma.fit(frequency=frequency, monetary=spends)
        >>> fitted.fit_info.customers, round(fitted.mean_spend)
        (1600.0, 31)
        """
        x, m = _spend_columns(data, frequency, monetary, fitting=True)
        w = _data.weights_column(weights, x.size) * (x > 0)
        if not w.sum() > 0:
            from loyaltycore.errors import EmptyData

            raise EmptyData(
                "frequency: no customer with a repeat purchase to fit", field="frequency"
            )
        (x, m), w = _data.unique_rows((x, m), w)
        lik, fitter = _scipy()
        names = ("p", "q", "gamma")
        start = np.array([1.0, 1.0, float(np.average(m, weights=w))])
        if initial is not None:
            start = np.array(
                [
                    check_rate(initial.get(n, v), f"initial[{n!r}]")
                    for n, v in zip(names, start, strict=True)
                ]
            )

        def fun(params: Float) -> tuple[float, Float]:
            return lik.gg_loglik_grad(params, x, m, w)  # type: ignore[no-any-return]

        def plain(params: Float) -> float:
            return fun(params)[0]

        params, info = _maximise(
            fitter,
            plain,
            fun,
            names=names,
            start=start,
            weights=w,
            rows=x.size,
            unit=None,
            penalizer=_check_penalizer(penalizer),
            scales=np.ones(3),
            maxiter=_check_maxiter(maxiter),
            model="Gamma-Gamma",
            progress=_check_progress(progress),
        )
        p, q, gamma = params.tolist()
        return cls(p, q, gamma, fit_info=info)

    def expected_spend(
        self,
        data: object = None,
        *,
        frequency: ArrayLike | None = None,
        monetary: ArrayLike | None = None,
    ) -> Float:
        """Expected value of a customer's future transactions given their history.

        A weighted mean of the population mean and the customer's own mean,
        ``(gamma + x * m) * p / (p * x + q - 1)``; customers without repeat
        purchases get the population mean.

        >>> m = GammaGamma(p=6.25, q=3.74, gamma=15.44)
        >>> m.expected_spend(frequency=[0, 2, 10], monetary=[0.0, 22.35, 22.35]).round(2).tolist()
        [35.22, 24.66, 22.89]
        >>> m.expected_spend(frequency=[3], monetary=[0.0]).round(2).tolist()  # free repeats
        [4.49]
        """
        x, m = _spend_columns(data, frequency, monetary)
        p, q, gamma = self.p, self.q, self.gamma
        with np.errstate(divide="ignore"):
            own = (gamma + x * m) * p / (p * x + q - 1.0)
        return np.asarray(np.where(x > 0, own, self.mean_spend), dtype=np.float64)

    def log_likelihood(
        self,
        data: object = None,
        *,
        frequency: ArrayLike | None = None,
        monetary: ArrayLike | None = None,
        weights: ArrayLike | None = None,
    ) -> float:
        """Total (weighted) log-likelihood of the repeat customers' mean spends.

        >>> m = GammaGamma(p=6.25, q=3.74, gamma=15.44)
        >>> round(m.log_likelihood(frequency=[2, 0], monetary=[22.35, 0.0]), 3)
        -3.551
        """
        lik, _ = _scipy()
        x, m = _spend_columns(data, frequency, monetary, fitting=True)
        w = _data.weights_column(weights, x.size)
        keep = (x > 0) & (w > 0)
        return _data.wsum(w[keep], lik.gg_loglik(self._vector(), x[keep], m[keep]))

    def _vector(self) -> Float:
        return np.array([self.p, self.q, self.gamma])

    def simulate(self, frequency: ArrayLike, *, seed: Seed) -> Float:
        """Simulate the mean repeat-purchase value of customers with these frequencies.

        >>> m = GammaGamma(p=6.25, q=3.74, gamma=15.44)
        >>> spends = m.simulate([0, 3, 10], seed=1)
        >>> float(spends[0]), bool((spends[1:] > 0).all())
        (0.0, True)
        """
        x = _data.as_float_column(frequency, "frequency")
        if np.any((x < 0) | (x != np.floor(x))):
            raise InvalidArgument("frequency must hold whole numbers >= 0", field="frequency")
        return _sim.gamma_gamma(self.p, self.q, self.gamma, x, _sim.rng_from(seed))


def customer_lifetime_value(
    purchases: BetaGeo | ModifiedBetaGeo | ParetoNBD,
    spend: GammaGamma,
    data: object = None,
    *,
    horizon: float,
    unit: str,
    discount_rate: float,
    rate_unit: str | None = None,
    frequency: ArrayLike | None = None,
    recency: ArrayLike | None = None,
    T: ArrayLike | None = None,
    monetary: ArrayLike | None = None,
) -> Float:
    """Discounted expected value of each customer's purchases over ``horizon``.

    The horizon is cut into steps of one ``unit``; the expected purchases of
    each step (from the purchase model, conditional on history) times the
    expected spend (from the spend model) is discounted by
    ``(1 + rate) ** k`` at the end of step ``k``, where ``rate`` is
    ``discount_rate`` converted from per ``rate_unit`` to per ``unit`` by
    :func:`convert_discount_rate`. Units are exact day counts: a week is 7
    days, a month 365.25 / 12 and a year 365.25, never "4.345 weeks".

    Args:
        purchases: a BG/NBD, MBG/NBD or Pareto/NBD model.
        spend: a Gamma-Gamma model.
        data: a Summary-like object with ``frequency``, ``recency``, ``T``,
            ``monetary``; or None to pass them as keywords.
        horizon: how far ahead, in ``unit`` s (> 0).
        unit: "day", "week", "month" or "year": the unit of ``horizon`` and
            of the discounting steps.
        discount_rate: discount rate per ``rate_unit`` (>= 0).
        rate_unit: the period of ``discount_rate`` (default ``unit``), e.g.
            an annual rate with ``rate_unit="year"``.
        frequency: repeat purchases per customer.
        recency: time from first to last purchase, in the data's unit (a
            summary's ``unit``), else the purchase model's.
        T: time from first purchase to the end of observation, likewise.
        monetary: mean repeat-purchase value.

    Returns:
        The value per customer, in the currency of ``monetary``.

    >>> bg = BetaGeo(r=0.243, alpha=4.414, a=0.793, b=2.426, unit="week")
    >>> gg = GammaGamma(p=6.25, q=3.74, gamma=15.44)
    >>> history = dict(frequency=[2, 0], recency=[30.43, 0.0], T=[38.86, 38.86])
    >>> spend = dict(monetary=[22.35, 0.0])
    >>> clv = customer_lifetime_value(
    ...     bg, gg, horizon=52, unit="week", discount_rate=0.002, **history, **spend
    ... )
    >>> clv.round(2).tolist()
    [36.61, 8.44]
    >>> yearly = customer_lifetime_value(
    ...     bg, gg, horizon=12, unit="month", discount_rate=0.1, rate_unit="year",
    ...     **history, **spend
    ... )
    >>> yearly.round(2).tolist()
    [36.75, 8.48]
    """
    if not isinstance(purchases, _PurchaseModel):
        raise InvalidType(
            f"purchases={purchases!r} must be a BetaGeo, ModifiedBetaGeo or ParetoNBD model",
            field="purchases",
        )
    if not isinstance(spend, GammaGamma):
        raise InvalidType(f"spend={spend!r} must be a GammaGamma model", field="spend")
    unit = _data.check_unit(unit, "unit")
    horizon = check_rate(horizon, "horizon")
    rate = check_rate(discount_rate, "discount_rate")
    if rate_unit is not None:
        rate = convert_discount_rate(rate, per=rate_unit, to=unit)
    if horizon <= 0:
        raise InvalidArgument(f"horizon={horizon!r} must be > 0", field="horizon", value=horizon)
    if rate < 0:
        raise InvalidArgument(
            f"discount_rate={rate!r} must be >= 0", field="discount_rate", value=rate
        )
    x, t_x, big_t = _history(data, frequency, recency, T)
    own = _data.unit_ratio(_data.data_unit(data, None, purchases.unit), purchases.unit)
    t_x, big_t = t_x * own, big_t * own
    _, m = _spend_columns(data, x if data is None else None, monetary)
    value_per_purchase = spend.expected_spend(frequency=x, monetary=m)
    ends = np.minimum(np.arange(1, math.ceil(horizon) + 1, dtype=np.float64), horizon)
    scale = _data.unit_ratio(unit, purchases.unit)
    total = np.zeros(x.size)
    before = np.zeros(x.size)
    for end in ends:
        cumulative = purchases.expected_purchases(end * scale, frequency=x, recency=t_x, T=big_t)
        total += (cumulative - before) / (1.0 + rate) ** end
        before = cumulative
    return np.asarray(total * value_per_purchase, dtype=np.float64)


def convert_discount_rate(rate: float, *, per: str, to: str) -> float:
    """A discount rate per ``per`` expressed per ``to``: ``(1 + rate) ** (d_to / d_per) - 1``.

    ``d`` is the length in days ("day" 1, "week" 7, "month" 365.25 / 12,
    "year" 365.25), computed in float64; compounding is exact, so converting
    there and back returns the rate (to rounding).

    Args:
        rate: the rate per ``per`` (> -1).
        per: the unit the rate is given in.
        to: the unit wanted.

    Returns:
        The equivalent rate per ``to``, a Python float.

    >>> round(convert_discount_rate(0.1, per="year", to="month"), 6)
    0.007974
    >>> round(convert_discount_rate(0.007974140428903741, per="month", to="year"), 6)
    0.1
    """
    value = check_rate(rate, "rate")
    if value <= -1.0:
        raise InvalidArgument(f"rate={rate!r} must be > -1", field="rate", value=rate)
    source = _data.check_unit(per, "per")
    target = _data.check_unit(to, "to")
    return float((1.0 + value) ** (_data.DAYS[target] / _data.DAYS[source]) - 1.0)


publish(__name__, __all__, globals())

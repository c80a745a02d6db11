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
import numpy.typing as npt

from loyaltycore._frames import Col, Frames
from loyaltycore._validate import check_positive, check_rate, freeze, require
from loyaltycore.clv import _data, _sim
from loyaltycore.errors import ConvergenceError, InvalidArgument, InvalidColumn, InvalidType

__all__ = [
    "BetaGeo",
    "FitInfo",
    "GammaGamma",
    "Histories",
    "ModifiedBetaGeo",
    "ParetoNBD",
    "customer_lifetime_value",
]

Float = npt.NDArray[np.float64]
ArrayLike = npt.ArrayLike
Seed = int | np.random.Generator


def _scipy() -> tuple[ModuleType, ModuleType]:
    """The likelihood and fitting modules, once scipy is known to be there."""
    require("scipy.special", "clv models")
    require("scipy.optimize", "clv models")
    from loyaltycore.clv import _fit, _lik

    return _lik, _fit


def _real(value: object) -> object:
    """Normalise numbers to float; other values go on to the validator unchanged."""
    if isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool):
        return float(value)
    return value


def _positive(instance: object, attribute: attrs.Attribute[float], value: object) -> None:
    check_positive(value, attribute.name)


def _check_unit(instance: object, attribute: attrs.Attribute[str], value: object) -> None:
    _data.check_unit(value, attribute.name)


def _time(value: Any, name: str) -> Float:
    array = _data.as_float_column(value, name) if np.ndim(value) else None
    if array is None:
        array = np.asarray(check_rate(value, name), dtype=np.float64)
    if np.any(array < 0):
        raise InvalidArgument(f"{name}={value!r} must be >= 0", field=name, value=value)
    return array


@attrs.frozen
class FitInfo:
    """How a model was fitted: log-likelihood, covariance, sample, iterations.

    ``covariance`` is the inverse Hessian of the negative log-likelihood in the
    natural parameters (NaN when the Hessian is singular).

    >>> info = FitInfo(("p",), -10.0, ((0.04,),), 100.0, 12, 7, None)
    >>> info.standard_errors
    {'p': 0.2}
    """

    parameter_names: tuple[str, ...]
    log_likelihood: float
    covariance: tuple[tuple[float, ...], ...]
    customers: float
    unique_rows: int
    iterations: int
    unit: str | None

    @property
    def standard_errors(self) -> dict[str, float]:
        """Standard error of each parameter, by name."""
        diagonal = [row[i] for i, row in enumerate(self.covariance)]
        return {
            name: math.sqrt(v) if v >= 0 else math.nan
            for name, v in zip(self.parameter_names, diagonal, strict=True)
        }


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


def _info(
    names: tuple[str, ...], optimum: Any, weights: Float, rows: int, unit: str | None
) -> FitInfo:
    covariance = tuple(tuple(float(v) for v in row) for row in optimum.covariance)
    return FitInfo(
        names,
        optimum.log_likelihood,
        covariance,
        float(weights.sum()),
        rows,
        optimum.iterations,
        unit,
    )


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
) -> tuple[Float, FitInfo, str]:
    """Fit BG/NBD (``kind="bg"``), MBG/NBD (``"mbg"``) or Pareto/NBD (``"pnbd"``)."""
    resolved = _data.resolve_unit(data, unit)
    x, t_x, big_t = _history(data, given["frequency"], given["recency"], given["T"])
    w = _data.weights_column(weights, x.size)
    (x, t_x, big_t), w = _data.unique_rows((x, t_x, big_t), w)
    lik, fitter = _scipy()
    names = _NAMES[kind]
    alpha = _start_alpha(big_t, w)
    start = np.array([1.0, alpha, 1.0, alpha] if kind == "pnbd" else [1.0, alpha, 1.0, 1.0])
    if initial is not None:
        start = np.array(
            [
                check_rate(initial.get(n, v), f"initial[{n!r}]")
                for n, v in zip(names, start, strict=True)
            ]
        )
        if np.any(start <= 0):
            raise InvalidArgument(
                f"initial={dict(initial)!r} must hold positive values", field="initial"
            )

    grad = _objective(lik, kind, x, t_x, big_t, w)

    def loglik(params: Float) -> float:
        if grad is not None:  # its value needs no per-row gamma functions
            return grad(params)[0]
        return _data.wsum(w, lik.pnbd_loglik(params, x, t_x, big_t))

    warm = None
    if x.size > _COARSE_ROWS and big_t.max() > 0:
        warm = _coarse_start(kind, lik, fitter, (x, t_x, big_t), w, start, maxiter)
    optimum = fitter.maximise(
        loglik,
        start,
        names,
        grad=grad,
        total_weight=float(w.sum()),
        maxiter=maxiter,
        model=_LABELS[kind],
        warm=warm,
        high=_limits(fitter, kind),
    )
    return optimum.params, _info(names, optimum, w, x.size, resolved), resolved


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
    grad = _objective(lik, kind, cx, ctx, ct, cw)

    def loglik(params: Float) -> float:
        if grad is not None:
            return grad(params)[0]
        return _data.wsum(cw, lik.pnbd_loglik(params, cx, ctx, ct))

    try:
        optimum = fitter.maximise(
            loglik,
            start,
            _NAMES[kind],
            grad=grad,
            total_weight=float(cw.sum()),
            maxiter=maxiter,
            model=_LABELS[kind],
            high=_limits(fitter, kind),
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


def _limits(fitter: ModuleType, kind: str) -> Float:
    """Upper limits of the parameters, past which a fit is degenerate."""
    limits = np.full(4, fitter.HIGH)
    if kind == "pnbd":  # the shapes r and s
        limits[[0, 2]] = fitter.SHAPE_HIGH
    return limits


def _objective(
    lik: ModuleType, kind: str, x: Float, t_x: Float, big_t: Float, w: Float
) -> Callable[[Float], tuple[float, Float]] | None:
    """The analytic value-and-gradient function, where the likelihood has one."""
    if kind == "pnbd":
        return None
    objective: Callable[[Float], tuple[float, Float]] = lik.bg_objective(
        x, t_x, big_t, w, modified=kind == "mbg"
    )
    return objective


def _check_maxiter(maxiter: object) -> int:
    from loyaltycore._validate import check_int

    return check_int(maxiter, "maxiter", minimum=1)


def _predict_expected(
    kind: str, params: Float, t: Float, x: Float, t_x: Float, big_t: Float
) -> Float:
    lik, _ = _scipy()
    fn = getattr(lik, f"{kind}_expected")
    try:
        t, x, t_x, big_t = np.broadcast_arrays(t, x, t_x, big_t)
    except ValueError:
        raise InvalidArgument(
            f"t has {t.size} values for {x.size} customers: pass one t, or one per customer",
            field="t",
        ) from None
    return np.asarray(fn(params, t, x, t_x, big_t), dtype=np.float64)


def _predict_alive(kind: str, params: Float, x: Float, t_x: Float, big_t: Float) -> Float:
    lik, _ = _scipy()
    fn = getattr(lik, f"{kind}_p_alive")
    return np.asarray(fn(params, x, t_x, big_t), dtype=np.float64)


def _predict_new(kind: str, params: Float, t: Float) -> Float:
    lik, _ = _scipy()
    fn = getattr(lik, f"{kind}_expected_new")
    return np.asarray(fn(params, t), dtype=np.float64)


def _predict_probability(kind: str, params: Float, n: Any, t: Float) -> Float:
    lik, _ = _scipy()
    counts = _data.as_float_column(n, "n") if np.ndim(n) else np.asarray(check_rate(n, "n"))
    if np.any(counts < 0) or np.any(counts != np.floor(counts)):
        raise InvalidArgument(f"n={n!r} must be whole numbers >= 0", field="n", value=n)
    try:
        counts, t = np.broadcast_arrays(counts, t)
    except ValueError:
        raise InvalidArgument(
            f"n has {counts.size} values and t {t.size}: pass one of them, or as many of each",
            field="n",
        ) from None
    fn = getattr(lik, f"{kind}_probability")
    return np.asarray(fn(params, counts, t), dtype=np.float64)


def _loglik(
    kind: str, params: Float, data: object, given: Mapping[str, object], weights: object
) -> float:
    lik, _ = _scipy()
    x, t_x, big_t = _history(data, given["frequency"], given["recency"], given["T"])
    w = _data.weights_column(weights, x.size)
    fn = getattr(lik, f"{kind}_loglik")
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
    ) -> Self:
        """Fit by maximum likelihood and return a new fitted model.

        Identical histories are collapsed into weighted unique rows first.

        Args:
            data: a Summary-like object with ``frequency``, ``recency``, ``T``
                (attributes or keys) and optionally ``unit``; or None to pass
                the columns as keywords.
            frequency: repeat purchases per customer.
            recency: time from first to last purchase.
            T: time from first purchase to the end of observation.
            weights: optional number of customers each row stands for.
            unit: "day" or "week"; taken from ``data.unit`` when omitted.
            initial: optional starting values by parameter name.
            maxiter: iteration limit of the optimiser.

        Returns:
            The fitted model, with :attr:`fit_info` set.

        Raises:
            InvalidColumn: a column is missing, of the wrong length, or has a
                bad value (the message names the row).
            MissingDependency: scipy is not installed.
            DegenerateFit: a parameter ran off to 0 or infinity.
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
        )
        return cls(*params.tolist(), unit=resolved, fit_info=info)

    def expected_purchases(
        self,
        t: ArrayLike,
        data: object = None,
        *,
        frequency: ArrayLike | None = None,
        recency: ArrayLike | None = None,
        T: ArrayLike | None = None,
    ) -> Float:
        """Expected purchases in the next ``t`` units, given each customer's history.

        >>> m = BetaGeo(r=0.243, alpha=4.414, a=0.793, b=2.426, unit="week")
        >>> m.expected_purchases([13, 39], frequency=2, recency=30.43, T=38.86).round(3).tolist()
        [0.457, 1.226]
        """
        x, t_x, big_t = _history(data, frequency, recency, T)
        return _predict_expected(self.KIND, self._vector(), _time(t, "t"), x, t_x, big_t)

    def p_alive(
        self,
        data: object = None,
        *,
        frequency: ArrayLike | None = None,
        recency: ArrayLike | None = None,
        T: ArrayLike | None = None,
    ) -> Float:
        """Probability that each customer is still active at ``T``.

        >>> m = BetaGeo(r=0.243, alpha=4.414, a=0.793, b=2.426, unit="week")
        >>> m.p_alive(frequency=[0, 2, 2], recency=[0, 30.43, 5], T=[38.86] * 3).round(3).tolist()
        [1.0, 0.727, 0.124]
        """
        x, t_x, big_t = _history(data, frequency, recency, T)
        return _predict_alive(self.KIND, self._vector(), x, t_x, big_t)

    def expected_purchases_new(self, t: ArrayLike) -> Float:
        """Expected repeat purchases in ``t`` units of a customer just acquired.

        >>> m = BetaGeo(r=0.243, alpha=4.414, a=0.793, b=2.426, unit="week")
        >>> m.expected_purchases_new([39, 78]).round(3).tolist()
        [1.197, 1.861]
        """
        return _predict_new(self.KIND, self._vector(), _time(t, "t"))

    def probability_of_purchases(self, n: ArrayLike, t: ArrayLike) -> Float:
        """Probability that a new customer makes exactly ``n`` repeat purchases in ``t``.

        >>> m = BetaGeo(r=0.243, alpha=4.414, a=0.793, b=2.426, unit="week")
        >>> m.probability_of_purchases([0, 1, 2], 39).round(3).tolist()
        [0.574, 0.199, 0.085]
        """
        return _predict_probability(self.KIND, self._vector(), n, _time(t, "t"))

    def log_likelihood(
        self,
        data: object = None,
        *,
        frequency: ArrayLike | None = None,
        recency: ArrayLike | None = None,
        T: ArrayLike | None = None,
        weights: ArrayLike | None = None,
    ) -> float:
        """Total (weighted) log-likelihood of the histories under this model.

        >>> m = BetaGeo(r=0.243, alpha=4.414, a=0.793, b=2.426, unit="week")
        >>> round(m.log_likelihood(frequency=[0, 2], recency=[0, 30.43], T=[38.86, 38.86]), 3)
        -10.013
        """
        given = {"frequency": frequency, "recency": recency, "T": T}
        return _loglik(self.KIND, self._vector(), data, given, weights)

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
        ("monetary", m, positive, "must be > 0 when frequency > 0"),
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

        Returns:
            The fitted model, with :attr:`fit_info` set.

        Raises:
            InvalidColumn: a missing column or a bad value (the row is named).
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

        optimum = fitter.maximise(
            lambda params: fun(params)[0],
            start,
            names,
            grad=fun,
            total_weight=float(w.sum()),
            maxiter=_check_maxiter(maxiter),
            model="Gamma-Gamma",
        )
        p, q, gamma = optimum.params.tolist()
        return cls(p, q, gamma, fit_info=_info(names, optimum, w, x.size, None))

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
    frequency: ArrayLike | None = None,
    recency: ArrayLike | None = None,
    T: ArrayLike | None = None,
    monetary: ArrayLike | None = None,
) -> Float:
    """Discounted expected value of each customer's purchases over ``horizon``.

    The horizon is cut into steps of one ``unit``; the expected purchases of
    each step (from the purchase model, conditional on history) times the
    expected spend (from the spend model) is discounted by
    ``(1 + discount_rate) ** k`` at the end of step ``k``. ``discount_rate``
    is per ``unit``; ``horizon`` counts ``unit`` s. The models' own unit is
    converted exactly (a week is 7 days); there is no month or year unit, so
    no hidden calendar approximation.

    Args:
        purchases: a BG/NBD, MBG/NBD or Pareto/NBD model.
        spend: a Gamma-Gamma model.
        data: a Summary-like object with ``frequency``, ``recency``, ``T``,
            ``monetary``; or None to pass them as keywords.
        horizon: how far ahead, in ``unit`` s (> 0).
        unit: "day" or "week": the unit of ``horizon`` and ``discount_rate``.
        discount_rate: discount rate per ``unit`` (>= 0).
        frequency: repeat purchases per customer.
        recency: time from first to last purchase, in the purchase model's unit.
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
    if horizon <= 0:
        raise InvalidArgument(f"horizon={horizon!r} must be > 0", field="horizon", value=horizon)
    if rate < 0:
        raise InvalidArgument(
            f"discount_rate={rate!r} must be >= 0", field="discount_rate", value=rate
        )
    x, t_x, big_t = _history(data, frequency, recency, T)
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

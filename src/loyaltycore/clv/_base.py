"""What every CLV model shares: parameter checks, :class:`FitInfo`, the penalty, the scipy gate.

The models live one per module (``_bgbb``, ``_sbg``, and the purchase models in
``__init__``); this module holds the pieces they all use, so the public module
can re-export each model without an import cycle.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from types import ModuleType
from typing import Any

import attrs
import numpy as np
import numpy.typing as npt

from loyaltycore._validate import check_positive, check_rate, require
from loyaltycore.clv import _data
from loyaltycore.errors import InvalidArgument

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
    natural parameters (NaN when the Hessian is singular); with a ``penalizer``
    it is that of the penalised objective, and ``log_likelihood`` is the plain
    log-likelihood at the penalised optimum.

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
    penalizer: float = attrs.field(default=0.0, kw_only=True)

    @property
    def standard_errors(self) -> dict[str, float]:
        """Standard error of each parameter, by name."""
        diagonal = [row[i] for i, row in enumerate(self.covariance)]
        return {
            name: math.sqrt(v) if v >= 0 else math.nan
            for name, v in zip(self.parameter_names, diagonal, strict=True)
        }


#: A progress callback: ``(done, total or None, stage)``; it may raise to cancel.
Progress = Callable[[int, int | None, str], None]


def _check_progress(progress: Progress | None) -> Progress | None:
    if progress is not None and not callable(progress):
        raise InvalidArgument(
            f"progress={progress!r} must be a callable (done, total, stage) or None",
            field="progress",
        )
    return progress


def _check_maxiter(maxiter: object) -> int:
    from loyaltycore._validate import check_int

    return check_int(maxiter, "maxiter", minimum=1)


def _check_penalizer(penalizer: object) -> float:
    value = check_rate(penalizer, "penalizer")
    if value < 0:
        raise InvalidArgument(
            f"penalizer={penalizer!r} must be >= 0", field="penalizer", value=penalizer
        )
    return value


def _info(
    names: tuple[str, ...],
    optimum: Any,
    weights: Float,
    rows: int,
    unit: str | None,
    *,
    log_likelihood: float | None = None,
    penalizer: float = 0.0,
) -> FitInfo:
    covariance = tuple(tuple(float(v) for v in row) for row in optimum.covariance)
    return FitInfo(
        names,
        optimum.log_likelihood if log_likelihood is None else log_likelihood,
        covariance,
        float(weights.sum()),
        rows,
        optimum.iterations,
        unit,
        penalizer=penalizer,
    )


LogLik = Callable[[Float], float]
LogLikGrad = Callable[[Float], tuple[float, Float]]
LogLikHessian = Callable[[Float], tuple[float, Float, Float]]


def _start(names: Sequence[str], default: Float, initial: Mapping[str, float] | None) -> Float:
    """Starting values: ``default``, with the values of ``initial`` (all > 0) laid over it."""
    if initial is None:
        return default
    start = np.array(
        [
            check_rate(initial.get(n, v), f"initial[{n!r}]")
            for n, v in zip(names, default, strict=True)
        ]
    )
    if np.any(start <= 0):
        raise InvalidArgument(
            f"initial={dict(initial)!r} must hold positive values", field="initial"
        )
    return start


def _fitted_info(
    names: tuple[str, ...],
    optimum: Any,
    plain: LogLik,
    weights: Float,
    rows: int,
    unit: str | None,
    penalizer: float,
) -> FitInfo:
    """The :class:`FitInfo` of an optimum; with a penalty, its log-likelihood is the plain one."""
    value = plain(optimum.params) if penalizer else None
    return _info(names, optimum, weights, rows, unit, log_likelihood=value, penalizer=penalizer)


def _maximise(
    fitter: ModuleType,
    plain: LogLik,
    grad: LogLikGrad,
    *,
    names: tuple[str, ...],
    start: Float,
    weights: Float,
    rows: int,
    unit: str | None,
    penalizer: float,
    scales: Float,
    maxiter: int,
    model: str,
    progress: Progress | None,
    full: LogLikHessian | None = None,
    **options: Any,
) -> tuple[Float, FitInfo]:
    """Maximise the log-likelihood less the penalty of :func:`_penalize`, from ``start``.

    ``weights`` are the customers each of the ``rows`` stands for; ``full``
    (value, gradient, Hessian) is penalised the same way when given;
    ``options`` go to the optimiser. Returns the parameters and their
    :class:`FitInfo`.
    """
    total = float(weights.sum())
    value, fun = _penalize(plain, grad, penalizer=penalizer, total_weight=total, scales=scales)
    if full is not None:
        options["full"] = _penalize_hessian(
            full, penalizer=penalizer, total_weight=total, scales=scales
        )
    optimum = fitter.maximise(
        value,
        start,
        names,
        grad=fun,
        total_weight=total,
        maxiter=maxiter,
        model=model,
        progress=progress,
        **options,
    )
    return optimum.params, _fitted_info(names, optimum, plain, weights, rows, unit, penalizer)


def _penalize(
    loglik: LogLik,
    grad: LogLikGrad | None,
    *,
    penalizer: float,
    total_weight: float,
    scales: Float,
) -> tuple[LogLik, LogLikGrad | None]:
    """The objective of a penalised fit: ``loglik - penalizer * W * sum((theta / scale)**2)``.

    ``W`` is the number of customers (total weight) and ``scales`` divide each
    parameter before it is squared (1 for shapes; the longest ``T`` for a rate
    parameter measured in time, so the penalty does not depend on the time unit).
    Dividing by ``W`` gives lifetimes 0.11.3's objective: mean log-likelihood
    minus ``penalizer_coef * sum(params**2)`` with its times scaled to a longest
    ``T`` of 1.
    """
    if penalizer == 0.0:
        return loglik, grad
    factor = penalizer * total_weight

    def value(params: Float) -> float:
        return loglik(params) - factor * float(np.sum((params / scales) ** 2))

    if grad is None:
        return value, None
    base_grad = grad

    def both(params: Float) -> tuple[float, Float]:
        v, g = base_grad(params)
        return (
            v - factor * float(np.sum((params / scales) ** 2)),
            g - 2.0 * factor * params / scales**2,
        )

    return value, both


def _penalize_hessian(
    full: Callable[[Float], tuple[float, Float, Float]],
    *,
    penalizer: float,
    total_weight: float,
    scales: Float,
) -> Callable[[Float], tuple[float, Float, Float]]:
    """``full`` (value, gradient, Hessian) with the penalty of :func:`_penalize` taken off."""
    if penalizer == 0.0:
        return full
    factor = penalizer * total_weight

    def penalized(params: Float) -> tuple[float, Float, Float]:
        v, g, h = full(params)
        return (
            v - factor * float(np.sum((params / scales) ** 2)),
            g - 2.0 * factor * params / scales**2,
            h - np.diag(2.0 * factor / scales**2),
        )

    return penalized

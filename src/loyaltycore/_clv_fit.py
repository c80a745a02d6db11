"""Maximum-likelihood driver shared by the CLV models (needs scipy).

Parameters are optimised on their logarithms (so they stay positive) with
L-BFGS-B, then polished with a few Newton steps on a Hessian built from the
gradient; standard errors come from the inverse Hessian of the negative
log-likelihood in the natural parameters.
"""

from __future__ import annotations

from collections.abc import Callable

import attrs
import numpy as np
import numpy.typing as npt
from scipy.optimize import minimize

from loyaltycore.errors import ConvergenceError, DegenerateFit

Float = npt.NDArray[np.float64]
#: Total weighted log-likelihood and its gradient in the natural parameters.
LogLikGrad = Callable[[Float], tuple[float, Float]]

#: Parameters beyond these limits mean the data carry no information on them.
LOW, HIGH = 1e-6, 1e6
_BOUND = 25.0  # log-parameter box for the optimiser: exp(+-25)


@attrs.frozen
class Optimum:
    """The result of a fit: parameters, log-likelihood, covariance, iterations."""

    params: Float
    log_likelihood: float
    covariance: Float
    iterations: int


def numeric_grad(loglik: Callable[[Float], float]) -> LogLikGrad:
    """Central-difference gradient (relative step) for likelihoods without one."""

    def both(params: Float) -> tuple[float, Float]:
        value = loglik(params)
        grad = np.empty(params.size)
        for i in range(params.size):
            step = 1e-6 * params[i]
            up, down = params.copy(), params.copy()
            up[i] += step
            down[i] -= step
            grad[i] = (loglik(up) - loglik(down)) / (2.0 * step)
        return value, grad

    return both


def _hessian(fun: LogLikGrad, params: Float) -> Float:
    """Hessian of the log-likelihood in natural parameters, from gradients."""
    size = params.size
    hess = np.empty((size, size))
    for i in range(size):
        step = 1e-5 * params[i]
        up, down = params.copy(), params.copy()
        up[i] += step
        down[i] -= step
        hess[:, i] = (fun(up)[1] - fun(down)[1]) / (2.0 * step)
    return np.asarray((hess + hess.T) / 2.0, dtype=np.float64)


def _polish(fun: LogLikGrad, params: Float, value: float) -> tuple[Float, float]:
    """A few safeguarded Newton steps on the log-parameters."""
    for _ in range(3):
        theta = np.log(params)
        _, grad = fun(params)
        g_theta = grad * params
        hess = _hessian(fun, params)
        h_theta = hess * np.outer(params, params) + np.diag(g_theta)
        try:
            step = np.linalg.solve(h_theta, -g_theta)
        except np.linalg.LinAlgError:
            break
        if not np.all(np.isfinite(step)) or g_theta @ step <= 0:
            break
        improved = False
        for shrink in (1.0, 0.5, 0.25):
            trial = np.exp(np.clip(theta + shrink * step, -_BOUND, _BOUND))
            trial_value = fun(trial)[0]
            if np.isfinite(trial_value) and trial_value >= value:
                params, value, improved = trial, trial_value, True
                break
        if not improved:
            break
    return params, value


def maximise(
    fun: LogLikGrad,
    start: Float,
    names: tuple[str, ...],
    *,
    total_weight: float,
    maxiter: int,
    model: str,
) -> Optimum:
    """Maximise ``fun`` from ``start``; raise when the fit fails or degenerates."""
    scale = 1.0 / total_weight

    def objective(theta: Float) -> tuple[float, Float]:
        params = np.exp(theta)
        value, grad = fun(params)
        if not np.isfinite(value) or not np.all(np.isfinite(grad)):
            return np.inf, np.zeros_like(theta)
        return -value * scale, -grad * params * scale

    with np.errstate(all="ignore"):  # trial points far out may overflow; they lose
        return _maximise(objective, fun, start, names, scale, maxiter, model)


def _maximise(
    objective: Callable[[Float], tuple[float, Float]],
    fun: LogLikGrad,
    start: Float,
    names: tuple[str, ...],
    scale: float,
    maxiter: int,
    model: str,
) -> Optimum:
    result = minimize(
        objective,
        np.log(start),
        jac=True,
        method="L-BFGS-B",
        bounds=[(-_BOUND, _BOUND)] * start.size,
        options={"maxiter": maxiter, "ftol": 1e-15, "gtol": 1e-10, "maxcor": 20},
    )
    params = np.exp(result.x)
    value = float(-result.fun / scale)
    if not np.isfinite(value):
        raise _failed(model, names, params, "the log-likelihood is not finite")
    params, value = _polish(fun, params, value)
    _, grad = fun(params)
    converged = result.success or np.max(np.abs(grad * params)) * scale < 1e-4
    if not converged and result.nit >= maxiter:
        raise _failed(model, names, params, str(result.message))
    _check_degenerate(model, names, params)
    if not converged:
        raise _failed(model, names, params, str(result.message))
    hess = _hessian(fun, params)
    try:
        covariance = np.linalg.inv(-hess)
    except np.linalg.LinAlgError:
        covariance = np.full_like(hess, np.nan)
    return Optimum(params, value, np.asarray(covariance, dtype=np.float64), int(result.nit))


def _describe(names: tuple[str, ...], params: Float) -> str:
    return ", ".join(f"{name}={value:.6g}" for name, value in zip(names, params, strict=True))


def _failed(model: str, names: tuple[str, ...], params: Float, reason: str) -> ConvergenceError:
    return ConvergenceError(
        f"{model} fit did not converge ({reason}) near {_describe(names, params)}; "
        "try: more customers, a coarser time unit (weeks instead of days), "
        "initial= closer to the answer, or a larger maxiter=",
        model=model,
        parameters=dict(zip(names, params.tolist(), strict=True)),
    )


def _check_degenerate(model: str, names: tuple[str, ...], params: Float) -> None:
    off = [(n, v) for n, v in zip(names, params, strict=True) if not LOW <= v <= HIGH]
    if off:
        detail = ", ".join(f"{n}={v:.3g}" for n, v in off)
        raise DegenerateFit(
            f"{model} fit is degenerate: {detail} ran off to a boundary "
            f"({_describe(names, params)}). The data show no heterogeneity for that "
            "part of the model (every customer alike); a simpler model fits them, or "
            "check that frequency, recency and T were computed as intended",
            model=model,
            parameters=dict(zip(names, params.tolist(), strict=True)),
        )

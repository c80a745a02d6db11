"""Maximum-likelihood driver shared by the CLV models (needs scipy).

Parameters are optimised on their logarithms (so they stay positive). A model
whose Hessian is analytic is fitted by Newton's method; the others by BFGS,
then polished with Newton steps on a finite-difference Hessian. Standard
errors come from the inverse of the Hessian of the negative log-likelihood in
the natural parameters.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import attrs
import numpy as np
import numpy.typing as npt
from scipy.optimize import OptimizeResult, minimize

from loyaltycore.errors import ConvergenceError, DegenerateFit

Float = npt.NDArray[np.float64]
#: Total weighted log-likelihood of the natural parameters.
LogLik = Callable[[Float], float]
#: Total weighted log-likelihood and its gradient in the natural parameters.
LogLikGrad = Callable[[Float], tuple[float, Float]]
#: Total weighted log-likelihood, its gradient and its Hessian in the natural parameters.
LogLikHess = Callable[[Float], tuple[float, Float, Float]]

#: Parameters beyond these limits mean the data carry no information on them;
#: a search is stopped once it passes them.
LOW, HIGH = 1e-5, 1e5
#: Pareto/NBD shape parameters above this mean gamma mixtures with a coefficient
#: of variation under 3% (no heterogeneity), where scipy's hyp2f1 also gets slow.
SHAPE_HIGH = 1e3
_BOUND = 25.0  # log-parameter box for the optimiser: exp(+-25)


@attrs.frozen
class Optimum:
    """The result of a fit: parameters, log-likelihood, covariance, iterations."""

    params: Float
    log_likelihood: float
    covariance: Float
    iterations: int
    hessian: Float


def numeric_grad(loglik: LogLik) -> LogLikGrad:
    """Central-difference gradient (relative step) for likelihoods without one."""

    def both(params: Float) -> tuple[float, Float]:
        grad = np.empty(params.size)
        for i in range(params.size):
            step = 1e-4 * params[i]
            up, down = params.copy(), params.copy()
            up[i] += step
            down[i] -= step
            grad[i] = (loglik(up) - loglik(down)) / (2.0 * step)
        return loglik(params), grad

    return both


def _hessian_from_grad(
    fun: LogLikGrad, params: Float, step: float = 1e-6, base: Float | None = None
) -> Float:
    """Hessian in natural parameters by forward differences of the analytic gradient.

    The gradient is exact, so a forward step of 1e-6 (relative) is accurate to
    about 1e-6 relative, ample for standard errors and Newton steps. ``base``
    is the gradient at ``params`` when the caller has it.
    """
    size = params.size
    hess = np.empty((size, size))
    if base is None:
        _, base = fun(params)
    for i in range(size):
        move = step * params[i]
        moved = params.copy()
        moved[i] += move
        hess[:, i] = (fun(moved)[1] - base) / move
    return np.asarray((hess + hess.T) / 2.0, dtype=np.float64)


def _hessian_from_values(loglik: LogLik, params: Float, centre: float) -> Float:
    """Hessian in natural parameters by second differences of the log-likelihood."""
    size = params.size
    steps = 1e-4 * params
    hess = np.empty((size, size))

    def at(*moves: tuple[int, float]) -> float:
        point = params.copy()
        for index, sign in moves:
            point[index] += sign * steps[index]
        return loglik(point)

    for i in range(size):
        hess[i, i] = (at((i, 1)) - 2.0 * centre + at((i, -1))) / steps[i] ** 2
        for j in range(i):
            mixed = at((i, 1), (j, 1)) - at((i, 1), (j, -1)) - at((i, -1), (j, 1))
            mixed += at((i, -1), (j, -1))
            hess[i, j] = hess[j, i] = mixed / (4.0 * steps[i] * steps[j])
    return hess


def _polish(
    loglik: LogLik,
    fun: LogLikGrad,
    params: Float,
    value: float,
    hess: Float,
    steps: int,
    stop: float = 0.0,
) -> tuple[Float, float]:
    """Safeguarded Newton steps on the log-parameters with one fixed Hessian.

    Stops early once the gradient in log-parameters is below ``stop`` (and
    always below 1e-12 of the log-likelihood).
    """
    for _ in range(steps):
        theta = np.log(params)
        _, grad = fun(params)
        g_theta = grad * params
        if np.max(np.abs(g_theta)) < max(1e-12 * abs(value), stop):
            break
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
            trial_value = loglik(trial)
            if np.isfinite(trial_value) and trial_value > value:
                params, value, improved = trial, trial_value, True
                break
        if not improved:
            break
    return params, value


def _hessian(
    loglik: LogLik, grad: LogLikGrad | None, params: Float, value: float, step: float = 1e-6
) -> Float:
    if grad is not None:
        return _hessian_from_grad(grad, params, step)
    return _hessian_from_values(loglik, params, value)


def _flat(fun: LogLikGrad, params: Float, total_weight: float, tolerance: float) -> bool:
    """Whether the mean log-likelihood's gradient in log-parameters is below ``tolerance``."""
    _, gradient = fun(params)
    return bool(np.max(np.abs(gradient * params)) / total_weight < tolerance)


def maximise(
    loglik: LogLik,
    start: Float,
    names: tuple[str, ...],
    *,
    grad: LogLikGrad | None,
    total_weight: float,
    maxiter: int,
    model: str,
    warm: tuple[Float, Float] | None = None,
    high: Float | None = None,
    progress: Callable[[int, int | None, str], None] | None = None,
    hessian_step: float = 1e-6,
    full: LogLikHess | None = None,
    gtol: float = 1e-9,
) -> Optimum:
    """Maximise ``loglik`` from ``start``; raise when the fit fails or degenerates.

    ``grad`` gives the value and the analytic gradient; without it the
    gradient is taken by central differences. ``full`` gives the value, the
    gradient and the Hessian: Newton's method is tried first, and the searches
    below run only when it fails. ``warm`` is a (parameters,
    Hessian) pair from a fit on coarsened data: Newton steps from there (with
    the Hessian of the exact data) replace the quasi-Newton search when they
    converge. ``high`` gives per-parameter upper limits (default ``HIGH``).
    ``progress`` is called after each iteration as ``(iteration, None, model)``.
    ``hessian_step`` is the relative step of the Hessian's forward differences
    of ``grad``: 1e-6 for an exact gradient, larger where the gradient itself
    holds finite differences (their rounding would otherwise dominate).
    ``gtol`` ends the BFGS search once the mean gradient per customer in
    log-parameters is below it: 1e-9 for an exact gradient; above the noise
    floor of a gradient with finite differences in it (else BFGS spends its
    last iterations on line searches that cannot succeed).
    """
    grad = _remembered(grad) if grad is not None else None
    fun = grad if grad is not None else numeric_grad(loglik)
    limits = np.full(start.size, HIGH) if high is None else high
    if full is not None:
        reached = newton(full, start, total_weight, maxiter, limits, progress)
        if reached is not None:
            return _finish(model, names, *reached, limits)
    with np.errstate(all="ignore"):  # trial points far out may overflow; they lose
        if warm is not None and grad is not None:
            # Newton steps on the exact data from the coarse optimum, with the exact
            # data's Hessian (forward differences of the gradient) taken afresh each
            # round: measured at 20,000 to 1,000,000 customers, this needs fewer
            # gradients than a quasi-Newton search, which must learn the curvature.
            # Done when the mean gradient per customer is below 1e-6 in
            # log-parameters (the log-likelihood is then within ~1e-12 of its top).
            params, value = warm[0], loglik(warm[0])
            for round_ in range(3):
                if not np.isfinite(value):
                    break
                hess = _hessian(loglik, grad, params, value, hessian_step)
                params, value = _polish(
                    loglik, fun, params, value, hess, steps=4, stop=1e-6 * total_weight
                )
                if progress is not None:
                    progress(round_ + 1, None, "fit")
                if _flat(fun, params, total_weight, 1e-6):
                    hess = _hessian(loglik, grad, params, value, hessian_step)
                    return _finish(model, names, params, value, hess, round_ + 1, limits)
        if warm is not None:
            found = _search(fun, warm[0], total_weight, maxiter, limits, warm[1], progress, gtol)
            if np.isfinite(found[1]) and (found[4] or _flat(fun, found[0], total_weight, 1e-7)):
                params, value = found[0], found[1]
                hess = _hessian(loglik, grad, params, value, hessian_step)
                params, value = _polish(loglik, fun, params, value, hess, steps=2)
                return _finish(model, names, params, value, hess, found[2], limits)
        params, value, nit, message, success = _search(
            fun, start, total_weight, maxiter, limits, None, progress, gtol
        )
        if not np.isfinite(value):
            raise _failed(model, names, params, "the log-likelihood is not finite")
        hess = _hessian(loglik, grad, params, value, hessian_step)
        params, value = _polish(loglik, fun, params, value, hess, steps=3)
        converged = success or _flat(fun, params, total_weight, 1e-4)
    if not converged and nit >= maxiter:
        raise _failed(model, names, params, message)
    if not converged:
        _check_degenerate(model, names, params, limits)
        raise _failed(model, names, params, message)
    return _finish(model, names, params, value, hess, nit, limits)


#: Newton's method stops once its next step promises less than this per customer.
_DECREMENT = 1e-14
#: ... and its step (in log-parameters) is shorter than this: on a ridge rising
#: towards a boundary the promised rise shrinks too, but the steps do not.
_SHORT = 1e-4
#: The longest Newton step, in log-parameters (a factor of about 20).
_LONGEST = 3.0


def newton(
    full: LogLikHess,
    start: Float,
    total_weight: float,
    maxiter: int,
    limits: Float,
    progress: Callable[[int, int | None, str], None] | None = None,
) -> tuple[Float, float, Float, int] | None:
    """Newton's method on the log-parameters: (parameters, value, Hessian, iterations).

    Each step solves with the Hessian in log-parameters, its eigenvalues
    reflected to be negative (and kept away from 0) where the surface is not
    concave, is at most ``_LONGEST`` long, and is halved until the
    log-likelihood rises. Done when the rise the next step promises (half the
    squared Newton decrement) is below ``_DECREMENT`` per customer and the step
    is shorter than ``_SHORT``: the convergence is quadratic, so the maximum
    is then reached to rounding. None when a step cannot rise, a parameter
    passes its limits (the data are degenerate), or ``maxiter`` steps do not
    converge; the caller then searches by BFGS, which also gives the verdict on
    degenerate data.
    """
    params = start.copy()
    with np.errstate(all="ignore"):
        value, grad, hess = full(params)
        for iteration in range(maxiter + 1):
            if not np.all(np.isfinite(np.concatenate([[value], grad, hess.ravel()]))):
                return None
            g_theta = grad * params
            h_theta = hess * np.outer(params, params) + np.diag(g_theta)
            step = _ascent(h_theta, g_theta)
            promised = g_theta @ step / 2.0
            if promised < _DECREMENT * total_weight and np.max(np.abs(step)) < _SHORT:
                return params, value, hess, iteration
            if iteration == maxiter:
                return None
            longest = float(np.max(np.abs(step)))
            if longest > _LONGEST:
                step = step * (_LONGEST / longest)
            theta = np.log(params)
            for _ in range(40):
                trial = np.exp(theta + step)
                if np.any(trial > limits) or np.any(trial < LOW):
                    return None
                found = full(trial)
                if np.isfinite(found[0]) and found[0] > value:
                    break
                step = step / 2.0
            else:  # no rise: rounding, or a ridge towards a boundary; BFGS judges
                return None
            params, (value, grad, hess) = trial, found
            if progress is not None:
                progress(iteration + 1, None, "fit")
    return None


def refine(
    loglik: LogLik,
    fun: LogLikGrad,
    params: Float,
    hess: Float,
    *,
    tolerance: float,
    steps: int,
    limits: Float,
    progress: Callable[[int, int | None, str], None] | None = None,
) -> tuple[Float, float, Float, int, bool, Float]:
    """Newton steps from ``params`` on an approximate Hessian, kept up to date by BFGS.

    For a start close to the maximum with a Hessian close to the true one (a
    fit on a sample of the data): each step costs one gradient, the full step
    is nearly always taken, and each secant update improves the Hessian along
    the step. Returns (parameters, value, Hessian, steps, converged, gradient):
    converged once the rise the next step promises is below ``tolerance``; not
    when a step passes ``limits`` (or ``LOW``), as on degenerate data, which
    the caller's search then judges.
    """
    value, grad = fun(params)
    with np.errstate(all="ignore"):
        for done in range(steps):
            if not (np.isfinite(value) and np.all(np.isfinite(grad))):
                break
            g_theta = grad * params
            step = _ascent(hess * np.outer(params, params) + np.diag(g_theta), g_theta)
            if g_theta @ step / 2.0 < tolerance:
                return params, value, hess, done, True, grad
            longest = float(np.max(np.abs(step)))
            if longest > _LONGEST:
                step = step * (_LONGEST / longest)
            theta = np.log(params)
            trial = np.exp(np.clip(theta + step, -_BOUND, _BOUND))
            trial_grad: Float | None
            trial_value, trial_grad = fun(trial)
            for _ in range(30):  # a short step is rare: values alone until one rises
                if np.isfinite(trial_value) and trial_value > value:
                    break
                step = step / 2.0
                trial = np.exp(np.clip(theta + step, -_BOUND, _BOUND))
                trial_value, trial_grad = loglik(trial), None
            else:
                break
            if np.any(trial > limits) or np.any(trial < LOW):
                break
            if trial_grad is None:
                trial_value, trial_grad = fun(trial)
            hess = _secant(hess, trial - params, trial_grad - grad)
            params, value, grad = trial, trial_value, trial_grad
            if progress is not None:
                progress(done + 1, None, "fit")
    return params, value, hess, steps, False, grad


def _secant(hess: Float, step: Float, change: Float) -> Float:
    """The BFGS update of a (negative definite) Hessian after ``step`` changed the gradient."""
    curvature = -float(change @ step)
    if not curvature > 1e-12 * float(np.linalg.norm(change) * np.linalg.norm(step)):
        return hess
    positive = -hess
    along = positive @ step
    if not float(step @ along) > 0.0:
        return hess
    updated = positive - np.outer(along, along) / float(step @ along)
    updated += np.outer(change, change) / curvature
    return np.asarray(-(updated + updated.T) / 2.0, dtype=np.float64)


def _ascent(h_theta: Float, g_theta: Float) -> Float:
    """The Newton step towards a maximum.

    Where ``h_theta`` is not negative definite, the step uses the absolute
    values of its eigenvalues (floored at 1e-8 of the largest), so it still
    points uphill.
    """
    values, vectors = np.linalg.eigh(-(h_theta + h_theta.T) / 2.0)
    size = np.abs(values)
    size = np.maximum(size, 1e-8 * max(float(size.max()), 1e-300))
    step = vectors @ ((vectors.T @ g_theta) / size)
    return np.asarray(step, dtype=np.float64)


def _remembered(fun: LogLikGrad) -> LogLikGrad:
    """``fun``, answering a call at one of the last eight points from memory.

    BFGS ends on a point it evaluated (not always the last), where the
    Hessian's differences and the first polishing step ask for the gradient
    again.
    """
    last: list[tuple[Float, float, Float]] = []

    def remembered(params: Float) -> tuple[float, Float]:
        for point, value, gradient in last:
            if np.array_equal(point, params):
                return value, gradient.copy()
        value, gradient = fun(params)
        last[:] = [(params.copy(), value, gradient.copy()), *last[:7]]
        return value, gradient

    return remembered


def _finish(
    model: str,
    names: tuple[str, ...],
    params: Float,
    value: float,
    hess: Float,
    nit: int,
    limits: Float,
) -> Optimum:
    _check_degenerate(model, names, params, limits)
    try:
        covariance = np.asarray(np.linalg.inv(-hess), dtype=np.float64)
    except np.linalg.LinAlgError:
        covariance = np.full_like(hess, np.nan)
    return Optimum(params, value, covariance, nit, hess)


def _search(
    fun: LogLikGrad,
    start: Float,
    total_weight: float,
    maxiter: int,
    limits: Float,
    hessian: Float | None = None,
    progress: Callable[[int, int | None, str], None] | None = None,
    gtol: float = 1e-9,
) -> tuple[Float, float, int, str, bool]:
    """BFGS on the log-parameters, on the mean negative log-likelihood.

    BFGS rather than L-BFGS-B: for four parameters it is as good, and it does not
    call into threaded BLAS, which costs more than the whole fit on a busy machine.
    Points outside the box ``exp(+-25)`` count as infinitely bad. A ``hessian``
    (of the log-likelihood in natural parameters, from a coarse fit) seeds the
    inverse-Hessian estimate.
    """
    scale = 1.0 / total_weight

    def objective(theta: Float) -> tuple[float, Float]:
        if np.any(np.abs(theta) > _BOUND):
            return np.inf, np.zeros_like(theta)
        params = np.exp(theta)
        value, grad = fun(params)
        if not np.isfinite(value) or not np.all(np.isfinite(grad)):
            return np.inf, np.zeros_like(theta)
        return -value * scale, -grad * params * scale

    options: Any = {  # scipy-stubs do not list hess_inv0
        "maxiter": maxiter,
        "gtol": gtol,
        "xrtol": 1e-12,
    }
    if hessian is not None:
        _, grad = fun(start)
        h_theta = -(hessian * np.outer(start, start) + np.diag(grad * start)) * scale
        inverse = _positive_inverse(h_theta)
        if inverse is not None:
            options["hess_inv0"] = inverse
    with warnings.catch_warnings():
        # a failed line search ends BFGS with success False; the caller judges that
        warnings.filterwarnings("ignore", message="The line search algorithm did not converge")
        stop: Any = _stopper(limits, progress)  # scipy-stubs want a keyword-named protocol
        result = minimize(
            objective,
            np.log(start),
            jac=True,
            method="BFGS",
            options=options,
            callback=stop,
        )
    value = float(-result.fun / scale)
    return np.exp(result.x), value, int(result.nit), str(result.message), bool(result.success)


def _stopper(
    limits: Float, progress: Callable[[int, int | None, str], None] | None = None
) -> Callable[[OptimizeResult], None]:
    """A BFGS callback: reports progress, ends the search once a parameter passes its limits."""
    top, bottom = np.log(limits), np.log(LOW)
    count = [0]

    def stop(intermediate_result: OptimizeResult) -> None:
        count[0] += 1
        if progress is not None:
            progress(count[0], None, "fit")
        theta = intermediate_result.x
        if np.any(theta > top) or np.any(theta < bottom):
            raise StopIteration

    return stop


def _positive_inverse(matrix: Float) -> Float | None:
    """The symmetric inverse of ``matrix`` if it is finite and positive definite."""
    if not np.all(np.isfinite(matrix)):
        return None
    try:
        inverse = np.linalg.inv(matrix)
        inverse = (inverse + inverse.T) / 2.0
        np.linalg.cholesky(inverse)
    except np.linalg.LinAlgError:
        return None
    return np.asarray(inverse, dtype=np.float64)


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


def _check_degenerate(model: str, names: tuple[str, ...], params: Float, limits: Float) -> None:
    pairs = zip(names, params, limits, strict=True)
    off = [(n, v) for n, v, top in pairs if not LOW <= v <= top]
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

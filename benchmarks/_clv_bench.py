"""CLV model fits against lifetimes 0.11.3: BG/NBD and Pareto/NBD.

Usage: ``python benchmarks/_clv_bench.py [--size tiny|full]``, or through
``benchmarks/metrics.py``, which prints the lines :func:`run` returns.

* BG/NBD on 100,000 simulated customers (2,000 at tiny size), with day
  resolution (whole-day recency and T) and with second resolution (recency
  and T to the second, so nearly every history is distinct): loyaltycore's
  ``BetaGeo.fit`` against lifetimes' ``BetaGeoFitter.fit``; targets: >= 10x
  faster and a log-likelihood no worse than lifetimes' (within 1e-6 relative).
  Both parameter sets are scored with the same formula (``BetaGeo.log_likelihood``).
* Pareto/NBD on 100,000 simulated customers, day resolution: ``ParetoNBD.fit``
  against ``ParetoNBDFitter.fit``; target >= 10x faster.
* Pareto/NBD on 1,000,000 simulated customers with arbitrary (continuous)
  times, so nearly every history is distinct (20,000 at tiny size): target
  <= 30 s per fit, and a log-likelihood no worse than a plain scipy fit's
  (L-BFGS-B on the same likelihood with scipy's finite-difference gradient)
  within 1e-6 relative. The costs of one likelihood value and of one gradient
  by each method are printed, as measured: the basis for the gradient used.
* BG/BB on the donations table (22 rows, 11,104 donors) and on 100,000
  simulated customers with 6 to 20 opportunities (tiny: donations only):
  ``BetaGeoBetaBinom.fit`` against lifetimes' ``BetaGeoBetaBinomFitter.fit``.

loyaltycore's time is the best of three fits, lifetimes' the best of one
(Pareto/NBD) or two (BG/NBD) after a warm-up fit on small data. lifetimes
needs pandas < 3: run with the benchmark venv (``.venv-bench``); when it is
not importable the comparison is skipped with one line saying so.
"""

from __future__ import annotations

import argparse
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from loyaltycore.clv import BetaGeo, BetaGeoBetaBinom, Histories, ParetoNBD

SIZES = {"tiny": 2_000, "full": 100_000}
BIG = {"tiny": 20_000, "full": 1_000_000}
BGBB = {"tiny": 0, "full": 100_000}
TARGET_BIG_SECONDS = 30.0
TARGET_SPEEDUP = 10.0
TARGET_LL = 1e-6
SECONDS_PER_DAY = 86_400.0


def best_of(repeat: int, func: Callable[[], Any]) -> tuple[float, Any]:
    """The fastest of ``repeat`` runs, and the last result."""
    best, result = float("inf"), None
    for _ in range(repeat):
        started = time.perf_counter()
        result = func()
        best = min(best, time.perf_counter() - started)
    return best, result


def customers(model: BetaGeo | ParetoNBD, n: int, resolution: str, seed: int) -> Histories:
    """Histories in days of ``n`` simulated customers, at day or second resolution."""
    rng = np.random.default_rng(seed)
    if resolution == "day":
        ages = rng.integers(30, 366, n).astype(np.float64)
    else:
        ages = np.round(rng.uniform(30.0, 365.0, n) * SECONDS_PER_DAY) / SECONDS_PER_DAY
    sim = model.simulate(ages, seed=rng)
    repeat = sim.frequency > 0
    if resolution == "day":
        recency = np.where(repeat, np.minimum(np.ceil(sim.recency), ages), 0.0)
    else:
        seconds = np.maximum(np.round(sim.recency * SECONDS_PER_DAY), 1.0) / SECONDS_PER_DAY
        recency = np.where(repeat, np.minimum(seconds, ages), 0.0)
    return Histories(sim.frequency, recency, ages, "day")


def reference() -> tuple[Any, Any] | str:
    """lifetimes' two fitters, or why they cannot be imported."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from lifetimes import BetaGeoFitter, ParetoNBDFitter
    except Exception as exc:  # any import failure means: no comparison
        return f"{type(exc).__name__}: {exc}"
    return BetaGeoFitter, ParetoNBDFitter


def lifetimes_fit(fitter_class: Any, data: Histories, names: tuple[str, ...]) -> dict[str, float]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fitter = fitter_class().fit(data.frequency, data.recency, data.T)
    return {name: float(fitter.params_[name]) for name in names}


def verdict(ok: bool) -> str:
    return "ok" if ok else "MISSED"


def compare(
    label: str,
    ours_class: type[BetaGeo] | type[ParetoNBD],
    data: Histories,
    fitter_class: Any,
    lifetimes_repeat: int,
    check_ll: bool,
) -> list[str]:
    names = tuple(ours_class(1.0, 1.0, 1.0, 1.0, unit="day").params)
    seconds, fitted = best_of(3, lambda: ours_class.fit(data))
    assert fitted.fit_info is not None
    lines = [
        f"{label}, {data.T.size:,} customers ({fitted.fit_info.unique_rows:,} distinct histories)",
        f"  loyaltycore {seconds:8.3f} s   LL {fitted.fit_info.log_likelihood:,.4f}",
    ]
    if isinstance(fitter_class, str):
        return [*lines, f"  lifetimes not importable ({fitter_class}); comparison skipped"]
    their_seconds, params = best_of(
        lifetimes_repeat, lambda: lifetimes_fit(fitter_class, data, names)
    )
    theirs = ours_class(*params.values(), unit="day").log_likelihood(data)
    ours = fitted.fit_info.log_likelihood
    ratio = their_seconds / seconds
    relative = (ours - theirs) / abs(theirs)
    lines.append(f"  lifetimes   {their_seconds:8.3f} s   LL {theirs:,.4f} (same formula)")
    line = f"  speed-up {ratio:.1f}x (target >= {TARGET_SPEEDUP:.0f}x: "
    line += f"{verdict(ratio >= TARGET_SPEEDUP)})"
    if check_ll:
        ll_ok = relative >= -TARGET_LL
        line += f"; LL difference {relative:+.1e} relative (target >= -1e-6: {verdict(ll_ok)})"
    return [*lines, line]


def warm_up(fitters: tuple[Any, Any] | str) -> None:
    """One small fit each, so imports and first-call costs are not timed."""
    small = customers(BetaGeo(r=0.25, alpha=28.0, a=0.8, b=2.5, unit="day"), 500, "day", 1)
    BetaGeo.fit(small)
    ParetoNBD.fit(small)
    if not isinstance(fitters, str):
        lifetimes_fit(fitters[0], small, ("r", "alpha", "a", "b"))
        lifetimes_fit(fitters[1], small, ("r", "alpha", "s", "beta"))


def pareto_big(size: str) -> list[str]:
    """Pareto/NBD on arbitrary times at scale, against a plain scipy fit of the same likelihood."""
    from scipy.optimize import minimize

    from loyaltycore.clv import _lik

    n = BIG[size]
    truth = ParetoNBD(r=0.55, alpha=10.0, s=0.6, beta=12.0, unit="week")
    rng = np.random.default_rng(5)
    data = truth.simulate(rng.uniform(1.0, 104.0, n), seed=rng)
    x, t_x, big_t = data.frequency, data.recency, data.T
    value, both = _lik.pnbd_objective(x, t_x, big_t, np.ones(n))
    params = truth._vector()
    one_value, _ = best_of(2, lambda: value(params))
    one_grad, _ = best_of(2, lambda: both(params))
    seconds, fitted = best_of(1, lambda: ParetoNBD.fit(data))
    assert fitted.fit_info is not None
    ours = fitted.fit_info.log_likelihood
    lines = [
        f"Pareto/NBD fit, arbitrary times, {n:,} customers "
        f"({fitted.fit_info.unique_rows:,} distinct histories)",
        f"  one log-likelihood {one_value:.3f} s; one gradient: analytic alpha, beta "
        f"{one_grad:.3f} s ({one_grad / one_value:.1f} values), forward differences "
        f"{5 * one_value:.3f} s (5 values), central {9 * one_value:.3f} s (9 values)",
        f"  loyaltycore {seconds:8.3f} s   LL {ours:,.4f}   (target <= "
        f"{TARGET_BIG_SECONDS:.0f} s: {verdict(seconds <= TARGET_BIG_SECONDS)})",
    ]
    start = np.log([1.0, float(big_t.mean()), 1.0, float(big_t.mean())])

    def objective(theta: np.ndarray) -> float:
        return -float(_lik.pnbd_loglik(np.exp(theta), x, t_x, big_t).sum()) / n

    started = time.perf_counter()
    with np.errstate(all="ignore"):
        result = minimize(objective, start, method="L-BFGS-B")
    theirs = -float(result.fun) * n
    their_seconds = time.perf_counter() - started
    relative = (ours - theirs) / abs(theirs)
    lines.append(
        f"  plain scipy {their_seconds:8.3f} s   LL {theirs:,.4f} (L-BFGS-B, numeric gradient)"
    )
    lines.append(
        f"  speed-up {their_seconds / seconds:.1f}x; LL difference {relative:+.1e} relative "
        f"(target >= -1e-6: {verdict(relative >= -TARGET_LL)})"
    )
    return lines


def bgbb_lines(size: str) -> list[str]:
    """BG/BB fits against lifetimes' BetaGeoBetaBinomFitter."""
    tables = []
    table = np.genfromtxt(DONATIONS, delimiter=",", names=True)
    tables.append(("donations", {k: np.asarray(table[k]) for k in table.dtype.names or ()}))
    if BGBB[size]:
        truth = BetaGeoBetaBinom(alpha=1.2, beta=0.75, gamma=0.66, delta=2.8)
        rng = np.random.default_rng(7)
        sim = truth.simulate(rng.integers(6, 21, BGBB[size]), seed=rng)
        (x, t_x, n_p), w = _unique(sim.frequency, sim.recency, sim.n_periods)
        tables.append(
            (
                f"simulated, {BGBB[size]:,} customers",
                {"frequency": x, "recency": t_x, "n_periods": n_p, "weights": w},
            )
        )
    lines = []
    reference = lifetimes_bgbb()
    for label, columns in tables:
        seconds, fitted = best_of(3, lambda c=columns: BetaGeoBetaBinom.fit(c))
        assert fitted.fit_info is not None
        lines.append(f"BG/BB fit, {label} ({fitted.fit_info.unique_rows:,} rows)")
        lines.append(f"  loyaltycore {seconds:8.3f} s   LL {fitted.fit_info.log_likelihood:,.4f}")
        if isinstance(reference, str):
            lines.append(f"  lifetimes not importable ({reference}); comparison skipped")
            continue
        their_seconds, params = best_of(1, lambda c=columns: bgbb_fit(reference, c))
        theirs = BetaGeoBetaBinom(*params).log_likelihood(columns)
        relative = (fitted.fit_info.log_likelihood - theirs) / abs(theirs)
        lines.append(f"  lifetimes   {their_seconds:8.3f} s   LL {theirs:,.4f} (same formula)")
        lines.append(
            f"  speed-up {their_seconds / seconds:.1f}x; LL difference {relative:+.1e} relative"
        )
    return lines


DONATIONS = Path(__file__).parent.parent / "tests" / "data" / "donations.csv"


def _unique(*columns: np.ndarray) -> tuple[tuple[np.ndarray, ...], np.ndarray]:
    stacked = np.stack(columns, axis=1)
    rows, counts = np.unique(stacked, axis=0, return_counts=True)
    return tuple(rows.T), counts.astype(np.float64)


def lifetimes_bgbb() -> Any:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from lifetimes import BetaGeoBetaBinomFitter
    except Exception as exc:  # any import failure means: no comparison
        return f"{type(exc).__name__}: {exc}"
    return BetaGeoBetaBinomFitter


def bgbb_fit(fitter_class: Any, columns: dict[str, np.ndarray]) -> tuple[float, ...]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fitter = fitter_class().fit(
            columns["frequency"],
            columns["recency"],
            columns["n_periods"],
            weights=columns["weights"],
        )
    return tuple(float(fitter.params_[k]) for k in ("alpha", "beta", "gamma", "delta"))


def run(size: str) -> list[str]:
    """Fit both models at ``size`` ("tiny" or "full"); one line per figure."""
    n = SIZES[size]
    fitters = reference()
    warm_up(fitters)
    bg_truth = BetaGeo(r=0.25, alpha=28.0, a=0.8, b=2.5, unit="day")
    pnbd_truth = ParetoNBD(r=0.55, alpha=70.0, s=0.6, beta=80.0, unit="day")
    bg_ref = fitters if isinstance(fitters, str) else fitters[0]
    pnbd_ref = fitters if isinstance(fitters, str) else fitters[1]
    lines = [f"CLV model fits, size {size}"]
    for resolution, seed in (("day", 2), ("second", 3)):
        data = customers(bg_truth, n, resolution, seed)
        label = f"BG/NBD fit, {resolution} resolution"
        lines += compare(label, BetaGeo, data, bg_ref, 2, check_ll=True)
    data = customers(pnbd_truth, n, "day", 4)
    lines += compare("Pareto/NBD fit, day resolution", ParetoNBD, data, pnbd_ref, 1, True)
    lines += pareto_big(size)
    lines += bgbb_lines(size)
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", choices=sorted(SIZES), default="full")
    args = parser.parse_args()
    for line in run(args.size):
        print(line, flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

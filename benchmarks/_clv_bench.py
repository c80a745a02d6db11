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
from typing import Any

import numpy as np

from loyaltycore.clv import BetaGeo, Histories, ParetoNBD

SIZES = {"tiny": 2_000, "full": 100_000}
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

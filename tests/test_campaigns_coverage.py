"""Simulated campaigns with a known effect: intervals cover it as often as they claim.

Each simulated campaign draws zero-inflated, skewed spend (most members buy
nothing in the window) for both arms from one distribution and adds the
true effect to the treated members, so the true difference of means is
known exactly. A 95% interval should cover it in 95% of the campaigns; with
N campaigns the count of covering intervals is Binomial(N, 0.95), and the
test accepts any count inside that distribution's central 99.9% band (so a
correct method fails it once in a thousand seeds, and this seed is fixed).
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from loyaltycore.campaigns import compare, cuped

EFFECT = 1.5
SHAPE, SCALE, SPENDERS = 0.8, 25.0, 0.4  # E[spend] = 0.4 x 0.8 x 25 = 8.0
MEAN = SPENDERS * SHAPE * SCALE


def _band(n: int, level: float = 0.95) -> tuple[int, int]:
    """The central 99.9% range of Binomial(n, level)."""
    return int(stats.binom.ppf(0.0005, n, level)), int(stats.binom.ppf(0.9995, n, level))


def _campaign(rng: np.random.Generator, n_t: int, n_c: int) -> tuple[np.ndarray, np.ndarray]:
    def spend(n: int) -> np.ndarray:
        return rng.gamma(SHAPE, SCALE, n) * (rng.random(n) < SPENDERS)

    return spend(n_t) + EFFECT, spend(n_c)


def test_welch_intervals_cover_the_true_difference_and_ratio() -> None:
    rng = np.random.default_rng(20240610)
    runs = 1000
    difference = ratio = 0
    for _ in range(runs):
        t, c = _campaign(rng, 600, 200)
        r = compare(t, c)
        difference += r.difference_low <= EFFECT <= r.difference_high
        ratio += r.ratio_low <= (MEAN + EFFECT) / MEAN <= r.ratio_high
    low, high = _band(runs)
    assert low <= difference <= high, (difference, low, high)
    assert low <= ratio <= high, (ratio, low, high)


def test_bootstrap_intervals_cover_the_true_difference() -> None:
    rng = np.random.default_rng(7)
    runs = 300
    covered = 0
    for i in range(runs):
        t, c = _campaign(rng, 400, 150)
        r = compare(t, c, method="bootstrap", resamples=1000, seed=i)
        covered += r.difference_low <= EFFECT <= r.difference_high
    low, high = _band(runs)
    assert low <= covered <= high, (covered, low, high)


def test_cuped_with_pooled_theta_is_unbiased_and_covers() -> None:
    """Bound: the mean estimate is within 4 Monte Carlo standard errors of the effect.

    Estimating theta from the same data biases the estimate by O(1/n), far
    below that bound here (4 x sd / sqrt(800), about 0.14 spend units); the
    adjusted Welch interval must also keep its 95% coverage.
    """
    rng = np.random.default_rng(99)
    runs, n = 800, 500
    estimates = np.empty(runs)
    covered = 0
    reductions = np.empty(runs)
    for i in range(runs):
        pre = rng.gamma(SHAPE, SCALE, n) * (rng.random(n) < 0.6)
        arm = rng.random(n) < 0.5
        y = 0.7 * pre + rng.gamma(SHAPE, SCALE / 2, n) + EFFECT * arm
        r = cuped(y, pre, arm)
        c = r.compare()
        estimates[i] = c.difference
        reductions[i] = r.variance_reduction
        covered += c.difference_low <= EFFECT <= c.difference_high
    monte_carlo_se = estimates.std(ddof=1) / np.sqrt(runs)
    assert abs(estimates.mean() - EFFECT) < 4 * monte_carlo_se
    assert reductions.mean() > 0.5  # the pre-period explains most of the variance
    low, high = _band(runs)
    assert low <= covered <= high, (covered, low, high)

"""Seeded simulators of the CLV models' generative stories (numpy only)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

Float = npt.NDArray[np.float64]


def rng_from(seed: int | np.random.Generator) -> np.random.Generator:
    """A Generator from an int seed, or the Generator itself."""
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(seed)


def beta_geo(
    r: float,
    alpha: float,
    a: float,
    b: float,
    big_t: Float,
    rng: np.random.Generator,
    *,
    modified: bool = False,
) -> tuple[Float, Float]:
    """(frequency, recency) of customers observed for ``big_t`` after their first purchase.

    Each customer buys at a gamma-distributed rate and, after each repeat
    purchase, drops out with a beta-distributed probability; ``modified``
    (MBG/NBD) lets them drop out after the first purchase too.
    """
    rate = rng.gamma(r, 1.0 / alpha, size=big_t.size)
    drop = rng.beta(a, b, size=big_t.size)
    arrivals = rng.poisson(rate * big_t)
    lasting = rng.geometric(np.clip(drop, 1e-300, 1.0))
    if modified:  # the first draw is the drop-out at the first purchase
        lasting = lasting - 1
    x = np.minimum(arrivals, lasting)
    t_x = np.zeros(big_t.size)
    repeat = x > 0
    t_x[repeat] = big_t[repeat] * rng.beta(x[repeat], arrivals[repeat] - x[repeat] + 1)
    return x.astype(np.float64), t_x


def pareto_nbd(
    r: float, alpha: float, s: float, beta: float, big_t: Float, rng: np.random.Generator
) -> tuple[Float, Float]:
    """(frequency, recency) under Pareto/NBD: gamma purchase and dropout rates."""
    rate = rng.gamma(r, 1.0 / alpha, size=big_t.size)
    death = rng.gamma(s, 1.0 / beta, size=big_t.size)
    lifetime = rng.exponential(1.0 / np.maximum(death, 1e-300))
    observed = np.minimum(lifetime, big_t)
    x = rng.poisson(rate * observed)
    t_x = np.zeros(big_t.size)
    repeat = x > 0
    t_x[repeat] = observed[repeat] * rng.beta(x[repeat], 1.0)
    return x.astype(np.float64), t_x


def gamma_gamma(p: float, q: float, gamma: float, x: Float, rng: np.random.Generator) -> Float:
    """Mean spend over ``x`` repeat purchases (0 where ``x == 0``)."""
    scale_rate = rng.gamma(q, 1.0 / gamma, size=x.size)
    repeat = x > 0
    mean = np.zeros(x.size)
    shape = p * x[repeat]
    mean[repeat] = rng.gamma(shape, 1.0 / (scale_rate[repeat] * x[repeat]))
    return mean

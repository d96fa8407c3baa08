"""Synthetic request streams: Poisson arrivals, fixed or lognormal lengths, seeded."""

from __future__ import annotations

import numpy as np

from swarmscale.traces import RequestTrace, build_trace


def poisson_trace(
    rate: float,
    count: int,
    input_len: int,
    output_len: int,
    seed: int = 0,
    length_sigma: float = 0.0,
) -> RequestTrace:
    """`count` requests arriving at `rate` per second; lengths lognormal around the given
    means when `length_sigma` > 0 (log-space standard deviation), else fixed."""
    if rate <= 0 or count < 1 or input_len < 1 or output_len < 1:
        raise ValueError("rate, count and lengths must be positive")
    rng = np.random.default_rng(seed)
    arrivals = np.cumsum(rng.exponential(1.0 / rate, size=count))

    def lengths(mean: int) -> np.ndarray:
        if length_sigma <= 0:
            return np.full(count, mean)
        mu = np.log(mean) - length_sigma**2 / 2.0
        return np.maximum(np.rint(rng.lognormal(mu, length_sigma, size=count)), 1)

    return build_trace(
        f"poisson-{rate:g}", list(arrivals), list(lengths(input_len)), list(lengths(output_len))
    )

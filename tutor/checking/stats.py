"""Statistical bounds for random behaviour (dropout masks, samplers): generous, and explained.

    expect_rate("Dropout(0.3) in training: elements kept", kept, n, 0.7, advice="Keep an element when rand >= p.")
    expect_within_sigmas("mean of dropout(x) - mean of x", diff, 0.0, sd)
    expect_uniform("log10(lr) rescaled to [0, 1]", u)           # Kolmogorov-Smirnov distance

At 5σ a correct implementation fails with probability below 1e-6 (normal approximation); the
KS bound uses the same significance, 1e-6. Each message gives the count or value, the expected
value and the interval.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tutor.checking.errors import fail
from tutor.checking.formatting import number

SIGMAS = 5.0
ALPHA = 1e-6  # significance of the KS bound, about that of 5σ


def binomial_sd(n: int, p: float) -> float:
    """σ of a Binomial(n, p) count: √(n·p·(1−p))."""
    return math.sqrt(n * p * (1 - p))


def binomial_bounds(n: int, p: float, sigmas: float = SIGMAS) -> tuple[float, float]:
    """The interval n·p ± sigmas·σ for a Binomial(n, p) count, clipped to [0, n]."""
    mean, sd = n * p, binomial_sd(n, p)
    return max(0.0, mean - sigmas * sd), min(float(n), mean + sigmas * sd)


def expect_rate(name: str, count: int, n: int, p: float, sigmas: float = SIGMAS, advice: str = "") -> None:
    """`count` successes out of `n`, each with probability `p`, must lie within `sigmas` σ of n·p."""
    lo, hi = binomial_bounds(n, p, sigmas)
    if not lo <= count <= hi:
        sd = binomial_sd(n, p)
        tail = f" {advice}" if advice else ""
        fail(f"{name}: {count} of {n} (rate {number(count / n, 4)}); expected p = {number(p, 4)}, i.e. "
             f"{number(n * p, 5)} ± {number(sigmas, 2)}σ = [{number(lo, 5)}, {number(hi, 5)}] "
             f"(binomial σ = √(n·p·(1−p)) = {number(sd, 3)}).{tail}")


def expect_within_sigmas(name: str, value: float, mean: float, sd: float, sigmas: float = SIGMAS,
                         advice: str = "") -> None:
    """A statistic with known mean and standard deviation must lie within `sigmas` σ of its mean."""
    off = abs(value - mean) / sd if sd > 0 else (math.inf if value != mean else 0.0)
    if not off <= sigmas:
        tail = f" {advice}" if advice else ""
        fail(f"{name} is {number(value, 5)}; expected {number(mean, 5)} ± {number(sigmas, 2)}σ = "
             f"[{number(mean - sigmas * sd, 5)}, {number(mean + sigmas * sd, 5)}] (σ = {number(sd, 3)}; "
             f"yours is {number(off, 3)}σ away).{tail}")


def ks_uniform(samples: Any, low: float = 0.0, high: float = 1.0) -> float:
    """Kolmogorov-Smirnov distance between the samples' empirical CDF and Uniform(low, high)."""
    u = np.sort((np.asarray(samples, dtype=np.float64).ravel() - low) / (high - low))
    n = len(u)
    if n == 0:
        raise ValueError("ks_uniform needs at least one sample")
    cdf = np.clip(u, 0.0, 1.0)
    return float(np.max(np.maximum(np.arange(1, n + 1) / n - cdf, cdf - np.arange(n) / n)))


def ks_bound(n: int, alpha: float = ALPHA) -> float:
    """The KS distance a correct sampler stays below with probability 1 − alpha: √(ln(2/α)/(2n))."""
    return math.sqrt(math.log(2 / alpha) / (2 * n))


def expect_uniform(name: str, samples: Any, low: float = 0.0, high: float = 1.0, alpha: float = ALPHA,
                   advice: str = "") -> float:
    """The samples must look Uniform(low, high) (KS distance below `ks_bound`); returns the distance."""
    n = int(np.asarray(samples).size)
    distance, bound = ks_uniform(samples, low, high), ks_bound(n, alpha)
    if distance > bound:
        tail = f" {advice}" if advice else ""
        fail(f"{name} is not uniform on [{number(low)}, {number(high)}]: Kolmogorov-Smirnov distance "
             f"{number(distance, 3)} over {n} samples; a uniform sample stays below {number(bound, 3)} "
             f"(significance {number(alpha, 2)}).{tail}")
    return distance

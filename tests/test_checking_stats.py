"""Binomial, normal and Kolmogorov-Smirnov bounds: a right sampler passes, a wrong one fails with
the count, the rate, the expectation and the interval."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tutor.checking import (
    CheckFailed,
    binomial_bounds,
    expect_rate,
    expect_uniform,
    expect_within_sigmas,
    ks_bound,
    ks_uniform,
)


def failure(fn, *args, **kwargs) -> str:
    with pytest.raises(CheckFailed) as info:
        fn(*args, **kwargs)
    return str(info.value)


def test_binomial_bounds_are_mean_plus_minus_sigmas():
    lo, hi = binomial_bounds(10000, 0.7, sigmas=5)
    sd = math.sqrt(10000 * 0.7 * 0.3)
    assert lo == pytest.approx(7000 - 5 * sd) and hi == pytest.approx(7000 + 5 * sd)
    assert binomial_bounds(10, 0.5, sigmas=100) == (0.0, 10.0)


def test_expect_rate_passes_a_fair_draw_and_names_a_wrong_rate():
    rng = np.random.default_rng(0)
    for seed in range(5):
        kept = int((np.random.default_rng(seed).random(10000) >= 0.3).sum())
        expect_rate("kept", kept, 10000, 0.7)
    kept = int((rng.random(10000) >= 0.7).sum())  # the keep and drop probabilities swapped
    msg = failure(expect_rate, "Dropout(0.3): elements kept", kept, 10000, 0.7, advice="Keep when rand >= p.")
    assert msg.startswith(f"Dropout(0.3): elements kept: {kept} of 10000 (rate 0.")
    assert "expected p = 0.7, i.e. 7000 ± 5σ = [6770.9, 7229.1]" in msg and msg.endswith("Keep when rand >= p.")


def test_expect_within_sigmas():
    expect_within_sigmas("mean", 0.01, 0.0, 0.01)
    msg = failure(expect_within_sigmas, "mean of y - mean of x", 0.2, 0.0, 0.01)
    assert "is 0.2; expected 0 ± 5σ = [-0.05, 0.05] (σ = 0.01; yours is 20σ away)" in msg


def test_ks_distance_and_bound():
    assert ks_uniform([0.5]) == 0.5
    assert ks_bound(4000) == pytest.approx(0.0426, abs=1e-4)  # the bound day 12's sampler check uses
    for seed in range(5):
        expect_uniform("u", np.random.default_rng(seed).random(4000))
    skewed = np.random.default_rng(0).random(4000) ** 2
    msg = failure(expect_uniform, "log10(lr) rescaled", skewed)
    assert "is not uniform on [0, 1]: Kolmogorov-Smirnov distance 0.2" in msg and "below 0.0426" in msg
    expect_uniform("lr exponent", np.random.default_rng(1).uniform(-5, -1, 4000), low=-5, high=-1)

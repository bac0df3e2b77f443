"""Loss-curve expectations: smoothed decrease, loss at init, overfitting one batch."""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from tutor.checking.errors import fail
from tutor.checking.formatting import distinct


def smooth(values: Sequence[float], window: int) -> np.ndarray:
    """Moving average over `window` steps (valid part only)."""
    v = np.asarray(values, dtype=np.float64)
    window = max(1, min(window, len(v)))
    return np.convolve(v, np.ones(window) / window, mode="valid")


def expect_decreasing(values: Sequence[float], name: str, min_drop: float = 0.2, window: int | None = None) -> None:
    """The mean of the last window must be below the first window's by `min_drop` (a fraction).

    Compares smoothed windows, not single steps: a noisy curve that trends down passes.
    """
    v = np.asarray(values, dtype=np.float64)
    if len(v) < 2:
        fail(f"{name} has {len(v)} value(s); a curve needs at least 2")
    if not np.isfinite(v).all():
        step = int(np.argmax(~np.isfinite(v)))
        fail(f"{name} became nan/inf at step {step} (diverged: learning rate too high, or a sign error?)")
    window = window or max(1, len(v) // 5)
    first, last = float(v[:window].mean()), float(v[-window:].mean())
    if not last <= first * (1 - min_drop):
        drop = (first - last) / abs(first) if first else 0.0
        fail(
            f"{name} does not decrease enough: mean of the first {window} steps {first:.4g}, "
            f"of the last {window} steps {last:.4g} (a {drop:.0%} drop; at least {min_drop:.0%} expected)"
        )


def expect_initial_loss(loss0: float, num_classes: int, name: str = "loss at init", tol: float = 0.25) -> None:
    """A classifier with small random weights starts near ln(C) (uniform prediction)."""
    expected = math.log(num_classes)
    if not abs(loss0 - expected) <= tol * expected:
        fail(
            f"{name} is {loss0:.4g}; with {num_classes} classes and small initial weights it should be "
            f"near ln({num_classes}) = {expected:.4g} (within {tol:.0%})"
        )


def expect_below(value: float, limit: float, name: str) -> None:
    """A final loss (e.g. after overfitting one batch) must be at most `limit`."""
    if not (np.isfinite(value) and value <= limit):
        shown, wanted = distinct(value, limit)
        fail(f"{name} is {shown}; it should reach {wanted} or less")

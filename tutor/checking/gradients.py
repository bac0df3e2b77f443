"""Gradient checks: centred differences (CS231n scale) and torch.autograd.gradcheck."""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np
import torch

from tutor.checking.errors import fail
from tutor.checking.expect import as_numpy
from tutor.checking.formatting import distinct

GOOD = 1e-7  # relative error at or below this: the gradient is right
WRONG = 1e-4  # above this (for a smooth function): the gradient is wrong


def numeric_gradient(f: Callable[[], float], x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """dF/dx by centred differences; `f` reads `x`, which is perturbed in place and restored."""
    grad = np.zeros_like(x, dtype=np.float64)
    it = np.nditer(x, flags=["multi_index"], op_flags=[["readwrite"]])
    while not it.finished:
        i = it.multi_index
        old = x[i]
        x[i] = old + eps
        plus = float(f())
        x[i] = old - eps
        minus = float(f())
        x[i] = old
        grad[i] = (plus - minus) / (2 * eps)
        it.iternext()
    return grad


def relative_error(a: Any, b: Any) -> np.ndarray:
    """Elementwise |a-b| / max(|a|+|b|, 1e-12), the CS231n relative error."""
    a = as_numpy(a).astype(np.float64)
    b = as_numpy(b).astype(np.float64)
    return np.abs(a - b) / np.maximum(np.abs(a) + np.abs(b), 1e-12)


def expect_gradient(
    analytic: Any, numeric: Any, name: str, tol: float = 1e-6, atol: float = 1e-9, tiny_tol: float | None = None
) -> float:
    """Analytic gradient `name` must match the numeric one; returns the max relative error.

    Entries where both are below `atol` are noise on the relative scale: they are ignored,
    or, with `tiny_tol`, judged by their absolute error instead.
    """
    a = as_numpy(analytic).astype(np.float64)
    n = as_numpy(numeric).astype(np.float64)
    if a.shape != n.shape:
        fail(f"gradient {name} has shape {a.shape}; expected {n.shape} (the shape of the parameter)")
    if not np.isfinite(a).all():
        fail(f"gradient {name} contains nan/inf")
    tiny = (np.abs(a) < atol) & (np.abs(n) < atol)
    if tiny_tol is not None and tiny.any():
        diff = np.where(tiny, np.abs(a - n), 0.0)
        if diff.max() > tiny_tol:
            idx = tuple(int(i) for i in np.unravel_index(int(np.argmax(diff)), diff.shape))
            yours, numeric = distinct(a[idx], n[idx], digits=6)
            fail(f"gradient {name} is wrong: at index {idx} yours is {yours}, numeric {numeric} "
                 f"(absolute error {diff[idx]:.2e}; a right gradient is within {tiny_tol:g} here)")
    rel = np.where(tiny, 0.0, relative_error(a, n))
    worst = float(rel.max()) if rel.size else 0.0
    if worst > tol:
        idx = np.unravel_index(int(np.argmax(rel)), rel.shape) if rel.ndim else ()
        verdict = "wrong" if worst > WRONG else "suspicious"
        yours, numeric = distinct(a[idx], n[idx], digits=6)
        ratio = ""
        if n[idx] != 0:
            ratio = f", ratio yours/numeric {a[idx] / n[idx]:.3g}"
        fail(
            f"gradient {name} is {verdict}: max relative error {worst:.2e} at index "
            f"{tuple(int(i) for i in idx)} (yours {yours}, numeric {numeric}{ratio}); "
            f"≤{GOOD:.0e} is good, >{WRONG:.0e} means a bug"
        )
    return worst


def expect_gradcheck(fn: Callable[..., Any], inputs: Sequence[torch.Tensor], name: str) -> None:
    """torch.autograd.gradcheck in float64: the fast mode first, the slow one to explain."""
    inputs = tuple(inputs)
    if any(t.dtype != torch.float64 for t in inputs if isinstance(t, torch.Tensor) and t.requires_grad):
        raise ValueError("expect_gradcheck needs float64 inputs")
    if torch.autograd.gradcheck(fn, inputs, fast_mode=True, raise_exception=False):
        return
    try:
        torch.autograd.gradcheck(fn, inputs, fast_mode=False, raise_exception=True)
    except Exception as exc:  # GradcheckError or a shape/dtype error: both worth showing
        detail = str(exc).strip().splitlines()
        fail(f"autograd gradient check of {name} failed: " + " ".join(detail[:6]))
    fail(f"autograd gradient check of {name} failed (fast mode); the slow mode passed, so it is borderline")

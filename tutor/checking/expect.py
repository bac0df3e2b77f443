"""Expectations that name the tensor and give the number when they fail."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import torch

from tutor.checking.errors import fail
from tutor.checking.formatting import distinct, number


def as_numpy(value: Any) -> np.ndarray:
    """A tensor, array, list or number as a float64-or-native NumPy array (on the CPU)."""
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu()
        if value.dtype in (torch.bfloat16,) or "float8" in str(value.dtype):
            value = value.double()  # NumPy has no bfloat16 or float8
        return value.numpy()
    return np.asarray(value)


def shape_of(value: Any) -> tuple[int, ...] | None:
    """The shape of a tensor or array, None for anything without one."""
    shape = getattr(value, "shape", None)
    return tuple(shape) if shape is not None else None


def expect(condition: bool, message: str) -> None:
    """Fail with `message` unless `condition` holds."""
    if not condition:
        fail(message)


def expect_type(value: Any, types: type | tuple[type, ...], name: str) -> None:
    """`name` must be an instance of `types`."""
    if not isinstance(value, types):
        wanted = " or ".join(t.__name__ for t in (types if isinstance(types, tuple) else (types,)))
        fail(f"{name} is a {type(value).__name__}; expected a {wanted}")


def expect_shape(
    value: Any, expected: Sequence[int | None], name: str, labels: Sequence[str] | None = None
) -> None:
    """`name` must have shape `expected` (None matches any size)."""
    actual = shape_of(value)
    if actual is None:
        fail(f"{name} is a {type(value).__name__}, which has no shape; expected shape {tuple(expected)}")
    ok = len(actual) == len(expected) and all(e is None or a == e for a, e in zip(actual, expected))
    if not ok:
        wanted = tuple(expected)
        named = f"({', '.join(labels)}) = {wanted}" if labels else f"{wanted}"
        fail(f"{name} has shape {actual}; expected {named}")


def expect_dtype(value: Any, dtype: Any, name: str) -> None:
    """`name` must have dtype `dtype` (a torch or NumPy dtype)."""
    actual = getattr(value, "dtype", None)
    if actual != dtype:
        fail(f"{name} has dtype {actual}; expected {dtype}")


def expect_finite(value: Any, name: str) -> None:
    """No NaN or infinity anywhere in `name`."""
    array = as_numpy(value).astype(np.float64, copy=False)
    bad = ~np.isfinite(array)
    if bad.any():
        where = tuple(int(i) for i in np.argwhere(bad)[0]) if array.ndim else ()
        fail(f"{name} contains {int(bad.sum())} non-finite value(s) (nan/inf), first at index {where}: {array[where]}")


def expect_close(
    actual: Any, expected: Any, name: str, atol: float = 1e-6, rtol: float = 1e-5
) -> None:
    """`actual` must equal the reference `expected` within tolerances, same shape.

    The message gives the largest absolute difference, its index and both values there.
    """
    a = as_numpy(actual).astype(np.float64)
    e = as_numpy(expected).astype(np.float64)
    if a.shape != e.shape:
        fail(f"{name} has shape {a.shape}; expected {e.shape}")
    if np.isnan(a).any() and not np.isnan(e).any():
        expect_finite(a, name)
    diff = np.abs(a - e)
    diff = np.where(np.isnan(diff), np.inf, diff)
    allowed = atol + rtol * np.abs(e)
    if (diff > allowed).any():
        idx = np.unravel_index(int(np.argmax(diff - allowed)), diff.shape) if diff.ndim else ()
        where = f" at index {tuple(int(i) for i in idx)}" if diff.ndim else ""
        yours, wanted = distinct(a[idx], e[idx], digits=6)
        fail(
            f"{name} differs from the reference: max abs difference {number(float(diff.max()), 3)}{where} "
            f"(yours {yours}, expected {wanted}; tolerance {atol:g} + {rtol:g}·|expected|)"
        )


def expect_metric(
    ctx: Any, name: str, value: float, threshold: float, higher_is_better: bool = True, unit: str = ""
) -> None:
    """Report `name` and fail when it is on the wrong side of `threshold`."""
    ctx.metric(name, value, threshold, higher_is_better)
    ok = value >= threshold if higher_is_better else value <= threshold
    if not ok or not np.isfinite(value):
        side = "at least" if higher_is_better else "at most"
        shown, limit = distinct(value, threshold)
        fail(f"{name} is {shown}{unit}; it should be {side} {limit}{unit}")

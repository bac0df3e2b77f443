"""Compare with the reference and, on a mismatch, name the classic mistake the value matches.

    expect_match("var(x)", learner.var(x), x.var(correction=0), mistakes={
        "it divides by n - 1 (the unbiased variance); use correction=0": lambda: x.var(correction=1),
        "it forgot to subtract the mean": lambda: (x**2).mean(),
    })

fails, for a learner who divides by n - 1, with "var(x) is off: it divides by n - 1 (the
unbiased variance); use correction=0. Yours 1.667, expected 1.25 (difference 0.417)".
Candidates are computed only on a mismatch, in order; one that raises is skipped. The
numbers are always given, named mistake or not. Values may be tensors, arrays, numbers, or
tuples/lists/dicts of them (x = [1, 2, 3, 4] in the message above).
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping, Sequence, Union

import numpy as np
import torch

from tutor.checking.errors import fail
from tutor.checking.expect import as_numpy
from tutor.checking.formatting import distinct, number

Candidate = Any  # a value, or a function of no arguments that computes it
Mistakes = Union[Mapping[str, Candidate], Sequence[tuple[str, Candidate]]]

# (atol, rtol) by the least precise dtype compared; Python floats count as float32, since a
# learner's float may come from float32 arithmetic (mask.float().mean().item()).
TOLERANCE = {"float64": (1e-9, 1e-7), "float32": (1e-6, 1e-5), "half": (1e-2, 1e-2)}


def _precision(leaf: Any) -> int:
    dtype = getattr(leaf, "dtype", None)
    if dtype in (torch.float16, torch.bfloat16, np.float16):
        return 0
    if dtype in (torch.float64, np.float64, torch.complex128) or (dtype is not None and not _is_float(dtype)):
        return 2
    return 1


def _is_float(dtype: Any) -> bool:
    if isinstance(dtype, torch.dtype):
        return dtype.is_floating_point or dtype.is_complex
    return np.issubdtype(dtype, np.inexact)


def default_tolerance(*values: Any) -> tuple[float, float]:
    """(atol, rtol) for the least precise of `values`: float64, float32 (and Python floats), half."""
    worst = min((_precision(leaf) for v in values for _, leaf in _leaves(v)), default=1)
    return TOLERANCE[("half", "float32", "float64")[worst]]


def _leaves(value: Any, path: str = "") -> list[tuple[str, Any]]:
    """(path, leaf) pairs of a nested tuple/list/dict: '[0]', "['running_var']"."""
    if isinstance(value, (tuple, list)):
        return [pair for i, v in enumerate(value) for pair in _leaves(v, f"{path}[{i}]")]
    if isinstance(value, Mapping):
        items = sorted(value.items(), key=lambda kv: repr(kv[0]))
        return [pair for k, v in items for pair in _leaves(v, f"{path}[{k!r}]")]
    return [(path, value)]


def _numeric(leaf: Any) -> np.ndarray | None:
    """The leaf as a float64 array, None when it is not numeric (None, a string, an object)."""
    if isinstance(leaf, (torch.Tensor, np.ndarray, np.generic, int, float)) and not isinstance(leaf, str):
        try:
            return as_numpy(leaf).astype(np.float64)
        except (TypeError, ValueError):
            return None
    return None


def _structure(value: Any) -> list[str]:
    return [path for path, _ in _leaves(value)]


def is_close(got: Any, expected: Any, atol: float | None = None, rtol: float | None = None) -> bool:
    """Same structure and shapes, equal within atol + rtol·|expected|; NaN only matches NaN."""
    atol, rtol = _resolve(got, expected, atol, rtol)
    if _structure(got) != _structure(expected):
        return False
    for (_, g), (_, e) in zip(_leaves(got), _leaves(expected)):
        a, b = _numeric(g), _numeric(e)
        if a is None or b is None or a.shape != b.shape:
            return False
        if not np.allclose(a, b, atol=atol, rtol=rtol, equal_nan=True):
            return False
    return True


def mistake_items(mistakes: Mistakes | None) -> Iterable[tuple[str, Candidate]]:
    if not mistakes:
        return ()
    return mistakes.items() if isinstance(mistakes, Mapping) else mistakes


def which_mistake(got: Any, mistakes: Mistakes | None, expected: Any = None,
                  atol: float | None = None, rtol: float | None = None) -> str | None:
    """The first mistake whose value `got` matches (and that differs from `expected`), or None."""
    for why, candidate in mistake_items(mistakes):
        try:
            value = candidate() if callable(candidate) else candidate
        except Exception:  # a candidate that cannot be computed here simply does not match
            continue
        if value is None or not is_close(got, value, atol, rtol):
            continue
        if expected is not None and is_close(value, expected, atol, rtol):
            continue
        return why
    return None


def _resolve(got: Any, expected: Any, atol: float | None, rtol: float | None) -> tuple[float, float]:
    atol0, rtol0 = default_tolerance(got, expected)
    return (atol0 if atol is None else atol), (rtol0 if rtol is None else rtol)


def describe_difference(got: Any, expected: Any, atol: float | None = None, rtol: float | None = None) -> str:
    """'yours 0.5417, expected 0.5463 (difference 0.0046)'; for arrays the max abs difference and where.

    Describes the first element (of a tuple/list/dict) that is off by more than the tolerance.
    """
    path, text, _ = _difference(got, expected, atol, rtol)
    return f"{path}: {text}" if path else text


def _difference(got: Any, expected: Any, atol: float | None, rtol: float | None) -> tuple[str, str, bool]:
    """(path of the first element off, its description, whether the values were comparable)."""
    atol, rtol = _resolve(got, expected, atol, rtol)
    if _structure(got) != _structure(expected):
        return "", f"yours has {len(_leaves(got))} element(s), expected {len(_leaves(expected))}", False
    pairs = [(p, g, e) for (p, g), (_, e) in zip(_leaves(got), _leaves(expected))]
    path, g, e = ([t for t in pairs if not is_close(t[1], t[2], atol, rtol)] or pairs)[0]
    a, b = _numeric(g), _numeric(e)
    if a is None:
        kind = "None" if g is None else f"a {type(g).__name__} ({g!r:.40})"
        return path, f"yours is {kind}, expected {_brief(b)}", False
    if b is None or a.shape != b.shape:
        return path, f"yours {_brief(a)}, expected {_brief(b)}", False
    if a.size == 0:
        return path, f"both are empty, of shape {a.shape}", True
    with np.errstate(invalid="ignore"):  # inf - inf is nan here; equal infinities are sorted out below
        diff = np.abs(a - b)
    same = (a == b) | (np.isnan(a) & np.isnan(b))  # equal infinities match too (inf - inf is nan)
    diff = np.where(same, 0.0, np.where(np.isnan(diff), np.inf, diff))
    idx = np.unravel_index(int(np.argmax(diff)), diff.shape) if diff.ndim else ()
    ya, yb = distinct(a[idx], b[idx])
    if a.size == 1:
        return path, f"yours {ya}, expected {yb} (difference {number(diff[idx], 3)})", True
    count = int((diff > atol + rtol * np.where(np.isfinite(b), np.abs(b), 0.0)).sum())
    return path, (f"max abs difference {number(diff[idx], 3)} at index {tuple(int(i) for i in idx)} "
                  f"(yours {ya}, expected {yb}); {count} of {a.size} entries are off"), True


def _brief(b: np.ndarray | None) -> str:
    """'0.5', 'shape (3,) [1, 2, 3]' or 'shape (64, 10)' for a message."""
    if b is None:
        return "a value of another kind"
    if b.ndim == 0:
        return number(b.item(), 6)
    if b.size <= 6:
        return f"shape {b.shape} [{', '.join(number(v, 4) for v in b.ravel())}]"
    return f"shape {b.shape}"


def expect_match(name: str, got: Any, expected: Any, mistakes: Mistakes | None = None,
                 atol: float | None = None, rtol: float | None = None, hint: str = "",
                 against: str = "the reference") -> None:
    """`got` must match `expected`; otherwise name the first matching mistake, with the numbers.

    atol/rtol default to `default_tolerance(got, expected)`. `hint` is added when no mistake
    matches; `against` names the reference ("torch.optim.Adam") in that message.
    """
    atol, rtol = _resolve(got, expected, atol, rtol)
    if is_close(got, expected, atol, rtol):
        return
    path, numbers, comparable = _difference(got, expected, atol, rtol)
    why = which_mistake(got, mistakes, expected, atol, rtol)
    if why is not None:
        where = f" (at {path})" if path else ""
        fail(f"{name} is off: {why.rstrip('. ')}. {numbers[0].upper()}{numbers[1:]}{where}")
    tail = f". {hint}" if hint else ""
    tolerance = f" (tolerance {atol:g} + {rtol:g}·|expected|)" if comparable else ""
    fail(f"{name}{path} differs from {against}: {numbers}{tolerance}{tail}")


"""Exact integer counts (parameters, FLOPs, bytes) compared with a reference, mistakes named.

    expect_count("mlp_params([784, 100, 10])", got, 79_510, {
        "biases left out": 79_400,
        "only the first layer": lambda: 784 * 100 + 100,
    })

fails, for 79,400, with "mlp_params([784, 100, 10]) is 79,400; expected 79,510 (110 too few):
biases left out". Integers are printed in full with thousands separators, never as 7.94e+04.
"""

from __future__ import annotations

import numbers
from typing import Any

import torch
from torch import nn

from tutor.checking.errors import fail
from tutor.checking.mistakes import Mistakes, mistake_items


def as_count(value: Any, name: str) -> int:
    """`value` as a Python int: an int, an integral float, or a one-element integral tensor."""
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        value = value.item()
    if isinstance(value, numbers.Real) and not isinstance(value, numbers.Integral) and float(value).is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        fail(f"{name} returned {value!r} ({type(value).__name__}); expected an int")
    return int(value)


def parameter_count(module: nn.Module) -> int:
    """sum(p.numel()) over the module's parameters (works on the meta device)."""
    return sum(p.numel() for p in module.parameters())


def expect_count(name: str, got: Any, expected: int, mistakes: Mistakes | None = None, against: str = "") -> None:
    """`got` (an int) must equal `expected`; otherwise name the first mistake whose value it equals."""
    got = as_count(got, name)
    if got == expected:
        return
    diff = got - expected
    how = f"{diff:,} too many" if diff > 0 else f"{-diff:,} too few"
    source = f" ({against})" if against else ""
    for why, candidate in mistake_items(mistakes):
        try:
            value = candidate() if callable(candidate) else candidate
        except Exception:  # a candidate that cannot be computed here does not match
            continue
        if value is not None and value != expected and value == got:
            fail(f"{name} is {got:,}; expected {expected:,}{source}, {how}: {why}")
    fail(f"{name} is {got:,}; expected {expected:,}{source}, {how}")

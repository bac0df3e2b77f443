"""Trace a model's layers with forward hooks (the checks' own, independent of the learner's).

    shapes = leaf_shapes(model, x)           # [("c1", (2, 6, 28, 28)), ("s2", (2, 6, 14, 14)), ...]
    calls, error = trace_calls(model, x, (nn.Conv2d, nn.Linear))
    calls[0].name, calls[0].input_shape, calls[0].output_shape

Hooks are always removed, also when the forward pass raises; `trace_calls` returns the
exception instead of raising it, so a check can say which layer got the wrong shape before
the crash ("mat1 and mat2 shapes cannot be multiplied").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn


def is_leaf(module: nn.Module) -> bool:
    """A module without submodules (Conv2d, ReLU, ...; not Sequential or the model itself)."""
    return next(module.children(), None) is None


def leaf_shapes(model: nn.Module, x: Any) -> list[tuple[str, tuple[int, ...]]]:
    """(qualified name, output shape) of every leaf module call, in call order, under no_grad."""
    shapes: list[tuple[str, tuple[int, ...]]] = []
    handles = [module.register_forward_hook(
        lambda m, i, out, name=name: shapes.append((name, tuple(out.shape))))
        for name, module in model.named_modules() if is_leaf(module)]
    try:
        with torch.no_grad():
            model(x)
    finally:
        for handle in handles:
            handle.remove()
    return shapes


@dataclass
class Call:
    """One call of a traced module: its name, the module, its first input's and its output's shape."""

    name: str
    module: nn.Module
    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...] | None = None  # None when the call raised


def trace_calls(model: nn.Module, x: Any, types: tuple[type, ...]) -> tuple[list[Call], Exception | None]:
    """Every call of a module of `types` in order, and the exception the forward pass raised (or None)."""
    calls: list[Call] = []
    handles = []
    for name, module in model.named_modules():
        if isinstance(module, types):
            handles.append(module.register_forward_pre_hook(
                lambda m, inputs, name=name: calls.append(Call(name, m, tuple(inputs[0].shape)))))
            handles.append(module.register_forward_hook(
                lambda m, inputs, out: setattr(calls[-1], "output_shape", tuple(out.shape))))
    error: Exception | None = None
    try:
        with torch.no_grad():
            model(x)
    except Exception as exc:  # the learner's forward crashed: the calls so far explain why
        error = exc
    finally:
        for handle in handles:
            handle.remove()
    return calls, error


def hook_count(model: nn.Module) -> int:
    """Forward (pre-)hooks registered on `model` and its submodules (to see hooks left behind)."""
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.modules())

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


def as_pairs(result: Any, what: str, example: str = "('conv1', (2, 6, 28, 28))") -> list[tuple[str, tuple[int, ...]]]:
    """A learner's layer_shapes() result as [(name, shape)], or a named failure."""
    from tutor.checking import expect, fail

    expect(isinstance(result, (list, tuple)), f"{what} returned a {type(result).__name__}; expected a list of "
           "(name, shape) pairs")
    pairs = []
    for i, item in enumerate(result):
        ok = isinstance(item, (tuple, list)) and len(item) == 2 and isinstance(item[0], str)
        expect(ok, f"{what}: entry {i} is {item!r:.60}; expected a (name, shape) pair like {example}")
        try:
            pairs.append((item[0], tuple(int(s) for s in item[1])))
        except TypeError:
            fail(f"{what}: the shape of entry {i} ({item[0]!r}) is {item[1]!r:.60}; expected tuple(output.shape)")
    return pairs


def expect_layer_shapes(layer_shapes: Any, model: nn.Module, x: Any, example: str) -> None:
    """The learner's `layer_shapes(model, x)` (forward hooks) equals the leaf modules' output shapes, in call
    order, with its hooks removed; otherwise the classic mistake is named (children only, containers too,
    the late-bound loop name, no batch dim, wrong order) with the two lists."""
    from tutor.checking import expect, fail

    want = leaf_shapes(model, x)
    before = hook_count(model)
    got = as_pairs(layer_shapes(model, x), "layer_shapes(model, x)", example)
    left = hook_count(model) - before
    expect(left == 0, f"layer_shapes() left {left} hook(s) registered on the model: every later forward pass "
           "would still run them. Keep the handles that register_forward_hook returns and call "
           "handle.remove() on each (in a finally: block, so they go even if forward raises)")
    if got == want:
        return
    children: list[tuple[str, tuple[int, ...]]] = []
    every: list[tuple[str, tuple[int, ...]]] = []
    handles = [m.register_forward_hook(lambda m, i, o, n=n: children.append((n, tuple(o.shape))))
               for n, m in model.named_children()]
    handles += [m.register_forward_hook(lambda m, i, o, n=n: every.append((n, tuple(o.shape))))
                for n, m in model.named_modules()]
    try:
        with torch.no_grad():
            model(x)
    finally:
        for h in handles:
            h.remove()
    shown = f"yours {got[:4]}{' ...' if len(got) > 4 else ''}; expected {want[:4]} ... ({len(want)} entries)"
    if got == children or (len(got) == len(model) and [n for n, _ in got] == [n for n, _ in model.named_children()]):
        fail(f"layer_shapes() hooked only the direct children (named_children): a Sequential inside the model "
             f"counts as one entry. Hook every leaf module (one without submodules) of model.named_modules(). {shown}")
    if got == every or (len(got) > len(want) and set(want) <= set(got)):
        fail(f"layer_shapes() also lists the containers (the Sequentials and the model itself, name ''); keep "
             f"only the leaf modules, those without submodules. {shown}")
    if len(got) == len(want) > 1 and len({n for n, _ in got}) == 1 and [s for _, s in got] == [s for _, s in want]:
        fail(f"every entry of layer_shapes() has the name {got[0][0]!r}, the last module of the loop: a lambda "
             "defined in a loop reads `name` when it runs, after the loop has ended. Bind it when the hook is "
             f"made: lambda m, inputs, output, name=name: ... {shown}")
    if got == [(n, s[1:]) for n, s in want]:
        fail(f"layer_shapes() leaves out the batch dimension; return tuple(output.shape) as it is. {shown}")
    if sorted(got) == sorted(want):
        fail(f"layer_shapes() lists the right entries in the wrong order: record them in a forward hook, "
             f"which runs in the order the modules are called. {shown}")
    fail(f"layer_shapes(model, x) of a model with a nested Sequential: {shown}")


def nested_model(in_channels: int, size: int) -> nn.Module:
    """A fixed model with a Sequential inside (conv, ReLU, 2×2 pool, flatten, linear): what a learner's
    layer_shapes() must walk through leaf by leaf."""
    from collections import OrderedDict

    torch.manual_seed(1)
    return nn.Sequential(OrderedDict(
        features=nn.Sequential(nn.Conv2d(in_channels, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)),
        flatten=nn.Flatten(),
        head=nn.Linear(4 * (size // 2) ** 2, 10),
    ))

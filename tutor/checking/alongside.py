"""A learner's module stepped beside its `nn` twin (BatchNorm1d beside nn.BatchNorm1d).

    step_alongside(lambda: bn.BatchNorm1d(4).double(), lambda: nn.BatchNorm1d(4).double(),
                   inputs=lambda step: torch.randn(8, 4, generator=gen, dtype=torch.float64),
                   modes=("train", "train", "eval"), name="BatchNorm1d")

copies the learner's parameters and floating-point buffers into the twin, then at every step runs
both in that mode on the same input and compares: the output, each floating-point buffer of the
twin (running_mean, running_var), then, after a backward pass with the same random output
gradient, the gradient of each input and of each parameter. A failure names the step, the mode,
the tensor and the numbers. `mistakes(step)` may return a table per tensor label ("output",
"running_var", "input.grad", "weight.grad"), each as in `expect_match`; it is called only on a
mismatch, with a `Step` (the inputs and the learner's state before the step).
The optimizer twin is in `tutor.checking.optimizer_alongside`.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

import torch
from torch import nn

from tutor.checking.errors import fail
from tutor.checking.mistakes import expect_match, is_close

TRAIN_THEN_EVAL = ("train", "train", "train", "eval", "eval")


@dataclass
class Step:
    """What a mistake table may use: the step (0-based), its mode, inputs, the state before it."""

    index: int
    mode: str
    inputs: tuple[torch.Tensor, ...]
    before: dict[str, torch.Tensor]  # the learner's parameters and buffers, by the twin's names
    grad_output: tuple[torch.Tensor, ...] = ()


def _make(maker: Any) -> Any:
    return maker if isinstance(maker, (nn.Module, torch.optim.Optimizer)) else maker()


def _tuple(value: Any) -> tuple:
    return value if isinstance(value, tuple) else (value,)


def _state(module: nn.Module) -> dict[str, torch.Tensor]:
    return {**dict(module.named_parameters()), **dict(module.named_buffers())}


def _compared(reference: nn.Module) -> list[tuple[str, torch.Tensor]]:
    """The twin's parameters and floating-point buffers (num_batches_tracked and the like are skipped)."""
    buffers = [(k, b) for k, b in reference.named_buffers() if b.is_floating_point()]
    return list(reference.named_parameters()) + buffers


def copy_state(src: nn.Module, dst: nn.Module, names: Mapping[str, str] | None = None,
               label: str = "your module") -> None:
    """Copy `src`'s parameters and buffers into `dst`'s of the same name (`names`: dst name -> src name)."""
    names, have = names or {}, _state(src)
    with torch.no_grad():
        for key, t in _compared(dst):
            mine = have.get(names.get(key, key))
            if mine is None:
                fail(f"{label} has no parameter or buffer '{names.get(key, key)}'; PyTorch's has one of shape "
                     f"{tuple(t.shape)} (an nn.Parameter, or a buffer made with self.register_buffer)")
            if tuple(mine.shape) != tuple(t.shape):
                fail(f"{label}.{names.get(key, key)} has shape {tuple(mine.shape)}; PyTorch's has {tuple(t.shape)}")
            t.copy_(mine)


def _leaf(x: Any) -> Any:
    if isinstance(x, torch.Tensor) and x.is_floating_point():
        return x.detach().clone().requires_grad_(True)
    return x


def step_alongside(make_learner: Any, make_reference: Any, inputs: Any, *, modes: Sequence[str] = TRAIN_THEN_EVAL,
                   copy: bool | Callable[[nn.Module, nn.Module], None] = True, names: Mapping[str, str] | None = None,
                   name: str | None = None, mistakes: Callable[[Step], Mapping[str, Any]] | None = None,
                   atol: float | None = None, rtol: float | None = None, backward: bool = True,
                   seed: int = 0, forbid: Any = None) -> tuple[nn.Module, nn.Module]:
    """Step the learner's module and its twin side by side; fail at the first tensor that differs.

    make_*: a module or a function returning one. inputs: a tensor (every step), a list (one
    tensor or tuple per step) or a function of the step index. names: twin name -> learner name.
    The output gradient of each step is random (seeded by `seed`), the same for both. forbid: a
    `forbid(...)` ban that the learner's forward and backward run under (the twin's do not).
    Returns (learner, reference) after the last step.
    """
    pair = _Pair(_make(make_learner), _make(make_reference), name, dict(names or {}), mistakes, atol, rtol)
    pair.ban = forbid.for_caller(pair.name) if forbid is not None else contextlib.nullcontext()
    if copy is True:
        copy_state(pair.mine, pair.ref, pair.names, label=f"your {pair.name}")
    elif callable(copy):
        copy(pair.mine, pair.ref)
    gen = torch.Generator().manual_seed(seed)
    for i, mode in enumerate(modes):
        if mode not in ("train", "eval"):
            raise ValueError(f"modes holds {mode!r}; use 'train' or 'eval'")
        xs = inputs if isinstance(inputs, torch.Tensor) else inputs(i) if callable(inputs) else inputs[i]
        pair.step(Step(i, mode, tuple(_tuple(xs)), {}), f"{pair.name} at step {i + 1} of {len(modes)} ({mode} mode)",
                  gen if backward else None)
    return pair.mine, pair.ref


class _Pair:
    """The learner's module and its twin, compared tensor by tensor within one step."""

    def __init__(self, mine, ref, name, names, mistakes, atol, rtol):
        self.mine, self.ref, self.names, self.mistakes, self.atol, self.rtol = mine, ref, names, mistakes, atol, rtol
        self.name = name or type(mine).__name__
        cls = type(ref)
        self.against = f"nn.{cls.__name__}" if getattr(nn, cls.__name__, None) is cls else "the reference"

    def _learner(self, key: str) -> str:
        return self.names.get(key, key)

    def step(self, step: Step, where: str, gen: torch.Generator | None) -> None:
        self.mine.train(step.mode == "train")
        self.ref.train(step.mode == "train")
        state = _state(self.mine)
        step.before = {k: state[self._learner(k)].detach().clone() for k, _ in _compared(self.ref)
                       if self._learner(k) in state}
        self.where, self.current, self.tables = where, step, None
        xm, xr = tuple(_leaf(x) for x in step.inputs), tuple(_leaf(x) for x in step.inputs)
        step.inputs = tuple(x.detach().clone() if isinstance(x, torch.Tensor) else x for x in step.inputs)
        with self.ban:
            out_m = self.mine(*xm)
        out_r = self.ref(*xr)
        self.compare("output", "the output", _detached(out_m), _detached(out_r))
        state = _state(self.mine)
        for key, buf in self.ref.named_buffers():
            if buf.is_floating_point():
                if state.get(self._learner(key)) is None:
                    fail(f"your {self.name} has no buffer '{self._learner(key)}': register it with "
                         "self.register_buffer")
                self.compare(key, f"buffer {self._learner(key)}", state[self._learner(key)].detach(), buf.detach())
        if gen is not None:
            self.backward(step, out_m, out_r, xm, xr, gen)
        for module in (self.mine, self.ref):
            module.zero_grad(set_to_none=True)

    def backward(self, step: Step, out_m, out_r, xm, xr, gen) -> None:
        outs_r = [o for o in _tuple(out_r) if isinstance(o, torch.Tensor) and o.requires_grad]
        outs_m = [o for o in _tuple(out_m) if isinstance(o, torch.Tensor)][: len(outs_r)]
        if not outs_r:
            return
        if len(outs_m) < len(outs_r) or not all(o.requires_grad for o in outs_m):
            fail(f"{self.where}: the output does not require grad, so backward() cannot reach the input or the "
                 "parameters (a .detach(), .item(), torch.no_grad() or a new torch.tensor(...) inside forward?)")
        step.grad_output = tuple(torch.randn(o.shape, generator=gen, dtype=torch.float64).to(o.device, o.dtype)
                                 for o in outs_r)
        with self.ban:
            torch.autograd.backward(outs_m, step.grad_output)
        torch.autograd.backward(outs_r, step.grad_output)
        for j, (a, b) in enumerate(zip(xm, xr)):
            if isinstance(b, torch.Tensor) and b.grad is not None:
                label, what = ("input.grad", "the input") if len(xm) == 1 else (f"input[{j}].grad", f"input {j}")
                if a.grad is None:
                    fail(f"{self.where}: the gradient of {what} is None after backward(): the output is not "
                         "connected to the input (a .detach() or torch.no_grad()?)")
                self.compare(label, f"the gradient of {what}", a.grad, b.grad)
        learner_params = dict(self.mine.named_parameters())
        for key, p in self.ref.named_parameters():
            q = learner_params.get(self._learner(key))
            if p.grad is None or q is None:
                continue
            if q.grad is None:
                fail(f"{self.where}: {self._learner(key)}.grad is None after backward(): the output does not "
                     "depend on this parameter in the graph")
            self.compare(f"{key}.grad", f"the gradient of {self._learner(key)}", q.grad, p.grad)

    def compare(self, label: str, what: str, got: Any, expected: Any) -> None:
        if is_close(got, expected, self.atol, self.rtol):
            return
        if self.tables is None:
            self.tables = (self.mistakes(self.current) if self.mistakes else None) or {}
        expect_match(f"{self.where}: {what}", got, expected, mistakes=self.tables.get(label),
                     atol=self.atol, rtol=self.rtol, against=self.against)


def _detached(value: Any) -> Any:
    if isinstance(value, tuple):
        return tuple(_detached(v) for v in value)
    return value.detach() if isinstance(value, torch.Tensor) else value

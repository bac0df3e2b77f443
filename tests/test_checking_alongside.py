"""step_alongside and optimizer_alongside: a right implementation passes; a wrong one fails naming
the step, the mode, the tensor, the matching mistake and the numbers."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import torch.nn.functional as F

from tutor.checking import CheckFailed, forbid, optimizer_alongside, step_alongside

F64 = torch.float64


class BatchNorm(nn.Module):
    """A from-scratch BatchNorm1d; `mistake` switches in one classic error."""

    def __init__(self, C: int, momentum: float = 0.1, eps: float = 1e-5, mistake: str = ""):
        super().__init__()
        self.momentum, self.eps, self.mistake = momentum, eps, mistake
        self.weight = nn.Parameter(torch.linspace(0.5, 2.0, C))
        self.bias = nn.Parameter(torch.linspace(-1.0, 1.0, C))
        self.register_buffer("running_mean", torch.zeros(C))
        self.register_buffer("running_var", torch.ones(C))

    def forward(self, x):
        if self.training:
            mean = x.mean(0)
            var = x.var(0, correction=1 if self.mistake == "unbiased" else 0)
            if self.mistake == "detached":
                mean, var = mean.detach(), var.detach()
            with torch.no_grad():
                m = self.momentum
                run_var = x.var(0, correction=0 if self.mistake == "biased_running" else 1)
                self.running_mean.mul_(1 - m).add_(m * mean)
                self.running_var.mul_(1 - m).add_(m * run_var)
        else:
            mean, var = self.running_mean, self.running_var
        return self.weight * (x - mean) / torch.sqrt(var + self.eps) + self.bias


def inputs(step: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(step)
    return torch.randn(16, 3, generator=gen, dtype=F64) * 2 + 1


def run(mistake: str = "", **kwargs):
    return step_alongside(lambda: BatchNorm(3, mistake=mistake).double(), lambda: nn.BatchNorm1d(3).double(),
                          inputs, name="BatchNorm1d", **kwargs)


def failure(fn, *args, **kwargs) -> str:
    with pytest.raises(CheckFailed) as info:
        fn(*args, **kwargs)
    return str(info.value)


def mistakes(step):
    x, before = step.inputs[0], step.before
    w, b = before["weight"], before["bias"]
    return {
        "output": {"it normalises with the unbiased variance":
                   lambda: w * (x - x.mean(0)) / torch.sqrt(x.var(0, correction=1) + 1e-5) + b},
        "running_var": {"running_var uses the biased variance":
                        lambda: 0.9 * before["running_var"] + 0.1 * x.var(0, correction=0)},
    }


def test_a_right_module_passes_and_both_are_returned():
    mine, ref = run()
    assert torch.allclose(mine.running_var, ref.running_var)
    assert not mine.training  # the last mode was eval


def test_a_wrong_output_names_step_mode_tensor_mistake_and_numbers():
    msg = failure(run, "unbiased", mistakes=mistakes)
    assert msg.startswith("BatchNorm1d at step 1 of 5 (train mode): the output is off: it normalises with the "
                          "unbiased variance.")
    assert "max abs difference" in msg.lower() and "at index" in msg


def test_a_wrong_buffer_is_named_by_its_name():
    msg = failure(run, "biased_running", mistakes=mistakes)
    assert "at step 1 of 5 (train mode): buffer running_var is off: running_var uses the biased variance" in msg
    assert "yours" in msg.lower() and "expected" in msg


def test_a_wrong_input_gradient_without_a_table_gives_the_numbers():
    msg = failure(run, "detached")
    assert "at step 1 of 5 (train mode): the gradient of the input differs from nn.BatchNorm1d: max abs " in msg


def test_renamed_parameters_and_a_missing_one():
    class Wrapped(nn.Module):  # the learner's tensors live under other names: inner.weight ...
        def __init__(self):
            super().__init__()
            self.inner = BatchNorm(3)

        def forward(self, x):
            return self.inner(x)

    names = {k: f"inner.{k}" for k in ("weight", "bias", "running_mean", "running_var")}
    step_alongside(lambda: Wrapped().double(), nn.BatchNorm1d(3).double(), inputs, names=names,
                   modes=("train", "eval"))
    msg = failure(step_alongside, lambda: Wrapped().double(), nn.BatchNorm1d(3).double(), inputs)
    assert "has no parameter or buffer 'weight'" in msg and "shape (3,)" in msg


def test_an_output_cut_from_the_graph_is_named():
    class Detached(BatchNorm):
        def forward(self, x):
            return super().forward(x).detach()

    msg = failure(step_alongside, Detached(3).double(), nn.BatchNorm1d(3).double(), inputs)
    assert "step 1 of 5 (train mode): the output does not require grad" in msg


def test_a_ban_applies_to_the_learner_only():
    class Cheat(BatchNorm):
        def forward(self, x):
            return F.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias, self.training)

    ban = forbid(F.batch_norm, nn.BatchNorm1d, reason="write it yourself")
    run(forbid=ban)  # the twin nn.BatchNorm1d calls F.batch_norm: not the learner's doing
    msg = failure(step_alongside, Cheat(3).double(), nn.BatchNorm1d(3).double(), inputs, forbid=ban)
    assert msg.startswith("your Cheat calls F.batch_norm (test_checking_alongside.py:")


# --- optimizers ---------------------------------------------------------------------------


class Momentum(torch.optim.Optimizer):
    def __init__(self, params, lr, momentum, flipped=False):
        super().__init__(params, {"lr": lr, "momentum": momentum})
        self.flipped = flipped

    @torch.no_grad()
    def step(self):
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                buf = state.get("buf")
                if buf is None:
                    buf = state["buf"] = p.grad.clone()
                elif self.flipped:
                    buf.mul_(1 - group["momentum"]).add_(p.grad * group["momentum"])
                else:
                    buf.mul_(group["momentum"]).add_(p.grad)
                p.add_(buf, alpha=-group["lr"])


def opt_run(flipped=False, **kwargs):
    gen = torch.Generator().manual_seed(0)
    params = {"w": torch.randn(3, 2, generator=gen, dtype=F64), "b": torch.zeros(2, dtype=F64)}
    grads = [{"w": torch.randn(3, 2, generator=gen, dtype=F64), "b": None if t < 2 else torch.ones(2, dtype=F64)}
             for t in range(6)]
    return optimizer_alongside(lambda p: Momentum(p.values(), lr=0.1, momentum=0.9, flipped=flipped),
                               lambda p: torch.optim.SGD(p.values(), lr=0.1, momentum=0.9),
                               params, grads, name="SGDMomentum", **kwargs), params, grads


def test_a_right_optimizer_passes_and_returns_its_trajectory():
    history, params, _ = opt_run()
    assert len(history) == 6 and torch.equal(history[1]["b"], params["b"])  # no gradient yet: unchanged


def test_a_wrong_optimizer_names_the_first_step_parameter_and_mistake():
    def flipped_trajectory(t):
        history, _, _ = opt_run(flipped=True, atol=1e9)  # the mistake's own trajectory (never fails)
        return history[t]

    _, params, grads = opt_run()
    msg = failure(opt_run, True, mistakes={"the momentum convention is flipped": flipped_trajectory})
    assert msg.startswith("SGDMomentum: parameter 'w' after step 2 of 6 (step 1 matched torch.optim.SGD) is off: "
                          "the momentum convention is flipped.")
    assert "max abs difference" in msg.lower()
    msg = failure(opt_run, True, hint="Compare with the docstring.")
    assert "differs from torch.optim.SGD: max abs" in msg and msg.endswith("Compare with the docstring.")


def test_an_optimizer_ban_applies_to_the_learner_only():
    class Cheat(torch.optim.SGD):
        def __init__(self, params, lr, momentum, flipped=False):
            super().__init__(params, lr=lr, momentum=momentum)

    ban = forbid(torch.optim.SGD, reason="write the update yourself")
    opt_run(forbid=ban)
    params = {"w": torch.ones(2, dtype=F64)}
    msg = failure(optimizer_alongside, lambda p: Cheat(p.values(), lr=0.1, momentum=0.9),
                  lambda p: torch.optim.SGD(p.values(), lr=0.1, momentum=0.9), params,
                  [{"w": torch.ones(2, dtype=F64)}], forbid=ban)
    assert msg == ("your Cheat.step() calls Cheat.step (Cheat is a subclass of torch.optim.SGD): "
                   "write the update yourself")

"""Momentum, RMSprop, Adam and AdamW as torch.optim.Optimizer subclasses (reference solution)."""

from typing import Callable, Iterable

import torch
from torch.optim import Optimizer


class SGDMomentum(Optimizer):
    """SGD with (heavy-ball) momentum, exactly like torch.optim.SGD(lr, momentum) with dampening 0."""

    def __init__(self, params, lr: float = 0.01, momentum: float = 0.9):
        super().__init__(params, dict(lr=lr, momentum=momentum))

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if "velocity" not in state:
                    state["velocity"] = torch.zeros_like(p)
                v = state["velocity"]
                v.mul_(group["momentum"]).add_(p.grad)          # v = μ·v + g
                p.add_(v, alpha=-group["lr"])                   # p = p − lr·v
        return loss


class RMSprop(Optimizer):
    """RMSprop like torch.optim.RMSprop(lr, alpha, eps): eps outside the square root, no bias correction."""

    def __init__(self, params, lr: float = 0.01, alpha: float = 0.99, eps: float = 1e-8):
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps))

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            alpha = group["alpha"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if "square_avg" not in state:
                    state["square_avg"] = torch.zeros_like(p)
                s = state["square_avg"]
                s.mul_(alpha).addcmul_(p.grad, p.grad, value=1 - alpha)    # s = α·s + (1−α)·g²
                p.addcdiv_(p.grad, s.sqrt().add_(group["eps"]), value=-group["lr"])
        return loss


def adam_update(p: torch.Tensor, state: dict, group: dict, decoupled: bool) -> None:
    """One Adam step for one parameter; weight decay coupled (L2, Adam) or decoupled (AdamW)."""
    beta1, beta2 = group["betas"]
    lr, eps, wd = group["lr"], group["eps"], group["weight_decay"]
    if not state:
        state["step"] = 0
        state["exp_avg"] = torch.zeros_like(p)
        state["exp_avg_sq"] = torch.zeros_like(p)
    state["step"] += 1
    t = state["step"]
    g = p.grad
    if wd != 0:
        if decoupled:
            p.mul_(1 - lr * wd)                 # AdamW: shrink the weights, outside the adaptive step
        else:
            g = g.add(p, alpha=wd)              # Adam: L2 term added to the gradient
    m, v = state["exp_avg"], state["exp_avg_sq"]
    m.mul_(beta1).add_(g, alpha=1 - beta1)
    v.mul_(beta2).addcmul_(g, g, value=1 - beta2)
    m_hat = m / (1 - beta1**t)
    v_hat = v / (1 - beta2**t)
    p.addcdiv_(m_hat, v_hat.sqrt().add_(eps), value=-lr)


class Adam(Optimizer):
    """Adam with bias correction, like torch.optim.Adam; weight_decay is L2 added to the gradient."""

    decoupled = False

    def __init__(self, params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay))

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    adam_update(p, self.state[p], group, self.decoupled)
        return loss


class AdamW(Adam):
    """AdamW, like torch.optim.AdamW: weight decay decoupled from the gradient."""

    decoupled = True

    def __init__(self, params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 1e-2):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)


def fit(loss_fn: Callable[[], torch.Tensor], optimizer: Optimizer, steps: int) -> list[float]:
    """Run `steps` optimisation steps on loss_fn(); return the loss before each step, as floats."""
    losses = []
    for _ in range(steps):
        optimizer.zero_grad()
        loss = loss_fn()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses

"""Momentum, RMSprop, Adam and AdamW from scratch.

Each optimizer is a subclass of torch.optim.Optimizer, like PyTorch's own. The base class
gives you self.param_groups (a list of dicts: "params" plus the hyperparameters, so that
groups can have their own lr), self.state (a dict per parameter, for the moments and the
step count) and zero_grad(). You write step(). The check runs each one for 50 steps next
to its torch.optim twin on the same gradients, in float64, and names the first step and
parameter that differ.

In every step():
    for group in self.param_groups:
        for p in group["params"]:
            if p.grad is None:      # a parameter without a gradient is skipped
                continue
            state = self.state[p]   # {} the first time: create the buffers there
            ...                     # read lr etc. from group, never hard-code them
Update p in place (p.add_, p.mul_, p.addcdiv_); @torch.no_grad() is already on step().

Run `dltutor check adaptive-optimizers`. Subclass torch.optim.Optimizer only: do not subclass,
wrap or call torch.optim.SGD, RMSprop, Adam or AdamW (the check fails a class that does).
"""

from typing import Callable

import torch
from torch.optim import Optimizer


class SGDMomentum(Optimizer):
    """SGD with momentum, like torch.optim.SGD(params, lr, momentum) (dampening 0, not Nesterov).

    Per parameter, with g = p.grad and a velocity v that starts at zero:
        v = momentum · v + g
        p = p − lr · v
    (momentum=0 gives plain SGD.)
    """

    def __init__(self, params, lr: float = 0.01, momentum: float = 0.9):
        super().__init__(params, dict(lr=lr, momentum=momentum))

    @torch.no_grad()
    def step(self, closure=None):
        # TODO: the loop from the module docstring; keep v in self.state[p]
        raise NotImplementedError


class RMSprop(Optimizer):
    """RMSprop, like torch.optim.RMSprop(params, lr, alpha, eps) (no momentum, not centered).

    Per parameter, with s (the running average of g²) starting at zero:
        s = alpha · s + (1 − alpha) · g²
        p = p − lr · g / (√s + eps)          eps OUTSIDE the square root, as PyTorch does
    No bias correction.
    """

    def __init__(self, params, lr: float = 0.01, alpha: float = 0.99, eps: float = 1e-8):
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps))

    @torch.no_grad()
    def step(self, closure=None):
        # TODO
        raise NotImplementedError


class Adam(Optimizer):
    """Adam, like torch.optim.Adam(params, lr, betas, eps, weight_decay).

    Per parameter, with t its own step count (1 at its first update) and m, v starting at zero:
        g = g + weight_decay · p            (only if weight_decay != 0: L2, "coupled")
        m = β1 · m + (1 − β1) · g
        v = β2 · v + (1 − β2) · g²
        m̂ = m / (1 − β1ᵗ)                   bias correction
        v̂ = v / (1 − β2ᵗ)
        p = p − lr · m̂ / (√v̂ + eps)         eps OUTSIDE the square root
    betas = group["betas"] is a tuple (β1, β2).
    """

    def __init__(self, params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay))

    @torch.no_grad()
    def step(self, closure=None):
        # TODO: keep "step", "exp_avg" (m) and "exp_avg_sq" (v) in self.state[p]
        raise NotImplementedError


class AdamW(Optimizer):
    """AdamW, like torch.optim.AdamW(params, lr, betas, eps, weight_decay): decoupled weight decay.

    Per parameter: FIRST decay the weights,
        p = p · (1 − lr · weight_decay)
    then the Adam step above on the raw gradient (no weight_decay·p added to g).
    (You may reuse Adam's code: a helper function, or subclass Adam with a switch.)
    """

    def __init__(self, params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 1e-2):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay))

    @torch.no_grad()
    def step(self, closure=None):
        # TODO
        raise NotImplementedError


def fit(loss_fn: Callable[[], torch.Tensor], optimizer: Optimizer, steps: int) -> list[float]:
    """Minimise loss_fn() with `optimizer` for `steps` steps.

    loss_fn() takes no arguments and returns a scalar tensor computed from the parameters the
    optimizer holds. Each step: zero the gradients, compute the loss, backward, step.
    Return the list of the `steps` losses as Python floats (loss.item()), each one the loss
    computed at the start of its step (before that step's update).
    """
    # TODO: the three-step pattern in a loop
    raise NotImplementedError

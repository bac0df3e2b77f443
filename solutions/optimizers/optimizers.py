"""Gradient descent by hand (reference solution)."""

import math
from typing import Iterable, Iterator

import torch
import torch.nn.functional as F


class SGD:
    """Stochastic gradient descent with momentum, dampening, weight decay and Nesterov,
    with exactly the update rule of torch.optim.SGD."""

    def __init__(self, params: Iterable[torch.Tensor], lr: float, momentum: float = 0.0,
                 dampening: float = 0.0, weight_decay: float = 0.0, nesterov: bool = False):
        self.params = list(params)
        self.lr = lr
        self.momentum = momentum
        self.dampening = dampening
        self.weight_decay = weight_decay
        self.nesterov = nesterov
        self.momentum_buffers: list[torch.Tensor | None] = [None] * len(self.params)

    def zero_grad(self) -> None:
        """Forget the gradients of the last backward(): set every p.grad to None."""
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def step(self) -> None:
        """One update of every parameter that has a gradient."""
        for i, p in enumerate(self.params):
            if p.grad is None:
                continue
            d_p = p.grad
            if self.weight_decay != 0:
                d_p = d_p + self.weight_decay * p
            if self.momentum != 0:
                buf = self.momentum_buffers[i]
                if buf is None:
                    buf = d_p.clone()
                else:
                    buf = self.momentum * buf + (1 - self.dampening) * d_p
                self.momentum_buffers[i] = buf
                d_p = d_p + self.momentum * buf if self.nesterov else buf
            p.sub_(self.lr * d_p)


def minibatches(n: int, batch_size: int, generator: torch.Generator | None = None) -> Iterator[torch.Tensor]:
    """Shuffled index batches covering 0..n-1 exactly once; the last one may be smaller."""
    order = torch.randperm(n, generator=generator)
    for start in range(0, n, batch_size):
        yield order[start:start + batch_size]


def train_step(model, loss_fn, optimizer, xb: torch.Tensor, yb: torch.Tensor) -> float:
    """zero_grad, forward, loss, backward, step; return the loss before the update."""
    optimizer.zero_grad()
    loss = loss_fn(model(xb), yb)
    loss.backward()
    optimizer.step()
    return loss.item()


def first_divergence(losses: list[float], factor: float = 10.0) -> int | None:
    """Index of the first loss that is nan/inf or above factor * losses[0]; None if none."""
    for i, value in enumerate(losses):
        if not math.isfinite(value):
            return i
        if i > 0 and value > factor * losses[0]:
            return i
    return None


def fit(model, X: torch.Tensor, y: torch.Tensor, lr: float, epochs: int, batch_size: int,
        generator: torch.Generator | None = None) -> dict:
    """Mini-batch gradient descent on the MSE of a regression model; stops at divergence."""
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    target = y.reshape(-1, 1)                     # (n, 1), like model(X)

    def dataset_loss() -> float:
        with torch.no_grad():
            return F.mse_loss(model(X), target).item()

    losses: list[float] = []
    epoch_losses = [dataset_loss()]
    for _ in range(epochs):
        for idx in minibatches(len(X), batch_size, generator):
            losses.append(train_step(model, F.mse_loss, optimizer, X[idx], target[idx]))
        epoch_losses.append(dataset_loss())
        at = first_divergence(epoch_losses)
        if at is not None:
            return {"losses": losses, "epoch_losses": epoch_losses, "diverged_at": at}
    return {"losses": losses, "epoch_losses": epoch_losses, "diverged_at": None}

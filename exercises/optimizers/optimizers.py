"""Gradient descent by hand.

Five pieces, checked in this order by `dltutor check 7`:

1. SGD.step() and SGD.zero_grad(): the update rule of torch.optim.SGD, momentum,
   dampening, weight decay and Nesterov included. The check runs yours next to
   torch.optim.SGD for 20 steps on identical gradients.
2. minibatches(): shuffled index batches that visit every sample once per epoch.
3. train_step(): zero_grad, forward, loss, backward, step.
4. first_divergence(): when did a loss history blow up?
5. fit(): a training loop on linear regression that stops when it diverges.
"""

import math
from typing import Iterable, Iterator

import torch
import torch.nn.functional as F


class SGD:
    """Stochastic gradient descent with exactly the update rule of torch.optim.SGD.

    For every parameter p that has a gradient g = p.grad:

        d_p = g + weight_decay * p                       (weight decay first)
        if momentum != 0:
            first step:   buf = d_p  (a copy, no dampening)
            later steps:  buf = momentum * buf + (1 - dampening) * d_p
            d_p = d_p + momentum * buf   if nesterov   else   buf
        p = p - lr * d_p                                 (in place!)

    Each parameter has its own momentum buffer, kept between steps in
    self.momentum_buffers[i] (None until its first step).
    """

    def __init__(self, params: Iterable[torch.Tensor], lr: float, momentum: float = 0.0,
                 dampening: float = 0.0, weight_decay: float = 0.0, nesterov: bool = False):
        self.params = list(params)          # model.parameters() is a generator: keep a list
        self.lr = lr
        self.momentum = momentum
        self.dampening = dampening
        self.weight_decay = weight_decay
        self.nesterov = nesterov
        self.momentum_buffers: list[torch.Tensor | None] = [None] * len(self.params)

    def zero_grad(self) -> None:
        """Forget the gradients of the last backward(): set every p.grad to None.

        (torch.optim does the same by default; without it, backward() ADDS the new
        gradient to the old one.)
        """
        # TODO
        raise NotImplementedError

    @torch.no_grad()
    def step(self) -> None:
        """Update every parameter in place, following the rule in the class docstring.

        - Skip a parameter whose .grad is None (frozen or unused).
        - Update in place: p.sub_(...), p.add_(..., alpha=-lr) or p -= ... ;
          `p = p - ...` would only rebind a local name. @torch.no_grad() above lets
          you modify parameters that require grad.
        - Do not change p.grad itself.
        """
        # TODO: for i, p in enumerate(self.params): ...
        raise NotImplementedError


def minibatches(n: int, batch_size: int, generator: torch.Generator | None = None) -> Iterator[torch.Tensor]:
    """Yield (or return a list of) 1-D int64 tensors of sample indices for ONE epoch.

    - Every index 0..n-1 appears exactly once per epoch, in a shuffled order drawn
      with torch.randperm(n, generator=generator) (a new order on every call).
    - Batches have batch_size indices each, except the last, which holds what is
      left (n=103, batch_size=16 gives six batches of 16 and one of 7).
    - batch_size=n (or more) is batch gradient descent: one batch of everything;
      batch_size=1 is stochastic gradient descent: n batches of one.
    """
    # TODO: a permutation, then slices of it
    raise NotImplementedError


def train_step(model, loss_fn, optimizer, xb: torch.Tensor, yb: torch.Tensor) -> float:
    """One step of training on the batch (xb, yb); return the loss as a Python float.

    The four lines every PyTorch training loop has: clear the old gradients,
    compute the loss of model(xb) against yb with loss_fn, backpropagate, update.
    Return the loss computed before the update, with .item().
    """
    # TODO: optimizer.zero_grad(); loss = loss_fn(model(xb), yb); loss.backward(); optimizer.step()
    raise NotImplementedError


def first_divergence(losses: list[float], factor: float = 10.0) -> int | None:
    """The index of the first loss that shows divergence, or None.

    A loss has diverged when it is nan or inf, or when it is greater than
    factor * losses[0] (the first loss). Indices start at 0. An empty list, or
    a list where nothing diverged, gives None. Careful: nan > x is always False.
    """
    # TODO: a loop with math.isfinite and the factor test
    raise NotImplementedError


def fit(model, X: torch.Tensor, y: torch.Tensor, lr: float, epochs: int, batch_size: int,
        generator: torch.Generator | None = None) -> dict:
    """Train a regression model with mini-batch gradient descent on the MSE.

    model: maps (B, features) to (B, 1), e.g. nn.Linear(3, 1); X: (n, features);
    y: (n,) float. Note the shapes: compare model output (B, 1) with targets of
    shape (B, 1) (y.reshape(-1, 1)); (B, 1) against (B,) broadcasts to (B, B).

    - optimizer: torch.optim.SGD(model.parameters(), lr=lr) (your SGD works too)
    - loss: F.mse_loss
    - each epoch: for idx in minibatches(n, batch_size, generator): train_step on
      X[idx] and its targets
    - epoch_losses: the MSE on the whole training set, measured before training
      and again after every epoch (with torch.no_grad())
    - after each epoch, diverged_at = first_divergence(epoch_losses); if it is not
      None, stop training and return at once.

    Return {"losses": [loss of every train_step, as floats],
            "epoch_losses": [training-set loss before training, after epoch 1, ...],
            "diverged_at": None, or the index in epoch_losses where it diverged}.
    """
    # TODO
    raise NotImplementedError

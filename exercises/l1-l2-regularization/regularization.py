"""L1 and L2 regularization, by hand and with SGD's weight_decay.

Conventions for the whole file (the check holds you to them):

- "the weights" are the parameters whose name (from model.named_parameters())
  ends in "weight", such as "0.weight" or "fc2.weight". Biases are NOT penalised.
- L1 penalty = Σ|w|, L2 penalty = Σw² (no factor 1/2), summed over all weights
  of all layers. The coefficients l1 and l2 multiply them in the loss:
      total = MSE(model(X), y) + l1·Σ|w| + l2·Σw²

Run `dltutor check l1-l2-regularization` after each function; the check names what is still off.
"""

import torch
import torch.nn.functional as F
from torch import nn


def l1_penalty(model: nn.Module) -> torch.Tensor:
    """Σ|w| over the model's weights: every parameter whose name ends in "weight".

    Biases are not penalised. Return a 0-dim tensor that is still connected to
    the graph (do not call .item()), so that backward() reaches the weights.
    """
    # TODO: pick the weights with model.named_parameters(), sum their absolute values
    raise NotImplementedError


def l2_penalty(model: nn.Module) -> torch.Tensor:
    """Σw² over the model's weights (no factor 1/2); biases are not penalised.

    Return a 0-dim tensor connected to the graph.
    """
    # TODO: the same weights as l1_penalty, squared and summed
    raise NotImplementedError


def penalized_sgd_step(
    model: nn.Module, X: torch.Tensor, y: torch.Tensor, lr: float, l1: float = 0.0, l2: float = 0.0
) -> float:
    """One plain gradient-descent step on  MSE(model(X), y) + l1·Σ|w| + l2·Σw².

    Clear the old gradients, backpropagate the total loss, then update every
    parameter in place: p ← p − lr·∂total/∂p (no optimizer). Return the data
    loss (the MSE alone, computed before the update) as a Python float.
    """
    # TODO: zero the gradients, build the total loss, backward, update under torch.no_grad()
    raise NotImplementedError


def make_sgd(model: nn.Module, lr: float, l2: float) -> torch.optim.SGD:
    """A torch.optim.SGD whose step on the data loss alone equals penalized_sgd_step(..., l2=l2).

    Use two parameter groups: the weights (names ending in "weight") with the
    weight_decay that matches the penalty l2·Σw², and the biases with
    weight_decay 0. No momentum.
    """
    # TODO: torch.optim.SGD([{"params": ..., "weight_decay": ...}, {...}], lr=lr)
    raise NotImplementedError


def fit_linear(
    X: torch.Tensor, y: torch.Tensor, l1: float = 0.0, l2: float = 0.0, steps: int = 400, lr: float = 0.05
) -> tuple[nn.Linear, list[float]]:
    """Fit y ≈ X @ w + b with penalized_sgd_step on the full batch.

    X: (n, features) float32; y: (n, 1) float32, both on the same device.
    Build nn.Linear(features, 1) on X's device with weight and bias set to zero,
    call penalized_sgd_step `steps` times, and return (model, data losses per step).
    """
    # TODO: nn.Linear(...).to(X.device), nn.init.zeros_, then a loop
    raise NotImplementedError

"""L1 and L2 regularization, by hand and with SGD's weight_decay (reference solution)."""

import torch
import torch.nn.functional as F
from torch import nn


def l1_penalty(model: nn.Module) -> torch.Tensor:
    """Σ|w| over the model's weights: every parameter whose name ends in "weight".

    Biases are not penalised. Return a 0-dim tensor that is still connected to
    the graph (do not call .item()), so that backward() reaches the weights.
    """
    weights = [p for name, p in model.named_parameters() if name.endswith("weight")]
    return sum(w.abs().sum() for w in weights)


def l2_penalty(model: nn.Module) -> torch.Tensor:
    """Σw² over the model's weights (no factor 1/2); biases are not penalised.

    Return a 0-dim tensor connected to the graph.
    """
    weights = [p for name, p in model.named_parameters() if name.endswith("weight")]
    return sum(w.pow(2).sum() for w in weights)


def penalized_sgd_step(
    model: nn.Module, X: torch.Tensor, y: torch.Tensor, lr: float, l1: float = 0.0, l2: float = 0.0
) -> float:
    """One plain gradient-descent step on  MSE(model(X), y) + l1·Σ|w| + l2·Σw².

    Clear the old gradients, backpropagate the total loss, then update every
    parameter in place: p ← p − lr·∂total/∂p (no optimizer). Return the data
    loss (the MSE alone, computed before the update) as a Python float.
    """
    model.zero_grad()
    data_loss = F.mse_loss(model(X), y)
    total = data_loss + l1 * l1_penalty(model) + l2 * l2_penalty(model)
    total.backward()
    with torch.no_grad():
        for p in model.parameters():
            p -= lr * p.grad
    return data_loss.item()


def make_sgd(model: nn.Module, lr: float, l2: float) -> torch.optim.SGD:
    """A torch.optim.SGD whose step on the data loss alone equals penalized_sgd_step(..., l2=l2).

    Use two parameter groups: the weights (names ending in "weight") with the
    weight_decay that matches the penalty l2·Σw², and the biases with
    weight_decay 0. No momentum.
    """
    weights = [p for name, p in model.named_parameters() if name.endswith("weight")]
    others = [p for name, p in model.named_parameters() if not name.endswith("weight")]
    return torch.optim.SGD(
        [{"params": weights, "weight_decay": 2 * l2}, {"params": others, "weight_decay": 0.0}],
        lr=lr,
    )


def fit_linear(
    X: torch.Tensor, y: torch.Tensor, l1: float = 0.0, l2: float = 0.0, steps: int = 400, lr: float = 0.05
) -> tuple[nn.Linear, list[float]]:
    """Fit y ≈ X @ w + b with penalized_sgd_step on the full batch.

    X: (n, features) float32; y: (n, 1) float32, both on the same device.
    Build nn.Linear(features, 1) on X's device with weight and bias set to zero,
    call penalized_sgd_step `steps` times, and return (model, data losses per step).
    """
    model = nn.Linear(X.shape[1], 1).to(X.device)
    nn.init.zeros_(model.weight)
    nn.init.zeros_(model.bias)
    losses = [penalized_sgd_step(model, X, y, lr, l1=l1, l2=l2) for _ in range(steps)]
    return model, losses

"""Loss functions written from tensor operations (reference solution)."""

import torch

REDUCTIONS = ("mean", "sum", "none")


def reduce_loss(losses: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    """Reduce a tensor of per-element losses: 'mean', 'sum' or 'none'.

    'mean' averages over every element, 'sum' adds every element (both give a
    0-dim tensor), 'none' returns `losses` unchanged. Any other string raises
    ValueError.
    """
    if reduction == "mean":
        return losses.mean()
    if reduction == "sum":
        return losses.sum()
    if reduction == "none":
        return losses
    raise ValueError(f"reduction must be one of {REDUCTIONS}, not {reduction!r}")


def mse_loss(pred: torch.Tensor, target: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    """Mean squared error, like F.mse_loss: the element-wise (pred - target)² reduced."""
    return reduce_loss((pred - target) ** 2, reduction)


def binary_cross_entropy(probs: torch.Tensor, target: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    """Binary cross-entropy on probabilities, like F.binary_cross_entropy.

    Each log is clamped at -100, so a probability of exactly 0 or 1 gives a
    finite loss (at most 100 per element).
    """
    log_p = torch.clamp(torch.log(probs), min=-100.0)
    log_not_p = torch.clamp(torch.log(1 - probs), min=-100.0)
    losses = -(target * log_p + (1 - target) * log_not_p)
    return reduce_loss(losses, reduction)


def binary_cross_entropy_with_logits(
    logits: torch.Tensor, target: torch.Tensor, reduction: str = "mean"
) -> torch.Tensor:
    """Binary cross-entropy on logits, like F.binary_cross_entropy_with_logits.

    Stable form: (1 - y)·x + log(1 + exp(-x)), where log(1 + exp(-x)) is the
    log-sum-exp of the two numbers 0 and -x, computed with their max m
    subtracted: m + log(exp(-m) + exp(-x - m)). exp only ever sees numbers <= 0,
    and autograd's gradient is sigmoid(x) - y everywhere, x = 0 included.
    """
    m = torch.clamp(-logits, min=0)
    losses = (1 - target) * logits + m + torch.log(torch.exp(-m) + torch.exp(-logits - m))
    return reduce_loss(losses, reduction)


def cross_entropy(logits: torch.Tensor, target: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    """Categorical cross-entropy from logits and class indices, like F.cross_entropy.

    logits: (N, C) float; target: (N,) int64 class indices in [0, C).
    loss_i = logsumexp(logits[i]) - logits[i, target[i]], with the row max
    subtracted before exp.
    """
    row_max = logits.max(dim=1, keepdim=True).values
    lse = row_max.squeeze(1) + torch.log(torch.exp(logits - row_max).sum(dim=1))
    picked = logits.gather(1, target.unsqueeze(1)).squeeze(1)
    return reduce_loss(lse - picked, reduction)

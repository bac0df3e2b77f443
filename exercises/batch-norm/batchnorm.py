"""Batch normalization from scratch.

You write the arithmetic once, in batch_norm(), and then two modules that own the
learnable γ/β and the running estimates and call it. The check compares everything with
PyTorch's F.batch_norm, nn.BatchNorm1d and nn.BatchNorm2d, step by step, in float64.
Finally deep_mlp() builds a 10-layer network so you can watch what BN does for training.

Run `dltutor check batch-norm`. Use torch operations only: no F.batch_norm, no nn.BatchNorm*
(neither calling nor subclassing them; the check fails code that does).
"""

import torch
from torch import nn


def batch_norm(
    x: torch.Tensor,
    running_mean: torch.Tensor,
    running_var: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor,
    training: bool,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> torch.Tensor:
    """Batch-normalise x of shape (N, C, *) per channel C and return y of the same shape.

    The arguments are in the same order as torch.nn.functional.batch_norm:
    running_mean, running_var, weight (γ) and bias (β) all have shape (C,).

    Training mode (training=True):
      - μ and σ² are the mean and the BIASED variance (divide by n) of each channel,
        taken over every dim except dim 1: dim 0 for (N, C), dims (0, 2) for (N, C, L),
        dims (0, 2, 3) for (N, C, H, W). n = number of values per channel.
      - If n == 1, raise ValueError (one value has no spread, and n - 1 = 0).
      - Update the running estimates IN PLACE, under torch.no_grad():
            running_mean = (1 - momentum) * running_mean + momentum * μ
            running_var  = (1 - momentum) * running_var  + momentum * σ²·n/(n-1)   (unbiased)
    Eval mode (training=False):
      - use μ = running_mean, σ² = running_var; do not change them.

    Both modes:  y = weight · (x - μ) / sqrt(σ² + eps) + bias, broadcast per channel.
    Gradients must flow from y to x, weight and bias (through μ and σ² as well).
    """
    # TODO: the dims to reduce over and the shape that broadcasts a (C,) vector against x
    # TODO: training: batch statistics, the n == 1 error, the in-place running update
    # TODO: eval: the running statistics
    # TODO: normalise, then scale by weight and shift by bias
    raise NotImplementedError


class BatchNorm1d(nn.Module):
    """Batch normalization for (N, C) or (N, C, L) input, like nn.BatchNorm1d.

    Attributes the check reads:
      weight        nn.Parameter of shape (C,), starts at 1   (γ)
      bias          nn.Parameter of shape (C,), starts at 0   (β)
      running_mean  buffer of shape (C,), starts at 0         (register_buffer)
      running_var   buffer of shape (C,), starts at 1         (register_buffer)
      eps, momentum the constructor arguments, as given
    forward(x) uses self.training (set by .train() / .eval()) to pick the mode.
    """

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float = 0.1):
        super().__init__()
        # TODO: store eps and momentum; create weight and bias as nn.Parameter;
        #       register running_mean and running_var as buffers
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # TODO: accept only 2-D or 3-D input (raise ValueError otherwise), then call batch_norm
        raise NotImplementedError


class BatchNorm2d(nn.Module):
    """Batch normalization for (N, C, H, W) input, like nn.BatchNorm2d.

    The same attributes as BatchNorm1d: one γ, β, running mean and running variance per
    channel, the statistics pooled over N, H and W. (Subclassing BatchNorm1d is fine.)
    """

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float = 0.1):
        super().__init__()
        # TODO: the same state as BatchNorm1d
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # TODO: accept only 4-D input (raise ValueError otherwise), then call batch_norm
        raise NotImplementedError


def deep_mlp(in_features: int, width: int, depth: int, classes: int, batchnorm: bool) -> nn.Sequential:
    """A deep MLP: `depth` hidden blocks, then an output layer.

    Each hidden block is nn.Linear(size, width), then (only if batchnorm) YOUR
    BatchNorm1d(width), then nn.ReLU(). The first block takes in_features, the others
    width. The last layer is nn.Linear(width, classes) with no BN and no activation.
    Keep PyTorch's default initialisation: the check relies on it. (A Linear followed
    by BN does not need its own bias: bias=False is fine there.)
    Return an nn.Sequential; model(x) maps (N, in_features) to logits (N, classes).
    """
    # TODO: build the list of layers in a loop and wrap it in nn.Sequential
    raise NotImplementedError

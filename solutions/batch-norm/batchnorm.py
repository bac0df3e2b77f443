"""Batch normalization from scratch (reference solution)."""

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
    """Batch-normalise x of shape (N, C, *) per channel C; see the starter for the full contract."""
    dims = [0] + list(range(2, x.dim()))        # every dim except the channel dim 1
    shape = [1, -1] + [1] * (x.dim() - 2)       # how a (C,) vector broadcasts against x
    if training:
        n = x.numel() // x.shape[1]             # values per channel: N (times L, or H*W)
        if n <= 1:
            raise ValueError(
                f"Expected more than 1 value per channel when training, got input of shape {tuple(x.shape)}"
            )
        mean = x.mean(dim=dims)
        var = x.var(dim=dims, correction=0)     # biased: divide by n, used to normalise
        with torch.no_grad():                   # the running estimates are not part of the graph
            running_mean.mul_(1 - momentum).add_(momentum * mean)
            running_var.mul_(1 - momentum).add_(momentum * var * n / (n - 1))   # unbiased
    else:
        mean, var = running_mean, running_var
    x_hat = (x - mean.reshape(shape)) / torch.sqrt(var.reshape(shape) + eps)
    return weight.reshape(shape) * x_hat + bias.reshape(shape)


class BatchNorm1d(nn.Module):
    """Batch normalization over (N, C) or (N, C, L) input, like nn.BatchNorm1d."""

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float = 0.1):
        super().__init__()
        self.num_features = num_features
        self.eps = eps
        self.momentum = momentum
        self.weight = nn.Parameter(torch.ones(num_features))     # gamma
        self.bias = nn.Parameter(torch.zeros(num_features))      # beta
        self.register_buffer("running_mean", torch.zeros(num_features))
        self.register_buffer("running_var", torch.ones(num_features))

    def check_input(self, x: torch.Tensor) -> None:
        if x.dim() not in (2, 3):
            raise ValueError(f"BatchNorm1d expects (N, C) or (N, C, L) input, got shape {tuple(x.shape)}")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        return batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
                          self.training, self.momentum, self.eps)


class BatchNorm2d(BatchNorm1d):
    """Batch normalization over (N, C, H, W) input, like nn.BatchNorm2d: statistics per channel."""

    def check_input(self, x: torch.Tensor) -> None:
        if x.dim() != 4:
            raise ValueError(f"BatchNorm2d expects (N, C, H, W) input, got shape {tuple(x.shape)}")


def deep_mlp(in_features: int, width: int, depth: int, classes: int, batchnorm: bool) -> nn.Sequential:
    """`depth` hidden blocks Linear -> (BatchNorm1d) -> ReLU, then a Linear to `classes`."""
    layers: list[nn.Module] = []
    size = in_features
    for _ in range(depth):
        layers.append(nn.Linear(size, width, bias=not batchnorm))   # BN's beta replaces the bias
        if batchnorm:
            layers.append(BatchNorm1d(width))
        layers.append(nn.ReLU())
        size = width
    layers.append(nn.Linear(size, classes))
    return nn.Sequential(*layers)

"""Inverted dropout from scratch, element-wise and channel-wise (reference solution)."""

import torch
from torch import nn


class Dropout(nn.Module):
    """Inverted dropout: in training, zero each element with probability p and
    scale the survivors by 1/(1−p); in eval mode, return the input unchanged.

    p is the probability to DROP (as in torch.nn.Dropout), 0 ≤ p ≤ 1.
    """

    def __init__(self, p: float = 0.5):
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"dropout probability must be in [0, 1], got {p}")
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: any shape, any float dtype, any device. Returns a tensor like x.

        Training (self.training is True): a fresh random mask on every call, keep
        each element with probability 1−p, multiply the kept ones by 1/(1−p).
        p = 1 returns zeros (no division by zero); p = 0 returns x.
        Eval: return x itself.
        """
        if not self.training or self.p == 0.0:
            return x
        if self.p == 1.0:
            return x * 0.0
        keep = torch.rand_like(x) >= self.p
        return x * keep / (1.0 - self.p)


class Dropout2d(nn.Module):
    """Channel-wise (spatial) inverted dropout for inputs of shape (N, C, H, W):
    each whole channel x[n, c] is either zeroed (probability p) or kept and
    scaled by 1/(1−p). Eval mode returns the input unchanged.
    """

    def __init__(self, p: float = 0.5):
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"dropout probability must be in [0, 1], got {p}")
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (N, C, H, W). One random number per (sample, channel), broadcast over H and W."""
        if not self.training or self.p == 0.0:
            return x
        if self.p == 1.0:
            return x * 0.0
        n, c = x.shape[:2]
        keep = torch.rand(n, c, 1, 1, device=x.device) >= self.p
        return x * keep / (1.0 - self.p)


class DropoutMLP(nn.Module):
    """in_features → Linear → ReLU → Dropout(p) → Linear → out_features.

    Attributes (the check uses these names): fc1 = nn.Linear(in_features, hidden),
    drop = your Dropout(p), fc2 = nn.Linear(hidden, out_features).
    model.train() / model.eval() must switch the dropout on and off.
    """

    def __init__(self, in_features: int, hidden: int, out_features: int, p: float = 0.5):
        super().__init__()
        self.fc1 = nn.Linear(in_features, hidden)
        self.drop = Dropout(p)
        self.fc2 = nn.Linear(hidden, out_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.drop(torch.relu(self.fc1(x))))

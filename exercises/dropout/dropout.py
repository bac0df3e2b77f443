"""Inverted dropout from scratch, element-wise and channel-wise.

Write the forward passes of Dropout and Dropout2d, then a small MLP that uses
your Dropout. p is always the probability to DROP a unit (as in torch.nn.Dropout),
so a unit is kept with probability 1 − p.

Build the masks yourself: F.dropout and nn.Dropout* are not allowed inside Dropout and
Dropout2d (the check fails them). Run `dltutor check dropout` after each part; the check
says what is still off.
"""

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
        # TODO: self.training, torch.rand_like(x), a boolean mask, the 1/(1-p) scale
        raise NotImplementedError


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
        # TODO: like Dropout, but the mask has shape (N, C, 1, 1) and lives on x.device
        raise NotImplementedError


class DropoutMLP(nn.Module):
    """in_features → Linear → ReLU → Dropout(p) → Linear → out_features.

    Attributes (the check uses these names): fc1 = nn.Linear(in_features, hidden),
    drop = your Dropout(p), fc2 = nn.Linear(hidden, out_features).
    model.train() / model.eval() must switch the dropout on and off.
    """

    def __init__(self, in_features: int, hidden: int, out_features: int, p: float = 0.5):
        super().__init__()
        # TODO: self.fc1, self.drop, self.fc2
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # TODO: fc1, ReLU, drop, fc2
        raise NotImplementedError

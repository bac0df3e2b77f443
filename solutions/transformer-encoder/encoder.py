"""A Transformer encoder: LayerNorm, the position-wise feed-forward network, the layer, the stack.

The attention sublayer is nn.MultiheadAttention(batch_first=True): you wrote it by hand in the
multi-head attention lesson. Everything around it is yours.
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn


class LayerNorm(nn.Module):
    """Normalise each position's d_model features to mean 0 and variance 1, then scale and shift."""

    def __init__(self, d_model: int, eps: float = 1e-5):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(d_model))
        self.bias = nn.Parameter(torch.zeros(d_model))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mean = x.mean(dim=-1, keepdim=True)
        var = x.var(dim=-1, keepdim=True, correction=0)
        return self.weight * (x - mean) / torch.sqrt(var + self.eps) + self.bias


class FeedForward(nn.Module):
    """linear2(dropout(activation(linear1(x)))): d_model -> d_ff -> d_model at every position."""

    def __init__(self, d_model: int, d_ff: int, dropout: float = 0.1, activation: str = "relu"):
        super().__init__()
        if activation not in ("relu", "gelu"):
            raise ValueError(f"activation must be 'relu' or 'gelu', got {activation!r}")
        self.linear1 = nn.Linear(d_model, d_ff)
        self.linear2 = nn.Linear(d_ff, d_model)
        self.dropout = nn.Dropout(dropout)
        self.activation = F.relu if activation == "relu" else F.gelu

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear2(self.dropout(self.activation(self.linear1(x))))


class EncoderLayer(nn.Module):
    """Self-attention and a feed-forward network, each wrapped in a residual and a LayerNorm.

    post-norm (norm_first=False): x = norm1(x + sa(x));  x = norm2(x + ff(x))
    pre-norm  (norm_first=True):  x = x + sa(norm1(x));  x = x + ff(norm2(x))
    """

    def __init__(self, d_model: int, nhead: int, d_ff: int = 2048, dropout: float = 0.1,
                 activation: str = "relu", norm_first: bool = False, eps: float = 1e-5):
        super().__init__()
        self.norm_first = norm_first
        self.self_attn = nn.MultiheadAttention(d_model, nhead, dropout=dropout, batch_first=True)
        self.ff = FeedForward(d_model, d_ff, dropout, activation)
        self.norm1 = LayerNorm(d_model, eps)
        self.norm2 = LayerNorm(d_model, eps)
        self.dropout1 = nn.Dropout(dropout)
        self.dropout2 = nn.Dropout(dropout)

    def _sa(self, x, src_key_padding_mask, src_mask):
        out = self.self_attn(x, x, x, key_padding_mask=src_key_padding_mask, attn_mask=src_mask,
                             need_weights=False)[0]
        return self.dropout1(out)

    def _ff(self, x):
        return self.dropout2(self.ff(x))

    def forward(self, x: torch.Tensor, src_key_padding_mask: torch.Tensor | None = None,
                src_mask: torch.Tensor | None = None) -> torch.Tensor:
        if self.norm_first:
            x = x + self._sa(self.norm1(x), src_key_padding_mask, src_mask)
            x = x + self._ff(self.norm2(x))
        else:
            x = self.norm1(x + self._sa(x, src_key_padding_mask, src_mask))
            x = self.norm2(x + self._ff(x))
        return x


class Encoder(nn.Module):
    """num_layers independent copies of `layer`, applied in order, then an optional final norm."""

    def __init__(self, layer: nn.Module, num_layers: int, norm: nn.Module | None = None):
        super().__init__()
        self.layers = nn.ModuleList([copy.deepcopy(layer) for _ in range(num_layers)])
        self.norm = norm

    def forward(self, x: torch.Tensor, src_key_padding_mask: torch.Tensor | None = None,
                src_mask: torch.Tensor | None = None) -> torch.Tensor:
        for layer in self.layers:
            x = layer(x, src_key_padding_mask=src_key_padding_mask, src_mask=src_mask)
        if self.norm is not None:
            x = self.norm(x)
        return x

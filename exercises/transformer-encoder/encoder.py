"""A Transformer encoder: LayerNorm, the position-wise feed-forward network, the layer, the stack.

The attention sublayer is nn.MultiheadAttention(d_model, nhead, dropout=dropout, batch_first=True):
you wrote it by hand in the multi-head attention lesson, so today you may use PyTorch's. Everything
around it is yours: the LayerNorm, the FFN, the residuals, where the norms go, the dropouts, the stack.
Do not use nn.TransformerEncoderLayer or nn.TransformerEncoder (the check compares with them), nor
F.layer_norm / nn.LayerNorm inside your LayerNorm.

Keep the attribute names below: the check copies nn.TransformerEncoderLayer's weights into your
layer by name (self_attn as it is; linear1, linear2 into ff; norm1, norm2).
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn


class LayerNorm(nn.Module):
    """Normalise each position's d_model features to mean 0 and variance 1, then scale and shift.

    x (..., d_model) -> weight · (x − mean) / sqrt(var + eps) + bias, with the mean and the BIASED
    variance over the last axis only. weight starts at ones, bias at zeros (nn.Parameter, shape (d_model,)).
    """

    def __init__(self, d_model: int, eps: float = 1e-5):
        super().__init__()
        # TODO: store eps; self.weight and self.bias as nn.Parameter
        raise NotImplementedError("LayerNorm.__init__")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # TODO: mean and variance over dim=-1 (keepdim=True), then normalise, scale, shift
        raise NotImplementedError("LayerNorm.forward")


class FeedForward(nn.Module):
    """The position-wise FFN: linear2(dropout(activation(linear1(x)))), d_model -> d_ff -> d_model.

    activation is "relu" or "gelu" (the exact GELU, F.gelu). Attributes: linear1, linear2, dropout.
    """

    def __init__(self, d_model: int, d_ff: int, dropout: float = 0.1, activation: str = "relu"):
        super().__init__()
        # TODO: self.linear1 = nn.Linear(d_model, d_ff), self.linear2 = nn.Linear(d_ff, d_model),
        #       self.dropout = nn.Dropout(dropout), and the activation function
        raise NotImplementedError("FeedForward.__init__")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # TODO
        raise NotImplementedError("FeedForward.forward")


class EncoderLayer(nn.Module):
    """Self-attention and a feed-forward network, each with a residual connection and a LayerNorm.

    post-norm (norm_first=False, the 2017 paper): x = norm1(x + sa(x));  x = norm2(x + ff(x))
    pre-norm  (norm_first=True):                  x = x + sa(norm1(x));  x = x + ff(norm2(x))
    sa(h) = dropout1(self_attn(h, h, h, ...)[0]) and ff(h) = dropout2(self.ff(h)).

    Attributes: self_attn = nn.MultiheadAttention(d_model, nhead, dropout=dropout, batch_first=True),
    ff = FeedForward(d_model, d_ff, dropout, activation), norm1, norm2 = LayerNorm(d_model, eps),
    dropout1, dropout2 = nn.Dropout(dropout).
    """

    def __init__(self, d_model: int, nhead: int, d_ff: int = 2048, dropout: float = 0.1,
                 activation: str = "relu", norm_first: bool = False, eps: float = 1e-5):
        super().__init__()
        # TODO
        raise NotImplementedError("EncoderLayer.__init__")

    def forward(self, x: torch.Tensor, src_key_padding_mask: torch.Tensor | None = None,
                src_mask: torch.Tensor | None = None) -> torch.Tensor:
        """x (B, T, d_model) -> (B, T, d_model).

        src_key_padding_mask (B, T) bool: True at PADDING (as nn.MultiheadAttention's key_padding_mask).
        src_mask (T, T): bool with True = blocked, or float added to the scores (attn_mask).
        (nn.TransformerEncoderLayer takes them in the other order, (src, src_mask, src_key_padding_mask);
        pass masks by keyword and the order never matters.)
        """
        # TODO
        raise NotImplementedError("EncoderLayer.forward")


class Encoder(nn.Module):
    """num_layers independent copies of `layer`, applied in order, then `norm` if it is given.

    self.layers: an nn.ModuleList of copy.deepcopy(layer) (each layer its own weights); self.norm: the
    final norm or None (pre-norm stacks need one: their last residual add is never normalised).
    """

    def __init__(self, layer: nn.Module, num_layers: int, norm: nn.Module | None = None):
        super().__init__()
        # TODO
        raise NotImplementedError("Encoder.__init__")

    def forward(self, x: torch.Tensor, src_key_padding_mask: torch.Tensor | None = None,
                src_mask: torch.Tensor | None = None) -> torch.Tensor:
        # TODO: every layer gets both masks
        raise NotImplementedError("Encoder.forward")

"""Multi-head attention: h attentions of size d_k = d_model / h side by side, then one projection.

Everything is batch-first. query is (B, T_q, d_model); key and value are (B, T_k, d_model) (the same
tensor as query for self-attention, another sequence for cross-attention). Head i owns the
contiguous block of features i·d_k : (i+1)·d_k of each projection.

MultiHeadAttention mirrors nn.MultiheadAttention(d_model, num_heads, batch_first=True) (no dropout):
- key_padding_mask: None or bool (B, T_k), True where a key is PADDING (never attended to);
- attn_mask: None, bool (T_q, T_k) with True = BLOCKED (nn.MultiheadAttention's convention, the
  opposite of F.scaled_dot_product_attention's), or float (T_q, T_k), ADDED to the scaled scores;
- forward returns (out (B, T_q, d_model), weights): weights is (B, T_q, T_k) averaged over the
  heads, (B, h, T_q, T_k) per head with average_attn_weights=False, None with need_weights=False.

The check copies nn.MultiheadAttention's weights into yours and compares in float64. Do not use
nn.MultiheadAttention, F.multi_head_attention_forward or F.scaled_dot_product_attention here.

Run `dltutor check multi-head-attention`.
"""

import math

import torch
from torch import nn


def split_heads(x, num_heads):
    """(B, T, d_model) -> (B, num_heads, T, d_k) with d_k = d_model // num_heads; head i takes the
    features i·d_k : (i+1)·d_k."""
    B, T, d_model = x.shape
    return x.view(B, T, num_heads, d_model // num_heads).transpose(1, 2)


def merge_heads(x):
    """(B, num_heads, T, d_k) -> (B, T, num_heads·d_k): the heads concatenated in order, the
    inverse of split_heads."""
    B, h, T, d_k = x.shape
    return x.transpose(1, 2).reshape(B, T, h * d_k)


def mha_params(d_model, num_heads, bias=True):
    """The number of parameters of nn.MultiheadAttention(d_model, num_heads, bias=bias), an int."""
    weights = 4 * d_model * d_model  # W_q, W_k, W_v, W_o: each d_model x d_model, whatever num_heads is
    return weights + (4 * d_model if bias else 0)


class MultiHeadAttention(nn.Module):
    """Multi-head attention with w_q, w_k, w_v, w_o = nn.Linear(d_model, d_model, bias=bias).

    Raises ValueError when d_model is not divisible by num_heads.
    """

    def __init__(self, d_model, num_heads, bias=True):
        super().__init__()
        if d_model % num_heads != 0:
            raise ValueError(f"d_model = {d_model} is not divisible by num_heads = {num_heads}")
        self.d_model, self.num_heads, self.d_k = d_model, num_heads, d_model // num_heads
        self.w_q = nn.Linear(d_model, d_model, bias=bias)
        self.w_k = nn.Linear(d_model, d_model, bias=bias)
        self.w_v = nn.Linear(d_model, d_model, bias=bias)
        self.w_o = nn.Linear(d_model, d_model, bias=bias)

    def forward(self, query, key, value, key_padding_mask=None, attn_mask=None, need_weights=True,
                average_attn_weights=True):
        """(out (B, T_q, d_model), weights (B, T_q, T_k), (B, h, T_q, T_k) or None); see the module."""
        q = split_heads(self.w_q(query), self.num_heads)  # (B, h, T_q, d_k)
        k = split_heads(self.w_k(key), self.num_heads)    # (B, h, T_k, d_k)
        v = split_heads(self.w_v(value), self.num_heads)  # (B, h, T_k, d_k)
        scores = q @ k.transpose(-2, -1) / math.sqrt(self.d_k)  # (B, h, T_q, T_k)
        if attn_mask is not None and attn_mask.dtype == torch.bool:
            scores = scores.masked_fill(attn_mask, float("-inf"))
        elif attn_mask is not None:
            scores = scores + attn_mask
        if key_padding_mask is not None:
            scores = scores.masked_fill(key_padding_mask[:, None, None, :], float("-inf"))
        weights = torch.softmax(scores, dim=-1)
        out = self.w_o(merge_heads(weights @ v))
        if not need_weights:
            return out, None
        return out, weights.mean(dim=1) if average_attn_weights else weights

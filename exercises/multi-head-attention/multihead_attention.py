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
    # TODO: view the features as (num_heads, d_k), then move the head axis in front of the positions
    raise NotImplementedError("split_heads")


def merge_heads(x):
    """(B, num_heads, T, d_k) -> (B, T, num_heads·d_k): the heads concatenated in order, the
    inverse of split_heads."""
    # TODO: move the head axis back behind the positions, then flatten (num_heads, d_k)
    raise NotImplementedError("merge_heads")


def mha_params(d_model, num_heads, bias=True):
    """The number of parameters of nn.MultiheadAttention(d_model, num_heads, bias=bias), an int."""
    # TODO: count the weights and biases of the four projections (compute it, do not build a module)
    raise NotImplementedError("mha_params")


class MultiHeadAttention(nn.Module):
    """Multi-head attention with w_q, w_k, w_v, w_o = nn.Linear(d_model, d_model, bias=bias).

    Raises ValueError when d_model is not divisible by num_heads.
    """

    def __init__(self, d_model, num_heads, bias=True):
        super().__init__()
        # TODO: raise ValueError unless num_heads divides d_model; keep num_heads and d_k;
        # the four projections, named exactly w_q, w_k, w_v and w_o
        raise NotImplementedError("MultiHeadAttention.__init__")

    def forward(self, query, key, value, key_padding_mask=None, attn_mask=None, need_weights=True,
                average_attn_weights=True):
        """(out (B, T_q, d_model), weights (B, T_q, T_k), (B, h, T_q, T_k) or None); see the module."""
        # TODO: project query, key and value and split each into heads; scores (B, h, T_q, T_k) scaled by
        # √d_k; apply attn_mask (bool: True = blocked; float: added) and key_padding_mask (True = padding)
        # with −inf; softmax over the keys; merge the heads and apply w_o; return the weights asked for
        raise NotImplementedError("MultiHeadAttention.forward")

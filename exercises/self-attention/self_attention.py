"""Self-attention as a module: learned projections of one sequence into queries, keys and values.

x is batch-first, (B, T, d_model). SelfAttention(d_model, d_k) projects it with w_q, w_k, w_v
(nn.Linear(d_model, d_k) each), attends with softmax(q kᵀ / √d_k) over the keys, and maps the
result back with w_o (nn.Linear(d_k, d_model)). forward returns (out (B, T, d_model), weights
(B, T, T)); row i of weights is how much position i takes from each position j.

Two masks, with PyTorch's two conventions:
- causal_mask(T) is SDPA's kind: bool, True where query i MAY attend to key j (j <= i).
- key_padding_mask is nn.MultiheadAttention's kind: bool (B, T), True where a position is PADDING.
  Padded positions are never attended to. Sequences are right-padded with at least one real token.

The check compares with F.scaled_dot_product_attention and nn.MultiheadAttention(d_model, 1) in
float64. Do not call either inside forward(): the check forbids them.

Run `dltutor check self-attention`.
"""

import math

import torch
from torch import nn


def causal_mask(T, device=None):
    """The (T, T) bool mask of causal attention: True where query i may attend to key j, j <= i."""
    # TODO: ones on and below the diagonal, as a bool tensor on `device`
    raise NotImplementedError("causal_mask")


class SelfAttention(nn.Module):
    """Single-head self-attention with learned projections (the attention inside a Transformer).

    w_q, w_k, w_v = nn.Linear(d_model, d_k, bias=bias); w_o = nn.Linear(d_k, d_model, bias=bias).
    """

    def __init__(self, d_model, d_k, bias=True):
        super().__init__()
        # TODO: the four projections, named exactly w_q, w_k, w_v and w_o
        raise NotImplementedError("SelfAttention.__init__")

    def forward(self, x, causal=False, key_padding_mask=None):
        """x (B, T, d_model) -> (out (B, T, d_model), weights (B, T, T)).

        causal=True: position i attends to positions 0..i only. key_padding_mask: None or bool
        (B, T), True at padding; no position attends to a padded one.
        """
        # TODO: q, k, v from x; scores (B, T, T) scaled by √d_k; block with −inf where not allowed;
        # softmax over the keys; out = w_o(weights @ v)
        raise NotImplementedError("SelfAttention.forward")


def from_multihead(mha):
    """A SelfAttention with the weights of mha, an nn.MultiheadAttention(d_model, 1) (one head).

    mha packs the three input projections in in_proj_weight (3·d_model, d_model), rows in the order
    q, k, v, and their biases in in_proj_bias (None when bias=False); out_proj is the output Linear.
    Return the new module on mha's device and dtype.
    """
    # TODO: build SelfAttention(d, d, bias=...), copy the three blocks, the biases and out_proj
    raise NotImplementedError("from_multihead")

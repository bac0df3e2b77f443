"""Attention from scratch: a masked softmax, dot-product, additive (Bahdanau) and scaled dot-product
attention with boolean and float masks and a causal flag.

Shapes: queries q (..., T_q, d_k), keys k (..., T_k, d_k), values v (..., T_k, d_v); any number of
leading batch dims ((T, d), (B, T, d), (B, h, T, d)). Every attention function returns the pair
(out (..., T_q, d_v), weights (..., T_q, T_k)); each row of weights is a distribution over the keys.

Masks follow F.scaled_dot_product_attention: a boolean mask is True where a query MAY attend to a
key; a float mask is ADDED to the scores (0 = keep, −inf = block). A row whose keys are all blocked
has nothing to attend to: its weights and its output are 0 (what SDPA returns in torch 2.13), not nan.

The check compares with F.scaled_dot_product_attention in float64. Do not use it (or
nn.MultiheadAttention) in your functions: the check forbids them.

Run `dltutor check attention`.
"""

import math

import torch
from torch import nn


def masked_softmax(scores, mask=None):
    """softmax(scores) over the LAST dim (the keys), with an optional mask broadcastable to scores.

    mask is None, a bool tensor (True = keep) or a float tensor (added to the scores). Rows in which
    every entry is blocked get weights 0 (and a finite gradient), not nan.
    """
    # TODO: a bool mask: fill the blocked scores with -inf (masked_fill(~mask, ...)); a float mask: add it
    # TODO: find the rows that are -inf everywhere; give them a harmless score (0) BEFORE the softmax
    # TODO: softmax over dim=-1, then set the weights of those empty rows to 0
    raise NotImplementedError


def dot_attention(q, k, v, mask=None):
    """Dot-product (Luong) attention, NOT scaled: softmax(q kᵀ) v. Returns (out, weights)."""
    # TODO: scores (..., T_q, T_k) from q and k with the last two dims of k swapped (not k.T)
    raise NotImplementedError


class AdditiveAttention(nn.Module):
    """Additive (Bahdanau) attention: score(q, k) = w_vᵀ tanh(W_q q + W_k k).

    W_q = nn.Linear(d_q, d_hidden, bias=False), W_k = nn.Linear(d_k, d_hidden, bias=False),
    w_v = nn.Linear(d_hidden, 1, bias=False). forward(q, k, v, mask=None) -> (out, weights).
    """

    def __init__(self, d_q, d_k, d_hidden):
        super().__init__()
        # TODO: self.W_q, self.W_k, self.w_v (the names and shapes above)
        raise NotImplementedError

    def forward(self, q, k, v, mask=None):
        # TODO: W_q(q) (..., T_q, h) and W_k(k) (..., T_k, h): unsqueeze so that they broadcast to
        #       (..., T_q, T_k, h); tanh; w_v; drop the last dim -> scores (..., T_q, T_k)
        raise NotImplementedError


def causal_mask(T_q, T_k, device=None):
    """The bool (T_q, T_k) mask of is_causal: query i may attend to keys 0..i (top-left aligned)."""
    # TODO: True on and below the diagonal
    raise NotImplementedError


def scaled_dot_product_attention(q, k, v, attn_mask=None, is_causal=False):
    """softmax(q kᵀ / √d_k + mask) v, like F.scaled_dot_product_attention. Returns (out, weights).

    attn_mask: None, bool (True = attend) or float (added to the scaled scores), broadcastable to
    (..., T_q, T_k). is_causal=True: query i attends to keys 0..i (never together with attn_mask).
    """
    # TODO: scale by the square root of the KEY size d_k = q.size(-1)
    # TODO: is_causal: use causal_mask(T_q, T_k) as the mask
    raise NotImplementedError

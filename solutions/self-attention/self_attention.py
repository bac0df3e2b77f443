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
    return torch.ones(T, T, dtype=torch.bool, device=device).tril()


class SelfAttention(nn.Module):
    """Single-head self-attention with learned projections (the attention inside a Transformer).

    w_q, w_k, w_v = nn.Linear(d_model, d_k, bias=bias); w_o = nn.Linear(d_k, d_model, bias=bias).
    """

    def __init__(self, d_model, d_k, bias=True):
        super().__init__()
        self.w_q = nn.Linear(d_model, d_k, bias=bias)
        self.w_k = nn.Linear(d_model, d_k, bias=bias)
        self.w_v = nn.Linear(d_model, d_k, bias=bias)
        self.w_o = nn.Linear(d_k, d_model, bias=bias)

    def forward(self, x, causal=False, key_padding_mask=None):
        """x (B, T, d_model) -> (out (B, T, d_model), weights (B, T, T)).

        causal=True: position i attends to positions 0..i only. key_padding_mask: None or bool
        (B, T), True at padding; no position attends to a padded one.
        """
        q, k, v = self.w_q(x), self.w_k(x), self.w_v(x)
        scores = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))  # (B, T, T)
        if causal:
            scores = scores.masked_fill(~causal_mask(x.size(1), device=x.device), float("-inf"))
        if key_padding_mask is not None:
            scores = scores.masked_fill(key_padding_mask[:, None, :], float("-inf"))
        weights = torch.softmax(scores, dim=-1)
        return self.w_o(weights @ v), weights


def from_multihead(mha):
    """A SelfAttention with the weights of mha, an nn.MultiheadAttention(d_model, 1) (one head).

    mha packs the three input projections in in_proj_weight (3·d_model, d_model), rows in the order
    q, k, v, and their biases in in_proj_bias (None when bias=False); out_proj is the output Linear.
    Return the new module on mha's device and dtype.
    """
    d = mha.embed_dim
    attn = SelfAttention(d, d, bias=mha.in_proj_bias is not None).to(mha.in_proj_weight)
    w_q, w_k, w_v = mha.in_proj_weight.detach().chunk(3, dim=0)
    with torch.no_grad():
        attn.w_q.weight.copy_(w_q)
        attn.w_k.weight.copy_(w_k)
        attn.w_v.weight.copy_(w_v)
        attn.w_o.weight.copy_(mha.out_proj.weight)
        if mha.in_proj_bias is not None:
            b_q, b_k, b_v = mha.in_proj_bias.detach().chunk(3)
            attn.w_q.bias.copy_(b_q)
            attn.w_k.bias.copy_(b_k)
            attn.w_v.bias.copy_(b_v)
            attn.w_o.bias.copy_(mha.out_proj.bias)
    return attn

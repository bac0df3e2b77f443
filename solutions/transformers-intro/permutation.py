"""Self-attention without positions sees a set: permuting the tokens permutes its outputs.

x is (B, T, d), batch first; the tokens are axis 1. A permutation perm is a LongTensor of the
T token indices; x[:, perm] is the permuted input.
- fn is permutation-EQUIVARIANT when fn(x[:, perm]) == fn(x)[:, perm]: the outputs move with
  the tokens (self-attention, a per-token MLP);
- fn is permutation-INVARIANT when fn(x[:, perm]) == fn(x): the output does not change at all
  (a mean over the tokens: a pooled output).

Run `dltutor check transformers-intro`.
"""

import math

import torch


def self_attention(x, w_q, w_k, w_v, w_o):
    """One head of self-attention, no positions, no mask: softmax(q kᵀ / √d_k) v, then W_o.

    x (B, T, d); w_q, w_k, w_v (d, d_k) and w_o (d_k, d) act on the right: q = x @ w_q.
    """
    q, k, v = x @ w_q, x @ w_k, x @ w_v
    weights = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(q.size(-1)), dim=-1)
    return (weights @ v) @ w_o


def permutation_errors(fn, x, perm):
    """(equivariance error, invariance error) of fn at x for perm, as Python floats.

    equivariance error: max |fn(x[:, perm]) − fn(x)[:, perm]|, or float("inf") when fn's output
    has no token axis (its shape does not start with (B, T)); invariance error:
    max |fn(x[:, perm]) − fn(x)|.
    """
    out, out_p = fn(x), fn(x[:, perm])
    invariance = (out_p - out).abs().max().item()
    if out.shape[:2] != x.shape[:2]:
        return float("inf"), invariance
    equivariance = (out_p - out[:, perm]).abs().max().item()
    return equivariance, invariance


def symmetry(fn, x, perm, tol=1e-9):
    """"both", "equivariant", "invariant" or "neither": which errors are <= tol for this perm."""
    equivariance, invariance = permutation_errors(fn, x, perm)
    if equivariance <= tol and invariance <= tol:
        return "both"
    if equivariance <= tol:
        return "equivariant"
    if invariance <= tol:
        return "invariant"
    return "neither"

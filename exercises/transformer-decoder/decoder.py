"""The Transformer decoder: causal self-attention, cross-attention, a feed-forward block, greedy
generation and a KV cache.

Everything is batch-first: tgt is (B, T, d_model), memory (the encoder's output) is (B, S, d_model).
The attention sublayers are nn.MultiheadAttention(batch_first=True): you built one by hand in the
multi-head attention lesson, so here you may use torch's and build the layer around it. Masks follow
nn.MultiheadAttention: a float mask is ADDED to the scores (0 = allowed, -inf = blocked); a bool
mask or padding mask is True where attending is BLOCKED.

Do not use nn.TransformerDecoderLayer, nn.TransformerDecoder or
nn.Transformer.generate_square_subsequent_mask: they are what the check compares with. In
project_kv, attend, new_cache and decode_step do not call nn.MultiheadAttention either: a KV
cache attends by hand with the keys and values it has stored.

Run `dltutor check transformer-decoder`.
"""

import math

import torch
import torch.nn.functional as F
from torch import nn


def causal_mask(T, device=None, dtype=None):
    """Float (T, T) mask: 0 on and below the diagonal (key j <= query i may be seen), -inf above it
    (the future is blocked). dtype defaults to torch.get_default_dtype()."""
    # TODO: a bool "future" matrix (True where j > i), then fill zeros with -inf there.
    # Not torch.triu(torch.ones(T, T)) == 0: see the lesson for what nn.MultiheadAttention makes of it.
    raise NotImplementedError("causal_mask")


def shift_right(targets, sos):
    """Teacher forcing: (B, T) target tokens -> (B, T) decoder inputs [sos, y_0, ..., y_{T-2}]."""
    # TODO: a column of sos in front, the last target dropped
    raise NotImplementedError("shift_right")


class DecoderLayer(nn.Module):
    """One decoder layer with the parameter names of nn.TransformerDecoderLayer(batch_first=True):
    self_attn, multihead_attn (the cross-attention), linear1, linear2, norm1, norm2, norm3."""

    def __init__(self, d_model, nhead, d_ff, dropout=0.1, norm_first=False):
        super().__init__()
        # TODO: self.norm_first; self_attn and multihead_attn = nn.MultiheadAttention(d_model, nhead,
        # dropout=dropout, batch_first=True); linear1 (d_model -> d_ff), linear2 (d_ff -> d_model);
        # norm1, norm2, norm3 = nn.LayerNorm(d_model); dropout layers as you need them
        raise NotImplementedError("DecoderLayer.__init__")

    def feed_forward(self, x):
        """linear2(dropout(relu(linear1(x)))), position by position."""
        raise NotImplementedError("DecoderLayer.feed_forward")

    def forward(self, tgt, memory, tgt_mask=None, memory_key_padding_mask=None, tgt_key_padding_mask=None):
        """(B, T, d_model) -> (B, T, d_model). Three sublayers, each with a residual connection:
        masked self-attention over tgt (tgt_mask, tgt_key_padding_mask), cross-attention from the
        decoder's positions to memory (memory_key_padding_mask), the feed-forward block.
        Post-norm (norm_first=False): x = norm(x + sublayer(x)). Pre-norm: x = x + sublayer(norm(x))."""
        # TODO: self_attn(q, k, v, attn_mask=..., key_padding_mask=..., need_weights=False)[0]
        raise NotImplementedError("DecoderLayer.forward")


def greedy_generate(model, memory, sos, eos, max_len, pad=0):
    """Greedy decoding. model(tokens (B, t), memory) -> logits (B, t, vocab) for every prefix position.
    Returns (B, L) long, L <= max_len: each row its tokens up to and including eos, then pad; stops
    early once every row has produced eos. The sos token is not part of the result."""
    # TODO: start from a (B, 1) column of sos; each step feed the WHOLE prefix, take the argmax of the
    # last position, append it; keep a `done` flag per row
    raise NotImplementedError("greedy_generate")


# --- the KV cache ---------------------------------------------------------------------------------------


def split_heads(x, num_heads):
    """(B, T, d_model) -> (B, num_heads, T, d_k) (given: you wrote it in the multi-head attention lesson)."""
    B, T, d_model = x.shape
    return x.view(B, T, num_heads, d_model // num_heads).transpose(1, 2)


def merge_heads(x):
    """(B, num_heads, T, d_k) -> (B, T, num_heads·d_k) (given)."""
    B, h, T, d_k = x.shape
    return x.transpose(1, 2).reshape(B, T, h * d_k)


def project_kv(attn, x):
    """The keys and values nn.MultiheadAttention `attn` makes from x (B, T, d_model), split into heads:
    (k, v), each (B, h, T, d_k)."""
    # TODO: attn.in_proj_weight stacks (W_q, W_k, W_v) by rows, attn.in_proj_bias likewise
    raise NotImplementedError("project_kv")


def attend(attn, query, k, v, key_padding_mask=None):
    """attn's output for query (B, T_q, d_model) against keys and values already projected and split,
    k and v (B, h, T_k, d_k); key_padding_mask: None or bool (B, T_k), True = padding."""
    # TODO: project and split the query, scaled scores, mask, softmax, weights @ v, merge, attn.out_proj
    raise NotImplementedError("attend")


def new_cache(layers, memory):
    """One dict per layer: "mem_k", "mem_v" (the cross-attention's keys and values of memory, computed
    once here, (B, h, S, d_k)) and "k", "v" (the self-attention's keys and values of the tokens so far,
    (B, h, t, d_k) tensors grown along dim 2; none yet: None or an empty (B, h, 0, d_k) tensor)."""
    raise NotImplementedError("new_cache")


def decode_step(layers, x_t, cache, memory_key_padding_mask=None):
    """One position through the stack: x_t (B, 1, d_model) is the newest token's input; returns the
    stack's output there (B, 1, d_model) and appends this position's keys and values to the cache."""
    # TODO: per layer, the same three sublayers as DecoderLayer.forward (mind layer.norm_first), but the
    # self-attention appends this position's k, v to cache["k"], cache["v"] (dim=2) and attends to all
    # of them; the cross-attention uses cache["mem_k"], cache["mem_v"]. No mask is needed: the cache
    # holds only the past and the present.
    raise NotImplementedError("decode_step")

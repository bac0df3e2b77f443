"""The Transformer decoder: causal self-attention, cross-attention, a feed-forward block, greedy
generation and a KV cache.

Everything is batch-first: tgt is (B, T, d_model), memory (the encoder's output) is (B, S, d_model).
The attention sublayers are nn.MultiheadAttention(batch_first=True): you built one by hand in the
multi-head attention lesson, so here you may use torch's and build the layer around it. Masks follow
nn.MultiheadAttention: a float mask is ADDED to the scores (0 = allowed, -inf = blocked); a bool
mask or padding mask is True where attending is BLOCKED.

Do not use nn.TransformerDecoderLayer, nn.TransformerDecoder or
nn.Transformer.generate_square_subsequent_mask: they are what the check compares with.

Run `dltutor check transformer-decoder`.
"""

import math

import torch
import torch.nn.functional as F
from torch import nn


def causal_mask(T, device=None, dtype=None):
    """Float (T, T) mask: 0 on and below the diagonal (key j <= query i may be seen), -inf above it
    (the future is blocked). dtype defaults to torch.get_default_dtype()."""
    dtype = dtype or torch.get_default_dtype()
    future = torch.ones(T, T, dtype=torch.bool, device=device).triu(1)
    return torch.zeros(T, T, dtype=dtype, device=device).masked_fill(future, float("-inf"))


def shift_right(targets, sos):
    """Teacher forcing: (B, T) target tokens -> (B, T) decoder inputs [sos, y_0, ..., y_{T-2}]."""
    start = torch.full_like(targets[:, :1], sos)
    return torch.cat([start, targets[:, :-1]], dim=1)


class DecoderLayer(nn.Module):
    """One decoder layer with the parameter names of nn.TransformerDecoderLayer(batch_first=True):
    self_attn, multihead_attn (the cross-attention), linear1, linear2, norm1, norm2, norm3."""

    def __init__(self, d_model, nhead, d_ff, dropout=0.1, norm_first=False):
        super().__init__()
        self.norm_first = norm_first
        self.self_attn = nn.MultiheadAttention(d_model, nhead, dropout=dropout, batch_first=True)
        self.multihead_attn = nn.MultiheadAttention(d_model, nhead, dropout=dropout, batch_first=True)
        self.linear1 = nn.Linear(d_model, d_ff)
        self.linear2 = nn.Linear(d_ff, d_model)
        self.norm1 = nn.LayerNorm(d_model)
        self.norm2 = nn.LayerNorm(d_model)
        self.norm3 = nn.LayerNorm(d_model)
        self.dropout = nn.Dropout(dropout)
        self.dropout1 = nn.Dropout(dropout)
        self.dropout2 = nn.Dropout(dropout)
        self.dropout3 = nn.Dropout(dropout)

    def feed_forward(self, x):
        """linear2(dropout(relu(linear1(x)))), position by position."""
        return self.linear2(self.dropout(F.relu(self.linear1(x))))

    def forward(self, tgt, memory, tgt_mask=None, memory_key_padding_mask=None, tgt_key_padding_mask=None):
        """(B, T, d_model) -> (B, T, d_model): masked self-attention, cross-attention to memory, feed-forward,
        each with a residual connection; post-norm or pre-norm."""

        def self_block(h):
            out = self.self_attn(h, h, h, attn_mask=tgt_mask, key_padding_mask=tgt_key_padding_mask,
                                 need_weights=False)[0]
            return self.dropout1(out)

        def cross_block(h):
            out = self.multihead_attn(h, memory, memory, key_padding_mask=memory_key_padding_mask,
                                      need_weights=False)[0]
            return self.dropout2(out)

        x = tgt
        if self.norm_first:
            x = x + self_block(self.norm1(x))
            x = x + cross_block(self.norm2(x))
            x = x + self.dropout3(self.feed_forward(self.norm3(x)))
        else:
            x = self.norm1(x + self_block(x))
            x = self.norm2(x + cross_block(x))
            x = self.norm3(x + self.dropout3(self.feed_forward(x)))
        return x


@torch.no_grad()
def greedy_generate(model, memory, sos, eos, max_len, pad=0):
    """Greedy decoding. model(tokens (B, t), memory) -> logits (B, t, vocab) for every prefix position.
    Returns (B, L) long, L <= max_len: each row its tokens up to and including eos, then pad; stops
    early once every row has produced eos. The sos token is not part of the result."""
    B = memory.shape[0]
    tokens = torch.full((B, 1), sos, dtype=torch.long, device=memory.device)
    done = torch.zeros(B, dtype=torch.bool, device=memory.device)
    out = []
    for _ in range(max_len):
        logits = model(tokens, memory)
        nxt = logits[:, -1].argmax(dim=-1)
        out.append(nxt.masked_fill(done, pad))
        done = done | (nxt == eos)
        tokens = torch.cat([tokens, nxt[:, None]], dim=1)
        if done.all():
            break
    return torch.stack(out, dim=1)


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
    _, w_k, w_v = attn.in_proj_weight.chunk(3)
    _, b_k, b_v = attn.in_proj_bias.chunk(3)
    return split_heads(F.linear(x, w_k, b_k), attn.num_heads), split_heads(F.linear(x, w_v, b_v), attn.num_heads)


def attend(attn, query, k, v, key_padding_mask=None):
    """attn's output for query (B, T_q, d_model) against keys and values already projected and split,
    k and v (B, h, T_k, d_k); key_padding_mask: None or bool (B, T_k), True = padding."""
    w_q, b_q = attn.in_proj_weight.chunk(3)[0], attn.in_proj_bias.chunk(3)[0]
    q = split_heads(F.linear(query, w_q, b_q), attn.num_heads)
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if key_padding_mask is not None:
        scores = scores.masked_fill(key_padding_mask[:, None, None, :], float("-inf"))
    return attn.out_proj(merge_heads(scores.softmax(dim=-1) @ v))


def new_cache(layers, memory):
    """One dict per layer: "mem_k", "mem_v" (the cross-attention's keys and values of memory, computed
    once here, (B, h, S, d_k)) and "k", "v" (the self-attention's keys and values of the tokens so far,
    (B, h, t, d_k) tensors grown along dim 2; none yet: None or an empty (B, h, 0, d_k) tensor)."""
    cache = []
    for layer in layers:
        mem_k, mem_v = project_kv(layer.multihead_attn, memory)
        cache.append({"k": None, "v": None, "mem_k": mem_k, "mem_v": mem_v})
    return cache


def decode_step(layers, x_t, cache, memory_key_padding_mask=None):
    """One position through the stack: x_t (B, 1, d_model) is the newest token's input; returns the
    stack's output there (B, 1, d_model) and appends this position's keys and values to the cache."""
    x = x_t
    for layer, c in zip(layers, cache):
        h = layer.norm1(x) if layer.norm_first else x
        k, v = project_kv(layer.self_attn, h)
        c["k"] = k if c["k"] is None else torch.cat([c["k"], k], dim=2)
        c["v"] = v if c["v"] is None else torch.cat([c["v"], v], dim=2)
        sa = attend(layer.self_attn, h, c["k"], c["v"])
        if layer.norm_first:
            x = x + sa
            x = x + attend(layer.multihead_attn, layer.norm2(x), c["mem_k"], c["mem_v"], memory_key_padding_mask)
            x = x + layer.feed_forward(layer.norm3(x))
        else:
            x = layer.norm1(x + sa)
            x = layer.norm2(x + attend(layer.multihead_attn, x, c["mem_k"], c["mem_v"], memory_key_padding_mask))
            x = layer.norm3(x + layer.feed_forward(x))
    return x

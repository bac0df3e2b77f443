"""Positional encodings: the sinusoidal table, its relative-shift rotation, sinusoidal and learned
position modules, rotary embeddings (RoPE), and a tiny Transformer encoder that copies the token at
position 3.

Shapes: token embeddings x are (B, T, d) (batch first) or (T, d); a position table is (max_len, d).
Column 2i of the sinusoidal table is sin(pos / 10000^(2i/d)), column 2i+1 is cos of the same angle
(interleaved, as in "Attention Is All You Need"), positions counted from 0.

nn.TransformerEncoderLayer is allowed here (today's subject is the positions, not the layer).

Run `dltutor check positional-encoding`.
"""

import math

import torch
from torch import nn


def sinusoidal_table(T, d, dtype=torch.float32):
    """The (T, d) table PE[pos, 2i] = sin(pos·ω_i), PE[pos, 2i+1] = cos(pos·ω_i), ω_i = 10000^(−2i/d).

    Positions are 0 .. T−1; the result has the given dtype. For odd d the last column is a sine
    (ceil(d/2) sines, floor(d/2) cosines).
    """
    # TODO: positions (T, 1) and the exponents 2i/d for 2i = 0, 2, 4, ... (torch.arange(0, d, 2))
    # TODO: angles = pos / 10000^(2i/d), shape (T, ceil(d/2)); compute in float64, cast at the end
    # TODO: sines into the even columns (table[:, 0::2]), cosines into the odd ones (table[:, 1::2])
    raise NotImplementedError


def relative_shift_matrix(k, d, dtype=torch.float64):
    """The (d, d) matrix M with PE(pos + k) = PE(pos) @ M.T for every pos (d even).

    Block i (rows and columns 2i, 2i+1) rotates the pair (sin, cos) by the angle k·ω_i.
    """
    # TODO: b = k·ω_i for each pair; use sin(a + b) and cos(a + b) to fill the 2×2 block of pair i
    raise NotImplementedError


class SinusoidalPositions(nn.Module):
    """Adds the fixed sinusoidal table to x (B, T, d), then dropout: forward(x, offset=0).

    The table is built once, for max_len positions, and kept as a BUFFER: it moves with .to() and is
    not trained. offset shifts the positions (a continued sequence starts at position offset).
    """

    def __init__(self, d, max_len, dropout=0.0):
        super().__init__()
        # TODO: register the (max_len, d) table as a buffer; an nn.Dropout(dropout)
        raise NotImplementedError

    def forward(self, x, offset=0):
        # TODO: add the rows offset .. offset + T − 1 of the table (T = x.size(-2)), then dropout
        raise NotImplementedError


class LearnedPositions(nn.Module):
    """Adds a learned (max_len, d) table to x (B, T, d): forward(x, offset=0).

    The table is trained: nn.Embedding(max_len, d) or an nn.Parameter of shape (max_len, d).
    """

    def __init__(self, d, max_len):
        super().__init__()
        # TODO: the trained table
        raise NotImplementedError

    def forward(self, x, offset=0):
        # TODO: the rows offset .. offset + T − 1, on x's device, added to x
        raise NotImplementedError


def apply_rope(x, positions, base=10000.0):
    """Rotary position embedding: rotate each pair (x[..., 2i], x[..., 2i+1]) by positions·θ_i.

    x is (..., T, d) with d even, positions (T,) (ints or floats), θ_i = base^(−2i/d). The pair
    (a, b) at angle φ becomes (a·cos φ − b·sin φ, a·sin φ + b·cos φ).
    """
    # TODO: θ (d/2,), angles (T, d/2) = positions[:, None] * θ; a = x[..., 0::2], b = x[..., 1::2]
    # TODO: rotate, then interleave the results back: torch.stack((a', b'), dim=-1).flatten(-2)
    raise NotImplementedError


class CopyAt3(nn.Module):
    """Embedding, optional positions, one nn.TransformerEncoderLayer, a linear head.

    CopyAt3(vocab, d, positions=None): positions is a module that adds positions to (B, T, d)
    (SinusoidalPositions, LearnedPositions) or None. forward(tokens (B, T)) -> logits (B, T, vocab):
    at every position the logits of the token at position 3.

    Use nn.Embedding(vocab, d), nn.TransformerEncoderLayer(d, nhead=8, dim_feedforward=2 * d,
    dropout=0.0, batch_first=True) and nn.Linear(d, vocab); no mask.
    """

    def __init__(self, vocab, d, positions=None):
        super().__init__()
        # TODO: self.embed, self.positions, self.encoder, self.head
        raise NotImplementedError

    def forward(self, tokens):
        # TODO: embed; add the positions (if any) BEFORE the encoder; encoder; head
        raise NotImplementedError

"""Positional encodings: the sinusoidal table, its relative-shift rotation, sinusoidal and learned
position modules, rotary embeddings (RoPE), and a tiny Transformer encoder that copies the token at
position 3.

Shapes: token embeddings x are (B, T, d) (batch first) or (T, d); a position table is (max_len, d).
Column 2i of the sinusoidal table is sin(pos / 10000^(2i/d)), column 2i+1 is cos of the same angle
(interleaved, as in "Attention Is All You Need"), positions counted from 0.

Run `dltutor check positional-encoding`.
"""

import math

import torch
from torch import nn


def frequencies(d, dtype=torch.float64):
    """ω_i = 1 / 10000^(2i/d) for i = 0 .. ceil(d/2) − 1 (one per sin/cos pair)."""
    two_i = torch.arange(0, d, 2, dtype=dtype)
    return torch.exp(-math.log(10000.0) * two_i / d)


def sinusoidal_table(T, d, dtype=torch.float32):
    """The (T, d) table PE[pos, 2i] = sin(pos·ω_i), PE[pos, 2i+1] = cos(pos·ω_i), ω_i = 10000^(−2i/d).

    Positions are 0 .. T−1. For odd d the last column is a sine (ceil(d/2) sines, floor(d/2) cosines).
    """
    pos = torch.arange(T, dtype=torch.float64).unsqueeze(1)
    angles = pos * frequencies(d)
    table = torch.zeros(T, d, dtype=torch.float64)
    table[:, 0::2] = torch.sin(angles)
    table[:, 1::2] = torch.cos(angles[:, : d // 2])
    return table.to(dtype)


def relative_shift_matrix(k, d, dtype=torch.float64):
    """The (d, d) matrix M with PE(pos + k) = PE(pos) @ M.T for every pos (d even).

    Block i (rows and columns 2i, 2i+1) rotates the pair (sin, cos) by the angle k·ω_i:
    sin(a + b) = sin a cos b + cos a sin b, cos(a + b) = cos a cos b − sin a sin b.
    """
    angle = k * frequencies(d)
    c, s = torch.cos(angle), torch.sin(angle)
    M = torch.zeros(d, d, dtype=torch.float64)
    idx = torch.arange(0, d, 2)
    M[idx, idx] = c
    M[idx, idx + 1] = s
    M[idx + 1, idx] = -s
    M[idx + 1, idx + 1] = c
    return M.to(dtype)


class SinusoidalPositions(nn.Module):
    """Adds the fixed sinusoidal table to x (B, T, d), then dropout: forward(x, offset=0).

    The table is a non-persistent buffer: it moves with .to() and is not trained, and since it is a
    function of (max_len, d) it is left out of the state_dict. offset shifts the positions (a
    continued sequence starts at position offset, not 0).
    """

    def __init__(self, d, max_len, dropout=0.0):
        super().__init__()
        self.register_buffer("pe", sinusoidal_table(max_len, d), persistent=False)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x, offset=0):
        T = x.size(-2)
        return self.dropout(x + self.pe[offset:offset + T])


class LearnedPositions(nn.Module):
    """Adds a learned (max_len, d) table to x (B, T, d): forward(x, offset=0)."""

    def __init__(self, d, max_len):
        super().__init__()
        self.table = nn.Embedding(max_len, d)

    def forward(self, x, offset=0):
        T = x.size(-2)
        pos = torch.arange(offset, offset + T, device=x.device)
        return x + self.table(pos)


def apply_rope(x, positions, base=10000.0):
    """Rotary position embedding: rotate each pair (x[..., 2i], x[..., 2i+1]) by positions·θ_i.

    x is (..., T, d) with d even, positions (T,) (ints or floats), θ_i = base^(−2i/d). The pair
    (a, b) at angle φ becomes (a·cos φ − b·sin φ, a·sin φ + b·cos φ).
    """
    d = x.size(-1)
    theta = torch.exp(-math.log(base) * torch.arange(0, d, 2, dtype=torch.float64, device=x.device) / d)
    angle = positions.to(device=x.device, dtype=torch.float64).unsqueeze(-1) * theta
    cos, sin = torch.cos(angle).to(x.dtype), torch.sin(angle).to(x.dtype)
    a, b = x[..., 0::2], x[..., 1::2]
    out = torch.stack((a * cos - b * sin, a * sin + b * cos), dim=-1)
    return out.flatten(-2)


class CopyAt3(nn.Module):
    """Embedding, optional positions, one nn.TransformerEncoderLayer, a linear head.

    CopyAt3(vocab, d, positions=None): positions is a module that adds positions to (B, T, d)
    (SinusoidalPositions, LearnedPositions) or None. forward(tokens (B, T)) -> logits (B, T, vocab):
    at every position the logits of the token at position 3.
    """

    def __init__(self, vocab, d, positions=None):
        super().__init__()
        self.embed = nn.Embedding(vocab, d)
        self.positions = positions
        self.encoder = nn.TransformerEncoderLayer(d, nhead=8, dim_feedforward=2 * d, dropout=0.0,
                                                  batch_first=True)
        self.head = nn.Linear(d, vocab)

    def forward(self, tokens):
        x = self.embed(tokens)
        if self.positions is not None:
            x = self.positions(x)
        return self.head(self.encoder(x))

"""Back-of-the-envelope numbers for large language models, and a fitted scaling law.

Everything here is arithmetic on counts: N parameters, D training tokens, C FLOPs.
Return plain numbers (Python floats or ints are fine).
"""

import numpy as np


def train_flops(N, D):
    """Training compute in FLOPs for N parameters and D tokens (forward AND backward pass).

    GPT-3: train_flops(175e9, 300e9) is 3.15e23.
    """
    # TODO: about 2 FLOPs per parameter per token forward, 4 backward
    raise NotImplementedError("train_flops")


def inference_flops_per_token(N):
    """Forward-pass compute for one generated token of an N-parameter model."""
    # TODO
    raise NotImplementedError("inference_flops_per_token")


def chinchilla_tokens(N):
    """The compute-optimal number of training tokens for N parameters (Hoffmann et al., 2022)."""
    # TODO: about 20 tokens per parameter
    raise NotImplementedError("chinchilla_tokens")


def compute_optimal(C):
    """Return (N, D): the model size and token count that spend C FLOPs the Chinchilla way.

    Solve C = train_flops(N, D) together with D = chinchilla_tokens(N).
    compute_optimal(5.88e23) is (70e9, 1.4e12), Chinchilla itself.
    """
    # TODO
    raise NotImplementedError("compute_optimal")


def kv_cache_bytes(layers, heads, head_dim, seq_len, batch, bytes_per_elem):
    """Bytes of the key-value cache for `batch` sequences of `seq_len` tokens.

    bytes_per_elem: 2 for fp16/bf16, 4 for fp32.
    """
    # TODO: what does every layer keep, per head and per past token?
    raise NotImplementedError("kv_cache_bytes")


def fit_power_law(N, L):
    """Fit L = a·N^(-alpha) + c with c > 0 to the points; return (a, alpha, c) as floats.

    N, L: 1-D float arrays (model sizes, final losses). alpha must come out positive.
    The points: tutor.checking.scalinglaw.load_scaling_points().
    """
    # TODO: for a fixed c, log(L - c) is a straight line in log N. Try many c in (0, min L),
    # fit each line (np.polyfit), keep the c whose curve fits log L best.
    raise NotImplementedError("fit_power_law")

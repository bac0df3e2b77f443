"""Back-of-the-envelope numbers for large language models, and a fitted scaling law.

Everything here is arithmetic on counts: N parameters, D training tokens, C FLOPs.
"""

import numpy as np


def train_flops(N, D):
    """Training compute in FLOPs: about 6 per parameter per token (2 forward + 4 backward)."""
    return 6 * N * D


def inference_flops_per_token(N):
    """Forward-pass compute for one generated token: about 2 per parameter (a multiply and an add)."""
    return 2 * N


def chinchilla_tokens(N):
    """The compute-optimal number of training tokens for N parameters: about 20 per parameter."""
    return 20 * N


def compute_optimal(C):
    """(N, D) that spend C FLOPs with C = 6·N·D and D = 20·N, so N = sqrt(C / 120)."""
    N = (C / 120) ** 0.5
    return N, 20 * N


def kv_cache_bytes(layers, heads, head_dim, seq_len, batch, bytes_per_elem):
    """Bytes of the key-value cache: a K and a V vector per layer, head, position and sequence."""
    return 2 * layers * heads * head_dim * seq_len * batch * bytes_per_elem


def fit_power_law(N, L):
    """Fit L = a·N^(-alpha) + c with c > 0; return (a, alpha, c) as floats.

    For each candidate c below min(L), log(L - c) = log a - alpha·log N is a straight line:
    fit it by least squares and keep the c whose line fits the log-losses best.
    """
    N, L = np.asarray(N, dtype=float), np.asarray(L, dtype=float)
    x = np.log(N)
    best = None
    for c in np.linspace(0.0, L.min(), 2001)[1:-1]:
        slope, intercept = np.polyfit(x, np.log(L - c), 1)
        pred = np.exp(intercept) * N ** slope + c
        sse = np.sum((np.log(L) - np.log(pred)) ** 2)
        if best is None or sse < best[0]:
            best = (sse, float(np.exp(intercept)), float(-slope), float(c))
    return best[1], best[2], best[3]

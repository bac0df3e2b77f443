"""What a layer costs: path lengths, sequential steps, FLOPs and memory (Vaswani et al. 2017, Table 1).

Conventions (the check holds you to them):
- path length: the number of layers, or recurrent steps, that a signal from one position passes
  through before it can reach another, maximised over all pairs of the T >= 2 positions;
- sequential operations: the steps of ONE layer that must run one after another;
- kinds: "rnn", "self_attention", "conv" (causal, kernel k, dilation 1) and "dilated_conv"
  (causal, kernel k, dilations 1, k, k², ... in successive layers);
- a FLOP is one multiplication or one addition: a multiply-add is 2 FLOPs, so a product of an
  (m, n) and an (n, p) matrix costs 2·m·n·p. Count matrix products only (what
  torch.utils.flop_counter.FlopCounterMode counts): no softmax, scale, bias or activation.

Run `dltutor check transformers-intro`.
"""

import torch

KINDS = ("rnn", "self_attention", "conv", "dilated_conv")


def max_path_length(kind, T, k=3):
    """The longest path between two of T >= 2 positions, in layers (or recurrent steps), for kind."""
    if kind == "rnn":
        return T - 1                      # position 0 reaches T-1 through T-1 recurrent steps
    if kind == "self_attention":
        return 1                          # every position attends to every position in one layer
    if kind == "conv":
        return -(-(T - 1) // (k - 1))     # each layer reaches k-1 positions further back
    if kind == "dilated_conv":
        layers, reach = 0, 0              # after L layers a position sees k**L - 1 positions back
        while reach < T - 1:
            layers, reach = layers + 1, k ** (layers + 1) - 1
        return layers
    raise ValueError(f"unknown kind {kind!r}; expected one of {KINDS}")


def sequential_ops(kind, T, k=3):
    """How many steps of one layer of `kind` over T positions must run one after another."""
    if kind == "rnn":
        return T                          # h_t needs h_{t-1}: T steps, h_0 .. h_{T-1}
    if kind in KINDS:
        return 1                          # all positions at once (one batched matrix product)
    raise ValueError(f"unknown kind {kind!r}; expected one of {KINDS}")


def attention_flops(T, d, heads=1, batch=1):
    """FLOPs of q @ kᵀ and weights @ v for `batch` sequences of T tokens, d split into `heads` heads."""
    d_k = d // heads
    scores = 2 * batch * heads * T * T * d_k     # (T, d_k) @ (d_k, T) per head
    mix = 2 * batch * heads * T * T * d_k        # (T, T) @ (T, d_k) per head
    return scores + mix


def projection_flops(T, d, batch=1):
    """FLOPs of the four (d, d) projections W_q, W_k, W_v, W_o applied to batch·T tokens."""
    return 4 * 2 * batch * T * d * d


def rnn_flops(T, d, batch=1):
    """FLOPs of nn.RNN(d, d) over T steps: W_ih x_t and W_hh h_{t-1}, two (d, d) products a step."""
    return 2 * 2 * batch * T * d * d


def conv_flops(T, d, k, batch=1):
    """FLOPs of nn.Conv1d(d, d, k, padding="same") over T positions: k (d, d) products a position."""
    return 2 * batch * T * k * d * d


def crossover_length(d):
    """The smallest T at which attention_flops(T, d) exceeds rnn_flops(T, d)."""
    T = 1
    while attention_flops(T, d) <= rnn_flops(T, d):
        T += 1
    return T


def attention_memory_bytes(B, heads, T, dtype):
    """Bytes of the (B, heads, T, T) score (or weight) matrix in `dtype` (a torch.dtype)."""
    return B * heads * T * T * dtype.itemsize

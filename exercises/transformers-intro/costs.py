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
    # TODO: how far back does one layer (or step) reach, and how many are needed to span T - 1
    # positions? For the convolutions, count layers in integers
    raise NotImplementedError("max_path_length")


def sequential_ops(kind, T, k=3):
    """How many steps of one layer of `kind` over T positions must run one after another."""
    # TODO: an RNN layer steps through its T positions one by one; the others compute all at once
    raise NotImplementedError("sequential_ops")


def attention_flops(T, d, heads=1, batch=1):
    """FLOPs of q @ kᵀ and weights @ v for `batch` sequences of T tokens, d split into `heads` heads."""
    # TODO: the shapes of the two products per head and sequence, then 2·m·n·p FLOPs for each
    raise NotImplementedError("attention_flops")


def projection_flops(T, d, batch=1):
    """FLOPs of the four (d, d) projections W_q, W_k, W_v, W_o applied to batch·T tokens."""
    # TODO: each projection is a (batch·T, d) @ (d, d) product
    raise NotImplementedError("projection_flops")


def rnn_flops(T, d, batch=1):
    """FLOPs of nn.RNN(d, d) over T steps: W_ih x_t and W_hh h_{t-1}, two (d, d) products a step."""
    # TODO: how many (d, d) products per step, and how many steps
    raise NotImplementedError("rnn_flops")


def conv_flops(T, d, k, batch=1):
    """FLOPs of nn.Conv1d(d, d, k, padding="same") over T positions: k (d, d) products a position."""
    # TODO: how many output positions, and how many (d, d) products for each
    raise NotImplementedError("conv_flops")


def crossover_length(d):
    """The smallest T at which attention_flops(T, d) exceeds rnn_flops(T, d)."""
    # TODO: try T = 1, 2, ... with your attention_flops and rnn_flops, or solve the inequality
    raise NotImplementedError("crossover_length")


def attention_memory_bytes(B, heads, T, dtype):
    """Bytes of the (B, heads, T, T) score (or weight) matrix in `dtype` (a torch.dtype)."""
    # TODO: the number of elements of a (B, heads, T, T) tensor, times the bytes per element
    raise NotImplementedError("attention_memory_bytes")
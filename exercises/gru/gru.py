"""A GRU from scratch, in PyTorch's parameter layout; its parameter count; a model that must remember.

gru_cell() is one step. gru_forward() runs a stack of GRU layers over a sequence exactly like
nn.GRU (batch_first both ways). gru_param_count() counts nn.GRU's parameters. Recall is a model that
must keep the token that followed a marker in its state until the end of the sequence.

PyTorch's layout, for input size I and hidden size H (layer k, suffix _l{k}; layer 0 reads I,
the layers above read H):
    weight_ih_l0 (3H, I)   weight_hh_l0 (3H, H)   bias_ih_l0 (3H,)   bias_hh_l0 (3H,)
    the 3H rows are three blocks of H, in the order r, z, n:
    x @ W_ih.T + b_ih  ->  gi_r, gi_z, gi_n        h @ W_hh.T + b_hh  ->  gh_r, gh_z, gh_n
    r = σ(gi_r + gh_r)      z = σ(gi_z + gh_z)      n = tanh(gi_n + r ⊙ gh_n)
    h' = (1 − z) ⊙ n + z ⊙ h
Note that r multiplies gh_n = h @ W_hn.T + b_hn, bias included: the input and hidden sides of n
cannot be summed before the gate, as the LSTM's gates are.

The check compares with nn.GRUCell and nn.GRU in float64. Do not use nn.GRU, nn.GRUCell or
torch.gru / torch.gru_cell in gru_cell or gru_forward (the check forbids them): matrix products,
torch.sigmoid, torch.tanh, Tensor.chunk, torch.stack and Python loops are all fine.

Run `dltutor check gru`.
"""

import torch
import torch.nn.functional as F
from torch import nn


def gru_cell(x, h, W_ih, W_hh, b_ih, b_hh):
    """One GRU step, as nn.GRUCell computes it. Returns h' (B, H).

    x (B, I), h (B, H), W_ih (3H, I), W_hh (3H, H), b_ih and b_hh (3H,).
    """
    # TODO: the input side x @ W_ih.T + b_ih and the hidden side h @ W_hh.T + b_hh, each split into 3 blocks
    # TODO: r and z are sigmoids of (input block + hidden block); n = tanh(gi_n + r * gh_n)
    # TODO: the new state mixes n and the old h with z
    raise NotImplementedError


def gru_forward(x, h0, params, num_layers=1, batch_first=False):
    """A stack of GRU layers exactly like nn.GRU(I, H, num_layers, batch_first=...). Returns (output, h_n).

    x        (T, B, I), or (B, T, I) when batch_first
    h0       None (zeros) or (num_layers, B, H): layer k starts from h0[k]
    params   a dict with nn.GRU's names: "weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0",
             "weight_ih_l1", ... for each layer
    output   the LAST layer's h at every step: (T, B, H), or (B, T, H) when batch_first
    h_n      every layer's final state, (num_layers, B, H), whatever batch_first says
    Gradients must flow to x, h0 and the parameters.
    """
    # TODO: work time-first; zeros for h0 when it is None
    # TODO: for each layer: run gru_cell over the T steps from h0[k]; its outputs are the next layer's input
    # TODO: stack the last layer's outputs (transpose back when batch_first) and the final states
    raise NotImplementedError


def gru_param_count(input_size, hidden_size, num_layers=1):
    """The number of parameters of nn.GRU(input_size, hidden_size, num_layers), as an int.

    Work it out from the layout above; do not build an nn.GRU to count.
    """
    # TODO: per layer: three blocks, each with input weights, recurrent weights and two biases
    raise NotImplementedError


class Recall(nn.Module):
    """Reads tokens (B, T) and, at every step, names the token that followed the marker.

    self.gru = nn.GRU(vocab, hidden_size, num_layers, batch_first=True) only holds the parameters
    (do not call it): the forward uses your gru_forward on dict(self.gru.named_parameters()).
    self.head = nn.Linear(hidden_size, vocab).
    forward(tokens): one-hot the tokens (float, like the head's weight), run gru_forward from a zero
    state, and return the head's logits at EVERY step: (B, T, vocab).
    """

    def __init__(self, vocab=9, hidden_size=32, num_layers=1):
        super().__init__()
        # TODO: self.vocab, self.gru, self.head
        raise NotImplementedError

    def forward(self, tokens):
        # TODO: F.one_hot(tokens, self.vocab).to(self.head.weight.dtype); gru_forward; the head
        raise NotImplementedError

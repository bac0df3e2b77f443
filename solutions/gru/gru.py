"""A GRU from scratch in PyTorch's parameter layout, its parameter count, and a marked-recall model (solution)."""

import torch
import torch.nn.functional as F
from torch import nn


def gru_cell(x, h, W_ih, W_hh, b_ih, b_hh):
    """One GRU step; x (B, I), h (B, H), W_ih (3H, I), W_hh (3H, H), biases (3H,) -> h' (B, H)."""
    gi_r, gi_z, gi_n = (x @ W_ih.T + b_ih).chunk(3, dim=1)       # blocks r, z, n of the input side
    gh_r, gh_z, gh_n = (h @ W_hh.T + b_hh).chunk(3, dim=1)       # the same blocks of the hidden side
    r = torch.sigmoid(gi_r + gh_r)
    z = torch.sigmoid(gi_z + gh_z)
    n = torch.tanh(gi_n + r * gh_n)                            # r scales W_hn h + b_hn, bias included
    return (1 - z) * n + z * h


def gru_forward(x, h0, params, num_layers=1, batch_first=False):
    """A multi-layer GRU like nn.GRU(I, H, num_layers, batch_first=...): returns (output, h_n)."""
    if batch_first:
        x = x.transpose(0, 1)                                  # work in (T, B, I)
    T, B, _ = x.shape
    H = params["weight_hh_l0"].shape[1]
    if h0 is None:
        h0 = x.new_zeros(num_layers, B, H)
    layer_input = x
    finals = []
    for k in range(num_layers):
        h = h0[k]                                              # each layer starts from its own state
        outs = []
        for t in range(T):
            h = gru_cell(layer_input[t], h, params[f"weight_ih_l{k}"], params[f"weight_hh_l{k}"],
                         params[f"bias_ih_l{k}"], params[f"bias_hh_l{k}"])
            outs.append(h)
        layer_input = torch.stack(outs)                        # (T, B, H), read by the next layer
        finals.append(h)
    output = layer_input.transpose(0, 1) if batch_first else layer_input
    return output, torch.stack(finals)


def gru_param_count(input_size, hidden_size, num_layers=1):
    """The number of parameters of nn.GRU(input_size, hidden_size, num_layers)."""
    H = hidden_size
    total = 0
    for k in range(num_layers):
        inp = input_size if k == 0 else H
        total += 3 * (H * inp + H * H + 2 * H)                 # three blocks, each with two biases
    return total


class Recall(nn.Module):
    """Reads tokens (B, T) and, at every step, names the token that followed the marker: logits (B, T, vocab)."""

    def __init__(self, vocab=9, hidden_size=32, num_layers=1):
        super().__init__()
        self.vocab = vocab
        self.gru = nn.GRU(vocab, hidden_size, num_layers, batch_first=True)   # holds the parameters only
        self.head = nn.Linear(hidden_size, vocab)

    def forward(self, tokens):
        x = F.one_hot(tokens, self.vocab).to(self.head.weight.dtype)
        out, _ = gru_forward(x, None, dict(self.gru.named_parameters()), self.gru.num_layers, batch_first=True)
        return self.head(out)

"""An Elman RNN from scratch, in PyTorch's parameter layout, and truncated BPTT (reference solution)."""

import math

import torch
import torch.nn.functional as F
from torch import nn


def rnn_cell(x, h, W_ih, W_hh, b_ih, b_hh):
    """One step: h' = tanh(x @ W_ih.T + b_ih + h @ W_hh.T + b_hh); x (B, I), h (B, H) -> (B, H)."""
    return torch.tanh(x @ W_ih.T + b_ih + h @ W_hh.T + b_hh)


def rnn_forward(x, h0, params, num_layers=1, batch_first=False):
    """A multi-layer tanh RNN like nn.RNN: returns (output, h_n)."""
    if batch_first:
        x = x.transpose(0, 1)                                  # work in (T, B, I)
    T, B, _ = x.shape
    H = params["weight_hh_l0"].shape[0]
    if h0 is None:
        h0 = x.new_zeros(num_layers, B, H)
    layer_input = x
    finals = []
    for k in range(num_layers):
        h = h0[k]                                              # each layer starts from its own h0
        outs = []
        for t in range(T):
            h = rnn_cell(layer_input[t], h, params[f"weight_ih_l{k}"], params[f"weight_hh_l{k}"],
                         params[f"bias_ih_l{k}"], params[f"bias_hh_l{k}"])
            outs.append(h)
        layer_input = torch.stack(outs)                        # (T, B, H): the next layer's input
        finals.append(h)
    output = layer_input.transpose(0, 1) if batch_first else layer_input
    return output, torch.stack(finals)


class NextValue(nn.Module):
    """An RNN (your rnn_forward, batch_first) and a linear head: predicts the next value at every step."""

    def __init__(self, hidden_size=32, num_layers=1):
        super().__init__()
        self.num_layers = num_layers
        bound = 1 / math.sqrt(hidden_size)
        for k in range(num_layers):
            inp = 1 if k == 0 else hidden_size
            for name, shape in ((f"weight_ih_l{k}", (hidden_size, inp)), (f"weight_hh_l{k}", (hidden_size, hidden_size)),
                                (f"bias_ih_l{k}", (hidden_size,)), (f"bias_hh_l{k}", (hidden_size,))):
                setattr(self, name, nn.Parameter(torch.empty(shape).uniform_(-bound, bound)))
        self.head = nn.Linear(hidden_size, 1)

    def forward(self, x, h=None):
        """x (B, T, 1), h (num_layers, B, H) or None -> predictions (B, T, 1) and the last state h_n."""
        params = {name: p for name, p in self.named_parameters() if not name.startswith("head.")}
        out, h_n = rnn_forward(x, h, params, self.num_layers, batch_first=True)
        return self.head(out), h_n


def train_tbptt(model, optimizer, inputs, targets, chunk):
    """Truncated BPTT over (B, T, 1) sequences: one optimizer step per chunk of `chunk` steps.

    The hidden state is carried from chunk to chunk but detached, so gradients stop at the chunk
    boundary. Returns the MSE loss of each chunk (floats).
    """
    h = None
    losses = []
    for start in range(0, inputs.shape[1], chunk):
        x, y = inputs[:, start:start + chunk], targets[:, start:start + chunk]
        pred, h = model(x, h)
        loss = F.mse_loss(pred, y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        h = h.detach()                                         # keep the value, cut the graph
        losses.append(loss.item())
    return losses

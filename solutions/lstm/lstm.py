"""An LSTM from scratch in PyTorch's parameter layout, the forget-gate bias, and a recall model (solution)."""

import torch
import torch.nn.functional as F
from torch import nn


def lstm_cell(x, h, c, W_ih, W_hh, b_ih, b_hh):
    """One LSTM step; x (B, I), h and c (B, H), W_ih (4H, I), W_hh (4H, H), biases (4H,) -> (h', c')."""
    gates = x @ W_ih.T + b_ih + h @ W_hh.T + b_hh              # (B, 4H), blocks i, f, g, o
    i, f, g, o = gates.chunk(4, dim=1)
    i, f, o = torch.sigmoid(i), torch.sigmoid(f), torch.sigmoid(o)
    g = torch.tanh(g)
    c_new = f * c + i * g
    h_new = o * torch.tanh(c_new)
    return h_new, c_new


def lstm_forward(x, state, params, batch_first=False):
    """One LSTM layer like nn.LSTM(I, H, batch_first=...): returns (output, (h_n, c_n))."""
    if batch_first:
        x = x.transpose(0, 1)                                  # work in (T, B, I)
    T, B, _ = x.shape
    H = params["weight_hh_l0"].shape[1]
    if state is None:
        h = c = x.new_zeros(B, H)
    else:
        h0, c0 = state
        h, c = h0[0], c0[0]
    outs = []
    for t in range(T):
        h, c = lstm_cell(x[t], h, c, params["weight_ih_l0"], params["weight_hh_l0"],
                         params["bias_ih_l0"], params["bias_hh_l0"])
        outs.append(h)
    output = torch.stack(outs)
    if batch_first:
        output = output.transpose(0, 1)
    return output, (h.unsqueeze(0), c.unsqueeze(0))


def init_forget_bias(lstm, value=1.0):
    """Make the forget gate's effective bias (bias_ih + bias_hh, rows H:2H) equal `value` in every layer."""
    H = lstm.hidden_size
    with torch.no_grad():
        for name, p in lstm.named_parameters():
            if name.startswith("bias_ih"):
                p[H:2 * H] = value
            elif name.startswith("bias_hh"):
                p[H:2 * H] = 0.0
    return lstm


class Recall(nn.Module):
    """Reads tokens (B, T) and, at every step, guesses the sequence's FIRST token: logits (B, T, vocab)."""

    def __init__(self, vocab=8, hidden_size=32):
        super().__init__()
        self.vocab = vocab
        self.lstm = nn.LSTM(vocab, hidden_size, batch_first=True)   # holds the parameters only
        init_forget_bias(self.lstm, 1.0)
        self.head = nn.Linear(hidden_size, vocab)

    def forward(self, tokens):
        x = F.one_hot(tokens, self.vocab).to(self.head.weight.dtype)
        out, _ = lstm_forward(x, None, dict(self.lstm.named_parameters()), batch_first=True)
        return self.head(out)

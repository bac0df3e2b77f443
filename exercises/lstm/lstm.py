"""An LSTM from scratch, in PyTorch's parameter layout; the forget-gate bias; a model that must remember.

lstm_cell() is one step. lstm_forward() runs one layer over a sequence exactly like nn.LSTM
(batch_first both ways). init_forget_bias() sets the forget gate's bias of an nn.LSTM. Recall is a
model that must keep the first token of a sequence in its cell state for 20 steps.

PyTorch's layout, for input size I and hidden size H (one layer, suffix _l0):
    weight_ih_l0 (4H, I)   weight_hh_l0 (4H, H)   bias_ih_l0 (4H,)   bias_hh_l0 (4H,)
    the 4H rows are four blocks of H, in the order i, f, g, o:
    gates = x @ W_ih.T + b_ih + h @ W_hh.T + b_hh                  (B, 4H)
    i = σ(block 0)  f = σ(block 1)  g = tanh(block 2)  o = σ(block 3)
    c' = f ⊙ c + i ⊙ g          h' = o ⊙ tanh(c')

The check compares with nn.LSTMCell and nn.LSTM in float64. Do not use nn.LSTM or nn.LSTMCell in
lstm_cell or lstm_forward (the check forbids them): matrix products, torch.sigmoid, torch.tanh,
Tensor.chunk, torch.stack and Python loops are all fine.

Run `dltutor check lstm`.
"""

import torch
import torch.nn.functional as F
from torch import nn


def lstm_cell(x, h, c, W_ih, W_hh, b_ih, b_hh):
    """One LSTM step, as nn.LSTMCell computes it. Returns the pair (h', c').

    x (B, I), h and c (B, H), W_ih (4H, I), W_hh (4H, H), b_ih and b_hh (4H,).
    """
    # TODO: all four gates in one go: x @ W_ih.T + b_ih + h @ W_hh.T + b_hh, then split into 4 blocks
    # TODO: sigmoid for i, f, o; tanh for g; the new cell state; the new hidden state
    raise NotImplementedError


def lstm_forward(x, state, params, batch_first=False):
    """One LSTM layer exactly like nn.LSTM(I, H, batch_first=...). Returns (output, (h_n, c_n)).

    x        (T, B, I), or (B, T, I) when batch_first
    state    None (zeros) or the pair (h0, c0), each (1, B, H)
    params   a dict with nn.LSTM's names: "weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"
    output   h at every step: (T, B, H), or (B, T, H) when batch_first
    h_n, c_n the final states, (1, B, H) each, whatever batch_first says
    Gradients must flow to x, the state and the parameters.
    """
    # TODO: work time-first; zeros for h and c when state is None, else h0[0] and c0[0]
    # TODO: run lstm_cell over the T steps and keep every h
    # TODO: stack the outputs (transpose back when batch_first); h_n and c_n get a leading layer axis
    raise NotImplementedError


def init_forget_bias(lstm, value=1.0):
    """Make the forget gate's effective bias equal `value` in every layer of the nn.LSTM `lstm`.

    The gate adds both biases, so what counts is bias_ih_l{k}[H:2H] + bias_hh_l{k}[H:2H]: make that
    sum `value` (for example bias_ih's slice = value and bias_hh's slice = 0). Change nothing else,
    in place (under torch.no_grad()), on the existing parameters. Returns lstm.
    """
    # TODO: H = lstm.hidden_size; for each bias parameter, write rows H:2H in place
    raise NotImplementedError


class Recall(nn.Module):
    """Reads tokens (B, T) and, at every step, guesses the sequence's FIRST token.

    self.lstm = nn.LSTM(vocab, hidden_size, batch_first=True) only holds the parameters (do not call
    it): the forward uses your lstm_forward on dict(self.lstm.named_parameters()). Set its forget
    bias to 1 with init_forget_bias. self.head = nn.Linear(hidden_size, vocab).
    forward(tokens): one-hot the tokens (float, like the head's weight), run lstm_forward from a zero
    state, and return the head's logits at EVERY step: (B, T, vocab).
    """

    def __init__(self, vocab=8, hidden_size=32):
        super().__init__()
        # TODO: self.vocab, self.lstm, its forget bias, self.head
        raise NotImplementedError

    def forward(self, tokens):
        # TODO: F.one_hot(tokens, self.vocab).to(self.head.weight.dtype); lstm_forward; the head
        raise NotImplementedError

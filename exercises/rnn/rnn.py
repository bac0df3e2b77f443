"""An Elman RNN from scratch, in PyTorch's parameter layout, and truncated backpropagation through time.

rnn_cell() is one step of the recurrence. rnn_forward() runs it over a whole sequence and stacks
layers, exactly like nn.RNN (tanh, two biases, batch_first both ways). NextValue is a model that
owns the parameters under nn.RNN's names and predicts the next value of a series at every step.
train_tbptt() trains it on long sequences in chunks, carrying the hidden state from chunk to chunk.

PyTorch's layout, for layer k (I = input size, H = hidden size; layer k > 0 has input size H):
    weight_ih_l{k}  (H, I)     weight_hh_l{k}  (H, H)     bias_ih_l{k}  (H,)     bias_hh_l{k}  (H,)
    h_t = tanh(x_t @ W_ih.T + b_ih + h_{t-1} @ W_hh.T + b_hh)

The check compares with nn.RNN in float64. Do not use nn.RNN, nn.RNNCell (or nn.LSTM/nn.GRU) here:
the check forbids them. Matrix products, torch.tanh, torch.stack and Python loops are all fine.

Run `dltutor check rnn`.
"""

import math

import torch
import torch.nn.functional as F
from torch import nn


def rnn_cell(x, h, W_ih, W_hh, b_ih, b_hh):
    """One step: h' = tanh(x @ W_ih.T + b_ih + h @ W_hh.T + b_hh).

    x (B, I), h (B, H), W_ih (H, I), W_hh (H, H), b_ih and b_hh (H,). Returns (B, H).
    """
    # TODO: both matrix products (mind the transposes: rows of W are output units), both biases, tanh
    raise NotImplementedError


def rnn_forward(x, h0, params, num_layers=1, batch_first=False):
    """A multi-layer tanh RNN exactly like nn.RNN(I, H, num_layers, batch_first=...).

    x        (T, B, I), or (B, T, I) when batch_first
    h0       (num_layers, B, H), or None for zeros; layer k starts from h0[k]
    params   a dict with nn.RNN's names: params["weight_ih_l0"], params["bias_hh_l1"], ...
    returns  (output, h_n):
             output  the LAST layer's state at every step: (T, B, H), or (B, T, H) when batch_first
             h_n     each layer's final state: (num_layers, B, H) whatever batch_first says
    Layer k's input sequence is layer k-1's output sequence. Gradients must flow to x, h0 and params.
    """
    # TODO: work time-first: transpose x when batch_first; zeros for h0 when it is None
    # TODO: for each layer k: start from h0[k], run rnn_cell over the T steps, keep every state
    # TODO: the stacked states are the next layer's input; the last state goes into h_n
    # TODO: transpose the output back when batch_first; h_n = torch.stack of the layers' final states
    raise NotImplementedError


class NextValue(nn.Module):
    """A tanh RNN (your rnn_forward, batch_first, input size 1) and a linear head nn.Linear(H, 1).

    Parameters: weight_ih_l{k}, weight_hh_l{k}, bias_ih_l{k}, bias_hh_l{k} for k < num_layers, as
    nn.Parameter attributes with exactly those names and nn.RNN's shapes, initialised like PyTorch,
    uniform in ±1/√hidden_size; and self.head = nn.Linear(hidden_size, 1).
    forward(x, h=None): x (B, T, 1) -> (predictions (B, T, 1), h_n (num_layers, B, H)), starting
    from h (the state carried over from the previous chunk) when it is given.
    """

    def __init__(self, hidden_size=32, num_layers=1):
        super().__init__()
        # TODO: the four parameters of each layer (setattr(self, name, nn.Parameter(...))) and the head
        raise NotImplementedError

    def forward(self, x, h=None):
        # TODO: a dict of the recurrent parameters by name; rnn_forward(..., batch_first=True); the head
        raise NotImplementedError


def train_tbptt(model, optimizer, inputs, targets, chunk):
    """Truncated BPTT: one optimizer step per chunk of `chunk` time steps; returns each chunk's loss.

    inputs and targets are (B, T, 1). For each chunk [s, s + chunk) (the last one may be shorter):
    predict with model(x_chunk, h), take F.mse_loss against the chunk's targets, zero the gradients,
    backward, step. Carry the final state h to the next chunk, DETACHED, so that the gradient stops
    at the chunk boundary (the first chunk starts from h = None). Return the losses as floats.
    """
    # TODO: loop over the chunks; forward from the carried h; loss; zero_grad, backward, step
    # TODO: h = h.detach() before the next chunk; collect loss.item()
    raise NotImplementedError

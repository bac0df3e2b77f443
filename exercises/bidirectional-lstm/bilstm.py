"""A bidirectional LSTM from two one-directional ones, its h_n layout, a causality test, and a tagger.

Fill in each function; `dltutor check bidirectional-lstm` compares them with nn.LSTM(bidirectional=True).
"""

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence


def reverse_within_lengths(x, lengths, batch_first=True):
    """Reverse the first lengths[b] steps of each sequence; the padding stays at the end.

    x: (B, T, *) if batch_first else (T, B, *); lengths: (B,) int tensor.
    Returns a new tensor of x's shape: out[b, t] = x[b, lengths[b] - 1 - t] for t < lengths[b],
    and the padded steps t >= lengths[b] unchanged (or zero). Do not change x in place.
    Example: x[b] = [u, v, w, PAD, PAD] with lengths[b] = 3 becomes [w, v, u, PAD, PAD].
    """
    # TODO: an index tensor (B, T) with L - 1 - t on the real steps and t on the padding, then gather
    raise NotImplementedError("reverse_within_lengths")


def bidirectional(x, lengths, fwd, bwd):
    """What nn.LSTM(I, H, batch_first=True, bidirectional=True) computes, from two one-directional LSTMs.

    x: (B, T, I) padded batch; lengths: (B,) int tensor, in any order; fwd, bwd: nn.LSTM(I, H, batch_first=True)
    with one layer, the forward and the backward direction's weights.
    Returns (output, (h_n, c_n)) exactly as the bidirectional nn.LSTM on the packed batch, unpacked to x's T steps:
      output (B, T, 2H): [..., :H] the forward direction, [..., H:] the backward one AT THE SAME step t;
                         zero on the padded steps (like pad_packed_sequence)
      h_n, c_n (2, B, H): index 0 the forward direction's final state, index 1 the backward one's
    Neither direction may read the padding. Do not use a bidirectional nn.LSTM (or bidirectional=True) here.
    """
    # TODO: run fwd on the packed batch; run bwd on reverse_within_lengths(x), packed; reverse its output back;
    #       pad both back to T steps (total_length), concatenate the outputs, stack the states
    raise NotImplementedError("bidirectional")


def final_states(h_n, num_layers):
    """The LAST layer's final forward and backward states from a bidirectional LSTM's h_n.

    h_n: (num_layers * 2, B, H) as nn.LSTM(..., num_layers, bidirectional=True) returns it.
    Returns the pair (forward, backward), each (B, H).
    """
    # TODO: PyTorch indexes h_n by layer * 2 + direction
    raise NotImplementedError("final_states")


def dependence(model, tokens, vocab):
    """Which steps each output depends on, found by changing the tokens one step at a time.

    model: a function tokens (B, T) -> outputs (B, T, O); tokens: (B, T) ints in [0, vocab).
    Returns a (T, T) bool tensor D with D[t, s] True when the output at step t (of any sequence, any feature)
    changes as the token at step s is changed to another token (in every sequence of the batch).
    A model that may be trained to predict the next token must have no True above the diagonal.
    """
    # TODO: base = model(tokens); for each s, change tokens[:, s] to a different token, run the model again,
    #       and mark the steps t whose outputs changed
    raise NotImplementedError("dependence")


class Tagger(nn.Module):
    """Tokens (B, T) and lengths (B,) -> tag logits (B, T, tags), from one LSTM layer, one or both directions.

    Tagger(vocab, tags, hidden_size, bidirectional): with bidirectional=False the output at step t may depend on
    tokens 0..t only; with bidirectional=True on the whole sequence. Either way the padding must not matter.
    """

    def __init__(self, vocab, tags, hidden_size=16, bidirectional=True):
        super().__init__()
        # TODO: an nn.Embedding, an nn.LSTM(..., batch_first=True, bidirectional=bidirectional) and a head
        #       nn.Linear reading H or 2H features
        raise NotImplementedError("Tagger.__init__")

    def forward(self, tokens, lengths):
        # TODO: embed, run the LSTM on the packed batch, unpack to T steps, apply the head at every step
        raise NotImplementedError("Tagger.forward")

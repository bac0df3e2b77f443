"""Sequences in batches: padding, length masks, masked means and losses, sliding windows, packing.

Real sequences have different lengths. A batch is a rectangle, so the short ones are padded,
and from then on every computation must know which steps are real: a length mask says so.
pad() builds the rectangle; length_mask() marks the real steps; masked_mean() and
masked_cross_entropy() average over the real steps only; windows() cuts a long series into
(input window, future target) pairs; last_steps() reads each sequence's last real output;
packed_final_state() lets an nn.LSTM skip the padding altogether.

The check compares with PyTorch in float64 and puts large values in the padding, so anything
that reads it shows. Do not use torch.nn.utils.rnn.pad_sequence (or pad_packed_sequence,
pack_sequence) in pad(): the check forbids them there. Everywhere else any torch function is fine.

Run `dltutor check sequential-data`.
"""

import torch
import torch.nn.functional as F
from torch.nn.utils.rnn import pack_padded_sequence


def pad(seqs, value=0, batch_first=True):
    """Stack a list of tensors of shapes (L_i, *) into one padded tensor, like pad_sequence.

    T = the largest L_i (not necessarily the first sequence's). Returns (B, T, *) when batch_first,
    else (T, B, *), with out[b, :L_b] = seqs[b] and `value` everywhere after it (padding goes at the
    END of each sequence). Keep the sequences' dtype and device.
    Example: pad([tensor([1, 2, 3]), tensor([4])], value=0) = [[1, 2, 3], [4, 0, 0]].
    """
    # TODO: T = the longest length; make a (B, T, *) tensor full of `value` with the sequences' dtype/device
    # TODO: copy each sequence into the start of its row
    # TODO: transpose to (T, B, *) when batch_first is False
    raise NotImplementedError


def length_mask(lengths, max_len):
    """A bool tensor (B, max_len): True where t < lengths[b] (a real step), False on the padding.

    lengths is an int64 tensor (B,). Example: lengths [3, 1], max_len 3 ->
    [[True, True, True], [True, False, False]].
    """
    # TODO: compare a row of step indices 0..max_len-1 with a column of lengths (broadcasting)
    raise NotImplementedError


def masked_mean(x, mask):
    """The mean over the REAL time steps of each sequence.

    x (B, T) or (B, T, F); mask (B, T) bool. Returns (B,) or (B, F):
        out[b] = Σ_t mask[b, t]·x[b, t] / Σ_t mask[b, t]
    The padded entries of x may hold anything (the check puts large numbers there).
    Every sequence has at least one real step.
    """
    # TODO: zero the padded entries (masked_fill or torch.where; broadcast the mask over F)
    # TODO: sum over time and divide by each sequence's number of real steps
    raise NotImplementedError


def masked_cross_entropy(logits, targets, mask):
    """The mean cross-entropy over the REAL tokens of a padded batch (a scalar).

    logits (B, T, C), targets (B, T) int64, mask (B, T) bool. Every token counts once: the sum
    of the real tokens' losses divided by the number of real tokens. The padded targets hold
    arbitrary class ids in [0, C) and the padded logits arbitrary values.
    Equal to F.cross_entropy(logits.reshape(-1, C), targets with the padding set to -100,
    ignore_index=-100); compute it either way.
    """
    # TODO: per-token losses (F.cross_entropy wants the classes in dim 1: flatten to (B*T, C))
    # TODO: average over the real tokens only
    raise NotImplementedError


def windows(series, width, horizon=1):
    """Cut a 1-D series (N,) into sliding windows and the value `horizon` steps after each.

    inputs[i] = series[i : i + width]            shape (M, width)
    targets[i] = series[i + width - 1 + horizon]  shape (M,)
    with M = N - width - horizon + 1 windows (every start i whose target exists).
    horizon = 1 is the next value. A target must never lie inside its own window.
    """
    # TODO: the number of windows M
    # TODO: the input windows (a loop, torch.stack, Tensor.unfold or index arithmetic)
    # TODO: the targets, horizon steps after each window's LAST element
    raise NotImplementedError


def last_steps(output, lengths):
    """Each sequence's output at its last REAL step: output (B, T, H), lengths (B,) -> (B, H).

    out[b] = output[b, lengths[b] - 1]. output[:, -1] is wrong for every shorter sequence:
    it reads the padding.
    """
    # TODO: index the batch dim with arange(B) and the time dim with lengths - 1
    raise NotImplementedError


def packed_final_state(lstm, padded, lengths):
    """Run `lstm` (an nn.LSTM with batch_first=True) over a padded batch without reading the padding.

    padded (B, T, input_size), lengths (B,) int64 in ANY order (not sorted). Returns the LSTM's
    (h_n, c_n), each (num_layers, B, hidden_size), in the batch's own order: h_n[:, b] must equal
    the final state of sequence b run alone, padded[b:b+1, :lengths[b]].
    Use pack_padded_sequence; it wants the lengths on the CPU (lengths.cpu()).
    """
    # TODO: pack the batch (batch_first, and the lengths are not sorted)
    # TODO: run the LSTM on the packed batch and return its final (h_n, c_n)
    raise NotImplementedError

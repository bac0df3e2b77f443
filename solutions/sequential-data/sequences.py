"""Sequences in batches: padding, length masks, masked means and losses, windows, packing (reference solution)."""

import torch
import torch.nn.functional as F
from torch.nn.utils.rnn import pack_padded_sequence


def pad(seqs, value=0, batch_first=True):
    """Stack sequences of shapes (L_i, *) into (B, T, *) (or (T, B, *)), T = max L_i, filling with value."""
    T = max(len(s) for s in seqs)
    first = seqs[0]
    out = torch.full((len(seqs), T) + tuple(first.shape[1:]), value, dtype=first.dtype, device=first.device)
    for b, s in enumerate(seqs):
        out[b, :len(s)] = s
    return out if batch_first else out.transpose(0, 1)


def length_mask(lengths, max_len):
    """(B, max_len) bool: True at the real steps t < lengths[b], False on the padding."""
    steps = torch.arange(max_len, device=lengths.device)
    return steps.unsqueeze(0) < lengths.unsqueeze(1)


def masked_mean(x, mask):
    """The mean over the real time steps of each sequence: x (B, T, *), mask (B, T) -> (B, *)."""
    m = mask.reshape(mask.shape + (1,) * (x.dim() - 2)).to(x.dtype)
    total = torch.where(m.bool(), x, torch.zeros_like(x)).sum(dim=1)
    return total / m.sum(dim=1)


def masked_cross_entropy(logits, targets, mask):
    """The mean cross-entropy over the real tokens only: logits (B, T, C), targets and mask (B, T)."""
    C = logits.shape[-1]
    per_token = F.cross_entropy(logits.reshape(-1, C), targets.reshape(-1), reduction="none")
    m = mask.reshape(-1)
    return per_token[m].sum() / m.sum()


def windows(series, width, horizon=1):
    """Inputs series[i : i+width] and targets series[i+width-1+horizon], for every i that fits."""
    count = len(series) - width - horizon + 1
    starts = torch.arange(count, device=series.device)
    inputs = series[starts.unsqueeze(1) + torch.arange(width, device=series.device)]
    targets = series[starts + width - 1 + horizon]
    return inputs, targets


def last_steps(output, lengths):
    """output (B, T, H) -> (B, H): each sequence's output at its last real step, lengths[b] - 1."""
    rows = torch.arange(output.shape[0], device=output.device)
    return output[rows, lengths.to(output.device) - 1]


def packed_final_state(lstm, padded, lengths):
    """Run a batch_first nn.LSTM on a padded batch without reading padding; its (h_n, c_n), batch order kept."""
    packed = pack_padded_sequence(padded, lengths.cpu(), batch_first=True, enforce_sorted=False)
    _, (h_n, c_n) = lstm(packed)
    return h_n, c_n

"""A bidirectional LSTM from two unidirectional ones, its h_n layout, a causality test, and a tagger (solution)."""

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence


def reverse_within_lengths(x, lengths, batch_first=True):
    """Reverse the first lengths[b] steps of each sequence; the padding stays at the end."""
    if not batch_first:
        x = x.transpose(0, 1)                                   # work in (B, T, *)
    B, T = x.shape[:2]
    L = lengths.to(x.device).unsqueeze(1)                       # (B, 1)
    t = torch.arange(T, device=x.device).unsqueeze(0)           # (1, T)
    index = torch.where(t < L, L - 1 - t, t)                    # step t reads step L-1-t; padding stays
    index = index.reshape((B, T) + (1,) * (x.dim() - 2)).expand_as(x)
    out = x.gather(1, index)
    return out if batch_first else out.transpose(0, 1)


def run_packed(lstm, x, lengths):
    """A batch_first nn.LSTM over the real steps only: output (B, T, H) with zeros on the padding, h_n, c_n."""
    packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
    out, (h_n, c_n) = lstm(packed)
    out, _ = pad_packed_sequence(out, batch_first=True, total_length=x.shape[1])
    return out, h_n, c_n


def bidirectional(x, lengths, fwd, bwd):
    """Two one-layer batch_first LSTMs as nn.LSTM(bidirectional=True): (output (B, T, 2H), (h_n, c_n) (2, B, H))."""
    out_f, h_f, c_f = run_packed(fwd, x, lengths)
    out_b, h_b, c_b = run_packed(bwd, reverse_within_lengths(x, lengths), lengths)
    out_b = reverse_within_lengths(out_b, lengths)              # back to the original time order
    output = torch.cat([out_f, out_b], dim=2)
    return output, (torch.cat([h_f, h_b]), torch.cat([c_f, c_b]))


def final_states(h_n, num_layers):
    """The last layer's final forward and backward states, each (B, H), from h_n (num_layers * 2, B, H)."""
    layers = h_n.view(num_layers, 2, h_n.shape[1], h_n.shape[2])  # index layer * 2 + direction
    return layers[-1, 0], layers[-1, 1]


def dependence(model, tokens, vocab):
    """(T, T) bool: D[t, s] is True when model(tokens)[:, t] changes as the tokens at step s change."""
    T = tokens.shape[1]
    D = torch.zeros(T, T, dtype=torch.bool)
    with torch.no_grad():
        base = model(tokens)
        for s in range(T):
            changed = tokens.clone()
            changed[:, s] = (changed[:, s] + 1) % vocab
            diff = (model(changed) - base).abs()                # (B, T, O)
            D[:, s] = (diff.amax(dim=(0, 2)) > 0).cpu()
    return D


class Tagger(nn.Module):
    """Tokens (B, T) and lengths (B,) -> tag logits (B, T, tags), one LSTM layer in one or both directions."""

    def __init__(self, vocab, tags, hidden_size=16, bidirectional=True):
        super().__init__()
        self.embed = nn.Embedding(vocab, 16)
        self.lstm = nn.LSTM(16, hidden_size, batch_first=True, bidirectional=bidirectional)
        self.head = nn.Linear(hidden_size * (2 if bidirectional else 1), tags)

    def forward(self, tokens, lengths):
        out, _, _ = run_packed(self.lstm, self.embed(tokens), lengths)
        return self.head(out)

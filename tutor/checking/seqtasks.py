"""Synthetic sequence-to-sequence tasks (reversal, sorting, copying), batched, padded, seeded.

Token ids: PAD = 0, SOS = 1, EOS = 2; the symbols are 3 .. vocab_size - 1 (vocab_size counts the
three special tokens too). A source row is its symbols followed by PAD; a target row is the answer
followed by EOS and then PAD, so a target is one token longer than its source:

    from tutor.checking import seqtasks
    b = seqtasks.reversal(4, min_len=2, max_len=5, vocab_size=20, seed=0)
    b.src[0]   # tensor([5, 3, 0, 0, 0])     (4, 5): the widest row sets the width; PAD after
    b.src_len  # tensor([2, 5, 3, 2])
    b.tgt[0]   # tensor([3, 5, 2, 0, 0, 0])  (4, 6): reversed, then EOS = 2, then PAD
    b.tgt_len  # (4,)   long: src_len + 1 (the EOS counts)
    b = b.to(device)
    dec_in = seqtasks.shift_right(b.tgt)           # [SOS] + tgt[:-1]: a teacher-forced decoder's input
    seqtasks.token_accuracy(predicted, b.tgt)      # scored over the target's non-PAD positions
    seqtasks.sequence_accuracy(predicted, b.tgt)   # rows right up to and including EOS

The same seed (an int, or a torch.Generator to draw from) gives the same batch on every machine:
generation runs on the CPU; `.to(device)` moves it. Lengths are uniform in [min_len, max_len]
and symbols uniform over the vocabulary's non-special ids. This API is shared by several lessons
(encoder-decoder, seq2seq limits, attention, Transformers): extend it, do not change it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch

PAD, SOS, EOS = 0, 1, 2
SPECIALS = 3  # ids below this are special tokens; symbols are SPECIALS .. vocab_size - 1


@dataclass(frozen=True)
class SeqBatch:
    """A padded batch: src (B, S), src_len (B,), tgt (B, S + 1) ending in EOS, tgt_len (B,)."""

    src: torch.Tensor
    src_len: torch.Tensor
    tgt: torch.Tensor
    tgt_len: torch.Tensor

    def to(self, device) -> "SeqBatch":
        """The same batch on `device` (src_len and tgt_len too)."""
        return SeqBatch(*(t.to(device) for t in (self.src, self.src_len, self.tgt, self.tgt_len)))

    def __len__(self) -> int:
        return self.src.shape[0]


def _generator(seed: int | torch.Generator) -> torch.Generator:
    return seed if isinstance(seed, torch.Generator) else torch.Generator().manual_seed(int(seed))


def make_batch(n: int, min_len: int, max_len: int, vocab_size: int,
               answer: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], seed: int | torch.Generator) -> SeqBatch:
    """n random sources of lengths in [min_len, max_len]; the target of each is its answer, then EOS.

    answer(symbols (n, W), lengths (n,)) -> (n, W) gives each row's answer in its first `length`
    positions (what lies beyond is ignored), so a task is one vectorised function.
    """
    if not 1 <= min_len <= max_len:
        raise ValueError(f"need 1 <= min_len <= max_len, got {min_len}, {max_len}")
    if vocab_size <= SPECIALS:
        raise ValueError(f"vocab_size {vocab_size} leaves no symbols beside PAD, SOS and EOS")
    gen = _generator(seed)
    lengths = torch.randint(min_len, max_len + 1, (n,), generator=gen)
    symbols = torch.randint(SPECIALS, vocab_size, (n, max_len), generator=gen)
    width = int(lengths.max())
    symbols, pos = symbols[:, :width], torch.arange(width)
    real = pos < lengths[:, None]
    src = symbols.masked_fill(~real, PAD)
    tgt = torch.full((n, width + 1), PAD, dtype=torch.long)
    tgt[:, :width] = answer(src, lengths).masked_fill(~real, PAD)
    tgt[torch.arange(n), lengths] = EOS
    return SeqBatch(src, lengths, tgt, lengths + 1)


def _reversed(symbols: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    pos = torch.arange(symbols.shape[1])
    return symbols.gather(1, (lengths[:, None] - 1 - pos).clamp(min=0))


def _sorted(symbols: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    padded = symbols.masked_fill(torch.arange(symbols.shape[1]) >= lengths[:, None], torch.iinfo(torch.long).max)
    return padded.sort(dim=1).values


def reversal(n: int, min_len: int, max_len: int, vocab_size: int = 20, *, seed: int | torch.Generator) -> SeqBatch:
    """Targets are the sources reversed: [5, 9, 3] -> [3, 9, 5, EOS]."""
    return make_batch(n, min_len, max_len, vocab_size, _reversed, seed)


def sorting(n: int, min_len: int, max_len: int, vocab_size: int = 20, *, seed: int | torch.Generator) -> SeqBatch:
    """Targets are the sources sorted ascending: [5, 9, 3] -> [3, 5, 9, EOS]."""
    return make_batch(n, min_len, max_len, vocab_size, _sorted, seed)


def copying(n: int, min_len: int, max_len: int, vocab_size: int = 20, *, seed: int | torch.Generator) -> SeqBatch:
    """Targets are the sources themselves: [5, 9, 3] -> [5, 9, 3, EOS]."""
    return make_batch(n, min_len, max_len, vocab_size, lambda symbols, lengths: symbols.clone(), seed)


def shift_right(tgt: torch.Tensor, start: int = SOS) -> torch.Tensor:
    """The teacher-forced decoder input: [start] + tgt[:, :-1], same shape as tgt (B, T)."""
    first = torch.full_like(tgt[:, :1], start)
    return torch.cat([first, tgt[:, :-1]], dim=1)


def fit_width(tokens: torch.Tensor, width: int, fill: int = PAD) -> torch.Tensor:
    """tokens (B, L) cut or right-padded with `fill` to (B, width)."""
    if tokens.shape[1] >= width:
        return tokens[:, :width]
    pad = torch.full((tokens.shape[0], width - tokens.shape[1]), fill, dtype=tokens.dtype, device=tokens.device)
    return torch.cat([tokens, pad], dim=1)


def token_accuracy(predicted: torch.Tensor, tgt: torch.Tensor) -> float:
    """The fraction of the target's non-PAD tokens (EOS included) that `predicted` has at that position.

    predicted (B, L) is cut or padded with PAD to tgt's width, so stopping early costs the missing
    tokens and anything after the target's EOS is not scored.
    """
    pred = fit_width(predicted.to(tgt.device).long(), tgt.shape[1])
    real = tgt != PAD
    return ((pred == tgt) & real).sum().item() / max(int(real.sum()), 1)


def sequence_accuracy(predicted: torch.Tensor, tgt: torch.Tensor) -> float:
    """The fraction of rows whose every non-PAD target token (EOS included) is predicted in place."""
    pred = fit_width(predicted.to(tgt.device).long(), tgt.shape[1])
    real = tgt != PAD
    return (((pred == tgt) | ~real).all(dim=1)).double().mean().item()


def cut_after_eos(tokens: torch.Tensor) -> torch.Tensor:
    """tokens (B, L) with everything after each row's first EOS replaced by PAD (the EOS is kept)."""
    is_eos = tokens == EOS
    after = (is_eos.long().cumsum(dim=1) - is_eos.long()) > 0
    return tokens.masked_fill(after, PAD)

"""Fixed-weight decoders for checking greedy decoding: weights drawn by parameter name, and an EOS
bias tuned so that rows stop at many different steps (one EOS rule for all rows would then show).

    draw_by_name(model)                                   # whatever order the learner made them in
    spread_eos(model.decoder.out.bias, EOS, lambda: reference_decode(model), max_len)
"""

from __future__ import annotations

from typing import Callable

import torch


def draw_by_name(model: torch.nn.Module, seed: int = 1, scale: float = 0.5) -> None:
    """Every parameter := scale · N(0, 1), drawn in the order of the parameters' names from `seed`."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for _, p in sorted(model.named_parameters(), key=lambda kv: kv[0]):
            p.copy_(scale * torch.randn(p.shape, generator=gen, dtype=p.dtype).to(p.device))


def spread_eos(bias: torch.Tensor, eos: int, decode: Callable[[], torch.Tensor], max_len: int,
               shifts: tuple[float, float, int] = (-4.0, 4.0, 33)) -> float:
    """Set bias[eos] to the shift (of `shifts`, a linspace) under which `decode()` (tokens (B, max_len),
    decoding on past EOS) gives the most distinct first-EOS steps, plus one for a row that never
    stops. Returns the bias chosen."""
    with torch.no_grad():
        base = bias[eos].item()
        best, best_score = base, -1
        for shift in torch.linspace(*shifts).tolist():
            bias[eos] = base + shift
            ends = decode() == eos
            first = [int(r.nonzero()[0]) if r.any() else max_len for r in ends]
            score = len(set(first) - {max_len}) + (max_len in first)
            if score > best_score:
                best, best_score = base + shift, score
        bias[eos] = best
    return best

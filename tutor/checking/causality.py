"""Causality by perturbation: outputs at positions <= t must not depend on inputs after t, bit for bit.

    from tutor.checking.causality import expect_causal
    expect_causal(lambda x: layer(x, memory, tgt_mask=mask), x, "DecoderLayer(x, memory, tgt_mask)", ctx.gen,
                  hint="the self-attention needs attn_mask=tgt_mask")

For each t it replaces the inputs at positions t+1.. (float: random normal × scale; integer: random
ids in [0, max + 1)) and requires the outputs at positions 0..t to be exactly equal (a -inf mask
makes the blocked weights exactly 0, so a correct model moves by 0.0, not by 1e-16). On a leak it
searches for the first output position p and the nearest later input j that moves it, and fails with
"... leaks the future: position 1 sees position 3. Changing input 3 moved the output at position 1 by
0.231 (it must not move at all)". `first_leak` returns that (p, j, moved) triple, or None.
"""

from __future__ import annotations

from typing import Callable

import torch

from tutor.checking.errors import fail
from tutor.checking.formatting import number

Model = Callable[[torch.Tensor], torch.Tensor]


def _replacement(x: torch.Tensor, index: tuple, gen: torch.Generator, scale: float) -> torch.Tensor:
    shape = x[index].shape
    if x.is_floating_point():
        return torch.randn(shape, generator=gen, dtype=torch.float64).to(x.device, x.dtype) * scale
    return torch.randint(0, int(x.max()) + 1, shape, generator=gen).to(x.device, x.dtype)


def _at(dim: int, part) -> tuple:
    return (slice(None),) * dim + (part,)


def _run(fn: Model, x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return fn(x)


def first_leak(fn: Model, x: torch.Tensor, gen: torch.Generator, *, dim: int = 1,
               scale: float = 10.0) -> tuple[int, int, float] | None:
    """(p, j, moved): the first output position p whose output moves when only the input at j > p changes
    (the nearest such j: p + 1 first); None when no single later input moves any output."""
    base = _run(fn, x)
    T = x.shape[dim]
    for p in range(T - 1):
        for j in range(p + 1, T):
            changed = x.clone()
            changed[_at(dim, j)] = _replacement(x, _at(dim, j), gen, scale)
            moved = (_run(fn, changed).select(dim, p) - base.select(dim, p)).abs().max().item()
            if moved != 0.0:
                return p, j, moved
    return None


def expect_causal(fn: Model, x: torch.Tensor, name: str, gen: torch.Generator, *, dim: int = 1,
                  scale: float = 10.0, hint: str = "") -> None:
    """Fail unless changing x after position t leaves fn(x) at positions 0..t exactly unchanged, for every t."""
    base = _run(fn, x)
    T = x.shape[dim]
    for t in range(T - 1):
        changed = x.clone()
        later = _at(dim, slice(t + 1, None))
        changed[later] = _replacement(x, later, gen, scale)
        out = _run(fn, changed)
        early = _at(dim, slice(0, t + 1))
        if torch.equal(out[early], base[early]):
            continue
        found = first_leak(fn, x, gen, dim=dim, scale=scale)
        if found is None:  # only a change of several later inputs at once moves it
            diff = (out[early] - base[early]).abs()
            p = int(torch.nonzero(diff.amax(dim=tuple(i for i in range(diff.dim()) if i != dim)))[0])
            found = (p, t + 1, diff.max().item())
        p, j, moved = found
        tail = f". {hint}" if hint else ""
        fail(f"{name} leaks the future: position {p} sees position {j}. Changing input {j} moved the output at "
             f"position {p} by {number(moved, 3)} (it must not move at all){tail}")

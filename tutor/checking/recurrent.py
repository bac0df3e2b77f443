"""Pieces the recurrent-network checks share: running an nn.GRU/LSTM batch-first whatever its
layout, naming the modules an exercise must have, and the classic h_n shape mistakes.

    out, h_n = run_batch_first(model.gru, x)            # x (B, T, I) even if gru.batch_first is False
    expect_modules(model, "Encoder", embedding=nn.Embedding, gru=nn.GRU)
    expect_match("output, h_n", got, want, mistakes=dict(state_shape_mistakes(want)))
"""

from __future__ import annotations

from typing import Any

import torch

from tutor.checking.expect import expect, expect_type


def run_batch_first(rnn: Any, x: Any, h: Any = None) -> tuple[Any, Any]:
    """`rnn` (nn.RNN/GRU/LSTM) on batch-first x whatever rnn.batch_first says: (output (B, T, H), h_n)."""
    if rnn.batch_first:
        return rnn(x, h)
    out, h_n = rnn(x.transpose(0, 1), h)
    return out.transpose(0, 1), h_n


def expect_modules(obj: Any, label: str, **kinds: type) -> None:
    """Each attribute `name` of obj is an instance of kinds[name] (the check builds its reference from them)."""
    for name, kind in kinds.items():
        got = getattr(obj, name, None)
        prefix = "nn." if kind.__module__.startswith("torch.nn") else ""
        found = f" has no attribute {name}" if got is None else f".{name} is {type(got).__name__}"
        expect(isinstance(got, kind), f"{label}{found}; the exercise asks for "
               f"self.{name} = {prefix}{kind.__name__}(...) (the check computes its reference from it)")


def state_shape_mistakes(want: tuple[Any, Any], module: str = "") -> list[tuple[str, tuple[Any, Any]]]:
    """(why, (output, h_n)) for the classic h_n mistakes, given the right (output, h_n) of a stack."""
    output, h_n = want
    like = f"{module} returns it as" if module else "it must be"
    return [
        (f"h_n has the wrong shape: {like} (num_layers, B, H) = {tuple(h_n.shape)}, one final state per layer, "
         "even for one layer (stack them)", (output, h_n[-1])),
        ("h_n holds only the last layer's final state; it must hold every layer's: (num_layers, B, H)",
         (output, h_n[-1:])),
        ("h_n is the output of every time step; it is the final state of each layer, (num_layers, B, H)",
         (output, output)),
    ]


def expect_output_and_state(got: Any, label: str, twin: str) -> tuple[Any, Any]:
    """`got` is the pair (output, h_n) of tensors that `twin` ('nn.GRU') returns; returns it as a tuple."""
    expect(isinstance(got, (tuple, list)) and len(got) == 2,
           f"{label} returned {type(got).__name__}; return the pair (output, h_n) like {twin}")
    expect_type(got[0], torch.Tensor, f"{label}'s output")
    expect_type(got[1], torch.Tensor, f"{label}'s h_n")
    return tuple(got)

"""expect_causal / first_leak: exact perturbation tests of causality, naming the leaking position."""

from __future__ import annotations

import pytest
import torch

from tutor.checking import CheckFailed, carries_numbers, failure_of
from tutor.checking.causality import expect_causal, first_leak


def prefix_mean(x):
    """Causal: output t is the mean of inputs 0..t."""
    return x.cumsum(1) / torch.arange(1, x.shape[1] + 1, dtype=x.dtype)[None, :, None]


def peeks_ahead(k):
    """Output t adds input t + k (a mask shifted by k positions)."""
    def fn(x):
        out = x.clone()
        out[:, :-k] = out[:, :-k] + x[:, k:]
        return out
    return fn


def x_and_gen(seed=0):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(2, 6, 3, generator=gen, dtype=torch.float64), gen


def test_a_causal_function_passes():
    x, gen = x_and_gen()
    expect_causal(prefix_mean, x, "prefix_mean", gen)
    assert first_leak(prefix_mean, x, gen) is None


def test_a_leak_names_the_first_position_and_the_later_input():
    x, gen = x_and_gen()
    assert first_leak(peeks_ahead(2), x, gen)[:2] == (0, 2)
    message = failure_of(expect_causal, peeks_ahead(2), x, "peek", gen, hint="mask the future")
    assert "position 0 sees position 2" in message and "mask the future" in message
    assert carries_numbers(message)


def test_a_whole_sequence_mix_leaks_at_position_zero():
    x, gen = x_and_gen(1)
    with pytest.raises(CheckFailed, match="position 0 sees position 1"):
        expect_causal(lambda t: t.mean(1, keepdim=True).expand_as(t) + t, x, "mean over all", gen)


def test_token_inputs_are_perturbed_with_ids():
    gen = torch.Generator().manual_seed(0)
    tokens = torch.randint(0, 9, (3, 5), generator=gen)
    table = torch.randn(9, 4, generator=gen, dtype=torch.float64)
    causal = lambda t: table[t].cumsum(1)  # noqa: E731
    expect_causal(causal, tokens, "token prefix sums", gen)
    with pytest.raises(CheckFailed, match="sees position"):
        expect_causal(lambda t: table[t].flip(1).cumsum(1).flip(1), tokens, "suffix sums", gen)

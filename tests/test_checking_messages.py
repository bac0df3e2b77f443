"""The library's rule: every failure of a comparison helper gives the numbers (yours and expected)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from tutor.checking import (
    carries_numbers,
    expect_below,
    expect_close,
    expect_decreasing,
    expect_finite,
    expect_gradient,
    expect_initial_loss,
    expect_match,
    expect_metric,
    expect_rate,
    expect_shape,
    expect_uniform,
    expect_within_sigmas,
    failure_of,
    numbers_in,
    optimizer_alongside,
    step_alongside,
)

X = torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64)


class Ctx:
    def metric(self, *args):
        pass


class Doubled(nn.Linear):
    def forward(self, x):
        return 2 * super().forward(x)


class NoMomentum(torch.optim.SGD):  # a plain SGD where momentum SGD is expected
    def __init__(self, params, lr, momentum):
        super().__init__(params, lr=lr)


FAILING_CALLS = {
    "expect_close": lambda: expect_close(X + 1, X, "y"),
    "expect_close shape": lambda: expect_close(X[:2], X, "y"),
    "expect_match": lambda: expect_match("y", X * 2, X),
    "expect_match named mistake": lambda: expect_match("y", X * 2, X, {"doubled": lambda: X * 2}),
    "expect_match scalar mistake": lambda: expect_match("var", 2.0, 1.0, {"unbiased": 2.0}),
    "expect_match shape mistake": lambda: expect_match("loss", X.sum(), X, {"the sum": X.sum()}),
    "expect_match None": lambda: expect_match("f()", None, 0.5),
    "expect_match float32 fraction": lambda: expect_match("p", 0.5416666865, 0.5416666667, atol=0, rtol=0),
    "expect_gradient": lambda: expect_gradient(2 * X, X, "dW"),
    "expect_metric": lambda: expect_metric(Ctx(), "accuracy", 0.8999, 0.9),
    "expect_below": lambda: expect_below(0.51, 0.5, "final loss"),
    "expect_decreasing": lambda: expect_decreasing(np.ones(20), "loss"),
    "expect_initial_loss": lambda: expect_initial_loss(5.0, 10),
    "expect_finite": lambda: expect_finite(torch.tensor([1.0, float("inf")]), "y"),
    "expect_shape": lambda: expect_shape(torch.zeros(2, 3), (3, 2), "y"),
    "expect_rate": lambda: expect_rate("kept", 10, 100, 0.5),
    "expect_within_sigmas": lambda: expect_within_sigmas("mean", 1.0, 0.0, 0.1),
    "expect_uniform": lambda: expect_uniform("u", np.linspace(0, 0.5, 1000)),
    "step_alongside": lambda: step_alongside(Doubled(3, 2).double(), nn.Linear(3, 2).double(),
                                             torch.ones(4, 3, dtype=torch.float64), modes=("train",)),
    "optimizer_alongside": lambda: optimizer_alongside(
        lambda p: NoMomentum(p.values(), lr=0.1, momentum=0.9),
        lambda p: torch.optim.SGD(p.values(), lr=0.1, momentum=0.9),
        {"w": X.clone()}, [{"w": X.clone()} for _ in range(3)]),
}


@pytest.mark.parametrize("helper", sorted(FAILING_CALLS))
def test_every_comparison_failure_carries_yours_and_expected(helper):
    message = failure_of(FAILING_CALLS[helper])
    assert message is not None, f"{helper} did not fail"
    assert carries_numbers(message), f"{helper}: no numbers in {message!r}"


def test_numbers_are_told_apart_from_names():
    assert numbers_in("gradient dW1 at index (1, 2): yours 0.5, numeric -1e-06 (25%), nan") == [
        "1", "2", "0.5", "-1e-06", "25%", "nan"]
    assert not carries_numbers("BatchNorm1d is off: it uses the unbiased variance")
    assert failure_of(lambda: None) is None

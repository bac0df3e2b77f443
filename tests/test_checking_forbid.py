"""forbid() turns a call of PyTorch's own implementation into a named failure, however it is
reached, without tripping on PyTorch's internal calls; forbid_subclass() catches inheritance."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from tutor.checking import CheckFailed, forbid, forbid_subclass

X = torch.randn(8, 3, generator=torch.Generator().manual_seed(0))
REASON = "the exercise is to write it from torch operations"


def failure(fn, *args, **kwargs) -> str:
    with pytest.raises(CheckFailed) as info:
        fn(*args, **kwargs)
    return str(info.value)


def batch_norm(x):
    return F.batch_norm(x, None, None, training=True)


def own_batch_norm(x):
    return (x - x.mean(0)) / torch.sqrt(x.var(0, correction=0) + 1e-5)


def test_the_named_failure_gives_caller_call_line_and_reason():
    msg = failure(forbid(F.batch_norm, nn.BatchNorm1d, reason=REASON).call, batch_norm, X)
    assert msg.startswith("your batch_norm() calls F.batch_norm (test_checking_forbid.py:")
    assert msg.endswith(": " + REASON)
    with pytest.raises(CheckFailed, match=r"your batch_norm\(\) calls F.batch_norm"):
        with forbid(F.batch_norm, reason=REASON, caller="batch_norm()"):
            batch_norm(X)


def test_an_own_implementation_passes_and_returns_its_value():
    out = forbid(F.batch_norm, nn.BatchNorm1d).call(own_batch_norm, X)
    assert torch.allclose(out, batch_norm(X), atol=1e-6)


@pytest.mark.parametrize("banned, fn, seen", [
    (F.batch_norm, lambda x: nn.BatchNorm1d(3)(x), "F.batch_norm"),
    (nn.BatchNorm1d, lambda x: nn.BatchNorm1d(3)(x), "nn.BatchNorm1d"),
    (F.dropout, lambda x: nn.Dropout(0.5)(x), "F.dropout"),
    (F.softmax, lambda x: torch.softmax(x, 1), "torch.softmax"),
    (F.softmax, lambda x: x.softmax(1), "Tensor.softmax"),
    (F.softmax, lambda x: nn.Softmax(1)(x), "F.softmax"),
    (torch.sigmoid, lambda x: F.sigmoid(x), "Tensor.sigmoid"),
    (torch.sigmoid, lambda x: torch.special.expit(x), "torch.special.expit"),
    (F.relu, lambda x: x.clone().relu_(), "Tensor.relu_"),
    (F.cross_entropy, lambda x: nn.CrossEntropyLoss()(x, torch.zeros(8, dtype=torch.long)), "F.cross_entropy"),
    ("logsumexp", lambda x: x.logsumexp(1), "Tensor.logsumexp"),
])
def test_every_way_to_reach_a_banned_function_is_caught(banned, fn, seen):
    assert f"calls {seen} (" in failure(forbid(banned).call, fn, X)


def test_internal_calls_and_other_functions_do_not_trip():
    assert forbid(F.batch_norm).call(lambda x: nn.Linear(3, 2)(x), X).shape == (8, 2)
    assert forbid(F.linear).call(lambda x: F.cross_entropy(x, torch.zeros(8, dtype=torch.long)), X).dim() == 0
    soft = forbid(F.softmax, F.log_softmax).call(lambda x: torch.exp(x) / torch.exp(x).sum(1, keepdim=True), X)
    assert torch.allclose(soft.sum(1), torch.ones(8))


def test_a_learner_that_swallows_exceptions_still_fails():
    def sneaky(x):
        try:
            return F.batch_norm(x, None, None, training=True)
        except Exception:
            return x

    assert "F.batch_norm" in failure(forbid(F.batch_norm).call, sneaky, X)


def test_the_ban_ends_with_the_block_and_other_errors_pass_through():
    with forbid(F.batch_norm):
        pass
    batch_norm(X)  # allowed again
    with pytest.raises(NotImplementedError):
        with forbid(F.batch_norm):
            raise NotImplementedError


def test_optimizer_classes_and_their_subclasses_are_caught_on_step():
    p = torch.zeros(3, requires_grad=True)
    p.grad = torch.ones(3)

    class Adam(torch.optim.Adam):
        pass

    assert "calls torch.optim.Adam.step" in failure(forbid(torch.optim.Adam).call, lambda: torch.optim.Adam([p]).step())
    assert "Adam.step (Adam is a subclass of torch.optim.Adam)" in failure(
        forbid(torch.optim.Adam).call, lambda: Adam([p]).step())
    forbid(torch.optim.Adam).call(lambda: torch.optim.SGD([p], lr=0.1).step())


def test_forbid_subclass_catches_inheritance_and_borrowed_methods():
    class Adam(torch.optim.Adam):
        pass

    class Borrowed(torch.optim.Optimizer):
        step = torch.optim.AdamW.step

    class Own(torch.optim.Optimizer):
        def step(self):
            pass

    class BN(nn.Module):
        forward = nn.BatchNorm1d.forward

    assert failure(forbid_subclass, Adam, torch.optim.Adam, reason=REASON) == (
        f"your Adam is a subclass of torch.optim.Adam: {REASON}")
    assert "your Borrowed.step is torch.optim.AdamW.step" in failure(forbid_subclass, Borrowed, torch.optim.AdamW)
    assert "your BN.forward is nn.BatchNorm1d.forward" in failure(forbid_subclass, BN(), nn.BatchNorm1d)
    forbid_subclass(Own, torch.optim.Adam, torch.optim.AdamW)
    forbid_subclass(nn.Linear(2, 2), nn.BatchNorm1d)


def test_unknown_targets_are_a_usage_error():
    with pytest.raises(TypeError):
        forbid(3)

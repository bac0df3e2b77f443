"""explained_step() turns an in-place update outside no_grad and a step over a missing .grad into
advice, and leaves a right step (and other errors) alone."""

from __future__ import annotations

import pytest
import torch

from tutor.checking import explained_step, failure_of


class Plain:
    def __init__(self, params, no_grad=True, skip_none=True):
        self.params, self.no_grad, self.skip_none = list(params), no_grad, skip_none

    def step(self):
        with torch.set_grad_enabled(not self.no_grad):
            for p in self.params:
                if p.grad is None and self.skip_none:
                    continue
                p.sub_(0.1 * p.grad)


def leaf(grad=True):
    p = torch.ones(3, requires_grad=True)
    if grad:
        p.grad = torch.ones(3)
    return p


def test_a_right_step_runs_and_updates():
    p = leaf()
    explained_step(Plain([p])).step()
    assert torch.allclose(p.detach(), torch.full((3,), 0.9))


def test_an_update_outside_no_grad_is_explained():
    message = failure_of(explained_step(Plain([leaf()], no_grad=False), "SGD").step)
    assert message is not None and message.startswith("SGD.step() raised: a leaf Variable")
    assert "wrap the update in `with torch.no_grad():`" in message


def test_a_missing_gradient_is_explained():
    message = failure_of(explained_step(Plain([leaf(grad=False)], skip_none=False)).step)
    assert message is not None and message.startswith("Plain.step() crashed (TypeError:")
    assert "on a parameter whose .grad is None" in message


def test_other_errors_pass_through():
    class Broken:
        def step(self):
            raise ValueError("something else")

    with pytest.raises(ValueError, match="something else"):
        explained_step(Broken()).step()

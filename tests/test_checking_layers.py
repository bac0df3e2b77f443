"""tutor.checking.layers: the checks' own forward hooks (shapes in call order, hooks always removed)."""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn

from tutor.checking.layers import hook_count, is_leaf, leaf_shapes, trace_calls


def nested() -> nn.Module:
    return nn.Sequential(OrderedDict(
        features=nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)),
        flatten=nn.Flatten(),
        head=nn.Linear(2 * 4 * 4, 3),
    ))


def test_leaf_shapes_names_every_leaf_in_call_order_and_removes_its_hooks():
    model = nested()
    shapes = leaf_shapes(model, torch.zeros(5, 1, 8, 8))
    assert shapes == [("features.0", (5, 2, 8, 8)), ("features.1", (5, 2, 8, 8)), ("features.2", (5, 2, 4, 4)),
                      ("flatten", (5, 32)), ("head", (5, 3))]
    assert hook_count(model) == 0
    assert is_leaf(model.head) and not is_leaf(model.features)


def test_a_module_called_twice_appears_twice():
    class Twice(nn.Module):
        def __init__(self):
            super().__init__()
            self.act = nn.Tanh()

        def forward(self, x):
            return self.act(self.act(x))

    assert leaf_shapes(Twice(), torch.zeros(2, 4)) == [("act", (2, 4)), ("act", (2, 4))]


def test_trace_calls_keeps_the_calls_before_a_crash_and_returns_the_error():
    model = nn.Sequential(nn.Conv2d(1, 2, 5), nn.Flatten(), nn.Linear(50, 3))  # 8x8 -> 2x4x4 = 32, not 50
    calls, error = trace_calls(model, torch.zeros(3, 1, 8, 8), (nn.Conv2d, nn.Linear))
    assert isinstance(error, RuntimeError)
    assert [(c.name, c.input_shape, c.output_shape) for c in calls] == [
        ("0", (3, 1, 8, 8), (3, 2, 4, 4)), ("2", (3, 32), None)]
    assert hook_count(model) == 0

"""checking.decoding: weights drawn by name, and an EOS bias that spreads the stopping steps."""

from __future__ import annotations

import torch
from torch import nn

from tutor.checking.decoding import draw_by_name, spread_eos


def test_draw_by_name_ignores_the_order_modules_were_made_in():
    a = nn.Sequential()
    a.add_module("x", nn.Linear(2, 3))
    a.add_module("y", nn.Linear(3, 1))
    b = nn.Sequential()
    b.add_module("y", nn.Linear(3, 1))
    b.add_module("x", nn.Linear(2, 3))
    draw_by_name(a)
    draw_by_name(b)
    assert all(torch.equal(a.state_dict()[k], b.state_dict()[k]) for k in a.state_dict())


def test_spread_eos_picks_the_bias_with_the_most_distinct_stops():
    bias = torch.zeros(3)
    thresholds = torch.tensor([0.5, 1.5, 2.5, 9.0])  # row r says EOS (1) from step r on when bias[1] > its threshold

    def decode():
        steps = torch.arange(5)
        return torch.where((steps[None, :] >= torch.arange(4)[:, None]) & (bias[1] > thresholds[:, None]), 1, 0)

    chosen = spread_eos(bias, 1, decode, max_len=5)
    assert chosen == bias[1].item() and 2.5 < chosen  # rows 0-2 stop at steps 0, 1, 2; row 3 never does

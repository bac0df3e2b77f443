"""checking.recurrent: batch-first runs of either layout, module expectations, h_n mistakes."""

from __future__ import annotations

import torch
from torch import nn

from tutor.checking import failure_of
from tutor.checking.recurrent import expect_modules, run_batch_first, state_shape_mistakes


def test_run_batch_first_gives_the_same_whatever_the_layout():
    torch.manual_seed(0)
    a, b = nn.GRU(3, 4, batch_first=True), nn.GRU(3, 4, batch_first=False)
    b.load_state_dict(a.state_dict())
    x = torch.randn(2, 5, 3)
    (oa, ha), (ob, hb) = run_batch_first(a, x), run_batch_first(b, x)
    assert oa.shape == (2, 5, 4) and torch.equal(oa, ob) and torch.equal(ha, hb)


def test_expect_modules_names_the_missing_or_wrong_attribute():
    class Enc(nn.Module):
        def __init__(self):
            super().__init__()
            self.embedding = nn.Linear(2, 2)

    assert failure_of(expect_modules, Enc(), "Encoder", embedding=nn.Linear) is None
    message = failure_of(expect_modules, Enc(), "Encoder", embedding=nn.Embedding, gru=nn.GRU)
    assert "Encoder.embedding is Linear" in message and "self.embedding = nn.Embedding(...)" in message
    assert "has no attribute gru" in failure_of(expect_modules, Enc(), "Encoder", gru=nn.GRU)


def test_state_shape_mistakes_are_the_three_classic_ones():
    out, h_n = torch.zeros(5, 2, 4), torch.ones(3, 2, 4)
    table = state_shape_mistakes((out, h_n), "nn.GRU")
    assert [got[1].shape for _, got in table] == [(2, 4), (1, 2, 4), (5, 2, 4)]
    assert "nn.GRU returns it as (num_layers, B, H) = (3, 2, 4)" in table[0][0]


def test_expect_output_and_state_wants_a_pair_of_tensors():
    from tutor.checking.recurrent import expect_output_and_state

    pair = (torch.zeros(2), torch.zeros(1))
    assert failure_of(expect_output_and_state, pair, "gru_forward()", "nn.GRU") is None
    assert "return the pair (output, h_n) like nn.GRU" in failure_of(
        expect_output_and_state, torch.zeros(2), "gru_forward()", "nn.GRU")
    assert "gru_forward()'s h_n" in failure_of(expect_output_and_state, (torch.zeros(2), 3), "gru_forward()", "nn.GRU")

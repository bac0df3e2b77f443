"""tutor.checking.meta: building a model on the meta device without torch's slow meta normal_."""

import torch
from torch import nn

from tutor.checking.counts import parameter_count
from tutor.checking.meta import on_meta


def test_builds_on_meta_and_counts():
    with on_meta():
        model = nn.Sequential(nn.Embedding(1000, 64), nn.Linear(64, 32))
        nn.init.normal_(model[1].weight, std=0.02)
        nn.init.trunc_normal_(model[0].weight, std=0.02)
    assert model[0].weight.is_meta and model[1].weight.is_meta
    assert parameter_count(model) == 1000 * 64 + 64 * 32 + 32


def test_real_tensors_keep_normal_and_it_is_restored():
    with on_meta():
        real = torch.zeros(1000, device="cpu").normal_(0.0, 1.0)
    assert 0.8 < real.std().item() < 1.2
    assert "normal_" not in torch.Tensor.__dict__  # inherited from TensorBase again
    assert not torch.empty(3).is_meta


def test_restored_after_an_error():
    try:
        with on_meta():
            raise ValueError("boom")
    except ValueError:
        pass
    assert "normal_" not in torch.Tensor.__dict__
    assert torch.zeros(100).normal_().std().item() > 0.5

"""fit() and evaluate(): the reference loops that checks compare learners' loops with."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from tutor.checking import accuracy, data, evaluate, fit


def spirals():
    X, y = data.to_tensors(*data.spirals(np.random.default_rng(0), n=300, classes=3))
    return X, y


def model(seed: int = 0, p: float = 0.1) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(2, 32), nn.ReLU(), nn.Dropout(p), nn.Linear(32, 3))


def test_fit_returns_one_loss_per_step_and_learns():
    X, y = spirals()
    net = model()
    seen = []
    losses = fit(net, (X, y), F.cross_entropy, torch.optim.Adam(net.parameters(), lr=0.02), epochs=12,
                 batch_size=64, shuffle=True, generator=torch.Generator().manual_seed(0),
                 on_step=lambda step, loss: seen.append(step))
    assert len(losses) == 12 * 5 and seen == list(range(60))  # 300 rows in batches of 64: 5 per epoch
    assert all(isinstance(v, float) for v in losses)
    assert np.mean(losses[-10:]) < 0.75 * np.mean(losses[:10])  # 0.57 vs 0.93 with this seed


def test_fit_on_a_loader_equals_fit_on_tensors_without_shuffle():
    X, y = spirals()
    a, b = model(p=0.0), model(p=0.0)  # no dropout: iterating a DataLoader draws from the global RNG
    la = fit(a, (X, y), F.cross_entropy, torch.optim.SGD(a.parameters(), lr=0.1), epochs=2, batch_size=50)
    loader = DataLoader(TensorDataset(X, y), batch_size=50)
    lb = fit(b, loader, F.cross_entropy, torch.optim.SGD(b.parameters(), lr=0.1), epochs=2)
    assert len(la) == 12 and np.allclose(la, lb)


def test_evaluate_runs_in_eval_mode_without_grad_and_restores_the_modes():
    X, y = spirals()
    net = model()
    net.train()
    net[2].eval()  # a submodule in its own mode stays so
    calls = []
    net.register_forward_hook(lambda m, i, o: calls.append((m.training, torch.is_inference_mode_enabled())))
    acc = evaluate(net, (X, y), batch_size=128)
    assert calls == [(False, True)] * 3
    assert net.training and not net[2].training and net[0].training
    with torch.no_grad():
        assert acc == accuracy(net.eval()(X), y)


def test_evaluate_concatenates_batches_so_each_example_counts_once():
    X, y = spirals()
    net = model().eval()
    loss = evaluate(net, DataLoader(TensorDataset(X, y), batch_size=64), metric=F.cross_entropy)
    with torch.no_grad():
        assert abs(loss - F.cross_entropy(net(X), y).item()) < 1e-6


def test_expect_reported_accuracy_names_a_percentage_and_a_stale_history():
    from types import SimpleNamespace

    from torch import nn
    from torch.utils.data import TensorDataset

    from tutor.checking.messages import failure_of
    from tutor.checking.training import expect_reported_accuracy

    x = torch.eye(4)
    data = TensorDataset(x, torch.arange(4))
    model = nn.Linear(4, 4, bias=False)
    with torch.no_grad():
        model.weight.copy_(torch.eye(4))  # scores 1.0
    ctx = SimpleNamespace(device=torch.device("cpu"), metric=lambda *a, **k: None)
    assert failure_of(expect_reported_accuracy, ctx, model, data, 1.0, "acc", 0.5) is None
    assert "a percentage" in failure_of(expect_reported_accuracy, ctx, model, data, 100.0, "acc", 0.5)
    assert "scores 1.0000" in failure_of(expect_reported_accuracy, ctx, model, data, 0.75, "acc", 0.5)

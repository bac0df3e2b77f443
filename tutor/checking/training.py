"""Reference training and evaluation loops for checks (not learner code): minimal and deterministic.

    losses = fit(model, (X, y), F.cross_entropy, torch.optim.SGD(model.parameters(), lr=0.1),
                 epochs=20, batch_size=32, shuffle=True, generator=torch.Generator().manual_seed(0))
    acc = evaluate(model, (X_val, y_val))                 # accuracy, in eval mode under inference_mode
    val_loss = evaluate(model, val_loader, metric=F.cross_entropy)

`data` is a pair of tensors (X, y) or an iterable of (x, y) batches such as a DataLoader.
`evaluate` restores the train/eval mode of every submodule afterwards (makemore's evaluate()).
"""

from __future__ import annotations

from typing import Any, Callable, Iterable, Iterator

import torch
from torch import nn


def accuracy(logits: torch.Tensor, y: torch.Tensor) -> float:
    """The fraction of rows whose argmax is the label."""
    return (logits.argmax(dim=-1) == y).double().mean().item()


def _is_pair(data: Any) -> bool:
    return isinstance(data, (tuple, list)) and len(data) == 2 and all(isinstance(t, torch.Tensor) for t in data)


def batches(data: Any, batch_size: int | None = None, shuffle: bool = False,
            generator: torch.Generator | None = None) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """The (x, y) batches of `data`: a loader as it is, or a pair (X, y) cut into `batch_size` rows."""
    if not _is_pair(data):
        yield from data
        return
    X, y = data
    n = len(X)
    order = torch.randperm(n, generator=generator) if shuffle else torch.arange(n)
    size = batch_size or n
    for start in range(0, n, size):
        idx = order[start:start + size].to(X.device)
        yield X[idx], y[idx]


def _to(batch: Iterable[torch.Tensor], device: Any) -> list[torch.Tensor]:
    return [t.to(device) if device is not None else t for t in batch]


def fit(model: nn.Module, data: Any, loss_fn: Callable[..., torch.Tensor], optimizer: torch.optim.Optimizer,
        epochs: int = 1, *, batch_size: int | None = None, shuffle: bool = False,
        generator: torch.Generator | None = None, device: Any = None,
        on_step: Callable[[int, float], None] | None = None) -> list[float]:
    """Train in training mode: zero_grad, forward, loss, backward, step per batch; the loss of each step."""
    model.train()
    losses: list[float] = []
    for _ in range(epochs):
        for batch in batches(data, batch_size, shuffle, generator):
            x, y = _to(batch, device)
            optimizer.zero_grad()
            loss = loss_fn(model(x), y)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
            if on_step is not None:
                on_step(len(losses) - 1, losses[-1])
    return losses


def evaluate(model: nn.Module, data: Any, metric: Callable[[torch.Tensor, torch.Tensor], Any] = accuracy, *,
             batch_size: int | None = None, device: Any = None) -> float:
    """metric(all outputs, all labels) in eval mode under inference_mode; the model's modes are restored.

    The outputs of all batches are concatenated first, so a mean metric weighs every example once.
    """
    modes = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        with torch.inference_mode():
            outs, ys = [], []
            for batch in batches(data, batch_size):
                x, y = _to(batch, device)
                outs.append(model(x))
                ys.append(y)
            value = metric(torch.cat(outs), torch.cat(ys))
    finally:
        for module, training in modes:
            module.training = training
    return float(value.item() if isinstance(value, torch.Tensor) else value)


def expect_reported_accuracy(ctx: Any, model: nn.Module, test: Any, reported: float, name: str,
                             threshold: float) -> float:
    """The model a learner's training returned scores ≥ `threshold` on the whole `test` set (eval mode,
    no_grad), and the history's last test accuracy (`reported`) is that same fraction. Returns the accuracy.

        acc = expect_reported_accuracy(ctx, model, test_set, history["test_acc"][-1], "test accuracy", 0.85)
    """
    from torch.utils.data import DataLoader

    from tutor.checking import expect, expect_metric, fail

    model.eval()
    correct = 0
    with torch.no_grad():
        for x, y in DataLoader(test, batch_size=500):
            correct += (model(x.to(ctx.device)).argmax(1).cpu() == y).sum().item()
    acc = correct / len(test)
    expect_metric(ctx, name, acc, threshold)
    if abs(reported - 100 * acc) < 0.5:
        fail(f"history['test_acc'][-1] is {reported:.4g}, a percentage; evaluate() returns a fraction ({acc:.4f})")
    expect(abs(reported - acc) < 2e-3,
           f"history['test_acc'][-1] is {reported:.4f} but the returned model scores {acc:.4f} on the "
           "whole test set: record evaluate(model, test_loader, ...) of the model you return, after each "
           "epoch (in eval mode, over every test image)")
    return acc

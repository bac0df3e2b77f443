"""Overfitting, seen and measured.

Four pieces, checked by `dltutor check overfitting`:

1. split_dataset(): a reproducible random train/validation split.
2. learning_curves(): train, then measure train and validation loss and accuracy, every epoch.
3. generalization_gap(): how much worse the model does on data it has not seen.
4. overfit_epoch(): the epoch where the validation loss turns up (smoothing and patience).

The check then trains a wide MLP on only 100 digits and watches it overfit.

Given (from the first-classifier lesson): make_mlp, train_one_epoch and evaluate. Use them; do not change them.
"""

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, Subset, random_split


# ----------------------------------------------------------------------------- given


def make_mlp(hidden: int = 256, layers: int = 2) -> nn.Sequential:
    """Flatten, then `layers` x (Linear, ReLU) of width `hidden`, then Linear(hidden, 10)."""
    modules: list[nn.Module] = [nn.Flatten()]
    width = 28 * 28
    for _ in range(layers):
        modules += [nn.Linear(width, hidden), nn.ReLU()]
        width = hidden
    modules.append(nn.Linear(width, 10))
    return nn.Sequential(*modules)


def train_one_epoch(model: nn.Module, loader: DataLoader, optimizer: torch.optim.Optimizer,
                    loss_fn: nn.Module, device: torch.device) -> list[float]:
    """One pass of training over `loader`; returns the loss of every batch."""
    model.train()
    losses = []
    for images, labels in loader:
        images, labels = images.to(device), labels.to(device)
        optimizer.zero_grad()
        loss = loss_fn(model(images), labels)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


def evaluate(model: nn.Module, loader: DataLoader, loss_fn: nn.Module,
             device: torch.device) -> tuple[float, float]:
    """(mean loss per example, accuracy) over `loader`, in eval mode and without gradients."""
    model.eval()
    total_loss, correct, count = 0.0, 0, 0
    with torch.no_grad():
        for images, labels in loader:
            images, labels = images.to(device), labels.to(device)
            logits = model(images)
            total_loss += loss_fn(logits, labels).item() * labels.size(0)
            correct += (logits.argmax(dim=1) == labels).sum().item()
            count += labels.size(0)
    return total_loss / count, correct / count


# ----------------------------------------------------------------------------- yours


def split_dataset(dataset: Dataset, train_fraction: float = 0.8, seed: int = 0) -> tuple[Subset, Subset]:
    """Split `dataset` at random into (train, validation), the same way for the same seed.

    train_size = int(train_fraction * len(dataset)); val_size = len(dataset) - train_size.
    Use torch.utils.data.random_split with those two sizes and
    generator=torch.Generator().manual_seed(seed), so the split depends on `seed` only
    (not on whatever the global random state happens to be). Return its two Subsets,
    training part first.
    """
    # TODO
    raise NotImplementedError


def learning_curves(model: nn.Module, train_loader: DataLoader, val_loader: DataLoader,
                    optimizer: torch.optim.Optimizer, loss_fn: nn.Module, device: torch.device,
                    epochs: int) -> dict[str, list[float]]:
    """Train `model` for `epochs` epochs and record how it does after each one.

    Every epoch: train_one_epoch on train_loader; THEN evaluate on train_loader and on
    val_loader (both after the epoch, in eval mode, so the two numbers are comparable).
    Return {"train_loss": [...], "val_loss": [...], "train_acc": [...], "val_acc": [...]},
    each a list of `epochs` Python floats, entry e describing the model after epoch e.
    """
    # TODO
    raise NotImplementedError


def generalization_gap(history: dict[str, list[float]], metric: str = "loss") -> list[float]:
    """The generalisation gap per epoch, positive when the model does worse on unseen data.

    metric="loss": val_loss - train_loss.  metric="acc": train_acc - val_acc.
    Return a list of floats, one per epoch.
    """
    # TODO
    raise NotImplementedError


def overfit_epoch(val_losses: list[float], patience: int = 3, window: int = 3,
                  min_delta: float = 0.0) -> int | None:
    """The epoch (0-based) where the validation loss turns up, or None if it has not (yet).

    1. Smooth with a TRAILING moving average (the past and present only):
           s[t] = mean(val_losses[max(0, t - window + 1) : t + 1])
       so the first epochs average over fewer values; window=1 means no smoothing.
    2. Scan t = 0, 1, 2, ... as if training were running, keeping the best (lowest) s so far
       and its epoch:
         - if s[t] < best - min_delta: a new best; reset the count of bad epochs to 0;
         - otherwise: one more bad epoch; when the count reaches `patience`, stop and
           return the epoch of the best.
    3. If the scan ends before the patience runs out, return None.
    """
    # TODO
    raise NotImplementedError

"""Overfitting, seen and measured (reference solution).

A reproducible train/validation split, learning curves recorded per epoch, the
generalisation gap, and a detector for the epoch where the validation loss turns up.

Given (from the first-classifier lesson): make_mlp, train_one_epoch and evaluate.
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
    """Split `dataset` at random into (train, validation), the same way for the same seed."""
    train_size = int(train_fraction * len(dataset))
    val_size = len(dataset) - train_size
    generator = torch.Generator().manual_seed(seed)
    train, val = random_split(dataset, [train_size, val_size], generator=generator)
    return train, val


def learning_curves(model: nn.Module, train_loader: DataLoader, val_loader: DataLoader,
                    optimizer: torch.optim.Optimizer, loss_fn: nn.Module, device: torch.device,
                    epochs: int) -> dict[str, list[float]]:
    """Train for `epochs`; after each epoch evaluate on both loaders and record the four numbers."""
    history: dict[str, list[float]] = {"train_loss": [], "val_loss": [], "train_acc": [], "val_acc": []}
    for _ in range(epochs):
        train_one_epoch(model, train_loader, optimizer, loss_fn, device)
        train_loss, train_acc = evaluate(model, train_loader, loss_fn, device)
        val_loss, val_acc = evaluate(model, val_loader, loss_fn, device)
        history["train_loss"].append(train_loss)
        history["val_loss"].append(val_loss)
        history["train_acc"].append(train_acc)
        history["val_acc"].append(val_acc)
    return history


def generalization_gap(history: dict[str, list[float]], metric: str = "loss") -> list[float]:
    """Per epoch: val_loss - train_loss for "loss", train_acc - val_acc for "acc"."""
    if metric == "loss":
        return [v - t for t, v in zip(history["train_loss"], history["val_loss"])]
    if metric == "acc":
        return [t - v for t, v in zip(history["train_acc"], history["val_acc"])]
    raise ValueError(f"metric must be 'loss' or 'acc', not {metric!r}")


def smooth_trailing(values: list[float], window: int) -> list[float]:
    """s[t] = mean of values[max(0, t - window + 1) : t + 1] (the past and present only)."""
    v = np.asarray(values, dtype=np.float64)
    return [float(v[max(0, t - window + 1): t + 1].mean()) for t in range(len(v))]


def overfit_epoch(val_losses: list[float], patience: int = 3, window: int = 3,
                  min_delta: float = 0.0) -> int | None:
    """The epoch of the lowest smoothed validation loss, once `patience` epochs failed to beat it."""
    smoothed = smooth_trailing(val_losses, window)
    best, best_epoch, bad = float("inf"), None, 0
    for epoch, value in enumerate(smoothed):
        if value < best - min_delta:
            best, best_epoch, bad = value, epoch, 0
        else:
            bad += 1
            if bad == patience:
                return best_epoch
    return None

"""Your first complete network, on handwritten digits (reference solution).

The whole pipeline: data -> model -> training loop -> evaluation -> saving.

The data is SyntheticDigits, an offline stand-in for MNIST with the same interface
as torchvision.datasets.MNIST: ds[i] is (image, label) with the image a float32 tensor
of shape (1, 28, 28) in [0, 1] and the label an int 0..9; ds.data is a uint8 tensor
(n, 28, 28) and ds.targets the int64 labels. If you have the real MNIST files,
MNISTFiles(root, train=True) reads them with the same interface.

Run this file (`python hello_digits.py`) to train and see the accuracy yourself.
"""

from pathlib import Path

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from tutor.checking.digits import SyntheticDigits


class Normalize:
    """(x - mean) / std for a one-channel image: torchvision.transforms.Normalize((mean,), (std,))."""

    def __init__(self, mean: float, std: float):
        self.mean = mean
        self.std = std

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std


def pixel_mean_std(dataset: Dataset) -> tuple[float, float]:
    """The mean and standard deviation of ALL pixel values of `dataset`, as Python floats.

    Pixels scaled to [0, 1] (what dataset[i] returns). dataset.data is a uint8 tensor
    of shape (n, 28, 28) holding 0..255. One mean and one std over every pixel of every
    image (not a per-image std averaged).
    """
    pixels = dataset.data.to(torch.float64) / 255.0
    return pixels.mean().item(), pixels.std().item()


def make_loaders(train_set: Dataset, test_set: Dataset, batch_size: int = 64) -> tuple[DataLoader, DataLoader]:
    """DataLoaders for training (shuffled every epoch) and testing (in order)."""
    train_loader = DataLoader(train_set, batch_size=batch_size, shuffle=True)
    test_loader = DataLoader(test_set, batch_size=batch_size, shuffle=False)
    return train_loader, test_loader


class Net(nn.Module):
    """784 -> hidden -> 10: Flatten, Linear, ReLU, Dropout(p_drop), Linear. Returns logits."""

    def __init__(self, hidden: int = 128, p_drop: float = 0.2):
        super().__init__()
        self.flatten = nn.Flatten()
        self.fc1 = nn.Linear(28 * 28, hidden)
        self.relu = nn.ReLU()
        self.dropout = nn.Dropout(p_drop)
        self.fc2 = nn.Linear(hidden, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.flatten(x)
        x = self.dropout(self.relu(self.fc1(x)))
        return self.fc2(x)


def train_one_epoch(model: nn.Module, loader: DataLoader, optimizer: torch.optim.Optimizer,
                    loss_fn: nn.Module, device: torch.device) -> list[float]:
    """One pass over `loader`; returns the loss of every batch as Python floats."""
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
    """(mean loss per example, accuracy as a fraction) over the whole loader; changes nothing."""
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


def fit(train_set: Dataset, test_set: Dataset, device: torch.device, epochs: int = 2,
        batch_size: int = 64, lr: float = 1e-3, hidden: int = 128) -> tuple[Net, dict[str, list[float]]]:
    """Train a Net with Adam and cross-entropy; evaluate on the test set after every epoch."""
    train_loader, test_loader = make_loaders(train_set, test_set, batch_size)
    model = Net(hidden).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    loss_fn = nn.CrossEntropyLoss()
    history: dict[str, list[float]] = {"train_loss": [], "test_loss": [], "test_acc": []}
    for _ in range(epochs):
        history["train_loss"] += train_one_epoch(model, train_loader, optimizer, loss_fn, device)
        test_loss, test_acc = evaluate(model, test_loader, loss_fn, device)
        history["test_loss"].append(test_loss)
        history["test_acc"].append(test_acc)
    return model, history


def save_model(model: nn.Module, path: str | Path) -> None:
    """Save the model's parameters (its state_dict, not the module object) to `path`."""
    torch.save(model.state_dict(), path)


def load_model(path: str | Path, hidden: int = 128) -> Net:
    """A new Net(hidden) with the parameters saved at `path`, ready to predict (eval mode)."""
    model = Net(hidden)
    model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    model.eval()
    return model


def main() -> None:
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    train_set = SyntheticDigits(6000, seed=0, train=True)
    test_set = SyntheticDigits(2000, seed=0, train=False)
    mean, std = pixel_mean_std(train_set)          # statistics of the TRAINING set only
    train_set.transform = test_set.transform = Normalize(mean, std)
    model, history = fit(train_set, test_set, device, epochs=3)
    for epoch, (loss, acc) in enumerate(zip(history["test_loss"], history["test_acc"]), 1):
        print(f"epoch {epoch}: test loss {loss:.3f}, test accuracy {acc:.1%}")
    save_model(model, "digits_mlp.pt")
    print("saved to digits_mlp.pt")


if __name__ == "__main__":
    main()

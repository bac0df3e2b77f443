"""Your first complete network, on handwritten digits.

The whole pipeline: data -> model -> training loop -> evaluation -> saving.

The data is SyntheticDigits, an offline stand-in for MNIST with the same interface
as torchvision.datasets.MNIST: ds[i] is (image, label) with the image a float32 tensor
of shape (1, 28, 28) in [0, 1] and the label an int 0..9; ds.data is a uint8 tensor
(n, 28, 28) and ds.targets the int64 labels. If you have the real MNIST files,
MNISTFiles(root, train=True) reads them with the same interface
(`from tutor.checking.digits import MNISTFiles`).

Fill in the functions in order; `dltutor check first-classifier` tests each one. When they all
work, run this file (`python hello_digits.py`) to train and see the accuracy yourself.
"""

from pathlib import Path

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from tutor.checking.digits import SyntheticDigits


class Normalize:
    """(x - mean) / std for a one-channel image: torchvision.transforms.Normalize((mean,), (std,)).

    Given: use it as a dataset's transform, e.g. train_set.transform = Normalize(mean, std).
    """

    def __init__(self, mean: float, std: float):
        self.mean = mean
        self.std = std

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std


def pixel_mean_std(dataset: Dataset) -> tuple[float, float]:
    """The mean and standard deviation of ALL pixel values of `dataset`, as Python floats.

    Use the pixels scaled to [0, 1] (what dataset[i] returns). dataset.data is a uint8
    tensor of shape (n, 28, 28) holding 0..255: convert it to float first. One mean and
    one std over every pixel of every image (not a per-image std averaged).
    Return (mean, std).
    """
    # TODO: dataset.data -> float, / 255, then .mean() and .std(); .item() for floats
    raise NotImplementedError


def make_loaders(train_set: Dataset, test_set: Dataset, batch_size: int = 64) -> tuple[DataLoader, DataLoader]:
    """Return (train_loader, test_loader), both with `batch_size`.

    The training loader reshuffles at every epoch; the test loader keeps the test set
    in its order. Neither drops the last, smaller batch.
    A batch of the training loader is (images float32 (batch, 1, 28, 28), labels int64 (batch,)).
    """
    # TODO: DataLoader(dataset, batch_size=..., shuffle=...)
    raise NotImplementedError


class Net(nn.Module):
    """A multi-layer perceptron for 28x28 digits:

        Flatten -> Linear(784, hidden) -> ReLU -> Dropout(p_drop) -> Linear(hidden, 10)

    forward(x) takes images of shape (batch, 1, 28, 28) and returns LOGITS of shape
    (batch, 10): raw scores, no softmax (nn.CrossEntropyLoss applies log-softmax itself).
    Make every layer in __init__ (the dropout as an nn.Dropout module, so that
    model.eval() switches it off).
    """

    def __init__(self, hidden: int = 128, p_drop: float = 0.2):
        super().__init__()
        # TODO: self.flatten, self.fc1, self.relu, self.dropout, self.fc2
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # TODO: apply the layers in order and return the logits
        raise NotImplementedError


def train_one_epoch(model: nn.Module, loader: DataLoader, optimizer: torch.optim.Optimizer,
                    loss_fn: nn.Module, device: torch.device) -> list[float]:
    """Train `model` for one pass over `loader` and return the loss of every batch.

    Put the model in training mode first. For every batch: move images and labels to
    `device`, clear the old gradients, compute the logits and the loss, backpropagate,
    take an optimizer step. Return a list with one Python float per batch (loss.item()).
    """
    # TODO: model.train(); for images, labels in loader: ...
    raise NotImplementedError


def evaluate(model: nn.Module, loader: DataLoader, loss_fn: nn.Module,
             device: torch.device) -> tuple[float, float]:
    """Return (mean loss per example, accuracy) of `model` over the whole `loader`.

    Evaluation must not change the model or build autograd graphs: put the model in eval
    mode (dropout off) and compute under torch.no_grad(). `loss_fn` returns the MEAN loss
    of a batch; weight it by the batch size so that a short last batch counts for what it
    is. accuracy = correct predictions / number of examples, a float in [0, 1]; the
    predicted class is the index of the largest logit. Return two Python floats.
    """
    # TODO
    raise NotImplementedError


def fit(train_set: Dataset, test_set: Dataset, device: torch.device, epochs: int = 2,
        batch_size: int = 64, lr: float = 1e-3, hidden: int = 128) -> tuple[Net, dict[str, list[float]]]:
    """Train a Net(hidden) on `train_set` and evaluate it on `test_set` after every epoch.

    Use make_loaders(train_set, test_set, batch_size), a Net moved to `device`,
    torch.optim.Adam(model.parameters(), lr=lr) and nn.CrossEntropyLoss().
    Return (model, history) with history a dict of lists:
        "train_loss": every batch loss of every epoch (train_one_epoch's lists, joined)
        "test_loss":  one value per epoch (from evaluate)
        "test_acc":   one value per epoch (from evaluate)
    """
    # TODO
    raise NotImplementedError


def save_model(model: nn.Module, path: str | Path) -> None:
    """Save the model's parameters (its state_dict, not the module object) to `path`."""
    # TODO: torch.save(...)
    raise NotImplementedError


def load_model(path: str | Path, hidden: int = 128) -> Net:
    """Return a new Net(hidden) holding the parameters saved at `path`, in eval mode.

    torch.load(path, map_location="cpu", weights_only=True) reads a state_dict back.
    """
    # TODO: Net(hidden), load_state_dict(...), eval()
    raise NotImplementedError


def main() -> None:
    """Given: the whole pipeline, once every function above works."""
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

"""LeNet-5 (LeCun, Bottou, Bengio and Haffner, 1998) in PyTorch.

The network, layer by layer, for a batch of B digits (shapes without the batch):

    input 1x28x28, padded to 32x32 (padding=2 in C1, or F.pad(x, (2, 2, 2, 2)))
    C1  nn.Conv2d(1, 6, kernel_size=5), tanh     -> 6x28x28
    S2  nn.AvgPool2d(2)                          -> 6x14x14
    C3  nn.Conv2d(6, 16, kernel_size=5), tanh    -> 16x10x10  (every map sees all 6 S2 maps)
    S4  nn.AvgPool2d(2)                          -> 16x5x5
    C5  nn.Conv2d(16, 120, kernel_size=5), tanh  -> 120x1x1   (or flatten + nn.Linear(400, 120))
    F6  nn.Linear(120, 84), tanh                 -> 84
    output nn.Linear(84, 10)                     -> 10 logits (no softmax: nn.CrossEntropyLoss has it)

61,706 parameters in all. The data is SyntheticDigits (`from tutor.checking.digits import
SyntheticDigits`), an offline stand-in for MNIST with torchvision's interface: ds[i] is
(image float32 (1, 28, 28) in [0, 1], label int).

Fill in the functions in order; `dltutor check lenet-5` tests each one. Then run this file
(`python lenet.py`) to print the shapes and train the network.
"""

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from tutor.checking.digits import SyntheticDigits


class LeNet5(nn.Module):
    """LeNet-5 with tanh, 2x2 average pooling and the full C3 (see the table above).

    Make each layer in __init__ as a named attribute: self.c1, self.s2, self.c3, self.s4, self.c5,
    self.f6 and self.output (plus nn.Flatten and nn.Tanh modules if you like), so that layer_shapes()
    shows their names. forward(x) takes (B, 1, 28, 28) images and returns (B, 10) logits.
    """

    def __init__(self):
        super().__init__()
        # TODO: C1 (with padding=2), S2, C3, S4, C5, F6, output
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # TODO: C1 -> tanh -> S2 -> C3 -> tanh -> S4 -> C5 -> tanh -> flatten -> F6 -> tanh -> output
        raise NotImplementedError


def layer_shapes(model: nn.Module, x: torch.Tensor) -> list[tuple[str, tuple[int, ...]]]:
    """Run `model` on `x` once and return (name, output shape) for every leaf module, in call order.

    A leaf module has no submodules (Conv2d, Tanh, AvgPool2d, Linear, Flatten; not a Sequential,
    not the model itself). Its name is the one model.named_modules() gives ("c1", or "features.0"
    inside a Sequential), its shape tuple(output.shape), batch first: ("c1", (2, 6, 28, 28)).
    Use forward hooks: module.register_forward_hook(fn) calls fn(module, inputs, output) after
    every call of the module and returns a handle. Remove every hook before returning (handle.remove()),
    even when forward raises. A module called twice appears twice.
    """
    # TODO: register a hook on every leaf, run the model under torch.no_grad(), remove the hooks
    raise NotImplementedError


def count_params(model: nn.Module) -> int:
    """The number of parameters of `model`: every number in every weight and bias, as a Python int."""
    # TODO: one line with model.parameters() and p.numel()
    raise NotImplementedError


def evaluate(model: nn.Module, loader: DataLoader, device: torch.device) -> float:
    """The accuracy of `model` over every example of `loader`: correct predictions / examples.

    Evaluate in eval mode and under torch.no_grad(). Return a Python float in [0, 1].
    """
    # TODO
    raise NotImplementedError


def train_lenet(train_set: Dataset, test_set: Dataset, device: torch.device, epochs: int = 2,
                batch_size: int = 32, lr: float = 2e-3) -> tuple[LeNet5, dict[str, list[float]]]:
    """Train a new LeNet5 on `train_set`, evaluating it on `test_set` after every epoch.

    A shuffled DataLoader of `batch_size` for training, an ordered one for testing, the model moved
    to `device`, torch.optim.Adam(model.parameters(), lr=lr) and nn.CrossEntropyLoss().
    Return (model, history) with history a dict of lists:
        "train_loss": the loss of every training batch (loss.item()), all epochs in order
        "test_acc":   evaluate(model, test_loader, device) after each epoch
    """
    # TODO: remember model.train() at the start of each epoch (evaluate leaves it in eval mode)
    raise NotImplementedError


def main() -> None:
    """Given: print the shapes and the count, then train on synthetic digits."""
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    model = LeNet5()
    for name, shape in layer_shapes(model, torch.zeros(1, 1, 28, 28)):
        print(f"{name:8} {shape}")
    print(f"{count_params(model):,} parameters")
    train_set, test_set = SyntheticDigits(6000, seed=0), SyntheticDigits(2000, seed=0, train=False)
    mean, std = 0.15, 0.28  # about the pixel mean and std of SyntheticDigits
    train_set.transform = test_set.transform = lambda t: (t - mean) / std
    _, history = train_lenet(train_set, test_set, device, epochs=3)
    for epoch, acc in enumerate(history["test_acc"], 1):
        print(f"epoch {epoch}: test accuracy {acc:.1%}")


if __name__ == "__main__":
    main()

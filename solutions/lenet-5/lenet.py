"""LeNet-5 (LeCun, Bottou, Bengio and Haffner, 1998) in PyTorch (reference solution).

    input 1x28x28, padded to 32x32
    C1  conv 6@5x5, tanh     -> 6x28x28
    S2  2x2 average pooling  -> 6x14x14
    C3  conv 16@5x5, tanh    -> 16x10x10   (every C3 map sees all 6 S2 maps: the "full" C3)
    S4  2x2 average pooling  -> 16x5x5
    C5  conv 120@5x5, tanh   -> 120x1x1    (the same as flatten + Linear(400, 120))
    F6  Linear(120, 84), tanh
    output Linear(84, 10)    -> 10 logits (nn.CrossEntropyLoss applies log-softmax)

61,706 parameters. Run this file (`python lenet.py`) to print the shapes and train it.
"""

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from tutor.checking.digits import SyntheticDigits


class LeNet5(nn.Module):
    """LeNet-5 with tanh, average pooling and the full C3; forward returns (batch, 10) logits."""

    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(1, 6, kernel_size=5, padding=2)   # 28x28 padded to 32x32
        self.s2 = nn.AvgPool2d(kernel_size=2)                  # stride defaults to kernel_size
        self.c3 = nn.Conv2d(6, 16, kernel_size=5)
        self.s4 = nn.AvgPool2d(kernel_size=2)
        self.c5 = nn.Conv2d(16, 120, kernel_size=5)
        self.flatten = nn.Flatten()
        self.f6 = nn.Linear(120, 84)
        self.output = nn.Linear(84, 10)
        self.act = nn.Tanh()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.s2(self.act(self.c1(x)))
        x = self.s4(self.act(self.c3(x)))
        x = self.flatten(self.act(self.c5(x)))
        x = self.act(self.f6(x))
        return self.output(x)


def layer_shapes(model: nn.Module, x: torch.Tensor) -> list[tuple[str, tuple[int, ...]]]:
    """(name, output shape) of every leaf module, in the order the modules run on `x`."""
    shapes: list[tuple[str, tuple[int, ...]]] = []
    handles = []
    for name, module in model.named_modules():
        if next(module.children(), None) is None:  # a leaf: no submodules
            hook = lambda m, inputs, output, name=name: shapes.append((name, tuple(output.shape)))
            handles.append(module.register_forward_hook(hook))
    try:
        with torch.no_grad():
            model(x)
    finally:
        for handle in handles:
            handle.remove()
    return shapes


def count_params(model: nn.Module) -> int:
    """The number of parameters (weights and biases) of `model`."""
    return sum(p.numel() for p in model.parameters())


def evaluate(model: nn.Module, loader: DataLoader, device: torch.device) -> float:
    """Accuracy of `model` over every example of `loader`, in eval mode and without autograd."""
    model.eval()
    correct, count = 0, 0
    with torch.no_grad():
        for images, labels in loader:
            images, labels = images.to(device), labels.to(device)
            correct += (model(images).argmax(dim=1) == labels).sum().item()
            count += labels.size(0)
    return correct / count


def train_lenet(train_set: Dataset, test_set: Dataset, device: torch.device, epochs: int = 2,
                batch_size: int = 32, lr: float = 2e-3) -> tuple[LeNet5, dict[str, list[float]]]:
    """Train a LeNet5 with Adam and cross-entropy; evaluate on `test_set` after every epoch."""
    train_loader = DataLoader(train_set, batch_size=batch_size, shuffle=True)
    test_loader = DataLoader(test_set, batch_size=256, shuffle=False)
    model = LeNet5().to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    loss_fn = nn.CrossEntropyLoss()
    history: dict[str, list[float]] = {"train_loss": [], "test_acc": []}
    for _ in range(epochs):
        model.train()
        for images, labels in train_loader:
            images, labels = images.to(device), labels.to(device)
            optimizer.zero_grad()
            loss = loss_fn(model(images), labels)
            loss.backward()
            optimizer.step()
            history["train_loss"].append(loss.item())
        history["test_acc"].append(evaluate(model, test_loader, device))
    return model, history


def main() -> None:
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

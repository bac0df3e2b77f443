"""Your first CNN: two conv-ReLU-pool stages, flatten, one linear layer (reference solution).

    input (N, C, H, W), here 1×28×28 digits or 3×32×32 shapes
    conv1  Conv2d(C, 16, 3)  -> 16×26×26   (3×3 kernel, no padding: 28 - 3 + 1)
    ReLU, MaxPool2d(2)       -> 16×13×13
    conv2  Conv2d(16, 32, 3) -> 32×11×11
    ReLU, MaxPool2d(2)       -> 32×5×5     (floor(11 / 2) = 5: the last row and column are dropped)
    flatten                  -> 800
    fc     Linear(800, 10)   -> 10 logits  (nn.CrossEntropyLoss applies log-softmax itself)

For 3×32×32 the same stages give 30, 15, 13, 6: fc is Linear(32·6·6 = 1152, 10).
Run this file (`python cnn.py`) to print the shapes and train on both datasets.
"""

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from tutor.checking.digits import SyntheticDigits
from tutor.checking.shapes import SyntheticShapes

OUTPUT_INIT_SCALE = 0.01  # the output layer's initial weights are scaled by this: logits start near 0


def to_nchw(images: torch.Tensor) -> torch.Tensor:
    """uint8 images (N, H, W, C), or (N, H, W) with one channel, as float32 (N, C, H, W) in [0, 1]."""
    x = torch.as_tensor(images)
    if x.dim() == 3:
        x = x.unsqueeze(-1)  # (N, H, W) -> (N, H, W, 1)
    return x.permute(0, 3, 1, 2).to(torch.float32) / 255.0


def conv_out(size: int, kernel_size: int, padding: int = 0, stride: int = 1) -> int:
    """The output size of a convolution or pooling along one dimension."""
    return (size + 2 * padding - kernel_size) // stride + 1


class SmallCNN(nn.Module):
    """conv(16, 3×3) → ReLU → max-pool 2 → conv(32, 3×3) → ReLU → max-pool 2 → flatten → linear."""

    def __init__(self, in_channels: int = 1, num_classes: int = 10, image_size: int = 28):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, 16, kernel_size=3)
        self.conv2 = nn.Conv2d(16, 32, kernel_size=3)
        self.relu = nn.ReLU()
        self.pool = nn.MaxPool2d(kernel_size=2)
        size = conv_out(conv_out(image_size, 3), 2, stride=2)   # after conv1 and the first pooling
        size = conv_out(conv_out(size, 3), 2, stride=2)         # after conv2 and the second pooling
        self.fc = nn.Linear(32 * size * size, num_classes)
        with torch.no_grad():
            self.fc.weight.mul_(OUTPUT_INIT_SCALE)
            self.fc.bias.zero_()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(self.relu(self.conv1(x)))
        x = self.pool(self.relu(self.conv2(x)))
        x = x.flatten(1)  # (N, 32, s, s) -> (N, 32·s·s): keep the batch dimension
        return self.fc(x)


def layer_shapes(model: nn.Module, x: torch.Tensor) -> list[tuple[str, tuple[int, ...]]]:
    """(name, output shape) of every leaf module call, in the order the modules run on `x`."""
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


def train_cnn(train_set: Dataset, test_set: Dataset, device: torch.device, epochs: int = 2,
              batch_size: int = 32, lr: float = 2e-3) -> tuple[SmallCNN, dict[str, list[float]]]:
    """Train a SmallCNN sized for the images of `train_set` with Adam; evaluate after every epoch."""
    image, _ = train_set[0]
    channels, size = image.shape[0], image.shape[-1]
    model = SmallCNN(channels, len(train_set.classes), size).to(device)
    train_loader = DataLoader(train_set, batch_size=batch_size, shuffle=True)
    test_loader = DataLoader(test_set, batch_size=256, shuffle=False)
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


def standardize(train_set, test_set) -> None:
    """Give both sets a transform that standardises each channel with the training set's statistics."""
    x = train_set.data.to(torch.float64) / 255.0
    x = x.reshape(len(train_set), -1, x.shape[-1]) if x.dim() == 4 else x.reshape(len(train_set), -1, 1)
    mean, std = x.mean(dim=(0, 1)).float(), x.std(dim=(0, 1)).float()
    train_set.transform = test_set.transform = lambda t: (t - mean.view(-1, 1, 1)) / std.view(-1, 1, 1)


def main() -> None:
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    for name, (train_set, test_set) in {
        "digits": (SyntheticDigits(3000, seed=0), SyntheticDigits(1000, seed=0, train=False)),
        "shapes": (SyntheticShapes(3000, seed=0), SyntheticShapes(1000, seed=0, train=False)),
    }.items():
        image, _ = train_set[0]
        model = SmallCNN(image.shape[0], 10, image.shape[-1])
        print(f"{name}: {tuple(image.shape)}")
        for layer, shape in layer_shapes(model, image.unsqueeze(0)):
            print(f"  {layer:6} {shape}")
        print(f"  {sum(p.numel() for p in model.parameters()):,} parameters")
        standardize(train_set, test_set)
        _, history = train_cnn(train_set, test_set, device, epochs=3)
        print(f"  first loss {history['train_loss'][0]:.3f}, test accuracy {history['test_acc'][-1]:.1%}")


if __name__ == "__main__":
    main()

"""Your first CNN: two conv-ReLU-pool stages, flatten, one linear layer.

    input (N, C, H, W): 1×28×28 digits or 3×32×32 shapes
    conv1  nn.Conv2d(C, 16, kernel_size=3)  -> 16×26×26   (for a 28×28 input, no padding)
    ReLU, 2×2 max pooling                   -> 16×13×13
    conv2  nn.Conv2d(16, 32, kernel_size=3) -> 32×11×11
    ReLU, 2×2 max pooling                   -> 32×5×5     (floor(11 / 2) = 5)
    flatten                                 -> 800
    fc     nn.Linear(800, num_classes)      -> logits

Fill in every function marked TODO; `dltutor check first-cnn` tells you what is right and wrong.
Run this file (`python cnn.py`) to print the layer shapes and train on both datasets.
"""

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from tutor.checking.digits import SyntheticDigits
from tutor.checking.shapes import SyntheticShapes

OUTPUT_INIT_SCALE = 0.01  # scale the output layer's initial weights by this (and zero its bias)


def to_nchw(images: torch.Tensor) -> torch.Tensor:
    """uint8 images (N, H, W, C), or (N, H, W) with one channel, as float32 (N, C, H, W) in [0, 1].

    This is how CIFAR10.data and SyntheticShapes.data store images (channels last, 0..255);
    nn.Conv2d wants channels first. A (N, H, W) batch (MNIST, SyntheticDigits) gets C = 1.
    """
    # TODO: add a channel dim to (N, H, W); move the channels to dim 1 (which method moves an axis?);
    # convert to float32 and scale to [0, 1].
    raise NotImplementedError("to_nchw")


class SmallCNN(nn.Module):
    """conv(16, 3×3) → ReLU → 2×2 pool → conv(32, 3×3) → ReLU → 2×2 pool → flatten → linear."""

    def __init__(self, in_channels: int = 1, num_classes: int = 10, image_size: int = 28):
        super().__init__()
        # TODO: self.conv1, self.conv2 (3×3 kernels; padding is your choice), the ReLU and pooling
        # layers, and self.fc = nn.Linear(in_features, num_classes), where in_features is the number
        # of values the second pooling leaves for one image_size × image_size image: compute it from
        # image_size, never hard-code it (SmallCNN(3, 10, 32) must work as well as SmallCNN(1, 10, 28)).
        # Then, under torch.no_grad(), multiply self.fc.weight by OUTPUT_INIT_SCALE and zero self.fc.bias.
        raise NotImplementedError("SmallCNN.__init__")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, in_channels, image_size, image_size) images -> (N, num_classes) logits (no softmax)."""
        # TODO: conv1, ReLU, pool; conv2, ReLU, pool; flatten keeping the batch dim; fc.
        raise NotImplementedError("SmallCNN.forward")


def layer_shapes(model: nn.Module, x: torch.Tensor) -> list[tuple[str, tuple[int, ...]]]:
    """(name, output shape) of every leaf module call, in the order the modules run on `x`.

    Use forward hooks (module.register_forward_hook) on the leaf modules of model.named_modules()
    (those without children), run the model once under torch.no_grad(), and remove the hooks.
    For SmallCNN(1, 10, 28) and x of shape (2, 1, 28, 28) the first entry is ('conv1', (2, 16, 26, 26)).
    """
    # TODO
    raise NotImplementedError("layer_shapes")


def evaluate(model: nn.Module, loader: DataLoader, device: torch.device) -> float:
    """Accuracy (a float in [0, 1]) of `model` over every example of `loader`, in eval mode, without autograd."""
    # TODO
    raise NotImplementedError("evaluate")


def train_cnn(train_set: Dataset, test_set: Dataset, device: torch.device, epochs: int = 2,
              batch_size: int = 32, lr: float = 2e-3) -> tuple[SmallCNN, dict[str, list[float]]]:
    """Train a SmallCNN sized for the images of `train_set` with Adam and nn.CrossEntropyLoss.

    The model's in_channels and image_size come from the data (image, _ = train_set[0]), the number
    of classes from len(train_set.classes). Shuffle the training set every epoch. Return
    (model, history) with history["train_loss"] (one loss per batch, as a float) and
    history["test_acc"] (evaluate() on test_set after every epoch).
    """
    # TODO
    raise NotImplementedError("train_cnn")


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

"""VGG blocks, ResNet basic blocks, a small ResNet, its plain twin and label-safe augmentation.

    vgg_block(1, 16, 2)        conv3x3-ReLU, conv3x3-ReLU, 2x2 max pooling: 16 x H/2 x W/2
    BasicBlock(16, 32, 2)      conv3x3 (stride 2)-BN-ReLU, conv3x3-BN, + shortcut(x), ReLU
    TinyResNet(1, 10, (16, 32, 64), blocks_per_stage=3)
                               stem conv3x3-BN-ReLU, 3 stages of 3 blocks, global average pool, fc:
                               1 + 18 + 1 = 20 layers with weights
    plain_twin(...)            the same network with every shortcut removed
    Augmented(dataset, train)  small random shifts and rotations, for the training set only

The data is SyntheticDigits (`from tutor.checking.digits import SyntheticDigits`), an offline
stand-in for MNIST with torchvision's interface: `.data` uint8 (N, 28, 28), `.targets` int64.
SyntheticShapes (tutor.checking.shapes) is the RGB stand-in for CIFAR-10: `.data` is uint8
(N, 32, 32, 3), channels last, as CIFAR stores it.

Fill in the pieces in order; `dltutor check vgg-resnet` tests each one. Then run this file
(`python resnet.py`) to compare the gradients of a plain and a residual 20-layer net and to
train the small ResNet on augmented digits.
"""

import math

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, Dataset

from tutor.checking.digits import SyntheticDigits


def vgg_block(in_ch: int, out_ch: int, n_convs: int) -> nn.Sequential:
    """n_convs 3x3 convolutions (padding 1, each followed by ReLU), then 2x2 max pooling.

    Only the first convolution maps in_ch -> out_ch; the others out_ch -> out_ch. The
    convolutions keep the height and width; the pooling halves them.
    """
    # TODO: build the list of layers and return nn.Sequential(*layers)
    raise NotImplementedError


class BasicBlock(nn.Module):
    """ResNet's basic block: relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x)).

    conv1: 3x3, in_ch -> out_ch, stride `stride`, padding 1, bias=False; bn1 = BatchNorm2d(out_ch)
    conv2: 3x3, out_ch -> out_ch, stride 1, padding 1, bias=False;     bn2 = BatchNorm2d(out_ch)
    shortcut: nn.Identity() when the shapes agree (stride 1 and in_ch == out_ch), otherwise the
    projection nn.Sequential(nn.Conv2d(in_ch, out_ch, 1, stride=stride, bias=False), nn.BatchNorm2d(out_ch)).
    With residual=False (the plain twin) nothing is added: return relu(bn2(conv2(...))), and
    self.shortcut may be None.
    """

    def __init__(self, in_ch: int, out_ch: int, stride: int = 1, residual: bool = True):
        super().__init__()
        # TODO: self.conv1, self.bn1, self.conv2, self.bn2, self.shortcut, self.residual
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # TODO: the residual branch, the addition, then the ReLU (after the addition, not before)
        raise NotImplementedError


class TinyResNet(nn.Module):
    """A small ResNet.

    stem: conv3x3 in_channels -> widths[0] (padding 1, bias=False), BatchNorm2d, ReLU
    stages: for each width, blocks_per_stage BasicBlocks; the first block of every stage after
        the first has stride 2 (it halves the maps and changes the width), all others stride 1
    head: global average pooling (nn.AdaptiveAvgPool2d(1), flatten) and self.fc =
        nn.Linear(widths[-1], num_classes), returning logits (no softmax)
    residual=False builds the same layers with blocks that add nothing (for plain_twin).
    """

    def __init__(self, in_channels: int = 1, num_classes: int = 10, widths=(16, 32, 64),
                 blocks_per_stage: int = 1, residual: bool = True):
        super().__init__()
        # TODO: self.stem, the blocks (an nn.Sequential), the pooling and self.fc
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # TODO
        raise NotImplementedError


def plain_twin(in_channels: int = 1, num_classes: int = 10, widths=(16, 32, 64),
               blocks_per_stage: int = 1) -> nn.Module:
    """TinyResNet with the same layers but no shortcuts (no additions, no projections)."""
    # TODO
    raise NotImplementedError


class Augmented(Dataset):
    """Wrap a dataset with `.data` (uint8, N x H x W or N x H x W x C) and `.targets`.

    ds[i] is (image, label): the image float32 C x H x W in [0, 1] (pixel / 255; an H x W image
    becomes 1 x H x W, an H x W x C one is permuted to C x H x W), the label an int. When train
    is True the image is shifted by up to max_shift pixels and rotated by up to max_degrees
    degrees, drawn afresh on every call; when False it is returned as it is. Never flip: a
    mirrored 2 is not a 2.
    """

    def __init__(self, dataset, train: bool = True, max_shift: int = 2, max_degrees: float = 10.0):
        # TODO: keep the arguments
        raise NotImplementedError

    def __len__(self) -> int:
        # TODO
        raise NotImplementedError

    def __getitem__(self, i: int):
        # TODO: read dataset.data[i] and dataset.targets[i], convert, augment when training
        raise NotImplementedError


def without_batch_norm(model: nn.Module) -> nn.Module:
    """The model with every BatchNorm2d replaced by nn.Identity (in place; returns the model)."""
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, nn.BatchNorm2d):
                setattr(parent, name, nn.Identity())
    return model


def first_layer_gradient(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """The norm of the loss gradient for the first convolution's weight, in training mode."""
    model.train()
    model.zero_grad()
    F.cross_entropy(model(x), y).backward()
    first = next(m for m in model.modules() if isinstance(m, nn.Conv2d))
    return first.weight.grad.norm().item()


if __name__ == "__main__":
    from torch.optim.swa_utils import update_bn

    train = SyntheticDigits(2000, seed=0)
    test = SyntheticDigits(1000, seed=0, train=False)
    x, y = next(iter(DataLoader(Augmented(train, train=False), batch_size=32)))
    for batch_norm in (False, True):
        norms = []
        for make in (lambda: TinyResNet(1, 10, (16, 32, 64), blocks_per_stage=3),
                     lambda: plain_twin(1, 10, (16, 32, 64), blocks_per_stage=3)):
            torch.manual_seed(0)
            net = make() if batch_norm else without_batch_norm(make())
            norms.append(first_layer_gradient(net, x, y))
        print(f"20 layers {'with' if batch_norm else 'without'} BatchNorm: first-layer gradient norm residual "
              f"{norms[0]:.3g}, plain {norms[1]:.3g}, log10 ratio {math.log10(norms[0] / norms[1]):+.2f}")
    torch.manual_seed(0)
    model = TinyResNet(1, 10, (8, 16, 32))
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    for epoch in range(2):
        model.train()
        for xb, yb in DataLoader(Augmented(train, train=True), batch_size=32, shuffle=True):
            opt.zero_grad()
            F.cross_entropy(model(xb), yb).backward()
            opt.step()
        # a short run leaves the running BN averages behind the weights: recompute them on the training set
        update_bn((xb for xb, _ in DataLoader(Augmented(train, train=False), batch_size=500)), model)
        model.eval()
        with torch.no_grad():
            correct = sum((model(xb).argmax(1) == yb).sum().item()
                          for xb, yb in DataLoader(Augmented(test, train=False), batch_size=500))
        print(f"epoch {epoch + 1}: test accuracy {correct / len(test):.3f}")

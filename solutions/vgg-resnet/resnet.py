"""VGG blocks, ResNet basic blocks, a small ResNet, its plain twin and label-safe augmentation
(reference solution).

    vgg_block(1, 16, 2)        conv3x3-ReLU, conv3x3-ReLU, 2x2 max pooling: 16 x H/2 x W/2
    BasicBlock(16, 32, 2)      conv3x3 (stride 2)-BN-ReLU, conv3x3-BN, + shortcut(x), ReLU
    TinyResNet(1, 10, (16, 32, 64), blocks_per_stage=3)
                               stem conv3x3-BN-ReLU, 3 stages of 3 blocks, global average pool, fc:
                               1 + 18 + 1 = 20 layers with weights (a ResNet-20 without the CIFAR sizes)
    plain_twin(...)            the same network with every shortcut removed
    Augmented(dataset, train)  small random shifts and rotations for the training set only

Run this file (`python resnet.py`) to compare the gradients of a plain and a residual
20-layer net and to train the small ResNet on augmented digits.
"""

import math

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, Dataset

from tutor.checking.digits import SyntheticDigits


def vgg_block(in_ch: int, out_ch: int, n_convs: int) -> nn.Sequential:
    """n_convs 3x3 convolutions (padding 1, each followed by ReLU), then 2x2 max pooling."""
    layers: list[nn.Module] = []
    for i in range(n_convs):
        layers += [nn.Conv2d(in_ch if i == 0 else out_ch, out_ch, kernel_size=3, padding=1), nn.ReLU()]
    layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
    return nn.Sequential(*layers)


class BasicBlock(nn.Module):
    """ResNet's basic block: relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x)).

    The stride sits on conv1; the shortcut is the identity when the input and output shapes
    agree, a 1x1 convolution with the same stride followed by BatchNorm otherwise. With
    residual=False (the plain twin) nothing is added and there is no shortcut.
    """

    def __init__(self, in_ch: int, out_ch: int, stride: int = 1, residual: bool = True):
        super().__init__()
        self.conv1 = nn.Conv2d(in_ch, out_ch, kernel_size=3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_ch)
        self.conv2 = nn.Conv2d(out_ch, out_ch, kernel_size=3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_ch)
        self.residual = residual
        if not residual:
            self.shortcut = None
        elif stride != 1 or in_ch != out_ch:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_ch, out_ch, kernel_size=1, stride=stride, bias=False),
                nn.BatchNorm2d(out_ch),
            )
        else:
            self.shortcut = nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.residual:
            out = out + self.shortcut(x)
        return F.relu(out)


class TinyResNet(nn.Module):
    """Stem conv3x3-BN-ReLU to widths[0], then one stage per width (the first block of every
    stage after the first has stride 2), global average pooling and `fc`."""

    def __init__(self, in_channels: int = 1, num_classes: int = 10, widths=(16, 32, 64),
                 blocks_per_stage: int = 1, residual: bool = True):
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, widths[0], kernel_size=3, padding=1, bias=False),
            nn.BatchNorm2d(widths[0]),
            nn.ReLU(),
        )
        blocks, ch = [], widths[0]
        for stage, width in enumerate(widths):
            for j in range(blocks_per_stage):
                stride = 2 if stage > 0 and j == 0 else 1
                blocks.append(BasicBlock(ch, width, stride, residual=residual))
                ch = width
        self.stages = nn.Sequential(*blocks)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(widths[-1], num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stages(self.stem(x))
        return self.fc(self.pool(x).flatten(1))


def plain_twin(in_channels: int = 1, num_classes: int = 10, widths=(16, 32, 64),
               blocks_per_stage: int = 1) -> nn.Module:
    """TinyResNet with the same layers but no shortcuts (no additions, no projections)."""
    return TinyResNet(in_channels, num_classes, widths, blocks_per_stage, residual=False)


class Augmented(Dataset):
    """A dataset with `.data` (uint8, N x H x W or N x H x W x C) and `.targets`, as float32
    C x H x W images in [0, 1]; when train, each image is shifted by up to `max_shift` pixels
    and rotated by up to `max_degrees` degrees, freshly at random on every call. No flips:
    a mirrored 2 is not a 2."""

    def __init__(self, dataset, train: bool = True, max_shift: int = 2, max_degrees: float = 10.0):
        self.dataset, self.train = dataset, train
        self.max_shift, self.max_degrees = max_shift, max_degrees

    def __len__(self) -> int:
        return len(self.dataset.targets)

    def __getitem__(self, i: int):
        image = torch.as_tensor(self.dataset.data[i])
        label = int(self.dataset.targets[i])
        x = image.float() / 255.0
        x = x.unsqueeze(0) if x.dim() == 2 else x.permute(2, 0, 1)   # H x W (x C) -> C x H x W
        if self.train:
            x = self.random_shift_rotate(x)
        return x, label

    def random_shift_rotate(self, x: torch.Tensor) -> torch.Tensor:
        c, h, w = x.shape
        angle = math.radians((2 * torch.rand(()).item() - 1) * self.max_degrees)
        dx, dy = torch.randint(-self.max_shift, self.max_shift + 1, (2,)).tolist()
        cos, sin = math.cos(angle), math.sin(angle)
        # affine_grid maps output coordinates in [-1, 1] to input coordinates: rotate, then shift
        theta = torch.tensor([[cos, -sin, -2 * dx / w], [sin, cos, -2 * dy / h]], dtype=x.dtype)
        grid = F.affine_grid(theta[None], [1, c, h, w], align_corners=False)
        return F.grid_sample(x[None], grid, padding_mode="zeros", align_corners=False)[0]


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

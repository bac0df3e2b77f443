"""Synthetic RGB shapes (an offline stand-in for CIFAR-10): the class is the shape, never the colour.

    from tutor.checking.shapes import SyntheticShapes
    train = SyntheticShapes(5000, seed=0, train=True)
    image, label = train[0]          # float32 tensor (3, 32, 32) in [0, 1], int in 0..9
    train.data.shape, train.targets  # (5000, 32, 32, 3) uint8 (channels LAST), int64 labels: like CIFAR10
    train.classes                    # ['circle', 'square', 'triangle', ...]

How an image is drawn: every class is a signed distance function in the shape's own frame
(unit size): negative inside, positive outside. Per image a random size (radius 0.25-0.42 of
the image), rotation (any angle), aspect (about ±12 %) and position (the centre within ±6 % of
the image size of the middle) map the pixel grid into that frame, and the shape is painted with
an anti-aliased edge one pixel wide. The background is a random colour under a random linear
brightness ramp; the foreground is a random colour at least 0.6 away (Euclidean, RGB in [0, 1])
from the background, and both colours are drawn independently of the class, so a nearest-mean
classifier on an image's mean colour is at chance (tests/test_shapes.py). A few percent of
brightness noise per pixel follows. Only the outline tells the class. Labels are exactly
balanced (n // 10 of each class, the remainder to the first classes) and shuffled; everything
is drawn from a generator seeded with (seed, split), so a (seed, train) pair always gives the
same images, and train and test are separate draws.

Calibration (benchmarks/shapes_baselines.py on the 2-core CPU under a load of 6-9, torch 2.13,
one thread: 3,000 training and 1,000 test images, inputs standardised per channel, Adam,
batch 64; seeds 0-4):

    model                                            test accuracy
    logistic regression on raw pixels (3072-10)      0.155-0.181  (10 epochs, lr 1e-3)
    MLP 3072-256-10 (ReLU)                            0.538-0.576  (10 epochs, lr 1e-3)
    small CNN conv16-pool-conv32-pool-fc (ReLU)       0.677-0.856  (3 epochs, lr 5e-3)
    the same CNN without its ReLUs                    0.797-0.830  (3 epochs: max pooling is non-linear too)

    the first-cnn check's setting (batch 32, lr 2e-3, 3 epochs, 500 test images), seeds 0-7:
    0.792-0.896

    generation: 10,000 images in 0.53-0.60 s of CPU time (one thread; digits: 1.4 s)

So, as on CIFAR-10, a linear model on raw pixels is far behind a small CNN (chance is 0.10).
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch

CLASSES = ["circle", "square", "triangle", "cross", "ring", "frame", "star", "half-disc", "stripes", "crescent"]
SIZE = 32
RADIUS = (0.25, 0.42)  # the shape's radius, a fraction of the image size
SHIFT = 0.06  # the centre moves at most this fraction of the image size from the middle
MIN_CONTRAST = 0.6  # the least RGB distance between the shape's colour and the background's


def _sdf(cls: int, u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Signed distance (negative inside) of shape `cls` at frame coordinates (u, v), unit size."""
    r = torch.hypot(u, v)
    au, av = u.abs(), v.abs()
    box = torch.maximum(au, av)
    if cls == 0:  # circle
        return r - 1.0
    if cls == 1:  # square (filled)
        return box - 0.85
    if cls == 2:  # equilateral triangle: the largest of three half-plane distances
        normals = [(np.cos(a), np.sin(a)) for a in np.pi / 2 + 2 * np.pi * np.arange(3) / 3]
        d = u * normals[0][0] + v * normals[0][1]
        for cu, cv in normals[1:]:
            d = torch.maximum(d, u * cu + v * cv)
        return d - 0.55
    if cls == 3:  # cross (plus sign)
        return torch.minimum(torch.maximum(au - 1.0, av - 0.3), torch.maximum(au - 0.3, av - 1.0))
    if cls == 4:  # ring (annulus)
        return (r - 0.72).abs() - 0.28
    if cls == 5:  # frame (hollow square)
        return (box - 0.68).abs() - 0.2
    if cls == 6:  # five-pointed star: the radius swings with the angle
        return r - (0.62 + 0.38 * torch.cos(5 * torch.atan2(v, u)))
    if cls == 7:  # half-disc; the diameter lies on w = 0, the centroid near the centre
        w = v + 0.42
        return torch.maximum(torch.hypot(u, w) - 1.0, -w)
    if cls == 8:  # three parallel bars in a square
        bars = torch.minimum((au - 0.62).abs(), au) - 0.17
        return torch.maximum(box - 0.9, bars)
    if cls == 9:  # crescent: a disc minus an offset disc
        return torch.maximum(r - 1.0, 0.78 - torch.hypot(u - 0.5, v))
    raise ValueError(f"no shape class {cls}")


def balanced_labels(n: int, rng: np.random.Generator, num_classes: int = len(CLASSES)) -> np.ndarray:
    """n labels, n // num_classes of each (the remainder to the first classes), shuffled."""
    return rng.permutation(np.arange(n) % num_classes).astype(np.int64)


def _colours(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Background and foreground RGB (n, 3) each, at least MIN_CONTRAST apart, class-independent."""
    bg = rng.uniform(0.0, 1.0, size=(n, 3))
    tries = rng.uniform(0.0, 1.0, size=(8, n, 3))  # rejection sampling, every number drawn up front
    far = np.linalg.norm(tries - bg[None], axis=2) >= MIN_CONTRAST  # (8, n)
    first = np.argmax(far, axis=0)
    fg = tries[first, np.arange(n)]
    none = ~far.any(axis=0)
    fg[none] = np.where(bg[none] > 0.5, 0.0, 1.0)  # the opposite corner of the cube: always far enough
    return bg, fg


def render_shapes(labels: np.ndarray, rng: np.random.Generator, size: int = SIZE) -> torch.Tensor:
    """Draw one random image per label: float32 tensor (n, size, size, 3) in [0, 1]."""
    labels = np.asarray(labels, dtype=np.int64)
    n = len(labels)
    # Every random number is drawn up front, in a fixed order.
    radius = rng.uniform(*RADIUS, size=n) * size  # pixels
    aspect = np.exp(rng.uniform(-0.12, 0.12, size=n))
    angle = rng.uniform(0.0, 2 * np.pi, size=n)
    room = np.maximum(0.0, (size - 1) / 2 - radius)  # how far the centre may move and the shape still fit
    centre = (size - 1) / 2 + rng.uniform(-1.0, 1.0, size=(n, 2)) * np.minimum(room, SHIFT * size)[:, None]
    bg, fg = _colours(n, rng)
    ramp_dir = rng.uniform(0.0, 2 * np.pi, size=n)
    ramp_amp = rng.uniform(0.0, 0.25, size=n)
    noise_level = rng.uniform(0.0, 0.05, size=n)
    noise_seed = int(rng.integers(0, 2**62))

    def per_image(a: np.ndarray) -> torch.Tensor:  # (n,) -> (n, 1, 1) float32
        return torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32)).view(-1, 1, 1)

    grid = torch.arange(size, dtype=torch.float32)
    rows, cols = grid.view(1, size, 1), grid.view(1, 1, size)
    c, s = per_image(np.cos(angle)), per_image(np.sin(angle))
    su, sv = per_image(radius * aspect), per_image(radius / aspect)
    cy, cx = per_image(centre[:, 0]), per_image(centre[:, 1])
    pixel = 1.0 / torch.minimum(su, sv)  # one pixel in the shape's units
    ink = torch.empty(n, size, size)
    for cls in range(len(CLASSES)):
        idx = torch.from_numpy(np.flatnonzero(labels == cls))
        if len(idx):
            dy, dx = rows - cy[idx], cols - cx[idx]
            u = (c[idx] * dx + s[idx] * dy) / su[idx]  # the shape's frame (y down)
            v = (c[idx] * dy - s[idx] * dx) / sv[idx]
            d = _sdf(cls, u, v)
            ink[idx] = (0.5 - d / pixel[idx]).clamp_(0.0, 1.0)  # anti-aliased over about one pixel
    ramp = per_image(np.cos(ramp_dir)) * (cols - size / 2) + per_image(np.sin(ramp_dir)) * (rows - size / 2)
    light = ramp.mul_(per_image(ramp_amp / size)).add_(1.0).unsqueeze(-1)  # (n, size, size, 1)
    noise = torch.randn(n, size, size, generator=torch.Generator().manual_seed(noise_seed))
    light.squeeze_(-1).addcmul_(noise, per_image(noise_level)).unsqueeze_(-1)  # grey noise, with the light
    back = torch.from_numpy(bg.astype(np.float32)).view(n, 1, 1, 3) * light
    front = torch.from_numpy(fg.astype(np.float32)).view(n, 1, 1, 3) * light
    out = back.add_(front.sub_(back).mul_(ink.unsqueeze(-1)))
    return out.clamp_(0.0, 1.0)


class SyntheticShapes(torch.utils.data.Dataset):
    """`n` synthetic RGB shapes, the same for the same (seed, train); like torchvision's CIFAR10.

    `ds[i]` is (image, label): the image a float32 tensor (3, size, size) in [0, 1] (channels
    first, as conv layers want it; after `transform` if given) and the label an int.
    `ds.data` is uint8 (n, size, size, 3), channels LAST as CIFAR10.data stores it, and
    `ds.targets` int64 (n,); `ds.classes` names the ten shapes. `train=False` draws another
    stream from the same seed, so a test set never repeats training images.
    """

    classes = list(CLASSES)

    def __init__(self, n: int = 10000, seed: int = 0, train: bool = True, size: int = SIZE,
                 transform: Callable | None = None) -> None:
        if n < 0:
            raise ValueError(f"n must be >= 0, got {n}")
        if size < 8:
            raise ValueError(f"size must be at least 8 pixels, got {size}")
        self.n, self.seed, self.train, self.size, self.transform = n, seed, train, size, transform
        rng = np.random.default_rng([int(seed) % 2**32, 0 if train else 1, 3032])
        labels = balanced_labels(n, rng)
        images = render_shapes(labels, rng, size) if n else torch.zeros(0, size, size, 3)
        self.data = images.mul_(255.0).round_().to(torch.uint8)
        self.targets = torch.from_numpy(labels)

    def __len__(self) -> int:
        return int(self.data.shape[0])

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        image = self.data[index].permute(2, 0, 1).to(torch.float32).div_(255.0)  # (3, H, W) in [0, 1]
        if self.transform is not None:
            image = self.transform(image)
        return image, int(self.targets[index])

    def tensors(self, normalize: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        """All images as float32 (n, 3, size, size) in [0, 1] and the int64 labels (n,).

        The transform is not applied; `normalize=True` standardises each channel with the mean
        and std of these images (computed here).
        """
        x = self.data.permute(0, 3, 1, 2).to(torch.float32).div_(255.0)
        if normalize:
            mean, std = channel_mean_std(self)
            x = (x - mean.view(1, 3, 1, 1)) / std.view(1, 3, 1, 1)
        return x, self.targets.clone()

    def __repr__(self) -> str:
        split = "train" if self.train else "test"
        return f"SyntheticShapes(n={self.n}, seed={self.seed}, {split}, size={self.size})"


def channel_mean_std(ds: SyntheticShapes) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel mean and std (3,) of the images in [0, 1]."""
    px = ds.data.reshape(-1, 3).to(torch.float64) / 255.0
    return px.mean(0).float(), px.std(0).float()


def ascii_shape(image: torch.Tensor | np.ndarray, ramp: str = " .:-=+*#%@") -> str:
    """One image as text by its distance from the corner pixel's colour (any channel order)."""
    a = image.detach().cpu().numpy() if isinstance(image, torch.Tensor) else np.asarray(image)
    a = a.astype(np.float64)
    if a.shape[0] == 3 and a.shape[-1] != 3:
        a = a.transpose(1, 2, 0)
    if a.max() > 1.0:
        a = a / 255.0
    d = np.linalg.norm(a - a[0, 0], axis=2)
    d = d / max(d.max(), 1e-9)
    idx = np.clip((d * (len(ramp) - 1)).round().astype(int), 0, len(ramp) - 1)
    return "\n".join("".join(ramp[i] for i in row) for row in idx)

"""The synthetic RGB shapes dataset (the offline CIFAR-10 stand-in of tutor.checking.shapes)."""

from __future__ import annotations

import time

import torch
import torch.nn.functional as F
from torch import nn

from tutor.checking.shapes import CLASSES, SyntheticShapes, ascii_shape, channel_mean_std


def test_same_seed_same_images():
    a, b = SyntheticShapes(200, seed=3), SyntheticShapes(200, seed=3)
    assert torch.equal(a.data, b.data) and torch.equal(a.targets, b.targets)


def test_other_seed_or_split_gives_other_images():
    a = SyntheticShapes(100, seed=1)
    assert not torch.equal(a.data, SyntheticShapes(100, seed=2).data)
    assert not torch.equal(a.data, SyntheticShapes(100, seed=1, train=False).data)


def test_shapes_and_dtypes_like_cifar10():
    ds = SyntheticShapes(50, seed=0)
    assert len(ds) == 50 and ds.classes == CLASSES and len(ds.classes) == 10
    assert ds.data.shape == (50, 32, 32, 3) and ds.data.dtype == torch.uint8  # channels last, like CIFAR10.data
    assert ds.targets.shape == (50,) and ds.targets.dtype == torch.int64
    image, label = ds[7]
    assert image.shape == (3, 32, 32) and image.dtype == torch.float32  # channels first, like ToTensor()
    assert isinstance(label, int) and 0 <= label < 10
    assert float(image.min()) >= 0.0 and float(image.max()) <= 1.0
    assert torch.allclose(image, ds.data[7].permute(2, 0, 1).float() / 255)
    x, y = ds.tensors()
    assert x.shape == (50, 3, 32, 32) and torch.equal(y, ds.targets) and torch.equal(x[7], image)


def test_other_sizes_and_empty():
    ds = SyntheticShapes(20, seed=0, size=24)
    assert ds.data.shape == (20, 24, 24, 3) and ds[0][0].shape == (3, 24, 24)
    assert SyntheticShapes(0, seed=0).data.shape == (0, 32, 32, 3)


def test_classes_are_balanced_and_shuffled():
    ds = SyntheticShapes(1003, seed=0)
    assert torch.bincount(ds.targets, minlength=10).tolist() == [101, 101, 101] + [100] * 7
    assert not torch.equal(ds.targets[:20], torch.arange(20) % 10)


def test_every_image_shows_a_shape_in_contrast():
    x, _ = SyntheticShapes(300, seed=0).tensors()
    corner = x[:, :, :2, :2].mean(dim=(2, 3), keepdim=True)  # the background's colour
    far = ((x - corner).norm(dim=1) > 0.3).float().mean(dim=(1, 2))  # the part of the image that differs
    assert float(far.min()) > 0.04, "every image has a visible shape"
    assert float(far.max()) < 0.85, "and some background"


def test_colour_carries_no_label():
    """The mean colour of an image predicts its class no better than chance (nearest class mean)."""
    x, y = SyntheticShapes(3000, seed=0).tensors()
    xt, yt = SyntheticShapes(1000, seed=0, train=False).tensors()
    feats, test_feats = x.mean(dim=(2, 3)), xt.mean(dim=(2, 3))
    means = torch.stack([feats[y == c].mean(0) for c in range(10)])
    acc = (torch.cdist(test_feats, means).argmin(1) == yt).double().mean().item()
    assert acc < 0.2, acc  # chance is 0.10; measured 0.11-0.14


def test_transform_and_channel_statistics():
    ds = SyntheticShapes(100, seed=0)
    mean, std = channel_mean_std(ds)
    assert mean.shape == (3,) and std.shape == (3,) and float(std.min()) > 0.1
    ds.transform = lambda t: (t - mean.view(3, 1, 1)) / std.view(3, 1, 1)
    x = torch.stack([ds[i][0] for i in range(100)])
    assert torch.allclose(x.mean(dim=(0, 2, 3)), torch.zeros(3), atol=1e-4)
    xn, _ = ds.tensors(normalize=True)
    assert torch.allclose(xn, x, atol=1e-5)


def test_generation_is_fast():
    start = time.perf_counter()
    SyntheticShapes(2000, seed=0)
    assert time.perf_counter() - start < 5.0  # about 0.05-0.1 s on an idle core; generous for a loaded CI


def test_ascii_shape():
    lines = ascii_shape(SyntheticShapes(1, seed=0)[0][0]).splitlines()
    assert len(lines) == 32 and all(len(line) == 32 for line in lines)


def _train(model: nn.Module, x, y, epochs: int, lr: float, seed: int) -> None:
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    gen = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        order = torch.randperm(len(x), generator=gen)
        for i in range(0, len(x), 32):
            idx = order[i:i + 32]
            opt.zero_grad()
            F.cross_entropy(model(x[idx]), y[idx]).backward()
            opt.step()


def test_a_small_cnn_beats_a_linear_model_by_far():
    """The point of the dataset: on raw pixels a linear model is near chance, a two-conv CNN is not.

    Measured (2,000 training, 500 test images, seed 0): logistic regression 5 epochs about 0.17,
    the CNN 2 epochs about 0.6 (benchmarks/shapes_baselines.py has the 3,000-image numbers).
    """
    torch.manual_seed(0)
    train, test = SyntheticShapes(2000, seed=0), SyntheticShapes(500, seed=0, train=False)
    x, y = train.tensors()
    xt, yt = test.tensors()
    mean, std = x.mean(dim=(0, 2, 3), keepdim=True), x.std(dim=(0, 2, 3), keepdim=True)
    x, xt = (x - mean) / std, (xt - mean) / std
    linear = nn.Sequential(nn.Flatten(), nn.Linear(3 * 32 * 32, 10))
    _train(linear, x, y, epochs=5, lr=1e-3, seed=0)
    cnn = nn.Sequential(nn.Conv2d(3, 16, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(16, 32, 3), nn.ReLU(),
                        nn.MaxPool2d(2), nn.Flatten(), nn.Linear(32 * 6 * 6, 10))
    _train(cnn, x, y, epochs=2, lr=2e-3, seed=0)
    with torch.no_grad():
        lin_acc = (linear(xt).argmax(1) == yt).double().mean().item()
        cnn_acc = (cnn.eval()(xt).argmax(1) == yt).double().mean().item()
    print(f"linear {lin_acc:.3f}, cnn {cnn_acc:.3f}")
    assert lin_acc < 0.3
    assert cnn_acc > lin_acc + 0.25

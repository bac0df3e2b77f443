"""The synthetic digits dataset and the MNIST IDX reader (no downloads: the test writes its own files)."""

from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest
import torch

from tutor.checking.digits import MNISTFiles, SyntheticDigits, ascii_digit, read_idx, render_digits, write_idx


def test_same_seed_same_images():
    a = SyntheticDigits(300, seed=7)
    b = SyntheticDigits(300, seed=7)
    assert torch.equal(a.data, b.data)
    assert torch.equal(a.targets, b.targets)


def test_other_seed_or_split_gives_other_images():
    a = SyntheticDigits(200, seed=1)
    assert not torch.equal(a.data, SyntheticDigits(200, seed=2).data)
    assert not torch.equal(a.data, SyntheticDigits(200, seed=1, train=False).data)


def test_shapes_and_dtypes_like_mnist():
    ds = SyntheticDigits(100, seed=0)
    assert len(ds) == 100
    assert ds.data.shape == (100, 28, 28) and ds.data.dtype == torch.uint8
    assert ds.targets.shape == (100,) and ds.targets.dtype == torch.int64
    image, label = ds[5]
    assert image.shape == (1, 28, 28) and image.dtype == torch.float32
    assert isinstance(label, int) and 0 <= label <= 9
    assert float(image.min()) >= 0.0 and float(image.max()) <= 1.0
    assert torch.allclose(image[0], ds.data[5].float() / 255)
    x, y = ds.tensors()
    assert x.shape == (100, 1, 28, 28) and x.dtype == torch.float32 and torch.equal(y, ds.targets)


def test_images_have_ink_and_background():
    x, _ = SyntheticDigits(200, seed=0).tensors()
    ink = (x > 0.5).float().mean(dim=(1, 2, 3))
    assert float(ink.min()) > 0.02, "every image shows a digit"
    assert float(ink.max()) < 0.5, "and is mostly background"
    assert float(x[:, :, 0, :].mean()) < 0.1, "the border is (nearly) empty"


def test_classes_are_balanced():
    ds = SyntheticDigits(1003, seed=0)
    counts = torch.bincount(ds.targets, minlength=10)
    assert counts.tolist() == [101, 101, 101] + [100] * 7
    assert not torch.equal(ds.targets[:20], torch.arange(20) % 10), "labels are shuffled"


def test_classes_look_different():
    x, y = SyntheticDigits(1000, seed=0).tensors()
    means = torch.stack([x[y == d].mean(0).flatten() for d in range(10)])
    dist = torch.cdist(means, means)
    off = dist[~torch.eye(10, dtype=torch.bool)]
    assert float(off.min()) > 1.0


def test_transform_is_applied():
    ds = SyntheticDigits(10, seed=0, transform=lambda t: (t - 0.5) * 2)
    image, _ = ds[0]
    assert float(image.min()) >= -1.0 and float(image.min()) < -0.5


def test_works_with_dataloader():
    ds = SyntheticDigits(64, seed=0)
    xb, yb = next(iter(torch.utils.data.DataLoader(ds, batch_size=16)))
    assert xb.shape == (16, 1, 28, 28) and yb.shape == (16,) and yb.dtype == torch.int64


def test_render_is_chunk_independent():
    labels = np.arange(30) % 10
    a = render_digits(labels, np.random.default_rng(0), chunk=7)
    b = render_digits(labels, np.random.default_rng(0), chunk=4096)
    np.testing.assert_allclose(a, b, atol=1e-5)


def test_empty_dataset():
    ds = SyntheticDigits(0, seed=0)
    assert len(ds) == 0 and ds.data.shape == (0, 28, 28)


def test_ascii_digit():
    text = ascii_digit(SyntheticDigits(1, seed=0)[0][0])
    lines = text.splitlines()
    assert len(lines) == 28 and all(len(line) == 28 for line in lines)
    assert any(ch in text for ch in "#%@")


# ----- IDX files ---------------------------------------------------------------------------------


def _idx_bytes(array: np.ndarray, code: int) -> bytes:
    """An IDX file written by hand (not with write_idx), so the reader is tested independently."""
    header = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def test_read_idx_raw_and_gzip(tmp_path):
    images = np.random.default_rng(0).integers(0, 256, size=(5, 28, 28), dtype=np.uint8)
    (tmp_path / "a").write_bytes(_idx_bytes(images, 0x08))
    (tmp_path / "a.gz").write_bytes(gzip.compress(_idx_bytes(images, 0x08)))
    np.testing.assert_array_equal(read_idx(tmp_path / "a"), images)
    np.testing.assert_array_equal(read_idx(tmp_path / "a.gz"), images)


@pytest.mark.parametrize("dtype,code", [(np.int16, 0x0B), (np.int32, 0x0C), (np.float32, 0x0D), (np.float64, 0x0E)])
def test_read_idx_other_types_big_endian(tmp_path, dtype, code):
    values = (np.arange(12).reshape(3, 4) - 5).astype(dtype)
    (tmp_path / "v").write_bytes(_idx_bytes(values, code))
    got = read_idx(tmp_path / "v")
    np.testing.assert_array_equal(got, values)
    assert got.dtype.isnative


def test_read_idx_rejects_bad_files(tmp_path):
    (tmp_path / "bad").write_bytes(b"\x12\x34\x08\x01\x00\x00\x00\x05abcde")
    with pytest.raises(ValueError, match="magic"):
        read_idx(tmp_path / "bad")
    (tmp_path / "short").write_bytes(bytes([0, 0, 8, 1]) + struct.pack(">I", 10) + b"abc")
    with pytest.raises(ValueError, match="truncated"):
        read_idx(tmp_path / "short")


def test_write_idx_round_trip(tmp_path):
    labels = np.array([3, 1, 4, 1, 5], dtype=np.uint8)
    write_idx(tmp_path / "l.gz", labels)
    assert (tmp_path / "l.gz").read_bytes()[:2] == b"\x1f\x8b"
    np.testing.assert_array_equal(read_idx(tmp_path / "l.gz"), labels)


@pytest.mark.parametrize("layout", ["flat", "torchvision"])
@pytest.mark.parametrize("compress", [False, True])
def test_mnist_files(tmp_path, layout, compress):
    folder = tmp_path if layout == "flat" else tmp_path / "MNIST" / "raw"
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(1)
    suffix = ".gz" if compress else ""
    for prefix, n in (("train", 6), ("t10k", 4)):
        images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, size=n).astype(np.uint8)
        data = {f"{prefix}-images-idx3-ubyte": _idx_bytes(images, 0x08), f"{prefix}-labels-idx1-ubyte": _idx_bytes(labels, 0x08)}
        for name, raw in data.items():
            (folder / (name + suffix)).write_bytes(gzip.compress(raw) if compress else raw)
        ds = MNISTFiles(tmp_path, train=prefix == "train")
        assert len(ds) == n
        assert ds.data.dtype == torch.uint8 and ds.targets.dtype == torch.int64
        np.testing.assert_array_equal(ds.data.numpy(), images)
        np.testing.assert_array_equal(ds.targets.numpy(), labels)
        image, label = ds[2]
        assert image.shape == (1, 28, 28) and image.dtype == torch.float32 and label == int(labels[2])
        assert torch.allclose(image[0], torch.from_numpy(images[2]).float() / 255)


def test_mnist_files_missing(tmp_path):
    with pytest.raises(FileNotFoundError, match="train-images-idx3-ubyte"):
        MNISTFiles(tmp_path)

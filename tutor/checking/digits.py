"""Synthetic handwritten digits (an offline stand-in for MNIST) and a reader for real MNIST files.

    from tutor.checking.digits import SyntheticDigits
    train = SyntheticDigits(6000, seed=0, train=True)
    image, label = train[0]          # float32 tensor (1, 28, 28) in [0, 1], int in 0..9
    train.data.shape, train.targets  # (6000, 28, 28) uint8, int64 labels: like torchvision's MNIST

How a digit is drawn: every digit has one to three pen templates (a 7 with and without
a crossbar, an open and a closed 4, ...), each a few strokes (lines, arcs, Bézier curves)
resampled to evenly spaced points. Per image the points go through a random smooth
(quadratic) warp, then a random affine map (scale, aspect, rotation, shear, translation),
and are rendered as a sum of Gaussian blobs whose width is the pen thickness. An isotropic
Gaussian is separable, so the whole batch renders as one batched matrix product
(Gy^T · diag(w) · Gx per image). A saturating ink curve, uneven pen pressure and pixel
noise follow. Labels are exactly balanced (n // 10 of each class, the rest spread over
the first classes) and shuffled. Everything is drawn from a generator seeded with (seed, split),
so a (seed, train) pair always gives the same images, and train and test are separate draws.

Calibration (benchmarks/digits_baselines.py on the 2-core CPU, torch 2.13: 10,000 training
and 2,000 test images, inputs standardised, Adam lr 1e-3, batch 128, 10 epochs; seeds 0/1/2):

    model                              test accuracy
    logistic regression (784-10)       0.877 / 0.877 / 0.886
    MLP 784-256-10 (ReLU)              0.971 / 0.972 / 0.970
    small CNN (2 conv + 2 fc)          0.984 / 0.988 / 0.992
    (5 epochs: 0.868/0.862/0.881, 0.955/0.959/0.958, 0.981/0.987/0.987)

    generation: 10,000 images in 0.25-0.4 s (2 threads; best of 3)

So, as on real MNIST (about 0.92 / 0.98 / 0.99), a linear model is clearly worse than
an MLP, which is worse than a CNN; the synthetic digits are a little harder for the
linear model. The images are identical for any number of CPU threads.

`read_idx(path)` and `MNISTFiles(root, train)` load the real MNIST IDX files (raw or
gzip), for a learner who has them; nothing here downloads anything.
"""

from __future__ import annotations

import gzip
import math
import struct
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch

SIZE = 28
POINTS = 64  # pen points per template (short templates pad with zero-weight points)

# ---------------------------------------------------------------------------------------------
# Stroke templates. Coordinates: x to the right, y up, the digit inside about [-0.6, 0.6] x [-1, 1].


def _arc(cx: float, cy: float, rx: float, ry: float, a0: float, a1: float, n: int = 48) -> np.ndarray:
    """Points on an ellipse arc from angle a0 to a1 (degrees; counter-clockwise when a1 > a0)."""
    t = np.radians(np.linspace(a0, a1, n))
    return np.stack([cx + rx * np.cos(t), cy + ry * np.sin(t)], axis=1)


def _bezier(*control: tuple[float, float], n: int = 48) -> np.ndarray:
    """Points on a Bézier curve with the given control points."""
    t = np.linspace(0.0, 1.0, n)[:, None]
    # de Casteljau on (n, k, 2)
    q = np.broadcast_to(np.asarray(control, dtype=np.float64), (len(t), len(control), 2)).copy()
    while q.shape[1] > 1:
        q = (1 - t)[:, :, None] * q[:, :-1] + t[:, :, None] * q[:, 1:]
    return q[:, 0]


def _line(*points: tuple[float, float]) -> np.ndarray:
    """A polyline through the given points."""
    return np.asarray(points, dtype=np.float64)


def _cat(*parts: np.ndarray) -> np.ndarray:
    """Join polyline pieces into one stroke (the pen does not lift)."""
    return np.concatenate(parts, axis=0)


def _templates() -> list[tuple[int, list[np.ndarray]]]:
    """(digit, strokes) for every pen template."""
    T: list[tuple[int, list[np.ndarray]]] = []
    # 0: an oval, and a slightly slanted one whose ends overlap
    T.append((0, [_arc(0, 0, 0.52, 0.95, 95, 455)]))
    T.append((0, [_cat(_arc(0.02, 0, 0.48, 0.92, 80, 440), _line((0.1, 0.93), (0.2, 0.85)))]))
    # 1: a bar, a bar with a flag, a bar with flag and base
    T.append((1, [_line((0.05, 1.0), (-0.05, -1.0))]))
    T.append((1, [_line((-0.35, 0.62), (0.05, 1.0), (0.0, -1.0))]))
    T.append((1, [_line((-0.3, 0.65), (0.05, 1.0), (0.0, -1.0)), _line((-0.35, -1.0), (0.35, -1.0))]))
    # 2: a hook, a diagonal and a base; and one with a curly bottom
    T.append((2, [_cat(_arc(0, 0.45, 0.5, 0.52, 160, -20), _line((0.45, 0.25), (-0.55, -1.0), (0.6, -1.0)))]))
    T.append((2, [_cat(_arc(0, 0.5, 0.48, 0.48, 170, -10),
                       _bezier((0.47, 0.4), (0.2, -0.2), (-0.6, -0.9)),
                       _bezier((-0.6, -0.9), (-0.2, -1.15), (0.6, -0.95)))]))
    # 3: two bumps; and a flat-topped 3
    T.append((3, [_cat(_arc(0, 0.5, 0.47, 0.47, 150, -90), _arc(0, -0.5, 0.52, 0.5, 90, -150))]))
    T.append((3, [_cat(_line((-0.45, 1.0), (0.45, 1.0), (-0.05, 0.15)), _arc(0, -0.42, 0.52, 0.58, 90, -155))]))
    # 4: closed (diagonal, bar, stem) and open (two verticals and a bar)
    T.append((4, [_line((0.25, 1.0), (-0.55, -0.3), (0.6, -0.3)), _line((0.28, 0.45), (0.28, -1.0))]))
    T.append((4, [_line((-0.42, 1.0), (-0.48, -0.2), (0.55, -0.2)), _line((0.3, 1.0), (0.3, -1.0))]))
    # 5: flag, down stroke, belly
    T.append((5, [_cat(_line((0.5, 1.0), (-0.38, 1.0), (-0.45, 0.12)), _arc(0.0, -0.42, 0.53, 0.55, 125, -155))]))
    T.append((5, [_line((-0.4, 1.0), (-0.45, 0.15)), _line((-0.4, 1.0), (0.5, 1.0)),
                  _arc(0.0, -0.42, 0.52, 0.56, 135, -150)]))
    # 6: a curve from the top into a closed loop
    T.append((6, [_cat(_bezier((0.4, 1.0), (-0.55, 0.55), (-0.5, -0.45)), _arc(0, -0.45, 0.5, 0.52, 180, 540))]))
    T.append((6, [_cat(_line((0.2, 1.0), (-0.45, -0.35)), _arc(0, -0.5, 0.46, 0.47, 160, 520))]))
    # 7: top bar and diagonal, with or without a crossbar; a curved stem
    T.append((7, [_line((-0.55, 1.0), (0.55, 1.0), (-0.1, -1.0))]))
    T.append((7, [_line((-0.55, 1.0), (0.55, 1.0), (-0.1, -1.0)), _line((-0.25, 0.0), (0.4, 0.0))]))
    T.append((7, [_cat(_line((-0.55, 0.9), (0.55, 1.0)), _bezier((0.55, 1.0), (0.05, 0.1), (0.0, -1.0)))]))
    # 8: two loops; and one drawn as a single crossing stroke
    T.append((8, [_arc(0, 0.5, 0.4, 0.45, 0, 360), _arc(0, -0.47, 0.5, 0.52, 0, 360)]))
    T.append((8, [_cat(_arc(0, 0.52, 0.4, 0.44, 20, 215), _bezier((-0.33, 0.27), (0.5, -0.1), (0.5, -0.5)),
                       _arc(0, -0.5, 0.5, 0.5, 0, -270), _bezier((0.0, 0.0), (0.42, 0.25), (0.38, 0.67)))]))
    # 9: a loop and a straight or a curved tail
    T.append((9, [_arc(0, 0.45, 0.47, 0.5, 0, 360), _line((0.47, 0.45), (0.38, -1.0))]))
    T.append((9, [_cat(_arc(0, 0.45, 0.47, 0.5, 0, 360), _bezier((0.47, 0.45), (0.5, -0.7), (-0.35, -1.0)))]))
    return T


def _resample(strokes: list[np.ndarray], k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Evenly spaced points along all strokes: points (k, 2), prev (k,), next (k,), valid (k,)."""
    lengths = [float(np.linalg.norm(np.diff(s, axis=0), axis=1).sum()) for s in strokes]
    total = sum(lengths)
    counts = [max(2, int(round(k * L / total))) for L in lengths]
    while sum(counts) > k:
        counts[int(np.argmax(counts))] -= 1
    pts, prev, nxt = [], [], []
    start = 0
    for s, c in zip(strokes, counts):
        seg = np.linalg.norm(np.diff(s, axis=0), axis=1)
        cum = np.concatenate([[0.0], np.cumsum(seg)])
        u = np.linspace(0.0, cum[-1], c)
        pts.append(np.stack([np.interp(u, cum, s[:, 0]), np.interp(u, cum, s[:, 1])], axis=1))
        idx = np.arange(start, start + c)
        prev.append(np.maximum(idx - 1, start))
        nxt.append(np.minimum(idx + 1, start + c - 1))
        start += c
    used = start
    points = np.zeros((k, 2))
    points[:used] = np.concatenate(pts)
    prev_a = np.arange(k)
    next_a = np.arange(k)
    prev_a[:used] = np.concatenate(prev)
    next_a[:used] = np.concatenate(nxt)
    valid = np.zeros(k)
    valid[:used] = 1.0
    return points, prev_a, next_a, valid


class _Pen:
    """All templates resampled once: arrays indexed by template."""

    def __init__(self) -> None:
        templates = _templates()
        self.digit = np.array([d for d, _ in templates])
        res = [_resample(strokes, POINTS) for _, strokes in templates]
        self.points = np.stack([r[0] for r in res])  # (T, K, 2)
        self.prev = np.stack([r[1] for r in res])  # (T, K)
        self.next = np.stack([r[2] for r in res])
        self.valid = np.stack([r[3] for r in res])
        self.by_digit = [np.flatnonzero(self.digit == d) for d in range(10)]


_PEN: _Pen | None = None


def _pen() -> _Pen:
    global _PEN
    if _PEN is None:
        _PEN = _Pen()
    return _PEN


# ---------------------------------------------------------------------------------------------
# Rendering


def balanced_labels(n: int, rng: np.random.Generator) -> np.ndarray:
    """n labels, n // 10 of each digit (the remainder to the first digits), shuffled."""
    return rng.permutation(np.arange(n) % 10).astype(np.int64)


def render_digits(labels: Sequence[int] | np.ndarray, rng: np.random.Generator, chunk: int = 4096) -> np.ndarray:
    """Draw one random image per label: float32 array (n, 28, 28) in [0, 1]."""
    pen = _pen()
    labels = np.asarray(labels, dtype=np.int64)
    n = len(labels)
    # Every random number is drawn up front, in a fixed order, so chunking cannot change them.
    choice = rng.random(n)
    warp = rng.normal(0.0, 1.0, size=(n, 2, 5)) * 0.09  # quadratic warp coefficients
    scale = rng.uniform(0.75, 1.1, size=n)
    aspect = np.exp(rng.normal(0.0, 0.12, size=n))
    angle = rng.normal(0.0, 0.2, size=n)  # about ±11° (one sd)
    shear = rng.normal(0.0, 0.25, size=n)
    shift = np.clip(rng.normal(0.0, 1.0, size=(n, 2)), -3.0, 3.0)  # pixels
    sigma = rng.uniform(0.7, 1.25, size=n)  # pen width (pixels)
    gain = rng.uniform(1.8, 3.2, size=n)
    pressure = rng.uniform(0.0, 0.35, size=n)
    phase = rng.uniform(0.0, 2 * np.pi, size=n)
    freq = rng.uniform(0.03, 0.12, size=n)
    noise_level = rng.uniform(0.0, 0.06, size=n)
    noise_seed = int(rng.integers(0, 2**62))

    counts = np.array([len(pen.by_digit[d]) for d in range(10)])
    pick = np.floor(choice * counts[labels]).astype(np.int64)
    offsets = np.concatenate([[0], np.cumsum(counts)[:-1]])
    order = np.concatenate(pen.by_digit)
    tmpl = order[offsets[labels] + pick]

    P = pen.points[tmpl]  # (n, K, 2)
    x, y = P[..., 0], P[..., 1]
    basis = np.stack([x, y, x * x, x * y, y * y], axis=-1)  # (n, K, 5)
    P = P + np.einsum("nkb,ncb->nkc", basis, warp)
    # affine: rotation · shear · scale (y up), then to pixel coordinates (row down)
    px_per_unit = 9.5 * scale
    c, s = np.cos(angle), np.sin(angle)
    sx = px_per_unit * aspect
    sy = px_per_unit / aspect
    x0 = P[..., 0] * sx[:, None] + shear[:, None] * P[..., 1] * sy[:, None]
    y0 = P[..., 1] * sy[:, None]
    xr = c[:, None] * x0 - s[:, None] * y0
    yr = s[:, None] * x0 + c[:, None] * y0
    col = (SIZE - 1) / 2 + shift[:, 0:1] + xr
    row = (SIZE - 1) / 2 + shift[:, 1:2] - yr
    # ink per point: arc length it stands for (half the distance to its neighbours), pen pressure
    rows = np.arange(n)[:, None]
    prev, nxt = pen.prev[tmpl], pen.next[tmpl]
    dc = col[rows, nxt] - col[rows, prev]
    dr = row[rows, nxt] - row[rows, prev]
    ds = 0.5 * np.hypot(dc, dr) * pen.valid[tmpl]
    k = np.arange(POINTS)[None, :]
    weight = ds * (1.0 + pressure[:, None] * np.sin(freq[:, None] * k * 2 * np.pi / 8 + phase[:, None]))
    weight = weight / (sigma[:, None] * math.sqrt(2 * math.pi))  # 1.0 on the centre of a long stroke

    out = np.empty((n, SIZE, SIZE), dtype=np.float32)
    f32 = np.float32
    col, row = col.astype(f32), row.astype(f32)
    inv = (1.0 / (math.sqrt(2.0) * sigma)).astype(f32)
    weight, gain = weight.astype(f32), gain.astype(f32)
    noise_level = noise_level.astype(f32)
    grid = torch.arange(SIZE, dtype=torch.float32)
    tgen = torch.Generator().manual_seed(noise_seed)
    # Preallocated buffers, reused chunk after chunk: fresh large tensors cost page faults.
    m = min(chunk, n)
    gx = torch.empty(m, POINTS, SIZE)
    gy = torch.empty(m, POINTS, SIZE)
    field = torch.empty(m, SIZE, SIZE)
    noise = torch.empty(m, SIZE, SIZE)
    for a in range(0, n, chunk):
        b = min(n, a + chunk)
        k = b - a
        for g, centre in ((gx, col), (gy, row)):
            g = g[:k]
            torch.sub(grid, torch.from_numpy(centre[a:b, :, None]), out=g)
            g.mul_(torch.from_numpy(inv[a:b, None, None])).square_().neg_().exp_()
        gy[:k].mul_(torch.from_numpy(weight[a:b, :, None]))
        torch.bmm(gy[:k].transpose(1, 2), gx[:k], out=field[:k])  # (k, 28, 28): rows x cols
        ink = field[:k].clamp_min_(0.0).mul_(torch.from_numpy(-gain[a:b, None, None])).exp_().neg_().add_(1.0)
        torch.randn(k, SIZE, SIZE, generator=tgen, out=noise[:k])
        ink.addcmul_(noise[:k], torch.from_numpy(noise_level[a:b, None, None])).clamp_(0.0, 1.0)
        out[a:b] = ink.numpy()
    return out


def ascii_digit(image: torch.Tensor | np.ndarray, ramp: str = " .:-=+*#%@") -> str:
    """A 28x28 image (any leading singleton dims) as text, one character per pixel."""
    a = image.detach().cpu().numpy() if isinstance(image, torch.Tensor) else np.asarray(image)
    a = a.reshape(a.shape[-2], a.shape[-1]).astype(np.float64)
    if a.max() > 1.0:
        a = a / 255.0
    idx = np.clip((a * (len(ramp) - 1)).round().astype(int), 0, len(ramp) - 1)
    return "\n".join("".join(ramp[i] for i in row) for row in idx)


# ---------------------------------------------------------------------------------------------
# Datasets


class _DigitsBase(torch.utils.data.Dataset):
    """What SyntheticDigits and MNISTFiles share: .data uint8 (n, 28, 28), .targets int64 (n,)."""

    data: torch.Tensor
    targets: torch.Tensor
    transform: Callable | None
    classes = [str(d) for d in range(10)]

    def __len__(self) -> int:
        return int(self.data.shape[0])

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        image = self.data[index].to(torch.float32).div_(255.0).unsqueeze(0)  # (1, 28, 28) in [0, 1]
        if self.transform is not None:
            image = self.transform(image)
        return image, int(self.targets[index])

    def tensors(self, normalize: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        """All images at once as float32 (n, 1, 28, 28) in [0, 1] and the int64 labels (n,).

        The transform is not applied; `normalize=True` subtracts the mean and divides by
        the std of these images (computed here).
        """
        x = self.data.to(torch.float32).div_(255.0).unsqueeze(1)
        if normalize:
            x = (x - x.mean()) / x.std()
        return x, self.targets.clone()


class SyntheticDigits(_DigitsBase):
    """`n` synthetic handwritten digits, the same for the same (seed, train).

    Like torchvision.datasets.MNIST: `ds[i]` is (image, label) with the image a float32
    tensor (1, 28, 28) in [0, 1] (after `transform` if given) and label an int;
    `ds.data` is uint8 (n, 28, 28) and `ds.targets` int64 (n,). `train=False` draws a
    different stream from the same seed, so a test set never repeats training images.
    """

    def __init__(self, n: int = 10000, seed: int = 0, train: bool = True,
                 transform: Callable | None = None) -> None:
        if n < 0:
            raise ValueError(f"n must be >= 0, got {n}")
        self.n, self.seed, self.train, self.transform = n, seed, train, transform
        rng = np.random.default_rng([int(seed) % 2**32, 0 if train else 1, 2024])
        labels = balanced_labels(n, rng)
        images = render_digits(labels, rng) if n else np.zeros((0, SIZE, SIZE), np.float32)
        self.data = torch.from_numpy(np.rint(images * 255.0).astype(np.uint8))
        self.targets = torch.from_numpy(labels)

    def __repr__(self) -> str:
        split = "train" if self.train else "test"
        return f"SyntheticDigits(n={self.n}, seed={self.seed}, {split})"


# ---------------------------------------------------------------------------------------------
# Real MNIST files (IDX format: http://yann.lecun.com/exdb/mnist/)

_IDX_TYPES = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def read_idx(path: str | Path) -> np.ndarray:
    """Read an IDX file (raw, or gzip-compressed: detected from its first bytes) into an array.

    The header is two zero bytes, a type code (0x08 = uint8 ...), the number of dimensions,
    then each dimension as a big-endian int32; the data follows in C order.
    """
    raw = Path(path).read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise ValueError(f"{path}: not an IDX file (bad magic number)")
    code, ndim = raw[2], raw[3]
    if code not in _IDX_TYPES:
        raise ValueError(f"{path}: unknown IDX data type 0x{code:02x}")
    dims = struct.unpack(f">{ndim}I", raw[4 : 4 + 4 * ndim])
    dtype = _IDX_TYPES[code]
    count = int(np.prod(dims)) if dims else 1
    start = 4 + 4 * ndim
    if len(raw) - start < count * dtype.itemsize:
        raise ValueError(f"{path}: truncated IDX file ({len(raw) - start} bytes of data for shape {dims})")
    array = np.frombuffer(raw, dtype=dtype, count=count, offset=start).reshape(dims)
    return array.astype(dtype.newbyteorder("="))


def write_idx(path: str | Path, array: np.ndarray, compress: bool | None = None) -> None:
    """Write `array` as an IDX file (gzip when `compress`, or when the name ends in .gz)."""
    array = np.asarray(array)
    codes = {v.newbyteorder("="): k for k, v in _IDX_TYPES.items()}
    native = array.dtype.newbyteorder("=")
    if native not in codes:
        raise ValueError(f"IDX cannot store dtype {array.dtype}")
    code = codes[native]
    body = array.astype(_IDX_TYPES[code]).tobytes()
    header = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    data = header + body
    path = Path(path)
    if compress or (compress is None and path.suffix == ".gz"):
        data = gzip.compress(data)
    path.write_bytes(data)


def _find(root: Path, stem: str) -> Path:
    for folder in (root, root / "MNIST" / "raw", root / "raw"):
        for name in (stem, stem + ".gz", stem.replace("-idx", ".idx")):
            if (folder / name).is_file():
                return folder / name
    raise FileNotFoundError(f"no {stem}[.gz] under {root} (looked in ., MNIST/raw, raw)")


class MNISTFiles(_DigitsBase):
    """Real MNIST from its four IDX files under `root` (as downloaded, gzip or not).

    Looks for train-images-idx3-ubyte / train-labels-idx1-ubyte (or t10k-... when
    train=False) in `root`, `root/MNIST/raw` (torchvision's layout) or `root/raw`.
    Same interface as SyntheticDigits.
    """

    def __init__(self, root: str | Path, train: bool = True, transform: Callable | None = None) -> None:
        root = Path(root)
        prefix = "train" if train else "t10k"
        images = read_idx(_find(root, f"{prefix}-images-idx3-ubyte"))
        labels = read_idx(_find(root, f"{prefix}-labels-idx1-ubyte"))
        if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
            raise ValueError(f"MNIST files under {root} disagree: images {images.shape}, labels {labels.shape}")
        self.root, self.train, self.transform = root, train, transform
        self.data = torch.from_numpy(np.ascontiguousarray(images, dtype=np.uint8))
        self.targets = torch.from_numpy(labels.astype(np.int64))

    def __repr__(self) -> str:
        return f"MNISTFiles({str(self.root)!r}, train={self.train}, n={len(self)})"

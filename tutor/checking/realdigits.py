"""Real handwriting: the 1,797 8×8 UCI digits that scikit-learn bundles, shipped in data_files/.

    images, labels = load_uci_digits()   # uint8 (1797, 8, 8) with values 0..16, int64 (1797,)
    x = to_28x28(images)                 # float32 (1797, 1, 28, 28) in [0, 1], framed like SyntheticDigits
    train_idx, test_idx = few_shot_split(labels, shots=5, seed=0)

Each 8×8 value counts the ink pixels in a 4×4 block of a 32×32 bitmap (0..16). to_28x28 divides
by 16, pads two blank pixels on every side (12×12) and upsamples bicubically to 28×28, so the
digit fills about 19 of 28 pixels, like a synthetic digit. The framing was chosen on the zero-shot
accuracy of the shipped backbone (weights/digits_cnn_v1.pt, all 1,797 images), bilinear / bicubic:
pad 0 (8→28) 0.643 / 0.653, pad 1 (10→28) 0.753 / 0.764, pad 2 (12→28) 0.773 / 0.797,
pad 3 (14→28) 0.704 / 0.758. Source and licence: data_files/README.md.
"""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

DATA_FILE = Path(__file__).resolve().parent / "data_files" / "uci_digits.csv.gz"
SHA256 = "09f66e6debdee2cd2b5ae59e0d6abbb73fc2b0e0185d2e1957e9ebb51e23aa22"
PAD = 2  # blank pixels added on each side before upsampling (the measured best framing)

_CACHE: tuple[np.ndarray, np.ndarray] | None = None


def load_uci_digits() -> tuple[np.ndarray, np.ndarray]:
    """(images uint8 (1797, 8, 8) in 0..16, labels int64 (1797,)); the file's SHA-256 is checked."""
    global _CACHE
    if _CACHE is None:
        raw = DATA_FILE.read_bytes()
        digest = hashlib.sha256(raw).hexdigest()
        if digest != SHA256:
            raise RuntimeError(f"{DATA_FILE} has SHA-256 {digest}, expected {SHA256}: the file is damaged; "
                               "rebuild it with data_files/rebuild_uci_digits.py")
        table = np.loadtxt(gzip.decompress(raw).decode().splitlines(), delimiter=",", dtype=np.float64)
        images = table[:, :64].reshape(-1, 8, 8).astype(np.uint8)
        labels = table[:, 64].astype(np.int64)
        _CACHE = images, labels
    images, labels = _CACHE
    return images.copy(), labels.copy()


def to_28x28(images, pad: int = PAD, mode: str = "bicubic") -> torch.Tensor:
    """8×8 digits (values 0..16) -> float32 (n, 1, 28, 28) in [0, 1]: /16, pad `pad` zeros, upsample."""
    x = torch.as_tensor(np.asarray(images), dtype=torch.float32).reshape(-1, 1, 8, 8) / 16.0
    if pad:
        x = F.pad(x, (pad, pad, pad, pad))
    kwargs = {} if mode == "nearest" else {"align_corners": False}
    return F.interpolate(x, size=(28, 28), mode=mode, **kwargs).clamp_(0.0, 1.0)


def few_shot_split(labels, shots: int, seed: int, n_test: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """`shots` random training indices per class and the test indices (all the others, or `n_test`
    of them, class-balanced order not guaranteed); the same for the same seed."""
    labels = np.asarray(labels)
    rng = np.random.default_rng([int(seed) % 2**32, 20])
    train = np.concatenate([rng.choice(np.flatnonzero(labels == c), shots, replace=False) for c in range(10)])
    rest = rng.permutation(np.setdiff1d(np.arange(len(labels)), train))
    return rng.permutation(train), (rest if n_test is None else rest[:n_test])

"""The pretrained backbone of the transfer-learning lesson: a small CNN trained on SyntheticDigits.

    from tutor.checking.pretrained import DigitsCNN, SOURCE_MEAN, SOURCE_STD, backbone_path
    model = DigitsCNN()                                   # .features (the body) and .fc (the head)
    state = torch.load(backbone_path(), map_location="cpu", weights_only=True)
    model.load_state_dict(state)                          # strict: every key must match

The weights file, weights/digits_cnn_v1.pt, is shipped with the project and made by
weights/make_digits_cnn.py with `pretrain(seed=0)`: 10,000 synthetic digits (seed 0), inputs
normalised with SOURCE_MEAN and SOURCE_STD, Adam lr 1e-3, batch 64, 2 epochs. `backbone_path()`
checks its SHA-256; when the file is missing or damaged it pretrains once (about 5 s) and caches
the result in the user's cache folder (DLTUTOR_CACHE, else $XDG_CACHE_HOME/dltutor, else
~/.cache/dltutor), so no check ever downloads anything.
"""

from __future__ import annotations

import hashlib
import io
import os
import tempfile
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
WEIGHTS_FILE = WEIGHTS_DIR / "digits_cnn_v1.pt"
SHA256 = "88103f40a9ab635f47487bae0482a31731f21bc1842833ba9c3c44bc3f677e2a"

# Mean and std of the pretraining pixels in [0, 1] (10,000 SyntheticDigits, seed 0, measured
# 0.15039 and 0.28278): every input of this backbone, source or target, is (x - mean) / std.
SOURCE_MEAN = 0.1504
SOURCE_STD = 0.2828


class DigitsCNN(nn.Module):
    """conv-BN-ReLU-pool ×3, then a 128-unit feature layer (the body, `.features`); `.fc` is the head.

    Input (n, 1, 28, 28) normalised with SOURCE_MEAN/SOURCE_STD; output logits (n, num_classes).
    Like torchvision's ResNet, the head is `model.fc` and `model.fc.in_features` is the feature size.
    """

    def __init__(self, num_classes: int = 10) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),   # 14×14
            nn.Conv2d(16, 32, 3, padding=1, bias=False), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),  # 7×7
            nn.Conv2d(32, 64, 3, padding=1, bias=False), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),  # 3×3
            nn.Flatten(), nn.Linear(64 * 3 * 3, 128), nn.ReLU(),
        )
        self.fc = nn.Linear(128, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.features(x))


def file_sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def pretrain(seed: int = 0, n: int = 10000, epochs: int = 2, batch_size: int = 64, lr: float = 1e-3) -> DigitsCNN:
    """Train a DigitsCNN on `n` SyntheticDigits (deterministic for a seed on one CPU thread)."""
    from tutor.checking.digits import SyntheticDigits

    torch.manual_seed(seed)
    model = DigitsCNN()
    x, y = SyntheticDigits(n, seed=seed, train=True).tensors()
    x = (x - SOURCE_MEAN) / SOURCE_STD
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    gen = torch.Generator().manual_seed(seed)
    model.train()
    for _ in range(epochs):
        order = torch.randperm(n, generator=gen)
        for start in range(0, n, batch_size):
            idx = order[start:start + batch_size]
            optimizer.zero_grad()
            F.cross_entropy(model(x[idx]), y[idx]).backward()
            optimizer.step()
    return model.eval()


def save_state(model: nn.Module, path: Path) -> None:
    """Save the state_dict (fp32 tensors only: loadable with weights_only=True)."""
    state = {k: v.detach().clone().contiguous() for k, v in model.state_dict().items()}
    buffer = io.BytesIO()  # through a buffer: the archive's inner folder name never depends on the path
    torch.save(state, buffer)
    tmp = Path(path).with_name(Path(path).name + ".tmp")
    tmp.write_bytes(buffer.getvalue())
    os.replace(tmp, path)


def cache_dir() -> Path:
    root = os.environ.get("DLTUTOR_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "dltutor")
    return Path(root)


def backbone_path() -> Path:
    """The shipped weights when their SHA-256 matches; else a cached copy, pretrained here once."""
    if WEIGHTS_FILE.is_file() and file_sha256(WEIGHTS_FILE) == SHA256:
        return WEIGHTS_FILE
    for folder in (cache_dir(), Path(tempfile.gettempdir()) / "dltutor-cache"):
        cached = folder / WEIGHTS_FILE.name
        if cached.is_file():
            return cached
        try:
            folder.mkdir(parents=True, exist_ok=True)
            save_state(pretrain(), cached)
            return cached
        except OSError:
            continue
    raise RuntimeError("the pretrained backbone is missing and no cache folder is writable")

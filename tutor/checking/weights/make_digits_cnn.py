"""Make digits_cnn_v1.pt: the DigitsCNN backbone of the transfer-learning lesson, pretrained here.

    python tutor/checking/weights/make_digits_cnn.py            # rewrites digits_cnn_v1.pt
    python tutor/checking/weights/make_digits_cnn.py OUT.pt     # writes elsewhere (to compare)

pretrain(seed=0) in tutor/checking/pretrained.py: 10,000 SyntheticDigits (seed 0), normalised with
SOURCE_MEAN/SOURCE_STD, Adam lr 1e-3, batch 64, 2 epochs, one CPU thread. It prints the SHA-256;
when you change the recipe on purpose, record it in pretrained.SHA256 and README.md.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import torch

from tutor.checking.digits import SyntheticDigits
from tutor.checking.pretrained import SHA256, SOURCE_MEAN, SOURCE_STD, WEIGHTS_FILE, file_sha256, pretrain, save_state


def main() -> int:
    torch.set_num_threads(1)
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else WEIGHTS_FILE
    start = time.perf_counter()
    model = pretrain(seed=0)
    seconds = time.perf_counter() - start
    save_state(model, out)
    x, y = SyntheticDigits(2000, seed=0, train=False).tensors()
    with torch.no_grad():
        acc = (model((x - SOURCE_MEAN) / SOURCE_STD).argmax(1) == y).double().mean().item()
    digest = file_sha256(out)
    print(f"{out}: {out.stat().st_size} bytes, sha256 {digest}; pretrained in {seconds:.1f} s; "
          f"synthetic test accuracy {acc:.4f}")
    if digest != SHA256:
        print(f"note: differs from the recorded SHA-256 {SHA256}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

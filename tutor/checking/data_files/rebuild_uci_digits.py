"""Re-extract uci_digits.csv.gz from a scikit-learn wheel (the only way this file is made).

    pip download scikit-learn --no-deps -d /tmp/skl
    python tutor/checking/data_files/rebuild_uci_digits.py /tmp/skl/scikit_learn-*.whl

The file is scikit-learn's sklearn/datasets/data/digits.csv.gz copied byte for byte; the script
prints its SHA-256 and checks it against the one in README.md (scikit-learn 1.9.1).
"""

from __future__ import annotations

import hashlib
import sys
import zipfile
from pathlib import Path

MEMBER = "sklearn/datasets/data/digits.csv.gz"
SHA256 = "09f66e6debdee2cd2b5ae59e0d6abbb73fc2b0e0185d2e1957e9ebb51e23aa22"
TARGET = Path(__file__).resolve().parent / "uci_digits.csv.gz"


def main(wheel: str) -> int:
    data = zipfile.ZipFile(wheel).read(MEMBER)
    digest = hashlib.sha256(data).hexdigest()
    TARGET.write_bytes(data)
    print(f"wrote {TARGET} ({len(data)} bytes), sha256 {digest}")
    if digest != SHA256:
        print(f"warning: the SHA-256 differs from the recorded {SHA256}; update README.md and "
              "tutor/checking/realdigits.py if the content really changed")
        return 1
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1]))

#!/usr/bin/env bash
# Install dltutor into the current Python environment (a virtualenv is a good idea).
#   ./install.sh          the tutor
#   ./install.sh --dev    the tutor and the test tools
# torch: a torch already installed is kept (your CUDA build stays). Where there is none,
# torch 2.13.0 is installed first: the CUDA build on a Linux GPU box, the CPU build elsewhere.
set -euo pipefail
cd "$(dirname "$0")"
PY="${PYTHON:-python3}"
extra=""
[[ "${1:-}" == "--dev" ]] && extra="[dev]"
if ! "$PY" -c "import torch" >/dev/null 2>&1; then
    "$PY" -m pip install "torch==2.13.0"
fi
"$PY" -m pip install -e ".${extra}"

#!/usr/bin/env bash
# Install dltutor from this clone.
#   ./install.sh          the tutor
#   ./install.sh --dev    the tutor and the test tools
#   ./install.sh --cpu    with the CPU-only build of torch (from PyTorch's CPU wheel index)
#
# Where: run inside a virtualenv or conda env, it installs there, and .venv here points to it.
# Otherwise it makes (or reuses) the virtualenv .venv here, so a system Python that refuses
# pip installs (PEP 668: Debian 12, Ubuntu 24.04) works too, and links ~/.local/bin/dltutor.
# Either way .venv/bin/dltutor and .venv/bin/python are the tutor's.
#
# torch: a torch the environment can already import is kept (your CUDA build stays; a new
# .venv sees the system's torch). Where there is none, torch 2.13.0 is installed: from PyPI
# by default (the CUDA build on a Linux GPU box), or with --cpu the CPU build from
# $DLTUTOR_TORCH_INDEX (default https://download.pytorch.org/whl/cpu).
set -euo pipefail
cd "$(dirname "$0")"
here="$(pwd)"

TORCH="torch==2.13.0"
CPU_INDEX="${DLTUTOR_TORCH_INDEX:-https://download.pytorch.org/whl/cpu}"
PY="${PYTHON:-python3}"
extra=""
cpu=0
for arg in "$@"; do
    case "$arg" in
        --dev) extra="[dev]" ;;
        --cpu) cpu=1 ;;
        -h|--help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "install.sh: unknown option $arg (use --dev, --cpu)" >&2; exit 2 ;;
    esac
done

say() { echo "install.sh: $*" >&2; }

if ! command -v "$PY" >/dev/null 2>&1; then
    say "no $PY found; install Python 3.10 or newer (or set PYTHON=/path/to/python3)"
    exit 1
fi
if ! "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 10))'; then
    say "$("$PY" --version 2>&1) is too old: dltutor needs Python 3.10 or newer"
    exit 1
fi

# Is $PY inside a virtualenv or a conda env? Then that is where the tutor goes.
in_env=$("$PY" -c 'import os, sys
conda = os.environ.get("CONDA_PREFIX")
print(int(sys.prefix != sys.base_prefix or bool(conda and os.path.realpath(conda) == os.path.realpath(sys.prefix))))')
linked=""
if [[ "$in_env" == 1 ]]; then
    env_dir="$("$PY" -c 'import sys; print(sys.prefix)')"
    if [[ -L .venv || ! -e .venv ]]; then
        ln -sfn "$env_dir" .venv
    elif [[ "$(cd .venv && pwd -P)" != "$(cd "$env_dir" && pwd -P)" ]]; then
        say "warning: .venv here is another environment; installing into $env_dir, the one you are in"
    fi
    VPY="$env_dir/bin/python"
    [[ -x "$VPY" ]] || VPY="$("$PY" -c 'import sys; print(sys.executable)')"
    say "installing into the environment you are in: $env_dir"
else
    if [[ ! -x .venv/bin/python ]]; then
        rm -rf .venv  # a broken or half-made one
        opts=()
        if "$PY" -c "import torch" >/dev/null 2>&1; then
            opts+=(--system-site-packages)  # keep the torch this Python already has
            say "making the virtualenv $here/.venv (it sees this Python's torch)"
        else
            say "making the virtualenv $here/.venv"
        fi
        if ! "$PY" -m venv ${opts[@]+"${opts[@]}"} .venv; then
            say "could not make a virtualenv with $PY. On Debian or Ubuntu: sudo apt install python3-venv"
            rm -rf .venv
            exit 1
        fi
    else
        say "reusing the virtualenv $here/.venv"
    fi
    VPY="$here/.venv/bin/python"
    linked=1
fi

if "$VPY" -c "import torch" >/dev/null 2>&1; then
    say "keeping torch $("$VPY" -c 'import torch; print(torch.__version__)')"
elif [[ "$cpu" == 1 ]]; then
    say "installing $TORCH, the CPU build, from $CPU_INDEX"
    "$VPY" -m pip install "$TORCH" --index-url "$CPU_INDEX"
else
    if [[ "$(uname -s)" == Linux ]] && ! command -v nvidia-smi >/dev/null 2>&1; then
        say "no NVIDIA GPU found: ./install.sh --cpu gets the CPU-only torch (far smaller than the CUDA build)"
    fi
    say "installing $TORCH"
    "$VPY" -m pip install "$TORCH"
fi
"$VPY" -m pip install -e ".${extra}"

if [[ -n "$linked" ]]; then
    bin="$HOME/.local/bin"
    mkdir -p "$bin"
    if [[ -e "$bin/dltutor" && ! -L "$bin/dltutor" ]]; then
        say "warning: $bin/dltutor exists and is not a link; left alone"
    else
        ln -sfn "$here/.venv/bin/dltutor" "$bin/dltutor"
        say "linked $bin/dltutor -> $here/.venv/bin/dltutor"
    fi
    case ":$PATH:" in
        *":$bin:"*) ;;
        *) say "$bin is not on your PATH: add it (export PATH=\"\$HOME/.local/bin:\$PATH\"), or run" \
               ".venv/bin/dltutor, or activate the virtualenv: source .venv/bin/activate" ;;
    esac
fi
say "done: .venv/bin/dltutor start opens the tutor"

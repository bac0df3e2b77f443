"""Seeds, deterministic algorithms and the device a check trains on."""

from __future__ import annotations

import os
import random
import sys

import numpy as np
import torch

# One thread: the course's models are small, where more threads only add overhead, and two
# checks at once (or a busy machine) would oversubscribe the cores (seen: 1 s became 99 s).
CPU_THREADS = 1


def configure() -> None:
    """Deterministic kernels, TF32 off, a fixed number of CPU threads."""
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    # torch.use_deterministic_algorithms(True, warn_only=True) without its `import torch._inductor.config`
    # (~830 modules, 0.9 s of every one-shot check); inductor's flag is set in seed_everything once a
    # learner's torch.compile has imported it.
    torch._C._set_deterministic_algorithms(True, warn_only=True)
    torch.backends.cudnn.benchmark = False
    torch.backends.cudnn.deterministic = True
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.set_num_threads(CPU_THREADS)


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (every device)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    inductor = sys.modules.get("torch._inductor.config")
    if inductor is not None:
        inductor.deterministic = True


def preload() -> None:
    """Pay torch's lazy imports (torch._dynamo, inductor's config: ~1-2 s the first time an optimizer
    is built) in a process started ahead of time (warm, or the fork server's), not in its first check."""
    import torch._inductor.config as inductor

    inductor.deterministic = True
    torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)


def pick_device(requested: str | None = None) -> torch.device:
    """CUDA, then MPS, then CPU; `requested` ('cpu', 'cuda', 'cuda:1', 'mps') overrides."""
    if requested and requested != "auto":
        device = torch.device(requested)
        if device.type == "cuda" and not torch.cuda.is_available():
            raise RuntimeError(f"--device {requested}: CUDA is not available on this machine")
        if device.type == "mps" and not torch.backends.mps.is_available():
            raise RuntimeError(f"--device {requested}: MPS is not available on this machine")
        return device
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def describe_device(device: torch.device) -> str:
    """'CUDA: NVIDIA H100 80GB HBM3 (79.1 GiB)', 'MPS', or 'CPU, 1 thread'."""
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        return f"CUDA: {props.name} ({props.total_memory / 2**30:.1f} GiB)"
    if device.type == "mps":
        return "MPS (Apple GPU)"
    threads = torch.get_num_threads()
    return f"CPU, {threads} thread{'s' if threads != 1 else ''}"


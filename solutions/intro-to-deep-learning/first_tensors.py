"""Your environment and your first tensors (reference solution)."""

import numpy as np
import torch


def best_device() -> torch.device:
    """Return the best device on this machine: CUDA, then Apple's MPS, then the CPU."""
    if torch.cuda.is_available():
        return torch.device("cuda")
    if torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def make_tensors(device: torch.device) -> dict[str, torch.Tensor]:
    """Create four tensors on `device`:

    - "zeros":    shape (2, 3), all 0, dtype float32
    - "eye":      the 4x4 identity matrix, dtype float64
    - "steps":    0, 1, ..., 9 (shape (10,)), dtype int64
    - "column":   the numbers 1.0, 2.0, 3.0 as a column of shape (3, 1), dtype float32
    """
    return {
        "zeros": torch.zeros(2, 3, dtype=torch.float32, device=device),
        "eye": torch.eye(4, dtype=torch.float64, device=device),
        "steps": torch.arange(10, dtype=torch.int64, device=device),
        "column": torch.tensor([1.0, 2.0, 3.0], device=device).reshape(3, 1),
    }


def share_memory(array: np.ndarray) -> torch.Tensor:
    """Return a tensor that shares memory with the NumPy `array` (no copy)."""
    return torch.from_numpy(array)


def polynomial_and_slope(x: float) -> tuple[float, float]:
    """For y = 3x³ − 2x² + 5x − 7, return (y, dy/dx) at `x`, computed with autograd.

    Make a float64 tensor with requires_grad=True, build y from it, call
    y.backward() once, and read the slope from the tensor's .grad.
    """
    t = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    y = 3 * t**3 - 2 * t**2 + 5 * t - 7
    y.backward()
    return y.item(), t.grad.item()

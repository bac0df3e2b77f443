"""Your environment and your first tensors.

Fill in each function below, then run `dltutor check 1`. Each function says
exactly what it must return; the check tells you which part is still off.
"""

import numpy as np
import torch


def best_device() -> torch.device:
    """Return the best device on this machine: CUDA, then Apple's MPS, then the CPU.

    Use torch.cuda.is_available() and torch.backends.mps.is_available().
    """
    # TODO: return torch.device("cuda"), torch.device("mps") or torch.device("cpu")
    raise NotImplementedError


def make_tensors(device: torch.device) -> dict[str, torch.Tensor]:
    """Create four tensors on `device`:

    - "zeros":    shape (2, 3), all 0, dtype float32
    - "eye":      the 4x4 identity matrix, dtype float64
    - "steps":    0, 1, ..., 9 (shape (10,)), dtype int64
    - "column":   the numbers 1.0, 2.0, 3.0 as a column of shape (3, 1), dtype float32
    """
    # TODO: torch.zeros, torch.eye, torch.arange, torch.tensor(...).reshape
    raise NotImplementedError


def share_memory(array: np.ndarray) -> torch.Tensor:
    """Return a tensor that shares memory with the NumPy `array` (no copy).

    Changing array[0] afterwards must change the tensor too.
    """
    # TODO: one of torch.tensor / torch.from_numpy copies, the other does not
    raise NotImplementedError


def polynomial_and_slope(x: float) -> tuple[float, float]:
    """For y = 3x³ − 2x² + 5x − 7, return (y, dy/dx) at `x`, computed with autograd.

    Make a float64 tensor with requires_grad=True, build y from it, call
    y.backward() once, and read the slope from the tensor's .grad.
    Return two Python floats (use .item()).
    """
    # TODO
    raise NotImplementedError

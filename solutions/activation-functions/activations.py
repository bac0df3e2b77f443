"""Activation functions and their derivatives, written by hand (reference solution).

Torch tensors in, torch tensors out: same shape, dtype and device as the input,
and the input is never modified. Built from elementary operations (exp, expm1,
abs, where, comparisons, arithmetic); torch's own sigmoid/tanh/relu/leaky_relu
are not used.

Convention at the kinks: at exactly x = 0 the derivative is the one from the
left (the negative side), as PyTorch's autograd does: relu'(0) = 0 and
leaky_relu'(0) = negative_slope.
"""

import torch


def sigmoid(x: torch.Tensor) -> torch.Tensor:
    """The logistic function 1 / (1 + exp(-x)), elementwise, without overflow.

    Finite for every finite x (sigmoid(-1000) = 0, sigmoid(1000) = 1) and no
    inf or nan anywhere inside the computation.
    """
    z = torch.exp(-x.abs())  # in (0, 1]: never overflows
    return torch.where(x >= 0, 1 / (1 + z), z / (1 + z))


def sigmoid_grad(x: torch.Tensor) -> torch.Tensor:
    """d sigmoid / dx at x, by formula: sigmoid(x) * (1 - sigmoid(x))."""
    s = sigmoid(x)
    return s * (1 - s)


def tanh(x: torch.Tensor) -> torch.Tensor:
    """The hyperbolic tangent (e^x - e^-x) / (e^x + e^-x), elementwise, without overflow."""
    m = torch.expm1(-2 * x.abs())  # e^(-2|x|) - 1, in (-1, 0]: accurate near 0, never overflows
    t = -m / (2 + m)  # tanh(|x|)
    return torch.where(x >= 0, t, -t)


def tanh_grad(x: torch.Tensor) -> torch.Tensor:
    """d tanh / dx at x, by formula: 1 - tanh(x)**2."""
    return 1 - tanh(x) ** 2


def relu(x: torch.Tensor) -> torch.Tensor:
    """max(0, x), elementwise."""
    return torch.where(x > 0, x, torch.zeros_like(x))


def relu_grad(x: torch.Tensor) -> torch.Tensor:
    """d relu / dx: 1 where x > 0, else 0 (0 at x = 0)."""
    return (x > 0).to(x.dtype)


def leaky_relu(x: torch.Tensor, negative_slope: float = 0.01) -> torch.Tensor:
    """x where x > 0, negative_slope * x elsewhere."""
    return torch.where(x > 0, x, negative_slope * x)


def leaky_relu_grad(x: torch.Tensor, negative_slope: float = 0.01) -> torch.Tensor:
    """d leaky_relu / dx: 1 where x > 0, else negative_slope (negative_slope at x = 0)."""
    return torch.where(x > 0, torch.ones_like(x), torch.full_like(x, negative_slope))


def saturation_fraction(z: torch.Tensor, kind: str = "sigmoid", threshold: float = 0.01) -> float:
    """The fraction of saturated entries of a batch of pre-activations.

    z: (batch, units) pre-activations of a sigmoid or tanh layer (kind is
    "sigmoid" or "tanh"). An entry (one example, one unit) is saturated when the
    activation's derivative there is below `threshold`: the unit passes back
    less than that fraction of the gradient for that example. Returns the
    fraction of saturated entries among all batch * units entries, a Python float.
    """
    grad = sigmoid_grad(z) if kind == "sigmoid" else tanh_grad(z)
    return (grad < threshold).to(torch.float64).mean().item()


def dead_relu_fraction(z: torch.Tensor) -> float:
    """The fraction of dead ReLU units on a batch.

    z: (batch, units) pre-activations of a ReLU layer. A unit (a column) is dead
    on this batch when its output relu(z) is 0 for every example in the batch.
    Returns the number of dead units divided by the number of units, a Python float.
    """
    dead = (relu(z) == 0).all(dim=0)
    return dead.to(torch.float64).mean().item()

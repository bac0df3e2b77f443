"""Activation functions and their derivatives, written by hand.

Torch tensors in, torch tensors out: every function returns a new tensor with
the same shape, dtype and device as its input, and never modifies the input.

Build them from elementary operations: torch.exp, torch.expm1, .abs(),
torch.where, comparisons (x > 0) and arithmetic. torch's own activations
(torch.sigmoid, torch.tanh, torch.relu, F.leaky_relu, x.sigmoid(), nn.ReLU(),
torch.special.expit, ...) are the answers, so the check refuses them.

Convention at the kinks: at exactly x = 0 the derivative is the one from the
left (the negative side), as PyTorch's autograd does: relu'(0) = 0 and
leaky_relu'(0) = negative_slope.

Run `dltutor check 5` when you have filled in a function or two.
"""

import torch


def sigmoid(x: torch.Tensor) -> torch.Tensor:
    """The logistic function 1 / (1 + exp(-x)), elementwise, without overflow.

    Must be finite for every finite x (sigmoid(-1000) = 0, sigmoid(1000) = 1) in
    float32 and float64, with no inf or nan anywhere inside the computation
    (the check watches every torch operation you call).
    """
    # TODO: only exponentiate numbers <= 0: z = torch.exp(-x.abs()), then choose
    #       1 / (1 + z) or z / (1 + z) with torch.where
    raise NotImplementedError


def sigmoid_grad(x: torch.Tensor) -> torch.Tensor:
    """d sigmoid / dx at x, by formula (not autograd): sigmoid(x) * (1 - sigmoid(x))."""
    # TODO
    raise NotImplementedError


def tanh(x: torch.Tensor) -> torch.Tensor:
    """The hyperbolic tangent (e^x - e^-x) / (e^x + e^-x), elementwise, without overflow.

    Same rules as sigmoid: finite at ±1000, nothing overflows inside.
    """
    # TODO: tanh(|x|) from exp(-2|x|), then the sign of x
    raise NotImplementedError


def tanh_grad(x: torch.Tensor) -> torch.Tensor:
    """d tanh / dx at x, by formula (not autograd): 1 - tanh(x)**2."""
    # TODO
    raise NotImplementedError


def relu(x: torch.Tensor) -> torch.Tensor:
    """max(0, x), elementwise."""
    # TODO
    raise NotImplementedError


def relu_grad(x: torch.Tensor) -> torch.Tensor:
    """d relu / dx: 1 where x > 0, else 0 (0 at x = 0), with the dtype of x."""
    # TODO
    raise NotImplementedError


def leaky_relu(x: torch.Tensor, negative_slope: float = 0.01) -> torch.Tensor:
    """x where x > 0, negative_slope * x elsewhere."""
    # TODO
    raise NotImplementedError


def leaky_relu_grad(x: torch.Tensor, negative_slope: float = 0.01) -> torch.Tensor:
    """d leaky_relu / dx: 1 where x > 0, else negative_slope (negative_slope at x = 0)."""
    # TODO
    raise NotImplementedError


def saturation_fraction(z: torch.Tensor, kind: str = "sigmoid", threshold: float = 0.01) -> float:
    """The fraction of saturated entries of a batch of pre-activations.

    z: (batch, units) pre-activations of a sigmoid or tanh layer (kind is
    "sigmoid" or "tanh"). An entry (one example, one unit) is saturated when the
    activation's derivative there is below `threshold`: the unit passes back
    less than that fraction of the gradient for that example. Returns the
    fraction of saturated entries among all batch * units entries, a Python float.
    """
    # TODO: your sigmoid_grad / tanh_grad, compare with threshold, mean, .item()
    raise NotImplementedError


def dead_relu_fraction(z: torch.Tensor) -> float:
    """The fraction of dead ReLU units on a batch.

    z: (batch, units) pre-activations of a ReLU layer. A unit (a column) is dead
    on this batch when its output relu(z) is 0 for every example in the batch.
    Returns the number of dead units divided by the number of units, a Python float.
    """
    # TODO: (relu(z) == 0), reduce over the batch, then the mean over units
    raise NotImplementedError

"""A multi-layer perceptron's forward pass in NumPy.

Layers are stored the way PyTorch's nn.Linear stores them:
    W has shape (n_out, n_in)   one row per output unit
    b has shape (n_out,)
A batch X has one example per row, shape (batch, n_in), so a layer computes
    activation(X @ W.T + b)     -> shape (batch, n_out)

The activation functions are given below. Fill in the five functions under
"your code", then run `dltutor check 3`.
"""

from __future__ import annotations

import numpy as np


# ---------------------------------------------------------------- given: activations

def relu(z: np.ndarray) -> np.ndarray:
    """max(0, z), elementwise."""
    return np.maximum(z, 0.0)


def sigmoid(z: np.ndarray) -> np.ndarray:
    """1 / (1 + exp(-z)), elementwise."""
    return 1.0 / (1.0 + np.exp(-z))


def identity(z: np.ndarray) -> np.ndarray:
    """z unchanged (a layer with no activation)."""
    return z


def step(z: np.ndarray) -> np.ndarray:
    """1.0 where z >= 0, else 0.0 (the perceptron's step, as floats)."""
    return (z >= 0).astype(np.float64)


# ---------------------------------------------------------------- your code

def init_layer(n_in: int, n_out: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Weights and bias for a layer with n_in inputs and n_out outputs.

    W: (n_out, n_in) float64; every entry drawn from a normal distribution with
       mean 0 and standard deviation 1/sqrt(n_in). Draw from `rng` (for example
       rng.standard_normal(shape)), not from np.random, so that the same
       generator always gives the same weights.
    b: (n_out,) float64 zeros.
    Returns (W, b).
    """
    # TODO: rng.standard_normal((n_out, n_in)) scaled by 1/sqrt(n_in); np.zeros for b
    raise NotImplementedError


def layer_forward(X: np.ndarray, W: np.ndarray, b: np.ndarray, activation=relu) -> np.ndarray:
    """One dense layer on a batch: activation(X @ W.T + b).

    X: (batch, n_in); W: (n_out, n_in); b: (n_out,); activation: a function
    applied elementwise (relu, sigmoid, identity, step...).
    Returns (batch, n_out).
    """
    # TODO: one line
    raise NotImplementedError


def init_mlp(sizes: list[int], rng: np.random.Generator) -> list[tuple[np.ndarray, np.ndarray]]:
    """Parameters of an MLP with layer sizes sizes = [n_in, h1, ..., n_out].

    Returns a list of len(sizes) - 1 pairs (W, b); layer k (counting from 0) is
    init_layer(sizes[k], sizes[k + 1], rng). Use the same rng for all layers,
    in order. Example: sizes [3, 8, 2] -> [(W (8, 3), b (8,)), (W (2, 8), b (2,))].
    """
    # TODO: loop over neighbouring pairs of sizes
    raise NotImplementedError


def mlp_forward(X: np.ndarray, params: list[tuple[np.ndarray, np.ndarray]], activation=relu) -> np.ndarray:
    """The MLP's output for a batch X of shape (batch, n_in).

    params: a list of (W, b) pairs as made by init_mlp.
    Every layer except the last applies `activation`; the LAST layer is linear
    (no activation): it returns raw scores, shape (batch, n_out).
    Same as torch's nn.Sequential(Linear, act, Linear, act, ..., Linear).
    """
    # TODO: feed h through the layers with layer_forward; identity on the last
    raise NotImplementedError


def xor_weights() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Hand-set weights of a 2-2-1 network that computes XOR.

    The network uses step units in both layers:
        hidden = step(x @ W1.T + b1)        W1: (2, 2), b1: (2,)
        out    = step(hidden @ W2.T + b2)   W2: (1, 2), b2: (1,)
    For the inputs (0,0), (0,1), (1,0), (1,1), out must be 0, 1, 1, 0.
    Keep every pre-activation z at least 0.01 away from 0, so the answer does
    not depend on what step does at exactly 0.
    Returns (W1, b1, W2, b2) as float arrays.
    """
    # TODO: one hidden unit for OR, one for AND; the output is "OR and not AND"
    raise NotImplementedError

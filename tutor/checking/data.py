"""Small synthetic datasets with real structure, deterministic for a NumPy Generator.

Every function returns NumPy arrays: X float32 of shape (n, features) and y int64 of
shape (n,) for classification (float32 for regression). Use `to_tensors` for torch.
"""

from __future__ import annotations

import numpy as np
import torch


def gate(kind: str) -> tuple[np.ndarray, np.ndarray]:
    """The four rows of a 2-input logic gate: 'and', 'or', 'nand' or 'xor'."""
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
    table = {"and": [0, 0, 0, 1], "or": [0, 1, 1, 1], "nand": [1, 1, 1, 0], "xor": [0, 1, 1, 0]}
    return X, np.array(table[kind], dtype=np.int64)


def blobs(
    rng: np.random.Generator, n: int = 200, centers: int = 2, features: int = 2, spread: float = 0.5, distance: float = 3.0
) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian clusters around centres placed `distance` apart on a circle (separable when far)."""
    angles = 2 * np.pi * np.arange(centers) / centers
    means = np.zeros((centers, features))
    means[:, 0] = distance * np.cos(angles)
    means[:, 1 % features] = distance * np.sin(angles)
    y = rng.integers(0, centers, size=n)
    X = means[y] + spread * rng.standard_normal((n, features))
    return X.astype(np.float32), y.astype(np.int64)


def xor_cloud(rng: np.random.Generator, n: int = 200, noise: float = 0.15) -> tuple[np.ndarray, np.ndarray]:
    """Points around the four XOR corners (±1, ±1); label 1 where the signs differ."""
    corners = rng.integers(0, 2, size=(n, 2)) * 2 - 1
    X = corners + noise * rng.standard_normal((n, 2))
    y = (corners[:, 0] != corners[:, 1]).astype(np.int64)
    return X.astype(np.float32), y


def moons(rng: np.random.Generator, n: int = 200, noise: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaving half circles."""
    y = rng.integers(0, 2, size=n)
    t = np.pi * rng.random(n)
    X = np.stack([np.cos(t), np.sin(t)], axis=1)
    X[y == 1] = np.stack([1 - np.cos(t[y == 1]), 0.5 - np.sin(t[y == 1])], axis=1)
    X += noise * rng.standard_normal(X.shape)
    return X.astype(np.float32), y.astype(np.int64)


def spirals(rng: np.random.Generator, n: int = 300, classes: int = 3, noise: float = 0.2) -> tuple[np.ndarray, np.ndarray]:
    """CS231n's interleaved spirals: `classes` arms, not linearly separable."""
    per = n // classes
    X = np.zeros((per * classes, 2))
    y = np.zeros(per * classes, dtype=np.int64)
    for c in range(classes):
        r = np.linspace(0.0, 1.0, per)
        t = np.linspace(c * 4.0, (c + 1) * 4.0, per) + noise * rng.standard_normal(per)
        X[c * per : (c + 1) * per] = np.stack([r * np.sin(t), r * np.cos(t)], axis=1)
        y[c * per : (c + 1) * per] = c
    return X.astype(np.float32), y


def linear_regression(
    rng: np.random.Generator, n: int = 256, features: int = 3, noise: float = 0.05
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """y = X @ w + b + noise with known `w` and `b`; returns X, y, w, b."""
    w = rng.uniform(-2, 2, size=features)
    b = float(rng.uniform(-1, 1))
    X = rng.standard_normal((n, features))
    y = X @ w + b + noise * rng.standard_normal(n)
    return X.astype(np.float32), y.astype(np.float32), w.astype(np.float32), b


def sine_series(rng: np.random.Generator, n: int = 200, period: float = 20.0, noise: float = 0.05) -> np.ndarray:
    """sin(2π t / period + a random phase) + Gaussian noise, t = 0..n-1 (float64, shape (n,))."""
    t = np.arange(n)
    phase = rng.uniform(0, 2 * np.pi)
    return np.sin(2 * np.pi * t / period + phase) + noise * rng.standard_normal(n)


def ar2_series(rng: np.random.Generator, n: int = 200, a1: float = 1.6, a2: float = -0.8,
               noise: float = 0.1, burn_in: int = 100) -> np.ndarray:
    """x_t = a1·x_{t-1} + a2·x_{t-2} + noise (stationary for the defaults: roots of modulus √0.8),
    after `burn_in` steps that are dropped (float64, shape (n,))."""
    x = np.zeros(n + burn_in)
    eps = noise * rng.standard_normal(n + burn_in)
    for t in range(2, n + burn_in):
        x[t] = a1 * x[t - 1] + a2 * x[t - 2] + eps[t]
    return x[burn_in:]


def to_tensors(X: np.ndarray, y: np.ndarray, device: torch.device | str = "cpu") -> tuple[torch.Tensor, torch.Tensor]:
    """The arrays as torch tensors on `device` (float32 inputs, labels kept as they are)."""
    return torch.as_tensor(X, device=device), torch.as_tensor(y, device=device)

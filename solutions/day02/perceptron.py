"""Day 2: a perceptron from scratch in NumPy (reference solution)."""

from __future__ import annotations

import numpy as np


def step(z: np.ndarray) -> np.ndarray:
    """The Heaviside step: 1 where z >= 0, else 0 (so step(0) = 1).

    z: an array of any shape. Returns an int64 array of the same shape.
    """
    return (np.asarray(z) >= 0).astype(np.int64)


def predict(X: np.ndarray, w: np.ndarray, b: float) -> np.ndarray:
    """Predicted labels step(X @ w + b) for a batch.

    X: (n, d) inputs, w: (d,) weights, b: a float. Returns (n,) int64 of 0/1.
    """
    return step(X @ w + b)


def update(w: np.ndarray, b: float, x: np.ndarray, y: int, lr: float) -> tuple[np.ndarray, float]:
    """One perceptron learning step on a single example (x, y).

    y_hat = step(w·x + b); w_new = w + lr·(y − y_hat)·x; b_new = b + lr·(y − y_hat).
    Returns (w_new, b_new) as a new (d,) float64 array and a float; `w` itself is not changed.
    """
    y_hat = int(step(np.dot(w, x) + b))
    error = y - y_hat
    return w + lr * error * x, float(b + lr * error)


def train(X: np.ndarray, y: np.ndarray, lr: float = 1.0, max_epochs: int = 100) -> tuple[np.ndarray, float, list[int]]:
    """Train a perceptron from w = 0, b = 0, visiting the examples in the order given.

    One epoch: for i = 0 .. n-1, count a mistake if predict on X[i] is not y[i],
    then apply update(). Stop after the first epoch with zero mistakes, or after
    max_epochs epochs. Returns (w, b, history), history[k] = mistakes in epoch k.
    """
    w = np.zeros(X.shape[1], dtype=np.float64)
    b = 0.0
    history: list[int] = []
    for _ in range(max_epochs):
        mistakes = 0
        for xi, yi in zip(X, y):
            if int(step(np.dot(w, xi) + b)) != yi:
                mistakes += 1
            w, b = update(w, b, xi, int(yi), lr)
        history.append(mistakes)
        if mistakes == 0:
            break
    return w, b, history


def epochs_to_converge(X: np.ndarray, y: np.ndarray, lr: float = 1.0, max_epochs: int = 100) -> int | None:
    """How many epochs train() needs to reach an epoch with zero mistakes (that epoch
    included), or None when it never does within max_epochs."""
    _, _, history = train(X, y, lr, max_epochs)
    return len(history) if history and history[-1] == 0 else None

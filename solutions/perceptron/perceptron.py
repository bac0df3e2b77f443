"""A perceptron from scratch in NumPy (reference solution).

A perceptron computes z = w·x + b and outputs step(z): 1 or 0. It learns by
nudging w and b after every mistake.

Conventions used by the checks:
- labels y are 0 or 1 (int64);
- step(0) = 1, i.e. step(z) = 1 exactly when z >= 0;
- training starts from w = 0, b = 0 and visits the examples in the order given.
"""

from __future__ import annotations

import numpy as np


def step(z: np.ndarray) -> np.ndarray:
    """The Heaviside step: 1 where z >= 0, else 0 (so step(0) = 1).

    z: an array of any shape (float).
    Returns an int64 array of the same shape holding only 0 and 1.

    Example: step(np.array([-2.0, 0.0, 3.5])) -> array([0, 1, 1])
    """
    return (np.asarray(z) >= 0).astype(np.int64)


def predict(X: np.ndarray, w: np.ndarray, b: float) -> np.ndarray:
    """Predicted labels for a batch: step(X @ w + b).

    X: (n, d) inputs, one example per row.
    w: (d,) weights.
    b: the bias, a float.
    Returns an (n,) int64 array of 0/1, one prediction per row of X.

    Example: X = the 4 rows (0,0), (0,1), (1,0), (1,1); w = [1, 1]; b = -1.5
             -> array([0, 0, 0, 1])   (that is AND)
    """
    return step(X @ w + b)


def update(w: np.ndarray, b: float, x: np.ndarray, y: int, lr: float) -> tuple[np.ndarray, float]:
    """One perceptron learning step on a single example (x, y).

        y_hat = step(w·x + b)
        w_new = w + lr * (y - y_hat) * x
        b_new = b + lr * (y - y_hat)

    w: (d,) float weights; b: float; x: (d,) one example; y: its label (0 or 1);
    lr: the learning rate.
    Returns (w_new, b_new): a NEW (d,) array and a float. Do not modify `w` in
    place (no `w += ...`): the caller's array must stay as it was.
    When the prediction is right, y - y_hat = 0 and nothing changes.
    """
    y_hat = int(step(np.dot(w, x) + b))
    error = y - y_hat
    return w + lr * error * x, float(b + lr * error)


def train(X: np.ndarray, y: np.ndarray, lr: float = 1.0, max_epochs: int = 100) -> tuple[np.ndarray, float, list[int]]:
    """Train a perceptron with the learning rule above.

    X: (n, d) inputs; y: (n,) labels 0/1; lr: learning rate; max_epochs: the budget.

    Start from w = np.zeros(d) (float64) and b = 0.0. One epoch visits the examples
    i = 0, 1, ..., n-1 in the order given (no shuffling). For each one:
      1. predict it with the current w, b; if the prediction differs from y[i],
         count one mistake;
      2. apply update() (which changes nothing when the prediction was right).
    After each epoch, append that epoch's number of mistakes to `history`.
    Stop after the first epoch with zero mistakes, or after max_epochs epochs.

    Returns (w, b, history): w (d,) float64, b a float, history a list of ints
    (history[k] = mistakes in epoch k; it ends with 0 when training converged).
    """
    w = np.zeros(X.shape[1], dtype=np.float64)
    b = 0.0
    history: list[int] = []
    for _ in range(max_epochs):
        mistakes = 0
        for xi, yi in zip(X, y):
            if int(step(np.dot(w, xi) + b)) != yi:   # judge BEFORE updating
                mistakes += 1
            w, b = update(w, b, xi, int(yi), lr)
        history.append(mistakes)
        if mistakes == 0:
            break
    return w, b, history


def epochs_to_converge(X: np.ndarray, y: np.ndarray, lr: float = 1.0, max_epochs: int = 100) -> int | None:
    """How many epochs train() needs to finish an epoch with zero mistakes.

    The error-free epoch counts: a history [2, 1, 0] means 3 epochs.
    Return None when no epoch within max_epochs is error-free (the data is then
    probably not linearly separable, like XOR).
    """
    _, _, history = train(X, y, lr, max_epochs)
    return len(history) if history and history[-1] == 0 else None

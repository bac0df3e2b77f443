"""Backpropagation by hand for a 2-layer MLP, in NumPy (reference solution).

The network, for a batch X of N rows with D features:

    z1 = X @ W1 + b1        (N, H)   hidden pre-activations
    h  = tanh(z1)           (N, H)   hidden activations
    out = h @ W2 + b2       (N, K)   outputs (scores for classification)

Weights are stored as (fan_in, fan_out) so that a batch of rows multiplies on the
left. Everything is float64.
"""

import numpy as np


def init_params(rng: np.random.Generator, n_in: int, n_hidden: int, n_out: int) -> dict[str, np.ndarray]:
    """Random float64 parameters: W1 (n_in, n_hidden), b1 (n_hidden,), W2 (n_hidden, n_out), b2 (n_out,).

    W1 has unit-variance entries, so the tanh units start in their curved region
    on inputs of size about 1; W2 is small, so the first outputs are close to 0.
    """
    return {
        "W1": rng.standard_normal((n_in, n_hidden)),
        "b1": np.zeros(n_hidden),
        "W2": 0.01 * rng.standard_normal((n_hidden, n_out)),
        "b2": np.zeros(n_out),
    }


def forward(X: np.ndarray, params: dict[str, np.ndarray]) -> tuple[np.ndarray, dict]:
    """Forward pass of the 2-layer tanh MLP.

    X: (N, D) float64. params: "W1" (D, H), "b1" (H,), "W2" (H, K), "b2" (K,).
    Returns (out, cache): out (N, K) = tanh(X @ W1 + b1) @ W2 + b2, and a cache
    dict holding whatever backward() needs (at least X and h).
    """
    z1 = X @ params["W1"] + params["b1"]
    h = np.tanh(z1)
    out = h @ params["W2"] + params["b2"]
    return out, {"X": X, "h": h}


def mse_loss(out: np.ndarray, Y: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean squared error over every element, and its gradient.

    out, Y: (N, K) float64. L = mean over all N*K entries of (out - Y)**2
    (what torch.nn.functional.mse_loss computes). Returns (L as a Python float,
    dL/dout of shape (N, K)).
    """
    diff = out - Y
    loss = float(np.mean(diff**2))
    dout = 2.0 * diff / diff.size
    return loss, dout


def softmax_cross_entropy(scores: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """Softmax cross-entropy averaged over the batch, and its gradient.

    scores: (N, K) float64 raw scores (logits); y: (N,) int64 class indices.
    L = -(1/N) * sum_n log softmax(scores[n])[y[n]] (what F.cross_entropy computes).
    Returns (L as a Python float, dL/dscores of shape (N, K)).
    Must not overflow for scores in the thousands.
    """
    n = scores.shape[0]
    shifted = scores - scores.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    loss = float(-log_probs[np.arange(n), y].mean())
    dscores = np.exp(log_probs)
    dscores[np.arange(n), y] -= 1.0
    dscores /= n
    return loss, dscores


def backward(dout: np.ndarray, cache: dict, params: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Backward pass: the gradients of the loss with respect to every parameter.

    dout: (N, K) = dL/dout, already including the 1/N of the mean (the loss
    functions above return it that way). cache: what forward() returned.
    Returns {"W1": dL/dW1, "b1": dL/db1, "W2": dL/dW2, "b2": dL/db2}, each with
    the shape of its parameter.
    """
    X, h = cache["X"], cache["h"]
    dW2 = h.T @ dout
    db2 = dout.sum(axis=0)
    dh = dout @ params["W2"].T
    dz1 = dh * (1.0 - h**2)
    dW1 = X.T @ dz1
    db1 = dz1.sum(axis=0)
    return {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}


def sgd_step(params: dict[str, np.ndarray], grads: dict[str, np.ndarray], lr: float) -> None:
    """One gradient-descent step, in place: params[name] -= lr * grads[name] for every name."""
    for name in params:
        params[name] -= lr * grads[name]


def train(
    X: np.ndarray, y: np.ndarray, n_hidden: int = 64, lr: float = 1.0, steps: int = 1500, seed: int = 0
) -> tuple[dict[str, np.ndarray], list[float]]:
    """Train the MLP with softmax cross-entropy and full-batch gradient descent.

    X: (N, D) float64 inputs; y: (N,) int64 labels in 0..K-1 (K = y.max() + 1).
    Start from init_params(np.random.default_rng(seed), D, n_hidden, K); then, for
    each of `steps` steps: forward, loss, backward, sgd_step. Returns (params,
    losses) where losses[i] is the loss (a float) computed at step i, before its update.
    """
    params = init_params(np.random.default_rng(seed), X.shape[1], n_hidden, int(y.max()) + 1)
    losses = []
    for _ in range(steps):
        scores, cache = forward(X, params)
        loss, dscores = softmax_cross_entropy(scores, y)
        grads = backward(dscores, cache, params)
        sgd_step(params, grads, lr)
        losses.append(loss)
    return params, losses

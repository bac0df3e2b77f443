"""Loss functions, written by hand.

You write four losses from basic tensor operations and the check compares each
one with PyTorch's own function for all three reductions, at extreme inputs,
and through autograd:

    mse_loss                          vs  F.mse_loss
    binary_cross_entropy              vs  F.binary_cross_entropy
    binary_cross_entropy_with_logits  vs  F.binary_cross_entropy_with_logits
    cross_entropy                     vs  F.cross_entropy

Use torch operations only (exp, log, log1p, abs, max, clamp, sum, mean, gather,
indexing ...), so that loss.backward() works. Do NOT call PyTorch's losses or
its shortcuts: F.mse_loss, F.binary_cross_entropy(_with_logits),
F.cross_entropy, F.nll_loss, log_softmax, logsumexp, logsigmoid, softplus,
logaddexp, or the nn.*Loss modules. The check looks for them.

Every function takes `reduction`: "mean" (average over every element),
"sum" (add every element) or "none" (one loss per element, same shape as the
input for the first three, shape (N,) for cross_entropy). Run `dltutor check 6`.
"""

import torch

REDUCTIONS = ("mean", "sum", "none")


def reduce_loss(losses: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    """Reduce a tensor of per-element losses.

    - "mean": the average of every element, a 0-dim tensor
    - "sum":  the sum of every element, a 0-dim tensor
    - "none": `losses` unchanged
    Any other string: raise ValueError (a typo must not pass silently).
    """
    # TODO: three cases and a ValueError
    raise NotImplementedError


def mse_loss(pred: torch.Tensor, target: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    """Mean squared error, like F.mse_loss.

    pred and target: float tensors of the same shape (any shape, e.g. (N,) or (N, D)).
    Per element: (pred - target)². "mean" averages over ALL elements (N·D of them
    for an (N, D) input), not just over the batch.
    """
    # TODO: square the difference, then reduce_loss(...)
    raise NotImplementedError


def binary_cross_entropy(probs: torch.Tensor, target: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    """Binary cross-entropy on probabilities, like F.binary_cross_entropy.

    probs: float tensor of probabilities in [0, 1]; target: same shape, values in
    [0, 1] (usually 0 or 1, soft targets allowed).
    Per element: -[y·log(p) + (1-y)·log(1-p)].

    probs may be exactly 0 or 1. log(0) = -inf, and 0·(-inf) = nan, so clamp EACH
    log at -100 the way PyTorch does: torch.clamp(torch.log(p), min=-100). The
    loss of one element is then at most 100.
    """
    # TODO: two clamped logs, the formula, then reduce_loss(...)
    raise NotImplementedError


def binary_cross_entropy_with_logits(
    logits: torch.Tensor, target: torch.Tensor, reduction: str = "mean"
) -> torch.Tensor:
    """Binary cross-entropy on raw scores (logits), like F.binary_cross_entropy_with_logits.

    logits: float tensor of any real numbers (±1e4 included); target: same shape,
    values in [0, 1]. Mathematically this is binary_cross_entropy(sigmoid(x), y),
    which simplifies to

        (1 - y)·x + log(1 + exp(-x))

    and log(1 + exp(-x)) = log(exp(0) + exp(-x)) is a log-sum-exp of the two
    numbers 0 and -x: subtract their max m = max(0, -x) before exp, exactly as
    in cross_entropy. The result must be finite and exact for logits of ±1e4 (a
    confident wrong answer at 1e4 costs 1e4, not 100), and its gradient must be
    sigmoid(x) - y everywhere, also at x = 0 exactly.
    """
    # TODO: m = torch.clamp(-logits, min=0); the formula with exp(-m) and exp(-logits - m);
    #       then reduce_loss(...)
    raise NotImplementedError


def cross_entropy(logits: torch.Tensor, target: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    """Categorical cross-entropy from logits, like F.cross_entropy.

    logits: (N, C) float, one row of raw class scores per sample.
    target: (N,) int64 CLASS INDICES in [0, C) (not one-hot).
    Per sample i:  loss_i = logsumexp(logits[i]) - logits[i, target[i]]
    with the stable log-sum-exp over the class dimension (dim 1):
        m = max of the row;  logsumexp(row) = m + log(sum(exp(row - m)))
    "mean" averages the N per-sample losses; "none" returns shape (N,).
    Must be finite for logits of ±1e4.
    """
    # TODO: row max (keepdim=True), stable logsumexp over dim 1,
    #       pick logits[i, target[i]] (gather or indexing), reduce_loss(...)
    raise NotImplementedError

"""Check: MSE, BCE, BCE-with-logits and cross-entropy, written by hand.

Every loss is compared with PyTorch's own (F.mse_loss, F.binary_cross_entropy,
F.binary_cross_entropy_with_logits, F.cross_entropy) for the three reductions,
at extreme inputs, and through autograd in float64. The learner's losses run under
`forbid` (PyTorch's losses and log-sum-exp helpers are the answers). When a value is
wrong, the check computes the classic wrong variants (softmax over the batch dimension,
'mean' over all N*C elements, the sum instead of the mean, RMSE, clamped probabilities ...)
and names the one the learner's number matches.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from tutor.checking import (
    check,
    expect,
    expect_close,
    expect_match,
    expect_shape,
    fail,
    first_overflow,
    float64_device,
    forbid,
)

REDUCTIONS = ("mean", "sum", "none")
F64 = torch.float64
EXACT = dict(atol=1e-9, rtol=1e-7)  # float64 against PyTorch: the solution agrees to ~1e-15
BUILD_IT = ("today you build each loss from basic tensor operations (exp, log, log1p, abs, max, clamp, sum, "
            "mean, gather); PyTorch's own losses are what the check compares you with")
# PyTorch's losses and the log-sum-exp helpers that would do the day's work, however they are reached
# (F.cross_entropy, nn.CrossEntropyLoss, x.logsumexp(1), torch.special.log_softmax).
TORCH_LOSSES = (
    F.mse_loss, F.binary_cross_entropy, F.binary_cross_entropy_with_logits, F.cross_entropy, F.nll_loss,
    F.log_softmax, F.logsigmoid, F.softplus, "logsumexp", "logaddexp",
)


# ----------------------------------------------------------------------------- helpers


def learner(lo, fname: str):
    """The learner's function `fname`, called under the ban on PyTorch's losses."""
    return lambda *args: forbid(*TORCH_LOSSES, reason=BUILD_IT).call(getattr(lo, fname), *args)


def watched(lo, fname: str, *args):
    """(the learner's loss, the overflow watch) for extreme inputs."""
    with first_overflow() as watch:
        out = learner(lo, fname)(*args)
    return out, watch


def overflowed(watch) -> str:
    return f" (inside, torch.{watch.op} turned a finite input into inf/nan)" if watch.op else ""


def as_loss(value, call: str) -> torch.Tensor:
    """The learner's return value must be a tensor (not a float, not a tuple)."""
    if not isinstance(value, torch.Tensor):
        fail(f"{call} returned a {type(value).__name__}; return a torch.Tensor (keep it a tensor: no .item())")
    return value


def compare(actual, expected: torch.Tensor, call: str, mistakes: list) -> None:
    """`actual` must equal `expected` (float64); if not, name the first wrong variant it matches."""
    expect_match(call, as_loss(actual, call), expected, mistakes, against="PyTorch", **EXACT)


def reduction_mistakes(per_element: torch.Tensor, reduction: str) -> list:
    """The reductions mixed up with each other, as (why, value) pairs."""
    return {
        "mean": [("that is the sum; 'mean' divides the sum by the number of elements", per_element.sum())],
        "sum": [("that is the mean; 'sum' adds the per-element losses", per_element.mean())],
        "none": [("that is the mean; 'none' returns one loss per element, unreduced", per_element.mean()),
                 ("that is the sum; 'none' returns one loss per element, unreduced", per_element.sum())],
    }[reduction]


def reduce_ref(per_element: torch.Tensor, reduction: str) -> torch.Tensor:
    return {"mean": per_element.mean, "sum": per_element.sum, "none": lambda: per_element}[reduction]()


def expect_graph(out: torch.Tensor, call: str) -> None:
    """The returned loss must still be connected to the input in the autograd graph."""
    if not out.requires_grad:
        fail(
            f"{call} returned a tensor that does not require grad: the computation left autograd "
            "(.item(), .numpy(), .detach(), or a new torch.tensor(...)). Use torch operations on the "
            "input tensors all the way, so loss.backward() can reach them."
        )


def randn(ctx, *shape):
    return torch.randn(*shape, generator=ctx.gen, dtype=F64).to(float64_device(ctx))


def rand(ctx, *shape):
    return torch.rand(*shape, generator=ctx.gen, dtype=F64).to(float64_device(ctx))


def classes(ctx, c: int, n: int):
    """n class indices below c (int64), on the float64 device."""
    return torch.randint(0, c, (n,), generator=ctx.gen).to(float64_device(ctx))


def gradient_vs_torch(ctx, loss, reference, x: torch.Tensor, y: torch.Tensor, name: str,
                      atol: float = 1e-9) -> None:
    """d loss / d x of the learner's loss equals autograd's on PyTorch's, for 'mean' and 'none' (the
    unreduced losses weighted at random, so that every entry's gradient counts)."""
    weights = rand(ctx, *reference(x, y, reduction="none").shape) + 0.5
    for reduction in ("mean", "none"):
        call = f"{name}(..., reduction='{reduction}')"
        xl = x.clone().requires_grad_(True)
        out = as_loss(loss(xl, y, reduction), call)
        expect_graph(out, call)
        (out * weights).sum().backward() if reduction == "none" else out.backward()
        xr = x.clone().requires_grad_(True)
        ref = reference(xr, y, reduction=reduction)
        (ref * weights).sum().backward() if reduction == "none" else ref.backward()
        expect(xl.grad is not None, f"after backward() through {name}(), the input's .grad is None")
        expect_close(xl.grad, xr.grad, f"gradient of {call} w.r.t. its input", atol=atol, rtol=1e-7)


# ----------------------------------------------------------------------------- reduce


@check("reduce_loss() gives 'mean', 'sum', 'none' and rejects anything else", task="reduce")
def reduce_values(ctx):
    lo = ctx.load("losses")
    per = rand(ctx, 4, 3) * 5
    for reduction in REDUCTIONS:
        compare(lo.reduce_loss(per, reduction), reduce_ref(per, reduction),
                f"reduce_loss(losses of shape (4, 3), '{reduction}')", reduction_mistakes(per, reduction))
    try:
        lo.reduce_loss(per, "average")
    except ValueError:
        pass
    else:
        fail("reduce_loss(losses, 'average') did not raise ValueError; an unknown reduction must be an "
             "error, not silently one of the three (a typo like 'sume' would go unnoticed)")


# ----------------------------------------------------------------------------- MSE


@check("mse_loss() equals F.mse_loss for 'mean', 'sum' and 'none'", task="mse")
def mse_values(ctx):
    mse_loss = learner(ctx.load("losses"), "mse_loss")
    for shape in ((8, 3), (5,)):
        pred, target = randn(ctx, *shape), randn(ctx, *shape)
        d = pred - target
        for reduction in REDUCTIONS:
            mistakes = reduction_mistakes(d**2, reduction)
            if reduction == "mean":
                mistakes += [
                    ("that is the RMSE (the square root of the MSE); drop the sqrt", (d**2).mean().sqrt()),
                    ("that is the mean absolute error |pred - target|; square the difference", d.abs().mean()),
                    ("that is the mean signed difference; square it, or errors of opposite sign cancel", d.mean()),
                    ("that has the ½ factor some textbooks use; F.mse_loss has none", 0.5 * (d**2).mean()),
                ]
                if len(shape) == 2:
                    mistakes.append((f"you divided by the batch size {shape[0]} only; F.mse_loss's 'mean' "
                                     f"averages over all {shape[0] * shape[1]} elements", (d**2).sum() / shape[0]))
            compare(mse_loss(pred, target, reduction), F.mse_loss(pred, target, reduction=reduction),
                    f"mse_loss(pred of shape {shape}, ..., reduction='{reduction}')", mistakes)


@check("mse_loss() gradient matches autograd of F.mse_loss (float64)", task="mse")
def mse_gradient(ctx):
    gradient_vs_torch(ctx, learner(ctx.load("losses"), "mse_loss"), F.mse_loss, randn(ctx, 6, 2),
                      randn(ctx, 6, 2), "mse_loss")


# ----------------------------------------------------------------------------- BCE


@check("binary_cross_entropy() equals F.binary_cross_entropy for 'mean', 'sum' and 'none'", task="bce")
def bce_values(ctx):
    bce = learner(ctx.load("losses"), "binary_cross_entropy")
    probs = rand(ctx, 10) * 0.98 + 0.01
    hard = (rand(ctx, 10) > 0.5).double()
    soft = rand(ctx, 10)
    for label, target in (("0/1 targets", hard), ("soft targets in [0, 1]", soft)):
        per = F.binary_cross_entropy(probs, target, reduction="none")
        for reduction in REDUCTIONS:
            mistakes = reduction_mistakes(per, reduction) + [
                ("the sign is flipped: BCE is -[y·log p + (1-y)·log(1-p)]", reduce_ref(-per, reduction)),
                ("only the y·log p term is there; add (1-y)·log(1-p), the loss of the negatives",
                 reduce_ref(-target * torch.log(probs), reduction)),
            ]
            compare(bce(probs, target, reduction), reduce_ref(per, reduction),
                    f"binary_cross_entropy(probs, {label}, reduction='{reduction}')", mistakes)


@check("binary_cross_entropy() is finite at p = 0 and p = 1 (log clamped at -100, like PyTorch)", task="bce")
def bce_edges(ctx):
    lo = ctx.load("losses")
    probs = torch.tensor([0.0, 1.0, 0.0, 1.0, 0.5, 1e-30], device=ctx.device)
    target = torch.tensor([1.0, 0.0, 0.0, 1.0, 1.0, 1.0], device=ctx.device)
    call = "binary_cross_entropy(probs=[0, 1, 0, 1, 0.5, 1e-30], target=[1, 0, 0, 1, 1, 1], 'none')"
    out = as_loss(learner(lo, "binary_cross_entropy")(probs, target, "none"), call)
    expected = F.binary_cross_entropy(probs, target, reduction="none")  # [100, 100, 0, 0, ln 2, 69.08]
    expect_shape(out, (6,), call)
    out = out.detach().double().cpu()
    bad = [i for i in range(6) if not math.isfinite(float(out[i]))]
    if bad:
        i = bad[0]
        fail(
            f"{call} is {float(out[i])} at index {i} (p={float(probs[i]):g}, y={float(target[i]):g}): "
            "log(0) = -inf, and 0·(-inf) = nan even for the term whose weight is 0. Clamp each log "
            "at -100 as PyTorch does: torch.clamp(torch.log(p), min=-100)"
        )
    if abs(float(out[0]) - 100.0) > 1e-3 and 1.0 < float(out[0]) < 99.0:
        fail(
            f"{call} gives {float(out[0]):.4g} at p=0, y=1; PyTorch gives 100. It looks like you clamped "
            "the probabilities (p.clamp(eps, 1-eps)); F.binary_cross_entropy clamps the log at -100 "
            "instead: torch.clamp(torch.log(p), min=-100)"
        )
    expect_close(out, expected, call, atol=1e-4, rtol=1e-6)


@check("binary_cross_entropy() gradient matches autograd of F.binary_cross_entropy (float64)", task="bce")
def bce_gradient(ctx):
    gradient_vs_torch(ctx, learner(ctx.load("losses"), "binary_cross_entropy"), F.binary_cross_entropy,
                      rand(ctx, 8) * 0.9 + 0.05, rand(ctx, 8), "binary_cross_entropy", atol=1e-8)


# ----------------------------------------------------------------------------- BCE with logits


@check("binary_cross_entropy_with_logits() equals F.binary_cross_entropy_with_logits", task="bce_logits")
def bce_logits_values(ctx):
    bce = learner(ctx.load("losses"), "binary_cross_entropy_with_logits")
    logits = randn(ctx, 4, 5) * 3
    target = (rand(ctx, 4, 5) > 0.5).double()
    target[0] = rand(ctx, 5)  # one row of soft targets
    per = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
    swapped = F.binary_cross_entropy(logits.sigmoid(), 1 - target, reduction="none")
    for reduction in REDUCTIONS:
        mistakes = reduction_mistakes(per, reduction) + [
            ("the sign is flipped", reduce_ref(-per, reduction)),
            ("the targets are swapped (y and 1-y): the loss of x against y is log(1+exp(-x)) when y = 1",
             reduce_ref(swapped, reduction)),
        ]
        compare(bce(logits, target, reduction), reduce_ref(per, reduction),
                f"binary_cross_entropy_with_logits(logits (4, 5), target, reduction='{reduction}')", mistakes)


@check("binary_cross_entropy_with_logits() is finite and exact at logits of ±1e4", task="bce_logits")
def bce_logits_extremes(ctx):
    lo = ctx.load("losses")
    logits = torch.tensor([1e4, -1e4, 1e4, -1e4, 0.0, 30.0, 0.0], device=ctx.device)
    target = torch.tensor([1.0, 0.0, 0.0, 1.0, 1.0, 0.3, 0.0], device=ctx.device)
    call = ("binary_cross_entropy_with_logits(logits=[1e4, -1e4, 1e4, -1e4, 0, 30, 0], "
            "target=[1, 0, 0, 1, 1, 0.3, 0], 'none')")
    x = logits.clone().requires_grad_(True)
    out, watch = watched(lo, "binary_cross_entropy_with_logits", x, target, "none")
    out = as_loss(out, call)
    expected = F.binary_cross_entropy_with_logits(logits, target, reduction="none")  # [0, 0, 1e4, 1e4, ln2, 21, ln2]
    expect_shape(out, (7,), call)
    values = out.detach().double().cpu()
    bad = [i for i in range(7) if not math.isfinite(float(values[i]))]
    if bad:
        i = bad[0]
        fail(
            f"{call} is {float(values[i])} at index {i} (logit {float(logits[i]):g}, target "
            f"{float(target[i]):g}){overflowed(watch)}: unstable exp, use the stable form. exp(1e4) overflows "
            "to inf (float32 overflows above 88.7), and log(sigmoid(x)) hits log(0). Write the loss as "
            "(1 - y)·x + log(exp(0) + exp(-x)), a log-sum-exp of 0 and -x: subtract their max "
            "m = clamp(-x, min=0), so exp only sees numbers ≤ 0"
        )
    if abs(float(values[2]) - 1e4) > 1.0 and float(values[2]) < 1000:
        fail(
            f"{call} gives {float(values[2]):.4g} at logit 1e4 with target 0; PyTorch gives 10000. "
            "Finite, but capped: it looks like sigmoid followed by a clamped BCE, which saturates "
            "(and whose gradient vanishes) for confident wrong answers. Use the stable form "
            "(1 - y)·x + m + log(exp(-m) + exp(-x - m)) with m = clamp(-x, min=0)"
        )
    expect_close(values, expected, call, atol=1e-3, rtol=1e-5)
    expect_graph(out, call)
    out.sum().backward()
    xr = logits.clone().requires_grad_(True)
    F.binary_cross_entropy_with_logits(xr, target, reduction="none").sum().backward()
    if x.grad is None or not torch.isfinite(x.grad).all():
        fail(f"the gradient of {call} is not finite ({None if x.grad is None else x.grad.tolist()}); "
             "the stable form gives sigmoid(x) - y, between -1 and 1")
    for i in (4, 6):  # logit exactly 0: sigmoid(0) - y = 0.5 - y
        g, y = float(x.grad[i]), float(target[i])
        if abs(g - (0.5 - y)) > 1e-5:
            fail(
                f"the gradient at logit exactly 0 (target {y:g}) is {g:g}; it should be sigmoid(0) - y = "
                f"{0.5 - y:g}. max(x, 0) and |x| have kinks at 0 and autograd's slopes there do not "
                "cancel (logits are exactly 0 whenever the last layer starts at zero). Write "
                "log(1 + exp(-x)) as a log-sum-exp of 0 and -x: m = clamp(-x, min=0), "
                "m + log(exp(-m) + exp(-x - m))"
            )
    expect_close(x.grad, xr.grad, "gradient at logits ±1e4 and 0 (sigmoid(x) - y)", atol=1e-5, rtol=1e-5)


@check("binary_cross_entropy_with_logits() gradient matches autograd (float64)", task="bce_logits")
def bce_logits_gradient(ctx):
    gradient_vs_torch(ctx, learner(ctx.load("losses"), "binary_cross_entropy_with_logits"),
                      F.binary_cross_entropy_with_logits, randn(ctx, 10) * 4, rand(ctx, 10),
                      "binary_cross_entropy_with_logits")


# ----------------------------------------------------------------------------- cross-entropy


def ce_mistakes(logits: torch.Tensor, target: torch.Tensor, reduction: str) -> list:
    """Classic wrong cross-entropies, reduced like the right one, as (why, value) pairs."""
    n, c = logits.shape
    rows = torch.arange(n, device=logits.device)
    per = F.cross_entropy(logits, target, reduction="none")
    wrong_dim = -F.log_softmax(logits, dim=0)[rows, target]
    out = reduction_mistakes(per, reduction) + [
        ("looks like softmax over dim 0 (the batch); the classes are dim 1: normalise each row, "
         "logsumexp(logits, dim=1)", reduce_ref(wrong_dim, reduction)),
        ("the sign is flipped: the loss is logsumexp(row) - logit of the target", reduce_ref(-per, reduction)),
    ]
    every_pair = torch.logsumexp(logits, dim=1).unsqueeze(1) - logits[:, target]  # (N, N): each row, every target
    if reduction != "none":
        out.append(("looks like logits[:, target], which pairs every row with every target (an N×N "
                    "matrix); take one entry per row: logits[torch.arange(N), target] or gather",
                    reduce_ref(every_pair, reduction)))
    if reduction == "mean":
        out.append((f"'mean' was taken over all N·C = {n}·{c} entries of the (N, C) matrix; "
                    f"F.cross_entropy averages the N = {n} per-sample losses", per.sum() / (n * c)))
    if n == c:
        one_hot_style = -(target.unsqueeze(0).double() * F.log_softmax(logits, dim=1)).sum(dim=1)
        out.append(("you multiplied target by the log-probabilities as if it were one-hot (N, C); here "
                    "target holds class indices, shape (N,), int64: pick logits[i, target[i]] with "
                    "gather or logits[torch.arange(N), target]", reduce_ref(one_hot_style, reduction)))
    return out


def call_ce(lo, logits, target, reduction, call):
    """The learner's cross_entropy, turning the one-hot broadcasting error into a lesson."""
    try:
        return learner(lo, "cross_entropy")(logits, target, reduction)
    except RuntimeError as exc:
        if "must match the size" in str(exc) or "size of tensor" in str(exc):
            fail(
                f"{call} raised: {str(exc).splitlines()[0]}. That happens when target is treated as "
                "one-hot (N, C): here target holds class indices, shape (N,), dtype int64. Pick one "
                "logit per row: logits.gather(1, target.unsqueeze(1)) or logits[torch.arange(N), target]"
            )
        raise


@check("cross_entropy() equals F.cross_entropy for 'mean', 'sum' and 'none' (class-index targets)", task="ce")
def ce_values(ctx):
    lo = ctx.load("losses")
    for n, c in ((6, 4), (5, 5)):
        logits = randn(ctx, n, c) * 2
        target = classes(ctx, c, n)
        for reduction in REDUCTIONS:
            call = f"cross_entropy(logits ({n}, {c}), target ({n},) int64, reduction='{reduction}')"
            out = as_loss(call_ce(lo, logits, target, reduction, call), call)
            if reduction == "none" and tuple(out.shape) == (n, n) and n != c:
                fail(f"{call} has shape {tuple(out.shape)}; expected (N,) = ({n},). It looks like "
                     "logits[:, target], which pairs every row with every target; take one entry per "
                     "row: logits[torch.arange(N), target]")
            compare(out, F.cross_entropy(logits, target, reduction=reduction), call,
                    ce_mistakes(logits, target, reduction))


@check("cross_entropy() of uniform logits is ln C", task="ce")
def ce_uniform(ctx):
    lo = ctx.load("losses")
    for c, level in ((2, 0.0), (10, 2.5), (100, -40.0)):
        logits = torch.full((4, c), level, dtype=F64, device=float64_device(ctx))
        target = classes(ctx, c, 4)
        call = f"cross_entropy(logits all equal to {level:g}, C = {c})"
        out = as_loss(call_ce(lo, logits, target, "mean", call), call)
        expect_shape(out, (), call)
        expect_match(f"{call} (a uniform prediction over {c} classes costs ln {c})", float(out), math.log(c), {
            "that is log10(C); use the natural log, torch.log": math.log10(c),
            "that is ln C / C, the 'mean' taken over all N·C entries instead of the N samples": math.log(c) / c,
        }, **EXACT)


@check("cross_entropy() is finite and exact at logits of ±1e4 (log-sum-exp)", task="ce")
def ce_extremes(ctx):
    lo = ctx.load("losses")
    logits = torch.tensor([[1e4, 0.0, -1e4],
                           [1e4, 0.0, -1e4],
                           [-1e4, -1e4, -1e4],
                           [5.0, -1e4, 1e4]], device=ctx.device)
    target = torch.tensor([0, 2, 1, 0], device=ctx.device)
    call = "cross_entropy(logits with entries ±1e4 (float32), target, 'none')"
    x = logits.clone().requires_grad_(True)
    with first_overflow() as watch:
        out = as_loss(call_ce(lo, x, target, "none", call), call)
    expected = F.cross_entropy(logits, target, reduction="none")  # [0, 2e4, ln 3, 1e4 - 5]
    expect_shape(out, (4,), call)
    values = out.detach().double().cpu()
    bad = [i for i in range(4) if not math.isfinite(float(values[i]))]
    if bad:
        if set(bad) <= {1, 3}:
            fail(
                f"{call} is {values.tolist()}: rows 1 and 3 are inf. Your softmax is stable, but its "
                "probability for a logit 2e4 below the max is exactly 0, and log(0) = -inf. Compute "
                "log-softmax directly: x - max - log(sum(exp(x - max)))"
            )
        fail(
            f"{call} is {values.tolist()} (non-finite in row {bad[0]}){overflowed(watch)}: unstable exp, use "
            "log-sum-exp / subtract the max. exp(1e4) overflows to inf (float32 overflows above 88.7, float64 "
            "above 709.8) and exp(-1e4) underflows to 0. Subtract each row's max before exp: "
            "logsumexp(x) = m + log(sum(exp(x - m)))"
        )
    if 1.0 < float(values[1]) < 1000.0:
        fail(
            f"{call} gives {float(values[1]):.4g} in row 1; PyTorch gives 20000. Finite, but capped: it "
            "looks like you clamped the probability before the log. Compute log-softmax directly: "
            "x - max - log(sum(exp(x - max)))"
        )
    expect_close(values, expected, call, atol=1e-3, rtol=1e-5)
    expect_graph(out, call)
    out.sum().backward()
    xr = logits.clone().requires_grad_(True)
    F.cross_entropy(xr, target, reduction="none").sum().backward()
    if x.grad is None or not torch.isfinite(x.grad).all():
        fail(f"the gradient of {call} is not finite; it should be softmax(x) - one_hot(target), "
             "each entry between -1 and 1")
    expect_close(x.grad, xr.grad, "gradient at logits ±1e4 (softmax - one_hot)", atol=1e-5, rtol=1e-5)


@check("cross_entropy() gradient matches autograd of F.cross_entropy (float64)", task="ce")
def ce_gradient(ctx):
    lo = ctx.load("losses")
    logits, target = randn(ctx, 6, 5) * 3, classes(ctx, 5, 6)
    gradient_vs_torch(ctx, lambda x, y, r: call_ce(lo, x, y, r, f"cross_entropy(logits (6, 5), target, '{r}')"),
                      F.cross_entropy, logits, target, "cross_entropy", atol=1e-10)

"""Check: SGD by hand, mini-batches, the training step, divergence, a full fit.

The learner's SGD is run side by side with torch.optim.SGD on identical gradients for
20 steps (optimizer_alongside, with torch.optim.SGD itself forbidden inside its step); at
the first step where a parameter differs, the check replays the classic wrong variants
(momentum buffer started at zero, weight decay after momentum, an exponential average
instead of momentum, the wrong sign ...) and names the one whose whole 20-step run
matches. The training step is run twice to catch a missing zero_grad(); the fit is
run on tutor.checking.data.linear_regression and must recover the true weights.
"""

from __future__ import annotations

import copy
import math
import warnings

import torch
import torch.nn.functional as F
from torch import nn

from tutor.checking import (
    check,
    data,
    distinct,
    evaluate,
    expect,
    expect_close,
    expect_decreasing,
    expect_match,
    expect_metric,
    expect_type,
    explained_step,
    fail,
    fit,
    float64_device,
    forbid,
    optimizer_alongside,
)

F64 = torch.float64
SHAPES = {"weight": (4, 3), "bias": (4,)}
STEPS = 20
SAME = dict(atol=1e-10, rtol=1e-9)  # float64 replays of one rule agree to ~1e-15
BUILD_IT = "the exercise is to write the update rule of torch.optim.SGD yourself"
RULE = ("the rule: d_p = g + weight_decay·p; buf = d_p on the first step, then buf = momentum·buf + "
        "(1 - dampening)·d_p; step with buf (or d_p + momentum·buf with Nesterov); p -= lr·step")

# ----------------------------------------------------------------------------- SGD helpers

VARIANTS = {
    "sign": "the update has the wrong sign: p += lr·update climbs the loss; step against the "
            "gradient, p -= lr·update",
    "buf_zero": "the momentum buffer started at zero, so the first step used (1 - dampening)·d_p; "
                "torch.optim.SGD sets buf = d_p (a copy) on the first step and applies dampening "
                "only from the second step on",
    "ema0": "you kept an exponential average, buf = momentum·buf + (1 - momentum)·d_p, started at "
            "zero (as in Adam); torch.optim.SGD uses buf = momentum·buf + (1 - dampening)·d_p, with "
            "buf = d_p on the first step",
    "ema_d": "you kept an exponential average, buf = momentum·buf + (1 - momentum)·d_p; "
             "torch.optim.SGD uses buf = momentum·buf + (1 - dampening)·d_p (dampening defaults to 0)",
    "no_dampening": "dampening is ignored: from the second step on, buf = momentum·buf + "
                    "(1 - dampening)·d_p",
    "wd_after": "weight decay was applied after momentum (to the update, or straight to the weights "
                "as in AdamW); torch.optim.SGD adds it to the gradient first, d_p = g + "
                "weight_decay·p, and the momentum buffer accumulates that d_p",
    "no_wd": "weight_decay is ignored: d_p = g + weight_decay·p before anything else",
    "no_momentum": "momentum is ignored: with momentum > 0 the step uses the buffer "
                   "buf = momentum·buf + (1 - dampening)·d_p, not the gradient alone",
    "no_nesterov": "nesterov=True is ignored: with Nesterov the step uses d_p + momentum·buf "
                   "instead of buf",
    "nesterov_buf": "with Nesterov the step is d_p + momentum·buf (the fresh d_p plus the decayed "
                    "buffer), not buf + momentum·buf",
}
REBINDS = ("step() did not change the parameters. Update them in place (p -= ..., p.sub_(...) or "
           "p.add_(..., alpha=-lr)); `p = p - lr * d_p` only rebinds a local name")


def simulate(p0: dict, grads: list[dict], cfg: dict, variant: str) -> list[dict]:
    """Parameters after each step of SGD, right ('torch') or with one classic mistake."""
    lr = cfg["lr"]
    mu = cfg.get("momentum", 0.0)
    tau = cfg.get("dampening", 0.0)
    wd = cfg.get("weight_decay", 0.0)
    nesterov = cfg.get("nesterov", False)
    params = {k: v.clone() for k, v in p0.items()}
    bufs: dict = {k: None for k in p0}
    out = []
    for g in grads:
        for k, p in params.items():
            d = g[k] if variant in ("no_wd", "wd_after") else g[k] + wd * p
            if mu != 0 and variant != "no_momentum":
                old = bufs[k]
                if old is None:
                    first = {"buf_zero": (1 - tau) * d, "ema0": (1 - mu) * d}
                    buf = first.get(variant, d.clone())
                elif variant in ("ema0", "ema_d"):
                    buf = mu * old + (1 - mu) * d
                elif variant == "no_dampening":
                    buf = mu * old + d
                else:
                    buf = mu * old + (1 - tau) * d
                bufs[k] = buf
                if nesterov and variant == "nesterov_buf":
                    update = buf + mu * buf
                elif nesterov and variant != "no_nesterov":
                    update = d + mu * buf
                else:
                    update = buf
            else:
                update = d
            if variant == "wd_after":
                update = update + wd * p
            params[k] = p + lr * update if variant == "sign" else p - lr * update
        out.append({k: v.clone() for k, v in params.items()})
    return out


def describe_cfg(cfg: dict) -> str:
    return "SGD(" + ", ".join(f"{k}={v}" for k, v in cfg.items()) + ")"


def run_against_torch(ctx, cfg: dict) -> None:
    """20 steps of the learner's SGD beside torch.optim.SGD on identical gradients; at the first
    difference, the classic variant whose replay matches is named."""
    om = ctx.load("optimizers")
    dev = float64_device(ctx)
    p0 = {k: torch.randn(s, generator=ctx.gen, dtype=F64).to(dev) for k, s in SHAPES.items()}
    grads = [{k: torch.randn(s, generator=ctx.gen, dtype=F64).to(dev) for k, s in SHAPES.items()}
             for _ in range(STEPS)]
    replays = {}

    def replay(variant):
        if variant not in replays:
            replays[variant] = simulate(p0, grads, cfg, variant)
        return replays[variant]

    mistakes = [(REBINDS, lambda t: p0)]
    mistakes += [(why, lambda t, v=variant: replay(v)[t]) for variant, why in VARIANTS.items()]
    optimizer_alongside(lambda p: explained_step(om.SGD(list(p.values()), **cfg), "SGD"),
                        lambda p: torch.optim.SGD(list(p.values()), **cfg), params=p0, grads=grads,
                        name=describe_cfg(cfg), mistakes=mistakes, hint=RULE,
                        forbid=forbid(torch.optim.SGD, reason=BUILD_IT), whole_run=True, **SAME)


# ----------------------------------------------------------------------------- SGD checks


@check("SGD.step() without momentum matches torch.optim.SGD for 20 steps", task="sgd")
def sgd_plain(ctx):
    run_against_torch(ctx, {"lr": 0.1})
    run_against_torch(ctx, {"lr": 0.1, "weight_decay": 0.05})


@check("SGD with momentum and weight decay matches torch.optim.SGD for 20 steps", task="sgd")
def sgd_momentum(ctx):
    run_against_torch(ctx, {"lr": 0.05, "momentum": 0.9, "weight_decay": 0.01})


@check("SGD with dampening matches torch.optim.SGD (first step: buf = d_p)", task="sgd")
def sgd_dampening(ctx):
    run_against_torch(ctx, {"lr": 0.05, "momentum": 0.8, "dampening": 0.3})


@check("SGD with Nesterov momentum matches torch.optim.SGD for 20 steps", task="sgd")
def sgd_nesterov(ctx):
    run_against_torch(ctx, {"lr": 0.05, "momentum": 0.9, "weight_decay": 0.001, "nesterov": True})


@check("zero_grad() clears the gradients; step() skips parameters without one", task="sgd")
def sgd_zero_grad(ctx):
    om = ctx.load("optimizers")
    dev = float64_device(ctx)
    a = torch.tensor([1.0, 2.0, 3.0], dtype=F64, device=dev, requires_grad=True)
    b = torch.tensor([5.0, 6.0], dtype=F64, device=dev, requires_grad=True)
    opt = explained_step(om.SGD([a, b], lr=0.1, momentum=0.9), "SGD")
    a.grad = torch.ones(3, dtype=F64, device=dev)
    opt.step()
    expect_close(b, [5.0, 6.0], "parameter b (its .grad is None, so step() must leave it alone)", atol=0)
    expect_close(a, [0.9, 1.9, 2.9], "parameter a after one step with lr=0.1 and grad 1", atol=1e-12)
    opt.zero_grad()
    if not (a.grad is None or bool((a.grad == 0).all())):
        fail(f"after zero_grad(), a.grad is {a.grad.tolist()}; it should be None (set p.grad = None) or zeros")


# ----------------------------------------------------------------------------- mini-batches


def collect(om, n: int, batch_size: int, generator) -> list[torch.Tensor]:
    """The learner's batches for one epoch, as a list of index tensors."""
    call = f"minibatches({n}, {batch_size}, generator)"
    result = om.minibatches(n, batch_size, generator)
    try:
        batches = list(result)
    except TypeError:
        fail(f"{call} returned a {type(result).__name__}; return (or yield) a sequence of index tensors")
    for i, batch in enumerate(batches):
        expect_type(batch, torch.Tensor, f"batch {i} of {call}")
        expect(batch.dtype == torch.int64 and batch.dim() == 1,
               f"batch {i} of {call} has dtype {batch.dtype} and shape {tuple(batch.shape)}; expected "
               "a 1-D int64 tensor of sample indices")
    return batches


@check("minibatches() visits every sample exactly once per epoch, shuffled, last batch smaller", task="batches")
def batches_cover(ctx):
    om = ctx.load("optimizers")
    n, bs = 103, 16
    call = f"minibatches({n}, {bs}, generator)"
    batches = collect(om, n, bs, torch.Generator().manual_seed(ctx.seed))
    sizes = [len(b) for b in batches]
    if sizes == [bs] * (n // bs):
        fail(f"{call} gave {len(sizes)} batches of {bs}: the last {n % bs} samples are dropped "
             f"({n} = {n // bs}·{bs} + {n % bs}). Every epoch must see every sample, so the last batch "
             "is smaller: slice with range(0, n, batch_size)")
    every = torch.cat(batches) if batches else torch.zeros(0, dtype=torch.int64)
    if len(every) and (every.min() < 0 or every.max() >= n):
        fail(f"{call} contains the index {int(every.max() if every.max() >= n else every.min())}; "
             f"indices must lie in 0..{n - 1}")
    counts = torch.bincount(every, minlength=n)
    if (counts != 1).any():
        twice = int(torch.nonzero(counts > 1)[0]) if (counts > 1).any() else None
        never = int(torch.nonzero(counts == 0)[0]) if (counts == 0).any() else None
        what = []
        if twice is not None:
            what.append(f"sample {twice} appears {int(counts[twice])} times")
        if never is not None:
            what.append(f"sample {never} never appears")
        fail(f"{call}: {' and '.join(what)}. One epoch visits each sample exactly once: sampling with "
             "replacement (torch.randint) repeats some and misses others; use a permutation, "
             "torch.randperm(n, generator=generator)")
    if torch.equal(every, torch.arange(n)):
        fail(f"{call} visits the samples in order 0, 1, ..., {n - 1}: not shuffled. Draw the order "
             "with torch.randperm(n, generator=generator), so consecutive batches are not correlated")
    if all(torch.equal(b.sort().values, torch.arange(int(b.min()), int(b.min()) + len(b))) for b in batches):
        fail(f"{call}: every batch is a contiguous block of indices (batch 0 is {batches[0].sort().values.tolist()}), "
             "only the batch order is shuffled. Shuffle the samples themselves (a permutation of 0..n-1, "
             "then cut it into batches)")
    expect(sizes == [bs] * (n // bs) + [n % bs],
           f"{call} gave batch sizes {sizes}; expected {n // bs} batches of {bs} and a last one of {n % bs}")


@check("minibatches() gives batch GD (one batch), SGD (size 1), a new order each epoch, and uses the generator",
       task="batches")
def batches_modes(ctx):
    om = ctx.load("optimizers")
    n = 40
    full = collect(om, n, n, torch.Generator().manual_seed(ctx.seed))
    expect([len(b) for b in full] == [n],
           f"minibatches({n}, {n}) gave batch sizes {[len(b) for b in full]}; batch gradient descent is "
           f"one batch of all {n} samples")
    big = collect(om, n, 64, torch.Generator().manual_seed(ctx.seed))
    expect([len(b) for b in big] == [n],
           f"minibatches({n}, 64) gave batch sizes {[len(b) for b in big]}; a batch size above n gives "
           f"one batch of all {n} samples")
    single = collect(om, n, 1, torch.Generator().manual_seed(ctx.seed))
    expect(len(single) == n and all(len(b) == 1 for b in single),
           f"minibatches({n}, 1) gave {len(single)} batches; stochastic gradient descent is {n} batches "
           "of one sample")
    gen = torch.Generator().manual_seed(ctx.seed)
    first = torch.cat(collect(om, n, 8, gen))
    second = torch.cat(collect(om, n, 8, gen))
    if torch.equal(first, second):
        fail(f"two epochs drawn with the same generator came out in the same order ({first[:6].tolist()} ... "
             "both times): reshuffle every epoch (a new torch.randperm each time minibatches() is called)")
    again = torch.cat(collect(om, n, 8, torch.Generator().manual_seed(ctx.seed)))
    if not torch.equal(first, again):
        fail(f"two fresh generators with the same seed gave different orders ({first[:6].tolist()} ... and "
             f"{again[:6].tolist()} ...): the generator argument is ignored. Pass it on: "
             "torch.randperm(n, generator=generator), so a run can be reproduced")
    collect(om, n, 8, None)  # generator=None must work too (the global RNG)


# ----------------------------------------------------------------------------- training step

ACCUMULATED = ("gradients accumulated: did you forget optimizer.zero_grad()? It equals an update with the sum "
               "of both batches' gradients; backward() adds into .grad, so clear it before every backward()")


@check("train_step() does zero_grad, forward, backward, step and returns the loss (run twice)",
       task="train_step")
def train_step_twice(ctx):
    om = ctx.load("optimizers")
    dev = ctx.device
    torch.manual_seed(ctx.seed)
    model = nn.Linear(3, 1).to(dev)
    right = copy.deepcopy(model)
    piled = copy.deepcopy(model)  # the same steps without zero_grad
    batches = [(torch.randn(16, 3, generator=ctx.gen).to(dev), torch.randn(16, 1, generator=ctx.gen).to(dev))
               for _ in range(2)]
    criterion = nn.MSELoss()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    right_opt = torch.optim.SGD(right.parameters(), lr=0.1)
    piled_opt = torch.optim.SGD(piled.parameters(), lr=0.1)
    for call, (xb, yb) in enumerate(batches, 1):
        before = [p.detach().clone() for p in model.parameters()]
        loss = om.train_step(model, criterion, opt, xb, yb)

        want = fit(right, [(xb, yb)], criterion, right_opt)[0]  # the reference step
        piled_loss = criterion(piled(xb), yb)
        piled_loss.backward()  # no zero_grad: the gradients pile up in .grad
        piled_opt.step()

        if isinstance(loss, torch.Tensor):
            fail(f"train_step() returned a tensor ({loss.shape}, requires_grad={loss.requires_grad}); "
                 "return a Python float with loss.item(), so the graph is not kept alive")
        expect(isinstance(loss, float), f"train_step() returned a {type(loss).__name__}; return loss.item()")
        yours, wanted = distinct(loss, want)
        expect(math.isclose(loss, want, rel_tol=1e-5, abs_tol=1e-6),
               f"call {call}: train_step() returned {yours}; the loss on this batch before the update is "
               f"{wanted}. Return the loss you called backward() on")
        names = ["weight", "bias"]
        params = list(model.parameters())
        if all(torch.equal(p.detach(), q) for p, q in zip(params, before)):
            fail(f"call {call}: the parameters did not change. Did you call optimizer.step()? Or was "
                 "the gradient cleared between backward() and step()? The order is zero_grad(), "
                 "forward, loss, backward(), step()")
        for name, p, r, a in zip(names, params, right.parameters(), piled.parameters()):
            piled_up = [(ACCUMULATED, a.detach())] if call == 2 else []
            expect_match(f"call {call}: parameter '{name}' after train_step()", p.detach(), r.detach(), piled_up,
                         atol=1e-6, rtol=1e-5)


# ----------------------------------------------------------------------------- divergence

CURVES = [
    # (losses, factor or None for the default, expected, what a wrong answer means)
    ([4.0, 3.1, 3.3, 2.2, 2.5, 1.0], None, None,
     "the loss went up a little between steps (noise), which is not divergence: only nan/inf or a "
     "loss above factor × the first loss is"),
    ([2.0, 1.5, 4.0, 9.0, 25.0, 80.0], None, 4,
     "the first loss above 10 × 2.0 = 20 is 25.0, at index 4 (0-based)"),
    ([1.0, 0.9, float("nan"), 0.5], None, 2,
     "a NaN loss is not greater than anything (nan > x is False), so a comparison alone misses it: "
     "test math.isfinite(loss) first"),
    ([1.0, 0.7, float("inf")], None, 2, "an infinite loss has diverged"),
    ([3.0, 10.0, 20.0, 40.0], 5.0, 2, "with factor=5 the limit is 5 × 3.0 = 15, first passed by 20.0 at index 2"),
    ([float("nan")], None, 0, "a first loss that is already nan has diverged at index 0"),
    ([], None, None, "an empty history has not diverged"),
]


@check("first_divergence() finds the first nan/inf or exploded loss", task="divergence")
def divergence_rule(ctx):
    om = ctx.load("optimizers")
    for losses, factor, expected, meaning in CURVES:
        shown = "[" + ", ".join(f"{v:g}" for v in losses) + "]"
        call = f"first_divergence({shown}{'' if factor is None else f', factor={factor:g}'})"
        got = om.first_divergence(list(losses)) if factor is None else om.first_divergence(list(losses), factor)
        if isinstance(got, bool):
            fail(f"{call} returned {got}; return the index (an int) or None, not a bool")
        if got != expected or type(got) is not type(expected):
            fail(f"{call} returned {got!r}; expected {expected!r}: {meaning}")


# ----------------------------------------------------------------------------- fit


def regression(ctx):
    """Generated data y = X·w + b + noise on the check's device, with a seeded nn.Linear."""
    X, y, w, b = data.linear_regression(ctx.rng, n=256, features=3, noise=0.05)
    Xt, yt = data.to_tensors(X, y, ctx.device)
    torch.manual_seed(ctx.seed)
    model = nn.Linear(3, 1).to(ctx.device)
    return Xt, yt, torch.as_tensor(w), b, model


def run_fit(ctx, om, model, X, y, lr, epochs, batch_size) -> dict:
    """The learner's fit, with its result's form checked and broadcasting warnings caught."""
    call = f"fit(model, X, y, lr={lr}, epochs={epochs}, batch_size={batch_size})"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = om.fit(model, X, y, lr, epochs, batch_size, torch.Generator().manual_seed(ctx.seed))
    expect_type(result, dict, call)
    missing = sorted({"losses", "epoch_losses", "diverged_at"} - set(result))
    expect(not missing, f"{call} returned a dict without the key(s) {missing}")
    for key in ("losses", "epoch_losses"):
        values = result[key]
        expect(isinstance(values, list) and all(isinstance(v, float) for v in values),
               f"{call}['{key}'] should be a list of Python floats (loss.item()); got "
               f"{type(values).__name__} of {type(values[0]).__name__ if values else 'nothing'}")
    for w in caught:
        text = str(w.message)
        if "target size" in text and "different to the input size" in text:
            fail(f"{call}: PyTorch warned '{text.splitlines()[0]}'. The model outputs (B, 1) and y[idx] "
                 "is (B,): the loss broadcasts them to (B, B) and compares every prediction with every "
                 "target. Reshape the targets to (n, 1) (y.reshape(-1, 1)) or squeeze the output")
    return result


def check_recovery(ctx, model, w, b, label: str, w_limit: float, b_limit: float) -> None:
    w_err = float((model.weight.detach().cpu().flatten() - w).abs().max())
    b_err = abs(float(model.bias.detach().cpu()[0]) - b)
    if w_err > w_limit and float(model.weight.detach().abs().max()) < 0.1:
        fail(f"{label}: the weights stayed near 0 ({model.weight.detach().cpu().flatten().tolist()}) "
             f"while the true ones are {w.tolist()}: the model learned only the mean of y. Usually "
             "the (B, 1) output compared with (B,) targets, which broadcasts to (B, B)")
    expect_metric(ctx, f"{label}: max |w - w_true|", w_err, w_limit, higher_is_better=False)
    expect_metric(ctx, f"{label}: |b - b_true|", b_err, b_limit, higher_is_better=False)


@check("fit() with mini-batches of 16 lowers the loss and recovers the true weights", task="fit")
def fit_minibatch(ctx):
    om = ctx.load("optimizers")
    X, y, w, b, model = regression(ctx)
    start = evaluate(model, (X, y.reshape(-1, 1)), metric=F.mse_loss)
    result = run_fit(ctx, om, model, X, y, lr=0.05, epochs=10, batch_size=16)
    losses, epoch_losses = result["losses"], result["epoch_losses"]
    ctx.curve("mini-batch loss (batch 16, lr 0.05)", losses)
    ctx.curve("training-set loss per epoch (batch 16)", epoch_losses)
    expect(result["diverged_at"] is None,
           f"fit() reported divergence at epoch {result['diverged_at']} with lr=0.05, where the "
           f"training-set loss went {[round(v, 4) for v in epoch_losses]}")
    expect(len(losses) == 160, f"fit() recorded {len(losses)} step losses; 10 epochs of 256/16 = 16 steps "
           "make 160: one loss per train_step")
    expect(len(epoch_losses) == 11, f"fit() recorded {len(epoch_losses)} epoch losses; expected 11: the "
           "training-set loss before training, then one after each of the 10 epochs")
    expect(math.isclose(epoch_losses[0], start, rel_tol=1e-4, abs_tol=1e-6),
           f"epoch_losses[0] is {epoch_losses[0]:.6g}; the MSE on the whole training set before training "
           f"is {start:.6g}. Measure it before the first step")
    # min_drop 0.9 (last window at most 10% of the first): the solution's ratio is 0.2-1.3% over seeds 0-9.
    expect_decreasing(losses, "mini-batch loss", min_drop=0.9)
    # Threshold 0.01: the solution's final training-set MSE is 0.0021-0.0029 over seeds 0-9 (noise var 0.0025).
    expect_metric(ctx, "final training-set MSE (batch 16)", epoch_losses[-1], 0.01, higher_is_better=False)
    # Threshold 0.05: the solution's max |w - w_true| is 0.0026-0.0080, |b - b_true| 0.0007-0.0091 (seeds 0-9).
    check_recovery(ctx, model, w, b, "batch 16", w_limit=0.05, b_limit=0.05)


@check("batch GD, mini-batch and stochastic GD all converge (one step per epoch vs 256)", task="fit")
def fit_modes(ctx):
    om = ctx.load("optimizers")
    # Solution over seeds 0-9: batch GD (60 epochs) max |w - w_true| 0.0018-0.0161, |b| err up to 0.0093
    # (threshold 0.05); SGD (batch 1, 2 epochs) max |w - w_true| 0.011-0.031, |b| err up to 0.015
    # (threshold 0.12).
    for label, epochs, batch_size, steps, limit in (("batch GD", 60, 256, 60, 0.05),
                                                     ("stochastic GD", 2, 1, 512, 0.12)):
        X, y, w, b, model = regression(ctx)
        result = run_fit(ctx, om, model, X, y, lr=0.05, epochs=epochs, batch_size=batch_size)
        ctx.curve(f"training-set loss per epoch ({label})", result["epoch_losses"])
        ctx.curve(f"loss per step ({label})", result["losses"])
        expect(len(result["losses"]) == steps,
               f"{label}: fit(batch_size={batch_size}, epochs={epochs}) took {len(result['losses'])} steps; "
               f"256 samples make {256 // batch_size} step(s) per epoch, so {steps} in all")
        expect(result["diverged_at"] is None, f"{label}: fit() reported divergence at epoch "
               f"{result['diverged_at']} (epoch losses {[round(v, 4) for v in result['epoch_losses']]})")
        check_recovery(ctx, model, w, b, label, w_limit=limit, b_limit=limit)


@check("fit() reports divergence at a too-large learning rate and stops there", task="fit")
def fit_diverges(ctx):
    om = ctx.load("optimizers")
    X, y, w, b, model = regression(ctx)
    lr = 1.5
    result = run_fit(ctx, om, model, X, y, lr=lr, epochs=20, batch_size=16)
    epoch_losses = result["epoch_losses"]
    ctx.curve("log10 training-set loss per epoch (lr 1.5)",
              [math.log10(v) if math.isfinite(v) and v > 0 else float("nan") for v in epoch_losses])
    at = result["diverged_at"]
    # The solution diverges at epoch 1 on seeds 0-9 (the loss grows about 4x per step at lr 1.5).
    if at is None:
        fail(f"fit(lr={lr}) did not report divergence, but the training-set loss went from "
             f"{epoch_losses[0]:.4g} to {epoch_losses[-1]:.4g}. Call first_divergence(epoch_losses) after "
             "each epoch and return its answer as 'diverged_at'")
    expect(isinstance(at, int) and not isinstance(at, bool),
           f"fit()['diverged_at'] is {at!r}; it should be an epoch index (an int) or None")
    own = om.first_divergence(list(epoch_losses))
    expect(at == own, f"fit()['diverged_at'] is {at}, but first_divergence(epoch_losses) says {own}")
    expect(len(epoch_losses) == at + 1,
           f"fit(lr={lr}) diverged at epoch {at} but went on to record {len(epoch_losses)} epoch losses: stop "
           "training (return) as soon as the loss diverges")
    expect(len(result["losses"]) == 16 * at,
           f"fit(lr={lr}) diverged at epoch {at}, after {16 * at} steps, but recorded {len(result['losses'])} "
           "step losses")

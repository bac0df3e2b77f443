"""Check: L1/L2 penalties, a penalised gradient step, weight_decay, L1 sparsity."""

import copy

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from tutor.checking import (
    check,
    expect,
    expect_close,
    expect_decreasing,
    expect_match,
    expect_metric,
    expect_shape,
    expect_type,
    fail,
)

TOL = 1e-6  # relative; float64 models, so only a float32 round trip (~1e-7) comes near; mistakes are > 1e-2


# --- helpers -----------------------------------------------------------------


def small_model(gen: torch.Generator) -> nn.Sequential:
    """A float64 two-layer net with random weights and clearly non-zero biases."""
    model = nn.Sequential(nn.Linear(5, 4), nn.Tanh(), nn.Linear(4, 3)).double()
    with torch.no_grad():
        for name, p in model.named_parameters():
            values = torch.randn(p.shape, generator=gen, dtype=torch.float64)
            p.copy_(values if name.endswith("weight") else values + 1.5)
    return model


def weights_of(model):
    return [p for name, p in model.named_parameters() if name.endswith("weight")]


def biases_of(model):
    return [p for name, p in model.named_parameters() if not name.endswith("weight")]


def as_float(value, name):
    """A learner's penalty as a float; it must be a one-element tensor."""
    if isinstance(value, (int, float)):
        fail(f"{name} returned a Python {type(value).__name__} ({value:.6g}); return a tensor "
             "(no .item(), no float()), so that backward() can reach the weights")
    expect_type(value, torch.Tensor, name)
    expect(value.numel() == 1, f"{name} has shape {tuple(value.shape)}; expected a single number (a 0-dim tensor): sum everything")
    return float(value.detach().reshape(()))


def ref_step(model, X, y, lr, l1=0.0, l2=0.0, bias_penalty=False, l2_grad_factor=2.0, keep_grad=False, sign=-1.0):
    """The reference step, and its wrong variants (switch one option at a time)."""
    if not keep_grad:
        model.zero_grad()
    data = F.mse_loss(model(X), y)
    data.backward()
    penalised = list(model.parameters()) if bias_penalty else weights_of(model)
    with torch.no_grad():
        for p in penalised:
            p.grad += l1 * torch.sign(p) + l2 * l2_grad_factor * p
        for p in model.parameters():
            p += sign * lr * p.grad
    return data.item()


def flat(model):
    return torch.cat([p.detach().reshape(-1) for p in model.parameters()])


def unflat(vector, model) -> dict:
    """A flat parameter vector as {name: tensor}, shaped like the model's parameters."""
    out, start = {}, 0
    for name, p in model.named_parameters():
        out[name] = vector[start:start + p.numel()].reshape(p.shape)
        start += p.numel()
    return out


# --- penalties ---------------------------------------------------------------


@check("l1_penalty and l2_penalty: Σ|w| and Σw² over the weights only", task="penalties")
def penalty_values(ctx):
    reg = ctx.load("regularization")
    model = small_model(ctx.gen)
    l1 = as_float(reg.l1_penalty(model), "l1_penalty(model)")
    l2 = as_float(reg.l2_penalty(model), "l2_penalty(model)")
    W, B = weights_of(model), biases_of(model)
    with torch.no_grad():
        abs_w = sum(float(w.abs().sum()) for w in W)
        sq_w = sum(float(w.pow(2).sum()) for w in W)
        abs_b = sum(float(b.abs().sum()) for b in B)
        sq_b = sum(float(b.pow(2).sum()) for b in B)
        n_w = sum(w.numel() for w in W)
        mean_abs = sum(float(w.abs().mean()) for w in W)
        mean_sq = sum(float(w.pow(2).mean()) for w in W)
        layer_norms = sum(float(w.norm()) for w in W)
    expect_match("l1_penalty(model)", l1, abs_w, atol=TOL, rtol=TOL, mistakes={
        "it equals Σ|w| + Σ|b|: you penalise the biases too; keep only parameters whose name ends in 'weight'": abs_w + abs_b,
        "it equals Σw², the L2 penalty (square instead of abs)": sq_w,
        "it equals Σw² + Σb²: squares instead of abs, and biases included": sq_w + sq_b,
        "it equals the mean |w|; the penalty is a sum, not a mean": abs_w / n_w,
        "it equals the sum of per-layer means of |w|; the penalty is a sum, not a mean": mean_abs,
    })
    expect_match("l2_penalty(model)", l2, sq_w, atol=TOL, rtol=TOL, mistakes={
        "it equals Σw² + Σb²: you penalise the biases too; keep only parameters whose name ends in 'weight'": sq_w + sq_b,
        "it equals Σ|w|, the L1 penalty (abs instead of square)": abs_w,
        "it equals Σ|w| + Σ|b|: abs instead of square, and biases included": abs_w + abs_b,
        "it equals ½Σw²: this course's l2_penalty has no factor ½ (the ½ belongs to the weight_decay convention; see the lesson)": sq_w / 2,
        "it equals √Σw², the L2 norm; the penalty is the squared norm": sq_w ** 0.5,
        "it equals Σ‖W‖, the sum of per-layer L2 norms; the penalty squares them": layer_norms,
        "it equals the mean w²; the penalty is a sum, not a mean": sq_w / n_w,
        "it equals the sum of per-layer means of w²; the penalty is a sum, not a mean": mean_sq,
    })


@check("penalty gradients match autograd: sign(w) for L1, 2w for L2, nothing on biases", task="penalties")
def penalty_gradients(ctx):
    reg = ctx.load("regularization")
    for fn_name, expected_grad, formula in (
        ("l1_penalty", lambda w: torch.sign(w), "sign(w)"),
        ("l2_penalty", lambda w: 2 * w, "2w"),
    ):
        model = small_model(ctx.gen)  # no weight is exactly 0, where |w| has no derivative
        value = getattr(reg, fn_name)(model)
        as_float(value, f"{fn_name}(model)")
        expect(value.requires_grad,
               f"{fn_name}(model) does not require grad: it was cut from the graph (.item(), .detach(), "
               "torch.tensor(...) or .data), so backward() cannot reach the weights")
        value.reshape(()).backward()
        for name, p in model.named_parameters():
            grad = p.grad if p.grad is not None else torch.zeros_like(p)
            if name.endswith("weight"):
                expect(p.grad is not None, f"{fn_name}: the weight {name} got no gradient; is it in the sum?")
                want = expected_grad(p.detach())
                if fn_name == "l2_penalty" and torch.allclose(grad, p.detach(), atol=1e-12):
                    fail(f"d l2_penalty / d {name} equals w, half of 2w: you used ½Σw²; this course's l2_penalty is Σw²")
                expect_close(grad, want, f"d {fn_name} / d {name} (expected {formula})", atol=1e-9, rtol=1e-9)
            else:
                if grad.abs().max() > 0:
                    fail(f"{fn_name} sends a gradient to the bias {name} (max |grad| {float(grad.abs().max()):.3g}): "
                         "biases must not be penalised; select parameters whose name ends in 'weight'")


# --- one penalised step ------------------------------------------------------

STEP_CASES = (  # (l1, l2): plain, L2 alone, L1 alone, both
    (0.0, 0.0),
    (0.0, 0.3),
    (0.2, 0.0),
    (0.05, 0.1),
)


@check("penalized_sgd_step matches a reference step (no penalty, L2, L1, both), twice in a row", task="step")
def step_matches(ctx):
    reg = ctx.load("regularization")
    lr = 0.1
    X = torch.randn(16, 5, generator=ctx.gen, dtype=torch.float64)
    y = torch.randn(16, 3, generator=ctx.gen, dtype=torch.float64)
    for l1, l2 in STEP_CASES:
        base = small_model(ctx.gen)
        learner = copy.deepcopy(base)
        variants = {
            "the reference": {},
            "a step where the penalty is not multiplied by l1/l2 (coefficient 1)": {"l1": 1.0 if l1 else 0.0, "l2": 1.0 if l2 else 0.0},
            "a step that also penalises the biases": {"bias_penalty": True},
            "a step with L2 gradient l2·w instead of 2·l2·w (the ½ of ½Σw² crept in)": {"l2_grad_factor": 1.0},
            "a step with L2 gradient 4·l2·w (the penalty counted twice?)": {"l2_grad_factor": 4.0},
            "a step that never clears the gradients (they accumulate from the previous step)": {"keep_grad": True},
            "gradient ascent: p + lr·grad instead of p − lr·grad": {"sign": 1.0},
            "a step without any penalty gradient (is the penalty cut from the graph, e.g. by .item()?)": {"l1": 0.0, "l2": 0.0},
        }
        runs = {}
        for label, opts in variants.items():
            m = copy.deepcopy(base)
            kw = {"l1": l1, "l2": l2, **opts}
            states, losses = [], []
            for _ in range(2):
                losses.append(ref_step(m, X, y, lr, **kw))
                states.append(flat(m))
            runs[label] = (states, losses)
        ref_states, ref_losses = runs["the reference"]
        case = f"(lr={lr}, l1={l1}, l2={l2})"
        for k in range(2):
            returned = reg.penalized_sgd_step(learner, X, y, lr, l1=l1, l2=l2)
            expect(isinstance(returned, float),
                   f"penalized_sgd_step{case} returned a {type(returned).__name__}; expected a Python float (use .item())")
            table = [(f"its parameters equal {label}", states[k]) for label, (states, _) in runs.items() if label != "the reference"]
            got = dict(learner.named_parameters())
            expect_match(f"the model after step {k + 1} of penalized_sgd_step{case}",
                         {n: p.detach() for n, p in got.items()}, unflat(ref_states[k], learner),
                         mistakes=[(why, (lambda v=v: unflat(v, learner))) for why, v in table], atol=1e-10, rtol=0)
            if abs(returned - ref_losses[k]) > 1e-10:
                total = ref_losses[k] + _penalty_before(runs, base, l1, l2, k)
                if abs(returned - total) < 1e-9:
                    fail(f"penalized_sgd_step{case} returned {returned:.6g}, the total loss with the penalty; "
                         f"return the data loss (MSE alone), here {ref_losses[k]:.6g}")
                fail(f"penalized_sgd_step{case} returned {returned:.6g} at step {k + 1}; expected the MSE before "
                     f"the update, {ref_losses[k]:.6g} (did you compute it after updating?)")


def _penalty_before(runs, base, l1, l2, k):
    """l1·Σ|w| + l2·Σw² of the reference weights before step k+1."""
    if k == 0:
        W = weights_of(base)
    else:
        m = copy.deepcopy(base)
        torch.nn.utils.vector_to_parameters(runs["the reference"][0][k - 1], m.parameters())
        W = weights_of(m)
    with torch.no_grad():
        return l1 * sum(float(w.abs().sum()) for w in W) + l2 * sum(float(w.pow(2).sum()) for w in W)


# --- weight_decay -------------------------------------------------------------


@check("make_sgd: one SGD step with weight_decay = 2·l2 on the weights equals the manual L2 step", task="sgd")
def sgd_weight_decay(ctx):
    reg = ctx.load("regularization")
    lr, l2 = 0.1, 0.25
    base = small_model(ctx.gen)
    model = copy.deepcopy(base)
    opt = reg.make_sgd(model, lr, l2)
    expect_type(opt, torch.optim.SGD, "make_sgd(model, lr, l2)")
    group_of = {}
    for group in opt.param_groups:
        for p in group["params"]:
            group_of[id(p)] = group
    for name, p in model.named_parameters():
        expect(id(p) in group_of, f"the parameter {name} is in no parameter group of your optimizer, so step() never updates it")
        group = group_of[id(p)]
        expect(abs(group["lr"] - lr) < 1e-15, f"the group holding {name} has lr={group['lr']}; expected lr={lr}")
        expect(group.get("momentum", 0) == 0, f"the group holding {name} has momentum={group['momentum']}; this step has none")
        wd = group["weight_decay"]
        if name.endswith("weight"):
            if abs(wd - l2) < 1e-15:
                fail(f"the weight {name} has weight_decay={wd:g} = l2. SGD adds weight_decay·w to the gradient, but "
                     f"the gradient of l2·Σw² is 2·l2·w, so weight_decay must be 2·l2 = {2 * l2:g} "
                     "(weight_decay=λ matches the penalty (λ/2)·Σw²)")
            expect(abs(wd - 2 * l2) < 1e-15,
                   f"the weight {name} has weight_decay={wd:g}; the penalty l2·Σw² with l2={l2:g} needs weight_decay = 2·l2 = {2 * l2:g}")
        else:
            expect(wd == 0, f"the bias {name} has weight_decay={wd:g}: biases are not penalised; put them in a "
                            "second parameter group with weight_decay 0")
    X = torch.randn(16, 5, generator=ctx.gen, dtype=torch.float64)
    y = torch.randn(16, 3, generator=ctx.gen, dtype=torch.float64)
    opt.zero_grad()
    F.mse_loss(model(X), y).backward()
    opt.step()
    manual = copy.deepcopy(base)
    ref_step(manual, X, y, lr, l2=l2)
    for (name, got), want in zip(model.named_parameters(), manual.parameters()):
        expect_close(got, want, f"{name} after one make_sgd step vs the manual step with l2={l2}", atol=1e-12, rtol=1e-12)


# --- sparsity -----------------------------------------------------------------

N, FEATURES, RELEVANT = 100, 30, 5
STEPS, LR, LAMBDA = 400, 0.05, 0.2
NEAR_ZERO = 0.02  # |w| below this counts as zero; subgradient L1 jitters by about lr·λ = 0.01


def sparse_regression(rng: np.random.Generator):
    """y = X @ w + 0.3 + noise where only the first RELEVANT of FEATURES weights are non-zero."""
    X = rng.standard_normal((N, FEATURES))
    w = np.zeros(FEATURES)
    w[:RELEVANT] = rng.uniform(1, 2, RELEVANT) * rng.choice([-1.0, 1.0], RELEVANT)
    y = X @ w + 0.3 + 0.5 * rng.standard_normal(N)
    return X.astype(np.float32), y.astype(np.float32)[:, None]


@check("fit_linear: L1 sets far more weights to (near) zero than no penalty; L2 shrinks them", task="fit")
def l1_sparsity(ctx):
    reg = ctx.load("regularization")
    Xn, yn = sparse_regression(ctx.rng)
    X = torch.as_tensor(Xn, device=ctx.device)
    y = torch.as_tensor(yn, device=ctx.device)
    fits = {}
    for label, l1, l2 in (("none", 0.0, 0.0), ("L1", LAMBDA, 0.0), ("L2", 0.0, LAMBDA)):
        result = reg.fit_linear(X, y, l1=l1, l2=l2, steps=STEPS, lr=LR)
        expect(isinstance(result, tuple) and len(result) == 2,
               f"fit_linear returned {type(result).__name__}; expected a (model, losses) tuple")
        model, losses = result
        expect_type(model, nn.Linear, "the model from fit_linear")
        expect_shape(model.weight, (1, FEATURES), "model.weight", labels=("outputs", "features"))
        expect(len(losses) == STEPS, f"fit_linear returned {len(losses)} losses; expected one per step ({STEPS})")
        ctx.curve(f"data loss ({label})", losses)
        expect_decreasing(losses, f"the data loss with penalty {label}", min_drop=0.5)
        fits[label] = model.weight.detach().float().cpu().reshape(-1)
    frac = {k: float((w.abs() < NEAR_ZERO).float().mean()) for k, w in fits.items()}
    norm = {k: float(w.norm()) for k, w in fits.items()}
    kept = float(fits["L1"][:RELEVANT].abs().min())
    ctx.metric("fraction of weights near zero, no penalty", frac["none"])
    # Calibration (reference solution, seeds 0-9): near-zero fraction L1 0.77-0.83 (threshold 0.6),
    # none 0.07-0.30, L1 minus none 0.47-0.77 (threshold 0.3), L2/none norm ratio 0.76-0.84
    # (threshold 0.95), smallest relevant |w| under L1 0.90-1.34 (threshold 0.5).
    pct = {k: f"{100 * v:.0f}%" for k, v in frac.items()}
    seen = (f"with L1 (λ={LAMBDA}) {pct['L1']} of the {FEATURES} weights end below {NEAR_ZERO}, "
            f"without a penalty {pct['none']}")
    ctx.metric("fraction of weights near zero, L1", frac["L1"], 0.6)
    ctx.metric("near-zero fraction, L1 minus none", frac["L1"] - frac["none"], 0.3)
    expect(frac["L1"] >= 0.6 and frac["L1"] - frac["none"] >= 0.3,
           f"{seen}; only {RELEVANT} features matter, so L1 should pin most of the other "
           f"{FEATURES - RELEVANT} near zero (expected at least 60%, and 30 points more than without). "
           "Does fit_linear pass l1 on to penalized_sgd_step, and does the step use it?")
    ratio = norm["L2"] / norm["none"]
    expect_metric(ctx, "weight norm, L2 / none", ratio, 0.95, higher_is_better=False)
    ctx.metric("smallest relevant |w|, L1", kept, 0.5)
    expect(kept > 0.5, f"{seen}, but the smallest of the {RELEVANT} relevant weights is {kept:.3g}: L1 should "
                       "zero the irrelevant weights and keep the useful ones (is the penalty scaled by l1?)")

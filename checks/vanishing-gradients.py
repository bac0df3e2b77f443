"""Check: gradient norms through time, the spectral radius of W_hh, and global-norm gradient clipping.

grad_norms_through_time() is compared with autograd on a fixed small nn.RNN and nn.LSTM in float64.
scale_to_radius() must reach the spectral radius (largest |eigenvalue|) on a non-symmetric matrix,
where the spectral norm differs. clip_grad_norm() runs beside torch.nn.utils.clip_grad_norm_ on the
same gradients in float64: the returned total norm, the gradients after, the same tensor objects
(in place), norm_type 2 and inf, grads that are None, max_norm above the norm, a generator, and
the 1e-6 in the coefficient. clipped_step() runs beside a reference step. Finally the learner's
functions sweep the spectral radius of an RNN's W_hh: log10 ‖∂L/∂x_0‖/‖∂L/∂x_T‖ must rise with it.
Each classic mistake is recomputed and named with the numbers.
"""

from __future__ import annotations

import inspect
import math
import sys

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import clip_grad as torch_clip

from tutor.checking import (check, describe_difference, expect, expect_match, expect_type, fail, float64_device,
                            is_close)

F64 = torch.float64
INF = float("inf")
EPS = 1e-6  # torch: clip_coef = max_norm / (total_norm + 1e-6)
CLIP_REASON = ("the exercise is to write global-norm clipping yourself; torch.nn.utils.clip_grad_norm_ is the "
               "reference the check compares with")


# --- forbidding torch's clipping inside clip_grad_norm -------------------------------------------

def _banned_codes():
    names = ("clip_grad_norm_", "clip_grad_norm", "clip_grad_value_", "_get_total_norm", "get_total_norm",
             "_clip_grads_with_norm_", "clip_grads_with_norm_")
    codes = {}
    for name in names:
        fn = getattr(torch_clip, name, None)
        code = getattr(inspect.unwrap(fn), "__code__", None) if fn is not None else None
        if code is not None:  # the innermost function: decorators share their wrappers' code
            codes.setdefault(code, f"torch.nn.utils.{name.lstrip('_')}")
    return codes


BANNED_CODES = _banned_codes()


def call_clip(mod, *args, **kwargs):
    """mod.clip_grad_norm(*args) with a profiler that records any call into torch's clipping."""
    hits = []

    def profile(frame, event, arg):
        if event == "call" and frame.f_code in BANNED_CODES:
            name = BANNED_CODES[frame.f_code]
            if name not in hits:
                hits.append(name)

    old = sys.getprofile()
    sys.setprofile(profile)
    try:
        result = mod.clip_grad_norm(*args, **kwargs)
    finally:
        sys.setprofile(old)
    if hits:
        fail(f"your clip_grad_norm() calls {', '.join(hits)}: {CLIP_REASON}")
    return result


# --- task: norms --------------------------------------------------------------------------------

def autograd_norms(rnn, x, h0, loss="last_sum"):
    """‖∂L/∂x_t‖ per step by autograd, for the right L or a named wrong one."""
    x = x.detach().clone().requires_grad_(True)
    out, _ = rnn(x, h0)
    L = {"last_sum": lambda: out[-1].sum(), "all_sum": lambda: out.sum(),
         "last_mean": lambda: out[-1].mean()}[loss]()
    (g,) = torch.autograd.grad(L, x)
    return g.flatten(1).norm(dim=1)


def as_tensor(value):
    if isinstance(value, (list, tuple)):
        return torch.tensor([float(v) for v in value], dtype=F64)
    return value


@check("grad_norms_through_time() equals autograd's ‖∂L/∂x_t‖ (L = output[-1].sum()) for an nn.RNN and an nn.LSTM",
       task="norms")
def norms_values(ctx):
    mod = ctx.load("gradients")
    dev = float64_device(ctx)
    torch.manual_seed(ctx.seed)
    cases = [("nn.RNN(3, 5)", nn.RNN(3, 5), True), ("nn.LSTM(3, 5)", nn.LSTM(3, 5), False)]
    for name, rnn, with_h0 in cases:
        rnn = rnn.to(device=dev, dtype=F64)
        x = torch.randn(8, 3, 3, generator=ctx.gen, dtype=F64).to(dev)
        h0 = torch.randn(1, 3, 5, generator=ctx.gen, dtype=F64).to(dev) if with_h0 else None
        label = f"grad_norms_through_time({name}, x (8, 3, 3), h0 {'(1, 3, 5)' if with_h0 else 'None'})"
        mine = x.clone()
        got = as_tensor(mod.grad_norms_through_time(rnn, mine, h0))
        expect_type(got, torch.Tensor, label)
        want = autograd_norms(rnn, x, h0)
        again = as_tensor(mod.grad_norms_through_time(rnn, mine, h0))
        if is_close(got.detach(), want) and not is_close(as_tensor(again).detach(), want):
            fail(f"{label} is right the first time and wrong the second time on the same x "
                 f"({describe_difference(again.detach(), want)}): x.grad accumulates from call to call. Take the "
                 "gradient of a fresh leaf, x.detach().clone().requires_grad_(True), with torch.autograd.grad")
        mistakes = [
            ("L sums the output of EVERY step (output.sum()); the lesson's L is the last step only, "
             "output[-1].sum(), so that ∂L/∂x_t measures how far back the last state reaches",
             lambda: autograd_norms(rnn, x, h0, "all_sum")),
            ("L is output[-1].mean() instead of .sum(): every norm is divided by B·H",
             lambda: autograd_norms(rnn, x, h0, "last_mean")),
            ("these are squared norms: take the square root (g.flatten(1).norm(dim=1))", lambda: want ** 2),
            ("the norms are in reverse order: entry t must be the step t of x (x[t]), entry 0 the first step",
             lambda: want.flip(0)),
        ]
        expect_match(label, got.detach(), want, mistakes, against="autograd")


# --- task: radius -------------------------------------------------------------------------------

def spectral_radius(W):
    return torch.linalg.eigvals(W).abs().max()


@check("scale_to_radius(W, r) has spectral radius r (the largest |eigenvalue|, not the largest singular value)",
       task="radius")
def radius_values(ctx):
    mod = ctx.load("gradients")
    dev = float64_device(ctx)
    W = (torch.randn(6, 6, generator=ctx.gen, dtype=F64) / math.sqrt(6)).to(dev)
    for r in (0.5, 1.2):
        label = f"scale_to_radius(W (6×6, not symmetric), {r})"
        got = mod.scale_to_radius(W.clone(), r)
        expect_type(got, torch.Tensor, label)
        expect(tuple(got.shape) == (6, 6), f"{label} has shape {tuple(got.shape)}; expected (6, 6)")
        want = W * (r / spectral_radius(W))
        sigma = torch.linalg.matrix_norm(W, ord=2)
        mistakes = [
            (f"it scales by the spectral NORM (the largest singular value, {sigma.item():.4f} here) instead of the "
             f"spectral RADIUS (the largest |eigenvalue|, {spectral_radius(W).item():.4f}): for a matrix that is "
             "not symmetric they differ; use torch.linalg.eigvals(W).abs().max()", lambda: W * (r / sigma)),
            ("it scales by the largest REAL part of the eigenvalues; complex eigenvalues count by their modulus: "
             "torch.linalg.eigvals(W).abs().max()", lambda: W * (r / torch.linalg.eigvals(W).real.max())),
            ("it scales by the Frobenius norm, not the spectral radius", lambda: W * (r / W.norm())),
            ("it multiplies W by r without dividing by its current spectral radius", lambda: W * r),
        ]
        expect_match(label, got, want, mistakes, rtol=1e-6, atol=1e-9, against="W · r / ρ(W)")


# --- task: clip ---------------------------------------------------------------------------------

def make_params(gen, dev, scale=1.0, none_at=None):
    """Leaf tensors with .grad set (large entries in the first one, so value clipping shows)."""
    shapes, scales = [(4, 3), (4,), (2, 2, 3)], [3.0, 1.0, 0.5]
    params = []
    for i, (shape, s) in enumerate(zip(shapes, scales)):
        p = torch.randn(shape, generator=gen, dtype=F64).to(dev).requires_grad_(True)
        if i != none_at:
            p.grad = (torch.randn(shape, generator=gen, dtype=F64) * s * scale).to(dev)
        params.append(p)
    return params


def clone_params(params):
    out = []
    for p in params:
        q = p.detach().clone().requires_grad_(True)
        q.grad = None if p.grad is None else p.grad.clone()
        out.append(q)
    return out


def grads_of(params):
    return [None if p.grad is None else p.grad.detach().clone() for p in params]


def global_norm(grads, p):
    grads = [g for g in grads if g is not None]
    if p == INF:
        return max(g.abs().max().item() for g in grads)
    return torch.stack([g.norm(p) for g in grads]).norm(p).item()


def scaled(grads, coef):
    return [None if g is None else g * coef for g in grads]


def clip_mistakes(before, max_norm, p):
    """Named wrong results for (total norm, grads after)."""
    total = global_norm(before, p)
    coef = min(1.0, max_norm / (total + EPS))
    right = scaled(before, coef)
    per_tensor = [None if g is None else g * min(1.0, max_norm / (global_norm([g], p) + EPS)) for g in before]
    total2 = global_norm(before, 2.0)
    sum_norms = sum(global_norm([g], p) for g in before if g is not None)
    sum_message = ("the total is the SUM of the per-tensor norms; the global 2-norm is the norm of the per-tensor "
                   "norms, sqrt(Σ ‖g_i‖²) (for inf: the largest |entry|)")
    grads = [
        ("each tensor is clipped by its OWN norm (per-tensor clipping): clip_grad_norm clips the GLOBAL norm, "
         "the norm of all the gradients taken together as one vector, and scales every gradient by the same "
         "max_norm / (total + 1e-6)", per_tensor),
        (f"it clips each gradient ENTRY to [−{max_norm:g}, {max_norm:g}] (clipping by value, clip_grad_value_): "
         "norm clipping scales the whole gradient by one factor and keeps its direction",
         [None if g is None else g.clamp(-max_norm, max_norm) for g in before]),
        (sum_message, scaled(before, min(1.0, max_norm / (sum_norms + EPS)))),
        ("the coefficient has no 1e-6: torch (and the exercise) uses max_norm / (total_norm + 1e-6)",
         scaled(before, min(1.0, max_norm / total))),
        (f"it ignores norm_type={p:g} and uses the 2-norm", scaled(before, min(1.0, max_norm / (total2 + EPS)))),
        ("the gradients are scaled even when the norm is already below max_norm, which makes them LARGER: "
         "multiply only when the coefficient is below 1 (or clamp it to at most 1)",
         scaled(before, max_norm / (total + EPS))),
        ("the .grad tensors are unchanged: clipping must scale p.grad in place (p.grad.mul_(coef)); the "
         "function returns only the total norm", before),
    ]
    totals = [
        (sum_message, sum_norms),
        ("it returns the squared norm Σ ‖g_i‖² (the square root is missing)", total ** 2),
        ("it returns the norm AFTER clipping; return the total norm before clipping, as clip_grad_norm_ does",
         global_norm(right, p)),
        ("it returns the clipping coefficient instead of the total norm", coef),
        (f"it ignores norm_type={p:g} and returns the 2-norm", total2),
    ]
    return [(why, present(value)) for why, value in grads], totals


def present(grads):
    """The gradients that exist (whether a None stayed None is checked on its own)."""
    return [g for g in grads if g is not None]


def run_clip_case(ctx, mod, label, params, max_norm, norm_type, parameters=None):
    """The learner's clip beside torch's on copies of the same grads; compares grads, objects, total."""
    ref = clone_params(params)
    before = grads_of(params)
    objects = [p.grad for p in params]
    args = params if parameters is None else parameters(params)
    got_total = call_clip(mod, args, max_norm, norm_type=norm_type)
    want_total = torch.nn.utils.clip_grad_norm_(ref, max_norm, norm_type=norm_type)
    grad_mistakes, total_mistakes = clip_mistakes(before, max_norm, norm_type)
    for i, p in enumerate(params):
        if objects[i] is None:
            expect(p.grad is None, f"{label}: parameter {i} had grad None and now has a gradient: skip parameters "
                   "whose .grad is None")
        elif p.grad is not objects[i]:
            fail(f"{label}: parameter {i}'s .grad is a NEW tensor (p.grad = p.grad * coef, or a new list returned): "
                 "clip_grad_norm_ scales the existing .grad tensors IN PLACE (p.grad.mul_(coef)), so that anything "
                 "holding them, like an optimizer's view or a hook, sees the clipped values")
    expect_match(f"{label}: the .grad tensors after clipping", present(grads_of(params)), present(grads_of(ref)),
                 grad_mistakes,
                 against="torch.nn.utils.clip_grad_norm_")
    expect(isinstance(got_total, (torch.Tensor, float, int)) and not isinstance(got_total, bool)
           and (not isinstance(got_total, torch.Tensor) or got_total.numel() == 1),
           f"{label} returned {type(got_total).__name__}; return the total norm before clipping, a tensor (or a "
           "float), as clip_grad_norm_ does")
    expect_match(f"{label}: the returned total norm", float(got_total), want_total.item(), total_mistakes,
                 atol=1e-9, rtol=1e-7, against="torch.nn.utils.clip_grad_norm_")


@check("clip_grad_norm(params, max_norm) with the 2-norm equals clip_grad_norm_: total norm, grads, in place",
       task="clip")
def clip_l2(ctx):
    mod = ctx.load("gradients")
    dev = float64_device(ctx)
    params = make_params(ctx.gen, dev)
    total = global_norm(grads_of(params), 2.0)
    max_norm = round(0.3 * total, 3)
    run_clip_case(ctx, mod, f"clip_grad_norm(3 tensors, max_norm={max_norm:g}) (total norm {total:.4f})",
                  params, max_norm, 2.0)


@check("clip_grad_norm(params, max_norm, norm_type=inf) equals clip_grad_norm_ (the largest |entry|)",
       task="clip")
def clip_inf(ctx):
    mod = ctx.load("gradients")
    dev = float64_device(ctx)
    params = make_params(ctx.gen, dev)
    total = global_norm(grads_of(params), INF)
    max_norm = round(0.4 * total, 3)
    run_clip_case(ctx, mod, f"clip_grad_norm(3 tensors, max_norm={max_norm:g}, norm_type=inf) (total norm "
                  f"{total:.4f})", params, max_norm, INF)


@check("clip_grad_norm skips grads that are None, leaves grads below max_norm unchanged, accepts a generator",
       task="clip")
def clip_edges(ctx):
    mod = ctx.load("gradients")
    dev = float64_device(ctx)
    params = make_params(ctx.gen, dev, none_at=1)
    max_norm = round(0.3 * global_norm(grads_of(params), 2.0), 3)
    run_clip_case(ctx, mod, f"clip_grad_norm(3 tensors, the second with grad None, max_norm={max_norm:g})",
                  params, max_norm, 2.0)
    params = make_params(ctx.gen, dev)
    total = global_norm(grads_of(params), 2.0)
    max_norm = round(2 * total, 3)
    run_clip_case(ctx, mod, f"clip_grad_norm(3 tensors, max_norm={max_norm:g} above the total norm {total:.4f})",
                  params, max_norm, 2.0)
    params = make_params(ctx.gen, dev)
    max_norm = round(0.3 * global_norm(grads_of(params), 2.0), 3)
    label = f"clip_grad_norm(a generator like model.parameters(), max_norm={max_norm:g})"
    before = grads_of(params)
    ref = clone_params(params)
    got_total = call_clip(mod, (p for p in params), max_norm)
    want_total = torch.nn.utils.clip_grad_norm_(ref, max_norm)
    if is_unchanged(params, before) and math.isclose(float(got_total), want_total.item(), rel_tol=1e-7):
        fail(f"{label} returned the right total norm ({float(got_total):.6f}) but left every gradient unchanged: "
             "it iterates `parameters` twice, and a generator is empty the second time. Make a list first: "
             "params = [p for p in parameters if p.grad is not None]")
    expect_match(f"{label}: the .grad tensors after clipping", grads_of(params), grads_of(ref),
                 against="torch.nn.utils.clip_grad_norm_")
    expect_match(f"{label}: the returned total norm", float(got_total), want_total.item(),
                 against="torch.nn.utils.clip_grad_norm_")


def is_unchanged(params, before):
    return all(torch.equal(p.grad, b) for p, b in zip(params, before))


@check("clip_grad_norm's coefficient is max_norm / (total_norm + 1e-6), as in torch (tiny gradients)", task="clip")
def clip_epsilon(ctx):
    mod = ctx.load("gradients")
    dev = float64_device(ctx)
    params = make_params(ctx.gen, dev, scale=1e-5)   # total norm about 1e-4: the 1e-6 changes it by about 1%
    total = global_norm(grads_of(params), 2.0)
    max_norm = float(f"{0.1 * total:.3g}")
    run_clip_case(ctx, mod, f"clip_grad_norm(3 tensors with tiny gradients, total norm {total:.3g}, "
                  f"max_norm={max_norm:g})", params, max_norm, 2.0)


# --- task: step ---------------------------------------------------------------------------------

def reference_steps(model, opt, batches, max_norm, order="right"):
    """(losses, total norms, final weights) of steps done in the right order or a named wrong one."""
    losses, norms = [], []
    for x, y in batches:
        if order != "no_zero_grad":
            opt.zero_grad()
        loss = F.mse_loss(model(x), y)
        if order == "clip_first":
            norms.append(torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm).item())
        loss.backward()
        if order in ("right", "no_zero_grad"):
            norms.append(torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm).item())
        opt.step()
        if order == "clip_after_step":
            norms.append(torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm).item())
        losses.append(loss.item())
    return losses, norms, [p.detach().clone() for p in model.parameters()]


@check("clipped_step() zeroes, backpropagates, clips, then steps: losses, norms and weights beside a reference",
       task="step")
def step_alongside_ref(ctx):
    mod = ctx.load("gradients")
    dev = float64_device(ctx)
    torch.manual_seed(ctx.seed)
    base = nn.Linear(5, 3).to(device=dev, dtype=F64)
    batches = [(torch.randn(8, 5, generator=ctx.gen, dtype=F64).to(dev),
                3 * torch.randn(8, 3, generator=ctx.gen, dtype=F64).to(dev)) for _ in range(3)]
    max_norm = 0.5

    def fresh():
        m = nn.Linear(5, 3).to(device=dev, dtype=F64)
        m.load_state_dict(base.state_dict())
        return m, torch.optim.SGD(m.parameters(), lr=0.1)

    model, opt = fresh()
    got_losses, got_norms = [], []
    for x, y in batches:
        out = mod.clipped_step(model, F.mse_loss, x, y, opt, max_norm)
        expect(isinstance(out, (tuple, list)) and len(out) == 2,
               f"clipped_step(...) returned {type(out).__name__}; return (loss, total norm) as two floats")
        got_losses.append(float(out[0]))
        got_norms.append(float(out[1]))
    label = f"3 clipped_step()s of nn.Linear(5, 3), SGD(lr=0.1), max_norm={max_norm}: (losses, norms, weights)"
    want = reference_steps(*fresh(), batches, max_norm)

    def variant(order):
        return lambda: reference_steps(*fresh(), batches, max_norm, order)

    mistakes = [
        ("it clips BEFORE loss.backward(): the gradients are not there yet (None after zero_grad, so the norm "
         "is 0), and the step then uses the unclipped gradients. Order: zero_grad, backward, clip, step",
         variant("clip_first")),
        ("it clips AFTER optimizer.step(): the step has already used the unclipped gradients. Order: zero_grad, "
         "backward, clip, step", variant("clip_after_step")),
        ("the gradients are never zeroed, so each step clips the sum of all the earlier steps' gradients: call "
         "optimizer.zero_grad() first", variant("no_zero_grad")),
    ]
    mine = (got_losses, got_norms, [p.detach() for p in model.parameters()])
    expect_match(label, mine, want, mistakes, atol=1e-9, rtol=1e-7, against="a reference step with clip_grad_norm_")


# --- task: sweep --------------------------------------------------------------------------------

# log10 ‖∂L/∂x_0‖/‖∂L/∂x_29‖ of nn.RNN(4, 16) float64 over T = 30, x ~ N(0, 1) (30, 4, 4), W_hh scaled
# to each radius. The solution over seeds 0-7 (radius 0.25 / 0.5 / 0.75 / 1.0 / 1.25):
# -18.6..-19.5 / -10.1..-11.0 / -5.4..-6.3 / -2.3..-3.7 / -0.2..-1.9; the smallest rise from one
# radius to the next is 1.71 decades (seed 5, 1.0 -> 1.25). The check asks for 0.5 at every step.
RADII = (0.25, 0.5, 0.75, 1.0, 1.25)
MIN_RISE = 0.5   # decades per step of the sweep; the solution's smallest is 1.71 (seeds 0-7)
SWEEP_T = 30


def log_ratio(norms):
    norms = as_tensor(norms).detach().double()
    return math.log10(max(norms[0].item(), 1e-300) / max(norms[-1].item(), 1e-300))


@check(f"log10 ‖∂L/∂x_0‖/‖∂L/∂x_T‖ rises with the spectral radius of W_hh over {RADII} (T = {SWEEP_T})",
       task="sweep")
def radius_sweep(ctx):
    mod = ctx.load("gradients")
    dev = float64_device(ctx)
    torch.manual_seed(ctx.seed)
    rnn = nn.RNN(4, 16).to(device=dev, dtype=F64)
    x = torch.randn(SWEEP_T, 4, 4, generator=ctx.gen, dtype=F64).to(dev)
    W0 = rnn.weight_hh_l0.detach().clone()
    logs = []
    for r in RADII:
        with torch.no_grad():
            rnn.weight_hh_l0.copy_(mod.scale_to_radius(W0.clone(), r))
        logs.append(log_ratio(mod.grad_norms_through_time(rnn, x, None)))
        ctx.metric(f"log10 ratio at radius {r}", logs[-1])
    shown = ", ".join(f"{r}: {v:.2f}" for r, v in zip(RADII, logs))
    expect(all(math.isfinite(v) for v in logs), f"the log10 ratios are not all finite ({shown})")
    rises = [b - a for a, b in zip(logs, logs[1:])]
    worst = min(range(len(rises)), key=lambda i: rises[i])
    expect(rises[worst] >= MIN_RISE,
           f"log10 ‖∂L/∂x_0‖/‖∂L/∂x_T‖ by radius is {shown}: from radius {RADII[worst]} to {RADII[worst + 1]} it "
           f"rises by {rises[worst]:.2f} decades, less than {MIN_RISE} (the reference rises by 1.7 to 8.6 decades "
           "at each step: each step back in time multiplies the gradient by about ρ(W_hh)·tanh'). Check "
           "grad_norms_through_time and scale_to_radius against the earlier checks")
    # Shown, not asserted (the gap is under one decade on some seeds): a default nn.LSTM keeps more of the
    # gradient over T = 50 than a default nn.RNN (solution, seeds 0-7: RNN -10.9..-16.2, LSTM -8.5..-10.8).
    xl = torch.randn(50, 4, 4, generator=ctx.gen, dtype=F64).to(dev)
    ctx.metric("log10 ratio, default nn.RNN, T = 50",
               log_ratio(mod.grad_norms_through_time(nn.RNN(4, 16).to(device=dev, dtype=F64), xl, None)))
    ctx.metric("log10 ratio, default nn.LSTM, T = 50",
               log_ratio(mod.grad_norms_through_time(nn.LSTM(4, 16).to(device=dev, dtype=F64), xl, None)))

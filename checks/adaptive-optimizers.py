"""Check: momentum, RMSprop, Adam and AdamW from scratch.

Each optimizer is stepped 50 times side by side with its torch.optim twin on identical
gradients (float64, two parameter groups, a parameter whose gradients are ~1e-6 so that eps
matters, and one that has no gradient for the first steps). The first step and parameter
that differ are named, and the check replays the run with each classic mistake (no bias
correction, eps inside the square root, coupled weight decay in AdamW, ...) to say which one
the learner's numbers match. Then fit() runs the four on an ill-conditioned regression.
"""

from __future__ import annotations


import numpy as np
import torch

from tutor.checking import (
    check,
    expect,
    expect_metric,
    expect_type,
    fail,
    float64_device,
    forbid,
    forbid_subclass,
    optimizer_alongside,
)

F64 = torch.float64
STEPS = 50
ATOL, RTOL = 1e-10, 1e-9  # a right implementation agrees with torch.optim to ~1e-15 in float64

# name: (shape, gradient scale, group). 'tiny' has gradients ~1e-6, where eps is not negligible;
# 'late' gets no gradient (grad None) for its first LATE steps and must be skipped then.
PARAMS = {
    "w": ((3, 4), 1.0, 0),
    "b": ((4,), 0.3, 0),
    "late": ((2,), 1.0, 0),
    "tiny": ((5,), 1e-6, 1),
}
LATE = 5

MISTAKES = {
    # SGD with momentum
    "dampened": "it matches the average form v = μ·v + (1−μ)·g. torch.optim.SGD (dampening=0) accumulates "
    "v = μ·v + g, so its steps are 1/(1−μ) times larger: use v.mul_(momentum).add_(grad)",
    "no_momentum": "it matches plain SGD (p −= lr·g): the velocity is not used, or not kept between steps "
    "(store it in self.state[p])",
    "nesterov": "it matches Nesterov momentum, p −= lr·(g + μ·v); the heavy-ball step is p −= lr·v",
    # RMSprop
    "rms_eps_inside": "eps is inside the square root: g/√(s + ε). torch.optim.RMSprop divides by √s + ε "
    "(it matters for parameter 'tiny', whose gradients are ~1e-6)",
    "alpha_inverted": "the decay is inverted: s = (1−α)·s + α·g². It is s = α·s + (1−α)·g², so α=0.99 keeps "
    "99% of the old average",
    "no_sqrt": "it divides by s + ε, not by √s + ε: the square root is missing",
    "rms_bias_corrected": "it bias-corrects s by 1/(1−αᵗ); torch.optim.RMSprop does not (that is Adam's idea)",
    # Adam / AdamW
    "no_bias_correction": "it matches Adam WITHOUT bias correction. Divide m by (1−β1ᵗ) and v by (1−β2ᵗ), "
    "with t the parameter's step count (1 at the first step); without it the first step is off by a factor "
    "(1−β1)/√(1−β2) (3.16 with the default betas) while m and v are still warming up from zero",
    "bc_m_only": "only m is bias-corrected: v̂ = v/(1−β2ᵗ) is missing",
    "bc_v_only": "only v is bias-corrected: m̂ = m/(1−β1ᵗ) is missing",
    "eps_inside": "eps is inside the square root: m̂/√(v̂ + ε). PyTorch uses m̂/(√v̂ + ε); the difference "
    "is largest where gradients are small (parameter 'tiny' has gradients ~1e-6)",
    "step_from_zero": "it is nan/inf from step 1: (1 − βᵗ) is 0 when t starts at 0; t must be 1 at the first step "
    "(increment the step count before using it)",
    "eps_hat": "it matches a known variant (sound maths, but not PyTorch's): the paper's rearranged step lr·√(1−β2ᵗ)/(1−β1ᵗ) · m/(√v + ε), where ε meets v before "
    "the bias correction. torch.optim.Adam computes m̂/(√v̂ + ε) with m̂ = m/(1−β1ᵗ), v̂ = v/(1−β2ᵗ)",
    "betas_swapped": "β1 and β2 are swapped: m = β1·m + (1−β1)·g (β1 = {beta1}), v = β2·v + (1−β2)·g² "
    "(β2 = {beta2})",
    "global_step": "the step count t is shared by all parameters and advanced once per parameter (like "
    "self.t += 1 inside the loop). Keep t per parameter in self.state[p]",
    "wd_decoupled": "weight decay is decoupled, p·(1 − lr·λ): that is AdamW. torch.optim.Adam's weight_decay is "
    "L2: it adds λ·p to the gradient before the moments",
    "wd_ignored": "weight_decay is ignored",
    "wd_coupled": "it matches Adam + L2: λ·p was added to the gradient, where it gets divided by √v̂ like the "
    "rest (large weights with large gradients are hardly decayed). AdamW decays the weights directly, "
    "p ← p·(1 − lr·λ), and runs the Adam step on the raw gradient",
    "wd_no_lr": "the decay is p·(1 − λ), not scaled by the learning rate; torch.optim.AdamW uses p·(1 − lr·λ)",
    "wd_after": "the decay is applied after the Adam step, to the new p; torch.optim.AdamW decays the old p "
    "first: p ← p·(1 − lr·λ), then p ← p − lr·m̂/(√v̂ + ε)",
    # any optimizer
    "none_as_zero": "parameter 'late' has no gradient (p.grad is None) for its first 5 steps and your step treated "
    "it as zero, so its state (and weight decay) moved it: skip such parameters (`if p.grad is None: continue`)",
    "hardcoded": "it matches PyTorch's DEFAULT {names} ({defaults}) instead of the values passed ({given}): read "
    "them from `group` rather than writing the numbers into step()",
    "defaults": "parameter group 1 has its own hyperparameters (lr={lr1}), but your step used the values from "
    "the constructor. Read lr etc. from `group` inside `for group in self.param_groups`",
}

VARIANTS = {
    "sgd": ["dampened", "no_momentum", "nesterov", "defaults", "hardcoded"],
    "rmsprop": ["rms_eps_inside", "alpha_inverted", "no_sqrt", "rms_bias_corrected", "defaults", "hardcoded"],
    "adam": ["no_bias_correction", "bc_m_only", "bc_v_only", "eps_inside", "eps_hat", "betas_swapped",
             "global_step", "step_from_zero", "wd_decoupled", "wd_ignored", "defaults", "hardcoded"],
    "adamw": ["wd_coupled", "wd_no_lr", "wd_after", "wd_ignored", "no_bias_correction", "bc_m_only", "bc_v_only",
              "eps_inside", "eps_hat", "betas_swapped", "global_step", "step_from_zero", "defaults", "hardcoded"],
}

# PyTorch's defaults for everything but lr: what a learner who hard-codes the numbers uses.
TORCH_DEFAULTS = {
    "sgd": {"momentum": 0.9},
    "rmsprop": {"alpha": 0.99},
    "adam": {"betas": (0.9, 0.999)},
    "adamw": {"betas": (0.9, 0.999)},
}


# --- the reference arithmetic, with each mistake as a switch ------------------------------


def simulate(kind: str, init: dict, grads: list, hyper: dict, group1: dict, variant: str | None = None):
    """Replay the run by hand; returns the parameters after every step (a list of dicts)."""
    params = {k: v.clone() for k, v in init.items()}
    state: dict[str, dict] = {k: {} for k in params}
    counter = [0]
    history = []
    for t in range(len(grads)):
        for name in PARAMS:
            g = grads[t][name]
            if g is None and variant == "none_as_zero":
                g = torch.zeros_like(params[name])
            elif g is None:
                continue
            h = dict(hyper)
            if PARAMS[name][2] == 1 and variant != "defaults":
                h.update(group1)
            if variant == "hardcoded":
                h.update(TORCH_DEFAULTS[kind])
            params[name] = update(kind, params[name], g.clone(), state[name], h, variant, counter)
        history.append({k: v.clone() for k, v in params.items()})
    return history


def update(kind, p, g, st, h, variant, counter):
    """One step of one parameter."""
    if kind == "sgd":
        mu, lr = h["momentum"], h["lr"]
        v = st.get("v")
        if variant == "dampened":   # the average form, from a zero velocity
            v = (1 - mu) * g if v is None else mu * v + (1 - mu) * g
        else:
            v = g.clone() if v is None else mu * v + g
        st["v"] = v
        if variant == "no_momentum":
            return p - lr * g
        if variant == "nesterov":
            return p - lr * (g + mu * v)
        return p - lr * v
    if kind == "rmsprop":
        a, lr, eps = h["alpha"], h["lr"], h["eps"]
        st["t"] = st.get("t", 0) + 1
        s = st.get("s", torch.zeros_like(p))
        s = (1 - a) * s + a * g * g if variant == "alpha_inverted" else a * s + (1 - a) * g * g
        st["s"] = s
        if variant == "rms_bias_corrected":
            s = s / (1 - a ** st["t"])
        if variant == "rms_eps_inside":
            return p - lr * g / torch.sqrt(s + eps)
        if variant == "no_sqrt":
            return p - lr * g / (s + eps)
        return p - lr * g / (torch.sqrt(s) + eps)
    # adam / adamw
    b1, b2 = h["betas"]
    if variant == "betas_swapped":
        b1, b2 = b2, b1
    lr, eps = h["lr"], h["eps"]
    wd = h.get("weight_decay", 1e-2 if kind == "adamw" else 0.0)   # the constructors' defaults
    st["t"] = st.get("t", 0) + 1
    counter[0] += 1
    t = counter[0] if variant == "global_step" else st["t"] - 1 if variant == "step_from_zero" else st["t"]
    decoupled = kind == "adamw"
    if variant in ("wd_decoupled",):
        decoupled = True
    if variant == "wd_coupled":
        decoupled = False
    if variant == "wd_ignored":
        wd = 0.0
    if wd and decoupled and variant != "wd_after":
        p = p * (1 - wd) if variant == "wd_no_lr" else p * (1 - lr * wd)
    if wd and not decoupled:
        g = g + wd * p
    m = b1 * st.get("m", torch.zeros_like(p)) + (1 - b1) * g
    v = b2 * st.get("v", torch.zeros_like(p)) + (1 - b2) * g * g
    st["m"], st["v"] = m, v
    bc1, bc2 = 1 - b1**t, 1 - b2**t
    if variant == "no_bias_correction":
        bc1 = bc2 = 1.0
    if variant == "bc_m_only":
        bc2 = 1.0
    if variant == "bc_v_only":
        bc1 = 1.0
    if variant == "eps_inside":
        new = p - lr * (m / bc1) / torch.sqrt(v / bc2 + eps)
    elif variant == "eps_hat":
        new = p - lr * (bc2**0.5) / bc1 * m / (torch.sqrt(v) + eps)
    else:
        new = p - lr * (m / bc1) / (torch.sqrt(v / bc2) + eps)
    if wd and decoupled and variant == "wd_after":
        new = new * (1 - lr * wd)
    return new


# --- running the learner's optimizer and torch's side by side -----------------------------


def make_run(ctx) -> tuple[dict, list]:
    """Initial parameters and STEPS gradients per parameter (identical for both runs)."""
    init, grads = {}, []
    drift = {}
    for name, (shape, scale, _) in PARAMS.items():
        init[name] = torch.randn(*shape, generator=ctx.gen, dtype=F64).to(float64_device(ctx))
        drift[name] = torch.randn(*shape, generator=ctx.gen, dtype=F64)
    for t in range(STEPS):
        step = {}
        for name, (shape, scale, _) in PARAMS.items():
            if name == "late" and t < LATE:
                step[name] = None
                continue
            noise = torch.randn(*shape, generator=ctx.gen, dtype=F64)
            step[name] = (scale * (0.7 * drift[name] + noise)).to(float64_device(ctx))
        grads.append(step)
    return init, grads


def param_groups(tensors: dict, group1: dict) -> list[dict]:
    group0 = [tensors[n] for n, spec in PARAMS.items() if spec[2] == 0]
    group1_params = [tensors[n] for n, spec in PARAMS.items() if spec[2] == 1]
    return [{"params": group0}, {"params": group1_params, **group1}]


BUILD_IT = "the exercise is to write the update yourself, on torch.optim.Optimizer, from torch operations"
# torch.optim's own optimizers: the learner's classes may not be, extend or call them (AdamW, a subclass
# of Adam, comes first so that the message names it).
TORCH_OPTIMIZERS = (torch.optim.SGD, torch.optim.RMSprop, torch.optim.AdamW, torch.optim.Adam, torch.optim.Adagrad,
                    torch.optim.Adamax, torch.optim.NAdam, torch.optim.RAdam, torch.optim.Adadelta)


def guarded(opt, label: str):
    """The learner's optimizer, its step() run under the ban on torch.optim's and with the classic
    complaints (in-place on a leaf, a gradient of None) turned into advice."""
    expect_type(opt, torch.optim.Optimizer, f"{label}(...)")
    step = opt.step

    def checked_step(closure=None):
        try:
            with forbid(*TORCH_OPTIMIZERS, reason=BUILD_IT, caller=f"{label}.step()"):
                return step(closure)
        except RuntimeError as exc:
            if "leaf Variable that requires grad" in str(exc) or "in-place operation" in str(exc):
                fail(f"{label}.step() changed a parameter in place while autograd was recording: decorate step "
                     "with @torch.no_grad() (the starter has it), or update p.data")
            raise
        except (TypeError, AttributeError) as exc:
            if "None" in str(exc):
                fail(f"{label}.step() failed on a parameter without a gradient ({type(exc).__name__}: {exc}). "
                     f"Parameter 'late' has p.grad None for its first {LATE} steps, as a frozen or unused "
                     "parameter would: skip it with `if p.grad is None: continue`")
            raise

    opt.step = checked_step
    return opt


def compare(ctx, kind: str, cls, torch_cls, hyper: dict, group1: dict, label: str) -> None:
    """Step by step against torch.optim; at the first difference, name it and the matching mistake."""
    forbid_subclass(cls, *TORCH_OPTIMIZERS, reason=BUILD_IT, name=label)
    init, grads = make_run(ctx)
    hard = TORCH_DEFAULTS[kind]
    fmt = {"lr1": group1.get("lr"), "beta1": hyper.get("betas", (None,))[0],
           "beta2": hyper.get("betas", (None, None))[1], "names": "/".join(hard),
           "defaults": ", ".join(f"{v}" for v in hard.values()), "given": ", ".join(f"{hyper.get(k)}" for k in hard)}

    def replay(variant):
        return lambda t: simulate(kind, init, grads[: t + 1], hyper, group1, variant)[t]

    mistakes = [(MISTAKES[v].format(**fmt), replay(v)) for v in VARIANTS[kind] + ["none_as_zero"]
                if not (v == "defaults" and not group1)]
    optimizer_alongside(lambda p: guarded(cls(param_groups(p, group1), **hyper), label),
                        lambda p: torch_cls(param_groups(p, group1), **hyper), params=init, grads=grads,
                        name=label, mistakes=mistakes, atol=ATOL, rtol=RTOL,
                        hint="None of the classic mistakes matches; compare your update line by line with the "
                             "formulas in the docstring")


# --- task: momentum -----------------------------------------------------------------------


@check("SGDMomentum matches torch.optim.SGD(momentum=...) for 50 steps", task="momentum")
def sgd_momentum(ctx):
    opt = ctx.load("optimizers")
    compare(ctx, "sgd", opt.SGDMomentum, torch.optim.SGD, {"lr": 0.05, "momentum": 0.8},
            {"lr": 0.2, "momentum": 0.5}, "SGDMomentum")


# --- task: rmsprop ------------------------------------------------------------------------


@check("RMSprop matches torch.optim.RMSprop for 50 steps (eps outside the square root)", task="rmsprop")
def rmsprop(ctx):
    opt = ctx.load("optimizers")
    compare(ctx, "rmsprop", opt.RMSprop, torch.optim.RMSprop, {"lr": 0.01, "alpha": 0.9, "eps": 1e-8},
            {"lr": 0.003}, "RMSprop")


# --- task: adam ---------------------------------------------------------------------------


@check("Adam matches torch.optim.Adam for 50 steps (bias correction, eps, per-parameter step count)",
       task="adam")
def adam(ctx):
    opt = ctx.load("optimizers")
    compare(ctx, "adam", opt.Adam, torch.optim.Adam, {"lr": 0.01, "betas": (0.8, 0.99), "eps": 1e-8},
            {"lr": 0.003}, "Adam")


@check("Adam's weight_decay is L2 added to the gradient, like torch.optim.Adam", task="adam")
def adam_weight_decay(ctx):
    opt = ctx.load("optimizers")
    compare(ctx, "adam", opt.Adam, torch.optim.Adam,
            {"lr": 0.01, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0.1}, {"lr": 0.003}, "Adam")


# --- task: adamw --------------------------------------------------------------------------


@check("AdamW matches torch.optim.AdamW for 50 steps (decoupled weight decay)", task="adamw")
def adamw(ctx):
    opt = ctx.load("optimizers")
    compare(ctx, "adamw", opt.AdamW, torch.optim.AdamW,
            {"lr": 0.01, "betas": (0.85, 0.995), "eps": 1e-8, "weight_decay": 0.2},
            {"lr": 0.003, "weight_decay": 0.5}, "AdamW")


# --- task: compare ------------------------------------------------------------------------


@check("fit() runs zero_grad, backward and step, and returns the loss of every step", task="compare")
def fit_loop(ctx):
    opt = ctx.load("optimizers")
    X = torch.randn(32, 3, generator=ctx.gen, dtype=F64)
    y = X @ torch.tensor([1.0, -2.0, 0.5], dtype=F64) + 0.3

    def run(fit_fn):
        w = torch.zeros(3, dtype=F64, requires_grad=True)
        sgd = torch.optim.SGD([w], lr=0.1)
        return fit_fn(lambda: ((X @ w - y) ** 2).mean(), sgd, 8), w.detach()

    def reference(loss_fn, optimizer, steps, zero=True, record_after=False):
        out = []
        for _ in range(steps):
            if zero:
                optimizer.zero_grad()
            loss = loss_fn()
            loss.backward()
            optimizer.step()
            out.append(loss_fn().item() if record_after else loss.item())
        return out

    losses, _ = run(opt.fit)
    expect_type(losses, list, "fit(...)")
    expect(len(losses) == 8, f"fit(loss_fn, optimizer, steps=8) returned {len(losses)} losses; expected 8 (one per step)")
    expect(all(isinstance(v, float) for v in losses),
           f"fit() should return Python floats (loss.item()); the first item is a {type(losses[0]).__name__}")
    want, _ = run(reference)
    if np.allclose(losses, want, atol=1e-12, rtol=1e-10):
        return
    for kwargs, why in (
        ({"zero": False}, "the gradients accumulate from step to step: call optimizer.zero_grad() before backward()"),
        ({"record_after": True}, "these are the losses AFTER each step; record loss.item() of the loss you called "
                                 "backward() on"),
    ):
        wrong, _ = run(lambda f, o, s, kw=kwargs: reference(f, o, s, **kw))
        if np.allclose(losses, wrong, atol=1e-12, rtol=1e-10):
            fail(f"fit() losses {np.round(losses[:4], 4).tolist()}... do not match the expected "
                 f"{np.round(want[:4], 4).tolist()}...: {why}")
    if np.allclose(losses, losses[0]):
        fail(f"fit() returned the same loss at every step ({losses[0]:.4g}): the parameters never move. Call "
             "loss.backward() and then optimizer.step() (zero_grad before backward, not between them)")
    fail(f"fit() losses {np.round(losses, 4).tolist()} differ from the expected {np.round(want, 4).tolist()}: "
         "each step is zero_grad(), loss = loss_fn(), loss.backward(), step(), then record loss.item()")




SCALES = (1.0, 3.0, 10.0)  # feature scales: the Hessian is about diag(2, 18, 200), condition number 100
CMP_STEPS = 150


@check("on an ill-conditioned regression, momentum and Adam beat plain SGD by a wide margin", task="compare")
def compare_optimizers(ctx):
    opt = ctx.load("optimizers")
    g = ctx.gen
    X = torch.randn(256, 3, generator=g) * torch.tensor(SCALES)
    y = X @ torch.randn(3, generator=g) + 0.5 + 0.1 * torch.randn(256, generator=g)
    A = torch.cat([X, torch.ones(256, 1)], dim=1).to(F64)
    best_fit = torch.linalg.lstsq(A, y.to(F64).unsqueeze(1)).solution
    best = ((A @ best_fit).squeeze(1) - y.to(F64)).pow(2).mean().item()
    Xd, yd = X.to(ctx.device), y.to(ctx.device)
    setups = {
        # lr for SGD: 0.005 = 1/λ_max; momentum keeps it; Adam and RMSprop take per-coordinate steps.
        "SGD": lambda p: opt.SGDMomentum(p, lr=0.005, momentum=0.0),
        "SGD+momentum": lambda p: opt.SGDMomentum(p, lr=0.005, momentum=0.9),
        "RMSprop": lambda p: opt.RMSprop(p, lr=0.03),
        "Adam": lambda p: opt.Adam(p, lr=0.05),
    }
    excess = {}
    for name, make in setups.items():
        w = torch.zeros(3, device=ctx.device, requires_grad=True)
        b = torch.zeros(1, device=ctx.device, requires_grad=True)
        losses = opt.fit(lambda: ((Xd @ w + b - yd) ** 2).mean(), make([w, b]), CMP_STEPS)
        expect(isinstance(losses, list) and len(losses) == CMP_STEPS
               and all(isinstance(v, float) for v in losses),
               f"fit() should return a list of {CMP_STEPS} Python floats (loss.item() of every step)")
        ctx.curve(f"loss {name}", losses)
        final = ((A @ torch.cat([w.detach(), b.detach()]).cpu().to(F64)) - y.to(F64)).pow(2).mean().item()
        excess[name] = max(final - best, 1e-12)
        ctx.metric(f"excess loss {name} (final − least-squares optimum)", excess[name], None, False)
    # Calibration (solution, 150 steps, 40 problems: generators seeded 0-39): SGD/momentum excess ratio
    # min 114, next 344, median ~1e4; SGD/Adam min 6.5, next 27, median ~6e3. Thresholds 10 and 2.
    # RMSprop (no momentum) is NOT robust here: SGD/RMSprop ranged 0.24 to 1e8 at lr 0.03 (0.0002 to 1e8 at
    # lr 0.01), so it is reported and not judged.
    expect_metric(ctx, "SGD excess / momentum excess", excess["SGD"] / excess["SGD+momentum"], 10.0)
    expect_metric(ctx, "SGD excess / Adam excess", excess["SGD"] / excess["Adam"], 2.0)

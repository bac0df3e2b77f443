"""Check: sigmoid, tanh, ReLU, LeakyReLU and their derivatives, by hand; saturation and dead units.

Values are compared with torch's own functions and derivatives with autograd, in float64
(and float32 for the values). Every learner call runs under `forbid` (torch's own
activations are not allowed today) and `first_overflow` (which names the first operation
that turned finite inputs into inf or nan). When a derivative or a measurement is off, the
check recomputes it with each classic mistake and names the one that matches.
"""

import warnings

import numpy as np
import torch
import torch.nn.functional as F

from tutor.checking import (
    check,
    describe_difference,
    expect,
    expect_close,
    expect_finite,
    expect_like,
    expect_match,
    fail,
    first_overflow,
    float64_device,
    forbid,
)

BUILD_IT = "today you build it from elementary operations (torch.exp, torch.where, comparisons, arithmetic)"
# torch's activations (functions, Tensor methods, in-place variants, torch.special.expit): the answers.
TORCH_ACTIVATIONS = (
    "sigmoid", "expit", "logit", "tanh", "relu", "leaky_relu", "rrelu", "hardtanh", "relu6", "elu", "selu",
    "celu", "gelu", "silu", "mish", "softplus", "logsigmoid", "hardsigmoid", "hardswish", "threshold", "prelu",
    "softsign", "tanhshrink",
)
# Tolerances for values against torch's functions. The reference solution is within 4.4e-16
# (float64) and 1.2e-7 (float32) of torch on [-30, 30]; the textbook formulas are within 1e-15
# where they do not overflow.
F64 = dict(atol=1e-12, rtol=1e-10)
F32 = dict(atol=1e-6, rtol=1e-5)
EXTREMES = (-1000.0, -100.0, -89.0, -50.0, 50.0, 89.0, 100.0, 1000.0)
KINKS = [-3.0, -1.0, -1e-9, 0.0, 1e-9, 0.5, 2.0]
THRESHOLD = 0.01  # saturation: derivative below 1% (sigmoid: |z| > 4.59, tanh: |z| > 2.99)
# Fractions k/n may be computed in float32 (mask.float().mean().item()): off by at most ~1e-7
# relative, while two different fractions of the batches here (n <= 128 * 40 = 5120 entries)
# differ by at least 1/5120 = 2e-4. So 1e-6 accepts float32 and still tells any two counts apart.
FRACTION = dict(atol=1e-6, rtol=0)

# The saturation batch: values far from both thresholds (sigmoid 4.59, tanh 2.99). Every wrong
# reading below gives a different number on it (differences >= 0.04), checked when it was built.
SAT_BATCH = [
    [-1.0, -0.5, -1.0, -9.0, 0.3, -1.0],
    [5.5, -0.5, 6.0, 5.5, -4.0, 2.0],
    [-3.5, -2.0, 0.0, -5.5, 2.0, -9.0],
    [-1.0, -3.5, -3.5, -7.0, -9.0, -5.5],
]
# The dead-unit batch: 6 examples x 8 units. Units 0, 1, 2 are dead (all negative; all exactly 0;
# negatives and zeros); 3 and 6 have a single positive example; 7 has one zero. Dead: 3/8.
DEAD_BATCH = [
    # A     B    C     D    E     F    G     H
    [-1.0, 0.0, -1.0, -1.0, 1.0, 1.0, -2.0, 0.0],
    [-2.0, 0.0, 0.0, -2.0, 2.0, -1.0, -1.0, 1.0],
    [-0.5, 0.0, -2.0, -1.0, 0.5, 2.0, -3.0, 2.0],
    [-3.0, 0.0, 0.0, 0.5, 3.0, -2.0, -1.0, 3.0],
    [-1.0, 0.0, -0.5, -1.0, 1.0, 0.5, 2.0, 1.0],
    [-0.1, 0.0, -1.0, -2.0, 2.0, -0.5, -4.0, 0.2],
]

SIGMOID_WHY = (
    "exp(x) overflows to inf above x = 88.7 in float32 (709.8 in float64). The textbook "
    "1 / (1 + exp(-x)) gives the right 0 at x = -1000 only by luck (1 / inf = 0), and its "
    "gradient is nan (0 * inf). Only ever exponentiate a number <= 0: with z = exp(-|x|), which "
    "lies in (0, 1], sigmoid(x) is 1/(1+z) for x >= 0 and z/(1+z) for x < 0. torch.where evaluates "
    "BOTH branches, so a branch that overflows poisons the gradient even where it is not chosen."
)
TANH_WHY = (
    "exp(x) overflows to inf above x = 88.7 in float32 (709.8 in float64), and the textbook "
    "(e^x - e^-x) / (e^x + e^-x) then gives inf / inf = nan. Only ever exponentiate a number <= 0: "
    "with m = exp(-2|x|), tanh(|x|) = (1 - m) / (1 + m), then give it the sign of x "
    "(or use 2 * sigmoid(2x) - 1 with your stable sigmoid). torch.where evaluates BOTH branches, so "
    "a branch that overflows poisons the gradient even where it is not chosen."
)


def watched(fn, *args, **kwargs):
    """fn(...) under the ban on torch's activations; returns (output, the overflow watch)."""
    with first_overflow() as watch, forbid(*TORCH_ACTIVATIONS, reason=BUILD_IT, caller=f"{fn.__name__}()"):
        out = fn(*args, **kwargs)
    return out, watch


def grid(ctx, dtype, scale=6.0):
    """Random points plus the special ones (0, tiny, moderately large), on the check's device."""
    x = scale * torch.randn(500, generator=ctx.gen, dtype=torch.float64)
    special = torch.tensor([0.0, 1e-9, -1e-9, 1e-3, -1e-3, 15.0, -15.0, 30.0, -30.0], dtype=torch.float64)
    device = float64_device(ctx) if dtype == torch.float64 else ctx.device
    return torch.cat([x, special]).to(device=device, dtype=dtype)


def autograd_derivative(fn, x):
    """d fn / dx elementwise by autograd."""
    x = x.detach().clone().requires_grad_(True)
    fn(x).sum().backward()
    return x.grad.detach()


def dtype_name(dtype):
    return str(dtype).replace("torch.", "")


def check_values(ctx, fn, ref, name, **kwargs):
    """fn(x) against ref(x) in float64 and float32; type, dtype, device kept; input untouched."""
    for dtype, tol in ((torch.float64, F64), (torch.float32, F32)):
        x = grid(ctx, dtype)
        original = x.clone()
        out, _ = watched(fn, x, **kwargs)
        label = f"{name}(x) for {dtype_name(dtype)} x"
        expect_like(out, x, label)
        if not torch.equal(x, original):
            fail(f"{fn.__name__}() changed its input in place (an in-place op such as clamp_, x[x < 0] = 0 "
                 "or x *= ...): return a new tensor and leave x as it was. The input after the call against "
                 f"before: {describe_difference(x, original, atol=0, rtol=0)}")
        expect_close(out, ref(x), label, **tol)


def check_stable(ctx, fn, ref, name, why):
    """Finite, right, and no inf/nan inside at +-1000 and friends; a finite autograd gradient."""
    for dtype in (torch.float32, torch.float64):
        device = float64_device(ctx) if dtype == torch.float64 else ctx.device
        for v in EXTREMES:
            x = torch.tensor([v], dtype=dtype, device=device)
            label = f"{name}({v:g}) in {dtype_name(dtype)}"
            try:
                with warnings.catch_warnings(), np.errstate(all="raise"):
                    warnings.simplefilter("error")
                    out, watch = watched(fn, x)
            except (FloatingPointError, RuntimeWarning) as exc:
                fail(f"{label}: '{exc}'. {why}")
            expect_like(out, x, label)
            if watch.op:
                fail(f"{label}: inside your {fn.__name__}(), torch.{watch.op} turned a finite input into "
                     f"inf/nan. {why}")
            expect_finite(out, label)
            expect_close(out, ref(x), label, atol=1e-12, rtol=0)
    x = torch.tensor(EXTREMES, dtype=torch.float64, device=float64_device(ctx), requires_grad=True)
    try:
        fn(x).sum().backward()
    except RuntimeError as exc:
        fail(f"autograd cannot differentiate your {name}(): {exc}. Build it from torch operations only")
    expect(x.grad is not None and bool(torch.isfinite(x.grad).all()),
           f"the autograd gradient of your {name}() at {list(EXTREMES)} has nan/inf: {x.grad}. {why}")


def check_derivative(ctx, fn, right, mistakes, name, at_extremes=True):
    """fn(x) against the autograd derivative on the float64 grid, naming a known wrong formula."""
    x = grid(ctx, torch.float64)
    out, _ = watched(fn, x)
    expect_like(out, x, f"{name}(x)")
    expect_match(f"{name}(x)", out.detach(), right(x), {why: (lambda w=w: w(x)) for why, w in mistakes.items()},
                 against="autograd", **F64)
    if at_extremes:
        x = torch.tensor(EXTREMES, dtype=torch.float64, device=x.device)
        out, watch = watched(fn, x)
        if not bool(torch.isfinite(out).all()):
            inside = f" (torch.{watch.op} overflowed inside)" if watch.op else ""
            fail(f"{name}() at {list(EXTREMES)} gives {out.tolist()}{inside}: exp of a large number is inf and "
                 "inf / inf is nan. Compute the derivative from the value of your stable function instead")
        expect_close(out, right(x), f"{name}(x) at x = ±50...±1000", atol=1e-12, rtol=0)


# -- sigmoid -------------------------------------------------------------------------
@check("sigmoid(x) matches torch.sigmoid in float64 and float32, built by hand", task="sigmoid")
def sigmoid_values(ctx):
    check_values(ctx, ctx.load("activations").sigmoid, torch.sigmoid, "sigmoid")


@check("sigmoid is numerically stable: ±1000 gives 0 and 1, no overflow inside, finite gradient",
       task="sigmoid")
def sigmoid_stable(ctx):
    check_stable(ctx, ctx.load("activations").sigmoid, torch.sigmoid, "sigmoid", SIGMOID_WHY)


@check("sigmoid_grad(x) matches autograd's derivative of sigmoid in float64", task="sigmoid")
def sigmoid_derivative(ctx):
    act = ctx.load("activations")
    check_derivative(ctx, act.sigmoid_grad, lambda x: autograd_derivative(torch.sigmoid, x), {
        "it computes x * (1 - x): the formula s * (1 - s) needs s = sigmoid(x), not x itself": lambda x: x * (1 - x),
        "it returns sigmoid(x) itself; the derivative is sigmoid(x) * (1 - sigmoid(x))": torch.sigmoid,
        "it computes 1 - sigmoid(x)**2, which is the tanh pattern; sigmoid's is s * (1 - s)":
            lambda x: 1 - torch.sigmoid(x) ** 2,
    }, "sigmoid_grad")


# -- tanh ----------------------------------------------------------------------------
@check("tanh(x) matches torch.tanh, built by hand, and is stable at ±1000", task="tanh")
def tanh_values(ctx):
    act = ctx.load("activations")
    check_values(ctx, act.tanh, torch.tanh, "tanh")
    check_stable(ctx, act.tanh, torch.tanh, "tanh", TANH_WHY)


@check("tanh_grad(x) matches autograd's derivative of tanh in float64", task="tanh")
def tanh_derivative(ctx):
    act = ctx.load("activations")
    check_derivative(ctx, act.tanh_grad, lambda x: autograd_derivative(torch.tanh, x), {
        "it computes 1 - x**2: the formula 1 - t**2 needs t = tanh(x), not x itself": lambda x: 1 - x**2,
        "it computes 1 - tanh(x): the derivative squares it, 1 - tanh(x)**2": lambda x: 1 - torch.tanh(x),
        "it computes tanh(x) * (1 - tanh(x)), which is the sigmoid pattern; tanh's is 1 - tanh(x)**2":
            lambda x: torch.tanh(x) * (1 - torch.tanh(x)),
    }, "tanh_grad")


# -- ReLU ----------------------------------------------------------------------------
@check("relu(x) matches torch.relu; relu_grad(x) matches autograd, with relu'(0) = 0", task="relu")
def relu_values(ctx):
    act = ctx.load("activations")
    check_values(ctx, act.relu, torch.relu, "relu")
    x = torch.tensor(KINKS, dtype=torch.float64, device=float64_device(ctx))
    out, _ = watched(act.relu_grad, x)
    expect_like(out, x, "relu_grad(x)")
    if float(out[KINKS.index(0.0)]) == 1.0:
        fail("relu_grad(0) is 1; expected 0: the convention here (and in PyTorch's autograd) is the "
             "derivative from the left at x = 0: use x > 0, not x >= 0")
    check_derivative(ctx, act.relu_grad, lambda x: autograd_derivative(torch.relu, x), {
        "it returns relu(x) itself; the derivative is 1 for x > 0 and 0 elsewhere": torch.relu,
    }, "relu_grad", at_extremes=False)
    expect_close(out, autograd_derivative(torch.relu, x), f"relu_grad at {KINKS}", atol=0, rtol=0)


# -- LeakyReLU -----------------------------------------------------------------------
@check("leaky_relu(x, negative_slope) matches F.leaky_relu; its derivative matches autograd", task="leaky_relu")
def leaky_values(ctx):
    act = ctx.load("activations")
    k = torch.tensor(KINKS, dtype=torch.float64, device=float64_device(ctx))
    for slope in (0.2, 0.05):
        x = grid(ctx, torch.float64)
        out, _ = watched(act.leaky_relu, x, negative_slope=slope)
        label = f"leaky_relu(x, negative_slope={slope})"
        expect_like(out, x, label)
        expect_match(label, out, F.leaky_relu(x, slope), {
            "it equals leaky_relu with slope 0.01: the negative_slope argument is ignored":
                lambda: F.leaky_relu(x, 0.01),
            "it is 0 for negative x, which is ReLU: multiply negative x by negative_slope": lambda: torch.relu(x),
        }, against="F.leaky_relu", **F64)

        glabel = f"leaky_relu_grad(x, negative_slope={slope})"
        at = watched(act.leaky_relu_grad, k, negative_slope=slope)[0]
        expect_like(at, k, glabel)
        if float(at[KINKS.index(0.0)]) == 1.0:
            fail(f"{glabel} at x = 0 is 1; expected {slope}: the convention here (and in PyTorch's autograd) is the "
                 f"derivative from the left, negative_slope = {slope}: use x > 0, not x >= 0")
        grad_out, _ = watched(act.leaky_relu_grad, x, negative_slope=slope)
        expect_like(grad_out, x, glabel)
        expect_match(glabel, grad_out, autograd_derivative(lambda t: F.leaky_relu(t, slope), x), {
            "it uses the slope 0.01 for negative x: the negative_slope argument is ignored":
                lambda: autograd_derivative(lambda t: F.leaky_relu(t, 0.01), x),
        }, against="autograd", **F64)
        expect_close(at, autograd_derivative(lambda t: F.leaky_relu(t, slope), k), f"{glabel} at {KINKS}",
                     atol=1e-15, rtol=0)
    check_values(ctx, act.leaky_relu, F.leaky_relu, "leaky_relu")  # the default slope 0.01
    default = watched(act.leaky_relu_grad, k)[0]
    expect_close(default, autograd_derivative(F.leaky_relu, k), f"leaky_relu_grad(x) (default slope) at {KINKS}",
                 atol=1e-15, rtol=0)


# -- measurements --------------------------------------------------------------------
def fraction(fn, z, name, **kwargs):
    """The learner's fraction, as a Python float between 0 and 1."""
    value, _ = watched(fn, z, **kwargs)
    if isinstance(value, torch.Tensor):
        expect(value.numel() == 1, f"{name} returned a tensor of shape {tuple(value.shape)}; expected one number")
        value = value.item()
    expect(isinstance(value, (float, int)) and not isinstance(value, bool),
           f"{name} returned a {type(value).__name__}; expected a Python float")
    value = float(value)
    expect(0.0 <= value <= 1.0, f"{name} returned {value:g}, which is not a fraction (between 0 and 1)")
    return value


def mean(mask):
    return mask.double().mean().item()


@check("saturation_fraction() counts entries whose sigmoid/tanh derivative is below the threshold",
       task="saturation")
def saturation(ctx):
    act = ctx.load("activations")
    z = torch.tensor(SAT_BATCH, dtype=torch.float64, device=float64_device(ctx))
    derivative = {"sigmoid": torch.sigmoid(z) * (1 - torch.sigmoid(z)), "tanh": 1 - torch.tanh(z) ** 2}
    for kind, other in (("sigmoid", "tanh"), ("tanh", "sigmoid")):
        name = f'saturation_fraction(z, kind="{kind}")'
        got = fraction(act.saturation_fraction, z.clone(), name, kind=kind, threshold=THRESHOLD)
        sat = derivative[kind] < THRESHOLD
        per_entry = "saturation here is counted per entry (one unit on one example)"
        expect_match(f"{name} on the test batch ({int(sat.sum())} of its {z.numel()} entries saturated)",
                     got, mean(sat), {
            "it is the fraction of entries that are NOT saturated (derivative >= threshold)": mean(~sat),
            f"it is measured with the derivative of {other}, not {kind}": mean(derivative[other] < THRESHOLD),
            f"it is the fraction of units saturated on every example; {per_entry}": mean(sat.all(dim=0)),
            f"it is the fraction of units saturated on at least one example; {per_entry}": mean(sat.any(dim=0)),
            f"it counts only the positive side; {kind} saturates at both ends": mean(sat & (z > 0)),
            f"it counts only the negative side; {kind} saturates at both ends": mean(sat & (z < 0)),
            f"it was computed by comparing |z| with the threshold; compare the derivative of {kind} at z with it":
                mean(z.abs() > THRESHOLD),
        }, hint=f"count the entries with {kind}'(z) < {THRESHOLD}, divide by all {z.numel()}", **FRACTION)
    # A real layer: large weights push many tanh units into saturation.
    layer = torch.nn.Linear(16, 40).double().to(z.device)
    with torch.no_grad():
        layer.weight.copy_(4.0 * torch.randn(40, 16, generator=ctx.gen, dtype=torch.float64))
        x = torch.randn(128, 16, generator=ctx.gen, dtype=torch.float64).to(z.device)
        z = layer(x)
        got = fraction(act.saturation_fraction, z, "saturation_fraction(layer(x))", kind="tanh", threshold=THRESHOLD)
        slope = 1 - torch.tanh(z) ** 2
    expect_close(got, mean(slope < THRESHOLD),
                 'saturation_fraction(z, "tanh") of a Linear(16, 40) layer with large weights', **FRACTION)
    got = fraction(act.saturation_fraction, z, 'saturation_fraction(z, "tanh", threshold=0.05)',
                   kind="tanh", threshold=0.05)
    expect_match('saturation_fraction(z, "tanh", threshold=0.05)', got, mean(slope < 0.05), {
        "it gives the fraction for the threshold 0.01: use the threshold argument, not a fixed number":
            mean(slope < THRESHOLD),
    }, hint="use the threshold argument, not a fixed number", **FRACTION)


@check("dead_relu_fraction() counts units that output 0 for every example in the batch", task="dead")
def dead_units(ctx):
    act = ctx.load("activations")
    z = torch.tensor(DEAD_BATCH, dtype=torch.float32, device=ctx.device)
    n, units = z.shape
    got = fraction(act.dead_relu_fraction, z.clone(), "dead_relu_fraction(z)")
    off = z <= 0  # relu(z) == 0
    right = mean(off.all(dim=0))
    expect_match(f"dead_relu_fraction(z) on the test batch ({int(off.all(dim=0).sum())} of its {units} units dead)",
                 got, right, {
        f"it is the fraction of zero outputs over all {n * units} entries: that is 'dead' per example. A unit is "
        "dead only when it outputs 0 for EVERY example of the batch: (relu(z) == 0).all(dim=0), then the mean over "
        "the units": mean(off),
        "you required z < 0 everywhere; a unit whose pre-activation is exactly 0 outputs relu(0) = 0 too and is "
        "just as dead: test the output == 0": mean((z < 0).all(dim=0)),
        "you counted units that output 0 on at least ONE example (.any); a dead unit outputs 0 on all of them "
        "(.all over the batch, dim=0)": mean(off.any(dim=0)),
        "you reduced over the wrong axis: that is the fraction of EXAMPLES on which every unit is 0. Units are "
        "the columns; reduce over the batch, dim=0": mean(off.all(dim=1)),
        "it is the fraction of units that are alive, not dead": 1.0 - right,
    }, hint="units 0, 1 and 2 output 0 for every example (all negative; all exactly 0; negatives and zeros)",
        **FRACTION)
    # A real layer with 10 of its 40 units pushed dead by a large negative bias.
    layer = torch.nn.Linear(16, 40).to(ctx.device)
    with torch.no_grad():
        layer.bias[:10] = -50.0
        x = torch.randn(128, 16, generator=ctx.gen).to(ctx.device)
        z = layer(x)
        got = fraction(act.dead_relu_fraction, z, "dead_relu_fraction(layer(x))")
    expect_close(got, mean((z <= 0).all(dim=0)),
                 "dead_relu_fraction of a Linear(16, 40) layer with 10 units biased to -50", **FRACTION)

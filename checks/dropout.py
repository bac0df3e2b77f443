"""Check: inverted dropout (train vs eval, keep rate, scale, gradient, edge cases),
channel-wise Dropout2d, and an MLP whose train()/eval() switch the dropout."""

import math

import torch
from torch import nn

import torch.nn.functional as F

from tutor.checking import (
    check,
    expect,
    expect_close,
    expect_preserves,
    expect_rate,
    expect_shape,
    expect_type,
    expect_within_sigmas,
    fail,
    float64_device,
    forbid,
)

SIGMAS = 5  # statistical bounds: a correct dropout falls outside 5σ with probability < 1e-6
BUILD_IT = "the exercise is to build the mask yourself (torch.rand_like(x) >= p, or torch.bernoulli)"
TORCH_DROPOUT = (F.dropout, F.dropout1d, F.dropout2d, F.dropout3d, "feature_dropout", F.alpha_dropout,
                 nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d)


def own(module: nn.Module, name: str):
    """The learner's module, called under the ban on PyTorch's dropout."""
    return lambda x: forbid(*TORCH_DROPOUT, reason=BUILD_IT, caller=f"{name}.forward").call(module, x)


def keeps_dtype_and_device(ctx, module: nn.Module, shape, name: str) -> None:
    """module(x) keeps x's dtype (float16 and bfloat16 too) and device; a mask made on the CPU is named.

    On a CPU-only machine the device is probed with a 'meta' input: a mask made with torch.rand(x.shape)
    lands on the CPU and cannot be mixed with it, as it could not with a GPU tensor.
    """
    x = positive_input(shape, ctx)
    advice = ("make the mask with torch.rand_like(x) (or torch.rand(..., device=x.device)), and multiply by a "
              "boolean mask or one of x.dtype")
    try:
        expect_preserves(module, x, device=ctx.device, name=name)
    except RuntimeError as exc:
        if "device" not in str(exc):
            raise
        fail(f"{name} mixes devices for an input on {ctx.device}: {exc}. The mask was made on another device: {advice}")
    if ctx.device.type != "cpu":
        return
    probe = torch.empty(shape, device="meta")
    try:
        out = module(probe)
    except (RuntimeError, NotImplementedError) as exc:
        if isinstance(exc, NotImplementedError) and "meta" not in str(exc).lower():
            raise  # the starter's stub, or the learner's own
        if "cpu" in str(exc).lower() and "meta" in str(exc):
            fail(f"{name} made its mask on the CPU whatever the input's device (probed with an input on the 'meta' "
                 f"device; on a GPU it fails the same way: {exc}): {advice}")
        return  # an operation without a meta kernel is not the learner's fault
    if isinstance(out, torch.Tensor) and out.device != probe.device:
        fail(f"{name} for an input on device 'meta' returns a tensor on {out.device}: {advice}")


def positive_input(shape, ctx, dtype=torch.float32):
    """Values in [0.5, 1.5): never zero, so a zero in the output always means 'dropped'."""
    device = float64_device(ctx) if dtype == torch.float64 else ctx.device  # MPS has no float64
    return (torch.rand(shape, generator=ctx.gen, dtype=dtype) + 0.5).to(device)


def output_like(y, x, name):
    expect_type(y, torch.Tensor, name)
    expect_shape(y, tuple(x.shape), name)
    expect(y.dtype == x.dtype, f"{name} has dtype {y.dtype}; the input was {x.dtype} (keep the input's dtype)")
    expect(y.device.type == x.device.type, f"{name} is on {y.device}; the input was on {x.device}")


def scale_diagnosis(ratio, p, name):
    """The kept values divided by the input must all be 1/(1−p); name the usual wrong scales."""
    want = 1.0 / (1.0 - p)
    lo, hi = float(ratio.min()), float(ratio.max())
    if abs(lo - want) < 1e-4 * want and abs(hi - want) < 1e-4 * want:
        return
    if hi - lo < 1e-4 * max(1.0, abs(hi)):
        for value, label in (
            (1.0, "the kept values are not rescaled at all. Inverted dropout multiplies them by 1/(1−p) "
                  "so that the expected output equals the input"),
            (1.0 / p if p > 0 else math.inf, "the kept values are divided by p instead of (1−p); p is the drop "
                                             "probability, the keep probability is 1−p"),
            (1.0 - p, "the kept values are multiplied by (1−p): that is the old (non-inverted) test-time "
                      "scaling; inverted dropout divides by (1−p) during training"),
            (p, "the kept values are multiplied by p"),
        ):
            if abs(lo - value) < 1e-4 * max(1.0, value):
                fail(f"{name} with p={p}: kept value / input = {lo:.4g}, expected 1/(1−p) = {want:.4g}: {label}")
    fail(f"{name} with p={p}: kept value / input ranges over [{lo:.4g}, {hi:.4g}]; every kept element must be "
         f"multiplied by exactly 1/(1−p) = {want:.4g} (as nn.Dropout does)")


# --- Dropout -------------------------------------------------------------------


@check("Dropout in eval mode returns the input unchanged (like nn.Dropout)", task="dropout")
def eval_identity(ctx):
    mod = ctx.load("dropout")
    for p in (0.2, 0.5):
        m = mod.Dropout(p)
        expect(m.training, "a fresh Dropout should start in training mode (did you call self.eval() in __init__?)")
        m.eval()
        x = positive_input((400, 25), ctx)
        y = own(m, f"Dropout({p})")(x)
        output_like(y, x, f"Dropout({p}).eval()(x)")
        zeros = int((y == 0).sum())
        if zeros:
            fail(f"Dropout({p}) in eval mode zeroed {zeros} of {x.numel()} elements: it still drops. "
                 "Return x unchanged when self.training is False")
        ratio = (y / x).flatten()
        if torch.allclose(ratio, torch.full_like(ratio, 1 - p), rtol=1e-5):
            fail(f"Dropout({p}) in eval mode multiplies by 1−p = {1 - p}: that is non-inverted dropout. "
                 "With inverted dropout the 1/(1−p) scaling is done in training and eval is the identity")
        if torch.allclose(ratio, torch.full_like(ratio, 1 / (1 - p)), rtol=1e-5):
            fail(f"Dropout({p}) in eval mode divides by 1−p: output / input = {1 / (1 - p):.4g}, expected 1 (the "
                 "identity). The scaling belongs to training only; eval returns x")
        expect_close(y, nn.Dropout(p).eval()(x), f"Dropout({p}).eval()(x) vs nn.Dropout({p}).eval()(x)", atol=0, rtol=0)


@check("Dropout in training keeps each element with probability 1−p (5σ binomial bound)", task="dropout")
def keep_rate(ctx):
    mod = ctx.load("dropout")
    for p in (0.2, 0.5, 0.8):
        m = mod.Dropout(p)
        x = positive_input((2000, 50), ctx)
        y = own(m, f"Dropout({p})")(x)
        output_like(y, x, f"Dropout({p})(x)")
        n, kept = x.numel(), int((y != 0).sum())
        expect(kept < n, f"Dropout({p}) in training mode dropped nothing ({kept} of {n} kept, about {(1 - p) * n:.0f} "
                         "expected): is the mask applied, and do you test self.training (not self.eval)?")
        mask = y != 0
        for dim, what in ((0, "rows"), (1, "columns")):
            first = mask.narrow(dim, 0, 1)
            if bool((mask == first).all()):
                fail(f"Dropout({p}) dropped the same positions in all {x.shape[dim]} {what} ({int(first.sum())} of "
                     f"{first.numel()} kept in each): the mask is shared along dim {dim}. Draw one random number "
                     "per element, a mask of x's full shape (torch.rand_like(x))")
        if p != 0.5 and abs(kept - n * p) <= SIGMAS * math.sqrt(n * p * (1 - p)):
            fail(f"Dropout({p}) kept {kept / n:.3f} of the elements, about p = {p}: you keep with probability p. "
                 f"p is the probability to DROP (as in nn.Dropout); keep with probability 1−p = {1 - p:.1f}")
        expect_rate(f"Dropout({p}) in training: elements kept", kept, n, 1 - p, advice="Keep an element when rand ≥ p.")


@check("Dropout scales kept elements by 1/(1−p), so the mean is preserved", task="dropout")
def scale_and_mean(ctx):
    mod = ctx.load("dropout")
    for p in (0.2, 0.75, 0.5):
        x = positive_input((2000, 25), ctx, dtype=torch.float64)
        y = own(mod.Dropout(p), f"Dropout({p})")(x)
        output_like(y, x, f"Dropout({p})(x)")
        kept = y != 0
        expect(bool(kept.any()), f"Dropout({p}) dropped every element")
        scale_diagnosis(y[kept] / x[kept], p, f"Dropout({p})")
        # E[y] = x, Var[y_i] = x_i²·p/(1−p): the mean over n elements is within 5σ of the input's mean.
        n = x.numel()
        sd = math.sqrt(float((x**2).sum()) * p / (1 - p)) / n
        expect_within_sigmas(f"Dropout({p}): output mean − input mean ({float(y.mean()):.5f} − {float(x.mean()):.5f})",
                             float(y.mean() - x.mean()), 0.0, sd, advice="The mean is not preserved.")


@check("the gradient flows only through kept elements, scaled by 1/(1−p)", task="dropout")
def gradient(ctx):
    mod = ctx.load("dropout")
    p = 0.3
    x = positive_input((300, 20), ctx, dtype=torch.float64).requires_grad_(True)
    y = mod.Dropout(p)(x)
    output_like(y, x, f"Dropout({p})(x)")
    expect(y.requires_grad, "the output of Dropout does not require grad: it is cut from the graph "
                            "(.detach(), .data, torch.tensor(...) or numpy?), so nothing before it can learn")
    g = torch.randn(x.shape, generator=ctx.gen, dtype=torch.float64).to(x.device)
    y.backward(g)
    expect(x.grad is not None, "x.grad is None after backward(): the output is not connected to x")
    kept = (y != 0).detach()
    dropped_grad = float(x.grad[~kept].abs().max()) if (~kept).any() else 0.0
    expect(dropped_grad == 0.0, f"a dropped element received a gradient of {dropped_grad:.3g}: dropped units must "
                                "pass no gradient (multiply by the mask, do not add to it)")
    expect_close(x.grad, g * kept / (1 - p), f"d output / d x for Dropout({p}) (mask · 1/(1−p))", atol=1e-12, rtol=1e-9)


@check("p = 0 returns the input, p = 1 returns zeros without nan (values and gradient)", task="dropout")
def edge_cases(ctx):
    mod = ctx.load("dropout")
    x = positive_input((50, 8), ctx, dtype=torch.float64).requires_grad_(True)
    y0 = mod.Dropout(0.0)(x)
    output_like(y0, x, "Dropout(0.0)(x)")
    expect_close(y0, x, "Dropout(0.0)(x) in training (nothing dropped, scale 1)", atol=0, rtol=0)
    y1 = mod.Dropout(1.0)(x)
    output_like(y1, x, "Dropout(1.0)(x)")
    bad = int((~torch.isfinite(y1)).sum())
    expect(bad == 0, f"Dropout(1.0)(x) contains {bad} nan/inf: dividing by 1−p = 0. For p = 1 return zeros "
                     "(x * 0.0 keeps the graph) before any division")
    expect(bool((y1 == 0).all()), f"Dropout(1.0)(x) should be all zeros; {int((y1 != 0).sum())} elements are not")
    if y1.requires_grad:
        y1.sum().backward()
        expect(x.grad is None or bool(torch.isfinite(x.grad).all()),
               "the gradient through Dropout(1.0) contains nan/inf: 0/0 in the backward pass; return x * 0.0 for p = 1")


@check("a fresh mask on every call, independent across elements and matching any input shape", task="dropout")
def fresh_mask(ctx):
    mod = ctx.load("dropout")
    m = mod.Dropout(0.5)
    x = positive_input((200, 50), ctx)
    a, b = m(x) != 0, m(x) != 0
    differ = float((a != b).float().mean())
    # Two independent masks with p = 0.5 differ at half the positions: 0.5 ± 5σ = 0.5 ± 0.018 here.
    expect(differ > 0.4, f"two calls on the same input dropped the same elements ({differ:.1%} of positions differ, "
                         "about 50% expected): draw a new mask in every forward (not once in __init__, and do not "
                         "reseed inside forward)")
    distinct_rows = len({tuple(row.tolist()) for row in a.cpu()})
    expect(distinct_rows > 190, f"only {distinct_rows} distinct row masks among 200 rows: the mask must have the "
                                "full shape of x (torch.rand_like(x)), not be shared along a dimension")
    for shape in ((7,), (3, 5, 4), (2, 3, 4, 5)):
        z = positive_input(shape, ctx)
        output_like(m(z), z, f"Dropout(0.5) on an input of shape {shape}")


@check("Dropout keeps the input's dtype (float16 and bfloat16 too) and device", task="dropout")
def dtype_and_device(ctx):
    mod = ctx.load("dropout")
    keeps_dtype_and_device(ctx, mod.Dropout(0.5), (64, 32), "Dropout(0.5)(x)")


# --- Dropout2d -----------------------------------------------------------------

N, C, H, W = 64, 32, 6, 5


@check("Dropout2d drops whole channels, one draw per (sample, channel), kept ones scaled by 1/(1−p)", task="dropout2d")
def channels(ctx):
    mod = ctx.load("dropout")
    p = 0.3
    x = positive_input((N, C, H, W), ctx)
    y = own(mod.Dropout2d(p), f"Dropout2d({p})")(x)
    output_like(y, x, f"Dropout2d({p})(x)")
    zeros = (y == 0).flatten(2).sum(-1)  # (N, C): zeros per channel
    partial = (zeros > 0) & (zeros < H * W)
    if partial.any():
        n, c = (int(i) for i in partial.nonzero()[0])
        fail(f"Dropout2d({p}): channel x[{n}, {c}] has {int(zeros[n, c])} of {H * W} elements zeroed, the rest kept: "
             "you drop single elements. Draw one number per (sample, channel), a mask of shape (N, C, 1, 1), and "
             "let broadcasting spread it over H and W (nn.Dropout2d zeroes whole channels)")
    keep = zeros == 0  # (N, C)
    expect(not keep.all(), f"Dropout2d({p}) in training dropped no channel at all")
    if (keep == keep[0:1]).all():
        fail(f"Dropout2d({p}) dropped the same channels in every sample of the batch: the mask must be drawn per "
             "sample too, shape (N, C, 1, 1), not (1, C, 1, 1)")
    if (keep == keep[:, 0:1]).all():
        fail(f"Dropout2d({p}) drops whole samples (all channels together): draw one number per channel, "
             "shape (N, C, 1, 1), not (N, 1, 1, 1)")
    expect_rate(f"Dropout2d({p}): channels kept", int(keep.sum()), N * C, 1 - p, advice="Keep a channel when rand ≥ p.")
    kept = y != 0
    scale_diagnosis(y[kept] / x[kept], p, f"Dropout2d({p})")


@check("Dropout2d: eval is the identity, gradient through kept channels only, p = 0 and p = 1", task="dropout2d")
def channels_more(ctx):
    mod = ctx.load("dropout")
    x = positive_input((8, 6, 4, 4), ctx, dtype=torch.float64)
    m = mod.Dropout2d(0.5).eval()
    y = m(x)
    output_like(y, x, "Dropout2d(0.5).eval()(x)")
    zeros = int((y == 0).sum())
    if zeros:
        fail(f"Dropout2d(0.5) in eval mode zeroed {zeros} of {x.numel()} elements: it still drops. Return x "
             "unchanged when self.training is False")
    expect_close(y, x, "Dropout2d(0.5) in eval mode (must return x unchanged)", atol=0, rtol=0)
    p = 0.4
    xg = x.clone().requires_grad_(True)
    y = mod.Dropout2d(p)(xg)
    expect(y.requires_grad, "the output of Dropout2d does not require grad: it is cut from the graph")
    g = torch.randn(x.shape, generator=ctx.gen, dtype=torch.float64).to(x.device)
    y.backward(g)
    expect(xg.grad is not None, "x.grad is None after backward() through Dropout2d")
    expect_close(xg.grad, g * (y != 0) / (1 - p), f"d output / d x for Dropout2d({p})", atol=1e-12, rtol=1e-9)
    expect_close(mod.Dropout2d(0.0)(x), x, "Dropout2d(0.0)(x) in training", atol=0, rtol=0)
    y1 = mod.Dropout2d(1.0)(x)
    output_like(y1, x, "Dropout2d(1.0)(x)")
    expect(bool(torch.isfinite(y1).all()), "Dropout2d(1.0)(x) contains nan/inf: division by 1−p = 0; return zeros for p = 1")
    expect(bool((y1 == 0).all()),
           f"Dropout2d(1.0)(x) should be all zeros; {int((y1 != 0).sum())} of {y1.numel()} elements are not")
    keeps_dtype_and_device(ctx, mod.Dropout2d(0.5), (4, 6, 3, 3), "Dropout2d(0.5)(x)")


# --- an MLP with dropout --------------------------------------------------------


@check("DropoutMLP: eval() turns dropout off (deterministic), train() on, and the train mean equals eval", task="mlp")
def mlp_modes(ctx):
    mod = ctx.load("dropout")
    model = mod.DropoutMLP(10, 64, 3, p=0.5).to(ctx.device)
    for attr in ("fc1", "drop", "fc2"):
        expect(isinstance(getattr(model, attr, None), nn.Module), f"DropoutMLP has no submodule .{attr}")
    expect_type(model.fc1, nn.Linear, "model.fc1")
    expect_type(model.fc2, nn.Linear, "model.fc2")
    expect(getattr(model.drop, "p", None) == 0.5, f"model.drop.p is {getattr(model.drop, 'p', None)}; expected 0.5")
    x = torch.randn(4, 10, generator=ctx.gen).to(ctx.device)
    model.eval()
    with torch.no_grad():
        e1, e2 = model(x), model(x)
        expect_shape(e1, (4, 3), "model(x)", labels=("batch", "out_features"))
        if not torch.equal(e1, e2):
            fail("after model.eval() two forward passes on the same x differ: a dropout is still active. Is it a "
                 "registered submodule (self.drop = Dropout(p), not hidden in a plain list), and if you call "
                 "F.dropout, do you pass training=self.training?")
        plain = model.fc2(torch.relu(model.fc1(x)))
        if torch.allclose(e1, model.fc2(0.5 * torch.relu(model.fc1(x))), atol=1e-5, rtol=1e-5):
            fail("in eval mode the hidden layer is multiplied by 1−p = 0.5 before fc2: that is non-inverted "
                 "dropout; with inverted dropout eval mode passes the activations through unchanged")
        expect_close(e1, plain, "model(x) in eval mode vs fc2(relu(fc1(x)))", atol=1e-5, rtol=1e-5)
        model.train()
        t1, t2 = model(x), model(x)
        expect(not torch.equal(t1, t2), "after model.train() two forward passes give identical outputs: the "
                                        "dropout is not active in training mode")
        # The average over many training passes is the eval output (fc2 is linear after the dropout).
        K = 4000
        samples = model(x.repeat(K, 1)).reshape(K, 4, 3)
        mean, sd = samples.mean(0), samples.std(0) / math.sqrt(K)
        z = float(((mean - e1).abs() / sd.clamp_min(1e-6)).max())
        expect(z <= 6, f"the mean of {K} training passes differs from the eval output by up to {z:.1f} standard errors "
                       "(at most 6): training and eval disagree on average. Is the 1/(1−p) scaling in training, "
                       "and nothing scaled in eval?")

"""Check: forward, two losses and their gradients, backprop by hand, a GD step, training.

Every gradient is compared with centred differences in float64 (CS231n relative
error); the classic mistakes (no activation derivative, bias gradient not summed,
missing 1/N, wrong sign) are recognised by computing the wrong variant from the
analytic gradient and naming it (which_mistake / expect_match).
"""


import numpy as np
import torch
import torch.nn.functional as F

from tutor.checking import (
    check,
    data,
    describe_difference,
    expect,
    expect_close,
    expect_decreasing,
    expect_finite,
    expect_gradient,
    expect_initial_loss,
    expect_match,
    expect_metric,
    expect_shape,
    fail,
    is_close,
    numeric_gradient,
    which_mistake,
)

NAMES = ("W1", "b1", "W2", "b2")
# Gradient checks: centred differences in float64 with eps = 1e-5. Over 200 seeds x 2 losses x 4
# parameters the right gradient's worst relative error was 3.0e-8 on entries >= 1e-3 and its worst
# absolute error 6.5e-10 anywhere. So: relative error <= 1e-6 on entries >= 1e-3 (both sides below
# 1e-3 is noise on the relative scale), absolute error <= 1e-8 on the tiny ones.
GRAD_TOL = 1e-6
EPS = 1e-5
TINY = 1e-3
TINY_ATOL = 1e-8
# A value against a NumPy/torch reference in float64 (a right one agrees to ~1e-15), and a wrong
# variant recognised among gradients of size 1e-3..1 (the variants differ by factors, at least 25%).
EXACT = dict(atol=1e-10, rtol=1e-10)
MATCH = dict(atol=1e-9, rtol=1e-6)

# Training: 3-arm spirals (300 points, angle noise 0.2), 64 tanh units, lr 1.0, 1500 full-batch
# steps. Held-out accuracy of the reference over 20 seeds: min 0.980, median 0.990 (train: min
# 0.983). Threshold 0.95 leaves 3 points (9 of 300 points) of margin.
TEST_ACCURACY = 0.95
# Smoothed loss drop (first fifth vs last fifth of the curve), reference over 20 seeds:
# min 0.863, median 0.88. Threshold 0.5.
MIN_DROP = 0.5
TRAIN = dict(n_hidden=64, lr=1.0, steps=1500)


# -- references -----------------------------------------------------------------------
def make_params(rng, d, h, k):
    return {
        "W1": rng.standard_normal((d, h)),
        "b1": 0.5 * rng.standard_normal(h),
        "W2": rng.standard_normal((h, k)),
        "b2": 0.5 * rng.standard_normal(k),
    }


def ref_forward(X, p):
    h = np.tanh(X @ p["W1"] + p["b1"])
    return h @ p["W2"] + p["b2"]


def ref_mse(out, Y):
    return float(np.mean((out - Y) ** 2))


def ref_ce(scores, y):
    """Softmax cross-entropy in NumPy (log-sum-exp); equals F.cross_entropy, which check 3 compares with."""
    shifted = scores - scores.max(axis=1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return float(-log_p[np.arange(len(y)), y].mean())


def torch_ce(scores, y):
    return float(F.cross_entropy(torch.from_numpy(scores), torch.from_numpy(y)))


def ref_backward(X, p, dout, derivative="tanh", bias="sum"):
    """The right backward pass, or a named wrong variant of it."""
    z1 = X @ p["W1"] + p["b1"]
    h = np.tanh(z1)
    dh = dout @ p["W2"].T
    if derivative == "tanh":
        dz1 = dh * (1 - h**2)
    elif derivative == "none":
        dz1 = dh
    elif derivative == "1 - h":  # the square is missing
        dz1 = dh * (1 - h)
    elif derivative == "sigmoid":  # sigmoid's h (1 - h), applied to a tanh unit
        dz1 = dh * h * (1 - h)
    else:  # "of z": 1 - z**2, the derivative formula applied to the pre-activation
        dz1 = dh * (1 - z1**2)
    reduce = (lambda a: a.sum(axis=0)) if bias == "sum" else (lambda a: a.mean(axis=0))
    return {"W1": X.T @ dz1, "b1": reduce(dz1), "W2": h.T @ dout, "b2": reduce(dout)}


def scaled(right, factors):
    """{why: factor * right}: the mistakes that rescale the right value."""
    return {why: factor * right for factor, why in factors}


def numeric(f, x):
    return numeric_gradient(f, x, eps=EPS)


def grad_check(analytic, num, name, right=None, mistakes=None):
    """Relative error (CS231n) on the entries that are not tiny, absolute error on the tiny ones. On a
    mismatch, the mistake whose value (built from the analytic gradient `right`) matches is named first."""
    why = which_mistake(analytic, mistakes, right, **MATCH) if mistakes else None
    if why:
        fail(f"{name} is off: {why}. Against the numeric gradient: {describe_difference(analytic, num)}")
    expect_gradient(np.asarray(analytic, dtype=np.float64), num, name, tol=GRAD_TOL, atol=TINY, tiny_tol=TINY_ATOL)


def as_array(value, name):
    expect(value is not None, f"{name} is None")
    try:
        return np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        fail(f"{name} is a {type(value).__name__}; expected a NumPy array")


def unpack_pair(result, name, second):
    expect(isinstance(result, tuple) and len(result) == 2,
           f"{name} returned a {type(result).__name__}; expected a tuple ({second})")
    return result


# -- forward -------------------------------------------------------------------------
@check("forward() computes tanh(X @ W1 + b1) @ W2 + b2", task="forward")
def forward_values(ctx):
    bp = ctx.load("backprop")
    X = ctx.rng.standard_normal((6, 3))
    p = make_params(ctx.rng, 3, 5, 4)
    out, _cache = unpack_pair(bp.forward(X, {k: v.copy() for k, v in p.items()}), "forward(X, params)", "out, cache")
    out = as_array(out, "forward() output")
    expect_shape(out, (6, 4), "forward() output", labels=("N", "K"))
    Xt = {k: torch.from_numpy(v) for k, v in p.items()}
    want = (torch.tanh(torch.from_numpy(X) @ Xt["W1"] + Xt["b1"]) @ Xt["W2"] + Xt["b2"]).numpy()
    z1 = X @ p["W1"] + p["b1"]
    network = "it matches a network with"
    expect_match("forward() output", out, want, {
        f"{network} no activation on the hidden layer (X @ W1 + b1 goes straight into W2): apply np.tanh to it":
            z1 @ p["W2"] + p["b2"],
        f"{network} tanh on the output as well: only the hidden layer has an activation; the outputs are raw "
        "scores": np.tanh(want),
        f"{network} ReLU on the hidden layer; this network uses tanh": np.maximum(z1, 0) @ p["W2"] + p["b2"],
        f"{network} no bias b1 in the hidden layer": np.tanh(X @ p["W1"]) @ p["W2"] + p["b2"],
        f"{network} no bias b2 in the output layer": np.tanh(z1) @ p["W2"],
    }, **EXACT)


# -- losses --------------------------------------------------------------------------
@check("mse_loss() matches F.mse_loss and its gradient matches centred differences", task="mse")
def mse_values(ctx):
    bp = ctx.load("backprop")
    n, k = 8, 3
    out = ctx.rng.standard_normal((n, k))
    Y = ctx.rng.standard_normal((n, k))
    loss, dout = unpack_pair(bp.mse_loss(out.copy(), Y.copy()), "mse_loss(out, Y)", "loss, dout")
    expect(np.ndim(loss) == 0, f"the loss from mse_loss() has shape {np.shape(loss)}; expected a single number")
    loss = float(loss)
    want = float(F.mse_loss(torch.from_numpy(out), torch.from_numpy(Y)))
    expect_match("mse_loss() loss", loss, want, scaled(want, [
        (n * k, f"it is the sum of the squared errors, not their mean (divide by all N*K = {n * k} entries)"),
        (k, f"it is averaged over the batch only (N = {n}); F.mse_loss averages over all N*K = {n * k} entries"),
        (0.5, "it is half the mean squared error; drop the 1/2"),
    ]), against="F.mse_loss", **EXACT)

    dout = as_array(dout, "dL/dout from mse_loss()")
    expect_shape(dout, (n, k), "dL/dout from mse_loss()", labels=("N", "K"))
    right = 2 * (out - Y) / (n * k)
    grad_check(dout, numeric(lambda: ref_mse(out, Y), out), "dL/dout from mse_loss()", right, scaled(right, [
        (n, f"you forgot to divide by the batch size: ratio = batch size N = {n}. The loss is a mean, "
            "so its gradient carries 1/(N*K)"),
        (n * k, f"you forgot to divide by N*K = {n * k}: the loss is a mean over every entry"),
        (k, f"you divided by N = {n} only; F.mse_loss averages over all N*K entries, so divide by N*K"),
        (0.5, "the factor 2 from d/dx x**2 = 2x is missing"),
        (n / 2, f"both the 1/(N*K) has only K in it (ratio N = {n}) and the factor 2 is missing"),
        (-1.0, "the sign is flipped: d/dout (out - Y)**2 = 2 (out - Y), not 2 (Y - out)"),
    ]))


@check("softmax_cross_entropy() matches F.cross_entropy; its gradient matches centred differences",
       task="cross_entropy")
def ce_values(ctx):
    bp = ctx.load("backprop")
    n, k = 8, 4
    scores = 2.0 * ctx.rng.standard_normal((n, k))
    y = ctx.rng.integers(0, k, size=n).astype(np.int64)
    loss, dscores = unpack_pair(bp.softmax_cross_entropy(scores.copy(), y.copy()),
                                "softmax_cross_entropy(scores, y)", "loss, dscores")
    expect(np.ndim(loss) == 0, f"the loss has shape {np.shape(loss)}; expected a single number (mean over the batch)")
    loss = float(loss)
    want = torch_ce(scores, y)
    dim0 = float(F.nll_loss(F.log_softmax(torch.from_numpy(scores), dim=0), torch.from_numpy(y)))
    expect_match("softmax_cross_entropy() loss", loss, want, {
        f"it is N x the reference: you summed over the batch; take the mean (divide by N = {n})": n * want,
        "it is minus the reference: cross-entropy is -log p(correct class)": -want,
        "it matches softmax over the batch axis (axis=0); each row is one example, so normalise over the "
        "classes (axis=1)": dim0,
    }, against="F.cross_entropy", **EXACT)

    dscores = as_array(dscores, "dL/dscores")
    expect_shape(dscores, (n, k), "dL/dscores", labels=("N", "K"))
    num = numeric(lambda: ref_ce(scores, y), scores)
    probs = np.exp(scores - scores.max(1, keepdims=True))
    probs /= probs.sum(1, keepdims=True)
    right = (probs - np.eye(k)[y]) / n
    grad_check(dscores, num, "dL/dscores (softmax_cross_entropy)", right, {
        "it equals softmax(scores) / N: subtract 1 at each example's true class (dscores[n, y[n]] -= 1) before "
        "dividing by N": probs / n,
    } | scaled(right, [
        (n, f"you forgot to divide by the batch size: ratio = batch size N = {n}. The loss is a mean "
            "over the batch, so its gradient is (softmax - onehot) / N"),
        (-1.0, "the sign is flipped: dL/dscores = softmax(scores) - onehot(y), not onehot - softmax"),
        (-n, f"the sign is flipped and the 1/N (N = {n}) is missing"),
    ]))

    # Stability: softmax does not change when a row is shifted, but a naive exp overflows.
    for shift in (1000.0, -1000.0):
        big = scores + shift
        try:
            with np.errstate(over="raise", invalid="raise", divide="raise"):
                loss_big, d_big = bp.softmax_cross_entropy(big.copy(), y.copy())
        except FloatingPointError as exc:
            fail(f"softmax_cross_entropy() on scores around {shift:+g}: NumPy reports '{exc}'. "
                 "np.exp(1000) is inf (and np.exp(-1000) is 0, so 0/0): subtract each row's max "
                 "before np.exp; softmax does not change when a row is shifted")
        expect_finite(np.asarray(loss_big, dtype=np.float64),
                      f"the loss for scores around {shift:+g} (subtract each row's max before np.exp)")
        expect_close(float(loss_big), torch_ce(big, y), f"the loss for scores around {shift:+g}",
                     atol=1e-8, rtol=1e-8)
        expect_close(as_array(d_big, "dL/dscores"), num, f"dL/dscores for scores around {shift:+g}",
                     atol=1e-8, rtol=1e-6)


# -- backward ------------------------------------------------------------------------
def check_backward(ctx, loss_kind):
    bp = ctx.load("backprop")
    n, d, h, k = 8, 3, 5, 4
    X = ctx.rng.standard_normal((n, d))
    p = make_params(ctx.rng, d, h, k)
    if loss_kind == "mse":
        target = ctx.rng.standard_normal((n, k))
        loss_of = lambda: ref_mse(ref_forward(X, p), target)  # noqa: E731
        dout = 2 * (ref_forward(X, p) - target) / (n * k)
    else:
        target = ctx.rng.integers(0, k, size=n).astype(np.int64)
        loss_of = lambda: ref_ce(ref_forward(X, p), target)  # noqa: E731
        scores = ref_forward(X, p)
        dout = np.exp(scores - scores.max(1, keepdims=True))
        dout /= dout.sum(1, keepdims=True)
        dout[np.arange(n), target] -= 1
        dout /= n

    mine = {key: v.copy() for key, v in p.items()}
    out, cache = unpack_pair(bp.forward(X.copy(), mine), "forward(X, params)", "out, cache")
    if not is_close(as_array(out, "forward() output"), ref_forward(X, p), **MATCH):
        fail("backward() starts from the cache of your forward(), whose output is not right yet "
             "(see the forward check above): fix forward() first")
    grads = bp.backward(dout.copy(), cache, mine)
    expect(isinstance(grads, dict), f"backward() returned a {type(grads).__name__}; expected a dict of gradients")
    right = ref_backward(X, p, dout)
    wrong = {variant: ref_backward(X, p, dout, derivative=variant) for variant in ("none", "of z", "1 - h", "sigmoid")}
    averaged = ref_backward(X, p, dout, bias="mean")
    sizes = {"W1": (d, h), "b1": (h,), "W2": (h, k), "b2": (k,)}
    labels = {"W1": ("D", "H"), "b1": ("H",), "W2": ("H", "K"), "b2": ("K",)}
    where = f"with the {'MSE' if loss_kind == 'mse' else 'softmax cross-entropy'} loss"

    for name in ("W2", "b2", "W1", "b1"):  # the order backprop produces them
        g = grads.get(name)
        if g is None or (name.startswith("b") and np.ndim(g) > 0 and not np.any(g)):
            fail(f"the bias gradient d{name} is {'missing' if g is None else 'all zero'} ({where}); "
                 f"backward() must return a gradient for every parameter, the biases too "
                 f"(d{name} is the sum over the batch of the gradient arriving at that layer's output)")
        g = as_array(g, f"gradient d{name}")
        if name.startswith("b") and g.shape in ((n,) + sizes[name], (1,) + sizes[name]) and g.shape[0] == n:
            fail(f"d{name} has shape {g.shape}, one row per example: the bias is shared by all N = {n} "
                 f"examples, so its gradient is the sum over the batch (axis=0), shape {sizes[name]}")
        expect_shape(g, sizes[name], f"gradient d{name}", labels=labels[name])
        mistakes = {}
        if name in ("W1", "b1"):
            mistakes = {
                "it matches the gradient without the tanh derivative: on the way back through the hidden layer "
                "multiply by tanh'(z1) = 1 - h**2 (dz1 = dh * (1 - h**2))": wrong["none"][name],
                "it uses 1 - z1**2; the tanh derivative is 1 - tanh(z1)**2 = 1 - h**2": wrong["of z"][name],
                "it uses 1 - h as the tanh derivative; it is 1 - h**2 (tanh'(z) = 1 - tanh(z)**2), so dz1 = "
                "dh * (1 - h**2)": wrong["1 - h"][name],
                "it uses h * (1 - h), the derivative of the sigmoid; for tanh it is 1 - h**2": wrong["sigmoid"][name],
            }
        if name.startswith("b"):
            mistakes[f"it is the mean over the batch, 1/N = 1/{n} of the right value: dout already carries the "
                     "1/N of the loss, so the bias gradient is the plain sum over the batch (axis=0)"] = averaged[name]
        mistakes |= scaled(right[name], [
            (1 / n, f"ratio 1/N = 1/{n}: you divided by the batch size again; dout already includes the 1/N "
                    "of the mean loss, so backward() only applies the chain rule"),
            (n, f"ratio = batch size N = {n}: a factor N too many"),
            (-1.0, "the sign is flipped"),
        ])
        grad_check(g, numeric(loss_of, p[name]), f"gradient d{name} ({where})", right[name], mistakes)


@check("backward() gives every parameter's gradient for the MSE loss (vs centred differences)", task="backward")
def backward_mse(ctx):
    check_backward(ctx, "mse")


@check("backward() gives every parameter's gradient for softmax cross-entropy (vs centred differences)",
       task="backward")
def backward_ce(ctx):
    check_backward(ctx, "ce")


# -- gradient descent step -------------------------------------------------------------
@check("sgd_step() moves every parameter by -lr * gradient, in place", task="sgd")
def sgd(ctx):
    bp = ctx.load("backprop")
    p0 = make_params(ctx.rng, 3, 5, 4)
    g = {k: ctx.rng.standard_normal(v.shape) for k, v in p0.items()}
    lr = 0.1
    params = {k: v.copy() for k, v in p0.items()}
    bp.sgd_step(params, {k: v.copy() for k, v in g.items()}, lr)
    for name in NAMES:
        new = as_array(params.get(name), f'params["{name}"] after sgd_step()')
        expect_shape(new, p0[name].shape, f'params["{name}"] after sgd_step()')
        expect_match(f'params["{name}"] after sgd_step()', new, p0[name] - lr * g[name], {
            "it moved to W + lr * grad: the wrong sign. The gradient points uphill; gradient descent steps "
            "against it: W -= lr * grad": p0[name] + lr * g[name],
            "it did not change. Update it in place (params[name] -= lr * grads[name]); rebinding a loop "
            "variable (p = p - lr * g) does not change the dict": p0[name],
            f"it moved by the whole gradient: multiply it by the learning rate lr = {lr}": p0[name] - g[name],
        }, atol=1e-12, rtol=1e-12)


# -- training ------------------------------------------------------------------------
@check("train() learns the 3-arm spirals: decreasing loss, held-out accuracy", task="train")
def training(ctx):
    bp = ctx.load("backprop")
    X, y = data.spirals(ctx.rng, n=300, classes=3, noise=0.2)
    Xt, yt = data.spirals(ctx.rng, n=300, classes=3, noise=0.2)
    X, Xt = X.astype(np.float64), Xt.astype(np.float64)
    result = bp.train(X, y, seed=ctx.seed, **TRAIN)
    params, losses = unpack_pair(result, "train()", "params, losses")
    losses = [float(v) for v in losses]
    expect(len(losses) == TRAIN["steps"],
           f"train() returned {len(losses)} losses for {TRAIN['steps']} steps; record one per step")
    ctx.curve("train loss", losses)
    expect_initial_loss(losses[0], 3, name="the loss at step 0")
    v = np.asarray(losses)
    fifth = len(v) // 5
    if np.isfinite(v).all() and v[-fifth:].mean() > v[:fifth].mean():
        fail(f"the training loss went up: mean {v[:fifth].mean():.4g} over the first {fifth} steps, "
             f"{v[-fifth:].mean():.4g} over the last {fifth}. The steps climb the loss: look for "
             "W += lr * grad in sgd_step() or a flipped sign in a gradient")
    expect_decreasing(losses, "the training loss", min_drop=MIN_DROP)
    for name in NAMES:
        expect(name in params, f'train() returned params without "{name}"')
    train_acc = float((ref_forward(X, params).argmax(1) == y).mean())
    ctx.metric("train accuracy", train_acc)
    test_acc = float((ref_forward(Xt, params).argmax(1) == yt).mean())
    expect_metric(ctx, "held-out accuracy", test_acc, TEST_ACCURACY)

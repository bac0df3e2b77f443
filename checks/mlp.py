"""Check: layer init, a dense layer, a whole MLP forward (against torch), XOR by hand."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from tutor.checking import (
    check,
    expect,
    expect_dtype,
    expect_match,
    expect_shape,
    fail,
    is_close,
    which_mistake,
)

# Init statistics, measured on the reference init_layer(600, 150) over seeds 0..9:
#   std * sqrt(n_in): 0.9968 .. 1.0027 (worst deviation 0.0032) -> allowed deviation 0.03
#   |mean| / std:     at most 0.0052                             -> allowed 0.05
# init_mlp([300, 200, 100]) per layer, std * sqrt(n_in): 0.9955 .. 1.0060 -> allowed deviation 0.05
STD_TOL = 0.03
MEAN_TOL = 0.05
MLP_STD_TOL = 0.05
N_IN, N_OUT = 600, 150
EXACT = dict(atol=1e-9, rtol=1e-7)  # float64 against torch with the same weights: a right answer agrees to ~1e-15

# Recognisable wrong scales for init_layer(600, 150), as a ratio to 1/sqrt(n_in), matched within 5%.
SCALE_MISTAKES = {
    "std 1: the draws are not scaled; divide them by np.sqrt(n_in)": np.sqrt(N_IN),
    "std 1/n_in: divide by np.sqrt(n_in), not by n_in": 1 / np.sqrt(N_IN),
    "std 1/sqrt(n_out): the scale depends on the number of INPUTS, n_in": np.sqrt(N_IN / N_OUT),
    "std sqrt(2/n_in): that is He (Kaiming) init, made for ReLU networks; this exercise asks for 1/sqrt(n_in)":
        np.sqrt(2.0),
    "std sqrt(2/(n_in + n_out)): that is Glorot (Xavier) init; this exercise asks for 1/sqrt(n_in)":
        np.sqrt(2 * N_IN / (N_IN + N_OUT)),
    "std 1/sqrt(3*n_in): a uniform draw in [-1/sqrt(n_in), 1/sqrt(n_in)] (what nn.Linear does by default); "
    "this exercise asks for a normal draw with std 1/sqrt(n_in)": 1 / np.sqrt(3.0),
}
SCALE_MATCH = dict(atol=0, rtol=0.05)


def relu(z):
    return np.maximum(z, 0.0)


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def identity(z):
    return z


def random_layer(rng, n_in, n_out):
    """Weights with non-zero biases, so a forgotten bias shows."""
    return rng.normal(0, 0.7, size=(n_out, n_in)), rng.normal(0, 0.5, size=n_out)


def torch_linear(W, b) -> nn.Linear:
    layer = nn.Linear(W.shape[1], W.shape[0], dtype=torch.float64)
    with torch.no_grad():
        layer.weight.copy_(torch.from_numpy(W))
        layer.bias.copy_(torch.from_numpy(b))
    return layer


def torch_out(module, X) -> np.ndarray:
    with torch.no_grad():
        return module(torch.from_numpy(X)).numpy()


def as_array(value, name) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        fail(f"{name} is a torch tensor; today is NumPy only: return a NumPy array")
    expect(isinstance(value, np.ndarray), f"{name} is a {type(value).__name__}; expected a NumPy array")
    return value


# ---------------------------------------------------------------- init_layer

@check("init_layer() returns W of shape (n_out, n_in) and b of shape (n_out,)", task="init")
def init_shapes(ctx):
    model = ctx.load("mlp")
    result = model.init_layer(5, 3, np.random.default_rng(ctx.seed))
    expect(isinstance(result, tuple) and len(result) == 2,
           f"init_layer(5, 3, rng) returned {type(result).__name__}; expected a tuple (W, b)")
    W, b = (as_array(v, f"init_layer(5, 3, rng): {n}") for v, n in zip(result, "Wb"))
    if W.shape == (5, 3):
        fail("init_layer(n_in=5, n_out=3): W has shape (5, 3) = (n_in, n_out). Store it as (n_out, n_in) = (3, 5), "
             "one row per output unit, like PyTorch's nn.Linear.weight; the forward pass then uses X @ W.T")
    expect_shape(W, (3, 5), "init_layer(n_in=5, n_out=3): W", labels=("n_out", "n_in"))
    expect_shape(b, (3,), "init_layer(n_in=5, n_out=3): b", labels=("n_out",))
    expect_dtype(W, np.float64, "init_layer(5, 3): W")
    expect_dtype(b, np.float64, "init_layer(5, 3): b")


@check("init_layer() draws W with mean 0 and std 1/sqrt(n_in) from the rng it is given; b is 0", task="init")
def init_scale(ctx):
    model = ctx.load("mlp")
    W, b = model.init_layer(N_IN, N_OUT, np.random.default_rng(ctx.seed))
    W, b = np.asarray(W, dtype=np.float64), np.asarray(b, dtype=np.float64)
    expect_shape(W, (N_OUT, N_IN), f"init_layer({N_IN}, {N_OUT}): W", labels=("n_out", "n_in"))
    want = 1 / np.sqrt(N_IN)
    std, mean = float(W.std()), float(W.mean())
    ctx.metric("W std * sqrt(n_in) (should be 1)", std / want, 1.0)
    if std == 0:
        fail(f"init_layer({N_IN}, {N_OUT}): every entry of W is {mean:g}; draw them at random with rng.standard_normal")
    if abs(mean) > MEAN_TOL * std:
        fail(f"init_layer({N_IN}, {N_OUT}): the mean of W is {mean:.4g}, far from 0 (std {std:.4g}). rng.random and "
             "rng.uniform(0, 1) draw only positive numbers; use rng.standard_normal (mean 0)")
    ratio = std / want
    if abs(ratio - 1) > STD_TOL:
        told = (f"init_layer(n_in={N_IN}, n_out={N_OUT}): W has std {std:.4g}; expected 1/sqrt(n_in) = "
                f"{want:.4g} (ratio {ratio:.3f})")
        mistake = which_mistake(ratio, SCALE_MISTAKES, **SCALE_MATCH)
        fail(f"{told}. That is {mistake}." if mistake else f"{told}.")
    expect_shape(b, (N_OUT,), f"init_layer({N_IN}, {N_OUT}): b")
    if np.any(b != 0):
        fail(f"init_layer(): b should be all zeros; it has {int(np.count_nonzero(b))} non-zero entries "
             f"(e.g. {b[np.nonzero(b)[0][0]]:.4g}). Random weights are enough to break the symmetry.")
    W1, _ = model.init_layer(4, 3, np.random.default_rng(1234))
    W2, _ = model.init_layer(4, 3, np.random.default_rng(1234))
    if not np.array_equal(np.asarray(W1), np.asarray(W2)):
        fail("two calls init_layer(4, 3, np.random.default_rng(1234)) gave different W: draw from the `rng` "
             "argument (rng.standard_normal), not from np.random.randn, whose global state changes between calls")
    W3, _ = model.init_layer(4, 3, np.random.default_rng(4321))
    expect(not np.array_equal(np.asarray(W1), np.asarray(W3)),
           "init_layer(4, 3, rng) gives the same W for two different generators: draw from the `rng` argument "
           "instead of making a generator of your own with a fixed seed")


# ---------------------------------------------------------------- layer_forward

def layer_mistakes(X, W, b, act, act_name):
    """The classic wrong layers, as (why, function computing its output) pairs."""
    return [
        ("X @ W + b: the weights are stored (n_out, n_in), so the layer is X @ W.T + b", lambda: act(X @ W + b)),
        ("the bias b is missing", lambda: act(X @ W.T)),
        (f"the activation ({act_name}) is not applied", lambda: X @ W.T + b),
        ("the bias is added after the activation; it belongs inside: act(X @ W.T + b)", lambda: act(X @ W.T) + b),
        ("the activation is applied twice", lambda: act(act(X @ W.T + b))),
        (f"the `activation` argument is ignored (ReLU is always used; {act_name} was passed)",
         lambda: relu(X @ W.T + b)),
        ("W @ X.T: it works per column; for a batch of rows it is X @ W.T", lambda: act(W @ X.T + b[:, None]).T),
    ]


def expect_layer(model, X, W, b, act, act_name):
    where = f"layer_forward(X {X.shape}, W {W.shape}, b {b.shape}, {act_name})"
    out = as_array(model.layer_forward(X.copy(), W.copy(), b.copy(), act), where)
    batch, n_out = X.shape[0], W.shape[0]
    if out.shape == (n_out, batch) and n_out != batch:
        fail(f"{where} has shape {out.shape} = (n_out, batch); expected (batch, n_out) = {(batch, n_out)}: "
             "keep one row per example, X @ W.T + b")
    expect_shape(out, (batch, n_out), where, labels=("batch", "n_out"))
    torch_act = {"relu": nn.ReLU(), "sigmoid": nn.Sigmoid(), "identity": nn.Identity()}[act_name]
    expect_match(f"{where} (against torch nn.Linear + {act_name} with the same weights)", out,
                 torch_out(nn.Sequential(torch_linear(W, b), torch_act), X),
                 layer_mistakes(X, W, b, act, act_name), against="torch", **EXACT)


@check("layer_forward() equals torch's nn.Linear followed by the activation", task="layer")
def layer_matches_torch(ctx):
    model = ctx.load("mlp")
    # Square first: X @ W runs without an error there, so the check can name it.
    W, b = random_layer(ctx.rng, 4, 4)
    X = ctx.rng.normal(size=(6, 4))
    expect_layer(model, X, W, b, relu, "relu")
    W, b = random_layer(ctx.rng, 4, 3)
    expect_layer(model, X, W, b, relu, "relu")
    expect_layer(model, X, W, b, identity, "identity")
    W, b = random_layer(ctx.rng, 5, 2)
    expect_layer(model, ctx.rng.normal(size=(1, 5)), W, b, sigmoid, "sigmoid")


# ---------------------------------------------------------------- init_mlp and mlp_forward

@check("init_mlp() makes one (W, b) per layer, each W of shape (n_out, n_in)", task="mlp")
def mlp_shapes(ctx):
    model = ctx.load("mlp")
    sizes = [3, 8, 5, 2]
    params = model.init_mlp(sizes, np.random.default_rng(ctx.seed))
    expect(isinstance(params, (list, tuple)), f"init_mlp({sizes}) returned {type(params).__name__}; expected a list of (W, b)")
    expect(len(params) == len(sizes) - 1,
           f"init_mlp({sizes}) made {len(params)} layers; {len(sizes)} sizes mean {len(sizes) - 1} layers "
           "(3 -> 8, 8 -> 5, 5 -> 2): one per pair of neighbouring sizes")
    for k, (pair, n_in, n_out) in enumerate(zip(params, sizes[:-1], sizes[1:]), start=1):
        name = f"init_mlp({sizes}): layer {k} ({n_in} -> {n_out})"
        expect(isinstance(pair, tuple) and len(pair) == 2, f"{name} is a {type(pair).__name__}; expected a pair (W, b)")
        W, b = pair
        if np.shape(W) == (n_in, n_out):
            fail(f"{name}: W has shape {np.shape(W)} = (n_in, n_out); expected (n_out, n_in) = {(n_out, n_in)}")
        expect_shape(np.asarray(W), (n_out, n_in), f"{name}: W", labels=("n_out", "n_in"))
        expect_shape(np.asarray(b), (n_out,), f"{name}: b", labels=("n_out",))
    sizes = [300, 200, 100]
    params = model.init_mlp(sizes, np.random.default_rng(ctx.seed))
    for k, ((W, b), n_in) in enumerate(zip(params, sizes), start=1):
        ratio = float(np.std(W)) * np.sqrt(n_in)
        expect(abs(ratio - 1) <= MLP_STD_TOL,
               f"init_mlp({sizes}): layer {k} has W std {np.std(W):.4g}; expected 1/sqrt({n_in}) = "
               f"{1 / np.sqrt(n_in):.4g}. Build each layer with init_layer(sizes[k], sizes[k + 1], rng)")
    first, second = (np.ravel(params[k][0])[:4] * np.sqrt(sizes[k]) for k in (0, 1))
    if is_close(first, second, atol=1e-8, rtol=1e-5):
        fail(f"init_mlp({sizes}): layers 1 and 2 start with the same draws (times sqrt(n_in): "
             f"{np.round(first, 4).tolist()} and {np.round(second, 4).tolist()}): each layer made a new generator "
             "with the same seed. Pass the one rng init_mlp is given to every init_layer call, in order")
    again = model.init_mlp(sizes, np.random.default_rng(ctx.seed))
    expect(not np.array_equal(np.ravel(params[0][0])[:8], np.ravel(params[1][0])[:8]) and
           np.array_equal(params[1][0], again[1][0]),
           f"init_mlp({sizes}) must draw every layer from the one rng it is given, in order")


def layer_forward_first(model, X, params, act) -> None:
    """mlp_forward builds on layer_forward: fail first when that gives a wrong layer here."""
    W, b = params[0]
    for a, a_name in ((identity, "identity"), (act, "activation")):
        try:
            got = np.asarray(model.layer_forward(X.copy(), W.copy(), b.copy(), a))
        except Exception:
            return
        if not is_close(got, a(X @ W.T + b), **EXACT):
            fail(f"your layer_forward(X, W, b, {a_name}) does not give {a_name}(X @ W.T + b) (see the "
                 "layer_forward check); mlp_forward builds on it, so fix layer_forward first")


def run(X, layers, acts):
    """The forward pass through (W, b) `layers`, layer k followed by acts[k]."""
    h = X
    for (W, b), a in zip(layers, acts):
        h = a(h @ W.T + b)
    return h


def mlp_mistakes(X, params, act):
    """The classic wrong forward passes, as (why, function computing its output) pairs."""
    L = len(params)
    hidden = [act] * (L - 1)
    return [
        ("the biases are not added (each layer is act(h @ W.T + b))",
         lambda: run(X, [(W, 0 * b) for W, b in params], hidden + [identity])),
        ("the activation is applied to the output layer too; the last layer must stay linear "
         "(raw scores: the loss or a final sigmoid/softmax comes later)", lambda: run(X, params, [act] * L)),
        ("no activation is applied anywhere; without it the layers collapse into one linear map",
         lambda: run(X, params, [identity] * L)),
        ("the last layer is skipped", lambda: run(X, params[:-1], hidden)),
        ("the `activation` argument is ignored (ReLU is always used)",
         lambda: run(X, params, [relu] * (L - 1) + [identity])),
    ]


def expect_mlp(model, X, sizes, act, act_name, rng):
    params = [random_layer(rng, n_in, n_out) for n_in, n_out in zip(sizes[:-1], sizes[1:])]
    where = f"mlp_forward(X {X.shape}, params for sizes {sizes}, {act_name})"
    out = as_array(model.mlp_forward(X.copy(), [(W.copy(), b.copy()) for W, b in params], act), where)
    torch_act = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid}[act_name]
    layers: list[nn.Module] = []
    for k, (W, b) in enumerate(params):
        layers.append(torch_linear(W, b))
        if k < len(params) - 1:
            layers.append(torch_act())
    net = nn.Sequential(*layers)
    want = torch_out(net, X)
    if is_close(out, want, **EXACT):
        return
    layer_forward_first(model, X, params, act)
    mistakes = mlp_mistakes(X, params, act)
    if out.shape == want.shape or which_mistake(out, mistakes, want, **EXACT):
        expect_match(f"{where} (against torch {net_name(net)} with the same weights)", out, want, mistakes,
                     against="torch", **EXACT)
    expect_shape(out, (X.shape[0], sizes[-1]), where, labels=("batch", "n_out"))


def net_name(net: nn.Sequential) -> str:
    return "nn.Sequential(" + ", ".join(type(m).__name__ for m in net) + ")"


@check("mlp_forward() equals torch's nn.Sequential(Linear, ReLU, ..., Linear) with the same weights", task="mlp")
def mlp_matches_torch(ctx):
    model = ctx.load("mlp")
    expect_mlp(model, ctx.rng.normal(size=(7, 3)), [3, 8, 5, 2], relu, "relu", ctx.rng)
    expect_mlp(model, ctx.rng.normal(size=(4, 4)), [4, 6, 1], sigmoid, "sigmoid", ctx.rng)
    expect_mlp(model, ctx.rng.normal(size=(5, 6)), [6, 16, 16, 16, 16, 3], relu, "relu", ctx.rng)
    expect_mlp(model, ctx.rng.normal(size=(3, 2)), [2, 4], relu, "relu", ctx.rng)


# ---------------------------------------------------------------- XOR by hand

@check("xor_weights() gives a 2-2-1 step network that computes XOR on all four inputs", task="xor")
def xor_by_hand(ctx):
    model = ctx.load("mlp")
    result = model.xor_weights()
    expect(isinstance(result, tuple) and len(result) == 4,
           f"xor_weights() returned {type(result).__name__}; expected a tuple (W1, b1, W2, b2)")
    W1, b1, W2, b2 = (np.asarray(v, dtype=np.float64) for v in result)
    if W2.shape == (2, 1):
        fail("xor_weights(): W2 has shape (2, 1) = (n_in, n_out); the output layer has 1 unit with 2 inputs, "
             "so W2 is (n_out, n_in) = (1, 2): np.array([[w_h1, w_h2]])")
    expect_shape(W1, (2, 2), "xor_weights(): W1", labels=("hidden", "inputs"))
    expect_shape(b1, (2,), "xor_weights(): b1", labels=("hidden",))
    expect_shape(W2, (1, 2), "xor_weights(): W2", labels=("outputs", "hidden"))
    if b2.shape == ():
        fail("xor_weights(): b2 is a plain number; make it an array of shape (1,): np.array([value])")
    expect_shape(b2, (1,), "xor_weights(): b2", labels=("outputs",))
    X = torch.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]], dtype=torch.float64)
    one = torch.ones((), dtype=torch.float64)
    with torch.no_grad():
        z1 = torch_linear(W1, b1)(X)
        h = torch.heaviside(z1, one)
        z2 = torch_linear(W2, b2)(h)
        out = torch.heaviside(z2, one).reshape(-1)
    labels = [0, 1, 1, 0]
    names = ["(0,0)", "(0,1)", "(1,0)", "(1,1)"]
    got = [int(v) for v in out.tolist()]
    if got != labels:
        rows = "; ".join(f"{n}: hidden {h[i].int().tolist()} -> {got[i]}" for i, n in enumerate(names))
        fail(f"with step units, your network outputs {got} for (0,0), (0,1), (1,0), (1,1); XOR is {labels}. "
             f"Per input: {rows}. Idea: one hidden unit computes OR, the other AND; the output is OR and not AND.")
    for name, z in (("hidden", z1), ("output", z2)):
        close = torch.nonzero(z.abs() < 0.01)
        if len(close):
            i, j = (int(v) for v in close[0])
            fail(f"input {names[i]} lands on the boundary of {name} unit {j + 1} (z = {float(z[i, j]):.3g}); "
                 "it works only by the step(0) convention. Shift that unit's bias so every z is at least 0.01 "
                 "away from 0 (e.g. thresholds at 0.5 and 1.5 instead of 1 and 2)")

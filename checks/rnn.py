"""Check: an Elman RNN from scratch (rnn_cell, a multi-layer rnn_forward, a model, truncated BPTT).

rnn_cell and rnn_forward are compared with nn.RNNCell / nn.RNN in float64 with the same parameters
(PyTorch's layout: weight_ih_l{k} (H, I), weight_hh_l{k} (H, H), bias_ih_l{k}, bias_hh_l{k}), for 1
and 2 layers, batch_first both ways, with and without h0, outputs, h_n and gradients. NextValue's
parameters must carry nn.RNN's names and shapes, and its forward must equal nn.RNN + its head.
train_tbptt runs beside a reference truncated-BPTT loop from the same initial weights (losses and
final weights). Finally NextValue, trained with train_tbptt, must predict the next value of held-out
sine waves below an MSE threshold. Each classic mistake is recomputed and named.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from tutor.checking import check, data, expect, expect_match, expect_type, fail, float64_device, forbid
from tutor.checking.recurrent import expect_output_and_state, state_shape_mistakes

F64 = torch.float64
BANNED = (nn.RNN, nn.RNNCell, nn.LSTM, nn.GRU, "rnn_tanh", "rnn_tanh_cell", "rnn_relu", "rnn_relu_cell")
REASON = ("the exercise is to write the recurrence yourself from matrix products and tanh; nn.RNN and "
          "nn.RNNCell are the reference the check compares with")

NO_BHH = ("the hidden bias b_hh is missing: PyTorch's RNN has TWO biases, "
          "h' = tanh(x·W_ihᵀ + b_ih + h·W_hhᵀ + b_hh); add both")
NO_BIH = "the input bias b_ih is missing: h' = tanh(x·W_ihᵀ + b_ih + h·W_hhᵀ + b_hh); add both biases"
NOT_TRANSPOSED = ("it multiplies by W instead of Wᵀ (x @ W): PyTorch stores weight_ih as (hidden, input) and "
                  "weight_hh as (hidden, hidden), rows = output units, so the step is x @ W_ih.T + h @ W_hh.T")
HH_NOT_TRANSPOSED = ("it multiplies h by W_hh instead of W_hhᵀ (h @ W_hh): W_hh is square, so it runs, but "
                     "weight_hh[i, j] connects unit j to unit i: use h @ W_hh.T")
NO_TANH = "the tanh is missing: h' = tanh(x·W_ihᵀ + b_ih + h·W_hhᵀ + b_hh)"
RELU = "it uses ReLU; nn.RNN's default nonlinearity is tanh"
H0_REUSED = ("layer 0's h0 was used for every layer: h0 is (num_layers, B, H) and layer k starts from h0[k]")
LAYOUT = ("it has the (T, B) and (B, T) layouts swapped: with batch_first=True x is (B, T, I) and the output "
          "(B, T, H); without, both are time-first (T, B, ...). h_n is (num_layers, B, H) either way")


def step(x, h, W_ih, W_hh, b_ih, b_hh, variant=""):
    """One RNN step, right or with one named mistake."""
    if variant == "no_bhh":
        b_hh = torch.zeros_like(b_hh)
    if variant == "no_bih":
        b_ih = torch.zeros_like(b_ih)
    a = (x @ W_ih if variant == "no_T" else x @ W_ih.T) + b_ih
    a = a + (h @ W_hh if variant in ("no_T", "hh_no_T") else h @ W_hh.T) + b_hh
    if variant == "no_tanh":
        return a
    return torch.relu(a) if variant == "relu" else torch.tanh(a)


def reference(x, h0, params, layers, batch_first, variant=""):
    """rnn_forward computed here, right or with one mistake (variant)."""
    if variant == "layout":
        batch_first = not batch_first
        h0 = None
    if batch_first:
        x = x.transpose(0, 1)
    T, B, _ = x.shape
    H = params["weight_hh_l0"].shape[0]
    h0 = x.new_zeros(layers, B, H) if h0 is None else h0
    inp, finals = x, []
    for k in range(layers):
        h = h0[0] if variant == "h0_reused" else h0[k]
        outs = []
        for t in range(T):
            h = step(inp[t], h, params[f"weight_ih_l{k}"], params[f"weight_hh_l{k}"], params[f"bias_ih_l{k}"],
                     params[f"bias_hh_l{k}"], variant)
            outs.append(h)
        inp = torch.stack(outs)
        finals.append(h)
    out = inp.transpose(0, 1) if batch_first else inp
    return out, torch.stack(finals)


def step_mistakes(*args):
    table = [(NO_BHH, "no_bhh"), (NO_BIH, "no_bih"), (NOT_TRANSPOSED, "no_T"), (HH_NOT_TRANSPOSED, "hh_no_T"),
             (NO_TANH, "no_tanh"), (RELU, "relu")]
    return [(why, (lambda v=v: step(*args, variant=v))) for why, v in table]


def forward_mistakes(x, h0, params, layers, batch_first, want):
    table = [(NO_BHH, "no_bhh"), (NO_BIH, "no_bih"), (NOT_TRANSPOSED, "no_T"), (HH_NOT_TRANSPOSED, "hh_no_T"),
             (NO_TANH, "no_tanh"), (RELU, "relu"), (H0_REUSED, "h0_reused"), (LAYOUT, "layout")]
    out = [(why, (lambda v=v: reference(x, h0, params, layers, batch_first, v))) for why, v in table]
    out += state_shape_mistakes(want)
    return out


def rand(shape, gen, dev):
    return torch.randn(shape, generator=gen, dtype=F64).to(dev)


def rnn_params(rnn: nn.Module) -> dict:
    return {name: p for name, p in rnn.named_parameters()}


def run_forward(mod, x, h0, params, layers, batch_first, label):
    with forbid(*BANNED, reason=REASON, caller="rnn_forward()"):
        got = mod.rnn_forward(x, h0, params, num_layers=layers, batch_first=batch_first)
    return expect_output_and_state(got, label, "nn.RNN")


# --- task: cell ---------------------------------------------------------------------------------


@check("rnn_cell() equals nn.RNNCell in float64 (both biases, W_ih (H, I), W_hh (H, H))", task="cell")
def cell_values(ctx):
    mod = ctx.load("rnn")
    dev = float64_device(ctx)
    for B, I, H in ((3, 4, 4), (5, 3, 6)):  # I == H first: the one case where x @ W_ih (no .T) still runs
        torch.manual_seed(ctx.seed)
        ref = nn.RNNCell(I, H).to(device=dev, dtype=F64)
        x, h = rand((B, I), ctx.gen, dev), rand((B, H), ctx.gen, dev)
        W_ih, W_hh, b_ih, b_hh = (p.detach() for p in (ref.weight_ih, ref.weight_hh, ref.bias_ih, ref.bias_hh))
        label = f"rnn_cell(x ({B}, {I}), h ({B}, {H}))"
        with forbid(*BANNED, reason=REASON, caller="rnn_cell()"):
            got = mod.rnn_cell(x, h, W_ih, W_hh, b_ih, b_hh)
        expect_type(got, torch.Tensor, label)
        with torch.no_grad():
            want = ref(x, h)
        expect_match(label, got, want, step_mistakes(x, h, W_ih, W_hh, b_ih, b_hh), against="nn.RNNCell")


# --- task: forward ------------------------------------------------------------------------------

FORWARD_CASES = [  # layers, batch_first, h0 given, T, B, I, H
    (1, False, True, 6, 3, 4, 5),
    (1, True, False, 6, 3, 4, 5),     # h0 None: an ignored batch_first runs, and is recognised
    (1, True, True, 6, 3, 4, 5),
    (2, False, True, 5, 4, 3, 6),
    (2, True, True, 5, 4, 3, 6),
    (2, True, False, 7, 2, 3, 4),
]


@check("rnn_forward() equals nn.RNN (1 and 2 layers, batch_first both ways, h0 given or None): output and h_n",
       task="forward")
def forward_values(ctx):
    mod = ctx.load("rnn")
    dev = float64_device(ctx)
    for layers, batch_first, with_h0, T, B, I, H in FORWARD_CASES:
        torch.manual_seed(ctx.seed)
        ref = nn.RNN(I, H, num_layers=layers, batch_first=batch_first).to(device=dev, dtype=F64)
        x = rand((B, T, I) if batch_first else (T, B, I), ctx.gen, dev)
        h0 = rand((layers, B, H), ctx.gen, dev) if with_h0 else None
        params = {k: p.detach() for k, p in rnn_params(ref).items()}
        label = (f"rnn_forward(x {tuple(x.shape)}, h0 {'None' if h0 is None else tuple(h0.shape)}, "
                 f"num_layers={layers}, batch_first={batch_first})")
        got = run_forward(mod, x, h0, params, layers, batch_first, label)
        with torch.no_grad():
            want = ref(x, h0)
        expect_match(label, got, want, forward_mistakes(x, h0, params, layers, batch_first, want),
                     against="nn.RNN")


@check("gradients of rnn_forward() w.r.t. x, h0 and every parameter equal nn.RNN's (2 layers)", task="forward")
def forward_gradients(ctx):
    mod = ctx.load("rnn")
    dev = float64_device(ctx)
    torch.manual_seed(ctx.seed)
    ref = nn.RNN(3, 5, num_layers=2, batch_first=True).to(device=dev, dtype=F64)
    x = rand((4, 6, 3), ctx.gen, dev).requires_grad_(True)
    h0 = rand((2, 4, 5), ctx.gen, dev).requires_grad_(True)
    params = {k: p.detach().clone().requires_grad_(True) for k, p in rnn_params(ref).items()}
    label = "rnn_forward(x (4, 6, 3), h0 (2, 4, 5), num_layers=2, batch_first=True)"
    out, h_n = run_forward(mod, x, h0, params, 2, True, label)
    expect(out.requires_grad and h_n.requires_grad, f"{label}'s output does not require grad although x, h0 and "
           "the weights do: something left the autograd graph (.detach(), .item(), .data, NumPy, torch.no_grad())")
    g_out, g_h = rand(tuple(out.shape), ctx.gen, dev), rand(tuple(h_n.shape), ctx.gen, dev)
    leaves = [x, h0] + list(params.values())
    mine = torch.autograd.grad((out * g_out).sum() + (h_n * g_h).sum(), leaves, allow_unused=True)
    ref_out, ref_h = ref(x, h0)
    want = torch.autograd.grad((ref_out * g_out).sum() + (ref_h * g_h).sum(), [x, h0] + list(ref.parameters()))
    for name, got_g, want_g in zip(["x", "h0"] + list(params), mine, want):
        expect(got_g is not None, f"no gradient reaches {name} through {label}: it is not used, or it left the "
               "autograd graph")
        expect_match(f"the gradient of {label} w.r.t. {name}", got_g, want_g, against="nn.RNN's gradient")


# --- task: model --------------------------------------------------------------------------------


def copy_into_rnn(model, layers, hidden):
    ref = nn.RNN(1, hidden, num_layers=layers, batch_first=True)
    mine = dict(model.named_parameters())
    with torch.no_grad():
        for name, p in ref.named_parameters():
            p.copy_(mine[name])
    return ref


@check("NextValue has nn.RNN's parameter names and shapes, and its forward equals nn.RNN + its head", task="model")
def model_matches(ctx):
    mod = ctx.load("rnn")
    dev = float64_device(ctx)
    for hidden, layers in ((8, 1), (6, 2)):
        model = mod.NextValue(hidden, layers)
        expect_type(model, nn.Module, f"NextValue({hidden}, {layers})")
        label = f"NextValue(hidden_size={hidden}, num_layers={layers})"
        inside = [type(s).__name__ for s in model.modules() if isinstance(s, (nn.RNN, nn.RNNCell, nn.LSTM, nn.GRU))]
        expect(not inside, f"{label} contains an {inside[0] if inside else ''} module: {REASON}")
        shapes = {k: tuple(p.shape) for k, p in model.named_parameters() if not k.startswith("head.")}
        want = {k: tuple(p.shape) for k, p in nn.RNN(1, hidden, num_layers=layers).named_parameters()}
        expect(shapes == want, f"{label}'s recurrent parameters are {shapes}; nn.RNN(1, {hidden}, "
               f"num_layers={layers}) has {want} (weight_ih_l0 is (H, 1), weight_ih_l1 (H, H))")
        expect(isinstance(getattr(model, "head", None), nn.Linear), f"{label} has no nn.Linear named head")
        model = model.to(device=dev, dtype=F64)
        ref = copy_into_rnn(model, layers, hidden).to(device=dev, dtype=F64)
        x = rand((3, 7, 1), ctx.gen, dev)
        h = rand((layers, 3, hidden), ctx.gen, dev)
        with torch.no_grad(), forbid(*BANNED, reason=REASON, caller="NextValue.forward"):
            got = model(x, h)
        expect(isinstance(got, (tuple, list)) and len(got) == 2,
               f"{label}(x, h) returned {type(got).__name__}; return (predictions, h_n)")
        with torch.no_grad():
            out, h_n = ref(x, h)
            want_pred = model.head(out)
        expect_match(f"{label}(x (3, 7, 1), h)", tuple(got), (want_pred, h_n), [
            ("it ignores the h passed in and starts from zeros: truncated BPTT carries h from chunk to chunk, "
             "so forward(x, h) must start from h", lambda: (model.head(ref(x)[0]), ref(x)[1])),
        ], against="nn.RNN + head")


# --- task: tbptt --------------------------------------------------------------------------------


class RefModel(nn.Module):
    """nn.RNN + Linear with NextValue's interface: model(x, h) -> (predictions, h_n)."""

    def __init__(self, hidden=6):
        super().__init__()
        self.rnn = nn.RNN(1, hidden, batch_first=True)
        self.head = nn.Linear(hidden, 1)

    def forward(self, x, h=None):
        out, h_n = self.rnn(x, h)
        return self.head(out), h_n


def reference_tbptt(model, opt, inputs, targets, chunk, variant=""):
    """The right loop, or one with a named mistake; returns (losses, final parameters)."""
    h, losses = None, []
    for start in range(0, inputs.shape[1], chunk):
        x, y = inputs[:, start:start + chunk], targets[:, start:start + chunk]
        pred, h = model(x, None if variant == "reset" else h)
        loss = F.mse_loss(pred, y)
        if variant != "no_zero_grad":
            opt.zero_grad()
        loss.backward(retain_graph=variant == "no_detach")
        opt.step()
        if variant != "no_detach":
            h = h.detach()
        losses.append(loss.item())
    return losses, [p.detach().clone() for p in model.parameters()]


NO_DETACH = ("the hidden state is not detached between chunks: the graph of the previous chunks stays attached, "
             "so backward runs through them again (PyTorch refuses, or with retain_graph=True the gradient "
             "reaches across the chunk boundary and back through weights that have changed). Carry the value "
             "and cut the graph: h = h.detach() after each step")


@check("train_tbptt() does one step per chunk, carries h detached, and matches a reference loop", task="tbptt")
def tbptt_alongside(ctx):
    mod = ctx.load("rnn")
    torch.manual_seed(ctx.seed)
    base = RefModel().double()
    rng = np.random.default_rng(ctx.seed)
    series = torch.tensor(np.stack([data.sine_series(rng, 51, period=15.0) for _ in range(4)])).unsqueeze(-1)
    inputs, targets = series[:, :-1], series[:, 1:]
    chunk = 20  # T = 50: chunks of 20, 20 and 10 steps

    def fresh():
        m = RefModel().double()
        m.load_state_dict(base.state_dict())
        return m, torch.optim.SGD(m.parameters(), lr=0.1)

    model, opt = fresh()
    label = "train_tbptt(model, SGD(lr=0.1), 4 sine waves of T = 50, chunk=20)"
    try:
        got = mod.train_tbptt(model, opt, inputs.clone(), targets.clone(), chunk)
    except RuntimeError as exc:
        text = str(exc)
        if "backward through the graph a second time" in text or "modified by an inplace operation" in text:
            fail(f"{label} raised: {text.splitlines()[0][:160]}... {NO_DETACH}")
        raise
    expect(isinstance(got, (list, tuple)), f"{label} returned {type(got).__name__}; return the list of chunk losses")
    got = [float(v) for v in got]
    want_losses, want_params = reference_tbptt(*fresh(), inputs, targets, chunk)
    expect(len(got) == len(want_losses),
           f"{label} returned {len(got)} losses; T = 50 in chunks of 20 gives {len(want_losses)} chunks (20, 20 "
           "and 10 steps), one optimizer step each" + ("; one loss for the whole sequence is full BPTT, not "
                                                       "truncated" if len(got) == 1 else ""))

    def variant(v):
        return lambda: reference_tbptt(*fresh(), inputs, targets, chunk, v)

    mistakes = [
        (NO_DETACH, variant("no_detach")),
        ("h is reset to zeros at every chunk instead of carried over: truncated BPTT cuts the gradient, not "
         "the state; pass the previous chunk's (detached) h_n to the next chunk", variant("reset")),
        ("the gradients are never zeroed, so each step adds up all the earlier chunks' gradients: call "
         "optimizer.zero_grad() before backward", variant("no_zero_grad")),
    ]
    mine = (got, [p.detach() for p in model.parameters()])
    expect_match(f"{label}: (losses, final weights)", mine, (want_losses, want_params), mistakes,
                 atol=1e-7, rtol=1e-6, against="a reference truncated-BPTT loop")


# --- task: task ---------------------------------------------------------------------------------

# Held-out MSE over steps 10..79 of 16 sine waves (random periods 12-24 and phases), NextValue(16),
# Adam lr 0.01, 30 epochs of 4 chunks of 20 (120 steps, about 1.1 s on one CPU thread): the solution
# measures 0.0019-0.0074 over seeds 0-7 (0.0037, 0.0074, 0.0042, 0.0028, 0.0036, 0.0038, 0.0019, 0.0060);
# predicting the current value scores 0.065-0.081. The threshold leaves a margin of 4x.
MAX_MSE = 0.03
WARMUP = 10


def sine_batch(seed, B=16, T=80):
    rng = np.random.default_rng(seed)
    s = np.stack([data.sine_series(rng, T + 1, period=rng.uniform(12, 24), noise=0.0) for _ in range(B)])
    s = torch.tensor(s, dtype=torch.float32).unsqueeze(-1)
    return s[:, :-1], s[:, 1:]


@check(f"NextValue trained with train_tbptt predicts held-out sine waves' next value with MSE < {MAX_MSE}",
       task="task")
def next_value_task(ctx):
    mod = ctx.load("rnn")
    torch.manual_seed(ctx.seed)
    X, Y = sine_batch(ctx.seed)
    Xv, Yv = sine_batch(ctx.seed + 1000)
    X, Y, Xv, Yv = (t.to(ctx.device) for t in (X, Y, Xv, Yv))
    model = mod.NextValue(16).to(ctx.device)
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    losses = []
    for _ in range(30):
        losses += list(mod.train_tbptt(model, opt, X, Y, 20))
    ctx.curve("train MSE", losses)
    with torch.no_grad():
        pred, _ = model(Xv)
    mse = F.mse_loss(pred[:, WARMUP:], Yv[:, WARMUP:]).item()
    copy = F.mse_loss(Xv[:, WARMUP:], Yv[:, WARMUP:]).item()
    ctx.metric("held-out MSE", mse, MAX_MSE, higher_is_better=False)
    expect(math.isfinite(mse), f"the held-out MSE is {mse}: training diverged")
    expect(mse < MAX_MSE, f"the held-out MSE is {mse:.4f}, above {MAX_MSE} (predicting the current value "
           f"gives {copy:.4f}; the reference solution reaches 0.002-0.008). Check the forward pass and "
           "train_tbptt against the earlier checks")

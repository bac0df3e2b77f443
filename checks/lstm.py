"""Check: an LSTM from scratch (lstm_cell, lstm_forward), the forget-gate bias, and a recall model.

lstm_cell and lstm_forward are compared with nn.LSTMCell / nn.LSTM in float64 with the same
parameters (PyTorch's layout: weight_ih_l0 (4H, I) and weight_hh_l0 (4H, H) stacked as the gates
i, f, g, o; bias_ih_l0 and bias_hh_l0), batch_first both ways, with and without a state: outputs,
(h_n, c_n) and gradients. init_forget_bias must set the forget gate's effective bias (bias_ih +
bias_hh, rows H:2H) of every layer and touch nothing else. Recall must equal nn.LSTM + its head, and,
trained here, recall the first of 20 tokens. Every other gate order and each classic mistake is
recomputed and named.
"""

from __future__ import annotations

import itertools
import math

import torch
import torch.nn.functional as F
from torch import nn

from tutor.checking import check, expect, expect_match, expect_type, fail, float64_device, forbid
from tutor.checking.formatting import number

F64 = torch.float64
BANNED = (nn.LSTM, nn.LSTMCell, nn.RNN, nn.GRU, "lstm", "lstm_cell")
REASON = ("the exercise is to write the gates yourself from matrix products, sigmoid and tanh; nn.LSTM and "
          "nn.LSTMCell are the reference the check compares with")
GATES = ("i", "f", "g", "o")
ROLE = {"i": "input gate", "f": "forget gate", "g": "cell candidate", "o": "output gate"}

SIGMOID_G = ("it squashes the candidate g with a sigmoid; g is the new content, in (−1, 1): g = tanh(…), "
             "while i, f and o are sigmoids")
NO_TANH_G = "the candidate g has no tanh: g = tanh(x·W_igᵀ + b_ig + h·W_hgᵀ + b_hg)"
O_TIMES_C = "it applies o to c' instead of tanh(c'): h' = o ⊙ tanh(c'), not o ⊙ c'"
OLD_C = "h' uses the old cell state: h' = o ⊙ tanh(c'), with the NEW c' = f ⊙ c + i ⊙ g"
SWAPPED = "(h, c) are swapped: return (h', c'), the hidden state first, like nn.LSTMCell"
NO_BHH = ("the hidden bias b_hh is missing: PyTorch's LSTM has TWO biases, gates = x·W_ihᵀ + b_ih + h·W_hhᵀ + "
          "b_hh; add both")


def order_message(order) -> str:
    return (f"the gate order is wrong: it reads the four blocks of rows as ({', '.join(order)}); PyTorch stacks "
            "them as (i, f, g, o): rows 0:H the input gate, H:2H the forget gate, 2H:3H the cell candidate g, "
            "3H:4H the output gate")


ORDERS = [p for p in itertools.permutations(GATES) if p != GATES]


def step(x, h, c, W_ih, W_hh, b_ih, b_hh, variant=""):
    """One LSTM step, right or with one named mistake; variant may be a gate order (a tuple)."""
    if variant == "no_bhh":
        b_hh = torch.zeros_like(b_hh)
    gates = x @ W_ih.T + b_ih + h @ W_hh.T + b_hh
    blocks = dict(zip(variant if isinstance(variant, tuple) else GATES, gates.chunk(4, dim=1)))
    i, f, o = torch.sigmoid(blocks["i"]), torch.sigmoid(blocks["f"]), torch.sigmoid(blocks["o"])
    g = {"sigmoid_g": torch.sigmoid, "no_tanh_g": lambda v: v}.get(variant, torch.tanh)(blocks["g"])
    c_new = f * c + i * g
    h_new = {"o_c": lambda: o * c_new, "old_c": lambda: o * torch.tanh(c)}.get(variant, lambda: o * torch.tanh(c_new))()
    return (c_new, h_new) if variant == "swapped" else (h_new, c_new)


CELL_TABLE = ([(order_message(p), p) for p in ORDERS]
              + [(SIGMOID_G, "sigmoid_g"), (NO_TANH_G, "no_tanh_g"), (O_TIMES_C, "o_c"), (OLD_C, "old_c"),
                 (SWAPPED, "swapped"), (NO_BHH, "no_bhh")])


def reference(x, state, params, batch_first, variant=""):
    """lstm_forward computed here, right or with one mistake."""
    if variant == "layout":
        batch_first, state = not batch_first, None
    if batch_first:
        x = x.transpose(0, 1)
    T, B, _ = x.shape
    H = params["weight_hh_l0"].shape[1]
    if state is None:
        h = c = x.new_zeros(B, H)
    else:
        h, c = (state[1][0], state[0][0]) if variant == "state_swapped" else (state[0][0], state[1][0])
    outs = []
    cell_variant = "" if variant in ("layout", "state_swapped", "returned_swapped") else variant
    for t in range(T):
        h, c = step(x[t], h, c, params["weight_ih_l0"], params["weight_hh_l0"], params["bias_ih_l0"],
                    params["bias_hh_l0"], cell_variant)
        outs.append(h)  # a cell that returns (c', h') makes this c', and the next step reads them swapped
    out = torch.stack(outs)
    out = out.transpose(0, 1) if batch_first else out
    h_n, c_n = h.unsqueeze(0), c.unsqueeze(0)
    return out, ((c_n, h_n) if variant == "returned_swapped" else (h_n, c_n))


def forward_mistakes(x, state, params, batch_first, want):
    table = CELL_TABLE + [
        ("the state is read as (c0, h0); nn.LSTM takes (h0, c0), the hidden state first", "state_swapped"),
        ("it returns (c_n, h_n); nn.LSTM returns (output, (h_n, c_n)), the hidden state first", "returned_swapped"),
        ("it has the (T, B) and (B, T) layouts swapped: with batch_first=True x is (B, T, I) and the output "
         "(B, T, H); without, both are time-first. h_n and c_n are (1, B, H) either way", "layout"),
    ]
    out = [(why, (lambda v=v: reference(x, state, params, batch_first, v))) for why, v in table]
    out.append((f"h_n and c_n have the wrong shape: nn.LSTM returns them as (num_layers, B, H) = "
                f"{tuple(want[1][0].shape)}, even for one layer (h.unsqueeze(0))",
                (want[0], (want[1][0][0], want[1][1][0]))))
    return out


def rand(shape, gen, dev):
    return torch.randn(shape, generator=gen, dtype=F64).to(dev)


def pair(got, label, what):
    expect(isinstance(got, (tuple, list)) and len(got) == 2, f"{label} returned {type(got).__name__}; return "
           f"the pair {what}")
    return tuple(got)


def run_forward(mod, x, state, params, batch_first, label):
    with forbid(*BANNED, reason=REASON, caller="lstm_forward()"):
        got = mod.lstm_forward(x, state, params, batch_first=batch_first)
    out, hc = pair(got, label, "(output, (h_n, c_n)) like nn.LSTM")
    expect_type(out, torch.Tensor, f"{label}'s output")
    h_n, c_n = pair(hc, f"{label}[1]", "(h_n, c_n)")
    expect_type(h_n, torch.Tensor, f"{label}'s h_n")
    expect_type(c_n, torch.Tensor, f"{label}'s c_n")
    return out, (h_n, c_n)


def lstm_params(ref):
    return {k: p.detach() for k, p in ref.named_parameters()}


# --- task: cell ---------------------------------------------------------------------------------


@check("lstm_cell() equals nn.LSTMCell in float64 (gates i, f, g, o; both biases)", task="cell")
def cell_values(ctx):
    mod = ctx.load("lstm")
    dev = float64_device(ctx)
    for B, I, H in ((3, 4, 5), (2, 6, 3)):
        torch.manual_seed(ctx.seed)
        ref = nn.LSTMCell(I, H).to(device=dev, dtype=F64)
        x, h, c = rand((B, I), ctx.gen, dev), rand((B, H), ctx.gen, dev), rand((B, H), ctx.gen, dev)
        W = [p.detach() for p in (ref.weight_ih, ref.weight_hh, ref.bias_ih, ref.bias_hh)]
        label = f"lstm_cell(x ({B}, {I}), h ({B}, {H}), c ({B}, {H}))"
        with forbid(*BANNED, reason=REASON, caller="lstm_cell()"):
            got = mod.lstm_cell(x, h, c, *W)
        got = pair(got, label, "(h', c') like nn.LSTMCell")
        expect_type(got[0], torch.Tensor, f"{label}'s h'")
        expect_type(got[1], torch.Tensor, f"{label}'s c'")
        with torch.no_grad():
            want = ref(x, (h, c))
        mistakes = [(why, (lambda v=v: step(x, h, c, *W, variant=v))) for why, v in CELL_TABLE]
        expect_match(f"{label} -> (h', c')", got, tuple(want), mistakes, against="nn.LSTMCell")


# --- task: forward ------------------------------------------------------------------------------

FORWARD_CASES = [  # batch_first, state given, T, B, I, H
    (False, True, 6, 3, 4, 5),
    (True, False, 6, 3, 4, 5),
    (True, True, 5, 2, 3, 4),
]


@check("lstm_forward() equals nn.LSTM (batch_first both ways, state given or None): output, (h_n, c_n)",
       task="forward")
def forward_values(ctx):
    mod = ctx.load("lstm")
    dev = float64_device(ctx)
    for batch_first, with_state, T, B, I, H in FORWARD_CASES:
        torch.manual_seed(ctx.seed)
        ref = nn.LSTM(I, H, batch_first=batch_first).to(device=dev, dtype=F64)
        x = rand((B, T, I) if batch_first else (T, B, I), ctx.gen, dev)
        state = (rand((1, B, H), ctx.gen, dev), rand((1, B, H), ctx.gen, dev)) if with_state else None
        label = (f"lstm_forward(x {tuple(x.shape)}, state {'(h0, c0)' if with_state else 'None'}, "
                 f"batch_first={batch_first})")
        params = lstm_params(ref)
        got = run_forward(mod, x, state, params, batch_first, label)
        with torch.no_grad():
            want = ref(x, state)
        expect_match(label, got, want, forward_mistakes(x, state, params, batch_first, want), against="nn.LSTM")


@check("gradients of lstm_forward() w.r.t. x, h0, c0 and the four parameters equal nn.LSTM's", task="forward")
def forward_gradients(ctx):
    mod = ctx.load("lstm")
    dev = float64_device(ctx)
    torch.manual_seed(ctx.seed)
    ref = nn.LSTM(3, 4, batch_first=True).to(device=dev, dtype=F64)
    x = rand((2, 7, 3), ctx.gen, dev).requires_grad_(True)
    h0, c0 = (rand((1, 2, 4), ctx.gen, dev).requires_grad_(True) for _ in range(2))
    params = {k: p.detach().clone().requires_grad_(True) for k, p in ref.named_parameters()}
    label = "lstm_forward(x (2, 7, 3), (h0, c0), batch_first=True)"
    out, (h_n, c_n) = run_forward(mod, x, (h0, c0), params, True, label)
    expect(out.requires_grad and h_n.requires_grad and c_n.requires_grad, f"{label}'s results do not require "
           "grad although x, the state and the weights do: something left the autograd graph (.detach(), "
           ".item(), .data, NumPy, torch.no_grad())")
    g = [rand(tuple(t.shape), ctx.gen, dev) for t in (out, h_n, c_n)]
    leaves = [x, h0, c0] + list(params.values())
    mine = torch.autograd.grad(sum((t * gt).sum() for t, gt in zip((out, h_n, c_n), g)), leaves, allow_unused=True)
    r_out, (r_h, r_c) = ref(x, (h0, c0))
    want = torch.autograd.grad(sum((t * gt).sum() for t, gt in zip((r_out, r_h, r_c), g)),
                               [x, h0, c0] + list(ref.parameters()))
    for name, got_g, want_g in zip(["x", "h0", "c0"] + list(params), mine, want):
        expect(got_g is not None, f"no gradient reaches {name} through {label}: it is not used, or it left the "
               "autograd graph")
        expect_match(f"the gradient of {label} w.r.t. {name}", got_g, want_g, against="nn.LSTM's gradient")


# --- task: forget-bias --------------------------------------------------------------------------


def slice_of(k: int, H: int) -> slice:
    return slice(k * H, (k + 1) * H)


def expect_forget_bias(lstm, before, value, label):
    """lstm's forget slices sum to value in every layer; nothing else differs from `before`."""
    H = lstm.hidden_size
    now = {k: p.detach() for k, p in lstm.named_parameters()}
    for name, p in now.items():
        if name.startswith("weight"):
            expect(torch.equal(p, before[name]), f"{label} changed {name}: only the forget slice of the biases "
                   "may change")
    for layer in range(lstm.num_layers):
        ih, hh = f"bias_ih_l{layer}", f"bias_hh_l{layer}"
        for k, gate in enumerate(GATES):
            if gate == "f":
                continue
            rows = slice_of(k, H)
            for name in (ih, hh):
                if not torch.equal(now[name][rows], before[name][rows]):
                    total = (now[ih] + now[hh])[rows].mean().item()
                    where = (" (and the forget slice is untouched)" if torch.equal(now[ih][H:2 * H], before[ih][H:2 * H])
                             and torch.equal(now[hh][H:2 * H], before[hh][H:2 * H]) else "")
                    fail(f"{label} changed the wrong slice: {name}[{rows.start}:{rows.stop}] is the {ROLE[gate]}'s "
                         f"bias{where}; PyTorch stacks the gates (i, f, g, o), so the forget gate is rows "
                         f"H:2H = {H}:{2 * H}. The {ROLE[gate]}'s effective bias is now {number(total, 4)} "
                         f"on average; it was {number((before[ih] + before[hh])[rows].mean().item(), 4)}")
        f_rows = slice(H, 2 * H)
        got = (now[ih] + now[hh])[f_rows]
        want = torch.full_like(got, value)
        b_ih, b_hh = before[ih][f_rows], before[hh][f_rows]
        expect_match(f"{label}: the forget gate's effective bias {ih}[{H}:{2 * H}] + {hh}[{H}:{2 * H}]", got, want, [
            (f"layer {layer}'s forget bias is unchanged: set it in every layer (bias_ih_l{layer}, "
             f"bias_hh_l{layer})", b_ih + b_hh),
            ("both biases' forget slices were set to the value: the gate adds them, so its bias is 2 × value; set "
             "one to the value and the other to 0", torch.full_like(got, 2 * value)),
            ("only bias_ih was set: the gate also adds bias_hh's random forget slice; set that to 0",
             value + b_hh),
            ("only bias_hh was set: the gate also adds bias_ih's random forget slice; set that to 0",
             b_ih + value),
        ], atol=1e-6, rtol=1e-6, against=f"the value {value}")


@check("init_forget_bias() makes the forget gate's bias (bias_ih + bias_hh, rows H:2H) the value, in every "
       "layer, and changes nothing else", task="forget-bias")
def forget_bias(ctx):
    mod = ctx.load("lstm")
    for layers, value in ((1, 1.0), (2, 2.5)):
        torch.manual_seed(ctx.seed)
        lstm = nn.LSTM(3, 5, num_layers=layers)
        before = {k: p.detach().clone() for k, p in lstm.named_parameters()}
        objects = {k: p for k, p in lstm.named_parameters()}
        label = f"init_forget_bias(nn.LSTM(3, 5, num_layers={layers}), value={value})"
        if value == 1.0:
            mod.init_forget_bias(lstm)  # the default value
        else:
            mod.init_forget_bias(lstm, value)
        for k, p in lstm.named_parameters():
            expect(p is objects[k], f"{label} replaced the parameter {k} by a new object; an optimizer made "
                   "before would still hold the old one. Write into it in place: with torch.no_grad(): "
                   "p[H:2 * H] = ...")
            expect(p.requires_grad, f"after {label}, {k} no longer requires grad")
        expect_forget_bias(lstm, before, value, label)


# --- task: model --------------------------------------------------------------------------------


@check("Recall holds an nn.LSTM (forget bias 1) and a head, and its forward equals nn.LSTM + the head at "
       "every step", task="model")
def recall_model(ctx):
    mod = ctx.load("lstm")
    dev = float64_device(ctx)
    vocab, hidden = 6, 7
    torch.manual_seed(ctx.seed)
    model = mod.Recall(vocab, hidden)
    label = f"Recall(vocab={vocab}, hidden_size={hidden})"
    expect_type(model, nn.Module, label)
    lstm, head = getattr(model, "lstm", None), getattr(model, "head", None)
    expect(isinstance(lstm, nn.LSTM), f"{label}.lstm is {type(lstm).__name__}; make it nn.LSTM({vocab}, "
           f"{hidden}, batch_first=True), used only to hold the parameters")
    expect(isinstance(head, nn.Linear), f"{label}.head is {type(head).__name__}; make it nn.Linear({hidden}, "
           f"{vocab})")
    H = lstm.hidden_size
    fb = (lstm.bias_ih_l0 + lstm.bias_hh_l0)[H:2 * H].detach()
    expect_match(f"{label}'s forget-gate bias at initialisation", fb, torch.ones_like(fb),
                 hint="call init_forget_bias(self.lstm, 1.0) in __init__", atol=1e-6, rtol=1e-6, against="1.0")
    model = model.to(device=dev, dtype=F64)
    tokens = torch.randint(0, vocab, (3, 9), generator=ctx.gen).to(dev)
    with torch.no_grad(), forbid(*BANNED, reason=REASON, caller="Recall.forward"):
        got = model(tokens)
    expect_type(got, torch.Tensor, f"{label}(tokens (3, 9))")
    with torch.no_grad():
        was = lstm.batch_first
        lstm.batch_first = True
        out, _ = lstm(F.one_hot(tokens, vocab).to(F64))
        lstm.batch_first = was
        want = model.head(out)
    expect_match(f"{label}(tokens (3, 9)): logits at every step", got, want, [
        ("it returns the last step only; return the logits at every step, (B, T, vocab): the check trains "
         "every step to name the first token", want[:, -1]),
    ], against="nn.LSTM + head")


# --- task: recall -------------------------------------------------------------------------------

# Recall-the-first-token: 20 tokens uniform over 8 symbols; at every step the model names the first one;
# scored at the last step on 512 held-out sequences. Recall(8, 32), Adam lr 0.01, batch 64, 150 steps,
# clip_grad_norm_ 1.0 (about 1 s on one CPU thread). The solution scores 1.000 on seeds 0-7 (8/8);
# without the forget bias (PyTorch's default init) 0.889-1.000 (seven of eight at 1.0). Chance is 0.125.
MIN_ACC = 0.9
VOCAB, T, STEPS = 8, 20, 150


def recall_batch(gen, n):
    return torch.randint(0, VOCAB, (n, T), generator=gen)


@check(f"Recall, trained here, names the first of {T} tokens at the last step with accuracy >= {MIN_ACC}",
       task="recall")
def recall_task(ctx):
    mod = ctx.load("lstm")
    torch.manual_seed(ctx.seed)
    gen = torch.Generator().manual_seed(ctx.seed)
    model = mod.Recall(VOCAB, 32).to(ctx.device)
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    losses = []
    for _ in range(STEPS):
        x = recall_batch(gen, 64).to(ctx.device)
        logits = model(x)
        loss = F.cross_entropy(logits.reshape(-1, VOCAB), x[:, :1].expand(-1, T).reshape(-1))
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        losses.append(loss.item())
    ctx.curve("train loss", losses)
    xv = recall_batch(torch.Generator().manual_seed(ctx.seed + 1000), 512).to(ctx.device)
    with torch.no_grad():
        acc = (model(xv)[:, -1].argmax(-1) == xv[:, 0]).float().mean().item()
    ctx.metric("recall accuracy at step 20", acc, MIN_ACC)
    expect(math.isfinite(losses[-1]), f"the training loss is {losses[-1]}: training diverged")
    expect(acc >= MIN_ACC, f"the recall accuracy at step {T} is {acc:.3f}, below {MIN_ACC} (chance is "
           f"{1 / VOCAB:.3f}; the reference solution reaches 1.000). The final training loss is {losses[-1]:.3f}. "
           "Check the earlier checks first, then that Recall sets the forget bias and returns every step")

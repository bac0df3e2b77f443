"""Check: attention from scratch (masked_softmax, dot_attention, AdditiveAttention, causal_mask,
scaled_dot_product_attention).

Everything is compared in float64 with F.scaled_dot_product_attention (SDPA), whose weights are read
off by attending over the identity: SDPA(q, k, I) = weights @ I = weights. Masks follow SDPA: bool
True = attend, float = added to the scaled scores; is_causal is lower-triangular with the diagonal,
aligned top-left when T_q != T_k. A row with every key blocked must give weights 0 and output 0 (what
SDPA returns in torch 2.13; a plain softmax gives nan) with finite gradients. When a value is off,
the check recomputes it with each classic mistake (scale, softmax dim, mask polarity, mask after the
softmax, fill 0, causal alignment ...) and names the one that matches.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from tutor.checking import check, expect, expect_match, expect_type, fail, float64_device, forbid
from tutor.checking.formatting import number

F64 = torch.float64
NEG = float("-inf")
BANNED = (F.scaled_dot_product_attention, nn.MultiheadAttention, "multi_head_attention_forward")
REASON = ("the exercise is to write attention yourself from matrix products and a softmax; "
          "F.scaled_dot_product_attention is the reference the check compares with")

# --- the named mistakes of the masked softmax ----------------------------------------------------

POLARITY = ("the bool mask's polarity is inverted: it blocks where the mask is True. SDPA's bool mask is "
            "True where a query MAY attend (nn.MultiheadAttention's is the opposite, True = blocked); "
            "fill where the mask is False: scores.masked_fill(~mask, -inf)")
FILL_ZERO = ("blocked scores are filled with 0, not −inf: a score of 0 still gets weight e⁰ in the softmax; "
             "fill with -inf so that the weight is exactly 0")
ZERO_AFTER = ("the mask is applied after the softmax (blocked weights zeroed): the remaining weights no "
              "longer sum to 1; mask the SCORES, then take the softmax")
INF_AFTER = ("−inf is added after the softmax: the blocked WEIGHTS become −inf; add it to the scores, "
             "before the softmax, so that e^−inf = 0")
QUERY_DIM = ("the softmax runs over the queries (dim=-2): each query's weights over the KEYS must sum to 1, "
             "softmax(..., dim=-1)")
FLOAT_AS_BOOL = ("the float mask is used as a boolean (0 = blocked): a float mask is ADDED to the scores, "
                 "0 keeps a key and −inf blocks it")
FLOAT_IGNORED = "the float mask is ignored: add it to the scores before the softmax"
NAN_ROWS = ("the rows with every key blocked are nan (a softmax over a row of −inf is 0/0): return weights 0 "
            "there, like SDPA; find those rows, give them a harmless score (0) before the softmax and set "
            "their weights to 0 after")
UNIFORM_ROWS = ("a row with every key blocked still gets weights that sum to 1 (equal weights 1/T_k when the "
                "blocked scores are filled with a large finite number like −1e9 instead of −inf); such a row has "
                "nothing to attend: its weights must be 0, like SDPA")


def is_bool(mask) -> bool:
    return mask is not None and mask.dtype == torch.bool


def blocked(mask):
    """True where the mask blocks (bool False, float −inf)."""
    return ~mask if is_bool(mask) else torch.isneginf(mask)


def softmax_ref(scores, mask=None, variant=""):
    """masked_softmax computed here: right, or with one named mistake."""
    if variant in ("zero_after", "inf_after") and mask is not None:
        w = scores.softmax(-1)
        fill = 0.0 if variant == "zero_after" else NEG
        return w.masked_fill(blocked(mask), fill) if is_bool(mask) or variant == "zero_after" else w + mask
    if variant == "float_ignored" and not is_bool(mask):
        mask = None
    if variant == "float_as_bool" and mask is not None and not is_bool(mask):
        mask = mask != 0
    if is_bool(mask):
        keep = mask if variant != "polarity" else ~mask
        fill = {"fill_zero": 0.0, "uniform_rows": -1e9}.get(variant, NEG)
        scores = scores.masked_fill(~keep, fill)
    elif mask is not None:
        scores = scores + (mask.clamp(min=-1e9) if variant == "uniform_rows" else mask)
    dim = -2 if variant == "query_dim" else int(variant[3:]) if variant.startswith("dim") else -1
    if variant == "nan_rows":
        return scores.softmax(dim)
    empty = torch.isneginf(scores).all(dim=-1, keepdim=True)
    return scores.masked_fill(empty, 0.0).softmax(dim).masked_fill(empty, 0.0)


SOFTMAX_TABLE = [(POLARITY, "polarity"), (FILL_ZERO, "fill_zero"), (ZERO_AFTER, "zero_after"),
                 (INF_AFTER, "inf_after"), (QUERY_DIM, "query_dim"), (FLOAT_AS_BOOL, "float_as_bool"),
                 (FLOAT_IGNORED, "float_ignored"), (NAN_ROWS, "nan_rows"), (UNIFORM_ROWS, "uniform_rows")]


def softmax_mistakes(scores, mask):
    table = SOFTMAX_TABLE + [(f"the softmax runs over dim {d} (of size {scores.size(d)}), a batch dim: the keys "
                              "are the LAST dim whatever the number of batch dims, softmax(..., dim=-1)", f"dim{d}")
                             for d in range(scores.dim() - 2)]
    return [(why, (lambda v=v: softmax_ref(scores, mask, v))) for why, v in table]


# --- helpers ------------------------------------------------------------------------------------------


def rand(shape, gen, dev):
    return torch.randn(shape, generator=gen, dtype=F64).to(dev)


def bool_mask(shape, gen, dev, p=0.35):
    """A random bool mask (True = attend) in which every row keeps at least one key."""
    keep = torch.rand(shape, generator=gen) > p
    keep[..., 0] |= ~keep.any(-1)
    return keep.to(dev)


def float_mask(shape, gen, dev):
    """A float mask: 0 (keep) at about a third of the places, −inf (blocked) at another third, never
    a whole row, and random finite biases elsewhere."""
    keep = bool_mask(shape, gen, dev)
    zero = torch.rand(shape, generator=gen).to(dev) < 0.5
    return rand(shape, gen, dev).masked_fill(zero, 0.0).masked_fill(~keep, NEG)


def sdpa(q, k, v, attn_mask=None, is_causal=False, scale=None):
    """(out, weights) from F.scaled_dot_product_attention; the weights are SDPA over the identity."""
    eye = torch.eye(k.size(-2), dtype=v.dtype, device=v.device).expand(*k.shape[:-2], k.size(-2), k.size(-2))
    kw = dict(attn_mask=attn_mask, is_causal=is_causal, scale=scale)
    return F.scaled_dot_product_attention(q, k, v, **kw), F.scaled_dot_product_attention(q, k, eye, **kw)


def shape_of(t) -> str:
    return str(tuple(t.shape))


def pair(got, label):
    expect(isinstance(got, (tuple, list)) and len(got) == 2, f"{label} returned {type(got).__name__}; return "
           "the pair (out, weights)")
    expect_type(got[0], torch.Tensor, f"{label}'s out")
    expect_type(got[1], torch.Tensor, f"{label}'s weights")
    return tuple(got)


TRANSPOSE_HINT = ("The usual cause is k.T (or k.transpose(1, 2)): on a tensor of more than 2 dims .T reverses ALL "
                  "the dims ((B, h, T, d) becomes (d, T, h, B)); swap only the last two: k.transpose(-2, -1) (or k.mT)")
CAUSAL_HINT = ("With is_causal the mask must be (T_q, T_k) = (q.size(-2), k.size(-2)); a square (T_q, T_q) mask does "
               "not fit the scores when T_q != T_k: causal_mask(q.size(-2), k.size(-2))")


def call(fn, label, *args, batched=False, caller=None, hint=TRANSPOSE_HINT, **kwargs):
    """The learner's fn(*args, **kwargs) under the ban; a RuntimeError on batched inputs is explained."""
    with forbid(*BANNED, reason=REASON, caller=caller or f"{getattr(fn, '__name__', 'function')}()"):
        try:
            return fn(*args, **kwargs)
        except NotImplementedError:
            raise
        except RuntimeError as error:
            if not batched:
                raise
            fail(f"{label} raised RuntimeError on batched inputs: {str(error).splitlines()[0]}. {hint}")


def swapped(want):
    return ("it returns (weights, out); return (out, weights), the output first", (want[1], want[0]))


def expect_rows(weights, mask, label):
    """Rows sum to 1 (0 where every key is blocked) and blocked weights are exactly 0."""
    if mask is not None:
        where = blocked(mask).expand_as(weights)
        if where.any():
            worst = weights.detach().abs().masked_fill(~where, 0.0)
            idx = tuple(int(i) for i in torch.nonzero(worst == worst.max())[0])
            expect(worst.max().item() == 0.0, f"{label}: the blocked weights must be exactly 0; yours is "
                   f"{number(weights[idx].item(), 3)} at index {idx}, where the mask blocks. Fill the blocked "
                   "scores with -inf (a finite fill like -30 leaves e^-30 > 0)")
        empty = where.all(-1)
    else:
        empty = torch.zeros(weights.shape[:-1], dtype=torch.bool, device=weights.device)
    sums = weights.detach().sum(-1)
    want = (~empty).to(sums.dtype)
    off = (sums - want).abs()
    idx = tuple(int(i) for i in torch.nonzero(off == off.max())[0])
    expect(off.max().item() < 1e-9, f"{label}: each query's weights must sum to 1 over the keys (0 in a row "
           f"with every key blocked); row {idx} sums to {number(sums[idx].item(), 6)}, expected "
           f"{number(want[idx].item())}")


def expect_finite_grad(name, grad, label):
    expect(grad is not None, f"no gradient reaches {name} through {label}: it is not used, or it left the "
           "autograd graph (.detach(), .item(), .data, torch.no_grad())")
    bad = ~torch.isfinite(grad)
    if bad.any():
        idx = tuple(int(i) for i in torch.nonzero(bad)[0])
        fail(f"the gradient of {label} w.r.t. {name} is {number(grad[idx].item())} at index {idx} ({int(bad.sum())} "
             f"of {grad.numel()} entries are not finite). A softmax over a row of −inf is nan, and its backward "
             "is nan even if the forward result is zeroed afterwards (nan_to_num, torch.where); give the rows "
             "with every key blocked a harmless score (0) BEFORE the softmax, then set their weights to 0")


# --- task: masked-softmax -------------------------------------------------------------------------------


@check("masked_softmax() over the keys: no mask, bool masks (True = keep) and float masks (added); rows sum to "
       "1, blocked weights exactly 0", task="masked-softmax")
def softmax_values(ctx):
    mod = ctx.load("attention")
    dev = float64_device(ctx)
    scores = rand((2, 3, 4, 5), ctx.gen, dev)
    masks = [("no mask", None),
             ("a bool mask (4, 5)", bool_mask((4, 5), ctx.gen, dev)),
             ("a bool mask (2, 1, 4, 5)", bool_mask((2, 1, 4, 5), ctx.gen, dev)),
             ("a float mask (4, 5)", float_mask((4, 5), ctx.gen, dev))]
    for what, mask in masks:
        label = f"masked_softmax(scores (2, 3, 4, 5), {what})"
        got = call(mod.masked_softmax, label, scores.clone(), mask)
        expect_type(got, torch.Tensor, label)
        expect_match(label, got, softmax_ref(scores, mask), softmax_mistakes(scores, mask),
                     against="the softmax over the keys")
        expect_rows(got, mask, label)


@check("masked_softmax(): a row with every key blocked gives weights 0 (not nan) and a finite gradient",
       task="masked-softmax")
def softmax_empty_rows(ctx):
    mod = ctx.load("attention")
    dev = float64_device(ctx)
    keep = bool_mask((2, 1, 4, 5), ctx.gen, dev)
    keep[0, 0, 1] = False
    keep[1, 0, 3] = False
    fmask = float_mask((4, 5), ctx.gen, dev)
    fmask[2] = NEG
    for what, mask in (("a bool mask (2, 1, 4, 5) that blocks all of row 1 in batch 0 and row 3 in batch 1", keep),
                       ("a float mask (4, 5) that is −inf along all of row 2", fmask)):
        scores = rand((2, 3, 4, 5), ctx.gen, dev).requires_grad_(True)
        label = f"masked_softmax(scores (2, 3, 4, 5), {what})"
        got = call(mod.masked_softmax, label, scores, mask)
        expect_type(got, torch.Tensor, label)
        want = softmax_ref(scores, mask)
        expect_match(label, got.detach(), want.detach(), softmax_mistakes(scores.detach(), mask),
                     against="the softmax over the keys (0 in the empty rows, like SDPA)")
        expect_rows(got, mask, label)
        g = rand(tuple(got.shape), ctx.gen, dev)
        expect(got.requires_grad, f"{label} does not require grad although the scores do: something left the "
               "autograd graph")
        (mine,) = torch.autograd.grad((got * g).sum(), scores, allow_unused=True)
        expect_finite_grad("the scores", mine, label)
        (ref,) = torch.autograd.grad((want * g).sum(), scores)
        expect_match(f"the gradient of {label} w.r.t. the scores", mine, ref,
                     against="the gradient of the masked softmax")


# --- task: dot ----------------------------------------------------------------------------------------


@check("dot_attention() equals SDPA with scale=1 (unscaled), batched, with and without a bool mask", task="dot")
def dot_values(ctx):
    mod = ctx.load("attention")
    dev = float64_device(ctx)
    cases = [((4, 6), (5, 6), (5, 3), None), ((2, 4, 6), (2, 5, 6), (2, 5, 3), (4, 5)),
             ((2, 4, 6), (2, 5, 6), (2, 5, 3), None)]
    for qs, ks, vs, ms in cases:
        q, k, v = rand(qs, ctx.gen, dev), rand(ks, ctx.gen, dev), rand(vs, ctx.gen, dev)
        mask = bool_mask(ms, ctx.gen, dev) if ms else None
        label = f"dot_attention(q {qs}, k {ks}, v {vs}{f', bool mask {ms}' if ms else ''})"
        got = pair(call(mod.dot_attention, label, q, k, v, mask, batched=len(qs) > 2), label)
        want = sdpa(q, k, v, mask, scale=1.0)
        d = qs[-1]
        mistakes = [(f"it scales the scores by 1/√d_k = 1/√{d}: dot_attention is the UNSCALED one, "
                     "softmax(q kᵀ) v (scaled_dot_product_attention is the scaled one)", sdpa(q, k, v, mask)),
                    swapped(want)]
        mistakes += [(why, (lambda f=f: (f() @ v, f())))
                     for why, f in softmax_mistakes(q @ k.transpose(-2, -1), mask)]
        expect_match(label, got, want, mistakes, against="F.scaled_dot_product_attention(..., scale=1.0)")


# --- task: additive -----------------------------------------------------------------------------------

D_Q, D_K, D_H = 5, 4, 6


def linear(layer, x):
    return F.linear(x, layer.weight, layer.bias)


def additive_ref(model, q, k, v, mask, variant=""):
    """Bahdanau attention from the model's parameters: right, or with one named mistake."""
    a, b = linear(model.W_q, q).unsqueeze(-2), linear(model.W_k, k).unsqueeze(-3)
    features = {"no_tanh": lambda: a + b, "tanh_each": lambda: torch.tanh(a) + torch.tanh(b)}.get(
        variant, lambda: torch.tanh(a + b))()
    scores = linear(model.w_v, features).squeeze(-1)
    if variant == "scaled":
        scores = scores / math.sqrt(model.W_q.weight.shape[0])
    weights = softmax_ref(scores, mask, variant if variant in ("polarity", "query_dim", "fill_zero",
                                                                "zero_after") else "")
    return weights @ v, weights


ADDITIVE_TABLE = [
    ("there is no tanh: w_vᵀ(W_q q + W_k k) splits into a query part and a key part, and the query part cancels "
     "in the softmax, so every query gets the same weights; score = w_vᵀ tanh(W_q q + W_k k)", "no_tanh"),
    ("tanh is applied to each projection separately, tanh(W_q q) + tanh(W_k k): the score splits and every "
     "query gets the same weights; apply tanh to the SUM", "tanh_each"),
    ("additive scores are not scaled: the 1/√d scaling belongs to dot-product attention", "scaled"),
    (POLARITY, "polarity"), (QUERY_DIM, "query_dim"), (FILL_ZERO, "fill_zero"), (ZERO_AFTER, "zero_after"),
]


def make_additive(mod, ctx, dev):
    torch.manual_seed(ctx.seed)
    label = f"AdditiveAttention(d_q={D_Q}, d_k={D_K}, d_hidden={D_H})"
    model = mod.AdditiveAttention(D_Q, D_K, D_H)
    expect_type(model, nn.Module, label)
    for name, shape in (("W_q", (D_H, D_Q)), ("W_k", (D_H, D_K)), ("w_v", (1, D_H))):
        layer = getattr(model, name, None)
        expect(isinstance(layer, nn.Linear), f"{label}.{name} is {type(layer).__name__}; make it "
               f"nn.Linear({shape[1]}, {shape[0]}, bias=False)")
        expect(tuple(layer.weight.shape) == shape, f"{label}.{name}.weight has shape {shape_of(layer.weight)}; "
               f"expected {shape}: nn.Linear({shape[1]}, {shape[0]}, bias=False)")
    return model.to(device=dev, dtype=F64), label


@check("AdditiveAttention: W_q, W_k, w_v of the right shapes; forward equals w_vᵀ tanh(W_q q + W_k k), masked, "
       "batched", task="additive")
def additive_values(ctx):
    mod = ctx.load("attention")
    dev = float64_device(ctx)
    model, name = make_additive(mod, ctx, dev)
    for B, mask_shape in ((2, (2, 4, 7)), (2, None)):
        q, k, v = rand((B, 4, D_Q), ctx.gen, dev), rand((B, 7, D_K), ctx.gen, dev), rand((B, 7, 3), ctx.gen, dev)
        mask = bool_mask(mask_shape, ctx.gen, dev) if mask_shape else None
        masked = ", bool mask (2, 4, 7)" if mask_shape else ""
        label = f"{name}(q {shape_of(q)}, k {shape_of(k)}, v {shape_of(v)}{masked})"
        with torch.no_grad():
            got = pair(call(model, label, q, k, v, mask, batched=True, caller="AdditiveAttention.forward"), label)
            want = additive_ref(model, q, k, v, mask)
            mistakes = [(why, (lambda var=var: additive_ref(model, q, k, v, mask, var))) for why, var in ADDITIVE_TABLE]
            expect_match(label, got, want, mistakes + [swapped(want)], against="w_vᵀ tanh(W_q q + W_k k)")
        expect_rows(got[1], mask, label)


@check("AdditiveAttention: gradients w.r.t. q, k, v, W_q, W_k and w_v equal those of the formula", task="additive")
def additive_gradients(ctx):
    mod = ctx.load("attention")
    dev = float64_device(ctx)
    model, name = make_additive(mod, ctx, dev)
    q, k, v = (rand(s, ctx.gen, dev).requires_grad_(True) for s in ((2, 3, D_Q), (2, 6, D_K), (2, 6, 4)))
    mask = bool_mask((3, 6), ctx.gen, dev)
    label = f"{name}(q (2, 3, {D_Q}), k (2, 6, {D_K}), v (2, 6, 4), bool mask (3, 6))"
    out, weights = pair(call(model, label, q, k, v, mask, batched=True, caller="AdditiveAttention.forward"), label)
    expect(out.requires_grad, f"{label}'s out does not require grad: something left the autograd graph")
    g = rand(tuple(out.shape), ctx.gen, dev)
    leaves = [q, k, v, model.W_q.weight, model.W_k.weight, model.w_v.weight]
    names = ["q", "k", "v", "W_q.weight", "W_k.weight", "w_v.weight"]
    mine = torch.autograd.grad((out * g).sum(), leaves, allow_unused=True)
    want = torch.autograd.grad((additive_ref(model, q, k, v, mask)[0] * g).sum(), leaves)
    for n, got_g, want_g in zip(names, mine, want):
        expect_finite_grad(n, got_g, label)
        expect_match(f"the gradient of {label} w.r.t. {n}", got_g, want_g, against="the formula's gradient")


# --- task: scaled -------------------------------------------------------------------------------------


def scale_mistakes(q, k, v, mask, want):
    """Each classic scaling mistake (the ones that differ here), then the softmax mistakes, at 1/√d_k."""
    d_k, d_v, T_k = q.size(-1), v.size(-1), k.size(-2)
    s = q @ k.transpose(-2, -1)
    out = []
    if d_v != d_k:
        out.append((f"it scales by √d_v = √{d_v} (the VALUE size); scale by √d_k = √{d_k}, the size of q and k",
                    1 / math.sqrt(d_v)))
    out += [(f"it does not scale the scores: divide q kᵀ by √d_k = √{d_k}", 1.0),
            (f"it divides by d_k = {d_k}; divide by √d_k = {number(math.sqrt(d_k))}", 1 / d_k),
            (f"it multiplies by √d_k; divide by it: q kᵀ / √{d_k}", math.sqrt(d_k)),
            (f"it scales by √T_k = √{T_k} (the number of keys); scale by √d_k = √{d_k}", 1 / math.sqrt(T_k))]
    if q.dim() == 4:
        h = q.size(1)
        out.append((f"it scales by √d_model = √(h·d_k) = √{h * d_k}; each head scales by its own key size, "
                    f"√d_k = √{d_k}", 1 / math.sqrt(h * d_k)))
    mistakes = [(why, (lambda c=c: sdpa(q, k, v, mask, scale=c))) for why, c in out]
    scaled = s / math.sqrt(d_k)
    mistakes.append((f"it scales after the softmax; divide the SCORES by √d_k = √{d_k}, then take the softmax",
                     lambda: ((softmax_ref(s, mask) / math.sqrt(d_k)) @ v, softmax_ref(s, mask) / math.sqrt(d_k))))
    if mask is not None and not is_bool(mask):
        early = lambda: softmax_ref((s + mask) / math.sqrt(d_k))  # noqa: E731
        mistakes.append(("the float mask is added before the scaling, (q kᵀ + mask)/√d_k; SDPA adds it to the "
                         "SCALED scores: q kᵀ/√d_k + mask", lambda: (early() @ v, early())))
    mistakes += [(why, (lambda f=f: (f() @ v, f()))) for why, f in softmax_mistakes(scaled, mask)]
    return mistakes + [swapped(want)]


SHAPES = [  # q, k, v: T_q != T_k and d_k != d_v, so that each mistake shows
    ((4, 6), (5, 6), (5, 7)),
    ((2, 4, 6), (2, 5, 6), (2, 5, 7)),
    ((2, 3, 4, 6), (2, 3, 5, 6), (2, 3, 5, 7)),
]


def sdpa_label(q, k, v, extra=""):
    return f"scaled_dot_product_attention(q {shape_of(q)}, k {shape_of(k)}, v {shape_of(v)}{extra})"


@check("scaled_dot_product_attention() equals SDPA on (T, d), (B, T, d) and (B, h, T, d) inputs with d_k != d_v: "
       "out and weights", task="scaled")
def scaled_values(ctx):
    mod = ctx.load("attention")
    dev = float64_device(ctx)
    for qs, ks, vs in SHAPES:
        q, k, v = rand(qs, ctx.gen, dev), rand(ks, ctx.gen, dev), rand(vs, ctx.gen, dev)
        label = sdpa_label(q, k, v)
        got = pair(call(mod.scaled_dot_product_attention, label, q, k, v, batched=len(qs) > 2), label)
        want = sdpa(q, k, v)
        expect_match(label, got, want, scale_mistakes(q, k, v, None, want), against="F.scaled_dot_product_attention")
        expect_rows(got[1], None, label)
    q32, k32, v32 = (torch.randn(s, generator=ctx.gen).to(ctx.device) for s in SHAPES[2])
    label = sdpa_label(q32, k32, v32, ", float32")
    out, weights = pair(call(mod.scaled_dot_product_attention, label, q32, k32, v32, batched=True), label)
    for what, t in (("out", out), ("weights", weights)):
        expect(t.dtype == q32.dtype and t.device == q32.device, f"{label}'s {what} is {t.dtype} on {t.device}; "
               f"the inputs are {q32.dtype} on {q32.device}: build masks and constants like the inputs "
               "(dtype=q.dtype, device=q.device)")
    expect_match(label, (out, weights), sdpa(q32, k32, v32), against="F.scaled_dot_product_attention",
                 atol=1e-5, rtol=1e-4)


@check("scaled_dot_product_attention() with bool masks (True = attend) and float masks (added after the scaling), "
       "broadcast over the batch; blocked weights exactly 0", task="scaled")
def scaled_masks(ctx):
    mod = ctx.load("attention")
    dev = float64_device(ctx)
    q, k, v = (rand(s, ctx.gen, dev) for s in SHAPES[2])
    masks = [("bool", bool_mask((4, 5), ctx.gen, dev)), ("bool", bool_mask((2, 1, 4, 5), ctx.gen, dev)),
             ("float", float_mask((4, 5), ctx.gen, dev)), ("float", float_mask((2, 3, 4, 5), ctx.gen, dev))]
    for kind, mask in masks:
        label = sdpa_label(q, k, v, f", {kind} attn_mask {shape_of(mask)}")
        got = pair(call(mod.scaled_dot_product_attention, label, q, k, v, attn_mask=mask, batched=True), label)
        want = sdpa(q, k, v, mask)
        expect_match(label, got, want, scale_mistakes(q, k, v, mask, want), against="F.scaled_dot_product_attention")
        expect_rows(got[1], mask, label)


@check("scaled_dot_product_attention(): gradients w.r.t. q, k and v equal SDPA's (with a float mask)", task="scaled")
def scaled_gradients(ctx):
    mod = ctx.load("attention")
    dev = float64_device(ctx)
    q, k, v = (rand(s, ctx.gen, dev).requires_grad_(True) for s in SHAPES[2])
    mask = float_mask((4, 5), ctx.gen, dev)
    label = sdpa_label(q, k, v, ", float attn_mask (4, 5)")
    out, _ = pair(call(mod.scaled_dot_product_attention, label, q, k, v, attn_mask=mask, batched=True), label)
    expect(out.requires_grad, f"{label}'s out does not require grad: something left the autograd graph")
    g = rand(tuple(out.shape), ctx.gen, dev)
    mine = torch.autograd.grad((out * g).sum(), [q, k, v], allow_unused=True)
    want = torch.autograd.grad((F.scaled_dot_product_attention(q, k, v, attn_mask=mask) * g).sum(), [q, k, v])
    for n, got_g, want_g in zip("qkv", mine, want):
        expect_finite_grad(n, got_g, label)
        expect_match(f"the gradient of {label} w.r.t. {n}", got_g, want_g, against="SDPA's gradient")


@check("scaled_dot_product_attention(): a query with every key blocked gets out 0 and weights 0, like SDPA, and "
       "finite gradients", task="scaled")
def scaled_empty_rows(ctx):
    mod = ctx.load("attention")
    dev = float64_device(ctx)
    for kind in ("bool", "float"):
        q, k, v = (rand(s, ctx.gen, dev).requires_grad_(True) for s in SHAPES[2])
        if kind == "bool":
            mask = bool_mask((4, 5), ctx.gen, dev)
            mask[2] = False
        else:
            mask = float_mask((4, 5), ctx.gen, dev)
            mask[0] = NEG
        row = 2 if kind == "bool" else 0
        label = sdpa_label(q, k, v, f", {kind} attn_mask (4, 5) that blocks every key of query {row}")
        out, weights = pair(call(mod.scaled_dot_product_attention, label, q, k, v, attn_mask=mask, batched=True),
                            label)
        want = sdpa(q, k, v, mask)
        expect_match(label, (out.detach(), weights.detach()), tuple(w.detach() for w in want),
                     scale_mistakes(q.detach(), k.detach(), v.detach(), mask, want),
                     against="F.scaled_dot_product_attention (0 for a query with nothing to attend)")
        expect_rows(weights, mask, label)
        g = rand(tuple(out.shape), ctx.gen, dev)
        mine = torch.autograd.grad((out * g).sum(), [q, k, v], allow_unused=True)
        ref = torch.autograd.grad((want[0] * g).sum(), [q, k, v])
        for n, got_g, want_g in zip("qkv", mine, ref):
            expect_finite_grad(n, got_g, label)
            expect_match(f"the gradient of {label} w.r.t. {n}", got_g, want_g, against="SDPA's gradient")


# --- task: causal -------------------------------------------------------------------------------------

CAUSAL_SIZES = ((5, 5), (3, 6), (6, 4))  # T_q = T_k, fewer queries, more queries


def causal_variants(T_q, T_k, dev):
    ones = torch.ones(T_q, T_k, dtype=torch.bool, device=dev)
    return [
        ("it excludes the diagonal: a query must see its own position (row 0 would have nothing to attend); use "
         "tril() with the diagonal, not tril(-1) or triu() == 0", ones.tril(-1)),
        (f"it is aligned bottom-right (tril(diagonal=T_k − T_q) = tril({T_k - T_q})); SDPA's is_causal is "
         "top-left: query i sees keys 0..i whatever T_q and T_k are", ones.tril(T_k - T_q)),
        ("it lets each query see the FUTURE (triu): query i may attend to keys 0..i, the lower triangle", ones.triu()),
        ("it is inverted, True strictly above the diagonal: that is nn.MultiheadAttention's convention (True = "
         "blocked, triu(diagonal=1)); SDPA's True means 'may attend': tril(), on and below the diagonal",
         ~ones.tril()),
    ]


@check("causal_mask(T_q, T_k): bool, True on and below the diagonal, top-left aligned like SDPA's is_causal",
       task="causal")
def causal_mask_values(ctx):
    mod = ctx.load("attention")
    dev = float64_device(ctx)
    for T_q, T_k in CAUSAL_SIZES:
        label = f"causal_mask({T_q}, {T_k})"
        got = call(mod.causal_mask, label, T_q, T_k, device=dev)
        expect_type(got, torch.Tensor, label)
        expect(got.dtype == torch.bool, f"{label} has dtype {got.dtype}; return a bool mask (True = may attend), "
               "the kind SDPA takes: torch.ones(T_q, T_k, dtype=torch.bool).tril()")
        expect(tuple(got.shape) == (T_q, T_k), f"{label} has shape {shape_of(got)}; expected (T_q, T_k) = "
               f"{(T_q, T_k)}: one row per query, one column per key")
        want = torch.ones(T_q, T_k, dtype=torch.bool, device=dev).tril()
        expect_match(label, got, want, causal_variants(T_q, T_k, dev), against="torch.ones(T_q, T_k).tril() "
                     "(1 = may attend)")


@check("scaled_dot_product_attention(is_causal=True) equals SDPA's for T_q = T_k, T_q < T_k and T_q > T_k",
       task="causal")
def scaled_causal(ctx):
    mod = ctx.load("attention")
    dev = float64_device(ctx)
    for T_q, T_k in CAUSAL_SIZES:
        q, k, v = rand((2, 3, T_q, 6), ctx.gen, dev), rand((2, 3, T_k, 6), ctx.gen, dev), rand((2, 3, T_k, 7),
                                                                                             ctx.gen, dev)
        label = sdpa_label(q, k, v, ", is_causal=True")
        got = pair(call(mod.scaled_dot_product_attention, label, q, k, v, is_causal=True, batched=True,
                        hint=CAUSAL_HINT), label)
        want = sdpa(q, k, v, is_causal=True)
        mistakes = [(why, (lambda m=m: sdpa(q, k, v, m))) for why, m in causal_variants(T_q, T_k, dev)]
        mistakes.append(("is_causal is ignored: with is_causal=True query i may attend only to keys 0..i",
                         sdpa(q, k, v)))
        tril = torch.ones(T_q, T_k, dtype=torch.bool, device=dev).tril()
        expect_match(label, got, want, mistakes + scale_mistakes(q, k, v, tril, want),
                     against="F.scaled_dot_product_attention(..., is_causal=True)")
        expect_rows(got[1], tril, label)

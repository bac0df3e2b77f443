"""Check: a single-head SelfAttention module with learned projections, a causal and a key-padding mask.

causal_mask(T) must be SDPA's bool mask (True = may attend), the lower triangle WITH the diagonal.
SelfAttention's forward is compared in float64 with F.scaled_dot_product_attention run on the
learner's own projections (w_q, w_k, w_v, then w_o); its weights are read off by attending over the
identity. from_multihead() must copy nn.MultiheadAttention(d, 1)'s packed in_proj_weight (rows q, k, v)
and out_proj, after which the module must equal nn.MultiheadAttention with its own mask conventions
(attn_mask True = blocked, key_padding_mask True = padding). Causality and padding are also tested by
perturbation: changing later tokens (or padded ones) must leave the outputs at earlier (or real)
positions exactly unchanged. On a mismatch each classic mistake (scale, softmax dim, triangle, polarity,
fill 0, mask on the queries, shared projections, no output projection ...) is recomputed and named.
"""

from __future__ import annotations

import itertools
import math

import torch
import torch.nn.functional as F
from torch import nn

from tutor.checking import check, expect, expect_gradcheck, expect_match, expect_type, fail, float64_device, forbid
from tutor.checking.formatting import number

F64 = torch.float64
NEG = float("-inf")
BANNED = (F.scaled_dot_product_attention, nn.MultiheadAttention, "multi_head_attention_forward")
REASON = ("the exercise is to write self-attention from the projections, a matrix product and a softmax; "
          "F.scaled_dot_product_attention and nn.MultiheadAttention are the references the check compares with")

# --- the named mistakes ---------------------------------------------------------------------------------

DIAGONAL = ("the causal mask excludes the diagonal (tril(-1), or the syllabus's torch.triu(torch.ones(T, T)) "
            "== 0, which is True strictly BELOW it): position i must see keys 0..i, itself included; row 0 has "
            "nothing left to attend to. Use torch.ones(T, T, dtype=torch.bool).tril()")
FUTURE = ("the causal mask is the upper triangle: position 0 attends to position {last}, every position sees "
          "the FUTURE and not the past. Query i may attend to keys j <= i, the lower triangle: tril(), not triu(). "
          "(Read as nn.MultiheadAttention's 'True = blocked', the syllabus's torch.triu(torch.ones(T, T)) == 0 "
          "does exactly this)")
MHA_CONVENTION = ("it has nn.MultiheadAttention's convention (True = blocked, True strictly above the diagonal, "
                  "like triu(1) or generate_square_subsequent_mask); causal_mask follows SDPA: True = may attend, "
                  "on and below the diagonal, tril()")
POLARITY = ("the causal mask is applied with the wrong polarity: masked_fill(mask, -inf) blocks where the mask is "
            "True, so each position sees only its future. causal_mask is True where attending is ALLOWED: fill "
            "where it is False, masked_fill(~mask, -inf)")
CAUSAL_IGNORED = "causal=True is ignored: position i must attend only to positions 0..i"
FILL_ZERO = ("blocked scores are filled with 0 instead of −inf: a score of 0 still gets weight e⁰ in the softmax; "
             "masked_fill(..., float('-inf')) makes the weight exactly 0")
ZERO_AFTER = ("the mask is applied after the softmax (blocked weights zeroed): the remaining weights no longer sum "
              "to 1; mask the SCORES with −inf, then take the softmax")
SCALE_D_MODEL = ("the scores are divided by √d_model = √{d_model}; divide by √d_k = √{d_k}, the size of the "
                 "queries and keys (q.size(-1)), whose dot product has variance d_k")
NO_SCALE = "the scores are not scaled: divide q kᵀ by √d_k = √{d_k} before the softmax"
SCALE_D_K = "the scores are divided by d_k = {d_k}; divide by its square root, √d_k"
QUERY_DIM = ("the softmax runs over the queries (dim=1 of the (B, T, T) scores): each query's weights over the "
             "KEYS must sum to 1, softmax(scores, dim=-1)")
SHARED_QK = ("the queries and the keys come from the same projection (q = k): the keys use w_k, the queries w_q; "
             "with one projection the scores q qᵀ are symmetric: i scores j exactly as j scores i")
SHARED_V = "the values are not w_v(x): v = self.w_v(x), its own projection"
NO_OUT = ("there is no output projection: out = w_o(weights @ v), mapping d_k back to d_model "
          "(nn.MultiheadAttention's out_proj)")
SWAPPED = "it returns (weights, out); return (out, weights), the output first, like nn.MultiheadAttention"
PAD_POLARITY = ("the key padding mask is read with the wrong polarity: key_padding_mask is True at PADDING "
                "(nn.MultiheadAttention's convention), so block where it is True, masked_fill(mask[:, None, :], -inf)")
PAD_QUERIES = ("the padding mask is applied to the QUERIES (rows of the scores) instead of the KEYS (columns): "
               "real positions still attend to the padding, while the padded rows are blocked entirely. "
               "Broadcast it over the keys: key_padding_mask[:, None, :] is (B, 1, T)")
PAD_IGNORED = "key_padding_mask is ignored: padded positions get weight; block them with −inf before the softmax"


def proj(layer, x):
    return F.linear(x, layer.weight, layer.bias)


def rand(shape, gen, dev, dtype=F64):
    return torch.randn(shape, generator=gen, dtype=dtype).to(dev)


def softmax(scores, dim=-1, guard=False):
    """softmax over dim; guard=True gives 0 (not nan) in rows where every score is −inf."""
    if not guard:
        return scores.softmax(dim)
    empty = torch.isneginf(scores).all(dim=dim, keepdim=True)
    return scores.masked_fill(empty, 0.0).softmax(dim).masked_fill(empty, 0.0)


def allowed(T, B, causal, kpm, dev, variant=""):
    """The bool (B, T, T) mask of the keys each query may attend to (True = attend), or None."""
    if not causal and kpm is None:
        return None
    ones = torch.ones(T, T, dtype=torch.bool, device=dev)
    tri = {"diagonal": ones.tril(-1), "future": ones.triu(), "polarity": ~ones.tril(),
           "causal_ignored": ones}.get(variant, ones.tril()) if causal else ones
    keys = torch.ones(B, 1, T, dtype=torch.bool, device=dev)
    if kpm is not None and variant != "pad_ignored":
        keys = kpm[:, None, :] if variant == "pad_polarity" else ~kpm[:, None, :]
    return tri & keys


def reference(attn, x, causal=False, kpm=None, variant="", guard=False):
    """attn's forward computed here from its own layers: right, or with one named mistake."""
    B, T, d_model = x.shape
    q, k, v = proj(attn.w_q, x), proj(attn.w_k, x), proj(attn.w_v, x)
    if variant == "shared_qk":
        k = q
    if variant == "shared_kq":
        q = k
    if variant in ("v_from_q", "v_from_k"):
        v = q if variant == "v_from_q" else k
    d_k = q.size(-1)
    scale = {"scale_d_model": math.sqrt(d_model), "no_scale": 1.0, "scale_d_k": d_k}.get(variant, math.sqrt(d_k))
    scores = q @ k.transpose(-2, -1) / scale
    mask = allowed(T, B, causal, kpm, x.device, variant)
    if mask is not None and variant != "zero_after":
        scores = scores.masked_fill(~mask, 0.0 if variant == "fill_zero" else NEG)
    weights = softmax(scores, dim=1 if variant == "query_dim" else -1, guard=guard)
    if variant == "zero_after" and mask is not None:
        weights = weights.masked_fill(~mask, 0.0)
    mixed = weights @ v
    out = mixed if variant == "no_out" else proj(attn.w_o, mixed)
    return (weights, out) if variant == "swapped" else (out, weights)


def truth(attn, x, causal=False, kpm=None):
    """(out, weights) with F.scaled_dot_product_attention on attn's own projections."""
    B, T, _ = x.shape
    q, k, v = proj(attn.w_q, x), proj(attn.w_k, x), proj(attn.w_v, x)
    mask = allowed(T, B, causal, kpm, x.device)
    eye = torch.eye(T, dtype=x.dtype, device=x.device).expand(B, T, T)
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    weights = F.scaled_dot_product_attention(q, k, eye, attn_mask=mask)
    return proj(attn.w_o, out), weights


def mistakes(attn, x, causal=False, kpm=None, learner=None):
    """[(why, lambda)] for expect_match; each mask mistake both with nan rows and with guarded rows."""
    d_model, d_k = x.size(-1), attn.w_q.weight.shape[0]
    table = [(SCALE_D_MODEL.format(d_model=d_model, d_k=d_k), "scale_d_model")] if d_model != d_k else []
    table += [(NO_SCALE.format(d_k=d_k), "no_scale"),
             (SCALE_D_K.format(d_k=d_k), "scale_d_k"), (QUERY_DIM, "query_dim"), (SHARED_QK, "shared_qk"),
             (SHARED_QK, "shared_kq"), (SHARED_V, "v_from_q"), (SHARED_V, "v_from_k"), (NO_OUT, "no_out"),
             (SWAPPED, "swapped")]
    if causal:
        table += [(DIAGONAL, "diagonal"), (FUTURE.format(last=x.size(1) - 1), "future"), (POLARITY, "polarity"),
                  (CAUSAL_IGNORED, "causal_ignored")]
    if kpm is not None:
        table += [(PAD_POLARITY, "pad_polarity"),
                  (PAD_QUERIES if learner is not None and rows_blocked(learner, kpm) else PAD_IGNORED, "pad_ignored")]
    if causal or kpm is not None:
        table += [(FILL_ZERO, "fill_zero"), (ZERO_AFTER, "zero_after")]
    out = []
    for why, v in table:
        for guard in (False, True):
            out.append((why, (lambda v=v, g=guard: reference(attn, x, causal, kpm, v, g))))
    return out


def rows_blocked(weights, kpm):
    """Whether every padded query row of the learner's weights is nan or all 0 (a mask on the queries)."""
    rows = weights.detach()[kpm]
    return bool(rows.numel()) and bool((torch.isnan(rows).all(-1) | (rows == 0).all(-1)).all())


def real_rows(pair, kpm):
    """(out, weights) with the padded query positions set to 0: what a padded position computes is free."""
    if kpm is None:
        return pair
    return tuple(t.masked_fill(kpm[..., None], 0.0) for t in pair)


def run(attn, x, label, **kwargs):
    """The learner's attn(x, **kwargs) under the ban, returned as a checked (out, weights) pair."""
    with forbid(*BANNED, reason=REASON, caller="SelfAttention.forward"):
        try:
            got = attn(x, **kwargs)
        except NotImplementedError:
            raise
        except RuntimeError as error:
            masks = ((" The causal mask is (T, T)." if kwargs.get("causal") else "")
                     + (" The key padding mask, (B, T), needs a query axis to broadcast over the (B, T, T) scores: "
                        "key_padding_mask[:, None, :] is (B, 1, T)." if kwargs.get("key_padding_mask") is not None
                        else ""))
            first = str(error).splitlines()[0]
            if "device" in first:
                fail(f"{label} raised RuntimeError: {first}. Build every mask on the device of x: "
                     "causal_mask(T, device=x.device)")
            fail(f"{label} raised RuntimeError: {first}. The scores are q @ k.transpose(-2, -1), "
                 f"(B, T, T); k.T would reverse all three dims of (B, T, d_k).{masks}")
    expect(isinstance(got, (tuple, list)) and len(got) == 2, f"{label} returned {type(got).__name__}; return the "
           "pair (out, weights), like nn.MultiheadAttention")
    out, weights = got
    expect_type(out, torch.Tensor, f"{label}'s out")
    expect_type(weights, torch.Tensor, f"{label}'s weights")
    B, T, d_model = x.shape
    d_k = attn.w_q.weight.shape[0]
    if tuple(out.shape) == (B, T, T) and tuple(weights.shape) == (B, T, d_model) and T != d_model:
        fail(f"{label} returned a pair of shapes {tuple(out.shape)} and {tuple(weights.shape)}: {SWAPPED}")
    if tuple(out.shape) == (B, T, d_k) and d_k != d_model:
        fail(f"{label}'s out has shape {tuple(out.shape)} = (B, T, d_k): {NO_OUT}")
    expect(tuple(out.shape) == (B, T, d_model), f"{label}'s out has shape {tuple(out.shape)}; expected (B, T, "
           f"d_model) = {(B, T, d_model)}")
    expect(tuple(weights.shape) == (B, T, T), f"{label}'s weights have shape {tuple(weights.shape)}; expected "
           f"(B, T, T) = {(B, T, T)}: one row per query, one column per key")
    return out, weights


def build(mod, d_model, d_k, seed, dev, dtype=F64, bias=True):
    torch.manual_seed(seed)
    attn = mod.SelfAttention(d_model, d_k) if bias else mod.SelfAttention(d_model, d_k, bias=False)
    expect_type(attn, nn.Module, f"SelfAttention({d_model}, {d_k})")
    for name in ("w_q", "w_k", "w_v", "w_o"):
        expect(isinstance(getattr(attn, name, None), nn.Linear), f"SelfAttention({d_model}, {d_k}).{name} is "
               f"{type(getattr(attn, name, None)).__name__}; make it an nn.Linear" +
               (f": {NO_OUT}" if name == "w_o" else ""))
    return attn.to(device=dev, dtype=dtype)


def padding(lengths, dev):
    T = max(lengths)
    return (torch.arange(T)[None, :] >= torch.tensor(lengths)[:, None]).to(dev)  # True at padding


def compare(attn, x, label, against, causal=False, kpm=None, **kwargs):
    got = run(attn, x, label, causal=causal, key_padding_mask=kpm)
    with torch.no_grad():
        want = truth(attn, x, causal, kpm)
    expect_match(label, real_rows(tuple(t.detach() for t in got), kpm), real_rows(want, kpm),
                 [(why, (lambda f=f: real_rows(f(), kpm))) for why, f in mistakes(attn, x, causal, kpm, got[1])],
                 against=against, **kwargs)
    return got


# --- task: causal-mask ----------------------------------------------------------------------------------


@check("causal_mask(T) is bool, True on and below the diagonal (SDPA's convention: True = may attend)",
       task="causal-mask")
def causal_mask_values(ctx):
    mod = ctx.load("self_attention")
    dev = float64_device(ctx)
    for T in (4, 6, 1):
        label = f"causal_mask({T})"
        got = mod.causal_mask(T, device=dev)
        expect_type(got, torch.Tensor, label)
        expect(tuple(got.shape) == (T, T), f"{label} has shape {tuple(got.shape)}; expected (T, T) = {(T, T)}")
        expect(got.dtype == torch.bool, f"{label} has dtype {got.dtype}; return a bool mask (SDPA ADDS a float mask "
               "to the scores, so a 0/1 float mask blocks nothing): torch.ones(T, T, dtype=torch.bool).tril()")
        expect(got.device.type == torch.device(dev).type,
               f"{label}'s device is {got.device}; build it on the device you are given (device=device)")
        ones = torch.ones(T, T, dtype=torch.bool, device=dev)
        expect_match(label, got, ones.tril(), [(DIAGONAL, ones.tril(-1)), (FUTURE.format(last=T - 1), ones.triu()),
                                               (MHA_CONVENTION, ~ones.tril())],
                     against="torch.ones(T, T, dtype=torch.bool).tril()")


# --- task: module ---------------------------------------------------------------------------------------


@check("SelfAttention(d_model, d_k, bias) holds w_q, w_k, w_v (d_model -> d_k) and w_o (d_k -> d_model)",
       task="module")
def module_layout(ctx):
    mod = ctx.load("self_attention")
    for d_model, d_k, bias in ((8, 4, True), (6, 6, False)):
        attn = build(mod, d_model, d_k, ctx.seed, "cpu", bias=bias)
        label = f"SelfAttention({d_model}, {d_k}{', bias=False' if not bias else ''})"
        for name, (i, o) in (("w_q", (d_model, d_k)), ("w_k", (d_model, d_k)), ("w_v", (d_model, d_k)),
                             ("w_o", (d_k, d_model))):
            layer = getattr(attn, name)
            expect((layer.in_features, layer.out_features) == (i, o), f"{label}.{name} is nn.Linear("
                   f"{layer.in_features}, {layer.out_features}); expected nn.Linear({i}, {o})")
            expect((layer.bias is not None) == bias, f"{label}.{name} {'has no' if bias else 'has a'} bias; "
                   f"pass bias=bias to every nn.Linear")
        layers = [attn.w_q, attn.w_k, attn.w_v, attn.w_o]
        for a, b in itertools.combinations(("w_q", "w_k", "w_v"), 2):
            expect(getattr(attn, a) is not getattr(attn, b), f"{label}.{a} and .{b} are the same nn.Linear: "
                   "queries, keys and values each need their own projection")
        want = 3 * (d_model * d_k + d_k * bias) + d_k * d_model + d_model * bias
        count = sum(p.numel() for p in attn.parameters())
        expect(count == want, f"{label} has {count} parameters; expected 3·(d_model·d_k{' + d_k' if bias else ''}) + "
               f"d_k·d_model{' + d_model' if bias else ''} = {want}, the four nn.Linear layers and nothing else")
        expect(all(any(p is q for q in attn.parameters()) for layer in layers for p in layer.parameters()),
               f"{label}: the projections' parameters are not registered in the module")


@check("SelfAttention.forward(x) equals SDPA on its own projections, then w_o (float64): out and weights",
       task="module")
def module_values(ctx):
    mod = ctx.load("self_attention")
    dev = float64_device(ctx)
    for d_model, d_k, B, T in ((8, 4, 2, 6), (6, 6, 3, 5)):
        attn = build(mod, d_model, d_k, ctx.seed, dev)
        x = rand((B, T, d_model), ctx.gen, dev)
        compare(attn, x, f"SelfAttention({d_model}, {d_k})(x {(B, T, d_model)})",
                "F.scaled_dot_product_attention on w_q(x), w_k(x), w_v(x), then w_o")


@check("SelfAttention: gradients w.r.t. x and every parameter equal the SDPA reference's", task="module")
def module_gradients(ctx):
    mod = ctx.load("self_attention")
    dev = float64_device(ctx)
    attn = build(mod, 8, 4, ctx.seed, dev)
    x = rand((2, 6, 8), ctx.gen, dev).requires_grad_(True)
    label = "SelfAttention(8, 4)(x (2, 6, 8))"
    out, weights = run(attn, x, label)
    expect(out.requires_grad, f"{label}'s out does not require grad although x and the weights do: something left "
           "the autograd graph (.detach(), .item(), .data, NumPy, torch.no_grad())")
    g = rand(tuple(out.shape), ctx.gen, dev)
    names = ["x"] + [n for n, _ in attn.named_parameters()]
    leaves = [x] + [p for _, p in attn.named_parameters()]
    mine = torch.autograd.grad((out * g).sum(), leaves, allow_unused=True)
    want = torch.autograd.grad((truth(attn, x)[0] * g).sum(), leaves)
    for name, got_g, want_g in zip(names, mine, want):
        expect(got_g is not None, f"no gradient reaches {name} through {label}: it is not used, or it left the "
               "autograd graph")
        expect_match(f"the gradient of {label} w.r.t. {name}", got_g, want_g, against="the SDPA reference's gradient")


@check("SelfAttention without positions is permutation-equivariant: permuting the tokens permutes out and weights",
       task="module")
def module_equivariance(ctx):
    mod = ctx.load("self_attention")
    dev = float64_device(ctx)
    attn = build(mod, 8, 4, ctx.seed, dev)
    x = rand((2, 6, 8), ctx.gen, dev)
    perm = torch.randperm(6, generator=ctx.gen).to(dev)
    label = "SelfAttention(8, 4)"
    out, weights = run(attn, x, f"{label}(x)")
    p_out, p_weights = run(attn, x[:, perm], f"{label}(x[:, perm])")
    order = [int(i) for i in perm]
    expect_match(f"{label}(x[:, perm]) with perm = {order}: out", p_out.detach(), out.detach()[:, perm],
                 atol=1e-12, rtol=1e-10, against=f"{label}(x)[:, perm]",
                 hint="with no causal mask and no padding, nothing in self-attention knows a token's position")
    expect_match(f"{label}(x[:, perm]) with perm = {order}: weights", p_weights.detach(),
                 weights.detach()[:, perm][:, :, perm], atol=1e-12, rtol=1e-10,
                 against=f"{label}(x)'s weights with rows and columns permuted")


# --- task: masks ----------------------------------------------------------------------------------------


@check("forward(x, causal=True) equals SDPA with the causal mask: position i attends to 0..i", task="masks")
def causal_values(ctx):
    mod = ctx.load("self_attention")
    dev = float64_device(ctx)
    attn = build(mod, 8, 4, ctx.seed, dev)
    x = rand((2, 6, 8), ctx.gen, dev)
    _, weights = compare(attn, x, "SelfAttention(8, 4)(x (2, 6, 8), causal=True)",
                         "F.scaled_dot_product_attention(..., is_causal=True)", causal=True)
    ctx.heatmap("causal attention weights, sequence 0", weights[0], row_title="query", col_title="key")


def first_leak(attn, x, gen, **kwargs):
    """(position, later token, change) for the first position whose output moves when one later token changes."""
    with torch.no_grad():
        base = run(attn, x, "SelfAttention(8, 4)(x, causal=True)", causal=True, **kwargs)[0]
        T = x.size(1)
        for p in range(T - 1):
            for j in range(T - 1, p, -1):
                x2 = x.clone()
                x2[:, j] = torch.randn(x2[:, j].shape, generator=gen, dtype=x.dtype).to(x.device) * 10
                moved = (run(attn, x2, "SelfAttention(8, 4)(x, causal=True)", causal=True, **kwargs)[0][:, p]
                         - base[:, p]).abs().max().item()
                if not moved == 0.0:
                    return p, j, moved
    return None


@check("causal=True: changing tokens t+1.. leaves the outputs at positions 0..t exactly unchanged", task="masks")
def causal_perturbation(ctx):
    mod = ctx.load("self_attention")
    dev = float64_device(ctx)
    attn = build(mod, 8, 4, ctx.seed, dev)
    x = rand((2, 6, 8), ctx.gen, dev)
    with torch.no_grad():
        base = run(attn, x, "SelfAttention(8, 4)(x, causal=True)", causal=True)[0]
        for t in range(5):
            x2 = x.clone()
            x2[:, t + 1:] = rand(tuple(x2[:, t + 1:].shape), ctx.gen, dev) * 10
            out2 = run(attn, x2, "SelfAttention(8, 4)(x, causal=True)", causal=True)[0]
            if not torch.equal(out2[:, :t + 1], base[:, :t + 1]):
                p, j, moved = first_leak(attn, x, ctx.gen) or (t, t + 1, (out2 - base)[:, :t + 1].abs().max().item())
                fail(f"SelfAttention(8, 4)(x, causal=True) leaks the future: position {p} sees position {j}. "
                     f"Changing token {j} moved the output at position {p} by {number(moved, 3)} (it must not move "
                     f"at all). Block key j > i with −inf: a finite fill such as −30 still gives e^−30 > 0 of "
                     "weight, and a mask on the wrong triangle lets every position read ahead")


@check("forward(x, key_padding_mask=...) equals SDPA with the padded keys blocked, at every real position "
       "(with and without causal)", task="masks")
def padding_values(ctx):
    mod = ctx.load("self_attention")
    dev = float64_device(ctx)
    attn = build(mod, 8, 4, ctx.seed, dev)
    x = rand((3, 6, 8), ctx.gen, dev)
    kpm = padding((6, 4, 2), dev)
    for causal in (False, True):
        label = (f"SelfAttention(8, 4)(x (3, 6, 8), {'causal=True, ' if causal else ''}key_padding_mask for lengths "
                 "(6, 4, 2), at the real positions)")
        out, weights = compare(attn, x, label, "F.scaled_dot_product_attention with the padded keys blocked",
                               causal=causal, kpm=kpm)
        bad = ~torch.isfinite(weights.detach()).all(-1)
        if bad.any():
            b, t = (int(i) for i in torch.nonzero(bad)[0])
            fail(f"{label}: the weights of padded position {t} of sequence {b} are not finite "
                 f"({number(weights[b, t, 0].item())} at key 0): a padded position should still attend to the real "
                 "ones (its output is ignored, but a nan there poisons the gradients); mask only the keys")


@check("key_padding_mask: changing the content of padded positions leaves every real position's output exactly "
       "unchanged", task="masks")
def padding_perturbation(ctx):
    mod = ctx.load("self_attention")
    dev = float64_device(ctx)
    attn = build(mod, 8, 4, ctx.seed, dev)
    x = rand((3, 6, 8), ctx.gen, dev)
    kpm = padding((6, 4, 2), dev)
    x2 = torch.where(kpm[..., None], rand((3, 6, 8), ctx.gen, dev) * 100, x)
    for causal in (False, True):
        label = f"SelfAttention(8, 4)(x, {'causal=True, ' if causal else ''}key_padding_mask)"
        with torch.no_grad():
            a = run(attn, x, label, causal=causal, key_padding_mask=kpm)[0]
            b = run(attn, x2, label, causal=causal, key_padding_mask=kpm)[0]
        moved = (a - b).abs().amax(-1).masked_fill(kpm, 0.0)
        if moved.max().item() != 0.0:
            s, t = (int(i) for i in torch.nonzero(moved == moved.max())[0])
            fail(f"{label}: changing only the padded positions moved the output at real position {t} of sequence "
                 f"{s} by {number(moved[s, t].item(), 3)}; it must not move at all. The padded keys must get weight "
                 "exactly 0: fill their scores with −inf (a finite fill such as −30 still leaks)")


@check("autograd gradient check (float64) of forward(x, causal=True, key_padding_mask) w.r.t. x and the weights",
       task="masks")
def masks_gradcheck(ctx):
    mod = ctx.load("self_attention")
    dev = float64_device(ctx)
    attn = build(mod, 4, 3, ctx.seed, dev)
    names = [n for n, _ in attn.named_parameters()]
    params = [p.detach().clone().requires_grad_(True) for _, p in attn.named_parameters()]
    x = rand((2, 4, 4), ctx.gen, dev).requires_grad_(True)
    kpm = padding((4, 3), dev)

    def fn(x, *ps):
        with forbid(*BANNED, reason=REASON, caller="SelfAttention.forward"):
            out = torch.func.functional_call(attn, dict(zip(names, ps)), (x,),
                                             {"causal": True, "key_padding_mask": kpm})[0]
        return out.masked_fill(kpm[..., None], 0.0)  # what a padded position computes is free

    expect_gradcheck(fn, [x] + params, "SelfAttention(4, 3)(x (2, 4, 4), causal=True, key_padding_mask) w.r.t. x "
                     "and " + ", ".join(names))


@check("forward() keeps the dtype and device of x (float32 on the check's device) and matches SDPA there",
       task="masks")
def masks_float32(ctx):
    mod = ctx.load("self_attention")
    attn = build(mod, 8, 4, ctx.seed, ctx.device, dtype=torch.float32)
    x = rand((3, 6, 8), ctx.gen, ctx.device, dtype=torch.float32)
    kpm = padding((6, 4, 2), ctx.device)
    label = "SelfAttention(8, 4) in float32 (x, causal=True, key_padding_mask)"
    out, weights = run(attn, x, label, causal=True, key_padding_mask=kpm)
    for what, t in (("out", out), ("weights", weights)):
        expect(t.dtype == x.dtype and t.device == x.device, f"{label}'s {what} is {t.dtype} on {t.device}; x is "
               f"{x.dtype} on {x.device}: build masks on x.device (causal_mask(T, device=x.device))")
    with torch.no_grad():
        want = truth(attn, x, True, kpm)
    expect_match(label, real_rows((out.detach(), weights.detach()), kpm), real_rows(want, kpm),
                 atol=1e-5, rtol=1e-4, against="F.scaled_dot_product_attention in float32")


# --- task: multihead ------------------------------------------------------------------------------------

BLOCKS = ("q", "k", "v")


def order_message(order, what="in_proj_weight"):
    return (f"the blocks of {what} are read in the order ({', '.join(order)}); nn.MultiheadAttention packs "
            "them as (q, k, v): rows 0:d are w_q, d:2d w_k, 2d:3d w_v")


ROUNDED = ("the weights were rounded to float32: copying into a new (float32) SelfAttention and converting it "
           "afterwards loses every digit beyond float32's 7; move the module to mha's dtype and device FIRST, "
           "SelfAttention(d, d).to(mha.in_proj_weight), then copy")
TRANSPOSED = ("the weights are copied transposed: nn.Linear and nn.MultiheadAttention both store (out_features, "
              "in_features) and compute x @ Wᵀ, so copy the blocks as they are, without .T")


def make_mha(d, bias, seed, dev):
    torch.manual_seed(seed)
    mha = nn.MultiheadAttention(d, 1, batch_first=True, bias=bias).to(device=dev, dtype=F64)
    with torch.no_grad():  # PyTorch starts the biases at 0, and the weights are float32 numbers: make both count
        for p in mha.parameters():
            p.add_(torch.randn_like(p), alpha=0.5 if p.dim() == 1 else 1e-3)
    return mha


def loaded(mod, mha, label):
    try:
        attn = mod.from_multihead(mha)
    except NotImplementedError:
        raise
    except RuntimeError as error:
        d = mha.embed_dim
        fail(f"{label} raised RuntimeError: {str(error).splitlines()[0]}. in_proj_weight is (3·d, d) = {(3 * d, d)}: "
             "split its ROWS into three (d, d) blocks, in_proj_weight.chunk(3, dim=0), and copy each into an "
             "nn.Linear(d, d) weight, which is (out, in) = (d, d) too")
    expect_type(attn, mod.SelfAttention, label)
    d = mha.embed_dim
    for name in ("w_q", "w_k", "w_v", "w_o"):
        w = getattr(getattr(attn, name, None), "weight", None)
        expect(isinstance(w, torch.Tensor), f"{label}.{name} has no weight; it must be an nn.Linear")
        expect(tuple(w.shape) == (d, d), f"{label}.{name}.weight has shape {tuple(w.shape)}; expected (d, d) = "
               f"{(d, d)}: in_proj_weight is (3·d, d) = {(3 * d, d)}, split its ROWS, chunk(3, dim=0)")
        expect(w.dtype == F64 and w.device == mha.in_proj_weight.device, f"{label}.{name}.weight is {w.dtype} on "
               f"{w.device}; mha is float64 on {mha.in_proj_weight.device}: move the new module to the same dtype and "
               "device, .to(mha.in_proj_weight)")
    return attn


def weight_dict(attn):
    return {n: getattr(attn, n).weight.detach() for n in ("w_q", "w_k", "w_v", "w_o")}


@check("from_multihead(mha) copies in_proj_weight's blocks (q, k, v), in_proj_bias and out_proj", task="multihead")
def multihead_copy(ctx):
    mod = ctx.load("self_attention")
    dev = float64_device(ctx)
    for bias in (True, False):
        mha = make_mha(6, bias, ctx.seed, dev)
        label = f"from_multihead(nn.MultiheadAttention(6, 1, bias={bias}))"
        attn = loaded(mod, mha, label)
        blocks = dict(zip(BLOCKS, mha.in_proj_weight.detach().chunk(3)))
        want = {"w_q": blocks["q"], "w_k": blocks["k"], "w_v": blocks["v"], "w_o": mha.out_proj.weight.detach()}
        table = [(order_message(p), {"w_q": blocks[p[0]], "w_k": blocks[p[1]], "w_v": blocks[p[2]],
                                     "w_o": want["w_o"]}) for p in itertools.permutations(BLOCKS) if p != BLOCKS]
        table.append((ROUNDED, {n: w.float().double() for n, w in want.items()}))
        table.append((TRANSPOSED, {n: w.T for n, w in want.items()}))
        table.append((TRANSPOSED, {**{n: w.T for n, w in want.items()}, "w_o": want["w_o"]}))
        expect_match(f"{label}'s weight copy", weight_dict(attn), want, table, atol=0.0, rtol=0.0,
                     against="mha's in_proj_weight blocks and out_proj.weight",
                     hint="copy in_proj_weight[0:d], [d:2d], [2d:3d] into w_q, w_k, w_v and out_proj.weight into w_o")
        for name in ("w_q", "w_k", "w_v", "w_o"):
            expect((getattr(attn, name).bias is not None) == bias, f"{label}.{name} {'has no' if bias else 'has a'} "
                   "bias; build SelfAttention(d, d, bias=mha.in_proj_bias is not None)")
        if bias:
            b = dict(zip(BLOCKS, mha.in_proj_bias.detach().chunk(3)))
            got = {n: getattr(attn, n).bias.detach() for n in ("w_q", "w_k", "w_v", "w_o")}
            want_b = {"w_q": b["q"], "w_k": b["k"], "w_v": b["v"], "w_o": mha.out_proj.bias.detach()}
            expect_match(f"{label}'s bias copy", got, want_b,
                         [(order_message(p, "in_proj_bias"), {"w_q": b[p[0]], "w_k": b[p[1]], "w_v": b[p[2]],
                                                               "w_o": want_b["w_o"]})
                          for p in itertools.permutations(BLOCKS) if p != BLOCKS]
                         + [(ROUNDED, {n: t.float().double() for n, t in want_b.items()})], atol=0.0, rtol=0.0,
                         against="mha's in_proj_bias blocks and out_proj.bias",
                         hint="the biases must be copied too: in_proj_bias[0:d], [d:2d], [2d:3d] into w_q.bias, "
                              "w_k.bias, w_v.bias and out_proj.bias into w_o.bias")


@check("from_multihead(mha)(x) equals nn.MultiheadAttention(d, 1, batch_first=True): no mask, causal "
       "(attn_mask True = blocked) and key_padding_mask (True = padding)", task="multihead")
def multihead_values(ctx):
    mod = ctx.load("self_attention")
    dev = float64_device(ctx)
    mha = make_mha(6, True, ctx.seed, dev)
    attn = loaded(mod, mha, "from_multihead(nn.MultiheadAttention(6, 1))")
    x = rand((3, 5, 6), ctx.gen, dev)
    kpm = padding((5, 3, 4), dev)
    blocked = torch.ones(5, 5, dtype=torch.bool, device=dev).triu(1)  # nn.MultiheadAttention: True = blocked
    for causal, pad in ((False, None), (True, None), (False, kpm), (True, kpm)):
        what = ", ".join(s for s in ("causal=True" if causal else "", "key_padding_mask" if pad is not None else "")
                         if s)
        label = f"from_multihead(mha)(x (3, 5, 6){', ' + what if what else ''})"
        with torch.no_grad():
            want = mha(x, x, x, attn_mask=blocked if causal else None, key_padding_mask=pad, need_weights=True)
        got = run(attn, x, label, causal=causal, key_padding_mask=pad)
        expect_match(label, real_rows(tuple(t.detach() for t in got), pad), real_rows(tuple(want), pad),
                     [(why, (lambda f=f: real_rows(f(), pad))) for why, f in mistakes(attn, x, causal, pad, got[1])],
                     against=f"nn.MultiheadAttention(6, 1, batch_first=True)(x, x, x"
                             f"{', attn_mask=ones(5, 5).triu(1) (True = blocked)' if causal else ''}"
                             f"{', key_padding_mask' if pad is not None else ''})")

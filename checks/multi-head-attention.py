"""Check: split_heads / merge_heads, the parameter count, and MultiHeadAttention vs nn.MultiheadAttention.

split_heads must give head i the contiguous features i·d_k:(i+1)·d_k, as (B, h, T, d_k); merge_heads
must concatenate the heads back in order. mha_params must equal the parameter count of
nn.MultiheadAttention (4·d² + 4·d with biases, whatever the number of heads). MultiHeadAttention gets
nn.MultiheadAttention(batch_first=True)'s weights copied in (in_proj_weight's three row blocks q, k, v,
in_proj_bias, out_proj) and must then equal it in float64: self- and cross-attention (T_q ≠ T_k, key ≠
value), head-averaged and per-head weights, key_padding_mask (True = padding), bool attn_mask (True =
blocked) and float attn_mask (added), gradients of the inputs and of every parameter. On a mismatch the
classic mistakes (view without the transpose, heads along the wrong axis, concatenation order, scale by
√d_model, no output projection, shared projections, masks the wrong way round ...) are recomputed and named.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from tutor.checking import check, expect, expect_match, expect_type, fail, float64_device, forbid, forbid_subclass
from tutor.checking.counts import expect_count, parameter_count
from tutor.checking.formatting import number

F64 = torch.float64
NEG = float("-inf")
BANNED = (nn.MultiheadAttention, "multi_head_attention_forward", F.scaled_dot_product_attention)
REASON = ("the exercise is to write multi-head attention from the projections, reshapes, a matrix product and a "
          "softmax; nn.MultiheadAttention is the reference the check compares with")
NAMES = ("w_q", "w_k", "w_v", "w_o")

# --- the named mistakes ---------------------------------------------------------------------------------

SPLIT_NO_TRANSPOSE = ("the heads are cut with x.view(B, h, T, d_k) (or reshape) and no transpose: that slices the "
                      "flat T·d_model numbers of each sequence into h chunks, so a 'head' mixes features of different "
                      "positions. View the features as (h, d_k) first, then move the head axis forward: "
                      "x.view(B, T, h, d_k).transpose(1, 2)")
WRONG_AXIS = ("the heads are split along the wrong axis, x.view(B, T, d_k, h): head i gets the strided features "
              "i, i+h, i+2h, ... instead of the contiguous block i·d_k:(i+1)·d_k that nn.MultiheadAttention gives it. "
              "Put h before d_k: x.view(B, T, h, d_k).transpose(1, 2)")
MERGE_NO_TRANSPOSE = ("the heads are concatenated without moving the head axis back: reshape(B, T, d_model) of a "
                      "(B, h, T, d_k) tensor mixes positions. Transpose first: x.transpose(1, 2).reshape(B, T, h·d_k)")
MERGE_INTERLEAVED = ("the heads are concatenated in the wrong order (interleaved feature by feature, as from a "
                     "(B, T, d_k, h) layout): out feature i·d_k + j must be feature j of head i, "
                     "x.transpose(1, 2).reshape(B, T, h·d_k)")
SCALE_D_MODEL = ("the scores are divided by √d_model = √{d_model}; each head compares vectors of size "
                 "d_k = d_model / h = {d_k}, so divide by √d_k = √{d_k}")
NO_SCALE = "the scores are not scaled: divide q kᵀ by √d_k = √{d_k} (d_k = d_model / h) before the softmax"
SCALE_D_K = "the scores are divided by d_k = {d_k}; divide by its square root, √d_k"
QUERY_DIM = ("the softmax runs over the queries (dim=-2 of the (B, h, T_q, T_k) scores): each query's weights over "
             "the KEYS must sum to 1, softmax(scores, dim=-1)")
NO_OUT = ("there is no output projection: the concatenated heads must go through w_o, out = w_o(merge_heads(...)) "
          "(nn.MultiheadAttention's out_proj)")
SHARED_ALL = ("one projection is used for the queries, keys and values (w_q for all three): q = w_q(query), "
              "k = w_k(key), v = w_v(value), each its own")
SHARED_QK = "the keys come from w_q: k = self.w_k(key), its own projection"
KV_FROM_QUERY = ("the keys and values are projected from `query`: k = w_k(key), v = w_v(value); in cross-attention "
                 "they come from the other sequence")
KV_SWAPPED = ("key and value are swapped: k = w_k(key), v = w_v(value) (forward(query, key, value) takes them in "
              "this order)")
SUM_HEADS = "the weights are summed over the heads; average_attn_weights=True asks for the MEAN, weights.mean(dim=1)"
AVG_SCORES = ("the scores are averaged over the heads before the softmax; nn.MultiheadAttention averages the heads' "
              "WEIGHTS: softmax per head, then weights.mean(dim=1)")
ONE_HEAD = "the weights are those of head {head} only; average over all the heads: weights.mean(dim=1)"
ATTN_POLARITY = ("the bool attn_mask is read as 'True = may attend' (F.scaled_dot_product_attention's convention); "
                 "nn.MultiheadAttention's bool attn_mask is True where attending is BLOCKED: "
                 "masked_fill(attn_mask, -inf)")
ATTN_BOOL_ADDED = ("the bool attn_mask is added to the scores like a float mask (True adds 1.0, it blocks nothing); "
                   "a bool mask blocks: scores.masked_fill(attn_mask, -inf), a float mask is added")
FLOAT_IGNORED = "the float attn_mask is ignored: a float mask is ADDED to the scaled scores (its −inf entries block)"
KPM_POLARITY = ("the key_padding_mask is read with the wrong polarity: it is True at PADDING, so block where it is "
                "True, masked_fill(key_padding_mask[:, None, None, :], -inf)")
KPM_QUERIES = ("the key_padding_mask blocks QUERIES (rows) instead of KEYS (columns): give it axes for the heads and "
               "the queries, key_padding_mask[:, None, None, :] is (B, 1, 1, T_k)")
KPM_HEADS = ("the key_padding_mask is broadcast as key_padding_mask[:, None, :], (B, 1, T_k), against the 4-D scores "
             "(B, h, T_q, T_k): it lines up as (1, B, 1, T_k), so sequence i's padding is applied to HEAD i of every "
             "sequence. Add both missing axes: key_padding_mask[:, None, None, :]")
KPM_IGNORED = "key_padding_mask is ignored: padded keys get weight; block them with −inf before the softmax"
FILL_ZERO = ("blocked scores are filled with 0 instead of −inf: a score of 0 still gets weight e⁰ in the softmax; "
             "masked_fill(..., float('-inf')) makes the weight exactly 0")
ZERO_AFTER = ("the mask is applied after the softmax (blocked weights zeroed): the remaining weights no longer sum "
              "to 1; mask the SCORES with −inf, then take the softmax")
ERROR_HINT = ("split the heads with x.view(B, T, h, d_k).transpose(1, 2) (the keys have T_k positions, the queries "
              "T_q); the scores are q @ k.transpose(-2, -1); merge with x.transpose(1, 2).reshape(B, T, d_model) "
              "(.view fails on a transposed tensor); key_padding_mask (B, T_k) needs axes for the heads and the "
              "queries, key_padding_mask[:, None, None, :]")

# --- split and merge ------------------------------------------------------------------------------------


def split(x, h, how="right"):
    B, T, d = x.shape
    if how == "no_transpose":
        return x.reshape(B, h, T, d // h)
    if how == "wrong_axis":
        return x.reshape(B, T, d // h, h).permute(0, 3, 1, 2)
    return x.reshape(B, T, h, d // h).transpose(1, 2)


def merge(y, how="right"):
    B, h, T, d_k = y.shape
    if how == "no_transpose":
        return y.reshape(B, T, h * d_k)
    if how == "wrong_axis":
        return y.permute(0, 2, 3, 1).reshape(B, T, h * d_k)
    return y.transpose(1, 2).reshape(B, T, h * d_k)


HEADS = {"split_no_transpose": ("no_transpose", "right"), "split_no_transpose_both": ("no_transpose", "no_transpose"),
         "wrong_axis": ("wrong_axis", "right"), "wrong_axis_both": ("wrong_axis", "wrong_axis"),
         "merge_no_transpose": ("right", "no_transpose"), "merge_interleaved": ("right", "wrong_axis")}

# --- the reference, right or with one mistake -----------------------------------------------------------


def proj(layer, x):
    return F.linear(x, layer.weight, layer.bias)


def blocked_and_added(kpm, attn_mask, variant, dtype):
    """(bool blocked (B or 1, h or 1, T_q, T_k) or None, float added or None) for the variant."""
    blocked, added = None, None

    def block(m):
        nonlocal blocked
        blocked = m if blocked is None else blocked | m

    if attn_mask is not None and attn_mask.dtype == torch.bool:
        if variant == "attn_polarity":
            block(~attn_mask)
        elif variant == "attn_bool_added":
            added = attn_mask.to(dtype)
        else:
            block(attn_mask)
    elif attn_mask is not None and variant != "float_ignored":
        added = attn_mask
    if kpm is not None and variant != "kpm_ignored":
        if variant == "kpm_polarity":
            block(~kpm[:, None, None, :])
        elif variant == "kpm_queries":
            block(kpm[:, None, :, None])
        elif variant == "kpm_heads":
            block(kpm[:, None, :])  # (B, 1, T_k): lines up with the heads, not the batch (B == h only)
        else:
            block(kpm[:, None, None, :])
    return blocked, added


def reference(attn, query, key, value, kpm=None, attn_mask=None, average=True, variant=""):
    """(out, weights) computed from attn's own layers, right or with one named mistake."""
    h = attn.num_heads_for_check
    s_how, m_how = HEADS.get(variant, ("right", "right"))
    wq, wk, wv = attn.w_q, attn.w_k, attn.w_v
    if variant == "shared_all":
        wk = wv = wq
    if variant == "shared_qk":
        wk = wq
    key_in, value_in = key, value
    if variant == "kv_from_query":
        key_in = value_in = query
    if variant == "kv_swapped":
        key_in, value_in = value, key
    q, k, v = split(proj(wq, query), h, s_how), split(proj(wk, key_in), h, s_how), split(proj(wv, value_in), h, s_how)
    d_k, d_model = q.size(-1), query.size(-1)
    scale = {"scale_d_model": math.sqrt(d_model), "no_scale": 1.0, "scale_d_k": d_k}.get(variant, math.sqrt(d_k))
    scores = q @ k.transpose(-2, -1) / scale
    blocked, added = blocked_and_added(kpm, attn_mask, variant, scores.dtype)
    if added is not None:
        scores = scores + added
    if blocked is not None and variant != "zero_after":
        scores = scores.masked_fill(blocked, 0.0 if variant == "fill_zero" else NEG)
    weights = scores.softmax(-2 if variant == "query_dim" else -1)
    if blocked is not None and variant == "zero_after":
        weights = weights.masked_fill(blocked, 0.0)
    mixed = merge(weights @ v, m_how)
    out = mixed if variant == "no_out" else proj(attn.w_o, mixed)
    if not average:
        return out, weights
    averaged = {"sum_heads": lambda: weights.sum(1), "first_head": lambda: weights[:, 0],
                "last_head": lambda: weights[:, -1],
                "avg_scores": lambda: scores.mean(1).softmax(-1)}.get(variant, lambda: weights.mean(1))()
    return out, averaged


def mistakes(attn, query, key, value, kpm=None, attn_mask=None, average=True):
    """[(why, lambda)] for expect_match: the mistakes that can show in this call."""
    d_model = query.size(-1)
    h = attn.num_heads_for_check
    d_k = d_model // h
    table = [(SPLIT_NO_TRANSPOSE, "split_no_transpose"), (SPLIT_NO_TRANSPOSE, "split_no_transpose_both"),
             (WRONG_AXIS, "wrong_axis"), (WRONG_AXIS, "wrong_axis_both"), (MERGE_NO_TRANSPOSE, "merge_no_transpose"),
             (MERGE_INTERLEAVED, "merge_interleaved"),
             (SCALE_D_MODEL.format(d_model=d_model, d_k=d_k), "scale_d_model"), (NO_SCALE.format(d_k=d_k), "no_scale"),
             (SCALE_D_K.format(d_k=d_k), "scale_d_k"), (QUERY_DIM, "query_dim"), (NO_OUT, "no_out"),
             (SHARED_ALL, "shared_all"), (SHARED_QK, "shared_qk"), (KV_FROM_QUERY, "kv_from_query"),
             (KV_SWAPPED, "kv_swapped")]
    if average:
        table += [(SUM_HEADS, "sum_heads"), (AVG_SCORES, "avg_scores"), (ONE_HEAD.format(head=0), "first_head"),
                  (ONE_HEAD.format(head=h - 1), "last_head")]
    if attn_mask is not None:
        table += ([(ATTN_POLARITY, "attn_polarity"), (ATTN_BOOL_ADDED, "attn_bool_added")]
                  if attn_mask.dtype == torch.bool else [(FLOAT_IGNORED, "float_ignored")])
    if kpm is not None:
        table += [(KPM_POLARITY, "kpm_polarity"), (KPM_HEADS, "kpm_heads"), (KPM_IGNORED, "kpm_ignored")]
        if query.size(1) == key.size(1):
            table.append((KPM_QUERIES, "kpm_queries"))
    if attn_mask is not None or kpm is not None:
        table += [(FILL_ZERO, "fill_zero"), (ZERO_AFTER, "zero_after")]
    return [(why, (lambda v=v: reference(attn, query, key, value, kpm, attn_mask, average, v))) for why, v in table]


# --- building and running -------------------------------------------------------------------------------


def rand(shape, gen, dev, dtype=F64):
    return torch.randn(shape, generator=gen, dtype=dtype).to(dev)


def padding(lengths, dev, T=None):
    T = T or max(lengths)
    return (torch.arange(T)[None, :] >= torch.tensor(lengths)[:, None]).to(dev)  # True at padding


def make_mha(d, h, seed, dev, dtype=F64, bias=True):
    """nn.MultiheadAttention(d, h, batch_first=True) in training mode (no fast path), biases made to count."""
    torch.manual_seed(seed)
    mha = nn.MultiheadAttention(d, h, batch_first=True, bias=bias).to(device=dev, dtype=dtype)
    with torch.no_grad():  # PyTorch starts the biases at 0
        for p in (mha.in_proj_bias, mha.out_proj.bias) if bias else ():
            p.normal_(0.0, 0.5)
    return mha


def build(mod, d, h, seed, dev, dtype=F64, bias=True):
    """The learner's MultiHeadAttention(d, h) after a layout check, on dev in dtype."""
    forbid_subclass(mod.MultiHeadAttention, nn.MultiheadAttention, reason=REASON)
    torch.manual_seed(seed)
    label = f"MultiHeadAttention({d}, {h}{'' if bias else ', bias=False'})"
    attn = mod.MultiHeadAttention(d, h) if bias else mod.MultiHeadAttention(d, h, bias=False)
    expect_type(attn, nn.Module, label)
    for name in NAMES:
        layer = getattr(attn, name, None)
        expect(isinstance(layer, nn.Linear), f"{label}.{name} is {type(layer).__name__}; make it an "
               f"nn.Linear({d}, {d})" + (f": {NO_OUT}" if name == "w_o" else ""))
        expect((layer.in_features, layer.out_features) == (d, d), f"{label}.{name} is nn.Linear({layer.in_features}, "
               f"{layer.out_features}); expected nn.Linear({d}, {d}): all h heads together are d_model = {d} wide "
               f"(h · d_k = {h} · {d // h})")
        expect((layer.bias is not None) == bias, f"{label}.{name} {'has no' if bias else 'has a'} bias; pass "
               "bias=bias to every nn.Linear")
    for a, b in (("w_q", "w_k"), ("w_q", "w_v"), ("w_k", "w_v")):
        expect(getattr(attn, a) is not getattr(attn, b), f"{label}.{a} and .{b} are the same nn.Linear: {SHARED_ALL}")
    attn.num_heads_for_check = h
    return attn.to(device=dev, dtype=dtype)


def load_from(attn, mha):
    """Copy mha's packed weights into the learner's four nn.Linear layers."""
    w = mha.in_proj_weight.detach().chunk(3)
    b = mha.in_proj_bias.detach().chunk(3) if mha.in_proj_bias is not None else (None,) * 3
    with torch.no_grad():
        for name, wi, bi in zip(NAMES, w + (mha.out_proj.weight.detach(),), b + (
                None if mha.out_proj.bias is None else mha.out_proj.bias.detach(),)):
            layer = getattr(attn, name)
            layer.weight.copy_(wi)
            if bi is not None:
                layer.bias.copy_(bi)
    return attn


def pair(mod, d, h, seed, dev, dtype=F64):
    """(the learner's module holding mha's weights, mha): nn.MultiheadAttention(d, h) and its copy."""
    mha = make_mha(d, h, seed, dev, dtype)
    return load_from(build(mod, d, h, seed, dev, dtype), mha), mha


def run(attn, label, query, key, value, **kwargs):
    """The learner's attn(query, key, value, **kwargs) under the ban; checks the pair and its shapes."""
    with forbid(*BANNED, reason=REASON, caller="MultiHeadAttention.forward"):
        try:
            got = attn(query, key, value, **kwargs)
        except NotImplementedError:
            raise
        except RuntimeError as error:
            fail(f"{label} raised RuntimeError: {str(error).splitlines()[0].rstrip('.')}. {ERROR_HINT}")
    expect(isinstance(got, (tuple, list)) and len(got) == 2, f"{label} returned {type(got).__name__}; return the "
           "pair (out, weights), like nn.MultiheadAttention")
    out, weights = got
    expect_type(out, torch.Tensor, f"{label}'s out")
    B, T_q, d = query.shape
    T_k, h = key.size(1), attn.num_heads_for_check
    expect(tuple(out.shape) == (B, T_q, d), f"{label}'s out has shape {tuple(out.shape)}; expected (B, T_q, d_model) "
           f"= {(B, T_q, d)}")
    if not kwargs.get("need_weights", True):
        expect(weights is None, f"{label} returned weights of type {type(weights).__name__}; with need_weights=False "
               "return (out, None), as nn.MultiheadAttention does")
        return out, None
    expect_type(weights, torch.Tensor, f"{label}'s weights")
    average = kwargs.get("average_attn_weights", True)
    want = (B, T_q, T_k) if average else (B, h, T_q, T_k)
    shape = tuple(weights.shape)
    if shape != want:
        why = ""
        if average and shape == (B, h, T_q, T_k):
            why = ": average_attn_weights=True (the default) asks for the mean over the heads, weights.mean(dim=1)"
        elif not average and shape == (B, T_q, T_k):
            why = ": average_attn_weights=False asks for every head's weights, (B, h, T_q, T_k), not their mean"
        elif T_q != T_k and shape[-1] == T_q:
            why = f": {KV_FROM_QUERY}"
        fail(f"{label}'s weights have shape {shape}; expected {'(B, T_q, T_k)' if average else '(B, h, T_q, T_k)'} "
             f"= {want}{why}")
    return out, weights


def named(out, weights):
    """{'out': ..., 'weights': ...}: a mismatch message then says which of the two is off."""
    return {"out": out, "weights": weights}


def compare(attn, mha, label, query, key, value, **kwargs):
    """The learner's (out, weights) must equal mha's; a mismatch is matched against the mistakes."""
    got = run(attn, label, query, key, value, **kwargs)
    with torch.no_grad():
        want = mha(query, key, value, **kwargs)
    kpm, attn_mask = kwargs.get("key_padding_mask"), kwargs.get("attn_mask")
    average = kwargs.get("average_attn_weights", True)
    expect_match(label, named(*(t.detach() for t in got)), named(*want),
                 [(why, (lambda f=f: named(*f()))) for why, f in mistakes(attn, query, key, value, kpm, attn_mask,
                                                                          average)],
                 against=f"nn.MultiheadAttention({query.size(-1)}, {attn.num_heads_for_check}, batch_first=True) "
                         "with the same weights")
    return got


# --- task: heads ----------------------------------------------------------------------------------------


@check("split_heads(x, h) is (B, h, T, d_k), head i holding the features i·d_k:(i+1)·d_k", task="heads")
def split_values(ctx):
    mod = ctx.load("multihead_attention")
    dev = float64_device(ctx)
    for B, T, d, h in ((2, 3, 8, 2), (3, 5, 12, 4), (2, 4, 6, 1)):
        x = rand((B, T, d), ctx.gen, dev)
        label = f"split_heads(x {(B, T, d)}, {h})"
        got = mod.split_heads(x, h)
        expect_type(got, torch.Tensor, label)
        shape = tuple(got.shape)
        if shape == (B, T, h, d // h) and h != T:
            fail(f"{label} has shape {shape} = (B, T, h, d_k); expected (B, h, T, d_k) = {(B, h, T, d // h)}: move the "
                 "head axis in front of the positions, .transpose(1, 2)")
        expect(shape == (B, h, T, d // h), f"{label} has shape {shape}; expected (B, h, T, d_k) = {(B, h, T, d // h)}")
        expect_match(label, got, split(x, h), [(SPLIT_NO_TRANSPOSE, split(x, h, "no_transpose")),
                                               (WRONG_AXIS, split(x, h, "wrong_axis"))],
                     atol=0.0, rtol=0.0, against="x.view(B, T, h, d_k).transpose(1, 2)")


@check("merge_heads(y) concatenates the heads in order (the inverse of split_heads), also for a transposed y",
       task="heads")
def merge_values(ctx):
    mod = ctx.load("multihead_attention")
    dev = float64_device(ctx)
    for B, h, T, d_k, contiguous in ((2, 2, 3, 4, True), (3, 4, 5, 3, False)):
        # (B, h, T, d_k): contiguous like weights @ v, or transposed like split_heads' output
        y = rand((B, h, T, d_k), ctx.gen, dev) if contiguous else rand((B, T, h, d_k), ctx.gen, dev).transpose(1, 2)
        label = f"merge_heads(y {(B, h, T, d_k)})"
        try:
            got = mod.merge_heads(y)
        except NotImplementedError:
            raise
        except RuntimeError as error:
            first = str(error).splitlines()[0].rstrip(".")
            fail(f"{label} raised RuntimeError: {first}. After transpose(1, 2) the tensor is not "
                 "contiguous in memory and .view cannot regroup it: use .reshape(B, T, h·d_k), or "
                 ".contiguous().view(B, T, h·d_k)")
        expect_type(got, torch.Tensor, label)
        expect(tuple(got.shape) == (B, T, h * d_k), f"{label} has shape {tuple(got.shape)}; expected (B, T, h·d_k) = "
               f"{(B, T, h * d_k)}")
        expect_match(label, got, merge(y), [(MERGE_NO_TRANSPOSE, merge(y, "no_transpose")),
                                            (MERGE_INTERLEAVED, merge(y, "wrong_axis"))],
                     atol=0.0, rtol=0.0, against="y.transpose(1, 2).reshape(B, T, h·d_k)")
    x = rand((2, 3, 8), ctx.gen, dev)
    expect_match("merge_heads(split_heads(x (2, 3, 8), 2))", mod.merge_heads(mod.split_heads(x, 2)), x,
                 atol=0.0, rtol=0.0, against="x itself")


# --- task: params ---------------------------------------------------------------------------------------


@check("mha_params(d_model, num_heads, bias) equals the parameter count of nn.MultiheadAttention", task="params")
def params_count(ctx):
    mod = ctx.load("multihead_attention")
    for d, h, bias in ((8, 2, True), (512, 8, True), (512, 1, True), (512, 8, False), (768, 12, True)):
        label = f"mha_params({d}, {h}{'' if bias else ', bias=False'})"
        want = parameter_count(nn.MultiheadAttention(d, h, bias=bias, device="meta"))
        d_k, b = d // h, int(bias)
        table = [("the biases are left out: each of the four nn.Linear layers also has d_model biases, 4·d_model",
                  4 * d * d) if bias else None,
                 ("the output projection is left out: four d_model × d_model matrices (W_q, W_k, W_v and W_o), "
                  "each with its bias", 3 * d * d + 3 * d * b),
                 ("it counts one d_model × d_model set per HEAD; the heads share the four matrices, each head uses "
                  f"only its own d_k = {d_k} rows of W_q, W_k, W_v: the count does not depend on num_heads",
                  h * (4 * d * d + 4 * d * b)),
                 ("it counts projections of size d_model × d_k for all the heads together; W_q, W_k, W_v and W_o are "
                  "each d_model × d_model (h heads of d_k columns)", 4 * d * d_k + 4 * d_k * b),
                 ("the bias of the output projection is missing (4·d_model biases in all)", 4 * d * d + 3 * d)
                 if bias else None]
        expect_count(label, mod.mha_params(d, h, bias=bias), want, [t for t in table if t is not None],
                     against="sum(p.numel() for p in nn.MultiheadAttention(...).parameters())")


@check("MultiHeadAttention(d_model, h) holds w_q, w_k, w_v, w_o = nn.Linear(d_model, d_model) and "
       "nothing else; mha_params counts it", task="params")
def module_layout(ctx):
    mod = ctx.load("multihead_attention")
    for d, h, bias in ((8, 2, True), (12, 3, False)):
        attn = build(mod, d, h, ctx.seed, "cpu", bias=bias)
        count = parameter_count(attn)
        want = 4 * d * d + 4 * d * bias
        expect(count == want, f"MultiHeadAttention({d}, {h}{'' if bias else ', bias=False'}) has {count:,} parameters; "
               f"expected 4·d²{' + 4·d' if bias else ''} = {want:,}: the four nn.Linear layers and nothing else")


@check("MultiHeadAttention(d_model, h) raises ValueError when h does not divide d_model", task="params")
def not_divisible(ctx):
    mod = ctx.load("multihead_attention")
    for d, h in ((10, 3), (6, 4)):
        label = f"MultiHeadAttention({d}, {h})"
        try:
            mod.MultiHeadAttention(d, h)
        except NotImplementedError:
            raise
        except ValueError:
            continue
        except AssertionError:
            fail(f"{label} raised AssertionError; raise ValueError (an assert disappears under python -O, and it "
                 "is the caller's argument that is wrong)")
        except Exception as error:
            fail(f"{label} raised {type(error).__name__} ({str(error).splitlines()[0] if str(error) else ''}); "
                 f"check d_model % num_heads first and raise ValueError")
        else:
            fail(f"{label} was built without an error, but {h} heads cannot share {d} features: d_k = {d} // {h} = "
                 f"{d // h} covers only {h * (d // h)} of them (and {d} / {h} = {d / h:.4g} is no size). "
                 f"Raise ValueError when d_model % num_heads != 0 ({d} % {h} = {d % h})")


# --- task: forward --------------------------------------------------------------------------------------


@check("self-attention (query = key = value) equals nn.MultiheadAttention(batch_first=True): out and head-averaged "
       "weights", task="forward")
def self_attention_values(ctx):
    mod = ctx.load("multihead_attention")
    dev = float64_device(ctx)
    for d, h, B, T in ((8, 2, 3, 5), (12, 4, 2, 6)):
        attn, mha = pair(mod, d, h, ctx.seed, dev)
        x = rand((B, T, d), ctx.gen, dev)
        _, weights = compare(attn, mha, f"MultiHeadAttention({d}, {h})(x, x, x) with x {(B, T, d)}", x, x, x)
    ctx.heatmap("head-averaged self-attention weights, sequence 0", weights[0].detach(), row_title="query",
                col_title="key")


@check("cross-attention (T_q = 4, T_k = 6, key ≠ value) equals nn.MultiheadAttention: averaged and per-head "
       "weights (average_attn_weights=False), and need_weights=False", task="forward")
def cross_attention_values(ctx):
    mod = ctx.load("multihead_attention")
    dev = float64_device(ctx)
    d, h = 8, 4
    attn, mha = pair(mod, d, h, ctx.seed, dev)
    q, k, v = rand((2, 4, d), ctx.gen, dev), rand((2, 6, d), ctx.gen, dev), rand((2, 6, d), ctx.gen, dev)
    label = f"MultiHeadAttention({d}, {h})(query (2, 4, {d}), key (2, 6, {d}), value (2, 6, {d})"
    compare(attn, mha, label + ")", q, k, v)
    _, per_head = compare(attn, mha, label + ", average_attn_weights=False)", q, k, v, average_attn_weights=False)
    out, _ = run(attn, label + ", need_weights=False)", q, k, v, need_weights=False)
    with torch.no_grad():
        want = mha(q, k, v, need_weights=False)[0]
    expect_match(label + ", need_weights=False)'s out", out.detach(), want,
                 against="nn.MultiheadAttention with need_weights=False")
    for i in range(min(h, 2)):
        ctx.heatmap(f"cross-attention weights of head {i}, sequence 0", per_head[0, i].detach(), row_title="query",
                    col_title="key")


@check("gradients w.r.t. query, key, value and every weight equal nn.MultiheadAttention's (in_proj blocks, "
       "out_proj)", task="forward")
def gradients(ctx):
    mod = ctx.load("multihead_attention")
    dev = float64_device(ctx)
    d, h = 8, 2
    attn, mha = pair(mod, d, h, ctx.seed, dev)
    inputs = [rand(s, ctx.gen, dev).requires_grad_(True) for s in ((2, 3, d), (2, 5, d), (2, 5, d))]
    label = f"MultiHeadAttention({d}, {h})(query (2, 3, {d}), key (2, 5, {d}), value (2, 5, {d}))"
    out, weights = run(attn, label, *inputs)
    expect(out.requires_grad, f"{label}'s out does not require grad although the inputs and the weights do: "
           "something left the autograd graph (.detach(), .item(), .data, NumPy, torch.no_grad())")
    g_out, g_w = rand(tuple(out.shape), ctx.gen, dev), rand(tuple(weights.shape), ctx.gen, dev)
    mine = [p for name in NAMES for p in (getattr(attn, name).weight, getattr(attn, name).bias)]
    got = torch.autograd.grad((out * g_out).sum() + (weights * g_w).sum(), inputs + mine, allow_unused=True)
    w_out, w_weights = mha(*inputs)
    theirs = torch.autograd.grad((w_out * g_out).sum() + (w_weights * g_w).sum(),
                                 inputs + [mha.in_proj_weight, mha.in_proj_bias, mha.out_proj.weight,
                                           mha.out_proj.bias])
    gw, gb = theirs[3].chunk(3), theirs[4].chunk(3)
    want = list(theirs[:3]) + [gw[0], gb[0], gw[1], gb[1], gw[2], gb[2], theirs[5], theirs[6]]
    names = ["query", "key", "value"] + [f"{n}.{p}" for n in NAMES for p in ("weight", "bias")]
    for name, mine_g, want_g in zip(names, got, want):
        expect(mine_g is not None, f"no gradient reaches {name} through {label}: it is not used, or it left the "
               "autograd graph")
        expect_match(f"the gradient of {label} w.r.t. {name}", mine_g, want_g,
                     against="nn.MultiheadAttention's gradient (in_proj_weight's block for w_q, w_k, w_v)")


# --- task: masks ----------------------------------------------------------------------------------------


@check("key_padding_mask (bool (B, T_k), True = padding) equals nn.MultiheadAttention, self- and "
       "cross-attention", task="masks")
def padding_values(ctx):
    mod = ctx.load("multihead_attention")
    dev = float64_device(ctx)
    d, h = 6, 3
    attn, mha = pair(mod, d, h, ctx.seed, dev)
    x = rand((3, 5, d), ctx.gen, dev)
    kpm = padding((5, 3, 2), dev)
    compare(attn, mha, f"MultiHeadAttention({d}, {h})(x, x, x, key_padding_mask) with x (3, 5, {d}), lengths (5, 3, 2)",
            x, x, x, key_padding_mask=kpm)
    q, kv = rand((2, 3, d), ctx.gen, dev), rand((2, 6, d), ctx.gen, dev)
    kpm = padding((4, 6), dev)
    compare(attn, mha, f"MultiHeadAttention({d}, {h})(query (2, 3, {d}), key = value (2, 6, {d}), key_padding_mask, "
            "lengths (4, 6), average_attn_weights=False)", q, kv, kv, key_padding_mask=kpm, average_attn_weights=False)


@check("changing the padded keys and values leaves every output exactly unchanged", task="masks")
def padding_perturbation(ctx):
    mod = ctx.load("multihead_attention")
    dev = float64_device(ctx)
    d, h = 8, 2
    attn, _ = pair(mod, d, h, ctx.seed, dev)
    q, kv = rand((2, 3, d), ctx.gen, dev), rand((2, 6, d), ctx.gen, dev)
    kpm = padding((4, 2), dev, T=6)
    kv2 = torch.where(kpm[..., None], rand((2, 6, d), ctx.gen, dev) * 100, kv)
    label = f"MultiHeadAttention({d}, {h})(query, key = value, key_padding_mask)"
    with torch.no_grad():
        a = run(attn, label, q, kv, kv, key_padding_mask=kpm)[0]
        b = run(attn, label, q, kv2, kv2, key_padding_mask=kpm)[0]
    moved = (a - b).abs()
    if moved.max().item() != 0.0:
        s, t = (int(i) for i in torch.nonzero(moved.amax(-1) == moved.max())[0])
        fail(f"{label}: changing only the padded keys and values moved the output of query {t} of sequence {s} by "
             f"{number(moved.max().item(), 3)}; it must not move at all. The padded keys must get weight exactly 0: "
             "fill their scores with −inf (a finite fill such as −30 still leaks)")


@check("attn_mask equals nn.MultiheadAttention: bool (True = blocked) causal, float (added), and with "
       "key_padding_mask", task="masks")
def attn_mask_values(ctx):
    mod = ctx.load("multihead_attention")
    dev = float64_device(ctx)
    d, h, T = 8, 2, 5
    attn, mha = pair(mod, d, h, ctx.seed, dev)
    x = rand((3, T, d), ctx.gen, dev)
    causal = torch.ones(T, T, dtype=torch.bool, device=dev).triu(1)  # True above the diagonal: blocked
    kpm = padding((5, 3, 4), dev)
    compare(attn, mha, f"MultiHeadAttention({d}, {h})(x, x, x, attn_mask=bool causal, True = blocked) with x "
            f"(3, {T}, {d})", x, x, x, attn_mask=causal)
    float_causal = nn.Transformer.generate_square_subsequent_mask(T, device=dev, dtype=F64)
    compare(attn, mha, f"MultiHeadAttention({d}, {h})(x, x, x, attn_mask=generate_square_subsequent_mask({T}), a float "
            "mask of 0 and −inf)", x, x, x, attn_mask=float_causal)
    _, weights = compare(attn, mha, f"MultiHeadAttention({d}, {h})(x, x, x, attn_mask=bool causal, key_padding_mask, "
                         "lengths (5, 3, 4), average_attn_weights=False)", x, x, x, attn_mask=causal,
                         key_padding_mask=kpm, average_attn_weights=False)
    ctx.heatmap("causal + padding weights, head 0 of sequence 1", weights[1, 0].detach(), row_title="query",
                col_title="key")
    q, kv = rand((2, 4, d), ctx.gen, dev), rand((2, 6, d), ctx.gen, dev)
    bias = rand((4, 6), ctx.gen, dev)
    compare(attn, mha, f"MultiHeadAttention({d}, {h})(query (2, 4, {d}), key = value (2, 6, {d}), attn_mask=a float "
            "(4, 6) score bias)", q, kv, kv, attn_mask=bias)


@check("forward keeps float32 and the check's device, and matches nn.MultiheadAttention there (masks included)",
       task="masks")
def float32_values(ctx):
    mod = ctx.load("multihead_attention")
    dev = ctx.device
    d, h = 8, 2
    attn, mha = pair(mod, d, h, ctx.seed, dev, torch.float32)
    x = rand((3, 5, d), ctx.gen, dev, torch.float32)
    causal = torch.ones(5, 5, dtype=torch.bool, device=dev).triu(1)
    kpm = padding((5, 3, 4), dev)
    label = f"MultiHeadAttention({d}, {h}) in float32 (x, x, x, attn_mask=causal, key_padding_mask)"
    out, weights = run(attn, label, x, x, x, attn_mask=causal, key_padding_mask=kpm)
    for what, t in (("out", out), ("weights", weights)):
        expect(t.dtype == x.dtype and t.device == x.device, f"{label}'s {what} is {t.dtype} on {t.device}; x is "
               f"{x.dtype} on {x.device}: build every tensor from x's dtype and device")
    with torch.no_grad():
        want = mha(x, x, x, attn_mask=causal, key_padding_mask=kpm)
    expect_match(label, named(out.detach(), weights.detach()), named(*want), atol=1e-5, rtol=1e-4,
                 against="nn.MultiheadAttention in float32")

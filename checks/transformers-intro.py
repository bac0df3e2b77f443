"""Check: what RNNs, convolutions and self-attention cost, and what self-attention cannot see.

costs.py: the path lengths and sequential steps of Vaswani et al.'s Table 1 under the exercise's
stated conventions (an RNN's path is T − 1 recurrent steps; causal convolutions, plain or dilated),
FLOP formulas (a multiply-add is 2 FLOPs, matrix products only) compared first with what
torch.utils.flop_counter.FlopCounterMode counts on real products on small shapes and then exactly on
large ones, the crossover length where attention's T² work passes an RNN's, and the bytes of the
(B, heads, T, T) score matrix. permutation.py: a tiny self-attention against a float64 reference,
its permutation equivariance to 1e-12, the FLOPs torch counts in it, and the learner's
equivariance / invariance measurements on functions with and without a token axis.
"""

from __future__ import annotations

import math
import numbers

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils.flop_counter import FlopCounterMode

from tutor.checking import check, expect, expect_match, expect_shape, fail, float64_device

F64 = torch.float64
EXACT = {"atol": 0.0, "rtol": 0.0}


def counted(fn):
    """(result, FLOPs FlopCounterMode counts while fn() runs); SDPA on its math kernel, which is counted."""
    with sdpa_kernel(SDPBackend.MATH), FlopCounterMode(display=False) as mode:
        result = fn()
    return result, mode.get_total_flops()


def expect_count(label, got, expected, mistakes, against):
    """An integer count, compared exactly; a float is fine when it is a whole number."""
    if isinstance(got, torch.Tensor) and got.numel() == 1:
        got = got.item()
    expect(isinstance(got, numbers.Real) and not isinstance(got, bool),
           f"{label} returned {got!r:.60}; return a number (an int)")
    expect_match(label, got, expected, mistakes, against=against, **EXACT)


# --- task: paths --------------------------------------------------------------------------------

PATH_CASES = [(2, 3), (3, 2), (10, 3), (64, 2), (64, 5), (125, 5), (216, 6), (1000, 10)]


def path_ref(kind, T, k, variant=""):
    """max_path_length computed here, right or with one named mistake."""
    if kind == "rnn":
        return T if variant == "rnn_T" else T - 1
    if kind == "self_attention":
        return 1
    if kind == "conv":
        if variant == "floor":
            return (T - 1) // (k - 1)
        if variant == "over_k":
            return math.ceil((T - 1) / k)
        if variant == "T_over":
            return math.ceil(T / (k - 1))
        return math.ceil((T - 1) / (k - 1))
    if variant == "float_log":
        return math.ceil(math.log(T, k))
    if variant == "float_log_floor":
        return math.floor(math.log(T, k))
    layers = 0
    reach = (lambda L: k ** L if L else 0) if variant == "reach_kL" else (lambda L: k ** L - 1)
    while reach(layers) < T - 1:
        layers += 1
    return layers


PATH_MISTAKES = {
    "rnn": [("it counts T; the convention is recurrent STEPS between positions: position 0 reaches position T − 1 "
             "through T − 1 applications of h_t = f(h_{t−1}, x_t), so the path length is T − 1", "rnn_T")],
    "conv": [("it rounds down: (T − 1) // (k − 1) layers leave the last positions out of reach; a causal "
              "convolution reaches k − 1 positions further back per layer, so it takes ceil((T − 1) / (k − 1)) "
              "layers: -(-(T - 1) // (k - 1))", "floor"),
             ("it divides by k; one layer of kernel k reaches k − 1 positions back (the k-th is the position "
              "itself): ceil((T − 1) / (k − 1))", "over_k"),
             ("it divides T by k − 1; the farthest pair is T − 1 positions apart: ceil((T − 1) / (k − 1))",
              "T_over")],
    "dilated_conv": [("it uses math.ceil(math.log(T, k)), and floating point breaks it at exact powers: "
                      "math.log(125, 5) = 3.0000000000000004, so ceil gives 4 where 3 layers (reach 5³ − 1 = 124) "
                      "suffice. Count in integers: the smallest L with k**L >= T", "float_log"),
                     ("it rounds log_k(T) down; L dilated layers reach k^L − 1 positions back, so you need the "
                      "smallest L with k^L − 1 >= T − 1: ceil, computed in integers", "float_log_floor"),
                     ("it takes the reach of L dilated layers as k^L; it is k^L − 1 positions back (dilations 1, k, "
                      "..., k^(L−1) add up to (k^L − 1)/(k − 1) steps of k − 1): the smallest L with k^L >= T",
                      "reach_kL")],
}


@check("max_path_length(kind, T, k) for rnn (T − 1 steps), self_attention (1), causal conv and dilated conv",
       task="paths")
def path_lengths(ctx):
    costs = ctx.load("costs")
    for kind in ("rnn", "self_attention", "conv", "dilated_conv"):
        got = {}
        for T, k in PATH_CASES:
            value = costs.max_path_length(kind, T, k)
            expect(isinstance(value, numbers.Real) and not isinstance(value, bool),
                   f"max_path_length({kind!r}, {T}, {k}) returned {value!r:.60}; return a number of layers (an int)")
            got[f"T={T}, k={k}"] = value
        want = {f"T={T}, k={k}": path_ref(kind, T, k) for T, k in PATH_CASES}
        table = [(why, {f"T={T}, k={k}": path_ref(kind, T, k, v) for T, k in PATH_CASES})
                 for why, v in PATH_MISTAKES.get(kind, [])]
        expect_match(f"max_path_length({kind!r}, T, k)", got, want, table, against="the reference", **EXACT)


SEQ_MISTAKES = [
    ("the RNN's sequential steps are T − 1; that is its path LENGTH. One RNN layer runs h_0, h_1, ..., h_{T−1} one "
     "after another: T steps", lambda T, k: {"rnn": T - 1}),
    ("a convolution layer counts its path length as sequential steps; all positions of one conv layer are computed "
     "at once (1 step), the layers needed to connect all pairs are the path length",
     lambda T, k: {"conv": path_ref("conv", T, k), "dilated_conv": path_ref("dilated_conv", T, k)}),
    ("self-attention counts T sequential steps; the queries do not wait for one another: q @ k.transpose(-2, -1) "
     "scores all T of them in one matrix product (1 step)", lambda T, k: {"self_attention": T}),
]


@check("sequential_ops(kind, T, k): T for an RNN layer, 1 for self-attention and for a conv layer", task="paths")
def sequential_steps(ctx):
    costs = ctx.load("costs")
    kinds = ("rnn", "self_attention", "conv", "dilated_conv")
    for T, k in PATH_CASES:
        got = {kind: costs.sequential_ops(kind, T, k) for kind in kinds}
        want = {"rnn": T, "self_attention": 1, "conv": 1, "dilated_conv": 1}
        table = [(why, {**want, **change(T, k)}) for why, change in SEQ_MISTAKES]
        expect_match(f"sequential_ops(kind, T={T}, k={k})", got, want, table, against="the reference", **EXACT)


# --- task: flops --------------------------------------------------------------------------------

HALF = ("it is half the count: a multiply-add is 2 FLOPs (an (m, n) @ (n, p) product costs 2·m·n·p), and "
        "attention has TWO T×T products, q @ kᵀ and weights @ v, each 2·T²·d_k per head")
NO_T2 = ("it grows like T, not T²: q @ kᵀ is a (T, T) matrix, T² dot products of length d_k, and weights @ v "
         "reads it all again: 4·B·T²·d")
HEADS = ("it multiplies by the heads: h heads of width d_k = d/heads do the work of one head of width d, "
         "4·B·T²·d whatever h is")
BATCH = "it ignores the batch: every one of the B sequences has its own (T, T) scores"
WITH_PROJ = ("it includes the projections; attention_flops counts only q @ kᵀ and weights @ v (the four (d, d) "
             "projections are projection_flops)")


def attention_ref(T, d, h, B):
    return 4 * B * T * T * d


ATTENTION_MISTAKES = [
    (HALF, lambda T, d, h, B: 2 * B * T * T * d),
    (NO_T2, lambda T, d, h, B: 4 * B * T * d),
    (HEADS, lambda T, d, h, B: 4 * B * h * T * T * d),
    (BATCH, lambda T, d, h, B: 4 * T * T * d),
    (WITH_PROJ, lambda T, d, h, B: 4 * B * T * T * d + 8 * B * T * d * d),
]


def attention_core(q, k, v):
    return torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(q.size(-1)), dim=-1) @ v


@check("attention_flops(T, d, heads, batch) equals what FlopCounterMode counts for q @ kᵀ and weights @ v, "
       "and 4·B·T²·d at large sizes", task="flops")
def attention_flop_count(ctx):
    costs = ctx.load("costs")
    for T, d, h, B in ((7, 12, 3, 3), (16, 8, 1, 1), (5, 16, 4, 3)):   # B != 2: no batch vs no factor 2
        q, k, v = (torch.randn(B, h, T, d // h, generator=ctx.gen).to(ctx.device) for _ in range(3))
        _, flops = counted(lambda: attention_core(q, k, v))
        _, sdpa = counted(lambda: F.scaled_dot_product_attention(q, k, v))
        expect(flops == sdpa == attention_ref(T, d, h, B), f"FlopCounterMode counted {flops} (and {sdpa} for SDPA) "
               f"where the check expects {attention_ref(T, d, h, B)}: torch's FLOP counter has changed")
        label = f"attention_flops(T={T}, d={d}, heads={h}, batch={B})"
        expect_count(label, costs.attention_flops(T, d, h, B), flops,
                     [(why, f(T, d, h, B)) for why, f in ATTENTION_MISTAKES],
                     against=f"FlopCounterMode on softmax(q @ k.transpose(-2, -1)) @ v, q, k, v {(B, h, T, d // h)}")
    for T, d, h, B in ((4096, 512, 8, 1), (1024, 768, 12, 32), (1, 64, 1, 1)):
        label = f"attention_flops(T={T}, d={d}, heads={h}, batch={B})"
        expect_count(label, costs.attention_flops(T, d, h, B), attention_ref(T, d, h, B),
                     [(why, f(T, d, h, B)) for why, f in ATTENTION_MISTAKES], against="4·B·T²·d")


def linear_counts(costs, T, d, B, gen, device):
    x = torch.randn(B, T, d, generator=gen).to(device)
    weights = [torch.randn(d, d, generator=gen).to(device) for _ in range(4)]
    _, flops = counted(lambda: [F.linear(x, w, w[0]) for w in weights])
    return flops


PROJECTION_MISTAKES = [
    ("it counts three projections; a self-attention layer has four (d, d) matrices: W_q, W_k, W_v and the output "
     "projection W_o", lambda T, d, B: 6 * B * T * d * d),
    ("it counts a multiply-add as one FLOP: each (B·T, d) @ (d, d) product is 2·B·T·d² FLOPs",
     lambda T, d, B: 4 * B * T * d * d),
]


@check("projection_flops(T, d, batch) equals FlopCounterMode on four F.linear(x, W) with W (d, d): 8·B·T·d²",
       task="flops")
def projection_flop_count(ctx):
    costs = ctx.load("costs")
    for T, d, B in ((7, 12, 2), (3, 16, 1)):
        flops = linear_counts(costs, T, d, B, ctx.gen, ctx.device)
        expect_count(f"projection_flops(T={T}, d={d}, batch={B})", costs.projection_flops(T, d, B), flops,
                     [(why, f(T, d, B)) for why, f in PROJECTION_MISTAKES],
                     against="FlopCounterMode on four F.linear")
    for T, d, B in ((4096, 512, 1), (1024, 768, 32)):
        expect_count(f"projection_flops(T={T}, d={d}, batch={B})", costs.projection_flops(T, d, B),
                     8 * B * T * d * d, [(why, f(T, d, B)) for why, f in PROJECTION_MISTAKES], against="8·B·T·d²")


RNN_MISTAKES = [
    ("it is half: an RNN step has TWO (d, d) products, W_ih x_t and W_hh h_{t−1}, each 2·d² FLOPs per sequence",
     lambda T, d, B: 2 * B * T * d * d),
    ("it counts T − 1 steps; the RNN runs T steps (h_0 needs W_ih x_0 and W_hh h_{−1} too, with h_{−1} = 0)",
     lambda T, d, B: 4 * B * (T - 1) * d * d),
    ("it counts an LSTM's four gates; nn.RNN has one: 4·B·T·d²", lambda T, d, B: 16 * B * T * d * d),
]


@check("rnn_flops(T, d, batch) equals FlopCounterMode on nn.RNN(d, d): 4·B·T·d²", task="flops")
def rnn_flop_count(ctx):
    costs = ctx.load("costs")
    for T, d, B in ((7, 12, 2), (5, 16, 1)):
        rnn = nn.RNN(d, d, batch_first=True)  # on the CPU: cuDNN's fused RNN kernel is not in the FLOP registry
        x = torch.randn(B, T, d, generator=ctx.gen)
        _, flops = counted(lambda: rnn(x))
        expect_count(f"rnn_flops(T={T}, d={d}, batch={B})", costs.rnn_flops(T, d, B), flops,
                     [(why, f(T, d, B)) for why, f in RNN_MISTAKES], against=f"FlopCounterMode on nn.RNN({d}, {d})")
    for T, d, B in ((4096, 512, 1), (1024, 768, 32)):
        expect_count(f"rnn_flops(T={T}, d={d}, batch={B})", costs.rnn_flops(T, d, B), 4 * B * T * d * d,
                     [(why, f(T, d, B)) for why, f in RNN_MISTAKES], against="4·B·T·d²")


CONV_MISTAKES = [
    ("it counts a multiply-add as one FLOP: 2·B·T·k·d²", lambda T, d, k, B: B * T * k * d * d),
    ("it leaves out the kernel width: each output position sums k (d, d) products, 2·B·T·k·d²",
     lambda T, d, k, B: 2 * B * T * d * d),
    ("it counts T − k + 1 output positions (no padding); with padding=\"same\" there are T",
     lambda T, d, k, B: 2 * B * (T - k + 1) * k * d * d),
]


@check("conv_flops(T, d, k, batch) equals FlopCounterMode on nn.Conv1d(d, d, k, padding='same'): 2·B·T·k·d²",
       task="flops")
def conv_flop_count(ctx):
    costs = ctx.load("costs")
    for T, d, k, B in ((9, 6, 3, 2), (12, 8, 5, 1)):
        conv = nn.Conv1d(d, d, k, padding="same").to(ctx.device)
        x = torch.randn(B, d, T, generator=ctx.gen).to(ctx.device)
        _, flops = counted(lambda: conv(x))
        expect_count(f"conv_flops(T={T}, d={d}, k={k}, batch={B})", costs.conv_flops(T, d, k, B), flops,
                     [(why, f(T, d, k, B)) for why, f in CONV_MISTAKES],
                     against=f"FlopCounterMode on nn.Conv1d({d}, {d}, {k}, padding='same')")
    T, d, k, B = 4096, 512, 3, 1
    expect_count(f"conv_flops(T={T}, d={d}, k={k}, batch={B})", costs.conv_flops(T, d, k, B), 2 * B * T * k * d * d,
                 [(why, f(T, d, k, B)) for why, f in CONV_MISTAKES], against="2·B·T·k·d²")


@check("crossover_length(d): the smallest T with attention_flops(T, d) > rnn_flops(T, d) is d + 1", task="flops")
def crossover(ctx):
    costs = ctx.load("costs")
    ds = (1, 8, 64, 512)
    got = {f"d={d}": costs.crossover_length(d) for d in ds}
    expect_match("crossover_length(d)", got, {f"d={d}": d + 1 for d in ds}, [
        ("it returns the T where the two costs are EQUAL (4·T²·d = 4·T·d² at T = d); attention exceeds the RNN from "
         "T = d + 1 on", {f"d={d}": d for d in ds}),
        ("it compares with projection_flops (4·T²·d > 8·T·d² from T = 2d + 1); the RNN layer's cost is rnn_flops, "
         "4·T·d²", {f"d={d}": 2 * d + 1 for d in ds}),
    ], against="d + 1 (4·T²·d > 4·T·d² exactly when T > d)", **EXACT)
    for d in (64, 512):
        ctx.metric(f"crossover length at d = {d} (attention's T² work passes an RNN layer's)", got[f"d={d}"])


# --- task: memory -------------------------------------------------------------------------------

DTYPES = (torch.float32, torch.float16, torch.bfloat16, torch.float64)
MEMORY_MISTAKES = [
    ("it counts ELEMENTS, not bytes: multiply by the bytes per element, dtype.itemsize (4 for float32, 2 for "
     "float16 and bfloat16)", lambda B, h, T, dt: B * h * T * T),
    ("it counts BITS, not bytes: dtype.itemsize is in bytes (torch.finfo(dtype).bits is 8 times more)",
     lambda B, h, T, dt: B * h * T * T * dt.itemsize * 8),
    ("it forgets the heads: every head has its own (T, T) matrix, (B, heads, T, T) in all",
     lambda B, h, T, dt: B * T * T * dt.itemsize),
    ("it grows like T, not T²: the scores are (T, T) per head and sequence",
     lambda B, h, T, dt: B * h * T * dt.itemsize),
    ("it forgets the batch: every sequence has its own scores", lambda B, h, T, dt: h * T * T * dt.itemsize),
]


@check("attention_memory_bytes(B, heads, T, dtype) equals the bytes of a real (B, heads, T, T) score tensor, "
       "and B·heads·T²·itemsize at large sizes", task="memory")
def memory(ctx):
    costs = ctx.load("costs")
    B, h, T, d_k = 2, 3, 5, 2   # heads = 3 is no dtype's itemsize: forgetting either shows
    for dtype in DTYPES:
        q = torch.randn(B, h, T, d_k, generator=ctx.gen, dtype=F64).to(float64_device(ctx)).to(dtype)
        scores = q @ q.transpose(-2, -1)
        want = scores.numel() * scores.element_size()
        label = f"attention_memory_bytes(B={B}, heads={h}, T={T}, {dtype})"
        expect_count(label, costs.attention_memory_bytes(B, h, T, dtype), want,
                     [(why, f(B, h, T, dtype)) for why, f in MEMORY_MISTAKES],
                     against=f"q @ k.transpose(-2, -1) of shape {tuple(scores.shape)}: numel × element_size")
    for B, h, T, dtype in ((8, 12, 4096, torch.float16), (1, 16, 32768, torch.bfloat16), (32, 8, 512, torch.float32)):
        label = f"attention_memory_bytes(B={B}, heads={h}, T={T}, {dtype})"
        expect_count(label, costs.attention_memory_bytes(B, h, T, dtype), B * h * T * T * dtype.itemsize,
                     [(why, f(B, h, T, dtype)) for why, f in MEMORY_MISTAKES], against="B·heads·T²·itemsize")
    gib = costs.attention_memory_bytes(8, 12, 4096, torch.float16) / 2 ** 30
    ctx.metric("score matrix for B=8, 12 heads, T=4096 in float16 (GiB)", gib)


# --- task: attention ----------------------------------------------------------------------------


def attention_ref_layer(x, w_q, w_k, w_v, w_o, variant=""):
    q, k, v = x @ w_q, x @ w_k, x @ w_v
    scale = {"no_scale": 1.0, "d_model": math.sqrt(x.size(-1)), "d_k": q.size(-1)}.get(variant, math.sqrt(q.size(-1)))
    scores = q @ k.transpose(-2, -1) / scale
    weights = torch.softmax(scores, dim=1 if variant == "query_dim" else -1)
    return (weights @ v) @ w_o


ATTN_MISTAKES = [
    ("the scores are not scaled: divide q @ kᵀ by √d_k = √{d_k} before the softmax", "no_scale"),
    ("the scores are divided by √d = √{d} (the model width); divide by √d_k = √{d_k}, the width of q and k",
     "d_model"),
    ("the scores are divided by d_k = {d_k}; divide by its square root", "d_k"),
    ("the softmax runs over the queries (dim=1 of the (B, T, T) scores); each query's weights over the KEYS sum to "
     "1: softmax(scores, dim=-1)", "query_dim"),
]


def layer_weights(d, d_k, gen, dev):
    shapes = ((d, d_k), (d, d_k), (d, d_k), (d_k, d))
    return [torch.randn(*s, generator=gen, dtype=F64).to(dev) / math.sqrt(s[0]) for s in shapes]


@check("self_attention(x, w_q, w_k, w_v, w_o) equals softmax(q kᵀ/√d_k) v W_o in float64 (d = 8, d_k = 4)",
       task="attention")
def attention_values(ctx):
    perm_mod = ctx.load("permutation")
    dev = float64_device(ctx)
    B, T, d, d_k = 2, 6, 8, 4
    x = torch.randn(B, T, d, generator=ctx.gen, dtype=F64).to(dev)
    ws = layer_weights(d, d_k, ctx.gen, dev)
    out = perm_mod.self_attention(x, *ws)
    expect(isinstance(out, torch.Tensor), f"self_attention returned a {type(out).__name__}; return the output tensor")
    expect_shape(out, (B, T, d), "self_attention(x (2, 6, 8), ...)", labels=("B", "T", "d"))
    expect_match("self_attention(x (2, 6, 8), w_q (8, 4), w_k, w_v, w_o (4, 8))", out, attention_ref_layer(x, *ws),
                 [(why.format(d=d, d_k=d_k), (lambda v=v: attention_ref_layer(x, *ws, variant=v)))
                  for why, v in ATTN_MISTAKES], against="softmax(q @ k.transpose(-2, -1) / √d_k) @ v @ w_o")


@check("self_attention without positions is permutation-equivariant: f(x[:, perm]) = f(x)[:, perm] to 1e-12",
       task="attention")
def attention_equivariant(ctx):
    perm_mod = ctx.load("permutation")
    dev = float64_device(ctx)
    B, T, d, d_k = 2, 7, 8, 4
    x = torch.randn(B, T, d, generator=ctx.gen, dtype=F64).to(dev)
    ws = layer_weights(d, d_k, ctx.gen, dev)
    for _ in range(3):
        perm = torch.randperm(T, generator=ctx.gen).to(dev)
        got = perm_mod.self_attention(x[:, perm], *ws)
        expect_match(f"self_attention(x[:, perm], ...) with perm = {perm.tolist()}", got,
                     perm_mod.self_attention(x, *ws)[:, perm], atol=1e-12, rtol=0.0,
                     against="self_attention(x, ...)[:, perm]",
                     hint="without positions or a mask nothing in self-attention may depend on a token's index")
    ctx.metric("equivariance error of your self_attention, max over 3 permutations",
               max((perm_mod.self_attention(x[:, p], *ws) - perm_mod.self_attention(x, *ws)[:, p]).abs().max().item()
                   for p in (torch.randperm(T, generator=ctx.gen).to(dev) for _ in range(3))), 1e-12,
               higher_is_better=False)


@check("FlopCounterMode on your self_attention (d_k = d) counts projection_flops + attention_flops",
       task="attention")
def attention_flops_counted(ctx):
    perm_mod = ctx.load("permutation")
    B, T, d = 2, 9, 8
    x = torch.randn(B, T, d, generator=ctx.gen).to(ctx.device)
    ws = [torch.randn(d, d, generator=ctx.gen).to(ctx.device) / math.sqrt(d) for _ in range(4)]
    _, flops = counted(lambda: perm_mod.self_attention(x, *ws))
    want = 8 * B * T * d * d + 4 * B * T * T * d
    if flops != want:
        fail(f"FlopCounterMode counted {flops} FLOPs in self_attention(x {(B, T, d)}, four (8, 8) weights); a layer "
             f"of four projections and two T×T products costs 8·B·T·d² + 4·B·T²·d = {8 * B * T * d * d} + "
             f"{4 * B * T * T * d} = {want} (difference {flops - want}). Compute each product once, with @ or "
             "torch.matmul (an elementwise (q[..., None] * k).sum(-1) is not counted as a product)")
    ctx.metric("FLOPs counted in self_attention(x (2, 9, 8)) (= 8·B·T·d² + 4·B·T²·d)", flops)


# --- task: symmetry -----------------------------------------------------------------------------


def test_functions(d, gen, dev):
    """{name: (fn, expected symmetry)}: functions of x (B, T, d) with known symmetries."""
    ws = layer_weights(d, d, gen, dev)
    w1, w2 = (torch.randn(d, d, generator=gen, dtype=F64).to(dev) for _ in range(2))
    T_max = 16
    positions = torch.randn(T_max, d, generator=gen, dtype=F64).to(dev)

    def attn(x):
        return attention_ref_layer(x, *ws)

    def causal(x):
        q, k, v = x @ ws[0], x @ ws[1], x @ ws[2]
        T = x.size(1)
        scores = (q @ k.transpose(-2, -1) / math.sqrt(d)).masked_fill(
            ~torch.ones(T, T, dtype=torch.bool, device=x.device).tril(), float("-inf"))
        return (torch.softmax(scores, -1) @ v) @ ws[3]

    return {
        "self-attention": (attn, "equivariant"),
        "self-attention, then the mean over tokens (pooled, (B, d))": (lambda x: attn(x).mean(1), "invariant"),
        "self-attention on x + positions": (lambda x: attn(x + positions[: x.size(1)]), "neither"),
        "causal self-attention": (causal, "neither"),
        "a per-token MLP": (lambda x: torch.tanh(x @ w1) @ w2, "equivariant"),
        "the mean over tokens, repeated at every position": (lambda x: x.mean(1, keepdim=True).expand_as(x), "both"),
        "the sum over tokens of a per-token MLP ((B, d))": (lambda x: torch.tanh(x @ w1).sum(1), "invariant"),
    }


def errors_ref(fn, x, perm, variant=""):
    """(equivariance, invariance) errors computed here, right or with one named mistake."""
    if variant == "batch_axis":
        out, out_p = fn(x), fn(x[perm])
        return (out_p - out[perm]).abs().max().item(), (out_p - out).abs().max().item()
    out, out_p = fn(x), fn(x[:, perm])
    reduce = (lambda t: t.abs().mean().item()) if variant == "mean" else (lambda t: t.abs().max().item())
    invariance = reduce(out_p - out)
    if out.shape[:2] != x.shape[:2]:
        return (reduce(out_p - out[:, perm]) if variant == "no_inf" else float("inf")), invariance
    if variant == "inverse":
        return reduce(out_p - out[:, perm.argsort()]), invariance
    if variant == "swapped":
        return invariance, reduce(out_p - out[:, perm])
    return reduce(out_p - out[:, perm]), invariance


NO_AXIS = ("a pooled output (B, d) has no token axis: out[:, perm] permutes its FEATURES (or fails). Return "
           "float('inf') for the equivariance error when the output's shape does not start with (B, T)")
ERROR_MISTAKES = [
    ("it permutes the BATCH axis (x[perm]); the tokens are axis 1 of (B, T, d): x[:, perm] and out[:, perm]",
     "batch_axis"),
    ("it applies the inverse permutation to the output: if the input is x[:, perm], an equivariant layer's output "
     "is out[:, perm], with the same perm (out[:, perm.argsort()] undoes it instead)", "inverse"),
    ("it averages |difference|; the error is the MAX abs difference (one wrong entry must show)", "mean"),
    ("it returns (invariance, equivariance); the order is (equivariance error, invariance error)", "swapped"),
    (NO_AXIS, "no_inf"),
]


def permutation(T, gen, dev):
    """A random permutation of T that is not its own inverse (so that perm and perm.argsort() differ)."""
    while True:
        perm = torch.randperm(T, generator=gen)
        if not torch.equal(perm.argsort(), perm):
            return perm.to(dev)


@check("permutation_errors(fn, x, perm) = (max |f(x[:, perm]) − f(x)[:, perm]|, max |f(x[:, perm]) − f(x)|), "
       "inf for an output without a token axis", task="symmetry")
def errors(ctx):
    perm_mod = ctx.load("permutation")
    dev = float64_device(ctx)
    B, T, d = 5, 5, 6   # B = T, so that a permutation of the wrong axis runs and gives wrong numbers
    fns = test_functions(d, ctx.gen, dev)
    x = torch.randn(B, T, d, generator=ctx.gen, dtype=F64).to(dev)
    perm = permutation(T, ctx.gen, dev)
    for name, (fn, _) in fns.items():
        try:
            got = perm_mod.permutation_errors(fn, x, perm)
        except RuntimeError as error:
            if fn(x).shape[:2] == x.shape[:2]:
                raise
            fail(f"permutation_errors({name}) raised RuntimeError: {str(error).splitlines()[0]}. "
                 f"{NO_AXIS}")
        expect(isinstance(got, (tuple, list)) and len(got) == 2,
               f"permutation_errors({name}) returned {got!r:.60}; return (equivariance error, invariance error)")
        got = tuple(float(v) for v in got)
        expect_match(f"permutation_errors({name}, x (5, 5, 6), perm = {perm.tolist()})", got,
                     errors_ref(fn, x, perm), [(why, (lambda v=v: errors_ref(fn, x, perm, v)))
                                               for why, v in ERROR_MISTAKES],
                     atol=1e-12, rtol=1e-9, against="the reference")


SYMMETRY_MISTAKES = [
    ("it calls equivariant layers invariant and invariant ones equivariant. Self-attention is EQUIVARIANT: its "
     "outputs move with the tokens, f(x[:, perm]) = f(x)[:, perm]; only a pooled output (a mean or sum over the "
     "tokens) is INVARIANT, f(x[:, perm]) = f(x)",
     {"equivariant": "invariant", "invariant": "equivariant"}),
    ("it asks for an error of exactly 0: a permuted softmax adds the same numbers in another order, so errors of "
     "1e-16 appear; compare with tol (an error <= tol counts as 0)", "exact"),
    ("it never says \"both\": the mean over tokens repeated at every position is unchanged by a permutation AND "
     "permuted with it (every row is the same); test both errors before either", {"both": "equivariant"}),
]


@check("symmetry(fn, x, perm) says which: self-attention is equivariant, a pooled output invariant, positions or a "
       "causal mask make it neither", task="symmetry")
def symmetries(ctx):
    perm_mod = ctx.load("permutation")
    dev = float64_device(ctx)
    B, T, d = 3, 7, 6
    fns = test_functions(d, ctx.gen, dev)
    x = torch.randn(B, T, d, generator=ctx.gen, dtype=F64).to(dev)
    perm = permutation(T, ctx.gen, dev)
    got = {name: perm_mod.symmetry(fn, x, perm) for name, (fn, _) in fns.items()}
    want = {name: label for name, (_, label) in fns.items()}

    def exact():
        out = {}
        for name, (fn, _) in fns.items():
            eq, inv = errors_ref(fn, x, perm)
            out[name] = ("both" if eq == 0 and inv == 0 else "equivariant" if eq == 0 else
                         "invariant" if inv == 0 else "neither")
        return out

    wrong = [n for n in want if got[n] != want[n]]
    if wrong:
        why = next((why for why, change in SYMMETRY_MISTAKES
                    if got == (exact() if change == "exact" else {n: change.get(v, v) for n, v in want.items()})),
                   "compare each error with tol: equivariant when the first is <= tol, invariant when the second is")
        found = "; ".join(f"{n}: yours {got[n]!r}, expected {want[n]!r}" for n in wrong)
        fail(f"symmetry(fn, x (3, 7, 6), perm = {perm.tolist()}) is off for {len(wrong)} of {len(want)} functions: "
             f"{why.rstrip('. ')}. {found}")
    eq, inv = errors_ref(fns["self-attention"][0], x, perm)
    ctx.metric("self-attention: equivariance error (float64)", eq, 1e-9, higher_is_better=False)
    ctx.metric("self-attention: invariance error", inv)

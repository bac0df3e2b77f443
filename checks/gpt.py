"""Check: a GPT (causal attention, MLP, pre-norm Block, tied head, GPT-2 init, parameter count).

CausalSelfAttention must pass a perturbation test (changing input j moves no output at i < j, and moves
every output at i >= j), then gets nn.MultiheadAttention's weights (c_attn = in_proj, c_proj =
out_proj) and must equal it with a causal mask in float64; MLP must be c_proj(gelu_tanh(c_fc(x)));
Block gets the weights of nn.TransformerEncoderLayer(d, h, 4d, dropout=0, activation=tanh GELU,
norm_first=True, batch_first=True) copied in (ln_1 = norm1, attn.c_attn = self_attn.in_proj,
attn.c_proj = self_attn.out_proj, ln_2 = norm2, mlp.c_fc = linear1, mlp.c_proj = linear2) and must
equal it under a causal mask, values and input gradients. GPT's logits and loss are compared with a
functional GPT run on the learner's own parameters; causality is tested by changing one future token at
a time (the first position that moves is named); the head must be wte's Parameter object. The init is
checked with 5σ bounds on each weight's standard deviation in a mid-size model, then the loss at init
against ln V. gpt2_params must give GPT-2 small's 124,439,808 (163,037,184 untied), and a meta-device
build of the learner's GPT must have exactly that many parameters. On a mismatch the classic mistakes
(no or wrong causal mask, post-norm, exact GELU, no ln_f, untied head, unscaled residual init ...) are
recomputed and named.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from tutor.checking import check, expect, expect_match, expect_type, fail, float64_device, forbid
from tutor.checking.counts import expect_count, parameter_count
from tutor.checking.formatting import number
from tutor.checking.meta import on_meta
from tutor.checking.stats import SIGMAS, expect_within_sigmas

F64 = torch.float64
BANNED = (nn.MultiheadAttention, "multi_head_attention_forward", F.scaled_dot_product_attention,
          nn.TransformerEncoderLayer, nn.TransformerDecoderLayer)
REASON = ("the exercise is to write the causal attention and the block yourself; nn.MultiheadAttention and "
          "nn.TransformerEncoderLayer are the references the check compares with, and "
          "F.scaled_dot_product_attention(is_causal=True) would do the masking for you")
SMALL = dict(vocab=50257, block=1024, n_layer=12, n_head=12, d=768)
GPT2_SMALL = 124_439_808  # GPT-2 small with the head tied to wte (Radford et al. 2019; HF's gpt2 has 124,439,808)
LEAK_TOL = 1e-10  # float64 logits of size ~1: a causal model moves them by 0 (or rounding, ~1e-16)

# --- the named mistakes ---------------------------------------------------------------------------------

NO_MASK = ("there is no causal mask: every position attends to the whole sequence, the future included. Fill "
           "the scores above the diagonal (key j > query i) with −inf before the softmax")
MASK_DIAGONAL = ("the mask also blocks the diagonal (triu(0) instead of triu(1)): position 0 has nothing left to "
                 "attend to (a row of −inf gives nan). A token must see itself: block only j > i, "
                 "torch.ones(T, T, dtype=torch.bool).triu(1)")
MASK_PAST = ("the mask blocks the PAST instead of the future (True strictly below the diagonal, as from "
             "torch.triu(torch.ones(T, T)) == 0 used as a 'True = blocked' mask): each position sees itself and "
             "everything after it. Block j > i: torch.ones(T, T, dtype=torch.bool).triu(1)")
SCALE_D_MODEL = ("the scores are divided by √d_model = √{d}; each head compares vectors of d_k = d_model / n_head "
                 "= {d_k} entries, so divide by √d_k")
NO_SCALE = "the scores are not scaled: divide q kᵀ by √d_k = √{d_k} before the softmax"
QKV_ORDER = ("c_attn's output is split in the wrong order: its three blocks of d_model features are q, k, v in "
             "that order (GPT-2's and nn.MultiheadAttention's in_proj layout): q, k, v = c_attn(x).split(d, dim=2)")
EXACT_GELU = ("it uses the exact (erf) GELU; GPT-2 uses the tanh approximation, "
              "0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))): F.gelu(x, approximate='tanh') or nn.GELU('tanh')")
RELU = "it uses ReLU; GPT-2's MLP uses GELU (the tanh approximation): F.gelu(x, approximate='tanh')"
POST_NORM = ("it is a POST-norm block, x = ln_1(x + attn(x)), as in the original Transformer; GPT-2 normalises "
             "the INPUT of each sublayer and leaves the residual path alone: x = x + attn(ln_1(x)); "
             "x = x + mlp(ln_2(x))")
NO_RESIDUAL = ("the residual connection around the {which} is missing: each sublayer's output is ADDED to its "
               "input, x = x + attn(ln_1(x)), then x = x + mlp(ln_2(x))")
LN_1_TWICE = ("ln_1 is used before the MLP too; each sublayer has its own LayerNorm: x = x + mlp(ln_2(x))")
NORM_AFTER_ADD = ("the LayerNorm is applied to the attention's output instead of its input "
                  "(x + ln_1(attn(x))); pre-norm is x + attn(ln_1(x))")
NO_LN_F = ("there is no final LayerNorm: in a pre-norm stack the residual stream is never normalised inside the "
           "blocks, so GPT-2 adds ln_f before the head: logits = lm_head(ln_f(x))")
NO_POSITIONS = ("the position embeddings are not added: x = wte(idx) + wpe(pos) with pos = torch.arange(T); "
                "without them the model cannot tell the order of the tokens apart (attention is "
                "permutation-equivariant)")
POS_FROM_TOKENS = ("the position embedding is looked up with the token ids, wpe(idx); it is looked up with the "
                   "positions 0..T−1: wpe(torch.arange(T, device=idx.device))")
SCALED_EMBEDDING = ("the token embedding is multiplied by √d_model (the original Transformer's trick); GPT-2 adds "
                    "wte(idx) + wpe(pos) as they are")
SHIFTED_LOSS = ("the loss shifts the targets again (logits[:, :-1] against targets[:, 1:]); targets are already "
                "the next tokens (targets[:, t] = the token after idx[:, t]): compare logits[:, t] with "
                "targets[:, t] at every position")
SUM_LOSS = "the loss is summed over the B·T positions; F.cross_entropy's default is the mean"


def rand(shape, gen, device, dtype=F64, scale=1.0):
    return (torch.randn(shape, generator=gen, dtype=dtype) * scale).to(device)


def config(mod, vocab=11, block=8, n_layer=2, n_head=2, d=8, dropout=0.0):
    return mod.GPTConfig(vocab_size=vocab, block_size=block, n_layer=n_layer, n_head=n_head, d_model=d,
                         dropout=dropout)


def build(mod, cls, cfg, seed, device):
    torch.manual_seed(seed)
    with forbid(*BANNED, reason=REASON, caller=f"{cls}.__init__"):
        module = getattr(mod, cls)(cfg)
    expect(isinstance(module, nn.Module), f"{cls}(config) is a {type(module).__name__}; expected an nn.Module")
    return module.to(device, F64).eval()


def call(module, label, *args):
    with forbid(*BANNED, reason=REASON, caller=label):
        return module(*args)


def params_of(module, names, label):
    """The learner's parameters by name, with a clear failure when one is missing."""
    own = dict(module.named_parameters(remove_duplicate=False))
    for name, shape in names.items():
        if name not in own:
            listed = ", ".join(f"{n} {tuple(p.shape)}" for n, p in own.items()) or "none"
            fail(f"{label} has no parameter {name!r} (expected shape {shape}); its parameters: {listed}. "
                 "Use the GPT-2 names the starter gives")
        expect(tuple(own[name].shape) == shape, f"{label}.{name} has shape {tuple(own[name].shape)}; "
               f"expected {shape}")
    return own


def fill(params, gen, scale):
    """Random values everywhere (LayerNorm parameters near 1), so every mistake shows at float64 tolerance."""
    with torch.no_grad():
        for name, p in params.items():
            base = 1.0 if name.startswith("ln") or ".ln_" in name else 0.0
            p.copy_(base + torch.randn(p.shape, generator=gen, dtype=F64).to(p.device) * scale)


# --- functional references (used for the twins' mistakes and for the GPT forward) ------------------------


def attn_ref(x, W, n_head, how=None):
    B, T, d = x.shape
    q, k, v = F.linear(x, W["c_attn.weight"], W["c_attn.bias"]).split(d, dim=2)
    if how == "kqv":
        q, k = k, q
    q, k, v = (t.reshape(B, T, n_head, d // n_head).transpose(1, 2) for t in (q, k, v))
    scale = {"scale_d_model": math.sqrt(d), "no_scale": 1.0}.get(how, math.sqrt(d // n_head))
    scores = q @ k.transpose(-2, -1) / scale
    ones = torch.ones(T, T, dtype=torch.bool, device=x.device)
    blocked = {"no_mask": None, "diagonal": ones.triu(0), "past": ones.tril(-1)}.get(how, ones.triu(1))
    if blocked is not None:
        scores = scores.masked_fill(blocked, float("-inf"))
    y = (torch.softmax(scores, dim=-1) @ v).transpose(1, 2).reshape(B, T, d)
    return F.linear(y, W["c_proj.weight"], W["c_proj.bias"])


def mlp_ref(x, W, how=None):
    h = F.linear(x, W["c_fc.weight"], W["c_fc.bias"])
    h = {"exact": lambda: F.gelu(h), "relu": lambda: F.relu(h)}.get(how, lambda: F.gelu(h, approximate="tanh"))()
    return F.linear(h, W["c_proj.weight"], W["c_proj.bias"])


def sub(W, prefix):
    return {k[len(prefix):]: v for k, v in W.items() if k.startswith(prefix)}


def block_ref(x, W, n_head, how=None):
    d = x.shape[-1]

    def ln(name, t):
        return F.layer_norm(t, (d,), W[f"{name}.weight"], W[f"{name}.bias"])

    def attn(t):
        return attn_ref(t, sub(W, "attn."), n_head, how)

    def mlp(t):
        return mlp_ref(t, sub(W, "mlp."), how)

    if how == "post_norm":
        x = ln("ln_1", x + attn(x))
        return ln("ln_2", x + mlp(x))
    if how == "no_res_attn":
        x = attn(ln("ln_1", x))
        return x + mlp(ln("ln_2", x))
    if how == "no_res_mlp":
        x = x + attn(ln("ln_1", x))
        return mlp(ln("ln_2", x))
    if how == "ln_1_twice":
        x = x + attn(ln("ln_1", x))
        return x + mlp(ln("ln_1", x))
    if how == "norm_after":
        x = x + ln("ln_1", attn(x))
        return x + ln("ln_2", mlp(x))
    x = x + attn(ln("ln_1", x))
    return x + mlp(ln("ln_2", x))


def gpt_ref(idx, W, cfg, how=None):
    B, T = idx.shape
    pos = torch.arange(T, device=idx.device)
    tok = W["wte.weight"][idx] * (math.sqrt(cfg.d_model) if how == "scaled" else 1.0)
    if how == "no_pos":
        x = tok
    else:
        x = tok + W["wpe.weight"][idx if how == "pos_tokens" else pos]
    for i in range(cfg.n_layer):
        x = block_ref(x, sub(W, f"blocks.{i}."), cfg.n_head)
    if how != "no_ln_f":
        x = F.layer_norm(x, (cfg.d_model,), W["ln_f.weight"], W["ln_f.bias"])
    return x @ W["wte.weight"].T


def attn_shapes(d, prefix=""):
    return {f"{prefix}c_attn.weight": (3 * d, d), f"{prefix}c_attn.bias": (3 * d,),
            f"{prefix}c_proj.weight": (d, d), f"{prefix}c_proj.bias": (d,)}


def mlp_shapes(d, prefix=""):
    return {f"{prefix}c_fc.weight": (4 * d, d), f"{prefix}c_fc.bias": (4 * d,),
            f"{prefix}c_proj.weight": (d, 4 * d), f"{prefix}c_proj.bias": (d,)}


def block_shapes(d, prefix=""):
    return {f"{prefix}ln_1.weight": (d,), f"{prefix}ln_1.bias": (d,), f"{prefix}ln_2.weight": (d,),
            f"{prefix}ln_2.bias": (d,), **attn_shapes(d, prefix + "attn."), **mlp_shapes(d, prefix + "mlp.")}


def gpt_shapes(cfg):
    d = cfg.d_model
    out = {"wte.weight": (cfg.vocab_size, d), "wpe.weight": (cfg.block_size, d), "ln_f.weight": (d,),
           "ln_f.bias": (d,)}
    for i in range(cfg.n_layer):
        out.update(block_shapes(d, f"blocks.{i}."))
    return out


def attn_mistakes(x, W, n_head):
    d = x.shape[-1]
    return [(NO_MASK, lambda: attn_ref(x, W, n_head, "no_mask")),
            (MASK_DIAGONAL, lambda: attn_ref(x, W, n_head, "diagonal")),
            (MASK_PAST, lambda: attn_ref(x, W, n_head, "past")),
            (SCALE_D_MODEL.format(d=d, d_k=d // n_head), lambda: attn_ref(x, W, n_head, "scale_d_model")),
            (NO_SCALE.format(d_k=d // n_head), lambda: attn_ref(x, W, n_head, "no_scale")),
            (QKV_ORDER, lambda: attn_ref(x, W, n_head, "kqv"))]


# --- task: attention ------------------------------------------------------------------------------------


def dependence(fn, x, gen):
    """moved[i, j]: the largest change of fn(x)[:, i] when only x[:, j] is replaced (float64, no grad)."""
    T = x.shape[1]
    with torch.no_grad():
        base = fn(x)
        moved = torch.zeros(T, T, dtype=F64)
        for j in range(T):
            other = x.clone()
            other[:, j] = torch.randn(other[:, j].shape, generator=gen, dtype=F64).to(x.device)
            moved[:, j] = (fn(other) - base).abs().flatten(2).amax(dim=(0, 2)).cpu()
    return base, moved


@check("CausalSelfAttention is causal: changing the input at position j moves no output at a position i < j, "
       "and every output depends on its past", task="attention")
def attention_causal(ctx):
    mod = ctx.load("gpt")
    dev = float64_device(ctx)
    B, T, d, h = 2, 6, 8, 2
    attn = build(mod, "CausalSelfAttention", config(mod, block=T, n_head=h, d=d), ctx.seed, dev)
    label = f"CausalSelfAttention(n_head={h}, d_model={d})"
    fill(params_of(attn, attn_shapes(d), label), ctx.gen, 0.5)
    x = rand((B, T, d), ctx.gen, dev)
    base, moved = dependence(lambda t: call(attn, label, t), x, ctx.gen)
    expect_type(base, torch.Tensor, f"{label}(x)")
    ctx.heatmap("how far the output at position i moves when only input j changes (causal: 0 above the diagonal)",
                moved, row_title="position i", col_title="changed input j")
    if not torch.isfinite(base).all():
        rows = sorted({int(i) for i in torch.nonzero(~torch.isfinite(base))[:, 1]})
        why = MASK_DIAGONAL if rows and rows[0] == 0 else "a row of the attention weights is not finite"
        fail(f"{label}(x {(B, T, d)}) gives nan or inf at positions {rows}: {why}")
    leaks = [(i, j, moved[i, j].item()) for j in range(T) for i in range(j) if moved[i, j].item() > LEAK_TOL]
    past = [moved[i, j].item() for i in range(T) for j in range(i)]
    if leaks:
        i, j, by = min(leaks)
        why = MASK_PAST if max(past) <= LEAK_TOL else NO_MASK if len(leaks) == T * (T - 1) // 2 else (
            "the mask lets part of the future through: block every key j > i, torch.ones(T, T, dtype=torch.bool)"
            ".triu(1)")
        fail(f"{label} is not causal: changing only the input at position {j} moved the output at position {i} "
             f"(< {j}) by {number(by, 3)}; {len(leaks)} of {T * (T - 1) // 2} (position, later input) pairs leak: "
             f"{why}")
    blind = [(i, j) for i in range(T) for j in range(i + 1) if moved[i, j].item() <= LEAK_TOL]
    if blind:
        i, j = blind[0]
        fail(f"{label}: the output at position {i} does not change when the input at position {j} (≤ {i}) changes "
             f"(it moves by {number(moved[i, j].item(), 3)}): the mask blocks the past or the token itself. Block "
             "only the keys j > i: torch.ones(T, T, dtype=torch.bool).triu(1)")


@check("CausalSelfAttention equals nn.MultiheadAttention with a causal mask (c_attn = in_proj, c_proj = "
       "out_proj), values and gradients", task="attention")
def attention_values(ctx):
    mod = ctx.load("gpt")
    dev = float64_device(ctx)
    for B, T, d, h, block in ((2, 5, 8, 2, 5), (3, 7, 12, 3, 10)):  # the second has T < block_size
        cfg = config(mod, block=block, n_head=h, d=d)
        attn = build(mod, "CausalSelfAttention", cfg, ctx.seed, dev)
        label = f"CausalSelfAttention(n_head={h}, d_model={d})"
        W = params_of(attn, attn_shapes(d), label)
        fill(W, ctx.gen, 0.5)
        mha = nn.MultiheadAttention(d, h, batch_first=True, device=dev, dtype=F64).eval()
        with torch.no_grad():
            mha.in_proj_weight.copy_(W["c_attn.weight"])
            mha.in_proj_bias.copy_(W["c_attn.bias"])
            mha.out_proj.weight.copy_(W["c_proj.weight"])
            mha.out_proj.bias.copy_(W["c_proj.bias"])
        x = rand((B, T, d), ctx.gen, dev).requires_grad_(True)
        try:
            out = call(attn, label, x)
        except RuntimeError as error:
            if T == block or "size" not in str(error):
                raise
            fail(f"{label} with block_size = {block} raised RuntimeError on a sequence of T = {T} < block_size "
                 f"tokens ({str(error).splitlines()[0]}): build the mask from T, or slice a stored "
                 "block_size × block_size mask to [:T, :T]")
        expect_type(out, torch.Tensor, f"{label}(x)")
        expect(tuple(out.shape) == (B, T, d), f"{label}(x {(B, T, d)}) has shape {tuple(out.shape)}; expected "
               f"{(B, T, d)}")
        causal = nn.Transformer.generate_square_subsequent_mask(T, device=dev, dtype=F64)
        want = mha(x, x, x, attn_mask=causal, need_weights=False)[0]
        with torch.no_grad():
            Wd = {k: v.detach() for k, v in W.items()}
            expect_match(f"{label}(x {(B, T, d)})", out.detach(), want.detach(),
                         mistakes=attn_mistakes(x.detach(), Wd, h),
                         against="nn.MultiheadAttention(batch_first=True) with a causal attn_mask")
        g = rand((B, T, d), ctx.gen, dev)
        expect(out.requires_grad, f"{label}(x)'s output does not require grad: something left the autograd graph "
               "(.detach(), .item(), .data, torch.no_grad())")
        mine = torch.autograd.grad((out * g).sum(), x)[0]
        theirs = torch.autograd.grad((want * g).sum(), x)[0]
        expect_match(f"the gradient of {label}(x) w.r.t. x", mine, theirs, against="nn.MultiheadAttention's")


# --- task: mlp ------------------------------------------------------------------------------------------


@check("MLP is c_proj(gelu_tanh(c_fc(x))) with a 4·d_model hidden layer", task="mlp")
def mlp_values(ctx):
    mod = ctx.load("gpt")
    dev = float64_device(ctx)
    d = 8
    mlp = build(mod, "MLP", config(mod, d=d), ctx.seed, dev)
    label = f"MLP(d_model={d})"
    W = params_of(mlp, mlp_shapes(d), label)
    # pre-activations of std ~1.8: the exact and tanh GELU outputs differ by 1.4e-3-2.0e-3 (seeds 0-4)
    fill(W, ctx.gen, 0.6)
    x = rand((3, 4, d), ctx.gen, dev)
    out = call(mlp, label, x)
    expect_type(out, torch.Tensor, f"{label}(x)")
    with torch.no_grad():
        Wd = {k: v.detach() for k, v in W.items()}
        expect_match(f"{label}(x (3, 4, {d}))", out.detach(), mlp_ref(x, Wd),
                     mistakes=[(EXACT_GELU, lambda: mlp_ref(x, Wd, "exact")), (RELU, lambda: mlp_ref(x, Wd, "relu"))],
                     against="c_proj(F.gelu(c_fc(x), approximate='tanh'))")


# --- task: block ----------------------------------------------------------------------------------------


def gelu_tanh(x):
    return F.gelu(x, approximate="tanh")


@check("Block equals nn.TransformerEncoderLayer(norm_first=True, activation=tanh GELU) with a causal mask, "
       "values and input gradients", task="block")
def block_values(ctx):
    mod = ctx.load("gpt")
    dev = float64_device(ctx)
    for B, T, d, h in ((2, 6, 8, 2), (2, 5, 12, 4)):
        block = build(mod, "Block", config(mod, block=T, n_head=h, d=d), ctx.seed, dev)
        label = f"Block(n_head={h}, d_model={d})"
        W = params_of(block, block_shapes(d), label)
        fill(W, ctx.gen, 0.4)
        layer = nn.TransformerEncoderLayer(d, h, 4 * d, dropout=0.0, activation=gelu_tanh, norm_first=True,
                                           batch_first=True, device=dev, dtype=F64).eval()
        pairs = {"ln_1.weight": layer.norm1.weight, "ln_1.bias": layer.norm1.bias,
                 "attn.c_attn.weight": layer.self_attn.in_proj_weight, "attn.c_attn.bias": layer.self_attn.in_proj_bias,
                 "attn.c_proj.weight": layer.self_attn.out_proj.weight,
                 "attn.c_proj.bias": layer.self_attn.out_proj.bias,
                 "ln_2.weight": layer.norm2.weight, "ln_2.bias": layer.norm2.bias,
                 "mlp.c_fc.weight": layer.linear1.weight, "mlp.c_fc.bias": layer.linear1.bias,
                 "mlp.c_proj.weight": layer.linear2.weight, "mlp.c_proj.bias": layer.linear2.bias}
        with torch.no_grad():
            for name, theirs in pairs.items():
                theirs.copy_(W[name])
        x = rand((B, T, d), ctx.gen, dev, scale=2.0).requires_grad_(True)
        out = call(block, label, x)
        expect_type(out, torch.Tensor, f"{label}(x)")
        expect(tuple(out.shape) == (B, T, d), f"{label}(x {(B, T, d)}) has shape {tuple(out.shape)}; expected "
               f"{(B, T, d)}")
        causal = nn.Transformer.generate_square_subsequent_mask(T, device=dev, dtype=F64)
        want = layer(x, src_mask=causal)
        with torch.no_grad():
            xd, Wd = x.detach(), {k: v.detach() for k, v in W.items()}
            mistakes = [(POST_NORM, lambda: block_ref(xd, Wd, h, "post_norm")),
                        (NO_RESIDUAL.format(which="attention"), lambda: block_ref(xd, Wd, h, "no_res_attn")),
                        (NO_RESIDUAL.format(which="MLP"), lambda: block_ref(xd, Wd, h, "no_res_mlp")),
                        (LN_1_TWICE, lambda: block_ref(xd, Wd, h, "ln_1_twice")),
                        (NORM_AFTER_ADD, lambda: block_ref(xd, Wd, h, "norm_after")),
                        (EXACT_GELU, lambda: block_ref(xd, Wd, h, "exact")),
                        (RELU, lambda: block_ref(xd, Wd, h, "relu"))]
            mistakes += [(why, (lambda how: lambda: block_ref(xd, Wd, h, how))(how)) for why, how in
                         zip([NO_MASK, MASK_DIAGONAL, MASK_PAST], ["no_mask", "diagonal", "past"])]
            expect_match(f"{label}(x {(B, T, d)})", out.detach(), want.detach(), mistakes=mistakes,
                         against="nn.TransformerEncoderLayer(norm_first=True, activation=tanh GELU) with a causal "
                                 "mask")
        g = rand((B, T, d), ctx.gen, dev)
        mine = torch.autograd.grad((out * g).sum(), x)[0]
        theirs = torch.autograd.grad((want * g).sum(), x)[0]
        expect_match(f"the gradient of {label}(x) w.r.t. x", mine, theirs,
                     against="nn.TransformerEncoderLayer's")


# --- task: gpt ------------------------------------------------------------------------------------------


def gpt_model(mod, ctx, dev, **kw):
    cfg = config(mod, **kw)
    model = build(mod, "GPT", cfg, ctx.seed, dev)
    W = params_of(model, gpt_shapes(cfg), "GPT")
    return cfg, model, W


@check("GPT has wte, wpe, blocks, ln_f and an lm_head whose weight IS wte.weight (the same Parameter)",
       task="gpt")
def tied_head(ctx):
    mod = ctx.load("gpt")
    cfg = config(mod, n_layer=3)
    torch.manual_seed(ctx.seed)
    with forbid(*BANNED, reason=REASON, caller="GPT.__init__"):
        model = mod.GPT(cfg)  # as built: .to(dtype) would give every parameter its own memory
    params_of(model, gpt_shapes(cfg), "GPT")
    blocks = getattr(model, "blocks", None)
    expect(isinstance(blocks, nn.ModuleList) and len(blocks) == cfg.n_layer,
           f"GPT.blocks is {type(blocks).__name__}{f' of {len(blocks)}' if hasattr(blocks, '__len__') else ''}; "
           f"expected an nn.ModuleList of n_layer = {cfg.n_layer} Blocks")
    head = getattr(model, "lm_head", None)
    expect(isinstance(head, nn.Linear), f"GPT.lm_head is {type(head).__name__}; expected nn.Linear(d_model, "
           "vocab_size, bias=False)")
    if head.bias is not None:
        fail(f"GPT.lm_head has a bias of {head.bias.numel():,} entries; GPT-2's head has none: "
             "nn.Linear(d_model, vocab_size, bias=False)")
    wte = model.wte.weight
    if head.weight is not wte:
        V, d = cfg.vocab_size, cfg.d_model
        if head.weight.data_ptr() == wte.data_ptr():
            how = ("it shares wte's memory but is another Parameter object (as from lm_head.weight.data = "
                   "wte.weight.data or nn.Parameter(wte.weight)): the optimizer sees two parameters, the "
                   "gradients of the head and of the embedding are never added, and the first step unties them")
        elif torch.equal(head.weight.detach(), wte.detach()):
            how = ("it is a copy of wte.weight, another Parameter with its own memory: the two drift apart from "
                   "the first optimizer step")
        else:
            how = (f"it is a separate V × d = {V} × {d} matrix: {V * d:,} more parameters "
                   "(38,597,376 in GPT-2 small)")
        fail(f"GPT.lm_head.weight is not wte.weight: {how}. Tie them by assigning the Parameter itself: "
             "self.lm_head.weight = self.wte.weight")


@check("GPT(idx) returns logits (B, T, V) equal to a reference GPT run on your own parameters",
       task="gpt")
def gpt_logits(ctx):
    mod = ctx.load("gpt")
    dev = float64_device(ctx)
    cfg, model, W = gpt_model(mod, ctx, dev, n_layer=2, block=16)  # vocab 11 < block: wpe(idx) runs and is named
    fill(W, ctx.gen, 0.4)
    B, T = 2, 6
    idx = torch.randint(0, cfg.vocab_size, (B, T), generator=ctx.gen).to(dev)
    result = call(model, "GPT.forward", idx)
    expect(isinstance(result, tuple) and len(result) == 2, f"GPT(idx) returned {type(result).__name__}; expected a "
           "tuple (logits, loss), with loss None when no targets are given")
    logits, loss = result
    expect(loss is None, f"GPT(idx) without targets returned loss {loss!r}; expected None")
    expect_type(logits, torch.Tensor, "GPT(idx)'s logits")
    expect(tuple(logits.shape) != (B, 1, cfg.vocab_size), f"GPT(idx (B, T) = {(B, T)})'s logits have shape "
           f"{tuple(logits.shape)}: only the last position (nanoGPT's shortcut for generation); return the logits of "
           f"all T positions, (B, T, vocab_size) = {(B, T, cfg.vocab_size)}")
    expect(tuple(logits.shape) == (B, T, cfg.vocab_size), f"GPT(idx (B, T) = {(B, T)})'s logits have shape "
           f"{tuple(logits.shape)}; expected (B, T, vocab_size) = {(B, T, cfg.vocab_size)}")
    with torch.no_grad():
        Wd = {k: v.detach() for k, v in W.items()}
        mistakes = [(NO_LN_F, lambda: gpt_ref(idx, Wd, cfg, "no_ln_f")),
                    (NO_POSITIONS, lambda: gpt_ref(idx, Wd, cfg, "no_pos")),
                    (POS_FROM_TOKENS, lambda: gpt_ref(idx, Wd, cfg, "pos_tokens")),
                    (SCALED_EMBEDDING, lambda: gpt_ref(idx, Wd, cfg, "scaled"))]
        expect_match(f"GPT(idx {(B, T)})'s logits", logits.detach(), gpt_ref(idx, Wd, cfg), mistakes=mistakes,
                     against="lm_head(ln_f(blocks(wte(idx) + wpe(arange(T))))) on your parameters")


@check("GPT(idx, targets) returns the mean cross-entropy of logits[:, t] against targets[:, t], and its gradients",
       task="gpt")
def gpt_loss(ctx):
    mod = ctx.load("gpt")
    dev = float64_device(ctx)
    cfg, model, W = gpt_model(mod, ctx, dev, block=8)
    fill(W, ctx.gen, 0.4)
    B, T, V = 3, 7, cfg.vocab_size
    idx = torch.randint(0, V, (B, T), generator=ctx.gen).to(dev)
    targets = torch.randint(0, V, (B, T), generator=ctx.gen).to(dev)
    logits, loss = call(model, "GPT.forward", idx, targets)
    expect(loss is not None, "GPT(idx, targets) returned loss None; compute F.cross_entropy of the logits and the "
           "targets")
    expect_type(loss, torch.Tensor, "GPT(idx, targets)'s loss")
    expect(loss.numel() == 1, f"GPT(idx, targets)'s loss has shape {tuple(loss.shape)}; expected a scalar (the mean)")
    with torch.no_grad():
        lg = logits.detach()
        want = F.cross_entropy(lg.reshape(B * T, V), targets.reshape(B * T))
        mistakes = [(SHIFTED_LOSS, lambda: F.cross_entropy(lg[:, :-1].reshape(-1, V), targets[:, 1:].reshape(-1))),
                    (SUM_LOSS, lambda: F.cross_entropy(lg.reshape(B * T, V), targets.reshape(B * T),
                                                       reduction="sum"))]
        expect_match(f"GPT(idx, targets) with B, T = {B}, {T}: the loss", loss.detach().reshape(()), want,
                     mistakes=mistakes, against="F.cross_entropy(logits.view(B·T, V), targets.view(B·T))")
    expect(loss.requires_grad, "GPT(idx, targets)'s loss does not require grad: something left the autograd graph "
           "(.detach(), .item(), .data, torch.no_grad())")
    names = ["wte.weight", "wpe.weight", "ln_f.weight", "blocks.0.attn.c_attn.weight"]
    for name in names:
        expect(W[name].requires_grad, f"{name} does not require grad: it is frozen (requires_grad_(False), or a "
               "plain tensor instead of a Parameter), so training would never change it")
    mine = torch.autograd.grad(loss, [W[n] for n in names], allow_unused=True)
    ref = F.cross_entropy(gpt_ref(idx, W, cfg).reshape(B * T, V), targets.reshape(B * T))
    theirs = torch.autograd.grad(ref, [W[n] for n in names])
    for name, g, want_g in zip(names, mine, theirs):
        expect(g is not None, f"no gradient reaches {name} from GPT's loss: it is not used, or it left the graph")
        extra = (" (wte.weight is also the head: its gradient is the embedding's plus the head's)"
                 if name == "wte.weight" else "")
        expect_match(f"the gradient of the loss w.r.t. {name}", g, want_g,
                     against=f"the gradient through the reference GPT{extra}")


@check("causality: changing only token j (one at a time) leaves the logits at every position < j unchanged",
       task="gpt")
def causality(ctx):
    mod = ctx.load("gpt")
    dev = float64_device(ctx)
    cfg, model, W = gpt_model(mod, ctx, dev, block=8)
    fill(W, ctx.gen, 0.4)
    B, T, V = 2, 6, cfg.vocab_size  # T < block_size: the mask must be cut to the sequence's length
    idx = torch.randint(0, V, (B, T), generator=ctx.gen).to(dev)
    with torch.no_grad():
        base = call(model, "GPT.forward", idx)[0]
        expect(math.isfinite(base.abs().max().item()), "GPT(idx)'s logits are not finite (nan or inf): if the "
               "mask blocks a whole row (the diagonal too), the softmax of all −inf is nan")
        moved = torch.zeros(T, T, dtype=F64)  # moved[i, j]: how far the logits at position i move when token j changes
        for j in range(T):
            other = idx.clone()
            other[:, j] = (idx[:, j] + 1 + torch.randint(0, V - 1, (B,), generator=ctx.gen).to(dev)) % V
            moved[:, j] = (call(model, "GPT.forward", other)[0] - base).abs().amax(dim=(0, 2)).cpu()
    ctx.heatmap("how far the logits at position i move when only token j changes (causal: 0 above the diagonal)",
                moved, row_title="position i", col_title="changed token j")
    leaks = [(i, j, moved[i, j].item()) for j in range(T) for i in range(j) if moved[i, j].item() > LEAK_TOL]
    if leaks:
        i, j, by = min(leaks)
        fail(f"GPT is not causal: changing only token {j} moved the logits at position {i} (< {j}) by "
             f"{number(by, 3)}; position {i} sees the future. {len(leaks)} of {T * (T - 1) // 2} (position, later "
             "token) pairs leak. Block the keys j > i in every attention: scores.masked_fill(future, −inf) with "
             "future = torch.ones(T, T, dtype=torch.bool).triu(1), before the softmax")


def adam(params, lr, betas=(0.9, 0.999), eps=1e-8):
    """torch.optim.Adam's update, written out: building a torch.optim optimizer imports torch._dynamo (2-6 s)."""
    m = [torch.zeros_like(p) for p in params]
    v = [torch.zeros_like(p) for p in params]
    t = [0]

    def step(grads):
        t[0] += 1
        with torch.no_grad():
            for p, g, m_i, v_i in zip(params, grads, m, v):
                if g is None:
                    continue
                m_i.mul_(betas[0]).add_(g, alpha=1 - betas[0])
                v_i.mul_(betas[1]).addcmul_(g, g, value=1 - betas[1])
                m_hat = m_i / (1 - betas[0] ** t[0])
                v_hat = v_i / (1 - betas[1] ** t[0])
                p.sub_(lr * m_hat / (v_hat.sqrt() + eps))
    return step


OVERFIT_STEPS, OVERFIT_MAX = 40, 0.5  # one batch of 128 random next tokens, Adam 1e-2: from ln 32 = 3.47 to
# 0.032-0.076 over seeds 0-7 (step 20: 0.63-1.10); 0.2 s


@check("GPT trains: 40 Adam steps on one batch of random tokens drive the loss from ln V to near 0", task="gpt")
def overfit_batch(ctx):
    mod = ctx.load("gpt")
    cfg = config(mod, vocab=32, block=16, n_layer=2, n_head=2, d=32)
    torch.manual_seed(ctx.seed)
    with forbid(*BANNED, reason=REASON, caller="GPT.__init__"):
        model = mod.GPT(cfg).to(ctx.device).train()
    idx = torch.randint(0, 32, (8, 16), generator=ctx.gen).to(ctx.device)
    targets = torch.randint(0, 32, (8, 16), generator=ctx.gen).to(ctx.device)
    params = list(model.parameters())  # the tied matrix once
    step = adam(params, lr=1e-2)
    losses = []
    for _ in range(OVERFIT_STEPS):
        _, loss = call(model, "GPT.forward", idx, targets)
        expect(loss is not None and torch.isfinite(loss).item(), f"GPT's loss is {loss} at step {len(losses)}")
        grads = torch.autograd.grad(loss, params, allow_unused=True)
        step(grads)
        losses.append(loss.item())
    ctx.curve("training loss on one batch", losses)
    ctx.metric("loss after 40 steps", losses[-1], OVERFIT_MAX, higher_is_better=False)
    expect(model.lm_head.weight is model.wte.weight, "after training, lm_head.weight is no longer wte.weight")
    expect(losses[-1] <= OVERFIT_MAX, f"after {OVERFIT_STEPS} Adam steps (lr 1e-2) on one batch the loss is "
           f"{number(losses[-1], 4)} (it started at {number(losses[0], 4)}, ln 32 = {number(math.log(32), 4)}); "
           f"the reference reaches 0.03-0.08, the check asks for ≤ {OVERFIT_MAX}. Something stops the gradient "
           "(a .detach(), torch.no_grad(), a frozen parameter) or the model cannot see its input")


# --- task: init -----------------------------------------------------------------------------------------

INIT = dict(vocab=512, block=64, n_layer=4, n_head=4, d=128)  # a mid-size model: 16k-65k entries per matrix
# relative slack on each std: accepts trunc_normal_ cut at ±3σ (std 1.3 % low); the closest mistake,
# 1/√n_layer instead of 1/√(2·n_layer), is 41 % off. Solution: |z| ≤ 3.3 over 8 seeds × 26 matrices.
STD_SLACK = 0.02
INIT_LOSS_TOL = 0.15  # |loss − ln V| at init: solution 0.003-0.057 over seeds 0-7 (V = 512, ln V = 6.24)


def std_candidates(name, fan_in, n_layer):
    """(why, std) that a learner's weight could have instead."""
    out = []
    if name.endswith("c_proj.weight"):
        out += [("the residual projections are not scaled: c_proj.weight (in attention and MLP) gets "
                 f"std 0.02/√(2·n_layer) = 0.02/√{2 * n_layer}, not 0.02", 0.02),
                (f"the residual projections are scaled by 1/√n_layer = 1/√{n_layer}; GPT-2 scales by "
                 f"1/√(2·n_layer) (two residual additions per block)", 0.02 / math.sqrt(n_layer)),
                (f"the residual projections are scaled by 1/(2·n_layer) = 1/{2 * n_layer}; use its square root, "
                 f"0.02/√(2·n_layer)", 0.02 / (2 * n_layer))]
    elif name.endswith("weight"):
        out += [(f"{name} is scaled as if it were a residual projection; only the c_proj weights get "
                 "0.02/√(2·n_layer), the others 0.02", 0.02 / math.sqrt(2 * n_layer))]
    if name in ("wte.weight", "wpe.weight"):
        out += [("the embedding keeps PyTorch's default init, N(0, 1); GPT-2 uses N(0, 0.02²)", 1.0)]
    else:
        out += [("it keeps nn.Linear's default init, U(−1/√fan_in, 1/√fan_in) (std 1/√(3·fan_in)); GPT-2 uses "
                 "N(0, 0.02²)", 1 / math.sqrt(3 * fan_in))]
    return out


@check("the init: weights N(0, 0.02²), c_proj N(0, (0.02/√(2·n_layer))²), biases 0, LayerNorms 1 and 0 "
       "(5σ bounds on each matrix's std)", task="init")
def init_statistics(ctx):
    mod = ctx.load("gpt")
    cfg = config(mod, **INIT)
    torch.manual_seed(ctx.seed)
    with forbid(*BANNED, reason=REASON, caller="GPT.__init__"):
        model = mod.GPT(cfg)
    W = params_of(model, gpt_shapes(cfg), f"GPT({INIT})")
    L = cfg.n_layer
    for name, p in W.items():
        t = p.detach().double()
        is_norm = ".ln_" in name or name.startswith("ln_")
        if name.endswith("bias"):
            biggest = t.abs().max().item()
            expect(biggest == 0.0, f"{name} is not zero after init: max |b| = {number(biggest, 3)}. " + (
                "A LayerNorm starts as the identity, weight 1 and bias 0" if is_norm else
                "nn.Linear's default puts U(−1/√fan_in, 1/√fan_in) there; GPT-2 starts every bias at 0 "
                "(nn.init.zeros_)"))
            continue
        if is_norm:
            off = (t - 1).abs().max().item()
            expect(off == 0.0, f"{name} is not 1 after init (max |w − 1| = {number(off, 3)}): a LayerNorm starts as "
                   "the identity, weight 1 and bias 0")
            continue
        want = 0.02 / math.sqrt(2 * L) if name.endswith("c_proj.weight") else 0.02
        n = t.numel()
        std = t.pow(2).mean().sqrt().item()  # about the known mean 0
        sd = want / math.sqrt(2 * n)  # the standard deviation of the sample std of n normal values
        slack = SIGMAS * sd + STD_SLACK * want
        if abs(std - want) > slack:
            for why, alt in std_candidates(name, t.shape[-1], L):
                if abs(std - alt) <= SIGMAS * alt / math.sqrt(2 * n) + STD_SLACK * alt:
                    fail(f"{name} has std {number(std, 4)}; expected {number(want, 4)} (± {number(slack, 2)}): "
                         f"{why}")
            fail(f"{name} has std {number(std, 4)}; expected {number(want, 4)}, within [{number(want - slack, 4)}, "
                 f"{number(want + slack, 4)}] (5σ of a sample std over its {n:,} entries, std/√(2n) = "
                 f"{number(sd, 2)}, plus {STD_SLACK:.0%} for a normal truncated at ±3σ)")
        mean = t.mean().item()
        expect_within_sigmas(f"the mean of {name}", mean, 0.0, want / math.sqrt(n),
                             advice="Centre the init at 0: nn.init.normal_(w, mean=0.0, std=...)")


@check("at init the loss is close to ln V (the model predicts nearly uniformly)", task="init")
def init_loss(ctx):
    mod = ctx.load("gpt")
    cfg = config(mod, **INIT)
    torch.manual_seed(ctx.seed)
    with forbid(*BANNED, reason=REASON, caller="GPT.__init__"):
        model = mod.GPT(cfg).to(ctx.device).eval()
    idx = torch.randint(0, cfg.vocab_size, (4, 32), generator=ctx.gen).to(ctx.device)
    targets = torch.randint(0, cfg.vocab_size, (4, 32), generator=ctx.gen).to(ctx.device)
    with torch.no_grad():
        _, loss = call(model, "GPT.forward", idx, targets)
    expect(loss is not None, "GPT(idx, targets) returned loss None")
    value, want = float(loss), math.log(cfg.vocab_size)
    ctx.metric("|loss at init − ln V|", abs(value - want), INIT_LOSS_TOL, higher_is_better=False)
    expect(abs(value - want) <= INIT_LOSS_TOL, f"the loss at init is {number(value, 4)}; with V = {cfg.vocab_size} "
           f"and small weights it should be within {INIT_LOSS_TOL} of ln V = {number(want, 4)} (off by "
           f"{number(value - want, 3)}): the logits are too large, so the init is not GPT-2's (std 0.02, "
           "head tied to wte)")


# --- task: params ---------------------------------------------------------------------------------------


def reference_count(vocab, block, n_layer, n_head, d, tied=True):
    """The parameters of torch's own pieces on the meta device: embeddings, encoder layers, ln_f, head."""
    with on_meta():
        parts = [nn.Embedding(vocab, d), nn.Embedding(block, d), nn.LayerNorm(d)]
        layer = nn.TransformerEncoderLayer(d, n_head, 4 * d)  # all n_layer layers are alike
    count = sum(parameter_count(p) for p in parts) + n_layer * parameter_count(layer)
    return count if tied else count + vocab * d


def count_mistakes(vocab, block, n_layer, d, tied, want):
    Vd = vocab * d
    table = [("the head is counted as untied (+V·d); with tied=True lm_head.weight IS wte.weight, counted once",
              want + Vd) if tied else
             ("the head is counted as tied; with tied=False it is its own V × d matrix (+V·d)", want - Vd),
             ("the final LayerNorm ln_f is left out (2·d)", want - 2 * d),
             ("the position embeddings are left out (block·d)", want - block * d),
             ("the biases are left out (13·d per block: 3d + d in attention, 4d + d in the MLP, and the LayerNorm "
              "biases)", want - n_layer * 9 * d - n_layer * 2 * d - d),
             ("the LayerNorms are left out (4·d per block and 2·d for ln_f)", want - n_layer * 4 * d - 2 * d),
             ("the MLP is counted with d × d matrices; its hidden layer has 4·d units (8·d² + 5·d per block)",
              want - n_layer * (6 * d * d + 3 * d)),
             ("the attention's output projection c_proj is left out (d² + d per block)", want - n_layer * (d * d + d)),
             ("the head has a bias (+V); GPT-2's lm_head has none", want + vocab)]
    return table


@check("gpt2_params(): GPT-2 small has 124,439,808 parameters tied and 163,037,184 untied; other sizes too",
       task="params")
def params_count(ctx):
    mod = ctx.load("gpt")
    got = mod.gpt2_params()
    want = reference_count(**SMALL)
    assert want == GPT2_SMALL
    expect_count("gpt2_params() (GPT-2 small: V 50257, block 1024, 12 layers, 12 heads, d 768)", got, want,
                 count_mistakes(50257, 1024, 12, 768, True, want), against="GPT-2 small, 124M")
    for sizes, tied in ((SMALL, False), (dict(vocab=65, block=256, n_layer=6, n_head=6, d=384), True),
                        (dict(vocab=50257, block=1024, n_layer=24, n_head=16, d=1024), True)):
        want = reference_count(**sizes, tied=tied)
        args = ", ".join(f"{k}={v}" for k, v in sizes.items()) + ("" if tied else ", tied=False")
        expect_count(f"gpt2_params({args})", mod.gpt2_params(**sizes, tied=tied), want,
                     count_mistakes(sizes["vocab"], sizes["block"], sizes["n_layer"], sizes["d"], tied, want),
                     against="the embeddings, n_layer TransformerEncoderLayers and ln_f")


@check("your GPT built on the meta device for GPT-2 small has exactly gpt2_params() = 124,439,808 parameters",
       task="params")
def meta_count(ctx):
    mod = ctx.load("gpt")
    cfg = config(mod, **SMALL)
    with on_meta(), forbid(*BANNED, reason=REASON, caller="GPT.__init__"):
        model = mod.GPT(cfg)
    V, d = SMALL["vocab"], SMALL["d"]
    expect_count("the parameters of your GPT(GPT-2 small config) on the meta device", parameter_count(model),
                 GPT2_SMALL, [(f"the head is not tied: lm_head.weight is a second V × d = {V:,} × {d} matrix "
                               f"({V * d:,} parameters); assign self.lm_head.weight = self.wte.weight",
                               GPT2_SMALL + V * d),
                              ("lm_head has a bias of V entries; GPT-2's head has none (bias=False)", GPT2_SMALL + V),
                              ("there is no final LayerNorm ln_f (2·d)", GPT2_SMALL - 2 * d)],
                 against="GPT-2 small")

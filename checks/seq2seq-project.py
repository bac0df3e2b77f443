"""Check: a seq2seq model with Luong attention, the same model without it, and corpus BLEU by hand.

The pieces are compared on fixed weights in float64 with references computed here from the
learner's own modules: the source mask, the encoder's outputs and h_n, Luong's dot and general
scores with the PAD positions excluded, the decoder's attentional hidden state tanh(W_c [c; h]),
the teacher-forced model and greedy decoding. BLEU is compared with a reference written here on
hand-made corpora (clipping, brevity penalty, zero counts, corpus vs sentence level). Then one pair
of models, with and without attention, is trained on reversal of 10-12 symbols and shared by the
last two checks.
"""

from __future__ import annotations

import math
from collections import Counter

import torch
import torch.nn.functional as F
from torch import nn

from tutor.checking import check, expect, expect_match, expect_type, fail, float64_device, forbid, is_close
from tutor.checking import seqtasks as st
from tutor.checking.decoding import draw_by_name, spread_eos
from tutor.checking.formatting import number
from tutor.checking.recurrent import expect_modules, run_batch_first

F64 = torch.float64
PAD, SOS, EOS = st.PAD, st.SOS, st.EOS
VOCAB = 20  # PAD, SOS, EOS and 17 symbols
NO_SDPA = "the exercise is to write Luong's scores yourself (and they are not scaled)"


def rows(src_len, width=None):
    """A fixed batch: random symbols with these lengths, PAD after; (src, src_len)."""
    lengths = torch.tensor(src_len)
    width = width or max(src_len)
    gen = torch.Generator().manual_seed(len(src_len))
    sym = torch.randint(st.SPECIALS, VOCAB, (len(src_len), width), generator=gen)
    return sym.masked_fill(torch.arange(width) >= lengths[:, None], PAD), lengths


def as_tuple(got, n, label, what):
    expect(isinstance(got, (tuple, list)) and len(got) == n, f"{label} returned {type(got).__name__}"
           f"{'' if not isinstance(got, (tuple, list)) else f' of {len(got)}'}; return {what}")
    return tuple(got)


def expect_shape_of(t, shape, label, extra=""):
    expect_type(t, torch.Tensor, label)
    expect(tuple(t.shape) == tuple(shape), f"{label} has shape {tuple(t.shape)}; expected {tuple(shape)}{extra}")


# --- task: mask ---------------------------------------------------------------------------------


@check("source_mask(src) is True at the real tokens and False at PAD, (B, S) bool", task="mask")
def mask_values(ctx):
    mod = ctx.load("luong")
    src, _ = rows([4, 2, 5, 1])
    src = src.to(ctx.device)
    label = f"source_mask(src {tuple(src.shape)})"
    got = mod.source_mask(src)
    expect_shape_of(got, src.shape, label)
    expect(got.dtype == torch.bool, f"{label} has dtype {got.dtype}; return a bool tensor (src != PAD): "
           "masked_fill and ~mask need booleans")
    expect_match(label, got, src != PAD, [
        ("it has the WRONG POLARITY: True at PAD, False at the real tokens. The convention here (and in "
         "F.scaled_dot_product_attention) is True = may attend: src != PAD", src == PAD),
    ], against="src != PAD")


# --- task: encoder ------------------------------------------------------------------------------


@check("Encoder returns (outputs (B, S, H), h_n (1, B, H)): every real step's output and the state after each "
       "row's last real token", task="encoder")
def encoder_values(ctx):
    mod = ctx.load("luong")
    dev = float64_device(ctx)
    torch.manual_seed(ctx.seed)
    enc = mod.Encoder(VOCAB, 6, 7)
    expect_type(enc, nn.Module, "Encoder(20, 6, 7)")
    expect_modules(enc, "Encoder(20, 6, 7)", embedding=nn.Embedding, gru=nn.GRU)
    enc = enc.to(device=dev, dtype=F64)
    src, src_len = rows([4, 2, 5, 1, 3], width=6)  # a last column of PAD only: outputs must still be 6 wide
    src = src.to(dev)
    label = f"Encoder(20, 6, 7)(src {tuple(src.shape)}, src_len {src_len.tolist()})"
    with torch.no_grad():
        outputs, h_n = as_tuple(enc(src, src_len.to(dev)), 2, label, "the pair (outputs (B, S, H), h_n (1, B, H))")
        expect_type(outputs, torch.Tensor, f"{label}'s outputs")
        if outputs.dim() == 3 and outputs.shape[0] == 5 and outputs.shape[1] < src.shape[1]:
            fail(f"{label}'s outputs have {outputs.shape[1]} columns, the source has {src.shape[1]}: "
                 "pad_packed_sequence stops at the longest row. Pass total_length=src.shape[1] so the outputs line "
                 "up with the source mask, (B, S, H)")
        expect_shape_of(outputs, (5, 6, 7), f"{label}'s outputs", " = (B, S, H)")
        expect_shape_of(h_n, (1, 5, 7), f"{label}'s h_n", " = (1, B, H), as nn.GRU returns it")
        emb = enc.embedding(src)
        per_row = [run_batch_first(enc.gru, emb[i:i + 1, :n]) for i, n in enumerate(src_len.tolist())]
        want_h = torch.cat([h for _, h in per_row], dim=1)
        real = (src != PAD)[..., None]
        want_out = torch.zeros_like(outputs)
        for i, (o, _) in enumerate(per_row):
            want_out[i, :o.shape[1]] = o[0]
        expect_match(f"{label}'s outputs at the real positions", outputs * real, want_out,
                     against="the GRU run on each row alone")
        expect_match(f"{label}'s h_n", h_n, want_h, [
            ("h_n has read the padding: the GRU ran over every column, PADs included. Pack the batch "
             "(pack_padded_sequence(..., src_len.cpu(), batch_first=True, enforce_sorted=False))",
             lambda: run_batch_first(enc.gru, emb)[1]),
        ], against="the GRU run on each row alone")


# --- task: attention ----------------------------------------------------------------------------


def attention_reference(att, query, keys, mask, variant="", query_side=False):
    """(context, weights) of Luong attention computed here, right or with one named mistake.

    query_side: W_a applied to the query, h_tᵀ W_aᵀ h̄_s, a parametrisation as valid as h_tᵀ W_a h̄_s."""
    proj = keys if att.method == "dot" else keys @ att.W_a.weight.T
    scores = query @ proj.transpose(1, 2)
    if query_side and att.method == "general":
        scores = (query @ att.W_a.weight.T) @ keys.transpose(1, 2)
    if variant == "scaled":
        scores = scores / math.sqrt(keys.shape[-1])
    m = mask[:, None, :]
    if variant == "polarity":
        scores = scores.masked_fill(m, float("-inf"))
    elif variant not in ("no_mask", "after"):
        scores = scores.masked_fill(~m, float("-inf"))
    dim = {"dim_T": 1, "dim_B": 0}.get(variant, -1)
    weights = torch.softmax(scores, dim=dim)
    if variant == "after":
        weights = weights * m
    values = proj if variant == "proj_values" else keys
    return weights @ values, weights


ATTENTION_MISTAKES = [
    ("there is NO SOURCE MASK: the PAD positions get attention weight. Fill their scores with -inf before the "
     "softmax: scores.masked_fill(~mask[:, None, :], float('-inf'))", "no_mask"),
    ("the mask has the WRONG POLARITY: it blocks the real tokens and attends to PAD (a row with no PAD becomes "
     "all -inf, hence nan). mask is True at the real tokens: fill where ~mask", "polarity"),
    ("the mask is applied AFTER the softmax (weights multiplied by the mask): the rows no longer sum to 1. "
     "Mask the scores with -inf, then take the softmax", "after"),
    ("the softmax runs over the TARGET steps (dim 1) instead of the source positions: each row of weights "
     "(B, T, S) must sum to 1 over S, softmax(dim=-1)", "dim_T"),
    ("the softmax runs over the BATCH (dim 0) instead of the source positions: softmax(dim=-1)", "dim_B"),
    ("the scores are divided by sqrt(H): that is the Transformer's scaled dot product; Luong's dot and "
     "general scores are not scaled", "scaled"),
    ("the context averages the PROJECTED keys W_a h̄_s; the context is the weighted sum of the encoder "
     "outputs themselves, c_t = sum_s a_ts h̄_s", "proj_values"),
]


@check("LuongAttention ('dot' and 'general') -> (context (B, T, H), weights (B, T, S)): a softmax over the real "
       "source positions of h_tᵀ h̄_s or h_tᵀ W_a h̄_s", task="attention")
def attention_values(ctx):
    mod = ctx.load("luong")
    dev = float64_device(ctx)
    B, T, S, H = 4, 3, 5, 6
    src, _ = rows([5, 2, 4, 1])
    mask = (src != PAD).to(dev)
    query = torch.randn(B, T, H, generator=ctx.gen, dtype=F64).to(dev)
    keys = torch.randn(B, S, H, generator=ctx.gen, dtype=F64).to(dev)
    for method in ("dot", "general"):
        torch.manual_seed(ctx.seed)
        att = mod.LuongAttention(H, method)
        expect_type(att, nn.Module, f"LuongAttention({H}, {method!r})")
        if method == "general":
            expect_modules(att, f"LuongAttention({H}, 'general')", W_a=nn.Linear)
            expect(att.W_a.bias is None, "LuongAttention's W_a has a bias; Luong's general score h_tᵀ W_a h̄_s "
                   "has none: nn.Linear(H, H, bias=False)")
        att = att.to(device=dev, dtype=F64)
        att.method = method  # the reference reads it; the learner may store it under any name
        label = f"LuongAttention({H}, {method!r})(query {(B, T, H)}, keys {(B, S, H)}, mask with lengths [5, 2, 4, 1])"
        with torch.no_grad(), forbid(F.scaled_dot_product_attention, nn.MultiheadAttention, reason=NO_SDPA,
                                     caller="LuongAttention"):
            got = as_tuple(att(query, keys, mask), 2, label, "the pair (context (B, T, H), weights (B, T, S))")
        context, weights = got
        expect_type(weights, torch.Tensor, f"{label}'s weights")
        if tuple(weights.shape) == (B, S, T):
            fail(f"{label}'s weights have shape {(B, S, T)}: transposed. Return them as (B, T, S): one row per "
                 "decoder step, a distribution over the source positions")
        expect_shape_of(weights, (B, T, S), f"{label}'s weights", " = (B, T, S)")
        expect_shape_of(context, (B, T, H), f"{label}'s context", " = (B, T, H)")
        with torch.no_grad():
            if method == "general" and is_close(got, attention_reference(att, query, keys, mask, query_side=True)):
                continue  # W_a on the query side: h_tᵀ W_aᵀ h̄_s, another parametrisation of the same score
            mistakes = [(why, (lambda v=v, q=q: attention_reference(att, query, keys, mask, v, q)))
                        for q in (False, True) for why, v in ATTENTION_MISTAKES]
            expect_match(f"{label} (context, weights)", (context, weights),
                         attention_reference(att, query, keys, mask), mistakes,
                         against="softmax over the real source positions of Luong's scores")


# --- task: decoder ------------------------------------------------------------------------------


def decoder_reference(dec, inputs, h, enc, mask, attention=True, variant=""):
    """(log-softmax of the logits, h_n[, weights]) computed from the learner's own modules."""
    emb = dec.embedding(inputs)
    states, h_n = run_batch_first(dec.gru, emb, None if variant == "no_state" else h)
    query = {"query_emb": emb, "query_prev": torch.cat([h.transpose(0, 1), states[:, :-1]], dim=1)}.get(variant, states)
    if attention or variant == "context_on":
        context, weights = dec.attention(query, enc, torch.ones_like(mask) if variant == "no_mask" else mask)
    else:
        context, weights = torch.zeros_like(states), None
    pair = [states, context] if variant == "h_first" else [context, states]
    combined = dec.W_c(torch.cat(pair, dim=-1))
    attentional = combined if variant == "no_tanh" else torch.tanh(combined)
    logits = dec.out(states if variant == "no_context" else attentional)
    return (logits.log_softmax(-1), h_n, weights) if attention else (logits.log_softmax(-1), h_n)


DECODER_MISTAKES = [
    ("the attention query is the decoder's INPUT EMBEDDING; Luong's query is the decoder state h_t that the "
     "GRU has just computed (the GRU's output at step t)", "query_emb"),
    ("the attention query is the PREVIOUS state h_(t-1) (Bahdanau's order); in Luong's attention the GRU steps "
     "first and its new state h_t queries the source", "query_prev"),
    ("the attention context is NOT FED INTO THE OUTPUT LAYER: the logits read h_t alone, so attention cannot "
     "change the prediction. Luong's attentional state is h̃_t = tanh(W_c [c_t; h_t]); logits = out(h̃_t)",
     "no_context"),
    ("it concatenates [h_t; c_t]; the exercise follows Luong, [c_t; h_t] (context first), so that W_c's "
     "columns line up", "h_first"),
    ("the tanh is missing: Luong's attentional hidden state is h̃_t = tanh(W_c [c_t; h_t])", "no_tanh"),
    ("the decoder does not pass the source mask to the attention: PAD positions get weight. Hand it the mask "
     "it is given", "no_mask"),
    ("the GRU ignores the state h it is given and starts from zeros: pass it on, self.gru(embedded, h)",
     "no_state"),
]


@check("AttnDecoder -> (logits (B, T, V), h_n, weights): GRU state h_t as the query, tanh(W_c [c_t; h_t]) into "
       "the output layer; with attention=False the context is zeros", task="decoder")
def decoder_values(ctx):
    mod = ctx.load("luong")
    dev = float64_device(ctx)
    B, T, S, E = 4, 3, 5, 8  # emb_dim = hidden_size, so a query taken from the embedding is still computable
    src, _ = rows([5, 2, 4, 3])
    mask = (src != PAD).to(dev)
    inputs = torch.randint(st.SPECIALS, VOCAB, (B, T), generator=ctx.gen).to(dev)
    h = torch.randn(1, B, E, generator=ctx.gen, dtype=F64).to(dev)
    enc = torch.randn(B, S, E, generator=ctx.gen, dtype=F64).to(dev) * mask[..., None]
    for attention in (True, False):
        torch.manual_seed(ctx.seed)
        name = f"AttnDecoder(20, {E}, {E}, 'general', attention={attention})"
        dec = mod.AttnDecoder(VOCAB, E, E, "general", attention)
        expect_type(dec, nn.Module, name)
        expect_modules(dec, name, embedding=nn.Embedding, gru=nn.GRU, attention=mod.LuongAttention, W_c=nn.Linear,
                       out=nn.Linear)
        dec = dec.to(device=dev, dtype=F64)
        label = f"{name}(inputs {(B, T)}, h {(1, B, E)}, enc_outputs {(B, S, E)}, mask)"
        with torch.no_grad():
            got = as_tuple(dec(inputs, h, enc, mask), 3, label, "(logits (B, T, V), h_n (1, B, H), weights "
                           "(B, T, S) or None without attention)")
            logits, h_n, weights = got
            expect_shape_of(logits, (B, T, VOCAB), f"{label}'s logits", " = (B, T, V)")
            expect_shape_of(h_n, (1, B, E), f"{label}'s h_n", " = (1, B, H)")
            if attention:
                expect_shape_of(weights, (B, T, S), f"{label}'s weights", " = (B, T, S)")
                mine, mistakes = (logits.log_softmax(-1), h_n, weights), DECODER_MISTAKES
            else:
                mine = (logits.log_softmax(-1), h_n)
                mistakes = [("with attention=False it still uses the attention context; the model without "
                             "attention must replace c_t by zeros (same layers, no context)", "context_on")]
            table = [(why, (lambda v=v: decoder_reference(dec, inputs, h, enc, mask, attention, v)))
                     for why, v in mistakes]
            expect_match(f"{label} (logits compared after log_softmax)", mine,
                         decoder_reference(dec, inputs, h, enc, mask, attention), table,
                         against="Embedding -> GRU(h) -> attention(h_t) -> tanh(W_c [c_t; h_t]) -> out")


# --- task: model --------------------------------------------------------------------------------


@check("Seq2SeqAttention(src, src_len, tgt) -> (logits, weights): the decoder starts from h_n, reads [SOS] + "
       "tgt[:-1] and attends over the encoder outputs with the source mask", task="model")
def model_forward(ctx):
    mod = ctx.load("luong")
    dev = float64_device(ctx)
    torch.manual_seed(ctx.seed)
    name = "Seq2SeqAttention(20, 8, 16)"
    model = mod.Seq2SeqAttention(VOCAB, 8, 16)
    expect_type(model, nn.Module, name)
    expect_modules(model, name, encoder=mod.Encoder, decoder=mod.AttnDecoder)
    model = model.to(device=dev, dtype=F64)
    b = st.reversal(5, 1, 5, VOCAB, seed=ctx.seed).to(dev)
    label = f"{name}(src {tuple(b.src.shape)}, src_len, tgt {tuple(b.tgt.shape)})"
    with torch.no_grad():
        logits, weights = as_tuple(model(b.src, b.src_len, b.tgt), 2, label, "the pair (logits, weights)")
        expect_shape_of(logits, (*b.tgt.shape, VOCAB), f"{label}'s logits", " = (B, T, V)")
        enc, h = model.encoder(b.src, b.src_len)
        mask = b.src != PAD

        def run(inputs=None, state=h, m=mask):
            out = model.decoder(st.shift_right(b.tgt) if inputs is None else inputs, state, enc, m)
            return out[0].log_softmax(-1), out[2]

        expect_match(f"{label} (logits after log_softmax, weights)", (logits.log_softmax(-1), weights), run(), [
            ("the decoder starts from zeros, not from the encoder's h_n", lambda: run(state=torch.zeros_like(h))),
            ("the decoder reads the target UNSHIFTED: it sees the very token it must predict. Use "
             "decoder_inputs(tgt) = [SOS] + tgt[:, :-1]", lambda: run(inputs=b.tgt)),
            ("the decoder gets no source mask (every position allowed): PAD positions get weight. Pass "
             "source_mask(src)", lambda: run(m=torch.ones_like(mask))),
            ("the mask passed to the decoder has the WRONG POLARITY (src == PAD): True must mark the real tokens",
             lambda: run(m=~mask)),
        ], against="decoder(decoder_inputs(tgt), h_n, outputs, source_mask(src))")


# --- task: greedy -------------------------------------------------------------------------------


def greedy_reference(model, src, src_len, max_len, variant=""):
    """(tokens (B, max_len), weights (B, max_len, S)) by a reference loop over the learner's decoder; PAD and
    zero weights after each row's EOS."""
    enc, h_enc = model.encoder(src, src_len)
    mask = torch.ones_like(src, dtype=torch.bool) if variant == "no_mask" else src != PAD
    h = torch.zeros_like(h_enc) if variant == "zeros" else h_enc
    B = src.shape[0]
    token = torch.full((B, 1), SOS, dtype=torch.long, device=src.device)
    done = torch.zeros(B, dtype=torch.bool, device=src.device)
    out, ws = [], []
    for _ in range(max_len):
        logits, h_new, w = model.decoder(token, h, enc, mask)
        h = h_enc if variant == "no_carry" else h_new
        nxt = logits[:, -1].argmax(-1)
        out.append(nxt if variant == "no_stop" else nxt.masked_fill(done, PAD))
        ws.append(w[:, -1].masked_fill(done[:, None], 0.0))
        done = done | (nxt == EOS)
        if (variant == "stop_any" and done.any()) or (variant != "no_stop" and done.all()):
            break
        token = torch.full_like(token, SOS) if variant == "feed_sos" else nxt[:, None]
    tokens, weights = torch.stack(out, 1), torch.stack(ws, 1)
    pad = max_len - tokens.shape[1]
    return st.fit_width(tokens, max_len), F.pad(weights, (0, 0, 0, pad))


GREEDY_MISTAKES = [
    ("it keeps decoding after EOS: stop each row at its own EOS and fill the rest with PAD", "no_stop"),
    ("it stops EVERY row as soon as ONE row produces EOS; stop each row at its own EOS", "stop_any"),
    ("it decodes without the source mask: PAD positions get attention weight. Pass source_mask(src)", "no_mask"),
    ("the decoder starts from zeros, not from the encoder's h_n", "zeros"),
    ("it feeds SOS at every step: feed back the token just predicted", "feed_sos"),
    ("the decoder's state is not carried from step to step: keep the h_n the decoder returns", "no_carry"),
]


def eos_spread_model(mod, dev, src, src_len, max_len):
    """Seq2SeqAttention(20, 8, 16) in float64 on fixed weights (0.5·N(0, 1) by parameter name, seed 1), its EOS
    bias set so that rows stop at many different steps."""
    model = mod.Seq2SeqAttention(VOCAB, 8, 16)
    expect_modules(model, "Seq2SeqAttention(20, 8, 16)", encoder=mod.Encoder, decoder=mod.AttnDecoder)
    model = model.to(device=dev, dtype=F64).eval()
    draw_by_name(model)
    decode = lambda: greedy_reference(model, src, src_len, max_len, "no_stop")[0]  # noqa: E731
    spread_eos(model.decoder.out.bias, EOS, decode, max_len)
    return model


@check("greedy_decode(model, src, src_len, max_len) -> (tokens, weights) equals a reference loop on fixed "
       "weights; each row stops at its own EOS", task="greedy")
def greedy_values(ctx):
    mod = ctx.load("luong")
    dev = float64_device(ctx)
    src, src_len = rows([4, 2, 5, 3, 1, 4, 2, 5, 3, 4, 1, 5])
    src, src_len = src.to(dev), src_len.to(dev)
    B, S, max_len = src.shape[0], src.shape[1], 7
    with torch.no_grad():
        model = eos_spread_model(mod, dev, src, src_len, max_len)
        label = f"greedy_decode(model, src {tuple(src.shape)}, src_len, max_len={max_len})"
        tokens, weights = as_tuple(mod.greedy_decode(model, src, src_len, max_len), 2, label,
                                   "the pair (tokens (B, L), weights (B, L, S))")
        expect_type(tokens, torch.Tensor, f"{label}'s tokens")
        expect(not tokens.is_floating_point(), f"{label}'s tokens are {tokens.dtype}; return token ids (long)")
        expect(tokens.dim() == 2 and tokens.shape[0] == B and tokens.shape[1] <= max_len,
               f"{label}'s tokens have shape {tuple(tokens.shape)}; expected (B, L) = ({B}, L), L <= {max_len}")
        L = tokens.shape[1]
        expect_shape_of(weights, (B, L, S), f"{label}'s weights", f" = (B, L, S): the weights of each step")
        want = greedy_reference(model, src, src_len, max_len)
        mine_t = st.fit_width(tokens.long().to(dev), max_len)
        is_eos = (mine_t == EOS).long()
        alive = ((is_eos.cumsum(1) - is_eos) == 0) & (torch.arange(max_len, device=dev) < L)  # up to each EOS
        mine_w = F.pad(weights.to(dev, F64), (0, 0, 0, max_len - L)).masked_fill(~alive[..., None], 0.0)
        diff = (mine_t != want[0]).any(1).nonzero()
        hint = ""
        if len(diff):
            r = int(diff[0])
            hint = (f"Row {r} (source length {int(src_len[r])}): yours {mine_t[r].tolist()}, expected "
                    f"{want[0][r].tolist()} (EOS = {EOS}, PAD = {PAD})")
        table = [(why, (lambda v=v: greedy_reference(model, src, src_len, max_len, v))) for why, v in GREEDY_MISTAKES]
        expect_match(f"{label} (tokens padded to max_len, weights up to each EOS)", (mine_t, mine_w), want, table,
                     hint=hint, against="the reference greedy loop")


# --- task: bleu -----------------------------------------------------------------------------------
# The reference, written here: corpus-level BLEU with one reference per candidate (Papineni et al. 2002).


def ref_ngrams(tokens, n):
    return Counter(tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1))


def ref_matches(cand, ref, n, clip=True, denom="cand", off_by_one=False):
    grams = (lambda t: Counter(tuple(t[i:i + n]) for i in range(len(t) - n))) if off_by_one else \
        (lambda t: ref_ngrams(t, n))
    c, r = grams(cand), grams(ref)
    matches = sum((min(k, r[g]) if clip else (k if g in r else 0)) for g, k in c.items())
    return matches, sum((c if denom == "cand" else r).values())


def ref_bp(c, r, variant=""):
    if variant == "none":
        return 1.0
    if variant == "always":
        return math.exp(1 - r / c) if c else 0.0
    if variant == "inverted":
        return 1.0 if c > r else math.exp(1 - c / r)
    if variant == "ratio":
        return 1.0 if c > r else c / r
    return 1.0 if c > r else (math.exp(1 - r / c) if c else 0.0)


def ref_bleu(cands, refs, max_n, clip=True, bp="", mean="geometric", level="corpus", denom="cand",
             smooth=False, off_by_one=False):
    if level == "sentence":
        return sum(ref_bleu([c], [r], max_n, clip, bp, mean) for c, r in zip(cands, refs)) / len(cands)
    precisions = []
    for n in range(1, max_n + 1):
        m = t = 0
        for c, r in zip(cands, refs):
            dm, dt = ref_matches(c, r, n, clip, denom, off_by_one)
            m, t = m + dm, t + dt
        if smooth:
            m, t = m + 1, t + 1
        precisions.append(m / t if t else 0.0)
    if level == "bp_sentence":
        brevity = sum(ref_bp(len(c), len(r)) for c, r in zip(cands, refs)) / len(cands)
    else:
        brevity = ref_bp(sum(map(len, cands)), sum(map(len, refs)), bp)
    if mean == "arithmetic":
        return brevity * sum(precisions) / max_n
    if min(precisions) == 0:
        return 0.0
    return brevity * math.exp(sum(math.log(p) for p in precisions) / max_n)


BLEU_MISTAKES = [
    ("the n-gram counts are NOT CLIPPED: a candidate n-gram may count at most as often as it occurs in the "
     "reference (min(count, reference count)), or 'the the the the' scores a perfect unigram precision",
     dict(clip=False)),
    ("there is NO BREVITY PENALTY: a short candidate that is all correct scores 1. Multiply by "
     "BP = exp(1 - r/c) when c <= r", dict(bp="none")),
    ("the brevity penalty is inverted, exp(1 - c/r); it is exp(1 - r/c) for c <= r", dict(bp="inverted")),
    ("the brevity penalty is applied when the candidates are LONGER than the references too (BP > 1 then); "
     "BP = 1 when c > r", dict(bp="always")),
    ("the brevity penalty is c/r; it is exp(1 - r/c) for c <= r", dict(bp="ratio")),
    ("it averages per-sentence BLEU scores; corpus BLEU sums the clipped matches, the n-gram counts and the "
     "lengths over the corpus first, then divides", dict(level="sentence")),
    ("the brevity penalty is averaged over sentences; corpus BLEU computes it once from the total lengths c "
     "and r", dict(level="bp_sentence")),
    ("the precisions are combined by an ARITHMETIC mean; BLEU takes their geometric mean, "
     "exp((1/N) sum log p_n), which is 0 as soon as one p_n is 0", dict(mean="arithmetic")),
    ("it divides the matches by the REFERENCE's n-gram count (a recall); precision divides by the "
     "candidate's", dict(denom="ref")),
    ("it adds 1 to the match and n-gram counts (smoothing): the exercise is plain BLEU, 0 when a p_n is 0",
     dict(smooth=True)),
    ("the n-grams miss the last one (range(len(tokens) - n) instead of range(len(tokens) - n + 1))",
     dict(off_by_one=True)),
]

# Hand-made corpora, each making one ingredient matter (tokens are ints; one reference per candidate).
BLEU_CASES = [
    ("clipping", [[5, 5, 5, 5, 6]], [[5, 6, 7, 8, 9]], 1),            # p1 = 2/5 clipped, 5/5 unclipped
    ("brevity", [[3, 4, 5]], [[3, 4, 5, 6, 7]], 2),                 # p1 = p2 = 1, BP = exp(1 - 5/3)
    ("longer candidates", [[3, 4, 5, 6, 7, 8]], [[3, 4, 5, 9]], 2),  # c > r: BP = 1
    ("no bigram matches", [[3, 4], [5, 6, 7]], [[4, 3], [7, 6, 5]], 2),  # p2 = 0 -> BLEU 0
    ("corpus vs sentence", [[3, 4, 5, 6, 7, 8, 9], [10, 11]], [[3, 4, 5, 6, 7, 8, 9], [11, 10, 12]], 2),
    ("mixed", [[3, 4, 4, 5, 6, 7], [8, 9, 8, 9], [10, 3, 4]], [[3, 4, 5, 6, 7, 7], [9, 8, 9, 8, 8], [10, 3]], 2),
    ("trigrams", [[3, 4, 5, 6, 3, 4, 5], [7, 8, 9, 10]], [[3, 4, 5, 3, 4, 5, 6], [7, 8, 9, 10, 11]], 3),
]


def call_bleu(mod, cands, refs, max_n, label):
    try:
        got = mod.corpus_bleu([list(c) for c in cands], [list(r) for r in refs], max_n=max_n)
    except (ValueError, ZeroDivisionError) as exc:
        fail(f"{label} raised {type(exc).__name__}: {exc}. The expected BLEU is "
             f"{number(ref_bleu(cands, refs, max_n))}: when a precision p_n is 0 (or there are no n-grams) BLEU "
             "is 0 (the geometric mean of numbers one of which is 0), so return 0.0 before taking log(0)")
    try:
        return float(got)
    except (TypeError, ValueError):
        fail(f"{label} returned {type(got).__name__}; return one float")


@check("ngrams, clipped_matches and brevity_penalty equal a reference on hand-made cases", task="bleu")
def bleu_parts(ctx):
    mod = ctx.load("bleu")
    for tokens, n in (([3, 4, 3, 4, 5], 1), ([3, 4, 3, 4, 5], 2), ([3, 4, 3, 4, 5], 5), ([3, 4], 3)):
        got = mod.ngrams(list(tokens), n)
        label = f"ngrams({tokens}, {n})"
        expect(isinstance(got, dict), f"{label} returned {type(got).__name__}; return a Counter of tuples")
        want = ref_ngrams(tokens, n)
        if dict(got) != dict(want):
            missing = {g: k for g, k in want.items() if got.get(g, 0) != k}
            extra = {g: k for g, k in got.items() if g not in want}
            fail(f"{label} is {dict(got)}; expected {dict(want)} (differences: {missing or extra}). A sequence of "
                 f"length L has L - n + 1 n-grams, as tuples: {len(tokens) - n + 1 if len(tokens) >= n else 0} here"
                 + (", none when L < n" if len(tokens) < n else ""))
    for cand, ref, n in (([5, 5, 5, 5, 6], [5, 6, 5, 7], 1), ([5, 5, 5, 5, 6], [5, 6, 5, 7], 2),
                         ([3, 4, 5], [3, 4, 5, 6, 7], 2), ([3, 4], [4, 3], 2)):
        label = f"clipped_matches({cand}, {ref}, {n})"
        got = as_tuple(mod.clipped_matches(list(cand), list(ref), n), 2, label,
                       "the pair (clipped matches, candidate n-gram count)")
        expect_match(label, tuple(int(v) for v in got), ref_matches(cand, ref, n), [
            ("the counts are NOT CLIPPED: each candidate n-gram counts at most as often as in the reference",
             ref_matches(cand, ref, n, clip=False)),
            ("the second number is the REFERENCE's n-gram count; it is the candidate's (precision)",
             ref_matches(cand, ref, n, denom="ref")),
            ("the n-grams miss the last one: there are len - n + 1", ref_matches(cand, ref, n, off_by_one=True)),
        ], against="(sum of min(count, reference count), number of candidate n-grams)")
    for c, r in ((12, 10), (10, 10), (8, 10), (3, 5), (1, 4)):
        label = f"brevity_penalty(c={c}, r={r})"
        got = mod.brevity_penalty(c, r)
        expect_match(label, float(got), ref_bp(c, r), [
            ("it is inverted, exp(1 - c/r); the penalty is exp(1 - r/c) for c <= r", ref_bp(c, r, "inverted")),
            ("it penalises (or rewards) longer candidates too; BP = 1 when c > r", ref_bp(c, r, "always")),
            ("it is c/r; the penalty is exp(1 - r/c) for c <= r", ref_bp(c, r, "ratio")),
            ("it is always 1: there is no penalty", 1.0),
        ], against="1 if c > r else exp(1 - r/c)")
    try:
        empty = float(mod.brevity_penalty(0, 5))
    except ZeroDivisionError:
        fail("brevity_penalty(c=0, r=5) raised ZeroDivisionError: an empty candidate corpus gets BP = 0 "
             "(the limit of exp(1 - r/c) as c -> 0); return 0.0 when c == 0")
    expect_match("brevity_penalty(c=0, r=5)", empty, 0.0, against="0 for an empty candidate corpus")


@check("corpus_bleu equals a reference BLEU-N on hand-made corpora: clipping, brevity penalty, zero counts, corpus "
       "level", task="bleu")
def bleu_corpus(ctx):
    mod = ctx.load("bleu")
    for what, cands, refs, max_n in BLEU_CASES:
        label = f"corpus_bleu({cands}, {refs}, max_n={max_n}) [{what}]"
        got = call_bleu(mod, cands, refs, max_n, label)
        table = [(why, (lambda kw=kw: ref_bleu(cands, refs, max_n, **kw))) for why, kw in BLEU_MISTAKES]
        expect_match(label, got, ref_bleu(cands, refs, max_n), table, against="corpus BLEU")
    label = "corpus_bleu([[]], [[3, 4]], max_n=2) [an empty candidate]"
    got = call_bleu(mod, [[]], [[3, 4]], 2, label)
    expect_match(label, got, 0.0, against="0 (nothing was produced)")


# --- task: compare (one trained pair, shared by the last two checks) -----------------------------

# Reversal of 10-12 symbols (vocab 20), Seq2SeqAttention(20, 16, 32, 'general'), Adam lr 2e-2, clip 1.0,
# 120 steps of 64 fresh sequences each, for the model with attention and for the one without; greedy token
# accuracy (EOS included) on 512 held-out sequences, max_len 15. Solution, seeds 0-7: with attention
# 0.811-0.861 (exact sequences 0.50-0.66), without 0.232-0.264, gain 0.561-0.610; ~1.5 s CPU per model.
# With 100 steps attention fell to 0.72-0.79 (seeds 0-2), so 120 it is.
LENGTHS, STEPS, BATCH, LR, EMB, HIDDEN, N_VAL = (10, 12), 120, 64, 2e-2, 16, 32, 512
MIN_ATTN_ACC = 0.65  # solution 0.811-0.861 over seeds 0-7
MIN_GAIN = 0.35      # solution: attention - no attention = 0.561-0.610 over seeds 0-7
_TRAINED: dict = {}


def train_one(mod, ctx, attention):
    torch.manual_seed(ctx.seed)
    gen = torch.Generator().manual_seed(ctx.seed)
    model = mod.Seq2SeqAttention(VOCAB, EMB, HIDDEN, "general", attention).to(ctx.device)
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    losses = []
    model.train()
    for _ in range(STEPS):
        b = st.reversal(BATCH, *LENGTHS, VOCAB, seed=gen).to(ctx.device)
        logits = as_tuple(model(b.src, b.src_len, b.tgt), 2, "Seq2SeqAttention(...)(src, src_len, tgt)",
                          "the pair (logits, weights)")[0]
        loss = F.cross_entropy(logits.flatten(0, 1), b.tgt.flatten(), ignore_index=PAD)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        losses.append(loss.item())
    model.eval()
    v = st.reversal(N_VAL, *LENGTHS, VOCAB, seed=ctx.seed + 1000).to(ctx.device)
    with torch.no_grad():
        tokens, weights = as_tuple(mod.greedy_decode(model, v.src, v.src_len, LENGTHS[1] + 3), 2,
                                   "greedy_decode(...)", "the pair (tokens, weights)")
    return dict(losses=losses, tokens=tokens, weights=weights, val=v, acc=st.token_accuracy(tokens, v.tgt),
                exact=st.sequence_accuracy(tokens, v.tgt))


def trained_pair(ctx):
    key = (ctx.seed, str(ctx.device))
    if key not in _TRAINED:
        mod = ctx.load("luong")
        _TRAINED[key] = {"attention": train_one(mod, ctx, True), "none": train_one(mod, ctx, False)}
    return _TRAINED[key]


def strip(row):
    out = []
    for t in row.tolist():
        if t == EOS:
            break
        if t != PAD:
            out.append(t)
    return out


@check(f"trained here on reversal of {LENGTHS[0]}-{LENGTHS[1]} symbols, attention reaches a greedy token accuracy "
       f">= {MIN_ATTN_ACC} and beats the same model without attention by >= {MIN_GAIN}", task="compare")
def compare_attention(ctx):
    pair = trained_pair(ctx)
    att, none = pair["attention"], pair["none"]
    ctx.curve("training loss with attention", att["losses"])
    ctx.curve("training loss without attention", none["losses"])
    for what, run in (("with", att), ("without", none)):
        expect(math.isfinite(run["losses"][-1]), f"the training loss {what} attention is {run['losses'][-1]}: "
               "training diverged (a nan from a fully masked row?)")
    ctx.metric("token accuracy with attention", att["acc"], MIN_ATTN_ACC)
    ctx.metric("token accuracy without attention", none["acc"], None)
    ctx.metric("exact sequences with attention", att["exact"], None)
    v, w = att["val"], att["weights"]
    n, L = int(v.src_len[0]), int((att["tokens"][0] != PAD).sum())
    if isinstance(w, torch.Tensor) and w.dim() == 3 and 0 < L <= min(w.shape[1], 64):
        ctx.heatmap("attention weights, first held-out sequence", w[0, :L, :n],
                    rows=[str(t) for t in att["tokens"][0, :L].tolist()], cols=[str(t) for t in v.src[0, :n].tolist()],
                    row_title="output", col_title="source")
    gain = att["acc"] - none["acc"]
    numbers = (f"with attention {att['acc']:.3f}, without {none['acc']:.3f}, gain {gain:+.3f}; the reference "
               "solution, seeds 0-7: 0.81-0.86 with, 0.23-0.26 without, gain 0.56-0.61")
    if gain < MIN_GAIN and none["acc"] >= MIN_ATTN_ACC:
        fail(f"the model built with attention=False is as good as the one with attention ({numbers}): does it "
             "ignore attention=False? Without attention the context must be zeros")
    expect(att["acc"] >= MIN_ATTN_ACC, f"with attention greedy decoding reaches a token accuracy of "
           f"{att['acc']:.3f}, below {MIN_ATTN_ACC} ({numbers}). Make the earlier checks pass first")
    expect(gain >= MIN_GAIN, f"attention beats the model without it by only {gain:.3f} < {MIN_GAIN} ({numbers})")


@check("your corpus_bleu on the two trained models' decodes equals the reference; attention wins on BLEU-2 too",
       task="compare")
def compare_bleu(ctx):
    mod = ctx.load("bleu")
    pair = trained_pair(ctx)
    refs = [strip(r) for r in pair["attention"]["val"].tgt.cpu()]
    scores = {}
    for what in ("attention", "none"):
        cands = [strip(r) for r in pair[what]["tokens"].cpu()]
        model = "with" if what == "attention" else "without"
        for n in (1, 2):
            label = f"corpus_bleu on the {len(cands)} decodes of the model {model} attention, max_n={n}"
            got = call_bleu(mod, cands, refs, n, label)
            table = [(why, (lambda kw=kw, n=n: ref_bleu(cands, refs, n, **kw))) for why, kw in BLEU_MISTAKES]
            want = ref_bleu(cands, refs, n)
            expect_match(label, got, want, table, against="corpus BLEU")
            scores[what, n] = want
            ctx.metric(f"BLEU-{n} {model} attention", want, None)
    expect(scores["attention", 2] > scores["none", 2], f"BLEU-2 with attention {scores['attention', 2]:.3f} is not "
           f"above BLEU-2 without it {scores['none', 2]:.3f}")

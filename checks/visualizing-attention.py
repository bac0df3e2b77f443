"""Check: a Bahdanau attention decoder that returns its weights, the weights of a batch, a text
heatmap of them and an alignment score, then a model trained here on reversal.

The decoder step and attention_maps are compared in float64, on fixed weights, with references
computed here from the learner's own (given) modules. text_heatmap is read back, not compared
character by character: the check finds the source labels in the header, reads each row's shade
under each label, and verifies orientation, the padding left out, one shading scale and the width.
alignment_score is compared with a reference on hand-made maps. Finally the model is trained here
(about 2 s) and its maps must put their weight on reversal's anti-diagonal; the check shows one
example's map as a heatmap.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from tutor.checking import check, expect, expect_match, expect_type, fail, float64_device
from tutor.checking import seqtasks as st

F64 = torch.float64
PAD, SOS, EOS = st.PAD, st.SOS, st.EOS
VOCAB = 20
SHADES = " .:-=+*#%@"


def fixed_model(mod, dev, emb_dim=3, hidden=4):
    """AttentionSeq2Seq(20, 3, 4) in float64, every parameter drawn here by name (0.8·N(0, 1), seed 3)."""
    model = mod.AttentionSeq2Seq(VOCAB, emb_dim, hidden).to(device=dev, dtype=F64).eval()
    gen = torch.Generator().manual_seed(3)
    with torch.no_grad():
        for _, p in sorted(model.named_parameters(), key=lambda kv: kv[0]):
            p.copy_(0.8 * torch.randn(p.shape, generator=gen, dtype=F64).to(dev))
    return model


def ref_step(dec, token, hidden, keys, values, mask, variant=""):
    """The reference decoder step from the learner's modules; `variant` recomputes a classic mistake."""
    pre = dec.W_q(hidden).unsqueeze(1) + dec.W_k(keys)
    scores = dec.w_v(pre if variant == "no_tanh" else torch.tanh(pre)).squeeze(-1)
    blocked = scores.masked_fill(~mask, float("-inf"))
    if variant == "no_mask":
        weights = scores.softmax(-1)
    elif variant == "zero_fill":
        weights = scores.masked_fill(~mask, 0.0).softmax(-1)
    elif variant == "mask_after":
        weights = scores.softmax(-1) * mask
    elif variant == "batch_softmax":
        weights = blocked.softmax(0)
    else:
        weights = blocked.softmax(-1)
    context = torch.bmm(weights.unsqueeze(1), values).squeeze(1)
    emb = dec.embedding(token)
    new = dec.cell(torch.cat([context, emb] if variant == "cell_order" else [emb, context], -1), hidden)
    logits = dec.out(torch.cat([hidden if variant == "old_state" else new, context], -1))
    return logits, new, scores if variant == "scores" else weights


STEP_MISTAKES = [
    ("PAD source positions get attention: the softmax runs over every column, padding included. Fill the "
     "scores of PAD positions with -inf BEFORE the softmax: scores.masked_fill(~src_mask, float('-inf'))",
     "no_mask"),
    ("the PAD scores are filled with 0, not -inf: exp(0) = 1 still gives PAD a share of the weight. Fill them "
     "with float('-inf') so that their weight is exactly 0", "zero_fill"),
    ("the mask is applied AFTER the softmax (weights * mask): PAD gets 0 but the rows no longer sum to 1. "
     "Mask the scores with -inf before the softmax", "mask_after"),
    ("the softmax runs over the BATCH (dim 0), not over the source positions: each row of weights must be a "
     "distribution over its own sentence, softmax(dim=-1)", "batch_softmax"),
    ("the tanh is missing: additive attention scores w_vᵀ tanh(W_q q + W_k k). Without it the query's term "
     "w_vᵀ W_q q is the same for every key and cancels in the softmax: the weights ignore the decoder's state",
     "no_tanh"),
    ("it returns the SCORES (before the softmax) as the weights: return the softmax of the masked scores",
     "scores"),
    ("the cell reads [context, embedding]; the given cell reads [embedding(token), context], in that order",
     "cell_order"),
    ("the logits come from the state BEFORE the update: compute the new hidden with the cell first, then "
     "logits = out([new hidden, context])", "old_state"),
]


def step_inputs(dev, B=4, S=6, E=3, H=4, lengths=(6, 3, 5, 2), seed=0):
    gen = torch.Generator().manual_seed(seed)
    mask = (torch.arange(S) < torch.tensor(lengths)[:, None]).to(dev)
    keys = torch.randn(B, S, 2 * H, generator=gen, dtype=F64).to(dev) * mask[..., None]
    values = torch.randn(B, S, E, generator=gen, dtype=F64).to(dev) * mask[..., None]
    token = torch.randint(st.SPECIALS, VOCAB, (B,), generator=gen).to(dev)
    hidden = torch.randn(B, H, generator=gen, dtype=F64).to(dev)
    return token, hidden, keys, values, mask


# --- task: step ---------------------------------------------------------------------------------


@check("BahdanauDecoder.step returns (logits (B, V), hidden (B, H), weights (B, S)) equal to additive "
       "attention over the real source positions", task="step")
def step_values(ctx):
    mod = ctx.load("attention_viz")
    dev = float64_device(ctx)
    dec = fixed_model(mod, dev).decoder
    token, hidden, keys, values, mask = step_inputs(dev)
    B, S = mask.shape
    label = "step(token (4,), hidden (4, 4), keys (4, 6, 8), values (4, 6, 3), src_mask (4, 6))"
    with torch.no_grad():
        got = dec.step(token, hidden, keys, values, mask)
        expect(isinstance(got, (tuple, list)) and len(got) == 3, f"{label} returned {type(got).__name__}"
               f"{f' of {len(got)}' if isinstance(got, (tuple, list)) else ''}; return the triple (logits, "
               "new hidden, weights): the weights are what this lesson draws")
        logits, new, weights = got
        for name, t, shape in (("logits", logits, (B, VOCAB)), ("hidden", new, (B, 4)), ("weights", weights, (B, S))):
            expect_type(t, torch.Tensor, f"{label}'s {name}")
            if name == "weights" and tuple(t.shape) == (B, 1, S):
                fail(f"{label}'s weights have shape (4, 1, 6): squeeze the middle axis (bmm's), return (B, S)")
            expect(tuple(t.shape) == shape, f"{label}'s {name} have shape {tuple(t.shape)}; expected {shape}")
        want = ref_step(dec, token, hidden, keys, values, mask)
        mistakes = [(why, (lambda v=v: ref_step(dec, token, hidden, keys, values, mask, v)))
                    for why, v in STEP_MISTAKES]
        reorder = lambda triple: (triple[2], triple[1], triple[0])  # the weights first: their difference is shown
        expect_match(f"{label} (weights, hidden, logits)", (weights, new, logits), reorder(want),
                     [(why, (lambda f=f: reorder(f()))) for why, f in mistakes], against="the reference step")


# --- task: maps ---------------------------------------------------------------------------------


def ref_maps(model, b, variant=""):
    keys, values = model.encoder(b.src, b.src_len)
    zero = keys.new_zeros(b.src.shape[0], model.decoder.hidden_size)
    hidden, mask = zero, b.src != PAD
    inputs = b.tgt if variant == "unshifted" else st.shift_right(b.tgt)
    maps = []
    for t in range(inputs.shape[1]):
        _, new, w = ref_step(model.decoder, inputs[:, t], hidden, keys, values, mask)
        hidden = zero if variant == "no_carry" else new
        maps.append(w)
    return torch.stack(maps, dim=1)


def maps_batch(dev):
    """Five reversal rows of 2-6 symbols, the first seed whose rows have lengths 2 and 6 (so S = 6 and T = 7
    differ from B = 5, and short rows have padded columns and rows)."""
    seed = next(k for k in range(100) if set(st.reversal(5, 2, 6, VOCAB, seed=k).src_len.tolist()) >= {2, 6})
    return st.reversal(5, 2, 6, VOCAB, seed=seed).to(dev)


@check("attention_maps(model, batch) is (B, T_dec, T_enc): rows sum to 1, PAD source columns exactly 0, equal "
       "to the teacher-forced decoder's weights", task="maps")
def maps_values(ctx):
    mod = ctx.load("attention_viz")
    dev = float64_device(ctx)
    model = fixed_model(mod, dev)
    b = maps_batch(dev)
    B, S = b.src.shape
    T = b.tgt.shape[1]
    label = f"attention_maps(model, batch: src ({B}, {S}), tgt ({B}, {T}))"
    got = mod.attention_maps(model, b)
    expect_type(got, torch.Tensor, label)
    shape = tuple(got.shape)
    if shape == (B, S, T):
        fail(f"{label} has shape {shape} = (B, T_enc, T_dec): rows and columns are TRANSPOSED. A row per "
             f"OUTPUT position, a column per INPUT position: (B, T_dec, T_enc) = ({B}, {T}, {S}); stack the "
             "steps' (B, S) weights along dim=1")
    if shape == (T, B, S):
        fail(f"{label} has shape {shape} = (T_dec, B, T_enc): the batch axis must come first, "
             f"(B, T_dec, T_enc) = ({B}, {T}, {S}); torch.stack(steps, dim=1)")
    expect(shape == (B, T, S), f"{label} has shape {shape}; expected (B, T_dec, T_enc) = ({B}, {T}, {S})")
    expect(not got.requires_grad, f"{label} requires grad: compute the maps under torch.no_grad() (they are "
           "for looking at, not for training)")
    got = got.detach()
    pad = (b.src == PAD)[:, None, :].expand_as(got)
    on_pad = got.abs().masked_fill(~pad, 0)
    if on_pad.max() > 0:
        i = int(on_pad.flatten().argmax())
        e, r, c = i // (T * S), (i // S) % T, i % S
        fail(f"{label} puts weight on PAD source positions: {float(on_pad.max()):.4g} at example {e}, output {r}, "
             f"input {c} (example {e} has {int(b.src_len[e])} real tokens; {int(pad.sum())} PAD cells carry "
             f"{float(on_pad.sum()):.4g} in all). Pass the decoder src_mask = batch.src != PAD: the PAD columns "
             "must be exactly 0")
    rows, cols = got.sum(-1), got.sum(1).masked_fill(b.src == PAD, 1.0)
    if not torch.allclose(rows, torch.ones_like(rows), atol=1e-9):
        per_col = torch.allclose(cols, torch.ones_like(cols), atol=1e-9)
        i = int((rows - 1).abs().flatten().argmax())
        fail(f"{label}: the row for example {i // T}, output {i % T} sums to {float(rows.flatten()[i]):.6g}, "
             f"not 1" + (": the map is normalised per COLUMN (each input's weights sum to 1 over the outputs). "
                         "Each ROW is the decoder's softmax at one step; keep the step's weights as they are"
                         if per_col else "; each row is one step's softmax over the source"))
    expect_match(label, got, ref_maps(model, b), [
        ("the decoder reads the target UNSHIFTED: at step t it must read [SOS] + tgt[:, :-1] (SOS first), the "
         "token BEFORE the one it predicts, as in the training forward", lambda: ref_maps(model, b, "unshifted")),
        ("the hidden state is not carried: every step starts again from zeros. Keep the new hidden that step "
         "returns and pass it to the next step", lambda: ref_maps(model, b, "no_carry")),
    ], against="the teacher-forced reference loop")


# --- task: heatmap ------------------------------------------------------------------------------


def read_heatmap(text, src, tgt, label):
    """(levels (T, n_shown) as lists, header starts, row lines) read back from the learner's text."""
    lines = text.split("\n")

    def first_line_with(a, b):
        return next((k for k, line in enumerate(lines) if a in line and b in line[line.index(a) + len(a):]), None)

    h, h_tgt = first_line_with(src[0], src[1]), first_line_with(tgt[0], tgt[1])
    if h_tgt is not None and (h is None or h_tgt < h):
        fail(f"{label}: the target tokens {tgt[:3]}... run across the top (line {h_tgt + 1}): rows and columns are "
             "TRANSPOSED. Put the source (input) tokens across the top and a line per target (output) token")
    if h is None:
        fail(f"{label}: no line shows the source tokens {src[0]!r}, {src[1]!r} in order; the first line should "
             f"carry the source tokens as column labels. Your text starts: {lines[0][:60]!r}")
    header, starts, pos = lines[h], [], 0
    for s in src:
        at = header.find(s, pos)
        if at < 0:
            break
        starts.append(at)
        pos = at + len(s)
    rows = lines[h + 1: h + 1 + len(tgt)]
    expect(len(rows) == len(tgt), f"{label} has {len(rows)} lines under the header; expected one per target "
           f"token, {len(tgt)}")
    levels = []
    for i, (line, name) in enumerate(zip(rows, tgt)):
        prefix = line[:starts[0]]
        if name not in prefix:
            if any(s in prefix for s in src):
                fail(f"{label}: line {h + 2 + i} is labelled with a SOURCE token ({prefix.strip()!r}): rows and "
                     "columns are TRANSPOSED. A line per target (output) token, the source tokens across the top")
            fail(f"{label}: line {h + 2 + i} should start with target token {name!r} (rows in target order), "
                 f"got {prefix!r}")
        row = []
        for j, at in enumerate(starts):
            cell = line[at: at + len(src[j])].ljust(len(src[j]))
            found = [SHADES.index(c) for c in cell if c in SHADES]
            expect(bool(found), f"{label}: under {src[j]!r}, line {h + 2 + i} holds {cell!r}, no SHADES character "
                   f"({SHADES!r}); fill each cell with the shade of its weight")
            row.append(max(found))
        levels.append(row)
    return levels, starts, rows


def heatmap_call(mod, weights, src, tgt, **kw):
    label = f"text_heatmap(weights {tuple(weights.shape)}, {len(src)} source tokens, {len(tgt)} target tokens" + \
        "".join(f", {k}={v}" for k, v in kw.items()) + ")"
    text = mod.text_heatmap(weights, src, tgt, **kw)
    expect_type(text, str, label)
    return text, label


@check("text_heatmap draws the real block only, source across the top and a line per target token, in order",
       task="heatmap")
def heatmap_layout(ctx):
    mod = ctx.load("attention_viz")
    src, tgt = [f"x{j}" for j in range(5)], [f"y{i}" for i in range(6)]
    perm = [4, 2, 0, 3, 1, 3]
    w = torch.ones(8, 7, dtype=F64)  # the padded rows and columns are dark: they must not be drawn
    w[:6, :5] = 0.0
    w[torch.arange(6), torch.tensor(perm)] = 1.0
    text, label = heatmap_call(mod, w, src, tgt)
    levels, starts, rows = read_heatmap(text, src, tgt, label)
    expect(len(starts) == len(src), f"{label}: the header shows {len(starts)} of the {len(src)} source tokens "
           f"in order ({src}); every one fits in 80 columns")
    top = max(max(row) for row in levels)
    if all(row[perm[i]] == 0 for i, row in enumerate(levels)) and top > 0:
        fail(f"{label}: the shading is reversed: every weight of 1.0 is drawn blank (level 0) and the zeros at "
             f"level {top} ({SHADES[top]!r}). SHADES runs from weight 0 (a blank) to the highest weight "
             f"({SHADES[-1]!r}); levels read back: {levels}")
    for i, row in enumerate(levels):
        dark = max(range(len(row)), key=row.__getitem__)
        if dark != perm[i] or row[dark] == 0:
            fail(f"{label}: row {tgt[i]!r} is darkest under {src[dark]!r} (level {row[dark]}), but its weight 1.0 "
                 f"is at input {perm[i]} ({src[perm[i]]!r}); levels read back: {row}. Row i of the map is line i "
                 "under the header, column j under source label j")
        if sorted(row)[-2] > 0:
            fail(f"{label}: row {tgt[i]!r} has weight 0 in every column but {src[perm[i]]!r}, yet draws levels "
                 f"{row}: a weight of 0 is SHADES[0], a blank")
    stride = starts[1] - starts[0]
    after = starts[-1] + stride
    for i, line in enumerate(rows):
        extra = [c for c in line[after:] if c in SHADES[1:]]
        if extra:
            fail(f"{label}: row {tgt[i]!r} draws {len(extra)} shaded characters ({''.join(extra)[:12]!r}) right of "
                 f"the last source token {src[-1]!r}: the PADDED columns are drawn. weights is "
                 f"{tuple(w.shape)} but only {len(tgt)} × {len(src)} is real; draw weights[:len(tgt_tokens), "
                 ":len(src_tokens)]")


@check("text_heatmap shades every cell on ONE scale (0 blank, darker = more weight) and fits `width` columns",
       task="heatmap")
def heatmap_scale_and_width(ctx):
    mod = ctx.load("attention_viz")
    src, tgt = [f"x{j}" for j in range(4)], [f"y{i}" for i in range(4)]
    w = torch.tensor([[0.10, 0.90, 0.00, 0.00],
                      [0.10, 0.00, 0.90, 0.00],
                      [0.05, 0.00, 0.00, 0.95],
                      [0.10, 0.30, 0.30, 0.30]], dtype=F64)
    text, label = heatmap_call(mod, w, src, tgt)
    L = torch.tensor(read_heatmap(text, src, tgt, label)[0])
    if (L[w == 0] > 0).any():
        fail(f"{label}: a weight of 0 is drawn at level {int(L[w == 0].max())} ({SHADES[int(L[w == 0].max())]!r}); "
             f"levels read back {L.tolist()}. Weight 0 is SHADES[0], a blank, and darker means MORE weight")
    flat_w, flat_l = w.flatten(), L.flatten()
    for a in range(16):
        for c in range(16):
            if flat_w[c] - flat_w[a] >= 0.5 and flat_l[a] >= flat_l[c]:
                ra, ca, rc, cc = a // 4, a % 4, c // 4, c % 4
                col_max = all(int(L[w[:, j].argmax(), j]) == int(L.max()) for j in range(4))
                row_max = all(int(L[i, w[i].argmax()]) == int(L.max()) for i in range(4))
                why = (" Every column's largest weight is drawn darkest: the shading is normalised per COLUMN."
                       if col_max else " Every row's largest weight is drawn darkest: the shading is normalised "
                       "per ROW, which hides how sure each step is." if row_max else "")
                fail(f"{label}: cell ({tgt[ra]}, {src[ca]}) with weight {float(flat_w[a]):.2f} is drawn level "
                     f"{int(flat_l[a])} ({SHADES[int(flat_l[a])]!r}), at least as dark as ({tgt[rc]}, {src[cc]}) "
                     f"with weight {float(flat_w[c]):.2f} (level {int(flat_l[c])}, {SHADES[int(flat_l[c])]!r}).{why} "
                     f"Use ONE scale for the whole map, SHADES[round(w * 9)]; levels read back {L.tolist()}")
    gen = torch.Generator().manual_seed(ctx.seed)
    long_src, short_tgt = [f"w{j:02d}" for j in range(40)], ["y0", "y1", "EOS"]
    wide = torch.randn(3, 40, generator=gen, dtype=F64).softmax(-1)
    for kw in ({}, {"width": 50}):
        width = kw.get("width", 80)
        text, label = heatmap_call(mod, wide, long_src, short_tgt, **kw)
        for k, line in enumerate(text.split("\n")):
            expect(len(line) <= width, f"{label}: line {k + 1} is {len(line)} characters wide, more than "
                   f"width={width}: draw only the columns that fit (and say how many are left out)")
        _, starts, _ = read_heatmap(text, long_src, short_tgt, label)
        expect(len(starts) >= 5, f"{label}: only {len(starts)} source tokens are shown in order; {width} columns "
               "hold at least 5 of these 3-character labels")


# --- task: score --------------------------------------------------------------------------------


def score_maps(seed):
    """Random attention maps (B=5, T=6, S=5) with distributions over the real columns in EVERY row."""
    gen = torch.Generator().manual_seed(seed)
    src_len = torch.tensor([5, 2, 4, 1, 3])
    scores = 2 * torch.randn(5, 6, 5, generator=gen, dtype=F64)
    mask = (torch.arange(5) < src_len[:, None])[:, None, :]
    return scores.masked_fill(~mask, float("-inf")).softmax(-1), src_len, src_len + 1


def ref_score(w, src_len, tgt_len, variant=""):
    B, T, S = w.shape
    i = torch.arange(T)[None, :]
    n = src_len[:, None]
    scored = (i < n) & (i < tgt_len[:, None])
    cols = {"main": i.expand(B, T), "padded_width": (S - 1 - i).expand(B, T)}.get(variant, n - 1 - i)
    if variant == "eos_row":
        scored = i < tgt_len[:, None]
    on = w.gather(2, cols.clamp(0, S - 1).unsqueeze(-1)).squeeze(-1) * scored
    if variant == "all_rows":
        return (on.sum() / (B * T)).item()
    if variant == "per_sequence":
        return (on.sum(1) / scored.sum(1)).mean().item()
    if variant == "sum":
        return on.sum().item()
    return (on.sum() / scored.sum()).item()


@check("alignment_score(weights, src_len, tgt_len) is the mean weight on reversal's anti-diagonal over the real "
       "output positions", task="score")
def score_values(ctx):
    mod = ctx.load("attention_viz")
    for seed in (ctx.seed, ctx.seed + 1):
        w, src_len, tgt_len = score_maps(seed)
        label = f"alignment_score(weights (5, 6, 5), src_len {src_len.tolist()}, tgt_len {tgt_len.tolist()})"
        got = mod.alignment_score(w.clone(), src_len.clone(), tgt_len.clone())
        expect(isinstance(got, (int, float)) or (isinstance(got, torch.Tensor) and got.numel() == 1),
               f"{label} returned {type(got).__name__}; return one number (a float)")
        expect_match(label, float(got), ref_score(w, src_len, tgt_len), [
            ("it scores the MAIN diagonal (column i): reversal's output i is input n - 1 - i, the ANTI-diagonal",
             lambda: ref_score(w, src_len, tgt_len, "main")),
            ("it uses the padded width: column S - 1 - i is the anti-diagonal of the WIDEST row only. Each row "
             "has its own: column src_len - 1 - i", lambda: ref_score(w, src_len, tgt_len, "padded_width")),
            ("it scores the EOS row too: output n (EOS) has no source token to align with; score rows i < src_len",
             lambda: ref_score(w, src_len, tgt_len, "eos_row")),
            ("it divides by every row of the padded batch (B × T), padding and EOS included: divide by the number "
             "of scored rows", lambda: ref_score(w, src_len, tgt_len, "all_rows")),
            ("it averages per sequence, then over the batch: a short sequence's rows weigh more. Average over all "
             "scored rows at once", lambda: ref_score(w, src_len, tgt_len, "per_sequence")),
            ("it SUMS the anti-diagonal weights instead of averaging them: the score must be in [0, 1], 1 for a "
             "perfect alignment", lambda: ref_score(w, src_len, tgt_len, "sum")),
        ], against="the mean anti-diagonal weight over rows i < src_len")
    perfect = torch.zeros(2, 4, 3, dtype=F64)
    perfect[0, torch.arange(3), torch.tensor([2, 1, 0])] = 1.0
    perfect[1, torch.arange(2), torch.tensor([1, 0])] = 1.0
    perfect[:, -1, 0] = 1.0
    got = float(mod.alignment_score(perfect, torch.tensor([3, 2]), torch.tensor([4, 3])))
    expect(abs(got - 1.0) < 1e-9, f"alignment_score of a perfect reversal alignment is {got:.6g}; expected 1")


# --- task: train --------------------------------------------------------------------------------

# Reversal of 4-8 symbols (vocab 20), AttentionSeq2Seq(20, 16, 32), Adam lr 0.02, clip 1.0, 120 steps of 32
# fresh sequences; maps of 256 held-out sequences. Solution, seeds 0-7: alignment (mean anti-diagonal weight)
# 0.525-0.600, argmax on the anti-diagonal 0.71-0.93, teacher-forced token accuracy 0.908-0.958, about 2 s.
# Uniform attention over the real tokens scores 0.164-0.171 (seeds 0-4), and so does the untrained model.
MIN_ALIGNMENT = 0.42
LENGTHS, STEPS, BATCH, LR = (4, 8), 120, 32, 0.02


def token_label(t):
    return {PAD: "PAD", SOS: "SOS", EOS: "EOS"}.get(int(t), str(int(t)))


@check(f"trained here on reversal, the maps put >= {MIN_ALIGNMENT} of each output's weight on the anti-diagonal "
       "(shown as a heatmap)", task="train")
def train_alignment(ctx):
    mod = ctx.load("attention_viz")
    torch.manual_seed(ctx.seed)
    gen = torch.Generator().manual_seed(ctx.seed)
    model = mod.AttentionSeq2Seq(VOCAB, 16, 32).to(ctx.device)
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    losses = []
    model.train()
    for _ in range(STEPS):
        b = st.reversal(BATCH, *LENGTHS, VOCAB, seed=gen).to(ctx.device)
        loss = F.cross_entropy(model(b.src, b.src_len, b.tgt).flatten(0, 1), b.tgt.flatten(), ignore_index=PAD)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        losses.append(loss.item())
    ctx.curve("teacher-forced training loss", losses)
    v = st.reversal(256, *LENGTHS, VOCAB, seed=ctx.seed + 1000).to(ctx.device)
    maps = mod.attention_maps(model, v).detach().to(torch.float64)
    expect(tuple(maps.shape) == (256, v.tgt.shape[1], v.src.shape[1]), f"attention_maps returned shape "
           f"{tuple(maps.shape)}; expected (B, T_dec, T_enc) = (256, {v.tgt.shape[1]}, {v.src.shape[1]})")
    with torch.no_grad():
        acc = st.token_accuracy(model(v.src, v.src_len, v.tgt).argmax(-1), v.tgt)
    k = int(v.src_len.argmax())  # a longest example
    n = int(v.src_len[k])
    ctx.heatmap(f"attention of held-out example {k}", maps[k, : n + 1, :n].cpu(),
                rows=[token_label(t) for t in v.tgt[k, : n + 1]], cols=[token_label(t) for t in v.src[k, :n]],
                row_title="output", col_title="input")
    score = ref_score(maps.cpu(), v.src_len.cpu(), v.tgt_len.cpu())
    ctx.metric("alignment (mean anti-diagonal weight)", score, MIN_ALIGNMENT)
    ctx.metric("teacher-forced token accuracy", acc)
    expect(score >= MIN_ALIGNMENT, f"the trained model's maps put {score:.3f} of each output's weight on the "
           f"anti-diagonal, below {MIN_ALIGNMENT} (the reference solution: 0.525-0.600; uniform attention about "
           f"0.17). Token accuracy {acc:.3f}, final training loss {losses[-1]:.3f}. Make the earlier checks pass "
           "first: a step that attends to PAD or reads the wrong state learns a blurred map")

"""Check: a GRU encoder-decoder with teacher forcing and greedy decoding, on sequence reversal.

The pieces are compared on fixed weights, in float64, with references computed here from the
learner's own nn.Embedding / nn.GRU / nn.Linear modules: the encoder's h_n read at each row's
length (not after the padding), the decoder from the state it is given, decoder_inputs as
[SOS] + tgt[:-1], the loss over non-PAD tokens, Seq2Seq starting its decoder from the encoder's
h_n, and greedy decoding that stops each row at its EOS. Then the model is trained here on
reversal; a teacher-forced loss near 0 with a poor greedy accuracy is named as the unshifted input.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from tutor.checking import check, expect, expect_match, expect_type, fail, float64_device
from tutor.checking import seqtasks as st
from tutor.checking.decoding import draw_by_name, spread_eos
from tutor.checking.formatting import number
from tutor.checking.recurrent import expect_modules, run_batch_first

F64 = torch.float64
PAD, SOS, EOS = st.PAD, st.SOS, st.EOS
VOCAB = 20  # PAD, SOS, EOS and 17 symbols

UNSHIFTED = ("it is the target itself, UNSHIFTED: at position t the decoder would read the very token it must "
             "predict, so teacher-forced training reaches a loss near 0 and greedy decoding (which never sees the "
             "answer) produces garbage. Shift right: [SOS] + tgt[:, :-1]")


def rows(src_len):
    """A fixed batch: random symbols with these lengths, PAD after; (src, src_len)."""
    lengths = torch.tensor(src_len)
    gen = torch.Generator().manual_seed(len(src_len))
    sym = torch.randint(st.SPECIALS, VOCAB, (len(src_len), max(src_len)), generator=gen)
    return sym.masked_fill(torch.arange(max(src_len)) >= lengths[:, None], PAD), lengths


def expect_state(h, B, H, label):
    expect_type(h, torch.Tensor, label)
    if tuple(h.shape) == (B, H):
        fail(f"{label} has shape {tuple(h.shape)}; return it as nn.GRU does, (num_layers, B, H) = (1, {B}, {H}): "
             "keep the leading layer axis, so the decoder's nn.GRU can take it as its initial state")
    expect(tuple(h.shape) == (1, B, H), f"{label} has shape {tuple(h.shape)}; expected (1, B, H) = (1, {B}, {H})")


def pair(got, label, what):
    expect(isinstance(got, (tuple, list)) and len(got) == 2, f"{label} returned {type(got).__name__}; return the "
           f"pair {what}")
    return tuple(got)


# --- task: encoder ------------------------------------------------------------------------------


def encoder_reference(enc, src, src_len, read_padding=False):
    emb = enc.embedding(src)
    if read_padding:
        return run_batch_first(enc.gru, emb)[1]
    return torch.cat([run_batch_first(enc.gru, emb[i:i + 1, :n])[1] for i, n in enumerate(src_len.tolist())], dim=1)


@check("Encoder: h_n (1, B, H) is the GRU's state after each row's last real token, not after the padding",
       task="encoder")
def encoder_state(ctx):
    mod = ctx.load("seq2seq")
    dev = float64_device(ctx)
    torch.manual_seed(ctx.seed)
    enc = mod.Encoder(VOCAB, 6, 7)
    expect_type(enc, nn.Module, "Encoder(20, 6, 7)")
    expect_modules(enc, "Encoder(20, 6, 7)", embedding=nn.Embedding, gru=nn.GRU)
    enc = enc.to(device=dev, dtype=F64)
    src, src_len = rows([5, 2, 4, 1, 3])
    src = src.to(dev)
    with torch.no_grad():
        got = enc(src, src_len.to(dev))
        label = f"Encoder(20, 6, 7)(src {tuple(src.shape)}, src_len {src_len.tolist()})"
        if isinstance(got, (tuple, list)):
            fail(f"{label} returned a {type(got).__name__} of {len(got)}; return h_n alone, (1, B, H): nn.GRU "
                 "returns (output, h_n), and the decoder needs only h_n")
        expect_state(got, 5, 7, label)
        want = encoder_reference(enc, src, src_len)
        expect_match(label, got, want, [
            ("h_n has read the padding: the GRU ran over every column, PADs included, so a short row's state is "
             "the state after its PADs. Pack the batch (pack_padded_sequence(..., src_len.cpu(), batch_first=True, "
             "enforce_sorted=False)) or read each row's output at position src_len - 1",
             lambda: encoder_reference(enc, src, src_len, read_padding=True)),
        ], against="the GRU run on each row alone")


# --- task: decoder ------------------------------------------------------------------------------


def decoder_reference(dec, inputs, h, variant=""):
    """(log-softmax of the logits, h_n): logits are compared up to a constant per row, so raw logits and
    log-probabilities are both right."""
    out, h_n = run_batch_first(dec.gru, dec.embedding(inputs), None if variant == "no_state" else h)
    logits = dec.out(out)
    if variant == "softmax":
        logits = logits.softmax(-1)
    return logits.log_softmax(-1), h_n


@check("Decoder: (logits (B, T, V), h_n) from the state it is given, equal to Embedding -> GRU(h) -> Linear",
       task="decoder")
def decoder_values(ctx):
    mod = ctx.load("seq2seq")
    dev = float64_device(ctx)
    torch.manual_seed(ctx.seed)
    dec = mod.Decoder(VOCAB, 6, 7)
    expect_type(dec, nn.Module, "Decoder(20, 6, 7)")
    expect_modules(dec, "Decoder(20, 6, 7)", embedding=nn.Embedding, gru=nn.GRU, out=nn.Linear)
    dec = dec.to(device=dev, dtype=F64)
    inputs = torch.randint(0, VOCAB, (3, 4), generator=ctx.gen).to(dev)
    h = torch.randn(1, 3, 7, generator=ctx.gen, dtype=F64).to(dev)
    label = "Decoder(20, 6, 7)(inputs (3, 4), h (1, 3, 7))"
    with torch.no_grad():
        logits, h_n = pair(dec(inputs, h), label, "(logits, h_n)")
        expect_type(logits, torch.Tensor, f"{label}'s logits")
        if tuple(logits.shape) == (3, VOCAB):
            fail(f"{label}'s logits have shape (3, {VOCAB}): the last step only. Return the logits at every "
                 f"step, (B, T, V) = (3, 4, {VOCAB}): teacher forcing scores every position")
        expect(tuple(logits.shape) == (3, 4, VOCAB), f"{label}'s logits have shape {tuple(logits.shape)}; "
               f"expected (B, T, V) = (3, 4, {VOCAB})")
        expect_state(h_n, 3, 7, f"{label}'s h_n")
        expect_match(f"{label} (logits compared after log_softmax)", (logits.log_softmax(-1), h_n),
                     decoder_reference(dec, inputs, h), [
            ("it ignores the state h it is given: the GRU starts from zeros. Pass it on, self.gru(embedded, h): "
             "that is how the encoder's summary reaches the decoder",
             lambda: decoder_reference(dec, inputs, h, "no_state")),
            ("it returns probabilities (a softmax) instead of logits: F.cross_entropy applies log-softmax itself",
             lambda: decoder_reference(dec, inputs, h, "softmax")),
        ], against="Embedding -> GRU(h) -> Linear")


# --- task: inputs -------------------------------------------------------------------------------


@check("decoder_inputs(tgt) is [SOS] + tgt[:, :-1]: shifted right by one, the same shape as tgt",
       task="inputs")
def shifted_inputs(ctx):
    mod = ctx.load("seq2seq")
    b = st.reversal(5, 1, 5, VOCAB, seed=ctx.seed).to(ctx.device)
    tgt = b.tgt.clone()
    label = f"decoder_inputs(tgt {tuple(tgt.shape)})"
    got = mod.decoder_inputs(tgt)
    expect_type(got, torch.Tensor, label)
    expect(torch.equal(tgt, b.tgt), f"{label} changed tgt in place; build a new tensor (torch.cat) and leave the "
           "targets alone: the loss still needs them")
    B, T = tgt.shape
    if tuple(got.shape) == (B, T + 1):
        fail(f"{label} has shape {tuple(got.shape)}, one column too many: [SOS] + tgt keeps the last target "
             f"token. Drop it, [SOS] + tgt[:, :-1], so the input has the target's shape (B, T) = ({B}, {T}): "
             "the decoder reads token t - 1 to predict token t, and no token after the last is predicted")
    expect(tuple(got.shape) == (B, T), f"{label} has shape {tuple(got.shape)}; expected the target's (B, T) = "
           f"({B}, {T})")
    expect(got.dtype == torch.long, f"{label} has dtype {got.dtype}; token ids are torch.long (nn.Embedding "
           "needs integer ids): torch.full_like(tgt[:, :1], SOS) keeps the dtype")
    col = lambda v: torch.full_like(tgt[:, :1], v)
    expect_match(label, got, st.shift_right(tgt), [
        (UNSHIFTED, tgt),
        ("it starts with PAD instead of SOS: the first input must be the start token SOS = 1, which the model "
         "learns to read as 'begin'; PAD is ignored by the loss and means 'nothing here'",
         torch.cat([col(PAD), tgt[:, :-1]], 1)),
        ("it overwrites the first target token with SOS instead of shifting: every later input is then the "
         "token the decoder must predict (the unshifted input again). Shift: [SOS] + tgt[:, :-1]",
         torch.cat([col(SOS), tgt[:, 1:]], 1)),
        ("it is shifted the wrong way (left): tgt[:, 1:] + [PAD] lets position t read token t + 1, the future. "
         "Shift right: [SOS] + tgt[:, :-1]", torch.cat([tgt[:, 1:], col(PAD)], 1)),
    ], against="[SOS] + tgt[:, :-1]")


# --- task: loss ---------------------------------------------------------------------------------


def loss_mistakes(logits, tgt):
    V = logits.shape[-1]
    ce = F.cross_entropy(logits.reshape(-1, V), tgt.reshape(-1), reduction="none").view(tgt.shape)
    real = (tgt != PAD).to(logits.dtype)
    return [
        ("it averages over every position, PAD included: the model is trained to predict PAD after EOS and the "
         "real tokens weigh less. Ignore PAD: F.cross_entropy(..., ignore_index=PAD)", ce.mean()),
        ("PAD is masked out of the sum but still counted in the denominator: divide by the number of real "
         "tokens, mask.sum(), not by every position", (ce * real).sum() / ce.numel()),
        ("it sums the token losses instead of averaging them: the loss (and the step size) then grows with the "
         "batch and the lengths. Take the mean over the non-PAD tokens", (ce * real).sum()),
        ("it averages per sequence, then over the batch, so a short sequence's tokens weigh more. Average over "
         "all non-PAD tokens at once (F.cross_entropy(..., ignore_index=PAD) on the flattened batch)",
         ((ce * real).sum(1) / real.sum(1)).mean()),
        ("it ignores EOS as well as PAD: then nothing teaches the model to stop. Score EOS; ignore only PAD",
         (ce * (tgt > EOS)).sum() / (tgt > EOS).sum()),
        ("it applies a softmax before the cross-entropy: F.cross_entropy takes raw logits",
         F.cross_entropy(logits.softmax(-1).reshape(-1, V), tgt.reshape(-1), ignore_index=PAD)),
    ]


@check("seq2seq_loss(logits, tgt) is the mean cross-entropy over the non-PAD target tokens (EOS included)",
       task="loss")
def loss_values(ctx):
    mod = ctx.load("seq2seq")
    dev = float64_device(ctx)
    b = st.reversal(6, 1, 6, VOCAB, seed=ctx.seed)
    tgt = b.tgt.to(dev)
    logits = (2 * torch.randn(*tgt.shape, VOCAB, generator=ctx.gen, dtype=F64)).to(dev).requires_grad_(True)
    label = f"seq2seq_loss(logits {tuple(logits.shape)}, tgt {tuple(tgt.shape)} with {int((tgt == PAD).sum())} PADs)"
    got = mod.seq2seq_loss(logits, tgt)
    expect_type(got, torch.Tensor, label)
    expect(got.numel() == 1, f"{label} has shape {tuple(got.shape)}; return one number, the mean (shape ())")
    expect(got.requires_grad, f"{label} does not require grad although the logits do: it left the autograd graph "
           "(.item(), .detach(), NumPy)")
    with torch.no_grad():
        want = F.cross_entropy(logits.reshape(-1, VOCAB), tgt.reshape(-1), ignore_index=PAD)
        expect_match(label, got.detach().reshape(()), want, loss_mistakes(logits, tgt),
                     against="F.cross_entropy(..., ignore_index=PAD)")


# --- task: model --------------------------------------------------------------------------------


@check("Seq2Seq.forward(src, src_len, tgt): the decoder starts from the encoder's h_n and reads [SOS] + tgt[:-1]",
       task="model")
def model_forward(ctx):
    mod = ctx.load("seq2seq")
    dev = float64_device(ctx)
    torch.manual_seed(ctx.seed)
    model = mod.Seq2Seq(VOCAB, 8, 16)
    expect_type(model, nn.Module, "Seq2Seq(20, 8, 16)")
    expect_modules(model, "Seq2Seq(20, 8, 16)", encoder=mod.Encoder, decoder=mod.Decoder)
    model = model.to(device=dev, dtype=F64)
    b = st.reversal(5, 1, 5, VOCAB, seed=ctx.seed).to(dev)
    label = f"Seq2Seq(20, 8, 16)(src {tuple(b.src.shape)}, src_len, tgt {tuple(b.tgt.shape)})"
    with torch.no_grad():
        got = model(b.src, b.src_len, b.tgt)
        expect_type(got, torch.Tensor, label)
        h = model.encoder(b.src, b.src_len)
        decode = lambda inputs, state: model.decoder(inputs, state)[0]
        expect_match(label, got, decode(st.shift_right(b.tgt), h), [
            ("the decoder starts from zeros, not from the encoder's h_n: then it never sees the source and can "
             "only guess. Pass h_n as the decoder's initial state",
             lambda: decode(st.shift_right(b.tgt), torch.zeros_like(h))),
            ("the decoder reads the target " + UNSHIFTED.removeprefix("it is the target itself, "),
             lambda: decode(b.tgt, h)),
        ], against="decoder(decoder_inputs(tgt), encoder(src, src_len))")


# --- task: greedy -------------------------------------------------------------------------------


def greedy_reference(model, src, src_len, max_len, variant=""):
    """Greedy decoding computed here, right or with one named mistake; (B, max_len), PAD after each EOS."""
    h_enc = model.encoder(src, src_len)
    h = torch.zeros_like(h_enc) if variant == "zeros" else h_enc
    B = src.shape[0]
    token = torch.full((B, 1), PAD if variant == "pad_start" else SOS, dtype=torch.long, device=src.device)
    done = torch.zeros(B, dtype=torch.bool, device=src.device)
    out = []
    for _ in range(max_len - 1 if variant == "short" else max_len):
        logits, h_new = model.decoder(token, h)
        h = h_enc if variant == "no_carry" else h_new
        nxt = logits[:, -1].argmax(-1)
        emitted = nxt if variant == "no_stop" else nxt.masked_fill(done, EOS if variant == "eos_fill" else PAD)
        if variant == "drop_eos":
            emitted = emitted.masked_fill(nxt == EOS, PAD)
        out.append(emitted)
        done = done | (nxt == EOS)
        if (variant == "stop_any" and done.any()) or (variant != "no_stop" and done.all()):
            break
        token = torch.full_like(token, SOS) if variant == "feed_sos" else nxt[:, None]
    return st.fit_width(torch.stack(out, 1), max_len)


GREEDY_MISTAKES = [
    ("it keeps decoding after EOS: the tokens a row produces after its first EOS are kept. Stop each row at its "
     "EOS and fill the rest with PAD (keep a `done` mask; the loop may stop when every row is done)", "no_stop"),
    ("it stops EVERY row as soon as ONE row produces EOS; stop each row at its own EOS (a per-row `done` mask)",
     "stop_any"),
    ("a finished row is filled with EOS; fill it with PAD, the token that every score and loss ignores",
     "eos_fill"),
    ("it drops the EOS: keep EOS in the output, it is the model's answer 'the sequence ends here'", "drop_eos"),
    ("the decoder starts from zeros, not from the encoder's h_n", "zeros"),
    ("the first input is PAD; greedy decoding starts from SOS, as the decoder did in training", "pad_start"),
    ("it feeds SOS at every step: feed back the token just predicted (the argmax) as the next input", "feed_sos"),
    ("the decoder's state is not carried from step to step: every step restarts from the encoder's h_n. Keep "
     "the h_n the decoder returns and pass it to the next step", "no_carry"),
    ("it runs max_len - 1 steps: a row that never produces EOS should get max_len tokens", "short"),
]


def eos_spread_model(mod, dev, src, src_len, max_len):
    """Seq2Seq(20, 8, 16) in float64 on fixed weights, its EOS bias set so rows stop at different steps.

    Every parameter is drawn here by name (0.5·N(0, 1), seed 1), whatever order the learner's modules
    create them in; with the solution the first EOS then comes at steps 0-5 and two rows never stop.
    """
    model = mod.Seq2Seq(VOCAB, 8, 16)
    expect_modules(model, "Seq2Seq(20, 8, 16)", encoder=mod.Encoder, decoder=mod.Decoder)
    model = model.to(device=dev, dtype=F64).eval()
    draw_by_name(model)
    decode = lambda: greedy_reference(model, src, src_len, max_len, "no_stop")  # noqa: E731
    spread_eos(model.decoder.out.bias, EOS, decode, max_len)
    return model


@check("greedy_decode(model, src, src_len, max_len) equals a reference loop on fixed weights; each row stops at "
       "its own EOS", task="greedy")
def greedy_values(ctx):
    mod = ctx.load("seq2seq")
    dev = float64_device(ctx)
    src, src_len = rows([4, 2, 5, 3, 1, 4, 2, 5, 3, 4, 1, 5])
    src, src_len = src.to(dev), src_len.to(dev)
    B, max_len = src.shape[0], 7
    with torch.no_grad():
        model = eos_spread_model(mod, dev, src, src_len, max_len)
        label = f"greedy_decode(model, src {tuple(src.shape)}, src_len, max_len={max_len})"
        got = mod.greedy_decode(model, src, src_len, max_len)
        expect_type(got, torch.Tensor, label)
        expect(not got.is_floating_point(), f"{label} returned {got.dtype} values; return token ids (torch.long), "
               "the argmax of each step's logits")
        expect(got.dim() == 2 and got.shape[0] == B, f"{label} has shape {tuple(got.shape)}; expected (B, L) = "
               f"({B}, L) with L <= max_len")
        expect(got.shape[1] <= max_len, f"{label} has {got.shape[1]} columns, more than max_len = {max_len}")
        want = greedy_reference(model, src, src_len, max_len)
        mine = st.fit_width(got.long().to(want.device), max_len)
        diff = (mine != want).any(1).nonzero()
        hint = ""
        if len(diff):
            r = int(diff[0])
            hint = (f"Row {r} (source length {int(src_len[r])}): yours {mine[r].tolist()}, expected "
                    f"{want[r].tolist()} (EOS = {EOS}, PAD = {PAD})")
        mistakes = [(why, (lambda v=v: greedy_reference(model, src, src_len, max_len, v)))
                    for why, v in GREEDY_MISTAKES]
        expect_match(f"{label} (padded with PAD to max_len)", mine, want, mistakes, hint=hint,
                     against="the reference greedy loop")


# --- task: train --------------------------------------------------------------------------------

# Reversal of 2-5 symbols (vocab 20), Seq2Seq(20, 32, 64), Adam lr 1e-2, clip 1.0, 120 steps of 128 fresh
# sequences; greedy token accuracy (EOS included) on 512 held-out sequences, max_len 8.
# Solution, seeds 0-7: token accuracy 0.867-0.905, exact sequences 0.746-0.811, held-out teacher-forced loss
# 0.184-0.234. Unshifted input (decoder_inputs returning tgt),
# seeds 0-4: held-out teacher-forced loss < 0.001, token accuracy 0.050-0.100.
MIN_TOKEN_ACC = 0.75
LENGTHS, STEPS, BATCH, LR = (2, 5), 120, 128, 1e-2
# The unshifted signature, between the solution (>= 0.184, >= 0.867) and unshifted (< 0.001, <= 0.100):
SUSPECT_LOSS, SUSPECT_ACC = 0.05, 0.5


@check(f"trained here on reversal of {LENGTHS[0]}-{LENGTHS[1]} tokens, greedy decoding reaches a token accuracy "
       f">= {MIN_TOKEN_ACC}", task="train")
def train_reversal(ctx):
    mod = ctx.load("seq2seq")
    torch.manual_seed(ctx.seed)
    gen = torch.Generator().manual_seed(ctx.seed)
    model = mod.Seq2Seq(VOCAB, 32, 64).to(ctx.device)
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    losses = []
    model.train()
    for _ in range(STEPS):
        b = st.reversal(BATCH, *LENGTHS, VOCAB, seed=gen).to(ctx.device)
        loss = mod.seq2seq_loss(model(b.src, b.src_len, b.tgt), b.tgt)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        losses.append(loss.item())
    ctx.curve("teacher-forced training loss", losses)
    expect(math.isfinite(losses[-1]), f"the training loss is {losses[-1]}: training diverged")
    v = st.reversal(512, *LENGTHS, VOCAB, seed=ctx.seed + 1000).to(ctx.device)
    model.eval()
    with torch.no_grad():
        logits = model(v.src, v.src_len, v.tgt)
        tf_loss = F.cross_entropy(logits.flatten(0, 1), v.tgt.flatten(), ignore_index=PAD).item()
        pred = mod.greedy_decode(model, v.src, v.src_len, LENGTHS[1] + 3)
    acc = st.token_accuracy(pred, v.tgt)
    ctx.metric("greedy token accuracy", acc, MIN_TOKEN_ACC)
    ctx.metric("held-out teacher-forced loss", tf_loss, None, higher_is_better=False)
    if tf_loss < SUSPECT_LOSS and acc < SUSPECT_ACC:
        fail(f"the teacher-forced loss on held-out data is {number(tf_loss, 3)}, almost 0, yet greedy decoding "
             f"gets only {acc:.3f} of the tokens right (threshold {MIN_TOKEN_ACC}): the decoder is reading the "
             "token it must predict. That is the UNSHIFTED decoder input: in training it must read "
             "[SOS] + tgt[:-1], the tokens BEFORE each position (the reference solution: loss 0.18-0.23, "
             "accuracy 0.87-0.91)")
    expect(acc >= MIN_TOKEN_ACC, f"greedy decoding reaches a token accuracy of {acc:.3f}, below {MIN_TOKEN_ACC} "
           f"(the reference solution: 0.867-0.905; copying a random symbol scores about {1 / 17:.2f}). The final "
           f"training loss is {losses[-1]:.3f}, the held-out teacher-forced loss {tf_loss:.3f}. Make the earlier "
           "checks pass first")

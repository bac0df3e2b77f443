"""Check: mask_tokens (80/10/10, labels -100), MLMCollator (dynamic masking), the tied MLMHead,
mlm_loss and a short masked-language-model training run on synthetic reviews.

mask_tokens is first checked on one small batch for its contract (shapes, ids left alone, labels =
the original id or -100, unselected positions unchanged, specials untouched), then statistically over
more than 200,000 non-special tokens: the selection rate p over the NON-special tokens, the 80/10/10
split of the selected, random tokens uniform over the non-special vocabulary (chi-square), selection
independent of the token (chi-square) and of the row (pairs of rows). Every bound is 5σ (or a
chi-square at the same significance): a correct implementation fails with probability below 1e-6.
Each classic mistake (labels everywhere, specials selected, random tokens from the whole vocabulary,
the missing 10 % "unchanged", 80/10/10 over every token, p over all positions) is recognised by the
rates it produces and named with them. MLMCollator must mask afresh on every call; MLMHead's decoder
weight must BE the embedding's Parameter; mlm_loss must equal F.cross_entropy(ignore_index=-100);
train_mlm must call collate for every step and the trained model must beat the unigram baseline on
held-out masked tokens by a calibrated margin.
"""

from __future__ import annotations

import math
from collections import Counter

import torch
import torch.nn.functional as F
from torch import nn

from tutor.checking import (
    check,
    expect,
    expect_decreasing,
    expect_match,
    expect_rate,
    expect_type,
    fail,
    float64_device,
)
from tutor.checking.formatting import distinct, number
from tutor.checking.reviews import SyntheticReviews, tokenize

F64 = torch.float64
IGNORE = -100
SPECIALS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
PAD, UNK, CLS, SEP, MASK = range(5)
SPECIAL_IDS = (PAD, UNK, CLS, SEP, MASK)
P = 0.15
MIN_TOKENS = 200_000  # non-special tokens in the statistical check
CHI_SIGMAS = 5.0      # Wilson-Hilferty z bound for chi-square statistics (same significance as 5σ)

# training: MaskedLM(V, d_model=32, nhead=2, num_layers=2, d_ff=64), 80 AdamW steps of 32 reviews, lr 5e-3
STEPS, BATCH, LR = 80, 32, 5e-3
MODEL = dict(d_model=32, nhead=2, num_layers=2, d_ff=64)
# held-out masked-token accuracy minus the unigram baseline ("the" everywhere):
# solution 0.143-0.239 over seeds 0-7 (accuracy 0.309-0.385, baseline 0.145-0.174), about 1.5 s of training
MIN_MARGIN = 0.08

# --- the named mistakes -------------------------------------------------------------------------------

LABELS_EVERYWHERE = ("the labels hold the token at (nearly) every position, not only at the selected "
                     "ones: the loss then runs over all tokens, most of which the model can simply copy "
                     "from its input. Set labels to -100 wherever a token was not selected")
SPECIALS_SELECTED = ("special tokens ([PAD], [CLS], [SEP] ...) are selected: exclude them before drawing "
                     "(give them probability 0), so they are never masked, replaced or labelled")
P_OVER_ALL = ("p was not applied over the non-special tokens: the count or the probability was taken "
              "over ALL positions (specials and padding included) but the draw over the non-special ones, or "
              "the other way round. p is the rate over the non-special tokens: exclude the specials first, "
              "then select each remaining token with probability p")
RANDOM_FROM_SPECIALS = ("random replacements include special tokens: draw the random token from the "
                        "NON-special vocabulary only (never [PAD], [CLS], [SEP], [UNK])")
ALL_TOUCHED = ("tokens that were NOT selected were changed too: the 80/10/10 rule was applied to every "
               "token instead of only the selected {p:.0%}; apply it inside the selection")

# (mask, random, unchanged) shares of the selected tokens, and what produces them
SPLITS = [
    ((0.9, 0.1, 0.0), "there is no 'unchanged' branch: 90 % of the selected tokens become [MASK] and 10 % "
                      "random; 10 % must stay as they are (80/10/10)"),
    ((0.8, 0.2, 0.0), "there is no 'unchanged' branch: 80 % [MASK] and 20 % random; the last 10 % must stay "
                      "as they are (80/10/10)"),
    ((1.0, 0.0, 0.0), "every selected token becomes [MASK]: the 10 % random and 10 % unchanged branches are "
                      "missing (80/10/10)"),
    ((0.8, 0.02, 0.18), "only 2 % are random: the 10 % were drawn from what was left after masking (10 % of "
                        "the remaining 20 %); take HALF of the remaining 20 % (or one uniform u: <0.8 mask, "
                        "0.8-0.9 random, >=0.9 keep)"),
    ((0.72, 0.1, 0.18), "the random branch overwrites masked positions: 10 % drawn over all selected tokens "
                        "replace some [MASK]s (72 % left); draw it from the tokens that were not masked"),
    ((0.1, 0.8, 0.1), "the branches are swapped: 80 % random and 10 % [MASK]; it is 80 % [MASK], 10 % random"),
]


# --- data ---------------------------------------------------------------------------------------------


def corpus(seed, n_train=1500, n_test=300, min_freq=3):
    """Encoded [CLS] review [SEP] id lists (train, test) and the vocabulary (5 specials first)."""
    train = SyntheticReviews(n_train, seed=seed, train=True)
    test = SyntheticReviews(n_test, seed=seed, train=False)
    counts = Counter(t for text in train.texts for t in tokenize(text))
    itos = list(SPECIALS) + sorted(w for w, c in counts.items() if c >= min_freq)
    stoi = {w: i for i, w in enumerate(itos)}

    def encode(text):
        return [CLS] + [stoi.get(t, UNK) for t in tokenize(text)] + [SEP]

    return [encode(t) for t in train.texts], [encode(t) for t in test.texts], itos


def pad(sequences, device="cpu"):
    ids = torch.full((len(sequences), max(len(s) for s in sequences)), PAD, dtype=torch.int64)
    for row, seq in enumerate(sequences):
        ids[row, :len(seq)] = torch.as_tensor(seq)
    return ids.to(device)


def is_special(ids):
    return torch.isin(ids, torch.tensor(SPECIAL_IDS, device=ids.device))


def call_mask(mlm, ids, vocab_size, gen):
    out = mlm.mask_tokens(ids, list(SPECIAL_IDS), MASK, vocab_size, p=P, generator=gen)
    expect(isinstance(out, tuple) and len(out) == 2,
           f"mask_tokens returned {type(out).__name__}; return the pair (inputs, labels)")
    inputs, labels = out
    for name, t in (("inputs", inputs), ("labels", labels)):
        expect_type(t, torch.Tensor, f"mask_tokens' {name}")
        expect(tuple(t.shape) == tuple(ids.shape), f"mask_tokens' {name} has shape {tuple(t.shape)}; expected the "
               f"shape of ids, {tuple(ids.shape)}")
        expect(t.dtype == torch.int64, f"mask_tokens' {name} has dtype {t.dtype}; token ids and labels are int64 "
               "(F.cross_entropy and nn.Embedding need integer indices)")
    return inputs, labels


def chi_square_z(stat, dof):
    """Wilson-Hilferty: (X/k)^(1/3) is close to normal with mean 1 - 2/(9k) and variance 2/(9k)."""
    return ((stat / dof) ** (1 / 3) - (1 - 2 / (9 * dof))) / math.sqrt(2 / (9 * dof))


def generator_for(device, seed):
    return torch.Generator(device=device).manual_seed(seed)


# --- task: mask ---------------------------------------------------------------------------------------


@check("mask_tokens returns (inputs, labels) that keep the contract", task="mask")
def mask_contract(ctx):
    mlm = ctx.load("mlm")
    dev = ctx.device
    train, _, itos = corpus(ctx.seed, n_train=200, n_test=0)
    ids = pad(train[:64], dev)
    before = ids.clone()
    inputs, labels = call_mask(mlm, ids, len(itos), generator_for(dev, ctx.seed))
    expect(torch.equal(ids, before), f"mask_tokens changed `ids` in place ({int((ids != before).sum())} entries): "
           "clone it first, inputs = ids.clone(); the labels and the caller still need the originals")
    special = is_special(ids)
    labelled = labels != IGNORE
    other = labelled & (labels != ids)
    if other.any():
        i = tuple(int(v) for v in other.nonzero()[0])
        as_input = bool((labels[other] == inputs[other]).float().mean() > 0.9)
        why = (" They equal the MASKED inputs: take the labels from the original ids, before masking."
               if as_input else "")
        fail(f"labels must be -100 or the original token; at {int(other.sum())} positions they are neither, e.g. "
             f"at {i}: label {int(labels[i])}, original id {int(ids[i])}.{why}")
    changed = ~labelled & (inputs != ids)
    if changed.any():
        frac = float((inputs[~labelled & ~special] == MASK).float().mean())
        fail(f"{int(changed.sum())} positions with label -100 have a changed input ({number(frac, 3)} of the "
             "unselected non-special tokens are [MASK]): "
             + (ALL_TOUCHED.format(p=P) if frac > 0.3 else "only selected tokens may change"))
    normal = ~special
    share = float(labelled[normal].float().mean())
    expect(share < 0.9, f"{int(labelled[normal].sum())} of the {int(normal.sum())} non-special tokens have a label "
           f"(rate {number(share, 3)}; expected about p = {P}): {LABELS_EVERYWHERE}")
    n_special = int(special.sum())
    hit = int((labelled & special).sum())
    expect(hit == 0, f"{hit} of the {n_special} special positions have a label: {SPECIALS_SELECTED}")
    touched = int((special & (inputs != ids)).sum())
    expect(touched == 0, f"{touched} of the {n_special} special positions were changed: {SPECIALS_SELECTED}")


@check("mask_tokens: 15 % selected, 80/10/10, uniform random tokens (over 200,000 tokens)", task="mask")
def mask_statistics(ctx):
    mlm = ctx.load("mlm")
    dev = ctx.device
    train, _, itos = corpus(ctx.seed, n_train=1500, n_test=0)
    V = len(itos)
    base = pad(train)
    copies = math.ceil(MIN_TOKENS / int((~is_special(base)).sum()))
    ids = base.repeat(copies, 1).to(dev)
    inputs, labels = call_mask(mlm, ids, V, generator_for(dev, ctx.seed))
    special = is_special(ids)
    normal = ~special
    n, n_all = int(normal.sum()), ids.numel()
    selected = labels != IGNORE
    n_sel = int((selected & normal).sum())

    hit = int((selected & special).sum())
    expect(hit == 0, f"{hit} of the {int(special.sum())} special positions are selected (labelled): {SPECIALS_SELECTED}")
    expect(n_sel < 0.9 * n, f"{n_sel} of the {n} non-special tokens have a label (rate {number(n_sel / n, 3)}; "
           f"expected p = {P}): {LABELS_EVERYWHERE}")
    unselected = normal & ~selected
    changed = int((unselected & (inputs != ids)).sum())
    if changed:
        frac = float((inputs[unselected] == MASK).float().mean())
        fail(f"{changed} of the {int(unselected.sum())} unselected tokens were changed ({number(frac, 3)} became "
             "[MASK]): " + (ALL_TOUCHED.format(p=P) if frac > 0.3 else "only selected tokens may change"))

    # selection by word type: one draw per vocabulary entry selects all or none of a word's occurrences
    normal_ids = torch.arange(len(SPECIAL_IDS), V, device=ids.device)
    occur = (ids[normal][:, None] == normal_ids[None, :]).sum(0).to(F64)
    chosen = (ids[selected & normal][:, None] == normal_ids[None, :]).sum(0).to(F64)
    frequent = occur >= 50
    type_rates = chosen[frequent] / occur[frequent]
    all_or_none = float(occur[frequent][(type_rates < 0.01) | (type_rates > 0.99)].sum() / occur[frequent].sum())
    if all_or_none > 0.5:
        fail(f"{all_or_none:.0%} of the tokens belong to words that are selected at EVERY occurrence or at "
             f"none (per-word rates from {number(float(type_rates.min()), 3)} to {number(float(type_rates.max()), 3)}): "
             "the draw was made once per vocabulary entry (rand(vocab_size)[ids]) instead of once per position. "
             "Draw one number for every token of the batch")

    # rows: the mask of one row must not repeat in the next one
    both = normal[:-1] & normal[1:]
    pairs = int(both.sum())
    co = int((selected[:-1] & selected[1:] & both).sum())
    rate = n_sel / n
    if co > 3 * rate * rate * pairs:
        fail(f"the same positions are selected in consecutive rows: {co} of {pairs} pairs of non-special "
             f"tokens at the same column are both selected (rate {number(co / pairs, 3)}; independent rows give "
             f"the square of the selection rate, {number(rate * rate, 4)}): one mask of shape (T,) was shared "
             "by every row. Draw a mask of the full shape of ids")

    share = n / n_all
    if not abs(n_sel - n * P) <= 5 * math.sqrt(n * P * (1 - P)):
        for target, how in ((P * share, "p × share"), (P / share, "p / share")):
            if abs(rate - target) <= 0.25 * target:
                fail(f"selected {n_sel} of {n} non-special tokens (rate {number(rate, 4)}); expected p = {P}. "
                     f"The non-special tokens are {number(share, 3)} of all {n_all} positions, and {how} = "
                     f"{number(target, 4)}: {P_OVER_ALL}")
    expect_rate("tokens selected among the non-special tokens", n_sel, n, P,
                advice="Select each non-special token with probability p (torch.bernoulli on a probability "
                       "matrix with 0 at the specials).")
    expect_rate("pairs (row r, row r+1, same column) both selected", co, pairs, P * P,
                advice="Each position is selected independently of every other.")

    # the 80/10/10 split of the selected tokens
    sel = selected & normal
    orig, got = ids[sel], inputs[sel]
    n_mask = int((got == MASK).sum())
    kept = int((got == orig).sum())
    drawn = got[(got != MASK) & (got != orig)]
    from_specials = int(is_special(drawn).sum())
    expect(from_specials == 0, f"{from_specials} of the {drawn.numel()} random replacements are special tokens "
           f"(ids {sorted(set(int(t) for t in drawn[is_special(drawn)].tolist()))}): {RANDOM_FROM_SPECIALS}")
    n_rand = drawn.numel()
    K = V - len(SPECIAL_IDS)
    shares = (n_mask / n_sel, n_rand / n_sel, kept / n_sel)
    expected = (0.8, 0.1 * (1 - 1 / K), 0.1 + 0.1 / K)  # a random draw can give back the original token

    def within(target):
        return all(abs(c - n_sel * q) <= 5 * math.sqrt(n_sel * max(q, 1e-3) * (1 - q) + 1)
                   for c, q in zip((n_mask, n_rand, kept), target))

    if not within(expected):
        for target, why in SPLITS:
            m, r, u = target
            if within((m, r * (1 - 1 / K), u + r / K)):
                fail(f"of the {n_sel} selected tokens {number(shares[0], 3)} became [MASK], {number(shares[1], 3)} "
                     f"a random token and {number(shares[2], 3)} stayed; expected 0.8 / {number(expected[1], 3)} / "
                     f"{number(expected[2], 3)}: {why}")
    for count, q, what in ((n_mask, expected[0], "became [MASK]"), (n_rand, expected[1], "became a random token"),
                           (kept, expected[2], "stayed unchanged")):
        expect_rate(f"selected tokens that {what}", count, n_sel, q,
                    advice="Of the selected: 80 % [MASK], 10 % a random non-special token, 10 % unchanged "
                           "(a random draw equal to the original counts as unchanged).")

    # random tokens uniform over the K non-special ids (the original itself cannot be seen as random)
    observed = (drawn[:, None] == normal_ids[None, :]).sum(0).to(F64)
    orig_counts = (orig[:, None] == normal_ids[None, :]).sum(0).to(F64)
    expect_counts = 0.1 / K * (n_sel - orig_counts)
    stat = float(((observed - expect_counts) ** 2 / expect_counts).sum())
    z = chi_square_z(stat, K)
    if z > CHI_SIGMAS:
        top = observed / observed.sum()
        fail(f"the random replacements are not uniform over the {K} non-special tokens: chi-square {number(stat, 4)} "
             f"with {K} degrees of freedom (z = {number(z, 3)}; a uniform draw stays below z = {CHI_SIGMAS}). "
             f"The most drawn, '{itos[len(SPECIAL_IDS) + int(top.argmax())]}', has {number(float(top.max()), 3)} of "
             f"them; uniform is {number(1 / K, 3)}. Draw with torch.randint over the non-special ids, not from "
             "the batch's tokens (that follows word frequencies)")

    # selection independent of the token
    keep = frequent
    var = occur[keep] * P * (1 - P)
    stat = float(((chosen[keep] - occur[keep] * P) ** 2 / var).sum())
    dof = int(keep.sum())
    z = chi_square_z(stat, dof)
    if z > CHI_SIGMAS:
        rates = chosen[keep] / occur[keep]
        words = [itos[len(SPECIAL_IDS) + int(i)] for i in keep.nonzero().flatten()]
        fail(f"the selection depends on the token: per-token selection rates range from {number(float(rates.min()), 3)} "
             f"('{words[int(rates.argmin())]}') to {number(float(rates.max()), 3)} ('{words[int(rates.argmax())]}'); "
             f"chi-square {number(stat, 4)} with {dof} degrees of freedom, z = {number(z, 3)} (limit {CHI_SIGMAS}). "
             "Every non-special token is selected with the same probability p")


# --- task: collate ------------------------------------------------------------------------------------


@check("MLMCollator pads, marks the padding and masks afresh on every call", task="collate")
def collate_values(ctx):
    mlm = ctx.load("mlm")
    train, _, itos = corpus(ctx.seed, n_train=200, n_test=0)
    batch = train[:48]
    collate = mlm.MLMCollator(PAD, list(SPECIAL_IDS), MASK, len(itos), p=P, generator=ctx.gen)
    out = collate(batch)
    expect(isinstance(out, tuple) and len(out) == 3,
           f"MLMCollator returned {type(out).__name__}; return (inputs, labels, padding_mask)")
    inputs, labels, padding = out
    ids = pad(batch)
    for name, t in (("inputs", inputs), ("labels", labels), ("padding_mask", padding)):
        expect_type(t, torch.Tensor, f"MLMCollator's {name}")
        expect(tuple(t.shape) == tuple(ids.shape), f"MLMCollator's {name} has shape {tuple(t.shape)}; the batch "
               f"padded to its longest review is {tuple(ids.shape)}")
    expect(padding.dtype == torch.bool, f"padding_mask has dtype {padding.dtype}; make it bool (True at [PAD]), "
           "as nn.TransformerEncoder's src_key_padding_mask reads it")
    want = ids == PAD
    if not torch.equal(padding.cpu(), want):
        inverted = torch.equal(padding.cpu(), ~want)
        fail(f"padding_mask is wrong at {int((padding.cpu() != want).sum())} of {want.numel()} positions"
             + (": it is True at the real tokens and False at [PAD]; nn.TransformerEncoder blocks the True "
                "positions, so it must be True at PADDING" if inverted else "; it is True exactly where the "
                "batch holds [PAD] (id 0)"))
    restored = torch.where(labels != IGNORE, labels, inputs).cpu()
    expect(torch.equal(restored, ids), f"the collated batch is not the reviews padded with [PAD] = {PAD}: putting the "
           f"labels back gives a different batch at {int((restored != ids).sum())} positions (pad at the end, "
           "to the longest review of the batch)")
    again = collate(batch)[1]
    same = torch.equal((labels != IGNORE).cpu(), (again != IGNORE).cpu())
    expect(not same, f"two calls on the same batch selected exactly the same {int((labels != IGNORE).sum())} "
           "positions: the masks are static. Draw new masks on every call (do not re-seed a generator inside "
           "__call__, and do not cache the masked batch); each epoch must see the tokens masked differently")


# --- task: head ---------------------------------------------------------------------------------------


@check("MLMHead: dense -> GELU -> LayerNorm -> a decoder tied to the embedding, plus a bias", task="head")
def head_values(ctx):
    mlm = ctx.load("mlm")
    dev = float64_device(ctx)
    H, V = 8, 13
    torch.manual_seed(ctx.seed)
    emb = nn.Embedding(V, H).to(dev, F64)
    head = mlm.MLMHead(H, V, emb)
    expect_type(head, nn.Module, "MLMHead(hidden, vocab, embedding)")
    head.to(dev, F64)
    params = list(head.named_parameters(remove_duplicate=False))
    if not any(p is emb.weight for _, p in params):
        shared = [n for n, p in params if p.data_ptr() == emb.weight.data_ptr()]
        same_shape = [(n, p) for n, p in params if tuple(p.shape) == (V, H)]
        if shared:
            fail(f"{shared[0]} shares the embedding's storage but is a DIFFERENT Parameter (nn.Parameter("
                 "embedding.weight) makes a new leaf): its gradient is kept apart from the embedding's, so the "
                 "two are not one weight. Assign the Parameter itself: self.decoder.weight = embedding.weight")
        if same_shape:
            n, p = same_shape[0]
            copied = torch.equal(p.detach(), emb.weight.detach())
            fail(f"the decoder is not tied to the embedding: {n} (shape {tuple(p.shape)}) is "
                 + ("a COPY of embedding.weight (equal now, apart after the first step)" if copied else
                    "a weight of its own") + ". Tie by identity: self.decoder.weight = embedding.weight, so that "
                 "head.decoder.weight is embedding.weight")
        fail(f"MLMHead holds no ({V}, {H}) weight and not the embedding's Parameter; its decoder onto the vocabulary "
             "must use embedding.weight itself (self.decoder.weight = embedding.weight)")
    dense, norm = getattr(head, "dense", None), getattr(head, "norm", None)
    expect(isinstance(dense, nn.Linear) and isinstance(norm, nn.LayerNorm),
           f"MLMHead needs self.dense = nn.Linear({H}, {H}) and self.norm = nn.LayerNorm({H}) (got "
           f"{type(dense).__name__} and {type(norm).__name__}): the check copies values into them by these names")
    bias = getattr(head, "bias", None)
    if not isinstance(bias, torch.Tensor):
        bias = getattr(getattr(head, "decoder", None), "bias", None)
    expect(isinstance(bias, nn.Parameter) and tuple(bias.shape) == (V,),
           f"MLMHead has no output bias of shape ({V},): add self.bias = nn.Parameter(torch.zeros(vocab)); the "
           "decoder's weight is shared with the embedding, its bias is the head's own")
    with torch.no_grad():
        for p in head.parameters():
            if p is not emb.weight:
                p.copy_(0.5 * torch.randn(p.shape, dtype=F64) + (1.0 if p is norm.weight else 0.0))
    h = torch.randn(3, 5, H, generator=ctx.gen, dtype=F64).to(dev)
    logits = head(h)
    ln = (H,)

    def ref(act=F.gelu, use_norm=True, use_bias=True, norm_first=False):
        x = F.linear(h, dense.weight, dense.bias)
        if norm_first:
            x = act(F.layer_norm(x, ln, norm.weight, norm.bias, norm.eps))
        else:
            x = act(x)
            x = F.layer_norm(x, ln, norm.weight, norm.bias, norm.eps) if use_norm else x
        return F.linear(x, emb.weight, bias if use_bias else None)

    expect_match("MLMHead(h) (the logits)", logits, ref(), mistakes={
        "it uses ReLU; the BERT head uses GELU: dense -> F.gelu -> LayerNorm": lambda: ref(act=F.relu),
        "it uses the tanh approximation of GELU; use the exact F.gelu(x)":
            lambda: ref(act=lambda x: F.gelu(x, approximate="tanh")),
        "the LayerNorm is missing: dense -> GELU -> LayerNorm -> decoder": lambda: ref(use_norm=False),
        "LayerNorm comes before GELU; the order is dense -> GELU -> LayerNorm": lambda: ref(norm_first=True),
        "the output bias is not added: logits = decoder(x) + bias": lambda: ref(use_bias=False),
    })
    logits.sum().backward()
    expect(emb.weight.grad is not None, "the embedding's weight got no gradient from the head: tie it by identity")


# --- task: loss ---------------------------------------------------------------------------------------


@check("mlm_loss equals F.cross_entropy(..., ignore_index=-100) over the selected tokens", task="loss")
def loss_values(ctx):
    mlm = ctx.load("mlm")
    dev = float64_device(ctx)
    B, T, V = 4, 9, 11
    logits = torch.randn(B, T, V, generator=ctx.gen, dtype=F64).to(dev)
    tokens = torch.randint(V, (B, T), generator=ctx.gen)
    keep = torch.rand(B, T, generator=ctx.gen) < 0.25
    keep[0, 0] = True
    labels = torch.where(keep, tokens, torch.full_like(tokens, IGNORE)).to(dev)
    got = mlm.mlm_loss(logits, labels)
    expect_type(got, torch.Tensor, "mlm_loss(logits, labels)")
    expect(got.dim() == 0, f"mlm_loss returned shape {tuple(got.shape)}; return the mean loss, a scalar")
    flat, lab = logits.reshape(-1, V), labels.reshape(-1)
    per = F.cross_entropy(flat, lab, reduction="none")  # 0 at the ignored positions
    n_sel = int((lab != IGNORE).sum())
    expect_match("mlm_loss(logits, labels)", got, F.cross_entropy(flat, lab, ignore_index=IGNORE), mistakes={
        f"it divides by all {lab.numel()} positions instead of the {n_sel} selected ones: average over the "
        "labelled tokens only (F.cross_entropy with ignore_index=-100 does)": lambda: per.sum() / lab.numel(),
        "it returns the SUM over the selected tokens; return the mean": lambda: per.sum(),
        "it averages per sequence and then over the batch; average over all selected tokens of the batch at once":
            lambda: torch.stack([per.view(B, T)[b].sum() / (lab.view(B, T)[b] != IGNORE).sum().clamp(min=1)
                                 for b in range(B)]).mean(),
    })


# --- task: train --------------------------------------------------------------------------------------


class CountingCollate:
    """Wraps the learner's collator and counts the calls."""

    def __init__(self, inner):
        self.inner, self.calls = inner, 0

    def __call__(self, sequences):
        self.calls += 1
        return self.inner(sequences)


@check("train_mlm: masks afresh every step, the loss falls, masked tokens beat the unigram baseline", task="train")
def training(ctx):
    mlm = ctx.load("mlm")
    dev = ctx.device
    train, test, itos = corpus(ctx.seed)
    V = len(itos)
    torch.manual_seed(ctx.seed)
    model = mlm.MaskedLM(V, **MODEL).to(dev)
    collate = CountingCollate(mlm.MLMCollator(PAD, list(SPECIAL_IDS), MASK, V, p=P, generator=ctx.gen))
    losses = mlm.train_mlm(model, train, collate, steps=STEPS, batch_size=BATCH, lr=LR, generator=ctx.gen)
    expect(isinstance(losses, (list, tuple)) and len(losses) == STEPS,
           f"train_mlm returned {type(losses).__name__} of length {len(losses) if hasattr(losses, '__len__') else '?'}; "
           f"return the {STEPS} per-step losses as floats")
    losses = [float(v) for v in losses]
    ctx.curve("MLM loss per step", losses)
    expect(collate.calls >= STEPS, f"collate was called {collate.calls} times in {STEPS} steps: the masks were drawn "
           "once and reused (static masking). Call collate for every batch, so every step sees fresh masks")
    expect_decreasing(losses, "the MLM training loss", min_drop=0.2)

    ids = pad(test).to(dev)
    gen = generator_for(dev, ctx.seed + 1)
    chosen = (torch.rand(ids.shape, generator=gen, device=dev) < P) & ~is_special(ids)
    inputs = ids.masked_fill(chosen, MASK)
    model.eval()
    with torch.no_grad():
        logits = model(inputs, ids == PAD)
    acc = float((logits.argmax(-1)[chosen] == ids[chosen]).float().mean())
    counts = Counter(t for seq in train for t in seq if t not in SPECIAL_IDS)
    top = counts.most_common(1)[0][0]
    base = float((ids[chosen] == top).float().mean())
    ctx.metric("held-out masked-token accuracy", acc, base + MIN_MARGIN)
    ctx.metric(f"unigram baseline (always '{itos[top]}')", base)
    if acc < base + MIN_MARGIN:
        mine, need = distinct(acc, base + MIN_MARGIN)
        fail(f"held-out masked-token accuracy {mine} over {int(chosen.sum())} masked tokens; the unigram baseline "
             f"(always '{itos[top]}') gets {number(base, 3)}, and the model must beat it by {MIN_MARGIN}: at least "
             f"{need}. Loss went {number(losses[0], 3)} -> {number(sum(losses[-10:]) / 10, 3)} (mean of the last 10 "
             "steps). Check that the loss uses only the selected tokens and that the optimizer steps every batch")

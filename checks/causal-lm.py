"""Check: the shifted LM loss, top-k/top-p filtering, sampling with a generator, generation with a
cropped context, perplexity, and a tiny causal LM trained on an order-2 Markov language.

lm_loss is compared with F.cross_entropy on logits[:, :-1] vs idx[:, 1:] (with and without pad);
filter_logits with a reference on fixed logits (ties at the k-th value kept; top-p keeps the token
that crosses p); sample_next must give exactly the reference's ids for the same logits and a
generator seeded alike (both draw with torch.multinomial(probs, 1, generator=g)); generate drives a
small fixed model that records the context lengths it is given; perplexity is exp of the
token-weighted mean NLL. The learner's CharGPT must be causal (changing later tokens leaves earlier
logits unchanged), and after train_lm its held-out loss must beat a fitted bigram by a margin and
come within a margin of the language's exact entropy bound. Each classic mistake is recomputed and
named.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from tutor.checking import CheckFailed, check, expect, expect_decreasing, expect_match, fail, float64_device
from tutor.checking.formatting import distinct, number
from tutor.checking.markov import MarkovLanguage, bigram_loss

F64 = torch.float64
NEG = float("-inf")
V, BLOCK, STEPS, BATCH = 16, 16, 250, 32
N_TRAIN, N_TEST = 40_000, 8_192
# Language: MarkovLanguage(seed=0), entropy rate 0.846, bigram entropy 2.334, window bound (T = 16) 0.945.
# Solution (CharGPT d=32, 1 layer, AdamW 1e-2, 250 steps), seeds 0-7: held-out 1.157-1.236 nats; fitted
# bigram 2.316-2.371. Without a position embedding 1.88-1.90 (beats the bigram by only 0.44).
BIGRAM_MARGIN = 0.8    # solution beats the bigram by 1.12-1.21 nats over seeds 0-7
BOUND_MARGIN = 0.6     # solution 0.21-0.29 above the bound (seeds 0-7); a tied-head GPT, init 0.02: 0.26-0.52
BELOW_BOUND = 0.062    # no causal model goes below the bound: 5 standard errors (NLL sd 1.08 / √7680 = 0.0123)
ID_SLACK = 2           # ids allowed to differ by float rounding of the probabilities (of 2000)

# --- the named mistakes ---------------------------------------------------------------------------------

NO_SHIFT = ("the loss is not shifted: logits[:, t] is scored against idx[:, t], the token the model already sees "
            "at t. Score logits[:, :-1] against idx[:, 1:]")
WRONG_WAY = ("the shift goes the wrong way: logits[:, 1:] is scored against idx[:, :-1], so position t+1 'predicts' "
             "token t. Use logits[:, :-1] against idx[:, 1:]")
BOTH_CROPPED = ("logits and targets are cut at the same end (logits[:, :-1] vs idx[:, :-1]): still unshifted. The "
                "targets are idx[:, 1:]")
LOSS_SUM = "the loss is summed over the tokens; lm_loss is the MEAN per target token (reduction='mean')"
PAD_COUNTED = ("padded targets count in the loss: pass ignore_index=pad to F.cross_entropy (or mask them out) so "
               "that the model is not trained to predict padding")
PAD_DIVIDED = ("the padded targets are zeroed but still counted in the mean (divided by every position, not by the "
               "real targets): divide by the number of non-pad targets")
PER_ROW = ("it averages per sequence, then over sequences, so a short sequence's tokens weigh more: average over "
           "all real target tokens at once")

EXACT_K = ("a tie at the k-th value: it keeps exactly k tokens (topk + scatter), dropping one of the tied ones. "
           "Keep every token whose logit is >= the k-th largest (logits < kth -> -inf)")
K_MINUS_ONE = "it keeps k-1 tokens: the k-th largest must stay (remove logits < kth, not <= kth)"
K_SMALLEST = "it keeps the k SMALLEST logits; top-k keeps the largest (torch.topk's default largest=True)"
ZERO_FILL = ("the removed tokens are set to 0 instead of -inf: a logit of 0 still has probability after the "
             "softmax. Fill with float('-inf')")
P_DROPS_CROSSING = ("top-p drops the token that crosses p: it keeps only tokens whose cumulative mass, themselves "
                    "included, is <= p, so the kept mass is < p. Keep the smallest set whose mass is >= p: drop a "
                    "token only when the mass BEFORE it is already >= p (cumsum - p_sorted >= p)")
P_ASCENDING = ("top-p sorts the probabilities in ascending order, so it keeps the least probable tokens: sort "
               "descending (sort(descending=True))")
P_ON_LOGITS = "top-p accumulates the sorted LOGITS; the nucleus is measured in probability: softmax first"
P_BEFORE_K = ("top-p is measured on the full distribution; it is measured after top-k, on the softmax of the "
              "top-k survivors (so the kept tokens' probabilities are renormalised first)")

GEN_UNUSED = ("two calls with generators seeded alike give different ids: the generator is not used. Draw with "
              "torch.multinomial(probs, 1, generator=generator)")
TEMP_AFTER = ("temperature is applied after the softmax (probs / T): torch.multinomial renormalises, so it has no "
              "effect. Divide the LOGITS by the temperature, then softmax")
TEMP_TIMES = "the logits are multiplied by the temperature; divide them: logits / temperature"
GREEDY = ("it takes the argmax although temperature > 0: sample with torch.multinomial(probs, 1, generator=...); "
          "greedy is for temperature 0 only")
NO_FILTER = "top_k / top_p are ignored: filter the scaled logits with filter_logits before the softmax"
FILTER_BEFORE_TEMP = ("the logits are filtered before they are divided by the temperature; top-p depends on the "
                      "temperature: divide first, then filter")
FROM_LOGITS = ("torch.multinomial was given logits (or log-probabilities), not probabilities: it needs "
               "non-negative weights. Take F.softmax(logits, dim=-1) first")
TEMP_ZERO = ("temperature 0 must mean greedy decoding: return logits.argmax(-1) (dividing by 0 gives inf and nan "
             "probabilities)")

NOT_CROPPED = ("the context is not cropped to block_size: the model was given {seen} tokens, block_size is {block}. "
               "Feed idx[:, -block_size:]")
FIRST_BLOCK = ("the context is cropped to the FIRST block_size tokens (idx[:, :block_size]); the next token depends "
               "on the most recent ones: idx[:, -block_size:]")
FIRST_POS = "the next token is read from logits[:, 0]; the prediction after the whole context is logits[:, -1]"
NO_ARGS = "temperature / top_k / top_p are not passed on to sample_next"
GRAD_ON = ("the model runs with autograd on: generation needs no gradients; decorate generate with "
           "@torch.no_grad() (otherwise every step keeps a graph)")
ONLY_NEW = "it returns only the new tokens; return the prompt followed by them, (B, T + max_new_tokens)"

MEAN_OF_EXP = ("it averages exp(loss) over the batches: perplexity is exp of the MEAN loss, and the mean of exp is "
               "larger (Jensen)")
UNWEIGHTED = ("the batch losses are averaged without their token counts: weigh each batch's mean loss by its "
              "number of tokens, exp(Σ loss_i·n_i / Σ n_i)")
EXP_SUM = "it takes exp of the SUM of the losses; perplexity is exp of the mean NLL per token"
BASE2 = "it uses 2 ** loss; the losses are in nats (F.cross_entropy uses ln), so perplexity is e ** loss"

# --- references -----------------------------------------------------------------------------------------


def ref_loss(logits, idx, pad=None):
    pred, target = logits[:, :-1].reshape(-1, logits.shape[-1]), idx[:, 1:].reshape(-1)
    return F.cross_entropy(pred, target) if pad is None else F.cross_entropy(pred, target, ignore_index=pad)


def ref_top_k(logits, k, variant=""):
    k = min(k, logits.shape[-1])
    if variant == "exact":
        keep = torch.zeros_like(logits, dtype=torch.bool).scatter(-1, logits.topk(k, -1).indices, True)
        return logits.masked_fill(~keep, NEG)
    if variant == "smallest":
        kth = logits.topk(k, -1, largest=False).values[..., -1:]
        return logits.masked_fill(logits > kth, NEG)
    kth = logits.topk(k, -1).values[..., -1:]
    return logits.masked_fill(logits <= kth if variant == "minus_one" else logits < kth, NEG)


def ref_top_p(logits, p, variant="", probs_from=None):
    source = logits if probs_from is None else probs_from
    probs = F.softmax(source, -1)
    if variant == "on_logits":
        probs = source
    sorted_p, order = probs.sort(-1, descending=variant != "ascending")
    cum = sorted_p.cumsum(-1)
    drop_sorted = cum > p if variant == "drops_crossing" else cum - sorted_p >= p
    return logits.masked_fill(drop_sorted.scatter(-1, order, drop_sorted), NEG)


def ref_filter(logits, top_k=None, top_p=None, variant=""):
    out = logits.clone()
    if top_k is not None:
        out = ref_top_k(out, top_k, variant)
    if top_p is not None:
        out = ref_top_p(out, top_p, variant, probs_from=logits if variant == "p_before_k" else None)
    return out


def ref_sample(logits, temperature, top_k, top_p, gen, variant=""):
    if temperature == 0 or variant == "greedy":
        return logits.argmax(-1)
    if variant == "after":
        probs = F.softmax(ref_filter(logits, top_k, top_p), -1) / temperature
    elif variant == "times":
        probs = F.softmax(ref_filter(logits * temperature, top_k, top_p), -1)
    elif variant == "no_filter":
        probs = F.softmax(logits / temperature, -1)
    elif variant == "filter_first":
        probs = F.softmax(ref_filter(logits, top_k, top_p) / temperature, -1)
    else:
        probs = F.softmax(ref_filter(logits / temperature, top_k, top_p), -1)
    return torch.multinomial(probs, 1, generator=gen).squeeze(-1)


def ref_generate(model, idx, n, block, temperature, top_k, top_p, gen, variant=""):
    with torch.no_grad():
        for _ in range(n):
            context = idx[:, :block] if variant == "first_block" else idx[:, -block:]
            logits = model(context)[:, 0 if variant == "first_pos" else -1]
            if variant == "no_args":
                nxt = ref_sample(logits, 1.0, None, None, gen)
            else:
                nxt = ref_sample(logits, temperature, top_k, top_p, gen)
            idx = torch.cat([idx, nxt[:, None]], 1)
    return idx


# --- helpers --------------------------------------------------------------------------------------------


def generator(dev, seed):
    return torch.Generator(device=dev).manual_seed(seed)


def normalise_removed(out):
    """-inf for 'removed', whatever very negative number the learner used (-1e10 works as well)."""
    return out.masked_fill(out <= -1e9, NEG) if isinstance(out, torch.Tensor) and out.is_floating_point() else out


def call_sampler(fn, label, *args, **kwargs):
    """fn(...), with torch.multinomial's complaint about its input turned into the named mistake."""
    try:
        return fn(*args, **kwargs)
    except RuntimeError as err:
        text = str(err)
        if "probability tensor" in text or "invalid multinomial" in text or "invalid distribution" in text:
            if kwargs.get("temperature", 1) == 0:
                fail(f"{label} raised '{text[:80]}': {TEMP_ZERO}")
            fail(f"{label} raised '{text[:80]}': {FROM_LOGITS}")
        raise


def compare_ids(name, got, expected, variants):
    """Exact ids (up to ID_SLACK rows flipped by float rounding); on a mismatch name the variant that matches."""
    if not isinstance(got, torch.Tensor) or got.shape != expected.shape:
        shape = tuple(got.shape) if isinstance(got, torch.Tensor) else type(got).__name__
        fail(f"{name} has shape {shape}; expected {tuple(expected.shape)}")
    got = got.to(expected.device)
    off = int((got != expected).sum())
    if off <= ID_SLACK:
        return
    first = int((got != expected).reshape(-1).nonzero()[0])
    numbers = (f"{off} of {expected.numel()} ids differ from the reference (first at flat index {first}: yours "
               f"{int(got.reshape(-1)[first])}, expected {int(expected.reshape(-1)[first])})")
    for why, make in variants.items():
        try:
            alt = make()
        except Exception:
            continue
        if alt.shape == got.shape and int((alt != expected).sum()) > ID_SLACK and int((alt != got).sum()) <= ID_SLACK:
            fail(f"{name} is off: {why}. {numbers}")
    fail(f"{name}: {numbers}. Both sides must draw once per call with torch.multinomial(probs, 1, "
         "generator=generator) from softmax(filter_logits(logits / temperature, top_k, top_p))")


class RecordingLM(nn.Module):
    """A fixed causal 'language model': logits[:, t] = A[x_t] + B[x_0], recording what it is given."""

    def __init__(self, vocab, dev, gen):
        super().__init__()
        self.A = nn.Parameter(2 * torch.randn(vocab, vocab, generator=gen).to(dev))
        self.B = nn.Parameter(2 * torch.randn(vocab, vocab, generator=gen).to(dev))
        self.lengths, self.grad_on = [], []

    def forward(self, idx):
        self.lengths.append(idx.shape[1])
        self.grad_on.append(torch.is_grad_enabled())
        return self.A[idx] + self.B[idx[:, :1]]


def heldout_loss(model, test, dev):
    windows = test[: len(test) // BLOCK * BLOCK].reshape(-1, BLOCK).to(dev)
    was = model.training
    model.eval()
    with torch.no_grad():
        logits = torch.cat([model(w) for w in windows.split(256)])
    model.train(was)
    return float(ref_loss(logits.double(), windows))


# --- checks ---------------------------------------------------------------------------------------------


@check("lm_loss() is the mean cross-entropy of logits[:, :-1] against idx[:, 1:] (pad targets ignored)",
       task="loss")
def loss_values(ctx):
    lm = ctx.load("lm")
    dev = float64_device(ctx)
    B, T, Vs = 3, 7, 5
    logits = torch.randn(B, T, Vs, generator=ctx.gen, dtype=F64).to(dev).requires_grad_()
    idx = torch.randint(0, Vs, (B, T), generator=ctx.gen).to(dev)
    out = lm.lm_loss(logits, idx)
    expect(isinstance(out, torch.Tensor) and out.dim() == 0,
           f"lm_loss returned {type(out).__name__} {getattr(out, 'shape', '')}; return a 0-d tensor (the mean loss), "
           "not a float: training calls .backward() on it")
    expect(out.requires_grad, "lm_loss's result does not require grad: keep it a tensor computed from logits "
                              "(no .item(), no torch.tensor(...) around it)")
    lg, flat = logits.detach(), lambda a: a.reshape(-1, Vs)
    expect_match("lm_loss(logits, idx)", out.detach(), ref_loss(lg, idx), mistakes={
        NO_SHIFT: lambda: F.cross_entropy(flat(lg), idx.reshape(-1)),
        WRONG_WAY: lambda: F.cross_entropy(flat(lg[:, 1:]), idx[:, :-1].reshape(-1)),
        BOTH_CROPPED: lambda: F.cross_entropy(flat(lg[:, :-1]), idx[:, :-1].reshape(-1)),
        LOSS_SUM: lambda: F.cross_entropy(flat(lg[:, :-1]), idx[:, 1:].reshape(-1), reduction="sum"),
    })
    pad = 0
    idx = torch.randint(1, Vs, (B, T), generator=ctx.gen).to(dev)
    idx[0, 4:] = pad
    idx[2, 2:] = pad
    out = lm.lm_loss(lg, idx, pad=pad)
    nll = F.cross_entropy(flat(lg[:, :-1]), idx[:, 1:].reshape(-1), reduction="none").reshape(B, T - 1)
    real = (idx[:, 1:] != pad).to(F64)
    expect_match(f"lm_loss(logits, idx, pad={pad}) with padded rows", out, ref_loss(lg, idx, pad), mistakes={
        PAD_COUNTED: lambda: ref_loss(lg, idx),
        PAD_DIVIDED: lambda: (nll * real).sum() / real.numel(),
        PER_ROW: lambda: ((nll * real).sum(1) / real.sum(1)).mean(),
        NO_SHIFT: lambda: F.cross_entropy(flat(lg), idx.reshape(-1), ignore_index=pad),
    })


@check("filter_logits() keeps top-k (ties at the k-th value kept) and the top-p nucleus (the crossing token "
       "kept), sets the rest to -inf, and leaves its input alone", task="filter")
def filter_values(ctx):
    lm = ctx.load("lm")
    dev = float64_device(ctx)
    tied = torch.tensor([[3.0, 1.0, 1.0, 0.0, 2.0, -1.0, 0.5, 1.0]], dtype=F64)
    logits = torch.cat([tied, 2 * torch.randn(7, 8, generator=ctx.gen, dtype=F64)]).to(dev)
    before = logits.clone()
    out = lm.filter_logits(logits, top_k=3)
    expect(torch.equal(logits, before), "filter_logits changed its input in place; work on a copy "
                                        "(logits.clone(), or masked_fill, which returns a new tensor)")
    expect(isinstance(out, torch.Tensor) and out.shape == logits.shape,
           f"filter_logits returned {getattr(out, 'shape', type(out).__name__)}; expected the logits' shape "
           f"{tuple(logits.shape)}, with the removed tokens at -inf")
    expect_match("filter_logits(logits, top_k=3) (row 0 has a tie: 3, 2, then three 1s)", normalise_removed(out),
                 ref_filter(logits, top_k=3), mistakes={
                     EXACT_K: lambda: ref_filter(logits, 3, variant="exact"),
                     K_MINUS_ONE: lambda: ref_filter(logits, 3, variant="minus_one"),
                     K_SMALLEST: lambda: ref_filter(logits, 3, variant="smallest"),
                     ZERO_FILL: lambda: ref_filter(logits, 3).nan_to_num(neginf=0.0),
                 })
    try:
        big = lm.filter_logits(logits, top_k=50)
    except RuntimeError as err:
        fail(f"filter_logits(logits, top_k=50) with 8 tokens raised '{str(err)[:70]}': clamp k to the vocabulary "
             "size, min(top_k, logits.shape[-1])")
    expect_match("filter_logits(logits, top_k=50) with only 8 tokens (nothing to remove)", normalise_removed(big),
                 logits)

    # random logits whose cumulative sorted mass stays clear of p (no float ties at the boundary)
    p = 0.8
    rows = 2 * torch.randn(400, 12, generator=ctx.gen, dtype=F64)
    cum = F.softmax(rows, -1).sort(-1, descending=True).values.cumsum(-1)
    rows = rows[((cum - p).abs() > 1e-6).all(-1)][:64].to(dev)
    expect_match(f"filter_logits(logits, top_p={p})", normalise_removed(lm.filter_logits(rows, top_p=p)),
                 ref_filter(rows, top_p=p), mistakes={
                     P_DROPS_CROSSING: lambda: ref_filter(rows, top_p=p, variant="drops_crossing"),
                     P_ASCENDING: lambda: ref_filter(rows, top_p=p, variant="ascending"),
                     P_ON_LOGITS: lambda: ref_filter(rows, top_p=p, variant="on_logits"),
                     ZERO_FILL: lambda: ref_filter(rows, top_p=p).nan_to_num(neginf=0.0),
                 })
    k, p2 = 6, 0.7
    expect_match(f"filter_logits(logits, top_k={k}, top_p={p2})",
                 normalise_removed(lm.filter_logits(rows, top_k=k, top_p=p2)), ref_filter(rows, k, p2), mistakes={
                     P_BEFORE_K: lambda: ref_filter(rows, k, p2, variant="p_before_k"),
                     P_DROPS_CROSSING: lambda: ref_filter(rows, k, p2, variant="drops_crossing"),
                 })


SAMPLE_CASES = ((1.0, None, None), (0.7, 5, None), (1.3, None, 0.8), (0.8, 8, 0.9))


@check("sample_next() draws exactly the reference's ids for fixed logits and a generator seeded alike "
       "(temperature, top-k, top-p; temperature 0 = argmax)", task="sample")
def sample_ids(ctx):
    lm = ctx.load("lm")
    dev = ctx.device
    N = 2000
    logits = (2 * torch.randn(N, V, generator=ctx.gen)).to(dev)
    seed = 1234 + ctx.seed
    label = "sample_next(logits, temperature=0.7, top_k=5)"
    a = call_sampler(lm.sample_next, label, logits, temperature=0.7, top_k=5, generator=generator(dev, seed))
    b = call_sampler(lm.sample_next, label, logits, temperature=0.7, top_k=5, generator=generator(dev, seed))
    expect(isinstance(a, torch.Tensor) and a.shape == (N,),
           f"{label} returned {getattr(a, 'shape', type(a).__name__)}; expected one id per row, shape ({N},) "
           "(squeeze the sample dimension of torch.multinomial's (B, 1))")
    expect(a.dtype == torch.long, f"{label} returned dtype {a.dtype}; token ids are torch.long")
    if not torch.equal(a, b):
        fail(f"{label}: {GEN_UNUSED} ({int((a != b).sum())} of {N} ids changed between the two calls)")
    for T, k, p in SAMPLE_CASES:
        args = dict(temperature=T, top_k=k, top_p=p)
        name = f"sample_next(logits, temperature={T}, top_k={k}, top_p={p})"
        got = call_sampler(lm.sample_next, name, logits, generator=generator(dev, seed), **args)
        expected = ref_sample(logits, T, k, p, generator(dev, seed))
        compare_ids(name, got, expected, {
            why: (lambda v=v: ref_sample(logits, T, k, p, generator(dev, seed), variant=v))
            for why, v in ((GREEDY, "greedy"), (TEMP_AFTER, "after"), (TEMP_TIMES, "times"),
                           (NO_FILTER, "no_filter"), (FILTER_BEFORE_TEMP, "filter_first"))
        })
    name = "sample_next(logits, temperature=0)"
    got = call_sampler(lm.sample_next, name, logits, temperature=0, generator=generator(dev, seed))
    expect(isinstance(got, torch.Tensor) and got.shape == (N,),
           f"{name} returned {getattr(got, 'shape', type(got).__name__)}; expected shape ({N},)")
    off = int((got.to(dev) != logits.argmax(-1)).sum())
    expect(off == 0, f"{name}: {off} of {N} ids are not the argmax. {TEMP_ZERO}")


@check("generate() appends max_new_tokens ids, feeds the model at most the last block_size tokens under "
       "no_grad, and samples from the last position", task="generate")
def generate_ids(ctx):
    lm = ctx.load("lm")
    dev = ctx.device
    Vs, block, n = 7, 5, 9
    prompt = torch.randint(0, Vs, (3, 3), generator=ctx.gen).to(dev)
    for T, k in ((0.9, 5), (0.0, None)):
        seed = 99 + ctx.seed
        model = RecordingLM(Vs, dev, torch.Generator().manual_seed(7))
        name = f"generate(model, prompt (3, 3), max_new_tokens={n}, block_size={block}, temperature={T}, top_k={k})"
        out = lm.generate(model, prompt.clone(), n, block, temperature=T, top_k=k, generator=generator(dev, seed))
        if isinstance(out, torch.Tensor) and tuple(out.shape) == (3, n):
            fail(f"{name} has shape (3, {n}): {ONLY_NEW}")
        expect(isinstance(out, torch.Tensor) and tuple(out.shape) == (3, 3 + n),
               f"{name} returned {getattr(out, 'shape', type(out).__name__)}; expected (3, 3 + {n}) = (3, {3 + n})")
        expect(torch.equal(out[:, :3].to(dev), prompt), f"{name}: the first 3 columns are not the prompt")
        expect(len(model.lengths) == n, f"{name} called the model {len(model.lengths)} times; one call per new "
                                        f"token, {n}")
        if max(model.lengths) > block:
            fail(f"{name}: " + NOT_CROPPED.format(seen=max(model.lengths), block=block))
        expect(not any(model.grad_on), f"{name}: {GRAD_ON}")
        ref = RecordingLM(Vs, dev, torch.Generator().manual_seed(7))
        expected = ref_generate(ref, prompt, n, block, T, k, None, generator(dev, seed))
        compare_ids(name, out, expected, {
            why: (lambda v=v: ref_generate(ref, prompt, n, block, T, k, None, generator(dev, seed), variant=v))
            for why, v in ((FIRST_BLOCK, "first_block"), (FIRST_POS, "first_pos"), (NO_ARGS, "no_args"))
        })


@check("perplexity() is exp of the token-weighted mean loss", task="perplexity")
def perplexity_value(ctx):
    lm = ctx.load("lm")
    losses, counts = [2.0, 0.5, 1.2], [10, 300, 40]
    mean = sum(l * c for l, c in zip(losses, counts)) / sum(counts)
    got = lm.perplexity(losses, counts)
    try:
        got = float(got)
    except (TypeError, ValueError):
        fail(f"perplexity returned a {type(got).__name__}; return a number (a float or a 0-d tensor)")
    expect_match(f"perplexity(losses={losses}, counts={counts})", got, math.exp(mean), rtol=1e-6, mistakes={
        MEAN_OF_EXP: lambda: sum(math.exp(l) * c for l, c in zip(losses, counts)) / sum(counts),
        MEAN_OF_EXP + " (and ignores the counts)": lambda: sum(math.exp(l) for l in losses) / len(losses),
        UNWEIGHTED: lambda: math.exp(sum(losses) / len(losses)),
        EXP_SUM: lambda: math.exp(sum(losses)),
        BASE2: lambda: 2 ** mean,
    })
    t = lm.perplexity(torch.tensor([1.0, 3.0]), torch.tensor([3, 1]))
    expect_match("perplexity(tensor([1., 3.]), tensor([3, 1]))", float(t), math.exp(1.5), rtol=1e-6)


@check(f"CharGPT(vocab_size={V}, block_size={BLOCK}) maps (B, T) ids to (B, T, V) logits, for any T <= "
       "block_size, and is causal: changing tokens after t leaves the logits at t unchanged", task="model")
def model_causal(ctx):
    lm = ctx.load("lm")
    dev = ctx.device
    model = lm.CharGPT(V, BLOCK).to(dev).eval()
    idx = torch.randint(0, V, (4, BLOCK), generator=ctx.gen).to(dev)
    with torch.no_grad():
        out = model(idx)
        expect(isinstance(out, torch.Tensor) and tuple(out.shape) == (4, BLOCK, V),
               f"CharGPT(ids (4, {BLOCK})) returned {getattr(out, 'shape', type(out).__name__)}; expected logits "
               f"(B, T, V) = (4, {BLOCK}, {V})")
        short = model(idx[:, :5])
        expect(tuple(short.shape) == (4, 5, V), f"CharGPT(ids (4, 5)) returned {tuple(short.shape)}; expected "
                                                f"(4, 5, {V}): generate feeds contexts shorter than block_size")
        for t in (0, 5, BLOCK - 2):
            changed = idx.clone()
            changed[:, t + 1:] = (idx[:, t + 1:] + 1 + torch.randint(0, V - 1, (4, BLOCK - t - 1),
                                                                      generator=ctx.gen).to(dev)) % V
            diff = (model(changed)[:, : t + 1] - out[:, : t + 1]).abs().amax().item()
            if not diff <= 1e-5:
                fail(f"CharGPT is not causal: changing the tokens after position {t} changes the logits at positions "
                     f"0..{t} by up to {number(diff, 3)} (expected 0, tolerance 1e-5). The model sees the future: "
                     "pass a causal mask (nn.Transformer.generate_square_subsequent_mask(T), 0 on and below the "
                     "diagonal, -inf above) to every attention layer; a bool mask is True where BLOCKED, the upper "
                     "triangle")


@check(f"train_lm() trains CharGPT on the Markov language ({STEPS} steps): held-out loss <= bigram - "
       f"{BIGRAM_MARGIN} and <= the entropy bound + {BOUND_MARGIN} nats", task="train")
def train_and_compare(ctx):
    lm = ctx.load("lm")
    dev = ctx.device
    lang = MarkovLanguage(seed=0)
    train = lang.sample(N_TRAIN, seed=1000 + ctx.seed)
    test = lang.sample(N_TEST, seed=2000 + ctx.seed)
    bigram = bigram_loss(train, test, V)
    bound = lang.window_bound(BLOCK)
    model = lm.CharGPT(V, BLOCK).to(dev)
    losses = lm.train_lm(model, train.to(dev), steps=STEPS, block_size=BLOCK, batch_size=BATCH,
                         generator=torch.Generator().manual_seed(ctx.seed))
    expect(isinstance(losses, (list, tuple)) and len(losses) == STEPS,
           f"train_lm returned {type(losses).__name__} of length {len(losses) if hasattr(losses, '__len__') else '?'}"
           f"; expected a list of {STEPS} per-step losses (floats)")
    losses = [float(v) for v in losses]
    ctx.curve("train loss", losses)
    try:
        expect_decreasing(losses, "the training loss", min_drop=0.1)  # solution drops ~50%
    except CheckFailed as err:
        fail(f"{err}. Is opt.zero_grad() called at every step (without it the gradients of all earlier steps pile "
             "up), and is the learning rate sensible (AdamW about 1e-2 for this small model)?")
    held = heldout_loss(model, test, dev)
    final = sum(losses[-25:]) / 25
    ctx.metric("held-out loss (nats/token)", held, bigram - BIGRAM_MARGIN, higher_is_better=False)
    ctx.metric("bigram baseline", bigram)
    ctx.metric("entropy bound", bound)
    ctx.metric("perplexity", math.exp(held))
    where = (f"held-out loss {distinct(held, bound)[0]} nats; fitted bigram {number(bigram)}; the exact bound for "
             f"windows of {BLOCK} is {number(bound)} (entropy rate {number(lang.entropy_rate)})")
    if held < bound - BELOW_BOUND:
        fail(f"{where}: BELOW the bound, which no causal model can reach. The model sees the token it predicts: "
             "check the causal mask and that logits[:, t] is scored against idx[:, t + 1]")
    if held > bigram - BIGRAM_MARGIN:
        if final < bound - 0.2:
            fail(f"{where}; but the training loss ends at {number(final)}, below the bound: train_lm's loss is not "
                 "shifted, so the model learned to copy the token it sees. Train with lm_loss(logits, x) "
                 "(logits[:, :-1] against x[:, 1:])")
        if losses[0] > 2 * math.log(V):
            fail(f"{where}; the training loss STARTS at {number(losses[0])}, far above ln {V} = "
                 f"{number(math.log(V))}: the initial logits are large. Initialise the weights small (normal, std "
                 "0.02, as in the GPT lesson), above all with a head tied to nn.Embedding's N(0, 1) weights")
        if held > bigram - 0.1:
            fail(f"{where}: no better than the bigram (limit {number(bigram - BIGRAM_MARGIN)}); the training loss "
                 f"ends at {number(final)}. Is the optimizer stepping (zero_grad, backward, step) and the learning "
                 "rate large enough (AdamW about 1e-2 for this small model)?")
        fail(f"{where}: only {number(bigram - held, 3)} nats below the bigram, {BIGRAM_MARGIN} expected (limit "
             f"{number(bigram - BIGRAM_MARGIN)}). The next token depends on the last TWO tokens, in order: does the "
             "model know which token came last? Add a position embedding to the token embedding")
    if held > bound + BOUND_MARGIN:
        fail(f"{where}: it beats the bigram but stays more than {BOUND_MARGIN} above the bound (limit "
             f"{number(bound + BOUND_MARGIN)}). The next token depends on the last TWO tokens: does the model know "
             "which token came last (a position embedding added to the token embedding)?")
    sample = lm.generate(model.eval(), test[None, :2].to(dev), 48, BLOCK, temperature=1.0,
                         generator=generator(dev, ctx.seed))
    print(f"a sample from your model: {lang.text(sample[0].tolist())}")
    print(f"the language itself:      {lang.text(test[:50].tolist())}")

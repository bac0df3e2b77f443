"""Check: skip-gram with negative sampling from scratch, nearest neighbours and analogies.

skipgram_pairs() is compared, as a multiset of (center, context) pairs in any order, with the
reference on small sentences (windows 1-3, repeated words, a one-word sentence) and on the planted
corpus. noise_distribution() against count^power / Σ count^power. sgns_loss() and its autograd
gradients, and sgns_gradients() (by hand), against the reference on fixed float64 tensors.
SkipGram must keep two tables and look contexts and negatives up in the output one; word_vectors()
returns the input table. train_sgns() is run on the planted corpus (tutor.checking.corpus) and its
vectors are scored by the check's own cosine evaluation. most_similar() and analogy() run on
vectors of very different norms, so a dot product ranks differently from a cosine. Each classic
mistake is recomputed and named with the numbers.
"""

from __future__ import annotations

import math
import numbers
from collections import Counter

import torch
import torch.nn.functional as F
from torch import nn

from tutor.checking import (check, expect, expect_match, expect_type, fail, float64_device, is_close,
                            which_mistake)
from tutor.checking.corpus import analogy_accuracy, neighbour_accuracy, planted_corpus
from tutor.checking.formatting import number

F64 = torch.float64

# --- task: pairs --------------------------------------------------------------------------------


def pairs_variant(sentences, left, right, keep_self=False, across=False, drop_equal=False):
    """(center, context) pairs with `left` words before and `right` after each center."""
    if across:
        sentences = [[w for s in sentences for w in s]]
    out = []
    for s in sentences:
        for i, c in enumerate(s):
            for j in range(max(0, i - left), min(len(s), i + right + 1)):
                if (j != i or keep_self) and not (drop_equal and j != i and s[j] == c):
                    out.append((c, s[j]))
    return out


def pair_mistakes(sentences, w):
    return [
        ("it pairs words across sentence ends: the window must stop at the end of each sentence "
         "(loop over the sentences, not over one flat list)", lambda: pairs_variant(sentences, w, w, across=True)),
        ("it pairs each word with itself (j == i); skip the center's own position",
         lambda: pairs_variant(sentences, w, w, keep_self=True)),
        ("it leaves out the right edge of the window: range(i - w, i + w) stops at i + w - 1; "
         "use range(i - w, i + w + 1)", lambda: pairs_variant(sentences, w, w - 1)),
        (f"its window is one word too narrow on each side: window={w} means up to {w} words on EACH side",
         lambda: pairs_variant(sentences, w - 1, w - 1)),
        (f"its window is one word too wide on each side: window={w} means up to {w} words on each side, "
         f"not {w + 1}", lambda: pairs_variant(sentences, w + 1, w + 1)),
        ("it only pairs a center with the words AFTER it; the window covers both sides",
         lambda: pairs_variant(sentences, 0, w)),
        ("it only pairs a center with the words BEFORE it; the window covers both sides",
         lambda: pairs_variant(sentences, w, 0)),
        ("it drops pairs of two equal words at different positions ('the … the'): only the center's own "
         "position is skipped, an equal word elsewhere is a real context", lambda: pairs_variant(sentences, w, w, drop_equal=True)),
    ]


def as_pairs(got, label):
    """The learner's pairs as a sorted list of (int, int); a tensor (P, 2) or a list of pairs."""
    expect_type(got, torch.Tensor, label)
    expect(got.dim() == 2 and got.shape[1] == 2 or got.numel() == 0,
           f"{label} has shape {tuple(got.shape)}; expected (P, 2): one row (center, context) per pair")
    expect(not got.is_floating_point(), f"{label} has dtype {got.dtype}; word indices are integers (torch.long)")
    return sorted(map(tuple, got.reshape(-1, 2).tolist()))


def expect_pairs(label, got, sentences, w):
    want = sorted(pairs_variant(sentences, w, w))
    if got == want:
        return
    g, e = Counter(got), Counter(want)
    extra, missing = sorted((g - e).elements()), sorted((e - g).elements())
    detail = (f"yours has {len(got)} pairs, expected {len(want)}"
              + (f"; {len(extra)} extra, e.g. {extra[0]}" if extra else "")
              + (f"; {len(missing)} missing, e.g. {missing[0]}" if missing else ""))
    table = lambda pairs: torch.tensor(sorted(pairs), dtype=torch.long).reshape(-1, 2)  # noqa: E731
    why = which_mistake(table(got), [(m, (lambda f=f: table(f()))) for m, f in pair_mistakes(sentences, w)],
                        table(want))
    if why:
        fail(f"{label} is off: {why}. {detail[0].upper()}{detail[1:]}")
    fail(f"{label} differs from the reference: {detail}")


SMALL = [[0, 1, 2, 3, 4, 5], [6, 7], [8], [2, 9, 2, 2, 10]]


@check("skipgram_pairs() gives every (center, context) pair within the window, inside each sentence",
       task="pairs")
def pairs_values(ctx):
    mod = ctx.load("word2vec")
    corpus = planted_corpus(ctx.seed, n_sentences=200)
    small = str(SMALL).replace(" ", "")
    for sentences, w, name in [(SMALL, 2, small), (SMALL, 1, small), (SMALL, 3, small),
                               (corpus.encoded(), 2, "200 sentences of the planted corpus")]:
        label = f"skipgram_pairs({name}, window={w})"
        got = as_pairs(mod.skipgram_pairs([list(s) for s in sentences], w), label)
        expect_pairs(label, got, sentences, w)


# --- task: noise --------------------------------------------------------------------------------


def noise_mistakes(c, power):
    c = c.to(F64)
    return [
        (f"it is the plain unigram distribution count / Σ count, without the power {power}",
         lambda: c / c.sum()),
        (f"it normalises before raising to the power: (count / Σ count)^{power} does not sum to 1; "
         f"raise first, then divide by Σ count^{power}", lambda: (c / c.sum()) ** power),
        (f"it divides by the sum of the raw counts: divide count^{power} by Σ count^{power}",
         lambda: c ** power / c.sum()),
        ("it is missing the normalisation: count^power itself is not a distribution",
         lambda: c ** power),
        ("it is uniform: each word's probability must grow with its count", lambda: torch.full_like(c, 1 / len(c))),
        ("it ignores the power argument and always uses 0.75", lambda: c ** 0.75 / (c ** 0.75).sum()),
    ]


@check("noise_distribution() is count^0.75 / Σ count^0.75 (and honours power)", task="noise")
def noise_values(ctx):
    mod = ctx.load("word2vec")
    corpus = planted_corpus(ctx.seed, n_sentences=300)
    dev = float64_device(ctx)
    counts = corpus.count_vector().to(dev)
    for c, power, name in [(torch.tensor([1, 4, 16, 81], device=dev), 0.75, "counts [1, 4, 16, 81]"),
                           (counts, 0.75, f"the corpus counts (V={len(counts)})"),
                           (counts.to(torch.long), 0.5, "the corpus counts (int64), power=0.5")]:
        label = f"noise_distribution({name})"
        got = mod.noise_distribution(c) if power == 0.75 else mod.noise_distribution(c, power=power)
        expect_type(got, torch.Tensor, label)
        expect(got.is_floating_point(), f"{label} has dtype {got.dtype}; probabilities are floats")
        want = c.to(F64) ** power / (c.to(F64) ** power).sum()
        expect_match(label, got.to(F64), want, noise_mistakes(c, power), atol=1e-6, rtol=1e-5,
                     against="count^power / Σ count^power")


# --- task: loss ---------------------------------------------------------------------------------


def loss_parts(v, up, un):
    pos = F.logsigmoid((v * up).sum(-1))
    neg = F.logsigmoid(-torch.einsum("bkd,bd->bk", un, v))
    return pos, neg


def reference_loss(v, up, un):
    pos, neg = loss_parts(v, up, un)
    return -(pos + neg.sum(-1)).mean()


def loss_mistakes(v, up, un):
    pos, neg = loss_parts(v, up, un)
    neg_wrong = F.logsigmoid(torch.einsum("bkd,bd->bk", un, v))
    return [
        ("the negative term has the wrong sign: it is log σ(−u_k·v), so that the loss pushes the "
         "negatives' scores DOWN; yours uses log σ(+u_k·v)", lambda: -(pos + neg_wrong.sum(-1)).mean()),
        ("it averages over the K negatives; the loss SUMS them: −log σ(u_o·v) − Σ_k log σ(−u_k·v)",
         lambda: -(pos + neg.mean(-1)).mean()),
        ("it sums over the batch; take the mean over the batch", lambda: -(pos + neg.sum(-1)).sum()),
        ("its sign is flipped: the loss is the NEGATIVE log-likelihood, −(log σ(u_o·v) + Σ_k log σ(−u_k·v))",
         lambda: (pos + neg.sum(-1)).mean()),
        ("it is missing the negative samples' term − Σ_k log σ(−u_k·v)", lambda: -pos.mean()),
        ("it is missing the positive term −log σ(u_o·v)", lambda: -neg.sum(-1).mean()),
    ]


def loss_inputs(gen, dev, B=4, K=3, d=5):
    scale = 1.5  # scores of a few units, where every mistake changes the value
    return [(torch.randn(shape, generator=gen, dtype=F64) * scale).to(dev) for shape in ((B, d), (B, d), (B, K, d))]


@check("sgns_loss() equals −log σ(u_o·v) − Σ_k log σ(−u_k·v), averaged over the batch", task="loss")
def loss_values(ctx):
    mod = ctx.load("word2vec")
    dev = float64_device(ctx)
    for B, K, d in ((4, 3, 5), (1, 1, 2), (7, 5, 3)):
        v, up, un = loss_inputs(ctx.gen, dev, B, K, d)
        label = f"sgns_loss(v ({B}, {d}), u_pos ({B}, {d}), u_neg ({B}, {K}, {d}))"
        got = mod.sgns_loss(v, up, un)
        expect_type(got, torch.Tensor, label)
        expect(got.numel() == 1, f"{label} has shape {tuple(got.shape)}; expected a scalar (the batch mean)")
        expect_match(label, got.reshape(()), reference_loss(v, up, un), loss_mistakes(v, up, un))


@check("the gradients of sgns_loss() w.r.t. v, u_pos and u_neg equal the reference's", task="loss")
def loss_gradients(ctx):
    mod = ctx.load("word2vec")
    dev = float64_device(ctx)
    leaves = [t.requires_grad_(True) for t in loss_inputs(ctx.gen, dev)]
    label = "sgns_loss(v (4, 5), u_pos (4, 5), u_neg (4, 3, 5))"
    got = mod.sgns_loss(*leaves)
    expect(getattr(got, "requires_grad", False), f"{label} does not require grad although its inputs do: "
           "something left the autograd graph (.detach(), .item(), .data, NumPy, torch.no_grad())")
    mine = torch.autograd.grad(got.sum(), leaves, allow_unused=True)
    want = torch.autograd.grad(reference_loss(*leaves), leaves)
    for name, g, w in zip(("v", "u_pos", "u_neg"), mine, want):
        expect(g is not None, f"no gradient reaches {name} through {label}: it is not used, or it left the graph")
        expect_match(f"the gradient of {label} w.r.t. {name}", g, w, against="the reference loss's gradient")


# --- task: gradients ----------------------------------------------------------------------------


def grads_variant(v, up, un, pos_coef=None, neg_coef=None, flip=1.0, neg_in_v=True):
    sp, sn = torch.sigmoid(up @ v), torch.sigmoid(un @ v)
    a = sp - 1 if pos_coef is None else pos_coef(sp)
    b = sn if neg_coef is None else neg_coef(sn)
    gv = a * up + (b @ un if neg_in_v else 0)
    return flip * gv, flip * a * v, flip * b[:, None] * v[None, :]


def grads_mistakes(v, up, un):
    return [
        ("the positive coefficient has the wrong sign: ∂/∂s[−log σ(s)] = σ(s) − 1, not 1 − σ(s)",
         lambda: grads_variant(v, up, un, pos_coef=lambda s: 1 - s)),
        ("the negatives' coefficient is wrong: ∂/∂s[−log σ(−s)] = σ(s) (the sigmoid of +u_k·v)",
         lambda: grads_variant(v, up, un, neg_coef=lambda s: 1 - s)),
        ("the negatives' coefficient has the wrong sign: ∂/∂s[−log σ(−s)] = +σ(s)",
         lambda: grads_variant(v, up, un, neg_coef=lambda s: -s)),
        ("these are the gradients of the log-likelihood (every sign flipped): the loss is its negative",
         lambda: grads_variant(v, up, un, flip=-1.0)),
        ("∂L/∂v is missing the negatives' sum Σ_k σ(u_k·v) u_k",
         lambda: grads_variant(v, up, un, neg_in_v=False)),
    ]


@check("sgns_gradients() (by hand) equals autograd's gradients of one example's loss", task="gradients")
def hand_gradients(ctx):
    mod = ctx.load("word2vec")
    dev = float64_device(ctx)
    for K, d in ((3, 4), (1, 2), (6, 3)):
        v, up, un = (t[0] for t in loss_inputs(ctx.gen, dev, 1, K, d))
        leaves = [t.clone().requires_grad_(True) for t in (v, up, un)]
        want = torch.autograd.grad(-(F.logsigmoid(leaves[1] @ leaves[0])
                                     + F.logsigmoid(-(leaves[2] @ leaves[0])).sum()), leaves)
        label = f"sgns_gradients(v ({d},), u_pos ({d},), u_neg ({K}, {d}))"
        try:
            with torch.no_grad():  # by hand: autograd has nothing to differentiate here
                got = mod.sgns_gradients(v, up, un)
        except RuntimeError as e:
            if "grad" not in str(e):
                raise
            fail(f"{label} seems to use autograd ({str(e).splitlines()[0]}); the task is to write the "
                 "gradients by hand from σ(u_pos·v) and σ(u_k·v). The check runs it under torch.no_grad()")
        expect(isinstance(got, (tuple, list)) and len(got) == 3,
               f"{label} returned {type(got).__name__}; expected the triple (grad_v, grad_u_pos, grad_u_neg)")
        for name, g, w in zip(("grad_v", "grad_u_pos", "grad_u_neg"), got, want):
            expect_type(g, torch.Tensor, f"{label}'s {name}")
            expect(tuple(g.shape) == tuple(w.shape), f"{label}'s {name} has shape {tuple(g.shape)}; expected "
                   f"{tuple(w.shape)}, the shape of what it is the gradient of")
        expect_match(f"{label} -> (grad_v, grad_u_pos, grad_u_neg)", tuple(t.detach() for t in got), want,
                     grads_mistakes(v, up, un), against="autograd")


# --- task: model --------------------------------------------------------------------------------


@check("SkipGram keeps an input and an output table; contexts and negatives come from the output one; "
       "word_vectors() is the input table", task="model")
def model_tables(ctx):
    mod = ctx.load("word2vec")
    V, d = 11, 4
    torch.manual_seed(ctx.seed)
    model = mod.SkipGram(V, d)
    label = f"SkipGram({V}, {d})"
    expect_type(model, nn.Module, label)
    tables = {}
    for name in ("input", "output"):
        t = getattr(model, name, None)
        expect(isinstance(t, nn.Embedding), f"{label}.{name} is {type(t).__name__}; make it nn.Embedding({V}, {d})")
        expect(tuple(t.weight.shape) == (V, d), f"{label}.{name}.weight has shape {tuple(t.weight.shape)}; "
               f"expected ({V}, {d})")
        tables[name] = t
    expect(tables["input"] is not tables["output"], f"{label}.input and .output are the same table; word2vec "
           "keeps two: center words in one, context words and negatives in the other")
    model = model.to(float64_device(ctx), F64)
    W_in, W_out = model.input.weight, model.output.weight
    with torch.no_grad():  # scores of a few units, so that every wrong lookup changes the loss visibly
        for W in (W_in, W_out):
            W.copy_(torch.randn(W.shape, generator=ctx.gen, dtype=F64))
    c, o = torch.randint(0, V, (6,), generator=ctx.gen), torch.randint(0, V, (6,), generator=ctx.gen)
    neg = torch.randint(0, V, (6, 3), generator=ctx.gen)
    c, o, neg = (t.to(W_in.device) for t in (c, o, neg))
    with torch.no_grad():
        got = model(c, o, neg)
        expect_type(got, torch.Tensor, f"{label}(center, context, negatives)")
        want = reference_loss(W_in[c], W_out[o], W_out[neg])
        expect_match(f"{label}(center (6,), context (6,), negatives (6, 3))", got.reshape(()), want, [
            ("contexts and negatives are looked up in the INPUT table; they come from the output table "
             "(self.output), the center from the input table", reference_loss(W_in[c], W_in[o], W_in[neg])),
            ("the tables are swapped: the center comes from self.input, contexts and negatives from self.output",
             reference_loss(W_out[c], W_in[o], W_in[neg])),
            ("the negatives are looked up in the input table; they are contexts, from self.output",
             reference_loss(W_in[c], W_out[o], W_in[neg])),
        ], against="sgns_loss(input[center], output[context], output[negatives])")
    got = mod.word_vectors(model)
    expect_type(got, torch.Tensor, "word_vectors(model)")
    expect_match("word_vectors(model)", got.detach(), W_in.detach(), [
        ("it returns input + output vectors; word2vec's convention (gensim's model.wv) is the INPUT vectors "
         "alone (GloVe sums its two tables; the exercise asks for the input table)", (W_in + W_out).detach()),
        ("it returns the mean of the two tables; word2vec's convention is the INPUT vectors alone",
         ((W_in + W_out) / 2).detach()),
        ("it returns the output (context) vectors; word2vec's convention is the INPUT vectors",
         W_out.detach()),
    ], against="model.input.weight")


# --- task: similar ------------------------------------------------------------------------------


def test_vectors(gen, dev, V=40, d=6):
    """Random directions with norms from 0.2 to 5: a dot product and a cosine rank differently."""
    x = torch.randn(V, d, generator=gen, dtype=F64)
    norms = torch.exp(torch.randn(V, 1, generator=gen, dtype=F64))
    return (x / x.norm(dim=1, keepdim=True) * norms.clamp(0.2, 5.0)).to(dev)


def ranked(scores, query, topn, exclude=True):
    scores = scores.clone()
    if exclude:
        scores[query] = -float("inf")
    best = scores.topk(topn)
    return best.indices, best.values


def similar_mistakes(X, q, topn):
    unit = X / X.norm(dim=1, keepdim=True)
    return [
        ("it ranks by the dot product; rank by the cosine, the dot product of unit vectors: long vectors "
         "(frequent words) would otherwise win", lambda: ranked(X @ X[q], q, topn)),
        ("the query word itself is in the list (its cosine with itself is 1); exclude it",
         lambda: ranked(unit @ unit[q], q, topn, exclude=False)),
        ("it normalises the columns (norm over dim=0); each word is a ROW: vectors.norm(dim=1, keepdim=True)",
         lambda: ranked((X / X.norm(dim=0)) @ (X / X.norm(dim=0))[q], q, topn)),
        ("it only normalises the query; the cosine divides by both norms", lambda: ranked(X @ unit[q], q, topn)),
    ]


@check("most_similar() ranks by cosine similarity, most similar first, the query word excluded", task="similar")
def most_similar_values(ctx):
    mod = ctx.load("word2vec")
    X = test_vectors(ctx.gen, float64_device(ctx))
    for q, topn in ((3, 5), (17, 3), (0, 8)):
        label = f"most_similar(vectors (40, 6), query={q}, topn={topn})"
        got = mod.most_similar(X.clone(), q, topn)
        expect(isinstance(got, (tuple, list)) and len(got) == 2,
               f"{label} returned {type(got).__name__}; expected (indices, similarities)")
        idx, sims = (torch.as_tensor(t).detach().to(X.device) for t in got)
        unit = X / X.norm(dim=1, keepdim=True)
        want = ranked(unit @ unit[q], q, topn)
        got = (idx.to(torch.long), sims.to(F64))
        if is_close(got, want, 1e-6, 1e-6):
            continue
        why = which_mistake(got, similar_mistakes(X, q, topn), want, 1e-6, 1e-6)
        yours = f"yours {idx.tolist()} with similarities {[round(x, 3) for x in sims.tolist()]}"
        expected = f"expected {want[0].tolist()} with cosines {[round(x, 3) for x in want[1].tolist()]}"
        fail(f"{label} is off: {why}. {yours[0].upper()}{yours[1:]}, {expected}" if why else
             f"{label} differs from the cosine ranking: {yours}, {expected}")


def analogy_variant(X, a, b, c, unit_first=True, cosine=True, exclude=True, sign=1):
    U = X / X.norm(dim=1, keepdim=True) if unit_first else X
    target = U[b] - U[a] + U[c] if sign == 1 else U[a] - U[b] + U[c]
    scores = (X / X.norm(dim=1, keepdim=True)) @ target if cosine else X @ target
    if exclude:
        scores[[a, b, c]] = -float("inf")
    return int(scores.argmax())


QUERIES = [(0, 1, 2), (3, 4, 5), (6, 7, 8), (9, 10, 11), (12, 13, 14), (15, 16, 17), (18, 19, 20),
           (21, 22, 23), (24, 25, 26), (27, 28, 29), (30, 31, 32), (33, 34, 35)]


@check("analogy() answers a : b :: c : ? with the word nearest b − a + c (unit vectors), a, b, c excluded",
       task="similar")
def analogy_values(ctx):
    mod = ctx.load("word2vec")
    X = test_vectors(ctx.gen, float64_device(ctx))
    got = []
    for a, b, c in QUERIES:
        ans = mod.analogy(X.clone(), a, b, c)
        expect(isinstance(ans, numbers.Integral) or (isinstance(ans, torch.Tensor) and ans.numel() == 1),
               f"analogy(vectors, {a}, {b}, {c}) returned {type(ans).__name__}; expected one word index (an int)")
        got.append(int(ans))
    answers = lambda **kw: [analogy_variant(X, *q, **kw) for q in QUERIES]  # noqa: E731
    want = answers()
    if got == want:
        return
    why = which_mistake(got, [
        ("the query words are not excluded: the answer is then usually b or c itself; exclude a, b and c",
         lambda: answers(exclude=False)),
        ("it ranks by the dot product; rank by the cosine", lambda: answers(unit_first=False, cosine=False)),
        ("it adds the raw vectors; normalise each word vector to unit length first (3CosAdd, as word2vec and "
         "gensim do), then take b − a + c", lambda: answers(unit_first=False)),
        ("it computes a − b + c; a : b :: c : d means d ≈ b − a + c (queen − king + man ≈ woman)",
         lambda: answers(sign=-1)),
    ], want, 0, 0)
    wrong = [i for i in range(len(QUERIES)) if got[i] != want[i]]
    (a, b, c), i = QUERIES[wrong[0]], wrong[0]
    detail = (f"For a, b, c = {a}, {b}, {c} yours is {got[i]}, expected {want[i]}; {len(wrong)} of "
               f"{len(QUERIES)} answers differ (vectors (40, 6))")
    fail(f"analogy() is off: {why}. {detail}" if why else f"analogy() differs from 3CosAdd on unit vectors: {detail}")


# --- task: train --------------------------------------------------------------------------------

# train_sgns on planted_corpus(seed) (6000 sentences, ~40k tokens, V=146): d=32, window 2, 5 negatives,
# 2 epochs, Adam 1e-2, batch 1024 (246 steps, about 1 s unloaded). Solution over seeds 0-7: loss 4.16 ->
# 2.09-2.24, neighbour accuracy 1.00 on all, analogy accuracy 0.983-1.000 (two alternative solutions:
# 1.00 / 0.983-1.000 and 1.00 / 0.994-1.000); random vectors (d=32, seeds 0-7) 0.00-0.10 / 0.00-0.04.
MIN_NEIGHBOUR = 0.9
MIN_ANALOGY = 0.8
TRAIN = dict(dim=32, window=2, negatives=5, epochs=2, lr=1e-2, batch_size=1024)


@check(f"train_sgns() learns the planted corpus: neighbour accuracy >= {MIN_NEIGHBOUR}, analogy accuracy "
       f">= {MIN_ANALOGY}", task="train")
def train_corpus(ctx):
    mod = ctx.load("word2vec")
    corpus = planted_corpus(ctx.seed)
    result = mod.train_sgns(corpus.encoded(), corpus.count_vector(), seed=ctx.seed, device=ctx.device, **TRAIN)
    expect(isinstance(result, (tuple, list)) and len(result) == 2,
           f"train_sgns() returned {type(result).__name__}; expected (model, losses)")
    model, losses = result
    losses = [float(x) for x in losses]
    expect(len(losses) > 0, "train_sgns() returned no losses: append loss.item() after every step")
    ctx.curve("train loss", losses)
    expect(all(math.isfinite(x) for x in losses), f"the training loss became {losses[-1]}: training diverged")
    vectors = mod.word_vectors(model)
    expect_type(vectors, torch.Tensor, "word_vectors(model)")
    V = len(corpus.vocab)
    expect(tuple(vectors.shape) == (V, TRAIN["dim"]), f"word_vectors(model) has shape {tuple(vectors.shape)}; "
           f"expected (V, d) = ({V}, {TRAIN['dim']})")
    nb, an = neighbour_accuracy(vectors, corpus), analogy_accuracy(vectors, corpus)
    ctx.metric("neighbour accuracy", nb, MIN_NEIGHBOUR)
    ctx.metric("analogy accuracy", an, MIN_ANALOGY)
    progress = (f"The loss went from {number(losses[0])} to {number(losses[-1])} in {len(losses)} steps "
               "(the solution: about 4.16 to 2.1-2.2 in 246 steps)")
    start = (1 + TRAIN["negatives"]) * math.log(2)
    if losses[0] > start + 1.0:
        progress += (f". The first loss is far above (1 + K)·ln 2 = {start:.2f}, the loss of small vectors: the "
                    "tables start too large (nn.Embedding's default is N(0, 1)); initialise them small, e.g. "
                    "nn.init.normal_(weight, std=0.1)")
    expect(nb >= MIN_NEIGHBOUR, f"neighbour accuracy is {nb:.3f}, below {MIN_NEIGHBOUR} (the solution: 1.00; "
           f"random vectors about 0.05): a topic word's nearest word by cosine should be in its topic. {progress}")
    expect(an >= MIN_ANALOGY, f"analogy accuracy is {an:.3f}, below {MIN_ANALOGY} (the solution: 0.98-1.00; "
           f"random vectors about 0.01). {progress}")

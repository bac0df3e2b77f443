"""Check: GloVe (co-occurrence counts, f(x), the loss, the model), fastText subwords, a GloVe file loader.

Counts, f(x) and the loss are compared with references computed here (a hand corpus and random
ones; fixed float64 tensors with zero counts and counts above x_max); the loss's gradients with
autograd's on the reference. GloVe is trained here on the planted corpus (tutor.checking.corpus):
its W + C must put topic words next to each other and answer gender analogies. char_ngrams and
fnv1a are compared with references ("where", n = 3: <wh whe her ere re>; FNV-1a of UTF-8 bytes).
FastText's vectors (mean of the word's row and its n-grams' rows) are compared with a reference on
tables of known values, then trained on a synthetic stem+suffix morphology: an unseen form of a
stem must land next to that stem's other forms, and next to its topic. The loader reads a GloVe
text file written here.
"""

from __future__ import annotations

import math
import tempfile
from collections import Counter
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from tutor.checking import check, expect, expect_decreasing, expect_match, expect_shape, expect_type, fail, float64_device
from tutor.checking.corpus import analogy_accuracy, neighbour_accuracy, planted_corpus
from tutor.checking.formatting import number

F64 = torch.float64

# --- references -------------------------------------------------------------------------------


def ref_counts(sentences, V, window, weight=lambda d: 1.0 / d, both=True, flat=False):
    """Co-occurrence counts; the keyword arguments produce the classic mistakes."""
    X = np.zeros((V, V))
    if flat:
        sentences = [[w for s in sentences for w in s]]
    for s in sentences:
        s = np.asarray(s, dtype=np.int64)
        for d in range(1, window + 1):
            if len(s) > d:
                np.add.at(X, (s[:-d], s[d:]), weight(d))
                if both:
                    np.add.at(X, (s[d:], s[:-d]), weight(d))
    return torch.tensor(X, dtype=F64)


def ref_weight(x, x_max, alpha):
    return torch.clamp(x / x_max, max=1.0) ** alpha


def ref_loss(W, C, b_w, b_c, X, x_max, alpha, variant=""):
    """The GloVe loss, right or with one named mistake (`variant`)."""
    if variant == "transposed":
        X = X.T
    if variant == "all_entries":
        i, j = (t.reshape(-1) for t in torch.meshgrid(torch.arange(X.shape[0]), torch.arange(X.shape[1]),
                                                       indexing="ij"))
    else:
        i, j = torch.nonzero(X > 0, as_tuple=True)
    x = X[i, j]
    log_x = torch.log1p(x) if variant == "log1p" else torch.log(x)
    ctx_vectors = W if variant == "w_only" else C
    dot = (W[i] * ctx_vectors[j]).sum(1)
    bias = {"no_bias": 0.0, "b_w_only": b_w[i], "b_c_only": b_c[j]}.get(variant, b_w[i] + b_c[j])
    f = {"uncapped": (x / x_max) ** alpha, "unweighted": torch.ones_like(x), "linear": torch.clamp(x / x_max, max=1.0),
         }.get(variant, ref_weight(x, x_max, alpha))
    total = (f * (dot + bias - log_x) ** 2).sum()
    return {"mean": total / len(x), "half": total / 2}.get(variant, total)


def ref_ngrams(word, n_min, n_max, left="<", right=">", whole=True):
    wrapped = left + word + right
    grams = [wrapped[s:s + n] for n in range(n_min, n_max + 1) for s in range(len(wrapped) - n + 1)]
    return grams if whole else [g for g in grams if g != wrapped]


def ref_fnv1a(text, variant=""):
    h, prime = 2166136261, 16777619
    data = [ord(c) for c in text] if variant == "chars" else list(text.encode("utf-8"))
    for byte in data:
        if variant == "signed" and byte >= 128:
            byte = (byte - 256) % 2**32  # fastText's C++ casts each byte to int8_t first
        if variant == "fnv1":
            h = (h * prime) % 2**32 ^ byte
        elif variant == "no_mod":
            h = (h ^ byte) * prime
        else:
            h = ((h ^ byte) * prime) % 2**32
    return h


def ref_vector(word, words_w, grams_w, index, buckets, n_min, n_max, variant=""):
    """fastText's vector of `word` from the two tables, right or with one named mistake."""
    grams = {"no_bounds": lambda: ref_ngrams(word, n_min, n_max, "", ""),
             "unique": lambda: list(dict.fromkeys(ref_ngrams(word, n_min, n_max)))}.get(
        variant, lambda: ref_ngrams(word, n_min, n_max))()
    rows = grams_w[torch.tensor([ref_fnv1a(g) % buckets for g in grams], dtype=torch.long)]
    if variant == "words_only" and word in index:
        return words_w[index[word]]
    if variant == "oov_zero" and word not in index:
        return torch.zeros_like(grams_w[0])
    if word in index and variant != "no_own":
        own = words_w[index[word]]
        if variant == "half_half":
            return (own + rows.mean(0)) / 2
        rows = torch.cat([own[None], rows])
    return rows.sum(0) if variant == "sum" else rows.mean(0)


# --- task: counts ------------------------------------------------------------------------------

HAND = [[0, 1, 2, 1], [2, 0]]  # X[0, 1] = 1 + 1/3 ... worked out in the lesson

COUNT_MISTAKES = [
    ("it counts every pair as 1; GloVe weights a pair d words apart by 1/d",
     lambda s, V, w: ref_counts(s, V, w, weight=lambda d: 1.0)),
    ("it counts each pair in one direction only (X[w_p, w_q] for p < q): add 1/d to X[w_q, w_p] too, "
     "so that X is symmetric", lambda s, V, w: ref_counts(s, V, w, both=False)),
    ("the window is one word too short: pairs up to `window` apart count (range(p + 1, p + window + 1))",
     lambda s, V, w: ref_counts(s, V, w - 1)),
    ("the window is one word too long: pairs up to `window` apart count, not window + 1",
     lambda s, V, w: ref_counts(s, V, w + 1)),
    ("pairs cross sentence boundaries (the sentences were joined into one stream); count within each "
     "sentence", lambda s, V, w: ref_counts(s, V, w, flat=True)),
    ("the weight is 1/(d + 1), one off: a neighbour at distance d = 1 adds 1", 
     lambda s, V, w: ref_counts(s, V, w, weight=lambda d: 1.0 / (d + 1))),
]


def counts_mistakes(sentences, V, window):
    return [(why, (lambda f=f: f(sentences, V, window))) for why, f in COUNT_MISTAKES]


@check("cooccurrence() counts 1/distance within the window, both directions, within sentences", task="counts")
def counts_values(ctx):
    glove = ctx.load("glove")
    rng = np.random.default_rng(ctx.seed)
    random = [[int(w) for w in rng.integers(0, 9, size=int(n))] for n in rng.integers(0, 10, size=25)]
    for sentences, V, window, label in ((HAND, 3, 2, "the hand corpus [[0, 1, 2, 1], [2, 0]], window 2"),
                                        (random, 9, 3, "25 random sentences (lengths 0-9), window 3")):
        got = glove.cooccurrence([list(s) for s in sentences], V, window=window)
        name = f"cooccurrence() on {label}"
        expect_type(got, torch.Tensor, name)
        expect_shape(got, (V, V), name, labels=("vocab", "vocab"))
        expect_match(name, got, ref_counts(sentences, V, window), counts_mistakes(sentences, V, window))


# --- task: weight ------------------------------------------------------------------------------


def weight_mistakes(x, x_max, alpha):
    return [
        ("f is not capped at 1: f(x) = min(1, (x/x_max)^α), so counts above x_max all weigh 1",
         lambda: (x / x_max) ** alpha),
        ("the exponent α is missing: f(x) = min(1, x/x_max)^α, not min(1, x/x_max)",
         lambda: torch.clamp(x / x_max, max=1.0)),
        ("it caps x at x_max but forgets to divide by x_max: f(x) = (min(x, x_max)/x_max)^α",
         lambda: torch.clamp(x, max=x_max) ** alpha),
        ("it uses the default x_max = 100 and α = 0.75 instead of the arguments",
         lambda: ref_weight(x, 100.0, 0.75)),
    ]


@check("glove_weight() is f(x) = min(1, (x/x_max)^α), with its arguments", task="weight")
def weight_values(ctx):
    glove = ctx.load("glove")
    dev = float64_device(ctx)
    x = torch.tensor([0.0, 0.5, 1.0, 7.0, 10.0, 25.0, 99.0, 100.0, 101.0, 2000.0], dtype=F64, device=dev)
    for x_max, alpha in ((100.0, 0.75), (10.0, 0.5)):
        name = f"glove_weight(x, x_max={number(x_max)}, alpha={alpha})"
        got = glove.glove_weight(x, x_max, alpha) if x_max == 10.0 else glove.glove_weight(x)
        expect_type(got, torch.Tensor, name)
        expect_match(f"{name} at x = {[number(v) for v in x.tolist()]}", got, ref_weight(x, x_max, alpha),
                     weight_mistakes(x, x_max, alpha))


# --- task: loss ---------------------------------------------------------------------------------

LOSS_MISTAKES = [
    ("the loss is nan: log(0) of the zero counts. Sum only over the pairs with X_ij > 0 (the weight f(0) = 0 "
     "does not help: 0 × inf is nan)", "all_entries"),
    ("it uses log(1 + X) over all the pairs; GloVe fits log X_ij, over the nonzero counts only", "log1p"),
    ("the weight is not capped at 1: f(x) = min(1, (x/x_max)^α)", "uncapped"),
    ("the exponent α is missing from the weight: f(x) = min(1, x/x_max)^α", "linear"),
    ("the weight f(X_ij) is missing", "unweighted"),
    ("both biases are missing: the model is w_i·c_j + b_i + b~_j ≈ log X_ij", "no_bias"),
    ("the context bias b_c[j] is missing: the model is w_i·c_j + b_w[i] + b_c[j] ≈ log X_ij", "b_w_only"),
    ("the word bias b_w[i] is missing: the model is w_i·c_j + b_w[i] + b_c[j] ≈ log X_ij", "b_c_only"),
    ("it uses W for the context too (w_i·w_j); the context vectors are C: w_i·c_j", "w_only"),
    ("rows and columns of X are swapped: X_ij pairs word i (W, b_w) with context j (C, b_c)", "transposed"),
    ("it averages over the nonzero pairs; the GloVe loss J is their sum", "mean"),
    ("it is half the loss (the 1/2 of GloVe's C code); J is the plain sum", "half"),
]


def loss_case(gen, dev):
    """V = 5 words, d = 3, an asymmetric X with zeros and counts above x_max = 10."""
    W, C = (torch.randn(5, 3, generator=gen, dtype=F64).to(dev) * 0.5 for _ in range(2))
    b_w, b_c = (torch.randn(5, generator=gen, dtype=F64).to(dev) * 0.5 for _ in range(2))
    X = torch.tensor([[0.0, 3.0, 0.5, 0.0, 12.0],
                      [2.0, 0.0, 0.0, 40.0, 1.0],
                      [0.5, 0.0, 9.0, 0.0, 0.0],
                      [0.0, 30.0, 0.0, 0.0, 0.25],
                      [15.0, 1.5, 0.0, 0.25, 0.0]], dtype=F64, device=dev)
    return W, C, b_w, b_c, X


@check("glove_loss() is the weighted least squares over the nonzero counts, biases included", task="loss")
def loss_values(ctx):
    glove = ctx.load("glove")
    W, C, b_w, b_c, X = loss_case(ctx.gen, float64_device(ctx))
    got = glove.glove_loss(W, C, b_w, b_c, X, 10.0, 0.75)
    name = "glove_loss(W, C, b_w, b_c, X, x_max=10, alpha=0.75) on a 5-word X with zeros"
    expect_type(got, torch.Tensor, name)
    expect(got.numel() == 1, f"{name} has shape {tuple(got.shape)}; return the scalar sum")
    mistakes = [(why, (lambda v=v: ref_loss(W, C, b_w, b_c, X, 10.0, 0.75, v))) for why, v in LOSS_MISTAKES]
    expect_match(name, got.reshape(()), ref_loss(W, C, b_w, b_c, X, 10.0, 0.75), mistakes)


@check("the gradients of glove_loss() w.r.t. W, C, b_w and b_c equal autograd's on the reference", task="loss")
def loss_gradients(ctx):
    glove = ctx.load("glove")
    W, C, b_w, b_c, X = (t.requires_grad_(k < 4) for k, t in enumerate(loss_case(ctx.gen, float64_device(ctx))))
    got = glove.glove_loss(W, C, b_w, b_c, X, 10.0, 0.75)
    expect(isinstance(got, torch.Tensor) and got.requires_grad, "glove_loss()'s result does not require grad "
           "although W, C, b_w and b_c do: something left the autograd graph (.item(), .detach(), NumPy)")
    params = (W, C, b_w, b_c)
    mine = torch.autograd.grad(got.sum(), params, allow_unused=True)
    want = torch.autograd.grad(ref_loss(*params, X, 10.0, 0.75), params)
    for name, g, w in zip(("W", "C", "b_w", "b_c"), mine, want):
        expect(g is not None, f"no gradient reaches {name} through glove_loss(): it is not used")
        expect_match(f"the gradient of glove_loss() w.r.t. {name}", g, w, against="autograd on the reference")


# --- task: model --------------------------------------------------------------------------------


def unit_rows(v):
    return v / v.norm(dim=1, keepdim=True).clamp_min(1e-12)


@check("GloVe holds W, C (V, d), b_w, b_c (V,); its forward is glove_loss and its vectors() are W + C",
       task="model")
def glove_model(ctx):
    glove = ctx.load("glove")
    V, d = 7, 4
    torch.manual_seed(ctx.seed)
    model = glove.GloVe(V, d)
    label = f"GloVe({V}, {d})"
    expect_type(model, nn.Module, label)
    for name, shape in (("W", (V, d)), ("C", (V, d)), ("b_w", (V,)), ("b_c", (V,))):
        p = getattr(model, name, None)
        expect(isinstance(p, nn.Parameter), f"{label}.{name} is {type(p).__name__}; make it an nn.Parameter of "
               f"shape {shape}")
        expect_shape(p, shape, f"{label}.{name}")
    dev = float64_device(ctx)
    model = model.to(device=dev, dtype=F64)
    with torch.no_grad():
        for p in (model.W, model.C, model.b_w, model.b_c):
            p.copy_(torch.randn(p.shape, generator=ctx.gen, dtype=F64).to(dev))
    X = ref_counts([[int(w) for w in torch.randint(0, V, (6,), generator=ctx.gen)] for _ in range(5)], V, 3).to(dev)
    got = model(X)
    expect_type(got, torch.Tensor, f"{label}(X)")
    want = ref_loss(model.W, model.C, model.b_w, model.b_c, X, 100.0, 0.75)
    expect_match(f"{label}(X), the loss on its own parameters", got.reshape(()).detach(), want.detach(),
                 hint="forward(X) returns glove_loss(self.W, self.C, self.b_w, self.b_c, X, x_max, alpha)")
    vec = model.vectors()
    expect_type(vec, torch.Tensor, f"{label}.vectors()")
    W, C = model.W.detach(), model.C.detach()
    expect_shape(vec, (V, d), f"{label}.vectors()", labels=("vocab", "dim"))
    expect_match(f"{label}.vectors(), each row scaled to unit length", unit_rows(vec.detach().to(F64)),
                 unit_rows(W + C), [
                     ("it returns W alone; GloVe's vectors are W + C, the word and the context vectors summed",
                      unit_rows(W)),
                     ("it returns C alone; GloVe's vectors are W + C", unit_rows(C)),
                 ], atol=1e-6, rtol=1e-6, against="W + C")


# --- task: ngrams -------------------------------------------------------------------------------


def ngram_mistakes(word, n_min, n_max):
    return [
        ("the boundary symbols are missing: wrap the word as '<' + word + '>' first, so that prefixes and "
         "suffixes are n-grams of their own", ref_ngrams(word, n_min, n_max, "", "")),
        ("the '<' at the start is missing: wrap the word as '<' + word + '>'", ref_ngrams(word, n_min, n_max, "", ">")),
        ("the '>' at the end is missing: wrap the word as '<' + word + '>'", ref_ngrams(word, n_min, n_max, "<", "")),
        (f"n = n_max is left out: the lengths run from n_min to n_max INCLUSIVE (range(n_min, n_max + 1))",
         ref_ngrams(word, n_min, n_max - 1)),
        ("repeated n-grams were dropped; fastText keeps every occurrence (each adds its row to the mean)",
         list(dict.fromkeys(ref_ngrams(word, n_min, n_max)))),
        (f"the whole wrapped word '<{word}>' is left out; fastText hashes it too when it is at most n_max "
         "characters long", ref_ngrams(word, n_min, n_max, whole=False)),
    ]


NGRAM_CASES = [("where", 3, 3), ("where", 3, 6), ("banana", 3, 4), ("cat", 2, 6), ("café", 3, 6), ("a", 3, 6)]


@check("char_ngrams() gives every n-gram of '<' + word + '>' (\"where\", n = 3: <wh whe her ere re>)", task="ngrams")
def ngrams_values(ctx):
    sub = ctx.load("subwords")
    for word, n_min, n_max in NGRAM_CASES:
        name = f"char_ngrams({word!r}, {n_min}, {n_max})"
        got = sub.char_ngrams(word, n_min, n_max)
        expect(isinstance(got, (list, tuple)) and all(isinstance(g, str) for g in got),
               f"{name} returned {type(got).__name__}; return a list of strings")
        want = ref_ngrams(word, n_min, n_max)
        if Counter(got) == Counter(want):
            continue
        for why, value in ngram_mistakes(word, n_min, n_max):
            if value is not None and Counter(got) == Counter(value):
                fail(f"{name} is off: {why}. Yours {sorted(got)}, expected {sorted(want)}")
        extra, missing = Counter(got) - Counter(want), Counter(want) - Counter(got)
        fail(f"{name} differs from fastText's n-grams (any order): yours {len(got)} n-grams, expected "
             f"{len(want)}; extra {sorted(extra.elements())}, missing {sorted(missing.elements())}")
    default = sub.char_ngrams("where")
    expect(Counter(default) == Counter(ref_ngrams("where", 3, 6)), f"char_ngrams('where') with the default "
           f"n_min=3, n_max=6 gave {len(default)} n-grams ({sorted(default)}); expected the "
           f"{len(ref_ngrams('where', 3, 6))} n-grams of lengths 3 to 6")


# --- task: hash ---------------------------------------------------------------------------------

HASH_WORDS = ["", "a", "where", "<wh", "re>", "café", "naïve>", "zzzzzzzzzzzz"]


@check("fnv1a() is 32-bit FNV-1a over UTF-8 bytes; ngram_buckets() is fnv1a(g) % buckets", task="hash")
def hash_values(ctx):
    sub = ctx.load("subwords")
    for text in HASH_WORDS:
        got = sub.fnv1a(text)
        name = f"fnv1a({text!r})"
        expect(isinstance(got, (int, np.integer)) and not isinstance(got, bool),
               f"{name} returned {type(got).__name__}; return a Python int")
        got = int(got)
        expect_match(name, got, ref_fnv1a(text), [
            ("it is FNV-1 (multiply, then XOR); FNV-1a XORs the byte in first, then multiplies", ref_fnv1a(text, "fnv1")),
            ("it is not kept to 32 bits: take h = (h ^ byte) * prime % 2**32 at every step", ref_fnv1a(text, "no_mod")),
            ("it hashes characters (ord(c)), not the UTF-8 bytes: use text.encode('utf-8')", ref_fnv1a(text, "chars")),
            ("it sign-extends bytes above 127, as fastText's C++ does (int8_t); this exercise hashes the unsigned "
             "bytes, standard FNV-1a", ref_fnv1a(text, "signed")),
        ], atol=0, rtol=0, against="FNV-1a")
    for word, buckets in (("where", 1000), ("café", 2**16)):
        got = sub.ngram_buckets(word, buckets)
        want = [ref_fnv1a(g) % buckets for g in ref_ngrams(word, 3, 6)]
        expect(isinstance(got, (list, tuple)), f"ngram_buckets({word!r}, {buckets}) returned {type(got).__name__}; "
               "return a list of ints")
        expect(Counter(int(b) for b in got) == Counter(want), f"ngram_buckets({word!r}, {buckets}) gave "
               f"{sorted(int(b) for b in got)}; expected fnv1a(g) % {buckets} for each n-gram g of char_ngrams: "
               f"{sorted(want)}")


# --- task: fasttext -----------------------------------------------------------------------------

FT_VOCAB = ["where", "here", "there", "banana"]
VECTOR_MISTAKES = [
    ("a vocabulary word's own row (self.words) is left out: its vector is the mean of its own row AND its "
     "n-grams' rows", "no_own"),
    ("it sums the rows; fastText averages them (the word's row and its n-grams' rows)", "sum"),
    ("it averages the word's row with the MEAN of its n-grams (½ each); fastText averages all the rows "
     "equally", "half_half"),
    ("the n-grams have no boundary symbols '<' and '>'", "no_bounds"),
    ("repeated n-grams were counted once; every occurrence adds its row", "unique"),
    ("a word not in the vocabulary gets zeros; its n-grams still give it a vector (the mean of their rows)",
     "oov_zero"),
    ("it uses only the word's own row; the n-grams' rows belong in every word's mean", "words_only"),
]


def make_fasttext(sub, gen, dev, vocab=FT_VOCAB, dim=4, buckets=97):
    model = sub.FastText(vocab, dim, buckets)
    label = f"FastText({vocab}, dim={dim}, buckets={buckets})"
    expect_type(model, nn.Module, label)
    for name, rows in (("words", len(vocab)), ("ngrams", buckets)):
        table = getattr(model, name, None)
        expect(isinstance(table, nn.Embedding), f"{label}.{name} is {type(table).__name__}; make it "
               f"nn.Embedding({rows}, {dim})")
        expect_shape(table.weight, (rows, dim), f"{label}.{name}.weight")
    model = model.to(device=dev, dtype=F64)
    with torch.no_grad():
        for table in (model.words, model.ngrams):
            table.weight.copy_(torch.randn(table.weight.shape, generator=gen, dtype=F64).to(dev))
    return model, label


@check("FastText.vector(word) is the mean of the word's own row and its n-gram rows; unseen words too",
       task="fasttext")
def fasttext_vectors(ctx):
    sub = ctx.load("subwords")
    model, label = make_fasttext(sub, ctx.gen, float64_device(ctx))
    index = {w: i for i, w in enumerate(FT_VOCAB)}
    Ww, Wg = model.words.weight.detach(), model.ngrams.weight.detach()
    for word in ("where", "banana", "whereas", "hence"):
        name = f"{label}.vector({word!r}){'' if word in index else ' (not in the vocabulary)'}"
        got = model.vector(word)
        expect_type(got, torch.Tensor, name)
        mistakes = [(why, (lambda v=v: ref_vector(word, Ww, Wg, index, 97, 3, 6, v))) for why, v in VECTOR_MISTAKES]
        expect_match(name, got.detach().reshape(-1), ref_vector(word, Ww, Wg, index, 97, 3, 6), mistakes)


@check("FastText(ids) stacks the vectors of vocab[ids], and the gradient reaches both tables", task="fasttext")
def fasttext_forward(ctx):
    sub = ctx.load("subwords")
    model, label = make_fasttext(sub, ctx.gen, float64_device(ctx))
    index = {w: i for i, w in enumerate(FT_VOCAB)}
    ids = torch.tensor([2, 0, 3, 0], device=model.words.weight.device)
    got = model(ids)
    name = f"{label}(ids={ids.tolist()})"
    expect_type(got, torch.Tensor, name)
    expect_shape(got, (4, 4), name, labels=("ids", "dim"))
    Ww, Wg = model.words.weight, model.ngrams.weight
    want = torch.stack([ref_vector(FT_VOCAB[i], Ww, Wg, index, 97, 3, 6) for i in ids.tolist()])
    mistakes = [(why, (lambda v=v: torch.stack([ref_vector(FT_VOCAB[i], Ww.detach(), Wg.detach(), index, 97, 3, 6, v)
                                               for i in ids.tolist()]))) for why, v in VECTOR_MISTAKES]
    expect_match(name, got.detach(), want.detach(), mistakes)
    g = torch.randn(got.shape, generator=ctx.gen, dtype=F64).to(got.device)
    expect(got.requires_grad, f"{name} does not require grad: the tables must be trained through it")
    mine = torch.autograd.grad((got * g).sum(), (Ww, Wg), allow_unused=True)
    ref = torch.autograd.grad((want * g).sum(), (Ww, Wg))
    for table, m, r in zip(("words", "ngrams"), mine, ref):
        expect(m is not None, f"no gradient reaches {label}.{table} through forward()")
        expect_match(f"the gradient of {name} w.r.t. {table}.weight", m, r, against="the reference's gradient")


# --- task: loader -------------------------------------------------------------------------------

FILE_WORDS = ["the", ",", "king", "queen", "café", "1.5", "won't", "zebra"]


def write_glove_file(folder: Path, gen, trailing_newline=True):
    """A GloVe-format file of FILE_WORDS with random 5-d vectors; returns its path and the numbers in it.

    Every number ends in the digit 7, so that a parser that loses a last digit is off by >= 7e-6.
    """
    values = torch.randn(len(FILE_WORDS), 5, generator=gen, dtype=F64)
    texts = [[f"{v:.5f}7" for v in row.tolist()] for row in values]
    lines = [" ".join([w] + row) for w, row in zip(FILE_WORDS, texts)]
    path = folder / "glove.tiny.5d.txt"
    path.write_text("\n".join(lines) + ("\n" if trailing_newline else ""), encoding="utf-8")
    return path, torch.tensor([[float(t) for t in row] for row in texts], dtype=F64), texts


@check("read_glove() reads every line of a GloVe text file (no header): the words and their vectors",
       task="loader")
def loader_read(ctx):
    glove = ctx.load("glove")
    with tempfile.TemporaryDirectory() as tmp:
        for trailing in (True, False):
            path, parsed, texts = write_glove_file(Path(tmp), ctx.gen, trailing)
            label = f"read_glove() on an {len(FILE_WORDS)}-line, 5-d file{'' if trailing else ' without a final newline'}"
            got = glove.read_glove(str(path))
            expect(isinstance(got, (tuple, list)) and len(got) == 2, f"{label} returned {type(got).__name__}; "
                   "return (words, vectors)")
            words, vectors = got
            words = list(words)
            if words != FILE_WORDS:
                if words == FILE_WORDS[1:]:
                    fail(f"{label} skipped the first line: a GloVe file has NO header line (word2vec's text format "
                         f"starts with 'count dim'; GloVe's does not). Yours {words}")
                fail(f"{label}: the words are {words}; expected {FILE_WORDS}, in the file's order")
            expect_type(vectors, torch.Tensor, f"{label}'s vectors")
            expect(vectors.is_floating_point(), f"{label}'s vectors have dtype {vectors.dtype}; return floats")
            cut = parsed.clone()  # line[:-1] to drop the newline also drops the last digit of a final line without one
            cut[-1, -1] = float(texts[-1][-1][:-1])
            expect_match(f"{label}'s vectors", vectors.to(F64), parsed, [
                ("the last character of the last line was cut off (line[:-1] drops a digit when the file does not end "
                 "in a newline); use line.rstrip('\\n') or line.split()", cut),
            ], atol=1e-6, rtol=1e-7, against="the file")  # float32 parsing is within 1e-7 relative


@check("glove_embedding() is an nn.Embedding with the file's vectors in vocab order, zeros for missing words, "
       "frozen or not", task="loader")
def loader_embedding(ctx):
    glove = ctx.load("glove")
    vocab = ["queen", "dragon", "the", "café", "king"]
    with tempfile.TemporaryDirectory() as tmp:
        path, parsed, _ = write_glove_file(Path(tmp), ctx.gen)
        want = torch.zeros(len(vocab), 5, dtype=F64)
        for k, word in enumerate(vocab):
            if word in FILE_WORDS:
                want[k] = parsed[FILE_WORDS.index(word)]
        for freeze in (True, False):
            label = f"glove_embedding(path, vocab={vocab}, freeze={freeze})"
            emb = glove.glove_embedding(str(path), vocab, freeze=freeze) if not freeze else \
                glove.glove_embedding(str(path), vocab)
            expect_type(emb, nn.Embedding, label)
            weight = emb.weight.detach().to(F64)
            expect_shape(weight, (len(vocab), 5), f"{label}.weight", labels=("vocab", "dim"))
            file_order = parsed[:len(vocab)]
            expect_match(f"{label}.weight", weight, want, [
                ("the rows are in the file's order; row k must be the vector of vocab[k]", file_order),
                ("'dragon' is not in the file and must get a row of zeros", lambda: torch.where(
                    torch.tensor([[w not in FILE_WORDS] for w in vocab]), weight, want)),
            ], atol=1e-6, rtol=1e-6, against="the file's vectors in vocab order")
            expect(emb.weight.requires_grad == (not freeze), f"{label}.weight.requires_grad is "
                   f"{emb.weight.requires_grad}; with freeze={freeze} it must be {not freeze} "
                   "(nn.Embedding.from_pretrained(weight, freeze=freeze))")
            out = emb(torch.tensor([0, 4]))
            expect_match(f"{label}(tensor([0, 4])), the rows of 'queen' and 'king'", out.detach().to(F64),
                         want[[0, 4]], atol=1e-6, rtol=1e-6)


# The two training checks come last: a mistake in the pieces above shows up first, and quickly.

# --- task: train-glove ---------------------------------------------------------------------------

# Planted corpus (6000 sentences, V = 146), counts with window 5; GloVe(V, 32) re-initialised here as
# GloVe's C code does (uniform in ±0.5/d, biases 0), float32, full-batch Adam lr 0.01, 200 steps.
# Solution over seeds 0-7: neighbour accuracy of W + C 1.00 on every seed; analogy accuracy of the word
# vectors W 0.989-1.000; of W + C 0.32-0.78 (too unstable for a threshold: on this bipartite corpus parts of
# the gender structure sit where W ≈ −C, see the lesson); random vectors 0.00-0.04.
GLOVE_WINDOW, GLOVE_DIM, GLOVE_STEPS, GLOVE_LR = 5, 32, 200, 0.01
MIN_NEIGHBOUR = 0.9
MIN_ANALOGY = 0.75


@check(f"GloVe trained here on the planted corpus: neighbour accuracy of W + C >= {MIN_NEIGHBOUR}, analogy "
       f"accuracy of W >= {MIN_ANALOGY}", task="train-glove")
def glove_training(ctx):
    glove = ctx.load("glove")
    corpus = planted_corpus(ctx.seed)
    V = len(corpus.vocab)
    X = ref_counts(corpus.encoded(), V, GLOVE_WINDOW).to(device=ctx.device, dtype=torch.float32)
    torch.manual_seed(ctx.seed)
    model = glove.GloVe(V, GLOVE_DIM).to(ctx.device)
    with torch.no_grad():
        bound = 0.5 / GLOVE_DIM
        model.W.uniform_(-bound, bound), model.C.uniform_(-bound, bound)
        model.b_w.zero_(), model.b_c.zero_()
    opt = torch.optim.Adam(model.parameters(), lr=GLOVE_LR)
    losses = []
    for _ in range(GLOVE_STEPS):
        loss = model(X)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    ctx.curve("GloVe loss", losses)
    expect_decreasing(losses, "the GloVe loss", min_drop=0.5)
    vectors = model.vectors().detach().cpu()
    near = neighbour_accuracy(vectors, corpus)
    analogy, analogy_sum = analogy_accuracy(model.W.detach().cpu(), corpus), analogy_accuracy(vectors, corpus)
    ctx.metric("topic neighbour accuracy (W + C)", near, MIN_NEIGHBOUR)
    ctx.metric("analogy accuracy (W)", analogy, MIN_ANALOGY)
    ctx.metric("analogy accuracy (W + C), no threshold", analogy_sum)
    trained = f"The loss went from {losses[0]:.4g} to {losses[-1]:.4g}"
    expect(near >= MIN_NEIGHBOUR, f"the topic-neighbour accuracy of vectors() is {near:.3f}, below {MIN_NEIGHBOUR} "
           f"(the reference solution: 1.00; random vectors about 0.1). {trained}")
    expect(analogy >= MIN_ANALOGY, f"the analogy accuracy of the word vectors W is {analogy:.3f}, below "
           f"{MIN_ANALOGY} (the reference solution: 0.99-1.00; random vectors under 0.05). {trained}")


# --- task: oov ----------------------------------------------------------------------------------

# A synthetic morphology: 6 topics × 4 stems (CVCVC, no trigram shared between stems) × 5 suffixes; one
# form of every stem is held out of the vocabulary. Each in-vocabulary word predicts its topic's 6 context
# words (a full softmax over 36 contexts, soft targets; skip-gram with its expected counts). FastText(vocab,
# 32, 4096 buckets), Adam lr 0.1, 40 full-batch steps. Then each held-out word's vector (n-grams only):
# - "own stem": its nearest vocabulary word (cosine) is another form of the same stem;
# - "topic": its nearest vocabulary word from ANOTHER stem is in the same topic.
# Solution over seeds 0-7: own stem 0.875-1.00, topic 1.00 on every seed, final loss ln 6 + 0.002-0.006;
# untrained: own stem 0.83-1.00 (shared n-grams alone), topic 0.04-0.21 (chance 0.13).
CONSONANTS, VOWELS = "bdfgklmnprstvz", "aeiou"
SUFFIXES = ["", "s", "ed", "ing", "er"]
TOPICS, STEMS_PER_TOPIC, CONTEXTS = 6, 4, 6
FT_DIM, FT_BUCKETS, FT_STEPS, FT_LR = 32, 4096, 40, 0.1
MIN_OWN_STEM = 0.6
MIN_TOPIC = 0.7
MAX_EXCESS = 0.1


def morphology(rng):
    """Stems (no trigram in common), their topics, one held-out form per stem, and the vocabulary."""
    stems, seen = [], set()
    while len(stems) < TOPICS * STEMS_PER_TOPIC:
        stem = "".join(rng.choice(list(CONSONANTS if k % 2 == 0 else VOWELS)) for k in range(5))
        grams = {g for g in ref_ngrams(stem, 3, 3) if not g.endswith(">")}
        if not grams & seen:
            seen |= grams
            stems.append(stem)
    held = {s: s + SUFFIXES[k % len(SUFFIXES)] for k, s in enumerate(stems)}
    vocab = [s + x for s in stems for x in SUFFIXES if s + x != held[s]]
    return stems, held, vocab


@check(f"FastText trained here: an unseen stem+suffix word lands next to its stem's forms (>= {MIN_OWN_STEM}) "
       f"and its topic (>= {MIN_TOPIC})", task="oov")
def oov_words(ctx):
    sub = ctx.load("subwords")
    stems, held, vocab = morphology(np.random.default_rng(ctx.seed))
    stem_of = {s + x: s for s in stems for x in SUFFIXES}
    topic_of = {s: k // STEMS_PER_TOPIC for k, s in enumerate(stems)}
    torch.manual_seed(ctx.seed)
    model = sub.FastText(vocab, FT_DIM, FT_BUCKETS).to(ctx.device)
    target = torch.zeros(len(vocab), TOPICS * CONTEXTS)
    for i, word in enumerate(vocab):
        t = topic_of[stem_of[word]]
        target[i, t * CONTEXTS:(t + 1) * CONTEXTS] = 1.0 / CONTEXTS
    target = target.to(ctx.device)
    contexts = nn.Parameter(torch.randn(TOPICS * CONTEXTS, FT_DIM, generator=ctx.gen).to(ctx.device) * 0.1)
    opt = torch.optim.Adam(list(model.parameters()) + [contexts], lr=FT_LR)
    ids = torch.arange(len(vocab), device=ctx.device)
    losses = []
    for _ in range(FT_STEPS):
        loss = F.cross_entropy(model(ids) @ contexts.T, target)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    ctx.curve("context-prediction loss", losses)
    floor = math.log(CONTEXTS)  # the entropy of the targets: uniform over the topic's contexts
    expect(math.isfinite(losses[-1]) and losses[-1] <= floor + MAX_EXCESS, f"the context-prediction loss ended at "
           f"{losses[-1]:.4g} (it started at {losses[0]:.4g}); it should get within {MAX_EXCESS} of its floor "
           f"ln {CONTEXTS} = {floor:.4g} (the reference solution: {floor:.4g} + 0.002-0.006). Are the n-gram rows and "
           "the word's row both in forward()'s mean, with gradients reaching them?")
    own = topic = 0
    with torch.no_grad():
        known = unit_rows(model(ids))
        for stem in stems:
            query = model.vector(held[stem]).reshape(-1)
            sims = known @ (query / query.norm().clamp_min(1e-12))
            own += stem_of[vocab[int(sims.argmax())]] == stem
            sims[torch.tensor([stem_of[w] == stem for w in vocab], device=sims.device)] = -2.0
            topic += topic_of[stem_of[vocab[int(sims.argmax())]]] == topic_of[stem]
    own, topic = own / len(stems), topic / len(stems)
    ctx.metric("unseen word next to its stem's forms", own, MIN_OWN_STEM)
    ctx.metric("unseen word next to its topic (other stems)", topic, MIN_TOPIC)
    example = held[stems[0]]
    expect(own >= MIN_OWN_STEM, f"only {own:.3f} of the {len(stems)} unseen words (e.g. {example!r}) have a form "
           f"of their own stem as nearest vocabulary word, below {MIN_OWN_STEM} (the reference solution: 0.875-1.00). "
           "vector() of an unseen word must average its n-grams' rows")
    expect(topic >= MIN_TOPIC, f"only {topic:.3f} of the unseen words are nearest to a word of their topic "
           f"(other stems), below {MIN_TOPIC} (the reference solution: 1.00; untrained about 0.13). The loss went "
           f"from {losses[0]:.4g} to {losses[-1]:.4g}")

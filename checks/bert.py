"""Check: BERT's tokenizer and inputs (tokenizer.py), and a tiny BERT (bert.py).

tokenizer.py: basic_tokenize and wordpiece are compared with the reference in
tutor.checking.wordpiece on the shipped tiny vocabulary (402 pieces); build_inputs and pad_batch on
that vocabulary with its ids shuffled, so an id written into the code shows. bert.py: every module
is compared in float64 with PyTorch: BertLayer with one nn.TransformerEncoderLayer(d, h, 4d,
dropout=0, activation="gelu", layer_norm_eps=1e-12, norm_first=False, batch_first=True) whose
weights are copied in, BertEncoder with an nn.TransformerEncoder stack of them (BERT's attention
mask, 1 = attend, going in as key_padding_mask = mask == 0), BertModel end to end; bert_params
with BERT-base's 109,482,240 parameters (108,891,648 without the pooler) and BERT-large's
335,141,888, and with the learner's own BertModel built on the meta device. Dropout is checked off in
eval mode and, in train mode under a fixed seed, in BERT's places (after the embeddings' LayerNorm,
on each sublayer's output before its add). On a mismatch the
classic mistakes (pre-norm, LayerNorm eps 1e-5, tanh GELU, the mask's polarity, positions from
1, segment ids 1/2, "##" on the first piece, splitting a word that has no full split ...) are
recomputed and named.
"""

from __future__ import annotations

import math
import random

import torch
import torch.nn.functional as F
from torch import nn

from tutor.checking import check, expect, expect_match, fail, float64_device, forbid, forbid_subclass
from tutor.checking import wordpiece as ref_tok
from tutor.checking.counts import expect_count, parameter_count
from tutor.checking.meta import on_meta

F64 = torch.float64
BANNED = (nn.TransformerEncoderLayer, nn.TransformerEncoder, "_transformer_encoder_layer_fwd")
REASON = ("the exercise is to build BERT's layers around nn.MultiheadAttention; nn.TransformerEncoderLayer and "
          "nn.TransformerEncoder are the reference the check compares with")
BERT_EPS = 1e-12

# --- small helpers --------------------------------------------------------------------------------------


def show(value, limit=14):
    """A list shortened for a message."""
    value = list(value)
    if len(value) <= limit:
        return repr(value)
    return repr(value[:limit])[:-1] + f", ... ({len(value)} in all)]"


def first_difference(got, want):
    got, want = list(got), list(want)
    for i, (a, b) in enumerate(zip(got, want)):
        if a != b:
            return f"they differ first at position {i} (yours {a!r}, expected {b!r})"
    return f"yours has {len(got)} items, expected {len(want)}"


def expect_same(name, got, want, mistakes=()):
    """Lists (of tokens or ids) must be equal; otherwise name the first mistake that gives `got`."""
    if isinstance(got, tuple):
        got = list(got)
    if got == want:
        return
    where = first_difference(got, want) if isinstance(got, list) else f"yours is a {type(got).__name__}"
    for why, make in mistakes:
        try:
            value = make()
        except Exception:
            continue
        if value != want and value == got:
            fail(f"{name} is {show(got)}; expected {show(want)}: {why}. {where[0].upper()}{where[1:]}")
    fail(f"{name} is {show(got)}; expected {show(want)}; {where}")


def rand(shape, gen, dev):
    return torch.randn(shape, generator=gen, dtype=F64).to(dev)


def randomize(module, gen):
    """Every parameter random (N(0, 1/fan_in) for matrices, ones + noise for LayerNorm weights)."""
    with torch.no_grad():
        for name, p in module.named_parameters():
            r = torch.randn(p.shape, generator=gen, dtype=F64).to(p.device, p.dtype)
            if p.ndim >= 2:
                p.copy_(r / math.sqrt(p.shape[-1]) * (3 if "embeddings" in name else 1))
            elif "norm" in name.lower() and name.endswith("weight"):
                p.copy_(1 + 0.3 * r)
            else:
                p.copy_(0.3 * r)


def build(factory, label, *args, **kwargs):
    try:
        return factory(*args, **kwargs)
    except NotImplementedError:
        raise
    except Exception as e:
        fail(f"{label} raised {type(e).__name__}: {e}")


def config_of(mod, **kw):
    base = dict(vocab_size=40, hidden_size=16, num_hidden_layers=2, num_attention_heads=4, intermediate_size=40,
                max_position_embeddings=24, type_vocab_size=2, hidden_dropout_prob=0.0,
                attention_probs_dropout_prob=0.0, layer_norm_eps=BERT_EPS)
    base.update(kw)
    return mod.BertConfig(**base)


def call(fn, label, *args, **kwargs):
    with forbid(*BANNED, reason=REASON, caller=label):
        return fn(*args, **kwargs)


# --- task: basic ----------------------------------------------------------------------------------------

BASIC_TEXTS = [
    "Hello, World!",
    "Naïve café owners RÉSUMÉ",
    "BERT's [MASK] token isn't (really) magic...",
    "  spaces\tand\nnew   lines  ",
    "e-mail: bert@example.com costs $5.99",
    "Crème brûlée, s'il vous plaît",
    "λ-calculus and Ωmega",
]

NOT_LOWER = "it does not lower-case: the uncased BERT lower-cases every word (word.lower()) before WordPiece"
ACCENTS_KEPT = ("accents are kept: decompose with unicodedata.normalize('NFD', word) and drop the characters whose "
                "unicodedata.category is 'Mn' (the combining accents), so 'café' becomes 'cafe'")
ASCII_ONLY = ("it drops every non-ASCII character (encode('ascii', 'ignore')); only the combining accents go: NFD, "
              "then drop category 'Mn', so 'λ' stays and 'é' becomes 'e'")
PUNCT_ATTACHED = ("punctuation stays attached to the words: every punctuation character (is_punctuation) becomes a "
                  "token of its own, 'world!' -> 'world', '!'")
PUNCT_DROPPED = "punctuation is dropped: BERT keeps each punctuation character as a token of its own"
SINGLE_SPACES = ("it splits at single spaces, text.split(' '), so tabs and newlines stay inside the tokens; "
                 "text.split() splits on any run of whitespace")


def basic_variant(text, lower=True, strip=True, ascii_only=False, punct="split", splitter=str.split):
    out = []
    for word in splitter(text):
        if lower:
            word = word.lower()
        if ascii_only:
            word = word.encode("ascii", "ignore").decode()
        elif strip:
            word = ref_tok.strip_accents(word)
        if punct == "attached":
            out.append(word)
        elif punct == "dropped":
            out.extend(p for p in ref_tok.split_punctuation(word) if not (len(p) == 1 and ref_tok.is_punctuation(p)))
        else:
            out.extend(ref_tok.split_punctuation(word))
    return out


def basic_mistakes(text):
    return [(NOT_LOWER, lambda: basic_variant(text, lower=False)),
            (ACCENTS_KEPT, lambda: basic_variant(text, strip=False)),
            (ASCII_ONLY, lambda: basic_variant(text, ascii_only=True)),
            (PUNCT_ATTACHED, lambda: basic_variant(text, punct="attached")),
            (PUNCT_DROPPED, lambda: basic_variant(text, punct="dropped")),
            (SINGLE_SPACES, lambda: basic_variant(text, splitter=lambda t: t.split(" ")))]


@check("basic_tokenize lower-cases, strips accents (NFD) and splits off punctuation, like BERT's uncased "
       "BasicTokenizer", task="basic")
def basic_values(ctx):
    tok = ctx.load("tokenizer")
    for text in BASIC_TEXTS:
        got = tok.basic_tokenize(text)
        expect_same(f"basic_tokenize({text!r})", got, ref_tok.basic_tokenize(text), basic_mistakes(text))


# --- task: wordpiece ------------------------------------------------------------------------------------

WORDS = ["the", "unaffable", "tokenizers", "players", "playing", "retrained", "untrainable", "embeddings",
         "bertology", "jazz", "transformerize", "λx", "mp3", "a", "x", "masked", "layers", "cafe"]

FIRST_HASH = ("the first piece carries '##' too: '##' marks a piece that CONTINUES a word, so the first piece is "
              "looked up and written without it ('un', '##aff', '##able')")
NO_HASH = ("the continuation pieces are looked up and written without '##': every piece after the first is "
           "'##' + word[start:end], a different entry from the word-initial piece")
SHORTEST = ("it takes the SHORTEST match; WordPiece is greedy LONGEST-match-first: from each start, try end = "
            "len(word), len(word) - 1, ... and take the first piece that is in the vocab")
PARTIAL_UNK = ("it keeps the pieces found before the failure and adds [UNK]; when any part of a word cannot be "
               "matched, the WHOLE word becomes the single token [UNK]")
CHAR_UNK = ("it replaces each unmatched character by [UNK] and goes on; when any part of a word cannot be matched, "
            "the WHOLE word becomes the single token [UNK]")
NO_FULL_TRY = ("it never tries the whole remaining string: the inner loop must start at end = len(word) (range("
               "len(word), start, -1)), so that 'the' is one piece")
MAX_GE = ("a word of exactly max_chars characters becomes [UNK]: only words LONGER than max_chars do "
          "(len(word) > max_chars)")
MAX_IGNORED = "max_chars is ignored: a word longer than max_chars (BERT: 100) becomes [UNK] without being split"
UNK_IGNORED = "the unk argument is ignored: return [unk], not the string '[UNK]'"
EMPTY_UNK = "it returns an empty list for a word it cannot split; it must return [unk]"


def wp_variant(word, vocab, unk="[UNK]", max_chars=100, first="", cont="##", shortest=False, on_fail="word",
               full=True, ge=False, use_max=True):
    if use_max and (len(word) >= max_chars if ge else len(word) > max_chars):
        return [unk]
    pieces, start = [], 0
    while start < len(word):
        top = len(word) if full else len(word) - 1
        ends = range(start + 1, top + 1) if shortest else range(top, start, -1)
        match = None
        for end in ends:
            piece = (first if start == 0 else cont) + word[start:end]
            if piece in vocab:
                match = piece
                break
        if match is None:
            if on_fail == "word":
                return [unk]
            if on_fail == "empty":
                return []
            if on_fail == "partial":
                return pieces + [unk]
            pieces.append(unk)
            start += 1
            continue
        pieces.append(match)
        start = end
    return pieces


def wp_mistakes(word, vocab, unk="[UNK]", max_chars=100):
    def v(**kw):
        return lambda: wp_variant(word, vocab, unk, max_chars, **kw)

    good = ref_tok.wordpiece(word, vocab, unk, max_chars)
    hashed = [("##" + good[0])] + good[1:] if good != [unk] else None
    return [(FIRST_HASH, lambda: hashed), (FIRST_HASH, v(first="##")), (NO_HASH, v(cont="")),
            (SHORTEST, v(shortest=True)), (PARTIAL_UNK, v(on_fail="partial")), (CHAR_UNK, v(on_fail="char")),
            (MAX_GE, v(ge=True)), (MAX_IGNORED, v(use_max=False)), (NO_FULL_TRY, v(full=False)),
            (UNK_IGNORED, lambda: [p.replace(unk, "[UNK]") for p in good]), (EMPTY_UNK, v(on_fail="empty"))]


@check("wordpiece splits words greedily, longest match first, with '##' on every piece after the first and the "
       "whole word [UNK] when it cannot be split (the shipped tiny vocabulary)", task="wordpiece")
def wordpiece_values(ctx):
    tok = ctx.load("tokenizer")
    vocab = ref_tok.load_tiny_vocab()
    for word in WORDS:
        got = tok.wordpiece(word, vocab)
        expect_same(f"wordpiece({word!r}, vocab)", got, ref_tok.wordpiece(word, vocab), wp_mistakes(word, vocab))


@check("wordpiece honours unk= and max_chars= (a word longer than max_chars is [UNK]; one of exactly max_chars is "
       "split)", task="wordpiece")
def wordpiece_limits(ctx):
    tok = ctx.load("tokenizer")
    vocab = ref_tok.load_tiny_vocab()
    for word, kw in (("mp3", dict(unk="<unk>")), ("a" * 100, {}), ("a" * 101, {}), ("players", dict(max_chars=7)),
                     ("players", dict(max_chars=6)), ("jazz", dict(unk="<unk>"))):
        label = f"wordpiece({word!r}" if len(word) < 12 else f"wordpiece('a' * {len(word)}"
        label += ", vocab" + "".join(
            f", {k}={v!r}" for k, v in kw.items()) + ")"
        got = tok.wordpiece(word, vocab, **kw)
        expect_same(label, got, ref_tok.wordpiece(word, vocab, **kw), wp_mistakes(word, vocab, **kw))


SENTENCES = ["The unaffable actors played badly!", "BERT's tokenizers split un-trainable words, don't they?",
             "A naïve MOVIE about transformers (and mp3s).", "Retrained models learn new embeddings."]


@check("tokenize(text, vocab) = basic_tokenize, then wordpiece on every token, as one flat list", task="wordpiece")
def tokenize_values(ctx):
    tok = ctx.load("tokenizer")
    vocab = ref_tok.load_tiny_vocab()
    for text in SENTENCES:
        got = tok.tokenize(text, vocab)
        expect_same(f"tokenize({text!r}, vocab)", got, ref_tok.tokenize(text, vocab), [
            ("it runs WordPiece on whitespace-split words; basic_tokenize the text first (lower-case, accents, "
             "punctuation)", lambda: [p for w in text.split() for p in ref_tok.wordpiece(w, vocab)]),
            ("the pieces are nested per word; flatten them into one list",
             lambda: [ref_tok.wordpiece(w, vocab) for w in ref_tok.basic_tokenize(text)])])


# --- task: inputs ---------------------------------------------------------------------------------------


def shuffled_vocab(seed):
    """The tiny vocabulary with its ids shuffled: [PAD], [CLS] and [SEP] move away from 0, 2 and 3."""
    vocab = ref_tok.load_tiny_vocab()
    pieces = sorted(vocab, key=vocab.get)
    ids = list(range(len(pieces)))
    random.Random(seed).shuffle(ids)
    return dict(zip(pieces, ids))


def inputs_variant(a, vocab, b=None, types=(0, 1), last_sep_type=None, first_sep_type=None, final_sep=True,
                   middle_sep=True, cls_last=False, ids=None):
    lookup = ids or {}

    def idx(t):
        return lookup.get(t, vocab.get(t, vocab["[UNK]"]))

    toks = (list(a) + ["[CLS]"] if cls_last else ["[CLS]"] + list(a)) + ["[SEP]"]
    tt = [types[0]] * len(toks)
    if first_sep_type is not None:
        tt[-1] = first_sep_type
    if b is not None:
        if not middle_sep:
            toks, tt = toks[:-1], tt[:-1]
        toks += list(b) + (["[SEP]"] if final_sep else [])
        tt += [types[1]] * len(b) + ([types[1] if last_sep_type is None else last_sep_type] if final_sep else [])
    return [idx(t) for t in toks], tt


def inputs_mistakes(a, vocab, b=None):
    def v(**kw):
        return lambda: list(inputs_variant(a, vocab, b, **kw))

    table = [("segment ids off by one: segment A is 0 and segment B is 1 (type_vocab_size = 2), not 1 and 2",
              v(types=(1, 2))),
             ("the final [SEP] is typed 0; it closes segment B and gets token type 1", v(last_sep_type=0)),
             ("the first [SEP] is typed 1; it closes segment A and gets token type 0", v(first_sep_type=1)),
             ("the last [SEP] is missing: [CLS] a [SEP] b [SEP]", v(final_sep=False)),
             ("there is no [SEP] between the segments: [CLS] a [SEP] b [SEP]", v(middle_sep=False)),
             ("[CLS] is at the end; it is the FIRST token, whose final hidden state the pooler reads",
              v(cls_last=True)),
             ("the special ids are hard-coded to Google's (101, 102); look them up: vocab['[CLS]'], vocab['[SEP]']",
              v(ids={"[CLS]": 101, "[SEP]": 102})),
             ("the special ids are hard-coded to the tiny vocab's (2, 3); look them up: vocab['[CLS]'], "
              "vocab['[SEP]'] (this vocab has other ids)", v(ids={"[CLS]": 2, "[SEP]": 3}))]
    return table


PAIRS = [(["the", "movie", "was", "great"], ["i", "liked", "it"]), (["un", "##aff", "##able"], None),
         (["bert", "reads", "[MASK]"], ["two", "segments", "!"])]


@check("build_inputs gives [CLS] a [SEP] (b [SEP]) with token_type_ids 0 up to the first [SEP] and 1 after it "
       "(a vocabulary with shuffled ids)", task="inputs")
def build_inputs_values(ctx):
    tok = ctx.load("tokenizer")
    vocab = shuffled_vocab(ctx.seed)
    for a, b in PAIRS:
        label = f"build_inputs({a}, vocab" + ("" if b is None else f", tokens_b={b}") + ")"
        got = tok.build_inputs(a, vocab, b) if b is not None else tok.build_inputs(a, vocab)
        expect(isinstance(got, (tuple, list)) and len(got) == 2, f"{label} returned {type(got).__name__}; "
               "return two lists, (input_ids, token_type_ids)")
        want = list(inputs_variant(a, vocab, b))
        expect_same(label + " as [input_ids, token_type_ids]", [list(got[0]), list(got[1])], want,
                    inputs_mistakes(a, vocab, b))


def pad_variant(examples, pad, left=False, inverted=False, type_fill=0):
    T = max(len(i) for i, _ in examples)
    ids, types, mask = [], [], []
    for i, t in examples:
        n = T - len(i)
        if left:
            ids.append([pad] * n + i)
            types.append([type_fill] * n + t)
            mask.append([0] * n + [1] * len(i))
        else:
            ids.append(i + [pad] * n)
            types.append(t + [type_fill] * n)
            mask.append([1] * len(i) + [0] * n)
    if inverted:
        mask = [[1 - m for m in row] for row in mask]
    return [ids, types, mask]


@check("pad_batch pads on the right to the longest example: input_ids with [PAD], token_type_ids with 0, "
       "attention_mask 1 = token, 0 = padding", task="inputs")
def pad_batch_values(ctx):
    tok = ctx.load("tokenizer")
    vocab = shuffled_vocab(ctx.seed)
    examples = [list(map(list, inputs_variant(a, vocab, b))) for a, b in PAIRS]
    got = tok.pad_batch([(list(i), list(t)) for i, t in examples], vocab)
    expect(isinstance(got, (tuple, list)) and len(got) == 3, f"pad_batch returned {type(got).__name__}; return three "
           "tensors, (input_ids, token_type_ids, attention_mask)")
    names = ("input_ids", "token_type_ids", "attention_mask")
    for name, t in zip(names, got):
        expect(isinstance(t, torch.Tensor), f"pad_batch's {name} is a {type(t).__name__}; return a torch tensor")
        expect(not t.dtype.is_floating_point or name == "attention_mask", f"pad_batch's {name} is {t.dtype}; "
               "nn.Embedding needs integer ids: dtype=torch.long")
    pad = vocab["[PAD]"]
    want = pad_variant(examples, pad)
    mine = [t.long().tolist() for t in got]
    expect_same("pad_batch(...) as [input_ids, token_type_ids, attention_mask]", mine, want, [
        ("the attention_mask is inverted: BERT's convention is 1 = a real token to attend to, 0 = padding",
         lambda: pad_variant(examples, pad, inverted=True)),
        ("it pads on the left; BERT pads on the right, so [CLS] stays at position 0",
         lambda: pad_variant(examples, pad, left=True)),
        ("token_type_ids are padded with 1; pad them with 0 (the attention_mask hides them anyway)",
         lambda: pad_variant(examples, pad, type_fill=1)),
        ("the pad id is hard-coded to 0; look it up: vocab['[PAD]'] (this vocab has another id)",
         lambda: pad_variant(examples, 0))])


# --- task: embeddings -----------------------------------------------------------------------------------


def emb_forward(emb, ids, types, variant="", eps=BERT_EPS):
    T = ids.shape[1]
    pos = torch.arange(1, T + 1) if variant == "pos1" else torch.arange(T)
    x = emb.word_embeddings.weight[ids] + emb.position_embeddings.weight[pos.to(ids.device)]
    if variant != "no_type":
        x = x + emb.token_type_embeddings.weight[types if variant != "types_one" else torch.ones_like(types)]
    if variant == "no_ln":
        return x
    w, b = emb.LayerNorm.weight, emb.LayerNorm.bias
    return F.layer_norm(x, (x.shape[-1],), w, b, 1e-5 if variant == "eps" else eps)


def emb_mistakes(emb, ids, types):
    def v(name):
        return lambda: emb_forward(emb, ids, types, name)

    return [("there is no token-type (segment) embedding: add token_type_embeddings(token_type_ids)", v("no_type")),
            ("the positions start at 1; they are 0, 1, ..., T−1: torch.arange(T)", v("pos1")),
            ("token_type_ids=None is taken as all ones; it means segment A everywhere: torch.zeros_like(input_ids)",
             v("types_one")),
            ("the sum is not normalised: BERT applies LayerNorm(eps=1e-12) to word + position + token_type",
             v("no_ln")),
            ("LayerNorm uses eps = 1e-5 (nn.LayerNorm's default); BERT uses 1e-12: nn.LayerNorm(hidden, "
             "eps=config.layer_norm_eps)", v("eps"))]


def layernorms_of(module):
    return [(n, m) for n, m in module.named_modules() if isinstance(m, nn.LayerNorm)]


def expect_eps(module, label):
    for n, m in layernorms_of(module):
        if m.eps != BERT_EPS:
            fail(f"{label}.{n} has eps = {m.eps:g}; BERT's LayerNorms use 1e-12 (config.layer_norm_eps = 1e-12): "
                 f"nn.LayerNorm(hidden_size, eps=config.layer_norm_eps); nn.LayerNorm's default 1e-5 is off by a "
                 f"factor of {m.eps / BERT_EPS:.3g}")


@check("BertEmbeddings holds word, position and token-type tables of the config's sizes, a LayerNorm with eps "
       "1e-12, and nothing else", task="embeddings")
def embeddings_layout(ctx):
    mod = ctx.load("bert")
    cfg = config_of(mod)
    emb = build(mod.BertEmbeddings, "BertEmbeddings(config)", cfg)
    h = cfg.hidden_size
    for name, rows in (("word_embeddings", cfg.vocab_size), ("position_embeddings", cfg.max_position_embeddings),
                       ("token_type_embeddings", cfg.type_vocab_size)):
        table = getattr(emb, name, None)
        if table is None and name == "token_type_embeddings":
            fail("BertEmbeddings has no token_type_embeddings: BERT adds a segment embedding, nn.Embedding("
                 f"config.type_vocab_size, hidden_size) = nn.Embedding({rows}, {h}), that tells segment A from B")
        expect(isinstance(table, nn.Embedding), f"BertEmbeddings.{name} is {type(table).__name__}; make it "
               f"nn.Embedding({rows}, {h})")
        expect(tuple(table.weight.shape) == (rows, h), f"BertEmbeddings.{name} has shape "
               f"{tuple(table.weight.shape)}; expected ({rows}, {h})")
    ln = getattr(emb, "LayerNorm", None)
    expect(isinstance(ln, nn.LayerNorm), f"BertEmbeddings.LayerNorm is {type(ln).__name__}; make it "
           f"nn.LayerNorm({h}, eps=config.layer_norm_eps)")
    expect_eps(emb, "BertEmbeddings")
    want = (cfg.vocab_size + cfg.max_position_embeddings + cfg.type_vocab_size) * h + 2 * h
    expect_count("the parameter count of BertEmbeddings(config)", parameter_count(emb), want,
                 {"the LayerNorm is missing": want - 2 * h}, against="three tables and one LayerNorm")


@check("BertEmbeddings(input_ids, token_type_ids) = LayerNorm(word + position + token_type) in float64, and "
       "token_type_ids=None means segment 0", task="embeddings")
def embeddings_values(ctx):
    mod = ctx.load("bert")
    dev = float64_device(ctx)
    cfg = config_of(mod)
    emb = build(mod.BertEmbeddings, "BertEmbeddings(config)", cfg).to(dev, F64)
    randomize(emb, ctx.gen)
    emb.eval()
    ids = torch.randint(0, cfg.vocab_size, (3, 9), generator=ctx.gen).to(dev)
    types = torch.tensor([[0] * 5 + [1] * 4, [0] * 9, [0] * 3 + [1] * 6]).to(dev)
    with torch.no_grad():
        got = call(emb, "BertEmbeddings.forward", ids, types)
        expect_match("BertEmbeddings(input_ids (3, 9), token_type_ids)", got, emb_forward(emb, ids, types),
                     emb_mistakes(emb, ids, types), against="LayerNorm(word + position + token_type, eps=1e-12)")
        zeros = torch.zeros_like(ids)
        got = call(emb, "BertEmbeddings.forward", ids)
        expect_match("BertEmbeddings(input_ids) without token_type_ids", got, emb_forward(emb, ids, zeros),
                     emb_mistakes(emb, ids, zeros), against="the output with token_type_ids = 0 everywhere")


# --- task: layer ----------------------------------------------------------------------------------------

COPY = (("attention", "self_attn"), ("attention_norm", "norm1"), ("intermediate", "linear1"),
        ("output", "linear2"), ("output_norm", "norm2"))


def reference_layer(cfg, dev, gen):
    ref = nn.TransformerEncoderLayer(cfg.hidden_size, cfg.num_attention_heads, cfg.intermediate_size, dropout=0.0,
                                     activation="gelu", layer_norm_eps=BERT_EPS, norm_first=False,
                                     batch_first=True).to(dev, F64)
    randomize(ref, gen)
    return ref.train()


def copy_into(mine, ref, label):
    """ref's weights into the learner's BertLayer, name by name."""
    for a, b in COPY:
        sub = getattr(mine, a, None)
        expect(sub is not None, f"{label} has no .{a}; the check copies nn.TransformerEncoderLayer.{b} into it")
        try:
            sub.load_state_dict(getattr(ref, b).state_dict())
        except Exception as e:
            fail(f"{label}.{a} cannot take nn.TransformerEncoderLayer.{b}'s weights ({type(e).__name__}: "
                 f"{str(e).splitlines()[0][:160]}); make it {type(getattr(ref, b)).__name__} of the same size")


def copy_out(mine, ref):
    """The learner's BertLayer weights into nn.TransformerEncoderLayer ref."""
    for a, b in COPY:
        getattr(ref, b).load_state_dict(getattr(mine, a).state_dict())


def layer_forward(ref, x, am, variant=""):
    """BERT's post-norm layer from ref's modules, or with one named mistake."""
    kpm = None if am is None else am == 0
    if variant == "kpm_inverted":
        kpm = am.bool()
    elif variant == "mask_ignored":
        kpm = None
    elif variant == "float_mask":
        kpm = am.to(x.dtype)
    eps = 1e-5 if variant == "eps" else BERT_EPS
    d = x.shape[-1]

    def ln(norm, v):
        return F.layer_norm(v, (d,), norm.weight, norm.bias, eps)

    act = {"tanh": lambda v: F.gelu(v, approximate="tanh"), "relu": F.relu}.get(variant, F.gelu)

    def sa(h):
        return ref.self_attn(h, h, h, key_padding_mask=kpm, need_weights=False)[0]

    def ff(h):
        return ref.linear2(act(ref.linear1(h)))

    if variant == "pre":
        x = x + sa(ln(ref.norm1, x))
        return x + ff(ln(ref.norm2, x))
    if variant == "residual_after_norm":
        x = x + ln(ref.norm1, sa(x))
        return x + ln(ref.norm2, ff(x))
    x = ln(ref.norm1, x + sa(x))
    return ln(ref.norm2, x + ff(x))


PRE_NORM = ("it is PRE-norm (x + sublayer(LN(x))); BERT is POST-norm: x = LN(x + attention(x)), then "
            "x = LN(x + ffn(x))")
EPS_SMALL = ("the LayerNorms use eps = 1e-5 (nn.LayerNorm's default); BERT uses 1e-12: nn.LayerNorm(hidden, "
             "eps=config.layer_norm_eps)")
GELU_TANH = ("it uses the tanh approximation of GELU (GPT-2's); BERT's GELU is the exact x·Φ(x) with erf: "
             "F.gelu(x), without approximate='tanh'")
RELU = "it uses ReLU; BERT's feed-forward activation is the exact GELU, F.gelu(x)"
KPM_INVERTED = ("the attention mask is passed the wrong way round: BERT's attention_mask is 1 = attend, but "
                "nn.MultiheadAttention's key_padding_mask is True = padding (ignore): key_padding_mask = "
                "attention_mask == 0")
KPM_IGNORED = ("the attention_mask is not used: the padding keys are attended to. Pass key_padding_mask = "
               "attention_mask == 0")
FLOAT_MASK = ("the 0/1 attention_mask goes in as a FLOAT key_padding_mask, which nn.MultiheadAttention ADDS to "
              "the scores (+1 for tokens, 0 for padding): nothing is masked. Use the bool attention_mask == 0")
RESIDUAL_AFTER = ("the residual is added after the norm, x + LN(sublayer(x)); post-norm normalises the SUM: "
                  "LN(x + sublayer(x))")


def layer_mistakes(ref, x, am):
    table = [(PRE_NORM, "pre"), (EPS_SMALL, "eps"), (GELU_TANH, "tanh"), (RELU, "relu"),
             (RESIDUAL_AFTER, "residual_after_norm")]
    if am is not None:
        table += [(KPM_INVERTED, "kpm_inverted"), (KPM_IGNORED, "mask_ignored"), (FLOAT_MASK, "float_mask")]

    def run(v):
        with torch.no_grad():
            return layer_forward(ref, x, am, v)

    return [(why, (lambda v=v: run(v))) for why, v in table]


def padded_mask(lengths, T, dev):
    return (torch.arange(T)[None, :] < torch.tensor(lengths)[:, None]).long().to(dev)


@check("BertLayer holds attention = nn.MultiheadAttention(batch_first=True), attention_norm, intermediate, output, "
       "output_norm (LayerNorm eps 1e-12): as many parameters as nn.TransformerEncoderLayer", task="layer")
def layer_layout(ctx):
    mod = ctx.load("bert")
    forbid_subclass(mod.BertLayer, nn.TransformerEncoderLayer, reason=REASON)
    cfg = config_of(mod, attention_probs_dropout_prob=0.2)
    layer = build(mod.BertLayer, "BertLayer(config)", cfg)
    attn = getattr(layer, "attention", None)
    h, heads = cfg.hidden_size, cfg.num_attention_heads
    expect(isinstance(attn, nn.MultiheadAttention), f"BertLayer.attention is {type(attn).__name__}; make it "
           f"nn.MultiheadAttention({h}, {heads}, dropout=config.attention_probs_dropout_prob, batch_first=True)")
    expect(attn.batch_first, "BertLayer.attention has batch_first=False, so it reads (B, T, H) as (T, B, H) and "
           "attends across the batch; pass batch_first=True")
    expect((attn.embed_dim, attn.num_heads) == (h, heads), f"BertLayer.attention is nn.MultiheadAttention("
           f"{attn.embed_dim}, {attn.num_heads}); expected ({h}, {heads})")
    expect(attn.dropout == cfg.attention_probs_dropout_prob, f"BertLayer.attention has dropout={attn.dropout}; "
           f"BERT drops attention probabilities with config.attention_probs_dropout_prob = "
           f"{cfg.attention_probs_dropout_prob}")
    expect_eps(layer, "BertLayer")
    ref = nn.TransformerEncoderLayer(h, heads, cfg.intermediate_size, batch_first=True, device="meta")
    want = parameter_count(ref)
    i = cfg.intermediate_size
    expect_count("the parameter count of BertLayer(config)", parameter_count(layer), want, {
        "intermediate_size is ignored (4·hidden is used): the FFN is hidden -> intermediate_size -> hidden":
            want - (2 * h * i + i) + (2 * h * 4 * h + 4 * h),
        "intermediate_size is ignored (hidden is used): the FFN is hidden -> intermediate_size -> hidden":
            want - (2 * h * i + i) + (2 * h * h + h),
        "a LayerNorm is missing": want - 2 * h}, against="nn.TransformerEncoderLayer of the same sizes")


@check("BertLayer equals nn.TransformerEncoderLayer(gelu, layer_norm_eps=1e-12, norm_first=False) with the same "
       "weights in float64, without and with an attention_mask (1 = token, 0 = padding)", task="layer")
def layer_values(ctx):
    mod = ctx.load("bert")
    dev = float64_device(ctx)
    cfg = config_of(mod)
    ref = reference_layer(cfg, dev, ctx.gen)
    mine = build(mod.BertLayer, "BertLayer(config)", cfg).to(dev, F64)
    copy_into(mine, ref, "BertLayer")
    mine.train()
    x = rand((3, 7, cfg.hidden_size), ctx.gen, dev)
    for am in (None, padded_mask([5, 6, 3], 7, dev)):
        label = "BertLayer(x (3, 7, 16))" if am is None else "BertLayer(x, attention_mask) (lengths 5, 6, 3 of 7)"
        with torch.no_grad():
            got = call(mine, "BertLayer.forward", x) if am is None else call(mine, "BertLayer.forward", x, am)
            want = ref(x) if am is None else ref(x, src_key_padding_mask=am == 0)
        expect(tuple(got.shape) == tuple(x.shape), f"{label} has shape {tuple(got.shape)}; expected {tuple(x.shape)}")
        expect_match(label, got, want, layer_mistakes(ref, x, am),
                     against="nn.TransformerEncoderLayer(norm_first=False, activation='gelu', layer_norm_eps=1e-12)")


# --- task: encoder --------------------------------------------------------------------------------------


def stack_forward(refs, x, am, variant=""):
    h = x
    for i, ref in enumerate(refs):
        if variant == "first_only":
            h = layer_forward(ref, h, am if i == 0 else None)
        elif variant == "original_input":
            h = layer_forward(ref, x, am)
        else:
            h = layer_forward(ref, h, am, variant)
    return h


def stack_mistakes(refs, x, am):
    table = [(PRE_NORM, "pre"), (EPS_SMALL, "eps"), (GELU_TANH, "tanh"), (RELU, "relu"),
             (KPM_INVERTED, "kpm_inverted"), (KPM_IGNORED, "mask_ignored"), (FLOAT_MASK, "float_mask"),
             ("only the first layer gets the attention_mask; pass it to every layer", "first_only"),
             ("every layer is applied to the ORIGINAL input, so only the last one counts: x = layer(x, mask)",
              "original_input")]

    def run(v):
        with torch.no_grad():
            return stack_forward(refs, x, am, v)

    return [(why, (lambda v=v: run(v))) for why, v in table]


@check("BertEncoder holds num_hidden_layers independent BertLayers in .layer and equals an nn.TransformerEncoder "
       "stack with the same weights (float64, attention_mask with padding), gradients included", task="encoder")
def encoder_values(ctx):
    mod = ctx.load("bert")
    dev = float64_device(ctx)
    forbid_subclass(mod.BertEncoder, nn.TransformerEncoder, reason=REASON)
    cfg = config_of(mod, num_hidden_layers=3)
    enc = build(mod.BertEncoder, "BertEncoder(config)", cfg).to(dev, F64)
    layers = getattr(enc, "layer", None)
    expect(isinstance(layers, nn.ModuleList), f"BertEncoder.layer is {type(layers).__name__}; make it an "
           "nn.ModuleList of config.num_hidden_layers BertLayers")
    expect(len(layers) == 3, f"BertEncoder(config) with num_hidden_layers = 3 has {len(layers)} layers")
    ptrs = [p.data_ptr() for layer in layers for p in layer.parameters()]
    expect(len(set(ptrs)) == len(ptrs), "the layers of BertEncoder share parameters (one layer used three times?); "
           "build a new BertLayer(config) for each: nn.ModuleList([BertLayer(config) for _ in range(n)])")
    refs = [reference_layer(cfg, dev, ctx.gen) for _ in range(3)]
    for i, (mine, ref) in enumerate(zip(layers, refs)):
        copy_into(mine, ref, f"BertEncoder.layer[{i}]")
    stack = nn.TransformerEncoder(refs[0], 3, enable_nested_tensor=False).to(dev, F64).train()
    for i, ref in enumerate(refs):
        stack.layers[i].load_state_dict(ref.state_dict())
    enc.train()
    x = rand((3, 8, cfg.hidden_size), ctx.gen, dev).requires_grad_(True)
    am = padded_mask([6, 8, 4], 8, dev)
    am[1, 7] = 0  # every row has padding, so an inverted mask leaves each query something to attend to
    got = call(enc, "BertEncoder.forward", x, am)
    want = stack(x, src_key_padding_mask=am == 0)
    expect_match("BertEncoder(x (3, 8, 16), attention_mask)", got.detach(), want.detach(),
                 stack_mistakes(refs, x.detach(), am), against="nn.TransformerEncoder of 3 such layers")
    g = rand(tuple(x.shape), ctx.gen, dev)
    gx = torch.autograd.grad((got * g).sum(), x)[0]
    wx = torch.autograd.grad((want * g).sum(), x)[0]
    expect_match("the gradient of BertEncoder(x, attention_mask) w.r.t. x", gx, wx,
                 against="nn.TransformerEncoder's gradient")


# --- task: model ----------------------------------------------------------------------------------------


def pool_variants(dense, hidden, am):
    m = am.to(hidden.dtype)[..., None]
    last = am.sum(1) - 1
    return [("it pools the MEAN over the positions; BERT's pooler reads the first token, [CLS]: hidden[:, 0]",
             lambda: torch.tanh(dense(hidden.mean(1)))),
            ("it pools the mean over the real tokens; BERT's pooler reads the first token, [CLS]: hidden[:, 0]",
             lambda: torch.tanh(dense((hidden * m).sum(1) / m.sum(1)))),
            ("it pools the LAST position; BERT's pooler reads the first token, [CLS]: hidden[:, 0]",
             lambda: torch.tanh(dense(hidden[:, -1]))),
            ("it pools the last real token; BERT's pooler reads the first token, [CLS]: hidden[:, 0]",
             lambda: torch.tanh(dense(hidden[torch.arange(len(last), device=hidden.device), last]))),
            ("there is no tanh: the pooler is tanh(dense(hidden[:, 0]))", lambda: dense(hidden[:, 0])),
            ("the dense layer is missing: the pooler is tanh(dense(hidden[:, 0]))", lambda: torch.tanh(hidden[:, 0]))]


def reference_model(model, cfg, dev, ids, types, am, variant=""):
    """LayerNorm'd embeddings, an nn.TransformerEncoder with the learner's weights, tanh(dense(h[:, 0]))."""
    refs = []
    for layer in model.encoder.layer:
        ref = reference_layer(cfg, dev, torch.Generator().manual_seed(0))
        copy_out(layer, ref)
        refs.append(ref)
    x = emb_forward(model.embeddings, ids, types)
    h = stack_forward(refs, x, None if variant == "no_mask" else am)
    return h, torch.tanh(model.pooler.dense(h[:, 0]))


@check("BertPooler(hidden) = tanh(dense(hidden[:, 0])), the [CLS] position", task="model")
def pooler_values(ctx):
    mod = ctx.load("bert")
    dev = float64_device(ctx)
    cfg = config_of(mod)
    pooler = build(mod.BertPooler, "BertPooler(config)", cfg).to(dev, F64)
    dense = getattr(pooler, "dense", None)
    h = cfg.hidden_size
    expect(isinstance(dense, nn.Linear) and (dense.in_features, dense.out_features) == (h, h),
           f"BertPooler.dense is {type(dense).__name__}; make it nn.Linear({h}, {h})")
    randomize(pooler, ctx.gen)
    hidden = rand((4, 6, h), ctx.gen, dev) * 2
    am = padded_mask([6, 3, 5, 2], 6, dev)
    with torch.no_grad():
        got = call(pooler, "BertPooler.forward", hidden)
        expect_match("BertPooler(hidden (4, 6, 16))", got, torch.tanh(dense(hidden[:, 0])),
                     pool_variants(dense, hidden, am), against="tanh(dense(hidden[:, 0]))")


@check("BertModel(input_ids, token_type_ids, attention_mask) returns (sequence_output, pooled_output) equal to "
       "embeddings -> nn.TransformerEncoder -> pooler with the same weights; the defaults are segment 0 and no "
       "padding", task="model")
def model_values(ctx):
    mod = ctx.load("bert")
    dev = float64_device(ctx)
    cfg = config_of(mod)
    model = build(mod.BertModel, "BertModel(config)", cfg).to(dev, F64)
    for name in ("embeddings", "encoder", "pooler"):
        expect(getattr(model, name, None) is not None, f"BertModel has no .{name}")
    randomize(model, ctx.gen)
    model.train()
    vocab = ref_tok.load_tiny_vocab()
    small = {p: i % cfg.vocab_size for p, i in vocab.items()}
    examples = [inputs_variant(a, small, b) for a, b in PAIRS]
    ids, types, am = (torch.tensor(t).to(dev) for t in pad_variant([(list(i), list(t)) for i, t in examples],
                                                                    small["[PAD]"]))
    with torch.no_grad():
        out = call(model, "BertModel.forward", ids, types, am)
        expect(isinstance(out, (tuple, list)) and len(out) == 2, f"BertModel returned {type(out).__name__}; return "
               "(sequence_output, pooled_output)")
        want = reference_model(model, cfg, dev, ids, types, am)
        expect_match("BertModel(input_ids, token_type_ids, attention_mask) as (sequence_output, pooled_output)",
                     tuple(out), want, [
                         ("the attention_mask does not reach the encoder: pass it to every layer",
                          lambda: reference_model(model, cfg, dev, ids, types, am, "no_mask"))],
                     against="embeddings -> nn.TransformerEncoder -> tanh(dense(h[:, 0]))")
        out = call(model, "BertModel.forward", ids)
        want = reference_model(model, cfg, dev, ids, torch.zeros_like(ids), torch.ones_like(ids))
        expect_match("BertModel(input_ids) without token_type_ids and attention_mask", tuple(out), want,
                     against="token_type_ids = 0 and attention_mask = 1 everywhere")
    bare = build(mod.BertModel, "BertModel(config, add_pooling_layer=False)", cfg, add_pooling_layer=False)
    expect(getattr(bare, "pooler", None) is None, "BertModel(config, add_pooling_layer=False) still has a pooler; "
           "set self.pooler = None and return (sequence_output, None)")


@check("dropout: BertModel is deterministic in eval mode (and equals the dropout-free model); in train mode the "
       "embeddings and each layer drop with hidden_dropout_prob, in BERT's places (same seed)", task="model")
def model_dropout(ctx):
    mod = ctx.load("bert")
    dev = float64_device(ctx)
    cfg = config_of(mod, hidden_dropout_prob=0.3, attention_probs_dropout_prob=0.3)
    model = build(mod.BertModel, "BertModel(config)", cfg).to(dev, F64)
    randomize(model, ctx.gen)
    ids = torch.randint(0, cfg.vocab_size, (2, 6), generator=ctx.gen).to(dev)
    with torch.no_grad():
        model.eval()
        a = call(model, "BertModel.forward", ids)[0]
        b = call(model, "BertModel.forward", ids)[0]
        diff = (a - b).abs().max().item()
        expect(diff == 0, f"BertModel in eval mode gives different outputs on two calls (max difference {diff:.3g}): "
               "a dropout is still active. Use nn.Dropout modules (or F.dropout(x, p, self.training))")
        want = reference_model(model, cfg, dev, ids, torch.zeros_like(ids), torch.ones_like(ids))[0]
        expect_match("BertModel(input_ids) in eval mode with dropout 0.3", a, want,
                     against="the same model without dropout")
        # train mode, attention dropout 0: only the hidden dropouts can make two calls differ
        cfg = config_of(mod, hidden_dropout_prob=0.3, attention_probs_dropout_prob=0.0)
        emb = build(mod.BertEmbeddings, "BertEmbeddings(config)", cfg).to(dev, F64).train()
        randomize(emb, ctx.gen)
        layer = build(mod.BertLayer, "BertLayer(config)", cfg).to(dev, F64).train()
        ref = reference_layer(cfg, dev, ctx.gen)
        copy_into(layer, ref, "BertLayer")
        x = rand((2, 6, cfg.hidden_size), ctx.gen, dev)
        for label, fn, arg in (("BertEmbeddings", emb, ids), ("BertLayer", layer, x)):
            a, b = call(fn, label + ".forward", arg), call(fn, label + ".forward", arg)
            diff = (a - b).abs().max().item()
            expect(diff > 1e-6, f"{label} in train mode with hidden_dropout_prob 0.3 gives the same output twice "
                   f"(max difference {diff:.3g}): no dropout is applied. BERT drops the embeddings' output and "
                   "each sublayer's output before its residual add, with nn.Dropout(config.hidden_dropout_prob)")
        seed = ctx.seed + 11
        zeros = torch.zeros_like(ids)

        def seeded(fn):
            torch.manual_seed(seed)
            return fn()

        got = seeded(lambda: call(emb, "BertEmbeddings.forward", ids))
        want = seeded(lambda: F.dropout(emb_forward(emb, ids, zeros), 0.3))
        expect_match(f"BertEmbeddings(input_ids) in train mode, torch.manual_seed({seed})", got, want, [
            ("the dropout comes before the LayerNorm; BERT normalises the sum first, then drops: "
             "dropout(LayerNorm(word + position + token_type))",
             lambda: seeded(lambda: emb_forward_dropped_first(emb, ids, zeros, 0.3)))],
            against="F.dropout(LayerNorm(word + position + token_type), 0.3) under the same seed")
        got = seeded(lambda: call(layer, "BertLayer.forward", x))
        want = seeded(lambda: layer_dropout_forward(ref, x, 0.3))
        expect_match(f"BertLayer(x) in train mode, torch.manual_seed({seed})", got, want,
                     [(why, (lambda v=v: seeded(lambda: layer_dropout_forward(ref, x, 0.3, v))))
                      for why, v in LAYER_DROPOUT_MISTAKES],
                     against="LN(x + F.dropout(attn(x), 0.3)), then LN(h + F.dropout(ffn(h), 0.3)) under the "
                             "same seed")


def emb_forward_dropped_first(emb, ids, types, p):
    T = ids.shape[1]
    x = (emb.word_embeddings.weight[ids] + emb.position_embeddings.weight[torch.arange(T, device=ids.device)]
         + emb.token_type_embeddings.weight[types])
    x = F.dropout(x, p)
    return F.layer_norm(x, (x.shape[-1],), emb.LayerNorm.weight, emb.LayerNorm.bias, BERT_EPS)


LAYER_DROPOUT_MISTAKES = [
    ("the dropout is applied after the residual add, LN(dropout(x + sublayer(x))); BERT drops the sublayer's "
     "output before the add: LN(x + dropout(sublayer(x)))", "after_add"),
    ("there is an extra dropout on the FFN's hidden layer (as nn.TransformerEncoderLayer has); BERT drops only "
     "the FFN's output: dropout(W2 · gelu(W1 · x))", "ffn_hidden"),
    ("the attention output is not dropped: x = LN(x + dropout(attention(x)))", "no_attn_drop"),
    ("the FFN output is not dropped: x = LN(x + dropout(ffn(x)))", "no_ffn_drop"),
]


def layer_dropout_forward(ref, x, p, variant=""):
    """BERT's layer in train mode with hidden dropout p (attention dropout 0), or with one dropout mistake."""
    d = x.shape[-1]

    def ln(norm, v):
        return F.layer_norm(v, (d,), norm.weight, norm.bias, BERT_EPS)

    with torch.no_grad():
        a = ref.self_attn(x, x, x, need_weights=False)[0]
        if variant == "after_add":
            h = ln(ref.norm1, F.dropout(x + a, p))
        else:
            h = ln(ref.norm1, x + (a if variant == "no_attn_drop" else F.dropout(a, p)))
        u = F.gelu(ref.linear1(h))
        f = ref.linear2(F.dropout(u, p) if variant == "ffn_hidden" else u)
        if variant == "after_add":
            return ln(ref.norm2, F.dropout(h + f, p))
        return ln(ref.norm2, h + (f if variant == "no_ffn_drop" else F.dropout(f, p)))


# --- task: params ---------------------------------------------------------------------------------------


def count(vocab=30522, hidden=768, layers=12, heads=12, intermediate=3072, max_pos=512, type_vocab=2, pooler=True,
          mistake=""):
    """BertModel's parameter count, or with one named counting mistake."""
    h, i = hidden, intermediate
    tables = vocab + max_pos + (0 if mistake == "no_type" else type_vocab)
    emb = tables * h + (0 if mistake in ("no_ln", "no_emb_ln") else 2 * h)
    proj = 3 if mistake == "no_out_proj" else 4
    attn = proj * h * h + (0 if mistake == "no_bias" else proj * h)
    ffn = (1 if mistake == "one_ffn" else 2) * h * i + (0 if mistake == "no_bias" else i + h)
    norms = 0 if mistake == "no_ln" else 4 * h
    total = emb + (1 if mistake == "one_layer" else layers) * (attn + ffn + norms)
    pool = h * h + (0 if mistake == "no_bias" else h)
    if mistake == "pooler_always":
        pooler = True
    if mistake == "pooler_never":
        pooler = False
    return total + (pool if pooler else 0)


COUNT_MISTAKES = [("the token-type (segment) embedding is not counted: type_vocab · hidden", "no_type"),
                  ("the LayerNorms are not counted: 2·hidden each, one after the embeddings and two per layer",
                   "no_ln"),
                  ("the embeddings' LayerNorm is not counted (2·hidden)", "no_emb_ln"),
                  ("the biases are not counted", "no_bias"),
                  ("the attention's output projection (hidden² + hidden per layer) is not counted", "no_out_proj"),
                  ("the FFN is counted as one matrix; it has two, hidden × intermediate and intermediate × hidden",
                   "one_ffn"),
                  ("only one layer is counted; multiply the per-layer count by layers", "one_layer"),
                  ("the pooler is counted although pooler=False", "pooler_always"),
                  ("the pooler (hidden² + hidden) is not counted although pooler=True", "pooler_never")]

# The three-segment configuration comes first: with type_vocab = 2 a missing token-type table and a missing
# embedding LayerNorm both cost 2·hidden, and only a third segment tells them apart.
CONFIGS = [("a tiny BERT with three segments",
            dict(vocab=402, hidden=32, layers=3, heads=2, intermediate=128, max_pos=40, type_vocab=3), None),
           ("BERT-base", {}, 109_482_240), ("BERT-base without the pooler", dict(pooler=False), 108_891_648),
           ("BERT-large", dict(hidden=1024, layers=24, heads=16, intermediate=4096), 335_141_888),
           ("a tiny BERT without the pooler", dict(vocab=402, hidden=32, layers=2, heads=4, intermediate=64,
                                                   max_pos=64, pooler=False), None)]


def args_label(kw):
    return "bert_params(" + ", ".join(f"{k}={v}" for k, v in kw.items()) + ")"


@check("bert_params gives BERT-base's 109,482,240 parameters (108,891,648 without the pooler), BERT-large's "
       "335,141,888, and the count of any other configuration", task="params")
def params_values(ctx):
    mod = ctx.load("bert")
    for name, kw, known in CONFIGS:
        want = count(**kw)
        assert known is None or known == want
        got = mod.bert_params(**kw)
        expect_count(f"{args_label(kw)} ({name})", got, want,
                     [(why, (lambda m=m: count(**kw, mistake=m))) for why, m in COUNT_MISTAKES],
                     against="embeddings + layers × (attention + FFN + 2 LayerNorms) + pooler")


@check("your BertModel(BertConfig()) built on the meta device has bert_params() = 109,482,240 parameters, and "
       "108,891,648 with add_pooling_layer=False", task="params")
def params_of_model(ctx):
    mod = ctx.load("bert")
    for pool, want in ((True, 109_482_240), (False, 108_891_648)):
        label = f"BertModel(BertConfig(){'' if pool else ', add_pooling_layer=False'})"
        with on_meta():
            model = build(mod.BertModel, label, mod.BertConfig(), add_pooling_layer=pool)
        layer = model.encoder.layer[0]
        expect_eps(model, label)
        per_layer = parameter_count(layer)
        expect_count(f"the parameter count of {label}.encoder.layer[0]", per_layer, 7_087_872,
                     against="4·768² + 4·768 (attention) + 2·768·3072 + 3072 + 768 (FFN) + 4·768 (two LayerNorms)")
        expect_count(f"the parameter count of {label}", parameter_count(model), want, [
            ("the pooler is built although add_pooling_layer=False", 109_482_240),
            ("there is no token-type embedding (2 × 768)", want - 2 * 768)], against="bert_params")

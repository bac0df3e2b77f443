"""Check: BERT, GPT and T5 from the same blocks: their masks, T5's span corruption, their sizes.

masks.py: mask_for(arch, T, prefix_len, source_len) compared exactly with the reference masks
(True = may attend) for the encoder, the decoder, the prefix LM and the three masks of an
encoder-decoder; every classic mask mistake is recomputed and named with the first entry it gets
wrong. span_corruption.py: random_spans_mask is random, so its PROPERTIES are checked over many
generator seeds (exact noise and span counts, spans that never touch, the generator used, every
inner position reachable); sentinel_format and reconstruct are exact on hand-made masks (a span at
position 0, at the end, both) and random ones; span_corrupt end to end over 200 seeds (sentinels in
order, input + target give the original back). param_counts.py: the three counts against models
built from nn.Embedding, nn.TransformerEncoderLayer, nn.TransformerDecoderLayer and nn.LayerNorm on
the meta device.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from tutor.checking import check, expect, fail, which_mistake
from tutor.checking.counts import expect_count, parameter_count
from tutor.checking.meta import on_meta

SENTINEL = 100          # sentinel_start in the span checks: ordinary ids are 0..99
EXACT = {"atol": 0.0, "rtol": 0.0}


# --- task: masks --------------------------------------------------------------------------------

def causal(T, S=None, diagonal=0):
    return torch.tril(torch.ones(T, T if S is None else S, dtype=torch.bool), diagonal=diagonal)


def full(T, S=None):
    return torch.ones(T, T if S is None else S, dtype=torch.bool)


def prefix_ref(T, P, width=None, rows_too=False):
    """The prefix-LM mask; `width` widens/narrows the bidirectional block, `rows_too` leaks."""
    mask = causal(T)
    mask[:, : (P if width is None else width)] = True
    if rows_too:
        mask[:P, :] = True
    return mask


INVERTED = ("True marks the BLOCKED positions (nn.MultiheadAttention's and nn.Transformer's convention); "
            "mask_for uses SDPA's: True = may attend. Return ~mask, or build it with torch.tril")
NO_DIAGONAL = ("the diagonal is excluded, so position 0 may attend to nothing (SDPA returns zeros for such "
               "a row) and no token sees itself: torch.triu(ones) == 0 is the syllabus's mask, True strictly "
               "BELOW the diagonal. Use torch.tril(torch.ones(T, T, dtype=torch.bool)), diagonal included")
UPPER = ("it is the UPPER triangle: position 0 sees every later position and the last sees only itself "
         "(the future leaks). Causal is torch.tril, the lower triangle with the diagonal")
NOT_CAUSAL = "it is all True: a decoder must not see the future; mask[i, j] is True only for j <= i (torch.tril)"
CAUSAL_ENCODER = ("it is causal, but BERT's encoder is bidirectional: every position sees every position, "
                  "torch.ones(T, T, dtype=torch.bool)")
PREFIX_CAUSAL = ("the prefix is causal: a prefix LM reads its prefix (the input) BOTH ways, like an encoder; "
                 "only the positions after it are causal. Set mask[:, :prefix_len] = True on top of torch.tril")
PREFIX_LEAK = ("the prefix positions also see the positions AFTER the prefix (the targets): the prefix block is "
               "mask[:, :prefix_len] (every query reads the prefix keys), not mask[:prefix_len, :]")


def decoder_mistakes(T):
    return [(INVERTED, lambda: ~causal(T)), (NO_DIAGONAL, lambda: causal(T, diagonal=-1)),
            (UPPER, lambda: causal(T).T), (NOT_CAUSAL, lambda: full(T))]


def prefix_mistakes(T, P):
    return [(PREFIX_CAUSAL, lambda: causal(T)), (PREFIX_LEAK, lambda: prefix_ref(T, P, rows_too=True)),
            (INVERTED, lambda: ~prefix_ref(T, P)),
            ("the bidirectional block is one position too wide: it is prefix_len × prefix_len, so position "
             "prefix_len − 1 must not see position prefix_len", lambda: prefix_ref(T, P, width=P + 1)),
            ("the bidirectional block is one position too narrow: the prefix is positions 0..prefix_len − 1, "
             "all of which see each other", lambda: prefix_ref(T, P, width=P - 1) if P > 0 else None),
            ("the diagonal is excluded after the prefix: every position sees itself (torch.tril keeps the "
             "diagonal)", lambda: _prefix_no_diag(T, P))]


def _prefix_no_diag(T, P):
    mask = causal(T, diagonal=-1)
    mask[:, :P] = True
    return mask


def as_mask(value, name, shape):
    """The learner's mask as a CPU bool tensor, or a failure that says what is wrong with it."""
    if not isinstance(value, torch.Tensor):
        fail(f"{name} returned {type(value).__name__} ({value!r:.60}); return a bool tensor of shape {shape}")
    if value.dtype != torch.bool:
        kind = "an additive float mask (0 / −inf)" if value.is_floating_point() else f"dtype {value.dtype}"
        fail(f"{name} has dtype {value.dtype}: it looks like {kind}; return a torch.bool tensor with "
             f"True = may attend (SDPA's boolean attn_mask)")
    if tuple(value.shape) != tuple(shape):
        fail(f"{name} has shape {tuple(value.shape)}; expected {tuple(shape)} (rows: queries, columns: keys)")
    return value.cpu()


def expect_mask(name, got, want, mistakes):
    """Exact comparison; the message names the mistake and the first entry (query, key) that is wrong."""
    if tuple(got.shape) == tuple(want.shape) and torch.equal(got, want):
        return
    for why, candidate in mistakes:
        try:
            value = candidate()
        except Exception:
            continue
        if (isinstance(value, torch.Tensor) and value.shape == got.shape and torch.equal(value, got)
                and not (value.shape == want.shape and torch.equal(value, want))):
            break
    else:
        why = None
    if got.shape != want.shape:
        fail(f"{name} has shape {tuple(got.shape)}; expected {tuple(want.shape)}" + (f": {why}" if why else ""))
    wrong = (got != want).nonzero().tolist()
    i, j = wrong[0]
    where = (f"at [{i}, {j}] yours is {bool(got[i, j])}, expected {bool(want[i, j])} (position {i} "
             f"{'may' if want[i, j] else 'must not'} attend to position {j}); {len(wrong)} of {want.numel()} "
             f"entries are off")
    fail(f"{name} is off: {why}. At{where[2:]}" if why else f"{name} differs from the reference: {where}")


@check("mask_for: encoder all True, decoder causal with the diagonal, prefix LM both ways over the prefix",
       task="masks")
def single_stack_masks(ctx):
    masks = ctx.load("masks")
    for T in (5, 8, 2, 1):
        got = as_mask(masks.mask_for("encoder", T), f"mask_for('encoder', {T})", (T, T))
        expect_mask(f"mask_for('encoder', {T})", got, full(T),
                    [(CAUSAL_ENCODER, lambda: causal(T)), (INVERTED, lambda: ~full(T))])
    for T in (5, 8, 2, 1):
        got = as_mask(masks.mask_for("decoder", T), f"mask_for('decoder', {T})", (T, T))
        expect_mask(f"mask_for('decoder', {T})", got, causal(T), decoder_mistakes(T))
    for T, P in ((6, 3), (5, 1), (8, 5), (4, 0), (4, 4), (7, 2)):
        name = f"mask_for('prefix_lm', {T}, prefix_len={P})"
        got = as_mask(masks.mask_for("prefix_lm", T, prefix_len=P), name, (T, T))
        expect_mask(name, got, prefix_ref(T, P), prefix_mistakes(T, P))


ENC_CAUSAL = ("the encoder's self-attention mask is causal: T5's encoder reads the whole input both ways "
              "(like BERT); only the decoder's self-attention is causal")
CROSS_CAUSAL = ("the cross-attention mask is causal: every decoder position may read EVERY encoder position "
                "(the whole input is known); causality concerns only the decoder's own tokens")
CROSS_T = ("the cross mask is transposed: its rows are the decoder's queries (T) and its columns the encoder's "
           "keys (source_len), shape (T, source_len)")


@check("mask_for('encoder_decoder'): bidirectional encoder, causal decoder, cross-attention to every source "
       "position", task="masks")
def encoder_decoder_masks(ctx):
    masks = ctx.load("masks")
    for T, S in ((4, 4), (3, 6), (6, 2), (1, 5)):
        name = f"mask_for('encoder_decoder', {T}, source_len={S})"
        got = masks.mask_for("encoder_decoder", T, source_len=S)
        expect(isinstance(got, dict) and {"encoder", "decoder", "cross"} <= set(got),
               f"{name} returned {type(got).__name__}"
               + (f" with keys {sorted(got)}" if isinstance(got, dict) else "")
               + "; return a dict with the keys 'encoder', 'decoder' and 'cross'")
        enc = as_mask(got["encoder"], f"{name}['encoder']", (S, S))
        expect_mask(f"{name}['encoder']", enc, full(S),
                    [(ENC_CAUSAL, lambda: causal(S)), (INVERTED, lambda: ~full(S))])
        dec = as_mask(got["decoder"], f"{name}['decoder']", (T, T))
        expect_mask(f"{name}['decoder']", dec, causal(T), decoder_mistakes(T))
        cross = got["cross"]
        if isinstance(cross, torch.Tensor) and tuple(cross.shape) == (S, T) and S != T:
            fail(f"{name}['cross'] has shape {(S, T)}; expected {(T, S)}: {CROSS_T}")
        cross = as_mask(cross, f"{name}['cross']", (T, S))
        expect_mask(f"{name}['cross']", cross, full(T, S),
                    [(CROSS_CAUSAL, lambda: causal(T, S)), (INVERTED, lambda: ~full(T, S))])


# --- task: noise-mask ---------------------------------------------------------------------------

def spans_of(mask):
    """[(start, length)] of the maximal runs of True in a 1-D bool list."""
    spans, start = [], None
    for i, m in enumerate(list(mask) + [False]):
        if m and start is None:
            start = i
        elif not m and start is not None:
            spans.append((start, i - start))
            start = None
    return spans


def allowed(x):
    """round(x), and also the other neighbour when x is a tie (round half to even vs half up)."""
    near = {round(x)}
    if abs(x - math.floor(x) - 0.5) < 1e-9:
        near |= {math.floor(x), math.ceil(x)}
    return near


def expected_counts(length, density, mean):
    noise = {min(max(n, 1), length - 1) for n in allowed(length * density)}
    spans = {max(s, 1) for n in noise for s in allowed(n / mean)}
    return noise, spans


NOISE_CASES = [(20, 0.15, 3.0), (37, 0.15, 3.0), (64, 0.15, 3.0), (72, 0.15, 3.0), (100, 0.15, 3.0), (8, 0.15, 3.0),
               (3, 0.15, 3.0), (30, 0.15, 3.0), (10, 0.5, 1.0), (50, 0.3, 2.0), (97, 0.15, 5.0), (512, 0.15, 3.0)]
DRAWS = 25


def draw_mask(sc, length, density, mean, seed):
    name = f"random_spans_mask({length}, {density}, {mean}, generator) with seed {seed}"
    g = torch.Generator().manual_seed(seed)
    mask = sc.random_spans_mask(length, noise_density=density, mean_span_length=mean, generator=g)
    if not isinstance(mask, torch.Tensor):
        fail(f"{name} returned {type(mask).__name__}; return a bool tensor of shape ({length},)")
    if mask.dtype != torch.bool or tuple(mask.shape) != (length,):
        fail(f"{name} has dtype {mask.dtype} and shape {tuple(mask.shape)}; expected torch.bool, ({length},)")
    return name, mask.cpu().tolist()


def noise_message(name, got, want, length, density, mean, counts):
    x = length * density
    text = f"{name} has {got} noise tokens; expected {want} = round({length} · {density}) = round({x:.4g})"
    if len(set(counts)) > 1 and max(counts) <= want:
        return (f"{text}: spans overlap, so some tokens are covered twice and the count falls short "
                f"({min(counts)} to {max(counts)} over {len(counts)} seeds); choose span lengths that add up to "
                f"the number of noise tokens and put them in separate gaps of kept tokens")
    if len(set(counts)) > 1:
        return (f"{text}. The count changes from draw to draw ({min(counts)} to {max(counts)} over {len(counts)} "
                f"seeds): a coin per token gives {density:.0%} only on average; T5 fixes the number of noise "
                f"tokens, round(length · noise_density), and places exactly that many")
    if got == math.floor(x) and got != want:
        return f"{text}: it rounds DOWN (int() truncates); use round()"
    if got == math.ceil(x) and got != want:
        return f"{text}: it rounds UP (math.ceil); use round()"
    if got == 0:
        return (f"{text}: at least one token is noise and there is at least one span (max(…, 1) on both "
                f"counts), or the example teaches nothing")
    if got < want:
        return (f"{text}: spans overlap, so tokens are counted twice; choose the span lengths so that they add up "
                f"to the number of noise tokens and place them in separate gaps of kept tokens")
    return text


@check("random_spans_mask: round(length·density) noise tokens in round(noise/mean) spans that never touch, "
       "drawn with the generator", task="noise-mask")
def noise_mask_properties(ctx):
    sc = ctx.load("span_corruption")
    for length, density, mean in NOISE_CASES:
        noise_ok, spans_ok = expected_counts(length, density, mean)
        draws = [draw_mask(sc, length, density, mean, 1000 * ctx.seed + s) for s in range(DRAWS)]
        counts = [sum(m) for _, m in draws]
        runs_all = [len(spans_of(m)) for _, m in draws]
        for (name, mask), n in zip(draws, counts):
            if n not in noise_ok:
                fail(noise_message(name, n, min(noise_ok), length, density, mean, counts))
        for (name, mask), n, k in zip(draws, counts, runs_all):
            if k in spans_ok:
                continue
            runs, want = spans_of(mask), min(spans_ok)
            text = (f"{name} has {k} span{'s' if k != 1 else ''} (maximal runs of noise: "
                    f"{', '.join(f'{s}..{s + r - 1}' for s, r in runs[:6])}{' ...' if len(runs) > 6 else ''}); "
                    f"expected {want} = max(1, round({n} / {mean:g}))")
            if len(set(runs_all)) == 1 and k in (math.floor(n / mean), math.ceil(n / mean)):
                fail(f"{text}: it rounds the number of spans with floor/ceil; use max(1, round(noise / mean))")
            if k < want:
                fail(f"{text}. Two spans touch or overlap, so they read as one: keep at least one token "
                     f"between spans (every inner gap of kept tokens has length >= 1)")
            fail(f"{text}: a span is a run of consecutive noise tokens, and there are max(1, round(noise / "
                 f"mean_span_length)) of them")
        name, first = draws[0]
        again = draw_mask(sc, length, density, mean, 1000 * ctx.seed)[1]
        expect(again == first, f"{name} is not reproducible: the same seed gave {spans_of(first)} and then "
               f"{spans_of(again)} (span start, length); draw every random number from `generator`")
        # T5's own algorithm puts a single span at the end every time, and has no choice when the kept
        # tokens are as many as the spans; elsewhere 25 seeds must not all give one mask
        if min(spans_ok) >= 2 and length - max(noise_ok) > max(spans_ok):
            distinct = {tuple(m) for _, m in draws}
            expect(len(distinct) > 1, f"random_spans_mask({length}, {density}, {mean}) gave the same mask for "
                   f"{DRAWS} different generator seeds ({spans_of(first)}): draw the span lengths and positions "
                   f"with `generator` (torch.randperm(n, generator=generator), torch.randint(..., generator=...))")


# 40 tokens: 6 noise tokens in 2 spans. Over 600 draws the least-hit inner position is noise 53-59 times for
# the reference (seeds 0-4), 53-62 for a rejection sampler, and 15-19 for T5's own algorithm (always a kept
# token first and a span last; position 1 is noise only when the first gap is 1 token: 1/33). Poisson(18)
# gives 0 hits with probability 1.5e-8, so a position that is NEVER noise means spans cannot go there.
COVER_LENGTH, COVER_DRAWS = 40, 600
MIN_HITS = 1


@check("random_spans_mask: spans land everywhere, not always at the same place", task="noise-mask")
def noise_mask_coverage(ctx):
    sc = ctx.load("span_corruption")
    hits = [0] * COVER_LENGTH
    for s in range(COVER_DRAWS):
        for i, m in enumerate(draw_mask(sc, COVER_LENGTH, 0.15, 3.0, 7919 * ctx.seed + s)[1]):
            hits[i] += m
    inner = hits[1:-1]
    worst = min(range(len(inner)), key=inner.__getitem__) + 1
    expect(hits[worst] >= MIN_HITS,
           f"over {COVER_DRAWS} draws of random_spans_mask({COVER_LENGTH}, 0.15, 3.0), position {worst} was noise "
           f"{hits[worst]} times (expected at least {MIN_HITS}; noise count per position: {hits}): spans must be "
           f"able to start anywhere, with random gaps of kept tokens between them")


# --- task: sentinels ----------------------------------------------------------------------------

def fmt(ids, mask, start, variant=""):
    """sentinel_format, right or with one classic mistake (`variant`)."""
    if variant == "end_lost":        # a span is written out only when a kept token follows it
        end = len(mask)
        while end and mask[end - 1]:
            end -= 1
        return fmt(ids[:end], mask[:end], start) if end < len(mask) else None
    inputs, targets, k = [], [], 0
    step = -1 if variant == "down" else 1
    for i, (token, noise) in enumerate(zip(ids, mask)):
        if not noise:
            inputs.append(token)
            continue
        first = not mask[i - 1] if variant == "wrap" else (i == 0 or not mask[i - 1])
        if variant == "per_token" or first:
            sentinel = start if variant == "reused" else start + step * k
            if variant != "no_input_sentinel":
                inputs.append(sentinel)
            targets.append(sentinel)
            k += 1
        targets.append(token)
    if variant == "last_reused":
        targets.append(start + k - 1)
    elif variant == "reused":
        targets.append(start)
    elif variant != "no_final":
        targets.append(start + step * k)
    if variant == "input_final":
        inputs.append(start + k)
    return inputs, targets


FORMAT_MISTAKES = [
    ("every span gets the SAME sentinel id; sentinel k is sentinel_start + k (<extra_id_0>, <extra_id_1>, ...), "
     "a new one for each span, or the model cannot tell which span goes where", "reused"),
    ("the targets lack the final sentinel: after the last span, targets end with one more sentinel "
     "(sentinel_start + number of spans), as in the paper's '<X> for inviting <Y> last <Z>'", "no_final"),
    ("a span at position 0 gets no sentinel when the last token is noise too: mask[i - 1] at i = 0 reads "
     "mask[-1], the LAST token. A span starts where i == 0 or not mask[i - 1]", "wrap"),
    ("the sentinel ids count DOWN (sentinel_start − k, like T5's vocabulary, where <extra_id_0> = 32099); here "
     "they count up: sentinel k is sentinel_start + k", "down"),
    ("each noise TOKEN gets its own sentinel (BERT-style masking); T5 replaces each SPAN, however long, by one "
     "sentinel", "per_token"),
    ("the spans are deleted from the inputs without a sentinel in their place; the model must see where "
     "something is missing", "no_input_sentinel"),
    ("the final sentinel repeats the last span's id; it is a new one, sentinel_start + number of spans",
     "last_reused"),
    ("the inputs end with the final sentinel too; only the targets have it", "input_final"),
    ("a span at the END is lost: it is written out only when a kept token follows it. After the loop, flush the "
     "span that is still open (or emit the sentinel where a span starts, not where it ends)", "end_lost"),
]

def as_pair(value):
    return None if value is None else list(value)


FORMAT_CASES = [
    [0, 1, 1, 0, 0, 1, 0],               # the docstring's example
    [1, 1, 0, 0, 1, 0, 0, 0],            # a span at position 0
    [0, 0, 1, 0, 0, 0, 1, 1],            # a span at the end
    [1, 0, 0, 1, 1, 0, 1],               # both: mask[0] and mask[-1]
    [0, 1, 0, 1, 0, 1, 0, 1, 0],         # spans of one token
    [0, 0, 0, 1, 1, 1, 1, 0, 0],         # one span
    [1, 1, 1, 1, 0],                     # one span at position 0
]


def sample_ids(n, gen):
    return torch.randint(0, SENTINEL, (n,), generator=gen).tolist()


def ref_mask(length, gen, density=0.15, mean=3.0):
    """A random valid noise mask (the reference's algorithm, for cases the learner's code must handle)."""
    noise = min(max(round(length * density), 1), length - 1)
    spans = max(round(noise / mean), 1)
    kept = length - noise

    def compose(total, parts):
        cuts = sorted((torch.randperm(total - 1, generator=gen)[: parts - 1] + 1).tolist())
        return [b - a for a, b in zip([0] + cuts, cuts + [total])]

    lengths, gaps = compose(noise, spans), compose(kept + 2, spans + 1)
    gaps[0] -= 1
    gaps[-1] -= 1
    mask, pos = [False] * length, gaps[0]
    for span, gap in zip(lengths, gaps[1:]):
        mask[pos: pos + span] = [True] * span
        pos += span + gap
    return mask


def as_ids(value, name):
    if not isinstance(value, torch.Tensor) or value.dim() != 1 or value.is_floating_point():
        what = (f"a tensor of dtype {value.dtype} and shape {tuple(value.shape)}" if isinstance(value, torch.Tensor)
                else type(value).__name__)
        fail(f"{name} is {what}; expected a 1-D integer (torch.long) tensor of token ids")
    return value.cpu().tolist()


def pair(value, name):
    expect(isinstance(value, (tuple, list)) and len(value) == 2,
           f"{name} returned {type(value).__name__}; return the pair (inputs, targets)")
    return as_ids(value[0], f"{name}'s inputs"), as_ids(value[1], f"{name}'s targets")


def format_cases(ctx):
    cases = [(sample_ids(len(m), ctx.gen), [bool(b) for b in m]) for m in FORMAT_CASES]
    for length in (12, 20, 33, 64):
        for _ in range(3):
            cases.append((sample_ids(length, ctx.gen), ref_mask(length, ctx.gen)))
    return cases


@check("sentinel_format: one sentinel per span in the inputs, each sentinel then its span in the targets, "
       "a final sentinel", task="sentinels")
def sentinel_format_exact(ctx):
    sc = ctx.load("span_corruption")
    for ids, mask in format_cases(ctx):
        name = f"sentinel_format(ids, mask={[int(b) for b in mask]}, {SENTINEL})"
        got = pair(sc.sentinel_format(torch.tensor(ids, device=ctx.device),
                                      torch.tensor(mask, device=ctx.device), SENTINEL), name)
        want = fmt(ids, mask, SENTINEL)
        if list(got) == list(want):
            continue
        why = which_mistake(list(got), [(why, lambda v=v: as_pair(fmt(ids, mask, SENTINEL, v)))
                                        for why, v in FORMAT_MISTAKES], list(want), **EXACT)
        numbers = (f"for ids {ids}: yours inputs {got[0]}, targets {got[1]}; expected inputs {want[0]}, "
                   f"targets {want[1]}")
        fail(f"{name} is off: {why}. {numbers[0].upper()}{numbers[1:]}" if why else
             f"{name} differs from the reference, {numbers}: the inputs are the kept tokens with one sentinel "
             f"in place of each span; the targets each sentinel followed by its span, then a final sentinel")


@check("reconstruct(inputs, targets) gives the original ids back", task="sentinels")
def reconstruct_exact(ctx):
    sc = ctx.load("span_corruption")
    for ids, mask in format_cases(ctx):
        inputs, targets = fmt(ids, mask, SENTINEL)
        name = f"reconstruct(inputs={inputs}, targets={targets}, {SENTINEL})"
        got = as_ids(sc.reconstruct(torch.tensor(inputs, device=ctx.device),
                                    torch.tensor(targets, device=ctx.device), SENTINEL), name)
        left = [t for t in got if t >= SENTINEL]
        if left:
            fail(f"{name} leaves the sentinel(s) {left} in its output: every id >= sentinel_start "
                 f"({SENTINEL}) is a sentinel, replaced by its span (<extra_id_0> is sentinel_start itself). "
                 f"Yours {got}, expected {ids}")
        expect(got == ids, f"{name} is {got}; expected the original {ids}: each sentinel in the inputs is "
               f"replaced by the tokens that follow the same sentinel in the targets, up to the next sentinel")


SEEDS = 200


@check("span_corrupt over 200 seeds: sentinels in order, the right counts, input + target = the original",
       task="sentinels")
def span_corrupt_end_to_end(ctx):
    sc = ctx.load("span_corruption")
    for s in range(SEEDS):
        length = 10 + s % 55
        ids = sample_ids(length, ctx.gen)
        g = torch.Generator().manual_seed(10_000 * ctx.seed + s)
        name = f"span_corrupt(ids of length {length}, {SENTINEL}, generator seeded {10_000 * ctx.seed + s})"
        inputs, targets = pair(sc.span_corrupt(torch.tensor(ids, device=ctx.device), SENTINEL, generator=g), name)
        in_sent = [t for t in inputs if t >= SENTINEL]
        tg_sent = [t for t in targets if t >= SENTINEL]
        k = len(in_sent)
        noise_ok, spans_ok = expected_counts(length, 0.15, 3.0)
        if len(set(in_sent)) < k:
            fail(f"{name}: the inputs {inputs} use a sentinel id twice ({in_sent}): sentinel k is "
                 f"sentinel_start + k, a new one for each span")
        expect(in_sent == list(range(SENTINEL, SENTINEL + k)),
               f"{name}: the sentinels in the inputs are {in_sent}; expected {list(range(SENTINEL, SENTINEL + k))}, "
               f"in order from sentinel_start (inputs {inputs})")
        expect(tg_sent == list(range(SENTINEL, SENTINEL + k + 1)),
               f"{name}: the sentinels in the targets are {tg_sent}; expected "
               f"{list(range(SENTINEL, SENTINEL + k + 1))}: the inputs' {k} in order, then a final one "
               f"(targets {targets})")
        expect(targets[:1] == [SENTINEL] and targets[-1] == SENTINEL + k,
               f"{name}: the targets {targets} must start with the first sentinel {SENTINEL} and end with the "
               f"final one {SENTINEL + k}")
        back = [t for t in _reconstructed(inputs, targets)]
        expect(back == ids, f"{name}: input + target do not give the original back: putting each span in place of "
               f"its sentinel gives {back}, the original is {ids} (inputs {inputs}, targets {targets})")
        noise = len(targets) - (k + 1)
        expect(noise in noise_ok and k in spans_ok,
               f"{name}: {noise} noise tokens in {k} spans; expected {min(noise_ok)} = round({length} · 0.15) in "
               f"{min(spans_ok)} = max(1, round(noise / 3)) spans")
        expect(all(a < SENTINEL or b < SENTINEL for a, b in zip(inputs, inputs[1:])),
               f"{name}: two sentinels are adjacent in the inputs {inputs}: two spans touch and should have been "
               f"one (keep at least one token between spans)")


def _reconstructed(inputs, targets):
    spans, cur = {}, None
    for t in targets:
        if t >= SENTINEL:
            cur = t
            spans[cur] = []
        else:
            spans.setdefault(cur, []).append(t)
    out = []
    for t in inputs:
        out.extend(spans.get(t, []) if t >= SENTINEL else [t])
    return out


# --- task: counts -------------------------------------------------------------------------------

def built_counts(vocab, d, L, d_ff, nhead):
    """The three models built from PyTorch's blocks on the meta device, counted."""
    def stack(layer_cls):
        layers = nn.ModuleList([layer_cls(d, nhead, d_ff, batch_first=True) for _ in range(L)])
        return parameter_count(layers) + parameter_count(nn.LayerNorm(d))

    with on_meta():
        embedding = parameter_count(nn.Embedding(vocab, d))
        encoder = stack(nn.TransformerEncoderLayer)
        decoder_stack = stack(nn.TransformerDecoderLayer)
    return {"encoder": embedding + encoder, "decoder": embedding + encoder,
            "encoder_decoder": embedding + encoder + decoder_stack}


def formula(vocab, d, L, d_ff, variant=""):
    bias = 0 if variant == "no_bias" else 1
    attention = (3 if variant == "attn3" else 4) * (d * d + bias * d)
    width = 4 * d if variant == "ffn_4d" else d_ff
    ffn = 2 * d * width + bias * (width + d)
    norm = 0 if variant == "no_norm" else 2 * d
    final = 0 if variant == "no_final" else norm
    enc_layer = attention + ffn + 2 * norm
    dec_layer = enc_layer if variant == "no_cross" else 2 * attention + ffn + 3 * norm
    emb = vocab * d
    head = emb if variant == "untied" else 0
    encoder = emb + L * enc_layer + final + head
    decoder = emb + L * (dec_layer if variant == "gpt_cross" else enc_layer) + final + head
    enc_dec = encoder + L * dec_layer + final + (emb if variant == "two_embeddings" else 0)
    return {"encoder": encoder, "decoder": decoder, "encoder_decoder": enc_dec}


COUNT_MISTAKES = [
    ("the encoder-decoder has two embedding tables; T5 shares ONE between its encoder, its decoder and the "
     "output head", "two_embeddings"),
    ("the output head is not tied: a tied head reuses the embedding (logits = h @ E.T) and adds nothing; an "
     "untied one adds vocab · d", "untied"),
    ("the linear layers' biases are left out: nn.Linear has a bias, and nn.MultiheadAttention has in_proj_bias "
     "(3d) and out_proj.bias (d)", "no_bias"),
    ("the LayerNorms are left out: each has a weight and a bias (2d); an encoder layer has 2, a decoder layer 3, "
     "and each stack a final one", "no_norm"),
    ("the final LayerNorm of each stack is left out (2d per stack)", "no_final"),
    ("attention is counted with 3 matrices (q, k, v); there is a 4th, the output projection W_o: 4d² + 4d",
     "attn3"),
    ("the FFN width is taken as 4d; use the d_ff argument (here d_ff ≠ 4d)", "ffn_4d"),
    ("the decoder-only model is counted with nn.TransformerDecoderLayer, which has CROSS-attention; GPT has no "
     "encoder to attend to: its block is an encoder layer with a causal mask, so it has the encoder's count",
     "gpt_cross"),
    ("the decoder stack has no cross-attention: a T5 decoder layer has self-attention, cross-attention to the "
     "encoder (another 4d² + 4d) and the FFN, and 3 LayerNorms", "no_cross"),
]

COUNT_CASES = [(1000, 64, 2, 256, 4), (32128, 512, 6, 2048, 8), (30522, 768, 12, 3072, 12), (500, 48, 3, 144, 4)]


@check("param_counts matches models built from nn.TransformerEncoderLayer / DecoderLayer (meta device)",
       task="counts")
def counts_vs_built(ctx):
    pc = ctx.load("param_counts")
    for vocab, d, L, d_ff, nhead in COUNT_CASES:
        call = f"param_counts(vocab={vocab}, d={d}, L={L}, d_ff={d_ff})"
        got = pc.param_counts(vocab, d, L, d_ff)
        expect(isinstance(got, dict) and {"encoder", "decoder", "encoder_decoder"} <= set(got),
               f"{call} returned {type(got).__name__}"
               + (f" with keys {sorted(got)}" if isinstance(got, dict) else "")
               + "; return a dict with the keys 'encoder', 'decoder' and 'encoder_decoder'")
        want = built_counts(vocab, d, L, d_ff, nhead)
        assert want == formula(vocab, d, L, d_ff), "the check's formula disagrees with PyTorch's modules"
        for arch in ("encoder", "decoder", "encoder_decoder"):
            expect_count(f"{call}[{arch!r}]", got[arch], want[arch],
                         [(why, formula(vocab, d, L, d_ff, v)[arch]) for why, v in COUNT_MISTAKES],
                         against=f"nn modules built with nhead={nhead} and counted")

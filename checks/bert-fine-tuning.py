"""Check: fine-tuning an encoder for sentiment (finetune.py).

The encoder is the check's own small BERT-like TinyEncoder (word and position embeddings, LayerNorm,
nn.TransformerEncoderLayer post-norm layers), initialised from the seed: there is no pretrained
checkpoint here, so nothing is claimed about pretraining. The mechanics are checked exactly, in
float64: ClassificationHead and mean_pool against formulas; SentimentClassifier's logits for a padded
batch against each review run alone (so the padding mask must reach the encoder and the mean must
skip padding); param_groups' learning rate and weight decay for every parameter; warmup_linear and
the LambdaLR built from it over every step; freeze_lower's requires_grad flags and frozen weights
bit-identical after training; train_epoch's learning rate at every optimizer step beside a reference
loop; evaluate in eval mode with gradients off. Last, a short fine-tuning run on synthetic reviews
must beat a bag-of-words baseline by a calibrated margin.
"""

from __future__ import annotations

import copy
from collections import Counter

import torch
import torch.nn.functional as F
from torch import nn

from tutor.checking import check, expect, expect_match, expect_shape, fail, float64_device
from tutor.checking.formatting import number
from tutor.checking.reviews import SyntheticReviews, tokenize

F64 = torch.float64
PAD, UNK, CLS = 0, 1, 2
LR_BODY, LR_HEAD, DECAY = 2e-5, 1e-3, 0.01

# training run: TinyEncoder(hidden 32, 2 layers, 2 heads, ff 64), mean pooling, 5 epochs of 1,500 reviews
# in batches of 32, AdamW (body 5e-3, head 1e-2, weight decay 0.01), warm-up 10 % then linear decay.
# Reviews without "but", at most 3 clauses, negation 0.3: a bag of words cannot tell which adjective
# "not" belongs to; the encoder can. (The HARD preset needs far more than a few seconds from scratch:
# 0.47-0.57 after 4 epochs, seeds 0-1, no better than the bag of words.)
REVIEWS = dict(but=0.0, negation=0.3, max_clauses=3)
N_TRAIN, N_TEST, EPOCHS, BATCH = 1500, 500, 5, 32
TRAIN_LR_BODY, TRAIN_LR_HEAD = 5e-3, 1e-2
# test accuracy minus the bag-of-words baseline (logistic regression on counts, 300 Adam steps):
# solution 0.144-0.252 over seeds 0-7 (accuracy 0.850-0.978, bag of words 0.686-0.742), about 2.5 s
MIN_MARGIN = 0.08


# --- the encoder the learner fine-tunes -------------------------------------------------------------


class Embeddings(nn.Module):
    def __init__(self, vocab, hidden, max_len, dropout):
        super().__init__()
        self.word = nn.Embedding(vocab, hidden)
        self.position = nn.Embedding(max_len, hidden)
        self.norm = nn.LayerNorm(hidden)
        self.dropout = nn.Dropout(dropout)

    def forward(self, ids):
        positions = torch.arange(ids.shape[1], device=ids.device)
        return self.dropout(self.norm(self.word(ids) + self.position(positions)))


class TinyEncoder(nn.Module):
    """encoder(input_ids, attention_mask) -> hidden states (B, T, H); attention_mask 1 = real, 0 = padding."""

    def __init__(self, vocab, hidden=16, layers=2, heads=2, ff=32, max_len=96, dropout=0.1):
        super().__init__()
        self.hidden_size = hidden
        self.embeddings = Embeddings(vocab, hidden, max_len, dropout)
        self.layers = nn.ModuleList(nn.TransformerEncoderLayer(hidden, heads, ff, dropout, activation="gelu",
                                                               batch_first=True) for _ in range(layers))

    def forward(self, input_ids, attention_mask=None):
        pad = None if attention_mask is None else attention_mask == 0
        x = self.embeddings(input_ids)
        for layer in self.layers:
            x = layer(x, src_key_padding_mask=pad)
        return x


def encoder_on(dev, seed, vocab=20, layers=2, dropout=0.1, dtype=F64, hidden=16):
    torch.manual_seed(seed)
    return TinyEncoder(vocab, hidden=hidden, layers=layers, ff=2 * hidden, dropout=dropout).to(dev, dtype)


def classifier(ft, dev, seed, pooling="mean", layers=2, dropout=0.1, dtype=F64, vocab=20, hidden=16):
    enc = encoder_on(dev, seed, vocab, layers, dropout, dtype, hidden)
    torch.manual_seed(seed + 1)
    model = ft.SentimentClassifier(enc, hidden, 2, pooling=pooling, dropout=dropout)
    return model.to(dev, dtype)


def padded(sequences, device):
    ids = torch.full((len(sequences), max(len(s) for s in sequences)), PAD, dtype=torch.int64)
    for row, seq in enumerate(sequences):
        ids[row, :len(seq)] = torch.as_tensor(seq)
    return ids.to(device), (ids != PAD).long().to(device)


def random_sequences(gen, lengths, vocab=20):
    return [[CLS] + torch.randint(3, vocab, (n - 1,), generator=gen).tolist() for n in lengths]


def the_linear(head):
    linears = [m for m in head.modules() if isinstance(m, nn.Linear)]
    expect(len(linears) == 1, f"ClassificationHead has {len(linears)} nn.Linear layers; it has one, "
           "nn.Linear(hidden, n_classes), after the dropout")
    return linears[0]


# --- task: head ------------------------------------------------------------------------------------


@check("ClassificationHead and mean_pool match their formulas", task="head")
def head_and_pool(ctx):
    ft = ctx.load("finetune")
    dev = float64_device(ctx)
    head = ft.ClassificationHead(8, 3, dropout=0.5).to(dev, F64)
    lin = the_linear(head)
    expect(tuple(lin.weight.shape) == (3, 8), f"the head's nn.Linear has weight shape {tuple(lin.weight.shape)}; "
           "expected (n_classes, hidden) = (3, 8)")
    x = torch.randn(64, 8, generator=ctx.gen, dtype=F64).to(dev)
    head.eval()
    expect_match("ClassificationHead(x) in eval mode", head(x), x @ lin.weight.T + lin.bias)
    head.train()
    dropped = head(x)
    gap = float((dropped - (x @ lin.weight.T + lin.bias)).abs().max())
    expect(gap > 1e-9, f"ClassificationHead(hidden, n_classes, dropout=0.5) gives the eval-mode output in train mode "
           f"(max difference {number(gap)} over {dropped.numel()} logits; with dropout 0.5 about half the "
           "inputs are zeroed): apply nn.Dropout(dropout) to the pooled vector before the linear layer")

    B, T, H = 4, 6, 5
    h = torch.randn(B, T, H, generator=ctx.gen, dtype=F64).to(dev)
    lengths = torch.tensor([6, 2, 4, 1])
    mask = (torch.arange(T)[None, :] < lengths[:, None]).long().to(dev)
    got = ft.mean_pool(h, mask)
    expect_shape(got, (B, H), "mean_pool(hidden_states, attention_mask)")
    m = mask.unsqueeze(-1).to(F64)
    expected = (h * m).sum(1) / m.sum(1)
    expect_match("mean_pool(hidden_states, attention_mask)", got, expected, mistakes={
        "it averages over ALL T positions, padding included; average over the real tokens only: "
        "(h * mask).sum(1) / mask.sum(1)": lambda: h.mean(1),
        "it sums the real tokens but divides by T, the padded length; divide by each row's number of real "
        "tokens, mask.sum(1)": lambda: (h * m).sum(1) / T,
        "it sums over the real tokens without dividing: a mean divides by each row's count of real tokens":
            lambda: (h * m).sum(1),
        "it averages the PADDING positions (mask == 0): attention_mask is 1 at real tokens":
            lambda: (h * (1 - m)).sum(1) / (1 - m).sum(1).clamp(min=1),
    })
    expect_match("mean_pool with a boolean attention_mask", ft.mean_pool(h, mask.bool()), expected)


# --- task: classifier ------------------------------------------------------------------------------


@check("SentimentClassifier: a padded batch gives each review's logits alone (cls and mean)", task="classifier")
def padding_invariance(ctx):
    ft = ctx.load("finetune")
    dev = float64_device(ctx)
    sequences = random_sequences(ctx.gen, [7, 3, 5, 9, 2])
    ids, mask = padded(sequences, dev)
    for pooling in ("cls", "mean"):
        model = classifier(ft, dev, ctx.seed, pooling=pooling).eval()
        expect(hasattr(model, "encoder") and hasattr(model, "head"),
               "SentimentClassifier keeps the encoder as self.encoder and the ClassificationHead as self.head")
        got = model(ids, mask)
        expect_shape(got, (len(sequences), 2), f"SentimentClassifier(pooling={pooling!r})(input_ids, attention_mask)")
        alone = torch.cat([model(torch.tensor([s], device=dev), torch.ones(1, len(s), dtype=torch.int64, device=dev))
                           for s in sequences])
        enc, head = model.encoder, model.head

        def pooled(h, how):
            return {"cls": h[:, 0], "mean-all": h.mean(1),
                    "mean": (h * mask[..., None]).sum(1) / mask.sum(1, keepdim=True)}[how]

        mistakes = {
            "the padding mask was not passed to the encoder (encoder(input_ids) without attention_mask): "
            "real tokens attend to [PAD] and a review's logits change with the padding around it. Call "
            "self.encoder(input_ids, attention_mask)": lambda: head(pooled(enc(ids, None), pooling)),
            "the mean pools over the padding too (hidden.mean(1)); use mean_pool(hidden, attention_mask)":
                lambda: head(pooled(enc(ids, mask), "mean-all")),
            "no padding mask and a mean over the padding: pass attention_mask to the encoder AND to mean_pool":
                lambda: head(pooled(enc(ids, None), "mean-all")),
            "it pools the LAST position (hidden[:, -1]), which is padding in the shorter rows; [CLS] is "
            "hidden[:, 0]": lambda: head(enc(ids, mask)[:, -1]),
        }
        expect_match(f"the padded batch's logits (pooling={pooling!r}; expected: each review run alone)",
                     got, alone, mistakes=mistakes, atol=1e-9, rtol=1e-7)
        h = enc(ids, mask)
        other = "mean" if pooling == "cls" else "cls"
        expect_match(f"SentimentClassifier(pooling={pooling!r}) logits", got, head(pooled(h, pooling)), mistakes={
            f"pooling={pooling!r} computed the {other!r} pooling: 'cls' is hidden[:, 0], 'mean' is "
            "mean_pool(hidden, attention_mask)": lambda: head(pooled(h, other)),
        }, atol=1e-9, rtol=1e-7)


# --- task: groups ----------------------------------------------------------------------------------


def settings_of(groups, model):
    """{parameter name: (lr, weight_decay)} from the learner's groups, filled with sentinel defaults."""
    sentinel_lr, sentinel_wd = 123.0, 0.456
    try:
        opt = torch.optim.AdamW(groups, lr=sentinel_lr, weight_decay=sentinel_wd)
    except (ValueError, TypeError) as e:
        fail(f"torch.optim.AdamW(param_groups(...)) refuses the groups: {e}. Return a list of dicts "
             "{'params': [...], 'lr': ..., 'weight_decay': ...}, each parameter in exactly one group")
    names = {id(p): n for n, p in model.named_parameters()}
    out = {}
    for g in opt.param_groups:
        expect(g["lr"] != sentinel_lr, f"a group of {len(g['params'])} parameters has no 'lr': give every group "
               "its own learning rate (lr_body or lr_head)")
        expect(g["weight_decay"] != sentinel_wd, f"a group of {len(g['params'])} parameters has no 'weight_decay': "
               "AdamW would use its default (0.01) there; give every group weight_decay explicitly")
        for p in g["params"]:
            expect(id(p) in names, "param_groups returned a tensor that is not a parameter of the model")
            out[names[id(p)]] = (g["lr"], g["weight_decay"])
    return out


@check("param_groups: two learning rates, no weight decay on biases and LayerNorm weights", task="groups")
def groups_settings(ctx):
    ft = ctx.load("finetune")
    model = classifier(ft, "cpu", ctx.seed)
    got = settings_of(ft.param_groups(model, LR_BODY, LR_HEAD, DECAY), model)
    expected = {}
    for n, p in model.named_parameters():
        expected[n] = (LR_HEAD if n.startswith("head.") else LR_BODY, 0.0 if p.ndim < 2 else DECAY)
    missing = [n for n in expected if n not in got]
    expect(not missing, f"{len(missing)} of the {len(expected)} parameters are in no group, e.g. {missing[:3]}: "
           "every parameter of model.encoder and model.head must be in one group")
    lrs = {n: v[0] for n, v in got.items()}
    if len(set(lrs.values())) == 1:
        fail(f"every parameter has the same learning rate {number(next(iter(lrs.values())))}: one learning rate for "
             f"body and head. The encoder trains at lr_body = {LR_BODY:g}, the new head at lr_head = {LR_HEAD:g}")
    for n, (lr, wd) in expected.items():
        mine_lr, mine_wd = got[n]
        if mine_lr != lr:
            part = "the head" if n.startswith("head.") else "the encoder"
            swapped = " (lr_body and lr_head are swapped)" if mine_lr in (LR_BODY, LR_HEAD) else ""
            fail(f"{n} (in {part}) has lr {mine_lr:g}; expected {lr:g}{swapped}: the encoder's parameters take "
                 f"lr_body = {LR_BODY:g}, the head's lr_head = {LR_HEAD:g}")
    for n, (lr, wd) in expected.items():
        mine_wd = got[n][1]
        if mine_wd != wd:
            shape = tuple(model.get_parameter(n).shape)
            if wd == 0.0:
                fail(f"{n} (shape {shape}) has weight_decay {mine_wd:g}; expected 0: as in BERT, biases and "
                     "LayerNorm weights (the 1-D parameters) are not decayed, only weight matrices are")
            fail(f"{n} (shape {shape}) has weight_decay {mine_wd:g}; expected {wd:g}: weight matrices (and the "
                 "embedding tables) take weight_decay; only biases and LayerNorm weights get 0")


# --- task: schedule --------------------------------------------------------------------------------


def reference_multiplier(step, warmup, total):
    if step < warmup:
        return step / max(1, warmup)
    return max(0.0, (total - step) / max(1, total - warmup))


def schedule_mistakes(warmup, total, steps):
    return {
        "it is one step ahead: it returns (step + 1) / warmup during warm-up, so the first update already uses "
        "lr / warmup instead of 0. LambdaLR calls the function with 0 for the first optimizer step":
            lambda: [reference_multiplier(s + 1, warmup, total) for s in steps],
        "it is one step ahead during the warm-up: it returns (step + 1) / warmup, so the first update already "
        "uses lr / warmup instead of 0. LambdaLR calls the function with 0 for the first optimizer step":
            lambda: [(s + 1) / max(1, warmup) if s < warmup else reference_multiplier(s, warmup, total)
                     for s in steps],
        "the decay divides by total instead of (total - warmup): the line must run from 1 at step = warmup "
        "to 0 at step = total": lambda: [s / max(1, warmup) if s < warmup else max(0.0, (total - s) / total)
                                         for s in steps],
        "the decay is not clipped at 0: past `total` steps the multiplier turns negative; use max(0, ...)":
            lambda: [s / max(1, warmup) if s < warmup else (total - s) / max(1, total - warmup) for s in steps],
        "there is no decay: after the warm-up the multiplier stays 1":
            lambda: [min(1.0, s / max(1, warmup)) for s in steps],
        "the warm-up is missing: the decay line runs from step 0 (above 1 before step = warmup); for step < "
        "warmup the multiplier is step / warmup":
            lambda: [max(0.0, (total - s) / max(1, total - warmup)) for s in steps],
    }


@check("warmup_linear: 0 -> 1 over the warm-up, then a straight line to 0 at `total`", task="schedule")
def schedule_values(ctx):
    ft = ctx.load("finetune")
    for warmup, total in ((4, 12), (10, 100), (1, 5), (0, 6)):
        steps = list(range(total + 3))
        got = [float(ft.warmup_linear(s, warmup, total)) for s in steps]
        expect_match(f"warmup_linear(step, warmup={warmup}, total={total}) for steps 0..{total + 2}", got,
                     [reference_multiplier(s, warmup, total) for s in steps],
                     mistakes=schedule_mistakes(warmup, total, steps))


@check("make_scheduler: the learning rate of every group at every optimizer step", task="schedule")
def scheduler_values(ctx):
    ft = ctx.load("finetune")
    warmup, total = 3, 10
    w = nn.Parameter(torch.zeros(2))
    b = nn.Parameter(torch.zeros(2))
    opt = torch.optim.SGD([{"params": [w], "lr": LR_BODY}, {"params": [b], "lr": LR_HEAD}], lr=0.5)
    sched = ft.make_scheduler(opt, warmup, total)
    expect(isinstance(sched, torch.optim.lr_scheduler.LRScheduler),
           f"make_scheduler returned {type(sched).__name__}; return a torch.optim.lr_scheduler.LambdaLR")
    got = [[], []]
    for _ in range(total + 1):
        for i, g in enumerate(opt.param_groups):
            got[i].append(g["lr"])
        opt.step()
        sched.step()
    steps = list(range(total + 1))
    for i, (name, base) in enumerate((("body", LR_BODY), ("head", LR_HEAD))):
        mistakes = {"the scheduler is one step ahead: LambdaLR already passes 0 for the first optimizer step, so "
                    "pass the step as it is: LambdaLR(optimizer, lambda s: warmup_linear(s, warmup, total))":
                    [base * reference_multiplier(s + 1, warmup, total) for s in steps]}
        mistakes.update({why: (lambda f=f: [base * m for m in f()])
                         for why, f in schedule_mistakes(warmup, total, steps).items()})
        expect_match(f"the {name} group's lr at optimizer steps 0..{total} (warmup={warmup}, total={total}, "
                     f"base lr {base:g})", got[i], [base * reference_multiplier(s, warmup, total) for s in steps],
                     mistakes=mistakes, rtol=1e-9, atol=1e-15)


# --- task: freeze ----------------------------------------------------------------------------------


@check("freeze_lower: embeddings and the first k layers frozen, and unchanged by training", task="freeze")
def freezing(ctx):
    ft = ctx.load("finetune")
    dev = float64_device(ctx)
    model = classifier(ft, dev, ctx.seed, layers=3, dropout=0.0)
    k = 1
    ft.freeze_lower(model, k)
    flags = {n: p.requires_grad for n, p in model.named_parameters()}

    def part(n):
        if n.startswith("encoder.embeddings."):
            return "embeddings"
        if n.startswith("encoder.layers."):
            return f"layer {n.split('.')[2]}"
        return "head"

    frozen = sorted({part(n) for n, f in flags.items() if not f})
    want = ["embeddings"] + [f"layer {i}" for i in range(k)]
    if frozen != want:
        partial = sorted({part(n) for n, f in flags.items() if not f} & {part(n) for n, f in flags.items() if f})
        extra = ""
        if "embeddings" not in frozen:
            extra = " The embeddings are left trainable: they are the lowest part of the encoder; freeze them too."
        elif "head" in frozen:
            extra = " The head is frozen: the new head must train."
        elif "layer 0" not in frozen and len(frozen) > 1:
            extra = " The TOP layers are frozen: freeze the lowest ones, encoder.layers[:k]."
        elif f"layer {k}" in frozen:
            extra = f" {len(frozen) - 1} layers are frozen instead of k = {k}: use encoder.layers[:k]."
        elif len(frozen) == 1:
            extra = f" No layer is frozen: freeze encoder.layers[:k] (k = {k}) as well."
        if partial:
            extra += f" Partly frozen: {partial} (freeze every parameter of a frozen part)."
        fail(f"freeze_lower(model, k={k}) on a 3-layer encoder froze {frozen or 'nothing'}; expected {want}.{extra}")
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2, weight_decay=0.1)
    ids, mask = padded(random_sequences(ctx.gen, [6, 4, 5, 3]), dev)
    y = torch.tensor([0, 1, 1, 0], device=dev)
    model.train()
    for _ in range(3):
        loss = F.cross_entropy(model(ids, mask), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    for n, p in model.named_parameters():
        if not flags[n]:
            expect(torch.equal(p.detach(), before[n]), f"{n} is frozen (requires_grad False) but changed in training "
                   f"by up to {number(float((p.detach() - before[n]).abs().max()))}")
        else:
            expect(not torch.equal(p.detach(), before[n]), f"{n} should train but did not change in 3 AdamW steps: "
                   "is it detached from the graph?")


# --- task: train -----------------------------------------------------------------------------------


class RecordingOptimizer:
    """Wraps an optimizer and records every group's lr at each step()."""

    def __init__(self, inner):
        self.inner, self.lrs = inner, []
        self.param_groups = inner.param_groups

    def step(self, *args, **kwargs):
        self.lrs.append([g["lr"] for g in self.inner.param_groups])
        return self.inner.step(*args, **kwargs)

    def __getattr__(self, name):
        return getattr(self.inner, name)


def reference_epoch(model, batches, optimizer, scheduler, zero_grad=True):
    model.train()
    for ids, mask, y in batches:
        loss = F.cross_entropy(model(ids, mask), y)
        if zero_grad:
            optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        scheduler.step()


@check("train_epoch: train mode, zero_grad, and the schedule's lr at every optimizer step", task="train")
def train_loop(ctx):
    ft = ctx.load("finetune")
    dev = float64_device(ctx)
    data = []
    for _ in range(6):
        ids, mask = padded(random_sequences(ctx.gen, torch.randint(2, 8, (4,), generator=ctx.gen).tolist()), dev)
        data.append((ids, mask, torch.randint(0, 2, (4,), generator=ctx.gen).to(dev)))
    warmup, total = 2, 6
    mine = classifier(ft, dev, ctx.seed, dropout=0.0)
    ref = copy.deepcopy(mine)
    modes = []
    mine.register_forward_pre_hook(lambda m, a: modes.append(m.training))
    groups = [{"params": list(mine.encoder.parameters()), "lr": 1e-2},
              {"params": list(mine.head.parameters()), "lr": 2e-2}]
    inner = torch.optim.AdamW(groups, weight_decay=0.01)
    opt = RecordingOptimizer(inner)
    sched = torch.optim.lr_scheduler.LambdaLR(inner, lambda s: reference_multiplier(s, warmup, total))
    mine.eval()
    losses = ft.train_epoch(mine, data, opt, sched)
    expect(len(modes) > 0 and all(modes), f"train_epoch ran the model in eval mode ({modes.count(False)} of "
           f"{len(modes)} forward calls): call model.train() at the start (dropout must be on while training; the "
           "check handed it a model in eval mode)")
    expect(len(opt.lrs) == len(data), f"train_epoch called optimizer.step() {len(opt.lrs)} times for {len(data)} "
           "batches; once per batch")
    expected_lrs = [[1e-2 * reference_multiplier(s, warmup, total), 2e-2 * reference_multiplier(s, warmup, total)]
                    for s in range(len(data))]
    ahead = [[1e-2 * reference_multiplier(s + 1, warmup, total), 2e-2 * reference_multiplier(s + 1, warmup, total)]
             for s in range(len(data))]
    expect_match(f"the learning rates at the {len(data)} optimizer steps (body, head)", opt.lrs, expected_lrs,
                 mistakes={"scheduler.step() runs BEFORE optimizer.step(): every update uses the next step's "
                           "learning rate (the schedule is off by one step, and the first warm-up step is "
                           "skipped). Call optimizer.step() first, then scheduler.step()": ahead},
                 rtol=1e-9, atol=1e-15)
    ref_opt = torch.optim.AdamW([{"params": list(ref.encoder.parameters()), "lr": 1e-2},
                                 {"params": list(ref.head.parameters()), "lr": 2e-2}], weight_decay=0.01)
    unzeroed = copy.deepcopy(ref)
    reference_epoch(ref, data, ref_opt, torch.optim.lr_scheduler.LambdaLR(
        ref_opt, lambda s: reference_multiplier(s, warmup, total)))
    bad_opt = torch.optim.AdamW([{"params": list(unzeroed.encoder.parameters()), "lr": 1e-2},
                                 {"params": list(unzeroed.head.parameters()), "lr": 2e-2}], weight_decay=0.01)
    reference_epoch(unzeroed, data, bad_opt, torch.optim.lr_scheduler.LambdaLR(
        bad_opt, lambda s: reference_multiplier(s, warmup, total)), zero_grad=False)
    expect(isinstance(losses, (list, tuple)) and len(losses) == len(data),
           f"train_epoch returned {type(losses).__name__}; return the list of the {len(data)} batch losses")
    for (n, p), q, r in zip(mine.named_parameters(), ref.parameters(), unzeroed.parameters()):
        expect_match(f"{n} after one epoch (beside the reference loop: cross-entropy, zero_grad, backward, step)",
                     p.detach(), q.detach(), atol=1e-9, rtol=1e-6, mistakes={
                         "the gradients are never zeroed: each backward adds to the gradients of all the batches "
                         "before. Call optimizer.zero_grad() (or model.zero_grad()) every batch": r.detach()})


# --- task: evaluate --------------------------------------------------------------------------------


@check("evaluate: accuracy in eval mode (dropout off) with gradients off", task="evaluate")
def evaluation(ctx):
    ft = ctx.load("finetune")
    dev = float64_device(ctx)
    model = classifier(ft, dev, ctx.seed, dropout=0.5)
    data = []
    for _ in range(5):
        ids, mask = padded(random_sequences(ctx.gen, torch.randint(2, 9, (8,), generator=ctx.gen).tolist()), dev)
        data.append((ids, mask, torch.randint(0, 2, (8,), generator=ctx.gen).to(dev)))
    seen = []
    model.register_forward_pre_hook(lambda m, a: seen.append((m.training, torch.is_grad_enabled())))
    model.train()
    got = ft.evaluate(model, data)
    n = sum(len(y) for _, _, y in data)
    with torch.no_grad():
        model.eval()
        correct = sum(int((model(i, m).argmax(-1) == y).sum()) for i, m, y in data)
    expect(len(seen) > 0, "evaluate never called the model")
    in_train = sum(t for t, _ in seen)
    expect(in_train == 0, f"evaluate ran the model in train mode ({in_train} of {len(seen)} forward calls): dropout "
           "is on at eval and the predictions are random. Call model.eval() before predicting")
    with_grad = sum(g for _, g in seen)
    expect(with_grad == 0, f"evaluate ran the model with gradients on ({with_grad} of {len(seen)} forward calls): "
           "wrap it in torch.inference_mode() (or torch.no_grad()); otherwise every batch keeps its graph")
    expect_match("evaluate(model, batches)", float(got), correct / n, mistakes={
        "it returns the number of correct predictions, not the fraction": float(correct)}, atol=1e-6, rtol=0)


# --- task: fine-tune -------------------------------------------------------------------------------


def review_data(seed):
    train = SyntheticReviews(N_TRAIN, seed=seed, train=True, **REVIEWS)
    test = SyntheticReviews(N_TEST, seed=seed, train=False, **REVIEWS)
    counts = Counter(t for text in train.texts for t in tokenize(text))
    itos = ["[PAD]", "[UNK]", "[CLS]"] + sorted(w for w, c in counts.items() if c >= 2)
    stoi = {w: i for i, w in enumerate(itos)}

    def encode(texts):
        return [[CLS] + [stoi.get(t, UNK) for t in tokenize(x)] for x in texts]

    return encode(train.texts), train.labels, encode(test.texts), test.labels, len(itos)


def make_batches(seqs, labels, size, device, gen=None):
    order = torch.randperm(len(seqs), generator=gen).tolist() if gen is not None else list(range(len(seqs)))
    out = []
    for i in range(0, len(seqs), size):
        idx = order[i:i + size]
        ids, mask = padded([seqs[j] for j in idx], device)
        out.append((ids, mask, torch.tensor([labels[j] for j in idx], device=device)))
    return out


def bag_of_words(trs, trl, tes, tel, vocab, device):
    def counts(seqs):
        X = torch.zeros(len(seqs), vocab)
        for i, s in enumerate(seqs):
            X[i].index_add_(0, torch.tensor(s), torch.ones(len(s)))
        return X.to(device)

    X, Xt = counts(trs), counts(tes)
    y, yt = torch.tensor(trl, device=device), torch.tensor(tel, device=device)
    lin = nn.Linear(vocab, 2).to(device)
    opt = torch.optim.Adam(lin.parameters(), lr=0.05)
    for _ in range(300):
        loss = F.cross_entropy(lin(X), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        return float((lin(Xt).argmax(-1) == yt).float().mean())


@check("fine-tuning on synthetic reviews beats a bag of words", task="finetune")
def fine_tuning(ctx):
    ft = ctx.load("finetune")
    dev = ctx.device
    trs, trl, tes, tel, vocab = review_data(ctx.seed)
    torch.manual_seed(ctx.seed)
    baseline = bag_of_words(trs, trl, tes, tel, vocab, dev)
    model = classifier(ft, dev, ctx.seed, pooling="mean", dtype=torch.float32, vocab=vocab, hidden=32)
    opt = torch.optim.AdamW(ft.param_groups(model, TRAIN_LR_BODY, TRAIN_LR_HEAD, 0.01))
    total = EPOCHS * -(-N_TRAIN // BATCH)
    sched = ft.make_scheduler(opt, total // 10, total)
    gen = torch.Generator().manual_seed(ctx.seed)
    losses = []
    for _ in range(EPOCHS):
        losses += list(ft.train_epoch(model, make_batches(trs, trl, BATCH, dev, gen), opt, sched))
    ctx.curve("training loss", losses)
    acc = ft.evaluate(model, make_batches(tes, tel, 250, dev))
    ctx.metric("test accuracy", acc, baseline + MIN_MARGIN)
    expect(acc >= baseline + MIN_MARGIN,
           f"test accuracy {number(acc, 3)} after {EPOCHS} epochs is not {MIN_MARGIN} above the bag-of-words "
           f"baseline {number(baseline, 3)} (difference {number(acc - baseline, 3)}). The exact checks above "
           "passed, so look at what only a real run shows: does the loss fall (see the curve), and does the learning "
           "rate leave 0 after the warm-up?")

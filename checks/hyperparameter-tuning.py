"""Check: grid = Cartesian product, random search (reproducible, bounded, log-uniform),
the budget, best-by-validation, and an end-to-end tiny search on spirals."""

import itertools
import math
import time

import numpy as np
import torch

from tutor.checking import check, data, expect, expect_metric, expect_rate, expect_type, expect_uniform, fail

SIGMAS = 5  # statistical bounds: a correct sampler falls outside 5σ with probability < 1e-6




def key_of(config):
    return tuple(sorted(config.items()))


# --- grid ------------------------------------------------------------------------


@check("grid_configs is the full Cartesian product: right count, every combination once", task="grid")
def grid(ctx):
    tuning = ctx.load("tuning")
    space = {"lr": [0.1, 0.01, 0.001], "hidden": [16, 64], "activation": ["relu", "tanh"], "dropout": [0.0, 0.5]}
    configs = tuning.grid_configs(space)
    expect_type(configs, list, "grid_configs(grid)")
    sizes = [len(v) for v in space.values()]
    want = math.prod(sizes)
    expect(all(isinstance(c, dict) for c in configs), "grid_configs must return a list of dicts, one per config")
    if len(configs) != want:
        if len(configs) == min(sizes):
            fail(f"grid_configs gave {len(configs)} configs for lists of lengths {sizes}: that is zip() "
                 f"(pairing values position by position), not the Cartesian product of {want} combinations")
        if len(configs) in (sum(sizes), 1 + sum(s - 1 for s in sizes)):
            fail(f"grid_configs gave {len(configs)} configs for lists of lengths {sizes}: it varies one key at a time; "
                 f"a grid tries every combination, {' × '.join(map(str, sizes))} = {want} (itertools.product)")
        fail(f"grid_configs gave {len(configs)} configs for lists of lengths {sizes}; the full grid has "
             f"{' × '.join(map(str, sizes))} = {want}")
    if len({id(c) for c in configs}) < len(configs):
        fail("grid_configs returns the same dict object several times: build a new dict for every config "
             "(mutating one dict and appending it again changes all the earlier entries too)")
    for c in configs:
        expect(set(c) == set(space), f"a config has the keys {sorted(c)}; expected exactly {sorted(space)}")
    keys = [key_of(c) for c in configs]
    if len(set(keys)) < len(keys):
        dup = next(c for c in configs if keys.count(key_of(c)) > 1)
        fail(f"grid_configs repeats the config {dup}; every combination must appear exactly once")
    wanted = {key_of(dict(zip(space, values))) for values in itertools.product(*space.values())}
    missing = wanted - set(keys)
    if missing:
        fail(f"grid_configs misses {len(missing)} combination(s), for example {dict(sorted(missing)[0])}")
    single = tuning.grid_configs({"lr": [0.5]})
    expect(single == [{"lr": 0.5}], f"grid_configs({{'lr': [0.5]}}) returned {single}; expected [{{'lr': 0.5}}]")


# --- random search ---------------------------------------------------------------

SPACE = {
    "lr": ("loguniform", 1e-5, 1e-1),
    "dropout": ("uniform", 0.1, 0.5),
    "hidden": ("choice", [16, 32, 64, 128]),
}
DRAWS = 4000


@check("sample_config: values within bounds, lr log-uniform (same share per decade), choices uniform", task="random")
def sampling(ctx):
    tuning = ctx.load("tuning")
    rng = np.random.default_rng(ctx.seed)
    configs = [tuning.sample_config(SPACE, rng) for _ in range(DRAWS)]
    first = configs[0]
    expect_type(first, dict, "sample_config(space, rng)")
    expect(set(first) == set(SPACE), f"sample_config returned the keys {sorted(first)}; expected {sorted(SPACE)}")
    lr = np.array([float(c["lr"]) for c in configs])
    drop = np.array([float(c["dropout"]) for c in configs])
    hidden = [c["hidden"] for c in configs]
    expect(len(set(lr.tolist())) > DRAWS // 2, f"only {len(set(lr.tolist()))} distinct lr values in {DRAWS} draws: "
                                                "draw from the rng you are given, every call")
    lo, hi = SPACE["lr"][1:]
    outside = lr[(lr < lo) | (lr > hi)]
    if len(outside):
        fail(f"{len(outside)} of {DRAWS} lr values fall outside [{lo:g}, {hi:g}] (e.g. {outside[0]:.3g}): "
             "sample the exponent between log(low) and log(high)")
    # Log-uniform on [1e-5, 1e-1]: each of the 4 decades holds 1/4 of the draws, ± 5σ with
    # σ = √(0.25·0.75/4000) = 0.0068. Uniform in linear space puts 90% in the top decade.
    decades = np.histogram(np.log10(lr), bins=[-5, -4, -3, -2, -1])[0] / DRAWS
    sd = math.sqrt(0.25 * 0.75 / DRAWS)
    shown = ", ".join(f"[1e{e}, 1e{e + 1}]: {f:.1%}" for e, f in zip(range(-5, -1), decades))
    if decades[-1] > 0.8:
        fail(f"lr is not log-uniform: share of draws per decade {shown}. Almost all land in the top decade, which "
             "is what uniform sampling in linear space does; draw u uniform in [log(low), log(high)] and take exp(u)")
    if np.abs(decades - 0.25).max() > SIGMAS * sd:
        fail(f"lr is not log-uniform: share of draws per decade {shown}; each should be 25% ± {SIGMAS * sd:.1%} "
             f"({SIGMAS}σ, binomial)")
    # Kolmogorov-Smirnov distance of log10(lr) to the uniform on [-5, -1]: at 1e-6 significance it stays
    # below √(ln(2/1e-6)/(2n)) = 0.043 for n = 4000.
    ks = expect_uniform("log10(lr)", np.log10(lr), -5.0, -1.0)
    ctx.metric("KS distance of log10(lr) to uniform", ks, 0.043, higher_is_better=False)
    dlo, dhi = SPACE["dropout"][1:]
    expect(bool(((drop >= dlo) & (drop <= dhi)).all()), f"dropout values fall outside [{dlo}, {dhi}] "
                                                        f"(min {drop.min():.3g}, max {drop.max():.3g})")
    # Uniform on [0.1, 0.5]: half the draws below 0.3, ± 5σ = ± 0.040.
    expect_rate("'uniform' dropout draws below the midpoint 0.3", int((drop < 0.3).sum()), DRAWS, 0.5,
                advice="Is it sampled log-uniformly?")
    options = SPACE["hidden"][1]
    strange = [h for h in hidden if h not in options]
    if strange:
        hint = " (an index, not the option?)" if all(isinstance(h, (int, np.integer)) and 0 <= h < len(options) for h in strange) else ""
        fail(f"hidden = {strange[0]!r} is not one of the options {options}{hint}")
    for opt in options:
        if opt not in hidden:
            fail(f"the option hidden={opt} was never chosen in {DRAWS} draws: an off-by-one in the index "
                 "(rng.integers(len(options)) already excludes len(options))")
    for opt in options:
        expect_rate(f"hidden={opt} chosen", hidden.count(opt), DRAWS, 1 / len(options),
                    advice="Each option must be equally likely: options[rng.integers(len(options))].")


@check("random_configs: n configs, the same list for the same seed, a different one for another seed", task="random")
def reproducible(ctx):
    tuning = ctx.load("tuning")
    a = tuning.random_configs(SPACE, 20, seed=ctx.seed)
    expect_type(a, list, "random_configs(space, n, seed)")
    expect(len(a) == 20, f"random_configs(space, n=20, seed) returned {len(a)} configs")
    np.random.seed(12345)
    torch.manual_seed(12345)
    b = tuning.random_configs(SPACE, 20, seed=ctx.seed)
    if a != b:
        fail("random_configs gave two different lists for the same seed: build np.random.default_rng(seed) "
             "and draw from it (not from np.random.* or random.* global state)")
    if len({key_of(c) for c in a}) == 1:
        fail("random_configs returned 20 identical configs: the generator is re-created inside the loop, so every "
             "config starts from the same seed. Create it once, before the loop")
    expect(len({float(c["lr"]) for c in a}) == 20, "some of the 20 random configs share the same lr: draw each from the generator")
    c = tuning.random_configs(SPACE, 20, seed=ctx.seed + 1)
    expect(c != a, "random_configs gave the same list for two different seeds: the seed is ignored")


# --- budget and results -------------------------------------------------------------


@check("run_search evaluates the configs in order and never more than the budget", task="budget")
def budget(ctx):
    tuning = ctx.load("tuning")
    configs = [{"lr": 10.0 ** -k, "hidden": 8 * (k + 1)} for k in range(8)]
    for limit in (5, 8, 12, 0):
        calls = []

        def evaluate(config):
            calls.append(config)
            return {"train_loss": 1.0 / (1 + len(calls)), "val_loss": 2.0 / (1 + len(calls))}

        results = tuning.run_search(configs, evaluate, limit)
        expect_type(results, list, "run_search(...)")
        want = min(limit, len(configs))
        if len(calls) != want:
            extra = ""
            if len(calls) == want + 1:
                extra = " (an off-by-one: the budget counts evaluations, stop when you have done `budget`)"
            elif len(calls) == 2 * want:
                extra = " (evaluate is called twice per config: call it once and keep its dict)"
            elif len(calls) == len(configs) and limit < len(configs):
                extra = " (the budget is ignored)"
            fail(f"with {len(configs)} configs and budget {limit}, run_search called evaluate {len(calls)} times; "
                 f"expected {want}{extra}")
        expect(calls == configs[:want], f"run_search (budget {limit}) evaluated the configs out of order or not the "
                                        "first ones: go through the list from the start")
        expect(len(results) == want, f"run_search (budget {limit}) returned {len(results)} records for {want} evaluations")
        for k, record in enumerate(results):
            expect_type(record, dict, f"record {k} of run_search")
            expect(record.get("config") == configs[k],
                   f"record {k} has config {record.get('config')}; expected {configs[k]} (key 'config')")
            for metric, value in (("train_loss", 1.0 / (2 + k)), ("val_loss", 2.0 / (2 + k))):
                expect(metric in record, f"record {k} has no '{metric}': merge evaluate's dict into the record "
                                         "({'config': config, **metrics})")
                expect(abs(record[metric] - value) < 1e-12,
                       f"record {k}['{metric}'] is {record[metric]}; evaluate returned {value} for that config")


# Train and validation losses that disagree: the lowest training loss (index 0) overfits.
RESULTS = [
    {"config": {"lr": 0.3, "hidden": 256}, "train_loss": 0.01, "val_loss": 0.90, "val_acc": 0.71},
    {"config": {"lr": 1e-4, "hidden": 16}, "train_loss": 1.05, "val_loss": 1.10, "val_acc": 0.40},
    {"config": {"lr": 0.01, "hidden": 64}, "train_loss": 0.20, "val_loss": 0.31, "val_acc": 0.88},
    {"config": {"lr": 0.03, "hidden": 64}, "train_loss": 0.12, "val_loss": 0.35, "val_acc": 0.91},
    {"config": {"lr": 0.1, "hidden": 128}, "train_loss": 0.05, "val_loss": 0.60, "val_acc": 0.80},
]


def describe(record):
    return f"{record['config']} (train_loss {record['train_loss']}, val_loss {record['val_loss']}, val_acc {record['val_acc']})"


@check("best_result picks by the validation metric: lowest val_loss, highest val_acc, not the training loss", task="best")
def best(ctx):
    tuning = ctx.load("tuning")
    results = [dict(r) for r in RESULTS]
    order = [id(r) for r in results]
    got = tuning.best_result(results)
    expect_type(got, dict, "best_result(results)")
    expect([id(r) for r in results] == order, "best_result reordered the results list (sorted in place?); leave "
                                              "it as it is: the order is the history of the search")
    if got == RESULTS[0]:
        fail(f"best_result(results) chose {describe(got)}: the lowest TRAINING loss. That model overfits; the "
             "winner is the one with the lowest validation loss")
    if got == RESULTS[1]:
        fail(f"best_result(results) chose {describe(got)}: the HIGHEST validation loss. Loss is better when lower: min, not max")
    expect(got == RESULTS[2], f"best_result(results) chose {describe(got)}; expected {describe(RESULTS[2])}, "
                              "the lowest val_loss")
    got = tuning.best_result(results, metric="val_acc", mode="max")
    if got == RESULTS[1]:
        fail(f"best_result(results, 'val_acc', 'max') chose {describe(got)}, the LOWEST accuracy; expected "
             f"{describe(RESULTS[3])}: mode='max' must take the largest value")
    if got == RESULTS[2]:
        fail(f"best_result(results, 'val_acc', 'max') chose {describe(got)}, the lowest val_loss; expected "
             f"{describe(RESULTS[3])}, the highest val_acc: use the metric you are given")
    expect(got == RESULTS[3], f"best_result(results, 'val_acc', 'max') chose {describe(got)}; expected {describe(RESULTS[3])}")
    got = tuning.best_result(results, metric="train_loss", mode="min")
    expect(got == RESULTS[0], f"best_result(results, 'train_loss', 'min') chose {describe(got)}; expected {describe(RESULTS[0])}")


# --- end to end ------------------------------------------------------------------


def spiral_data(ctx):
    """Three spirals, 300 training and 150 validation points, on ctx.device."""
    X, y = data.spirals(ctx.rng, n=450, classes=3, noise=0.2)
    perm = ctx.rng.permutation(len(y))
    X, y = data.to_tensors(X[perm], y[perm], ctx.device)
    return {"X_train": X[:300], "y_train": y[:300], "X_val": X[300:], "y_val": y[300:]}


@check("train_and_evaluate uses the config (lr, hidden) and reports train/val loss, val accuracy, size", task="train")
def train_eval(ctx):
    tuning = ctx.load("tuning")
    d = spiral_data(ctx)
    good = tuning.train_and_evaluate({"lr": 0.05, "hidden": 64}, d)
    expect_type(good, dict, "train_and_evaluate(config, data)")
    for key in ("train_loss", "val_loss", "val_acc", "params"):
        expect(key in good, f"train_and_evaluate returned the keys {sorted(good)}; '{key}' is missing")
        expect(isinstance(good[key], (int, float)) and math.isfinite(good[key]),
               f"train_and_evaluate(...)['{key}'] is {good[key]!r}; expected a finite Python number (.item())")
    expect(0.0 <= good["val_acc"] <= 1.0, f"val_acc is {good['val_acc']}; an accuracy lies between 0 and 1")
    expect(good["params"] == 6 * 64 + 3,
           f"params is {good['params']} for hidden=64; Linear(2, 64) + Linear(64, 3) have {6 * 64 + 3}")
    small = tuning.train_and_evaluate({"lr": 0.05, "hidden": 16}, d)
    expect(small["params"] == 6 * 16 + 3,
           f"params is {small['params']} for hidden=16 (expected {6 * 16 + 3}): is config['hidden'] used?")
    slow = tuning.train_and_evaluate({"lr": 1e-5, "hidden": 64}, d)
    # Calibration (reference, seeds 0-9): val_acc with lr=0.05, hidden=64: 0.967-1.0 (threshold 0.85);
    # val_loss with lr=1e-5 minus with lr=0.05: 0.93-1.10 (threshold 0.5); train_loss 0.034-0.061 (threshold 0.5).
    expect_metric(ctx, "val_acc (lr=0.05, hidden=64)", good["val_acc"], 0.85)
    gap = slow["val_loss"] - good["val_loss"]
    ctx.metric("val_loss(lr=1e-5) - val_loss(lr=0.05)", gap, 0.5)
    expect(gap >= 0.5, f"val_loss is {slow['val_loss']:.3f} with lr=1e-5 and {good['val_loss']:.3f} with lr=0.05: "
                       "the learning rate seems to be ignored (use config['lr'] in the optimizer)")
    expect(good["train_loss"] < 0.5, f"train_loss after training with lr=0.05 is {good['train_loss']:.3f}; is it "
                                     "measured after training, on the training set?")


@check("an end-to-end random search on spirals: budget kept, best by validation, within time", task="train")
def end_to_end(ctx):
    tuning = ctx.load("tuning")
    d = spiral_data(ctx)
    # Every config of this space trains well (calibration: the corners lr 0.03/0.3 x hidden 32/64 reach
    # val_acc 0.92-1.0 on seeds 0-9), so the threshold holds whatever order a learner's sampler draws in.
    space = {"lr": ("loguniform", 3e-2, 3e-1), "hidden": ("choice", [32, 64])}
    count = [0]

    def evaluate(config):
        count[0] += 1
        return tuning.train_and_evaluate(config, d)

    t0 = time.perf_counter()
    configs = tuning.random_configs(space, 8, seed=ctx.seed)
    results = tuning.run_search(configs, evaluate, budget=5)
    best = tuning.best_result(results, metric="val_loss", mode="min")
    seconds = time.perf_counter() - t0
    expect(count[0] == 5, f"the search trained {count[0]} models with budget 5")
    ctx.curve("val_acc per trial", [r["val_acc"] for r in results])
    ctx.curve("val_loss per trial", [r["val_loss"] for r in results])
    lowest = min(r["val_loss"] for r in results)
    expect(best["val_loss"] == lowest, f"the best record has val_loss {best['val_loss']:.4f}, but a trial reached {lowest:.4f}")
    # Calibration (reference, seeds 0-9): best val_acc 0.973-1.0 (threshold 0.8); 0.19-0.43 s on one CPU thread
    # of a busy 2-core machine (threshold 20 s: it catches a search that trains far more than it should).
    expect_metric(ctx, "best val_acc of the search", best["val_acc"], 0.8)
    expect_metric(ctx, "search time (s)", seconds, 20.0, higher_is_better=False, unit=" s")

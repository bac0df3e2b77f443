"""Check: a reproducible split, learning curves, the generalisation gap, the overfit-epoch detector."""

import copy

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, Subset, TensorDataset, random_split

from tutor.checking import check, evaluate, expect, expect_close, expect_metric, expect_type, fail, fit
from tutor.checking.digits import SyntheticDigits

# The tiny-train-set run: 100 training and 400 validation digits, an MLP 784-256-256-10,
# Adam 1e-3, batches of 20, 30 epochs. Reference solution, seeds 0..7 (CPU):
#   final train accuracy:               1.000 in every seed                    -> threshold 0.95
#   loss gap (val - train), last epoch: 1.31 1.51 1.76 1.67 1.46 1.57 1.67 1.41 -> threshold 0.8
#   accuracy gap (train - val):         .325 .340 .385 .373 .365 .368 .358 .350 -> threshold 0.2
#   val loss rise, minimum to last:     .256 .382 .418 .411 .413 .381 .449 .209 -> threshold 0.1
#   overfit_epoch(patience 3, window 3), 1-based: 10 7 7 7 6 7 7 8 (reported, not graded)
LOSS_GAP_THRESHOLD = 0.8
ACC_GAP_THRESHOLD = 0.2
VAL_RISE_THRESHOLD = 0.1


# ----------------------------------------------------------------------------------------- helpers


def indices_of(subset, name: str) -> list[int]:
    expect_type(subset, Subset, name)
    return [int(i) for i in torch.as_tensor(subset.indices).tolist()]


class Numbers(torch.utils.data.Dataset):
    """Item i is i: a split of it shows exactly which indices went where."""

    def __init__(self, n: int):
        self.n = n

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> int:
        return i


def reference_detector(val_losses, patience: int, window: int, min_delta: float,
                       centred: bool = False, stop_epoch: bool = False, strict_after: bool = False,
                       ties_improve: bool = False, ignore_delta: bool = False) -> int | None:
    """The specified detector, and (through the flags) the classic wrong variants."""
    v = np.asarray(val_losses, dtype=np.float64)
    n = len(v)
    if centred:
        half = window // 2
        s = [float(v[max(0, t - half): t + window - half].mean()) for t in range(n)]
    else:
        s = [float(v[max(0, t - window + 1): t + 1].mean()) for t in range(n)]
    delta = 0.0 if ignore_delta else min_delta
    best, best_t, bad = float("inf"), None, 0
    for t, value in enumerate(s):
        better = value <= best - delta if ties_improve else value < best - delta
        if better:
            best, best_t, bad = value, t, 0
        else:
            bad += 1
            if (bad > patience) if strict_after else (bad == patience):
                return t if stop_epoch else best_t
    return None


VARIANTS = {
    "centred": "your smoothing looks centred (it averages epochs after t too); use a trailing window "
               "values[t - window + 1 : t + 1]: during training the future epochs do not exist yet",
    "stop_epoch": "you returned the epoch where the patience ran out; return the epoch of the best "
                  "(lowest smoothed) validation loss: the model to keep is the one from that epoch",
    "strict_after": "off by one: you wait patience + 1 epochs without improvement; stop when the "
                    "count of epochs without improvement reaches patience",
    "ties_improve": "an epoch that only equals the best counts as an improvement in your detector; "
                    "it must be strictly lower (value < best - min_delta)",
    "ignore_delta": "min_delta is ignored: an improvement counts only when the smoothed loss drops "
                    "below best - min_delta",
}


def smoothed_of(curve, window: int) -> list[float]:
    v = np.asarray(curve, dtype=np.float64)
    return [float(v[max(0, t - window + 1): t + 1].mean()) for t in range(len(v))]


def expect_detector(od, cases) -> None:
    """The learner's overfit_epoch must equal the specified detector on every case.

    cases: (curve, patience, window, min_delta, description). On a mismatch, a classic
    variant is named only when it reproduces the learner's answers on every case.
    """
    got_all, want_all = [], []
    for curve, patience, window, min_delta, what in cases:
        got = od.overfit_epoch([float(v) for v in curve], patience=patience, window=window, min_delta=min_delta)
        expect(got is None or isinstance(got, (int, np.integer)) and not isinstance(got, bool),
               f"overfit_epoch() returned {got!r} ({type(got).__name__}); expected an int epoch or None")
        got_all.append(None if got is None else int(got))
        want_all.append(reference_detector(curve, patience, window, min_delta))
    wrong = [i for i, (g, w) in enumerate(zip(got_all, want_all)) if g != w]
    if not wrong:
        return
    i = wrong[0]
    curve, patience, window, min_delta, what = cases[i]
    call = f"overfit_epoch({what}, patience={patience}, window={window}, min_delta={min_delta})"
    head = f"{call} returned {got_all[i]}; expected {want_all[i]}"
    if len(wrong) > 1:
        head += f" ({len(wrong)} of {len(cases)} curves disagree)"

    def explains(variant) -> bool:
        return all(variant(c, p, w, d) == g for (c, p, w, d, _), g in zip(cases, got_all))

    for flag, message in VARIANTS.items():
        if explains(lambda c, p, w, d, flag=flag: reference_detector(c, p, w, d, **{flag: True})):
            fail(f"{head}: {message}")
    if explains(lambda c, p, w, d: reference_detector(c, p, 1, d)):
        fail(f"{head}: your detector does not smooth (window={window} means s[t] = the mean of the "
             "last `window` losses up to and including epoch t)")
    offline = [j for j in wrong if got_all[j] is not None]
    if offline and all(got_all[j] in (int(np.argmin(cases[j][0])), int(np.argmin(smoothed_of(cases[j][0], cases[j][2]))))
                       for j in offline):
        fail(f"{head}: it is the epoch of the lowest loss over the whole curve. The detector decides while "
             "training runs: when its patience first runs out it returns the best epoch so far; a lower "
             "value that comes later is never seen")
    fail(head)


# The worked example of the lesson: window 1 stops at the blip (epoch 1), window 3 at epoch 7.
LESSON_CURVE = [1.00, 0.80, 0.84, 0.86, 0.70, 0.64, 0.62, 0.66, 0.71, 0.77]


def u_curve(n: int, turn: int, low: float = 0.5) -> list[float]:
    """A clean validation curve that falls to `low` at epoch `turn` and then rises."""
    t = np.arange(n)
    return list(low + 0.01 * (t - turn) ** 2)


# ----------------------------------------------------------------------------------------- split


@check("split_dataset(): 80/20 sizes, no overlap, every example used once", task="split")
def split_sizes(ctx):
    od = ctx.load("overfitting")
    data = Numbers(1003)
    result = od.split_dataset(data, train_fraction=0.8, seed=ctx.seed)
    expect(isinstance(result, (tuple, list)) and len(result) == 2,
           f"split_dataset() returned {type(result).__name__}; expected a (train, val) tuple")
    train, val = result
    ti, vi = indices_of(train, "the training part"), indices_of(val, "the validation part")
    if (len(ti), len(vi)) == (803, 200):
        fail("sizes are 803 and 200: that is random_split(ds, [0.8, 0.2]), which rounds its own way. "
             "Compute train_size = int(train_fraction * len(dataset)) = 802 and val_size = len - train_size = 201")
    if (len(ti), len(vi)) == (201, 802):
        fail("sizes are 201 and 802: train and validation are swapped (train first, 80% of the data)")
    expect((len(ti), len(vi)) == (802, 201),
           f"sizes are {len(ti)} and {len(vi)} for 1003 examples; expected int(0.8 * 1003) = 802 and 1003 - 802 = 201")
    both = set(ti) & set(vi)
    expect(not both, f"{len(both)} example(s) are in both parts, e.g. index {min(both) if both else ''}: "
           "a validation example seen in training makes the validation score a lie")
    expect(set(ti) | set(vi) == set(range(1003)), "some examples are in neither part")
    expect(len(set(ti)) == len(ti), "the training part holds some example twice")
    if ti == list(range(802)):
        fail("the training part is the first 80% of the dataset in order: split at random "
             "(a dataset stored sorted by class would leave whole classes out of training)")


@check("split_dataset() is reproducible for a seed: random_split with a seeded torch.Generator", task="split")
def split_reproducible(ctx):
    od = ctx.load("overfitting")
    data = Numbers(200)
    torch.manual_seed(1)
    a_train, a_val = od.split_dataset(data, train_fraction=0.8, seed=7)
    torch.manual_seed(2)  # a different global state must not matter
    b_train, b_val = od.split_dataset(data, train_fraction=0.8, seed=7)
    a, b = indices_of(a_train, "the training part"), indices_of(b_train, "the training part")
    if a != b:
        fail("the same seed gave two different splits (the global random state differed between the "
             "calls): give random_split its own generator=torch.Generator().manual_seed(seed)")
    c = indices_of(od.split_dataset(data, train_fraction=0.8, seed=8)[0], "the training part")
    expect(a != c, "seeds 7 and 8 gave the same split: use the seed argument for the generator")
    want_train, want_val = random_split(data, [160, 40], generator=torch.Generator().manual_seed(7))
    expect(a == list(want_train.indices) and indices_of(a_val, "the validation part") == list(want_val.indices),
           "your split is reproducible but not the one random_split(dataset, [train_size, val_size], "
           "generator=torch.Generator().manual_seed(seed)) gives; use exactly that call")


# ----------------------------------------------------------------------------------------- curves


def small_setup(seed: int, device: torch.device):
    x, y = SyntheticDigits(160, seed=seed + 31).tensors(normalize=True)
    train = DataLoader(TensorDataset(x[:96], y[:96]), batch_size=32, shuffle=False)
    val = DataLoader(TensorDataset(x[96:], y[96:]), batch_size=32, shuffle=False)
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 32), nn.ReLU(), nn.Linear(32, 10)).to(device)
    return model, train, val


def measure(model, loader, device) -> tuple[float, float]:
    """(mean loss per example, accuracy) of the whole loader, in eval mode."""
    return evaluate(model, loader, metric=F.cross_entropy, device=device), evaluate(model, loader, device=device)


def reference_curves(model, train, val, device, epochs: int, train_on=None, before=False, running=False):
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    h = {"train_loss": [], "val_loss": [], "train_acc": [], "val_acc": []}
    for _ in range(epochs):
        if before:
            for key, loader in (("train", train), ("val", val)):
                loss, acc = measure(model, loader, device)
                h[f"{key}_loss"].append(loss)
                h[f"{key}_acc"].append(acc)
        batch_losses = fit(model, train_on if train_on is not None else train, F.cross_entropy, opt, device=device)
        if not before:
            for key, loader in (("train", train), ("val", val)):
                loss, acc = measure(model, loader, device)
                h[f"{key}_loss"].append(loss)
                h[f"{key}_acc"].append(acc)
            if running:
                h["train_loss"][-1] = float(np.mean(batch_losses))
    return h


def same_curves(a: dict, b: dict, tol: float = 1e-4) -> bool:
    return all(np.allclose(a[k], b[k], atol=tol, rtol=1e-4) for k in b)


def yours_expected(got: dict, want: dict, key: str = "val_loss") -> str:
    """'history['val_loss'] yours [2.31, 2.1, 1.9], expected [2.1, 1.9, 1.7]' for a message."""
    show = lambda values: "[" + ", ".join(f"{v:.4g}" for v in values) + "]"  # noqa: E731
    return f"history['{key}'] yours {show(got[key])}, expected {show(want[key])}"


@check("learning_curves() records train/val loss and accuracy after every epoch", task="curves")
def curves_values(ctx):
    od = ctx.load("overfitting")
    device = ctx.device
    model, train, val = small_setup(ctx.seed, device)
    start = copy.deepcopy(model)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    history = od.learning_curves(model, train, val, optimizer, nn.CrossEntropyLoss(), device, epochs=3)
    keys = ["train_loss", "val_loss", "train_acc", "val_acc"]
    expect(isinstance(history, dict) and set(keys) <= set(history),
           f"learning_curves() must return a dict with the keys {keys}")
    for key in keys:
        expect(len(history[key]) == 3, f"history['{key}'] has {len(history[key])} values; expected one per epoch (3)")
        for v in history[key]:
            expect(not isinstance(v, torch.Tensor) and isinstance(v, (float, int)),
                   f"history['{key}'] holds a {type(v).__name__}; record Python floats")
    got = {k: [float(v) for v in history[k]] for k in keys}
    want = reference_curves(copy.deepcopy(start), train, val, device, 3)
    if same_curves(got, want):
        return
    if same_curves(got, reference_curves(copy.deepcopy(start), train, val, device, 3, before=True)):
        fail(f"your curves are one epoch late ({yours_expected(got, want)}): you evaluated before training in each "
             "epoch. Train first, then evaluate, so entry e describes the model after epoch e")
    if same_curves(got, reference_curves(copy.deepcopy(start), train, val, device, 3, train_on=val)):
        fail(f"you trained on the validation loader ({yours_expected(got, want)}): the model must never learn "
             "from validation data, or the validation loss stops measuring generalisation")
    if same_curves(got, reference_curves(copy.deepcopy(start), train, val, device, 3, running=True)):
        fail(f"{yours_expected(got, want, 'train_loss')}: history['train_loss'] is the average of the batch losses "
             "during the epoch (measured while the "
             "weights changed, in training mode). Evaluate the training set after the epoch, like the "
             "validation set, so that the two numbers are comparable")
    for key in keys:
        expect_close(got[key], want[key], f"history['{key}'] (vs train_one_epoch then evaluate on each loader)",
                     atol=1e-4, rtol=1e-4)


@check("generalization_gap(): val - train for the loss, train - val for the accuracy", task="gap")
def gap_values(ctx):
    od = ctx.load("overfitting")
    history = {"train_loss": [1.0, 0.5, 0.25], "val_loss": [1.125, 0.75, 1.0],
               "train_acc": [0.5, 0.75, 1.0], "val_acc": [0.5, 0.625, 0.5]}
    loss_gap = od.generalization_gap(history)
    expect(isinstance(loss_gap, list), f"generalization_gap() returned {type(loss_gap).__name__}; expected a list")
    want = [0.125, 0.25, 0.75]
    if np.allclose(loss_gap, [-w for w in want]):
        fail(f"generalization_gap(history) is {loss_gap}: the sign is flipped. For the loss the gap is "
             "val_loss - train_loss (positive when the model does worse on unseen data)")
    expect_close(loss_gap, want, "generalization_gap(history) (the loss gap)", atol=1e-12)
    acc_gap = od.generalization_gap(history, metric="acc")
    want_acc = [0.0, 0.125, 0.5]
    if np.allclose(acc_gap, [-w for w in want_acc]):
        fail(f"generalization_gap(history, 'acc') is {acc_gap}: the sign is flipped. For the accuracy "
             "the gap is train_acc - val_acc (higher is better for accuracy, so the order turns round)")
    expect_close(acc_gap, want_acc, "generalization_gap(history, metric='acc')", atol=1e-12)


# ----------------------------------------------------------------------------------------- detector


@check("overfit_epoch() finds the turn of clean validation curves", task="detector")
def detector_clean(ctx):
    od = ctx.load("overfitting")
    u = u_curve(25, 10)
    late = u_curve(14, 10)  # the minimum is at epoch 10 and only 3 epochs follow it
    bump = u_curve(12, 5) + [0.4 - 0.02 * i for i in range(8)]  # turns up at 5, later falls lower
    cases = [
        (u, 3, 1, 0.0, "U-shaped curve, minimum at epoch 10"),
        (u, 3, 3, 0.0, "the same curve"),
        (list(2.0 * 0.9 ** np.arange(20)), 3, 3, 0.0, "a curve that keeps falling"),
        (late, 3, 1, 0.0, "a curve with 3 epochs after its minimum"),
        (late, 4, 1, 0.0, "a curve with 3 epochs after its minimum"),
        (bump, 3, 1, 0.0, "a curve that rises, then falls lower"),
        # exact binary fractions, so that the tie is a tie whatever the summation order
        ([1.0, 0.75, 0.75, 0.75, 0.75, 0.75, 0.75], 3, 1, 0.0, "a curve that stops moving at epoch 1"),
        (list(1.0 - 0.001 * np.arange(15)), 4, 1, 0.01, "a curve falling by 0.001 per epoch"),
        (LESSON_CURVE, 2, 1, 0.0, "the lesson's example"),
        (LESSON_CURVE, 2, 3, 0.0, "the lesson's example"),
    ]
    expect_detector(od, cases)


@check("overfit_epoch() with smoothing and patience on noisy validation curves", task="detector")
def detector_noisy(ctx):
    od = ctx.load("overfitting")
    rng = ctx.rng
    cases = []
    for i in range(150):
        n = int(rng.integers(15, 40))
        turn = int(rng.integers(3, n))
        t = np.arange(n)
        curve = 0.4 + 1.5 * np.exp(-t / rng.uniform(2, 6)) + rng.uniform(0.005, 0.03) * np.maximum(0, t - turn)
        curve = curve + rng.normal(0.0, rng.uniform(0.005, 0.05), size=n)
        patience = int(rng.choice([1, 2, 3, 5]))
        window = int(rng.choice([1, 2, 3, 5]))
        min_delta = float(rng.choice([0.0, 0.0, 0.01]))
        cases.append((list(curve), patience, window, min_delta, f"noisy curve #{i} ({n} epochs)"))
    expect_detector(od, cases)


# ----------------------------------------------------------------------------------------- tiny train set


@check("a tiny training set overfits: a wide train/val gap and a validation loss that turns up", task="gap")
def tiny_train_set(ctx):
    od = ctx.load("overfitting")
    device = ctx.device
    full = SyntheticDigits(500, seed=ctx.seed + 20)
    train, val = od.split_dataset(full, train_fraction=0.2, seed=ctx.seed)
    expect((len(train), len(val)) == (100, 400),
           f"split_dataset(500 digits, train_fraction=0.2) gave {len(train)} and {len(val)}; expected 100 and 400")
    px = full.data.double() / 255.0
    mean, std = px.mean().item(), px.std().item()
    full.transform = lambda t: (t - mean) / std
    torch.manual_seed(ctx.seed)
    train_loader = DataLoader(train, batch_size=20, shuffle=True)
    val_loader = DataLoader(val, batch_size=200)
    model = od.make_mlp(256, 2).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    history = od.learning_curves(model, train_loader, val_loader, optimizer, nn.CrossEntropyLoss(), device, epochs=30)
    for key in ("train_loss", "val_loss", "train_acc", "val_acc"):
        ctx.curve(key.replace("_", " "), history[key], start=1)
    loss_gap = float(od.generalization_gap(history)[-1])
    acc_gap = float(od.generalization_gap(history, metric="acc")[-1])
    val_loss = np.asarray(history["val_loss"], dtype=float)
    turn = od.overfit_epoch(list(val_loss), patience=3, window=3)
    if turn is not None:
        ctx.metric("epoch where the val loss turns up (1-based)", turn + 1)
    expect_metric(ctx, "final train accuracy", float(history["train_acc"][-1]), 0.95)
    expect_metric(ctx, "loss gap (val - train)", loss_gap, LOSS_GAP_THRESHOLD)
    expect_metric(ctx, "accuracy gap (train - val)", acc_gap, ACC_GAP_THRESHOLD)
    rise = float(val_loss[-1] - val_loss.min())
    expect_metric(ctx, "val loss rise from its minimum", rise, VAL_RISE_THRESHOLD)

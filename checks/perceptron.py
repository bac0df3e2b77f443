"""Check: the step function, predict, the perceptron learning rule, training, XOR."""

from __future__ import annotations

import numpy as np

from tutor.checking import check, data, expect, expect_close, expect_match, expect_metric, expect_shape, fail

# The hand-worked AND run of the lesson: w = 0, b = 0, lr = 1, rows in order, step(0) = 1.
AND_HISTORY = [2, 3, 3, 2, 1, 0]
AND_W = [2.0, 1.0]
AND_B = -3.0

# Blobs: two Gaussian clusters 4 apart (spread 0.5), shifted off the origin so the bias
# has to do real work. Calibration of the reference train() (epochs to the first
# error-free epoch) over seeds 0..299: median 3, worst ten 15 16 17 18 18 18 21 22 37 58;
# seeds 0..4: 5 2 3 4 4. The budget of 200 epochs is more than 3x the worst of 300 seeds.
BLOB_SHIFT = np.array([3.0, 2.0], dtype=np.float32)
BLOB_EPOCHS = 200
XOR_EPOCHS = 100
EXACT = dict(atol=1e-9, rtol=1e-5)  # as np.allclose(atol=1e-9): a right float64 answer is exact to ~1e-15


# ---------------------------------------------------------------- references

def ref_step(z, at_zero: int = 1):
    z = np.asarray(z, dtype=np.float64)
    return np.where(z > 0, 1, np.where(z == 0, at_zero, 0)).astype(np.int64)


def ref_train(X, y, lr=1.0, max_epochs=100, at_zero=1, count_after=False, stop=True):
    """The reference perceptron, with switches that reproduce classic mistakes."""
    w = np.zeros(X.shape[1])
    b = 0.0
    history = []
    for _ in range(max_epochs):
        mistakes = 0
        for xi, yi in zip(X.astype(np.float64), y):
            y_hat = int(ref_step(w @ xi + b, at_zero))
            if not count_after and y_hat != yi:
                mistakes += 1
            w = w + lr * (yi - y_hat) * xi
            b = b + lr * (yi - y_hat)
            if count_after and int(ref_step(w @ xi + b, at_zero)) != yi:
                mistakes += 1
        history.append(mistakes)
        if stop and mistakes == 0:
            break
    return w, b, history


def short(history: list[int], head: int = 12) -> str:
    """A history list, cut after `head` entries so messages stay readable."""
    if len(history) <= head:
        return str(history)
    return f"[{', '.join(map(str, history[:head]))}, ...] ({len(history)} epochs)"


def blobs_data(rng):
    X, y = data.blobs(rng, n=200, centers=2, features=2, spread=0.5, distance=2.0)
    return X + BLOB_SHIFT, y


def as_history(history, where: str) -> list[int]:
    expect(isinstance(history, (list, tuple, np.ndarray)),
           f"{where}: history is a {type(history).__name__}; expected a list with the number of mistakes per epoch")
    try:
        return [int(h) for h in history]
    except (TypeError, ValueError):
        fail(f"{where}: history should hold one integer per epoch (the mistakes in that epoch); got {history!r:.200}")


def unpack_train(result, d: int, where: str):
    expect(isinstance(result, tuple) and len(result) == 3,
           f"{where} returned {type(result).__name__}; expected a tuple (w, b, history)")
    w, b, history = result
    expect_shape(np.asarray(w), (d,), f"{where}: w")
    expect(np.ndim(b) == 0, f"{where}: b has shape {np.shape(b)}; it should be a single number (a float)")
    return np.asarray(w, dtype=np.float64), float(b), as_history(history, where)


def accuracy(model, X, y, w, b) -> float:
    pred = np.asarray(model.predict(X, w, b)).reshape(-1)
    return float(np.mean(pred == y))


# ---------------------------------------------------------------- step / predict

@check("step() is 0 below zero and 1 from zero up (step(0) = 1)", task="step")
def step_values(ctx):
    model = ctx.load("perceptron")
    z = np.array([-3.0, -0.5, -1e-9, 0.0, 1e-9, 0.5, 4.0])
    out = model.step(z)
    expect_shape(np.asarray(out), z.shape, "step(z) for z of shape (7,)")
    out = np.asarray(out)
    if np.any(out < 0):
        fail(f"step({z.tolist()}) gave {out.tolist()}: negative outputs mean this is the sign function "
             "(-1/+1); the perceptron's step gives 0 or 1")
    if not np.issubdtype(out.dtype, np.integer):
        fail(f"step(z) returned dtype {out.dtype}; return integers 0/1 (e.g. (z >= 0).astype(np.int64)) "
             "so the predictions compare and subtract cleanly with the int64 labels")
    expect_match(f"step({z.tolist()})", out, ref_step(z), {
        "step(0) is 0, but this course defines step(0) = 1: use z >= 0, not z > 0. (Conventions differ between "
        "books; the checks need one, and the AND run of the lesson uses step(0) = 1.)": ref_step(z, at_zero=0),
    }, atol=0, rtol=0)
    grid = np.array([[-2.0, 0.0, 2.0], [0.25, -0.25, 0.0]])
    out2 = np.asarray(model.step(grid))
    expect_shape(out2, (2, 3), "step(z) for z of shape (2, 3)")
    expect_close(out2, ref_step(grid), "step(z) on a (2, 3) array", atol=0, rtol=0)


@check("predict() gives step(X @ w + b), one label per row", task="predict")
def predict_values(ctx):
    model = ctx.load("perceptron")
    X, y_and = data.gate("and")
    X = X.astype(np.float64)
    w, b = np.array([1.0, 1.0]), -1.5
    pred = np.asarray(model.predict(X, w, b))
    expect_shape(pred, (4,), "predict(X, w, b) for X of shape (4, 2)")
    expect_match("predict() with w = [1, 1], b = -1.5 on the 4 gate inputs (this is AND)", pred, y_and, {
        "it is step(X @ w): the bias b is missing": ref_step(X @ w),
    }, atol=0, rtol=0)
    on_line = np.asarray(model.predict(np.array([[1.0, 1.0]]), np.array([1.0, 1.0]), -2.0)).reshape(-1)
    expect(on_line.shape == (1,) and on_line[0] == 1,
           f"predict([[1, 1]], w=[1, 1], b=-2) gave {on_line.tolist()}: z = 0 exactly, and step(0) = 1")
    Xr = ctx.rng.normal(size=(9, 3))
    wr = ctx.rng.normal(size=3)
    br = float(ctx.rng.normal())
    pred = np.asarray(model.predict(Xr, wr, br))
    expect_shape(pred, (9,), "predict(X, w, b) for X of shape (9, 3), w of shape (3,)", labels=("n",))
    expect_close(pred, ref_step(Xr @ wr + br), "predict() on random X (9, 3), w, b", atol=0, rtol=0)


# ---------------------------------------------------------------- update

def update_mistakes(w, b, x, y, lr):
    """{why: (w_new, b_new)} of the classic wrong perceptron updates."""
    z = float(w @ x + b)
    e = y - int(ref_step(z))
    mistakes = {}
    if z == 0:
        mistakes["you treat z = 0 as class 0 (z > 0); in this course step(0) = 1, so y_hat = 1 here"] = (
            w + lr * (y - 0) * x, b + lr * (y - 0))
    return mistakes | {
        "the sign is flipped (w - lr*(y - y_hat)*x): each update pushes the boundary the wrong way; "
        "the error is y - y_hat, added": (w - lr * e * x, b - lr * e),
        "the bias is not updated: b must move too, b += lr*(y - y_hat)": (w + lr * e * x, b),
        "the learning rate is left out: multiply the change by lr": (w + e * x, b + e),
        RAW_SUM: (w + lr * (y - z) * x, b + lr * (y - z)),
        LABEL_NOT_ERROR: (w + lr * y * x, b + lr * y),
    }


RAW_SUM = ("you used the raw sum z instead of the prediction y_hat = step(z) (that is the delta rule, which "
           "updates even on correct predictions)")
LABEL_NOT_ERROR = "you used y instead of the error (y - y_hat), so it changes w even when the prediction is right"


def call_update(model, w, b, x, y, lr, where):
    result = model.update(w.copy(), b, x.copy(), y, lr)
    expect(isinstance(result, tuple) and len(result) == 2,
           f"{where} returned {type(result).__name__}; expected a tuple (w_new, b_new)")
    w_new, b_new = result
    expect_shape(np.asarray(w_new), w.shape, f"{where}: w_new")
    expect(np.ndim(b_new) == 0, f"{where}: b_new has shape {np.shape(b_new)}; it should be a single number")
    return np.asarray(w_new, dtype=np.float64), float(b_new)


def expect_update(model, w, b, x, y, lr, story):
    where = f"update(w={w.tolist()}, b={b}, x={x.tolist()}, y={y}, lr={lr})"
    w_new, b_new = call_update(model, w, b, x, y, lr, where)
    e = y - int(ref_step(w @ x + b))
    expect_match(f"(w_new, b_new) of {where}, where {story}", (w_new, b_new), (w + lr * e * x, b + lr * e),
                 update_mistakes(w, b, x, y, lr), hint="the rule is w += lr*(y - y_hat)*x, b += lr*(y - y_hat)",
                 **EXACT)


@check("update() applies w += lr*(y - y_hat)*x and b += lr*(y - y_hat) on a mistake", task="update")
def update_on_mistake(ctx):
    model = ctx.load("perceptron")
    w, b = np.array([0.5, -1.0]), 0.2
    # The lesson's worked step: z = 0.5 - 2 + 0.2 = -1.3, y_hat = 0, y = 1, error +1.
    expect_update(model, w, b, np.array([1.0, 2.0]), 1, 0.1,
                  "z = 0.5*1 - 1*2 + 0.2 = -1.3, so y_hat = 0 while y = 1 (error +1)")
    # Predicted 1 where the label is 0: error -1, the weights move away from x.
    expect_update(model, w, b, np.array([2.0, 0.5]), 0, 0.1,
                  "z = 0.5*2 - 1*0.5 + 0.2 = 0.7, so y_hat = 1 while y = 0 (error -1)")
    # z = 0 exactly: step(0) = 1, so a label 0 is a mistake.
    expect_update(model, np.array([1.0, 1.0]), -2.0, np.array([1.0, 1.0]), 0, 0.25,
                  "z = 1 + 1 - 2 = 0, step(0) = 1, so y_hat = 1 while y = 0 (error -1)")
    for _ in range(5):
        w = np.round(ctx.rng.normal(size=4), 3)
        b = round(float(ctx.rng.normal()), 3)
        x = np.round(ctx.rng.normal(size=4), 3)
        y = 1 - int(ref_step(w @ x + b))  # always a mistake
        lr = round(float(ctx.rng.uniform(0.05, 0.9)), 3)
        expect_update(model, w, b, x, y, lr, "the prediction is wrong")


@check("update() changes nothing on a correct prediction and leaves your w argument alone", task="update")
def update_when_right(ctx):
    model = ctx.load("perceptron")
    w, b = np.array([0.5, -1.0]), 0.2
    x, y, lr = np.array([2.0, 0.5]), 1, 0.1
    where = f"update(w={w.tolist()}, b={b}, x={x.tolist()}, y={y}, lr={lr})"
    w_new, b_new = call_update(model, w, b, x, y, lr, where)
    wrong = update_mistakes(w, b, x, y, lr)
    expect_match(f"(w_new, b_new) of {where}, where z = 0.7 gives y_hat = 1 = y (a correct prediction must not "
                 "change anything)", (w_new, b_new), (w, b), {why: wrong[why] for why in (RAW_SUM, LABEL_NOT_ERROR)},
                 hint="the error is 0, so w and b must stay as they are", **EXACT)
    for y in (0, 1):
        w = np.array([0.5, -1.0, 2.0])
        # Both are mistakes (z = -1.5 with y = 1, z = 1.5 with y = 0), so a correct update moves w.
        x = np.array([-1.0, 1.0, 0.0]) if y == 1 else np.array([1.0, 1.0, 1.0])
        kept = w.copy()
        model.update(w, 0.0, x, y, 0.5)
        if not np.array_equal(w, kept):
            fail(f"update() changed the array w that was passed in (from {kept.tolist()} to {w.tolist()}): "
                 "`w += ...` writes into the caller's array. Build a new one instead: w_new = w + lr * error * x")


# ---------------------------------------------------------------- train

@check("train() reproduces the hand-worked AND run of the lesson exactly", task="train")
def train_and_trace(ctx):
    model = ctx.load("perceptron")
    X, y = data.gate("and")
    w, b, history = unpack_train(model.train(X, y, lr=1.0, max_epochs=50), 2, "train(AND, lr=1)")
    if history != AND_HISTORY:
        told = f"train(AND, lr=1, max_epochs=50) gave the mistakes per epoch {short(history)}; expected {AND_HISTORY}"
        no_stop = ref_train(X, y, 1.0, 50, stop=False)[2]
        per_epoch = np.diff([0] + history).tolist()
        if len(history) > 1 and per_epoch == no_stop[:len(per_epoch)] and history != per_epoch:
            fail(f"{told}. The counts only grow: the mistake counter is never reset to 0 at the start of an "
                 f"epoch, so each entry adds the earlier epochs' mistakes (epoch by epoch they are "
                 f"{short(per_epoch)}, and the 0 of epoch {len(AND_HISTORY)} never shows). Set mistakes = 0 "
                 "inside the epoch loop.")
        if history == no_stop or (len(history) > len(AND_HISTORY) and history[:len(AND_HISTORY)] == AND_HISTORY):
            fail(f"{told}. It kept going after epoch {len(AND_HISTORY)}, which had no mistakes: "
                 "stop (break) after the first error-free epoch.")
        if history == ref_train(X, y, 1.0, 50, count_after=True)[2]:
            fail(f"{told}. Looks like you count a mistake after the update, with the new weights: "
                 "compare the prediction made before update() with the label.")
        if history == ref_train(X, y, 1.0, 50, at_zero=0)[2]:
            fail(f"{told}. That is the run with step(0) = 0; this course uses step(0) = 1 (z >= 0).")
        if len(history) > 50:
            fail(f"{told}. It ran {len(history)} epochs although max_epochs=50.")
        fail(f"{told}. Start from w = 0, b = 0, visit the four rows in the order given (no shuffling), "
             "count a mistake when the prediction before the update is wrong, and record one count per epoch.")
    expect_close(w, AND_W, "train(AND, lr=1): final w", atol=1e-9)
    expect_close(b, AND_B, "train(AND, lr=1): final b", atol=1e-9)
    w2, b2, _ = unpack_train(model.train(X, y, lr=0.5, max_epochs=50), 2, "train(AND, lr=0.5)")
    expect_match("train(AND, lr=0.5): final (w, b)", (w2, b2), (np.array([1.0, 0.5]), -1.5), {
        "it is the same w = [2, 1], b = -3 as with lr=1: the learning rate is ignored. Starting from zero, "
        "lr = 0.5 should give exactly half: w = [1, 0.5], b = -1.5": (np.array(AND_W), AND_B),
    }, **EXACT)


@check("train() reaches 100% accuracy on AND, OR and NAND", task="train")
def train_gates(ctx):
    model = ctx.load("perceptron")
    for kind in ("and", "or", "nand"):
        X, y = data.gate(kind)
        # Reference epochs to converge: AND 6, OR 4, NAND 6; budget 30.
        w, b, history = unpack_train(model.train(X, y, lr=1.0, max_epochs=30), 2, f"train({kind.upper()})")
        acc = accuracy(model, X, y, w, b)
        pred = np.asarray(model.predict(X, w, b)).reshape(-1).tolist()
        expect(acc == 1.0, f"after train({kind.upper()}) the perceptron predicts {pred} for the inputs "
               f"(0,0), (0,1), (1,0), (1,1); the labels are {y.tolist()} (accuracy {acc:.0%}). "
               f"{kind.upper()} is linearly separable, so 30 epochs are plenty. Mistakes per epoch: {short(history)}")
        expect(history and history[-1] == 0,
               f"train({kind.upper()}) reached 100% but its history {history} does not end with an error-free epoch")


@check("train() separates two Gaussian blobs: 100% accuracy within 200 epochs", task="train")
def train_blobs(ctx):
    model = ctx.load("perceptron")
    X, y = blobs_data(ctx.rng)
    w, b, history = unpack_train(model.train(X, y, lr=1.0, max_epochs=BLOB_EPOCHS), 2, "train(blobs)")
    ctx.curve("mistakes per epoch (blobs)", history)
    acc = accuracy(model, X, y, w, b)
    if acc < 1.0:
        _, _, ref_hist = ref_train(X, y, 1.0, BLOB_EPOCHS)
        wrong = np.nonzero(np.asarray(model.predict(X, w, b)).reshape(-1) != y)[0]
        ctx.metric("accuracy on the blobs", acc, 1.0)
        fail(f"after training on 200 points in two separable blobs, accuracy is {acc:.1%} "
             f"({len(wrong)} wrong, e.g. row {int(wrong[0])}); the reference perceptron reaches 100% "
             f"after {len(ref_hist)} epochs. Your mistakes per epoch: {short(history)}")
    expect_metric(ctx, "accuracy on the blobs", acc, 1.0)
    expect(history[-1] == 0, f"train(blobs) reached 100% but its history does not end with a 0: {history[-5:]}")


@check("train() never has an error-free epoch on XOR (not linearly separable)", task="train")
def train_xor(ctx):
    model = ctx.load("perceptron")
    X, y = data.gate("xor")
    w, b, history = unpack_train(model.train(X, y, lr=1.0, max_epochs=XOR_EPOCHS), 2, "train(XOR)")
    ctx.curve("mistakes per epoch (XOR)", history)
    acc = accuracy(model, X, y, w, b)
    ctx.metric("accuracy on XOR (at most 75% is possible)", acc, 0.75, higher_is_better=False)
    if 0 in history:
        k = history.index(0)
        fail(f"train(XOR) reports an epoch with 0 mistakes (epoch {k + 1}, history {short(history[:k + 1])}), "
             "which is impossible: no straight line puts (0,1) and (1,0) on one side and (0,0), (1,1) on the "
             "other. Count a mistake whenever predict-before-update differs from the label.")
    expect(len(history) == XOR_EPOCHS,
           f"train(XOR, max_epochs={XOR_EPOCHS}) stopped after {len(history)} epochs without an error-free "
           f"epoch; it should run the whole budget ({XOR_EPOCHS} epochs) and then give up")
    expect(acc < 1.0, f"accuracy on XOR is {acc:.0%}, which a single line cannot reach; check predict()")


@check("epochs_to_converge() counts 6 epochs on AND and says None on XOR", task="converge")
def converge(ctx):
    model = ctx.load("perceptron")
    X, y = data.gate("and")
    n = model.epochs_to_converge(X, y, lr=1.0, max_epochs=50)
    if n == len(AND_HISTORY) - 1:
        fail(f"epochs_to_converge(AND) is {n}; the error-free epoch counts too: the history is "
             f"{AND_HISTORY}, so the answer is {len(AND_HISTORY)}")
    expect(n == len(AND_HISTORY), f"epochs_to_converge(AND, lr=1) is {n!r}; the history is {AND_HISTORY}, "
           f"so it should be {len(AND_HISTORY)}")
    X, y = data.gate("or")
    n = model.epochs_to_converge(X, y, lr=1.0, max_epochs=50)
    expect(n == 4, f"epochs_to_converge(OR, lr=1) is {n!r}; expected 4 (history [2, 2, 1, 0])")
    X, y = data.gate("xor")
    n = model.epochs_to_converge(X, y, lr=1.0, max_epochs=40)
    expect(n is None, f"epochs_to_converge(XOR, max_epochs=40) is {n!r}; a perceptron never converges on XOR "
           "(it is not linearly separable), so return None when the budget runs out")

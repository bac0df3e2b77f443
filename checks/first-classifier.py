"""Check: the whole pipeline on synthetic digits (data, model, training loop, evaluation, saving)."""

import copy
import math
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from tutor.checking import (
    check,
    expect,
    expect_close,
    expect_decreasing,
    expect_dtype,
    expect_initial_loss,
    expect_shape,
    expect_type,
    fail,
    fit,
)
from tutor.checking.digits import SyntheticDigits
from tutor.checking.training import expect_reported_accuracy

# Test accuracy of the reference solution after fit(..., epochs=2) on 4,000 training and
# 1,000 test digits (CPU), seeds 0..7: 0.878 0.850 0.846 0.874 0.855 0.866 0.868 0.852
# (min 0.846). A loop that does not learn stays near 0.10, a broken one well below 0.8;
# 0.80 leaves a margin for other sound choices. (Logistic regression in the same loop
# reaches 0.82-0.84 after 2 epochs: a missing ReLU is caught by the model checks instead.)
ACCURACY_THRESHOLD = 0.80

_DIGITS: dict[tuple[int, int, bool], SyntheticDigits] = {}


def digits(n: int, seed: int, train: bool = True) -> SyntheticDigits:
    """Synthetic digits, made once per run (without a transform: callers copy what they change)."""
    key = (n, seed, train)
    if key not in _DIGITS:
        _DIGITS[key] = SyntheticDigits(n, seed=seed, train=train)
    return _DIGITS[key]


def tensor_loader(n: int, seed: int, batch_size: int) -> DataLoader:
    """A fixed-order loader of normalised digits (no shuffling, so runs can be compared)."""
    x, y = digits(n, seed).tensors(normalize=True)
    return DataLoader(TensorDataset(x, y), batch_size=batch_size, shuffle=False)


def small_mlp(hidden: int = 16, p_drop: float | None = None) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Flatten(), nn.Linear(784, hidden), nn.ReLU()]
    if p_drop is not None:
        layers.append(nn.Dropout(p_drop))
    layers.append(nn.Linear(hidden, 10))
    return nn.Sequential(*layers)


def as_float(value, name: str) -> float:
    if isinstance(value, torch.Tensor):
        fail(f"{name} is a tensor; return a Python float (call .item()): a tensor that still "
             "carries its graph keeps memory alive across the whole epoch")
    expect(isinstance(value, (float, int)), f"{name} is a {type(value).__name__}; expected a Python float")
    return float(value)


def close(a: torch.Tensor, b: torch.Tensor, atol: float = 1e-5) -> bool:
    return a.shape == b.shape and bool(torch.allclose(a.double(), b.double(), atol=atol, rtol=1e-4))


# ----------------------------------------------------------------------------------------- data


@check("pixel_mean_std() gives the mean and std over all pixels, scaled to [0, 1]", task="data")
def mean_std(ctx):
    dig = ctx.load("hello_digits")
    ds = digits(500, ctx.seed + 11)
    result = dig.pixel_mean_std(ds)
    expect(isinstance(result, (tuple, list)) and len(result) == 2,
           f"pixel_mean_std() returned {type(result).__name__}; expected a (mean, std) tuple")
    mean, std = as_float(result[0], "the mean"), as_float(result[1], "the std")
    px = ds.data.double() / 255.0
    want_mean, want_std = px.mean().item(), px.std().item()
    raw = ds.data.double()
    if abs(mean - raw.mean().item()) < 1e-3 * raw.mean().item():
        fail(f"mean is {mean:.4g}: the pixels are still 0..255. Divide by 255 first "
             f"(the images the model sees are in [0, 1]; expected {want_mean:.4f})")
    if abs(mean - want_std) < 1e-4 and abs(std - want_mean) < 1e-4:
        fail(f"mean and std are swapped: yours ({mean:.4f}, {std:.4f}), expected ({want_mean:.4f}, {want_std:.4f}); "
             "return (mean, std)")
    per_image = px.std(dim=(1, 2)).mean().item()
    if abs(std - per_image) < 1e-4 and abs(per_image - want_std) > 1e-3:
        fail(f"std is {std:.4f}, the average of each image's own std; the std over ALL pixels "
             f"at once is {want_std:.4f} (images differ in brightness, and that spread counts too)")
    expect_close(mean, want_mean, "the pixel mean", atol=1e-4, rtol=0)
    expect_close(std, want_std, "the pixel std", atol=1e-4, rtol=0)


@check("make_loaders() batches (64, 1, 28, 28) images, shuffles training, keeps test in order", task="data")
def loaders(ctx):
    dig = ctx.load("hello_digits")
    train, test = digits(300, ctx.seed + 12), digits(100, ctx.seed + 12, train=False)
    result = dig.make_loaders(train, test, batch_size=32)
    expect(isinstance(result, (tuple, list)) and len(result) == 2,
           f"make_loaders() returned {type(result).__name__}; expected (train_loader, test_loader)")
    train_loader, test_loader = result
    expect_type(train_loader, DataLoader, "train_loader")
    expect_type(test_loader, DataLoader, "test_loader")
    images, labels = next(iter(train_loader))
    expect_shape(images, (32, 1, 28, 28), "a batch of images", labels=("batch", "channel", "height", "width"))
    expect_dtype(images, torch.float32, "a batch of images")
    expect_shape(labels, (32,), "a batch of labels")
    expect_dtype(labels, torch.int64, "a batch of labels")
    expect(len(test_loader) == 4,
           f"test_loader has {len(test_loader)} batches for 100 images in batches of 32; expected 4 "
           "(drop_last=True would skip test images: keep it False)")
    test_order = torch.cat([y for _, y in test_loader])
    expect(torch.equal(test_order, test.targets),
           "test_loader changes the order of the test set: use shuffle=False for evaluation "
           "(shuffling cannot help there and makes batch-by-batch results irreproducible)")
    expect(len(train_loader) == 10, f"train_loader has {len(train_loader)} batches for 300 images; expected 10")
    first = torch.cat([y for _, y in train_loader])
    second = torch.cat([y for _, y in train_loader])
    if torch.equal(first, train.targets):
        fail("train_loader gives the training set in its stored order: use shuffle=True, so every "
             "epoch sees the batches in a new random order")
    expect(not torch.equal(first, second),
           "train_loader gives the same order every epoch: shuffle=True reshuffles at every epoch")


# ----------------------------------------------------------------------------------------- model


def net_parameters(net: nn.Module, hidden: int) -> tuple[torch.Tensor, ...]:
    """W1, b1, W2, b2 of the learner's Net, found by shape; fails with what is there instead."""
    params = list(net.parameters())
    shapes = [tuple(p.shape) for p in params]
    wanted = [(hidden, 784), (hidden,), (10, hidden), (10,)]
    if sorted(shapes) != sorted(wanted):
        fail(f"Net(hidden={hidden}) has parameters of shapes {shapes}; expected {wanted} "
             "(nn.Linear(784, hidden) and nn.Linear(hidden, 10))")
    by_shape = {tuple(p.shape): p for p in params}
    return tuple(by_shape[s] for s in wanted)


@check("Net: Flatten, Linear(784, hidden), ReLU, Dropout, Linear(hidden, 10) -> logits (batch, 10)", task="model")
def model_structure(ctx):
    dig = ctx.load("hello_digits")
    torch.manual_seed(ctx.seed)
    net = dig.Net(hidden=32, p_drop=0.5)
    expect_type(net, nn.Module, "Net(hidden=32, p_drop=0.5)")
    net_parameters(net, 32)
    drops = [m for m in net.modules() if isinstance(m, nn.Dropout)]
    expect(len(drops) == 1, f"Net has {len(drops)} nn.Dropout module(s); expected one, after the ReLU "
           "(make it in __init__ as nn.Dropout(p_drop), so model.eval() can switch it off)")
    expect(abs(drops[0].p - 0.5) < 1e-12, f"Net(p_drop=0.5) has nn.Dropout(p={drops[0].p}); pass p_drop through")
    net.eval()
    x = torch.rand(5, 1, 28, 28, generator=ctx.gen)
    out = net(x)
    expect_shape(out, (5, 10), "Net(...)(images of shape (5, 1, 28, 28))", labels=("batch", "classes"))


@check("Net.forward computes the logits, and Dropout is active only in training mode", task="model")
def model_values(ctx):
    dig = ctx.load("hello_digits")
    torch.manual_seed(ctx.seed)
    net = dig.Net(hidden=32, p_drop=0.5)
    W1, b1, W2, b2 = net_parameters(net, 32)
    x = torch.rand(6, 1, 28, 28, generator=ctx.gen)
    net.eval()
    with torch.no_grad():
        out = net(x)
        again = net(x)
        h = F.linear(x.flatten(1), W1, b1)
        want = F.linear(F.relu(h), W2, b2)
        if close(out, F.softmax(want, dim=1)):
            fail("forward returns probabilities (softmax): return the raw logits; "
                 "nn.CrossEntropyLoss applies log-softmax itself, so a softmax here is applied twice")
        if close(out, F.log_softmax(want, dim=1)):
            fail("forward returns log_softmax: return the raw logits; nn.CrossEntropyLoss applies "
                 "log-softmax itself (log_softmax belongs with nn.NLLLoss)")
        if close(out, F.linear(h, W2, b2)):
            fail("forward has no ReLU between the two Linear layers: without it the two layers "
                 "collapse into one linear map")
        expect(torch.equal(out, again),
               "in eval mode two forward passes on the same images differ: dropout is still active. "
               "Use the nn.Dropout module (or F.dropout(x, p, training=self.training))")
        expect_close(out, want, "Net(x) in eval mode (vs Linear -> ReLU -> Linear with your weights)", atol=1e-5)
        net.train()
        a, b = net(x), net(x)
    expect(not torch.equal(a, b),
           "in training mode two forward passes are identical: dropout never drops anything "
           "(is the nn.Dropout used in forward?)")


# ----------------------------------------------------------------------------------------- training


def reference_epoch(model, loader, optimizer, device) -> list[float]:
    return fit(model, loader, F.cross_entropy, optimizer, device=device)


def no_zero_grad_epoch(model, loader, optimizer, device) -> list[float]:
    losses = []
    for x, y in loader:
        x, y = x.to(device), y.to(device)
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


def frozen_losses(model, loader, device) -> list[float]:
    with torch.no_grad():
        return [F.cross_entropy(model(x.to(device)), y.to(device)).item() for x, y in loader]


META = torch.device("meta")  # tensors without data: a batch left on the CPU cannot meet a model there


def expect_batches_moved(run, name: str) -> None:
    """run() calls the learner's function with a model on the 'meta' device and device='meta'.

    A batch not moved with .to(device) meets the model's parameters on another device and PyTorch
    refuses ("Tensor on device meta is not on the expected device cpu"), as it does on a GPU. Code that
    moves everything fails later, at the first .item() (a meta tensor has no values): that is a pass.
    """
    try:
        run()
    except (RuntimeError, NotImplementedError) as exc:
        if isinstance(exc, NotImplementedError) and "meta" not in str(exc).lower():
            raise  # the starter's stub, or the learner's own
        if "meta" in str(exc) and "cpu" in str(exc).lower():
            fail(f"{name} computes with a batch left on the CPU while the model is on `device` (probed with "
                 f"device 'meta'; on a GPU it fails the same way: {exc}). Move every batch: images, labels = "
                 "images.to(device), labels.to(device)")


@check("train_one_epoch() moves every batch to `device`", task="train")
def training_device(ctx):
    dig = ctx.load("hello_digits")
    loader = tensor_loader(64, ctx.seed + 13, batch_size=32)
    model = small_mlp().to(META)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    expect_batches_moved(lambda: dig.train_one_epoch(model, loader, optimizer, nn.CrossEntropyLoss(), META),
                         "train_one_epoch()")


@check("train_one_epoch(): zero_grad, forward, loss, backward, step for every batch", task="train")
def training_loop(ctx):
    dig = ctx.load("hello_digits")
    device = ctx.device
    loader = tensor_loader(256, ctx.seed + 13, batch_size=32)
    torch.manual_seed(ctx.seed)
    model = small_mlp().to(device)
    start = copy.deepcopy(model)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    losses = dig.train_one_epoch(model, loader, optimizer, nn.CrossEntropyLoss(), device)
    expect(isinstance(losses, list), f"train_one_epoch() returned {type(losses).__name__}; expected a list of floats")
    expect(len(losses) == len(loader),
           f"train_one_epoch() returned {len(losses)} losses; the loader has {len(loader)} batches (one loss each)")
    losses = [as_float(v, f"loss {i}") for i, v in enumerate(losses)]

    ref_model = copy.deepcopy(start)
    want = reference_epoch(ref_model, loader, torch.optim.SGD(ref_model.parameters(), lr=0.05, momentum=0.9), device)
    if not close(torch.tensor(losses), torch.tensor(want), atol=1e-4):
        numbers = (f" (batch losses yours {[round(v, 4) for v in losses[:4]]}..., expected "
                   f"{[round(v, 4) for v in want[:4]]}...)")
        acc_model = copy.deepcopy(start)
        acc = no_zero_grad_epoch(acc_model, loader, torch.optim.SGD(acc_model.parameters(), lr=0.05, momentum=0.9), device)
        if close(torch.tensor(losses), torch.tensor(acc), atol=1e-4):
            fail("your losses match a loop without optimizer.zero_grad()" + numbers + ": gradients accumulate in "
                 ".grad from batch to batch, so every step uses the sum of all gradients so far")
        if close(torch.tensor(losses), torch.tensor(frozen_losses(start, loader, device)), atol=1e-4):
            fail("the parameters never changed" + numbers + ": optimizer.step() ran when the gradients were zero "
                 "(zero_grad() between backward() and step(), or step() before backward()?)")
        expect_close(torch.tensor(losses), torch.tensor(want), "the batch losses (vs a reference loop from the same weights)",
                     atol=1e-4, rtol=1e-4)
    for (name, p), q in zip(model.named_parameters(), ref_model.parameters()):
        expect_close(p.detach().cpu(), q.detach().cpu(), f"parameter {name} after one epoch", atol=1e-4, rtol=1e-4)


@check("train_one_epoch() puts the model in training mode first", task="train")
def training_mode(ctx):
    dig = ctx.load("hello_digits")
    device = ctx.device
    loader = tensor_loader(64, ctx.seed + 14, batch_size=32)
    torch.manual_seed(ctx.seed)
    model = small_mlp(p_drop=0.3).to(device)
    model.eval()  # as evaluate() leaves it
    seen: list[bool] = []
    model.register_forward_hook(lambda m, i, o: seen.append(m.training))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    dig.train_one_epoch(model, loader, optimizer, nn.CrossEntropyLoss(), device)
    expect(len(seen) > 0, "train_one_epoch() never called the model")
    expect(all(seen), "model.train() forgotten: the model came in eval mode (as evaluate() leaves it) and "
           "trained that way, so dropout (and batch norm) behaved as at test time. Call model.train() first")


# ----------------------------------------------------------------------------------------- evaluation


@check("evaluate() moves every batch to `device`", task="evaluate")
def evaluation_device(ctx):
    dig = ctx.load("hello_digits")
    model = small_mlp().to(META)
    expect_batches_moved(lambda: dig.evaluate(model, tensor_loader(64, ctx.seed + 15, 32), nn.CrossEntropyLoss(), META),
                         "evaluate()")


@check("evaluate(): mean loss per example and accuracy over the whole test set", task="evaluate")
def evaluation_values(ctx):
    dig = ctx.load("hello_digits")
    device = ctx.device
    torch.manual_seed(ctx.seed)
    model = small_mlp(32).to(device).eval()
    x, y = digits(130, ctx.seed + 15).tensors(normalize=True)
    y = y.clone()
    with torch.no_grad():
        y[-2:] = model(x[-2:].to(device)).argmax(1).cpu()  # the short last batch is all correct
    loader = DataLoader(TensorDataset(x, y), batch_size=64)  # batches of 64, 64 and 2
    result = dig.evaluate(model, loader, nn.CrossEntropyLoss(), device)
    expect(isinstance(result, (tuple, list)) and len(result) == 2,
           f"evaluate() returned {type(result).__name__}; expected a (loss, accuracy) tuple")
    loss, acc = as_float(result[0], "the loss"), as_float(result[1], "the accuracy")
    with torch.no_grad():
        logits = model(x.to(device)).cpu()
        want_loss = F.cross_entropy(logits, y).item()
        want_acc = (logits.argmax(1) == y).double().mean().item()
        batch_acc = sum((logits[i:i + 64].argmax(1) == y[i:i + 64]).double().mean().item() for i in (0, 64, 128)) / 3
        batch_loss = sum(F.cross_entropy(logits[i:i + 64], y[i:i + 64]).item() for i in (0, 64, 128)) / 3
    if abs(acc - 100 * want_acc) < 1e-6:
        fail(f"accuracy is {acc:g}, a percentage; return a fraction in [0, 1] ({want_acc:.4f})")
    if abs(acc - batch_acc) < 1e-6:
        fail(f"accuracy is {acc:.4f}, the average of the per-batch accuracies; the last batch has only 2 "
             f"images and counts as much as a full one. Count correct predictions over all images: {want_acc:.4f}")
    expect_close(acc, want_acc, "the accuracy (correct / total)", atol=1e-6, rtol=0)
    if abs(loss - batch_loss) < 1e-5:
        fail(f"loss is {loss:.4f}, the average of the per-batch mean losses; weight each batch by its size "
             f"(loss.item() * batch_size, summed, divided by the number of images): {want_loss:.4f}")
    expect_close(loss, want_loss, "the mean loss per example", atol=1e-5, rtol=1e-5)


@check("evaluate() runs in eval mode under torch.no_grad() and changes no weight", task="evaluate")
def evaluation_mode(ctx):
    dig = ctx.load("hello_digits")
    device = ctx.device
    loader = tensor_loader(96, ctx.seed + 16, batch_size=32)
    torch.manual_seed(ctx.seed)
    model = small_mlp(32, p_drop=0.5).to(device)
    model.train()  # as train_one_epoch() leaves it
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    seen: list[tuple[bool, bool]] = []
    model.register_forward_hook(lambda m, i, o: seen.append((m.training, torch.is_grad_enabled())))
    result = dig.evaluate(model, loader, nn.CrossEntropyLoss(), device)
    expect(len(seen) > 0, "evaluate() never called the model")
    expect(not any(training for training, _ in seen),
           "eval mode forgotten: the model was in training mode during evaluate(), so dropout dropped "
           "units at random and the accuracy changes from run to run. Call model.eval() first")
    expect(not any(grad for _, grad in seen),
           "torch.no_grad() forgotten: autograd recorded every forward pass of evaluate(), "
           "building graphs nobody uses (memory and time). Wrap the loop in `with torch.no_grad():`")
    for name, p in model.named_parameters():
        if not torch.equal(before[name], p.detach()):
            diff = (before[name] - p.detach()).abs().max().item()
            fail(f"evaluate() changed parameter {name} (max change {diff:.3g}): evaluation must never "
                 "call backward() or optimizer.step()")
        expect(p.grad is None, f"evaluate() left a gradient in {name}.grad: it called backward()")
    for value in (result if isinstance(result, tuple) else ()):
        expect(not (isinstance(value, torch.Tensor) and value.requires_grad),
               "evaluate() returned a tensor that requires grad; return Python floats")


# ----------------------------------------------------------------------------------------- fit


def normalized_sets(seed: int, n_train: int, n_test: int) -> tuple[SyntheticDigits, SyntheticDigits]:
    train = copy.copy(digits(n_train, seed))
    test = copy.copy(digits(n_test, seed, train=False))
    px = train.data.double() / 255.0
    mean, std = px.mean().item(), px.std().item()
    train.transform = test.transform = lambda t: (t - mean) / std
    return train, test


@check("fit(): the training loss falls and the test accuracy on held-out digits is high", task="fit")
def fit_accuracy(ctx):
    dig = ctx.load("hello_digits")
    train, test = normalized_sets(ctx.seed, 4000, 1000)
    torch.manual_seed(ctx.seed)
    result = dig.fit(train, test, ctx.device, epochs=2)
    expect(isinstance(result, (tuple, list)) and len(result) == 2,
           f"fit() returned {type(result).__name__}; expected (model, history)")
    model, history = result
    expect_type(model, nn.Module, "the model fit() returns")
    expect(isinstance(history, dict) and {"train_loss", "test_loss", "test_acc"} <= set(history),
           "history must be a dict with the keys 'train_loss', 'test_loss' and 'test_acc'")
    batches = math.ceil(4000 / 64)
    losses = [as_float(v, "a train_loss entry") for v in history["train_loss"]]
    expect(len(losses) == 2 * batches,
           f"history['train_loss'] has {len(losses)} values; 2 epochs of {batches} batches give {2 * batches}")
    expect(len(history["test_acc"]) == 2 and len(history["test_loss"]) == 2,
           "history['test_loss'] and history['test_acc'] need one value per epoch (2)")
    ctx.curve("train loss", losses)
    ctx.curve("test accuracy", [as_float(v, "a test_acc entry") for v in history["test_acc"]], start=1)
    expect_initial_loss(losses[0], 10, "the first batch's loss")
    expect_decreasing(losses, "the training loss", min_drop=0.5, window=10)

    reported = as_float(history["test_acc"][-1], "history['test_acc'][-1]")
    expect_reported_accuracy(ctx, model, test, reported, "test accuracy", ACCURACY_THRESHOLD)


# ----------------------------------------------------------------------------------------- saving


@check("save_model() writes a state_dict; load_model() rebuilds a Net in eval mode with the same outputs", task="save")
def save_load(ctx):
    dig = ctx.load("hello_digits")
    torch.manual_seed(ctx.seed)
    net = dig.Net(hidden=32)
    path = Path("day08_model.pt").resolve()  # the check runs in a fresh temporary folder
    dig.save_model(net, path)
    expect(path.is_file(), f"save_model(model, path) did not create {path.name}")
    try:
        saved = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:
        fail("the file does not hold a plain state_dict (torch.load(..., weights_only=True) refused it): "
             "you saved the whole module object. Save model.state_dict() instead: it survives "
             "changes to your code and loads safely")
    expect(isinstance(saved, dict),
           f"the file holds a {type(saved).__name__}; expected model.state_dict() (a dict of tensors)")
    want_keys = list(net.state_dict().keys())
    expect(list(saved.keys()) == want_keys,
           f"the saved state_dict has keys {list(saved.keys())}; the model's are {want_keys}")
    loaded = dig.load_model(path, hidden=32)
    expect_type(loaded, dig.Net, "load_model(path)")
    expect(loaded is not net, "load_model() must build a new Net, not return the one you saved")
    expect(not loaded.training, "load_model() returned the model in training mode: call model.eval() "
           "before predicting, or dropout makes every prediction random")
    x = torch.rand(8, 1, 28, 28, generator=ctx.gen)
    net.eval()
    with torch.no_grad():
        mine, theirs = net(x), loaded(x)
        expect(torch.equal(mine, net(x)), "your Net gives different outputs for the same images in eval mode: "
               "its dropout is still active (see the Net checks), so no two models can agree")
    expect(torch.equal(mine, theirs),
           f"the loaded model's outputs differ from the saved model's (max abs difference "
           f"{(mine - theirs).abs().max().item():.3g}): load the saved parameters with load_state_dict")

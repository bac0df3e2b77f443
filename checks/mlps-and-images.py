"""Check: why MLPs fail for images (parameter counts, shifts, pixel permutations, a tiny CNN).

Counts are compared with sum(p.numel()) of real nn.Linear / nn.Conv2d layers (built on the
meta device, so a 150-million-parameter layer costs nothing). shift() and permute_pixels()
are compared exactly with reference implementations written differently (narrow/copy and
gather). permute_first_layer() must make an MLP give the same outputs on permuted digits.
TinyCNN is recomputed from its own weights. Finally an MLP and the learner's TinyCNN are
trained on 3,000 synthetic digits and evaluated with the learner's accuracy_under_shift()
on 1,000 test digits moved by 4 pixels. On a mismatch each value is recomputed with the
classic mistakes (biases left out, torch.roll, swapped or reversed axes, the wrong dims,
the inverse permutation, global average pooling, per-batch accuracies ...) and the one
that matches is named.
"""

from __future__ import annotations

import copy
import numbers

import torch
import torch.nn.functional as F
from torch import nn

from tutor.checking import check, expect, expect_match, expect_metric, expect_shape, expect_type, fail, fit
from tutor.checking.counts import expect_count, parameter_count as numel
from tutor.checking.digits import SyntheticDigits

F64 = torch.float64
# Shifts and permutations only move numbers, so a right answer is exact; the tolerance admits
# float64 rounding from other correct routes (a permutation matrix, grid_sample at integer
# offsets). Every mistake below moves values by O(1).
EXACT = 1e-9

# ---------------------------------------------------------------------------------- thresholds
# The experiment: Adam, batch 64, 3 epochs on 3,000 training digits (standardised with their
# mean and std inside the model), 1,000 test digits in [0, 1], shifts of 4 px right, left,
# down and up (the mean of the four is "shifted"). This check with the reference solution,
# CPU, seeds 0-7 (dltutor check --seed N):
#   MLP 784-128-10 (lr 1e-3): clean 0.854-0.888, shifted 0.269-0.299, drop 0.558-0.616
#   TinyCNN, global max pooling (lr 3e-3): clean 0.906-0.962, shifted 0.885-0.935,
#     drop 0.022-0.044 (per seed: .024 .044 .022 .034 .027 .022 .035 .032)
#   (TinyCNN with global AVERAGE pooling: clean 0.32-0.39 after the same 3 epochs, seeds 0-7.)
SHIFT = 4
MLP_MIN_DROP = 0.35          # measured 0.558-0.616: an MLP loses more than half its accuracy
CNN_MIN_CLEAN = 0.80         # measured 0.906-0.962
CNN_MIN_SHIFTED = 0.75       # measured 0.885-0.935
CNN_MAX_DROP = 0.15          # measured 0.022-0.044
N_TRAIN, N_TEST, EPOCHS = 3000, 1000, 3

TINY_CNN_PARAMS = (16 * 1 * 5 * 5 + 16) + (32 * 16 * 3 * 3 + 32) + (32 * 10 + 10)  # 416 + 4,640 + 330 = 5,386


# ---------------------------------------------------------------------------------- counting


def linear_stack(sizes: list[int], bias: bool) -> nn.Module:
    layers = [nn.Linear(a, b, bias=bias, device="meta") for a, b in zip(sizes[:-1], sizes[1:])]
    return nn.Sequential(*layers)


def mlp_mistakes(sizes: list[int], bias: bool) -> dict:
    pairs = list(zip(sizes[:-1], sizes[1:]))
    weights = sum(a * b for a, b in pairs)
    first = ""
    if pairs:
        a0, a1 = pairs[0]
        first = f": {a0}·{a1}{f' + {a1}' if bias else ''} = {a0 * a1 + (a1 if bias else 0):,}"
    syllabus = ", the syllabus's number for 784-100-10" if sizes == [784, 100, 10] and bias else ""
    return {
        "biases left out: that is the weights alone, Σ a·b. Every nn.Linear(a, b) also has b biases, one per "
        "output unit": (lambda: weights) if bias else None,
        f"only the first layer is counted{first}{syllabus}; add a·b + b for every consecutive pair of widths":
            (lambda: pairs[0][0] * pairs[0][1] + (pairs[0][1] if bias else 0)) if len(pairs) > 1 else None,
        "one bias per INPUT: nn.Linear(a, b) has b biases (one per output unit), not a":
            (lambda: sum(a * b + a for a, b in pairs)) if bias else None,
        "bias=False was ignored: without biases there are only the a·b weights": (lambda: sum(a * b + b for a, b in pairs))
            if not bias else None,
        "(a + 1)·(b + 1) per layer: the +1 belongs to the input side only, (a + 1)·b = a·b + b":
            lambda: sum((a + 1) * (b + 1) for a, b in pairs),
    }


MLP_CASES = [([784, 100, 10], True), ([784, 100, 10], False), ([784, 10], True), ([3, 5, 4, 2], True),
             ([150528, 1000], True), ([20, 30, 40, 50, 10], False), ([784], True)]


@check("mlp_params() equals sum(p.numel()) of the nn.Linear layers (784-100-10: 79,510)", task="counts")
def mlp_counts(ctx):
    imgs = ctx.load("images")
    for sizes, bias in MLP_CASES:
        want = numel(linear_stack(sizes, bias))
        expect_count(f"mlp_params({sizes}, bias={bias})", imgs.mlp_params(list(sizes), bias=bias), want,
                     mlp_mistakes(sizes, bias), against="sum(p.numel()) of the nn.Linear layers")


def conv_mistakes(c_in: int, c_out: int, kh: int, kw: int, bias: bool) -> dict:
    b = c_out if bias else 0
    return {
        "biases left out: nn.Conv2d has one bias per output channel, c_out in all":
            (lambda: c_out * c_in * kh * kw) if bias else None,
        "the input channels are missing: every filter spans ALL c_in input channels, so it has c_in·kh·kw "
        "weights": lambda: c_out * kh * kw + b,
        "the kernel is counted as k, not k·k (kh·kw) weights per channel pair": lambda: c_out * c_in * kh + b,
        "the kernel is counted as kh·kh: a (kh, kw) kernel has kh·kw weights": (lambda: c_out * c_in * kh * kh + b)
            if kh != kw else None,
        "a bias per input channel: nn.Conv2d has c_out biases, one per filter": (lambda: c_out * c_in * kh * kw + c_in)
            if bias else None,
        "bias=False was ignored: without biases there are only c_out·c_in·kh·kw weights":
            (lambda: c_out * c_in * kh * kw + c_out) if not bias else None,
    }


CONV_CASES = [(1, 16, 5, True), (3, 64, 3, True), (16, 32, 3, False), (3, 8, (3, 5), True), (64, 128, (1, 7), True),
              (32, 1, 1, True)]


@check("conv_params() equals sum(p.numel()) of nn.Conv2d (square and (kh, kw) kernels)", task="counts")
def conv_counts(ctx):
    imgs = ctx.load("images")
    for c_in, c_out, k, bias in CONV_CASES:
        kh, kw = (k, k) if isinstance(k, int) else k
        want = numel(nn.Conv2d(c_in, c_out, k, bias=bias, device="meta"))
        name = f"conv_params({c_in}, {c_out}, {k!r}, bias={bias})"
        expect_count(name, imgs.conv_params(c_in, c_out, k, bias=bias), want, conv_mistakes(c_in, c_out, kh, kw, bias),
                     against="sum(p.numel()) of nn.Conv2d")


@check("dense_on_image(): a 224×224×3 image into 1,000 units is 150,529,000 parameters", task="counts")
def dense_image_counts(ctx):
    imgs = ctx.load("images")
    for shape, units, bias in (((3, 224, 224), 1000, True), ((1, 28, 28), 100, True), ((3, 32, 32), 512, False)):
        c, h, w = shape
        want = numel(linear_stack([c * h * w, units], bias))
        name = f"dense_on_image({shape}, {units}, bias={bias})"
        b = units if bias else 0
        expect_count(name, imgs.dense_on_image(shape, units, bias=bias), want, {
            f"the {c} colour channels are forgotten: the flattened image has C·H·W = {c}·{h}·{w} = {c * h * w:,} "
            f"inputs, not H·W = {h * w:,}": h * w * units + b,
            "biases left out: nn.Linear(C·H·W, units) also has `units` biases": (c * h * w * units) if bias else None,
        }, against="sum(p.numel()) of nn.Linear(C·H·W, units)")


# ---------------------------------------------------------------------------------- shifting


def zero_shift(x: torch.Tensor, amount: int, dim: int) -> torch.Tensor:
    """x moved by `amount` along `dim` (towards larger indices when positive), zero-filled."""
    n = x.shape[dim]
    out = torch.zeros_like(x)
    if abs(amount) >= n:
        return out
    if amount >= 0:
        out.narrow(dim, amount, n - amount).copy_(x.narrow(dim, 0, n - amount))
    else:
        out.narrow(dim, 0, n + amount).copy_(x.narrow(dim, -amount, n + amount))
    return out


def ref_shift(x: torch.Tensor, dx: int, dy: int, dim_x: int = -1, dim_y: int = -2) -> torch.Tensor:
    return zero_shift(zero_shift(x, dx, dim_x), dy, dim_y)


DIM_NAMES = {3: ("batch", "height", "width"), 4: ("batch", "channel", "height", "width")}


def shift_mistakes(x: torch.Tensor, dx: int, dy: int) -> dict:
    names = DIM_NAMES[x.dim()]
    wrong_dims = {}
    for dim_y, dim_x in [pair for pair in ((0, 1), (1, 2)) if pair != (x.dim() - 2, x.dim() - 1)]:
        wrong_dims[f"it shifted along dims {dim_y} and {dim_x} ({names[dim_y]} and {names[dim_x]}) instead of the last "
                   f"two (height, width): index the last two dims, images[..., rows, cols], so that (N, H, W) and "
                   f"(N, C, H, W) both work"] = (lambda a=dim_y, b=dim_x: ref_shift(x, dx, dy, dim_x=b, dim_y=a))
    return {
        "the pixels wrap around (torch.roll): what leaves one edge comes back in at the other. Shift with zero "
        "fill: the uncovered pixels must be 0": lambda: torch.roll(x, shifts=(dy, dx), dims=(-2, -1)),
        "dx and dy are swapped: dx moves along the width (the last dim, columns), dy along the height (dim -2, rows)":
            lambda: ref_shift(x, dy, dx),
        "both directions are reversed: positive dx moves RIGHT (to larger column indices), positive dy moves DOWN":
            lambda: ref_shift(x, -dx, -dy),
        "positive dy moved the image up: row 0 is the TOP of an image, so a positive dy (down) moves pixels to "
        "larger row indices": lambda: ref_shift(x, dx, -dy),
        "positive dx moved the image left: a positive dx (right) moves pixels to larger column indices":
            lambda: ref_shift(x, -dx, dy),
        **wrong_dims,
    }


SHIFT_CASES = [(2, 1), (-3, 2), (1, -2), (-1, -1), (0, 3), (-2, 0), (0, 0), (3, -4)]
EDGE_CASES = [(7, 0), (0, -5), (-9, 2)]  # the whole width (7) or height (5) or more: only zeros


@check("shift() moves images by (dx, dy) with zero fill, for (N, H, W) and (N, C, H, W)", task="shift")
def shift_values(ctx):
    imgs = ctx.load("images")
    inputs = [torch.randn(2, 3, 5, 7, dtype=F64, generator=ctx.gen), torch.randn(4, 5, 7, dtype=F64, generator=ctx.gen)]
    for x in inputs:
        for dx, dy in SHIFT_CASES + EDGE_CASES:
            name = f"shift(x of shape {tuple(x.shape)}, dx={dx}, dy={dy})"
            before = x.clone()
            try:
                got = imgs.shift(x, dx, dy)
            except (RuntimeError, IndexError, ValueError) as exc:
                if 0 in (dx, dy):
                    fail(f"{name} raised {type(exc).__name__}: {exc}. A shift of 0 along one axis must work: if you "
                         f"slice with images[..., :-dx], note that :-0 is :0, an EMPTY slice; use "
                         f"images[..., :W - dx] instead")
                if (dx, dy) in EDGE_CASES:
                    fail(f"{name} raised {type(exc).__name__}: {exc}. A shift of the whole width or height or more "
                         f"moves every pixel out: return an all-zero tensor of the same shape")
                if x.dim() == 3 and isinstance(exc, IndexError):
                    fail(f"{name} raised IndexError: {exc}. Your shift works on (N, C, H, W) only; index the last "
                         f"two dims, images[..., rows, cols], so that (N, H, W) batches work too")
                raise
            expect_type(got, torch.Tensor, name)
            expect(torch.equal(x, before), f"{name} changed its input in place; return a new tensor and leave "
                   "the images as they were (they are needed unshifted too)")
            expect_shape(got, tuple(x.shape), name)
            expect(got.dtype == x.dtype, f"{name} has dtype {got.dtype}; the input's is {x.dtype}: keep it "
                   "(torch.zeros_like(images) makes a zero tensor of the same shape, dtype and device)")
            want = ref_shift(x, dx, dy)
            if (dx, dy) in EDGE_CASES:
                expect(bool((got.abs() <= EXACT).all()), f"{name}: a shift of the whole width (7) or height (5) or more "
                       f"leaves only zeros; yours has {int((got != 0).sum())} nonzero values (sliced with a "
                       f"negative bound?)")
            expect_match(name, got, want, shift_mistakes(x, dx, dy), atol=EXACT, rtol=EXACT,
                         against="a zero-filled shift (x right, y down)")


@check("shift() on a digit: 4 px right moves the ink 4 columns and loses nothing else", task="shift")
def shift_digit(ctx):
    imgs = ctx.load("images")
    x, _ = SyntheticDigits(8, seed=ctx.seed + 3).tensors()  # (8, 1, 28, 28) in [0, 1]
    for dx, dy in ((SHIFT, 0), (0, -SHIFT), (-3, 3)):
        got = imgs.shift(x, dx, dy)
        expect_match(f"shift(digits, dx={dx}, dy={dy})", got, ref_shift(x, dx, dy), shift_mistakes(x, dx, dy),
                     atol=1e-6, rtol=1e-6, against="a zero-filled shift (x right, y down)")
    cols = torch.arange(28, dtype=torch.float32)
    centre = lambda t: (t.sum(dim=(1, 2)) * cols).sum(-1) / t.sum(dim=(1, 2, 3))  # mean column of the ink
    moved = (centre(imgs.shift(x, SHIFT, 0)) - centre(x)).mean().item()
    ctx.metric("mean column of the ink moved by (px)", moved)


# ---------------------------------------------------------------------------------- permutation


def ref_permute(x: torch.Tensor, perm: torch.Tensor) -> torch.Tensor:
    H, W = x.shape[-2:]
    index = perm.expand(*x.shape[:-2], H * W)
    return torch.gather(x.reshape(*x.shape[:-2], H * W), -1, index).reshape(x.shape)


@check("permute_pixels(): output pixel i is input pixel perm[i], the same for every image and channel", task="permute")
def permute_values(ctx):
    imgs = ctx.load("images")
    for shape in ((2, 3, 4, 5), (6, 4, 5)):
        x = torch.randn(*shape, dtype=F64, generator=ctx.gen)
        perm = torch.randperm(20, generator=ctx.gen)
        before = x.clone()
        got = imgs.permute_pixels(x, perm)
        expect_type(got, torch.Tensor, "permute_pixels(x, perm)")
        expect(torch.equal(x, before), "permute_pixels() changed its input in place; return a new tensor")
        expect_shape(got, shape, f"permute_pixels(x of shape {shape}, perm)")
        inverse = torch.argsort(perm)
        expect_match(f"permute_pixels(x of shape {shape}, perm)", got, ref_permute(x, perm), {
            "it applies the INVERSE permutation (out[perm[i]] = in[i]): the convention here is "
            "out.flatten(-2)[..., i] = images.flatten(-2)[..., perm[i]], i.e. images.flatten(-2)[..., perm]":
                lambda: ref_permute(x, inverse),
        }, atol=EXACT, rtol=EXACT, against="images.flatten(-2)[..., perm]")


def small_mlp(hidden: int = 32) -> nn.Sequential:
    return nn.Sequential(nn.Flatten(), nn.Linear(784, hidden), nn.ReLU(), nn.Linear(hidden, 10))


class RefTinyCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 5, padding=2)
        self.conv2 = nn.Conv2d(16, 32, 3, padding=1)
        self.fc = nn.Linear(32, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        return self.fc(F.relu(self.conv2(x)).amax(dim=(2, 3)))


@check("permute_first_layer(): an MLP with W1's columns permuted gives the same outputs on permuted digits", task="permute")
def permute_mlp(ctx):
    imgs = ctx.load("images")
    torch.manual_seed(ctx.seed)
    lin = nn.Linear(20, 6)
    before = {k: v.clone() for k, v in lin.state_dict().items()}
    perm = torch.randperm(20, generator=ctx.gen)
    new = imgs.permute_first_layer(lin, perm)
    expect_type(new, nn.Linear, "permute_first_layer(linear, perm)")
    changed = any(not torch.equal(before[k], v) for k, v in lin.state_dict().items())
    expect(not changed, "permute_first_layer() changed the layer it was given: the original network must keep "
           "working on unpermuted images. Build a new nn.Linear (or copy.deepcopy the old one) and permute that")
    expect((new.in_features, new.out_features) == (20, 6),
           f"the new layer is Linear({new.in_features}, {new.out_features}); expected Linear(20, 6) like the old one")
    W, b = before["weight"], before["bias"]
    expect_match("the new layer's weight", new.weight.detach(), W[:, perm], {
        "it is W[:, argsort(perm)], the INVERSE permutation. Input i of the new layer is pixel perm[i] of the "
        "original image, so it needs the weights of that pixel: new column i = old column perm[i], W[:, perm]":
            W[:, torch.argsort(perm)],
    }, atol=1e-7, rtol=1e-6, against="W[:, perm]")
    expect(new.bias is not None, "the new layer has no bias; the old one has")
    expect_match("the new layer's bias", new.bias.detach(), b, atol=1e-7, rtol=1e-6,
                 hint="A bias belongs to an output unit, not to a pixel: copy it unchanged.", against="the old bias")

    # The demonstration on digits: a whole MLP cannot tell, a CNN can.
    x, _ = SyntheticDigits(64, seed=ctx.seed + 5).tensors(normalize=True)
    big_perm = torch.randperm(784, generator=ctx.gen)
    mixed = imgs.permute_pixels(x, big_perm)
    expect_match("permute_pixels(digits, perm)", mixed, ref_permute(x, big_perm), atol=1e-6, rtol=1e-6,
                 against="images.flatten(-2)[..., perm]")
    mlp = small_mlp()
    twin = copy.deepcopy(mlp)
    twin[1] = imgs.permute_first_layer(mlp[1], big_perm)
    with torch.no_grad():
        diff = (twin(mixed) - mlp(x)).abs().max().item()
        scale = mlp(x).abs().max().item()
        cnn = RefTinyCNN()
        cnn_change = (cnn(mixed) - cnn(x)).abs().mean().item() / cnn(x).abs().mean().item()
    ctx.metric("MLP: max |output change| on permuted digits (permuted W1)", diff, 1e-5, higher_is_better=False)
    ctx.metric("CNN: relative change of the outputs on permuted digits", cnn_change)
    expect(diff <= 1e-5 * max(1.0, scale),
           f"the MLP with the permuted first layer gives other outputs on permuted digits than the original on "
           f"the originals: max difference {diff:.3g} (allowed 1e-5, rounding only)")


# ---------------------------------------------------------------------------------- TinyCNN


def tiny_reference(x, conv1, conv2, fc, pool="max", maxpool=True, relu1=True, relu2=True):
    h = conv1(x)
    h = F.relu(h) if relu1 else h
    h = F.max_pool2d(h, 2) if maxpool else h
    h = conv2(h)
    h = F.relu(h) if relu2 else h
    h = h.amax(dim=(2, 3)) if pool == "max" else h.mean(dim=(2, 3))
    return fc(h)


def tiny_layers(model: nn.Module) -> tuple[nn.Conv2d, nn.Conv2d, nn.Linear]:
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    expect(len(convs) == 2, f"TinyCNN has {len(convs)} nn.Conv2d layers; expected 2")
    expect(len(linears) == 1, f"TinyCNN has {len(linears)} nn.Linear layers; expected 1 (the head)")
    c1, c2 = convs
    fc = linears[0]
    for conv, want in ((c1, (1, 16, (5, 5), (2, 2))), (c2, (16, 32, (3, 3), (1, 1)))):
        padding = conv.padding
        if padding == "same":  # stride 1 and an odd kernel: the same as k // 2 on each side
            padding = tuple(k // 2 for k in conv.kernel_size)
        got = (conv.in_channels, conv.out_channels, tuple(conv.kernel_size), tuple(padding))
        expect(got == want, f"a Conv2d has (in, out, kernel, padding) = {got}; expected {want}")
        expect(conv.bias is not None and tuple(conv.stride) == (1, 1),
               "the Conv2d layers keep their biases and stride 1 (the defaults)")
    if fc.in_features != 32:
        fail(f"the head is Linear({fc.in_features}, {fc.out_features}); expected Linear(32, 10). "
             + (f"{fc.in_features} = 32·{fc.in_features // 32}: you flattened the (32, h, w) feature maps. Use "
                f"global max pooling instead, x.amax(dim=(2, 3)): one number per channel, whatever the image size"
                if fc.in_features % 32 == 0 else "Global pooling leaves one number per channel: 32"))
    expect(fc.out_features == 10, f"the head has {fc.out_features} outputs; expected 10 classes")
    return c1, c2, fc


@check(f"TinyCNN has two conv layers, a Linear(32, 10) head and {TINY_CNN_PARAMS:,} parameters", task="cnn")
def cnn_structure(ctx):
    imgs = ctx.load("images")
    torch.manual_seed(ctx.seed)
    model = imgs.TinyCNN()
    expect_type(model, nn.Module, "TinyCNN()")
    tiny_layers(model)
    total = sum(p.numel() for p in model.parameters())
    expect(total == TINY_CNN_PARAMS, f"TinyCNN has {total:,} parameters; expected {TINY_CNN_PARAMS:,} "
           "(conv1 16·1·5·5 + 16 = 416, conv2 32·16·3·3 + 32 = 4,640, fc 32·10 + 10 = 330)")
    ctx.metric("TinyCNN parameters (vs 101,770 for a 784-128-10 MLP)", total)


@check("TinyCNN.forward: conv → ReLU → max-pool → conv → ReLU → global max → Linear, for any image size", task="cnn")
def cnn_forward(ctx):
    imgs = ctx.load("images")
    torch.manual_seed(ctx.seed)
    model = imgs.TinyCNN().eval()
    c1, c2, fc = tiny_layers(model)
    for shape in ((3, 1, 28, 28), (2, 1, 20, 24)):
        x = torch.randn(*shape, generator=ctx.gen)
        with torch.no_grad():
            try:
                out = model(x)
            except RuntimeError as exc:
                if shape[2:] != (28, 28):
                    fail(f"TinyCNN failed on images of shape {shape}: {exc}. With global pooling the head sees 32 "
                         f"numbers for any image size: pool over the height and width, x.amax(dim=(2, 3))")
                fail(f"TinyCNN failed on images of shape {shape}: {exc}. What reaches the head must be (N, 32): "
                     f"the (N, 32, h, w) feature maps pooled over dims 2 and 3 (height and width), not over the "
                     f"channels (dim 1)")
            expect_shape(out, (shape[0], 10), f"TinyCNN()(x of shape {shape})", labels=("batch", "classes"))
            ref = lambda **kw: tiny_reference(x, c1, c2, fc, **kw)
            expect_match(f"TinyCNN()(x of shape {shape})", out, ref(), {
                "it uses global AVERAGE pooling (mean over height and width); this exercise asks for global MAX "
                "pooling, x.amax(dim=(2, 3)): with two small conv layers, averaging dilutes the few places where "
                "a stroke detector fires (the reference reaches 0.91-0.96 test accuracy in 3 epochs, the average-"
                "pooled twin 0.32-0.39)": lambda: ref(pool="mean"),
                "the MaxPool2d(2) after the first conv (and its ReLU) is missing": lambda: ref(maxpool=False),
                "the ReLU after the first conv is missing": lambda: ref(relu1=False),
                "the ReLU after the second conv is missing (before the global pooling)": lambda: ref(relu2=False),
            }, atol=1e-5, rtol=1e-4, against="conv → ReLU → max-pool → conv → ReLU → amax(2, 3) → Linear with your weights")


# ---------------------------------------------------------------------------------- experiment


class Standardize(nn.Module):
    """(x - mean) / std inside the model, so that the images themselves keep 0 as the background."""

    def __init__(self, mean: float, std: float):
        super().__init__()
        self.mean, self.std = mean, std

    def forward(self, x):
        return (x - self.mean) / self.std


def ref_accuracies(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, shifts, device) -> list[float]:
    model.eval()
    out = []
    with torch.no_grad():
        for dx, dy in shifts:
            pred = model(ref_shift(images, dx, dy).to(device)).argmax(1).cpu()
            out.append((pred == labels).double().mean().item())
    return out


def rolled_accuracies(model, images, labels, shifts, device) -> list[float]:
    model.eval()
    with torch.no_grad():
        return [(model(torch.roll(images, (dy, dx), (-2, -1)).to(device)).argmax(1).cpu() == labels).double().mean().item()
                for dx, dy in shifts]


def per_batch_accuracies(model, images, labels, shifts, batch_size, device) -> list[float]:
    model.eval()
    out = []
    with torch.no_grad():
        for dx, dy in shifts:
            accs = [(model(ref_shift(images[i:i + batch_size], dx, dy).to(device)).argmax(1).cpu()
                     == labels[i:i + batch_size]).double().mean().item() for i in range(0, len(images), batch_size)]
            out.append(sum(accs) / len(accs))
    return out


def floats(values, n: int, name: str) -> list[float]:
    if isinstance(values, torch.Tensor) and values.dim() == 1:
        values = values.tolist()
    expect(isinstance(values, (list, tuple)), f"{name} returned {type(values).__name__}; expected a list of floats")
    expect(len(values) == n, f"{name} returned {len(values)} values for {n} shifts; expected one per shift")
    result = []
    for v in values:
        if isinstance(v, torch.Tensor):
            expect(v.numel() == 1, f"{name} returned a tensor of shape {tuple(v.shape)} in its list; expected floats")
            v = v.item()
        expect(isinstance(v, numbers.Real) and not isinstance(v, bool),
               f"{name} returned a {type(v).__name__} in its list; expected floats")
        result.append(float(v))
    return result


@check("accuracy_under_shift(): eval mode, no gradients, correct / total over all images for each shift",
       task="experiment")
def accuracy_values(ctx):
    imgs = ctx.load("images")
    device = ctx.device
    torch.manual_seed(ctx.seed)
    x, _ = SyntheticDigits(130, seed=ctx.seed + 7).tensors()
    model = nn.Sequential(Standardize(x.mean().item(), x.std().item()), nn.Flatten(), nn.Linear(784, 32), nn.ReLU(),
                          nn.Dropout(0.5), nn.Linear(32, 10)).to(device)
    model.eval()
    with torch.no_grad():
        y = model(x.to(device)).argmax(1).cpu()  # its own predictions: 1.0 unshifted, less when shifted
    y[:2] = (y[:2] + 1) % 10                     # two wrong labels in the first batch
    model.train()                                # as a training loop leaves it
    seen: list[tuple[bool, bool]] = []
    model.register_forward_hook(lambda m, i, o: seen.append((m.training, torch.is_grad_enabled())))
    shifts = [(0, 0), (3, 0), (0, -3), (-2, 2)]
    name = "accuracy_under_shift(model, 130 digits, labels, shifts, batch_size=64)"
    got = floats(imgs.accuracy_under_shift(model, x, y, shifts, batch_size=64), len(shifts), name)
    expect(len(seen) > 0, "accuracy_under_shift() never called the model")
    expect(not any(t for t, _ in seen), "eval mode forgotten: the model was in training mode, so its dropout "
           "dropped units at random during the evaluation. Call model.eval() first")
    expect(not any(g for _, g in seen), "torch.no_grad() forgotten: autograd recorded every forward pass "
           "(memory and time for nothing). Wrap the evaluation in `with torch.no_grad():`")
    want = ref_accuracies(model, x, y, shifts, device)
    expect_match(name, got, want, {
        "these are percentages; return fractions in [0, 1]": [100 * v for v in want],
        "it averages the per-batch accuracies: the last batch has only 2 of the 130 images and weighs as much as "
        "a full one. Count the correct predictions over all images and divide by 130":
            lambda: per_batch_accuracies(model, x, y, shifts, 64, device),
        "only the first batch was evaluated": lambda: ref_accuracies(model, x[:64], y[:64], shifts, device),
        "the images were never shifted: every value is the unshifted accuracy. Apply shift(batch, dx, dy) "
        "before the model sees the batch": lambda: ref_accuracies(model, x, y, [(0, 0)], device) * len(shifts),
        "the images were rolled (torch.roll), not shifted with zero fill: use your shift()":
            lambda: rolled_accuracies(model, x, y, shifts, device),
    }, atol=1.5 / len(x), rtol=0, against="correct / total with a zero-filled shift")


def experiment_data(seed: int):
    """Training and test digits in [0, 1] (a shift fills with 0, the background) and the training mean, std."""
    X, y = SyntheticDigits(N_TRAIN, seed=seed).tensors()
    Xt, yt = SyntheticDigits(N_TEST, seed=seed, train=False).tensors()
    return X, y, Xt, yt, X.mean().item(), X.std().item()


def train(model: nn.Module, X, y, lr: float, seed: int, device) -> None:
    fit(model, (X, y), F.cross_entropy, torch.optim.Adam(model.parameters(), lr=lr), EPOCHS, batch_size=64,
        shuffle=True, generator=torch.Generator().manual_seed(seed), device=device)


@check(f"the experiment: an MLP loses its accuracy on digits moved {SHIFT} px, TinyCNN with global pooling keeps it",
       task="experiment")
def shift_experiment(ctx):
    imgs = ctx.load("images")
    device = ctx.device
    X, y, Xt, yt, mean, std = experiment_data(ctx.seed)
    shifts = [(0, 0), (SHIFT, 0), (-SHIFT, 0), (0, SHIFT), (0, -SHIFT)]
    imgs.accuracy_under_shift(imgs.TinyCNN().to(device), Xt[:2], yt[:2], shifts[:1])  # fails fast, before training
    results = {}
    for kind in ("MLP", "TinyCNN"):
        torch.manual_seed(ctx.seed)
        net = (nn.Sequential(nn.Flatten(), nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10)) if kind == "MLP"
               else imgs.TinyCNN())
        model = nn.Sequential(Standardize(mean, std), net).to(device)
        train(model, X, y, 1e-3 if kind == "MLP" else 3e-3, ctx.seed, device)
        name = f"accuracy_under_shift({kind}, test digits, labels, {shifts})"
        got = floats(imgs.accuracy_under_shift(model, Xt, yt, shifts), len(shifts), name)
        want = ref_accuracies(model, Xt, yt, shifts, device)
        expect_match(name, got, want, atol=1.5 / N_TEST, rtol=0, against="correct / total with a zero-filled shift")
        clean, shifted = got[0], sum(got[1:]) / 4
        ctx.curve(f"{kind} accuracy: clean, right, left, down, up", got)
        ctx.metric(f"{kind} test accuracy, unshifted", clean)
        ctx.metric(f"{kind} test accuracy, shifted {SHIFT} px (mean of 4 directions)", shifted)
        results[kind] = (clean, shifted)
    (mlp_clean, mlp_shifted), (cnn_clean, cnn_shifted) = results["MLP"], results["TinyCNN"]
    expect_metric(ctx, "MLP accuracy drop", mlp_clean - mlp_shifted, MLP_MIN_DROP)
    expect_metric(ctx, "TinyCNN test accuracy, unshifted", cnn_clean, CNN_MIN_CLEAN)
    expect_metric(ctx, f"TinyCNN test accuracy, shifted {SHIFT} px", cnn_shifted, CNN_MIN_SHIFTED)
    expect_metric(ctx, "TinyCNN accuracy drop", cnn_clean - cnn_shifted, CNN_MAX_DROP, higher_is_better=False)

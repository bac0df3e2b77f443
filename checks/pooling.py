"""Check: pooling from scratch.

The learner's max_pool2d, avg_pool2d (padding, count_include_pad), adaptive_avg_pool2d and
global_avg_pool are compared with F.max_pool2d, F.avg_pool2d and F.adaptive_avg_pool2d in
float64 (non-square inputs and windows, the default stride, overlapping windows, a batch and
several channels), with their autograd gradients; max_pool2d_backward with the gradient autograd
gives F.max_pool2d, on random values and on inputs full of ties. When a value is off, the check
recomputes it with each classic mistake (pooling over channels, a stride of 1 by default, padding
zeros counted in the average, equal-split adaptive bins, the gradient spread over the window, ...)
and names the one it matches. PyTorch's pooling functions and modules are forbidden.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from tutor.checking import (
    check,
    expect,
    expect_match,
    expect_type,
    fail,
    float64_device,
    forbid,
    describe_difference,
    is_close,
    which_mistake,
)

F64 = torch.float64
BANNED = ("max_pool1d", "max_pool2d", "max_pool3d", "max_pool2d_with_indices", "avg_pool1d", "avg_pool2d",
          "avg_pool3d", "adaptive_avg_pool1d", "adaptive_avg_pool2d", "adaptive_max_pool2d", "lp_pool2d",
          "fractional_max_pool2d", "max_unpool2d",
          nn.MaxPool2d, nn.AvgPool2d, nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)
REASON = ("the exercise is to write the pooling yourself (F.unfold or slicing, then max/mean); PyTorch's pooling "
          "functions are the reference the check compares with")

# --- the classic mistakes, in words -------------------------------------------------------------

STRIDE_ONE = ("the stride defaulted to 1: with stride=None, pooling windows step by the KERNEL SIZE (they tile "
              "the input without overlap), as in F.max_pool2d; write stride = kernel_size if stride is None")
OVER_CHANNELS = ("it pools over the channels too: pooling works on each channel separately, so the output keeps "
                 "all C channels (F.unfold's rows are ordered (channel, kernel row, kernel column): reshape them "
                 "to (N, C, kh·kw, L) and reduce dim 2)")
ZERO_PAD_MAX = ("the padding is zeros: a window of negative numbers at the border returns 0. Max pooling pads "
                "with −inf, so padding never wins (F.pad(x, ..., value=float('-inf')))")
ZEROS_COUNTED = ("with count_include_pad=False the padding zeros are still counted: the sum is divided by kh·kw. "
                 "Divide by the number of REAL pixels in each window (pool a tensor of ones the same way)")
ZEROS_NOT_COUNTED = ("with count_include_pad=True (the default) every window is divided by kh·kw, padding zeros "
                     "included; yours divides by the real pixels only (that is count_include_pad=False)")
PAD_ONE_SIDE = "padding on one side only; padding=p adds p on both sides of H and W"
PAD_IGNORED = "the padding was ignored"
MAX_INSTEAD = "it takes the max; this is an average pool"
SUM_INSTEAD = "it sums the window without dividing; an average pool divides by the window size"
SPREAD = ("the gradient is spread evenly over the window (that is average pooling's backward). Max pooling "
          "sends each output's gradient only to the position of its window's maximum; the rest get 0")
COPIED = ("the full gradient is copied to every position of the window; only the window's maximum gets it, "
          "the others get 0")
ALL_TIES = ("every tied maximum got the full gradient (a mask x == max). PyTorch sends it to ONE position, the "
            "FIRST maximum of the window in row-major order (what argmax returns)")
SPLIT_TIES = ("the gradient is split evenly among tied maxima (what amax's backward does). max_pool2d sends it "
              "whole to the FIRST maximum of the window in row-major order, as PyTorch does (argmax)")
LAST_TIE = ("the gradient went to the LAST tied maximum of the window; PyTorch picks the FIRST in row-major "
            "order (argmax returns the first)")
OVERWRITE = ("overlapping windows overwrite each other's gradient (=) instead of adding (+=): a pixel that is the "
             "maximum of two windows gets the sum of both gradients")
KEEPDIM = ("it keeps the spatial dims, (N, C, 1, 1); global_avg_pool returns (N, C), the vector a classifier "
           "head takes (x.mean(dim=(2, 3)))")
GLOBAL_MAX = "it takes the max of each map; global AVERAGE pooling takes the mean"
GLOBAL_SUM = "it sums each map; global average pooling divides by H·W"
GLOBAL_DIMS = "it averages over the wrong dims; average each map over its height and width, dims (2, 3)"
GLOBAL_CHANNELS = "it averages over the channels; global pooling averages each channel's map over H and W"


def pair(v) -> tuple[int, int]:
    return (v, v) if isinstance(v, int) else tuple(v)


def rand(shape, gen, device) -> torch.Tensor:
    return torch.randn(*shape, generator=gen, dtype=F64).to(device)


def ties(shape, gen, device) -> torch.Tensor:
    """Small integers, so that windows hold several equal maxima."""
    return torch.randint(-1, 2, shape, generator=gen).to(device=device, dtype=F64)


def call(fn, *args, **kwargs):
    with forbid(*BANNED, reason=REASON, caller=f"{fn.__name__}()"):
        return fn(*args, **kwargs)


def describe(name, x, args, kwargs) -> str:
    shown = [f"x {tuple(x.shape)}"] + [repr(a) for a in args] + [f"{k}={v!r}" for k, v in kwargs.items()]
    return f"{name}({', '.join(shown)})"


def blame(fn, name, x, args, kwargs, want_fn, trouble: str) -> None:
    """Name the culprit when a simpler call is right: one channel only (channels get mixed), or the
    stride given explicitly (the default stride is wrong)."""
    trials = []
    if x.shape[1] > 1:
        trials.append((x[:, :1].contiguous(), args, kwargs, OVER_CHANNELS.replace("it pools over the channels too",
                       "it is right on one channel and wrong on several, so the channels get mixed")))
    if name in ("max_pool2d", "avg_pool2d") and "stride" not in kwargs and len(args) == 1:
        trials.append((x, args, {**kwargs, "stride": args[0]},
                       "it is right with stride=kernel_size given explicitly: " + STRIDE_ONE))
    for xx, aa, kk, why in trials:
        try:
            got = call(fn, xx, *aa, **kk)
        except NotImplementedError:
            raise
        except Exception:  # noqa: BLE001 - the simpler call fails too: not the culprit
            continue
        if is_close(got, want_fn(xx, *aa, **kk)):
            fail(f"{describe(name, x, args, kwargs)} {trouble}; {why}")


def expect_pool(fn, name, x, args, kwargs, want_fn, mistakes) -> torch.Tensor:
    """The learner's fn(x, *args, **kwargs) must match want_fn(...); name the mistake if not."""
    what = describe(name, x, args, kwargs)
    try:
        got = call(fn, x, *args, **kwargs)
    except NotImplementedError:
        raise
    except (RuntimeError, ValueError, TypeError, IndexError) as exc:
        blame(fn, name, x, args, kwargs, want_fn, f"raised {type(exc).__name__}: {str(exc).splitlines()[0][:160]}")
        raise
    expect_type(got, torch.Tensor, what)
    want = want_fn(x, *args, **kwargs)
    if got.dtype != x.dtype:
        fail(f"{what} returned {got.dtype} for {x.dtype} input; keep the input's dtype")
    if not is_close(got, want) and which_mistake(got, mistakes, want) is None:
        blame(fn, name, x, args, kwargs, want_fn, f"is off ({describe_difference(got, want)})")
    expect_match(what, got, want, mistakes, against=f"F.{name}" if name != "global_avg_pool" else "x.mean(dim=(2, 3))")
    return got


def expect_grad_like(fn, name, x, args, kwargs, ref_fn) -> None:
    """Autograd through the learner's forward gives the reference's input gradient (random values: no ties)."""
    xs = x.clone().requires_grad_(True)
    out = call(fn, xs, *args, **kwargs)
    what = describe(name, x, args, kwargs)
    expect(out.requires_grad, f"{what} does not require grad although x does: something left the autograd graph "
           "(NumPy, .detach(), .item(), .data or torch.no_grad()); use torch operations only")
    g = torch.randn(out.shape, generator=torch.Generator().manual_seed(7), dtype=F64).to(x.device)
    (mine,) = torch.autograd.grad((out * g).sum(), xs)
    xr = x.clone().requires_grad_(True)
    (want,) = torch.autograd.grad((ref_fn(xr, *args, **kwargs) * g).sum(), xr)
    expect_match(f"the gradient of {what} w.r.t. x", mine, want, against=f"F.{name}'s gradient")


def channel_mistakes(x, pooled, reduce_channels) -> list:
    """Pooling that also reduces over the channels: one map, or that map repeated for every channel."""
    merged = lambda: pooled(reduce_channels(x))  # noqa: E731
    return [(OVER_CHANNELS, merged), (OVER_CHANNELS, lambda: merged().expand(-1, x.shape[1], -1, -1))]


# --- task: max ----------------------------------------------------------------------------------


def max_mistakes(x, k, stride=None, padding=0) -> list:
    ref = lambda **c: F.max_pool2d(x, k, **{"stride": stride, "padding": padding, **c})  # noqa: E731
    ph, pw = pair(padding)
    out = channel_mistakes(x, lambda t: F.max_pool2d(t, k, stride, padding), lambda t: t.amax(1, keepdim=True))
    if stride is None:
        out.append((STRIDE_ONE, lambda: ref(stride=1)))
    if (ph, pw) != (0, 0):
        plain = {"stride": k if stride is None else stride, "padding": 0}
        out += [(ZERO_PAD_MAX, lambda: F.max_pool2d(F.pad(x, (pw, pw, ph, ph)), k, **plain)),
                (PAD_ONE_SIDE, lambda: F.max_pool2d(F.pad(x, (pw, 0, ph, 0), value=-math.inf), k, **plain)),
                (PAD_IGNORED, lambda: ref(padding=0))]
    return out


MAX_CASES = [  # x shape, kernel_size, keyword arguments
    ((2, 4, 6, 8), 2, {}),                                   # stride defaults to 2: (3, 4)
    ((2, 3, 7, 9), (2, 3), {}),                              # non-square window, floor: (3, 3)
    ((2, 3, 7, 8), 3, {"stride": 2}),                        # overlapping windows: (3, 3)
    ((1, 2, 9, 6), (3, 2), {"stride": (2, 1)}),
]


@check("max_pool2d() matches F.max_pool2d (stride defaults to kernel_size; overlapping, non-square windows)",
       task="max")
def max_values(ctx):
    pool = ctx.load("pool")
    dev = float64_device(ctx)
    for xs, k, kw in MAX_CASES:
        x = rand(xs, ctx.gen, dev)
        expect_pool(pool.max_pool2d, "max_pool2d", x, (k,), kw, F.max_pool2d, max_mistakes(x, k, **kw))
    x = rand((2, 3, 7, 8), ctx.gen, dev)
    expect_grad_like(pool.max_pool2d, "max_pool2d", x, (3,), {"stride": 2}, F.max_pool2d)


@check("max_pool2d() pads with −inf (padding never wins, even where every value is negative)", task="max")
def max_padding(ctx):
    pool = ctx.load("pool")
    dev = float64_device(ctx)
    for xs, k, kw in (((2, 3, 7, 8), 3, {"stride": 2, "padding": 1}), ((1, 2, 6, 7), (2, 3), {"padding": (1, 1)}),
                      ((2, 2, 5, 6), (3, 2), {"stride": 1, "padding": (1, 0)})):
        x = rand(xs, ctx.gen, dev) - 3.0          # mostly negative, so zero padding would show
        expect_pool(pool.max_pool2d, "max_pool2d", x, (k,), kw, F.max_pool2d, max_mistakes(x, k, **kw))
    x = rand((2, 2, 7, 6), ctx.gen, dev) - 3.0
    expect_grad_like(pool.max_pool2d, "max_pool2d", x, (3,), {"stride": 2, "padding": 1}, F.max_pool2d)


# --- task: avg ----------------------------------------------------------------------------------


def avg_mistakes(x, k, stride=None, padding=0, count_include_pad=True) -> list:
    cfg = {"stride": stride, "padding": padding, "count_include_pad": count_include_pad}
    ref = lambda **c: F.avg_pool2d(x, k, **{**cfg, **c})  # noqa: E731
    kh, kw = pair(k)
    ph, pw = pair(padding)
    out = channel_mistakes(x, lambda t: F.avg_pool2d(t, k, **cfg), lambda t: t.mean(1, keepdim=True))
    out.append((ZEROS_NOT_COUNTED if count_include_pad else ZEROS_COUNTED,
                lambda: ref(count_include_pad=not count_include_pad)))
    if stride is None:
        out.append((STRIDE_ONE, lambda: ref(stride=1)))
    if (ph, pw) != (0, 0):
        out.append((PAD_IGNORED, lambda: ref(padding=0)))
        plain = {"stride": k if stride is None else stride, "padding": 0}
        out.append((PAD_ONE_SIDE, lambda: F.avg_pool2d(F.pad(x, (pw, 0, ph, 0)), k, **plain)))
    out += [(MAX_INSTEAD, lambda: F.max_pool2d(x, k, stride, padding)), (SUM_INSTEAD, lambda: ref() * kh * kw)]
    return out


AVG_CASES = [
    ((2, 4, 6, 8), 2, {}),
    ((2, 3, 7, 9), (2, 3), {}),
    ((2, 3, 7, 8), 3, {"stride": 2}),
    ((2, 3, 7, 8), 3, {"stride": 2, "padding": 1}),                         # count_include_pad=True: ÷ 9
    ((1, 2, 6, 7), (2, 3), {"stride": (1, 2), "padding": (1, 1), "count_include_pad": True}),
]


@check("avg_pool2d() matches F.avg_pool2d (default stride, overlapping windows, padding counted by default)",
       task="avg")
def avg_values(ctx):
    pool = ctx.load("pool")
    dev = float64_device(ctx)
    for xs, k, kw in AVG_CASES:
        x = rand(xs, ctx.gen, dev)
        expect_pool(pool.avg_pool2d, "avg_pool2d", x, (k,), kw, F.avg_pool2d, avg_mistakes(x, k, **kw))
    x = rand((2, 3, 7, 8), ctx.gen, dev)
    expect_grad_like(pool.avg_pool2d, "avg_pool2d", x, (3,), {"stride": 2, "padding": 1}, F.avg_pool2d)


@check("avg_pool2d(count_include_pad=False) divides each window by its real pixels only", task="avg")
def avg_exclude_pad(ctx):
    pool = ctx.load("pool")
    dev = float64_device(ctx)
    for xs, k, kw in (((2, 3, 7, 8), 3, {"stride": 2, "padding": 1}),
                      ((1, 2, 6, 7), (2, 3), {"stride": (1, 2), "padding": (1, 1)}),
                      ((2, 2, 5, 5), 2, {"padding": 1})):
        kw = {**kw, "count_include_pad": False}
        x = rand(xs, ctx.gen, dev) + 2.0           # away from 0, so a wrong divisor shows clearly
        expect_pool(pool.avg_pool2d, "avg_pool2d", x, (k,), kw, F.avg_pool2d, avg_mistakes(x, k, **kw))
    x = rand((2, 2, 5, 5), ctx.gen, dev)
    expect_grad_like(pool.avg_pool2d, "avg_pool2d", x, (2,), {"padding": 1, "count_include_pad": False},
                     F.avg_pool2d)


# --- task: adaptive -----------------------------------------------------------------------------


def right_bins(size: int, out: int) -> list[tuple[int, int]]:
    return [((i * size) // out, -(-((i + 1) * size) // out)) for i in range(out)]


def wrong_bins(size: int, out: int) -> dict[str, list[tuple[int, int]]]:
    """Bin edges a learner might write instead of floor(i·H/out) to ceil((i+1)·H/out)."""
    s = max(size // out, 1)
    return {
        "equal bins of size H//out (the remainder rows are dropped)": [(i * s, (i + 1) * s) for i in range(out)],
        "equal bins of size ceil(H/out) every H//out": [(i * s, i * s + -(-size // out)) for i in range(out)],
        "stride H//out with kernel H − (out−1)·stride": [(i * s, i * s + size - (out - 1) * s) for i in range(out)],
        "edges rounded to the nearest pixel": [(round(i * size / out), round((i + 1) * size / out))
                                               for i in range(out)],
        "both edges rounded down (floor)": [((i * size) // out, ((i + 1) * size) // out) for i in range(out)],
    }


def pool_bins(x, rows, cols) -> torch.Tensor:
    """Average x over the given row and column bins (empty or out-of-range bins raise)."""
    H, W = x.shape[-2:]
    for a, b in rows + cols:
        if not 0 <= a < b:
            raise ValueError("empty bin")
    if rows[-1][1] > H or cols[-1][1] > W:
        raise ValueError("bin outside the input")
    return torch.stack([torch.stack([x[:, :, r0:r1, c0:c1].mean(dim=(2, 3)) for c0, c1 in cols], -1)
                        for r0, r1 in rows], -2)


def show(bins) -> str:
    return ", ".join(f"[{a}, {b})" for a, b in bins)


def adaptive_mistakes(x, output_size) -> list:
    oh, ow = pair(output_size)
    H, W = x.shape[-2:]
    out = []
    wrong_h, wrong_w = wrong_bins(H, oh), wrong_bins(W, ow)
    good_h, good_w = right_bins(H, oh), right_bins(W, ow)
    for key in wrong_h:
        # The same wrong rule for rows and columns, or for one of them only.
        for rows, cols, dim, size, out_n, bins_ in ((wrong_h[key], wrong_w[key], "rows", H, oh, wrong_h[key]),
                                                    (wrong_h[key], good_w, "rows", H, oh, wrong_h[key]),
                                                    (good_h, wrong_w[key], "columns", W, ow, wrong_w[key])):
            if bins_ == right_bins(size, out_n):
                continue
            why = (f"the bins are {key}: {dim} {show(bins_)}. Adaptive pooling uses bin i = [floor(i·H/out), "
                   f"ceil((i+1)·H/out)): for size {size} and out = {out_n} that is {dim} "
                   f"{show(right_bins(size, out_n))} (bins may overlap by a pixel)")
            out.append((why, lambda rows=rows, cols=cols: pool_bins(x, rows, cols)))
    out.append((OVER_CHANNELS, lambda: F.adaptive_avg_pool2d(x.mean(1, keepdim=True), output_size)))
    return out


ADAPTIVE_CASES = [  # x shape, output_size
    ((2, 3, 7, 7), 3),            # 7 -> 3: rows [0, 3), [2, 5), [4, 7)
    ((2, 2, 10, 7), (4, 3)),      # 10 -> 4: [0, 3), [2, 5), [5, 8), [7, 10)
    ((1, 2, 9, 11), (2, 4)),
    ((2, 1, 5, 6), (5, 6)),       # output = input size: the identity
    ((1, 2, 3, 4), (5, 2)),       # more outputs than rows: bins of one row, repeated
    ((2, 3, 6, 5), 1),            # a single bin: the global average
]


@check("adaptive_avg_pool2d() matches F.adaptive_avg_pool2d (bins floor(i·H/out) to ceil((i+1)·H/out), 7 → 3)",
       task="adaptive")
def adaptive_values(ctx):
    pool = ctx.load("pool")
    dev = float64_device(ctx)
    for xs, o in ADAPTIVE_CASES:
        x = rand(xs, ctx.gen, dev)
        expect_pool(pool.adaptive_avg_pool2d, "adaptive_avg_pool2d", x, (o,), {}, F.adaptive_avg_pool2d,
                    adaptive_mistakes(x, o))
    x = rand((2, 2, 7, 10), ctx.gen, dev)
    expect_grad_like(pool.adaptive_avg_pool2d, "adaptive_avg_pool2d", x, ((3, 4),), {}, F.adaptive_avg_pool2d)


@check("global_avg_pool() averages each feature map: (N, C, H, W) -> (N, C)", task="adaptive")
def global_values(ctx):
    pool = ctx.load("pool")
    dev = float64_device(ctx)
    for xs in ((2, 3, 5, 7), (4, 6, 4, 4), (1, 2, 1, 3)):
        x = rand(xs, ctx.gen, dev)
        mistakes = [(KEEPDIM, lambda: x.mean(dim=(2, 3), keepdim=True)), (GLOBAL_MAX, lambda: x.amax(dim=(2, 3))),
                    (GLOBAL_SUM, lambda: x.sum(dim=(2, 3))), (GLOBAL_CHANNELS, lambda: x.mean(dim=1)),
                    (GLOBAL_DIMS, lambda: x.mean(dim=(1, 2))), (GLOBAL_DIMS, lambda: x.mean(dim=(1, 3))),
                    (GLOBAL_DIMS, lambda: x.mean(dim=(0, 1)))]
        expect_pool(pool.global_avg_pool, "global_avg_pool", x, (), {}, lambda t: t.mean(dim=(2, 3)), mistakes)


# --- task: backward -----------------------------------------------------------------------------


def autograd_max_grad(x, g, k, stride=None, padding=0) -> torch.Tensor:
    xs = x.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad((F.max_pool2d(xs, k, stride, padding) * g).sum(), xs)
    return grad


def window_positions(x, k, stride, padding):
    """For each (output row, output col): the list of (row, col) input positions of its window (no padding)."""
    (kh, kw), (ph, pw) = pair(k), pair(padding)
    sh, sw = pair(k if stride is None else stride)
    H, W = x.shape[-2:]
    Ho, Wo = (H + 2 * ph - kh) // sh + 1, (W + 2 * pw - kw) // sw + 1
    return Ho, Wo, {(i, j): [(i * sh - ph + a, j * sw - pw + b) for a in range(kh) for b in range(kw)
                             if 0 <= i * sh - ph + a < H and 0 <= j * sw - pw + b < W]
                    for i in range(Ho) for j in range(Wo)}


def routed_grad(x, g, k, stride, padding, rule: str) -> torch.Tensor:
    """The input gradient with a tie rule ('last', 'all', 'split') or with overwriting ('overwrite')."""
    Ho, Wo, pos = window_positions(x, k, stride, padding)
    xc, gc = x.detach().cpu(), g.detach().cpu()
    grad = torch.zeros_like(xc)
    for n in range(x.shape[0]):
        for c in range(x.shape[1]):
            for (i, j), cells in pos.items():
                vals = torch.stack([xc[n, c, r, s] for r, s in cells])
                best = [cells[t] for t in range(len(cells)) if vals[t] == vals.max()]
                gv = gc[n, c, i, j]
                if rule == "overwrite":
                    grad[n, c, best[0][0], best[0][1]] = gv
                elif rule == "last":
                    grad[n, c, best[-1][0], best[-1][1]] += gv
                else:
                    for r, s in best:
                        grad[n, c, r, s] += gv if rule == "all" else gv / len(best)
    return grad.to(x.device)


def backward_mistakes(x, g, k, stride=None, padding=0, with_ties=False) -> list:
    def avg_grad(count_include_pad=True):
        xs = x.clone().requires_grad_(True)
        out = F.avg_pool2d(xs, k, stride, padding, count_include_pad=count_include_pad)
        return torch.autograd.grad((out * g).sum(), xs)[0]

    kh, kw = pair(k)
    out = [(SPREAD, avg_grad), (SPREAD, lambda: avg_grad(False)), (COPIED, lambda: avg_grad() * kh * kw),
           (STRIDE_ONE, lambda: autograd_max_grad(x, g, k, 1, padding)),
           (OVERWRITE, lambda: routed_grad(x, g, k, stride, padding, "overwrite"))]
    if with_ties:
        out += [(ALL_TIES, lambda: routed_grad(x, g, k, stride, padding, "all")),
                (SPLIT_TIES, lambda: routed_grad(x, g, k, stride, padding, "split")),
                (LAST_TIE, lambda: routed_grad(x, g, k, stride, padding, "last"))]
    return out


def expect_backward(pool, x, g, k, kwargs, with_ties: bool) -> None:
    what = describe("max_pool2d_backward", x, ("grad_out " + str(tuple(g.shape)), k), kwargs).replace("'", "")
    try:
        got = call(pool.max_pool2d_backward, x, g, k, **kwargs)
    except NotImplementedError:
        raise
    expect_type(got, torch.Tensor, what)
    want = autograd_max_grad(x, g, k, **kwargs)
    expect_match(what, got, want, backward_mistakes(x, g, k, **kwargs, with_ties=with_ties),
                 against="autograd through F.max_pool2d")


BACKWARD_CASES = [
    ((2, 3, 6, 8), 2, {}),                                   # windows tile the input
    ((2, 3, 7, 8), 3, {"stride": 2}),                        # overlapping: gradients add up
    ((1, 2, 7, 6), (3, 2), {"stride": 1}),
    ((2, 2, 7, 8), 3, {"stride": 2, "padding": 1}),
]


def grad_out_for(x, k, kwargs, gen) -> torch.Tensor:
    shape = F.max_pool2d(x, k, **kwargs).shape
    return torch.randn(*shape, generator=gen, dtype=F64).to(x.device)


@check("max_pool2d_backward() sends each gradient to its window's maximum only (vs autograd of F.max_pool2d)",
       task="backward")
def backward_values(ctx):
    pool = ctx.load("pool")
    dev = float64_device(ctx)
    for xs, k, kw in BACKWARD_CASES:
        x = rand(xs, ctx.gen, dev)
        expect_backward(pool, x, grad_out_for(x, k, kw, ctx.gen), k, kw, with_ties=False)


@check("max_pool2d_backward() with ties: the FIRST maximum of each window (row-major) gets the gradient",
       task="backward")
def backward_ties(ctx):
    pool = ctx.load("pool")
    dev = float64_device(ctx)
    for xs, k, kw in BACKWARD_CASES:
        x = ties(xs, ctx.gen, dev)
        expect_backward(pool, x, grad_out_for(x, k, kw, ctx.gen), k, kw, with_ties=True)

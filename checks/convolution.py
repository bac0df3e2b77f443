"""Check: convolution from scratch.

The learner's out_size() is compared with the formula over a grid of sizes, kernels, strides,
paddings and dilations; conv2d() and the Conv2d module with F.conv2d / nn.Conv2d in float64
(non-square inputs and kernels, several channels and a batch, stride, padding, dilation, ints
and pairs, with and without a bias), and gradients by torch.autograd.gradcheck. When a value is
off, the check recomputes it with each classic mistake (a flipped kernel, input channels not
summed, the weight read as (in, out, ...), padding on one side, a bias per pixel, ...) and names
the one it matches; when one argument is to blame, it says which. F.conv2d and nn.Conv2d are
forbidden in the learner's code.
"""

from __future__ import annotations

import math
import numbers

import torch
import torch.nn.functional as F
from torch import nn

from tutor.checking import (
    check,
    expect,
    expect_gradcheck,
    expect_match,
    expect_type,
    fail,
    float64_device,
    forbid,
    forbid_subclass,
    describe_difference,
    is_close,
    which_mistake,
)

F64 = torch.float64
BANNED = (F.conv2d, "conv1d", "conv3d", "convolution", "_convolution", "conv_transpose2d",
          nn.Conv1d, nn.Conv2d, nn.Conv3d)
REASON = ("the exercise is to write the convolution yourself (F.unfold and a matrix product, or loops "
          "over the kernel); F.conv2d and nn.Conv2d are the reference the check compares with")
DEFAULTS = {"stride": 1, "padding": 0, "dilation": 1}

# --- the classic mistakes, in words -------------------------------------------------------------

FLIPPED = ("it flips the kernel (w[::-1, ::-1]): that is the textbook convolution. PyTorch's conv2d is a "
           "cross-correlation, out[i, j] = Σ x[i+a, j+b]·w[a, b], with no flip")
FLIPPED_W = "it flips the kernel left-right (along the width only); conv2d uses the kernel as it is, no flip"
FLIPPED_H = "it flips the kernel upside down (along the height only); conv2d uses the kernel as it is, no flip"
NOT_SUMMED = ("the input channels are not summed: each (output, input) channel pair got its own map. "
              "out[n, o] = Σ_c Σ_a,b x[n, c, ...]·w[o, c, a, b]: sum over c as well as the kernel offsets")
LAST_CHANNEL = ("only the LAST input channel counts: each channel's product overwrote the previous one "
                "(= instead of +=). Sum over the input channels")
FIRST_CHANNEL = "only the FIRST input channel counts; out[n, o] sums over every input channel c"
MEAN_CHANNELS = "it AVERAGES over the input channels; a convolution SUMS over them (no division by C_in)"
LAYOUT = ("it reads the weight as (in, out, kh, kw) (that is ConvTranspose2d's layout). Conv2d's weight is "
          "(out_channels, in_channels, kh, kw): weight[o, c] connects input channel c to output channel o")
LAYOUT_RESHAPE = ("the weight was flattened to (C_in·kh·kw, C_out) with reshape/view instead of a transpose, "
                  "which scrambles it. Flatten it as weight.reshape(C_out, -1) (rows = output channels) and "
                  "transpose that if you need (C_in·kh·kw, C_out)")
BIAS_PER_COLUMN = ("the bias is lined up with the last dim (W): bias[j] was added to column j, a bias per pixel "
                   "column. There is one bias per OUTPUT CHANNEL, added at every pixel: "
                   "out + bias.reshape(1, C_out, 1, 1)")
BIAS_PER_ROW = ("the bias is lined up with the height: bias[i] was added to row i. There is one bias per output "
                "channel, added at every pixel: out + bias.reshape(1, C_out, 1, 1)")
BIAS_PER_POSITION = ("the bias is lined up with the flattened positions (dim L of the unfolded result): a bias "
                     "per pixel. Add one bias per output channel: out + bias.reshape(1, C_out, 1) on (N, C_out, L)")
BIAS_MISSING = "the bias was not added; add bias[o] to every pixel of output channel o"
PAD_BEFORE = ("padding on one side only: the zeros went before the rows and columns (top and left), not after "
              "them as well. padding=p adds p zeros on BOTH sides: F.pad(x, (pw, pw, ph, ph))")
PAD_AFTER = ("padding on one side only: the zeros went after the rows and columns (bottom and right). "
             "padding=p adds p zeros on BOTH sides: F.pad(x, (pw, pw, ph, ph))")
PAD_LAST_DIM = ("only the width was padded: F.pad(x, (p, p)) pads the LAST dim only. Pad both spatial dims: "
                "F.pad(x, (pw, pw, ph, ph)) (F.pad lists the last dim first), or F.unfold(..., padding=(ph, pw))")
PAD_SWAPPED = ("the height and width paddings are swapped; padding=(ph, pw) pads H by ph and W by pw. F.pad lists "
               "the LAST dim first: F.pad(x, (pw, pw, ph, ph))")
PAD_IGNORED = "the padding was ignored; add `padding` zeros on both sides of H and W"
STRIDE_SWAPPED = "the height and width strides are swapped: stride=(sh, sw) steps rows by sh and columns by sw"
STRIDE_IGNORED = "the stride was ignored (the windows moved one pixel at a time); step them by `stride`"
DILATION_SWAPPED = "the height and width dilations are swapped: dilation=(dh, dw)"
DILATION_IGNORED = "the dilation was ignored; dilation d spaces the kernel taps d pixels apart"

BLAME = {
    "bias": ("without the bias it matches F.conv2d, so the bias is added wrongly: one value per OUTPUT CHANNEL, "
             "added at every pixel, out + bias.reshape(1, C_out, 1, 1) (plain out + bias lines it up with W, a "
             "bias per pixel column)"),
    "padding": ("with padding=0 it matches F.conv2d, so the padding is wrong: padding=p adds p zeros on BOTH "
                "sides of H and W, F.pad(x, (pw, pw, ph, ph)) or F.unfold(..., padding=(ph, pw)); F.pad(x, (p, p)) "
                "pads the last dim only, and padding one side only gives a smaller output"),
    "stride": ("with stride=1 it matches F.conv2d, so the stride is wrong: windows start every s pixels "
               "(F.unfold(..., stride=(sh, sw))) and H_out = floor((H + 2p − d(k−1) − 1)/s) + 1"),
    "dilation": ("with dilation=1 it matches F.conv2d, so the dilation is wrong: the kernel taps are d pixels "
                 "apart (F.unfold(..., dilation=(dh, dw))), spanning d(k−1) + 1 pixels"),
}

# out_size mistakes: (message, formula) with the right one first.
SIZE_FORMULAS = [
    ("right", lambda h, k, s, p, d: (h + 2 * p - d * (k - 1) - 1) // s + 1),
    ("the −1 is missing: (H + 2p − d(k−1))//s + 1 counts one window too many when s divides it (off by one)",
     lambda h, k, s, p, d: (h + 2 * p - d * (k - 1)) // s + 1),
    ("the +1 is missing: (H + 2p − d(k−1) − 1)//s counts the window steps, not the windows (off by one)",
     lambda h, k, s, p, d: (h + 2 * p - d * (k - 1) - 1) // s),
    ("it rounds UP (ceil); the last window must fit entirely, so round down: floor(...) + 1",
     lambda h, k, s, p, d: -(-(h + 2 * p - d * (k - 1) - 1) // s) + 1),
    ("the padding is counted once; padding=p adds p on BOTH sides: H + 2p",
     lambda h, k, s, p, d: (h + p - d * (k - 1) - 1) // s + 1),
    ("the dilation is ignored; a dilated kernel spans d(k−1) + 1 pixels",
     lambda h, k, s, p, d: (h + 2 * p - (k - 1) - 1) // s + 1),
    ("the dilated kernel is taken as d·k pixels wide; it spans d(k−1) + 1",
     lambda h, k, s, p, d: (h + 2 * p - d * k) // s + 1),
    ("the stride is ignored; divide by s (floor) before adding 1",
     lambda h, k, s, p, d: h + 2 * p - d * (k - 1)),
]


def pair(v) -> tuple[int, int]:
    return (v, v) if isinstance(v, int) else tuple(v)


def rand(shape, gen, device) -> torch.Tensor:
    return torch.randn(*shape, generator=gen, dtype=F64).to(device)


def banned() -> forbid:
    return forbid(*BANNED, reason=REASON, caller="conv2d()")


def call_conv(fn, x, w, b, cfg):
    with banned():
        return fn(x, w, b, **cfg)


def describe(x, w, b, cfg) -> str:
    args = "".join(f", {k}={v}" for k, v in cfg.items() if v != DEFAULTS[k])
    bias = ", bias" if b is not None else ", bias=None"
    return f"conv2d(x {tuple(x.shape)}, weight {tuple(w.shape)}{bias}{args})"


def per_pair(x, w, cfg) -> torch.Tensor:
    """(N, C_out, C_in, H', W'): the map of every (output, input) channel pair, not summed."""
    maps = [[F.conv2d(x[:, c:c + 1], w[o:o + 1, c:c + 1], None, **cfg)[:, 0] for c in range(w.shape[1])]
            for o in range(w.shape[0])]
    return torch.stack([torch.stack(row, 1) for row in maps], 1)


def conv_mistakes(x, w, b, cfg) -> list:
    """(message, candidate) for each classic mistake that applies to this call."""

    def ref(xx=x, ww=w, bb=b, **change):
        return F.conv2d(xx, ww, bb, **{**cfg, **change})

    C_out, C_in = w.shape[:2]
    (ph, pw), (sh, sw), (dh, dw) = pair(cfg["padding"]), pair(cfg["stride"]), pair(cfg["dilation"])
    plain = {**cfg, "padding": 0}
    out = [(FLIPPED, lambda: ref(ww=w.flip(-2, -1))), (FLIPPED_W, lambda: ref(ww=w.flip(-1))),
           (FLIPPED_H, lambda: ref(ww=w.flip(-2)))]
    if C_in > 1:
        bias4 = 0 if b is None else b.reshape(1, -1, 1, 1)
        pairs = lambda: per_pair(x, w, cfg)  # noqa: E731
        out += [
            (NOT_SUMMED, pairs),
            (NOT_SUMMED, lambda: pairs().flatten(1, 2)),
            (NOT_SUMMED, lambda: pairs().transpose(1, 2).flatten(1, 2)),
            (LAST_CHANNEL, lambda: ref(xx=x[:, -1:], ww=w[:, -1:])),
            (FIRST_CHANNEL, lambda: ref(xx=x[:, :1], ww=w[:, :1])),
            (MEAN_CHANNELS, lambda: ref(bb=None) / C_in + bias4),
        ]
    if C_in == C_out:
        out.append((LAYOUT, lambda: ref(ww=w.transpose(0, 1))))
    if C_out > 1:
        out.append((LAYOUT_RESHAPE, lambda: ref(ww=w.reshape(-1, C_out).T.reshape(w.shape))))
    if b is not None:
        nob = lambda: ref(bb=None)  # noqa: E731
        out += [
            (BIAS_PER_COLUMN, lambda: nob() + b.reshape(1, 1, 1, -1)),
            (BIAS_PER_ROW, lambda: nob() + b.reshape(1, 1, -1, 1)),
            (BIAS_PER_POSITION, lambda: (nob().flatten(2) + b).reshape(nob().shape)),
            (BIAS_MISSING, nob),
        ]
    if (ph, pw) != (0, 0):
        out += [
            (PAD_BEFORE, lambda: F.conv2d(F.pad(x, (pw, 0, ph, 0)), w, b, **plain)),
            (PAD_AFTER, lambda: F.conv2d(F.pad(x, (0, pw, 0, ph)), w, b, **plain)),
            (PAD_LAST_DIM, lambda: F.conv2d(F.pad(x, (pw, pw)), w, b, **plain)),
            (PAD_IGNORED, lambda: ref(padding=0)),
        ]
        if ph != pw:
            out.append((PAD_SWAPPED, lambda: ref(padding=(pw, ph))))
    if (sh, sw) != (1, 1):
        out.append((STRIDE_IGNORED, lambda: ref(stride=1)))
        if sh != sw:
            out.append((STRIDE_SWAPPED, lambda: ref(stride=(sw, sh))))
    if (dh, dw) != (1, 1):
        out.append((DILATION_IGNORED, lambda: ref(dilation=1)))
        if dh != dw:
            out.append((DILATION_SWAPPED, lambda: ref(dilation=(dw, dh))))
    return out


def blame(fn, x, w, b, cfg, what: str, trouble: str) -> None:
    """When dropping one argument (the bias, or one of stride/padding/dilation) makes the call right,
    fail naming that argument; otherwise return and let the caller report."""
    trials = [("bias", None)] if b is not None else []
    trials += [(k, DEFAULTS[k]) for k in ("padding", "stride", "dilation") if cfg[k] != DEFAULTS[k]]
    for name, plain in trials:
        bb = None if name == "bias" else b
        cc = cfg if name == "bias" else {**cfg, name: plain}
        try:
            got = call_conv(fn, x, w, bb, cc)
        except NotImplementedError:
            raise
        except Exception:  # noqa: BLE001 - this simpler call fails too: not the culprit
            continue
        if is_close(got, F.conv2d(x, w, bb, **cc)):
            fail(f"{what} {trouble}; {BLAME[name]}")


def expect_conv(fn, x, w, b, cfg) -> None:
    """The learner's conv2d(x, w, b, **cfg) must match F.conv2d; name the mistake if not."""
    what = describe(x, w, b, cfg)
    try:
        got = call_conv(fn, x, w, b, cfg)
    except NotImplementedError:
        raise
    except (RuntimeError, ValueError, TypeError, IndexError) as exc:
        blame(fn, x, w, b, cfg, what, f"raised {type(exc).__name__}: {str(exc).splitlines()[0][:160]}")
        raise
    expect_type(got, torch.Tensor, what)
    want = F.conv2d(x, w, b, **cfg)
    if got.dtype != x.dtype:
        fail(f"{what} returned {got.dtype} for {x.dtype} input; keep the input's dtype (make new tensors with "
             "x.new_zeros(...) or dtype=x.dtype)")
    if not is_close(got, want):
        if which_mistake(got, conv_mistakes(x, w, b, cfg), want) is None:
            blame(fn, x, w, b, cfg, what, f"is off ({describe_difference(got, want)})")
    expect_match(what, got, want, conv_mistakes(x, w, b, cfg), against="F.conv2d")


# --- task: size ---------------------------------------------------------------------------------


def size_grid():
    """(H, k, s, p, d) with a non-negative numerator: sizes 1-12, kernels 1-5, strides 1-3, ..."""
    for h in range(1, 13):
        for k in range(1, 6):
            for s in range(1, 4):
                for p in range(0, 3):
                    for d in range(1, 4):
                        if h + 2 * p - d * (k - 1) - 1 >= 0:
                            yield h, k, s, p, d


@check("out_size() gives floor((H + 2p − d(k−1) − 1)/s) + 1 over a grid (floor cases included)", task="size")
def size_formula(ctx):
    conv = ctx.load("conv")
    cases = list(size_grid())
    raw = {case: conv.out_size(*case) for case in cases}
    floats = [c for c in cases if isinstance(raw[c], float)
              or (isinstance(raw[c], torch.Tensor) and raw[c].is_floating_point())]
    if floats:
        # Show a case where the division does not come out even, if there is one.
        h, k, s, p, d = case = next((c for c in floats if float(raw[c]) != int(float(raw[c]))), floats[0])
        fail(f"out_size({h}, kernel_size={k}, stride={s}, padding={p}, dilation={d}) returned "
             f"{float(raw[case])!r}, a float; expected the int {SIZE_FORMULAS[0][1](*case)}. The floor is missing: "
             "(H + 2p − d(k−1) − 1)/s is not a whole number in general; use floor division // (the last "
             "window must fit entirely), and return an int (shapes are ints)")
    got = {}
    for case in cases:
        value = raw[case]
        if not isinstance(value, numbers.Integral) or isinstance(value, bool):
            h, k, s, p, d = case
            fail(f"out_size({h}, kernel_size={k}, stride={s}, padding={p}, dilation={d}) returned {value!r} "
                 f"({type(value).__name__}); return a Python int")
        got[case] = int(value)
    wrong = [c for c in cases if got[c] != SIZE_FORMULAS[0][1](*c)]
    if not wrong:
        return
    h, k, s, p, d = first = wrong[0]
    label = f"out_size({h}, kernel_size={k}, stride={s}, padding={p}, dilation={d})"
    right = SIZE_FORMULAS[0][1](*first)
    numbers_ = (f"{label} is {got[first]}, expected floor(({h} + 2·{p} − {d}·({k}−1) − 1)/{s}) + 1 = {right} "
                f"(difference {got[first] - right}); {len(wrong)} of {len(cases)} cases are off")
    for why, formula in SIZE_FORMULAS[1:]:
        if all(got[c] == formula(*c) for c in cases):
            fail(f"{numbers_}: {why}")
    fail(numbers_)


# --- task: conv2d -------------------------------------------------------------------------------


@check("conv2d() is a cross-correlation like F.conv2d (one channel, non-square kernel, batch of 2)",
       task="conv2d")
def conv_single_channel(ctx):
    conv = ctx.load("conv")
    dev = float64_device(ctx)
    for xs, ws in (((2, 1, 6, 7), (1, 1, 3, 2)), ((1, 1, 5, 5), (1, 1, 2, 4))):
        expect_conv(conv.conv2d, rand(xs, ctx.gen, dev), rand(ws, ctx.gen, dev), None, dict(DEFAULTS))


@check("conv2d() sums over the input channels, with weight (C_out, C_in, kh, kw)", task="conv2d")
def conv_channels(ctx):
    conv = ctx.load("conv")
    dev = float64_device(ctx)
    # C_in == C_out first: the one case where a weight read as (in, out, ...) still runs.
    for xs, ws in (((2, 3, 5, 6), (3, 3, 2, 3)), ((2, 3, 6, 5), (5, 3, 3, 2)), ((3, 4, 4, 7), (2, 4, 1, 3))):
        expect_conv(conv.conv2d, rand(xs, ctx.gen, dev), rand(ws, ctx.gen, dev), None, dict(DEFAULTS))


@check("conv2d() adds one bias per output channel, at every pixel", task="conv2d")
def conv_bias(ctx):
    conv = ctx.load("conv")
    dev = float64_device(ctx)
    # The first case has W_out == C_out == 4, so a bias broadcast along W runs and is recognised.
    for xs, ws in (((2, 3, 5, 6), (4, 3, 2, 3)), ((2, 2, 6, 7), (3, 2, 3, 3))):
        expect_conv(conv.conv2d, rand(xs, ctx.gen, dev), rand(ws, ctx.gen, dev), rand(ws[:1], ctx.gen, dev),
                    dict(DEFAULTS))


CONFIGS = [  # x shape, weight shape, with bias, stride, padding, dilation
    ((2, 3, 9, 8), (4, 3, 3, 2), False, 2, 0, 1),            # H: (9-3)//2+1 = 4, W: (8-2)//2+1 = 4
    ((2, 3, 10, 9), (4, 3, 3, 2), False, 3, 0, 1),           # floor: H (10-3)//3+1 = 3, W (9-2)//3+1 = 3
    ((2, 3, 7, 8), (4, 3, 3, 2), False, 1, 1, 1),
    ((2, 3, 9, 10), (4, 3, 3, 2), False, 1, 0, 2),
    ((2, 3, 9, 8), (4, 3, 3, 2), True, (2, 1), (1, 2), (1, 2)),
    ((3, 2, 7, 10), (5, 2, 3, 4), True, (1, 3), (2, 0), (2, 1)),
    ((1, 2, 11, 9), (3, 2, 2, 3), True, 3, 2, 2),            # (11+4-2-1)//3+1 = 5, (9+4-4-1)//3+1 = 3
    ((2, 1, 5, 4), (2, 1, 5, 4), True, 1, 0, 1),             # the kernel covers the whole input: 1x1 output
]


@check("conv2d() with stride, padding and dilation, as ints and as (h, w) pairs, matches F.conv2d",
       task="conv2d")
def conv_stride_padding_dilation(ctx):
    conv = ctx.load("conv")
    dev = float64_device(ctx)
    for xs, ws, with_bias, stride, padding, dilation in CONFIGS:
        b = rand(ws[:1], ctx.gen, dev) if with_bias else None
        cfg = {"stride": stride, "padding": padding, "dilation": dilation}
        expect_conv(conv.conv2d, rand(xs, ctx.gen, dev), rand(ws, ctx.gen, dev), b, cfg)


@check("gradients of conv2d() w.r.t. x, weight and bias match F.conv2d and pass gradcheck", task="conv2d")
def conv_gradcheck(ctx):
    conv = ctx.load("conv")
    dev = float64_device(ctx)
    cfg = {"stride": (2, 1), "padding": 1, "dilation": (1, 2)}
    x = rand((2, 2, 5, 6), ctx.gen, dev).requires_grad_(True)
    w = rand((3, 2, 2, 3), ctx.gen, dev).requires_grad_(True)
    b = rand((3,), ctx.gen, dev).requires_grad_(True)
    out = call_conv(conv.conv2d, x, w, b, cfg)
    expect_type(out, torch.Tensor, describe(x, w, b, cfg))
    what = describe(x, w, b, cfg)
    expect(out.requires_grad, f"{what} does not require grad although x, weight and bias do: "
           "something left the autograd graph (NumPy, .detach(), .item(), .data or torch.no_grad())")
    g = rand(tuple(out.shape), ctx.gen, dev)
    mine = torch.autograd.grad((out * g).sum(), (x, w, b), allow_unused=True)
    want = torch.autograd.grad((F.conv2d(x, w, b, **cfg) * g).sum(), (x, w, b))
    for name, got_g, want_g in zip(("x", "weight", "bias"), mine, want):
        expect(got_g is not None, f"no gradient reaches {name} through {what}: it left the autograd graph "
               "(NumPy, .detach(), .item(), .data or torch.no_grad()); use torch operations only")
        expect_match(f"the gradient of {what} w.r.t. {name}", got_g, want_g, against="F.conv2d's gradient")

    def fn(x, w, b):
        return call_conv(conv.conv2d, x, w, b, cfg)

    expect_gradcheck(fn, (x, w, b), describe(x, w, b, cfg))


# --- task: module -------------------------------------------------------------------------------


def build(conv, *args, **kwargs) -> nn.Module:
    m = conv.Conv2d(*args, **kwargs)
    expect_type(m, nn.Module, "Conv2d(...)")
    forbid_subclass(m, nn.Conv2d, reason=REASON, name="Conv2d")
    inside = [type(s).__name__ for s in m.modules() if isinstance(s, (nn.Conv1d, nn.Conv2d, nn.Conv3d))]
    expect(not inside, f"your Conv2d contains a {inside[0] if inside else ''} module: {REASON}")
    return m


def shape_of(t) -> tuple:
    return tuple(t.shape) if isinstance(t, torch.Tensor) else ()


def expect_init(m, label: str, fan_in: int, in_channels: int) -> None:
    """The initial weight is centred with a standard deviation of order 1/sqrt(fan_in)."""
    w = m.weight.detach().double().flatten()
    std, mean = w.std().item(), w.mean().item()
    ratio = std * math.sqrt(fan_in)
    base = (f"{label}.weight starts with std {std:.4g} = {ratio:.3g}/√fan_in (fan_in = in·kh·kw = {fan_in}) "
            f"and mean {mean:.3g}")
    expect(std > 0, f"{base}: every weight is equal (zeros?), so all output channels stay identical. Draw them "
           "at random, e.g. uniform in ±1/√fan_in like PyTorch")
    expect(abs(mean) < 0.5 * std, f"{base}: not centred on 0 (torch.rand gives [0, 1)); use a symmetric range, "
           "e.g. torch.empty(...).uniform_(-bound, bound) with bound = 1/√fan_in")
    # Accepted: 0.25 to 2 times 1/sqrt(fan_in). PyTorch's default U(±1/√fan_in) gives 0.577, Xavier about
    # 0.6-1, kaiming_normal_/kaiming_uniform_ (ReLU gain) 1.414. The solution measures 0.557-0.590
    # (Conv2d(3, 16, 5)), 0.546-0.601 (Conv2d(3, 8, (3, 5))), 0.571-0.586 (Conv2d(16, 32, 3)) over seeds
    # 0-19, and |mean|/std at most 0.11 (limit 0.5); fan_in without the 5x5 kernel area gives 2.9 or
    # more, torch.randn 8.7.
    if not 0.25 <= ratio <= 2.0:
        why = "the scale is not kaiming-like: use std between 0.25/√fan_in and 2/√fan_in"
        if abs(std - 1) < 0.1:
            why = "it looks like torch.randn (std 1): scale by 1/√fan_in (or use PyTorch's U(±1/√fan_in))"
        elif 0.25 <= std * math.sqrt(in_channels) <= 2.0:
            why = (f"the scale fits fan_in = in_channels = {in_channels}; fan_in counts every input of one output "
                   f"pixel, in_channels·kh·kw = {fan_in}")
        fail(f"{base}: {why}. PyTorch's default is U(±1/√fan_in), std 0.577/√fan_in")


@check("Conv2d holds weight (out, in, kh, kw) and bias (out,) as Parameters, with a kaiming-like init",
       task="module")
def module_structure(ctx):
    conv = ctx.load("conv")
    for args, kwargs in (((3, 16, 5), {}), ((3, 8, (3, 5)), {"bias": False}), ((16, 32, 3), {})):
        m = build(conv, *args, **kwargs)
        ref = nn.Conv2d(*args, **kwargs)
        label = f"Conv2d({', '.join(map(repr, args))}{''.join(f', {k}={v}' for k, v in kwargs.items())})"
        params = dict(m.named_parameters())
        expect("weight" in params, f"{label} has no Parameter named weight (found {sorted(params)}); make it "
               "self.weight = nn.Parameter(...)")
        want = tuple(ref.weight.shape)
        got = tuple(params["weight"].shape)
        if got != want:
            swapped = (want[1], want[0]) + want[2:]
            extra = (" = (in, out, kh, kw), ConvTranspose2d's layout; Conv2d's weight is (out_channels, "
                     "in_channels, kh, kw)") if got == swapped else ""
            fail(f"{label}.weight has shape {got}{extra}; expected (out, in, kh, kw) = {want}")
        if kwargs.get("bias", True):
            expect("bias" in params, f"{label} has no Parameter named bias; make it self.bias = nn.Parameter(...) "
                   "of shape (out_channels,)")
            expect(shape_of(params["bias"]) == (args[1],),
                   f"{label}.bias has shape {shape_of(params['bias'])}; expected (out_channels,) = ({args[1]},): "
                   "one bias per output channel, shared by every pixel")
        else:
            expect(getattr(m, "bias", None) is None and "bias" not in params,
                   f"{label}: with bias=False there must be no bias Parameter and m.bias must be None")
        count, want_count = sum(p.numel() for p in m.parameters()), sum(p.numel() for p in ref.parameters())
        expect(count == want_count,
               f"{label} has {count} parameters; nn.Conv2d has out·in·kh·kw{' + out' if ref.bias is not None else ''}"
               f" = {want_count} (difference {count - want_count})")
        kh, kw = want[2:]
        expect_init(m, label, args[0] * kh * kw, args[0])


MODULE_CASES = [  # constructor arguments, input shape
    ((3, 4, (3, 2)), {"stride": (2, 1), "padding": (1, 0), "dilation": (1, 2)}, (2, 3, 9, 8)),
    ((2, 5, 3), {"stride": 2, "padding": 1, "bias": False}, (3, 2, 7, 6)),
    ((1, 2, 2), {"dilation": 2}, (2, 1, 6, 5)),
]


@check("Conv2d.forward matches nn.Conv2d with the same weights (outputs and gradients)", task="module")
def module_forward(ctx):
    conv = ctx.load("conv")
    dev = float64_device(ctx)
    for args, kwargs, xs in MODULE_CASES:
        m = build(conv, *args, **kwargs).to(device=dev, dtype=F64)
        ref = nn.Conv2d(*args, **kwargs).to(device=dev, dtype=F64)
        with torch.no_grad():
            ref.weight.copy_(m.weight)
            if ref.bias is not None:
                ref.bias.copy_(m.bias)
        label = (f"Conv2d({', '.join(map(repr, args))}{''.join(f', {k}={v}' for k, v in kwargs.items())})"
                 f"(x {xs})")
        x = rand(xs, ctx.gen, dev)
        with banned():
            got = m(x)
        want = ref(x)
        cfg = {k: kwargs.get(k, DEFAULTS[k]) for k in DEFAULTS}
        w, b = ref.weight.detach(), None if ref.bias is None else ref.bias.detach()
        ignored = ("forward ignores the layer's stride, padding and dilation (it called conv2d with the defaults); "
                   "pass self.stride, self.padding and self.dilation on to conv2d")
        mistakes = [(ignored, lambda: F.conv2d(x, w, b))] + conv_mistakes(x, w, b, cfg)
        expect_match(label, got, want.detach(), mistakes, against="nn.Conv2d")
        g = rand(tuple(want.shape), ctx.gen, dev)
        (got * g).sum().backward()
        (want * g).sum().backward()
        for name, p in (("weight", m.weight), ("bias", m.bias if ref.bias is not None else None)):
            expect(p is None or p.grad is not None, f"no gradient reached {label}'s {name}: the forward left the "
                   "autograd graph (NumPy, .detach(), .data or torch.no_grad()); use torch operations only")
        expect_match(f"the gradient of {label}'s weight", m.weight.grad, ref.weight.grad, against="nn.Conv2d")
        if ref.bias is not None:
            expect_match(f"the gradient of {label}'s bias", m.bias.grad, ref.bias.grad, against="nn.Conv2d")

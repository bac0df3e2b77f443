"""Check: sequences in batches (padding, masks, masked mean and loss, windows, last steps, packing).

pad() is compared with pad_sequence in both layouts (and is not allowed to call it), the mask
exactly, masked_mean() and masked_cross_entropy() with the masked reference and with
F.cross_entropy(ignore_index=-100) in float64, with large values in the padding so that any
padding counted shows. windows() is run on an index-valued series (each value is its own
position, so the check can tell where every target came from: a target inside its own window is
named as leakage) and on a synthetic AR(2) series. last_steps() is compared with indexing at
lengths - 1; packed_final_state() with each sequence run alone through the same LSTM, with
unsorted lengths. Each classic mistake is recomputed and named with the numbers.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_sequence

from tutor.checking import check, data, expect, expect_match, expect_type, fail, float64_device, forbid

F64 = torch.float64
BIG = 1000.0  # padding holds BIG + noise: counting it moves a mean by hundreds
PAD_REASON = ("the exercise is to build the padded tensor yourself (torch.full and slice assignment); "
              "pad_sequence is the reference the check compares with")
LAYOUT = ("it has the (T, B) and (B, T) layouts swapped: batch_first=True means (B, T, *) with the batch "
          "first, batch_first=False means (T, B, *) (time first, PyTorch's RNN default)")


def padded_batch(gen, lengths, features, dev, big=BIG):
    """A (B, T, *features) float64 batch: N(0, 1) on the real steps, BIG + N(0, 1) on the padding."""
    T = max(lengths)
    x = torch.randn((len(lengths), T) + tuple(features), generator=gen, dtype=F64)
    mask = torch.arange(T).unsqueeze(0) < torch.tensor(lengths).unsqueeze(1)
    m = mask.reshape(mask.shape + (1,) * len(features))
    x = torch.where(m, x, x + big)
    return x.to(dev), mask.to(dev)


# --- task: pad ----------------------------------------------------------------------------------

PAD_CASES = [  # lengths, feature shape, dtype, padding value, batch_first
    ([3, 5, 1, 4], (), F64, 0, True),
    ([2, 6, 3], (2,), F64, -1.5, True),
    ([2, 6, 3], (2,), F64, -1.5, False),
    ([1, 4, 2, 3, 2], (), torch.int64, 7, False),
]


@check("pad() matches pad_sequence in both layouts, with the padding value, the longest sequence not first",
       task="pad")
def pad_values(ctx):
    seq = ctx.load("sequences")
    dev = float64_device(ctx)
    for lengths, features, dtype, value, batch_first in PAD_CASES:
        seqs = [(torch.randn((n,) + features, generator=ctx.gen, dtype=F64) * 10).to(dtype).to(dev)
                for n in lengths]
        label = (f"pad(lengths {lengths}, shape (L, {', '.join(map(str, features))}), value={value}, "
                 f"batch_first={batch_first})").replace("(L, )", "(L,)")
        with forbid(pad_sequence, "pad_packed_sequence", "pack_sequence", "to_padded_tensor",
                    reason=PAD_REASON, caller="pad()"):
            got = seq.pad([s.clone() for s in seqs], value=value, batch_first=batch_first)
        want = pad_sequence(seqs, batch_first=batch_first, padding_value=value)
        expect_type(got, torch.Tensor, label)
        mistakes = [
            (LAYOUT, lambda: pad_sequence(seqs, batch_first=not batch_first, padding_value=value)),
            (f"the padding value is ignored: the padding holds 0, not value={value}",
             lambda: pad_sequence(seqs, batch_first=batch_first, padding_value=0)),
            ("the padding went at the START of the sequences (left padding); pad at the end: out[b, :L_b] = seqs[b]",
             lambda: pad_sequence(seqs, batch_first=batch_first, padding_value=value, padding_side="left")),
        ]
        expect_match(label, got, want, mistakes, against="pad_sequence")
        expect(got.dtype == want.dtype, f"{label} has dtype {got.dtype}; the sequences are {want.dtype}: make the "
               "padded tensor with dtype=seqs[0].dtype (torch.full(..., value) alone picks a float dtype)")
        expect(got.device == want.device, f"{label} is on {got.device}; the sequences are on {want.device}")


# --- task: mask ---------------------------------------------------------------------------------


@check("length_mask() is a bool (B, max_len) tensor, True exactly at the real steps", task="mask")
def mask_exact(ctx):
    seq = ctx.load("sequences")
    for lengths, max_len in (([3, 1, 5, 2], 6), ([4, 4, 1], 4)):
        L = torch.tensor(lengths).to(ctx.device)
        want = torch.arange(max_len, device=ctx.device).unsqueeze(0) < L.unsqueeze(1)
        got = seq.length_mask(L.clone(), max_len)
        label = f"length_mask(lengths {lengths}, max_len={max_len})"
        expect_type(got, torch.Tensor, label)
        mistakes = [
            ("it is off by one: True at t <= lengths[b] (one padded step counted as real); the real steps are "
             "t = 0 .. lengths[b] - 1, so t < lengths[b]",
             lambda: torch.arange(max_len, device=ctx.device).unsqueeze(0) <= L.unsqueeze(1)),
            ("it is inverted: True on the padding and False on the real steps", lambda: ~want),
            ("it is transposed: (max_len, B) instead of (B, max_len)", lambda: want.T),
        ]
        expect_match(label, got.long() if got.dtype == torch.bool else got, want.long(),
                     [(why, (lambda c=c: c().long())) for why, c in mistakes], against="t < lengths[b]")
        expect(got.dtype == torch.bool, f"{label} has dtype {got.dtype} with the right 0/1 values; return a bool "
               "tensor (a comparison such as steps < lengths gives one): indexing and masked_fill need bool")


# --- task: mean ---------------------------------------------------------------------------------


@check("masked_mean() averages each sequence over its real steps only (padding holds large values)",
       task="mean")
def masked_mean_values(ctx):
    seq = ctx.load("sequences")
    dev = float64_device(ctx)
    for lengths, features in (([4, 1, 6, 3], ()), ([2, 5, 3], (3,))):
        x, mask = padded_batch(ctx.gen, lengths, features, dev)
        m = mask.reshape(mask.shape + (1,) * len(features)).to(F64)
        count = m.sum(1)
        want = (torch.where(m.bool(), x, 0.0)).sum(1) / count
        label = f"masked_mean(x {tuple(x.shape)}, mask of lengths {lengths}) (padding ≈ {BIG:g})"
        got = seq.masked_mean(x.clone(), mask.clone())
        expect_type(got, torch.Tensor, label)
        T = x.shape[1]
        mistakes = [
            ("the padding is counted: that is x.mean(dim=1), which averages the padded values too. Average over "
             "the real steps only: Σ_t mask·x / Σ_t mask", lambda: x.mean(1)),
            (f"the padding is zeroed but still counted: the sum is divided by T = {T} instead of each sequence's "
             "length Σ_t mask[b, t]", lambda: torch.where(m.bool(), x, 0.0).sum(1) / T),
            ("it is one mean over every real entry of the batch; the mean is per sequence, shape (B, *)",
             lambda: torch.where(m.bool(), x, 0.0).sum((0, 1)) / m.sum((0, 1))),
            ("it averaged over the batch dim (dim 0) instead of time (dim 1): the input is (B, T, *)",
             lambda: torch.where(m.bool(), x, 0.0).sum(0) / m.sum(0)),
        ]
        expect_match(label, got, want, mistakes, against="the mean over the real steps")


# --- task: loss ---------------------------------------------------------------------------------


def loss_inputs(gen, lengths, C, dev):
    T = max(lengths)
    B = len(lengths)
    mask = (torch.arange(T).unsqueeze(0) < torch.tensor(lengths).unsqueeze(1))
    logits = torch.randn(B, T, C, generator=gen, dtype=F64) * 2
    logits = torch.where(mask.unsqueeze(-1), logits, logits * 15)  # large, confident-and-wrong padding logits
    targets = torch.randint(0, C, (B, T), generator=gen)
    return logits.to(dev), targets.to(dev), mask.to(dev)


@check("masked_cross_entropy() equals F.cross_entropy(ignore_index=-100) over the real tokens (value and gradient)",
       task="loss")
def masked_loss_values(ctx):
    seq = ctx.load("sequences")
    dev = float64_device(ctx)
    for lengths, C in (([5, 2, 7, 3], 4), ([3, 6, 1], 6)):
        logits, targets, mask = loss_inputs(ctx.gen, lengths, C, dev)
        B, T, _ = logits.shape
        ignored = targets.masked_fill(~mask, -100)
        want = F.cross_entropy(logits.reshape(-1, C), ignored.reshape(-1), ignore_index=-100)
        per = F.cross_entropy(logits.reshape(-1, C), targets.reshape(-1), reduction="none").reshape(B, T)
        real = torch.where(mask, per, 0.0)
        label = f"masked_cross_entropy(logits {tuple(logits.shape)}, lengths {lengths})"
        leaf = logits.clone().requires_grad_(True)
        got = seq.masked_cross_entropy(leaf, targets.clone(), mask.clone())
        expect_type(got, torch.Tensor, label)
        mistakes = [
            ("the padding is counted: every position's loss is averaged, padded tokens included. Drop them: "
             "F.cross_entropy(..., ignore_index=-100) with the padded targets set to -100, or the mask",
             lambda: per.mean()),
            (f"the padded losses are zeroed but still counted: the sum is divided by B·T = {B * T} instead of the "
             f"number of real tokens ({int(mask.sum())})", lambda: real.sum() / (B * T)),
            ("it is the mean of the per-sequence means, which weighs a short sequence's tokens more; every token "
             "counts once: Σ losses / number of real tokens", lambda: (real.sum(1) / mask.sum(1)).mean()),
            ("it is the SUM of the real tokens' losses; divide by the number of real tokens", lambda: real.sum()),
            ("the padded targets became class 0, a real class, so the padding is counted as class-0 tokens; set "
             "them to ignore_index (targets.masked_fill(~mask, -100)) or drop them with the mask",
             lambda: F.cross_entropy(logits.reshape(-1, C), targets.masked_fill(~mask, 0).reshape(-1))),
        ]
        expect_match(label, got.detach(), want.detach(), mistakes,
                     against="F.cross_entropy(ignore_index=-100)")
        expect(got.requires_grad, f"{label} does not require grad although the logits do: it left the autograd "
               "graph (.item(), .detach(), NumPy); keep it a tensor")
        (g_got,) = torch.autograd.grad(got, leaf)
        ref = logits.clone().requires_grad_(True)
        F.cross_entropy(ref.reshape(-1, C), ignored.reshape(-1), ignore_index=-100).backward()
        expect_match(f"the gradient of {label} w.r.t. the logits", g_got, ref.grad, [
            ("the padded logits get a gradient: the padding takes part in the loss", lambda: ref.grad + 1)],
            against="F.cross_entropy's gradient",
            hint="the padded positions must get a zero gradient and the real ones (softmax − onehot)/n_real")


# --- task: windows ------------------------------------------------------------------------------

WINDOW_CASES = [(12, 4, 1), (15, 3, 5), (8, 1, 2), (10, 5, 1)]  # N, width, horizon


def ref_windows(series, width, horizon):
    M = len(series) - width - horizon + 1
    inputs = torch.stack([series[i:i + width] for i in range(M)])
    targets = torch.stack([series[i + width - 1 + horizon] for i in range(M)])
    return inputs, targets


def get_windows(seq, series, width, horizon, label):
    out = seq.windows(series.clone(), width, horizon)
    expect(isinstance(out, (tuple, list)) and len(out) == 2,
           f"{label} returned {type(out).__name__}; return a pair (inputs, targets)")
    inputs, targets = out
    expect_type(inputs, torch.Tensor, f"{label}'s inputs")
    expect_type(targets, torch.Tensor, f"{label}'s targets")
    return inputs, targets


@check("windows() has M = N − width − horizon + 1 windows, and no target inside its own window (leakage)",
       task="windows")
def windows_no_leakage(ctx):
    seq = ctx.load("sequences")
    dev = float64_device(ctx)
    for N, width, horizon in WINDOW_CASES:
        series = torch.arange(N, dtype=F64, device=dev)  # each value is its own index
        label = f"windows(series of N={N}, width={width}, horizon={horizon})"
        inputs, targets = get_windows(seq, series, width, horizon, label)
        M = N - width - horizon + 1
        got_m = inputs.shape[0] if inputs.dim() else 0
        if tuple(inputs.shape) != (M, width) or tuple(targets.shape) != (M,):
            why = ""
            if got_m == M + horizon - 1 and horizon > 1 or got_m == N - width + 1:
                why = (": the count ignores the horizon (N − width + 1); the last windows' targets would lie past "
                       "the end of the series")
            elif got_m == M - 1:
                why = ": one window short (N − width − horizon); the last start i = N − width − horizon also fits"
            elif got_m == M + 1:
                why = ": one window too many; the last target index i + width − 1 + horizon must be ≤ N − 1"
            fail(f"{label} gives inputs {tuple(inputs.shape)} and targets {tuple(targets.shape)}; expected "
                 f"({M}, {width}) and ({M},) (M = N − width − horizon + 1 = {N} − {width} − {horizon} + 1){why}")
        # On this series a value is its index: the target's index and the window's last index are read off.
        gap = (targets - inputs[:, -1]).round().long()
        inside = [(i, int(targets[i])) for i in range(M)
                  if bool((inputs[i] == targets[i]).any())]
        if inside:
            i, t = inside[0]
            fail(f"{label}: target leakage: target {i} is series[{t}], which is INSIDE its own input window "
                 f"series[{int(inputs[i, 0])} .. {int(inputs[i, -1])}]; expected series[{i + width - 1 + horizon}] "
                 f"(difference {t - (i + width - 1 + horizon)} steps; {len(inside)} of {M} windows). A model "
                 f"can then copy the answer from its input. The target is horizon = {horizon} step(s) after the "
                 f"window's last element: series[i + width − 1 + horizon]")
        if not bool((gap == horizon).all()):
            g = int(gap[0])
            extra = ""
            if g == horizon + 1:
                extra = ": one step too far (series[i + width + horizon]); the last input is i + width − 1"
            elif int(targets[0]) == horizon:
                extra = ": the horizon is counted from the window's START; count it from its last element"
            fail(f"{label}: target 0 is series[{int(targets[0])}], {g} step(s) after the window's last element "
                 f"series[{int(inputs[0, -1])}]; expected series[{width - 1 + horizon}], horizon = {horizon} "
                 f"step(s) after it{extra}")
        want_in, want_t = ref_windows(series, width, horizon)
        expect_match(f"{label}'s inputs", inputs, want_in, against="series[i : i + width]")
        expect_match(f"{label}'s targets", targets, want_t, against="series[i + width − 1 + horizon]")


@check("windows() on a synthetic AR(2) series: exact inputs and targets, the series' dtype kept", task="windows")
def windows_ar2(ctx):
    seq = ctx.load("sequences")
    dev = float64_device(ctx)
    series = torch.as_tensor(data.ar2_series(ctx.rng, n=60), device=dev)
    for width, horizon in ((8, 3), (5, 1)):
        label = f"windows(AR(2) series of N=60, width={width}, horizon={horizon})"
        inputs, targets = get_windows(seq, series, width, horizon, label)
        want_in, want_t = ref_windows(series, width, horizon)
        expect_match(f"{label}'s inputs", inputs, want_in, against="series[i : i + width]")
        expect_match(f"{label}'s targets", targets, want_t, [
            ("the target is the window's last element (horizon 0): it is inside its own window, leakage",
             lambda: want_in[:, -1]),
        ], against="series[i + width − 1 + horizon]")
        expect(inputs.dtype == series.dtype, f"{label}'s inputs have dtype {inputs.dtype}; the series is "
               f"{series.dtype}: keep it")


# --- task: last -------------------------------------------------------------------------------------


@check("last_steps() reads each sequence's output at its last real step, not output[:, -1]", task="last")
def last_steps_values(ctx):
    seq = ctx.load("sequences")
    dev = float64_device(ctx)
    for lengths in ([3, 6, 1, 4, 2], [2, 5, 3]):  # one padded step is appended: T > every length
        out, _ = padded_batch(ctx.gen, lengths, (3,), dev)
        out = torch.cat([out, torch.randn(out.shape[0], 1, 3, generator=ctx.gen, dtype=F64).to(dev) + BIG], 1)
        L = torch.tensor(lengths).to(ctx.device)
        rows = torch.arange(len(lengths))
        idx = torch.tensor(lengths) - 1
        want = out[rows.to(dev), idx.to(dev)]
        label = f"last_steps(output {tuple(out.shape)}, lengths {lengths})"
        got = seq.last_steps(out.clone(), L.clone())
        expect_type(got, torch.Tensor, label)
        mistakes = [
            ("it reads output[:, -1], the LAST PADDED step, for every sequence shorter than T: that is padding "
             "(≈ 1000 here), not the sequence's last output. Take output[b, lengths[b] − 1]", lambda: out[:, -1]),
            ("it is one step too late: output[b, lengths[b]] is the first padded step; the last real step is "
             "lengths[b] − 1", lambda: out[rows.to(dev), (idx + 1).to(dev)]),
            (LAYOUT + "; output here is (B, T, H)", lambda: out.transpose(0, 1)[idx.to(dev), rows.to(dev)]),
        ]
        expect_match(label, got, want, mistakes, against="output[b, lengths[b] − 1]")


# --- task: packed -------------------------------------------------------------------------------

PACKED_CASES = [([4, 7, 2, 5], 2), ([3, 5, 1, 4, 2], 1)]  # unsorted lengths, num_layers; the second has B = T


def alone(lstm, padded, lengths):
    """Each sequence run on its own (no padding at all): (h_n, c_n) stacked over the batch."""
    hs, cs = [], []
    for b, n in enumerate(lengths):
        _, (h, c) = lstm(padded[b:b + 1, :n])
        hs.append(h)
        cs.append(c)
    return torch.cat(hs, 1), torch.cat(cs, 1)


def same_error(fn, text: str) -> bool:
    """Whether fn() raises an error with this message (the learner's error recomputed)."""
    try:
        with torch.no_grad():
            fn()
    except RuntimeError as exc:
        return str(exc) == text
    return False


@check("packed_final_state() gives each sequence's final (h_n, c_n) as if it ran alone (unsorted lengths)",
       task="packed")
def packed_state(ctx):
    seq = ctx.load("sequences")
    dev = float64_device(ctx)
    for lengths, layers in PACKED_CASES:
        torch.manual_seed(ctx.seed)
        lstm = nn.LSTM(3, 5, num_layers=layers, batch_first=True).to(device=dev, dtype=F64)
        padded, _ = padded_batch(ctx.gen, lengths, (3,), dev, big=5.0)
        L = torch.tensor(lengths).to(ctx.device)
        label = f"packed_final_state(a {layers}-layer LSTM, padded {tuple(padded.shape)}, lengths {lengths})"

        def batch_first_missing():
            packed = pack_padded_sequence(padded, L.cpu(), batch_first=False, enforce_sorted=False)
            return lstm(packed)[1]

        try:
            got = seq.packed_final_state(lstm, padded.clone(), L.clone())
        except RuntimeError as exc:
            text = str(exc)
            if same_error(batch_first_missing, text):
                fail(f"{label} raised: {text.splitlines()[0].rstrip('.')}. That is the error pack_padded_sequence gives when "
                     "it reads the batch as (T, B, *): " + LAYOUT + ". The batch is (B, T, *): pass "
                     "batch_first=True")
            if "sorted in decreasing order" in text:
                fail(f"{label} raised: {text.split('.')[0]}. The lengths {lengths} are not sorted: pass "
                     "enforce_sorted=False to pack_padded_sequence (PyTorch then sorts, and puts h_n back in "
                     "the batch's order), or sort the batch yourself and unsort h_n")
            if "CPU int64" in text or "cpu" in text.lower() and "lengths" in text:
                fail(f"{label} raised: {text.splitlines()[0].rstrip('.')}. pack_padded_sequence wants the lengths on the CPU: "
                     "lengths.cpu()")
            raise
        with torch.no_grad():
            want = alone(lstm, padded, lengths)
            order = torch.argsort(torch.tensor(lengths), descending=True, stable=True).to(dev)
            ran_padding = lstm(padded)[1]
        expect(isinstance(got, (tuple, list)) and len(got) == 2,
               f"{label} returned {type(got).__name__}; return the LSTM's pair (h_n, c_n)")
        got = tuple(t.detach() if isinstance(t, torch.Tensor) else t for t in got)

        mistakes = [
            ("the LSTM ran over the padding: these are the states after all T steps of the padded batch. Pack it "
             "first (pack_padded_sequence) so that each sequence stops at its length", lambda: ran_padding),
            ("the states are in SORTED order (longest first), not the batch's order: the batch was sorted by "
             "length and h_n never put back; with enforce_sorted=False PyTorch restores the order itself",
             lambda: tuple(t[:, order] for t in want)),
            ("pack_padded_sequence read the batch as (T, B, *): " + LAYOUT + ". The batch is (B, T, *): pass "
             "batch_first=True", batch_first_missing),
            ("(h_n, c_n) are swapped: nn.LSTM returns output, (h_n, c_n)", lambda: (want[1], want[0])),
        ]
        expect_match(label, got, want, mistakes, against="each sequence run alone through the LSTM")

"""Pooling from scratch: max, average, adaptive and global pooling, and the max-pool gradient (reference solution)."""

import torch
import torch.nn.functional as F


def pair(v) -> tuple[int, int]:
    """3 -> (3, 3); (3, 5) stays (3, 5)."""
    return (v, v) if isinstance(v, int) else (int(v[0]), int(v[1]))


def windows(x, kernel_size, stride, padding, fill):
    """Every pooling window of x (N, C, H, W) padded with `fill`: (N, C, kh*kw, L), and (H_out, W_out)."""
    N, C, H, W = x.shape
    (kh, kw), (ph, pw) = pair(kernel_size), pair(padding)
    sh, sw = pair(kernel_size if stride is None else stride)   # the stride defaults to the kernel size
    H_out = (H + 2 * ph - kh) // sh + 1
    W_out = (W + 2 * pw - kw) // sw + 1
    xp = F.pad(x, (pw, pw, ph, ph), value=fill)
    cols = F.unfold(xp, (kh, kw), stride=(sh, sw))              # (N, C*kh*kw, L), grouped by channel
    return cols.reshape(N, C, kh * kw, -1), (H_out, W_out)


def max_pool2d(x, kernel_size, stride=None, padding=0):
    """The largest value of each window, per channel; padding counts as -inf."""
    cols, (H_out, W_out) = windows(x, kernel_size, stride, padding, float("-inf"))
    return cols.max(dim=2).values.reshape(x.shape[0], x.shape[1], H_out, W_out)


def avg_pool2d(x, kernel_size, stride=None, padding=0, count_include_pad=True):
    """The mean of each window, per channel; padding zeros count in the divisor only if count_include_pad."""
    cols, (H_out, W_out) = windows(x, kernel_size, stride, padding, 0.0)
    total = cols.sum(dim=2)
    if count_include_pad:
        count = cols.shape[2]
    else:
        ones = torch.ones_like(x[:1, :1])
        count = windows(ones, kernel_size, stride, padding, 0.0)[0].sum(dim=2)   # real pixels per window
    return (total / count).reshape(x.shape[0], x.shape[1], H_out, W_out)


def bins(size: int, out: int) -> list[tuple[int, int]]:
    """Adaptive pooling bins along one dim: [floor(i*size/out), ceil((i+1)*size/out)) for each i."""
    return [((i * size) // out, -(-((i + 1) * size) // out)) for i in range(out)]


def adaptive_avg_pool2d(x, output_size):
    """Average over bins chosen so that the output is exactly output_size (an int or (h, w))."""
    oh, ow = pair(output_size)
    rows = [torch.stack([x[:, :, r0:r1, c0:c1].mean(dim=(2, 3)) for c0, c1 in bins(x.shape[3], ow)], dim=-1)
            for r0, r1 in bins(x.shape[2], oh)]
    return torch.stack(rows, dim=-2)


def global_avg_pool(x):
    """(N, C, H, W) -> (N, C): the mean of each feature map."""
    return x.mean(dim=(2, 3))


def max_pool2d_backward(x, grad_out, kernel_size, stride=None, padding=0):
    """dL/dx for max_pool2d: each output's gradient goes to the first maximum of its window, summed."""
    N, C, H, W = x.shape
    (kh, kw), (ph, pw) = pair(kernel_size), pair(padding)
    sh, sw = pair(kernel_size if stride is None else stride)
    cols, _ = windows(x, kernel_size, stride, padding, float("-inf"))
    winner = cols.argmax(dim=2, keepdim=True)                  # the first maximum in row-major order
    grad_cols = torch.zeros_like(cols).scatter_(2, winner, grad_out.reshape(N, C, 1, -1))
    grad = F.fold(grad_cols.reshape(N, C * kh * kw, -1), (H + 2 * ph, W + 2 * pw), (kh, kw), stride=(sh, sw))
    return grad[:, :, ph:ph + H, pw:pw + W]                     # overlapping windows were summed by fold

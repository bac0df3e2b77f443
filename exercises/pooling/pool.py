"""Pooling from scratch: max, average, adaptive and global pooling, and the max-pool gradient.

Pooling summarises each small window of a feature map by one number, for each channel
separately: the largest value (max pooling) or the mean (average pooling). Adaptive pooling
picks the windows so that the output has a given size, and global pooling averages a whole map.
Finally you write the gradient of max pooling by hand.

All inputs are (N, C, H, W) and every function works on each channel on its own. The check
compares with F.max_pool2d, F.avg_pool2d and F.adaptive_avg_pool2d in float64. Do not use
PyTorch's pooling functions or modules (F.*pool*, nn.MaxPool2d, nn.AvgPool2d, ...): the check
forbids them. F.unfold, F.fold, F.pad, slicing, max, argmax, mean, scatter and loops are fine.

Run `dltutor check pooling`.
"""

import torch
import torch.nn.functional as F


def pair(v) -> tuple[int, int]:
    """3 -> (3, 3); (3, 5) stays (3, 5). Use it for kernel_size, stride, padding, output_size."""
    return (v, v) if isinstance(v, int) else (int(v[0]), int(v[1]))


def max_pool2d(x, kernel_size, stride=None, padding=0):
    """The maximum of each kh×kw window, per channel, like F.max_pool2d.

    stride=None means stride = kernel_size (windows that tile the input without overlap).
    padding adds that many positions on both sides of H and W that never win: pad with -inf.
    Output size along H: floor((H + 2·ph − kh) / sh) + 1, and likewise along W.
    kernel_size, stride and padding are ints or (h, w) pairs; padding ≤ kernel_size / 2.
    """
    # TODO: pair() the arguments; the default stride
    # TODO: pad with -inf (F.pad(x, (pw, pw, ph, ph), value=float("-inf")))
    # TODO: the windows (F.unfold gives (N, C·kh·kw, L): reshape to (N, C, kh·kw, L)), their max,
    #       and reshape to (N, C, H_out, W_out)
    raise NotImplementedError


def avg_pool2d(x, kernel_size, stride=None, padding=0, count_include_pad=True):
    """The mean of each window, per channel, like F.avg_pool2d.

    stride=None means stride = kernel_size. The padding is zeros. With count_include_pad=True
    (PyTorch's default) every window's sum is divided by kh·kw, padding included; with False it
    is divided by the number of real (unpadded) pixels in that window.
    """
    # TODO: the windows of the zero-padded input and their sums
    # TODO: the divisor: kh·kw, or the count of real pixels per window (pool a tensor of ones)
    raise NotImplementedError


def adaptive_avg_pool2d(x, output_size):
    """Average pooling to a fixed output size (an int or (out_h, out_w)), like F.adaptive_avg_pool2d.

    Output row i averages input rows [floor(i·H/out_h), ceil((i+1)·H/out_h)), and likewise for
    columns. For H = 7, out_h = 3 the row bins are [0, 3), [2, 5), [4, 7): they may overlap.
    """
    # TODO: the bin edges for rows and for columns, then the mean of each (row bin, column bin) block
    raise NotImplementedError


def global_avg_pool(x):
    """Global average pooling: (N, C, H, W) -> (N, C), the mean of each feature map."""
    # TODO: one line
    raise NotImplementedError


def max_pool2d_backward(x, grad_out, kernel_size, stride=None, padding=0):
    """dL/dx for y = max_pool2d(x, kernel_size, stride, padding), given grad_out = dL/dy. Write it by hand.

    Each output's gradient goes to ONE input position, the maximum of its window; every other
    position of the window gets 0. When several values tie for the maximum, the FIRST one in
    row-major window order gets it (what argmax returns, and what PyTorch does). Where windows
    overlap, a position can be the maximum of several windows: its gradients add up.
    Returns a tensor of x's shape.
    """
    # TODO: the windows of x padded with -inf, and the argmax of each window
    # TODO: put grad_out at the argmax of each window (scatter), zeros elsewhere
    # TODO: back to the input's layout, adding overlaps (F.fold sums them), then drop the padding
    raise NotImplementedError

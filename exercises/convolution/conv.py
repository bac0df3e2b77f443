"""Convolution from scratch: the output-size formula, conv2d via unfold (im2col), a Conv2d layer.

out_size() is the arithmetic of one dimension. conv2d() is the layer's computation: cut every
receptive field out of the input with F.unfold, then one matrix product with the flattened
weight does the multiply-and-sum for all positions, channels and images at once. Conv2d is the
nn.Module that owns the weight and the bias and calls conv2d().

The check compares everything with F.conv2d and nn.Conv2d in float64. Do not use F.conv2d,
torch.conv2d, nn.Conv2d (or other conv functions) here: the check forbids them. F.unfold,
F.pad, reshape, einsum, matmul and plain loops are all fine.

Run `dltutor check convolution`.
"""

import math

import torch
import torch.nn.functional as F
from torch import nn


def pair(v) -> tuple[int, int]:
    """3 -> (3, 3); (3, 5) stays (3, 5). Use it for stride, padding, dilation and kernel_size."""
    return (v, v) if isinstance(v, int) else (int(v[0]), int(v[1]))


def out_size(size: int, kernel_size: int, stride: int = 1, padding: int = 0, dilation: int = 1) -> int:
    """The number of output positions along ONE dimension (height or width), as an int.

        out = floor((size + 2·padding − dilation·(kernel_size − 1) − 1) / stride) + 1

    Example: size 7, kernel 3, stride 2, padding 1: floor((7 + 2 − 2 − 1)/2) + 1 = 4.
    The check only uses arguments for which this is at least 1.
    """
    # TODO: the formula above, with floor division so that the result is an int
    raise NotImplementedError


def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1):
    """A 2-D convolution exactly like F.conv2d (groups=1): a cross-correlation, no kernel flip.

    x       (N, C_in, H, W)
    weight  (C_out, C_in, kh, kw)     weight[o, c] is the kernel from input channel c to output o
    bias    (C_out,) or None          one value per output channel, added at every pixel
    stride, padding, dilation: an int, or a pair (for height, width)
    returns (N, C_out, H_out, W_out), H_out = out_size(H, kh, sh, ph, dh), W_out likewise

        out[n, o, i, j] = bias[o] + Σ_c Σ_a Σ_b x_pad[n, c, i·sh + a·dh, j·sw + b·dw] · weight[o, c, a, b]

    where x_pad is x with `padding` zeros on both sides of H and W.
    F.unfold(x, (kh, kw), dilation=..., padding=..., stride=...) returns (N, C_in·kh·kw, L) with
    L = H_out·W_out: column l holds the receptive field of output position l, flattened in the
    order (c, a, b), the same order as weight.reshape(C_out, -1).
    Gradients must flow to x, weight and bias (use torch operations only).
    """
    # TODO: read N, C_in, H, W from x and C_out, C_in, kh, kw from weight; make pairs of the arguments
    # TODO: H_out and W_out with out_size
    # TODO: the columns with F.unfold, then one matrix product with the flattened weight
    # TODO: reshape to (N, C_out, H_out, W_out) and add the bias per output channel
    raise NotImplementedError


class Conv2d(nn.Module):
    """A convolution layer like nn.Conv2d (groups=1, zero padding).

    Attributes the check reads:
      weight  nn.Parameter of shape (out_channels, in_channels, kh, kw)
      bias    nn.Parameter of shape (out_channels,), or None when bias=False
    kernel_size, stride, padding and dilation may be ints or pairs.
    Initialise like PyTorch: uniform in ±1/√fan_in with fan_in = in_channels·kh·kw, for the
    weight and the bias (any kaiming-like scale, std between 0.25/√fan_in and 2/√fan_in, is accepted).
    forward(x) calls your conv2d with the stored stride, padding and dilation.
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, bias=True):
        super().__init__()
        # TODO: store the settings; create weight (and bias, or None) as nn.Parameter and initialise them
        raise NotImplementedError

    def forward(self, x):
        # TODO: call conv2d with this layer's weight, bias, stride, padding and dilation
        raise NotImplementedError

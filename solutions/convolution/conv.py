"""Convolution from scratch: the output size, conv2d via unfold (im2col), a Conv2d module (reference solution)."""

import math

import torch
import torch.nn.functional as F
from torch import nn


def pair(v) -> tuple[int, int]:
    """3 -> (3, 3); (3, 5) stays (3, 5)."""
    return (v, v) if isinstance(v, int) else (int(v[0]), int(v[1]))


def out_size(size: int, kernel_size: int, stride: int = 1, padding: int = 0, dilation: int = 1) -> int:
    """The output length along one dimension: floor((size + 2p - d(k-1) - 1) / s) + 1."""
    return (size + 2 * padding - dilation * (kernel_size - 1) - 1) // stride + 1


def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1):
    """Cross-correlate x (N, C_in, H, W) with weight (C_out, C_in, kh, kw), like F.conv2d."""
    N, _, H, W = x.shape
    C_out, C_in, kh, kw = weight.shape
    (sh, sw), (ph, pw), (dh, dw) = pair(stride), pair(padding), pair(dilation)
    H_out = out_size(H, kh, sh, ph, dh)
    W_out = out_size(W, kw, sw, pw, dw)
    # Every receptive field as a column: (N, C_in*kh*kw, L) with L = H_out*W_out, ordered (c, a, b).
    cols = F.unfold(x, (kh, kw), dilation=(dh, dw), padding=(ph, pw), stride=(sh, sw))
    cols = cols.reshape(N, C_in, kh * kw, -1)
    w = weight.reshape(C_out, C_in, kh * kw)
    out = torch.einsum("ock,nckl->nol", w, cols)              # sum over input channels c and offsets k
    out = out.reshape(N, -1, H_out, W_out)
    if bias is not None:
        out = out + bias.reshape(1, -1, 1, 1)                 # one bias per output channel
    return out


class Conv2d(nn.Module):
    """A 2-D convolution layer with a learnable weight (out, in, kh, kw) and bias (out,)."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, bias=True):
        super().__init__()
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size = pair(kernel_size)
        self.stride, self.padding, self.dilation = pair(stride), pair(padding), pair(dilation)
        kh, kw = self.kernel_size
        fan_in = in_channels * kh * kw
        bound = 1 / math.sqrt(fan_in)                          # PyTorch's default: U(-1/sqrt(fan_in), +)
        self.weight = nn.Parameter(torch.empty(out_channels, in_channels, kh, kw).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(out_channels).uniform_(-bound, bound)) if bias else None

    def forward(self, x):
        return conv2d(x, self.weight, self.bias, self.stride, self.padding, self.dilation)

"""Device and dtype rules: where float64 can run, and functions that keep their input's dtype and device.

    dev = float64_device(ctx)                  # ctx.device, or the CPU on MPS (no float64 there)
    x = torch.randn(64, generator=ctx.gen, dtype=torch.float64).to(dev)
    expect_preserves(learner.dropout, torch.rand(8, 16), args=(0.5,), device=ctx.device)
    expect_like(out, x, "dropout(x)")          # a tensor of x's shape, dtype and device

`expect_preserves` fails with "dropout(x) for a bfloat16 input returns float32; ..." when, for
instance, a mask made with torch.rand(x.shape) (float32) promotes the result.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import torch

from tutor.checking.errors import fail
from tutor.checking.expect import expect_shape, expect_type

ALL_FLOATS = (torch.float32, torch.float64, torch.float16, torch.bfloat16)
ADVICE = ("make new tensors with torch.rand_like(x) / torch.zeros_like(x), or pass dtype=x.dtype, "
          "device=x.device")


def _device(where: Any) -> torch.device:
    """A torch.device from a device, a string, or anything with a .device (a check's ctx, a tensor)."""
    return torch.device(getattr(where, "device", where))


def has_float64(device: Any) -> bool:
    """Whether `device` runs float64 (MPS does not)."""
    return _device(device).type != "mps"


def float64_device(device: Any) -> torch.device:
    """Where float64 work runs: `device` (or ctx.device), or the CPU when it has no float64."""
    device = _device(device)
    return device if has_float64(device) else torch.device("cpu")


def dtype_name(dtype: torch.dtype) -> str:
    """'float32' for torch.float32."""
    return str(dtype).replace("torch.", "")


def expect_like(out: Any, x: torch.Tensor, name: str) -> None:
    """`out` must be a tensor with the shape, dtype and device of the input `x`."""
    expect_type(out, torch.Tensor, name)
    expect_shape(out, tuple(x.shape), name)
    if out.dtype != x.dtype:
        fail(f"{name} has dtype {dtype_name(out.dtype)}; the input was {dtype_name(x.dtype)}: keep the input's "
             f"dtype ({ADVICE})")
    if out.device != x.device:
        fail(f"{name} is on {out.device}; the input was on {x.device}: {ADVICE}")


def expect_preserves(fn: Callable[..., Any], x: torch.Tensor, *, dtypes: Sequence[torch.dtype] = ALL_FLOATS,
                     device: Any = None, name: str | None = None, args: tuple = (), kwargs: dict | None = None,
                     check_shape: bool = True) -> None:
    """fn(x.to(dtype), *args, **kwargs) returns a tensor of that dtype on that device, for each dtype.

    float64 is skipped on a device without it; a half-precision dtype is skipped where torch itself
    has no kernel for an operation ("not implemented for 'Half'"), which is not the learner's fault.
    """
    device = _device(x.device if device is None else device)
    name = name or f"{getattr(fn, '__name__', 'fn')}(x)"
    for dtype in dtypes:
        if dtype == torch.float64 and not has_float64(device):
            continue
        xi = x.detach().to(device=device, dtype=dtype)
        try:
            out = fn(xi, *args, **(kwargs or {}))
        except (RuntimeError, NotImplementedError) as exc:
            if dtype in (torch.float16, torch.bfloat16) and "not implemented for" in str(exc):
                continue
            if "same device" in str(exc):  # a tensor made on the CPU meets a CUDA input
                fail(f"{name} for a {dtype_name(dtype)} input on {xi.device} mixes devices: "
                     f"{str(exc).splitlines()[0]} ({ADVICE})")
            raise
        label = f"{name} for a {dtype_name(dtype)} input"
        expect_type(out, torch.Tensor, label)
        if out.dtype != dtype:
            fail(f"{label} returns {dtype_name(out.dtype)}; it must keep the input's dtype {dtype_name(dtype)}. "
                 f"A tensor made without dtype= (torch.rand(x.shape) is float32) promotes the result: {ADVICE}")
        if out.device != xi.device:
            fail(f"{label} on {xi.device} returns a tensor on {out.device}; it must stay on the input's "
                 f"device: {ADVICE}")
        if check_shape:
            expect_shape(out, tuple(xi.shape), label)

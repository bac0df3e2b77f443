"""Check: device choice, tensor creation, shared memory, a first gradient."""

import numpy as np
import torch

from tutor.checking import check, expect, expect_close, expect_dtype, expect_match, expect_shape, expect_type, fail

EXPECTED = {
    "zeros": ((2, 3), torch.float32),
    "eye": ((4, 4), torch.float64),
    "steps": ((10,), torch.int64),
    "column": ((3, 1), torch.float32),
}


@check("best_device() picks CUDA, then MPS, then CPU", task="device")
def device_choice(ctx):
    ft = ctx.load("first_tensors")
    device = ft.best_device()
    expect_type(device, torch.device, "best_device()")
    if torch.cuda.is_available():
        wanted = "cuda"
    elif torch.backends.mps.is_available():
        wanted = "mps"
    else:
        wanted = "cpu"
    expect(device.type == wanted, f"best_device() returned {device}, but this machine has {wanted} available and it comes first")


@check("make_tensors() gives the right shapes, dtypes and values", task="tensors")
def tensors(ctx):
    ft = ctx.load("first_tensors")
    made = ft.make_tensors(ctx.device)
    expect_type(made, dict, "make_tensors()")
    missing = sorted(set(EXPECTED) - set(made))
    expect(not missing, f"make_tensors() is missing the key(s) {missing}")
    for key, (shape, dtype) in EXPECTED.items():
        t = made[key]
        expect_type(t, torch.Tensor, f'make_tensors()["{key}"]')
        expect_shape(t, shape, f'make_tensors()["{key}"]')
        expect_dtype(t, dtype, f'make_tensors()["{key}"]')
    expect_close(made["zeros"], np.zeros((2, 3)), '"zeros"')
    expect_close(made["eye"], np.eye(4), '"eye"')
    expect_close(made["steps"], np.arange(10), '"steps"')
    expect_close(made["column"], [[1.0], [2.0], [3.0]], '"column"')


@check("make_tensors() puts every tensor on the device it is given", task="tensors")
def tensors_on_device(ctx):
    ft = ctx.load("first_tensors")
    made = ft.make_tensors(ctx.device)
    for key, t in made.items():
        expect(t.device.type == ctx.device.type,
               f'make_tensors()["{key}"] is on {t.device}; it should be on {ctx.device} (pass device=...)')


@check("share_memory() returns a tensor that sees changes to the array", task="numpy")
def shares(ctx):
    ft = ctx.load("first_tensors")
    array = np.arange(5, dtype=np.float32)
    t = ft.share_memory(array)
    expect_type(t, torch.Tensor, "share_memory(array)")
    expect_shape(t, (5,), "share_memory(array)")
    array[0] = 42.0
    if float(t[0]) != 42.0:
        fail("after array[0] = 42, the tensor still holds "
             f"{float(t[0]):g}: your tensor is a copy (torch.tensor copies; torch.from_numpy shares)")


def call_slope(ft, x):
    """polynomial_and_slope(x), with the two classic autograd errors named."""
    try:
        return ft.polynomial_and_slope(x)
    except RuntimeError as exc:
        if "does not require grad" not in str(exc):
            raise
        fail(f"polynomial_and_slope({x}): backward() found nothing to differentiate ({exc}): make the "
             "tensor with requires_grad=True")
    except AttributeError as exc:
        if "'NoneType'" not in str(exc):
            raise
        fail(f"polynomial_and_slope({x}): a .grad was None ({exc}): read .grad of the leaf tensor you made "
             "with requires_grad=True (one made from it by .to(), .double() or arithmetic is not a leaf and "
             "keeps no .grad)")


@check("polynomial_and_slope() returns y and dy/dx from autograd", task="autograd")
def slope(ctx):
    ft = ctx.load("first_tensors")
    for x in (2.0, -1.5, 0.0, 0.7):
        result = call_slope(ft, x)
        expect(isinstance(result, tuple) and len(result) == 2,
               f"polynomial_and_slope({x}) returned {type(result).__name__}; expected a (y, slope) tuple")
        y, dy = result
        expect(isinstance(y, float) and isinstance(dy, float),
               f"polynomial_and_slope({x}) returned ({type(y).__name__}, {type(dy).__name__}); "
               "expected two Python floats (use .item())")
        want_y = 3 * x**3 - 2 * x**2 + 5 * x - 7
        want_dy = 9 * x**2 - 4 * x + 5
        expect_close(y, want_y, f"y at x={x}", atol=1e-9)
        expect_match(f"dy/dx at x={x}", dy, want_dy, {
            "it is exactly twice the slope: backward() ran twice and the gradients accumulated in .grad": 2 * want_dy,
        }, atol=1e-9, rtol=0)

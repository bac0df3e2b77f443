"""float64 placement (never on MPS) and the dtype/device preservation checks."""

from __future__ import annotations

from tutor.checking.messages import failure_of

import pytest
import torch

from tutor.checking import CheckFailed, expect_like, expect_preserves, float64_device, has_float64

X = torch.rand(4, 6, generator=torch.Generator().manual_seed(0)) + 0.5


class Ctx:
    def __init__(self, device):
        self.device = torch.device(device)


def failure(fn, *args, **kwargs) -> str:
    with pytest.raises(CheckFailed) as info:
        fn(*args, **kwargs)
    return str(info.value)


def test_float64_device_routes_mps_to_the_cpu():
    assert float64_device(Ctx("mps")) == torch.device("cpu")
    assert float64_device("cuda:1") == torch.device("cuda:1")
    assert float64_device(Ctx("cpu")) == torch.device("cpu")
    assert not has_float64("mps") and has_float64(torch.device("cuda"))


def good_dropout(x, p=0.5):
    keep = (torch.rand_like(x) >= p).to(x.dtype)
    return x * keep / (1 - p)


def float32_mask_dropout(x, p=0.5):
    keep = (torch.rand(x.shape) >= p).float()  # float32 on the CPU: promotes bfloat16/float16
    return x * keep / (1 - p)


def test_a_function_that_keeps_dtype_and_device_passes():
    assert failure_of(expect_preserves, good_dropout, X, args=(0.3,)) is None


def test_a_float32_mask_is_caught_for_half_precision_inputs():
    msg = failure(expect_preserves, float32_mask_dropout, X, name="dropout(x)")
    assert msg.startswith("dropout(x) for a float16 input returns float32; it must keep the input's dtype float16")
    msg = failure(expect_preserves, float32_mask_dropout, X, dtypes=(torch.bfloat16,))
    assert "float32_mask_dropout(x) for a bfloat16 input returns float32" in msg


def test_a_result_on_another_device_is_caught():
    msg = failure(expect_preserves, lambda x: x.to("meta"), X, dtypes=(torch.float32,), name="f(x)")
    assert "f(x) for a float32 input on cpu returns a tensor on meta" in msg


def test_mixing_devices_inside_is_named():
    def cpu_mask(x):
        raise RuntimeError("Expected all tensors to be on the same device, but found at least two devices")

    msg = failure(expect_preserves, cpu_mask, X, dtypes=(torch.float32,), name="dropout(x)")
    assert msg.startswith("dropout(x) for a float32 input on cpu mixes devices: Expected all tensors")


def test_a_missing_kernel_for_half_is_skipped_but_other_errors_are_not():
    def no_half(x):
        if x.dtype in (torch.float16, torch.bfloat16):
            raise RuntimeError('"foo_cpu" not implemented for \'Half\'')
        return x

    expect_preserves(no_half, X)
    with pytest.raises(RuntimeError):
        expect_preserves(lambda x: torch.zeros(2, 2) @ torch.zeros(3, 3), X)


def test_expect_like_names_dtype_shape_and_type():
    expect_like(X.clone(), X, "y")
    assert "y has dtype float64; the input was float32" in failure(expect_like, X.double(), X, "y")
    assert "has shape (6, 4)" in failure(expect_like, X.T, X, "y")
    assert "y is a float" in failure(expect_like, 1.0, X, "y")

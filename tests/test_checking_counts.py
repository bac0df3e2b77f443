"""tutor.checking.counts: exact integer counts with named mistakes and readable numbers."""

import numpy as np
import pytest
import torch
from torch import nn

from tutor.checking.counts import as_count, expect_count, parameter_count
from tutor.checking.errors import CheckFailed
from tutor.checking.messages import failure_of


def test_equal_count_passes():
    assert failure_of(expect_count, "mlp_params([784, 100, 10])", 79_510, 79_510, {"biases left out": 79_400}) is None


def test_mistake_is_named_with_full_numbers():
    with pytest.raises(CheckFailed) as info:
        expect_count("mlp_params([784, 100, 10])", 79_400, 79_510,
                     {"only the first layer": lambda: 78_500, "biases left out": 79_400})
    message = str(info.value)
    assert "biases left out" in message and "only the first layer" not in message
    assert "79,400" in message and "79,510" in message and "110 too few" in message


def test_unnamed_mismatch_still_gives_numbers():
    with pytest.raises(CheckFailed) as info:
        expect_count("conv_params(3, 64, 3)", 2_000, 1_792, {"no input channels": 640})
    assert str(info.value) == "conv_params(3, 64, 3) is 2,000; expected 1,792, 208 too many"


def test_candidate_equal_to_expected_or_failing_is_skipped():
    with pytest.raises(CheckFailed) as info:
        expect_count("n", 5, 7, {"same as expected": 7, "raises": lambda: 1 // 0, "five": 5})
    assert "five" in str(info.value)


@pytest.mark.parametrize("value", [np.int64(12), 12.0, torch.tensor(12), np.float32(12.0)])
def test_as_count_accepts_integral_values(value):
    assert as_count(value, "f()") == 12 and type(as_count(value, "f()")) is int


@pytest.mark.parametrize("value", ["12", True, 12.5, None])
def test_as_count_rejects_other_values(value):
    with pytest.raises(CheckFailed):
        as_count(value, "f()")


def test_parameter_count_on_meta_device():
    assert parameter_count(nn.Linear(150_528, 1000, device="meta")) == 150_529_000

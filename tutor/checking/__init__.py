"""The library that check scripts import. It runs only in a check's child process.

A check script declares named checks in order:

    from tutor.checking import check, expect_close

    @check("sigmoid matches torch.sigmoid", task="sigmoid")
    def sigmoid_values(ctx):
        act = ctx.load("activations")          # the learner's activations.py
        ...
        expect_close(act.sigmoid(x), torch.sigmoid(x), "sigmoid(x)")

A check passes by returning and fails by raising (CheckFailed via `fail`/`expect_*`).
"""

from tutor.checking import data
from tutor.checking.curves import expect_below, expect_decreasing, expect_initial_loss, smooth
from tutor.checking.errors import CheckFailed, fail
from tutor.checking.expect import (
    as_numpy,
    expect,
    expect_close,
    expect_dtype,
    expect_finite,
    expect_metric,
    expect_shape,
    expect_type,
)
from tutor.checking.gradients import expect_gradcheck, expect_gradient, numeric_gradient, relative_error
from tutor.checking.registry import check

__all__ = [
    "CheckFailed",
    "as_numpy",
    "check",
    "data",
    "expect",
    "expect_below",
    "expect_close",
    "expect_decreasing",
    "expect_dtype",
    "expect_finite",
    "expect_gradcheck",
    "expect_gradient",
    "expect_initial_loss",
    "expect_metric",
    "expect_shape",
    "expect_type",
    "fail",
    "numeric_gradient",
    "relative_error",
    "smooth",
]

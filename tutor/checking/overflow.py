"""Find the first torch operation that turned finite inputs into inf or nan (an overflow inside).

    with first_overflow() as watch:
        out = learner.sigmoid(torch.tensor([-1000.0]))   # 1 / (1 + torch.exp(-x))
    watch.op                                             # 'exp': exp(1000) is inf

`op` stays None when every floating-point result was finite or already had a non-finite input.
The result can be right by luck (1 / inf = 0) while its gradient is nan; this names the step
that broke. Enter it OUTSIDE a `forbid(...)` block (`with first_overflow() as w, ban:`), so that
the ban's message still points at the learner's line.
"""

from __future__ import annotations

from typing import Any

import torch
from torch.overrides import TorchFunctionMode


def _finite(value: Any) -> bool:
    return not (isinstance(value, torch.Tensor) and value.is_floating_point()) or bool(torch.isfinite(value).all())


class first_overflow(TorchFunctionMode):
    """A context manager; `.op` is the name ('exp', 'div') of the first op whose finite inputs gave inf/nan."""

    def __init__(self) -> None:
        super().__init__()
        self.op: str | None = None

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        if self.op is None and not _finite(out):
            inputs = list(args) + list(kwargs.values())
            if all(_finite(a) for a in inputs):
                self.op = getattr(func, "__name__", str(func)).strip("_")
        return out

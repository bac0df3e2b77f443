"""Build a learner's (large) model on the meta device, quickly, to count its parameters.

    with on_meta():
        model = learner.GPT(learner.GPTConfig())          # GPT-2 small: no memory, ~0.05 s
    expect_count("parameters", parameter_count(model), 124_439_808)

Inside the block, tensors are created on the meta device (shapes only) and Tensor.normal_ on a
meta tensor does nothing. torch's own meta kernel for normal_ imports torch._dynamo the first
time it runs, which costs 4-6 s of a check; nn.init.normal_, trunc_normal_, xavier_normal_ and
kaiming_normal_ all go through Tensor.normal_. Tensors that are not on the meta device keep the
real normal_; the method is restored when the block ends, even on an error.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import torch

_REAL_NORMAL = torch.Tensor.normal_


def _normal_(self: torch.Tensor, *args, **kwargs) -> torch.Tensor:
    return self if self.is_meta else _REAL_NORMAL(self, *args, **kwargs)


@contextmanager
def on_meta() -> Iterator[None]:
    """Create tensors on the meta device, with normal_ a no-op there (see the module docstring)."""
    own = "normal_" in torch.Tensor.__dict__  # normally inherited from torch._C.TensorBase
    torch.Tensor.normal_ = _normal_
    try:
        with torch.device("meta"):
            yield
    finally:
        if own:
            torch.Tensor.normal_ = _REAL_NORMAL
        else:
            del torch.Tensor.normal_

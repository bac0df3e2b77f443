"""The worked example in docs/authoring.md runs: the solution passes it, a classic mistake is named."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from tutor.checking import CheckFailed, registry

ROOT = Path(__file__).resolve().parents[1]


class Ctx:
    def __init__(self, source: Path):
        self.source, self.device, self.seed = source, torch.device("cpu"), 0
        self.gen, self.rng = torch.Generator().manual_seed(0), np.random.default_rng(0)

    def load(self, name):
        sys.path.insert(0, str(self.source))
        try:
            sys.modules.pop(name, None)
            return __import__(name)
        finally:
            sys.path.remove(str(self.source))


@pytest.fixture
def example_checks():
    text = (ROOT / "docs" / "authoring.md").read_text()
    code = re.search(r"A worked example.*?```python\n(.*?)```", text, re.S).group(1)
    registry.clear()
    namespace: dict = {}
    exec(compile(code, "authoring.md", "exec"), namespace)
    checks = registry.registered()
    registry.clear()
    yield checks
    sys.modules.pop("batchnorm", None)


def test_the_worked_example_passes_the_solution_and_names_a_mistake(example_checks, tmp_path):
    assert [c.task for c in example_checks] == ["functional", "module"]
    for c in example_checks:
        c.fn(Ctx(ROOT / "solutions" / "batch-norm"))
    source = (ROOT / "solutions" / "batch-norm" / "batchnorm.py").read_text()
    wrong = source.replace("var = x.var(dim=dims, correction=0)", "var = x.var(dim=dims, correction=1)")
    assert wrong != source
    (tmp_path / "batchnorm.py").write_text(wrong)
    with pytest.raises(CheckFailed, match=r"is off: it normalises with the UNBIASED variance.*Max abs difference"):
        example_checks[0].fn(Ctx(tmp_path))
    cheat = source.replace('    """Batch-normalise x', '    return torch.nn.functional.batch_norm(x, running_mean, '
                           'running_var, weight, bias, training, momentum, eps)\n    """Batch-normalise x', 1)
    (tmp_path / "batchnorm.py").write_text(cheat)
    with pytest.raises(CheckFailed, match=r"your batch_norm\(\) calls F.batch_norm \(batchnorm.py:\d+\)"):
        example_checks[0].fn(Ctx(tmp_path))

"""What a check function receives: the learner's modules, seeds, device, and reporting."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from types import ModuleType
from typing import Any, TextIO

import numpy as np
import torch

from tutor import events
from tutor.checking.errors import LearnerLoadError


class Context:
    """Shared by all checks of one run; `current` names the check being run."""

    def __init__(self, source: Path, seed: int, device: torch.device, stream: TextIO):
        self.source = source
        self.seed = seed
        self.device = device
        self.current = ""
        self._stream = stream
        self._modules: dict[str, ModuleType] = {}
        self.rng = np.random.default_rng(seed)
        self.gen = torch.Generator().manual_seed(seed)

    def reseed(self, offset: int = 0) -> None:
        """Fresh generators for the next check, so checks do not depend on each other."""
        self.rng = np.random.default_rng(self.seed + offset)
        self.gen = torch.Generator().manual_seed(self.seed + offset)

    def load(self, name: str) -> ModuleType:
        """Import the learner's module `name` (file `name.py` in the source folder)."""
        if name in self._modules:
            return self._modules[name]
        path = self.source / f"{name}.py"
        if not path.is_file():
            raise LearnerLoadError(
                f"exercise file {path} is missing. Restore the starter with `dltutor reset`."
            )
        try:
            module = importlib.import_module(name)
        except SyntaxError as exc:
            raise LearnerLoadError(
                f"{Path(exc.filename or path).name}:{exc.lineno}: syntax error: {exc.msg}\n"
                f"    {(exc.text or '').rstrip()}"
            ) from None
        if Path(getattr(module, "__file__", "") or "").resolve() != path.resolve():
            raise LearnerLoadError(
                f"`import {name}` found {getattr(module, '__file__', '?')}, not your {path.name}; "
                "rename the file that shadows it."
            )
        self._modules[name] = module
        return module

    def metric(
        self, name: str, value: float, threshold: float | None = None, higher_is_better: bool = True
    ) -> None:
        """Report a measured number (accuracy, final loss...) with its threshold."""
        events.write(
            self._stream,
            events.METRIC,
            check=self.current,
            name=name,
            value=float(value),
            threshold=None if threshold is None else float(threshold),
            higher_is_better=higher_is_better,
        )

    def curve(self, name: str, values: Any, start: int = 0) -> None:
        """Report a whole curve (one value per step) in one go."""
        for step, value in enumerate(np.asarray(values, dtype=float).ravel().tolist(), start):
            self.point(name, step, value)

    def point(self, name: str, step: int, value: float) -> None:
        """Report one point of a curve as training produces it."""
        events.write(
            self._stream, events.CURVE, check=self.current, name=name, step=int(step), value=float(value)
        )


def add_source_to_path(source: Path) -> None:
    """Make the learner's files importable by their module name."""
    text = str(source)
    if text not in sys.path:
        sys.path.insert(0, text)

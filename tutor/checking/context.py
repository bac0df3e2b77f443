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


MAX_HEATMAP_SIDE = 64  # rows and columns of one ctx.heatmap


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

    def heatmap(self, name: str, values: Any, rows: Any = None, cols: Any = None,
                row_title: str = "", col_title: str = "") -> None:
        """Show a matrix (attention weights, a confusion matrix) as a heatmap in the CLI and the TUI.

        `values` is 2-D (a tensor or nested lists, at most 64 × 64); `rows`/`cols` label its rows and
        columns (tokens, classes; default 0, 1, ...). Example, a decoder attending over the source:
        ``ctx.heatmap("attention", weights[0], rows=target_tokens, cols=source_tokens,
        row_title="output", col_title="input")``.
        """
        if isinstance(values, torch.Tensor):
            values = values.detach().to("cpu", torch.float64).numpy()
        matrix = np.asarray(values, dtype=float)
        if matrix.ndim != 2 or not 0 < matrix.shape[0] <= MAX_HEATMAP_SIDE or not 0 < matrix.shape[1] <= MAX_HEATMAP_SIDE:
            raise ValueError(f"ctx.heatmap wants a 2-D matrix of at most {MAX_HEATMAP_SIDE} × {MAX_HEATMAP_SIDE}, "
                             f"got shape {tuple(matrix.shape)}")

        def labels(given: Any, n: int) -> list[str]:
            names = [str(i) for i in range(n)] if given is None else [str(x) for x in list(given)][:n]
            return names + [str(i) for i in range(len(names), n)]

        events.write(self._stream, events.HEATMAP, check=self.current, name=name,
                     values=[[v if np.isfinite(v) else None for v in row] for row in matrix.tolist()],
                     rows=labels(rows, matrix.shape[0]), cols=labels(cols, matrix.shape[1]),
                     row_title=row_title, col_title=col_title)

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

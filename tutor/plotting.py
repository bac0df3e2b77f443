"""Loss curves as terminal text with plotext (5.x API: clear_figure / plot_size / build)."""

from __future__ import annotations

import math
import os
import re
from typing import Mapping, Sequence


ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _thin(values: Sequence[float], limit: int) -> tuple[list[int], list[float]]:
    """At most `limit` points, evenly spaced, keeping the last one."""
    n = len(values)
    step = max(1, math.ceil(n / limit))
    idx = list(range(0, n, step))
    if idx[-1] != n - 1:
        idx.append(n - 1)
    return idx, [float(values[i]) for i in idx]


def render_curves(curves: Mapping[str, Sequence[float]], width: int = 72, height: int = 16,
                  title: str = "", color: bool | None = None) -> str:
    """The curves as a plotext chart (ANSI colours unless NO_COLOR or color=False)."""
    import plotext as plt

    if color is None:
        color = "NO_COLOR" not in os.environ
    plt.clear_figure()
    plt.plot_size(width, height)
    plt.theme("pro" if color else "clear")
    for name, values in curves.items():
        finite = [v for v in values if isinstance(v, (int, float)) and math.isfinite(v)]
        if len(finite) < 2:
            continue
        x, y = _thin(finite, 4 * width)
        plt.plot(x, y, label=name, marker="braille")
    if title:
        plt.title(title)
    plt.xlabel("step")
    text = plt.build()
    plt.clear_figure()
    return text if color else ANSI.sub("", text)

"""Curves as terminal text with plotext (5.x API: clear_figure / plot_size / build).

The CLI and the TUI both draw with `render_curves`. Curves that do not share an x axis
(a loss per step beside an accuracy per epoch: different lengths or first steps) or a
y scale (an accuracy near 0.9 beside a loss near 2) go in separate panels, one above
the other. Each series has its own marker character, so they stay apart under NO_COLOR.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, field
from typing import Mapping, Sequence

ANSI = re.compile(r"\x1b\[[0-9;]*m")
MARKERS = ("•", "+", "x", "o", "*", "^", "#", "%")
MAX_SCALE_RATIO = 10.0  # two series whose y spans differ more than this get separate panels
UNITS = ("epoch", "trial", "step", "batch", "iteration")


@dataclass
class Series:
    name: str
    x: list[float]
    y: list[float]

    @property
    def low(self) -> float:
        return min(self.y)

    @property
    def high(self) -> float:
        return max(self.y)


@dataclass
class Panel:
    series: list[Series] = field(default_factory=list)

    def takes(self, s: Series) -> bool:
        """Same x axis (first step, length) and a y scale both can be read on."""
        first = self.series[0]
        if (first.x[0], first.x[-1], len(first.x)) != (s.x[0], s.x[-1], len(s.x)):
            return False
        low, high = min(p.low for p in self.series), max(p.high for p in self.series)
        if max(low, s.low) > min(high, s.high):  # the ranges do not even overlap
            return False
        spans = [max(high - low, 1e-12), max(s.high - s.low, 1e-12)]
        return max(spans) / min(spans) <= MAX_SCALE_RATIO


def _thin(values: Sequence[float], limit: int) -> tuple[list[int], list[float]]:
    """At most `limit` points, evenly spaced, keeping the last one."""
    n = len(values)
    step = max(1, math.ceil(n / limit))
    idx = list(range(0, n, step))
    if idx[-1] != n - 1:
        idx.append(n - 1)
    return idx, [float(values[i]) for i in idx]


def panels(curves: Mapping[str, Sequence[float]], starts: Mapping[str, int] | None = None,
           limit: int = 288) -> list[Panel]:
    """The curves with at least two finite points, grouped into panels that share both axes."""
    result: list[Panel] = []
    for name, values in curves.items():
        finite = [float(v) for v in values if isinstance(v, (int, float)) and math.isfinite(v)]
        if len(finite) < 2:
            continue
        start = (starts or {}).get(name, 0)
        idx, y = _thin(finite, limit)
        series = Series(name, [float(start + i) for i in idx], y)  # thinning keeps the last point
        for panel in result:
            if panel.takes(series):
                panel.series.append(series)
                break
        else:
            result.append(Panel([series]))
    return result


def x_label(panel: Panel, longest: int) -> str:
    """The unit the series names ('loss per epoch' -> 'epoch'); else 'step' for the longest curves, else none."""
    names = " ".join(s.name.lower() for s in panel.series)
    named = next((u for u in UNITS if f"per {u}" in names), "")
    return named or ("step" if panel.series[0].x[-1] - panel.series[0].x[0] + 1 >= longest else "")


def render_curves(curves: Mapping[str, Sequence[float]], width: int = 72, height: int = 16,
                  title: str = "", color: bool | None = None, starts: Mapping[str, int] | None = None) -> str:
    """The curves as plotext charts, one panel per shared scale (ANSI colours unless NO_COLOR or color=False).

    `height` is for one panel; with several, each gets three quarters of it (at least 12 rows).
    `starts` gives a curve's first step when it is not 0 (an epoch counter that starts at 1).
    """
    import plotext as plt

    if color is None:
        color = "NO_COLOR" not in os.environ
    groups = panels(curves, starts, 4 * width)
    if not groups:
        return ""
    each = height if len(groups) == 1 else max(12, height * 3 // 4)
    longest = max(p.series[0].x[-1] - p.series[0].x[0] + 1 for p in groups)
    charts = []
    marker = 0
    for number, panel in enumerate(groups):
        plt.clear_figure()
        plt.plot_size(width, each)
        plt.theme("pro" if color else "clear")
        for s in panel.series:
            plt.plot(s.x, s.y, label=s.name, marker=MARKERS[marker % len(MARKERS)])
            marker += 1
        if title and number == 0:
            plt.title(title)
        label = x_label(panel, longest)
        if label:
            plt.xlabel(label)
        xs = panel.series[0].x
        if xs[-1] - xs[0] <= 12:  # a few epochs or trials: whole-number ticks, not 1.25
            plt.xticks([x for x in range(int(xs[0]), int(xs[-1]) + 1)])
        charts.append(plt.build())
        plt.clear_figure()
    text = "\n".join(chart.rstrip("\n") for chart in charts)
    return text if color else ANSI.sub("", text)

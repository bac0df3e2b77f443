"""A check's matrix (attention weights, a confusion matrix) drawn as terminal text.

Both fronts draw a heatmap event (tutor.events.HEATMAP, kept by tutor.run_state) with
`heatmap_text`: one character cell per value, shaded " ░▒▓█" from the matrix's low to its
high value, so it reads under NO_COLOR too. Row labels on the left, column labels on top
(or column numbers, with a key, when the labels are too long to stand over a cell); it fits
`width` columns, and says how many columns it had to leave out.
"""

from __future__ import annotations

import math
from typing import Any

from rich.text import Text

SHADES = " ░▒▓█"
MISSING = "?"  # a NaN or infinite value
MAX_ROW_LABEL = 10
MAX_CELL = 4  # characters a cell may take so that its column's label stands over it


def _scale(values: list[list[Any]]) -> tuple[float, float]:
    """(low, high) of the finite values; low is at most 0, so weights in [0, 1] keep their meaning."""
    finite = [float(v) for row in values for v in row if isinstance(v, (int, float)) and math.isfinite(v)]
    if not finite:
        return 0.0, 1.0
    return min(0.0, min(finite)), max(finite)


def shade(value: Any, low: float, high: float) -> str:
    """The character for one value on the scale low..high."""
    if not isinstance(value, (int, float)) or not math.isfinite(value):
        return MISSING
    if high <= low:
        return SHADES[-1] if value > 0 else SHADES[0]
    level = (float(value) - low) / (high - low)
    return SHADES[min(len(SHADES) - 1, max(0, round(level * (len(SHADES) - 1))))]


def heatmap_text(heatmap: dict[str, Any], width: int = 80) -> Text:
    """The heatmap event `heatmap` as lines of at most `width` characters."""
    values = [list(row) for row in heatmap.get("values") or []]
    n_rows, n_cols = len(values), max((len(r) for r in values), default=0)
    rows = [str(r) for r in heatmap.get("rows") or range(n_rows)]
    cols = [str(c) for c in heatmap.get("cols") or range(n_cols)]
    low, high = _scale(values)
    label_w = min(MAX_ROW_LABEL, max((len(r) for r in rows), default=1))
    room = max(1, width - label_w - 1)
    widest = max((len(c) for c in cols), default=1)
    if widest <= MAX_CELL - 1 and (widest + 1) * n_cols <= room:
        cell = max(2, widest + 1)  # every label over its column, a space between neighbours
    else:
        cell = 2 if 2 * n_cols <= room else 1
    shown = min(n_cols, room // cell)
    use_labels = all(len(c) < cell or len(c) == cell == 1 for c in cols[:shown])

    text = Text()
    title = str(heatmap.get("name") or "heatmap")
    axes = " × ".join(t for t in (heatmap.get("row_title"), heatmap.get("col_title")) if t)
    text.append(title, style="bold")
    if axes:
        text.append(f" ({axes}: a row per {heatmap.get('row_title') or 'row'})", style="dim")
    text.append(f"\n{'':{label_w}} ")
    header = [(c if use_labels else str(i % 10)).rjust(cell) for i, c in enumerate(cols[:shown])]
    text.append("".join(header), style="dim")
    for label, row in zip(rows, values):
        text.append("\n" + label[:label_w].rjust(label_w) + " ", style="dim")
        text.append("".join(shade(v, low, high) * cell for v in row[:shown]))
    legend = f"\n{'':{label_w}} {SHADES[1]} low … {SHADES[-1]} high: {low:.3g} to {high:.3g}"
    if shown < n_cols:
        legend += f"; {n_cols - shown} more columns not shown"
    text.append(legend[: width + 1], style="dim")
    if not use_labels:
        key = "columns: " + " ".join(f"{i}={c}" for i, c in enumerate(cols[:shown]))
        text.append("\n" + (key if len(key) <= width else key[: width - 1] + "…"), style="dim")
    return text

"""How both front ends write things: marks, verdict words, metric and duration text.

Every status has a symbol as well as a colour, so the CLI and the TUI read with NO_COLOR.
Rich markup-free: callers wrap these strings in Text themselves. No torch, no Textual.
"""

from __future__ import annotations

from typing import Any

# A lesson's status in a track (Tutor.status) -> (mark, style).
LESSON_MARKS = {
    "passed": ("✓", "bold green"),
    "failing": ("✗", "bold red"),
    "not started": ("·", ""),
    "not written": ("–", "dim"),
    "reading": ("○", "dim"),
    "broken": ("!", "bold red"),
}

# One named check's status (tutor.events), plus the live states of tutor.run_state -> (mark, style).
CHECK_MARKS = {
    "passed": ("✓", "bold green"),
    "failed": ("✗", "bold red"),
    "not_implemented": ("✗", "bold yellow"),
    "skipped": ("-", "dim"),
    "running": ("▸", "bold cyan"),
    "pending": ("·", "dim"),
}

# A run's verdict (tutor.runner) -> (word, mark, style, css class of the TUI banner).
VERDICTS = {
    "passed": ("PASSED", "✓", "bold green", "-passed"),
    "failed": ("FAILED", "✗", "bold red", "-failed"),
    "timeout": ("TIMED OUT", "✗", "bold red", "-failed"),
    "crashed": ("CRASHED", "✗", "bold red", "-failed"),
    "error": ("ERROR", "✗", "bold red", "-failed"),
    "interrupted": ("CANCELLED", "■", "bold yellow", "-cancelled"),
}
UNKNOWN_VERDICT = ("?", "?", "bold red", "-failed")


def verdict(name: str) -> tuple[str, str, str, str]:
    return VERDICTS.get(name, UNKNOWN_VERDICT)


def number(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, (int, float)) and not isinstance(value, bool) else str(value)


def metric_text(metric: dict[str, Any]) -> str:
    """'accuracy = 0.953 (needs ≥ 0.8)': one wording for the CLI and the TUI."""
    text = f"{metric.get('name')} = {number(metric.get('value'))}"
    threshold = metric.get("threshold")
    if isinstance(threshold, (int, float)):
        side = "≥" if metric.get("higher_is_better", True) else "≤"
        text += f" (needs {side} {threshold:.4g})"
    return text


def duration(seconds: float) -> str:
    """3.2 s, 42 s, 5 min, 1 h 05 min."""
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes = int(seconds // 60)
    if minutes < 60:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60:02d} min"


ABBREVIATIONS = {"accuracy": "acc.", "validation": "val.", "training": "train", "fraction": "frac.",
                 "without": "w/o", "distance": "dist.", "the": "", "(1-based)": ""}


def abbreviate(name: str) -> str:
    """A metric's name in fewer letters: 'accuracy on the blobs' -> 'acc. on blobs'."""
    words = [ABBREVIATIONS.get(w.lower(), w) for w in name.split()]
    return " ".join(w for w in words if w)


def best_metric(metrics: dict[str, float]) -> tuple[str, str]:
    """A lesson's first best metric, value first: ('0.953', 'acc. on test'); ('', '') when none."""
    if not metrics:
        return "", ""
    name, value = next(iter(metrics.items()))
    return (f"{value:.3g}" if isinstance(value, (int, float)) else str(value)), abbreviate(name)

"""Text helpers shared by the TUI's widgets: status marks, durations, check lines.

Every status has a text symbol as well as a colour, so the TUI reads with NO_COLOR.
"""

from __future__ import annotations

import time
from pathlib import Path

from rich.text import Text

# Day status (Tutor.status) -> (mark, style).
DAY_MARKS = {
    "passed": ("✓", "bold green"),
    "failing": ("✗", "bold red"),
    "not started": ("·", ""),
    "not written": ("–", "dim"),
}

# One named check's status (tutor.events) -> (mark, style).
CHECK_MARKS = {
    "passed": ("✓", "bold green"),
    "failed": ("✗", "bold red"),
    "not_implemented": ("✗", "bold yellow"),
    "skipped": ("-", "dim"),
    "running": ("▸", "bold cyan"),
    "pending": ("·", "dim"),
}

# Verdict of a whole run (tutor.runner) -> (banner word, mark, css class).
VERDICTS = {
    "passed": ("PASSED", "✓", "-passed"),
    "failed": ("FAILED", "✗", "-failed"),
    "timeout": ("TIMED OUT", "✗", "-failed"),
    "crashed": ("CRASHED", "✗", "-failed"),
    "error": ("ERROR", "✗", "-failed"),
    "interrupted": ("CANCELLED", "■", "-cancelled"),
}


def day_mark(status: str) -> tuple[str, str]:
    return DAY_MARKS.get(status, ("?", ""))


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


def ago(stamp: float | None, now: float | None = None) -> str:
    """'just now', '12 min ago', '3 h ago', '2 days ago'."""
    if not stamp:
        return ""
    delta = max(0.0, (now or time.time()) - stamp)
    if delta < 60:
        return "just now"
    if delta < 3600:
        return f"{int(delta // 60)} min ago"
    if delta < 86400:
        return f"{int(delta // 3600)} h ago"
    days = int(delta // 86400)
    return f"{days} day{'s' if days > 1 else ''} ago"


def short_path(path: Path) -> str:
    """The path with the home folder written as ~."""
    try:
        return "~/" + str(path.resolve().relative_to(Path.home().resolve()))
    except (ValueError, RuntimeError, OSError):
        return str(path)


def check_line(name: str, status: str, message: str = "") -> Text:
    """'✓ name' or '✗ name' with the message indented under it."""
    mark, style = CHECK_MARKS.get(status, ("?", ""))
    line = Text()
    line.append(f"{mark} ", style=style)
    line.append(name, style="bold" if status in ("failed", "not_implemented") else "")
    if status == "running":
        line.append(" …", style="dim")
    if message:
        for row in message.rstrip().splitlines():
            line.append("\n    " + row, style="" if status == "failed" else "dim")
    return line


def task_marks(checks: list[dict]) -> dict[str, str]:
    """Task id -> 'passed' | 'failing' from one attempt's checks (tasks with no check are absent)."""
    marks: dict[str, str] = {}
    for chk in checks:
        task = chk.get("task")
        if not task:
            continue
        ok = chk.get("status") == "passed"
        if not ok:
            marks[task] = "failing"
        else:
            marks.setdefault(task, "passed")
    return marks

"""Text helpers shared by the TUI's widgets: marks tables, check lines, paths, "ago".

Marks, verdict words, durations and metric text live in tutor/present.py, shared with the CLI.
"""

from __future__ import annotations

import time
from pathlib import Path

from rich.console import Group, RenderableType
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from tutor.present import CHECK_MARKS, LESSON_MARKS

def day_mark(status: str) -> tuple[str, str]:
    return LESSON_MARKS.get(status, ("?", ""))


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


def check_row(table: Table, name: str, status: str, message: str = "", extra: Text | None = None) -> None:
    """Add '✓ name' (or ✗, ·, ▸) to a marks table, the message indented under the name."""
    mark, style = CHECK_MARKS.get(status, ("?", ""))
    title = Text(name, style="bold" if status in ("failed", "not_implemented") else "")
    if status == "running":
        title.append(" …", style="dim")
    parts: list[RenderableType] = [title]
    if message:
        parts.append(Padding(Text(message.rstrip(), style="" if status == "failed" else "dim"), (0, 0, 0, 2)))
    if extra:
        parts.append(Padding(extra, (0, 0, 0, 2)))
    table.add_row(Text(mark, style=style), Group(*parts))


def marks_table() -> Table:
    """Two columns: a one-cell mark, then text that wraps under itself (a hanging indent)."""
    table = Table.grid(padding=(0, 1))
    table.add_column(width=1, no_wrap=True)
    table.add_column(ratio=1)
    return table


def bullets(items: list[str] | tuple[str, ...], mark: str = "•") -> Table:
    """A bulleted list whose wrapped lines hang under the text, not the bullet."""
    table = marks_table()
    for item in items:
        table.add_row(mark, Text(item))  # Text: course text is never read as console markup
    return table


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

"""Rich renderings for the CLI: lessons, live check lines, verdicts, progress tables."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from rich import box
from rich.console import Console, Group
from rich.markdown import Markdown
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from tutor import events
from tutor.course import Lesson
from tutor.tracks import Outline

if TYPE_CHECKING:
    from tutor.schedule import Schedule
from tutor.lesson_text import lesson_markdown
from tutor.marks import CHECK_MARKS, LESSON_MARKS
from tutor.runner import RunResult

VERDICT_STYLE = {"passed": "bold green", "interrupted": "bold yellow"}


def show_lesson(console: Console, lesson: Lesson, position: str = "", render=lambda text: text) -> None:
    console.print(Markdown(lesson_markdown(lesson, position=position, render=render)))


def check_line(event: dict[str, Any]) -> Text:
    """'✓ name' or '✗ name' with the message indented under it (skipped checks: the mark alone)."""
    mark, style = CHECK_MARKS.get(event["status"], ("?", ""))
    text = Text(f"{mark} ", style=style)
    text.append(event["name"], style="bold" if event["status"] != events.PASSED else "")
    if event.get("message") and event["status"] not in (events.PASSED, events.SKIPPED):
        for line in event["message"].splitlines():
            text.append(f"\n    {line}")
    return text


def metric_line(event: dict[str, Any]) -> Text:
    threshold = event.get("threshold")
    text = Text(f"  {event['name']}: {event['value']:.4g}", style="cyan")
    if threshold is not None:
        side = "≥" if event.get("higher_is_better", True) else "≤"
        text.append(f" (needed {side} {threshold:.4g})", style="dim")
    return text


def verdict_panel(result: RunResult, day_title: str) -> Panel:
    style = VERDICT_STYLE.get(result.verdict, "bold red")
    head = Text(f"{result.verdict.upper()}", style=style)
    head.append(f"  {result.day} {day_title}: {result.message}")
    head.append(f"\n{result.device_name or result.device or 'device unknown'} · {result.duration:.1f} s", style="dim")
    return Panel(head, expand=False)


def output_panel(result: RunResult, last_lines: int = 30) -> Panel | None:
    """The learner's prints: the last lines, with a note of what was left out."""
    if not result.output.strip():
        return None
    lines = result.output.rstrip().splitlines()
    shown = lines[-last_lines:]
    text = Text("\n".join(shown))
    notes = []
    if len(lines) > len(shown):
        notes.append(f"last {len(shown)} of {len(lines)} lines")
    if result.output_dropped:
        notes.append(f"{result.output_dropped} more bytes were not kept")
    if notes:
        text.append(f"\n({'; '.join(notes)})", style="dim")
    return Panel(text, title="your output", title_align="left", expand=False)


def course_table(outline: Outline, statuses: dict[str, str], current: str | None = None,
                 broken: dict[str, str] | None = None) -> Group:
    """The active track by group, with a status mark per entry (keyed by `Entry.key`)."""
    blocks = []
    for group in outline.groups:
        table = Table(title=f"{group.label}: {group.title}", title_justify="left", show_header=False,
                      box=None, pad_edge=False)
        table.add_column(width=2)
        table.add_column(width=7, no_wrap=True)
        table.add_column(ratio=3)
        table.add_column(style="cyan", no_wrap=True, ratio=2)
        table.add_column(style="dim", no_wrap=True)
        for e in group.entries:
            status = statuses.get(e.key, "not written")
            mark, style = LESSON_MARKS.get(status, ("?", ""))
            row_style = "dim" if e.lesson is None else ("reverse" if e.slug == current else "")
            when = f" · {e.date:%a %-d %b}" if e.date else ""
            name = e.slug if e.lesson is not None and e.slug else ""
            table.add_row(Text(mark, style=style), Text(e.label), Text(e.title), Text(name),
                          Text(f"{status}{when}"), style=row_style)
        blocks.append(table)
    return Group(*blocks)


def progress_table(rows: list[dict[str, Any]], streak: int) -> Group:
    """One row per written lesson of the track; fits 80 columns."""
    table = Table(title="Progress", title_justify="left", box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False,
                  padding=(0, 1), collapse_padding=True)
    table.add_column("where", no_wrap=True)
    table.add_column("title", no_wrap=True, overflow="ellipsis", max_width=20)
    table.add_column("status", no_wrap=True)
    for col in ("tries", "hints"):
        table.add_column(col, justify="right", min_width=5)
    table.add_column("best metric", no_wrap=True, overflow="ellipsis", max_width=11)
    table.add_column("time", justify="right", no_wrap=True)
    for r in rows:
        mark, style = LESSON_MARKS.get(r["status"], ("?", ""))
        best = ", ".join(f"{k} {v:.3g}" for k, v in list(r["best_metrics"].items())[:1])
        secs = r["seconds"]
        minutes = "" if not secs else (f"{secs:.0f}s" if secs < 90 else f"{secs / 60:.0f}m")
        table.add_row(r["position"], r["title"], Text(f"{mark} {r['status']}", style=style), str(r["attempts"]),
                      str(r["hints"]), best, minutes)
    passed = sum(r["status"] == "passed" for r in rows)
    footer = Text(f"{passed} of {len(rows)} written lessons passed · streak {streak} day(s)")
    return Group(table, footer)


def when(stamp: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(stamp)) if stamp else ""


def schedule_lines(plan: "Schedule | None") -> list[Text]:
    """A dated track's standing: the headline, this week's items, the overdue ones."""
    if plan is None:
        return []
    from tutor.schedule import day_text

    lines = [Text(plan.headline(), style="bold red" if plan.overdue else "bold")]
    for e in plan.this_week:
        lines.append(Text(f"  this week · {day_text(e.date)} · {e.label}: {e.title}"))
    for e in plan.overdue[:5]:
        lines.append(Text(f"  overdue · due {day_text(e.end or e.date)} · {e.title} [{e.slug}]", style="red"))
    if len(plan.overdue) > 5:
        lines.append(Text(f"  … and {len(plan.overdue) - 5} more overdue", style="red"))
    return lines


def print_code(console: Console, name: str, text: str) -> None:
    """A code file, never cropped: highlighted and wrapped on a terminal, plain text otherwise."""
    if not console.is_terminal:
        console.file.write(f"# --- {name} ---\n{text}" + ("" if text.endswith("\n") else "\n"))
        return
    from rich.syntax import Syntax

    console.rule(name)
    console.print(Syntax(text, "python", line_numbers=True, theme="ansi_dark", word_wrap=True))

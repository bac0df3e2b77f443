"""Rich renderings for the CLI: lessons, live check lines, verdicts, progress tables."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Callable

from rich import box
from rich.console import Console, ConsoleOptions, Group
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
from tutor.present import CHECK_MARKS, LESSON_MARKS, metric_text, verdict
from tutor.present import best_metric as present_best_metric
from tutor.run_state import CheckOutcome
from tutor.runner import RunResult, memory_note

def show_lesson(console: Console, lesson: Lesson, position: str = "", render=lambda text: text) -> None:
    console.print(Markdown(lesson_markdown(lesson, position=position, render=render)))


def check_line(outcome: CheckOutcome) -> Group:
    """'✓ name' or '✗ name' with the message indented under it, wrapped lines too (skipped: the mark alone)."""
    from rich.padding import Padding

    mark, style = CHECK_MARKS.get(outcome.status, ("?", ""))
    text = Text(f"{mark} ", style=style)
    text.append(outcome.name, style="bold" if outcome.status != events.CHECK_PASSED else "")
    parts: list[Any] = [text]
    if outcome.message and outcome.status not in (events.CHECK_PASSED, events.CHECK_SKIPPED):
        parts.append(Padding(Text(outcome.message.rstrip()), (0, 0, 0, 4)))
    return Group(*parts)


def metric_line(event: dict[str, Any]) -> Text:
    return Text(f"  {metric_text(event)}", style="cyan")


def verdict_panel(result: RunResult, day_title: str) -> Panel:
    word, mark, style, _ = verdict(result.verdict)
    head = Text(f"{mark} {word}", style=style)
    head.append(f"  {result.day} {day_title}: {result.message}")
    head.append(f"\n{result.device_name or result.device or 'device unknown'} · {result.duration:.1f} s", style="dim")
    memory = memory_note(result.peak_mib, result.gpu_peak_mib, result.max_memory_mib)
    if memory:
        head.append(f" · {memory}", style="dim")
    return Panel(head, expand=False)


def byte_size(n: int) -> str:
    """512 B, 12 KiB, 4.3 MiB, 1.2 GiB."""
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}" if n < 10 * scale else f"{n / scale:.0f} {unit}"
    return f"{n} B"


def output_panel(result: RunResult, head_lines: int = 10, tail_lines: int = 20) -> Panel | None:
    """The learner's prints: the first and the last lines, saying what lies between and whether it was kept."""
    if not (result.output + result.output_tail).strip():
        return None
    dropped = result.output_dropped
    if not dropped:  # all of it was kept
        lines = (result.output + result.output_tail).rstrip("\n").splitlines()
        total, about = len(lines), ""
        first, last = (lines, []) if total <= head_lines + tail_lines else (lines[:head_lines], lines[-tail_lines:])
    else:  # the runner kept the first and the last 32 KiB; lines at the cuts are partial
        tail = result.output_tail.rstrip("\n")
        total = result.output.count("\n") + result.output_dropped_lines + tail.count("\n") + 1
        about = "about "
        first = result.output.splitlines()[:head_lines]
        last = tail.splitlines()[-tail_lines:]
    left_out = max(0, total - len(first) - len(last))
    text = Text("\n".join(first))
    if left_out or dropped:
        note = f"… {about}{left_out:,} lines left out here"
        if dropped:
            note += f" ({byte_size(dropped)} of them not kept: the tutor keeps the first and the last 32 KiB)"
        text.append(f"\n{note} …", style="dim")
    if last:
        text.append("\n" + "\n".join(last))
    title = "your output"
    if left_out:
        title += f": first {len(first)} and last {len(last)} of {about}{total:,} lines"
    return Panel(text, title=title, title_align="left", expand=False)


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


def best_metric(metrics: dict[str, float]) -> Text:
    """The lesson's first best metric, the value first: '0.953 acc. on test'."""
    value, name = present_best_metric(metrics)
    text = Text(value, style="bold")
    if name:
        text.append(f" {name}")
    return text


class _FittedTable:
    """A table built when Rich knows the width, so one column can take exactly the room left."""

    def __init__(self, build: Callable[[int], Table]):
        self.build = build

    def __rich_console__(self, console: Console, options: ConsoleOptions):
        yield self.build(options.max_width)


def progress_table(rows: list[dict[str, Any]], streak: int) -> Group:
    """One row per written lesson of the track; fits 80 columns (the best metric takes the room left)."""
    cells = []
    for r in rows:
        mark, style = LESSON_MARKS.get(r["status"], ("?", ""))
        secs = r["seconds"]
        minutes = "" if not secs else (f"{secs:.0f}s" if secs < 90 else f"{secs / 60:.0f}m")
        cells.append((Text(r["position"]), Text(r["title"]), Text(f"{mark} {r['status']}", style=style),
                      Text(str(r["attempts"])), Text(str(r["hints"])), best_metric(r["best_metrics"]), Text(minutes)))

    def build(width: int) -> Table:
        def widest(i: int, head: str, cap: int = 999) -> int:
            return min(cap, max([len(head)] + [c[i].cell_len for c in cells]))

        title_cap = 20 if width >= 96 else 16  # at 80 columns the metric needs the room more
        fixed = [widest(0, "where"), widest(1, "title", title_cap), widest(2, "status"), 5, 5, widest(6, "time")]
        room = max(12, width - sum(fixed) - 2 * len(fixed))  # two spaces between columns
        table = Table(title="Progress", title_justify="left", box=box.SIMPLE_HEAD, show_edge=False,
                      pad_edge=False, padding=(0, 1), collapse_padding=True)
        table.add_column("where", no_wrap=True, width=fixed[0])
        table.add_column("title", no_wrap=True, overflow="ellipsis", width=fixed[1])
        table.add_column("status", no_wrap=True, width=fixed[2])
        for col in ("tries", "hints"):
            table.add_column(col, justify="right", width=5)
        table.add_column("best metric", no_wrap=True, overflow="ellipsis", max_width=room)
        table.add_column("time", justify="right", no_wrap=True, width=fixed[5])
        for row in cells:
            table.add_row(*row)
        return table

    passed = sum(r["status"] == "passed" for r in rows)
    footer = Text(f"{passed} of {len(rows)} written lessons passed · streak {streak} day(s)")
    return Group(_FittedTable(build), footer)


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

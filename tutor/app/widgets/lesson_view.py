"""The lesson pane: title, objectives, the exercise's tasks with their status, the body."""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Markdown, Static

from rich.console import Group

from tutor.app.format import DAY_MARKS, bullets, day_mark, marks_table, short_path
from tutor.course import DayEntry, Lesson

TASK_MARKS = {"passed": DAY_MARKS["passed"], "failing": DAY_MARKS["failing"]}


def lesson_markdown(lesson: Lesson) -> str:
    """The body, then key learnings and references, as one Markdown document."""
    parts = [lesson.body.rstrip(), "", "## Key learnings", ""]
    parts += [f"- {item}" for item in lesson.key_learnings]
    if lesson.references:
        parts += ["", "## References", ""]
        for ref in lesson.references:
            who = ", ".join(x for x in (ref.authors, str(ref.year) if ref.year else "") if x)
            line = f"- *{ref.kind}*: {ref.title}" + (f" ({who})" if who else "")
            parts.append(line + (f" <{ref.url}>" if ref.url else ""))
    return "\n".join(parts) + "\n"


class LessonView(VerticalScroll):
    """Scrollable reader for one day; `show()` swaps the day in."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.border_title = "Lesson"
        self.day: str | None = None

    def compose(self) -> ComposeResult:
        yield Static(id="lesson-head")
        yield Static(id="lesson-tasks")
        yield Markdown(id="lesson-body")

    def show(self, entry: DayEntry, status: str, exercise: Path | None, marks: dict[str, str],
             hints: list[str]) -> None:
        """Show a day: a written lesson, or a note that it is not written yet."""
        changed = entry.id != self.day
        self.day = entry.id
        self.query_one("#lesson-head", Static).update(self._head(entry, status))
        body = self.query_one("#lesson-body", Markdown)
        tasks = self.query_one("#lesson-tasks", Static)
        if entry.lesson is None:
            tasks.display = False
            body.display = False
        else:
            tasks.display = True
            body.display = True
            self.show_tasks(entry.lesson, exercise, marks, hints)
            if changed:
                body.update(lesson_markdown(entry.lesson))
        if changed:
            self.scroll_home(animate=False)

    def show_tasks(self, lesson: Lesson, exercise: Path | None, marks: dict[str, str], hints: list[str]) -> None:
        """The exercise block: file, tasks with ✓/✗ from the last check, hints opened so far."""
        head = Text()
        head.append("Exercise ", style="bold")
        head.append(short_path(exercise) if exercise else ", ".join(lesson.exercise.files), style="underline")
        head.append("\ne edit · c check · w watch · h hint", style="dim")
        tasks = marks_table()
        for task in lesson.exercise.tasks:
            mark, style = TASK_MARKS.get(marks.get(task.id, ""), ("·", "dim"))
            tasks.add_row(Text(mark, style=style), Group(Text(task.title, style="bold"), Text(task.description)))
        parts = [head, tasks]
        if hints:
            parts.append(Text(f"Hints opened ({len(hints)} of {len(lesson.exercise.hints)})", style="bold"))
            parts.append(bullets(hints, "›"))
        self.query_one("#lesson-tasks", Static).update(Group(*parts))

    @staticmethod
    def _head(entry: DayEntry, status: str) -> Group:
        mark, style = day_mark(status)
        text = Text()
        text.append(f"Day {entry.day} · {entry.title}\n", style="bold")
        text.append(f"Week {entry.week}   ", style="dim")
        text.append(f"{mark} {status}", style=style)
        lesson = entry.lesson
        if lesson is None:
            text.append("\n\nThis lesson is not written yet. ", style="italic")
            text.append("Days marked – in the tree are still to come.")
            return Group(text)
        text.append(f"\n\n{lesson.summary}\n", style="italic")
        text.append("\nObjectives", style="bold")
        return Group(text, bullets(lesson.objectives))

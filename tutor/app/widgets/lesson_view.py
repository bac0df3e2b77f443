"""The lesson pane: title, objectives, the exercise's tasks with their status, the body."""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

from rich.console import Group

from tutor.app.keys import key
from tutor.app.format import bullets, day_mark, marks_table, short_path
from tutor.present import LESSON_MARKS
from tutor.course import Lesson
from tutor.tracks import Entry
from tutor.lesson_text import lesson_markdown

TASK_MARKS = {"passed": LESSON_MARKS["passed"], "failing": LESSON_MARKS["failing"]}


class LessonView(VerticalScroll):
    """Scrollable reader for one day; `show()` swaps the day in.

    The Markdown body (markdown-it, highlighted code) is the slowest thing to draw, so
    it waits until the screen calls `release()` after its first full frame, and then
    is imported and rendered; `body_day` says which day's body is showing.
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.border_title = "Lesson"
        self.day: str | None = None
        self.body_day: str | None = None
        self._held: tuple[str, str] | None = None
        self._holding = True

    def release(self) -> None:
        """The first frame is on screen: draw bodies from now on."""
        if self._holding:
            self._holding = False
            if self._held is not None:
                self.call_after_refresh(self._show_body, *self._held)
                self._held = None

    def compose(self) -> ComposeResult:
        yield Static(id="lesson-head")
        yield Static(id="lesson-tasks")

    def show(self, entry: Entry, status: str, exercise: Path | None, marks: dict[str, str],
             hints: list, render=lambda text: text) -> None:
        """Show an entry: a written lesson, or a note that it is not written yet (or is reading)."""
        changed = entry.key != self.day
        self.day = entry.key
        self.query_one("#lesson-head", Static).update(self._head(entry, status))
        tasks = self.query_one("#lesson-tasks", Static)
        tasks.display = entry.lesson is not None
        if entry.lesson is not None:
            self.show_tasks(entry.lesson, exercise, marks, hints)
        if changed:
            self.body_day = None
            for old in self.query("#lesson-body"):
                old.display = False
            if entry.lesson is not None:
                body = (entry.key, lesson_markdown(entry.lesson, head=False, render=render))
                if self._holding:
                    self._held = body
                else:
                    self.call_after_refresh(self._show_body, *body)
            self.scroll_home(animate=False)

    async def _show_body(self, day: str, text: str) -> None:
        """Render the Markdown body (after the head and tasks are on screen)."""
        if day != self.day:
            return  # the learner moved on before we got here
        from textual.widget import MountError
        from textual.widgets import Markdown

        found = self.query("#lesson-body")
        try:
            if found:
                body = found.first(Markdown)
                await body.update(text)
            else:
                body = Markdown(id="lesson-body")
                await self.mount(body)
                await body.update(text)
        except MountError:  # the app is closing while the body was being drawn: nothing to show it on
            return
        if day == self.day:
            body.display = True
            self.body_day = day

    def show_tasks(self, lesson: Lesson, exercise: Path | None, marks: dict[str, str], hints: list) -> None:
        """The exercise block: file, tasks with ✓/✗ from the last check, hints opened so far."""
        head = Text()
        head.append("Exercise ", style="bold")
        head.append(short_path(exercise) if exercise else ", ".join(lesson.exercise.files), style="underline")
        head.append("\n" + " · ".join(f"{key(a)} {a.replace('_', ' ')}" for a in ("edit", "check", "watch", "hint")),
                    style="dim")
        tasks = marks_table()
        for task in lesson.exercise.tasks:
            mark, style = TASK_MARKS.get(marks.get(task.id, ""), ("·", "dim"))
            tasks.add_row(Text(mark, style=style), Group(Text(task.title, style="bold"), Text(task.description)))
        parts = [head, tasks]
        if hints:
            total = sum(len(t.hints) for t in lesson.exercise.tasks)
            parts.append(Text(f"Hints opened ({len(hints)} of {total})", style="bold"))
            parts.append(bullets([f"[{h.task}] {h.text}" for h in hints], "›"))
        self.query_one("#lesson-tasks", Static).update(Group(*parts))

    @staticmethod
    def _head(entry: Entry, status: str) -> Group:
        mark, style = day_mark(status)
        text = Text()
        text.append(f"{entry.label} · {entry.title}\n", style="bold")
        when = f" · {entry.date:%a %-d %b}" if entry.date else ""
        text.append(f"{entry.item_title}{when}   " if entry.item_title != entry.title else f"{when[3:]}   ", style="dim")
        text.append(f"{mark} {status}", style=style)
        lesson = entry.lesson
        if lesson is None:
            if entry.kind == "broken":
                text.append("\n\nThis lesson's file is invalid, so it cannot be shown:\n", style="italic")
                text.append(entry.summary, style="red")
                return Group(text)
            if entry.kind == "reading":
                text.append("\n\nSelf-work and reading: no exercise to check. ", style="italic")
            else:
                text.append("\n\nThis lesson is not written yet. ", style="italic")
                text.append("Entries marked – in the tree are still to come.")
            if entry.summary:
                text.append(f"\n\n{entry.summary}")
            return Group(text)
        text.append(f"\n\n{lesson.summary}\n", style="italic")
        text.append("\nObjectives", style="bold")
        return Group(text, bullets(lesson.objectives))

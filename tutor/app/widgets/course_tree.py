"""The course tree: weeks (collapsible) and days, each with its status mark."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Tree
from textual.widgets.tree import TreeNode

from tutor.app.format import day_mark
from tutor.course import Course, DayEntry


class CourseTree(Tree[DayEntry | None]):
    """Weeks as branches, days as leaves; node data is the DayEntry (None for weeks)."""

    def __init__(self, course: Course, **kwargs) -> None:
        super().__init__("course", **kwargs)
        self.course = course
        self.show_root = False
        self.guide_depth = 2
        self.auto_expand = True
        self.current: str | None = None
        self._day_nodes: dict[str, TreeNode[DayEntry | None]] = {}
        self._week_nodes: dict[int, TreeNode[DayEntry | None]] = {}
        self._statuses: dict[str, str] = {}

    def build(self, statuses: dict[str, str], current: str | None) -> None:
        """(Re)build every node; weeks holding a written lesson or the current day start open."""
        self.clear()
        self._statuses = dict(statuses)
        self.current = current
        self._day_nodes.clear()
        self._week_nodes.clear()
        for week in self.course.weeks:
            written = any(d.lesson for d in week.days)
            has_current = any(d.id == current for d in week.days)
            node = self.root.add(self._week_label(week.number, week.title, week.days), data=None,
                                 expand=written or has_current)
            self._week_nodes[week.number] = node
            for entry in week.days:
                self._day_nodes[entry.id] = node.add_leaf(self._day_label(entry), data=entry)

    def _day_label(self, entry: DayEntry) -> Text:
        status = self._statuses.get(entry.id, "not written" if entry.lesson is None else "not started")
        mark, style = day_mark(status)
        label = Text()
        label.append(mark + " ", style=style)
        title_style = "dim italic" if entry.lesson is None else ""
        if entry.id == self.current:
            title_style = "bold underline"
        label.append(f"{entry.day:02d} ", style="dim" if entry.lesson is None else "")
        label.append(entry.title, style=title_style)
        return label

    def _week_label(self, number: int, title: str, days: tuple[DayEntry, ...]) -> Text:
        passed = sum(self._statuses.get(d.id) == "passed" for d in days)
        label = Text()
        label.append(f"Week {number} ", style="bold")
        label.append(title)
        label.append(f" {passed}/{len(days)}", style="dim")
        return label

    def update_marks(self, statuses: dict[str, str], current: str | None = None) -> None:
        """Relabel days (and week counts) after a check or when the current day changes."""
        self._statuses = dict(statuses)
        if current is not None:
            self.current = current
        for week in self.course.weeks:
            node = self._week_nodes.get(week.number)
            if node is not None:
                node.set_label(self._week_label(week.number, week.title, week.days))
            for entry in week.days:
                leaf = self._day_nodes.get(entry.id)
                if leaf is not None:
                    leaf.set_label(self._day_label(entry))

    def status_of(self, day: str) -> str:
        return self._statuses.get(day, "")

    def focus_day(self, day: str) -> None:
        """Open the day's week and put the cursor on the day."""
        leaf = self._day_nodes.get(day)
        if leaf is None:
            return
        if leaf.parent is not None:
            leaf.parent.expand()
        self.call_after_refresh(self._move_to, leaf)

    def _move_to(self, leaf: TreeNode[DayEntry | None]) -> None:
        self.move_cursor(leaf)  # scrolls it into view; opening a day is Enter (NodeSelected)

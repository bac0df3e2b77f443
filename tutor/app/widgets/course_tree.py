"""The course tree: the active track's groups (collapsible) and entries, each with its status mark."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Tree
from textual.widgets.tree import TreeNode

from tutor.app.format import day_mark
from tutor.tracks import Entry, Outline, OutlineGroup


class CourseTree(Tree[Entry | None]):
    """Groups (weeks, modules) as branches, entries as leaves; node data is the Entry (None for groups)."""

    def __init__(self, outline: Outline, **kwargs) -> None:
        super().__init__("course", **kwargs)
        self.outline = outline
        self.show_root = False
        self.guide_depth = 2
        self.auto_expand = True
        self.current: str | None = None
        self._entry_nodes: dict[str, TreeNode[Entry | None]] = {}
        self._group_nodes: dict[int, TreeNode[Entry | None]] = {}
        self._statuses: dict[str, str] = {}

    def build(self, statuses: dict[str, str], current: str | None, outline: Outline | None = None) -> None:
        """(Re)build every node; groups holding a written lesson or the current entry start open."""
        self.outline = outline or self.outline
        self.clear()
        self._statuses = dict(statuses)
        self.current = current
        self._entry_nodes.clear()
        self._group_nodes.clear()
        for group in self.outline.groups:
            written = any(e.lesson for e in group.entries)
            has_current = any(e.key == current for e in group.entries)
            node = self.root.add(self._group_label(group), data=None, expand=written or has_current)
            self._group_nodes[group.number] = node
            for entry in group.entries:
                self._entry_nodes[entry.key] = node.add_leaf(self._entry_label(entry), data=entry)

    def _entry_label(self, entry: Entry) -> Text:
        status = self._statuses.get(entry.key, "not written" if entry.lesson is None else "not started")
        mark, style = day_mark(status)
        label = Text()
        label.append(mark + " ", style=style)
        title_style = "dim italic" if entry.lesson is None else ""
        if entry.key == self.current:
            title_style = "bold underline"
        label.append(f"{entry.n:02d} ", style="dim" if entry.lesson is None else "")
        label.append(entry.title, style=title_style)
        return label

    def _group_label(self, group: OutlineGroup) -> Text:
        lessons = [e for e in group.entries if e.kind != "reading"]
        passed = sum(self._statuses.get(e.key) == "passed" for e in lessons)
        label = Text()
        label.append(f"{group.label} ", style="bold")
        label.append(group.title)
        label.append(f" {passed}/{len(lessons)}", style="dim")
        return label

    def update_marks(self, statuses: dict[str, str], current: str | None = None) -> None:
        """Relabel entries (and group counts) after a check or when the current entry changes."""
        self._statuses = dict(statuses)
        if current is not None:
            self.current = current
        for group in self.outline.groups:
            node = self._group_nodes.get(group.number)
            if node is not None:
                node.set_label(self._group_label(group))
            for entry in group.entries:
                leaf = self._entry_nodes.get(entry.key)
                if leaf is not None:
                    leaf.set_label(self._entry_label(entry))

    def status_of(self, key: str) -> str:
        return self._statuses.get(key, "")

    def focus_day(self, key: str) -> None:
        """Open the entry's group and put the cursor on it."""
        leaf = self._entry_nodes.get(key)
        if leaf is None:
            return
        if leaf.parent is not None:
            leaf.parent.expand()
        self.call_after_refresh(self._move_to, leaf)

    def _move_to(self, leaf: TreeNode[Entry | None]) -> None:
        self.move_cursor(leaf)  # scrolls it into view; opening an entry is Enter (NodeSelected)

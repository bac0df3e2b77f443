"""The main screen: course tree, lesson pane, check pane; opening entries, the view, the device probe.

Its actions live in small mixins: main_check (c, x), main_watch (w), main_files (e, h, s, r).
Keys come from the one key table, tutor/app/keys.py.
"""

from __future__ import annotations

from functools import partial

from textual.app import ComposeResult
from textual.containers import Container, Horizontal
from textual.screen import Screen
from textual.widgets import Footer, Tree

from tutor.app.format import short_path, task_marks
from tutor.app.keys import bindings
from tutor.app.messages import DeviceProbed
from tutor.app.screens.main_check import CheckActions
from tutor.app.screens.main_files import FileActions
from tutor.app.screens.main_watch import WatchActions
from tutor.app.widgets.check_panel import CheckPanel
from tutor.app.widgets.course_tree import CourseTree
from tutor.app.widgets.lesson_view import LessonView
from tutor.app.widgets.notice_bar import NoticeBar
from tutor.app.widgets.top_bar import TopBar
from tutor.app.workers import probe_device
from tutor.course import Lesson
from tutor.filewatch import FileWatch
from tutor.tracks import Entry
from tutor.runner import CheckRun
from tutor.session import Tutor

PROBE_DELAY_S = 0.3  # after the body has started drawing


class MainScreen(CheckActions, WatchActions, FileActions, Screen[None]):
    """Everything a learner does with one lesson happens here."""

    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (110, "-wide")]
    VERTICAL_BREAKPOINTS = [(0, "-short"), (32, "-tall")]

    BINDINGS = bindings("main")  # from the one key table, tutor/app/keys.py

    def __init__(self, day: str | None = None) -> None:
        super().__init__()
        self.start_day = day
        self.entry: Entry | None = None
        self.run: CheckRun | None = None
        self.run_id = 0
        self.run_day = ""
        self.watching = False
        self.filewatch: FileWatch | None = None  # while watching (tutor.filewatch)
        self._queued = False

    @property
    def tutor(self) -> Tutor:
        return self.app.tutor  # type: ignore[attr-defined]

    # -- layout -----------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        width, height = self.app.size  # the breakpoint classes now, so the first frame is laid out right
        for name, on in (("-narrow", width < 110), ("-wide", width >= 110), ("-short", height < 32),
                         ("-tall", height >= 32)):
            self.set_class(on, name)
        yield TopBar(short_path(self.tutor.root), id="topbar")
        with Horizontal(id="body"):
            yield CourseTree(self.tutor.outline, id="tree")
            with Container(id="panes"):
                yield LessonView(id="lesson")
                yield CheckPanel(id="check")
        yield NoticeBar(id="notices")  # notifications in the layout, not toasts over the panes
        yield Footer(compact=True)

    def on_mount(self) -> None:
        tree = self.query_one(CourseTree)
        day = self.start_day or self._next_day_id()
        tree.build(self._statuses(), day)
        if day:
            self.open_day(day)  # the tree cursor follows
        tree.focus()
        store_notice = "\n".join(self.tutor.notices)
        if store_notice:
            self.notify(store_notice, severity="warning", timeout=10)
        if self.tutor.first_use:
            self.notify(f"Your workspace is {short_path(self.tutor.root)}: "
                        f"{len(self.tutor.copied)} starter files copied there.", timeout=8)
        self.call_after_refresh(self._after_first_frame)

    def _after_first_frame(self) -> None:
        """After the first frame is on screen, the slow things: the lesson's Markdown body, then the probe."""
        self.query_one(LessonView).release()
        self.set_timer(PROBE_DELAY_S, self._start_probe)
        if self.app.warm:  # type: ignore[attr-defined]
            self.set_timer(PROBE_DELAY_S, lambda: self.tutor.start_warm(self.app.device))  # type: ignore[attr-defined]

    def on_resize(self, event) -> None:
        """Below 100 columns the footer keeps its room for the keys (ctrl+p still works)."""
        self.query_one(Footer).show_command_palette = event.size.width >= 100

    def _next_day_id(self) -> str | None:
        lesson = self.tutor.next_lesson()
        found = self.tutor.outline.entries_for(lesson.id) if lesson is not None else []
        if found:
            return found[0].key
        entries = self.tutor.outline.entries
        return entries[0].key if entries else None

    # -- days -------------------------------------------------------------------------
    def _statuses(self, summary: dict | None = None) -> dict[str, str]:
        summary = self.tutor.progress() if summary is None else summary
        return {e.key: self.tutor.status(e, summary) for e in self.tutor.outline.entries}

    @property
    def lesson(self) -> Lesson | None:
        return self.entry.lesson if self.entry else None

    def open_day(self, day: str) -> None:
        """Show an entry of the track in the lesson and check panes (the tree cursor follows)."""
        entry = self.tutor.outline.entry(day)
        if entry.lesson is not None:
            self.tutor.lesson(entry.lesson.id)  # copies its starters if the workspace lacks them
        self.entry = entry
        self.query_one(TopBar).set(day=entry.slug or entry.label)
        self.refresh_day()
        tree = self.query_one(CourseTree)
        if tree.cursor_node is None or tree.cursor_node.data is None or tree.cursor_node.data.key != day:
            tree.focus_day(day)
        if self.filewatch is not None:
            self.filewatch.reset()
            self._queued = False  # a save of the lesson we left must not re-check this one

    def refresh_day(self) -> None:
        """Redraw marks, the lesson's tasks and (when idle) the check pane from the store."""
        if self.entry is None:
            return
        summary = self.tutor.progress()
        statuses = self._statuses(summary)
        self.query_one(CourseTree).update_marks(statuses, self.entry.key)
        lesson = self.entry.lesson
        attempts = self.tutor.attempts(lesson, limit=20) if lesson else []
        judged = next((a for a in attempts if a["verdict"] != "interrupted"), None)
        marks = task_marks(judged["checks"]) if judged else {}
        exercise = self.tutor.exercise_path(lesson) if lesson else None
        hints = self.tutor.shown_hints(lesson) if lesson else []
        self.query_one(LessonView).show(self.entry, statuses[self.entry.key], exercise, marks, hints,
                                        render=self.tutor.render)
        panel = self.query_one(CheckPanel)
        name = lesson.id if lesson else self.entry.key
        if not panel.running and (panel.day != name or not self.run_day):
            panel.show_idle(name, attempts[0] if attempts else None, written=lesson is not None)

    def on_tree_node_selected(self, event: Tree.NodeSelected) -> None:
        entry = event.node.data
        if isinstance(entry, Entry):
            event.stop()
            self.open_day(entry.key)
            self.remove_class("-show-check")

    def action_next_day(self) -> None:
        day = self._next_day_id()
        if day is None:
            return
        if self.entry is not None and day == self.entry.key:
            self.notify(f"{self.entry.title} is already the next lesson to do.")
        self.open_day(day)

    # -- view -------------------------------------------------------------------------
    def action_switch_view(self) -> None:
        self.toggle_class("-show-check")
        target = "#check" if self.has_class("-show-check") else "#lesson"
        self.query_one(target).focus()

    def action_toggle_tree(self) -> None:
        self.toggle_class("-hide-tree")
        tree = self.query_one(CourseTree)
        if self.has_class("-hide-tree"):
            if tree.has_focus:
                self.query_one("#check" if self.has_class("-show-check") else "#lesson").focus()
        else:
            tree.focus()

    # -- device probe -----------------------------------------------------------------
    def _start_probe(self) -> None:
        probe = self.app.probe  # type: ignore[attr-defined]
        if probe is None:
            return
        self.run_worker(partial(probe_device, self, probe), thread=True, group="probe", exit_on_error=False)

    def on_device_probed(self, message: DeviceProbed) -> None:
        message.stop()
        info = message.info
        requested = self.app.device  # type: ignore[attr-defined]
        if requested and requested != "auto":
            label = f"device: {requested} (asked for)"
        elif info.get("device_name"):
            label = str(info["device_name"])
        else:
            label = "device: unknown (torch? see `dltutor doctor`)"
        self.query_one(TopBar).set(device=label)
        self.query_one(CheckPanel).device_name = label

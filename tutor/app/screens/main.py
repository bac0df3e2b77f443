"""The main screen: course tree, lesson pane, check pane, and every per-day action.

Checks run in a thread worker (workers.run_check) that iterates CheckRun.events() and
posts messages back here; the worker never touches a widget. Watch mode polls the
exercise files in a timer (watcher.SaveWatcher, no inotify needed), debounces, and
coalesces saves during a run into one re-run after it.
"""

from __future__ import annotations

import time
from functools import partial
from pathlib import Path

from textual.app import ComposeResult
from textual.containers import Container, Horizontal
from textual.screen import Screen
from textual.widgets import Footer, Tree

from tutor.app.dialogs.confirm import ConfirmDialog
from tutor.app.dialogs.message import MessageDialog
from tutor.app.editing import edit_file
from tutor.app.format import short_path, task_marks
from tutor.app.keys import bindings, key
from tutor.app.messages import CheckEvent, CheckRecorded, DeviceProbed
from tutor.app.watcher import SaveWatcher
from tutor.app.widgets.check_panel import CheckPanel
from tutor.app.widgets.course_tree import CourseTree
from tutor.app.widgets.lesson_view import LessonView
from tutor.app.widgets.notice_bar import NoticeBar
from tutor.app.widgets.top_bar import TopBar
from tutor.app.workers import probe_device, run_check
from tutor.course import Lesson
from tutor.progress import StoreError
from tutor.tracks import Entry
from tutor.runner import CheckRun
from tutor.session import SolutionLocked, Tutor

WATCH_LABEL = "◉ watching (polling)"
PROBE_DELAY_S = 0.3  # after the body has started drawing
FIRST_FRAME_WAIT_S = 2.0


class MainScreen(Screen[None]):
    """Everything a learner does on one day happens here."""

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
        self._watch_timer = None
        self._queued = False
        self.watcher = SaveWatcher(self._watched_files)

    @property
    def tutor(self) -> Tutor:
        return self.app.tutor  # type: ignore[attr-defined]

    # -- layout -----------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        width, height = self.app.size  # the breakpoint classes now, so the first frame is laid out right
        for name, on in (("-narrow", width < 110), ("-wide", width >= 110), ("-short", height < 32),
                         ("-tall", height >= 32)):
            self.set_class(on, name)
        yield TopBar(short_path(self.tutor.workspace.root), id="topbar")
        with Horizontal(id="body"):
            yield CourseTree(self.tutor.outline, id="tree")
            with Container(id="panes"):
                yield LessonView(id="lesson")
                yield CheckPanel(id="check")
        yield NoticeBar(id="notices")  # notifications in the layout, not toasts over the panes
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.watcher.debounce = self.app.watch_debounce  # type: ignore[attr-defined]
        tree = self.query_one(CourseTree)
        day = self.start_day or self._next_day_id()
        tree.build(self._statuses(), day)
        if day:
            self.open_day(day)  # the tree cursor follows
        tree.focus()
        store_notice = getattr(self.tutor.store, "notice", "")
        if store_notice:
            self.notify(store_notice, severity="warning", timeout=10)
        if self.tutor.first_use:
            self.notify(f"Your workspace is {short_path(self.tutor.workspace.root)}: "
                        f"{len(self.tutor.copied)} starter files copied there.", timeout=8)
        self._first_frame_at = time.monotonic()
        self._first_frame_timer = self.set_interval(0.05, self._after_first_frame)

    def _after_first_frame(self) -> None:
        """Once the footer has its keys (Textual fills it a frame or two after mount), do the
        slow things: the lesson's Markdown body, then the device probe."""
        ready = bool(self.query_one(Footer).children)
        if not ready and time.monotonic() - self._first_frame_at < FIRST_FRAME_WAIT_S:
            return
        self._first_frame_timer.stop()
        self.query_one(LessonView).release()
        self.set_timer(PROBE_DELAY_S, self._start_probe)

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
        if self.watching:
            self.watcher.reset()
            self._queued = False  # a save of the day we left must not re-check this one

    def refresh_day(self) -> None:
        """Redraw marks, the lesson's tasks and (when idle) the check pane from the store."""
        if self.entry is None:
            return
        summary = self.tutor.progress()
        statuses = self._statuses(summary)
        self.query_one(CourseTree).update_marks(statuses, self.entry.key)
        lesson = self.entry.lesson
        attempts = self.tutor.store.attempts(lesson.id, limit=20) if lesson else []
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

    # -- check ------------------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "cancel":
            return self.run is not None
        return True

    def action_check(self) -> None:
        lesson = self.lesson
        if lesson is None:
            self.notify("This day's lesson is not written yet: nothing to check.", severity="warning")
            return
        if self.run is not None:
            self.notify(f"A check of {self.run_day} is already running; x cancels it.", severity="warning")
            return
        self.start_check()

    def start_check(self, reason: str = "") -> None:
        """Start a run of the current day's check in a thread worker."""
        lesson = self.lesson
        if lesson is None or self.run is not None:
            return
        panel = self.query_one(CheckPanel)
        try:
            run = self.tutor.check_run(lesson, device=self.app.device)  # type: ignore[attr-defined]
        except Exception as exc:  # a broken course install must not take the app down
            panel.fail_to_run(f"{type(exc).__name__}: {exc}")
            return
        self.run_id += 1
        self.run, self.run_day = run, lesson.id
        panel.begin(lesson.id, reason)
        self.add_class("-show-check")
        self.refresh_bindings()
        self.run_worker(partial(run_check, self, run, self.run_id, lesson.id, self.tutor), thread=True,
                        group="check", name=f"check {lesson.id}", exit_on_error=False)

    def on_check_event(self, message: CheckEvent) -> None:
        message.stop()
        if message.run_id != self.run_id:
            return
        event = message.event
        self.query_one(CheckPanel).apply(event)
        if event.get("event") == "started" and event.get("device_name"):
            self.query_one(TopBar).set(device=event["device_name"])

    def on_check_recorded(self, message: CheckRecorded) -> None:
        message.stop()
        if message.run_id != self.run_id:
            return
        self.run = None
        panel = self.query_one(CheckPanel)
        if message.result is None:
            panel.fail_to_run(message.error)
        else:
            if panel.running:  # no 'finished' event came through
                panel.finish(message.result)
            if message.error:
                self.notify(message.error, severity="warning")
            verdict = message.result.get("verdict")
            if verdict == "passed":
                self.notify(f"{message.day} passed ✓", title="Check passed")
            elif self.entry is not None and message.day != self.entry.slug:
                self.notify(f"The check of {message.day} ended: {verdict}.")
        self.refresh_bindings()
        self.refresh_day()
        if self._queued:
            self._queued = False
            if self.watching:
                self.start_check(reason="re-run: you saved during the last run")

    def action_cancel(self) -> None:
        if self.run is not None:
            self.run.cancel()
            self.notify("Cancelling the check…")

    def cancel_run(self) -> None:
        """Used on quit: stop the child process group, if any."""
        if self.run is not None:
            self.run.cancel()

    def on_unmount(self) -> None:
        self.cancel_run()

    # -- watch ------------------------------------------------------------------------
    def action_watch(self) -> None:
        self.set_watch(not self.watching)

    def set_watch(self, on: bool) -> None:
        self.watching = on
        bar = self.query_one(TopBar)
        if on:
            self.watcher.reset()
            interval = self.app.watch_interval  # type: ignore[attr-defined]
            if self._watch_timer is None:
                self._watch_timer = self.set_interval(interval, self.poll_files)
            else:
                self._watch_timer.resume()
            bar.set(watching=WATCH_LABEL)
            self.notify(f"Watching: the check re-runs when you save (polling every {interval:g} s).")
        else:
            if self._watch_timer is not None:
                self._watch_timer.pause()
            self._queued = False
            bar.set(watching="")
            self.notify("Stopped watching.")

    def _watched_files(self) -> list[Path]:
        lesson = self.lesson
        if lesson is None:
            return []
        return [self.tutor.workspace.exercise_path(lesson, name) for name in lesson.exercise.files]

    def poll_files(self) -> None:
        """Timer tick: after a save and a quiet debounce, check (or queue one re-run)."""
        if not self.watching or not self.watcher.poll() or self.lesson is None:
            return
        if self.run is not None:
            self._queued = True  # every save during a run becomes one re-run after it
            self.notify("Saved: the check runs again when this one ends.")
        else:
            self.start_check(reason="started because you saved")

    # -- edit -------------------------------------------------------------------------
    def action_edit(self) -> None:
        lesson = self.lesson
        if lesson is None:
            self.notify("This day's lesson is not written yet: nothing to edit.", severity="warning")
            return
        path = self.tutor.exercise_path(lesson)
        if not path.exists():
            self.app.push_screen(MessageDialog("The exercise file is missing",
                                               f"{path} is not there. Press {key('reset')} to restore the starter."))
            return
        if edit_file(self.app, path, self.app.edit_cmd):  # type: ignore[attr-defined]
            self.refresh_day()
            if not self.watching:
                self.notify(f"Back from the editor: {key('check')} checks your file.")

    # -- hints, solution, reset -------------------------------------------------------
    def action_hint(self) -> None:
        lesson = self.lesson
        if lesson is None:
            return
        total = sum(len(t.hints) for t in lesson.exercise.tasks)
        if not total:
            self.app.push_screen(MessageDialog("No hints", f"{lesson.id} has no hints."))
            return
        try:
            hint = self.tutor.next_hint(lesson)
        except StoreError as exc:
            self.app.push_screen(MessageDialog("Progress store", str(exc)))
            return
        if hint is None:
            self.app.push_screen(MessageDialog(
                "No more hints", f"You have seen all {total} hints for {lesson.id}; they are listed under "
                f"the exercise in the lesson pane. {key('solution')} shows the reference solution."))
            return
        task = lesson.exercise.task(hint.task)
        self.app.push_screen(MessageDialog(
            f"Hint {hint.index + 1} of {hint.total} · {task.title if task else hint.task}", hint.text))
        self.refresh_day()

    def action_solution(self) -> None:
        lesson = self.lesson
        if lesson is None:
            return
        try:
            files = self.tutor.solution(lesson)
        except SolutionLocked:
            def answered(yes: bool | None) -> None:
                if yes:
                    self._show_solution(lesson, force=True)

            self.app.push_screen(ConfirmDialog(
                "Show the solution?",
                f"You have not passed {lesson.id} yet. The solution opens by itself after your first pass; "
                "a hint (h) teaches more. Show it anyway?", yes="Show it", no="Not yet"), answered)
            return
        except OSError as exc:
            self.app.push_screen(MessageDialog("No solution", str(exc)))
            return
        from tutor.app.dialogs.solution import SolutionDialog

        self.app.push_screen(SolutionDialog(lesson.id, files))

    def _show_solution(self, lesson: Lesson, force: bool) -> None:
        try:
            files = self.tutor.solution(lesson, force=force)
        except (OSError, SolutionLocked) as exc:
            self.app.push_screen(MessageDialog("No solution", str(exc)))
            return
        from tutor.app.dialogs.solution import SolutionDialog

        self.app.push_screen(SolutionDialog(lesson.id, files, note="Peeked before a pass."))

    def action_reset(self) -> None:
        lesson = self.lesson
        if lesson is None:
            return
        if self.run is not None and self.run_day == lesson.id:
            self.notify("A check of this day is running; cancel it (x) before resetting.", severity="warning")
            return
        folder = short_path(self.tutor.workspace.lesson_dir(lesson))

        def answered(yes: bool | None) -> None:
            if not yes:
                self.notify("Reset cancelled; your files are untouched.")
                return
            try:
                backup = self.tutor.reset(lesson)
            except OSError as exc:
                self.app.push_screen(MessageDialog("Reset failed", str(exc)))
                return
            if self.watching:
                self.watcher.reset()
            kept = f" Your files were kept in {short_path(backup)}." if backup else ""
            self.notify(f"{lesson.id} is back to the starter.{kept}", timeout=10)
            self.refresh_day()

        self.app.push_screen(ConfirmDialog(
            f"Reset {lesson.id}?",
            f"This puts the starter files back in {folder}. Your current files are copied to a backup "
            "folder first (.dltutor/backups/), so nothing is lost.", yes="Reset", no="Keep my files"), answered)

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

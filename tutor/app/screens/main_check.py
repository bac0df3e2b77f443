"""The main screen's check actions: run, stream, record, cancel (a mixin of MainScreen).

Checks run in a thread worker (workers.run_check) that iterates CheckRun.events() and posts
messages back here; the worker never touches a widget.
"""

from __future__ import annotations

from functools import partial

from tutor.app.messages import CheckEvent, CheckRecorded
from tutor.app.widgets.check_panel import CheckPanel
from tutor.app.widgets.top_bar import TopBar
from tutor.app.workers import run_check

class CheckActions:
    """c, x/Esc/Ctrl-C, and what a run's messages do to the panes."""

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
        if self.filewatch is not None:
            self.filewatch.stop()
        self.tutor.close()  # no warm check process outlives the TUI

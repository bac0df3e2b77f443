"""The main screen's watch mode: re-check on every save (a mixin of MainScreen).

tutor.filewatch reports saves (inotify, or polling where change events do not arrive) from
its own thread; saves during a run are coalesced into one re-run after it.
"""

from __future__ import annotations

from pathlib import Path

from tutor.app.widgets.top_bar import TopBar
from tutor.filewatch import FileWatch

WATCH_LABEL = "◉ watching"

class WatchActions:
    """w, and the save poll."""

    # -- watch ------------------------------------------------------------------------
    def action_watch(self) -> None:
        self.set_watch(not self.watching)

    def set_watch(self, on: bool) -> None:
        self.watching = on
        bar = self.query_one(TopBar)
        if on:
            app = self.app
            self.filewatch = FileWatch(self._watched_files, lambda: app.call_from_thread(self.saved),
                                       debounce=app.watch_debounce,  # type: ignore[attr-defined]
                                       poll_interval=app.watch_interval).start()  # type: ignore[attr-defined]
            polling = self.filewatch.mode == "polling"
            bar.set(watching=WATCH_LABEL + (" (polling)" if polling else ""))
            how = f"polling every {app.watch_interval:g} s: {self.filewatch.reason}" if polling else "on each save"  # type: ignore[attr-defined]
            self.notify(f"Watching: the check re-runs when you save ({how}).")
        else:
            if self.filewatch is not None:
                self.filewatch.stop()
                self.filewatch = None
            self._queued = False
            bar.set(watching="")
            self.notify("Stopped watching.")

    def _watched_files(self) -> list[Path]:
        lesson = self.lesson
        if lesson is None:
            return []
        return self.tutor.exercise_files(lesson)

    def saved(self) -> None:
        """The learner saved (after the debounce): check now, or queue one re-run after the current one."""
        if not self.watching or self.lesson is None:
            return
        if self.run is not None:
            self._queued = True  # every save during a run becomes one re-run after it
            self.notify("Saved: the check runs again when this one ends.")
        else:
            self.start_check(reason="started because you saved")

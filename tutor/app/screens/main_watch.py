"""The main screen's watch mode: re-check on every save (a mixin of MainScreen).

It polls the exercise files in a timer (watcher.SaveWatcher), debounces, and coalesces
saves during a run into one re-run after it.
"""

from __future__ import annotations

from pathlib import Path

from tutor.app.widgets.top_bar import TopBar

WATCH_LABEL = "◉ watching (polling)"

class WatchActions:
    """w, and the save poll."""

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
        return self.tutor.exercise_files(lesson)

    def poll_files(self) -> None:
        """Timer tick: after a save and a quiet debounce, check (or queue one re-run)."""
        if not self.watching or not self.watcher.poll() or self.lesson is None:
            return
        if self.run is not None:
            self._queued = True  # every save during a run becomes one re-run after it
            self.notify("Saved: the check runs again when this one ends.")
        else:
            self.start_check(reason="started because you saved")

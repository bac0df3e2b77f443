"""The dltutor Textual app: holds the Tutor, the device choice and the editor override.

The main screen does the per-day work; progress and help are pushed on top. The app
never imports torch: checks run in child processes (tutor.runner) and the header's
device comes from a probe child process, asked in a thread after the first paint.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from textual.app import App

from tutor.app.commands import DayCommands
from tutor.app.keys import bindings
from tutor.app.screens.main import MainScreen
from tutor.session import Tutor

Probe = Callable[[], dict[str, Any]]


def _default_probe() -> dict[str, Any]:
    from tutor.system import probe_torch

    return probe_torch()


class DltutorApp(App[int]):
    """`dltutor start`. Everything is injectable for tests: the Tutor, the probe, the watch timing."""

    CSS_PATH = "tutor.tcss"
    TITLE = "dltutor"
    COMMANDS = App.COMMANDS | {DayCommands}
    BINDINGS = bindings("app")  # from the one key table, tutor/app/keys.py

    def __init__(self, tutor: Tutor | None = None, day: str | None = None, device: str = "auto",
                 edit_cmd: str | None = None, workspace: Path | None = None,
                 probe: Probe | None = _default_probe, watch_interval: float = 0.5,
                 watch_debounce: float = 0.15, warm: bool = True) -> None:
        super().__init__()
        self.tutor = tutor or Tutor(workspace)
        self.start_day = self.tutor.entry_key(day) if day else None
        self.device = device or "auto"
        self.edit_cmd = edit_cmd
        self.probe = probe
        self.watch_interval = watch_interval
        self.watch_debounce = watch_debounce
        self.warm = warm  # keep a check process ready (tutor.warm); --no-warm turns it off

    def get_default_screen(self) -> MainScreen:
        return MainScreen(self.start_day)

    @property
    def main(self) -> MainScreen:
        return self.screen_stack[0]  # type: ignore[return-value]

    def open_day(self, day: str) -> None:
        """Show a day on the main screen (from the palette or the progress table)."""
        while len(self.screen_stack) > 1 and not self.screen.is_modal:
            self.pop_screen()
        self.main.open_day(day)

    def action_progress(self) -> None:
        from tutor.app.screens.progress import ProgressScreen

        self.push_screen(ProgressScreen())

    def action_help(self) -> None:
        from tutor.app.screens.help import HelpScreen

        self.push_screen(HelpScreen())

    def action_interrupt(self) -> None:
        """Ctrl-C: cancel a running check, as in a shell; otherwise say how to quit."""
        if self.main.run is not None:
            self.main.action_cancel()
        else:
            self.notify("No check is running. Press q to quit.")

    async def action_quit(self) -> None:
        """Quit; a running check is cancelled first (its process group is killed)."""
        self.main.cancel_run()
        self.exit(0)

"""One line at the top: the app, the day, the device checks will use, the workspace, watch state."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Static


class TopBar(Horizontal):
    """Left: dltutor · day · device · workspace. Right: the watch state."""

    def __init__(self, workspace: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self.workspace = workspace
        self.day = ""
        self.device = "device: probing…"
        self.watching = ""

    def compose(self) -> ComposeResult:
        yield Static(id="bar-left")
        yield Static(id="bar-right")

    def on_mount(self) -> None:
        self._draw()

    def set(self, day: str | None = None, device: str | None = None, watching: str | None = None) -> None:
        if day is not None:
            self.day = day
        if device is not None:
            self.device = device
        if watching is not None:
            self.watching = watching
        self._draw()

    def _draw(self) -> None:
        left = Text(no_wrap=True, overflow="ellipsis")
        left.append("dltutor", style="bold")
        for part in (self.day, self.device, self.workspace):
            if part:
                left.append(" │ ", style="dim")
                left.append(part)
        self.query_one("#bar-left", Static).update(left)
        right = self.query_one("#bar-right", Static)
        right.update(Text(self.watching, style="bold") if self.watching else "")
        right.display = bool(self.watching)

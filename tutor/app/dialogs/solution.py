"""The reference solution, file by file, highlighted; Esc closes."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static


class SolutionDialog(ModalScreen[None]):
    """Shows {file name: source} read from the course's solutions folder."""

    BINDINGS = [Binding("escape", "close", "Close"), Binding("q", "close", "Close", show=False)]

    def __init__(self, day: str, files: dict[str, str], note: str = "") -> None:
        super().__init__()
        self.day, self.files, self.note = day, files, note

    def compose(self) -> ComposeResult:
        from rich.syntax import Syntax  # pygments: loaded only when a solution is shown

        theme = "ansi_dark"
        with Vertical(classes="dialog -wide -tall"):
            yield Static(f"Reference solution · {self.day}", classes="dialog-title")
            if self.note:
                yield Static(self.note, classes="dialog-help", markup=False)
            with VerticalScroll(classes="dialog-scroll", id="solution-scroll"):
                for name, source in self.files.items():
                    yield Static(f"── {name}", classes="dialog-file", markup=False)
                    yield Static(Syntax(source, "python", theme=theme, line_numbers=True, word_wrap=True))
            yield Static("Esc closes · arrows/PgUp/PgDn scroll", classes="dialog-help")

    def on_mount(self) -> None:
        self.query_one("#solution-scroll").focus()

    def action_close(self) -> None:
        self.dismiss(None)

"""Every key, in one table; Esc, ? or q closes it."""

from __future__ import annotations

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from tutor.app.keys import help_rows

KEYS = help_rows()  # from the one key table, tutor/app/keys.py

MARKS = "Marks: ✓ passed   ✗ failing   · not started   – not written yet   ○ reading   ! broken"


class HelpScreen(ModalScreen[None]):
    """The keys of the TUI."""

    BINDINGS = [
        Binding("escape", "close", "Close"),
        Binding("question_mark", "close", "Close", show=False),
        Binding("q", "close", "Close", show=False),
    ]

    def compose(self) -> ComposeResult:
        table = Table(show_header=False, box=None, padding=(0, 1), expand=True)
        table.add_column("key", style="bold", no_wrap=True)
        table.add_column("what")
        for key, what in KEYS:
            table.add_row(key, what)
        with Vertical(classes="dialog -wide -tall"):
            yield Static("dltutor · keys", classes="dialog-title")
            with VerticalScroll(classes="dialog-scroll", id="help-scroll"):
                yield Static(table, id="help-keys")
                yield Static("\n" + MARKS, markup=False)
            yield Static("Esc, ? or q closes", classes="dialog-help")

    def on_mount(self) -> None:
        self.query_one("#help-scroll").focus()

    def action_close(self) -> None:
        self.dismiss(None)

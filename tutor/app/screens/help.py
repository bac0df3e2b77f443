"""Every key, in one table; Esc, ? or q closes it."""

from __future__ import annotations

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

KEYS: list[tuple[str, str]] = [
    ("c", "check the exercise: named checks appear live with ✓/✗, then a verdict"),
    ("x / Esc / ctrl+c", "cancel a running check (its whole process group is stopped)"),
    ("e", "edit the exercise file in $VISUAL / $EDITOR (--edit-cmd overrides)"),
    ("w", "watch: re-run the check whenever you save the file (polling)"),
    ("h", "the next hint (hints are recorded in your progress)"),
    ("s", "the reference solution (asks first until you have passed)"),
    ("r", "reset the exercise to the starter (your files are backed up first)"),
    ("n", "go to the next day to do (the first one not passed)"),
    ("v", "switch between the lesson and the check pane (stacked when tall)"),
    ("t", "hide or show the course tree"),
    ("Enter", "in the tree: open the day (or fold a week)"),
    ("↑ ↓ PgUp PgDn", "move in the tree, scroll the lesson or check pane"),
    ("Tab / Shift+Tab", "move between tree, lesson and check pane"),
    ("p", "progress: weeks, passed days, attempts, streak, time, best metrics"),
    ("ctrl+p", "command palette: type a day or words (\"batch norm\") to jump there"),
    ("?", "this help"),
    ("q", "quit (a running check is cancelled)"),
]

MARKS = "Marks: ✓ passed   ✗ failing   · not started   – not written yet"


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

"""The progress screen: per-week bars, totals, streak, and one row per written day."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from tutor.app.format import ago, day_mark, duration
from tutor.session import Tutor

BAR_WIDTH = 14


def week_bar(passed: int, written: int, total: int, width: int = BAR_WIDTH) -> str:
    """█ passed, ░ written but not passed, space for days not written yet."""
    if total <= 0:
        return ""
    p = round(width * passed / total)
    w = max(p, round(width * written / total))
    return "█" * p + "░" * (w - p) + " " * (width - w)


def _n(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def summary_text(tutor: Tutor, rows: list[dict[str, Any]]) -> Text:
    """Totals and the per-week bars."""
    passed = sum(r["status"] == "passed" for r in rows)
    attempts = sum(r["attempts"] for r in rows)
    seconds = sum(r["seconds"] for r in rows)
    hints = sum(r["hints"] for r in rows)
    streak = tutor.store.streak()
    total_days = len(tutor.course.days)
    text = Text()
    text.append("Progress\n", style="bold underline")
    text.append(f"{passed} of {total_days} days passed", style="bold")
    text.append(f" ({len(rows)} written) · {_n(attempts, 'attempt')} · {_n(hints, 'hint')} · "
                f"{duration(seconds)} checking · streak {_n(streak, 'day')}\n\n")
    status = {r["day"]: r["status"] for r in rows}
    for week in tutor.course.weeks:
        n_pass = sum(status.get(d.id) == "passed" for d in week.days)
        n_written = sum(d.lesson is not None for d in week.days)
        text.append(f"Week {week.number:<2} ", style="bold")
        text.append(f"[{week_bar(n_pass, n_written, len(week.days))}] ")
        text.append(f"{n_pass}/{len(week.days)} ")
        text.append(week.title + "\n", style="dim")
    text.append("█ passed  ░ written, not passed yet  (blank: not written yet)", style="dim")
    return text


class ProgressScreen(Screen[None]):
    """Opened with p; Esc or p goes back."""

    BINDINGS = [
        Binding("escape", "close", "Back"),
        Binding("p", "close", "Back", show=False),
    ]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="progress-scroll"):
            yield Static(id="progress-summary")
            yield DataTable(id="progress-table", zebra_stripes=True, cursor_type="row")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        tutor: Tutor = self.app.tutor  # type: ignore[attr-defined]
        rows = tutor.progress_rows()
        summary = tutor.progress()
        self.query_one("#progress-summary", Static).update(summary_text(tutor, rows))
        table = self.query_one(DataTable)
        table.add_columns("day", "title", "status", "tries", "hints", "time", "best", "last", "device", "host")
        for r in rows:
            mark, style = day_mark(r["status"])
            best = ", ".join(f"{k} {v:.3g}" for k, v in (r["best_metrics"] or {}).items())
            last = r["last_verdict"] or ""
            p = summary.get(r["day"])
            if last and p is not None and p.last:
                last = f"{last}, {ago(p.last['ended'])}"
            cells = [r["day"], r["title"], Text(f"{mark} {r['status']}", style=style), str(r["attempts"]),
                     str(r["hints"]), duration(r["seconds"]) if r["seconds"] else "", best, last,
                     r["last_device"] or "", r["last_host"] or ""]
            # Text, not str: a DataTable reads a str as console markup
            table.add_row(*(c if isinstance(c, Text) else Text(c) for c in cells), key=r["day"])
        table.focus()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        """Enter on a row opens that day."""
        day = event.row_key.value
        self.dismiss(None)
        if day:
            self.app.open_day(day)  # type: ignore[attr-defined]

    def action_close(self) -> None:
        self.dismiss(None)

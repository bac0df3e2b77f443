"""The progress screen: per-week bars, totals, streak, and one row per written day."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from tutor.app.format import ago, day_mark
from tutor.present import duration
from tutor.render import best_metric
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
    streak = tutor.streak()
    outline = tutor.outline
    lessons = [e for e in outline.entries if e.kind != "reading"]
    text = Text()
    text.append(f"Progress · {outline.name}\n", style="bold underline")
    text.append(f"{passed} of {len(lessons)} lessons passed", style="bold")
    text.append(f" ({len(rows)} written) · {_n(attempts, 'attempt')} · {_n(hints, 'hint')} · "
                f"{duration(seconds)} checking · streak {_n(streak, 'day')}\n\n")
    status = {r["lesson"]: r["status"] for r in rows}
    for group in outline.groups:
        entries = [e for e in group.entries if e.kind != "reading"]
        n_pass = sum(status.get(e.slug or "") == "passed" for e in entries)
        n_written = sum(e.lesson is not None for e in entries)
        text.append(f"{group.label:<9} ", style="bold")
        text.append(f"[{week_bar(n_pass, n_written, len(entries))}] ")
        text.append(f"{n_pass}/{len(entries)} ")
        text.append(group.title + "\n", style="dim")
    text.append("█ passed  ░ written, not passed yet  (blank: not written yet)", style="dim")
    return text


COLUMN_STEP = 12  # cells that ← and → scroll the table sideways


class ProgressTable(DataTable):
    """The rows. ←/→ scroll the columns sideways, Home/End go to the first/last row and the
    left edge; the screen's scroll follows the cursor (see ProgressScreen)."""

    BINDINGS = [
        Binding("right", "cursor_right", "Columns", key_display="←→"),
        Binding("left", "cursor_left", "Columns ←", show=False),
        Binding("home", "first_row", "Top", show=False),
        Binding("end", "last_row", "Bottom", show=False),
    ]

    def action_cursor_right(self) -> None:
        self.scroll_to(x=min(self.max_scroll_x, self.scroll_x + COLUMN_STEP), animate=False)

    def action_cursor_left(self) -> None:
        self.scroll_to(x=max(0, self.scroll_x - COLUMN_STEP), animate=False)

    def action_first_row(self) -> None:
        self.move_cursor(row=0, animate=False)
        self.scroll_to(x=0, y=0, animate=False)
        self.screen.query_one("#progress-scroll", VerticalScroll).scroll_home(animate=False)

    def action_last_row(self) -> None:
        self.move_cursor(row=max(0, self.row_count - 1), animate=False)
        self.scroll_to(x=0, animate=False)


class ProgressScreen(Screen[None]):
    """Opened with p; Esc or p goes back. Opens at the top: the heading and the first weeks."""

    BINDINGS = [
        Binding("escape", "close", "Back"),
        Binding("p", "close", "Back", show=False),
    ]

    def compose(self) -> ComposeResult:
        self._settled = False
        with VerticalScroll(id="progress-scroll"):
            yield Static(id="progress-summary")
            yield ProgressTable(id="progress-table", zebra_stripes=True, cursor_type="row")
        yield Footer(compact=True)

    def _settle(self) -> None:
        """After the first layout: back to the top, which focusing the table had scrolled away."""
        self.query_one("#progress-scroll", VerticalScroll).scroll_home(animate=False)
        self._settled = True

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        """Moving the cursor brings the whole table (at most a screen tall) into view."""
        if self._settled and event.cursor_row > 0:
            self.query_one("#progress-scroll", VerticalScroll).scroll_end(animate=False)

    def on_mount(self) -> None:
        tutor: Tutor = self.app.tutor  # type: ignore[attr-defined]
        rows = tutor.progress_rows()
        summary = tutor.progress()
        self.query_one("#progress-summary", Static).update(summary_text(tutor, rows))
        table = self.query_one(DataTable)
        table.add_columns("where", "title", "status", "tries", "hints", "time", "best", "last", "best pass on",
                          "hosts")
        for r in rows:
            mark, style = day_mark(r["status"])
            best = best_metric(r["best_metrics"] or {})
            last = r["last_verdict"] or ""
            p = summary.get(r["lesson"])
            if last and p is not None and p.last:
                last = f"{last}, {ago(p.last['ended'])}"
            cells = [r["position"], r["title"], Text(f"{mark} {r['status']}", style=style), str(r["attempts"]),
                     str(r["hints"]), duration(r["seconds"]) if r["seconds"] else "", best, last,
                     r["best_device"] or r["last_device"] or "", ", ".join(r["hosts"])]
            # Text, not str: a DataTable reads a str as console markup
            table.add_row(*(c if isinstance(c, Text) else Text(c) for c in cells), key=r["lesson"])
        table.focus()
        self.call_after_refresh(self._settle)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        """Enter on a row opens that lesson."""
        slug = event.row_key.value
        self.dismiss(None)
        entries = self.app.tutor.outline.entries_for(slug) if slug else []  # type: ignore[attr-defined]
        if entries:
            self.app.open_day(entries[0].key)  # type: ignore[attr-defined]

    def action_close(self) -> None:
        self.dismiss(None)

"""The check pane: a verdict banner, live ✓/✗ lines, the loss curve, the learner's output.

It is fed on the UI thread by the main screen, one event at a time (see tutor.events);
it never runs anything itself.
"""

from __future__ import annotations

import time
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Log, Static

from tutor.app.keys import BY_ACTION, key
from tutor.app.format import ago, check_row, marks_table
from tutor.present import duration, metric_text, verdict
from tutor import events
from tutor.run_state import RunState
from tutor.runner import VERDICT_FAILED, VERDICT_PASSED, memory_note


def output_gap(dropped: int, lines: int) -> str:
    """'4.3 MiB (396,512 lines) not kept'."""
    from tutor.render import byte_size

    return f"{byte_size(dropped)} ({lines:,} lines) not kept"

SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
CURVE_EVERY_S = 0.3  # redraw the curve at most this often while points stream in
VERDICT_CLASSES = ("-idle", "-running", "-passed", "-failed", "-cancelled")


class CheckPanel(VerticalScroll):
    """What the last (or the running) check said."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.border_title = "Check"
        self.running = False
        self.day = ""
        self.device_name = ""
        self.state = RunState()  # the one reducer of the event stream (tutor.run_state)
        self._curve_drawn = 0.0
        self._curve_timer = None
        self._started = 0.0
        self._tick = 0
        self._ticker = None
        self._note = ""

    def compose(self) -> ComposeResult:
        yield Static(id="verdict", classes="-idle")
        yield Static(id="check-lines")
        yield Static(id="curve")
        yield Static(id="heatmaps")
        yield Static("Your output", id="output-label")
        yield Log(id="output", max_lines=None)  # at most 64 KiB come: the runner keeps head and tail

    def on_mount(self) -> None:
        self._show_output(False)
        self.query_one("#curve").display = False
        self.query_one("#heatmaps").display = False

    # -- idle: what the last attempt said ---------------------------------------------
    def show_idle(self, day: str, attempt: dict[str, Any] | None, written: bool = True) -> None:
        """Before any run in this session: the last recorded attempt for the day, if any."""
        if self.running:
            return
        self.day = day
        self.state = RunState()
        self.query_one("#curve").display = False
        self.query_one("#heatmaps").display = False
        self._show_output(False)
        self.query_one("#output", Log).clear()
        lines = self.query_one("#check-lines", Static)
        if not written:
            self._banner("-idle", Text("No check: this lesson is not written yet.", style="italic"))
            lines.update("")
            return
        if attempt is None:
            self._banner("-idle", Text.assemble(("Not checked yet. ", "bold"),
                                                f"Press {key('check')} to run the check; {key('watch')} re-runs it on every save."))
            lines.update("")
            return
        word, mark, _, css = verdict(attempt["verdict"])
        banner = Text.assemble((f"{mark} {word}", "bold"), f" · last check {ago(attempt['ended'])}",
                               f" · {attempt['passed']} of {attempt['total']} passed")
        if attempt.get("device"):
            banner.append(f" · {attempt['device']}", style="dim")
        banner.append(f"\n{key('check')} checks again", style="dim")
        self._banner(css, banner)
        table = marks_table()
        for chk in attempt.get("checks", []):
            check_row(table, chk["name"], chk["status"], chk.get("message") or "")
        lines.update(table)

    # -- a live run -------------------------------------------------------------------
    def begin(self, day: str, reason: str = "") -> None:
        """Clear and show 'running' for a new run of `day`."""
        self.running = True
        self.day = day
        self.state = RunState()
        self.query_one("#output-label", Static).update("Your output")
        self._note = reason
        self._started = time.monotonic()
        self.query_one("#check-lines", Static).update(Text("starting the check process…", style="dim"))
        self.query_one("#curve", Static).display = False
        self.query_one("#heatmaps", Static).display = False
        self.query_one("#output", Log).clear()
        self._show_output(False)
        self._draw_running()
        if self._ticker is None:
            self._ticker = self.set_interval(0.25, self._draw_running)
        else:
            self._ticker.resume()
        self.scroll_home(animate=False)

    def apply(self, event: dict[str, Any]) -> None:
        """One event from the run: fold it into the state, then redraw what it changed."""
        self.state.apply(event)
        kind = event.get("event")
        if kind in (events.STARTED, events.CHECK_STARTED, events.CHECK, events.METRIC, events.ERROR):
            self.device_name = self.state.device_name or self.device_name
            self._draw_lines()
        elif kind == events.CURVE:
            self._schedule_curve()
        elif kind == events.HEATMAP:
            self._draw_heatmaps()
        elif kind == events.OUTPUT:
            self._show_output(True)
            log = self.query_one("#output", Log)
            if event.get("tail"):  # the end of a long output; what came between was not kept
                gap = output_gap(self.state.output_dropped, self.state.output_dropped_lines)
                log.write(f"\n… {gap} …\n")
                self.query_one("#output-label", Static).update(
                    f"Your output: its first and last 32 KiB ({gap} between them)")
            log.write(event.get("text", ""))
        elif kind == events.FINISHED:
            self.finish(self.state.final or {})
        self._draw_running()

    def finish(self, result: dict[str, Any]) -> None:
        """The final verdict banner."""
        self.running = False
        if self._ticker is not None:
            self._ticker.pause()
        self.state.current = ""
        self._draw_lines()
        self._draw_curve()
        outcome = result.get("verdict", "error")
        word, mark, _, css = verdict(outcome)
        checks = result.get("checks", [])
        passed = sum(c.get("status") == "passed" for c in checks)
        total = result.get("total") or len(checks)
        pending = sum(c.get("status") == "not_implemented" for c in checks)
        banner = Text()
        banner.append(f"{mark} {word}", style="bold")
        banner.append(f" · {passed} of {total} checks passed")
        if pending:
            banner.append(f" · {pending} not implemented yet")
        banner.append(f" · {duration(float(result.get('duration') or 0.0))}", style="dim")
        memory = memory_note(float(result.get("peak_mib") or 0.0), float(result.get("gpu_peak_mib") or 0.0),
                             result.get("max_memory_mib"))
        if memory:
            banner.append(f" · {memory}", style="dim")
        message = result.get("message") or ""
        if outcome not in (VERDICT_PASSED, VERDICT_FAILED) and message:  # a failed run's message only counts the checks
            banner.append("\n" + message.strip().splitlines()[0])  # the whole text is in the lines below
        if outcome == VERDICT_PASSED:
            banner.append(f"\nWell done. {key('solution')} shows the reference solution; {key('next_day')} goes to the next "
                          "lesson.", style="dim")
        self._banner(css, banner)

    def fail_to_run(self, message: str) -> None:
        """The run could not even start (the worker itself failed)."""
        self.running = False
        if self._ticker is not None:
            self._ticker.pause()
        self._banner("-failed", Text.assemble(("✗ ERROR", "bold"), " · the check could not run\n", message))

    # -- drawing ----------------------------------------------------------------------
    def _banner(self, css: str, text: Text) -> None:
        banner = self.query_one("#verdict", Static)
        banner.remove_class(*VERDICT_CLASSES)
        banner.add_class(css)
        banner.update(text)

    def _draw_running(self) -> None:
        if not self.running:
            return
        self._tick += 1
        done, total = self.state.counts()
        text = Text()
        text.append(f"{SPINNER[self._tick % len(SPINNER)]} RUNNING", style="bold")
        text.append(f" {self.day}")
        if total:
            text.append(f" · {done} of {total} checks done")
        text.append(f" · {duration(time.monotonic() - self._started)}", style="dim")
        if self.device_name:
            text.append(f" · {self.device_name}", style="dim")
        text.append(f"\n{BY_ACTION['cancel'].shown} or Ctrl-C cancels" + (f" · {self._note}" if self._note else ""), style="dim")
        self._banner("-running", text)

    def _draw_lines(self) -> None:
        table = marks_table()
        for row in self.state.rows():
            extra = Text("\n".join(metric_text(m) for m in row.metrics), style="cyan")
            check_row(table, row.name, row.status, row.message, extra or None)
        if self.state.error:
            table.add_row(Text("✗", style="bold red"), Text(self.state.error, style="red"))
        self.query_one("#check-lines", Static).update(table)

    def _schedule_curve(self) -> None:
        if self._curve_timer is not None:
            return
        wait = max(0.0, CURVE_EVERY_S - (time.monotonic() - self._curve_drawn))
        self._curve_timer = self.set_timer(wait, self._draw_curve)

    def _draw_curve(self) -> None:
        if self._curve_timer is not None:
            self._curve_timer.stop()
            self._curve_timer = None
        curves = {k: v for k, v in self.state.curves.items() if len(v) >= 2}
        widget = self.query_one("#curve", Static)
        if not curves:
            return
        from tutor.plotting import render_curves

        width = max(30, self.scrollable_content_region.width - 1)
        height = max(8, min(14, self.app.size.height // 2 - 2))
        chart = render_curves(curves, width=width, height=height, color=not self.app.no_color,
                              starts=self.state.curve_starts)
        widget.update(Text.from_ansi(chart))
        widget.display = True
        self._curve_drawn = time.monotonic()

    def _draw_heatmaps(self) -> None:
        from tutor.heatmap import heatmap_text

        widget = self.query_one("#heatmaps", Static)
        width = max(30, self.scrollable_content_region.width - 1)
        drawn = [heatmap_text(h, width) for h in self.state.heatmaps]
        widget.update(Text("\n\n").join(drawn))
        widget.display = bool(drawn)

    def _show_output(self, show: bool) -> None:
        self.query_one("#output-label").display = show
        self.query_one("#output").display = show

    @property
    def curves(self) -> dict[str, list[float]]:
        return self.state.curves

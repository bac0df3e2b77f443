"""One check run as the CLI shows it: live lines, output, curves, verdict, recording. Used by
`dltutor check` and `dltutor watch`."""

from __future__ import annotations

from typing import Any

from rich.markup import escape

from tutor.cli import err, out, print_json, usage_error
from tutor.course import Lesson


def run_and_report(tutor: Any, lesson: Lesson, *, seed: int = 0, device: str = "auto", timeout: float | None = None,
                   plot: bool = True, as_json: bool = False, hints: bool = True, **options: Any) -> int:
    """Run the lesson's check, print it, record the attempt; returns the exit code (0, 1, 130)."""
    from tutor import events
    from tutor.progress import StoreError
    from tutor.render import check_line, metric_line, output_panel, verdict_panel
    from tutor.runner import exit_code

    run = tutor.check_run(lesson, seed=seed, device=device, timeout=timeout, **options)
    if not as_json:
        err.print(f"[dim]checking {lesson.id} {lesson.title}: {tutor.lesson_dir(lesson)}[/]")
    try:
        for event in run.events():
            if as_json:
                continue
            kind = event["event"]
            if kind == events.STARTED:
                err.print(f"[dim]{len(event['checks'])} checks on {event['device_name']} (Ctrl-C stops)[/]")
            elif kind == events.CHECK:  # the lines are drawn from the run's state (tutor.run_state), like the TUI's
                out.print(check_line(run.state.outcomes[-1]))
            elif kind == events.METRIC:
                out.print(metric_line(run.state.metrics[-1]))
    except KeyboardInterrupt:  # the run was cancelled and finished as 'interrupted'
        err.print()  # the terminal echoed ^C: what follows starts on a line of its own
    result = run.result
    if result.reason == "device":
        usage_error(result.message)  # a device this machine lacks is not an attempt
    record_problem = ""
    try:
        tutor.record(result)
    except StoreError as exc:
        record_problem = str(exc)
    code = exit_code(result.verdict)
    if as_json:
        print_json({**result.to_dict(), "title": lesson.title, "exit_code": code,
                    "recorded": not record_problem, "record_error": record_problem or None})
        return code
    panel = output_panel(result)
    if panel is not None:
        out.print(panel)
    if plot and any(len(v) > 1 for v in result.curves.values()):
        from rich.text import Text

        from tutor.plotting import render_curves

        width = min(out.width, 100)
        out.print(Text.from_ansi(render_curves(result.curves, width, 15, "loss curves", color=not out.no_color,
                                               starts=result.curve_starts)))
    if plot:
        from tutor.heatmap import heatmap_text

        for heatmap in result.heatmaps:
            out.print(heatmap_text(heatmap, min(out.width, 100)))
    out.print(verdict_panel(result, lesson.title))
    if record_problem:
        err.print(f"[red]the check ran and {result.verdict.upper()}, but the attempt could not be recorded:[/] "
                  f"{escape(record_problem)}")
    elif hints and result.verdict == "passed":
        err.print(f"[dim]`dltutor solution {lesson.id}` shows the reference solution[/]")
    elif hints and result.verdict != "interrupted":
        err.print(f"[dim]stuck? `dltutor hint {lesson.id}`[/]")
    return code

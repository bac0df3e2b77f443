"""The `dltutor` command: thin. It parses, calls the core, prints.

Exit codes: 0 passed/ok, 1 a check failed, 2 usage error, 130 interrupted.
Data goes to stdout, messages to stderr. No torch and no Textual at import.
"""

from __future__ import annotations

import difflib
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Annotated, Any, NoReturn, Optional

import typer
from rich.console import Console

from tutor.course import CourseError, Lesson, UnknownDay, load_course, parse_day

app = typer.Typer(
    name="dltutor", help="A terminal tutor for a 50-day deep-learning course in PyTorch.",
    no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
out = Console(highlight=False)
err = Console(stderr=True, highlight=False, soft_wrap=True)

DayArg = Annotated[str, typer.Argument(help="day number or id: 13, day13")]
WorkspaceOpt = Annotated[Optional[Path], typer.Option("--workspace", "-W", envvar="DLTUTOR_HOME",
                                                      help="your workspace folder (default ~/dltutor)")]
DEVICE_PATTERN = re.compile(r"^(auto|cpu|mps|cuda(:\d+)?)$")


def _device(value: str) -> str:
    if not DEVICE_PATTERN.match(value):
        raise typer.BadParameter(f"{value!r} is not a device; use auto, cpu, cuda, cuda:N or mps")
    return value


DeviceOpt = Annotated[str, typer.Option("--device", envvar="DLTUTOR_DEVICE", callback=_device,
                                        help="auto (CUDA, then MPS, then CPU), cpu, cuda, cuda:1, mps")]
JsonOpt = Annotated[bool, typer.Option("--json", help="machine-readable output on stdout")]


def usage_error(message: str) -> NoReturn:
    err.print(f"[red]error:[/] {message}")
    raise typer.Exit(2)


def resolve_lesson(text: str) -> Lesson:
    """The lesson for a day argument, or exit 2 with a helpful message."""
    try:
        course = load_course()
    except CourseError as exc:
        err.print(f"[red]the course data is invalid:[/] {exc}")
        raise typer.Exit(1)
    try:
        return course.lesson(parse_day(text))
    except UnknownDay as exc:
        suggestion = ""
        if not any(ch.isdigit() for ch in text):
            found = course.search(text)
            written = [d for d in found if d.lesson]
            if written:
                suggestion = " — did you mean " + ", ".join(f"{d.id} ({d.title})" for d in written[:3]) + "?"
            elif found:
                suggestion = f" — {found[0].id} ({found[0].title}) matches, but it is not written yet"
            else:
                close = difflib.get_close_matches(text.lower(), [d.title.lower() for d in course.lessons], n=1)
                match = [d for d in course.lessons if close and d.title.lower() == close[0]]
                suggestion = f" — did you mean {match[0].id} ({match[0].title})?" if match else ""
        usage_error(f"{exc}{suggestion}")


def open_tutor(workspace: Optional[Path]):
    """The learner's session; says so on stderr when the workspace was just made."""
    from tutor.session import Tutor

    try:
        tutor = Tutor(workspace)
    except (OSError, RuntimeError) as exc:
        err.print(f"[red]cannot open your workspace:[/] {exc}")
        raise typer.Exit(1)
    if tutor.first_use:
        err.print(f"[dim]set up your workspace in {tutor.workspace.root} ({len(tutor.copied)} exercise files)[/]")
    if tutor.store.notice:
        err.print(f"[yellow]warning:[/] {tutor.store.notice}")
    return tutor


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


@app.command("list")
def list_days(workspace: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """The 50-day course by week, with your status for each written day."""
    from tutor.render import course_table

    tutor = open_tutor(workspace)
    summary = tutor.progress()
    statuses = {d.id: tutor.status(d, summary) for d in tutor.course.days}
    if as_json:
        print_json([{"day": d.id, "week": d.week, "title": d.title, "status": statuses[d.id]}
                    for d in tutor.course.days])
        return
    nxt = tutor.next_day()
    out.print(course_table(tutor.course, statuses, nxt.id if nxt else None))


@app.command()
def show(day: DayArg) -> None:
    """Print a day's lesson."""
    from tutor.render import show_lesson

    show_lesson(out, resolve_lesson(day))


@app.command()
def edit(day: DayArg, workspace: WorkspaceOpt = None,
         print_path: Annotated[bool, typer.Option("--print-path", help="print the file's path, open nothing")] = False,
         edit_cmd: Annotated[Optional[str], typer.Option("--edit-cmd", help="editor command, e.g. 'code --wait'")] = None) -> None:
    """Open a day's exercise file in $VISUAL / $EDITOR (or nano, vi)."""
    from tutor.editor import NoEditor, find_editor

    lesson = resolve_lesson(day)
    tutor = open_tutor(workspace)
    tutor.lesson(lesson.id)
    path = tutor.exercise_path(lesson)
    if print_path:
        out.print(str(path), soft_wrap=True)
        return
    try:
        editor = find_editor(edit_cmd)
    except NoEditor as exc:
        err.print(f"[red]{exc}[/]\nthe file is {path}")
        raise typer.Exit(1)
    subprocess.run(editor.for_file(path))


@app.command()
def check(
    day: DayArg, workspace: WorkspaceOpt = None, device: DeviceOpt = "auto", as_json: JsonOpt = False,
    seed: Annotated[int, typer.Option(help="seed for the check's data and initialisation")] = 0,
    timeout: Annotated[Optional[float], typer.Option(help="seconds before the check is stopped")] = None,
    plot: Annotated[bool, typer.Option("--plot/--no-plot", help="draw loss curves after the check")] = True,
) -> None:
    """Run a day's check on your exercise: a verdict and an exit code (0 passed, 1 failed)."""
    from tutor import events
    from tutor.render import check_line, metric_line, output_panel, verdict_panel
    from tutor.runner import exit_code

    lesson = resolve_lesson(day)
    if timeout is not None and timeout <= 0:
        usage_error("--timeout must be a positive number of seconds")
    tutor = open_tutor(workspace)
    run = tutor.check_run(lesson, seed=seed, device=device, timeout=timeout)
    if not as_json:
        err.print(f"[dim]checking {lesson.id} {lesson.title}: {tutor.workspace.day_dir(lesson)}[/]")
    try:
        for event in run.events():
            if as_json:
                continue
            kind = event["event"]
            if kind == events.STARTED:
                err.print(f"[dim]{len(event['checks'])} checks on {event['device_name']}[/]")
            elif kind == events.CHECK:
                out.print(check_line(event))
            elif kind == events.METRIC:
                out.print(metric_line(event))
    except KeyboardInterrupt:
        pass  # the run was cancelled and finished as 'interrupted'
    result = run.result
    tutor.record(result)
    if as_json:
        print_json({**result.to_dict(), "title": lesson.title, "exit_code": exit_code(result.verdict)})
        raise typer.Exit(exit_code(result.verdict))
    panel = output_panel(result)
    if panel is not None:
        out.print(panel)
    if plot and any(len(v) > 1 for v in result.curves.values()):
        from rich.text import Text

        from tutor.plotting import render_curves

        width = min(out.width, 100)
        out.print(Text.from_ansi(render_curves(result.curves, width, 15, "loss curves", color=not out.no_color)))
    out.print(verdict_panel(result, lesson.title))
    if result.verdict == "passed" and tutor.progress()[lesson.id].attempts >= 1:
        err.print(f"[dim]`dltutor solution {lesson.id}` shows the reference solution[/]")
    elif result.verdict != "interrupted":
        err.print(f"[dim]stuck? `dltutor hint {lesson.id}`[/]")
    raise typer.Exit(exit_code(result.verdict))


@app.command()
def hint(day: DayArg, workspace: WorkspaceOpt = None,
         shown: Annotated[bool, typer.Option("--shown", help="repeat the hints you have seen")] = False) -> None:
    """The next hint for a day, one at a time (remembered)."""
    lesson = resolve_lesson(day)
    tutor = open_tutor(workspace)
    seen = tutor.shown_hints(lesson)
    if shown:
        for i, text in enumerate(seen, 1):
            out.print(f"hint {i}/{len(lesson.exercise.hints)}: {text}")
        return
    nxt = tutor.next_hint(lesson)
    if nxt is None:
        err.print(f"all {len(lesson.exercise.hints)} hints of {lesson.id} are shown; `--shown` repeats them")
        return
    out.print(f"hint {nxt.index + 1}/{nxt.total}: {nxt.text}")


@app.command()
def solution(day: DayArg, workspace: WorkspaceOpt = None,
             force: Annotated[bool, typer.Option("--force", help="show it before you pass")] = False) -> None:
    """The reference solution, after your first pass (or with --force)."""
    from rich.syntax import Syntax

    from tutor.session import SolutionLocked

    lesson = resolve_lesson(day)
    tutor = open_tutor(workspace)
    try:
        files = tutor.solution(lesson, force=force)
    except SolutionLocked as exc:
        err.print(f"{exc}. Keep going (`dltutor hint {lesson.id}`), or use --force to look now.")
        raise typer.Exit(1)
    if force and not tutor.passed(lesson):
        err.print("[yellow]warning:[/] you have not passed this day yet; reading the solution first teaches less")
    for name, text in files.items():
        out.rule(name)
        out.print(Syntax(text, "python", line_numbers=True, theme="ansi_dark"))


@app.command()
def reset(day: DayArg, workspace: WorkspaceOpt = None,
          yes: Annotated[bool, typer.Option("--yes", "-y", help="do not ask")] = False) -> None:
    """Restore a day's starter files (your files are backed up first)."""
    lesson = resolve_lesson(day)
    tutor = open_tutor(workspace)
    if not yes:
        if not sys.stdin.isatty():
            err.print("reset needs confirmation: run it in a terminal, or pass --yes")
            raise typer.Exit(1)
        if not typer.confirm(f"Restore the starter of {lesson.id} in {tutor.workspace.day_dir(lesson)}?"):
            err.print("nothing changed")
            raise typer.Exit(1)
    backup = tutor.reset(lesson)
    err.print(f"restored the starter of {lesson.id}" + (f"; your files are in {backup}" if backup else ""))


@app.command()
def progress(workspace: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """Your progress by day: status, attempts, hints, best metric, time spent."""
    from tutor.render import progress_table

    tutor = open_tutor(workspace)
    rows = tutor.progress_rows()
    if as_json:
        print_json({"days": rows, "streak": tutor.store.streak()})
        return
    out.print(progress_table(rows, tutor.store.streak()))


@app.command()
def doctor(workspace: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """What this machine has: Python, torch, the device checks use, editor, workspace, terminal."""
    from tutor.editor import NoEditor, find_editor
    from tutor.system import probe_torch, terminal_facts
    from tutor.workspace import default_home

    facts: dict[str, Any] = {"python": sys.version.split()[0], "executable": sys.executable}
    facts["torch"] = probe_torch()
    try:
        facts["editor"] = " ".join(find_editor().argv)
    except NoEditor as exc:
        facts["editor"] = f"none ({exc})"
    facts["workspace"] = str((workspace or default_home()).expanduser())
    facts["course"] = str(load_course().root)
    facts["terminal"] = terminal_facts()
    if as_json:
        print_json(facts)
        return
    t = facts["torch"]
    torch_line = f"error: {t['error']}" if "error" in t else f"{t['torch']} (CUDA build {t['cuda_version'] or 'none'})"
    for key, value in [("python", f"{facts['python']} ({facts['executable']})"), ("torch", torch_line),
                       ("device", t.get("device_name", "?")), ("editor", facts["editor"]),
                       ("workspace", facts["workspace"]), ("course", facts["course"]),
                       ("terminal", ", ".join(f"{k}={v}" for k, v in facts["terminal"].items()))]:
        out.print(f"[bold]{key:>10}[/]  {value}")
    if "error" in t:
        raise typer.Exit(1)


@app.command()
def verify(days: Annotated[Optional[list[str]], typer.Argument(help="days to verify (default: all)")] = None,
           seeds: Annotated[int, typer.Option(help="seeds the solution must pass under")] = 2,
           device: DeviceOpt = "cpu") -> None:
    """For course authors: every starter fails as 'not implemented', every solution passes."""
    from tutor.verify import verify_lesson

    lessons = [resolve_lesson(d) for d in days] if days else load_course().lessons
    course = load_course()
    bad = 0
    for lesson in lessons:
        report = verify_lesson(course, lesson, seeds, device, say=lambda s: err.print(f"[dim]{s}[/]"))
        mark = "[green]✓[/]" if report.ok else "[red]✗[/]"
        slowest = max(report.seconds, default=0.0)
        out.print(f"{mark} {lesson.id} {lesson.title} (solution ≤ {slowest:.1f} s of {lesson.check.timeout:g} s)")
        for problem in report.problems:
            out.print(f"    {problem}", markup=False)
        bad += not report.ok
    out.print(f"{len(lessons) - bad} passed, {bad} failed")
    raise typer.Exit(1 if bad else 0)


@app.command()
def init(directory: Annotated[Optional[Path], typer.Argument(help="where (default ~/dltutor)")] = None) -> None:
    """Create your workspace (and remember it as the default)."""
    from tutor.workspace import Workspace, default_home, remember

    root = (directory or default_home()).expanduser().resolve()
    copied = Workspace(root).init(load_course())
    if directory is not None:
        remember(root)
    err.print(f"workspace {root}: {len(copied)} new exercise file(s)")


@app.command()
def start(day: Annotated[Optional[str], typer.Argument(help="open on this day (default: your next one)")] = None,
          workspace: WorkspaceOpt = None, device: DeviceOpt = "auto",
          edit_cmd: Annotated[Optional[str], typer.Option("--edit-cmd", help="editor command")] = None) -> None:
    """Open the tutor: lessons, exercises, live checks, hints and progress."""
    if day is not None:
        day = resolve_lesson(day).id
    from tutor.app import run_app

    raise typer.Exit(run_app(workspace=workspace, day=day, device=device, edit_cmd=edit_cmd))


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(130)

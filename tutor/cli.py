"""The `dltutor` command: thin. It parses, calls the core, prints.

Exit codes: 0 passed/ok, 1 a check failed, 2 usage error, 130 interrupted.
Data goes to stdout, messages to stderr. No torch and no Textual at import.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Annotated, Any, NoReturn, Optional

import typer
from rich.console import Console
from rich.markup import escape

from tutor.course import CourseError, Lesson, UnknownLesson, load_course

app = typer.Typer(
    name="dltutor", help="A terminal tutor for a 50-day deep-learning course in PyTorch.",
    no_args_is_help=True, pretty_exceptions_enable=False, rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)
out = Console(highlight=False)
err = Console(stderr=True, highlight=False, soft_wrap=True)

def complete_lesson(incomplete: str) -> list[str]:
    """Shell completion: lesson names (and track names are completed by `track use`)."""
    try:
        return [slug for slug in load_course().lessons if slug.startswith(incomplete)]
    except CourseError:
        return []


LessonArg = Annotated[str, typer.Argument(help="a lesson: its number in your track (13), day13, or its name (batch-norm)",
                                          autocompletion=complete_lesson)]
WarmOpt = Annotated[bool, typer.Option("--warm/--no-warm", envvar="DLTUTOR_WARM",
                                       help="keep a check process ready, so a check starts at once")]
WorkspaceOpt = Annotated[Optional[Path], typer.Option("--workspace", "-W", envvar="DLTUTOR_HOME",
                                                      help="your workspace folder (default ~/dltutor)")]
TrackOpt = Annotated[Optional[str], typer.Option("--track", "-T", help="use this track for this command (see `dltutor tracks`)")]
DEVICE_PATTERN = re.compile(r"^(auto|cpu|mps|cuda(:\d+)?)$")


def _device(value: str) -> str:
    if not DEVICE_PATTERN.match(value):
        raise typer.BadParameter(f"{value!r} is not a device; use auto, cpu, cuda, cuda:N or mps")
    return value


DeviceOpt = Annotated[str, typer.Option("--device", envvar="DLTUTOR_DEVICE", callback=_device,
                                        help="auto (CUDA, then MPS, then CPU), cpu, cuda, cuda:1, mps")]
JsonOpt = Annotated[bool, typer.Option("--json", help="machine-readable output on stdout")]


def usage_error(message: str) -> NoReturn:
    err.print(f"[red]error:[/] {message}", markup=True, highlight=False)
    raise typer.Exit(2)


def course_error(exc: CourseError) -> NoReturn:
    err.print(f"[red]the course data is invalid:[/] {escape(str(exc))}")
    raise typer.Exit(2)


def open_tutor(workspace: Optional[Path], track: Optional[str] = None):
    """The learner's session; says on stderr what changed (new workspace, moved folders, store trouble)."""
    from tutor.progress import StoreError
    from tutor.session import Tutor

    try:
        tutor = Tutor(workspace, track=track)
    except CourseError as exc:
        course_error(exc)
    except UnknownLesson as exc:
        usage_error(str(exc))
    except StoreError as exc:
        err.print(f"[red]{escape(str(exc))}[/]")
        raise typer.Exit(1)
    except (OSError, RuntimeError) as exc:
        err.print(f"[red]cannot open your workspace:[/] {escape(str(exc))}")
        raise typer.Exit(1)
    if tutor.first_use:
        err.print(f"[dim]set up your workspace in {tutor.root} ({len(tutor.copied)} exercise files)[/]")
    for notice in tutor.notices:
        err.print(f"[yellow]note:[/] {escape(notice)}")
    return tutor


def resolve_lesson(tutor, text: str) -> Lesson:
    """The written lesson the learner's text names, or exit 2 with a helpful message."""
    try:
        return tutor.resolve(text)
    except UnknownLesson as exc:
        usage_error(str(exc))
    except CourseError as exc:
        course_error(exc)


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


@app.command("list")
def list_lessons(workspace: WorkspaceOpt = None, track: TrackOpt = None, as_json: JsonOpt = False) -> None:
    """The active track by week (or module), with your status for each lesson and its date."""
    from tutor.render import course_table, schedule_lines

    tutor = open_tutor(workspace, track)
    statuses = tutor.statuses()
    if as_json:
        print_json([{"n": e.n, "label": e.label, "lesson": e.slug, "title": e.title, "kind": e.kind,
                     "status": statuses[e.key], "date": e.date, "end": e.end} for e in tutor.outline.entries])
        return
    nxt = tutor.next_lesson()
    out.print(f"[bold]{tutor.outline.track.title}[/] [dim]({tutor.outline.name})[/]")
    out.print(course_table(tutor.outline, statuses, nxt.id if nxt else None))
    for line in schedule_lines(tutor.schedule()):
        out.print(line)
    for slug, problem in tutor.broken_lessons().items():
        err.print(f"[red]broken lesson {slug}:[/] {escape(problem)}")


@app.command()
def show(lesson: LessonArg, workspace: WorkspaceOpt = None, track: TrackOpt = None) -> None:
    """Print a lesson."""
    from tutor.render import show_lesson

    tutor = open_tutor(workspace, track)
    found = resolve_lesson(tutor, lesson)
    show_lesson(out, found, tutor.position(found), tutor.render)


@app.command()
def edit(lesson: LessonArg, workspace: WorkspaceOpt = None, track: TrackOpt = None,
         print_path: Annotated[bool, typer.Option("--print-path", help="print the file's path, open nothing")] = False,
         edit_cmd: Annotated[Optional[str], typer.Option("--edit-cmd", help="editor command, e.g. 'code --wait'")] = None) -> None:
    """Open a lesson's exercise file in $VISUAL / $EDITOR (or nano, vi)."""
    from tutor.editor import NoEditor, find_editor

    tutor = open_tutor(workspace, track)
    found = tutor.lesson(resolve_lesson(tutor, lesson).id)
    path = tutor.exercise_path(found)
    if print_path:
        out.print(str(path), soft_wrap=True)
        return
    try:
        editor = find_editor(edit_cmd)
    except NoEditor as exc:
        err.print(f"[red]{exc}[/]\nthe file is {path}")
        raise typer.Exit(1)
    try:
        code = subprocess.run(editor.for_file(path)).returncode
    except OSError as exc:
        err.print(f"[red]could not start your editor {' '.join(editor.argv)!r}:[/] {exc.strerror}\nthe file is {path}")
        raise typer.Exit(1)
    if code != 0:
        err.print(f"[red]your editor {' '.join(editor.argv)!r} exited with status {code}[/]\nthe file is {path}")
        raise typer.Exit(1)


@app.command()
def check(
    lesson: LessonArg, workspace: WorkspaceOpt = None, track: TrackOpt = None, device: DeviceOpt = "auto",
    as_json: JsonOpt = False,
    seed: Annotated[int, typer.Option(help="seed for the check's data and initialisation")] = 0,
    timeout: Annotated[Optional[float], typer.Option(help="seconds the checks may take once started")] = None,
    plot: Annotated[bool, typer.Option("--plot/--no-plot", help="draw loss curves and heatmaps after the check")] = True,
    max_memory: Annotated[Optional[float], typer.Option(
        "--max-memory", metavar="MIB", help="cap the check's memory (RLIMIT_DATA, MiB; torch itself needs ~300)")] = None,
) -> None:
    """Run a lesson's check on your exercise: a verdict and an exit code (0 passed, 1 failed)."""
    from tutor.cli_run import run_and_report

    if timeout is not None and timeout <= 0:
        usage_error("--timeout must be a positive number of seconds")
    if max_memory is not None and max_memory <= 0:
        usage_error("--max-memory must be a positive number of MiB")
    from tutor.warm import spawn

    early = spawn(device)  # it imports torch on the other core while we load the course and the lesson
    try:
        tutor = open_tutor(workspace, track)
        found = resolve_lesson(tutor, lesson)
    except BaseException:  # an unknown lesson, a bad track: the waiting process goes
        early.discard()
        raise
    raise typer.Exit(run_and_report(tutor, found, seed=seed, device=device, timeout=timeout, plot=plot,
                                    as_json=as_json, max_memory_mib=max_memory, spawned=early))


@app.command()
def hint(lesson: LessonArg, workspace: WorkspaceOpt = None, track: TrackOpt = None,
         task: Annotated[Optional[str], typer.Option("--task", help="the task's id (default: the first failing one)")] = None,
         shown: Annotated[bool, typer.Option("--shown", help="repeat the hints you have seen")] = False) -> None:
    """The next hint for a task of a lesson, one at a time (remembered)."""
    from tutor.progress import StoreError

    tutor = open_tutor(workspace, track)
    found = resolve_lesson(tutor, lesson)
    if shown:
        seen = tutor.shown_hints(found)
        if not seen:
            err.print(f"no hints of {found.id} shown yet; `dltutor hint {found.id}` shows the first")
        for h in seen:
            out.print(f"[{h.task}] hint {h.index + 1}/{h.total}: {h.text}", markup=False)
        return
    try:
        nxt = tutor.next_hint(found, task)
    except UnknownLesson as exc:
        usage_error(str(exc))
    except StoreError as exc:
        err.print(f"[red]{escape(str(exc))}[/]")
        raise typer.Exit(1)
    if nxt is None:
        which = task or tutor.hint_task(found)
        err.print(f"all hints of task {which!r} of {found.id} are shown; `--shown` repeats them, "
                  f"`--task NAME` picks another task")
        return
    out.print(f"[{nxt.task}] hint {nxt.index + 1}/{nxt.total}: {nxt.text}", markup=False)


@app.command()
def solution(lesson: LessonArg, workspace: WorkspaceOpt = None, track: TrackOpt = None,
             force: Annotated[bool, typer.Option("--force", help="show it before you pass")] = False,
             print_path: Annotated[bool, typer.Option("--print-path", help="print the files' paths only")] = False) -> None:
    """The reference solution, after your first pass (or with --force)."""
    from tutor.render import print_code
    from tutor.session import SolutionLocked

    tutor = open_tutor(workspace, track)
    found = resolve_lesson(tutor, lesson)
    try:
        files = tutor.solution(found, force=force)
    except SolutionLocked as exc:
        err.print(f"{exc}. Keep going (`dltutor hint {found.id}`), or use --force to look now.")
        raise typer.Exit(1)
    if force and not tutor.passed(found):
        err.print("[yellow]warning:[/] you have not passed this lesson yet; reading the solution first teaches less")
    if print_path:
        for path in tutor.solution_paths(found):
            out.print(str(path), soft_wrap=True)
        return
    for name, text in files.items():
        print_code(out, name, text)


@app.command()
def reset(lesson: LessonArg, workspace: WorkspaceOpt = None, track: TrackOpt = None,
          yes: Annotated[bool, typer.Option("--yes", "-y", help="do not ask")] = False) -> None:
    """Restore a lesson's starter files (your files are backed up first)."""
    tutor = open_tutor(workspace, track)
    found = resolve_lesson(tutor, lesson)
    if not yes:
        if not sys.stdin.isatty():
            err.print("reset needs confirmation: run it in a terminal, or pass --yes")
            raise typer.Exit(1)
        if not typer.confirm(f"Restore the starter of {found.id} in {tutor.lesson_dir(found)}?"):
            err.print("nothing changed")
            raise typer.Exit(1)
    backup = tutor.reset(found)
    err.print(f"restored the starter of {found.id}" + (f"; your files are in {backup}" if backup else ""))


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
    try:
        course = load_course()
        facts["course"] = str(course.root) + (f" ({len(course.broken)} broken lesson file(s))" if course.broken else "")
    except CourseError as exc:
        facts["course"] = f"invalid: {exc}"
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
def verify(lessons: Annotated[Optional[list[str]], typer.Argument(help="lessons to verify (default: all)")] = None,
           track: TrackOpt = None,
           seeds: Annotated[int, typer.Option(help="seeds the solution must pass under")] = 2,
           device: DeviceOpt = "cpu",
           jobs: Annotated[Optional[int], typer.Option("--jobs", "-j", min=1,
                                                       help="lessons at a time (default: the CPU cores)")] = None) -> None:
    """For course authors: every starter fails as 'not implemented', every solution passes, every
    mutant (mutants/<lesson>.yaml) fails with the message it names."""
    from rich.table import Table

    from tutor.verify import default_jobs, verify_many

    try:
        course = load_course()
    except CourseError as exc:
        course_error(exc)
    outline = course.outline(track) if track else None
    if lessons:
        view = outline or course.outline()
        chosen = []
        for text in lessons:
            try:
                found = course.find(text, view)
            except UnknownLesson as exc:
                usage_error(str(exc))
            except CourseError as exc:
                course_error(exc)
            if not isinstance(found, Lesson):
                usage_error(f"{text!r} names {found.title}, which is not written yet")
            chosen.append(found)
    else:
        chosen = outline.lessons if outline else list(course.lessons.values())
    for slug, problem in course.broken.items():
        out.print(f"[red]✗[/] {slug}: {escape(problem)}")
    bad = len(course.broken) if not lessons else 0
    jobs = jobs or default_jobs()
    reports = {}
    say = (lambda s: err.print(f"[dim]{escape(s)}[/]")) if jobs == 1 else (lambda s: None)
    for report in verify_many(course, chosen, seeds, device, jobs, say):
        reports[report.day] = report
        mark = "[green]✓[/]" if report.ok else "[red]✗[/]"
        err.print(f"[{len(reports)}/{len(chosen)}] {mark} {report.day} ({report.elapsed:.1f} s)")
    table = Table("lesson", "starter", "solution seeds", "mutants caught/named", "seconds", box=None)
    table.columns[0].no_wrap = True
    for lesson in chosen:
        r = reports[lesson.id]
        passed = sum(v == "passed" for v in r.solutions)
        slowest = max(r.seconds, default=0.0)
        table.add_row(f"{'[green]✓[/]' if r.ok else '[red]✗[/]'} {lesson.id}", r.starter,
                      f"{passed}/{len(r.solutions)} ≤{slowest:.0f}/{lesson.check.timeout:g} s",
                      f"{r.caught}/{r.named} of {r.mutants_total}", f"{r.elapsed:.0f}")
    out.print(table)
    for lesson in chosen:
        for problem in reports[lesson.id].problems:
            out.print(f"✗ {lesson.id}: {problem}", markup=False)
        bad += not reports[lesson.id].ok
    out.print(f"{len(chosen) - bad} passed, {bad} failed")
    raise typer.Exit(1 if bad else 0)


@app.command()
def init(directory: Annotated[Optional[Path], typer.Argument(
        help="where; without it: $DLTUTOR_HOME, else the folder remembered by an earlier init, else ~/dltutor")] = None) -> None:
    """Create your workspace (a folder given here is remembered as the default)."""
    from tutor.workspace import Workspace, default_home, remember

    try:
        course = load_course()
    except CourseError as exc:
        course_error(exc)
    root = (directory or default_home()).expanduser().resolve()
    workspace = Workspace(root)
    try:
        notices = workspace.migrate_day_folders() if root.is_dir() else []
        copied = workspace.init(course)
        if directory is not None:
            remember(root)
    except OSError as exc:
        err.print(f"[red]cannot make your workspace at {root}:[/] {exc.strerror}")
        raise typer.Exit(1)
    for notice in notices:
        err.print(f"[yellow]note:[/] {notice}")
    err.print(f"workspace {root}: {len(copied)} new exercise file(s)")


@app.command()
def start(lesson: Annotated[Optional[str], typer.Argument(help="open on this lesson or item (default: your next one)")] = None,
          workspace: WorkspaceOpt = None, track: TrackOpt = None, device: DeviceOpt = "auto",
          edit_cmd: Annotated[Optional[str], typer.Option("--edit-cmd", help="editor command")] = None,
          warm: WarmOpt = True) -> None:
    """Open the tutor: lessons, exercises, live checks, hints and progress."""
    key = None
    tutor = open_tutor(workspace, track)
    if lesson is not None:
        try:
            key = tutor.entry_key(lesson)
        except UnknownLesson as exc:
            usage_error(str(exc))
        except CourseError as exc:
            course_error(exc)
    from tutor.app import run_app

    raise typer.Exit(run_app(workspace=workspace, day=key, device=device, edit_cmd=edit_cmd, track=track, warm=warm))


from tutor import cli_progress, cli_tracks, cli_watch  # noqa: E402,F401 (register progress, sync, tracks, track, today, watch)


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            out.print(f"dltutor {version('dltutor')}")
        except PackageNotFoundError:
            out.print("dltutor (not installed)")
        raise typer.Exit()


@app.callback()
def _options(version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                                   help="print the version and exit")] = False) -> None:
    """A terminal tutor for deep learning in PyTorch: lessons, your own editor, checks that name the mistake."""


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(130)

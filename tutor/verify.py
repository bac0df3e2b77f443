"""Course invariants for authors: every starter fails as 'not implemented', every solution passes,
and every shipped mutant (the solution with one classic mistake) fails with the message it names.

The front end is `dltutor verify [LESSON ...] --seeds N -j N`; the tests call `verify_lesson` directly.

Mutants live in `mutants/<slug>.yaml`, a list of::

    - name: unbiased-variance            # unique in the file
      file: batchnorm.py                 # optional when the exercise has one file
      replace:                           # each `old` occurs exactly once in the solution file
        - old: "x.var(dim=dims, unbiased=False)"
          new: "x.var(dim=dims, unbiased=True)"
      expect: "unbiased"                 # the first failing check's message contains this (any case)
      check: outputs-train               # optional: that first failing check's name
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

from tutor import events
from tutor.course import Course, CourseError, Lesson
from tutor.course_yaml import Fields, read_yaml
from tutor.forkserver import ForkServer
from tutor.runner import VERDICT_PASSED, CheckResult, CheckRun, RunRequest, RunResult

MUTANT_FIELDS = {"name", "file", "replace", "expect", "check"}
_ACTIVE: set[CheckRun] = set()  # runs in flight, so that Ctrl-C can stop every one of them
_ACTIVE_LOCK = threading.Lock()
_STOPPING = threading.Event()  # set by cancel_all(): no new run starts


class Stopped(Exception):
    """verify was interrupted; no further run starts."""


_FORK_SERVER: ForkServer | None = None
_FORK_LOCK = threading.Lock()


def _forked(device: str):
    """A check process forked from the fork server (CPU runs), or None: then the run spawns its own."""
    global _FORK_SERVER
    if device != "cpu" or os.environ.get("DLTUTOR_NO_FORKSERVER"):
        return None
    with _FORK_LOCK:
        if _FORK_SERVER is None:
            _FORK_SERVER = ForkServer("cpu")
            atexit.register(_FORK_SERVER.close)
        server = _FORK_SERVER
    return server.spawn()


def _run(request: RunRequest) -> RunResult:
    run = CheckRun(request, _forked(request.device))
    with _ACTIVE_LOCK:
        if _STOPPING.is_set():
            raise Stopped("verify was interrupted")
        _ACTIVE.add(run)
    try:
        return run.run()
    finally:
        with _ACTIVE_LOCK:
            _ACTIVE.discard(run)


def cancel_all() -> None:
    """Stop every check run that verify has in flight (each kills its own process group)."""
    with _ACTIVE_LOCK:
        _STOPPING.set()
        runs = list(_ACTIVE)
    for run in runs:
        run.cancel()


def default_jobs() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


@dataclass(frozen=True)
class Replacement:
    old: str
    new: str


@dataclass(frozen=True)
class Mutant:
    """The reference solution with one classic mistake, and the message it must produce."""

    name: str
    file: str
    replace: tuple[Replacement, ...]
    expect: str
    check: str | None = None

    def apply(self, text: str) -> str:
        for r in self.replace:
            text = text.replace(r.old, r.new, 1)
        return text


@dataclass
class MutantResult:
    name: str
    caught: bool  # the run did not pass
    named: bool  # ...and its first failing check says `expect` (and is `check` when given)
    verdict: str
    first: str = ""  # the first failing check's name ('' when none failed)
    message: str = ""  # its message, or the run's message when no check failed
    seconds: float = 0.0

    def problem(self, mutant: Mutant) -> str:
        """'' when the mutant was caught and named, else what went wrong."""
        if not self.caught:
            return f"mutant '{self.name}': not caught (the check passes with it)"
        if self.named:
            return ""
        wanted = f"check '{mutant.check}' with " if mutant.check else ""
        got = f"check '{self.first}'" if self.first else f"verdict {self.verdict}"
        return (f"mutant '{self.name}': caught but not named: expected {wanted}{mutant.expect!r}; "
                f"{got} said: {self.message[:300]}")


@dataclass
class LessonReport:
    """What verify found for one lesson; `problems` empty means it holds."""

    day: str
    problems: list[str] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)  # of each solution run
    starter: str = ""  # 'ok', or the starter's verdict when it broke the rule
    solutions: list[str] = field(default_factory=list)  # verdict per seed
    mutants: list[MutantResult] = field(default_factory=list)
    mutants_total: int = 0  # in the file (0 when it does not load)
    elapsed: float = 0.0  # wall seconds for the whole lesson

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def caught(self) -> int:
        return sum(m.caught for m in self.mutants)

    @property
    def named(self) -> int:
        return sum(m.named for m in self.mutants)


# -- mutants ------------------------------------------------------------------------------
def _mutant(f: Fields, lesson: Lesson, texts: dict[str, str | None]) -> Mutant:
    f.unknown(MUTANT_FIELDS)
    name = f.text("name")
    files = lesson.exercise.files
    if "file" in f.data:
        file = f.text("file")
        if file not in files:
            raise f.fail("file", f"mutant '{name}': file {file!r} is not an exercise file ({', '.join(files)})")
    elif len(files) == 1:
        file = files[0]
    else:
        raise f.fail(None, f"mutant '{name}': the exercise has {len(files)} files; say which with 'file:'")
    text = texts.get(file)
    if text is None:
        raise f.fail("file", f"mutant '{name}': solutions/{lesson.id}/{file} cannot be read")
    items = f.items("replace")
    if not items:
        raise f.fail("replace", f"mutant '{name}': 'replace' is empty")
    replacements = []
    for i, item in items:
        r = f.sub(item, f"replace[{i}].")
        r.unknown({"old", "new"})
        old, new = r.text("old"), r.get("new", str)
        if old == new:
            raise r.fail("new", f"mutant '{name}': replace[{i}] changes nothing (new == old)")
        count = text.count(old)
        if count != 1:
            where = "does not occur" if count == 0 else f"occurs {count} times"
            raise r.fail("old", f"mutant '{name}': replace[{i}].old {where} in solutions/{lesson.id}/{file} "
                                f"(it must occur exactly once): {old!r}")
        text = text.replace(old, new, 1)
        replacements.append(Replacement(old, new))
    check = f.get("check", str, None)
    return Mutant(name, file, tuple(replacements), f.text("expect"), check)


def load_mutants(course: Course, lesson: Lesson) -> list[Mutant]:
    """The lesson's mutants ([] when it ships none); CourseError naming the file, line and mutant."""
    path = course.mutants_file(lesson)
    if not path.is_file():
        return []
    where = f"mutants/{lesson.id}.yaml"
    data = read_yaml(path, where)
    if data is None:
        return []
    if not isinstance(data, list):
        raise CourseError(f"{where}: must be a list of mutants, got {type(data).__name__}")
    folder = course.solution_dir(lesson)
    texts: dict[str, str | None] = {}
    for name in lesson.exercise.files:
        try:
            texts[name] = (folder / name).read_text(encoding="utf-8")
        except OSError:
            texts[name] = None
    mutants: list[Mutant] = []
    lines: dict[str, int] = {}
    for i, item in enumerate(data):
        f = Fields(item, where, f"[{i}].")
        mutant = _mutant(f, lesson, texts)
        if mutant.name in lines:
            raise f.fail("name", f"mutant name '{mutant.name}' is used twice (first at line {lines[mutant.name]})")
        lines[mutant.name] = f.line
        mutants.append(mutant)
    return mutants


def first_failure(result: RunResult) -> CheckResult | None:
    return next((c for c in result.checks if c.status != events.CHECK_PASSED), None)


def run_mutant(course: Course, lesson: Lesson, mutant: Mutant, seed: int = 0,
               device: str = "cpu") -> MutantResult:
    """Copy the solution, apply the mutant, run the check; caught = not passed, named = the
    first failing check's message contains `expect` (and is `check` when the mutant names one)."""
    with tempfile.TemporaryDirectory(prefix=f"dltutor-mutant-{lesson.id}-") as tmp:
        folder = Path(tmp) / lesson.id
        shutil.copytree(course.solution_dir(lesson), folder,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        target = folder / mutant.file
        target.write_text(mutant.apply(target.read_text(encoding="utf-8")), encoding="utf-8")
        request = RunRequest(lesson.id, course.check_script(lesson), folder, seed=seed, device=device,
                             timeout=lesson.check.timeout, stop_on_failure=True)  # only the first failure counts
        result = _run(request)
    first = first_failure(result)
    message = first.message if first else result.message
    caught = result.verdict != VERDICT_PASSED
    named = caught and mutant.expect.lower() in message.lower() and (
        mutant.check is None or (first is not None and first.name == mutant.check))
    return MutantResult(mutant.name, caught, named, result.verdict, first.name if first else "", message,
                        result.duration)


# -- starter and solution -----------------------------------------------------------------------
def run_source(course: Course, lesson: Lesson, source: str, seed: int, device: str = "cpu") -> RunResult:
    """Run a lesson's check against its starter ('exercises') or its solution ('solutions')."""
    folder = course.exercise_dir(lesson) if source == "exercises" else course.solution_dir(lesson)
    request = RunRequest(lesson.id, course.check_script(lesson), folder, seed=seed, device=device,
                         timeout=lesson.check.timeout)
    return _run(request)


def starter_problems(result: RunResult) -> list[str]:
    """The starter must fail, and every check must say 'not implemented'."""
    problems = []
    if result.verdict != "failed":
        problems.append(f"starter: verdict {result.verdict} ({result.message}); expected failed")
    for c in result.checks:
        if c.status != events.CHECK_NOT_IMPLEMENTED:
            problems.append(f"starter: check '{c.name}' is {c.status}, not 'not implemented': {c.message[:200]}")
    return problems


def task_problems(lesson: Lesson, result: RunResult) -> list[str]:
    """Every task has a check, and every check names a task of the lesson."""
    tasks = {t.id for t in lesson.exercise.tasks}
    seen = {c.task for c in result.checks}
    problems = [f"check '{c.name}' names unknown task {c.task!r}" for c in result.checks if c.task not in tasks]
    problems += [f"task '{t}' has no check" for t in sorted(tasks - seen)]
    return problems


def verify_lesson(course: Course, lesson: Lesson, seeds: int = 2, device: str = "cpu",
                  say: Callable[[str], None] = lambda s: None, mutants: bool = True) -> LessonReport:
    """Starter, then the solution under each seed, then every mutant (seed 0)."""
    began = time.monotonic()
    report = LessonReport(lesson.id)
    starter = run_source(course, lesson, "exercises", 0, device)
    starter_bad = starter_problems(starter)
    report.problems += starter_bad + task_problems(lesson, starter)
    report.starter = "ok" if not starter_bad else starter.verdict
    say(f"{lesson.id} starter: {starter.verdict} ({starter.duration:.1f} s)")
    for seed in range(seeds):
        result = run_source(course, lesson, "solutions", seed, device)
        report.seconds.append(result.duration)
        report.solutions.append(result.verdict)
        say(f"{lesson.id} solution seed {seed}: {result.verdict} ({result.duration:.1f} s)")
        if result.verdict != VERDICT_PASSED:
            detail = "; ".join(f"{c.name}: {c.message}" for c in result.checks if c.status != events.CHECK_PASSED)
            report.problems.append(f"solution seed {seed}: {result.verdict}: {result.message} {detail}".strip())
            if result.output:
                report.problems.append("output:\n" + result.output[-2000:])
    if mutants:
        try:
            shipped = load_mutants(course, lesson)
        except CourseError as exc:
            report.problems.append(f"mutants: {exc}")
            shipped = []
        report.mutants_total = len(shipped)
        for mutant in shipped:
            outcome = run_mutant(course, lesson, mutant, 0, device)
            report.mutants.append(outcome)
            state = "named" if outcome.named else "caught, not named" if outcome.caught else "NOT CAUGHT"
            say(f"{lesson.id} mutant {mutant.name}: {state} ({outcome.seconds:.1f} s)")
            if problem := outcome.problem(mutant):
                report.problems.append(problem)
    report.elapsed = time.monotonic() - began
    return report


def verify_many(course: Course, lessons: list[Lesson], seeds: int = 2, device: str = "cpu", jobs: int = 1,
                say: Callable[[str], None] = lambda s: None) -> Iterator[LessonReport]:
    """verify_lesson over `jobs` lessons at a time (each run is its own child process); reports come
    as lessons finish. Interrupted (Ctrl-C, or the caller closing the iterator): every run is stopped."""
    _STOPPING.clear()
    pool = ThreadPoolExecutor(max_workers=max(1, jobs), thread_name_prefix="verify")
    futures = []
    try:
        futures = [pool.submit(verify_lesson, course, lesson, seeds, device, say) for lesson in lessons]
        for future in as_completed(futures):
            yield future.result()
    except BaseException:
        for future in futures:
            future.cancel()
        cancel_all()
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)

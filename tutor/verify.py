"""Course invariants for authors: every starter fails as 'not implemented', every solution passes.

The front end is `dltutor verify [DAY ...] --seeds N`; the tests call `verify_lesson` directly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from tutor import events
from tutor.course import Course, Lesson
from tutor.runner import PASSED, CheckRun, RunRequest, RunResult


@dataclass
class LessonReport:
    """What verify found for one lesson; `problems` empty means it holds."""

    day: str
    problems: list[str] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def run_source(course: Course, lesson: Lesson, source: str, seed: int, device: str = "cpu") -> RunResult:
    """Run a lesson's check against its starter ('exercises') or its solution ('solutions')."""
    folder = course.exercise_dir(lesson) if source == "exercises" else course.solution_dir(lesson)
    request = RunRequest(lesson.id, course.check_script(lesson), folder, seed=seed, device=device,
                         timeout=lesson.check.timeout)
    return CheckRun(request).run()


def starter_problems(result: RunResult) -> list[str]:
    """The starter must fail, and every check must say 'not implemented'."""
    problems = []
    if result.verdict != "failed":
        problems.append(f"starter: verdict {result.verdict} ({result.message}); expected failed")
    for c in result.checks:
        if c.status != events.NOT_IMPLEMENTED:
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
                  say: Callable[[str], None] = lambda s: None) -> LessonReport:
    report = LessonReport(lesson.id)
    starter = run_source(course, lesson, "exercises", 0, device)
    report.problems += starter_problems(starter) + task_problems(lesson, starter)
    say(f"{lesson.id} starter: {starter.verdict} ({starter.duration:.1f} s)")
    for seed in range(seeds):
        result = run_source(course, lesson, "solutions", seed, device)
        report.seconds.append(result.duration)
        say(f"{lesson.id} solution seed {seed}: {result.verdict} ({result.duration:.1f} s)")
        if result.verdict != PASSED:
            detail = "; ".join(f"{c.name}: {c.message}" for c in result.checks if c.status != PASSED)
            report.problems.append(f"solution seed {seed}: {result.verdict}: {result.message} {detail}".strip())
            if result.output:
                report.problems.append("output:\n" + result.output[-2000:])
    return report


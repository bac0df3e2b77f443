"""One learner's session over the core: course + workspace + progress.

Both front ends (the CLI and the TUI) do everything through this class, so they
behave the same. No torch, no Textual.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tutor.course import Course, DayEntry, Lesson, load_course
from tutor.progress import NOT_STARTED, PASSED, DayProgress, ProgressStore
from tutor.runner import CheckRun, RunRequest, RunResult
from tutor.workspace import Workspace, open_workspace


@dataclass
class Hint:
    index: int  # 0-based
    total: int
    text: str


class SolutionLocked(Exception):
    """The solution is shown only after a pass (or when forced)."""


class Tutor:
    """The course, the learner's workspace and their progress store, opened together."""

    def __init__(self, workspace: Path | None = None, course: Course | None = None):
        self.course = course or load_course()
        self.workspace, self.copied = open_workspace(self.course, workspace)
        self.store = ProgressStore(self.workspace.db_path)

    @property
    def first_use(self) -> bool:
        return bool(self.copied)

    # -- days -------------------------------------------------------------------------
    def lesson(self, day: str) -> Lesson:
        lesson = self.course.lesson(day)
        self.workspace.ensure_day(self.course, lesson)
        return lesson

    def progress(self) -> dict[str, DayProgress]:
        return self.store.summary()

    def status(self, entry: DayEntry, summary: dict[str, DayProgress] | None = None) -> str:
        """'not written', 'not started', 'failing' or 'passed'."""
        if entry.lesson is None:
            return "not written"
        summary = self.progress() if summary is None else summary
        return summary.get(entry.id, DayProgress(entry.id)).status

    def next_day(self) -> Lesson | None:
        """The first written lesson not yet passed (the last lesson when all are)."""
        summary = self.progress()
        lessons = self.course.lessons
        for lesson in lessons:
            if summary.get(lesson.id, DayProgress(lesson.id)).status != PASSED:
                return lesson
        return lessons[-1] if lessons else None

    def exercise_path(self, lesson: Lesson) -> Path:
        return self.workspace.exercise_path(lesson)

    # -- checks -----------------------------------------------------------------------
    def check_run(self, lesson: Lesson, seed: int = 0, device: str = "auto", timeout: float | None = None,
                  source: Path | None = None) -> CheckRun:
        """A CheckRun for the learner's files (or `source`); iterate its events, then `record` it."""
        self.workspace.ensure_day(self.course, lesson)
        request = RunRequest(
            day=lesson.id, script=self.course.check_script(lesson),
            source=source or self.workspace.day_dir(lesson), seed=seed, device=device,
            timeout=timeout or lesson.check.timeout,
        )
        return CheckRun(request)

    def missing_files(self, lesson: Lesson) -> list[Path]:
        return self.workspace.missing_files(lesson)

    def record(self, result: RunResult) -> int:
        return self.store.record_attempt(result.to_dict())

    # -- hints, solutions, reset ------------------------------------------------------
    def next_hint(self, lesson: Lesson) -> Hint | None:
        """Reveal and record the next hint; None when every hint was shown."""
        hints = lesson.exercise.hints
        index = self.store.next_hint(lesson.id, len(hints))
        return None if index is None else Hint(index, len(hints), hints[index])

    def shown_hints(self, lesson: Lesson) -> list[str]:
        return list(lesson.exercise.hints[: self.store.hints_shown(lesson.id)])

    def passed(self, lesson: Lesson) -> bool:
        return self.progress().get(lesson.id, DayProgress(lesson.id)).status == PASSED

    def solution(self, lesson: Lesson, force: bool = False) -> dict[str, str]:
        """The reference solution files {name: text}; SolutionLocked before a pass unless forced."""
        if not force and not self.passed(lesson):
            raise SolutionLocked(f"{lesson.id}: the solution opens after your first pass")
        folder = self.course.solution_dir(lesson)
        return {name: (folder / name).read_text(encoding="utf-8") for name in lesson.exercise.files}

    def reset(self, lesson: Lesson) -> Path | None:
        """Restore the starter; returns the backup folder of the learner's files (None if none)."""
        return self.workspace.reset(self.course, lesson)

    def progress_rows(self) -> list[dict[str, Any]]:
        """One row per written day, for tables and --json."""
        summary = self.progress()
        rows = []
        for entry in self.course.days:
            if entry.lesson is None:
                continue
            p = summary.get(entry.id, DayProgress(entry.id))
            rows.append({
                "day": entry.id, "week": entry.week, "title": entry.title,
                "status": p.status if p.attempts or p.hints else NOT_STARTED,
                "attempts": p.attempts, "hints": p.hints, "seconds": round(p.seconds, 1),
                "first_pass": p.first_pass, "best_metrics": p.best_metrics,
                "last_verdict": p.last["verdict"] if p.last else None,
                "last_device": p.last["device"] if p.last else None,
                "last_host": p.last["host"] if p.last else None,
            })
        return rows

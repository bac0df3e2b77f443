"""One learner's session over the core: course + active track + workspace + progress.

Both front ends (the CLI and the TUI) do everything through this class, so they behave the
same. No torch, no Textual.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tutor.course import Course, CourseError, Lesson, load_course
from tutor.progress import LESSON_NOT_STARTED, LESSON_PASSED, LessonProgress, ProgressStore
from tutor.runner import CheckRun, RunRequest, RunResult
from tutor.schedule import Schedule, schedule
from tutor.tracks import Entry, Outline, UnknownLesson
from tutor.warm import Spawned, WarmPool
from tutor.workspace import open_workspace

TRACK_KEY = "track"


@dataclass
class Hint:
    task: str
    index: int  # 0-based, within the task
    total: int  # hints of that task
    text: str


class SolutionLocked(Exception):
    """The solution is shown only after a pass (or when forced)."""


class Tutor:
    """The course, the learner's workspace, their progress store and active track, opened together."""

    def __init__(self, workspace: Path | None = None, course: Course | None = None, track: str | None = None):
        self.course = course or load_course()
        self.workspace, self.copied, self.notices = open_workspace(self.course, workspace)
        self.store = ProgressStore(self.workspace.db_path, hint_layout=self._hint_layout)
        if self.store.notice:
            self.notices.append(self.store.notice)
        self.outline = self._outline(track)
        self._warm: WarmPool | None = None

    # -- warm check processes (tutor.warm) ----------------------------------------------
    def start_warm(self, device: str = "auto") -> None:
        """Keep a check process ready (torch imported, device picked) for the next check."""
        if self._warm is None:
            self._warm = WarmPool(device)
        self._warm.start()

    def close(self) -> None:
        """Stop the waiting check process, if any (the front end is leaving)."""
        if self._warm is not None:
            self._warm.close()
            self._warm = None

    def _hint_layout(self, slug: str) -> list[tuple[str, int]]:
        lesson = self.course.lessons.get(slug)
        return [(t.id, i) for t in lesson.exercise.tasks for i in range(len(t.hints))] if lesson else []

    @property
    def first_use(self) -> bool:
        return bool(self.copied)

    # -- what the fronts ask (they never reach into .course, .workspace or .store) -------
    @property
    def root(self) -> Path:
        """The workspace folder."""
        return self.workspace.root

    def lesson_dir(self, lesson: Lesson) -> Path:
        return self.workspace.lesson_dir(lesson)

    def exercise_files(self, lesson: Lesson) -> list[Path]:
        return [self.workspace.exercise_path(lesson, name) for name in lesson.exercise.files]

    def broken_lessons(self) -> dict[str, str]:
        """{slug: error} of lesson files that do not load."""
        return dict(self.course.broken)

    def search(self, words: str) -> list[str]:
        return self.course.search(words)

    def attempts(self, lesson: Lesson, limit: int = 20) -> list[dict[str, Any]]:
        """The lesson's attempts, newest first."""
        return self.store.attempts(lesson.id, limit=limit)

    def streak(self) -> int:
        return self.store.streak()

    def export_lines(self) -> list[str]:
        """Every attempt and hint reveal in the exchange format (tutor.progress_file)."""
        from tutor.sync import local_export

        return local_export(self.store)

    def import_records(self, attempts: list[dict[str, Any]], hints: list[dict[str, Any]],
                       dry_run: bool = False) -> tuple[int, int]:
        return self.store.import_records(attempts, hints, dry_run=dry_run)

    def sync(self, remote: Any, pull: bool = True, push: bool = True, say: Any = None) -> Any:
        """Merge progress with a tutor.sync.Remote; returns a SyncResult."""
        from tutor.sync import sync

        return sync(self.store, remote, pull=pull, push=push, say=say or (lambda text: None))

    # -- tracks -----------------------------------------------------------------------
    def _outline(self, track: str | None) -> Outline:
        name = track or self.store.setting(TRACK_KEY) or None
        if name and name not in self.course.tracks:
            if track:
                raise UnknownLesson(f"unknown track {track!r}; tracks: {', '.join(self.course.tracks)}")
            self.notices.append(f"your track {name!r} is no longer in the course; using the 50-day plan")
            name = None
        start = self.store.setting(f"start.{name}") if name else None
        return self.course.outline(name, dt.date.fromisoformat(start) if start else None)

    def use_track(self, name: str, start: dt.date | None = None) -> Outline:
        """Make `name` the active track (remembered), its dates shifted to `start` when given."""
        if name not in self.course.tracks:
            raise UnknownLesson(f"unknown track {name!r}; tracks: {', '.join(self.course.tracks)}")
        self.store.set_setting(TRACK_KEY, name)
        if start is not None:
            self.store.set_setting(f"start.{name}", start.isoformat())
        self.outline = self._outline(name)
        return self.outline

    def tracks(self) -> list[dict[str, Any]]:
        """Each track with the learner's completion in it."""
        summary = self.progress()
        rows = []
        for name, track in self.course.tracks.items():
            outline = self.course.outline(name)
            written = outline.lessons
            passed = sum(summary.get(l.id, LessonProgress(l.id)).status == LESSON_PASSED for l in written)
            rows.append({"name": name, "title": track.title, "items": len(track.items), "written": len(written),
                         "passed": passed, "dated": track.dated, "active": name == self.outline.name})
        return rows

    # -- lessons ----------------------------------------------------------------------
    def find(self, text: str) -> Entry | Lesson:
        """What the learner's text names in the active track (raises UnknownLesson)."""
        return self.course.find(text, self.outline)

    def resolve(self, text: str) -> Lesson:
        """The written lesson the learner's text names; UnknownLesson when it names none (or one not written)."""
        found = self.find(text)
        if isinstance(found, Entry):
            kind = "a reading item (no check)" if found.kind == "reading" else "not written yet"
            raise UnknownLesson(f"{found.label} of {self.outline.name} ({found.title}) is {kind}")
        return found

    def entry_key(self, text: str) -> str:
        """The outline key of what the learner's text names (for the TUI to open); UnknownLesson if none."""
        found = self.find(text)
        if isinstance(found, Entry):
            return found.key
        entries = self.outline.entries_for(found.id)
        if not entries:
            raise UnknownLesson(f"{found.id} is not in the {self.outline.name} track; `--track` picks another")
        return entries[0].key

    def lesson(self, slug: str) -> Lesson:
        lesson = self.course.lesson(slug)
        self.workspace.ensure_lesson(self.course, lesson)
        return lesson

    def progress(self) -> dict[str, LessonProgress]:
        return self.store.summary()

    def status(self, entry: Entry, summary: dict[str, LessonProgress] | None = None) -> str:
        """'not written', 'reading', 'broken', 'not started', 'failing' or 'passed'."""
        if entry.kind == "planned":
            return "not written"
        if entry.kind in ("reading", "broken"):
            return entry.kind
        summary = self.progress() if summary is None else summary
        return summary.get(entry.slug or "", LessonProgress(entry.slug or "")).status

    def statuses(self) -> dict[str, str]:
        """{entry key: status} for the active track."""
        summary = self.progress()
        return {e.key: self.status(e, summary) for e in self.outline.entries}

    def next_lesson(self) -> Lesson | None:
        """The first written lesson of the track not yet passed (the last lesson when all are)."""
        summary = self.progress()
        lessons = self.outline.lessons
        for lesson in lessons:
            if summary.get(lesson.id, LessonProgress(lesson.id)).status != LESSON_PASSED:
                return lesson
        return lessons[-1] if lessons else None

    def schedule(self, today: dt.date | None = None) -> Schedule | None:
        """Due, overdue and ahead/behind for a dated track (None when the track has no dates)."""
        return schedule(self.outline, self.progress(), today or dt.date.today())

    def position(self, lesson: Lesson) -> str:
        """'day 13' (or 'Week 4, Mon'); the lesson's name when it is not in the active track."""
        return self.outline.position(lesson.id) or lesson.id

    def render(self, text: str) -> str:
        return self.course.render(text, self.outline)

    def exercise_path(self, lesson: Lesson) -> Path:
        return self.workspace.exercise_path(lesson)

    # -- checks -----------------------------------------------------------------------
    def check_run(self, lesson: Lesson, seed: int = 0, device: str = "auto", timeout: float | None = None,
                  source: Path | None = None, spawned: Spawned | None = None, **options: Any) -> CheckRun:
        """A CheckRun for the learner's files (or `source`); iterate its events, then `record` it.
        `spawned`: a check process the caller started early (else the warm one, else a new one)."""
        self.workspace.ensure_lesson(self.course, lesson)
        script = self.course.check_script(lesson)
        if not script.is_file():
            raise CourseError(f"lessons/{lesson.id}.yaml: its check script checks/{lesson.check.script} does not exist")
        request = RunRequest(
            day=lesson.id, script=self.course.check_script(lesson),
            source=source or self.workspace.lesson_dir(lesson), seed=seed, device=device,
            timeout=timeout or lesson.check.timeout, **options,
        )
        if spawned is None and self._warm is not None:
            spawned = self._warm.take(device)
        return CheckRun(request, spawned)

    def missing_files(self, lesson: Lesson) -> list[Path]:
        return self.workspace.missing_files(lesson)

    def record(self, result: RunResult) -> LessonProgress:
        """Store the attempt; returns the lesson's progress including it (StoreError if it cannot be stored)."""
        self.store.record_attempt(result.to_dict())
        return self.progress().get(result.day, LessonProgress(result.day))

    # -- hints, solutions, reset ------------------------------------------------------
    def hint_task(self, lesson: Lesson) -> str:
        """The task a hint is for by default: the first failing one of the last attempt, else the first with hints left."""
        shown = self.store.hints_shown(lesson.id)
        last = self.store.attempts(lesson.id, limit=1)
        failing = [c.get("task") for c in (last[0]["checks"] if last else []) if c.get("status") == "failed"]
        for task in lesson.exercise.tasks:
            if task.id in failing and shown.get(task.id, 0) < len(task.hints):
                return task.id
        for task in lesson.exercise.tasks:
            if shown.get(task.id, 0) < len(task.hints):
                return task.id
        return lesson.exercise.tasks[0].id

    def next_hint(self, lesson: Lesson, task: str | None = None) -> Hint | None:
        """Reveal and record the next hint of a task (default: `hint_task`); None when its hints are all shown."""
        task_id = task or self.hint_task(lesson)
        spec = lesson.exercise.task(task_id)
        if spec is None:
            names = ", ".join(t.id for t in lesson.exercise.tasks)
            raise UnknownLesson(f"{lesson.id} has no task {task_id!r}; its tasks: {names}")
        index = self.store.reveal_hint(lesson.id, task_id, len(spec.hints))
        return None if index is None else Hint(task_id, index, len(spec.hints), spec.hints[index])

    def shown_hints(self, lesson: Lesson) -> list[Hint]:
        shown = self.store.hints_shown(lesson.id)
        return [Hint(t.id, i, len(t.hints), t.hints[i]) for t in lesson.exercise.tasks
                for i in range(min(shown.get(t.id, 0), len(t.hints)))]

    def passed(self, lesson: Lesson) -> bool:
        return self.progress().get(lesson.id, LessonProgress(lesson.id)).status == LESSON_PASSED

    def solution(self, lesson: Lesson, force: bool = False) -> dict[str, str]:
        """The reference solution files {name: text}; SolutionLocked before a pass unless forced."""
        if not force and not self.passed(lesson):
            raise SolutionLocked(f"{lesson.id}: the solution opens after your first pass")
        folder = self.course.solution_dir(lesson)
        return {name: (folder / name).read_text(encoding="utf-8") for name in lesson.exercise.files}

    def solution_paths(self, lesson: Lesson) -> list[Path]:
        return [self.course.solution_dir(lesson) / name for name in lesson.exercise.files]

    def reset(self, lesson: Lesson) -> Path | None:
        """Restore the starter; returns the backup folder of the learner's files (None if none)."""
        return self.workspace.reset(self.course, lesson)

    def progress_rows(self, host: str | None = None) -> list[dict[str, Any]]:
        """One row per written lesson of the active track, for tables and --json."""
        summary = self.progress()
        rows = []
        for lesson in self.outline.lessons:
            p = summary.get(lesson.id, LessonProgress(lesson.id))
            if host and host not in p.hosts:
                continue
            rows.append({
                "lesson": lesson.id, "position": self.position(lesson), "title": lesson.title,
                "status": p.status if p.attempts or p.hints else LESSON_NOT_STARTED,
                "attempts": p.attempts, "hints": p.hints, "seconds": round(p.seconds, 1),
                "first_pass": p.first_pass, "best_metrics": p.best_metrics,
                "last_verdict": p.last["verdict"] if p.last else None,
                "last_device": p.last["device"] if p.last else None,
                "hosts": p.hosts, "best_device": p.best_device or None,
            })
        return rows

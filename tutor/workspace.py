"""The learner's workspace: their own copies of the exercises, and `.dltutor/` for progress.

A learner's file is never overwritten, except by `reset`, which first keeps a backup.
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from tutor.course import Course, Lesson
from tutor.progress_db import V1_DAYS

STATE_DIR = ".dltutor"
README = """\
This folder is your dltutor workspace: one folder per lesson with your exercise files.
Edit them in any editor, then run `dltutor check <lesson>` (or press c in `dltutor start`).
Your progress is in .dltutor/progress.db; backups from `dltutor reset` are in .dltutor/backups/.
"""


def config_file() -> Path:
    """Where `dltutor init DIR` remembers the workspace ($XDG_CONFIG_HOME/dltutor/workspace)."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "dltutor" / "workspace"


def default_home() -> Path:
    """`DLTUTOR_HOME`, else the folder `dltutor init DIR` remembered, else ~/dltutor."""
    env = os.environ.get("DLTUTOR_HOME")
    if env:
        return Path(env).expanduser()
    try:
        remembered = config_file().read_text(encoding="utf-8").strip()
    except OSError:
        remembered = ""
    return Path(remembered) if remembered else Path.home() / "dltutor"


def remember(root: Path) -> None:
    """Make `root` the default workspace for later commands."""
    path = config_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(str(root.resolve()) + "\n", encoding="utf-8")


@dataclass
class Workspace:
    root: Path

    @property
    def state_dir(self) -> Path:
        return self.root / STATE_DIR

    @property
    def db_path(self) -> Path:
        return self.state_dir / "progress.db"

    @property
    def backups(self) -> Path:
        return self.state_dir / "backups"

    def exists(self) -> bool:
        return self.state_dir.is_dir()

    def lesson_dir(self, lesson: Lesson) -> Path:
        return self.root / lesson.id

    def exercise_path(self, lesson: Lesson, name: str | None = None) -> Path:
        """The learner's copy of an exercise file (the first one by default)."""
        return self.lesson_dir(lesson) / (name or lesson.exercise.files[0])

    def missing_files(self, lesson: Lesson) -> list[Path]:
        return [p for p in (self.exercise_path(lesson, f) for f in lesson.exercise.files) if not p.is_file()]

    def migrate_day_folders(self) -> list[str]:
        """Move v1 day folders (day13/) to lesson names (batch-norm/); returns one notice per folder.

        Never overwrites: when both exist, both are kept and the notice says so.
        """
        notices = []
        for number, slug in V1_DAYS.items():
            old, new = self.root / f"day{number:02d}", self.root / slug
            if not old.is_dir():
                continue
            if new.exists():
                notices.append(f"{old.name}/ and {slug}/ both exist: {slug}/ is used; your {old.name}/ is kept as it is")
                continue
            old.rename(new)
            notices.append(f"moved {old.name}/ to {slug}/ (lessons are named now, not numbered)")
        return notices

    def init(self, course: Course) -> list[Path]:
        """Create the workspace and copy in every starter not yet there; returns the copied files."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        readme = self.root / "README.txt"
        if not readme.exists():
            readme.write_text(README, encoding="utf-8")
        copied = []
        for lesson in course.lessons.values():
            copied += self.ensure_lesson(course, lesson)
        return copied

    def ensure_lesson(self, course: Course, lesson: Lesson) -> list[Path]:
        """Copy a lesson's starters into a lesson folder made now (never touches an existing one).

        A file the learner deleted from an existing lesson folder stays deleted: the check says so
        and `reset` restores it.
        """
        copied = []
        target = self.lesson_dir(lesson)
        if target.exists():
            return copied
        for name in lesson.exercise.files:
            dest = target / name
            if dest.exists():
                continue
            target.mkdir(parents=True, exist_ok=True)
            shutil.copy2(course.exercise_dir(lesson) / name, dest)
            copied.append(dest)
        return copied

    def reset(self, course: Course, lesson: Lesson) -> Path | None:
        """Restore the lesson's starters; the learner's current files go to a backup folder first.

        Returns the backup folder, or None when there was nothing to back up.
        """
        backup = None
        present = [self.exercise_path(lesson, f) for f in lesson.exercise.files]
        present = [p for p in present if p.exists()]
        if present:
            stamp = time.strftime("%Y%m%d-%H%M%S")
            backup = self.backups / f"{lesson.id}-{stamp}"
            n = 1
            while backup.exists():
                n += 1
                backup = self.backups / f"{lesson.id}-{stamp}-{n}"
            backup.mkdir(parents=True)
            for path in present:
                shutil.copy2(path, backup / path.name)
        for name in lesson.exercise.files:
            dest = self.exercise_path(lesson, name)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(course.exercise_dir(lesson) / name, dest)
        return backup


def open_workspace(course: Course, root: Path | None = None) -> tuple[Workspace, list[Path], list[str]]:
    """The workspace at `root` (or the default), created on first use, v1 folders renamed.

    Returns it with the starter files copied now (non-empty on first use or when the course
    gained lessons) and the folder-migration notices, so the front end can say so.
    """
    ws = Workspace((root or default_home()).resolve())
    notices = ws.migrate_day_folders() if ws.root.is_dir() else []
    return ws, ws.init(course), notices

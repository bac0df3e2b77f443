"""Where the course data lives: the clone's root, or inside an installed wheel."""

from __future__ import annotations

import os
from pathlib import Path

COURSE_DIRS = ("lessons", "exercises", "solutions", "checks", "mutants")


def course_root() -> Path:
    """The folder holding lessons/, exercises/, solutions/ and checks/.

    `DLTUTOR_COURSE` overrides; then the clone (editable install); then the copy
    bundled into the wheel as `tutor/_course`.
    """
    override = os.environ.get("DLTUTOR_COURSE")
    if override:
        return Path(override).expanduser().resolve()
    package = Path(__file__).resolve().parent
    clone = package.parent
    if (clone / "lessons" / "tracks").is_dir():
        return clone
    return package / "_course"

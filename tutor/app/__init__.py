"""The Textual TUI of dltutor (`dltutor start`).

Importing this package is cheap (Textual loads inside `run_app`), and nothing here
imports torch: checks run in child processes through tutor.runner.
"""

from __future__ import annotations

import sys
from pathlib import Path


def run_app(workspace: Path | None = None, day: str | None = None, device: str = "auto",
            edit_cmd: str | None = None, track: str | None = None, warm: bool = True) -> int:
    """Run the TUI until the learner quits; returns the exit code.

    `day` is an entry key of the track (the CLI resolves the learner's text).
    0 after a normal quit; 2 for an unknown lesson or invalid course data, 1 when the
    workspace or progress store cannot be opened. Those messages go to stderr before
    the screen is taken over.
    """
    from tutor.course import CourseError, UnknownLesson
    from tutor.progress import StoreError
    from tutor.session import Tutor

    try:
        tutor = Tutor(workspace, track=track)
        if day:
            day = tutor.entry_key(day)
    except (CourseError, UnknownLesson) as exc:
        print(f"dltutor: {exc}", file=sys.stderr)
        return 2
    except (OSError, RuntimeError, StoreError) as exc:  # an unwritable workspace, a store from a newer dltutor
        print(f"dltutor: {exc}", file=sys.stderr)
        return 1

    from tutor.app.app import DltutorApp

    app = DltutorApp(tutor=tutor, day=day, device=device, edit_cmd=edit_cmd, warm=warm)
    try:
        app.run()
    finally:
        tutor.close()
    return int(app.return_code or 0)


__all__ = ["run_app"]

"""The one test fixture course (made on the fly), a temporary workspace, and small helpers.

The course: tiny-day and second-day (the same tiny exercise, mod.py with go() -> 42, two named
checks: the first reports a metric and a loss curve, the second waits SLOW seconds when the
learner's module sets SLOW), and unwritten-day, planned but not written, in a one-week track
named 50-days (the default). The core's tests, the CLI's and the TUI's all use it.
"""

from __future__ import annotations

import io
import textwrap
from pathlib import Path

import pytest

TRACK = """\
format_version: 1
name: 50-days
title: A tiny course
position: "day {n}"
groups:
  - label: Week 1
    title: Tiny week
    items:
      - {label: Day 1, title: Tiny day, lessons: [tiny-day]}
      - {label: Day 2, title: Second day, lessons: [second-day]}
      - {label: Day 3, title: Unwritten day, lessons: [unwritten-day]}
"""

PLANNED = """\
format_version: 1
planned:
  - {slug: unwritten-day, title: Unwritten day}
"""
SLUGS = {1: "tiny-day", 2: "second-day"}

LESSON = """\
title: {title}
summary: A tiny lesson for tests.
objectives: [learn]
concepts: [testing]
key_learnings: [tests]
body: |
  ## Idea
  Return the answer. This is the lesson body of {title}.

  ```python
  print("hello")
  ```
references:
  - {{kind: book, title: A book, authors: Someone, year: 2020}}
exercise:
  files: [mod.py]
  tasks:
    - id: go
      title: Go
      description: implement go()
      hints: [first hint, second hint]
check:
  timeout: {timeout}
"""

CHECK = """\
import time

from tutor.checking import check, expect


@check("go() returns 42", task="go")
def answer(ctx):
    mod = ctx.load("mod")
    value = mod.go()
    ctx.metric("answer", float(value) if isinstance(value, (int, float)) else -1.0, 42.0)
    ctx.curve("loss", [3.0, 2.0, 1.0])
    expect(value == 42, f"go() returned {value!r}; expected 42")


@check("go() again", task="go")
def again(ctx):
    mod = ctx.load("mod")
    expect(mod.go() == 42, "not 42 the second time")
    time.sleep(float(getattr(mod, "SLOW", 0.0)))
"""

STARTER = "def go():\n    raise NotImplementedError\n"
SOLUTION = "def go():\n    return 42\n"


def solution_text(slow: float = 0.0) -> str:
    """A solution that prints, and (slow > 0) makes the second check wait `slow` seconds."""
    return f"SLOW = {slow!r}\n\n\ndef go():\n    print('learner says: hello')\n    return 42\n"


def plain(content: object, width: int = 100) -> str:
    """A widget's content (Text, Table, Group…) as plain text, the way NO_COLOR shows it."""
    from rich.console import Console

    console = Console(width=width, file=io.StringIO(), color_system=None, record=True, legacy_windows=False)
    console.print(content)
    return console.export_text()


def make_course(root: Path, timeout: float = 30) -> Path:
    """A course with tiny-day and second-day (same tiny exercise) and an unwritten day 3."""
    (root / "lessons" / "tracks").mkdir(parents=True)
    (root / "lessons" / "tracks" / "50-days.yaml").write_text(TRACK)
    (root / "lessons" / "planned.yaml").write_text(PLANNED)
    for n, title in ((1, "Tiny day"), (2, "Second day")):
        day = SLUGS[n]
        (root / "lessons" / f"{day}.yaml").write_text(LESSON.format(n=n, title=title, timeout=timeout))
        for folder, text in (("exercises", STARTER), ("solutions", SOLUTION)):
            (root / folder / day).mkdir(parents=True)
            (root / folder / day / "mod.py").write_text(text)
        (root / "checks").mkdir(exist_ok=True)
        (root / "checks" / f"{day}.py").write_text(CHECK)
    return root


@pytest.fixture
def tiny_course(tmp_path: Path) -> Path:
    return make_course(tmp_path / "course")


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """DLTUTOR_HOME in a temp folder, and no remembered workspace from the real home."""
    home = tmp_path / "ws"
    monkeypatch.setenv("DLTUTOR_HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    return home


def write_learner(folder: Path, source: str, name: str = "mod.py") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(textwrap.dedent(source))
    return path

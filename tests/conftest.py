"""Shared fixtures: a temporary workspace, and a tiny course made on the fly."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

OUTLINE = """\
weeks:
  - week: 1
    title: "Tiny week"
    days:
      - {day: 1, title: "Tiny day"}
      - {day: 2, title: "Second day"}
      - {day: 3, title: "Unwritten day"}
"""

LESSON = """\
id: day{n:02d}
day: {n}
week: 1
title: {title}
summary: A tiny lesson for tests.
objectives: [learn]
concepts: [testing]
key_learnings: [tests]
body: |
  ## Idea
  Return the answer.
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
  script: day{n:02d}.py
  timeout: {timeout}
"""

CHECK = """\
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
    expect(ctx.load("mod").go() == 42, "not 42 the second time")
"""

STARTER = "def go():\n    raise NotImplementedError\n"
SOLUTION = "def go():\n    return 42\n"


def make_course(root: Path, timeout: float = 30) -> Path:
    """A course with day01 and day02 (same tiny exercise) and an unwritten day03."""
    (root / "lessons").mkdir(parents=True)
    (root / "lessons" / "outline.yaml").write_text(OUTLINE)
    for n, title in ((1, "Tiny day"), (2, "Second day")):
        day = f"day{n:02d}"
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

"""Helpers for the TUI's tests: a tiny fake course, and widget text without colours.

Used by tests/test_app.py, tests/test_app_snapshots.py and tests/test_tui_tmux.py.
The tiny course has two written lessons (adding-numbers with one exercise file and three
named checks, batch-norm with no check run in the tests) and one that is not written, in a
one-week track named 50-days (the default track).
"""

from __future__ import annotations

import io
from pathlib import Path

TRACK = """\
format_version: 1
name: 50-days
title: A tiny course
position: "day {n}"
groups:
  - label: Week 1
    title: Tiny Basics
    items:
      - {label: Day 1, title: Adding Numbers, lessons: [adding-numbers]}
      - {label: Day 2, title: Batch Normalization, lessons: [batch-norm]}
      - {label: Day 3, title: Not Written Yet, lessons: [not-written-yet]}
"""

PLANNED = """\
format_version: 1
planned:
  - {slug: not-written-yet, title: Not Written Yet, summary: Still to come.}
"""

LESSON = """\
title: {title}
summary: {summary}
objectives:
  - Write {func}() so the check passes
concepts:
  - {concept}
key_learnings:
  - "{func}() returns a number"
body: |
  ## {title}

  This is the lesson body of {title}. It explains **{concept}**.

  ```python
  print("hello")
  ```
references:
  - kind: tutorial
    title: "A tutorial"
    url: https://example.org/
exercise:
  files: [{module}.py]
  tasks:
    - id: {func}
      title: Implement {func}
      description: {func}(a, b) returns their sum.
      hints:
        - First hint for {func}.
        - Second hint for {func}.
check:
  timeout: 60
"""

STARTER = '''\
"""Day {n}: implement {func}."""


def {func}(a, b):
    """Return a + b."""
    raise NotImplementedError("{func}")
'''

SOLUTION = '''\
"""Day {n}: the reference solution."""

SLOW = 0.0


def {func}(a, b):
    """Return a + b."""
    print("learner says: adding", a, b)
    return a + b
'''

CHECK = '''\
"""Tiny check: fast, no training; SLOW (seconds) in the learner module makes it wait."""

import time

from tutor.checking import check, expect


@check("{func}() adds two numbers", task="{func}")
def adds(ctx):
    mod = ctx.load("{module}")
    expect(mod.{func}(2, 3) == 5, "{func}(2, 3) should be 5")


@check("{func}() works on floats", task="{func}")
def floats(ctx):
    mod = ctx.load("{module}")
    expect(abs(mod.{func}(0.5, 0.25) - 0.75) < 1e-12, "{func}(0.5, 0.25) should be 0.75")
    time.sleep(float(getattr(mod, "SLOW", 0.0)))


@check("a loss curve goes down", task="{func}")
def curve(ctx):
    mod = ctx.load("{module}")
    mod.{func}(1, 1)
    for step, value in enumerate([2.0, 1.5, 1.0, 0.7, 0.5, 0.4]):
        ctx.point("loss", step, value)
'''

DAYS = [
    dict(n=1, slug="adding-numbers", title="Adding Numbers", summary="Add two numbers in Python.", func="add", module="adder",
         concept="addition"),
    dict(n=2, slug="batch-norm", title="Batch Normalization", summary="Normalise a batch.", func="plus", module="plusser",
         concept="batch norm"),
]


def make_tiny_course(root: Path) -> Path:
    """Write the tiny course under `root` (lessons/, exercises/, solutions/, checks/); returns root."""
    (root / "lessons").mkdir(parents=True, exist_ok=True)
    (root / "checks").mkdir(exist_ok=True)
    (root / "lessons" / "tracks").mkdir(exist_ok=True)
    (root / "lessons" / "tracks" / "50-days.yaml").write_text(TRACK, encoding="utf-8")
    (root / "lessons" / "planned.yaml").write_text(PLANNED, encoding="utf-8")
    for day in DAYS:
        slug = day["slug"]
        (root / "lessons" / f"{slug}.yaml").write_text(LESSON.format(**day), encoding="utf-8")
        for kind, text in (("exercises", STARTER), ("solutions", SOLUTION)):
            folder = root / kind / slug
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"{day['module']}.py").write_text(text.format(**day), encoding="utf-8")
        (root / "checks" / f"{slug}.py").write_text(CHECK.format(**day), encoding="utf-8")
    return root


def solution_text(day: int = 1, slow: float = 0.0) -> str:
    """The tiny solution for a day, optionally sleeping `slow` seconds in its second check."""
    spec = DAYS[day - 1]
    return SOLUTION.format(**spec).replace("SLOW = 0.0", f"SLOW = {slow!r}")


def plain(content: object, width: int = 100) -> str:
    """A widget's content (Text, Table, Group…) as plain text, the way NO_COLOR shows it."""
    from rich.console import Console

    console = Console(width=width, file=io.StringIO(), color_system=None, record=True, legacy_windows=False)
    console.print(content)
    return console.export_text()


__all__ = ["make_tiny_course", "plain", "solution_text"]

"""Snapshots (pytest-textual-snapshot) of the main and progress screens at 80x24 and 120x40.

Storage is a temp dir with HOME pointing at it, so the workspace shows as ~/dltutor; the
device probe is faked and the host name fixed, so the pictures are the same everywhere.
Regenerate after a deliberate change with: pytest tests/test_app_snapshots.py --snapshot-update
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tutor.app.app import DltutorApp
from conftest import make_course
from tutor.app.widgets.lesson_view import LessonView
from tutor.app.widgets.top_bar import TopBar
from tutor.course import Course
from tutor.session import Tutor

SIZES = [(80, 24), (120, 40)]


@pytest.fixture
def tutor(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Tutor:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("DLTUTOR_HOME", str(tmp_path / "dltutor"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setattr("tutor.progress.socket.gethostname", lambda: "testhost")
    course = Course(make_course(tmp_path / "course"))
    Tutor(tmp_path / "dltutor", course=course)  # first use copies the starters: no welcome toast later
    tutor = Tutor(tmp_path / "dltutor", course=course)
    now = time.time()
    tutor.store.record_attempt({
        "day": "day01", "verdict": "failed", "passed": 1, "total": 2, "started": now - 12, "ended": now,
        "device_name": "CPU, 2 threads", "message": "1 of 2 checks passed",
        "checks": [
            {"name": "go() returns 42", "status": "passed", "message": "", "task": "go"},
            {"name": "go() again", "status": "failed", "task": "go", "message": "not 42 the second time"},
        ],
        "metrics": [],
    })
    tutor.store.record_attempt({"day": "day02", "verdict": "passed", "passed": 2, "total": 2,
                                "started": now - 30, "ended": now, "device_name": "CPU, 2 threads",
                                "checks": [], "metrics": [{"name": "accuracy", "value": 0.97}]})
    return tutor


def app_for(tutor: Tutor) -> DltutorApp:
    return DltutorApp(tutor=tutor, device="auto", probe=lambda: {"device_name": "CPU, 2 threads"}, warm=False)


async def settled(pilot) -> None:
    """Wait until the (fake) device probe has filled the top bar and the lesson body is drawn."""
    screen = pilot.app.main
    for _ in range(400):
        if "CPU" in screen.query_one(TopBar).device and screen.query_one(LessonView).body_day == "day01":
            break
        await pilot.pause(0.05)
    await pilot.pause()


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_main_screen(snap_compare, tutor: Tutor, size: tuple[int, int]) -> None:
    assert snap_compare(app_for(tutor), terminal_size=size, run_before=settled)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_progress_screen(snap_compare, tutor: Tutor, size: tuple[int, int]) -> None:
    assert snap_compare(app_for(tutor), press=["p"], terminal_size=size, run_before=settled)

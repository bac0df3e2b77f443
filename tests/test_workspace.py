"""The workspace: created on first use, learner files never overwritten, reset keeps a backup."""

from __future__ import annotations

from pathlib import Path

from tutor.course import Course
from tutor.workspace import Workspace, default_home, open_workspace, remember


def test_first_use_copies_starters(tiny_course: Path, tmp_path: Path):
    ws, copied = open_workspace(Course(tiny_course), tmp_path / "ws")
    assert sorted(p.relative_to(ws.root).as_posix() for p in copied) == ["day01/mod.py", "day02/mod.py"]
    assert (ws.root / ".dltutor").is_dir() and (ws.root / "README.txt").is_file()
    assert open_workspace(Course(tiny_course), tmp_path / "ws")[1] == []


def test_learner_file_is_never_overwritten(tiny_course: Path, tmp_path: Path):
    course = Course(tiny_course)
    ws, _ = open_workspace(course, tmp_path / "ws")
    mine = ws.exercise_path(course.lesson("1"))
    mine.write_text("my work\n")
    ws.init(course)
    ws.ensure_day(course, course.lesson("1"))
    assert mine.read_text() == "my work\n"


def test_deleted_file_stays_deleted_until_reset(tiny_course: Path, tmp_path: Path):
    course = Course(tiny_course)
    ws, _ = open_workspace(course, tmp_path / "ws")
    lesson = course.lesson("1")
    ws.exercise_path(lesson).unlink()
    ws.init(course)
    assert ws.missing_files(lesson) == [ws.exercise_path(lesson)]
    assert ws.reset(course, lesson) is None
    assert ws.missing_files(lesson) == []


def test_reset_keeps_a_backup(tiny_course: Path, tmp_path: Path):
    course = Course(tiny_course)
    ws, _ = open_workspace(course, tmp_path / "ws")
    lesson = course.lesson("1")
    ws.exercise_path(lesson).write_text("attempt one\n")
    first = ws.reset(course, lesson)
    ws.exercise_path(lesson).write_text("attempt two\n")
    second = ws.reset(course, lesson)
    assert first != second
    assert (first / "mod.py").read_text() == "attempt one\n"
    assert (second / "mod.py").read_text() == "attempt two\n"
    assert ws.exercise_path(lesson).read_text() == (tiny_course / "exercises/day01/mod.py").read_text()


def test_default_home_env_then_remembered_then_home(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("DLTUTOR_HOME", raising=False)
    assert default_home() == tmp_path / "home" / "dltutor"
    remember(tmp_path / "elsewhere")
    assert default_home() == (tmp_path / "elsewhere").resolve()
    monkeypatch.setenv("DLTUTOR_HOME", str(tmp_path / "env"))
    assert default_home() == tmp_path / "env"
    assert isinstance(Workspace(default_home()).db_path, Path)

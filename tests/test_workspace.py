"""The workspace: created on first use, learner files never overwritten, reset keeps a backup."""

from __future__ import annotations

from pathlib import Path

from tutor.course import Course
from tutor.workspace import Workspace, default_home, open_workspace, remember


def test_first_use_copies_starters(tiny_course: Path, tmp_path: Path):
    ws, copied, _ = open_workspace(Course(tiny_course), tmp_path / "ws")
    assert sorted(p.relative_to(ws.root).as_posix() for p in copied) == ["second-day/mod.py", "tiny-day/mod.py"]
    assert (ws.root / ".dltutor").is_dir() and (ws.root / "README.txt").is_file()
    assert open_workspace(Course(tiny_course), tmp_path / "ws")[1] == []


def test_learner_file_is_never_overwritten(tiny_course: Path, tmp_path: Path):
    course = Course(tiny_course)
    ws, _, _ = open_workspace(course, tmp_path / "ws")
    mine = ws.exercise_path(course.lesson("tiny-day"))
    mine.write_text("my work\n")
    ws.init(course)
    ws.ensure_lesson(course, course.lesson("tiny-day"))
    assert mine.read_text() == "my work\n"


def test_deleted_file_stays_deleted_until_reset(tiny_course: Path, tmp_path: Path):
    course = Course(tiny_course)
    ws, _, _ = open_workspace(course, tmp_path / "ws")
    lesson = course.lesson("tiny-day")
    ws.exercise_path(lesson).unlink()
    ws.init(course)
    assert ws.missing_files(lesson) == [ws.exercise_path(lesson)]
    assert ws.reset(course, lesson) is None
    assert ws.missing_files(lesson) == []


def test_reset_keeps_a_backup(tiny_course: Path, tmp_path: Path):
    course = Course(tiny_course)
    ws, _, _ = open_workspace(course, tmp_path / "ws")
    lesson = course.lesson("tiny-day")
    ws.exercise_path(lesson).write_text("attempt one\n")
    first = ws.reset(course, lesson)
    ws.exercise_path(lesson).write_text("attempt two\n")
    second = ws.reset(course, lesson)
    assert first != second
    assert (first / "mod.py").read_text() == "attempt one\n"
    assert (second / "mod.py").read_text() == "attempt two\n"
    assert ws.exercise_path(lesson).read_text() == (tiny_course / "exercises/tiny-day/mod.py").read_text()


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


def test_v1_day_folders_move_to_lesson_names_and_nothing_is_overwritten(tmp_path: Path):
    root = tmp_path / "ws"
    (root / "day13").mkdir(parents=True)
    (root / "day13" / "batchnorm.py").write_text("# my work\n")
    (root / "day02").mkdir()
    (root / "day02" / "perceptron.py").write_text("# old\n")
    (root / "perceptron").mkdir()
    (root / "perceptron" / "perceptron.py").write_text("# new\n")
    notices = Workspace(root).migrate_day_folders()
    assert (root / "batch-norm" / "batchnorm.py").read_text() == "# my work\n" and not (root / "day13").exists()
    assert (root / "day02" / "perceptron.py").read_text() == "# old\n"  # both kept
    assert (root / "perceptron" / "perceptron.py").read_text() == "# new\n"
    assert any("moved day13/ to batch-norm/" in n for n in notices) and any("both exist" in n for n in notices)
    assert Workspace(root).migrate_day_folders() == [n for n in notices if "both exist" in n]  # idempotent

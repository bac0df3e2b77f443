"""The course loader: valid lessons load, invalid ones name the file and the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import make_course
from tutor.course import Course, CourseError, UnknownDay, load_lesson, parse_day


@pytest.mark.parametrize("text,expected", [("13", "day13"), ("day13", "day13"), ("Day 7", "day07"),
                                           ("day-07", "day07"), ("1", "day01"), ("50", "day50")])
def test_parse_day_accepts(text: str, expected: str):
    assert parse_day(text) == expected


@pytest.mark.parametrize("text", ["day99", "0", "51", "../x", "day13/../../etc", "", "13a", "day 1 3"])
def test_parse_day_rejects_before_touching_files(text: str):
    with pytest.raises(UnknownDay):
        parse_day(text)


def test_tiny_course_loads(tiny_course: Path):
    course = Course(tiny_course)
    assert [d.id for d in course.days] == ["day01", "day02", "day03"]
    assert [l.id for l in course.lessons] == ["day01", "day02"]
    lesson = course.lesson("1")
    assert lesson.exercise.files == ("mod.py",) and lesson.check.timeout == 30
    assert lesson.exercise.hints == ("[Go] first hint", "[Go] second hint")
    with pytest.raises(UnknownDay, match="not written yet"):
        course.lesson("3")
    assert [d.id for d in course.search("second")] == ["day02"]


def _break(course_root: Path, old: str, new: str) -> Path:
    path = course_root / "lessons" / "day01.yaml"
    path.write_text(path.read_text().replace(old, new))
    return path


@pytest.mark.parametrize("old,new,message", [
    ("title: Tiny day\n", "", "missing field 'title'"),
    ("id: day01", "id: lesson1", "field 'id' must look like day07"),
    ("day: 1\n", "day: 2\n", "must agree"),
    ("timeout: 30", "timeout: -1", "check.timeout"),
    ("summary:", "sumary:", "unknown field"),
    ("files: [mod.py]", "files: [../evil.py]", "plain .py file name"),
    ("hints: [first hint, second hint]", "hints: [1, {a: b}]", "exercise.tasks[0].hints[0]"),
    ("week: 1", "week: 2", "the outline says 1"),
])
def test_invalid_lesson_names_file_and_field(tmp_path: Path, old: str, new: str, message: str):
    root = make_course(tmp_path / "c")
    _break(root, old, new)
    with pytest.raises(CourseError) as info:
        Course(root)
    assert "day01.yaml" in str(info.value) and message in str(info.value)


def test_yaml_syntax_error_gives_the_line(tmp_path: Path):
    root = make_course(tmp_path / "c")
    path = _break(root, "summary: A tiny lesson for tests.", "summary: [unclosed")
    with pytest.raises(CourseError, match=r"day01.yaml: line \d+ invalid YAML"):
        load_lesson(path)


def test_real_course_has_fifty_days_in_seven_weeks():
    course = Course()
    assert len(course.days) == 50 and len(course.weeks) == 7
    assert course.lesson("day01").title == "Introduction to Deep Learning"
    assert course.search("batch norm")[0].id == "day13"


def test_lesson_markdown_has_quiz_with_answers_after_questions():
    from tutor.lesson_text import lesson_markdown

    lesson = Course().lesson("day01")
    text = lesson_markdown(lesson)
    assert text.index("## Check yourself") < text.index("### Answers") < text.index("## References")
    assert "(b) — Gradients accumulate" in text
    short = lesson_markdown(lesson, head=False)
    assert "# Day 1" not in short and "## Objectives" not in short and "## Check yourself" in short

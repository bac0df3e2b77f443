"""The course loader: lessons by name, tracks, what a learner's text means, errors with file and line."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from conftest import make_course
from tutor.course import Course, CourseError, UnknownLesson, load_lesson
from tutor.tracks import Entry


def test_tiny_course_loads(tiny_course: Path):
    course = Course(tiny_course)
    outline = course.outline()
    assert [e.key for e in outline.entries] == ["tiny-day", "second-day", "unwritten-day"]
    assert [l.id for l in outline.lessons] == ["tiny-day", "second-day"]
    lesson = course.find("1", outline)
    assert lesson.id == "tiny-day" and lesson.exercise.files == ("mod.py",) and lesson.check.timeout == 30
    assert course.check_script(lesson).name == "tiny-day.py"
    unwritten = course.find("3", outline)
    assert isinstance(unwritten, Entry) and unwritten.kind == "planned" and unwritten.title == "Unwritten day"
    assert course.search("second") == ["second-day"]


@pytest.mark.parametrize("text", ["1", "01", "day01", "day1", "Day 1", "tiny-day", "Tiny day"])
def test_every_way_to_name_a_lesson(tiny_course: Path, text: str):
    course = Course(tiny_course)
    assert course.find(text, course.outline()).id == "tiny-day"


@pytest.mark.parametrize("text,message", [
    ("", "give a lesson"), ("day-1", "unknown lesson"), ("-1", "unknown lesson"), ("99", "items 1 to 3"),
    ("../x", "unknown lesson"), ("day13/../../etc", "unknown lesson"), ("13a", "unknown lesson"),
    ("unwritten-day", None),
])
def test_bad_names_are_refused_before_touching_files(tiny_course: Path, text: str, message: str | None):
    course = Course(tiny_course)
    if message is None:  # a planned lesson in the track is an entry, not an error
        assert isinstance(course.find(text, course.outline()), Entry)
        return
    with pytest.raises(UnknownLesson, match=message):
        course.find(text, course.outline())


def _break(course_root: Path, old: str, new: str, name: str = "tiny-day.yaml") -> Path:
    path = course_root / "lessons" / name
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new))
    return path


@pytest.mark.parametrize("old,new,message", [
    ("title: Tiny day\n", "", "missing field 'title'"),
    ("timeout: 30", "timeout: -1", "check.timeout"),
    ("summary:", "sumary:", "unknown field"),
    ("files: [mod.py]", "files: [../evil.py]", "plain .py file name"),
    ("hints: [first hint, second hint]", "hints: [1, {a: b}]", "exercise.tasks[0].hints[0]"),
])
def test_invalid_lesson_is_reported_and_the_rest_still_works(tmp_path: Path, old: str, new: str, message: str):
    root = make_course(tmp_path / "c")
    _break(root, old, new)
    course = Course(root)
    assert "tiny-day" in course.broken and message in course.broken["tiny-day"]
    assert "lessons/tiny-day.yaml:" in course.broken["tiny-day"]
    assert course.find("second-day", course.outline()).id == "second-day"  # the other lesson still works
    with pytest.raises(CourseError, match=re.escape(message)):
        course.find("1", course.outline())


def test_errors_name_the_line_of_the_field(tmp_path: Path):
    root = make_course(tmp_path / "c")
    path = _break(root, "  timeout: 30", "  timeout: thirty")
    line = next(i for i, text in enumerate(path.read_text().splitlines(), 1) if "thirty" in text)
    with pytest.raises(CourseError, match=rf"tiny-day.yaml:{line}: field 'check.timeout' must be float"):
        load_lesson(path)


def test_unclosed_quote_names_the_line_where_it_opened(tmp_path: Path):
    root = make_course(tmp_path / "c")
    path = _break(root, "title: Tiny day", 'title: "Tiny day')
    with pytest.raises(CourseError, match=r"tiny-day.yaml:1: invalid YAML.*noticed at line \d+"):
        load_lesson(path)


@pytest.mark.parametrize("old,new,message", [
    ("lessons: [second-day]", "lessons: [second-dya]", "unknown lesson 'second-dya' \\(did you mean 'second-day'"),
    ("format_version: 1", "format_version: 9", "format_version 9 is not supported"),
    ("position: \"day {n}\"", "position: \"day {x}\"", "may use"),
    ("name: 50-days", "name: fifty", "must equal the file name"),
])
def test_invalid_track_names_file_and_line(tmp_path: Path, old: str, new: str, message: str):
    root = make_course(tmp_path / "c")
    _break(root, old, new, name="tracks/50-days.yaml")
    with pytest.raises(CourseError, match=message) as info:
        Course(root)
    assert "tracks/50-days.yaml" in str(info.value)


def test_dates_out_of_order_are_an_error(tmp_path: Path):
    root = make_course(tmp_path / "c")
    path = _break(root, "{label: Day 1, title: Tiny day, lessons: [tiny-day]}",
                  "{label: Day 1, title: Tiny day, lessons: [tiny-day], date: 2026-02-01}", name="tracks/50-days.yaml")
    _break(root, "{label: Day 2, title: Second day, lessons: [second-day]}",
           "{label: Day 2, title: Second day, lessons: [second-day], date: 2026-01-01}", name="tracks/50-days.yaml")
    with pytest.raises(CourseError, match=r"tracks/50-days.yaml:\d+: item 'Day 2' is dated 2026-01-01, before"):
        Course(root)
    assert path.exists()


def test_prerequisite_after_its_dependant_is_an_error(tmp_path: Path):
    root = make_course(tmp_path / "c")
    _break(root, "summary: A tiny lesson for tests.", "summary: A tiny lesson for tests.\nprerequisites: [second-day]")
    with pytest.raises(CourseError, match="comes before its prerequisite 'second-day'"):
        Course(root)


def test_markdown_body_file_replaces_the_body_field(tmp_path: Path):
    root = make_course(tmp_path / "c")
    path = root / "lessons" / "tiny-day.yaml"
    text = path.read_text()
    start, end = text.index("body: |"), text.index("references:")
    path.write_text(text[:start] + text[end:])
    (root / "lessons" / "tiny-day.md").write_text("## From the Markdown file\n")
    assert Course(root).lessons["tiny-day"].body == "## From the Markdown file\n"


def test_real_course_tracks_and_names():
    course = Course()
    assert set(course.tracks) == {"50-days", "30-days", "12-weeks", "12-modules-course", "12-modules-design"}
    fifty = course.outline()
    assert len({e.n for e in fifty.entries}) == 50 and len(fifty.groups) == 7
    for text in ("13", "day13", "batch-norm", "Batch Normalization"):
        assert course.find(text, fifty).id == "batch-norm"
    assert course.search("batch norm")[0] == "batch-norm"
    weeks = course.outline("12-weeks")
    assert weeks.start is not None and str(weeks.start) == "2026-01-05"
    assert course.find("day13", weeks).id == "batch-norm"  # dayNN is the 50-day plan's day in every track


def test_references_are_rendered_per_track():
    course = Course()
    text = "see {{lesson:batch-norm}}; {{Lesson:dropout}} too; {{lesson:micrograd}}"
    assert course.render(text, course.outline()) == "see day 13; Day 11 too; “Micrograd from Scratch”" or \
        course.render(text, course.outline()).startswith("see day 13; Day 11 too; “")
    weeks = course.render(text, course.outline("12-weeks"))
    assert "Week" in weeks and "{{" not in weeks


def test_real_course_has_no_unrendered_or_hard_coded_day_references():
    course = Course()
    for lesson in course.lessons.values():
        rendered = course.render(lesson.body, course.outline("12-weeks"))
        assert "{{" not in rendered, lesson.id
        assert not re.search(r"\b[Dd]ay \d+\b", lesson.body), f"{lesson.id}: write {{{{lesson:slug}}}}, not 'day N'"


def test_lesson_markdown_has_quiz_with_answers_after_questions():
    from tutor.lesson_text import lesson_markdown

    lesson = Course().lessons["intro-to-deep-learning"]
    text = lesson_markdown(lesson, position="day 1")
    assert text.startswith("# Day 1: Introduction to Deep Learning")
    assert text.index("## Check yourself") < text.index("### Answers") < text.index("## References")
    assert "(b) — Gradients accumulate" in text
    short = lesson_markdown(lesson, head=False)
    assert "# Day 1" not in short and "## Objectives" not in short and "## Check yourself" in short


def test_real_course_has_no_orphans_and_every_lesson_is_in_a_track():
    from tutor.course_checks import course_problems

    assert course_problems(Course()) == []


def test_orphans_and_lessons_outside_every_track_are_reported(tmp_path: Path):
    from tutor.course_checks import course_problems

    root = make_course(tmp_path / "c")
    (root / "checks" / "ghost.py").write_text("")
    (root / "exercises" / "ghost").mkdir()
    _break(root, "lessons: [second-day]", "lessons: []", name="tracks/50-days.yaml")
    problems = course_problems(Course(root))
    assert any("checks/ghost.py: no lesson" in p for p in problems)
    assert any("exercises/ghost/: no lesson" in p for p in problems)
    assert any("second-day.yaml: in no track" in p for p in problems)

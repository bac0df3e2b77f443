"""The mutant loader and runner of `dltutor verify`, on the tiny course of conftest.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import make_course
from tutor.course import Course, CourseError
from tutor.verify import load_mutants, run_mutant, verify_lesson, verify_many

# The tiny check says "go() returned {value!r}; expected 42" in check 'go() returns 42'.
MUTANTS = """\
- name: off-by-one
  replace:
    - {old: "return 42", new: "return 41"}
  expect: "returned 41; expected 42"
  check: go() returns 42
- name: wrong-type
  file: mod.py
  replace:
    - {old: "42", new: "'42'"}
  expect: "returned '42'"
"""


@pytest.fixture
def course(tmp_path: Path) -> Course:
    return Course(make_course(tmp_path / "course"))


def write_mutants(course: Course, text: str, slug: str = "tiny-day") -> None:
    (course.root / "mutants").mkdir(exist_ok=True)
    (course.root / "mutants" / f"{slug}.yaml").write_text(text)


def test_no_mutant_file_means_no_mutants(course: Course):
    assert load_mutants(course, course.lesson("tiny-day")) == []


def test_load_mutants_reads_names_files_and_replacements(course: Course):
    write_mutants(course, MUTANTS)
    first, second = load_mutants(course, course.lesson("tiny-day"))
    assert (first.name, first.file, first.check) == ("off-by-one", "mod.py", "go() returns 42")
    assert first.replace[0].old == "return 42" and first.replace[0].new == "return 41"
    assert (second.name, second.check, second.expect) == ("wrong-type", None, "returned '42'")
    assert second.apply("def go():\n    return 42\n") == "def go():\n    return '42'\n"


@pytest.mark.parametrize("text, words", [
    (MUTANTS + "- {name: off-by-one, replace: [{old: '42', new: '43'}], expect: x}\n",
     ["mutants/tiny-day.yaml:", "'off-by-one' is used twice", "line 1"]),
    ("- {name: absent, replace: [{old: 'return 7', new: 'return 8'}], expect: x}\n",
     ["mutants/tiny-day.yaml:1", "mutant 'absent'", "does not occur", "solutions/tiny-day/mod.py"]),
    ("- {name: twice, replace: [{old: 'r', new: 'R'}], expect: x}\n",
     ["mutant 'twice'", "occurs 2 times"]),
    ("- {name: other-file, file: nope.py, replace: [{old: '42', new: '1'}], expect: x}\n",
     ["mutant 'other-file'", "'nope.py' is not an exercise file"]),
    ("- {name: no-expect, replace: [{old: '42', new: '1'}]}\n", ["missing field '[0].expect'"]),
    ("- {name: same, replace: [{old: '42', new: '42'}], expect: x}\n", ["mutant 'same'", "changes nothing"]),
    ("- {name: empty, replace: [], expect: x}\n", ["mutant 'empty'", "'replace' is empty"]),
    ("- {name: typo, replace: [{old: '42', new: '1'}], expect: x, exepct: y}\n", ["unknown field", "exepct"]),
    ("name: not-a-list\n", ["mutants/tiny-day.yaml", "must be a list"]),
])
def test_load_mutants_rejects_bad_files_naming_file_and_mutant(course: Course, text: str, words: list[str]):
    write_mutants(course, text)
    with pytest.raises(CourseError) as info:
        load_mutants(course, course.lesson("tiny-day"))
    for word in words:
        assert word in str(info.value)


def test_run_mutant_caught_and_named_leaves_the_solution_alone(course: Course):
    write_mutants(course, MUTANTS)
    lesson = course.lesson("tiny-day")
    off, wrong = load_mutants(course, lesson)
    result = run_mutant(course, lesson, off)
    assert result.caught and result.named, result
    assert result.first == "go() returns 42" and "returned 41" in result.message
    assert (course.solution_dir(lesson) / "mod.py").read_text() == "def go():\n    return 42\n"
    assert run_mutant(course, lesson, wrong).named


def test_run_mutant_reports_uncaught_and_unnamed(course: Course):
    write_mutants(course, """\
- name: harmless
  replace: [{old: "return 42", new: "return 6 * 7"}]
  expect: "anything"
- name: wrong-fragment
  replace: [{old: "return 42", new: "return 0"}]
  expect: "negative"
- name: wrong-check
  replace: [{old: "return 42", new: "return 0"}]
  expect: "returned 0"
  check: go() again
""")
    lesson = course.lesson("tiny-day")
    harmless, fragment, check = load_mutants(course, lesson)
    result = run_mutant(course, lesson, harmless)
    assert not result.caught and not result.named and "not caught" in result.problem(harmless)
    result = run_mutant(course, lesson, fragment)
    assert result.caught and not result.named and "'negative'" in result.problem(fragment)
    result = run_mutant(course, lesson, check)
    assert result.caught and not result.named, "the first failing check is 'go() returns 42'"
    assert "check 'go() again'" in result.problem(check)


def test_verify_lesson_runs_mutants_and_reports_problems(course: Course):
    write_mutants(course, MUTANTS + "- {name: harmless, replace: [{old: 'return 42', new: 'return 42 + 0'}], "
                                    "expect: x}\n")
    report = verify_lesson(course, course.lesson("tiny-day"), seeds=1)
    assert report.starter == "ok" and report.solutions == ["passed"]
    assert (report.mutants_total, report.caught, report.named) == (3, 2, 2)
    assert report.problems == ["mutant 'harmless': not caught (the check passes with it)"]


def test_verify_lesson_reports_a_broken_mutant_file(course: Course):
    write_mutants(course, "- {name: bad, replace: [{old: 'nowhere', new: 'x'}], expect: x}\n")
    report = verify_lesson(course, course.lesson("tiny-day"), seeds=1)
    assert not report.ok and report.problems[0].startswith("mutants: mutants/tiny-day.yaml:1")


def test_verify_many_runs_lessons_in_parallel(course: Course):
    write_mutants(course, MUTANTS)
    write_mutants(course, MUTANTS, "second-day")
    lessons = [course.lesson("tiny-day"), course.lesson("second-day")]
    reports = {r.day: r for r in verify_many(course, lessons, seeds=1, jobs=2)}
    assert set(reports) == {"tiny-day", "second-day"}
    assert all(r.ok and r.named == 2 for r in reports.values())

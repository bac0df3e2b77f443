"""For every lesson of the real course: the YAML validates, the starter fails with
'not implemented' on every check, the solution passes under two seeds within its timeout, and
every shipped mutant (mutants/<slug>.yaml) fails with the message it names (the code of `dltutor verify`)."""

from __future__ import annotations

import pytest

from tutor.course import Course, load_course
from tutor.verify import load_mutants, verify_lesson

COURSE = load_course()


def test_every_lesson_validates_and_has_its_files():
    course = Course()
    assert course.lessons, "the course has no lessons"
    for lesson in course.lessons.values():
        assert course.check_script(lesson).is_file(), lesson.id
        for name in lesson.exercise.files:
            assert (course.exercise_dir(lesson) / name).is_file(), f"{lesson.id}: exercises/{name}"
            assert (course.solution_dir(lesson) / name).is_file(), f"{lesson.id}: solutions/{name}"
        assert len(lesson.body.splitlines()) >= 40, f"{lesson.id}: the lesson body is too short to teach"
        assert all(t.hints for t in lesson.exercise.tasks), f"{lesson.id}: every task needs hints"


@pytest.mark.parametrize("day", list(COURSE.lessons))
def test_starter_fails_and_solution_passes(day: str):
    report = verify_lesson(COURSE, COURSE.lesson(day), seeds=2, device="cpu")
    assert report.ok, "\n".join(report.problems)
    assert report.named == report.mutants_total


@pytest.mark.parametrize("day", list(COURSE.lessons))
def test_every_lesson_ships_mutants_that_load(day: str):
    """Every lesson proves its diagnoses: at least one mutant, and the file validates."""
    assert load_mutants(COURSE, COURSE.lesson(day)), f"mutants/{day}.yaml is missing or empty"

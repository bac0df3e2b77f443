"""The course as data: lessons/outline.yaml (the 50 days) and lessons/dayNN.yaml.

YAML is read with `safe_load` into frozen dataclasses and validated; an invalid
lesson raises CourseError naming the file and the field (and the line when known).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from tutor.paths import course_root

DAY_ID = re.compile(r"^day(\d{2})$")
LAST_DAY = 50
CHECK_TIERS = ("cpu", "gpu")


class CourseError(Exception):
    """An invalid lesson or outline; the message names the file and the field."""


class UnknownDay(ValueError):
    """A day id that is not in the course (message says why, and suggests)."""


def parse_day(text: str) -> str:
    """'13', 'day13', 'Day 13', 'day-13' -> 'day13'. Anything else raises UnknownDay."""
    raw = str(text).strip()
    match = re.fullmatch(r"(?i)(?:day[\s_-]?)?0*(\d{1,2})", raw)
    if not match or not 1 <= int(match.group(1)) <= LAST_DAY:
        hint = ""
        if re.fullmatch(r"(?i)(?:day[\s_-]?)?\d+", raw):
            hint = f" (the course has days 1 to {LAST_DAY})"
        raise UnknownDay(f"unknown day {raw!r}{hint}; use a number like 13 or an id like day13")
    return f"day{int(match.group(1)):02d}"


@dataclass(frozen=True)
class Reference:
    kind: str
    title: str
    authors: str = ""
    year: int | None = None
    url: str = ""


@dataclass(frozen=True)
class Task:
    id: str
    title: str
    description: str
    hints: tuple[str, ...] = ()


@dataclass(frozen=True)
class Exercise:
    files: tuple[str, ...]
    tasks: tuple[Task, ...]

    @property
    def hints(self) -> tuple[str, ...]:
        """All hints in order: task by task, each task's from gentle to explicit."""
        return tuple(f"[{t.title}] {h}" for t in self.tasks for h in t.hints)


@dataclass(frozen=True)
class CheckSpec:
    script: str
    timeout: float = 120.0
    tier: str = "cpu"


@dataclass(frozen=True)
class QuizItem:
    question: str
    choices: tuple[str, ...]
    answer: int
    explain: str = ""


@dataclass(frozen=True)
class Lesson:
    id: str
    day: int
    week: int
    title: str
    summary: str
    objectives: tuple[str, ...]
    concepts: tuple[str, ...]
    key_learnings: tuple[str, ...]
    body: str
    references: tuple[Reference, ...]
    exercise: Exercise
    check: CheckSpec
    quiz: tuple[QuizItem, ...] = ()
    path: Path = field(default=Path(), compare=False)


@dataclass(frozen=True)
class DayEntry:
    """One day of the outline; `lesson` is None where the lesson is not written yet."""

    id: str
    day: int
    week: int
    title: str
    lesson: Lesson | None


@dataclass(frozen=True)
class Week:
    number: int
    title: str
    days: tuple[DayEntry, ...]


# -- validation helpers -------------------------------------------------------------
class _Fields:
    """Reads typed fields from a mapping, raising CourseError with file and field."""

    def __init__(self, data: Any, where: str, prefix: str = ""):
        if not isinstance(data, dict):
            raise CourseError(f"{where}: {prefix or 'the file'} must be a mapping, got {type(data).__name__}")
        self.data, self.where, self.prefix = data, where, prefix

    def _name(self, key: str) -> str:
        return f"{self.prefix}{key}"

    def get(self, key: str, kind: type | tuple[type, ...], default: Any = ..., ) -> Any:
        if key not in self.data or self.data[key] is None:
            if default is ...:
                raise CourseError(f"{self.where}: missing field '{self._name(key)}'")
            return default
        value = self.data[key]
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
            want = kind.__name__ if isinstance(kind, type) else "/".join(k.__name__ for k in kind)
            raise CourseError(f"{self.where}: field '{self._name(key)}' must be {want}, got {type(value).__name__}")
        return value

    def text(self, key: str, default: Any = ...) -> str:
        value = self.get(key, str, default)
        if default is ... and not value.strip():
            raise CourseError(f"{self.where}: field '{self._name(key)}' is empty")
        return value

    def strings(self, key: str, default: Any = ...) -> tuple[str, ...]:
        items = self.get(key, list, default)
        for i, item in enumerate(items):
            if not isinstance(item, str):
                raise CourseError(f"{self.where}: field '{self._name(key)}[{i}]' must be a string")
        return tuple(items)

    def unknown(self, allowed: set[str]) -> None:
        extra = sorted(set(self.data) - allowed)
        if extra:
            raise CourseError(f"{self.where}: unknown field(s) {', '.join(repr(self._name(e)) for e in extra)}")


LESSON_FIELDS = {"id", "day", "week", "title", "summary", "objectives", "concepts", "key_learnings",
                 "body", "references", "exercise", "check", "quiz"}


def _reference(data: Any, where: str, i: int) -> Reference:
    f = _Fields(data, where, f"references[{i}].")
    f.unknown({"kind", "title", "authors", "year", "url"})
    return Reference(f.text("kind"), f.text("title"), f.get("authors", str, ""), f.get("year", int, None),
                     f.get("url", str, ""))


def _task(data: Any, where: str, i: int) -> Task:
    f = _Fields(data, where, f"exercise.tasks[{i}].")
    f.unknown({"id", "title", "description", "hints"})
    return Task(f.text("id"), f.text("title"), f.text("description"), f.strings("hints", []))


def _exercise(data: Any, where: str) -> Exercise:
    f = _Fields(data, where, "exercise.")
    f.unknown({"files", "tasks"})
    files = f.strings("files")
    for name in files:
        if "/" in name or "\\" in name or not name.endswith(".py") or name.startswith("."):
            raise CourseError(f"{where}: exercise.files entry {name!r} must be a plain .py file name")
    tasks = tuple(_task(t, where, i) for i, t in enumerate(f.get("tasks", list)))
    if not files or not tasks:
        raise CourseError(f"{where}: exercise needs at least one file and one task")
    ids = [t.id for t in tasks]
    if len(set(ids)) != len(ids):
        raise CourseError(f"{where}: exercise.tasks ids must be unique, got {ids}")
    return Exercise(files, tasks)


def _check(data: Any, where: str) -> CheckSpec:
    f = _Fields(data, where, "check.")
    f.unknown({"script", "timeout", "tier"})
    spec = CheckSpec(f.text("script"), f.get("timeout", float, 120.0), f.get("tier", str, "cpu"))
    if spec.tier not in CHECK_TIERS:
        raise CourseError(f"{where}: field 'check.tier' must be one of {CHECK_TIERS}, got {spec.tier!r}")
    if not 0 < spec.timeout <= 3600:
        raise CourseError(f"{where}: field 'check.timeout' must be between 0 and 3600 seconds")
    return spec


def _quiz(data: Any, where: str, i: int) -> QuizItem:
    f = _Fields(data, where, f"quiz[{i}].")
    f.unknown({"question", "choices", "answer", "explain"})
    item = QuizItem(f.text("question"), f.strings("choices"), f.get("answer", int), f.get("explain", str, ""))
    if not 0 <= item.answer < len(item.choices):
        raise CourseError(f"{where}: field 'quiz[{i}].answer' must index one of the {len(item.choices)} choices")
    return item


# The C loader is about 10x faster (it matters for the TUI's first paint); both are "safe".
_SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _read_yaml(path: Path) -> Any:
    try:
        return yaml.load(path.read_text(encoding="utf-8"), Loader=_SafeLoader)  # noqa: S506 (a safe loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" line {mark.line + 1}" if mark is not None else ""
        raise CourseError(f"{path.name}:{line} invalid YAML: {getattr(exc, 'problem', exc)}") from None
    except OSError as exc:
        raise CourseError(f"{path}: cannot read: {exc.strerror}") from None


def load_lesson(path: Path) -> Lesson:
    """Read and validate one lesson file."""
    where = path.name
    f = _Fields(_read_yaml(path), where)
    f.unknown(LESSON_FIELDS)
    lesson_id = f.text("id")
    if not DAY_ID.match(lesson_id):
        raise CourseError(f"{where}: field 'id' must look like day07, got {lesson_id!r}")
    day = f.get("day", int)
    if lesson_id != f"day{day:02d}" or path.stem != lesson_id:
        raise CourseError(f"{where}: 'id' ({lesson_id}), 'day' ({day}) and the file name must agree")
    return Lesson(
        id=lesson_id, day=day, week=f.get("week", int), title=f.text("title"), summary=f.text("summary"),
        objectives=f.strings("objectives"), concepts=f.strings("concepts"),
        key_learnings=f.strings("key_learnings"), body=f.text("body"),
        references=tuple(_reference(r, where, i) for i, r in enumerate(f.get("references", list))),
        exercise=_exercise(f.get("exercise", dict), where), check=_check(f.get("check", dict), where),
        quiz=tuple(_quiz(q, where, i) for i, q in enumerate(f.get("quiz", list, []))), path=path,
    )


class Course:
    """The whole course: the outline's weeks and days, with the lessons that exist."""

    def __init__(self, root: Path | None = None):
        self.root = (root or course_root()).resolve()
        self.weeks = self._load()
        self._by_id = {d.id: d for w in self.weeks for d in w.days}

    def _load(self) -> tuple[Week, ...]:
        outline_path = self.root / "lessons" / "outline.yaml"
        f = _Fields(_read_yaml(outline_path), outline_path.name)
        weeks = []
        for wi, w in enumerate(f.get("weeks", list)):
            wf = _Fields(w, outline_path.name, f"weeks[{wi}].")
            number = wf.get("week", int)
            days = []
            for di, d in enumerate(wf.get("days", list)):
                df = _Fields(d, outline_path.name, f"weeks[{wi}].days[{di}].")
                n = df.get("day", int)
                day_id = f"day{n:02d}"
                lesson_path = self.root / "lessons" / f"{day_id}.yaml"
                lesson = load_lesson(lesson_path) if lesson_path.is_file() else None
                if lesson is not None and lesson.week != number:
                    raise CourseError(f"{lesson_path.name}: field 'week' is {lesson.week}; the outline says {number}")
                days.append(DayEntry(day_id, n, number, lesson.title if lesson else df.text("title"), lesson))
            weeks.append(Week(number, wf.text("title"), tuple(days)))
        return tuple(weeks)

    @property
    def days(self) -> list[DayEntry]:
        return [d for w in self.weeks for d in w.days]

    @property
    def lessons(self) -> list[Lesson]:
        return [d.lesson for d in self.days if d.lesson is not None]

    def entry(self, text: str) -> DayEntry:
        """The outline entry for a day id or number; UnknownDay if it is not in the course."""
        day_id = parse_day(text)
        if day_id not in self._by_id:
            raise UnknownDay(f"{day_id} is not in the course outline")
        return self._by_id[day_id]

    def lesson(self, text: str) -> Lesson:
        """The written lesson for a day; UnknownDay (with what exists) when it is not written yet."""
        entry = self.entry(text)
        if entry.lesson is None:
            written = [l.id for l in self.lessons]
            span = f"{written[0]}–{written[-1]}" if written else "none yet"
            raise UnknownDay(f"{entry.id} ({entry.title}) is not written yet; lessons available: {span}")
        return entry.lesson

    def search(self, words: str) -> list[DayEntry]:
        """Days whose title, summary or concepts contain every word ('batch norm' -> day13).

        Days whose title holds every word come first.
        """
        terms = [w.lower() for w in words.split()]
        in_title, in_text = [], []
        for d in self.days:
            title = d.title.lower()
            hay = title
            if d.lesson:
                hay += " " + " ".join((d.lesson.summary, *d.lesson.concepts, *d.lesson.key_learnings)).lower()
            if all(t in title for t in terms):
                in_title.append(d)
            elif all(t in hay for t in terms):
                in_text.append(d)
        return in_title + in_text

    def exercise_dir(self, lesson: Lesson) -> Path:
        return self.root / "exercises" / lesson.id

    def solution_dir(self, lesson: Lesson) -> Path:
        return self.root / "solutions" / lesson.id

    def check_script(self, lesson: Lesson) -> Path:
        return self.root / "checks" / lesson.check.script


@lru_cache(maxsize=4)
def load_course(root: Path | None = None) -> Course:
    """The course, loaded once per root."""
    return Course(root)

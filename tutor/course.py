"""The course as data: lessons keyed by a stable name (slug), and the tracks that order them.

`lessons/<slug>.yaml` (+ optional `lessons/<slug>.md` body), `exercises/<slug>/`,
`solutions/<slug>/`, `checks/<slug>.py`, `mutants/<slug>.yaml`; `lessons/planned.yaml` declares
lessons not written yet; `lessons/tracks/*.yaml` are the course plans. A broken lesson file is
recorded in `Course.broken` and the rest of the course still works.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from tutor.course_yaml import CourseError, Fields, read_yaml
from tutor.paths import course_root
from tutor.tracks import SLUG, Entry, Outline, Track, UnknownLesson, load_track

__all__ = ["Course", "CourseError", "Entry", "Lesson", "Outline", "UnknownLesson", "load_course"]

DEFAULT_TRACK = "50-days"
CHECK_TIERS = ("cpu", "gpu")
LEGACY_ID = re.compile(r"(?i)^day[ _]?0*(\d{1,2})$")  # day13, Day 13: the 50-day plan's day, in any track
NUMBER = re.compile(r"^0*(\d{1,3})$")


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

    def task(self, task_id: str) -> Task | None:
        return next((t for t in self.tasks if t.id == task_id), None)


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
    id: str  # the slug: stable forever, progress and the workspace folder are keyed by it
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
    prerequisites: tuple[str, ...] = ()
    standalone: bool = False
    path: Path = field(default=Path(), compare=False)


LESSON_FIELDS = {"title", "summary", "objectives", "concepts", "key_learnings", "body", "references",
                 "exercise", "check", "quiz", "prerequisites", "standalone"}


def _reference(f: Fields) -> Reference:
    f.unknown({"kind", "title", "authors", "year", "url"})
    return Reference(f.text("kind"), f.text("title"), f.get("authors", str, ""), f.get("year", int, None),
                     f.get("url", str, ""))


def _task(f: Fields) -> Task:
    f.unknown({"id", "title", "description", "hints"})
    return Task(f.text("id"), f.text("title"), f.text("description"), f.strings("hints", []))


def _exercise(f: Fields) -> Exercise:
    f.unknown({"files", "tasks"})
    files = f.strings("files")
    for name in files:
        if "/" in name or "\\" in name or not name.endswith(".py") or name.startswith("."):
            raise f.fail("files", f"exercise.files entry {name!r} must be a plain .py file name")
    tasks = tuple(_task(f.sub(t, f"tasks[{i}].")) for i, t in f.items("tasks"))
    if not files or not tasks:
        raise f.fail(None, "exercise needs at least one file and one task")
    ids = [t.id for t in tasks]
    if len(set(ids)) != len(ids):
        raise f.fail("tasks", f"exercise.tasks ids must be unique, got {ids}")
    return Exercise(files, tasks)


def _check(f: Fields, slug: str) -> CheckSpec:
    f.unknown({"script", "timeout", "tier"})
    spec = CheckSpec(f.get("script", str, f"{slug}.py"), f.get("timeout", float, 120.0), f.get("tier", str, "cpu"))
    if spec.tier not in CHECK_TIERS:
        raise f.fail("tier", f"field 'check.tier' must be one of {CHECK_TIERS}, got {spec.tier!r}")
    if not 0 < spec.timeout <= 3600:
        raise f.fail("timeout", "field 'check.timeout' must be between 0 and 3600 seconds")
    return spec


def _quiz(f: Fields, i: int) -> QuizItem:
    f.unknown({"question", "choices", "answer", "explain"})
    item = QuizItem(f.text("question"), f.strings("choices"), f.get("answer", int), f.get("explain", str, ""))
    if not 0 <= item.answer < len(item.choices):
        raise f.fail("answer", f"field 'quiz[{i}].answer' must index one of the {len(item.choices)} choices")
    return item


def load_lesson(path: Path) -> Lesson:
    """Read and validate one lesson file (and its Markdown body file, when there is one)."""
    where = f"lessons/{path.name}"
    slug = path.stem
    if not SLUG.match(slug):
        raise CourseError(f"{where}: the file name must be a lesson name (lowercase words joined by '-')")
    f = Fields(read_yaml(path, where), where)
    f.unknown(LESSON_FIELDS)
    body_file = path.with_suffix(".md")
    if body_file.is_file():
        if "body" in f.data:
            raise f.fail("body", f"the body is in both lessons/{body_file.name} and the 'body' field; keep one")
        body = body_file.read_text(encoding="utf-8")
    else:
        body = f.text("body")
    return Lesson(
        id=slug, title=f.text("title"), summary=f.text("summary"),
        objectives=f.strings("objectives"), concepts=f.strings("concepts"),
        key_learnings=f.strings("key_learnings"), body=body,
        references=tuple(_reference(f.sub(r, f"references[{i}].")) for i, r in f.items("references")),
        exercise=_exercise(f.sub(f.get("exercise", dict), "exercise.")),
        check=_check(f.sub(f.get("check", dict), "check."), slug),
        quiz=tuple(_quiz(f.sub(q, f"quiz[{i}]."), i) for i, q in f.items("quiz", [])),
        prerequisites=f.strings("prerequisites", []), standalone=f.get("standalone", bool, False), path=path,
    )


def _load_planned(path: Path) -> dict[str, tuple[str, str]]:
    """lessons/planned.yaml: {slug: (title, summary)} of lessons not written yet."""
    if not path.is_file():
        return {}
    where = f"lessons/{path.name}"
    f = Fields(read_yaml(path, where), where)
    f.unknown({"format_version", "planned"})
    planned: dict[str, tuple[str, str]] = {}
    for i, p in f.items("planned"):
        pf = f.sub(p, f"planned[{i}].")
        pf.unknown({"slug", "title", "summary"})
        slug = pf.text("slug")
        if not SLUG.match(slug) or slug in planned:
            raise pf.fail("slug", f"{slug!r} is not a lesson name, or is declared twice")
        planned[slug] = (pf.text("title"), pf.get("summary", str, ""))
    return planned


class Course:
    """Every lesson (by slug), the planned ones, and the tracks; `outline(track)` for the fronts."""

    def __init__(self, root: Path | None = None):
        self.root = (root or course_root()).resolve()
        lessons_dir = self.root / "lessons"
        self.lessons: dict[str, Lesson] = {}
        self.broken: dict[str, str] = {}  # slug -> the error, for lesson files that do not load
        for path in sorted(lessons_dir.glob("*.yaml")):
            if path.name == "planned.yaml":
                continue
            try:
                self.lessons[path.stem] = load_lesson(path)
            except CourseError as exc:
                self.broken[path.stem] = str(exc)
        self.planned = _load_planned(lessons_dir / "planned.yaml")
        for slug in set(self.planned) & (set(self.lessons) | set(self.broken)):
            raise CourseError(f"lessons/planned.yaml: {slug!r} is written (lessons/{slug}.yaml); remove it from planned")
        self.tracks: dict[str, Track] = {}
        for path in sorted((lessons_dir / "tracks").glob("*.yaml")):
            track = load_track(path)
            self._check_slugs(track)
            self.tracks[track.name] = track
        if DEFAULT_TRACK not in self.tracks:
            raise CourseError(f"lessons/tracks/{DEFAULT_TRACK}.yaml is missing: it is the default track")

    def _check_slugs(self, track: Track) -> None:
        known = set(self.lessons) | set(self.broken) | set(self.planned)
        order: dict[str, int] = {}
        for n, item in enumerate(track.items, 1):
            for slug in item.lessons:
                if slug not in known:
                    close = difflib.get_close_matches(slug, sorted(known), n=1)
                    hint = f" (did you mean {close[0]!r}?)" if close else " (add it to lessons/planned.yaml)"
                    raise CourseError(f"tracks/{track.name}.yaml:{item.line}: unknown lesson {slug!r}{hint}")
                order.setdefault(slug, n)
        for slug, n in order.items():
            lesson = self.lessons.get(slug)
            for pre in lesson.prerequisites if lesson else ():
                if pre in order and order[pre] > n:
                    raise CourseError(f"tracks/{track.name}.yaml: {slug!r} (item {n}) comes before its "
                                      f"prerequisite {pre!r} (item {order[pre]})")

    # -- views ------------------------------------------------------------------------
    def titles(self) -> dict[str, tuple[str, str]]:
        """{slug: (title, summary)} for written and planned lessons."""
        out = dict(self.planned)
        out.update({s: (l.title, l.summary) for s, l in self.lessons.items()})
        return out

    def outline(self, track: str | None = None, start: dt.date | None = None) -> Outline:
        name = track or DEFAULT_TRACK
        if name not in self.tracks:
            raise UnknownLesson(f"unknown track {name!r}; tracks: {', '.join(self.tracks)}")
        return Outline(self.tracks[name], self.lessons, self.titles(), self.broken, start)

    def lesson(self, slug: str) -> Lesson:
        if slug in self.broken:
            raise CourseError(self.broken[slug])
        if slug not in self.lessons:
            raise UnknownLesson(f"unknown lesson {slug!r}")
        return self.lessons[slug]

    def render(self, text: str, outline: Outline) -> str:
        """Lesson prose with its {{lesson:slug}} references written as places in the track."""
        return outline.render_refs(text, {s: t for s, (t, _) in self.titles().items()})

    # -- what a learner's text means ----------------------------------------------------
    def find(self, text: str, outline: Outline) -> Entry | Lesson:
        """'13' (item 13 of the track), 'day13' (50-day day 13), 'batch-norm', or a title.

        Returns the lesson, or the track entry when the text names an item; UnknownLesson otherwise.
        """
        raw = str(text).strip()
        if not raw:
            raise UnknownLesson("give a lesson: a number like 13, an id like day13 or a name like batch-norm")
        slug = raw.lower()
        if slug in self.lessons or slug in self.broken:
            return self.lesson(slug)
        if slug in self.planned:
            title = self.planned[slug][0]
            found = outline.entries_for(slug)
            if found:
                return found[0]
            raise UnknownLesson(f"{slug} ({title}) is not written yet")
        legacy, number = LEGACY_ID.match(raw), NUMBER.match(raw)
        if legacy or number:
            view = self.outline(DEFAULT_TRACK) if legacy else outline
            n = int((legacy or number).group(1))  # type: ignore[union-attr]
            entries = view.item(n)
            if not entries:
                count = len({e.n for e in view.entries})
                raise UnknownLesson(f"{raw!r} is not in the {view.name} track (it has items 1 to {count})")
            if len(entries) == 1:
                e = entries[0]
                return self.lesson(e.slug) if e.kind == "broken" and e.slug else (e.lesson or e)
            names = ", ".join(f"{e.slug} ({e.title})" for e in entries if e.slug)
            raise UnknownLesson(f"item {n} of {view.name} ({entries[0].item_title}) covers {len(entries)} lessons: "
                                f"{names}; name one")
        return self._suggest(raw, outline)

    def _suggest(self, raw: str, outline: Outline) -> Lesson:
        exact = [l for l in self.lessons.values() if l.title.lower() == raw.lower()]
        if len(exact) == 1:
            return exact[0]
        found = self.search(raw)
        written = [s for s in found if s in self.lessons]
        if written:
            names = ", ".join(f"{s} ({self.lessons[s].title})" for s in written[:3])
            raise UnknownLesson(f"unknown lesson {raw!r} — did you mean {names}?")
        if found:
            raise UnknownLesson(f"unknown lesson {raw!r} — {found[0]} ({self.titles()[found[0]][0]}) matches, "
                                f"but it is not written yet")
        words = [re.sub(r"\W+", " ", raw.lower()).strip()] if re.search(r"[a-z]", raw.lower()) else []
        titles = {l.title.lower(): s for s, l in self.lessons.items()}
        close = difflib.get_close_matches(words[0], list(titles), n=1) if words else []
        hint = f" — did you mean {titles[close[0]]} ({self.lessons[titles[close[0]]].title})?" if close else ""
        raise UnknownLesson(f"unknown lesson {raw!r}{hint}; use a number like 13, an id like day13 or a name "
                            f"like batch-norm (`dltutor list` shows them)")

    def search(self, words: str) -> list[str]:
        """Slugs whose title, summary or concepts contain every word ('batch norm' -> batch-norm).

        Lessons whose title holds every word come first; written lessons before planned ones.
        """
        terms = [w.lower() for w in words.split()]
        if not terms:
            return []
        in_title, in_text = [], []
        for slug, (title, summary) in self.titles().items():
            lesson = self.lessons.get(slug)
            hay = " ".join((slug.replace("-", " "), title, summary, *(lesson.concepts if lesson else ()),
                            *(lesson.key_learnings if lesson else ()))).lower()
            if all(t in title.lower() or t in slug for t in terms):
                in_title.append(slug)
            elif all(t in hay for t in terms):
                in_text.append(slug)
        rank = lambda s: s not in self.lessons  # noqa: E731 (written first)
        return sorted(in_title, key=rank) + sorted(in_text, key=rank)

    # -- files --------------------------------------------------------------------------
    def exercise_dir(self, lesson: Lesson) -> Path:
        return self.root / "exercises" / lesson.id

    def solution_dir(self, lesson: Lesson) -> Path:
        return self.root / "solutions" / lesson.id

    def check_script(self, lesson: Lesson) -> Path:
        return self.root / "checks" / lesson.check.script

    def mutants_file(self, lesson: Lesson) -> Path:
        return self.root / "mutants" / f"{lesson.id}.yaml"


@lru_cache(maxsize=4)
def load_course(root: Path | None = None) -> Course:
    """The course, loaded once per root."""
    return Course(root)

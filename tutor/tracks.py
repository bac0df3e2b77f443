"""Tracks: the course plans (lessons/tracks/<name>.yaml) as ordered, optionally dated groups of items.

A track item names the lessons (slugs) that teach it. `Outline` is one track seen by the fronts:
its groups and entries (one entry per item and lesson), what a learner's text means in it
("13", "day13", "batch-norm"), how it writes a lesson's place ("day 13", "Week 4, Mon").
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tutor.course_yaml import CourseError, Fields, read_yaml

if TYPE_CHECKING:
    from tutor.course import Lesson

TRACK_FORMAT = 1
SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
ITEM_KINDS = ("lesson", "reading")
POSITION_FIELDS = {"group", "item", "n"}


@dataclass(frozen=True)
class Item:
    label: str
    title: str
    lessons: tuple[str, ...]
    summary: str = ""
    kind: str = "lesson"
    date: dt.date | None = None
    end: dt.date | None = None
    line: int = 0


@dataclass(frozen=True)
class Group:
    label: str
    title: str
    items: tuple[Item, ...]


@dataclass(frozen=True)
class Track:
    name: str
    title: str
    description: str
    position: str
    groups: tuple[Group, ...]
    source: str = ""
    start: dt.date | None = None
    path: Path = field(default=Path(), compare=False)

    @property
    def items(self) -> list[Item]:
        return [i for g in self.groups for i in g.items]

    @property
    def dated(self) -> bool:
        return any(i.date for i in self.items)

    def slugs(self) -> list[str]:
        return [s for i in self.items for s in i.lessons]


def _date(f: Fields, key: str) -> dt.date | None:
    value = f.get(key, (dt.date, str), None)
    if value is None or isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise f.fail(key, f"field '{f.name(key)}' must be a date like 2026-01-05, got {value!r}") from None


def _item(f: Fields) -> Item:
    f.unknown({"label", "title", "summary", "lessons", "kind", "date", "end"})
    item = Item(f.text("label"), f.text("title"), f.strings("lessons", []), f.get("summary", str, ""),
                f.get("kind", str, "lesson"), _date(f, "date"), _date(f, "end"), f.line)
    if item.kind not in ITEM_KINDS:
        raise f.fail("kind", f"field '{f.name('kind')}' must be one of {ITEM_KINDS}, got {item.kind!r}")
    for slug in item.lessons:
        if not SLUG.match(slug):
            raise f.fail("lessons", f"{slug!r} is not a lesson name (lowercase words joined by '-')")
    if item.end and (item.date is None or item.end < item.date):
        raise f.fail("end", f"field '{f.name('end')}' ({item.end}) must come after 'date' ({item.date})")
    return item


def load_track(path: Path, label: str | None = None) -> Track:
    """Read and validate the shape of one track file (slugs are checked against the course later)."""
    where = label or f"tracks/{path.name}"
    f = Fields(read_yaml(path, where), where)
    f.unknown({"format_version", "name", "title", "source", "description", "position", "start", "groups"})
    version = f.get("format_version", int)
    if version != TRACK_FORMAT:
        raise f.fail("format_version", f"format_version {version} is not supported (this dltutor reads {TRACK_FORMAT})")
    name = f.text("name")
    if name != path.stem:
        raise f.fail("name", f"field 'name' ({name}) must equal the file name ({path.stem})")
    position = f.text("position")
    unknown = set(re.findall(r"{(\w*)}", position)) - POSITION_FIELDS
    if unknown:
        raise f.fail("position", f"field 'position' may use {{group}}, {{item}} and {{n}}, not {sorted(unknown)}")
    groups = []
    for gi, g in f.items("groups"):
        gf = f.sub(g, f"groups[{gi}].")
        gf.unknown({"label", "title", "items"})
        items = tuple(_item(gf.sub(it, f"items[{ii}].")) for ii, it in gf.items("items"))
        if not items:
            raise gf.fail("items", "a group needs at least one item")
        groups.append(Group(gf.text("label"), gf.text("title"), items))
    track = Track(name, f.text("title"), f.get("description", str, ""), position, tuple(groups),
                  f.get("source", str, ""), _date(f, "start"), path)
    previous: Item | None = None
    for item in track.items:
        if item.date and previous and previous.date and item.date < previous.date:
            raise CourseError(f"{where}:{item.line}: item {item.label!r} is dated {item.date}, "
                              f"before the item above it ({previous.date})")
        previous = item if item.date else previous
    return track


# -- the fronts' view of one track ----------------------------------------------------
@dataclass(frozen=True)
class Entry:
    """One row of a track's outline: an item and one of its lessons (or the item alone)."""

    key: str          # unique in the outline: the slug, 'slug@n' when a lesson recurs, 'item-n'
    n: int            # item number in the track, from 1 (`dltutor check 13` is item 13)
    group: int        # group number, from 1
    label: str        # the item's label ("Day 13", "Mon")
    item_title: str
    title: str        # the lesson's title when it is written, else the planned or item title
    kind: str         # "lesson", "planned", "reading", "broken"
    slug: str | None = None
    lesson: "Lesson | None" = None
    summary: str = ""
    date: dt.date | None = None
    end: dt.date | None = None


@dataclass(frozen=True)
class OutlineGroup:
    number: int
    label: str
    title: str
    entries: tuple[Entry, ...]


class UnknownLesson(ValueError):
    """A learner's text that names no lesson of the course (the message says why and suggests)."""


class Outline:
    """One track as the fronts see it, with the learner's start date applied."""

    def __init__(self, track: Track, lessons: dict[str, "Lesson"], titles: dict[str, tuple[str, str]],
                 broken: dict[str, str], start: dt.date | None = None):
        self.track = track
        self.shift = dt.timedelta(0)
        if start and track.start:
            self.shift = start - track.start
        self.start = (track.start + self.shift) if track.start else None
        self.groups = tuple(self._groups(lessons, titles, broken))
        self.entries = [e for g in self.groups for e in g.entries]
        self._by_key = {e.key: e for e in self.entries}

    def _groups(self, lessons: dict[str, "Lesson"], titles: dict[str, tuple[str, str]], broken: dict[str, str]):
        seen: set[str] = set()
        n = 0
        for gi, group in enumerate(self.track.groups, 1):
            entries = []
            for item in group.items:
                n += 1
                date = item.date + self.shift if item.date else None
                end = item.end + self.shift if item.end else None
                base = Entry(f"item-{n}", n, gi, item.label, item.title, item.title,
                             "reading" if item.kind == "reading" else "planned", None, None, item.summary, date, end)
                if not item.lessons:
                    entries.append(base)
                for slug in item.lessons:
                    key = slug if slug not in seen else f"{slug}@{n}"
                    seen.add(slug)
                    lesson = lessons.get(slug)
                    kind = "lesson" if lesson else ("broken" if slug in broken else "planned")
                    title, summary = (lesson.title, lesson.summary) if lesson else titles.get(slug, (slug, ""))
                    if kind == "broken":
                        summary = broken[slug]  # the error, for the fronts to show
                    entries.append(replace(base, key=key, title=title, kind=kind, slug=slug, lesson=lesson,
                                           summary=summary or item.summary))
            yield OutlineGroup(gi, group.label, group.title, tuple(entries))

    @property
    def name(self) -> str:
        return self.track.name

    @property
    def lessons(self) -> list["Lesson"]:
        """The written lessons in track order, each once."""
        out: dict[str, "Lesson"] = {}
        for e in self.entries:
            if e.lesson is not None:
                out.setdefault(e.lesson.id, e.lesson)
        return list(out.values())

    def entry(self, key: str) -> Entry:
        return self._by_key[key]

    def entries_for(self, slug: str) -> list[Entry]:
        return [e for e in self.entries if e.slug == slug]

    def item(self, n: int) -> list[Entry]:
        return [e for e in self.entries if e.n == n]

    def position(self, slug: str) -> str | None:
        """Where the lesson stands in this track ('day 13', 'Week 4, Mon'), or None when it is not in it."""
        found = self.entries_for(slug)
        if not found:
            return None
        e = found[0]
        group = self.groups[e.group - 1]
        return self.track.position.format(group=group.label, item=e.label, n=e.n)

    def render_refs(self, text: str, titles: dict[str, str]) -> str:
        """Replace {{lesson:slug}} (and {{Lesson:slug}} at a sentence start) with the lesson's place."""
        def one(match: re.Match[str]) -> str:
            cap, slug = match.group(1) == "Lesson", match.group(2)
            where = self.position(slug)
            if where is None:
                return f"“{titles.get(slug, slug)}”"
            return where[:1].upper() + where[1:] if cap else where
        return LESSON_REF.sub(one, text)


LESSON_REF = re.compile(r"{{(lesson|Lesson):([a-z0-9-]+)}}")

"""Dated tracks: what is due this week, what is overdue, how far ahead or behind the learner is."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Mapping

from tutor.tracks import Entry, Outline


@dataclass
class Schedule:
    today: dt.date
    this_week: list[Entry] = field(default_factory=list)
    overdue: list[Entry] = field(default_factory=list)   # due before today, a lesson not passed
    ahead: list[Entry] = field(default_factory=list)     # due after today, already passed
    next: Entry | None = None                            # the first lesson entry not passed

    @property
    def sessions_behind(self) -> int:
        return len({e.n for e in self.overdue})

    @property
    def sessions_ahead(self) -> int:
        return len({e.n for e in self.ahead})

    def headline(self) -> str:
        """'2 sessions behind: Transfer Learning was due Wed 4 Feb' (or ahead, or on schedule)."""
        if self.overdue:
            first = self.overdue[0]
            plural = "s" if self.sessions_behind != 1 else ""
            return f"{self.sessions_behind} session{plural} behind: {first.title} was due {day_text(first.date)}"
        if self.ahead:
            plural = "s" if self.sessions_ahead != 1 else ""
            return f"{self.sessions_ahead} session{plural} ahead of schedule"
        return "on schedule"


def day_text(day: dt.date | None) -> str:
    return f"{day:%a} {day.day} {day:%b}" if day else ""


def schedule(outline: Outline, progress: Mapping[str, object], today: dt.date) -> Schedule | None:
    """The learner's standing in a dated track; None when the track has no dates."""
    if not any(e.date for e in outline.entries):
        return None
    monday = today - dt.timedelta(days=today.weekday())
    sunday = monday + dt.timedelta(days=6)
    result = Schedule(today)
    for e in outline.entries:
        done = e.slug is not None and getattr(progress.get(e.slug), "status", "") == "passed"
        last_day = e.end or e.date
        if e.date and last_day and e.date <= sunday and last_day >= monday:
            result.this_week.append(e)
        if e.kind != "lesson":
            continue
        if result.next is None and not done:
            result.next = e
        if last_day and last_day < today and not done:
            result.overdue.append(e)
        elif e.date and e.date > today and done:
            result.ahead.append(e)
    return result

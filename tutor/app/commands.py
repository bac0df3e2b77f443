"""Command palette provider: find any day by id, number or words ("batch norm" -> day13)."""

from __future__ import annotations

from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider


class DayCommands(Provider):
    """Every day of the course, searched by Course.search (all words) and fuzzy on 'dayNN title'."""

    def _entries(self):
        return self.app.tutor.course.days  # type: ignore[attr-defined]

    def _label(self, entry) -> str:
        return f"{entry.id} {entry.title}"

    def _help(self, entry) -> str:
        if entry.lesson is None:
            return "not written yet"
        return entry.lesson.summary

    async def discover(self) -> Hits:
        for entry in self._entries():
            yield DiscoveryHit(self._label(entry), partial(self.app.open_day, entry.id),  # type: ignore[attr-defined]
                               help=self._help(entry))

    async def search(self, query: str) -> Hits:
        query = query.strip()
        if not query:
            return
        matcher = self.matcher(query)
        course = self.app.tutor.course  # type: ignore[attr-defined]
        seen: set[str] = set()
        words = {e.id for e in course.search(query)}
        digits = query.lower().removeprefix("day").strip()
        for entry in self._entries():
            label = self._label(entry)
            score = matcher.match(label)
            if entry.id in words:
                score = max(score, 0.9)
            if digits.isdigit() and int(digits) == entry.day:
                score = 1.0
            if score > 0 and entry.id not in seen:
                seen.add(entry.id)
                yield Hit(score, matcher.highlight(label), partial(self.app.open_day, entry.id),  # type: ignore[attr-defined]
                          text=label, help=self._help(entry))

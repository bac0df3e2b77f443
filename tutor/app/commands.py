"""Command palette provider: find any entry of the track by number, name or words ("batch norm")."""

from __future__ import annotations

from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider


class DayCommands(Provider):
    """Every entry of the active track, searched by Course.search (all words) and fuzzy on 'NN title'."""

    def _entries(self):
        return self.app.tutor.outline.entries  # type: ignore[attr-defined]

    def _label(self, entry) -> str:
        return f"{entry.n:02d} {entry.title}" + (f" · {entry.slug}" if entry.slug else "")

    def _help(self, entry) -> str:
        if entry.lesson is None:
            return "not written yet"
        return entry.lesson.summary

    async def discover(self) -> Hits:
        for entry in self._entries():
            yield DiscoveryHit(self._label(entry), partial(self.app.open_day, entry.key),  # type: ignore[attr-defined]
                               help=self._help(entry))

    async def search(self, query: str) -> Hits:
        query = query.strip()
        if not query:
            return
        matcher = self.matcher(query)
        tutor = self.app.tutor  # type: ignore[attr-defined]
        seen: set[str] = set()
        words = set(tutor.search(query))
        digits = query.lower().removeprefix("day").strip()
        for entry in self._entries():
            label = self._label(entry)
            score = matcher.match(label)
            if entry.slug in words:
                score = max(score, 0.9)
            if digits.isdigit() and int(digits) == entry.n:
                score = 1.0
            if score > 0 and entry.key not in seen:
                seen.add(entry.key)
                yield Hit(score, matcher.highlight(label), partial(self.app.open_day, entry.key),  # type: ignore[attr-defined]
                          text=label, help=self._help(entry))

"""Watch mode without inotify: poll the exercise files' mtime and size, then debounce.

Pure logic (no Textual): the main screen calls `poll()` from a timer every ~0.5 s and
starts a check when it returns True. Saves during a run are coalesced by the screen.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

Stamp = tuple[int, int] | None


def stamp(path: Path) -> Stamp:
    """(mtime_ns, size), or None for a missing file."""
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_mtime_ns, st.st_size


class SaveWatcher:
    """Says when the files changed and then stayed quiet for `debounce` seconds."""

    def __init__(self, files: Callable[[], list[Path]], debounce: float = 0.4,
                 clock: Callable[[], float] = time.monotonic):
        self.files, self.debounce, self.clock = files, debounce, clock
        self._seen: dict[Path, Stamp] = {}
        self._changed_at: float | None = None
        self.reset()

    def reset(self) -> None:
        """Take the files as they are now (after a reset, or when the day changes)."""
        self._seen = {p: stamp(p) for p in self.files()}
        self._changed_at = None

    def poll(self) -> bool:
        """True once per burst of saves, when the files have been quiet for the debounce."""
        now = self.clock()
        current = {p: stamp(p) for p in self.files()}
        if current != self._seen:
            self._seen = current
            self._changed_at = now
            return False
        if self._changed_at is not None and now - self._changed_at >= self.debounce:
            self._changed_at = None
            return True
        return False

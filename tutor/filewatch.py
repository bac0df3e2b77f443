"""Say when the learner saved: inotify through watchfiles, polling where change events do not arrive.

`FileWatch(files, on_saved)` calls `on_saved()` (from its own thread) once per burst of saves,
after a short quiet debounce. It watches the files' folder, so editors that save by writing a
new file and renaming it are seen too. On network filesystems, WSL's /mnt drives and FUSE
mounts (no change events) it polls instead, and `reason` says why, for the front end to say once.
No Textual, no torch.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Callable

Stamp = tuple[int, int] | None
NO_EVENTS_FILESYSTEMS = {"nfs", "nfs4", "cifs", "smb3", "smbfs", "9p", "v9fs", "drvfs", "vboxsf", "fuse.sshfs",
                         "fuse.rclone", "afs"}
POLL_INTERVAL_S = 0.5


def stamp(path: Path) -> Stamp:
    """(mtime_ns, size), or None for a missing file."""
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_mtime_ns, st.st_size


class SaveWatcher:
    """Polling: says when the files changed and then stayed quiet for `debounce` seconds."""

    def __init__(self, files: Callable[[], list[Path]], debounce: float = 0.4,
                 clock: Callable[[], float] = time.monotonic):
        self.files, self.debounce, self.clock = files, debounce, clock
        self._seen: dict[Path, Stamp] = {}
        self._changed_at: float | None = None
        self.reset()

    def reset(self) -> None:
        """Take the files as they are now (after a reset, or when the lesson changes)."""
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


def filesystem_type(path: Path) -> str:
    """The type of the filesystem holding `path` (from /proc/mounts; '' where unknown)."""
    try:
        mounts = Path("/proc/mounts").read_text().splitlines()
    except OSError:
        return ""
    target, best, kind = str(path.resolve()), "", ""
    for line in mounts:
        parts = line.split()
        if len(parts) >= 3 and (target == parts[1] or target.startswith(parts[1].rstrip("/") + "/")):
            if len(parts[1]) >= len(best):
                best, kind = parts[1], parts[2]
    return kind


def polling_reason(folder: Path) -> str:
    """Why change events cannot be trusted for `folder` ('' when inotify will do)."""
    try:
        import watchfiles  # noqa: F401
    except ImportError:
        return "the watchfiles package is not installed"
    kind = filesystem_type(folder)
    if kind in NO_EVENTS_FILESYSTEMS or str(folder.resolve()).startswith("/mnt/") and kind in ("9p", "drvfs", ""):
        return f"{folder} is on {kind or 'a drive'} that sends no change events"
    return ""


class FileWatch:
    """Calls `on_saved()` once per burst of saves of `files()`; `stop()` ends it."""

    def __init__(self, files: Callable[[], list[Path]], on_saved: Callable[[], None], debounce: float = 0.15,
                 poll_interval: float = POLL_INTERVAL_S, force_polling: bool = False):
        self.files, self.on_saved, self.debounce, self.poll_interval = files, on_saved, debounce, poll_interval
        paths = files()
        self.reason = "asked to poll" if force_polling else (polling_reason(paths[0].parent) if paths else "")
        self.mode = "polling" if self.reason else "inotify"
        self._stop = threading.Event()
        self._poller = SaveWatcher(files, debounce)
        self._thread = threading.Thread(target=self._poll if self.mode == "polling" else self._inotify, daemon=True)

    def start(self) -> "FileWatch":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def reset(self) -> None:
        """Forget changes seen so far (the lesson changed, or a reset wrote the starter)."""
        self._poller.reset()

    def _poll(self) -> None:
        while not self._stop.wait(self.poll_interval):
            if self._poller.poll():
                self.on_saved()

    def _inotify(self) -> None:
        import watchfiles

        while not self._stop.is_set():
            paths = self.files()
            if not paths:
                if self._stop.wait(self.poll_interval):
                    return
                continue
            names = {p.resolve() for p in paths}
            folders = sorted({str(p.parent) for p in names if p.parent.is_dir()})
            for changes in watchfiles.watch(*folders, stop_event=self._stop, debounce=int(self.debounce * 1000),
                                            step=50, rust_timeout=int(self.poll_interval * 1000), yield_on_timeout=True,
                                            watch_filter=lambda change, path: Path(path).resolve() in names):
                if self._stop.is_set():
                    return
                if changes:
                    self.on_saved()
                if {p.resolve() for p in self.files()} != names:
                    break  # the lesson changed: watch its files instead

"""Find and kill every process a check started, even those that left its session.

Killing the child's process group reaches DataLoader workers and plain subprocesses,
but not a grandchild that called setsid() (or setpgid()): it has a group of its own,
and once its parent is gone it is re-parented to init. So the runner tracks the run's
processes two ways, on Linux (other systems: the group kill only):

- ancestry: while the run goes, `poll()` walks /proc/PID/task/*/children from the
  child down and remembers each process with its start time (so a reused pid is
  never killed);
- a tag: the child's environment carries RUN_TAG=<random id>, which its descendants
  inherit; at the end /proc/*/environ finds those the walk missed (a double fork
  between two polls).

`kill_all()` stops every known process first (a stopped process cannot fork), looks
again, then kills them all. What still escapes is in docs/threat-model.md.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

PROC = Path("/proc")
RUN_TAG = "DLTUTOR_RUN"


def process_start(pid: int) -> int | None:
    """The start time (clock ticks since boot) of a live process; None if gone or a zombie."""
    try:
        data = (PROC / str(pid) / "stat").read_bytes()
    except OSError:
        return None
    fields = data[data.rfind(b")") + 2:].split()  # fields 3.. ; the name may hold spaces
    if len(fields) < 20 or fields[0] in (b"Z", b"X"):
        return None
    return int(fields[19])


def children(pid: int) -> list[int]:
    """The direct children of `pid` (every thread's), from /proc."""
    found: list[int] = []
    try:
        tasks = list((PROC / str(pid) / "task").iterdir())
    except OSError:
        return found
    for task in tasks:
        try:
            found.extend(int(x) for x in (task / "children").read_text().split())
        except (OSError, ValueError):
            continue
    return found


def tagged(tag_value: str) -> list[int]:
    """Processes of this user whose environment holds RUN_TAG=tag_value."""
    needle = f"{RUN_TAG}={tag_value}".encode()
    me = os.getpid()
    found = []
    try:
        entries = [e for e in os.listdir(PROC) if e.isdigit()]
    except OSError:
        return found
    for entry in entries:
        pid = int(entry)
        if pid == me:
            continue
        try:
            env = (PROC / entry / "environ").read_bytes()
        except OSError:  # another user's process, or gone
            continue
        if needle in env.split(b"\0"):
            found.append(pid)
    return found


class ProcessTracker:
    """The processes of one run: its child and everything that descends from it."""

    def __init__(self, root: int, tag_value: str):
        self.tag_value = tag_value
        self.known: dict[int, int] = {}  # pid -> start time
        self.enabled = PROC.is_dir() and (PROC / "self" / "stat").exists()
        self._add(root)

    def _add(self, pid: int) -> bool:
        if pid in self.known or not self.enabled:
            return False
        start = process_start(pid)
        if start is None:
            return False
        self.known[pid] = start
        return True

    def _alive(self, pid: int) -> bool:
        return process_start(pid) == self.known.get(pid)

    def poll(self) -> None:
        """Remember the descendants of every known live process."""
        if not self.enabled:
            return
        todo = [p for p in self.known if self._alive(p)]
        while todo:
            pid = todo.pop()
            for kid in children(pid):
                if self._add(kid):
                    todo.append(kid)

    def alive(self) -> list[int]:
        return [p for p in self.known if self._alive(p)]

    def kill_all(self, rounds: int = 5) -> list[int]:
        """Stop, then kill, every process of the run; returns the pids still alive after."""
        if not self.enabled:
            return []
        for _ in range(rounds):
            live = self._gather()
            if not live:
                return []
            _signal_all(live, signal.SIGSTOP)
            _signal_all(self._gather(), signal.SIGKILL)  # the stopped ones and any forked meanwhile
            time.sleep(0.02)
        return self._gather()

    def _gather(self) -> list[int]:
        self.poll()
        for pid in tagged(self.tag_value):
            self._add(pid)
        return self.alive()


def _signal_all(pids: list[int], sig: int) -> None:
    for pid in pids:
        try:
            os.kill(pid, sig)
        except (ProcessLookupError, PermissionError):
            pass

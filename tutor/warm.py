"""Check processes started ahead of time: `spawn()` one, or keep one ready in a `WarmPool`.

A spawned child has imported torch and the checking library, set determinism and picked (on
CUDA, initialised) its device, and waits for its request on stdin. A run consumes it; the pool
starts the next one as the run begins, so every run still has a fresh process of its own, in
its own process group. A waiting child whose parent dies reads end-of-file and exits.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass

from tutor.proctree import ProcessTracker


@dataclass
class Spawned:
    """One check process, started, waiting for its request."""

    proc: subprocess.Popen
    read_fd: int  # our end of its events pipe
    child_fd: int  # the number of its end, in the child
    workdir: str
    tag: str
    tracker: ProcessTracker
    device: str
    started: float

    def discard(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        for stream in (self.proc.stdin, self.proc.stdout):
            try:
                if stream is not None:
                    stream.close()
            except OSError:
                pass
        try:
            os.close(self.read_fd)
        except OSError:
            pass
        self.proc.wait()
        shutil.rmtree(self.workdir, ignore_errors=True)


def spawn(device: str, warm: bool = False) -> Spawned:
    """Start a check process for `device` ('auto', 'cpu', 'cuda:1', ...); `warm`: it is started ahead
    of time, so it also preloads what a first training check would wait for."""
    from tutor.runner import child_env

    read_fd, write_fd = os.pipe()
    workdir = tempfile.mkdtemp(prefix="dltutor-check-")
    tag = secrets.token_hex(8)
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "tutor.checking.child", device, *(["--warm"] if warm else [])],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, pass_fds=(write_fd,), start_new_session=True, env=child_env(tag), cwd=workdir,
        )
    except BaseException:
        os.close(read_fd)
        shutil.rmtree(workdir, ignore_errors=True)
        raise
    finally:
        os.close(write_fd)
    return Spawned(proc, read_fd, write_fd, workdir, tag, ProcessTracker(proc.pid, tag), device, time.monotonic())


class WarmPool:
    """Keeps one check process ready for `device`; `take()` hands it out and starts the next."""

    def __init__(self, device: str = "auto", enabled: bool = True):
        self.device = device
        self.enabled = enabled
        self._ready: Spawned | None = None
        self._lock = threading.Lock()

    def start(self) -> None:
        """Have a process ready (a no-op when one is, or when the pool is off)."""
        with self._lock:
            if self.enabled and self._ready is None:
                self._ready = spawn(self.device, warm=True)

    def take(self, device: str) -> Spawned | None:
        """The ready process for `device` (None when there is none fit to use); the next one starts now."""
        with self._lock:
            ready, self._ready = self._ready, None
        if ready is not None and (ready.device != device or ready.proc.poll() is not None):
            ready.discard()
            ready = None
        if device != self.device:
            self.device = device  # the active device changed: keep the next one ready for it
        self.start()
        return ready

    def close(self) -> None:
        """Stop the waiting process (the front end is leaving)."""
        with self._lock:
            ready, self._ready = self._ready, None
        if ready is not None:
            ready.discard()

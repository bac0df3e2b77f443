"""Check processes forked from one that imported torch once (CPU only): `ForkServer.spawn()`.

A spawned check process pays ~1.5 CPU-seconds to import torch and the checking library before
its first check; `dltutor verify` starts hundreds of them (a starter, the seeds, every mutant).
The fork server starts `tutor.checking.zygote` once; each `spawn()` hands it three pipe ends
over a Unix socket and gets back a forked child that is, from the runner's side, the same as a
spawned one (tutor.warm.Spawned): its own process group, its own pipes, the run's tag, a fresh
interpreter state for the learner's modules. `ForkedProcess` gives the runner the part of
`subprocess.Popen` it uses (pid, stdin, stdout, poll, wait); exit codes come from the zygote.
Where the fork server cannot start or dies, `spawn()` returns None and callers spawn as before.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from typing import IO

from tutor.proctree import RUN_TAG, ProcessTracker
from tutor.warm import Spawned

READY_TIMEOUT_S = 60.0  # a run waits this long for the zygote's torch import, then spawns its own


class ForkedProcess:
    """A child of the zygote, seen from the runner like a subprocess.Popen."""

    def __init__(self, pid: int, stdin: IO[bytes], stdout: IO[bytes], server: "ForkServer"):
        self.pid = pid
        self.stdin = stdin
        self.stdout = stdout
        self.returncode: int | None = None
        self._server = server

    def poll(self) -> int | None:
        if self.returncode is None:
            self.returncode = self._server.exit_code(self.pid)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(f"check process {self.pid}", timeout or 0.0)
            self._server.wait_for_exit(0.05)
        return self.returncode  # type: ignore[return-value]


class ForkServer:
    """One zygote for `device` ('cpu'); thread-safe `spawn()`."""

    def __init__(self, device: str = "cpu"):
        self.device = device
        self._sock: socket.socket | None = None
        self._proc: subprocess.Popen | None = None
        self._lock = threading.Lock()  # one spawn request and its answer at a time
        self._cond = threading.Condition()
        self._answers: list[dict] = []
        self._exits: dict[int, int] = {}
        self._broken = ""
        self._ready = False

    # -- lifecycle ---------------------------------------------------------------------
    def start(self) -> bool:
        """Start the zygote (once; it imports torch in the background); False (why: `broken`) if it cannot."""
        from tutor.runner import child_env

        if self._sock is not None or self._broken:
            return not self._broken
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "tutor.checking.zygote", self.device, str(theirs.fileno())],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                pass_fds=(theirs.fileno(),), start_new_session=True, env=child_env(),
            )
        except OSError as exc:
            ours.close()
            self._broken = f"the fork server could not start: {exc}"
            return False
        finally:
            theirs.close()
        self._sock = ours
        threading.Thread(target=self._read, daemon=True, name="forkserver").start()
        return True

    def wait_ready(self, timeout: float = READY_TIMEOUT_S) -> bool:
        """Wait until the zygote has imported torch; False when it is not ready in time (or broken)."""
        if not self.start():
            return False
        with self._cond:
            self._cond.wait_for(lambda: self._ready or bool(self._broken), timeout)
            return self._ready and not self._broken

    def close(self) -> None:
        sock, self._sock = self._sock, None
        if sock is not None:
            sock.close()  # the zygote reads end-of-file and leaves
        if self._proc is not None:
            try:
                self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()

    @property
    def broken(self) -> str:
        return self._broken

    # -- the zygote's messages ---------------------------------------------------------
    def _read(self) -> None:
        sock = self._sock
        while sock is not None:
            try:
                data = sock.recv(4096)
            except OSError:
                data = b""
            if not data:
                with self._cond:
                    if not self._broken:
                        self._broken = "the fork server stopped"
                    self._cond.notify_all()
                return
            message = json.loads(data)
            with self._cond:
                if "exit" in message:
                    self._exits[int(message["exit"])] = int(message["code"])
                elif "ready" in message:
                    self._ready = not message.get("error")
                    if message.get("error"):
                        self._broken = f"the fork server cannot check on {self.device}: {message['error']}"
                else:
                    self._answers.append(message)
                self._cond.notify_all()

    def _answer(self, timeout: float) -> dict | None:
        deadline = time.monotonic() + timeout
        with self._cond:
            while not self._answers:
                left = deadline - time.monotonic()
                if left <= 0 or (self._broken and not self._answers):
                    return None
                self._cond.wait(left)
            return self._answers.pop(0)

    def exit_code(self, pid: int) -> int | None:
        with self._cond:
            code = self._exits.pop(pid, None)
            if code is None and self._broken:
                return -9  # the zygote is gone and cannot tell: the child went with it or will be killed
            return code

    def wait_for_exit(self, timeout: float) -> None:
        with self._cond:
            self._cond.wait(timeout)

    # -- a check process ----------------------------------------------------------------
    def spawn(self, wait: float = READY_TIMEOUT_S) -> Spawned | None:
        """A forked check process, or None when the fork server cannot give one now (not ready within
        `wait` seconds on a very busy machine: the caller spawns this run itself; or broken)."""
        if not self.wait_ready(wait):
            return None
        stdin_r, stdin_w = os.pipe()
        out_r, out_w = os.pipe()
        events_r, events_w = os.pipe()
        workdir = tempfile.mkdtemp(prefix="dltutor-check-")
        tag = secrets.token_hex(8)
        try:
            with self._lock:
                assert self._sock is not None
                request = json.dumps({"tag": tag, "tag_name": RUN_TAG, "workdir": workdir}).encode()
                socket.send_fds(self._sock, [request], [stdin_r, out_w, events_w])
                answer = self._answer(30.0)
        except (OSError, AssertionError):
            answer = None
        finally:
            for fd in (stdin_r, out_w, events_w):
                os.close(fd)
        if answer is None or "pid" not in answer:
            for fd in (stdin_w, out_r, events_r):
                os.close(fd)
            shutil.rmtree(workdir, ignore_errors=True)
            if not self._broken:
                self._broken = f"the fork server did not fork: {answer}"
            return None
        pid = int(answer["pid"])
        proc = ForkedProcess(pid, os.fdopen(stdin_w, "wb"), os.fdopen(out_r, "rb"), self)
        return Spawned(proc, events_r, int(answer["events_fd"]), workdir, tag, ProcessTracker(pid, tag),
                       self.device, time.monotonic())  # type: ignore[arg-type]

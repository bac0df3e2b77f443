"""Run one check in a child process and stream its events.

The child runs in its own process session, so the whole group (DataLoader workers
too) can be killed on timeout or cancel. Events come on a dedicated pipe; the
child's stdout and stderr are captured (capped) as learner output.
"""

from __future__ import annotations

import os
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterator

from tutor import events

OUTPUT_CAP = 64 * 1024  # bytes of learner output kept; the rest is counted, not stored
DEFAULT_TIMEOUT = 120.0

# Verdicts of a whole run.
PASSED = "passed"
FAILED = "failed"
TIMEOUT = "timeout"
INTERRUPTED = "interrupted"
CRASHED = "crashed"
ERROR = "error"


@dataclass
class RunRequest:
    """What to run: a day's check script against a source folder."""

    day: str
    script: Path
    source: Path
    seed: int = 0
    device: str = "auto"
    timeout: float = DEFAULT_TIMEOUT


@dataclass
class CheckResult:
    name: str
    status: str
    message: str = ""
    task: str | None = None
    seconds: float = 0.0


@dataclass
class RunResult:
    """Everything a front end needs to show and record about one run."""

    day: str
    verdict: str = ERROR
    message: str = ""
    checks: list[CheckResult] = field(default_factory=list)
    metrics: list[dict[str, Any]] = field(default_factory=list)
    curves: dict[str, list[float]] = field(default_factory=dict)
    output: str = ""
    output_dropped: int = 0
    device: str = ""
    device_name: str = ""
    seed: int = 0
    started: float = 0.0
    ended: float = 0.0
    planned: list[str] = field(default_factory=list)
    peak_mib: float = 0.0  # the child's peak resident memory

    @property
    def passed(self) -> int:
        return sum(c.status == events.PASSED for c in self.checks)

    @property
    def duration(self) -> float:
        return max(0.0, self.ended - self.started)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["passed"] = self.passed
        data["total"] = len(self.planned) or len(self.checks)
        data["duration"] = round(self.duration, 3)
        return data


def child_env() -> dict[str, str]:
    """The environment for the child: unbuffered, and able to import `tutor`."""
    env = dict(os.environ)
    package_parent = str(Path(__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_parent, env.get("PYTHONPATH", "")) if p)
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    return env


class CheckRun:
    """One run of one check. Iterate `events()`; `cancel()` from any thread."""

    def __init__(self, request: RunRequest):
        self.request = request
        self.result = RunResult(day=request.day, seed=request.seed)
        self._queue: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._proc: subprocess.Popen[bytes] | None = None
        self._cancelled = threading.Event()
        self._output_size = 0
        self._done = False
        self._workdir = ""

    # -- process -----------------------------------------------------------------
    def _start(self) -> None:
        read_fd, write_fd = os.pipe()
        self._workdir = tempfile.mkdtemp(prefix="dltutor-check-")
        cmd = [
            sys.executable, "-m", "tutor.checking.child",
            "--day", self.request.day,
            "--script", str(self.request.script),
            "--source", str(self.request.source),
            "--seed", str(self.request.seed),
            "--device", self.request.device,
            "--events-fd", str(write_fd),
            "--workdir", self._workdir,
        ]
        try:
            self._proc = subprocess.Popen(
                cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                pass_fds=(write_fd,), start_new_session=True, env=child_env(),
            )
        finally:
            os.close(write_fd)
        self._readers = [
            threading.Thread(target=self._read_events, args=(read_fd,), daemon=True),
            threading.Thread(target=self._read_output, daemon=True),
        ]
        for thread in self._readers:
            thread.start()

    def _read_events(self, fd: int) -> None:
        with os.fdopen(fd, "r", encoding="utf-8", errors="replace") as stream:
            for line in stream:
                event = events.decode(line)
                if event is not None:
                    self._queue.put(event)
        self._queue.put(None)

    def _read_output(self) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        out = self._proc.stdout
        while True:
            chunk = out.read1(8192) if hasattr(out, "read1") else out.read(8192)
            if not chunk:
                break
            room = OUTPUT_CAP - self._output_size
            if room > 0:
                text = chunk[:room].decode("utf-8", errors="replace")
                self._output_size += min(len(chunk), room)
                self._queue.put({"event": events.OUTPUT, "text": text})
            self.result.output_dropped += max(0, len(chunk) - max(room, 0))
        self._queue.put(None)

    def _kill_group(self) -> None:
        if self._proc is None:
            return
        try:
            os.killpg(self._proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    def cancel(self) -> None:
        """Stop the run: the whole process group is killed; the verdict is 'interrupted'."""
        self._cancelled.set()
        self._kill_group()

    # -- events ------------------------------------------------------------------
    def events(self) -> Iterator[dict[str, Any]]:
        """Start the child and yield its events live; the last one is 'finished'."""
        result = self.result
        result.started = time.time()
        self._start()
        deadline = time.monotonic() + self.request.timeout
        open_streams = 2
        timed_out = False
        try:
            while open_streams:
                try:
                    event = self._queue.get(timeout=0.1)
                except queue.Empty:
                    if self._cancelled.is_set():
                        break
                    if time.monotonic() > deadline:
                        timed_out = True
                        self._kill_group()
                        break
                    if self._proc is not None and self._proc.poll() is not None:
                        # The child is gone; leftovers (grandchildren holding the pipes) must go too.
                        self._kill_group()
                    continue
                if event is None:
                    open_streams -= 1
                    continue
                self._apply(event)
                yield event
        except GeneratorExit:
            self.cancel()
            raise
        except KeyboardInterrupt:
            self.cancel()
            self._finish(timed_out=False)
            raise
        self._finish(timed_out)
        yield {"event": events.FINISHED, "result": result.to_dict()}

    def run(self) -> RunResult:
        """Run to the end without looking at the events."""
        for _ in self.events():
            pass
        return self.result

    def _apply(self, event: dict[str, Any]) -> None:
        r = self.result
        kind = event["event"]
        if kind == events.STARTED:
            r.device = event.get("device", "")
            r.device_name = event.get("device_name", "")
            r.planned = [c["name"] for c in event.get("checks", [])]
        elif kind == events.CHECK:
            r.checks.append(CheckResult(event["name"], event["status"], event.get("message", ""),
                                        event.get("task"), float(event.get("seconds", 0.0))))
        elif kind == events.METRIC:
            r.metrics.append({k: v for k, v in event.items() if k != "event"})
        elif kind == events.CURVE:
            r.curves.setdefault(event["name"], []).append(event["value"])
        elif kind == events.OUTPUT:
            r.output += event["text"]
        elif kind == events.ERROR:
            r.message = event.get("message", "")
        elif kind == events.DONE:
            self._done = True
            r.peak_mib = float(event.get("peak_mib") or 0.0)

    def _finish(self, timed_out: bool) -> None:
        r = self.result
        self._kill_group()
        if self._proc is not None:
            try:
                code = self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                code = None
        else:
            code = None
        r.ended = time.time()
        if self._workdir:
            shutil.rmtree(self._workdir, ignore_errors=True)
        done = self._done
        if self._cancelled.is_set():
            r.verdict, r.message = INTERRUPTED, "stopped before it finished"
        elif timed_out:
            running = self._running_check()
            r.verdict = TIMEOUT
            r.message = (
                f"timed out after {self.request.timeout:g} s{running}: an infinite loop, or training "
                "far too long? (`--timeout` raises the limit)"
            )
        elif r.message and not done:
            r.verdict = ERROR
        elif not done:
            running = self._running_check()
            r.verdict = CRASHED
            r.message = (
                f"the check process ended abruptly (exit code {code}){running}. "
                "Did your code call os._exit(), or crash in native code?"
            )
        else:
            r.verdict = PASSED if r.checks and all(c.status == events.PASSED for c in r.checks) else FAILED
            if r.verdict == FAILED and not r.message:
                r.message = f"{r.passed} of {len(r.checks)} checks passed"
                skipped = sum(c.status == events.SKIPPED for c in r.checks)
                if skipped:
                    r.message += f" ({skipped} skipped: your exercise could not be loaded)"
            elif r.verdict == PASSED:
                r.message = f"all {len(r.checks)} checks passed"

    def _running_check(self) -> str:
        finished = {c.name for c in self.result.checks}
        pending = [n for n in self.result.planned if n not in finished]
        return f" during check '{pending[0]}'" if pending else ""


EXIT_CODES = {PASSED: 0, INTERRUPTED: 130}


def exit_code(verdict: str) -> int:
    """0 passed, 130 interrupted, 1 for every other verdict."""
    return EXIT_CODES.get(verdict, 1)

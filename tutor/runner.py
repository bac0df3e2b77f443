"""Run one check in a child process and stream its events.

The child runs in its own process session, so the whole group (DataLoader workers
too) can be killed on timeout or cancel; descendants that left the group are tracked
and killed too (tutor.proctree). The child gets its request on stdin, never in argv
or the environment: the events pipe's descriptor and a per-run token. Only events
with that token count, and a run counts only with its plan ('started') and exactly
one result per planned check (docs/threat-model.md). The child's stdout and stderr
are captured as learner output: the first and the last 32 KiB, the size of the gap.
"""

from __future__ import annotations

import codecs
import json
import os
import queue
import secrets
import shutil
import signal
import subprocess
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterator

from tutor import events
from tutor.run_state import CheckOutcome, RunState
from tutor.warm import Spawned, spawn
from tutor.proctree import RUN_TAG, ProcessTracker

OUTPUT_HEAD = 32 * 1024  # bytes of learner output kept from the start...
OUTPUT_TAIL = 32 * 1024  # ...and from the end; what lies between is counted, not stored
OUTPUT_CAP = OUTPUT_HEAD + OUTPUT_TAIL
DEFAULT_TIMEOUT = 120.0
# Importing torch takes 1-3 s on a quiet machine, far longer on a cold disk or a busy box;
# this limit is for a start-up that hangs, and it is not the learner's timeout.
STARTUP_TIMEOUT = 180.0
POLL_PROCESSES_S = 0.5  # how often the run's process tree is walked
LINGER_S = 3.0  # after the child exits, how long its leftovers may hold the pipes
LARGE_MEMORY_MIB = 1024.0  # a peak above this is shown in the verdict

# Verdicts of a whole run.
VERDICT_PASSED = "passed"
VERDICT_FAILED = "failed"
VERDICT_TIMEOUT = "timeout"
VERDICT_INTERRUPTED = "interrupted"
VERDICT_CRASHED = "crashed"
VERDICT_ERROR = "error"


@dataclass
class RunRequest:
    """What to run: a day's check script against a source folder."""

    day: str
    script: Path
    source: Path
    seed: int = 0
    device: str = "auto"
    timeout: float = DEFAULT_TIMEOUT  # seconds for the checks, from the child's 'started' event
    startup_timeout: float = STARTUP_TIMEOUT  # seconds for the child to import torch and start
    max_memory_mib: float | None = None  # RLIMIT_DATA of the child (None: no limit)
    stop_on_failure: bool = False  # skip the checks after the first failure (verify's mutant runs)


CheckResult = CheckOutcome  # one named check's outcome: a single definition, in tutor.run_state


@dataclass
class RunResult:
    """Everything a front end needs to show and record about one run."""

    day: str
    verdict: str = VERDICT_ERROR
    message: str = ""
    checks: list[CheckResult] = field(default_factory=list)
    metrics: list[dict[str, Any]] = field(default_factory=list)
    curves: dict[str, list[float]] = field(default_factory=dict)
    curve_starts: dict[str, int] = field(default_factory=dict)  # a curve's first step, when not 0
    heatmaps: list[dict[str, Any]] = field(default_factory=list)  # a check's matrices to draw (tutor.heatmap)
    output: str = ""  # the first OUTPUT_HEAD bytes of the learner's prints
    output_tail: str = ""  # the last OUTPUT_TAIL bytes, when more than OUTPUT_CAP came
    output_dropped: int = 0  # bytes between the two, not kept
    output_dropped_lines: int = 0  # newlines in them
    device: str = ""
    device_name: str = ""
    seed: int = 0
    started: float = 0.0
    ended: float = 0.0
    planned: list[str] = field(default_factory=list)
    peak_mib: float = 0.0  # the child's peak resident memory (its waited-for children's too)
    gpu_peak_mib: float = 0.0  # peak CUDA memory allocated by torch, on a GPU
    max_memory_mib: float | None = None  # the limit it ran under, if any
    survivors: int = 0  # processes of the run that could not be killed
    reason: str = ""  # why an error run could not happen: device, memory, startup or protocol

    @property
    def passed(self) -> int:
        return sum(c.status == events.CHECK_PASSED for c in self.checks)

    @property
    def duration(self) -> float:
        return max(0.0, self.ended - self.started)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["passed"] = self.passed
        data["total"] = len(self.planned) or len(self.checks)
        data["duration"] = round(self.duration, 3)
        return data


def child_env(tag: str = "") -> dict[str, str]:
    """The environment for the child: unbuffered, able to import `tutor`, tagged for cleanup.

    The tutor's own settings but the device (DLTUTOR_HOME: where the progress store is) are
    left out: learner code has no business with them.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("DLTUTOR_") or k == "DLTUTOR_DEVICE"}
    package_parent = str(Path(__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_parent, env.get("PYTHONPATH", "")) if p)
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    if tag:
        env[RUN_TAG] = tag
    return env


class CheckRun:
    """One run of one check. Iterate `events()`; `cancel()` from any thread."""

    def __init__(self, request: RunRequest, spawned: "Spawned | None" = None):
        self.request = request
        self._spawned = spawned  # a warm process started ahead of time (tutor.warm), or None
        self.result = RunResult(day=request.day, seed=request.seed, max_memory_mib=request.max_memory_mib)
        self._queue: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._proc: subprocess.Popen[bytes] | None = None
        self._tracker: ProcessTracker | None = None
        self._cancelled = threading.Event()
        self.state = RunState()
        self._token = secrets.token_hex(16)
        self._tag = ""
        self._done = False
        self._started_seen = False
        self._current = ""  # the check running now (from 'check_started')
        self._untokened = 0  # lines on the events pipe without this run's token
        self._startup_stalled = False
        self._survivors: list[int] = []
        self._workdir = ""

    # -- process -----------------------------------------------------------------
    def _request_json(self, events_fd: int) -> bytes:
        r = self.request
        return json.dumps({
            "day": r.day, "script": str(r.script), "source": str(r.source), "seed": r.seed,
            "device": r.device, "workdir": self._workdir, "max_memory_mib": r.max_memory_mib,
            "stop_on_failure": r.stop_on_failure,
            "events_fd": events_fd, "token": self._token,
        }).encode()

    def _start(self) -> None:
        spawned = self._spawned or spawn(self.request.device)
        self._spawned = None
        self._proc, self._workdir, self._tag, self._tracker = spawned.proc, spawned.workdir, spawned.tag, spawned.tracker
        read_fd = spawned.read_fd
        assert self._proc.stdin is not None
        try:  # small enough for the pipe's buffer: this never blocks
            self._proc.stdin.write(self._request_json(spawned.child_fd))
            self._proc.stdin.close()
        except OSError:  # the child died at once; its exit code tells
            pass
        self._readers = [
            threading.Thread(target=self._read_events, args=(read_fd,), daemon=True),
            threading.Thread(target=self._read_output, daemon=True),
        ]
        for thread in self._readers:
            thread.start()

    def _read_events(self, fd: int) -> None:
        with os.fdopen(fd, "r", encoding="utf-8", errors="replace") as stream:
            for line in stream:
                event = events.decode(line, self._token)
                if event is not None:
                    self._queue.put(event)
                elif line.strip():
                    self._untokened += 1
        self._queue.put(None)

    def _read_output(self) -> None:
        """Stream the head of the output live; keep the tail; count what lies between."""
        assert self._proc is not None and self._proc.stdout is not None
        out = self._proc.stdout
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        head = 0
        tail = bytearray()
        dropped = dropped_lines = 0
        while True:
            chunk = out.read1(8192) if hasattr(out, "read1") else out.read(8192)
            if not chunk:
                break
            room = OUTPUT_HEAD - head
            if room > 0:
                text = decoder.decode(chunk[:room])
                head += min(len(chunk), room)
                if text:
                    self._queue.put({"event": events.OUTPUT, "text": text})
                chunk = chunk[room:]
            tail += chunk
            if len(tail) > OUTPUT_TAIL:
                cut = len(tail) - OUTPUT_TAIL
                dropped += cut
                dropped_lines += tail.count(b"\n", 0, cut)
                del tail[:cut]
        rest = decoder.decode(b"", final=True)
        if rest:
            self._queue.put({"event": events.OUTPUT, "text": rest})
        if tail:
            if dropped:  # the tail starts mid-stream: skip a cut UTF-8 sequence
                while tail and 0x80 <= tail[0] < 0xC0:
                    tail.pop(0)
            self._queue.put({"event": events.OUTPUT, "text": tail.decode("utf-8", errors="replace"),
                             "tail": True, "dropped": dropped, "dropped_lines": dropped_lines})
        self._queue.put(None)

    def _kill_group(self) -> None:
        if self._proc is None:
            return
        try:
            os.killpg(self._proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    def _kill_everything(self) -> None:
        """The group, then every process of the run that left it (setsid())."""
        self._kill_group()
        if self._tracker is not None:
            self._survivors = self._tracker.kill_all()
            self.result.survivors = len(self._survivors)

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
        startup_deadline = time.monotonic() + self.request.startup_timeout
        deadline: float | None = None  # set by 'started': the checks' own time starts then
        next_poll = 0.0
        exited_at: float | None = None
        open_streams = 2
        timed_out = False
        try:
            while open_streams:
                now = time.monotonic()
                if self._cancelled.is_set():
                    break
                if deadline is None and now > startup_deadline:
                    self._startup_stalled = True
                    self._kill_group()
                    break
                if deadline is not None and now > deadline:
                    timed_out = True
                    self._kill_group()
                    break
                if now >= next_poll and self._tracker is not None:
                    self._tracker.poll()
                    next_poll = now + POLL_PROCESSES_S
                try:
                    event = self._queue.get(timeout=0.1)
                except queue.Empty:
                    if self._proc is not None and self._proc.poll() is not None:
                        # The child is gone; leftovers (grandchildren holding the pipes) must go too.
                        if exited_at is None:
                            exited_at = now
                            self._kill_everything()
                        elif now - exited_at > LINGER_S:
                            break  # something we cannot kill holds a pipe: stop reading
                    continue
                if event is None:
                    open_streams -= 1
                    continue
                if event["event"] == events.STARTED and deadline is None:
                    deadline = time.monotonic() + self.request.timeout
                self._apply(event)
                yield event
        except GeneratorExit:
            self.cancel()
            self._finish(timed_out=False)
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
        """Fold the event into the run's state (tutor.run_state, the one reducer) and mirror it in the result."""
        state, r = self.state, self.result
        state.apply(event)
        self._started_seen, self._current, self._done = state.started_seen, state.current, state.done
        r.device, r.device_name, r.planned = state.device, state.device_name, [n for n, _ in state.planned]
        r.checks = list(state.outcomes)
        r.metrics, r.curves, r.curve_starts = state.metrics, state.curves, state.curve_starts
        r.heatmaps = state.heatmaps
        r.output, r.output_tail = state.output, state.output_tail
        r.output_dropped, r.output_dropped_lines = state.output_dropped, state.output_dropped_lines
        if state.error:
            r.message, r.reason = state.error, state.reason
        r.peak_mib, r.gpu_peak_mib = state.peak_mib, state.gpu_peak_mib

    def _finish(self, timed_out: bool) -> None:
        r = self.result
        self._kill_everything()
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
        running = self._running_check()
        if self._cancelled.is_set():
            r.verdict = VERDICT_INTERRUPTED
            done = f"; {len(r.checks)} of {len(r.planned)} checks had finished" if r.planned else ""
            r.message = f"stopped{running} before it finished{done}"
        elif self._startup_stalled:
            r.verdict, r.reason = VERDICT_ERROR, "startup"
            r.message = (
                f"the check process did not start within {self.request.startup_timeout:g} s: importing torch "
                "took too long (is the machine very busy? `dltutor doctor` shows whether torch imports)"
            )
        elif timed_out:
            r.verdict = VERDICT_TIMEOUT
            r.message = (
                f"timed out after {self.request.timeout:g} s{running}: an infinite loop, or training "
                "far too long? (`--timeout` raises the limit)"
            )
        elif r.message and not self._done:
            r.verdict = VERDICT_ERROR
        elif not self._done:
            r.verdict = VERDICT_CRASHED
            r.message = (
                f"the check process ended abruptly (exit code {code}){running}. "
                "Did your code call os._exit(), or crash in native code?"
            )
        elif problem := self._protocol_problem():
            r.verdict, r.message, r.reason = VERDICT_ERROR, problem, "protocol"
        else:
            r.verdict = VERDICT_PASSED if r.checks and all(c.status == events.CHECK_PASSED for c in r.checks) else VERDICT_FAILED
            if r.verdict == VERDICT_FAILED and not r.message:
                r.message = f"{r.passed} of {len(r.checks)} checks passed"
                skipped = sum(c.status == events.CHECK_SKIPPED for c in r.checks)
                if skipped:
                    r.message += f" ({skipped} skipped: your exercise could not be loaded)"
            elif r.verdict == VERDICT_PASSED:
                r.message = f"all {len(r.checks)} checks passed"
        if self._survivors:
            r.message += (f" ({len(self._survivors)} process(es) your code started could not be stopped: pid "
                          + ", ".join(map(str, self._survivors[:5])) + ")")

    def _protocol_problem(self) -> str:
        """Why the events do not make a whole run ('' when they do): the plan, one result per check."""
        r = self.result
        problems = []
        if not self._started_seen:
            problems.append("it sent no plan of checks")
        reported = [c.name for c in r.checks]
        missing = [n for n in r.planned if n not in reported]
        twice = sorted({n for n in reported if reported.count(n) > 1})
        unplanned = [n for n in reported if n not in r.planned]
        if missing:
            problems.append("no result for " + ", ".join(f"'{n}'" for n in missing))
        if twice:
            problems.append("more than one result for " + ", ".join(f"'{n}'" for n in twice))
        if unplanned and self._started_seen:
            problems.append("results for checks it never planned: " + ", ".join(f"'{n}'" for n in unplanned))
        if not problems:
            return ""
        note = (f"; {self._untokened} line(s) on its events pipe were not from the check runner and were "
                "ignored" if self._untokened else "")
        return ("the check process did not report a whole run (" + "; ".join(problems) + note + "), so this "
                "run counts as an error, not a pass")

    def _running_check(self) -> str:
        if self._current:
            return f" during check '{self._current}'"
        finished = {c.name for c in self.result.checks}
        pending = [n for n in self.result.planned if n not in finished]
        return f" during check '{pending[0]}'" if pending else ""


def memory_note(peak_mib: float, gpu_peak_mib: float = 0.0, max_memory_mib: float | None = None) -> str:
    """'peak memory 3.1 GiB' (and the GPU's, the limit) when worth showing; '' otherwise."""
    def size(mib: float) -> str:
        return f"{mib / 1024:.1f} GiB" if mib >= 1024 else f"{mib:.0f} MiB"

    parts = []
    if peak_mib >= LARGE_MEMORY_MIB or (max_memory_mib and peak_mib >= 0.5 * max_memory_mib):
        parts.append(f"peak memory {size(peak_mib)}")
    if gpu_peak_mib >= LARGE_MEMORY_MIB:
        parts.append(f"peak GPU memory {size(gpu_peak_mib)}")
    if max_memory_mib:
        parts.append(f"limit {size(max_memory_mib)}")
    return " · ".join(parts)


EXIT_CODES = {VERDICT_PASSED: 0, VERDICT_INTERRUPTED: 130}


def exit_code(verdict: str) -> int:
    """0 passed, 130 interrupted, 1 for every other verdict."""
    return EXIT_CODES.get(verdict, 1)

"""Warm check processes: started ahead of time, one per run, nothing carried from one run to the next."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from tutor.runner import CheckRun, RunRequest
from tutor.warm import WarmPool

CHECK = '''
import torch
from tutor.checking import check, expect


@check("the learner's module loads", task="go")
def loads(ctx):
    ctx.load("mod")


@check("nothing left by an earlier run", task="go")
def clean(ctx):
    expect(not hasattr(torch, "dltutor_marker"), "torch was monkeypatched by an earlier run")
    expect(torch.get_default_dtype() == torch.float32, f"default dtype is {torch.get_default_dtype()}")
    expect(torch.initial_seed() == ctx.seed or True, "")
'''

DIRTY = '''
import torch
torch.dltutor_marker = 1
torch.set_default_dtype(torch.float64)
GLOBAL = [1, 2, 3]
'''


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is not alive
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


def _request(tmp_path: Path, source: Path) -> RunRequest:
    script = tmp_path / "check.py"
    script.write_text(CHECK)
    return RunRequest(day="warm", script=script, source=source, device="cpu", timeout=60)


def test_each_run_gets_a_fresh_warm_process_and_nothing_crosses(tmp_path: Path):
    dirty, clean = tmp_path / "dirty", tmp_path / "clean"
    for folder, text in ((dirty, DIRTY), (clean, "VALUE = 1\n")):
        folder.mkdir()
        (folder / "mod.py").write_text(textwrap.dedent(text))
    pool = WarmPool("cpu")
    pool.start()
    try:
        first = pool.take("cpu")
        assert first is not None and _alive(first.proc.pid)
        r1 = CheckRun(_request(tmp_path, dirty), first).run()
        assert r1.checks[1].status == "failed"  # the dirty module changed torch in its own process
        second = pool.take("cpu")
        assert second is not None and second.proc.pid != first.proc.pid
        r2 = CheckRun(_request(tmp_path, clean), second).run()
        assert r2.verdict == "passed", [c.message for c in r2.checks]
    finally:
        pool.close()


def test_a_warm_process_for_another_device_is_not_used(tmp_path: Path):
    pool = WarmPool("cpu")
    pool.start()
    try:
        ready = pool._ready
        assert ready is not None
        assert pool.take("cuda") is None  # discarded, and the next one is made for the new device
        assert not _alive(ready.proc.pid) and pool.device == "cuda"
    finally:
        pool.close()


def test_close_leaves_no_process_behind():
    pool = WarmPool("cpu")
    pool.start()
    pid = pool._ready.proc.pid
    pool.close()
    assert not _alive(pid)


def test_a_waiting_process_exits_when_its_front_end_dies():
    code = "from tutor.warm import spawn; s = spawn('cpu'); print(s.proc.pid, flush=True)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                         env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)})
    pid = int(out.stdout.split()[0])
    deadline = time.monotonic() + 60
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _alive(pid), "the warm process outlived the process that started it"


def test_dltutor_watch_rechecks_on_save_with_a_warm_process(tmp_path: Path):
    """`dltutor watch` through a pipe: the starter fails, a save re-checks and passes, q quits."""
    import queue
    import threading

    from conftest import SOLUTION, make_course

    course = make_course(tmp_path / "course")
    env = {**os.environ, "DLTUTOR_COURSE": str(course), "DLTUTOR_HOME": str(tmp_path / "ws"), "NO_COLOR": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "tutor", "watch", "1"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in proc.stdout], daemon=True).start()
    seen = []

    def wait_for(word: str, limit: float = 120) -> None:
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            try:
                line = lines.get(timeout=1)
            except queue.Empty:
                continue
            seen.append(line)
            if word in line:
                return
        raise AssertionError(f"no {word!r} in:\n" + "".join(seen))

    try:
        wait_for("FAILED")
        (tmp_path / "ws" / "tiny-day" / "mod.py").write_text(SOLUTION)
        wait_for("PASSED")
        proc.stdin.write("q\n")
        proc.stdin.flush()
        assert proc.wait(30) == 0
    finally:
        proc.kill()
    assert "Traceback" not in "".join(seen)

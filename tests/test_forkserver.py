"""Check processes forked from the fork server behave like spawned ones: verdicts, exit codes,
timeouts, killed descendants, fresh learner modules; and a dead server falls back to spawning."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from conftest import write_learner
from test_runner import DAEMON, _alive
from tutor import events
from tutor.forkserver import ForkServer
from tutor.runner import CheckRun, RunRequest


@pytest.fixture(scope="module")
def server():
    s = ForkServer("cpu")
    assert s.wait_ready(), s.broken
    yield s
    s.close()


def run(server: ForkServer, course: Path, source: Path, timeout: float = 30, **kw):
    spawned = server.spawn()
    assert spawned is not None, server.broken
    r = CheckRun(RunRequest("tiny-day", course / "checks" / "tiny-day.py", source, timeout=timeout, **kw), spawned)
    r.run()
    return r.result


def test_forked_solution_and_starter_read_like_spawned_ones(server, tiny_course: Path):
    r = run(server, tiny_course, tiny_course / "solutions" / "tiny-day")
    assert r.verdict == "passed" and r.passed == 2 and r.curves["loss"] == [3.0, 2.0, 1.0]
    r = run(server, tiny_course, tiny_course / "exercises" / "tiny-day")
    assert r.verdict == "failed" and r.checks[0].status == events.CHECK_NOT_IMPLEMENTED


def test_each_forked_run_imports_the_learners_module_afresh(server, tiny_course: Path, tmp_path: Path):
    write_learner(tmp_path / "l", "def go():\n    return 41\n")
    assert run(server, tiny_course, tmp_path / "l").checks[0].message == "go() returned 41; expected 42"
    write_learner(tmp_path / "l", "def go():\n    return 42\n")
    assert run(server, tiny_course, tmp_path / "l").verdict == "passed"


def test_os_exit_and_prints_and_sys_exit(server, tiny_course: Path, tmp_path: Path):
    write_learner(tmp_path / "a", "import os\n\ndef go():\n    print('hello from go')\n    os._exit(7)\n")
    r = run(server, tiny_course, tmp_path / "a")
    assert r.verdict == "crashed" and "exit code 7" in r.message and "hello from go" in r.output
    write_learner(tmp_path / "b", "import sys\n\ndef go():\n    sys.exit(3)\n")
    r = run(server, tiny_course, tmp_path / "b")
    assert r.verdict == "failed" and "sys.exit(3)" in r.checks[0].message


def test_timeout_kills_the_forked_group_and_setsid_descendants(server, tiny_course: Path, tmp_path: Path):
    (tmp_path / "daemon.py").write_text(DAEMON)
    pids = [tmp_path / "sleep.pid", tmp_path / "daemon.pid"]
    write_learner(tmp_path / "l", f"""
        import os, subprocess, sys, time
        def go():
            p = subprocess.Popen(["sleep", "300"])
            open({str(pids[0])!r}, "w").write(str(p.pid))
            subprocess.run([sys.executable, {str(tmp_path / "daemon.py")!r}, {str(pids[1])!r}])
            while True:
                time.sleep(0.1)
    """)
    r = run(server, tiny_course, tmp_path / "l", timeout=3)
    assert r.verdict == "timeout" and "go() returns 42" in r.message
    for pidfile in pids:
        pid = int(pidfile.read_text())
        deadline = time.monotonic() + 5
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _alive(pid), pidfile.name


def test_a_dead_server_gives_none_and_verify_spawns_instead(tiny_course: Path):
    s = ForkServer("cpu")
    assert s.wait_ready()
    os.kill(s._proc.pid, 9)
    s._proc.wait()
    deadline = time.monotonic() + 5
    while not s.broken and time.monotonic() < deadline:
        time.sleep(0.05)
    assert s.spawn() is None and "stopped" in s.broken
    s.close()


STATE_CHECK = '''
import torch
from tutor.checking import check, expect

@check("no state from an earlier run", task="go")
def clean(ctx):
    import mod
    expect(getattr(torch, "_dltutor_mark", None) is None, "torch carries a mark from an earlier run")
    expect(torch.get_default_dtype() == torch.float32, f"default dtype is {torch.get_default_dtype()}")
    expect(torch.add is torch._C._VariableFunctions.add, "torch.add is monkeypatched")
    expect(not hasattr(mod, "SEEN"), "the learner module kept a global from an earlier run")
    mod.go()
'''
DIRTY = '''
import torch
def go():
    globals()["SEEN"] = True
    torch._dltutor_mark = 1
    torch.set_default_dtype(torch.float64)
    torch.add = lambda *a, **k: 0
    return 42
'''


def test_no_state_crosses_from_one_forked_run_to_the_next(server, tmp_path: Path):
    script = tmp_path / "state.py"
    script.write_text(STATE_CHECK)
    source = write_learner(tmp_path / "l", DIRTY).parent
    for _ in range(2):  # the first run dirties its own process only; the second must see none of it
        spawned = server.spawn()
        assert spawned is not None, server.broken
        result = CheckRun(RunRequest("tiny-day", script, source), spawned).run()
        assert result.verdict == "passed", (result.message, [c.message for c in result.checks])


def test_a_server_not_ready_in_time_gives_none_without_breaking():
    s = ForkServer("cpu")
    assert s.spawn(wait=0.0) is None and not s.broken  # still importing torch: this run spawns its own
    assert s.wait_ready()
    spawned = s.spawn()
    assert spawned is not None
    spawned.discard()  # killed and reaped: no child is left waiting for a request
    s.close()

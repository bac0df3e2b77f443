"""The runner: every way learner code can go wrong ends in a clear verdict."""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

import pytest

from conftest import write_learner
from tutor import events
from tutor.runner import CheckRun, RunRequest, exit_code


def run(course: Path, source: Path, timeout: float = 30, **kw) -> CheckRun:
    r = CheckRun(RunRequest("tiny-day", course / "checks" / "tiny-day.py", source, timeout=timeout, **kw))
    r.run()
    return r


def test_solution_passes_with_metrics_and_curve(tiny_course: Path):
    r = run(tiny_course, tiny_course / "solutions" / "tiny-day").result
    assert r.verdict == "passed" and r.passed == 2
    assert r.metrics[0]["name"] == "answer" and r.metrics[0]["value"] == 42.0
    assert r.curves["loss"] == [3.0, 2.0, 1.0]
    assert r.device == "cpu" and r.device_name.startswith("CPU")
    assert exit_code(r.verdict) == 0


def test_starter_reports_not_implemented_with_location(tiny_course: Path):
    r = run(tiny_course, tiny_course / "exercises" / "tiny-day").result
    assert r.verdict == "failed" and exit_code(r.verdict) == 1
    assert [c.status for c in r.checks] == [events.CHECK_NOT_IMPLEMENTED] * 2
    assert r.checks[0].message == "not implemented yet: go (mod.py:2)"


def test_wrong_answer_fails_with_message(tiny_course: Path, tmp_path: Path):
    write_learner(tmp_path / "l", "def go():\n    return 41\n")
    r = run(tiny_course, tmp_path / "l").result
    assert r.verdict == "failed"
    assert r.checks[0].message == "go() returned 41; expected 42"


def test_learner_crash_shows_only_learner_frames(tiny_course: Path, tmp_path: Path):
    write_learner(tmp_path / "l", "def helper():\n    return 1 / 0\n\ndef go():\n    return helper()\n")
    msg = run(tiny_course, tmp_path / "l").result.checks[0].message
    assert "ZeroDivisionError" in msg and 'File "mod.py", line 2, in helper' in msg
    assert "tutor" not in msg and "child.py" not in msg


def test_sys_exit_is_caught(tiny_course: Path, tmp_path: Path):
    write_learner(tmp_path / "l", "import sys\n\ndef go():\n    sys.exit(3)\n")
    r = run(tiny_course, tmp_path / "l").result
    assert r.verdict == "failed"
    assert "sys.exit(3)" in r.checks[0].message and "mod.py:4" in r.checks[0].message


def test_os_exit_is_a_crash_naming_the_check(tiny_course: Path, tmp_path: Path):
    write_learner(tmp_path / "l", "import os\n\ndef go():\n    os._exit(7)\n")
    r = run(tiny_course, tmp_path / "l").result
    assert r.verdict == "crashed" and exit_code(r.verdict) == 1
    assert "exit code 7" in r.message and "go() returns 42" in r.message


def test_syntax_error_fails_first_check_and_skips_rest(tiny_course: Path, tmp_path: Path):
    write_learner(tmp_path / "l", "def go(:\n    return 42\n")
    r = run(tiny_course, tmp_path / "l").result
    assert r.verdict == "failed"
    assert "syntax error" in r.checks[0].message and "mod.py:1" in r.checks[0].message
    assert r.checks[1].status == events.CHECK_SKIPPED


def test_missing_file_says_how_to_restore(tiny_course: Path, tmp_path: Path):
    (tmp_path / "empty").mkdir()
    r = run(tiny_course, tmp_path / "empty").result
    assert r.verdict == "failed" and "missing" in r.checks[0].message and "reset" in r.checks[0].message


def test_flood_of_output_is_capped_and_run_finishes(tiny_course: Path, tmp_path: Path):
    write_learner(tmp_path / "l", "def go():\n    print('x' * 1000 * 10_000)\n    return 42\n")
    r = run(tiny_course, tmp_path / "l").result
    assert r.verdict == "passed"
    assert len(r.output) <= 64 * 1024 and r.output_dropped > 9_000_000


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie is dead for our purposes
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split()[2] != "Z"
    except OSError:
        return False


def test_timeout_kills_the_whole_group(tiny_course: Path, tmp_path: Path):
    pidfile = tmp_path / "grandchild.pid"
    write_learner(tmp_path / "l", f"""
        import subprocess, time
        def go():
            p = subprocess.Popen(["sleep", "300"])
            open({str(pidfile)!r}, "w").write(str(p.pid))
            while True:
                time.sleep(0.1)
    """)
    t0 = time.monotonic()
    r = run(tiny_course, tmp_path / "l", timeout=3).result  # from 'started': start-up does not count
    assert r.verdict == "timeout" and "timed out after 3 s" in r.message and "go() returns 42" in r.message
    assert time.monotonic() - t0 < 30
    grandchild = int(pidfile.read_text())
    deadline = time.monotonic() + 5
    while _alive(grandchild) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(grandchild)


def test_infinite_loop_times_out(tiny_course: Path, tmp_path: Path):
    write_learner(tmp_path / "l", "def go():\n    while True:\n        pass\n")
    assert run(tiny_course, tmp_path / "l", timeout=2).result.verdict == "timeout"


def test_cancel_from_another_thread_is_interrupted(tiny_course: Path, tmp_path: Path):
    write_learner(tmp_path / "l", "import time\n\ndef go():\n    time.sleep(60)\n")
    r = CheckRun(RunRequest("tiny-day", tiny_course / "checks" / "tiny-day.py", tmp_path / "l", timeout=60))
    seen = []

    def watch():
        for event in r.events():
            seen.append(event["event"])
            if event["event"] == events.CHECK_STARTED:
                threading.Timer(0.3, r.cancel).start()

    t0 = time.monotonic()
    watch()
    assert r.result.verdict == "interrupted" and exit_code("interrupted") == 130
    assert seen[-1] == events.FINISHED and time.monotonic() - t0 < 30


def test_bad_device_is_an_error_verdict(tiny_course: Path):
    r = run(tiny_course, tiny_course / "solutions" / "tiny-day", device="cuda:7").result
    if r.verdict == "passed":
        pytest.skip("this machine has 8 GPUs")
    assert r.verdict == "error" and "not available" in r.message and r.reason == "device"


def test_learner_prints_are_captured_not_mixed_with_events(tiny_course: Path, tmp_path: Path):
    write_learner(tmp_path / "l", 'def go():\n    print(\'{"event": "done", "passed": 99}\')\n    return 42\n')
    r = run(tiny_course, tmp_path / "l").result
    assert r.verdict == "passed" and '"passed": 99' in r.output


# -- a pass cannot be faked (issue 7, item 5) ------------------------------------------------
FORGER = """
    import json, os, sys

    def _forge(fd):
        for name in ("go() returns 42", "go() again"):
            os.write(fd, (json.dumps({"event": "check", "name": name, "status": "passed"}) + "\\n").encode())
        os.write(fd, (json.dumps({"event": "done", "passed": 2, "failed": 0}) + "\\n").encode())

    def go():
        if "--events-fd" in sys.argv:  # the old recipe: the pipe was advertised in argv
            _forge(int(sys.argv[sys.argv.index("--events-fd") + 1]))
        for fd in map(int, os.listdir("/proc/self/fd")):  # and every pipe there is
            try:
                if fd > 2 and "pipe" in os.readlink(f"/proc/self/fd/{fd}"):
                    _forge(fd)
            except OSError:
                pass
        os._exit(0)
"""


def test_forged_events_without_the_token_do_not_pass(tiny_course: Path, tmp_path: Path):
    write_learner(tmp_path / "l", FORGER)
    r = run(tiny_course, tmp_path / "l").result
    assert r.verdict == "crashed" and exit_code(r.verdict) == 1
    assert r.checks == [] and "during check 'go() returns 42'" in r.message


def test_learner_code_sees_no_token_fd_or_store_path(tiny_course: Path, tmp_path: Path, monkeypatch):
    monkeypatch.setenv("DLTUTOR_HOME", str(tmp_path / "secret-home"))
    dump = tmp_path / "seen.json"
    write_learner(tmp_path / "l", f"""
        import json, os, sys
        def go():
            stdin = sys.stdin.read()
            cmdline = open("/proc/self/cmdline").read()
            json.dump({{"argv": sys.argv, "env": dict(os.environ), "stdin": stdin, "cmd": cmdline}},
                      open({str(dump)!r}, "w"))
            return 42
    """)
    r = CheckRun(RunRequest("tiny-day", tiny_course / "checks" / "tiny-day.py", tmp_path / "l", timeout=30))
    r.run()
    assert r.result.verdict == "passed"
    seen = dump.read_text()
    assert r._token not in seen and "events" not in seen and "secret-home" not in seen
    assert json.loads(seen)["stdin"] == ""


def _fake_run(planned: list[str], reported: list[str]) -> CheckRun:
    r = CheckRun(RunRequest("tiny-day", Path("x.py"), Path(".")))
    r._apply({"event": events.STARTED, "checks": [{"name": n} for n in planned], "device": "cpu"})
    for name in reported:
        r._apply({"event": events.CHECK, "name": name, "status": events.CHECK_PASSED})
    r._apply({"event": events.DONE, "passed": len(reported), "failed": 0})
    r._finish(timed_out=False)
    return r


@pytest.mark.parametrize("reported, says", [
    (["a"], "no result for 'b'"),
    (["a", "b", "b"], "more than one result for 'b'"),
    (["a", "b", "c"], "never planned: 'c'"),
])
def test_a_run_needs_one_result_per_planned_check(reported: list[str], says: str):
    r = _fake_run(["a", "b"], reported).result
    assert r.verdict == "error" and says in r.message and "not a pass" in r.message


def test_a_run_without_a_plan_is_an_error():
    r = CheckRun(RunRequest("tiny-day", Path("x.py"), Path(".")))
    r._apply({"event": events.CHECK, "name": "a", "status": events.CHECK_PASSED})
    r._apply({"event": events.DONE})
    r._finish(timed_out=False)
    assert r.result.verdict == "error" and "no plan" in r.result.message


def test_decode_keeps_only_lines_with_the_token():
    line = events.encode(events.DONE, passed=1, token="s3cret")
    assert events.decode(line, "s3cret") == {"event": events.DONE, "passed": 1}
    assert events.decode(line, "other") is None
    assert events.decode(events.encode(events.DONE, passed=1), "s3cret") is None


# -- time: start-up is not the learner's budget (item 6) ---------------------------------------
def _slow_start_course(course: Path, seconds: float) -> Path:
    script = course / "checks" / "tiny-day.py"
    script.write_text(f"import time\ntime.sleep({seconds})\n" + script.read_text())
    return course


def test_timeout_counts_from_started_not_from_startup(tiny_course: Path):
    _slow_start_course(tiny_course, 3.0)
    r = run(tiny_course, tiny_course / "solutions" / "tiny-day", timeout=2.5).result
    assert r.verdict == "passed", r.message


def test_startup_has_its_own_limit_and_message(tiny_course: Path):
    _slow_start_course(tiny_course, 60)
    t0 = time.monotonic()
    r = run(tiny_course, tiny_course / "solutions" / "tiny-day", timeout=100, startup_timeout=4).result
    assert r.verdict == "error" and time.monotonic() - t0 < 20
    assert r.message.startswith("the check process did not start within 4 s: importing torch took too long")


# -- learner exceptions (items 7, 8, 9) --------------------------------------------------------
def test_learner_keyboard_interrupt_is_a_failed_check(tiny_course: Path, tmp_path: Path):
    write_learner(tmp_path / "l", "def go():\n    raise KeyboardInterrupt\n")
    r = run(tiny_course, tmp_path / "l").result
    assert r.verdict == "failed" and exit_code(r.verdict) == 1
    msg = r.checks[0].message
    assert 'File "mod.py", line 2, in go' in msg and "KeyboardInterrupt" in msg
    assert "internal error" not in msg + r.message


def test_ctrl_c_in_the_front_end_is_interrupted_naming_the_check(tiny_course: Path, tmp_path: Path):
    write_learner(tmp_path / "l", "import time\n\ndef go():\n    time.sleep(60)\n")
    r = CheckRun(RunRequest("tiny-day", tiny_course / "checks" / "tiny-day.py", tmp_path / "l", timeout=60))
    with pytest.raises(KeyboardInterrupt):
        for event in r.events():
            if event["event"] == events.CHECK_STARTED:
                raise KeyboardInterrupt  # what the terminal's Ctrl-C does in the CLI's loop
    assert r.result.verdict == "interrupted"
    assert "during check 'go() returns 42'" in r.result.message and "0 of 2" in r.result.message


def test_error_at_import_is_shown_once_then_skipped(tiny_course: Path, tmp_path: Path):
    write_learner(tmp_path / "l", "LIMIT = 1 / 0\n\ndef go():\n    return 42\n")
    r = run(tiny_course, tmp_path / "l").result
    assert r.verdict == "failed"
    first, second = r.checks
    assert first.message.startswith("could not load your exercise: mod.py raised an error while Python imported")
    assert 'File "mod.py", line 1, in <module>' in first.message and "ZeroDivisionError" in first.message
    assert second.status == events.CHECK_SKIPPED and "could not be loaded" in second.message


def test_missing_function_is_named(tiny_course: Path, tmp_path: Path):
    write_learner(tmp_path / "l", "def goo():\n    return 42\n")
    msg = run(tiny_course, tmp_path / "l").result.checks[0].message
    assert msg.startswith("your exercise has no function `go` (mod.py); did you rename it?")
    assert "`goo`" in msg


# -- processes that leave the session, memory (Limitations) ------------------------------------
DAEMON = """
import os, sys, time
if os.fork():
    os._exit(0)
os.setsid()
if os.fork():
    os._exit(0)
open(sys.argv[1], "w").write(str(os.getpid()))
time.sleep(300)
"""


def test_setsid_descendants_are_killed_at_the_end(tiny_course: Path, tmp_path: Path):
    (tmp_path / "daemon.py").write_text(DAEMON)
    pids = [tmp_path / "setsid.pid", tmp_path / "daemon.pid"]
    write_learner(tmp_path / "l", f"""
        import os, subprocess, sys, time
        def go():
            p = subprocess.Popen(["sleep", "300"], start_new_session=True)
            open({str(pids[0])!r}, "w").write(str(p.pid))
            subprocess.run([sys.executable, {str(tmp_path / "daemon.py")!r}, {str(pids[1])!r}])
            while not os.path.exists({str(pids[1])!r}):
                time.sleep(0.05)
            return 42
    """)
    r = run(tiny_course, tmp_path / "l").result
    assert r.verdict == "passed" and r.survivors == 0
    for pidfile in pids:
        pid = int(pidfile.read_text())
        deadline = time.monotonic() + 5
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _alive(pid), pidfile.name


def test_max_memory_fails_a_big_allocation_and_says_so(tiny_course: Path, tmp_path: Path):
    write_learner(tmp_path / "l", "import torch\n\ndef go():\n    torch.ones(2**28)\n    return 42\n")
    r = run(tiny_course, tmp_path / "l", max_memory_mib=600).result
    assert r.verdict == "failed" and r.max_memory_mib == 600
    assert "--max-memory 600 MiB" in r.checks[0].message


def test_output_keeps_head_and_tail_and_counts_the_gap(tiny_course: Path, tmp_path: Path):
    write_learner(tmp_path / "l", "def go():\n    for i in range(30_000):\n        print(f'line {i}')\n    return 42\n")
    r = run(tiny_course, tmp_path / "l").result
    assert r.output.startswith("line 0\nline 1\n")
    assert r.output_tail.rstrip().endswith("line 29999")
    total = 2 * len("".join(f"line {i}\n" for i in range(30_000)).encode())  # both checks call go()
    kept = len(r.output.encode()) + len(r.output_tail.encode())
    assert r.output_dropped > 0 and abs(total - kept - r.output_dropped) <= 4
    assert 60_000 - 13_000 < r.output_dropped_lines < 60_000  # 64 KiB kept: about 11,000 lines

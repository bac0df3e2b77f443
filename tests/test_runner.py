"""The runner: every way learner code can go wrong ends in a clear verdict."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from conftest import write_learner
from tutor import events
from tutor.runner import CheckRun, RunRequest, exit_code


def run(course: Path, source: Path, timeout: float = 30, **kw) -> CheckRun:
    r = CheckRun(RunRequest("day01", course / "checks" / "day01.py", source, timeout=timeout, **kw))
    r.run()
    return r


def test_solution_passes_with_metrics_and_curve(tiny_course: Path):
    r = run(tiny_course, tiny_course / "solutions" / "day01").result
    assert r.verdict == "passed" and r.passed == 2
    assert r.metrics[0]["name"] == "answer" and r.metrics[0]["value"] == 42.0
    assert r.curves["loss"] == [3.0, 2.0, 1.0]
    assert r.device == "cpu" and r.device_name.startswith("CPU")
    assert exit_code(r.verdict) == 0


def test_starter_reports_not_implemented_with_location(tiny_course: Path):
    r = run(tiny_course, tiny_course / "exercises" / "day01").result
    assert r.verdict == "failed" and exit_code(r.verdict) == 1
    assert [c.status for c in r.checks] == [events.NOT_IMPLEMENTED] * 2
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
    assert r.checks[1].status == events.SKIPPED


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
    r = run(tiny_course, tmp_path / "l", timeout=20).result
    assert r.verdict == "timeout" and "timed out after 20 s" in r.message and "go() returns 42" in r.message
    assert time.monotonic() - t0 < 40
    grandchild = int(pidfile.read_text())
    deadline = time.monotonic() + 5
    while _alive(grandchild) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(grandchild)


def test_infinite_loop_times_out(tiny_course: Path, tmp_path: Path):
    write_learner(tmp_path / "l", "def go():\n    while True:\n        pass\n")
    assert run(tiny_course, tmp_path / "l", timeout=12).result.verdict == "timeout"


def test_cancel_from_another_thread_is_interrupted(tiny_course: Path, tmp_path: Path):
    write_learner(tmp_path / "l", "import time\n\ndef go():\n    time.sleep(60)\n")
    r = CheckRun(RunRequest("day01", tiny_course / "checks" / "day01.py", tmp_path / "l", timeout=60))
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
    r = run(tiny_course, tiny_course / "solutions" / "day01", device="cuda:7").result
    if r.verdict == "passed":
        pytest.skip("this machine has 8 GPUs")
    assert r.verdict == "error" and "not available" in r.message


def test_learner_prints_are_captured_not_mixed_with_events(tiny_course: Path, tmp_path: Path):
    write_learner(tmp_path / "l", 'def go():\n    print(\'{"event": "done", "passed": 99}\')\n    return 42\n')
    r = run(tiny_course, tmp_path / "l").result
    assert r.verdict == "passed" and '"passed": 99' in r.output

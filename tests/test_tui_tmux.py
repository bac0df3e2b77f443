"""The TUI in a real terminal, as a person uses it: tmux at 80x24, TERM=xterm, NO_COLOR.

Starts `python -m tutor start` on a tiny course (DLTUTOR_COURSE), presses keys, reads
the pane with capture-pane. Skipped where tmux is missing. Uses its own tmux server
(a socket in a temp folder, -S) so it never touches anyone else's sessions.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from conftest import make_course, solution_text

TMUX = shutil.which("tmux")
pytestmark = pytest.mark.skipif(TMUX is None, reason="tmux is not installed")
REPO = Path(__file__).resolve().parent.parent
LIMIT = 90.0  # seconds for anything that runs a check on a slow machine

FAKE_EDITOR = """\
import sys, time
print("FAKE EDITOR OPEN", sys.argv[1], flush=True)
time.sleep(1.0)
with open(sys.argv[1], "a", encoding="utf-8") as f:
    f.write("\\n# edited in the fake editor\\n")
"""


class Pane:
    """One tmux session on a private server."""

    def __init__(self, command: str, env: dict[str, str], size: tuple[int, int] = (80, 24)):
        self.folder = tempfile.mkdtemp(prefix="dltmux-")  # short: socket paths are limited to ~100 bytes
        self.socket = os.path.join(self.folder, "sock")
        exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
        self.tmux("new-session", "-d", "-s", "t", "-x", str(size[0]), "-y", str(size[1]),
                  f"cd {shlex.quote(str(REPO))} && env {exports} {command}; echo EXITED $?; sleep 60")

    def tmux(self, *args: str) -> str:
        return subprocess.run([TMUX, "-S", self.socket, *args], capture_output=True, text=True,
                              check=True, timeout=20).stdout

    def keys(self, *keys: str) -> None:
        for key in keys:
            self.tmux("send-keys", "-t", "t", key)
            time.sleep(0.15)  # a person's pace; also keeps Esc from merging with the next key

    def text(self) -> str:
        return self.tmux("capture-pane", "-t", "t", "-p")

    def flag(self, name: str) -> str:
        return self.tmux("display-message", "-t", "t", "-p", f"#{{{name}}}").strip()

    def wait_for(self, *needles: str, timeout: float = LIMIT) -> str:
        deadline = time.monotonic() + timeout
        while True:
            screen = self.text()
            if all(n in screen for n in needles):
                return screen
            if time.monotonic() > deadline:
                raise AssertionError(f"{needles} not on screen after {timeout:g} s:\n{screen}")
            time.sleep(0.2)

    def close(self) -> None:
        subprocess.run([TMUX, "-S", self.socket, "kill-server"], capture_output=True, timeout=20)
        shutil.rmtree(self.folder, ignore_errors=True)


def attempts(workspace: Path) -> int:
    import sqlite3

    with sqlite3.connect(workspace / ".dltutor" / "progress.db") as conn:
        return conn.execute("SELECT COUNT(*) FROM attempts").fetchone()[0]


@pytest.fixture
def pane(tmp_path: Path):
    course = make_course(tmp_path / "course")
    editor = tmp_path / "fake_editor.py"
    editor.write_text(FAKE_EDITOR, encoding="utf-8")
    env = {
        "TERM": "xterm", "NO_COLOR": "1", "HOME": str(tmp_path), "DLTUTOR_COURSE": str(course),
        "DLTUTOR_HOME": str(tmp_path / "dltutor"), "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "EDITOR": f"{sys.executable} {editor}", "VISUAL": "", "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(REPO),
    }
    pane = Pane(f"{shlex.quote(sys.executable)} -m tutor start", env)
    try:
        yield pane, tmp_path / "dltutor"
    finally:
        pane.close()


def test_a_learner_session_at_80x24(pane) -> None:
    pane, workspace = pane
    screen = pane.wait_for("Tiny day", "Objectives", "c Check", timeout=30)
    assert "01 Tiny day" in screen and "– 03 Unwritten day" in screen
    assert pane.flag("alternate_on") == "1"

    pane.keys("c")  # the starter fails, live
    screen = pane.wait_for("FAILED", "✗ go() returns 42", "✗ 01 Tiny day")
    assert "not implemented yet" in screen and "✗ 01 Tiny day" in screen

    exercise = workspace / "tiny-day" / "mod.py"
    exercise.write_text(solution_text(), encoding="utf-8")
    pane.keys("c")  # the solution passes and the tree mark turns
    screen = pane.wait_for("PASSED", "✓ go() again", "✓ 01 Tiny day")
    assert attempts(workspace) == 2

    pane.keys("w")  # watch: a save re-runs the check
    pane.wait_for("◉ watching", timeout=10)
    exercise.write_text(solution_text() + "\n# saved again\n", encoding="utf-8")
    deadline = time.monotonic() + LIMIT
    while attempts(workspace) < 3:
        assert time.monotonic() < deadline, pane.text()
        time.sleep(0.2)
    pane.wait_for("PASSED")

    pane.keys("e")  # the editor gets the terminal, then the app comes back
    screen = pane.wait_for("FAKE EDITOR OPEN", timeout=30)
    assert str(exercise) in screen.replace("\n", "")  # the editor got the file (the path wraps at 80)
    pane.wait_for("dltutor │", "c Check", timeout=30)
    assert "edited in the fake editor" in exercise.read_text()

    pane.keys("w", "q")  # stop watching, quit: the terminal is left as it was
    pane.wait_for("EXITED 0", timeout=30)
    assert pane.flag("alternate_on") == "0"
    assert pane.flag("cursor_flag") == "1"
    assert pane.flag("mouse_any_flag") == "0"

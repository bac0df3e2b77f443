"""Measure (not test): first paint of `dltutor start` in a real terminal.

tmux at 80x24 on a private server; the time from launching the command until the pane
shows the lesson ("Objectives") and the footer ("c Check"); median of N runs. The
workspace is created first, so the runs measure an ordinary start, not the first copy.

    python benchmarks/first_paint.py [N]        (CMD=... overrides the command)
"""
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent if "__file__" in globals() else Path.cwd()
REPO = Path(os.environ.get("REPO", REPO))
N = int(sys.argv[1]) if len(sys.argv) > 1 else 5
CMD = os.environ.get("CMD", f"{shlex.quote(sys.executable)} -m tutor start")
SOCKET = os.path.join(tempfile.mkdtemp(prefix="dlpaint-"), "sock")


def tmux(*args: str) -> str:
    return subprocess.run(["tmux", "-S", SOCKET, *args], capture_output=True, text=True).stdout


def main() -> None:
    if shutil.which("tmux") is None:
        raise SystemExit("tmux is needed")
    home = Path(tempfile.mkdtemp(prefix="dltutor-paint-"))
    env = {"DLTUTOR_HOME": str(home / "ws"), "XDG_CONFIG_HOME": str(home / "cfg"), "TERM": "xterm-256color"}
    subprocess.run([sys.executable, "-c", "from tutor.session import Tutor; Tutor()"], cwd=REPO,
                   env={**os.environ, **env}, check=True)
    exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
    times = []
    try:
        for _ in range(N):
            t0 = time.perf_counter()
            tmux("new-session", "-d", "-s", "b", "-x", "80", "-y", "24",
                 f"cd {shlex.quote(str(REPO))} && env {exports} {CMD}; sleep 30")
            while True:
                screen = tmux("capture-pane", "-t", "b", "-p")
                if "Objectives" in screen and "c Check" in screen:
                    break
                if time.perf_counter() - t0 > 30:
                    raise SystemExit("no first paint in 30 s:\n" + screen)
                time.sleep(0.05)  # polling faster steals CPU from the app on a small machine
            times.append(time.perf_counter() - t0)
            tmux("send-keys", "-t", "b", "q")
            time.sleep(0.5)
            tmux("kill-session", "-t", "b")
    finally:
        tmux("kill-server")
        shutil.rmtree(os.path.dirname(SOCKET), ignore_errors=True)
        shutil.rmtree(home, ignore_errors=True)
    print("first paint (s):", " ".join(f"{t:.3f}" for t in times), f"median {statistics.median(times):.3f}")


if __name__ == "__main__":
    main()

"""`dltutor watch [LESSON]`: the check re-runs on every save, for an editor in another pane.

Keys (no Enter needed on a terminal; one per line from a pipe): h hint, n next lesson, c check
now, q quit. The check process is kept warm between saves (--no-warm turns that off).
"""

from __future__ import annotations

import os
import select
import sys
import threading
from contextlib import contextmanager
from typing import Annotated, Iterator, Optional

import typer

from tutor.cli import (
    DeviceOpt, TrackOpt, WarmOpt, WorkspaceOpt, app, complete_lesson, err, open_tutor, out, resolve_lesson,
)

KEYS = "save to re-check · h hint · n next lesson · c check now · q quit"


@contextmanager
def single_keys() -> Iterator[None]:
    """On a terminal, keys without Enter (cbreak); elsewhere nothing changes."""
    if not sys.stdin.isatty():
        yield
        return
    import termios
    import tty

    fd = sys.stdin.fileno()
    saved = termios.tcgetattr(fd)
    try:
        tty.setcbreak(fd)
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


def read_key(timeout: float) -> str | None:
    """One key ('' at end of input), or None when none came within `timeout`."""
    ready, _, _ = select.select([sys.stdin], [], [], timeout)
    if not ready:
        return None
    if sys.stdin.isatty():
        return os.read(sys.stdin.fileno(), 1).decode(errors="replace")
    line = sys.stdin.readline()
    return line.strip()[:1] if line else ""


@app.command()
def watch(lesson: Annotated[Optional[str], typer.Argument(help="the lesson (default: your next one)",
                                                          autocompletion=complete_lesson)] = None,
          workspace: WorkspaceOpt = None, track: TrackOpt = None, device: DeviceOpt = "auto", warm: WarmOpt = True,
          seed: Annotated[int, typer.Option(help="seed for the check's data and initialisation")] = 0) -> None:
    """Re-run a lesson's check every time you save its exercise (keys: h hint, n next, q quit)."""
    from tutor.cli_run import run_and_report
    from tutor.filewatch import FileWatch

    tutor = open_tutor(workspace, track)
    current = resolve_lesson(tutor, lesson) if lesson else tutor.next_lesson()
    if current is None:
        err.print("no lesson is written in this track yet")
        raise typer.Exit(1)
    if warm:
        tutor.start_warm(device)
    saved = threading.Event()
    watcher = FileWatch(lambda: tutor.exercise_files(current), saved.set)
    if watcher.mode == "polling":
        err.print(f"[yellow]note:[/] watching by polling every {watcher.poll_interval:g} s: {watcher.reason}")
    watcher.start()

    def check() -> None:
        if out.is_terminal:
            out.clear()
        err.print(f"[bold]watching {current.id}[/] [dim]({tutor.position(current)}) · {KEYS}[/]")
        run_and_report(tutor, current, seed=seed, device=device, plot=False, hints=False)
        err.print(f"[dim]{KEYS}[/]")

    try:
        with single_keys():
            check()
            while True:
                key = read_key(0.1)
                if saved.is_set():
                    saved.clear()
                    check()
                if key in (None, ""):
                    if key == "":
                        break  # end of input (a pipe closed): stop watching
                    continue
                if key == "q":
                    break
                if key == "c":
                    check()
                elif key == "h":
                    shown = tutor.next_hint(current)
                    out.print(f"[{shown.task}] hint {shown.index + 1}/{shown.total}: {shown.text}" if shown
                              else "all hints of this task are shown (`dltutor hint --shown` repeats them)",
                              markup=False)
                elif key == "n":
                    following = tutor.next_lesson()
                    if following is not None and following.id != current.id:
                        current = tutor.lesson(following.id)
                        watcher.reset()
                        check()
                    else:
                        err.print("this is the next lesson to do; pass it first")
    except KeyboardInterrupt:
        err.print("\nstopped watching")
        raise typer.Exit(130)
    finally:
        watcher.stop()
        tutor.close()

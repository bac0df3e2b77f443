"""Open the exercise in the learner's editor from the TUI.

Terminal editors get the terminal (the app suspends itself); GUI or remote editors
(`code`, `subl`…) start without blocking and the app says the path. Where the app
cannot suspend, or no editor is found, a dialog says what to do instead.
"""

from __future__ import annotations

import signal
import subprocess
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from textual.app import App, SuspendNotSupported

from tutor.app.dialogs.message import MessageDialog
from tutor.app.keys import key
from tutor.editor import NoEditor, find_editor


def edit_file(app: App, path: Path, edit_cmd: str | None) -> bool:
    """Open `path`; True when a terminal editor ran and returned (the caller refreshes)."""
    try:
        editor = find_editor(edit_cmd)
    except NoEditor as exc:
        app.push_screen(MessageDialog("No editor", f"{exc}\n\nYour exercise file is:\n{path}"))
        return False
    argv = editor.for_file(path)
    if not editor.terminal:
        try:
            subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, start_new_session=True)
        except OSError as exc:
            app.push_screen(MessageDialog("The editor did not start", f"{' '.join(argv)}: {exc}"))
            return False
        app.notify(f"Opened in {Path(argv[0]).name}: {path}\n{key('check')} checks it; {key('watch')} re-checks on every save.",
                   timeout=8)
        return False
    try:
        with app.suspend(), _sigint_to_child():
            code = subprocess.call(argv)
    except SuspendNotSupported:
        app.push_screen(MessageDialog(
            "Cannot open a terminal editor here",
            f"This terminal cannot hand itself to {argv[0]}. Edit the file elsewhere:\n{path}\n\n"
            f"Then press {key('check')} to check (or {key('watch')} to re-check on every save)."))
        return False
    except OSError as exc:
        app.push_screen(MessageDialog("The editor did not start", f"{' '.join(argv)}: {exc}"))
        return False
    if code != 0:
        app.notify(f"{argv[0]} exited with code {code}.", severity="warning")
    return True


@contextmanager
def _sigint_to_child() -> Iterator[None]:
    """While a terminal editor runs, Ctrl-C is for the editor, not for the suspended app."""
    try:
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)

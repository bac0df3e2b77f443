"""Which editor opens an exercise: $VISUAL, then $EDITOR, then nano, then vi."""

from __future__ import annotations

import os
import shlex
import shutil
from dataclasses import dataclass
from pathlib import Path

FALLBACKS = ("nano", "vi")
# Editors that open a window (or a remote session) and return at once, or need no terminal.
GUI_EDITORS = {"code", "code-insiders", "codium", "cursor", "subl", "gedit", "kate", "mate", "atom",
               "zed", "idea", "pycharm", "charm", "xdg-open", "open", "gvim", "mvim"}


@dataclass(frozen=True)
class EditorCommand:
    argv: list[str]
    terminal: bool  # True: needs the terminal (the TUI suspends itself); False: GUI / remote

    def for_file(self, path: Path) -> list[str]:
        return [*self.argv, str(path)]


class NoEditor(Exception):
    """No editor found; the message tells the learner what to set."""


def find_editor(override: str | None = None) -> EditorCommand:
    """`override` (--edit-cmd), else $VISUAL, else $EDITOR, else nano, else vi."""
    for candidate in (override, os.environ.get("VISUAL"), os.environ.get("EDITOR")):
        if candidate and candidate.strip():
            argv = shlex.split(candidate)
            if shutil.which(argv[0]) is None:
                raise NoEditor(f"editor {argv[0]!r} (from {_source(candidate, override)}) is not on PATH")
            return EditorCommand(argv, Path(argv[0]).name not in GUI_EDITORS or "--wait" in argv or "-w" in argv)
    for name in FALLBACKS:
        if shutil.which(name):
            return EditorCommand([name], True)
    raise NoEditor("no editor found: set $EDITOR (for example `export EDITOR=nano`), "
                   "or use --print-path and open the file yourself")


def _source(candidate: str, override: str | None) -> str:
    if candidate == override:
        return "--edit-cmd"
    return "$VISUAL" if candidate == os.environ.get("VISUAL") else "$EDITOR"

"""One table of the TUI's actions and keys.

The bindings of the app and the main screen, the footer, the help screen, the key hints in
prose ("c checks again") and the README's key list are all drawn from ACTIONS; a test
compares the README with `readme_sentence()`.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Action:
    action: str            # the Textual action name ("" for keys that only navigate)
    keys: tuple[str, ...]  # Textual key names; the first is the one prose names
    label: str             # the footer's word
    help: str              # the help screen's line
    readme: str            # the README's words ("" to leave it out of the README sentence)
    scope: str = "main"    # "main" (the main screen), "app" (everywhere), "nav" (documentation only)
    footer: bool = True
    priority: bool = False

    @property
    def key(self) -> str:
        return DISPLAY.get(self.keys[0], self.keys[0])

    @property
    def shown(self) -> str:
        return " / ".join(DISPLAY.get(k, k) for k in self.keys)


DISPLAY = {"escape": "Esc", "question_mark": "?", "ctrl+c": "Ctrl-C", "enter": "Enter"}

ACTIONS: tuple[Action, ...] = (
    Action("edit", ("e",), "Edit", "edit the exercise file in $VISUAL / $EDITOR (--edit-cmd overrides)", "edit"),
    Action("check", ("c",), "Check", "check the exercise: named checks appear live with ✓/✗, then a verdict",
           "check"),
    Action("cancel", ("x", "escape"), "Cancel", "cancel a running check (its whole process group is stopped)",
           "cancel a running check"),
    Action("watch", ("w",), "Watch", "watch: re-run the check whenever you save the file", "re-check on every save"),
    Action("hint", ("h",), "Hint", "the next hint of the first failing task (hints are recorded)", "hint"),
    Action("solution", ("s",), "Solution", "the reference solution (asks first until you have passed)", "solution",
           footer=False),
    Action("reset", ("r",), "Reset", "reset the exercise to the starter (your files are backed up first)", "reset",
           footer=False),
    Action("next_day", ("n",), "Next", "go to the next lesson to do (the first one not passed)", "next lesson",
           footer=False),
    Action("switch_view", ("v",), "View", "switch between the lesson and the check pane (stacked when tall)",
           "switch lesson/check pane"),
    Action("toggle_tree", ("t",), "Tree", "hide or show the course tree", "hide the course tree", footer=False),
    Action("progress", ("p",), "Progress", "progress: groups, passed lessons, attempts, streak, time, best metrics",
           "progress", scope="app"),
    Action("command_palette", ("ctrl+p",), "Find", "command palette: type a number, a name or words (\"batch norm\")",
           "find a lesson by name (\"batch norm\")", scope="nav"),
    Action("help", ("question_mark",), "Help", "this help", "help", scope="app"),
    Action("quit", ("q",), "Quit", "quit (a running check is cancelled)", "quit", scope="app"),
    Action("interrupt", ("ctrl+c",), "Cancel check", "cancel a running check, like x", "", scope="app",
           footer=False, priority=True),
    Action("", ("enter",), "", "in the tree: open the lesson (or fold a group)", "", scope="nav"),
    Action("", ("↑ ↓ PgUp PgDn",), "", "move in the tree, scroll the lesson or check pane", "", scope="nav"),
    Action("", ("Tab / Shift+Tab",), "", "move between tree, lesson and check pane", "", scope="nav"),
)

BY_ACTION = {a.action: a for a in ACTIONS if a.action}


def key(action: str) -> str:
    """The key prose names for an action: key('check') == 'c'."""
    return BY_ACTION[action].key


def bindings(scope: str) -> list:
    """Textual Bindings for one scope, in table order (Textual is imported only here)."""
    from textual.binding import Binding

    out = []
    for a in ACTIONS:
        if a.scope != scope or not a.action:
            continue
        for i, k in enumerate(a.keys):
            out.append(Binding(k, a.action, a.label, show=a.footer and i == 0, priority=a.priority,
                               key_display=DISPLAY.get(k) if k in DISPLAY else None))
    return out


def help_rows() -> list[tuple[str, str]]:
    """(keys, what) for the help screen; Ctrl-C is listed with cancel."""
    rows = []
    for a in ACTIONS:
        if a.action == "interrupt":
            continue
        shown = a.shown + (" / Ctrl-C" if a.action == "cancel" else "")
        rows.append((shown, a.help))
    return rows


def readme_sentence() -> str:
    """The README's key list, one sentence: "`e` edit, `c` check, …, `q` quit."."""
    parts = []
    for a in ACTIONS:
        if not a.readme:
            continue
        keys = "/".join(f"`{DISPLAY.get(k, k)}`" for k in a.keys)
        if a.action == "cancel":
            keys += "/`Ctrl-C`"
        parts.append(f"{keys} {a.readme}")
    return "In the TUI: " + ", ".join(parts) + "."

"""Notifications as lines above the footer, instead of toasts over the panes.

At 80x24 a Textual toast (up to half the width, several rows, bottom right) covers the
lesson or check text it is about. On the main screen the toasts are hidden (tutor.tcss)
and this bar shows the newest notifications in the layout: the panes give up a line or
two while a notice lasts, and nothing is drawn over them. The messages still go through
`App.notify`, so their timeouts (and the tests that read them) work as before.
"""

from __future__ import annotations

from rich.text import Text
from textual.content import Content
from textual.widgets import Static

SHOWN = 2  # the newest notifications shown at once
REFRESH_S = 0.25
MARKS = {"information": ("›", "bold"), "warning": ("!", "bold yellow"), "error": ("✗", "bold red")}


class NoticeBar(Static):
    """The newest notifications, one or two lines; hidden when there are none."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._shown: tuple[str, ...] = ()

    def on_mount(self) -> None:
        self.display = False
        self.set_interval(REFRESH_S, self.refresh_notices)

    def refresh_notices(self) -> None:
        notes = list(self.app._notifications)[-SHOWN:]  # expired ones are dropped by Textual
        key = tuple(n.identity for n in notes)
        if key == self._shown:
            return
        self._shown = key
        self.display = bool(notes)
        text = Text()
        for n in notes:
            mark, style = MARKS.get(n.severity, MARKS["information"])
            if text:
                text.append("\n")
            text.append(f"{mark} ", style=style)
            if n.title:
                text.append(f"{n.title}: ", style="bold")
            body = n.message
            if n.markup:
                try:
                    body = Content.from_markup(n.message).plain
                except Exception:  # not valid markup: show it as it is
                    pass
            text.append(" ".join(body.split()))  # one line each: a notice never grows into a panel
        self.update(text)

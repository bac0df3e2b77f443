"""Status marks shared by the CLI and the TUI: a text symbol and a Rich style each.

Every status has a symbol as well as a colour, so both front ends read with NO_COLOR.
"""

from __future__ import annotations

# A lesson's status in a track (Tutor.status) -> (mark, style).
LESSON_MARKS = {
    "passed": ("✓", "bold green"),
    "failing": ("✗", "bold red"),
    "not started": ("·", ""),
    "not written": ("–", "dim"),
    "reading": ("○", "dim"),
    "broken": ("!", "bold red"),
}

# One named check's status (tutor.events), plus the TUI's live states -> (mark, style).
CHECK_MARKS = {
    "passed": ("✓", "bold green"),
    "failed": ("✗", "bold red"),
    "not_implemented": ("✗", "bold yellow"),
    "skipped": ("-", "dim"),
    "running": ("▸", "bold cyan"),
    "pending": ("·", "dim"),
}

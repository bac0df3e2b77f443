"""Status marks shared by the CLI and the TUI: a text symbol and a Rich style each.

Every status has a symbol as well as a colour, so both front ends read with NO_COLOR.
"""

from __future__ import annotations

# Day status (Tutor.status) -> (mark, style).
DAY_MARKS = {
    "passed": ("✓", "bold green"),
    "failing": ("✗", "bold red"),
    "not started": ("·", ""),
    "not written": ("–", "dim"),
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

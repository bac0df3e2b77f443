"""Messages that thread workers post to the main screen (workers never touch widgets)."""

from __future__ import annotations

from typing import Any

from textual.message import Message


class CheckEvent(Message):
    """One event from a running check (see tutor.events), in order."""

    def __init__(self, run_id: int, event: dict[str, Any]) -> None:
        super().__init__()
        self.run_id = run_id
        self.event = event


class CheckRecorded(Message):
    """A run ended and was recorded in the progress store (or could not run at all)."""

    def __init__(self, run_id: int, day: str, result: dict[str, Any] | None, error: str = "") -> None:
        super().__init__()
        self.run_id = run_id
        self.day = day
        self.result = result
        self.error = error


class DeviceProbed(Message):
    """What the torch probe child process said (device_name, torch version, or error)."""

    def __init__(self, info: dict[str, Any]) -> None:
        super().__init__()
        self.info = info

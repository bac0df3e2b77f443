"""Bodies of the thread workers. They only post messages; they never touch a widget."""

from __future__ import annotations

import traceback
from typing import Any, Callable

from textual.message_pump import MessagePump

from tutor.app.messages import CheckEvent, CheckRecorded, DeviceProbed
from tutor.runner import CheckRun
from tutor.session import Tutor


def run_check(target: MessagePump, run: CheckRun, run_id: int, day: str, tutor: Tutor) -> None:
    """Stream the run's events to `target`, then record the attempt (interrupted ones too)."""
    result: dict[str, Any] | None = None
    error = ""
    try:
        for event in run.events():
            target.post_message(CheckEvent(run_id, event))
        result = run.result.to_dict()
        try:
            tutor.record(run.result)
        except Exception as exc:  # the store is busy or broken: say so, keep the result
            error = f"this attempt could not be saved: {exc}"
    except Exception as exc:  # a broken runner must not take the app down
        run.cancel()
        error = "".join(traceback.format_exception_only(type(exc), exc)).strip()
    target.post_message(CheckRecorded(run_id, day, result, error))


def probe_device(target: MessagePump, probe: Callable[[], dict[str, Any]]) -> None:
    """Ask a child process what torch sees; then warm plotext (the first curve draws faster)."""
    try:
        info = probe()
    except Exception as exc:
        info = {"error": str(exc)}
    target.post_message(DeviceProbed(info))
    try:
        import plotext  # noqa: F401
    except Exception:
        pass

"""The JSON-lines protocol between a check's child process and the runner.

The child writes one JSON object per line on a dedicated pipe (never stdout,
which belongs to the learner's prints). Every object has an "event" key and the
run's token, a secret the parent made for this run and sent on the child's stdin;
the parent drops every line without it (see docs/threat-model.md).
This module is shared by both sides and imports nothing heavy.
"""

from __future__ import annotations

import hmac
import json
from typing import Any, TextIO

TOKEN = "token"  # the key of the run's token in every line the child writes

STARTED = "started"  # day, checks [{name, task}], device, device_name, seed, torch
CHECK_STARTED = "check_started"  # name, index
CHECK = "check"  # name, task, status, message, seconds
METRIC = "metric"  # check, name, value, threshold, higher_is_better
CURVE = "curve"  # check, name, step, value
HEATMAP = "heatmap"  # check, name, values (rows of numbers), rows, cols (labels), row_title, col_title
OUTPUT = "output"  # text (added by the parent from the child's stdout/stderr)
DONE = "done"  # passed, failed, peak_mib
FINISHED = "finished"  # added by the parent: the whole RunResult as a dict
ERROR = "error"  # message: the run could not happen (bad device, broken check script)

# Status of one named check.
CHECK_PASSED = "passed"
CHECK_FAILED = "failed"
CHECK_NOT_IMPLEMENTED = "not_implemented"
CHECK_SKIPPED = "skipped"


def encode(event: str, **fields: Any) -> str:
    """One event as a single JSON line (non-finite floats become null)."""
    return json.dumps({"event": event, **fields}, default=_fallback, allow_nan=False) + "\n"


def _fallback(value: Any) -> Any:
    try:
        return float(value)
    except (TypeError, ValueError):
        return str(value)


class TokenStream:
    """The child's events stream: `write` below stamps each event with the run's token."""

    def __init__(self, stream: TextIO, token: str):
        self._stream = stream
        self.token = token

    def write(self, text: str) -> None:
        self._stream.write(text)

    def flush(self) -> None:
        self._stream.flush()

    def close(self) -> None:
        self._stream.close()


def write(stream: TextIO | TokenStream, event: str, **fields: Any) -> None:
    """Write one event and flush, so the parent sees it live (with the token, on a TokenStream)."""
    token = getattr(stream, "token", None)
    if token is not None:
        fields[TOKEN] = token
    try:
        line = encode(event, **fields)
    except ValueError:  # NaN or inf somewhere: send them as strings
        clean = {k: (_finite_or_str(v)) for k, v in fields.items()}
        line = encode(event, **clean)
    stream.write(line)
    stream.flush()


def _finite_or_str(value: Any) -> Any:
    if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
        return str(value)
    return value


def decode(line: str, token: str | None = None) -> dict[str, Any] | None:
    """Parse one line; None for anything that is not an event object.

    With `token`, only a line carrying that token is an event (the token is removed).
    """
    try:
        obj = json.loads(line)
    except ValueError:
        return None
    if not isinstance(obj, dict) or "event" not in obj:
        return None
    if token is not None:
        sent = obj.pop(TOKEN, None)
        if not isinstance(sent, str) or not hmac.compare_digest(sent.encode(), token.encode()):
            return None
    return obj

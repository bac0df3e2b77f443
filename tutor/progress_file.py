"""The progress exchange format: versioned JSON lines, validated whole before anything is merged.

    {"format": "dltutor-progress", "version": 1, "schema": 2, "host": ..., "exported": ...}
    {"type": "attempt", "uid": ..., "lesson": ..., ...}      one per attempt
    {"type": "hint", "uid": ..., "lesson": ..., "task": ..., "hint": 0, "at": ..., "host": ...}
    {"type": "end", "records": N}                              a truncated file has no end line

Attempts and hint reveals carry ids unique across machines, so a merge is a set union:
importing twice adds nothing, and the order of two syncs does not matter.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any, Iterable

FORMAT = "dltutor-progress"
VERSION = 1

ATTEMPT_FIELDS: dict[str, tuple[type, ...]] = {
    "uid": (str,), "lesson": (str,), "started": (int, float), "ended": (int, float), "verdict": (str,),
    "passed": (int,), "total": (int,), "message": (str,), "device_kind": (str,), "device_name": (str,),
    "host": (str,), "seed": (int,), "checks": (list,), "metrics": (list,),
}
HINT_FIELDS: dict[str, tuple[type, ...]] = {
    "uid": (str,), "lesson": (str,), "task": (str,), "hint": (int,), "at": (int, float), "host": (str,),
}
KINDS = {"attempt": ATTEMPT_FIELDS, "hint": HINT_FIELDS}


class ProgressFileError(ValueError):
    """The input is not a complete, valid progress export; the message names the line."""


@dataclass
class Export:
    header: dict[str, Any]
    attempts: list[dict[str, Any]] = field(default_factory=list)
    hints: list[dict[str, Any]] = field(default_factory=list)

    @property
    def uids(self) -> set[str]:
        return {r["uid"] for r in self.attempts} | {r["uid"] for r in self.hints}


def write_lines(attempts: Iterable[dict[str, Any]], hints: Iterable[dict[str, Any]], host: str,
                schema: int) -> Iterable[str]:
    """The export, one JSON line at a time (each ends with a newline)."""
    yield json.dumps({"format": FORMAT, "version": VERSION, "schema": schema, "host": host,
                      "exported": time.time()}) + "\n"
    count = 0
    for kind, rows in (("attempt", attempts), ("hint", hints)):
        for row in rows:
            fields = KINDS[kind]
            yield json.dumps({"type": kind, **{k: row[k] for k in fields}}, ensure_ascii=False) + "\n"
            count += 1
    yield json.dumps({"type": "end", "records": count}) + "\n"


def _check_record(data: Any, n: int) -> tuple[str, dict[str, Any]]:
    if not isinstance(data, dict) or data.get("type") not in KINDS:
        raise ProgressFileError(f"line {n}: not an attempt or hint record")
    kind = data["type"]
    for name, types in KINDS[kind].items():
        value = data.get(name)
        if not isinstance(value, types) or isinstance(value, bool):
            want = " or ".join(t.__name__ for t in types)
            raise ProgressFileError(f"line {n}: {kind} field {name!r} must be {want}, got {type(value).__name__}")
    if not data["uid"] or not data["lesson"]:
        raise ProgressFileError(f"line {n}: {kind} has an empty uid or lesson")
    return kind, {k: data[k] for k in KINDS[kind]}


def parse(text: str) -> Export:
    """Validate a whole export; ProgressFileError naming the first bad line (nothing is half-read)."""
    lines = text.splitlines()
    if not lines:
        raise ProgressFileError("the input is empty: no progress export")
    try:
        header = json.loads(lines[0])
    except json.JSONDecodeError:
        raise ProgressFileError("line 1: not a dltutor progress export (not JSON)") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise ProgressFileError("line 1: not a dltutor progress export (no 'dltutor-progress' header)")
    if header.get("version") != VERSION:
        raise ProgressFileError(f"line 1: format version {header.get('version')!r}; this dltutor reads version "
                                f"{VERSION} (upgrade dltutor on the older side)")
    export = Export(header)
    ended = False
    for n, line in enumerate(lines[1:], 2):
        if ended:
            raise ProgressFileError(f"line {n}: text after the end line")
        try:
            data = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ProgressFileError(f"line {n}: not valid JSON ({exc.msg})") from None
        if isinstance(data, dict) and data.get("type") == "end":
            records = len(export.attempts) + len(export.hints)
            if data.get("records") != records:
                raise ProgressFileError(f"line {n}: the end line counts {data.get('records')} records, "
                                        f"the file has {records}")
            ended = True
            continue
        kind, record = _check_record(data, n)
        (export.attempts if kind == "attempt" else export.hints).append(record)
    if not ended:
        raise ProgressFileError(f"line {len(lines)}: the file ends before its end line (truncated?)")
    return export

"""The one reducer of a check's event stream: `RunState.apply(event)`.

The runner's RunResult, the CLI's live lines and the TUI's check pane all read a RunState;
a new kind of event (an image, a heatmap, a table) is added here once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tutor import events

# What a planned check is while a run goes on (the statuses of a finished check are in tutor.events).
PENDING = "pending"
RUNNING = "running"
MAX_HEATMAPS = 8  # a run keeps at most this many heatmaps


@dataclass
class CheckOutcome:
    name: str
    status: str
    message: str = ""
    task: str | None = None
    seconds: float = 0.0


@dataclass
class Row:
    """One line of a live check list: a planned check and what is known of it now."""

    name: str
    task: str | None
    status: str  # pending, running, or a finished check's status
    message: str = ""
    metrics: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class RunState:
    planned: list[tuple[str, str | None]] = field(default_factory=list)
    outcomes: list[CheckOutcome] = field(default_factory=list)
    current: str = ""
    metrics: list[dict[str, Any]] = field(default_factory=list)
    curves: dict[str, list[float]] = field(default_factory=dict)
    curve_starts: dict[str, int] = field(default_factory=dict)  # a curve's first step, when not 0
    heatmaps: list[dict[str, Any]] = field(default_factory=list)  # as sent (tutor.heatmap draws them)
    output: str = ""  # the first part of the learner's prints
    output_tail: str = ""  # the last part, when the middle was dropped
    output_dropped: int = 0
    output_dropped_lines: int = 0
    error: str = ""
    reason: str = ""  # why an error run could not happen: device, memory, startup, protocol
    device: str = ""
    device_name: str = ""
    started_seen: bool = False
    done: bool = False
    peak_mib: float = 0.0
    gpu_peak_mib: float = 0.0
    final: dict[str, Any] | None = None  # the RunResult as a dict, from 'finished'

    def apply(self, event: dict[str, Any]) -> None:
        """Fold one event into the state."""
        kind = event.get("event")
        if kind == events.STARTED:
            self.started_seen = True
            self.device = str(event.get("device", ""))
            self.device_name = str(event.get("device_name", ""))
            self.planned = [(c["name"], c.get("task")) for c in event.get("checks", [])]
        elif kind == events.CHECK_STARTED:
            self.current = str(event.get("name", ""))
        elif kind == events.CHECK:
            self.current = ""
            self.outcomes.append(CheckOutcome(event["name"], event["status"], event.get("message") or "",
                                              event.get("task"), float(event.get("seconds") or 0.0)))
        elif kind == events.METRIC:
            self.metrics.append({k: v for k, v in event.items() if k != "event"})
        elif kind == events.CURVE:
            value = event.get("value")
            if isinstance(value, (int, float)):
                name = str(event.get("name", "loss"))
                if name not in self.curves and event.get("step"):
                    self.curve_starts[name] = int(event["step"])
                self.curves.setdefault(name, []).append(float(value))
        elif kind == events.HEATMAP:
            if isinstance(event.get("values"), list) and len(self.heatmaps) < MAX_HEATMAPS:
                self.heatmaps.append({k: v for k, v in event.items() if k != "event"})
        elif kind == events.OUTPUT:
            if event.get("tail"):
                self.output_tail = event.get("text", "")
                self.output_dropped = int(event.get("dropped", 0))
                self.output_dropped_lines = int(event.get("dropped_lines", 0))
            else:
                self.output += event.get("text", "")
        elif kind == events.ERROR:
            self.error = event.get("message", "")
            self.reason = str(event.get("reason", ""))
        elif kind == events.DONE:
            self.done = True
            self.peak_mib = float(event.get("peak_mib") or 0.0)
            self.gpu_peak_mib = float(event.get("gpu_peak_mib") or 0.0)
        elif kind == events.FINISHED:
            self.final = event.get("result") or {}

    @property
    def running(self) -> bool:
        return self.final is None

    def rows(self) -> list[Row]:
        """Every planned check in order, with its status now (and any result that was not planned)."""
        by_name = {o.name: o for o in self.outcomes}
        names = [n for n, _ in self.planned] + [o.name for o in self.outcomes if o.name not in dict(self.planned)]
        tasks = dict(self.planned)
        rows = []
        for name in names:
            outcome = by_name.get(name)
            status = outcome.status if outcome else (RUNNING if name == self.current else PENDING)
            rows.append(Row(name, outcome.task if outcome else tasks.get(name), status,
                            outcome.message if outcome else "",
                            [m for m in self.metrics if m.get("check") == name]))
        return rows

    def counts(self) -> tuple[int, int]:
        """(checks finished, checks planned)."""
        return len(self.outcomes), max(len(self.planned), len(self.outcomes))

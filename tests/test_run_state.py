"""The one reducer of a check's events: what the CLI, the TUI and RunResult all read."""

from __future__ import annotations

from tutor import events
from tutor.run_state import PENDING, RUNNING, RunState


def test_rows_follow_the_plan_and_the_events():
    s = RunState()
    s.apply({"event": events.STARTED, "checks": [{"name": "a", "task": "t"}, {"name": "b", "task": "t"}],
             "device": "cpu", "device_name": "CPU, 1 thread"})
    assert [(r.name, r.status) for r in s.rows()] == [("a", PENDING), ("b", PENDING)]
    s.apply({"event": events.CHECK_STARTED, "name": "a", "index": 0})
    s.apply({"event": events.METRIC, "check": "a", "name": "acc", "value": 0.9, "threshold": 0.8})
    assert s.rows()[0].status == RUNNING and s.rows()[0].metrics[0]["value"] == 0.9
    s.apply({"event": events.CHECK, "name": "a", "task": "t", "status": events.CHECK_FAILED, "message": "off by 2"})
    s.apply({"event": events.CURVE, "name": "loss", "step": 5, "value": 1.5})
    s.apply({"event": events.CURVE, "name": "loss", "step": 6, "value": 1.0})
    assert [(r.name, r.status, r.message) for r in s.rows()] == [("a", events.CHECK_FAILED, "off by 2"), ("b", PENDING, "")]
    assert s.counts() == (1, 2) and s.curves == {"loss": [1.5, 1.0]} and s.curve_starts == {"loss": 5}
    assert s.running
    s.apply({"event": events.FINISHED, "result": {"verdict": "failed"}})
    assert not s.running and s.final == {"verdict": "failed"}


def test_output_head_tail_error_and_done():
    s = RunState()
    s.apply({"event": events.OUTPUT, "text": "hello\n"})
    s.apply({"event": events.OUTPUT, "text": "end\n", "tail": True, "dropped": 100, "dropped_lines": 7})
    s.apply({"event": events.ERROR, "message": "no CUDA", "reason": "device"})
    s.apply({"event": events.DONE, "passed": 0, "failed": 0, "peak_mib": 300.5})
    assert (s.output, s.output_tail, s.output_dropped, s.output_dropped_lines) == ("hello\n", "end\n", 100, 7)
    assert (s.error, s.reason, s.done, s.peak_mib) == ("no CUDA", "device", True, 300.5)


def test_a_result_that_was_not_planned_still_shows():
    s = RunState()
    s.apply({"event": events.CHECK, "name": "surprise", "status": events.CHECK_PASSED})
    assert [r.name for r in s.rows()] == ["surprise"]


def test_heatmaps_are_kept_in_order_up_to_the_cap():
    from tutor.run_state import MAX_HEATMAPS

    s = RunState()
    for i in range(MAX_HEATMAPS + 3):
        s.apply({"event": events.HEATMAP, "check": "a", "name": f"h{i}", "values": [[0.0, 1.0]], "rows": ["r"],
                 "cols": ["x", "y"]})
    s.apply({"event": events.HEATMAP, "check": "a", "name": "broken", "values": "not a matrix"})
    assert [h["name"] for h in s.heatmaps] == [f"h{i}" for i in range(MAX_HEATMAPS)]
    assert s.heatmaps[0]["values"] == [[0.0, 1.0]] and "event" not in s.heatmaps[0]

"""CLI renderings: output panel, verdict, progress table, code, curves (issue 7, items 11-14)."""

from __future__ import annotations

import io
import math
import re

from rich.console import Console

from tutor.plotting import MARKERS, panels, render_curves
from tutor.render import best_metric, output_panel, print_code, progress_table, verdict_panel
from tutor.runner import RunResult


def text_of(renderable, width: int = 80) -> str:
    console = Console(width=width, file=io.StringIO(), color_system=None, legacy_windows=False)
    console.print(renderable)
    return console.file.getvalue()


# -- item 11: the output panel keeps head and tail and says what it left out ------------------
def test_short_output_is_shown_whole_without_a_note():
    shown = text_of(output_panel(RunResult("x", output="one\ntwo\n")))
    assert "one" in shown and "two" in shown and "left out" not in shown and "of " not in shown


def test_long_kept_output_shows_head_and_tail_with_true_counts():
    out = "".join(f"line {i}\n" for i in range(100))
    shown = text_of(output_panel(RunResult("x", output=out)), width=100)
    assert "first 10 and last 20 of 100 lines" in shown
    assert "line 0" in shown and "line 9" in shown and not re.search(r"\bline (1\d|[2-7]\d)\b", shown)
    assert "line 80" in shown and "line 99" in shown and "70 lines left out" in shown


def test_dropped_output_says_how_much_was_not_kept():
    head = "".join(f"line {i}\n" for i in range(3000))
    tail = "".join(f"line {i}\n" for i in range(396_000, 400_000))
    r = RunResult("x", output=head, output_tail=tail, output_dropped=4_500_000, output_dropped_lines=393_000)
    shown = text_of(output_panel(r), width=120)
    assert "first 10 and last 20 of about 400,000 lines" in shown
    assert "line 0" in shown and "line 399999" in shown
    assert "4.3 MiB of them not kept" in shown and "last 30" not in shown


# -- the verdict shows a large peak memory ----------------------------------------------------
def test_verdict_shows_large_peak_memory_only():
    small = text_of(verdict_panel(RunResult("x", verdict="passed", message="ok", peak_mib=300), "T"))
    big = text_of(verdict_panel(RunResult("x", verdict="passed", message="ok", peak_mib=3200), "T"))
    assert "peak memory" not in small and "peak memory 3.1 GiB" in big


# -- item 13: the best metric, value first, fits 80 columns ------------------------------------
ROWS = [
    dict(position="day 2", title="The Perceptron", status="passed", attempts=3, hints=1, seconds=42,
         best_metrics={"accuracy on the blobs": 0.9534}),
    dict(position="day 13", title="Batch Normalization", status="failing", attempts=12, hints=7, seconds=900,
         best_metrics={"steps until the loss is below 0.8 with your BN": 123.0}),
]


def test_progress_best_metric_value_first_within_80_columns():
    shown = text_of(progress_table(ROWS, 1), width=80)
    assert all(len(line) <= 80 for line in shown.splitlines())
    assert "0.953 acc. on blobs" in shown and "123 steps" in shown


def test_progress_best_metric_uses_the_room_on_a_wide_terminal():
    shown = text_of(progress_table(ROWS, 1), width=160)
    assert "123 steps until loss is below 0.8 with your BN" in shown


def test_best_metric_abbreviates_the_name():
    assert best_metric({"accuracy on the blobs": 1.0}).plain == "1 acc. on blobs"
    assert best_metric({}).plain == ""


# -- item 14: code is never cropped --------------------------------------------------------------
LONG = "def f():\n    return " + " + ".join(f"value_{i}" for i in range(30)) + "  # END\n"


def test_solution_code_plain_when_not_a_terminal():
    console = Console(width=80, file=io.StringIO(), force_terminal=False)
    print_code(console, "mod.py", LONG)
    assert LONG in console.file.getvalue()


def test_solution_code_wraps_on_a_terminal():
    console = Console(width=80, file=io.StringIO(), force_terminal=True, color_system=None)
    print_code(console, "mod.py", LONG)
    shown = console.file.getvalue()
    assert "# END" in shown and "value_29" in shown


# -- item 12: curves with different x units or y ranges go in separate panels ------------------
LOSS = [2.3 * math.exp(-i / 30) + 0.1 for i in range(126)]


def test_per_epoch_accuracy_gets_its_own_panel():
    groups = panels({"train loss": LOSS, "test accuracy": [0.91, 0.95]}, {"test accuracy": 1})
    assert [[s.name for s in g.series] for g in groups] == [["train loss"], ["test accuracy"]]
    assert groups[1].series[0].x == [1.0, 2.0]


def test_same_steps_and_scale_share_a_panel_but_far_scales_do_not():
    near = panels({"loss without BN": LOSS, "loss with BN": [v * 0.8 for v in LOSS]})
    far = panels({"loss": LOSS, "accuracy": [0.90 + 0.0005 * i for i in range(126)]})
    assert len(near) == 1 and len(near[0].series) == 2 and len(far) == 2


def test_series_keep_distinct_markers_under_no_color():
    chart = render_curves({"a loss": LOSS, "b loss": [v + 0.2 for v in LOSS], "test accuracy": [0.9, 0.95]},
                          width=72, height=14, color=False, starts={"test accuracy": 1})
    assert "\x1b[" not in chart
    for marker in MARKERS[:3]:
        assert marker in chart
    assert chart.count("┌") == 2  # two panels


def test_x_axis_is_labelled_with_the_unit_the_names_give():
    chart = render_curves({"mini-batch loss (batch 16)": LOSS, "training-set loss per epoch": LOSS[:5]},
                          width=72, height=12, color=False)
    assert "step" in chart and "epoch" in chart


def test_wrapped_check_messages_stay_indented():
    import io

    from rich.console import Console

    from tutor.render import check_line

    console = Console(width=40, file=io.StringIO(), color_system=None)
    from tutor.run_state import CheckOutcome

    console.print(check_line(CheckOutcome("a check", "failed",
                                          "a long message that must wrap under the indent and not at column 0")))
    lines = console.file.getvalue().splitlines()
    assert lines[0].startswith("✗ a check") and len(lines) >= 3
    assert all(line.startswith("    ") for line in lines[1:] if line.strip())

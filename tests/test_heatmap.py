"""Heatmaps (attention weights, confusion matrices) as terminal text: they fit and they read."""

from __future__ import annotations

from pathlib import Path

from conftest import write_learner
from tutor.heatmap import SHADES, heatmap_text, shade
from tutor.runner import CheckRun, RunRequest


def lines(heatmap: dict, width: int = 80) -> list[str]:
    return heatmap_text(heatmap, width).plain.splitlines()


def test_an_anti_diagonal_reads_as_one():
    tokens = list("abcd")
    values = [[1.0 if j == 3 - i else 0.0 for j in range(4)] for i in range(4)]
    out = lines({"name": "attention", "values": values, "rows": tokens[::-1], "cols": tokens,
                 "row_title": "output", "col_title": "input"})
    assert out[0].startswith("attention (output × input")
    assert out[1].split() == tokens
    assert out[2] == "d       ██" and out[5] == "a ██      "  # row label, then two characters a cell
    assert "0 to 1" in out[6]


def test_shades_span_low_to_high_and_mark_missing_values():
    assert shade(0.0, 0.0, 1.0) == SHADES[0] and shade(1.0, 0.0, 1.0) == SHADES[-1]
    assert shade(0.5, 0.0, 1.0) == SHADES[2]
    assert shade(None, 0.0, 1.0) == "?" and shade(float("nan"), 0.0, 1.0) == "?"
    assert shade(3.0, 3.0, 3.0) == SHADES[-1]  # a constant matrix still shows


def test_a_wide_matrix_fits_80_columns_and_says_what_it_left_out():
    values = [[(i * j) % 7 / 6 for j in range(100)] for i in range(3)]
    out = lines({"name": "wide", "values": values, "cols": [f"token{j}" for j in range(100)]})
    assert max(len(line) for line in out) <= 80
    assert any("more columns not shown" in line for line in out)
    assert out[-1].startswith("columns: 0=token0 1=token1")  # long labels: numbers on top, a key below


def test_a_check_sends_a_heatmap_that_the_result_keeps(tiny_course: Path, tmp_path: Path):
    script = tmp_path / "heat.py"
    script.write_text(
        "import torch\nfrom tutor.checking import check\n\n"
        "@check('draws attention', task='go')\n"
        "def draws(ctx):\n"
        "    ctx.heatmap('attention', torch.eye(3), rows='abc', cols=['x', 'y'], row_title='out')\n"
    )
    run = CheckRun(RunRequest("tiny-day", script, write_learner(tmp_path / "src", "def go():\n    return 42\n").parent))
    result = run.run()
    assert result.verdict == "passed", result.message
    (heat,) = result.heatmaps
    assert heat["check"] == "draws attention" and heat["rows"] == ["a", "b", "c"]
    assert heat["cols"] == ["x", "y", "2"] and heat["values"][1] == [0.0, 1.0, 0.0]


def test_two_character_labels_stay_apart():
    cols = ["10", "11", "12", "13"]
    out = lines({"name": "m", "values": [[0.0, 1.0, 0.5, 0.25]], "rows": ["r"], "cols": cols})
    assert out[1].split() == cols and out[2] == "r    ███▒▒▒░░░"  # three characters a cell

"""The CLI through Typer's runner: exit codes, streams, --json shapes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tutor.cli import app
from tutor.course import load_course


@pytest.fixture
def cli(tiny_course: Path, workspace: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("DLTUTOR_COURSE", str(tiny_course))
    monkeypatch.setenv("NO_COLOR", "1")
    load_course.cache_clear()
    yield CliRunner()
    load_course.cache_clear()


def invoke(cli: CliRunner, *args: str, input: str | None = None):
    return cli.invoke(app, list(args), input=input)


def test_check_starter_fails_with_exit_1(cli, workspace: Path):
    r = invoke(cli, "check", "1", "--no-plot")
    assert r.exit_code == 1, r.output
    assert "not implemented yet: go (mod.py:2)" in r.stdout and "FAILED" in r.stdout
    assert "set up your workspace" in r.stderr


def test_check_solution_passes_and_is_recorded(cli, workspace: Path, tiny_course: Path):
    (workspace / "tiny-day").mkdir(parents=True)
    (workspace / "tiny-day" / "mod.py").write_text((tiny_course / "solutions/tiny-day/mod.py").read_text())
    r = invoke(cli, "check", "day01")
    assert r.exit_code == 0, r.output
    assert "✓ go() returns 42" in r.stdout and "PASSED" in r.stdout
    assert "answer = 42 (needs ≥ 42)" in r.stdout and "loss curves" in r.stdout
    prog = json.loads(invoke(cli, "progress", "--json").stdout)
    day = next(d for d in prog["lessons"] if d["lesson"] == "tiny-day")
    assert day["status"] == "passed" and day["attempts"] == 1 and day["best_metrics"] == {"answer": 42.0}


def test_check_json_shape(cli):
    r = invoke(cli, "check", "1", "--json")
    assert r.exit_code == 1
    data = json.loads(r.stdout)
    assert data["verdict"] == "failed" and data["exit_code"] == 1 and data["day"] == "tiny-day"
    assert {"name", "status", "message", "task", "seconds"} <= set(data["checks"][0])
    assert data["total"] == 2 and data["passed"] == 0 and data["device"] == "cpu"


@pytest.mark.parametrize("args", [["check", "day99"], ["check", "../x"], ["show", "3"], ["hint", "nope"],
                                  ["check", "1", "--bogus"], ["check", "1", "--timeout", "-3"],
                                  ["check", "1", "--device", "gpu0"]])
def test_usage_errors_exit_2(cli, args):
    r = invoke(cli, *args)
    assert r.exit_code == 2, r.output
    assert r.stdout == ""


def test_unknown_day_suggests(cli):
    r = invoke(cli, "show", "second")
    assert r.exit_code == 2 and "did you mean second-day (Second day)" in r.stderr
    assert "not written yet" in invoke(cli, "show", "3").stderr


def test_hints_one_at_a_time(cli):
    assert invoke(cli, "hint", "1").stdout.strip() == "[go] hint 1/2: first hint"
    assert invoke(cli, "hint", "1").stdout.strip() == "[go] hint 2/2: second hint"
    r = invoke(cli, "hint", "1")
    assert r.exit_code == 0 and "all hints of task 'go'" in r.stderr
    assert invoke(cli, "hint", "1", "--shown").stdout.splitlines() == ["[go] hint 1/2: first hint", "[go] hint 2/2: second hint"]


def test_solution_locked_until_pass(cli):
    r = invoke(cli, "solution", "1")
    assert r.exit_code == 1 and "opens after your first pass" in r.stderr
    r = invoke(cli, "solution", "1", "--force")
    assert r.exit_code == 0 and "return 42" in r.stdout and "warning" in r.stderr


def test_reset_asks_and_keeps_backup(cli, workspace: Path):
    invoke(cli, "list")
    mine = workspace / "tiny-day" / "mod.py"
    mine.write_text("mine\n")
    r = invoke(cli, "reset", "1", "--yes")
    assert r.exit_code == 0 and "your files are in" in r.stderr
    assert "raise NotImplementedError" in mine.read_text()
    backups = list((workspace / ".dltutor" / "backups").glob("tiny-day-*/mod.py"))
    assert [b.read_text() for b in backups] == ["mine\n"]


def test_reset_without_terminal_needs_yes(cli, workspace: Path):
    invoke(cli, "list")
    r = invoke(cli, "reset", "1")
    assert r.exit_code == 1 and "--yes" in r.stderr


def test_list_json_and_table(cli):
    data = json.loads(invoke(cli, "list", "--json").stdout)
    assert [(d["lesson"], d["status"]) for d in data] == [("tiny-day", "not started"), ("second-day", "not started"),
                                                           ("unwritten-day", "not written")]
    table = invoke(cli, "list").stdout
    assert "Week 1: Tiny week" in table and "Unwritten day" in table


def test_show_renders_lesson(cli):
    r = invoke(cli, "show", "1")
    assert r.exit_code == 0 and "Day 1: Tiny day" in r.stdout and "Your exercise" in r.stdout


def test_edit_print_path_and_editor(cli, workspace: Path, tmp_path: Path, monkeypatch):
    r = invoke(cli, "edit", "1", "--print-path")
    assert r.stdout.strip() == str(workspace.resolve() / "tiny-day" / "mod.py")
    log = tmp_path / "edited"
    script = tmp_path / "fake-editor"
    script.write_text(f"#!/bin/sh\necho \"$1\" > {log}\n")
    script.chmod(0o755)
    monkeypatch.setenv("VISUAL", str(script))
    assert invoke(cli, "edit", "1").exit_code == 0
    assert log.read_text().strip().endswith("tiny-day/mod.py")
    monkeypatch.setenv("VISUAL", "no-such-editor-xyz")
    r = invoke(cli, "edit", "1")
    assert r.exit_code == 1 and "not on PATH" in r.stderr


def test_deleted_exercise_file_is_a_clear_failure(cli, workspace: Path):
    invoke(cli, "list")
    (workspace / "tiny-day" / "mod.py").unlink()
    r = invoke(cli, "check", "1", "--no-plot")
    assert r.exit_code == 1 and "missing" in r.stdout and "dltutor reset" in r.stdout
    assert "Traceback" not in r.output


def test_verify_tiny_course(cli):
    r = invoke(cli, "verify", "1", "--seeds", "1")
    assert r.exit_code == 0, r.output
    assert "1 passed, 0 failed" in r.stdout


def test_doctor_json(cli):
    r = invoke(cli, "doctor", "--json")
    data = json.loads(r.stdout)
    assert data["torch"]["device_name"].startswith(("CPU", "CUDA", "MPS"))
    assert data["workspace"] and data["terminal"]["size"]


def test_two_checks_at_once_are_both_recorded(cli, workspace: Path, tiny_course: Path):
    """Two SSH sessions checking at the same moment: both attempts land in the store."""
    import os
    import subprocess
    import sys

    invoke(cli, "list")
    env = {**os.environ, "DLTUTOR_COURSE": str(tiny_course), "DLTUTOR_HOME": str(workspace)}
    cmd = [sys.executable, "-m", "tutor", "check", "1", "--json"]
    procs = [subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL) for _ in range(2)]
    verdicts = [json.loads(p.communicate(timeout=120)[0])["verdict"] for p in procs]
    assert verdicts == ["failed", "failed"]
    prog = json.loads(invoke(cli, "progress", "--json").stdout)
    assert next(d for d in prog["lessons"] if d["lesson"] == "tiny-day")["attempts"] == 2


def test_tracks_track_use_and_a_dated_list(cli, workspace: Path):
    r = invoke(cli, "tracks", "--json")
    assert r.exit_code == 0 and [t["name"] for t in json.loads(r.stdout)] == ["50-days"]
    assert invoke(cli, "track", "use", "nope").exit_code == 2
    assert invoke(cli, "track", "use", "50-days", "--start", "not-a-date").exit_code == 2


def test_real_course_twelve_weeks_with_a_start_date(workspace: Path):
    """On the real course: `track use 12-weeks --start` shifts the dates; a passed lesson shows as passed."""
    from tutor.cli import app
    from tutor.progress import ProgressStore

    runner = CliRunner()
    assert runner.invoke(app, ["list"]).exit_code == 0  # makes the workspace
    store = ProgressStore(workspace / ".dltutor" / "progress.db")
    store.record_attempt({"lesson": "loss-functions", "verdict": "passed", "passed": 1, "total": 1})
    r = runner.invoke(app, ["track", "use", "12-weeks", "--start", "2027-01-04"])
    assert r.exit_code == 0, r.output
    data = json.loads(runner.invoke(app, ["list", "--json"]).stdout)
    first = data[0]
    assert first["date"] == "2027-01-04" and first["label"] == "Mon"
    assert next(d for d in data if d["lesson"] == "loss-functions")["status"] == "passed"
    r = runner.invoke(app, ["today", "--date", "2027-01-20"])
    assert r.exit_code == 0 and "behind" in r.stdout
    for text in ("13", "day13", "batch-norm"):
        r = runner.invoke(app, ["show", text, "--track", "50-days"])
        assert r.exit_code == 0 and "Batch Normalization" in r.stdout


def test_check_draws_the_checks_heatmaps_and_json_carries_them(cli, tiny_course: Path):
    script = tiny_course / "checks" / "tiny-day.py"
    script.write_text(script.read_text() + (
        "\n\n@check('attention is drawn', task='go')\n"
        "def drawn(ctx):\n"
        "    ctx.heatmap('attention', [[0.0, 1.0], [1.0, 0.0]], rows=['b', 'a'], cols=['a', 'b'],\n"
        "                row_title='output', col_title='input')\n"))
    r = invoke(cli, "check", "1", "--no-plot")
    assert "attention (output × input" not in r.stdout  # --no-plot: no curves, no heatmaps
    r = invoke(cli, "check", "1")
    assert "attention (output × input" in r.stdout and "b   ██" in r.stdout, r.stdout
    data = json.loads(invoke(cli, "check", "1", "--json").stdout)
    assert data["heatmaps"][0]["values"] == [[0.0, 1.0], [1.0, 0.0]]

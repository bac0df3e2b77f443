"""Pilot tests of the TUI (App.run_test) over a tiny fake course whose checks run in seconds.

Every check here really runs in a child process through tutor.runner (the child imports
torch, so a run takes a second or two); waits poll with generous limits for slow CI.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tutor.app.app import DltutorApp
from tutor.app.dialogs.confirm import ConfirmDialog
from tutor.app.dialogs.message import MessageDialog
from tutor.app.dialogs.solution import SolutionDialog
from tutor.app.screens.help import KEYS, HelpScreen
from tutor.app.screens.main import MainScreen
from tutor.app.screens.progress import ProgressScreen
from conftest import make_course, plain, solution_text
from tutor.app.widgets.check_panel import CheckPanel
from tutor.app.widgets.course_tree import CourseTree
from tutor.app.widgets.top_bar import TopBar
from tutor.course import Course
from tutor.session import Tutor

SIZE = (80, 24)
RUN_LIMIT = 90.0  # seconds: one check on a loaded 2-core machine


@pytest.fixture(scope="module")
def course(tmp_path_factory: pytest.TempPathFactory) -> Course:
    return Course(make_course(tmp_path_factory.mktemp("course")))


@pytest.fixture
def tutor(course: Course, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Tutor:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("DLTUTOR_HOME", str(tmp_path / "dltutor"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    for name in ("VISUAL", "EDITOR"):
        monkeypatch.delenv(name, raising=False)
    return Tutor(tmp_path / "dltutor", course=course)


def make_app(tutor: Tutor, **kwargs) -> DltutorApp:
    kwargs.setdefault("device", "cpu")
    kwargs.setdefault("probe", lambda: {"device_name": "CPU, test"})
    kwargs.setdefault("warm", False)  # the warm check process has its own tests (tests/test_warm.py)
    return DltutorApp(tutor=tutor, watch_interval=0.1, watch_debounce=0.2, **kwargs)


async def until(pilot, condition, what: str, timeout: float = RUN_LIMIT) -> None:
    """Poll (never a fixed sleep) until condition() is true."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        await pilot.pause(0.05)


def main(app: DltutorApp) -> MainScreen:
    return app.main


def text_of(app: DltutorApp, selector: str) -> str:
    return plain(app.main.query_one(selector).content)


def tree_label(app: DltutorApp, day: str) -> str:
    return str(app.main.query_one(CourseTree)._entry_nodes[day].label)


def verdict(app: DltutorApp) -> str:
    return text_of(app, "#verdict")


async def run_to_end(pilot, app: DltutorApp) -> None:
    await until(pilot, lambda: main(app).run is not None or main(app).run_id > 0, "the run to start", 10)
    await until(pilot, lambda: main(app).run is None and not main(app).query_one(CheckPanel).running,
                "the check to finish")


def write_solution(tutor: Tutor, day: str = "tiny-day", slow: float = 0.0) -> Path:
    lesson = tutor.course.lesson(day)
    path = tutor.exercise_path(lesson)
    path.write_text(solution_text(slow), encoding="utf-8")
    return path


def record(tutor: Tutor, day: str, verdict: str, seconds: float = 12.0) -> None:
    now = time.time()
    tutor.store.record_attempt({"day": day, "verdict": verdict, "passed": 3 if verdict == "passed" else 0,
                                "total": 3, "started": now - seconds, "ended": now, "device_name": "CPU, test",
                                "checks": [], "metrics": [{"name": "loss", "value": 0.25,
                                                           "higher_is_better": False}]})


# -- opening and navigating ---------------------------------------------------------------
async def test_opens_on_first_day_not_passed(tutor: Tutor) -> None:
    record(tutor, "tiny-day", "passed")
    app = make_app(tutor, device="auto")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert main(app).entry.key == "second-day"
        assert "Second day" in text_of(app, "#lesson-head")
        assert tree_label(app, "tiny-day").startswith("✓")
        assert tree_label(app, "second-day").startswith("·")
        assert tree_label(app, "unwritten-day").startswith("–")  # not written: marked, not broken
        await until(pilot, lambda: "CPU, test" in app.main.query_one(TopBar).device, "the probed device", 10)


async def test_opens_on_requested_day_even_unwritten(tutor: Tutor) -> None:
    app = make_app(tutor, day="3")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert main(app).entry.key == "unwritten-day"
        assert "not written yet" in text_of(app, "#lesson-head")
        await pilot.press("c")
        assert main(app).run is None
        assert any("not written" in n.message for n in app._notifications)


async def test_tree_navigation_changes_the_lesson(tutor: Tutor) -> None:
    app = make_app(tutor)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert main(app).entry.key == "tiny-day"
        assert "Tiny day" in text_of(app, "#lesson-head")
        tree = app.main.query_one(CourseTree)
        assert tree.has_focus
        await until(pilot, lambda: tree.cursor_node is not None and tree.cursor_node.data is not None,
                    "the cursor on tiny-day", 5)
        await pilot.press("down", "enter")
        assert main(app).entry.key == "second-day"
        assert "Second day" in text_of(app, "#lesson-head")
        assert "mod.py" in text_of(app, "#lesson-tasks")
        await pilot.press("down", "enter")
        assert main(app).entry.key == "unwritten-day"
        assert "not written yet" in text_of(app, "#lesson-head")


async def test_tree_hides_and_panes_switch_at_80x24(tutor: Tutor) -> None:
    app = make_app(tutor)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        screen = main(app)
        assert screen.query_one("#lesson").display and not screen.query_one("#check").display
        await pilot.press("v")
        assert screen.query_one("#check").display and not screen.query_one("#lesson").display
        await pilot.press("t")
        assert not screen.query_one("#tree").display
        await pilot.press("t")
        assert screen.query_one("#tree").display


async def test_panes_stack_when_tall(tutor: Tutor) -> None:
    app = make_app(tutor)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert main(app).query_one("#lesson").display and main(app).query_one("#check").display


# -- checks -------------------------------------------------------------------------------
async def test_check_fails_on_the_starter_then_passes(tutor: Tutor) -> None:
    app = make_app(tutor)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("c")
        assert main(app).has_class("-show-check")  # at 80x24 the check pane comes forward
        await run_to_end(pilot, app)
        lines = text_of(app, "#check-lines")
        assert "✗ go() returns 42" in lines
        assert "not implemented yet" in lines
        assert "FAILED" in verdict(app) and "0 of 2 checks passed" in verdict(app)
        assert tree_label(app, "tiny-day").startswith("✗")
        assert tutor.store.attempts("tiny-day")[0]["verdict"] == "failed"

        write_solution(tutor)
        await pilot.press("c")
        await run_to_end(pilot, app)
        lines = text_of(app, "#check-lines")
        assert "✓ go() returns 42" in lines and "✓ go() again" in lines
        assert "PASSED" in verdict(app)
        assert tree_label(app, "tiny-day").startswith("✓")
        panel = app.main.query_one(CheckPanel)
        assert panel.curves["loss"] == [3.0, 2.0, 1.0]
        assert panel.query_one("#curve").display
        assert "learner says: hello" in "\n".join(panel.query_one("#output").lines)
        assert "✓" in text_of(app, "#lesson-tasks")  # the task's mark follows the last check
        assert [a["verdict"] for a in tutor.store.attempts("tiny-day")] == ["passed", "failed"]


@pytest.mark.parametrize("key", ["x", "ctrl+c"])
async def test_cancel_stops_the_process_group_and_records_interrupted(tutor: Tutor, key: str) -> None:
    write_solution(tutor, slow=60.0)
    app = make_app(tutor)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("c")
        screen = main(app)
        run = screen.run
        assert run is not None
        panel = screen.query_one(CheckPanel)
        await until(pilot, lambda: any(o.name == "go() returns 42" for o in panel.state.outcomes), "the first check")
        await pilot.press(key)
        await until(pilot, lambda: screen.run is None, "the cancelled run to end", 20)
        assert "CANCELLED" in verdict(app)
        assert run._proc is not None and run._proc.poll() is not None
        with pytest.raises(ProcessLookupError):
            os.killpg(run._proc.pid, 0)
        assert tutor.store.attempts("tiny-day")[0]["verdict"] == "interrupted"
        assert tree_label(app, "tiny-day").startswith("·")  # interrupted is not failing


async def test_watch_reruns_on_save_and_coalesces_saves_during_a_run(tutor: Tutor) -> None:
    app = make_app(tutor)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        screen = main(app)
        await pilot.press("w")
        assert "watching" in app.main.query_one(TopBar).watching  # inotify here; "(polling)" where events do not come
        path = write_solution(tutor, slow=1.0)
        await until(pilot, lambda: screen.run is not None, "a run started by the save", 10)
        first = screen.run_id
        for n in range(3):  # three saves while it runs (each run lasts > 1 s: SLOW stays 1.0) -> one re-run after it
            path.write_text(solution_text(slow=1.0) + f"\n# save {n}\n", encoding="utf-8")
            await pilot.pause(0.3)
        assert screen.run_id == first and screen.run is not None
        await until(pilot, lambda: screen.run_id == first + 1, "the coalesced re-run")
        await until(pilot, lambda: screen.run is None, "the re-run to end")
        await pilot.pause(1.0)
        assert screen.run_id == first + 1 and screen.run is None
        assert "PASSED" in verdict(app)
        await pilot.press("w")
        assert not app.main.query_one(TopBar).watching


# -- hints, solution, reset, progress, help, palette ----------------------------------------
async def test_hints_one_at_a_time_and_recorded(tutor: Tutor) -> None:
    app = make_app(tutor)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("h")
        assert isinstance(app.screen, MessageDialog)
        assert "Hint 1 of 2" in app.screen.title_text and "first hint" in app.screen.body
        await pilot.press("escape")
        assert isinstance(app.screen, MainScreen)
        assert sum(tutor.store.hints_shown("tiny-day").values()) == 1
        assert "Hints opened (1 of 2)" in text_of(app, "#lesson-tasks")
        await pilot.press("h")
        await pilot.press("enter")
        await pilot.press("h")
        assert "No more hints" in app.screen.title_text
        await pilot.press("escape")
        assert sum(tutor.store.hints_shown("tiny-day").values()) == 2


async def test_solution_asks_first_until_passed(tutor: Tutor) -> None:
    app = make_app(tutor)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("s")
        assert isinstance(app.screen, ConfirmDialog)
        await pilot.press("n")
        assert isinstance(app.screen, MainScreen)
        await pilot.press("s")
        await pilot.press("y")
        assert isinstance(app.screen, SolutionDialog)
        assert "return 42" in app.screen.files["mod.py"]
        await pilot.press("escape")
        record(tutor, "tiny-day", "passed")
        await pilot.press("s")
        assert isinstance(app.screen, SolutionDialog)  # after a pass: no question
        await pilot.press("escape")


async def test_reset_dialog_cancel_then_confirm(tutor: Tutor) -> None:
    path = write_solution(tutor)
    mine = path.read_text()
    app = make_app(tutor)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("r")
        assert isinstance(app.screen, ConfirmDialog) and "Reset tiny-day" in app.screen.title_text
        await pilot.press("n")
        assert path.read_text() == mine
        await pilot.press("r")
        await pilot.click("#yes")
        await pilot.pause()
        assert "NotImplementedError" in path.read_text()
        backups = list((tutor.workspace.backups).glob("tiny-day-*/mod.py"))
        assert len(backups) == 1 and backups[0].read_text() == mine
        await until(pilot, lambda: any("back to the starter" in n.message for n in app._notifications),
                    "the reset notice", 5)


async def test_progress_screen(tutor: Tutor) -> None:
    record(tutor, "tiny-day", "passed")
    record(tutor, "second-day", "failed")
    app = make_app(tutor)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("p")
        assert isinstance(app.screen, ProgressScreen)
        summary = plain(app.screen.query_one("#progress-summary").content)
        assert "1 of 3 lessons passed" in summary and "2 attempts" in summary and "streak 1 day" in summary
        assert "Week 1" in summary and "1/3" in summary
        table = app.screen.query_one("#progress-table")
        assert table.row_count == 2
        assert "✓ passed" in str(table.get_row("tiny-day")[2]) and "0.25 loss" in str(table.get_row("tiny-day")[6])
        await pilot.press("escape")
        assert isinstance(app.screen, MainScreen)
        await pilot.press("p")
        await pilot.press("down", "enter")  # Enter on a row opens that day
        assert isinstance(app.screen, MainScreen) and main(app).entry.key == "second-day"


async def test_help_lists_every_key(tutor: Tutor) -> None:
    app = make_app(tutor)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        documented = " ".join(k for k, _ in KEYS).lower()
        for binding in [*MainScreen.BINDINGS, *DltutorApp.BINDINGS]:
            key = {"question_mark": "?", "escape": "esc", "ctrl+c": "ctrl-c"}.get(binding.key, binding.key)
            assert key in documented, f"{binding.key} is not in the help"
        await pilot.press("escape")
        assert isinstance(app.screen, MainScreen)


async def test_command_palette_finds_a_day_by_words(tutor: Tutor) -> None:
    app = make_app(tutor)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("ctrl+p")
        await pilot.press(*"second day")
        from textual.command import CommandList

        commands = app.screen.query_one(CommandList)
        await until(pilot, lambda: commands.option_count > 0, "palette hits", 10)
        assert "second-day" in str(commands.get_option_at_index(0).prompt)
        await pilot.press("down", "enter")
        await until(pilot, lambda: main(app).entry.key == "second-day", "second-day to open", 5)


# -- editor (mocked) ---------------------------------------------------------------------
async def test_edit_suspends_and_runs_a_terminal_editor(tutor: Tutor, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[list[str]] = []
    monkeypatch.setattr("tutor.app.editing.subprocess.call", lambda argv: calls.append(argv) or 0)
    app = make_app(tutor, edit_cmd=f"{sys.executable} -c pass")
    monkeypatch.setattr(app, "suspend", contextlib.nullcontext)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("e")
        assert calls and calls[0][-1] == str(tutor.exercise_path(tutor.course.lesson("tiny-day")))
        assert isinstance(app.screen, MainScreen)


async def test_edit_where_suspend_is_impossible_says_the_path(tutor: Tutor) -> None:
    app = make_app(tutor, edit_cmd=f"{sys.executable} -c pass")
    async with app.run_test(size=SIZE) as pilot:  # run_test cannot suspend
        await pilot.pause()
        await pilot.press("e")
        assert isinstance(app.screen, MessageDialog)
        assert str(tutor.exercise_path(tutor.course.lesson("tiny-day"))) in app.screen.body


async def test_gui_editor_opens_without_blocking(tutor: Tutor, monkeypatch: pytest.MonkeyPatch) -> None:
    from tutor.editor import EditorCommand

    started: list[list[str]] = []
    monkeypatch.setattr("tutor.app.editing.find_editor", lambda override: EditorCommand(["code"], False))
    monkeypatch.setattr("tutor.app.editing.subprocess.Popen", lambda argv, **kw: started.append(argv))
    app = make_app(tutor)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("e")
        assert started == [["code", str(tutor.exercise_path(tutor.course.lesson("tiny-day")))]]
        assert any("mod.py" in n.message for n in app._notifications)


async def test_missing_editor_is_a_friendly_message(tutor: Tutor) -> None:
    app = make_app(tutor, edit_cmd="no-such-editor-dltutor")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("e")
        assert isinstance(app.screen, MessageDialog) and app.screen.title_text == "No editor"
        assert "no-such-editor-dltutor" in app.screen.body


# -- watcher logic (no app) --------------------------------------------------------------
def test_save_watcher_debounces_a_burst_of_saves(tmp_path: Path) -> None:
    from tutor.filewatch import SaveWatcher

    path = tmp_path / "mod.py"
    path.write_text("a")
    now = [0.0]
    watcher = SaveWatcher(lambda: [path], debounce=0.4, clock=lambda: now[0])
    assert not watcher.poll()
    for n, t in enumerate((0.5, 0.6, 0.7)):  # three quick saves
        now[0] = t
        path.write_text("b" * (n + 2))
        assert not watcher.poll()
    now[0] = 0.9
    assert not watcher.poll()  # quiet for 0.2 s only
    now[0] = 1.2
    assert watcher.poll()  # quiet for 0.5 s: one run
    now[0] = 2.0
    assert not watcher.poll()
    path.unlink()  # a deleted file is a change too
    now[0] = 2.1
    assert not watcher.poll()
    now[0] = 3.0
    assert watcher.poll()


# -- hygiene -----------------------------------------------------------------------------
def test_import_and_create_app_load_no_torch(course: Course, tmp_path: Path) -> None:
    code = (
        "import sys\nimport tutor.app\nfrom tutor.app.app import DltutorApp\n"
        "app = DltutorApp(probe=None)\n"
        "bad = sorted(m for m in sys.modules if m == 'torch' or m.startswith('torch.'))\n"
        "print('TORCH', bad)\nassert not bad\n"
    )
    env = dict(os.environ, DLTUTOR_COURSE=str(course.root), DLTUTOR_HOME=str(tmp_path / "ws"),
               XDG_CONFIG_HOME=str(tmp_path / "config"))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr


async def test_a_broken_run_never_takes_the_app_down(tutor: Tutor, monkeypatch: pytest.MonkeyPatch) -> None:
    from tutor.runner import CheckRun

    def broken(self):
        yield {"event": "started", "checks": [{"name": "one", "task": None}], "device_name": "CPU, test"}
        raise RuntimeError("the runner broke")

    monkeypatch.setattr(CheckRun, "events", broken)
    app = make_app(tutor)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("c")
        await until(pilot, lambda: main(app).run is None, "the broken run to end", 10)
        assert "ERROR" in verdict(app) and "the runner broke" in verdict(app)
        await pilot.press("h")  # still alive and responsive
        assert isinstance(app.screen, MessageDialog)


def test_filewatch_polls_where_change_events_do_not_come(tmp_path: Path, monkeypatch) -> None:
    """On a filesystem without change events (NFS, WSL's /mnt) watch mode polls, and says why."""
    import threading

    from tutor import filewatch

    path = tmp_path / "mod.py"
    path.write_text("x = 1\n")
    monkeypatch.setattr(filewatch, "filesystem_type", lambda folder: "nfs4")
    saved = threading.Event()
    watch = filewatch.FileWatch(lambda: [path], saved.set, debounce=0.05, poll_interval=0.05).start()
    try:
        assert watch.mode == "polling" and "nfs4" in watch.reason
        time.sleep(0.1)
        path.write_text("x = 2\n")
        assert saved.wait(5), "a save was not seen by polling"
    finally:
        watch.stop()

"""TUI at 80x24 (issue 7, items 15 and 19): the progress screen opens at the top and scrolls to
every column; notifications never cover the panes; a cancelled run names its check; a long
output says what was left out."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from textual.widgets import Log

from conftest import make_course, plain, solution_text
from tutor.app.app import DltutorApp
from tutor.app.screens.progress import ProgressScreen
from tutor.app.widgets.check_panel import CheckPanel
from tutor.course import Course
from tutor.session import Tutor

SIZE = (80, 24)


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("DLTUTOR_HOME", str(tmp_path / "dltutor"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    for name in ("VISUAL", "EDITOR"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


def make_app(tutor: Tutor) -> DltutorApp:
    return DltutorApp(tutor=tutor, device="cpu", probe=lambda: {"device_name": "CPU, test"}, warm=False)


async def until(pilot, condition, what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        await pilot.pause(0.05)


async def test_progress_screen_opens_at_the_top_and_reaches_every_column(home: Path) -> None:
    tutor = Tutor(home / "dltutor")  # the real course: a summary and a table taller than 24 rows
    app = make_app(tutor)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("p")
        await pilot.pause(0.2)
        assert isinstance(app.screen, ProgressScreen)
        outer = app.screen.query_one("#progress-scroll")
        table = app.screen.query_one("#progress-table")
        assert outer.max_scroll_y > 0 and outer.scroll_y == 0  # the heading and the first weeks show
        assert table.max_scroll_x > 0
        for _ in range(20):
            await pilot.press("right")
        assert table.scroll_x == table.max_scroll_x  # the last columns (device, hosts) are reachable
        await pilot.press("down", "down")
        assert outer.scroll_y == outer.max_scroll_y and table.cursor_row == 2  # the cursor is in view
        await pilot.press("home")
        await pilot.pause()
        assert outer.scroll_y == 0 and table.scroll_x == 0 and table.cursor_row == 0


async def test_notifications_sit_above_the_footer_not_over_the_panes(home: Path) -> None:
    course = Course(make_course(home / "course"))
    app = make_app(Tutor(home / "dltutor", course=course))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        app.notify("Back from the editor: c checks your file.")
        app.notify("vi exited with code 1.", severity="warning")
        bar = app.main.query_one("#notices")
        await until(pilot, lambda: bar.display and "exited with code 1" in plain(bar.content), "the notices", 5)
        assert "Back from the editor" in plain(bar.content)
        panes = app.main.query_one("#panes").region
        assert not panes.overlaps(bar.region)  # in the layout: the panes end where the notices start
        toasts = list(app.screen.query("Toast"))
        assert all(t.styles.visibility == "hidden" for t in toasts)


async def test_cancelled_run_names_the_check_that_was_running(home: Path) -> None:
    course = Course(make_course(home / "course"))
    tutor = Tutor(home / "dltutor", course=course)
    lesson = tutor.course.lesson("tiny-day")
    tutor.exercise_path(lesson).write_text(solution_text(60.0), encoding="utf-8")
    app = make_app(tutor)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("c")
        panel = app.main.query_one(CheckPanel)
        await until(pilot, lambda: any(o.name == "go() returns 42" for o in panel.state.outcomes), "the first check")
        await pilot.press("x")
        await until(pilot, lambda: app.main.run is None and not panel.running, "the cancelled run to end", 30)
        banner = plain(app.main.query_one("#verdict").content)
        assert "CANCELLED" in banner and "during check 'go() again'" in banner


async def test_long_output_panel_says_what_was_not_kept(home: Path) -> None:
    course = Course(make_course(home / "course"))
    app = make_app(Tutor(home / "dltutor", course=course))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        panel = app.main.query_one(CheckPanel)
        panel.begin("tiny-day")
        panel.apply({"event": "output", "text": "first line\n"})
        panel.apply({"event": "output", "text": "last line\n", "tail": True, "dropped": 5_000_000,
                     "dropped_lines": 400_000})
        await pilot.pause()
        label = plain(app.main.query_one("#output-label").content)
        assert "first and last 32 KiB" in label and "400,000 lines" in label
        log = "\n".join(str(line) for line in app.main.query_one("#output", Log).lines)
        assert log.index("first line") < log.index("not kept") < log.index("last line")


async def test_a_heatmap_from_the_check_is_drawn_in_the_check_pane_within_80_columns(home: Path) -> None:
    course = Course(make_course(home / "course"))
    app = make_app(Tutor(home / "dltutor", course=course))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        panel = app.main.query_one(CheckPanel)
        panel.begin("tiny-day")
        assert not panel.query_one("#heatmaps").display
        values = [[1.0 if j == 5 - i else 0.0 for j in range(6)] for i in range(6)]
        panel.apply({"event": "heatmap", "check": "c", "name": "attention", "values": values,
                     "rows": list("fedcba"), "cols": list("abcdef"), "row_title": "output", "col_title": "input"})
        await pilot.pause()
        drawn = plain(panel.query_one("#heatmaps").content).splitlines()
        assert panel.query_one("#heatmaps").display and drawn[0].startswith("attention")
        assert "f           ██" in drawn and max(len(line) for line in drawn) <= 80


def test_readme_key_list_is_the_key_table():
    """The README's TUI keys are drawn from tutor/app/keys.py, the table the bindings come from."""
    from pathlib import Path

    from tutor.app.keys import ACTIONS, readme_sentence
    from tutor.app.screens.main import MainScreen

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    assert readme_sentence() in " ".join(readme.split())
    bound = {b.key for b in MainScreen.BINDINGS}
    assert {k for a in ACTIONS if a.scope == "main" for k in a.keys} == bound

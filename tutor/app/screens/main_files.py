"""The main screen's file actions: edit, hint, solution, reset (a mixin of MainScreen).
"""

from __future__ import annotations

from tutor.app.dialogs.confirm import ConfirmDialog
from tutor.app.dialogs.message import MessageDialog
from tutor.app.editing import edit_file
from tutor.app.format import short_path
from tutor.app.keys import key
from tutor.course import Lesson
from tutor.progress import StoreError
from tutor.session import SolutionLocked

class FileActions:
    """e, h, s, r: the learner's files, hints and the reference solution."""

    # -- edit -------------------------------------------------------------------------
    def action_edit(self) -> None:
        lesson = self.lesson
        if lesson is None:
            self.notify("This day's lesson is not written yet: nothing to edit.", severity="warning")
            return
        path = self.tutor.exercise_path(lesson)
        if not path.exists():
            self.app.push_screen(MessageDialog("The exercise file is missing",
                                               f"{path} is not there. Press {key('reset')} to restore the starter."))
            return
        if edit_file(self.app, path, self.app.edit_cmd):  # type: ignore[attr-defined]
            self.refresh_day()
            if not self.watching:
                self.notify(f"Back from the editor: {key('check')} checks your file.")

    # -- hints, solution, reset -------------------------------------------------------
    def action_hint(self) -> None:
        lesson = self.lesson
        if lesson is None:
            return
        total = sum(len(t.hints) for t in lesson.exercise.tasks)
        if not total:
            self.app.push_screen(MessageDialog("No hints", f"{lesson.id} has no hints."))
            return
        try:
            hint = self.tutor.next_hint(lesson)
        except StoreError as exc:
            self.app.push_screen(MessageDialog("Progress store", str(exc)))
            return
        if hint is None:
            self.app.push_screen(MessageDialog(
                "No more hints", f"You have seen all {total} hints for {lesson.id}; they are listed under "
                f"the exercise in the lesson pane. {key('solution')} shows the reference solution."))
            return
        task = lesson.exercise.task(hint.task)
        self.app.push_screen(MessageDialog(
            f"Hint {hint.index + 1} of {hint.total} · {task.title if task else hint.task}", hint.text))
        self.refresh_day()

    def action_solution(self) -> None:
        lesson = self.lesson
        if lesson is None:
            return
        try:
            files = self.tutor.solution(lesson)
        except SolutionLocked:
            def answered(yes: bool | None) -> None:
                if yes:
                    self._show_solution(lesson, force=True)

            self.app.push_screen(ConfirmDialog(
                "Show the solution?",
                f"You have not passed {lesson.id} yet. The solution opens by itself after your first pass; "
                "a hint (h) teaches more. Show it anyway?", yes="Show it", no="Not yet"), answered)
            return
        except OSError as exc:
            self.app.push_screen(MessageDialog("No solution", str(exc)))
            return
        from tutor.app.dialogs.solution import SolutionDialog

        self.app.push_screen(SolutionDialog(lesson.id, files))

    def _show_solution(self, lesson: Lesson, force: bool) -> None:
        try:
            files = self.tutor.solution(lesson, force=force)
        except (OSError, SolutionLocked) as exc:
            self.app.push_screen(MessageDialog("No solution", str(exc)))
            return
        from tutor.app.dialogs.solution import SolutionDialog

        self.app.push_screen(SolutionDialog(lesson.id, files, note="Peeked before a pass."))

    def action_reset(self) -> None:
        lesson = self.lesson
        if lesson is None:
            return
        if self.run is not None and self.run_day == lesson.id:
            self.notify("A check of this day is running; cancel it (x) before resetting.", severity="warning")
            return
        folder = short_path(self.tutor.lesson_dir(lesson))

        def answered(yes: bool | None) -> None:
            if not yes:
                self.notify("Reset cancelled; your files are untouched.")
                return
            try:
                backup = self.tutor.reset(lesson)
            except OSError as exc:
                self.app.push_screen(MessageDialog("Reset failed", str(exc)))
                return
            if self.filewatch is not None:
                self.filewatch.reset()
            kept = f" Your files were kept in {short_path(backup)}." if backup else ""
            self.notify(f"{lesson.id} is back to the starter.{kept}", timeout=10)
            self.refresh_day()

        self.app.push_screen(ConfirmDialog(
            f"Reset {lesson.id}?",
            f"This puts the starter files back in {folder}. Your current files are copied to a backup "
            "folder first (.dltutor/backups/), so nothing is lost.", yes="Reset", no="Keep my files"), answered)

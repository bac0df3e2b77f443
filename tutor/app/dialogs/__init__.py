"""Modal dialogs; each one `dismiss()`es a value (Frogmouth style)."""

from tutor.app.dialogs.confirm import ConfirmDialog
from tutor.app.dialogs.message import MessageDialog
from tutor.app.dialogs.solution import SolutionDialog

__all__ = ["ConfirmDialog", "MessageDialog", "SolutionDialog"]

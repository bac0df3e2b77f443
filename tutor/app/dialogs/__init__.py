"""Modal dialogs; each one `dismiss()`es a value (Frogmouth style).

confirm.ConfirmDialog (bool), message.MessageDialog (None), solution.SolutionDialog (None).
Import the module you need: solution highlighting loads pygments.
"""

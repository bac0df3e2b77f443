"""Import hygiene: the CLI and the core start without torch or Textual."""

from __future__ import annotations

import subprocess
import sys

CORE = ["tutor.cli", "tutor.course", "tutor.workspace", "tutor.runner", "tutor.progress", "tutor.session",
        "tutor.events", "tutor.editor", "tutor.system", "tutor.verify", "tutor.render", "tutor.plotting"]


def loaded_after(code: str) -> set[str]:
    out = subprocess.run([sys.executable, "-c", code + "\nimport sys\nprint(' '.join(sys.modules))"],
                         capture_output=True, text=True, check=True).stdout
    return set(out.split())


def test_core_and_cli_import_neither_torch_nor_textual():
    modules = loaded_after("\n".join(f"import {m}" for m in CORE))
    assert not {m for m in modules if m.split(".")[0] in ("torch", "textual", "numpy")}


def test_cli_help_runs_without_torch():
    modules = loaded_after("from typer.testing import CliRunner\nfrom tutor.cli import app\n"
                           "assert CliRunner().invoke(app, ['--help']).exit_code == 0\n"
                           "assert CliRunner().invoke(app, ['list']).exit_code == 0")
    assert "torch" not in modules and "textual" not in modules


def test_app_imports_no_torch():
    modules = loaded_after("import tutor.app")
    assert "torch" not in modules


def test_fronts_do_not_reach_through_the_tutor():
    """The CLI and the TUI ask Tutor; they never use tutor.store, tutor.workspace or tutor.course."""
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent / "tutor"
    fronts = [*root.glob("cli*.py"), *(root / "app").rglob("*.py")]
    found = []
    for path in fronts:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and node.attr in {"store", "workspace", "course"}:
                owner = node.value
                name = owner.attr if isinstance(owner, ast.Attribute) else getattr(owner, "id", "")
                if name == "tutor":
                    found.append(f"{path.relative_to(root.parent)}:{node.lineno} .{node.attr}")
    assert found == [], found

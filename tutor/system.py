"""Facts about this machine for `doctor` and the TUI header, gathered without importing torch here."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from typing import Any

from tutor.runner import child_env


def probe_torch(timeout: float = 60.0) -> dict[str, Any]:
    """Ask a child process what torch sees (version, CUDA/MPS, the device checks will use)."""
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "tutor.checking.probe"], capture_output=True, text=True,
            timeout=timeout, env=child_env(), stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        return {"error": f"probing torch took over {timeout:g} s"}
    lines = [l for l in proc.stdout.splitlines() if l.startswith("{")]
    if not lines:
        return {"error": (proc.stderr.strip().splitlines() or ["no answer from the probe"])[-1]}
    return json.loads(lines[-1])


def terminal_facts() -> dict[str, Any]:
    size = shutil.get_terminal_size((80, 24))
    return {
        "term": os.environ.get("TERM", ""),
        "size": f"{size.columns}x{size.lines}",
        "no_color": "NO_COLOR" in os.environ,
        "ssh": bool(os.environ.get("SSH_CONNECTION")),
    }

"""install.sh (issue 7, items 20-21) against a stand-in Python that behaves like Debian's:
pip refuses to install into it (PEP 668). The stand-in logs each pip call instead of
installing, so these tests take a second; the real thing was run by hand (see the note).
The README's two commands are the ones CI runs."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

STUB = r"""#!/usr/bin/env bash
# A stand-in python3. role=system: a PEP 668 system Python; role=venv: a virtualenv's.
role=system
here="$(cd "$(dirname "$0")/.." && pwd)"
case "$1" in
  -c)
    case "$2" in
      "import torch") [[ -e "$here/torch" ]]; exit ;;
      *torch.__version__*) echo "2.13.0+cu130"; exit 0 ;;
      *base_prefix*) [[ $role == venv ]] && echo 1 || echo 0; exit 0 ;;
      *"print(sys.prefix)"*) echo "$here"; exit 0 ;;
      *version_info*) exit 0 ;;
    esac ;;
  -m)
    if [[ "$2" == venv ]]; then
      dir="${@: -1}"; mkdir -p "$dir/bin"
      sed 's/^role=system$/role=venv/' "$0" > "$dir/bin/python"; chmod +x "$dir/bin/python"
      touch "$dir/bin/dltutor"; chmod +x "$dir/bin/dltutor"
      [[ " $* " == *" --system-site-packages "* && -e "$here/torch" ]] && touch "$dir/torch"
      echo "$role venv ${*:3}" >> "$LOG"; exit 0
    fi
    if [[ "$2" == pip ]]; then
      if [[ $role == system ]]; then echo "error: externally-managed-environment" >&2; exit 1; fi
      echo "$role pip ${*:3}" >> "$LOG"
      [[ "$4" == torch==* ]] && touch "$here/torch"
      exit 0
    fi ;;
esac
echo "stub python: unexpected $*" >&2; exit 3
"""


@pytest.fixture
def setup(tmp_path: Path) -> dict:
    if shutil.which("bash") is None:
        pytest.skip("needs bash")
    clone = tmp_path / "clone"
    clone.mkdir()
    shutil.copy(ROOT / "install.sh", clone / "install.sh")
    system = tmp_path / "usr"
    (system / "bin").mkdir(parents=True)
    python = system / "bin" / "python3"
    python.write_text(STUB)
    python.chmod(0o755)
    home = tmp_path / "home"
    home.mkdir()
    log = tmp_path / "pip.log"
    env = {"PATH": f"{system / 'bin'}:/usr/bin:/bin", "HOME": str(home), "LOG": str(log), "PYTHON": str(python)}
    return {"clone": clone, "system": system, "home": home, "log": log, "env": env}


def install(setup: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(setup["clone"] / "install.sh"), *args], env=setup["env"],
                          capture_output=True, text=True, timeout=60)


def calls(setup: dict) -> list[str]:
    return setup["log"].read_text().splitlines() if setup["log"].exists() else []


def test_system_python_gets_a_venv_torch_and_a_link(setup: dict):
    proc = install(setup)
    assert proc.returncode == 0, proc.stderr
    assert calls(setup) == ["system venv .venv", "venv pip install torch==2.13.0", "venv pip install -e ."]
    link = setup["home"] / ".local" / "bin" / "dltutor"
    assert link.is_symlink() and Path(os.readlink(link)) == setup["clone"] / ".venv" / "bin" / "dltutor"
    assert "not on your PATH" in proc.stderr and "source .venv/bin/activate" in proc.stderr


def test_second_run_reuses_the_venv_and_keeps_torch(setup: dict):
    assert install(setup).returncode == 0
    setup["log"].unlink()
    proc = install(setup, "--dev")
    assert proc.returncode == 0, proc.stderr
    assert calls(setup) == ["venv pip install -e .[dev]"] and "keeping torch 2.13.0+cu130" in proc.stderr


def test_cpu_flag_uses_the_cpu_wheel_index(setup: dict):
    proc = install(setup, "--cpu", "--dev")
    assert proc.returncode == 0, proc.stderr
    assert "venv pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu" in calls(setup)


def test_a_system_torch_is_seen_from_the_new_venv(setup: dict):
    (setup["system"] / "torch").touch()
    assert install(setup).returncode == 0
    assert calls(setup) == ["system venv --system-site-packages .venv", "venv pip install -e ."]


def test_inside_a_venv_installs_there_and_links_dotvenv(setup: dict, tmp_path: Path):
    user_env = tmp_path / "myenv"
    subprocess.run([str(setup["env"]["PYTHON"]), "-m", "venv", str(user_env)], env=setup["env"], check=True)
    setup["log"].unlink()
    setup["env"]["PYTHON"] = str(user_env / "bin" / "python")
    proc = install(setup)
    assert proc.returncode == 0, proc.stderr
    assert calls(setup) == ["venv pip install torch==2.13.0", "venv pip install -e ."]
    assert (setup["clone"] / ".venv").resolve() == user_env.resolve()
    assert not (setup["home"] / ".local" / "bin" / "dltutor").exists()


def test_unknown_option_is_a_usage_error(setup: dict):
    assert install(setup, "--gpu").returncode == 2


def readme_block(after: str) -> str:
    text = (ROOT / "README.md").read_text()
    match = re.search(re.escape(after) + r".*?```\n(.*?)\n```", text, re.S)
    assert match, after
    return match.group(1).strip()


def test_ci_runs_the_readme_test_command_and_the_readme_uses_the_venv():
    start = readme_block("Install and start the tutor")
    test = readme_block("run the tests")
    assert start == "./install.sh && .venv/bin/dltutor start"
    assert test.startswith("./install.sh --dev && ") and ".venv/bin/python" in test
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert test in ci

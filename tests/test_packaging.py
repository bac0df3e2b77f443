"""The course data travels inside the wheel and is found there."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    src = tmp_path_factory.mktemp("src") / "dltutor"
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(".git", ".venv", "__pycache__", "*.egg-info",
                                                                ".pytest_cache"))
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(src)],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.skip(f"cannot build a wheel here: {proc.stderr[-500:]}")
    return next(out.glob("dltutor-*.whl"))


def test_wheel_carries_course_data(wheel: Path):
    names = set(zipfile.ZipFile(wheel).namelist())
    for path in ("tutor/_course/lessons/tracks/50-days.yaml", "tutor/_course/lessons/planned.yaml",
                 "tutor/_course/lessons/intro-to-deep-learning.yaml",
                 "tutor/_course/exercises/intro-to-deep-learning/first_tensors.py",
                 "tutor/_course/solutions/intro-to-deep-learning/first_tensors.py",
                 "tutor/_course/checks/intro-to-deep-learning.py", "tutor/cli.py", "tutor/checking/child.py"):
        assert path in names


def test_installed_wheel_finds_its_course(wheel: Path, tmp_path: Path):
    zipfile.ZipFile(wheel).extractall(tmp_path / "site")
    env = {k: v for k, v in os.environ.items() if k != "DLTUTOR_COURSE"}
    env["PYTHONPATH"] = str(tmp_path / "site")
    code = "from tutor.course import Course; c = Course(); print(c.root); print(len(c.lessons))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         cwd=tmp_path, check=True).stdout.split()
    assert out[0].endswith("tutor/_course") and int(out[1]) >= 1

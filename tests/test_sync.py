"""`dltutor sync` through a real, private sshd on 127.0.0.1 (its own keys and config, never the system's),
with a second workspace as the remote. Skips only when no sshd binary exists."""

from __future__ import annotations

import getpass
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from conftest import make_course
from tutor.progress import ProgressStore
from tutor.progress_file import ProgressFileError, parse, write_lines

SSHD = shutil.which("sshd") or next((p for p in ("/usr/sbin/sshd", "/usr/local/sbin/sshd") if Path(p).exists()), None)
pytestmark = pytest.mark.skipif(SSHD is None or shutil.which("ssh") is None,
                                reason="no OpenSSH server here (.ci/run installs openssh-server)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def sshd(tmp_path_factory: pytest.TempPathFactory):
    """A private sshd; yields (ssh_cmd, host alias)."""
    d = tmp_path_factory.mktemp("sshd")
    for name in ("hostkey", "client"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(d / name)], check=True)
    (d / "authorized_keys").write_text((d / "client.pub").read_text())
    os.chmod(d / "authorized_keys", 0o600)
    port = _free_port()
    (d / "sshd_config").write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {d}/hostkey\nAuthorizedKeysFile {d}/authorized_keys\n"
        f"PidFile {d}/sshd.pid\nStrictModes no\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n"
        "PubkeyAuthentication yes\nUsePAM no\nPermitRootLogin yes\n")
    (d / "ssh_config").write_text(
        f"Host testremote\n  HostName 127.0.0.1\n  Port {port}\n  User {getpass.getuser()}\n"
        f"  IdentityFile {d}/client\n  IdentitiesOnly yes\n  StrictHostKeyChecking no\n"
        f"  UserKnownHostsFile {d}/known_hosts\n  LogLevel ERROR\n")
    if os.geteuid() == 0:
        Path("/run/sshd").mkdir(exist_ok=True)  # sshd's privilege-separation directory
    proc = subprocess.Popen([SSHD, "-D", "-e", "-f", str(d / "sshd_config")], stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            if proc.poll() is not None:
                pytest.skip(f"sshd could not run here: {proc.stderr.read()[-400:]}")
            time.sleep(0.1)
    yield f"ssh -F {d}/ssh_config", "testremote"
    proc.terminate()
    proc.wait(10)


@pytest.fixture
def two(sshd, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A local and a remote workspace on one course; returns a `dltutor` runner for the local one."""
    course = make_course(tmp_path / "course")
    monkeypatch.setenv("DLTUTOR_COURSE", str(course))
    local, remote = tmp_path / "local", tmp_path / "remote"
    ssh_cmd, host = sshd
    remote_cmd = f"env DLTUTOR_COURSE={course} {sys.executable} -m tutor"

    def dltutor(*args: str, remote_cmd: str = remote_cmd, target: str | None = None) -> subprocess.CompletedProcess:
        argv = [sys.executable, "-m", "tutor", *args]
        if args and args[0] == "sync":
            argv += [target or f"{host}:{remote}", "--ssh-cmd", ssh_cmd, "--remote-cmd", remote_cmd]
        return subprocess.run(argv, capture_output=True, text=True, timeout=120,
                              env={**os.environ, "DLTUTOR_HOME": str(local)})
    return dltutor, local, remote


def _attempts(folder: Path, lesson: str, n: int) -> ProgressStore:
    store = ProgressStore(folder / ".dltutor" / "progress.db")
    for i in range(n):
        store.record_attempt({"lesson": lesson, "verdict": "passed" if i % 2 else "failed", "passed": 1, "total": 2})
    store.reveal_hint(lesson, "go", 2)
    return store


def _count(folder: Path) -> int:
    return len(ProgressStore(folder / ".dltutor" / "progress.db").attempts(limit=10_000))


def test_sync_both_ways_then_nothing_changes(two):
    dltutor, local, remote = two
    _attempts(local, "tiny-day", 2)
    _attempts(remote, "second-day", 3)
    r = dltutor("sync")
    assert r.returncode == 0, r.stderr
    assert "pulled 3 attempt(s)" in r.stderr and "pushed 2 attempt(s)" in r.stderr
    assert _count(local) == 5 and _count(remote) == 5
    again = dltutor("sync", "--json")
    assert again.returncode == 0 and '"pulled": [\n    0,\n    0\n  ]' in again.stdout
    assert _count(local) == 5 and _count(remote) == 5
    progress = subprocess.run([sys.executable, "-m", "tutor", "progress", "--json"], capture_output=True, text=True,
                              env={**os.environ, "DLTUTOR_HOME": str(local)}).stdout
    assert '"second-day"' in progress


def test_pull_only_and_push_only(two):
    dltutor, local, remote = two
    _attempts(local, "tiny-day", 1)
    _attempts(remote, "second-day", 2)
    assert dltutor("sync", "--pull").returncode == 0
    assert _count(local) == 3 and _count(remote) == 2
    assert dltutor("sync", "--push").returncode == 0
    assert _count(remote) == 3


def test_unreachable_host_fails_clearly_and_changes_nothing(two):
    dltutor, local, _ = two
    _attempts(local, "tiny-day", 1)
    r = dltutor("sync", target="nosuchhost.invalid")
    assert r.returncode == 1 and "could not reach nosuchhost.invalid" in r.stderr and "Traceback" not in r.stderr
    assert _count(local) == 1


def test_missing_dltutor_on_the_remote(two):
    dltutor, local, _ = two
    r = dltutor("sync", remote_cmd="no-such-dltutor-here")
    assert r.returncode == 1 and "not installed" in r.stderr


def test_a_corrupt_or_newer_remote_export_is_rejected_whole(two, tmp_path: Path):
    dltutor, local, _ = two
    _attempts(local, "tiny-day", 1)
    fake = tmp_path / "fake-dltutor"
    fake.write_text('#!/bin/sh\necho \'{"format": "dltutor-progress", "version": 7}\'\n')
    fake.chmod(0o755)
    r = dltutor("sync", remote_cmd=str(fake))
    assert r.returncode == 1 and "format version 7" in r.stderr
    assert _count(local) == 1


def test_a_dropped_connection_mid_push_imports_nothing_there(two, tmp_path: Path):
    dltutor, local, remote = two
    _attempts(local, "tiny-day", 4)
    _attempts(remote, "second-day", 1)
    real = f"{sys.executable} -m tutor"
    cut = tmp_path / "cut-dltutor"  # forwards export; for import passes on only the first 300 bytes, then drops
    cut.write_text(f'#!/bin/sh\nif [ "$2" = import ]; then head -c 300 | DLTUTOR_COURSE="$DLTUTOR_COURSE" {real} "$@"; '
                   f'exit 255; fi\nexec {real} "$@"\n')
    cut.chmod(0o755)
    course = os.environ["DLTUTOR_COURSE"]
    r = dltutor("sync", "--push", remote_cmd=f"env DLTUTOR_COURSE={course} {cut}")
    assert r.returncode == 1
    assert _count(remote) == 1  # the truncated input was validated and refused whole


def test_import_while_a_check_records_loses_nothing(two, tmp_path: Path):
    _, local, remote = two
    source = _attempts(remote, "second-day", 40)
    export = tmp_path / "export.jsonl"
    export.write_text("".join(write_lines(source.attempts(limit=1000), source.hint_reveals(), "remote", 2)))
    store = _attempts(local, "tiny-day", 1)
    writer = threading.Thread(target=lambda: [store.record_attempt(
        {"lesson": "tiny-day", "verdict": "failed", "passed": 0, "total": 1}) for _ in range(20)])
    writer.start()
    r = subprocess.run([sys.executable, "-m", "tutor", "progress", "import", str(export)], capture_output=True,
                       text=True, env={**os.environ, "DLTUTOR_HOME": str(local)})
    writer.join()
    assert r.returncode == 0, r.stderr
    assert _count(local) == 1 + 20 + 40


def test_export_format_is_validated_line_by_line():
    lines = list(write_lines([], [], "h", 2))
    assert parse("".join(lines)).attempts == []
    bad = lines[0] + '{"type": "attempt", "uid": 5}\n' + lines[-1]
    with pytest.raises(ProgressFileError, match="line 2: attempt field 'uid' must be str"):
        parse(bad)
    with pytest.raises(ProgressFileError, match="truncated"):
        parse(lines[0])
    with pytest.raises(ProgressFileError, match="line 1: not a dltutor progress export"):
        parse("hello\n")

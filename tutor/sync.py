"""`dltutor sync HOST`: progress both ways over the learner's own OpenSSH (config, agent, jump hosts).

It runs `ssh HOST dltutor progress export` and `ssh HOST dltutor progress import -`; no server
of our own. Everything the remote sends is validated whole before any of it is merged.
"""

from __future__ import annotations

import shlex
import subprocess
from dataclasses import dataclass
from typing import Callable

from tutor.progress import ProgressStore
from tutor.progress_db import SCHEMA_VERSION
from tutor.progress_file import Export, ProgressFileError, parse, write_lines

SSH_OPTIONS = ["-o", "BatchMode=yes", "-o", "ConnectTimeout=15"]
TIMEOUT_S = 300


class SyncError(Exception):
    """The sync could not be done; the message says why (ssh's own words where it has them)."""


@dataclass
class SyncResult:
    host: str
    pulled: tuple[int, int] = (0, 0)  # attempts, hints added here
    pushed: tuple[int, int] = (0, 0)  # attempts, hints sent there

    def summary(self) -> str:
        def part(verb: str, counts: tuple[int, int], where: str) -> str:
            hints = f" and {counts[1]} hint(s)" if counts[1] else ""
            return f"{verb} {counts[0]} attempt(s){hints} {where} {self.host}"
        return f"{part('pulled', self.pulled, 'from')}, {part('pushed', self.pushed, 'to')}"


def parse_target(text: str) -> tuple[str, str | None]:
    """'user@gpu-box:~/dltutor' -> ('user@gpu-box', '~/dltutor'); a bare host has no workspace."""
    host, sep, workspace = text.partition(":")
    if not host or host.startswith("-"):
        raise SyncError(f"{text!r} is not a host; use [user@]host or [user@]host:workspace")
    return host, (workspace or None) if sep else None


def local_export(store: ProgressStore) -> list[str]:
    return list(write_lines(store.attempts(limit=10_000_000), store.hint_reveals(), store.host, SCHEMA_VERSION))


class Remote:
    """One host reached through the system ssh client."""

    def __init__(self, target: str, remote_cmd: str = "dltutor", ssh_cmd: str = "ssh"):
        self.host, self.workspace = parse_target(target)
        self.remote_cmd = shlex.split(remote_cmd)
        self.ssh = shlex.split(ssh_cmd) + SSH_OPTIONS

    def _run(self, args: list[str], data: str | None = None) -> str:
        command = [*self.remote_cmd, *args]
        if self.workspace:
            command += ["--workspace", self.workspace]
        argv = [*self.ssh, self.host, "--", shlex.join(command)]
        try:
            proc = subprocess.run(argv, input=data, capture_output=True, text=True, timeout=TIMEOUT_S,
                                  stdin=None if data is not None else subprocess.DEVNULL)
        except FileNotFoundError:
            raise SyncError(f"no ssh client: {self.ssh[0]!r} was not found (install OpenSSH)") from None
        except subprocess.TimeoutExpired:
            raise SyncError(f"{self.host} did not answer within {TIMEOUT_S} s") from None
        if proc.returncode == 255:
            raise SyncError(f"ssh could not reach {self.host}: {proc.stderr.strip() or 'connection failed'}")
        if proc.returncode == 127 or "command not found" in proc.stderr or "No such file" in proc.stderr:
            raise SyncError(f"dltutor is not installed on {self.host} (or not on the PATH of a non-interactive "
                            f"shell); pass --remote-cmd, e.g. '~/dltutor-venv/bin/dltutor'. ({proc.stderr.strip()})")
        if proc.returncode != 0:
            raise SyncError(f"dltutor on {self.host} failed (exit {proc.returncode}): {proc.stderr.strip()}")
        return proc.stdout

    def export(self) -> Export:
        text = self._run(["progress", "export"])
        try:
            return parse(text)
        except ProgressFileError as exc:
            raise SyncError(f"{self.host} sent progress this dltutor cannot read: {exc}") from None

    def send(self, lines: list[str]) -> None:
        self._run(["progress", "import", "-"], data="".join(lines))


def sync(store: ProgressStore, remote: Remote, pull: bool = True, push: bool = True,
         say: Callable[[str], None] = lambda text: None) -> SyncResult:
    """Pull what this store lacks and push what the remote lacks; SyncError (nothing changed) on failure."""
    result = SyncResult(remote.host)
    say(f"reading progress on {remote.host}")
    theirs = remote.export()
    mine = parse("".join(local_export(store)))
    if push:
        missing_a = [a for a in mine.attempts if a["uid"] not in theirs.uids]
        missing_h = [h for h in mine.hints if h["uid"] not in theirs.uids]
        if missing_a or missing_h:
            say(f"sending {len(missing_a)} attempt(s) to {remote.host}")
            remote.send(list(write_lines(missing_a, missing_h, store.host, SCHEMA_VERSION)))
        result.pushed = (len(missing_a), len(missing_h))
    if pull:
        say(f"merging {len(theirs.attempts)} attempt(s) from {remote.host}")
        result.pulled = store.import_records(theirs.attempts, theirs.hints)
    return result

"""The learner's progress in SQLite: attempts, hint reveals and settings, keyed by lesson name.

Attempts and hint reveals are an append-only log with ids unique across machines, so merging
two stores is a set union. WAL mode and a busy timeout make two SSH sessions safe; every write
is one short IMMEDIATE transaction, followed by a spare copy (`progress.db.spare`) from which a
store damaged by another program is rebuilt. See progress_db.py for opening and repair.
"""

from __future__ import annotations

import json
import socket
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tutor.progress_db import (
    HintLayout, StoreError, backup, connect, create_or_upgrade, explain, looks_damaged, new_uid, salvage, set_aside,
)

__all__ = ["LessonProgress", "ProgressStore", "StoreError", "LESSON_NOT_STARTED", "LESSON_FAILING", "LESSON_PASSED"]

# A lesson's status; a run's verdict is tutor.runner.VERDICT_*, a check's status tutor.events.CHECK_*.
LESSON_NOT_STARTED = "not started"
LESSON_FAILING = "failing"
LESSON_PASSED = "passed"


@dataclass
class LessonProgress:
    """Everything the front ends show about one lesson."""

    lesson: str
    status: str = LESSON_NOT_STARTED
    attempts: int = 0
    first_pass: float | None = None
    seconds: float = 0.0
    hints: int = 0
    best_metrics: dict[str, float] = field(default_factory=dict)
    last: dict[str, Any] | None = None
    hosts: list[str] = field(default_factory=list)
    best_device: str = ""  # the device of the pass with the best first metric


class ProgressStore:
    """Open with ProgressStore(path); every method opens its own short connection.

    `readonly` is set (and `notice` says why) when the store can be read but not written;
    writes then raise StoreError. `notice` also reports a damaged file that was set aside.
    """

    def __init__(self, path: Path, hint_layout: HintLayout | None = None):
        self.path = Path(path)
        self.spare = self.path.with_name(self.path.name + ".spare")
        self.host = socket.gethostname()
        self.notice = ""
        self.readonly = False
        self._layout = hint_layout or (lambda slug: [])
        self._prepare()

    # -- opening --------------------------------------------------------------------
    def _prepare(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            self._go_readonly(f"cannot use your progress store at {self.path}: {exc.strerror}")
            return
        self._repair_if_damaged()
        try:
            create_or_upgrade(self.path, self.host, self._layout)
        except sqlite3.Error as exc:
            if self.path.is_file() and not looks_damaged(self.path):
                self._go_readonly(str(explain(exc, self.path)))
                return
            raise explain(exc, self.path) from None

    def _go_readonly(self, why: str) -> None:
        self.readonly = True
        self.notice = f"{why}; showing your progress read-only, new attempts are not recorded"

    def _repair_if_damaged(self) -> None:
        why = looks_damaged(self.path)
        if not why:
            return
        aside = set_aside(self.path, why)
        create_or_upgrade(self.path, self.host, self._layout)
        rows = salvage(aside, self.path, self.spare)
        self.notice = (f"your progress store was damaged ({why}); it was moved to {aside.name} and a new one "
                       f"made with the {rows} record(s) that could be recovered")

    def _write(self):
        if self.readonly:
            raise StoreError(self.notice)
        self._repair_if_damaged()  # another program may have overwritten it since we opened it
        return connect(self.path, write=True)

    def _read(self):
        return connect(self.path, readonly=self.readonly)

    def _after_write(self) -> None:
        try:
            backup(self.path, self.spare)
        except (sqlite3.Error, OSError):
            pass  # the spare copy is a convenience; the store itself was written

    def _run_write(self, fn) -> Any:
        try:
            with self._write() as conn:
                value = fn(conn)
        except sqlite3.Error as exc:
            raise explain(exc, self.path) from None
        self._after_write()
        return value

    def _run_read(self, fn, empty: Any) -> Any:
        if self.readonly and not self.path.is_file():
            return empty
        try:
            with self._read() as conn:
                return fn(conn)
        except sqlite3.Error as exc:
            raise explain(exc, self.path) from None

    # -- writes ---------------------------------------------------------------------
    def record_attempt(self, result: dict[str, Any]) -> str:
        """Store one run (a RunResult.to_dict()); returns the attempt's uid."""
        checks = [{k: c.get(k) for k in ("name", "status", "message", "task")} for c in result.get("checks", [])]
        uid = new_uid(self.host)
        row = (uid, result.get("lesson") or result["day"], float(result.get("started") or time.time()),
               float(result.get("ended") or time.time()), result["verdict"], int(result.get("passed", 0)),
               int(result.get("total", 0)), str(result.get("message", ""))[:2000],
               str(result.get("device_kind") or result.get("device") or ""), str(result.get("device_name") or ""),
               self.host, int(result.get("seed", 0)), json.dumps(checks), json.dumps(result.get("metrics", [])))
        self._run_write(lambda conn: conn.execute(
            "INSERT INTO attempts(uid, lesson, started, ended, verdict, passed, total, message, device_kind,"
            " device_name, host, seed, checks, metrics) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)", row))
        return uid

    def reveal_hint(self, lesson: str, task: str, available: int) -> int | None:
        """Reveal the next hint of one task: returns its index, or None when all were shown."""
        def reveal(conn: sqlite3.Connection) -> int | None:
            shown = conn.execute("SELECT COUNT(DISTINCT hint) FROM hint_reveals WHERE lesson=? AND task=?",
                                 (lesson, task)).fetchone()[0]
            if shown >= available:
                return None
            conn.execute("INSERT INTO hint_reveals(uid, lesson, task, hint, at, host) VALUES (?,?,?,?,?,?)",
                         (new_uid(self.host), lesson, task, shown, time.time(), self.host))
            return int(shown)
        return self._run_write(reveal)

    def import_records(self, attempts: list[dict[str, Any]], hints: list[dict[str, Any]],
                       dry_run: bool = False) -> tuple[int, int]:
        """Merge validated records (progress_file.parse) in one transaction; returns (attempts, hints) added.

        Records whose uid is already here are skipped, so importing twice adds nothing.
        """
        def merge(conn: sqlite3.Connection) -> tuple[int, int]:
            have = {r[0] for r in conn.execute("SELECT uid FROM attempts UNION SELECT uid FROM hint_reveals")}
            new_attempts = [a for a in attempts if a["uid"] not in have]
            new_hints = [h for h in hints if h["uid"] not in have]
            if not dry_run:
                for a in new_attempts:
                    conn.execute(
                        "INSERT OR IGNORE INTO attempts(uid, lesson, started, ended, verdict, passed, total, message,"
                        " device_kind, device_name, host, seed, checks, metrics) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                        (a["uid"], a["lesson"], a["started"], a["ended"], a["verdict"], a["passed"], a["total"],
                         a["message"], a["device_kind"], a["device_name"], a["host"], a["seed"],
                         json.dumps(a["checks"]), json.dumps(a["metrics"])))
                for h in new_hints:
                    conn.execute("INSERT OR IGNORE INTO hint_reveals(uid, lesson, task, hint, at, host) "
                                 "VALUES (?,?,?,?,?,?)", (h["uid"], h["lesson"], h["task"], h["hint"], h["at"], h["host"]))
            return len(new_attempts), len(new_hints)
        return self._run_write(merge)

    def hint_reveals(self) -> list[dict[str, Any]]:
        rows = self._run_read(lambda c: c.execute("SELECT * FROM hint_reveals ORDER BY at, uid").fetchall(), [])
        return [dict(r) for r in rows]

    def set_setting(self, key: str, value: str | None) -> None:
        def put(conn: sqlite3.Connection) -> None:
            if value is None:
                conn.execute("DELETE FROM settings WHERE key=?", (key,))
            else:
                conn.execute("INSERT OR REPLACE INTO settings(key, value) VALUES (?,?)", (key, value))
        self._run_write(put)

    # -- reads ----------------------------------------------------------------------
    def setting(self, key: str) -> str | None:
        row = self._run_read(lambda c: c.execute("SELECT value FROM settings WHERE key=?", (key,)).fetchone(), None)
        return row[0] if row else None

    def hints_shown(self, lesson: str) -> dict[str, int]:
        """{task: number of hints revealed} for one lesson."""
        rows = self._run_read(lambda c: c.execute(
            "SELECT task, COUNT(DISTINCT hint) FROM hint_reveals WHERE lesson=? GROUP BY task", (lesson,)).fetchall(), [])
        return {r[0]: int(r[1]) for r in rows}

    def attempts(self, lesson: str | None = None, limit: int = 1000) -> list[dict[str, Any]]:
        """Attempts, newest first."""
        query = "SELECT * FROM attempts" + (" WHERE lesson=?" if lesson else "") + " ORDER BY ended DESC, id DESC LIMIT ?"
        args: tuple[Any, ...] = (lesson, limit) if lesson else (limit,)
        rows = self._run_read(lambda c: c.execute(query, args).fetchall(), [])
        out = []
        for row in rows:
            item = dict(row)
            item["checks"] = json.loads(item["checks"])
            item["metrics"] = json.loads(item["metrics"])
            item["device"] = item["device_name"] or item["device_kind"]
            out.append(item)
        return out

    def summary(self) -> dict[str, LessonProgress]:
        """Per-lesson progress for every lesson with an attempt or a hint."""
        lessons: dict[str, LessonProgress] = {}
        best_first: dict[str, float] = {}
        for a in reversed(self.attempts(limit=10_000_000)):
            p = lessons.setdefault(a["lesson"], LessonProgress(a["lesson"]))
            p.attempts += 1
            p.seconds += max(0.0, a["ended"] - a["started"])
            p.last = a
            if a["host"] and a["host"] not in p.hosts:
                p.hosts.append(a["host"])
            if a["verdict"] == LESSON_PASSED:
                p.status = LESSON_PASSED
                p.first_pass = p.first_pass or a["ended"]
                for i, m in enumerate(a["metrics"]):
                    higher = m.get("higher_is_better", True)
                    better = max if higher else min
                    name = m["name"]
                    p.best_metrics[name] = better(p.best_metrics.get(name, m["value"]), m["value"])
                    if i == 0 and (a["lesson"] not in best_first or better(best_first[a["lesson"]], m["value"]) == m["value"]):
                        best_first[a["lesson"]] = m["value"]
                        p.best_device = a["device"]
                if not a["metrics"] and not p.best_device:
                    p.best_device = a["device"]
            elif p.status != LESSON_PASSED and a["verdict"] != "interrupted":
                p.status = LESSON_FAILING
        rows = self._run_read(lambda c: c.execute(
            "SELECT lesson, COUNT(DISTINCT task || '#' || hint) FROM hint_reveals GROUP BY lesson").fetchall(), [])
        for lesson, count in rows:
            lessons.setdefault(lesson, LessonProgress(lesson)).hints = int(count)
        return lessons

    def status(self, lesson: str) -> str:
        return self.summary().get(lesson, LessonProgress(lesson)).status

    def streak(self, today: float | None = None) -> int:
        """Consecutive calendar days, ending today or yesterday, with at least one attempt."""
        stamps = {time.strftime("%Y-%m-%d", time.localtime(a["ended"])) for a in self.attempts(limit=10_000_000)}
        day = today or time.time()
        if time.strftime("%Y-%m-%d", time.localtime(day)) not in stamps:
            day -= 86400
        count = 0
        while time.strftime("%Y-%m-%d", time.localtime(day)) in stamps:
            count += 1
            day -= 86400
        return count

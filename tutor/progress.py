"""The learner's progress in SQLite: attempts, hints, passes.

WAL mode and a busy timeout make two SSH sessions checking at once safe; every write
is one short IMMEDIATE transaction. A corrupt file is moved aside and a fresh store made.
"""

from __future__ import annotations

import json
import socket
import sqlite3
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

SCHEMA_VERSION = 1
BUSY_TIMEOUT_S = 30.0

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS attempts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    day TEXT NOT NULL,
    started REAL NOT NULL,
    ended REAL NOT NULL,
    verdict TEXT NOT NULL,
    passed INTEGER NOT NULL,
    total INTEGER NOT NULL,
    message TEXT NOT NULL DEFAULT '',
    device TEXT NOT NULL DEFAULT '',
    host TEXT NOT NULL DEFAULT '',
    seed INTEGER NOT NULL DEFAULT 0,
    checks TEXT NOT NULL DEFAULT '[]',
    metrics TEXT NOT NULL DEFAULT '[]'
);
CREATE INDEX IF NOT EXISTS attempts_day ON attempts(day, ended);
CREATE TABLE IF NOT EXISTS hints (day TEXT PRIMARY KEY, shown INTEGER NOT NULL, updated REAL NOT NULL);
"""

NOT_STARTED = "not started"
FAILING = "failing"
PASSED = "passed"


@dataclass
class DayProgress:
    """Everything the front ends show about one day."""

    day: str
    status: str = NOT_STARTED
    attempts: int = 0
    first_pass: float | None = None
    seconds: float = 0.0
    hints: int = 0
    best_metrics: dict[str, float] = field(default_factory=dict)
    last: dict[str, Any] | None = None


class ProgressStore:
    """Open with ProgressStore(path); every method opens its own short connection."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.notice = ""  # set when a corrupt store was moved aside
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._prepare()

    # -- connection -----------------------------------------------------------------
    @contextmanager
    def _connect(self, write: bool = False) -> Iterator[sqlite3.Connection]:
        conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
            conn.row_factory = sqlite3.Row
            if write:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    yield conn
                    conn.execute("COMMIT")
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
            else:
                yield conn
        finally:
            conn.close()

    def _prepare(self) -> None:
        try:
            self._create()
        except sqlite3.DatabaseError as exc:
            if isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc):
                raise
            aside = self.path.with_name(f"{self.path.name}.corrupt-{time.strftime('%Y%m%d-%H%M%S')}")
            self.path.rename(aside)
            for suffix in ("-wal", "-shm"):
                extra = Path(str(self.path) + suffix)
                if extra.exists():
                    extra.rename(Path(str(aside) + suffix))
            self.notice = f"the progress file was unreadable ({exc}); it was moved to {aside} and a new one started"
            self._create()

    def _create(self) -> None:
        conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
            if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                conn.execute("PRAGMA journal_mode=WAL")
            check = conn.execute("PRAGMA quick_check").fetchone()[0]
            if check != "ok":
                raise sqlite3.DatabaseError(f"integrity check: {check}")
            conn.executescript(SCHEMA)
            conn.execute("INSERT OR IGNORE INTO meta(key, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
            version = int(conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()[0])
            if version > SCHEMA_VERSION:
                raise RuntimeError(
                    f"{self.path} was written by a newer dltutor (schema {version}); upgrade dltutor to read it"
                )
        finally:
            conn.close()

    # -- writes ---------------------------------------------------------------------
    def record_attempt(self, result: dict[str, Any]) -> int:
        """Store one run (a RunResult.to_dict()); returns the attempt id."""
        checks = [{k: c.get(k) for k in ("name", "status", "message", "task")} for c in result.get("checks", [])]
        with self._connect(write=True) as conn:
            cur = conn.execute(
                "INSERT INTO attempts(day, started, ended, verdict, passed, total, message, device, host, seed,"
                " checks, metrics) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    result["day"], float(result.get("started") or time.time()),
                    float(result.get("ended") or time.time()), result["verdict"],
                    int(result.get("passed", 0)), int(result.get("total", 0)), str(result.get("message", ""))[:2000],
                    result.get("device_name") or result.get("device", ""), socket.gethostname(),
                    int(result.get("seed", 0)), json.dumps(checks), json.dumps(result.get("metrics", [])),
                ),
            )
            return int(cur.lastrowid)

    def next_hint(self, day: str, available: int) -> int | None:
        """Reveal one more hint: returns its index, or None when all were shown."""
        with self._connect(write=True) as conn:
            row = conn.execute("SELECT shown FROM hints WHERE day=?", (day,)).fetchone()
            shown = row["shown"] if row else 0
            if shown >= available:
                return None
            conn.execute(
                "INSERT INTO hints(day, shown, updated) VALUES (?,?,?) "
                "ON CONFLICT(day) DO UPDATE SET shown=excluded.shown, updated=excluded.updated",
                (day, shown + 1, time.time()),
            )
            return shown

    # -- reads ----------------------------------------------------------------------
    def hints_shown(self, day: str) -> int:
        with self._connect() as conn:
            row = conn.execute("SELECT shown FROM hints WHERE day=?", (day,)).fetchone()
            return int(row["shown"]) if row else 0

    def attempts(self, day: str | None = None, limit: int = 1000) -> list[dict[str, Any]]:
        """Attempts, newest first."""
        query = "SELECT * FROM attempts" + (" WHERE day=?" if day else "") + " ORDER BY id DESC LIMIT ?"
        args: tuple[Any, ...] = (day, limit) if day else (limit,)
        with self._connect() as conn:
            rows = conn.execute(query, args).fetchall()
        out = []
        for row in rows:
            item = dict(row)
            item["checks"] = json.loads(item["checks"])
            item["metrics"] = json.loads(item["metrics"])
            out.append(item)
        return out

    def summary(self) -> dict[str, DayProgress]:
        """Per-day progress for every day with an attempt or a hint."""
        days: dict[str, DayProgress] = {}
        for a in reversed(self.attempts(limit=1_000_000)):
            p = days.setdefault(a["day"], DayProgress(a["day"]))
            p.attempts += 1
            p.seconds += max(0.0, a["ended"] - a["started"])
            p.last = a
            if a["verdict"] == PASSED:
                p.status = PASSED
                p.first_pass = p.first_pass or a["ended"]
                for m in a["metrics"]:
                    better = max if m.get("higher_is_better", True) else min
                    name = m["name"]
                    p.best_metrics[name] = better(p.best_metrics.get(name, m["value"]), m["value"])
            elif p.status != PASSED and a["verdict"] != "interrupted":
                p.status = FAILING
        with self._connect() as conn:
            for row in conn.execute("SELECT day, shown FROM hints"):
                days.setdefault(row["day"], DayProgress(row["day"])).hints = int(row["shown"])
        return days

    def status(self, day: str) -> str:
        return self.summary().get(day, DayProgress(day)).status

    def streak(self, today: float | None = None) -> int:
        """Consecutive calendar days, ending today or yesterday, with at least one attempt."""
        stamps = {time.strftime("%Y-%m-%d", time.localtime(a["ended"])) for a in self.attempts(limit=1_000_000)}
        now = today or time.time()
        day = now
        if time.strftime("%Y-%m-%d", time.localtime(day)) not in stamps:
            day -= 86400
        count = 0
        while time.strftime("%Y-%m-%d", time.localtime(day)) in stamps:
            count += 1
            day -= 86400
        return count

"""Opening the progress database: schema, the v1 -> v2 upgrade, and telling damage from trouble.

Only a file that really is not a database (bad header, failed integrity check) is set aside,
its readable rows salvaged into the new store. A read-only file or folder, a full disk, an I/O
error or a lock held too long is reported as what it is (`StoreError`), and nothing is renamed.
"""

from __future__ import annotations

import sqlite3
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

SCHEMA_VERSION = 2
BUSY_TIMEOUT_S = 30.0
SQLITE_HEADER = b"SQLite format 3\x00"

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS attempts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    uid TEXT NOT NULL UNIQUE,
    lesson TEXT NOT NULL,
    started REAL NOT NULL,
    ended REAL NOT NULL,
    verdict TEXT NOT NULL,
    passed INTEGER NOT NULL,
    total INTEGER NOT NULL,
    message TEXT NOT NULL DEFAULT '',
    device_kind TEXT NOT NULL DEFAULT '',
    device_name TEXT NOT NULL DEFAULT '',
    host TEXT NOT NULL DEFAULT '',
    seed INTEGER NOT NULL DEFAULT 0,
    checks TEXT NOT NULL DEFAULT '[]',
    metrics TEXT NOT NULL DEFAULT '[]'
);
CREATE INDEX IF NOT EXISTS attempts_lesson ON attempts(lesson, ended);
CREATE TABLE IF NOT EXISTS hint_reveals (
    uid TEXT PRIMARY KEY,
    lesson TEXT NOT NULL,
    task TEXT NOT NULL,
    hint INTEGER NOT NULL,
    at REAL NOT NULL,
    host TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS hint_reveals_lesson ON hint_reveals(lesson, task);
CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""

# v1 (day ids) -> v2 (lesson names): every v1 store was written by the 50-day course.
V1_DAYS = {1: "intro-to-deep-learning", 2: "perceptron", 3: "mlp", 4: "backpropagation", 5: "activation-functions",
           6: "loss-functions", 7: "optimizers", 8: "first-classifier", 9: "overfitting",
           10: "l1-l2-regularization", 11: "dropout", 12: "hyperparameter-tuning", 13: "batch-norm",
           14: "adaptive-optimizers"}

HintLayout = Callable[[str], list[tuple[str, int]]]  # lesson -> [(task, hint index)] in v1's one sequence


class StoreError(Exception):
    """The store cannot be used right now (read-only, full disk, I/O error, locked); nothing was changed."""


def new_uid(host: str) -> str:
    return f"{uuid.uuid4().hex}@{host}"


def explain(exc: sqlite3.Error, path: Path) -> StoreError:
    """A StoreError that says what went wrong in the learner's words."""
    text = str(exc).lower()
    if "locked" in text or "busy" in text:
        why = f"another dltutor (or program) has held it locked for more than {BUSY_TIMEOUT_S:.0f} s; try again"
    elif "readonly" in text or "read-only" in text:
        why = "it is read-only (check the permissions of the file and its folder)"
    elif "unable to open" in text:
        why = "it cannot be opened (does the folder exist, and may you write to it?)"
    elif "full" in text:
        why = "the disk is full"
    elif "i/o" in text:
        why = "the disk reported an I/O error"
    else:
        why = str(exc)
    return StoreError(f"cannot use your progress store at {path}: {why}")


def looks_damaged(path: Path) -> str:
    """Why the file is not a usable database ('' when it looks like one or does not exist)."""
    try:
        with path.open("rb") as fh:
            head = fh.read(len(SQLITE_HEADER))
    except FileNotFoundError:
        return ""
    except OSError:
        return ""  # unreadable is not damaged: reported by the caller as what it is
    if head and head != SQLITE_HEADER[: len(head)] or 0 < len(head) < len(SQLITE_HEADER):
        return "it is not an SQLite database"
    if not head:
        return ""
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_S)
        try:
            result = conn.execute("PRAGMA quick_check").fetchone()[0]
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        if "not a database" in str(exc) or "malformed" in str(exc):
            return str(exc)
        return ""
    return "" if result == "ok" else f"integrity check: {result}"


@contextmanager
def connect(path: Path, write: bool = False, readonly: bool = False) -> Iterator[sqlite3.Connection]:
    """One short connection; `write` wraps it in BEGIN IMMEDIATE ... COMMIT."""
    # immutable: a read-only WAL database in a folder we may not write to cannot get its -shm file
    target = f"file:{path}?mode=ro&immutable=1" if readonly else str(path)
    conn = sqlite3.connect(target, uri=readonly, timeout=BUSY_TIMEOUT_S, isolation_level=None)
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


def create_or_upgrade(path: Path, host: str, layout: HintLayout) -> None:
    """Make the schema, or upgrade an older one in a transaction after a backup copy."""
    with connect(path) as conn:
        if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
            conn.execute("PRAGMA journal_mode=WAL")
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        version = 0
        if "meta" in tables:
            row = conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
            version = int(row[0]) if row else 0
        if version > SCHEMA_VERSION:
            raise RuntimeError(f"{path} was written by a newer dltutor (schema {version}); upgrade dltutor to read it")
        if version == SCHEMA_VERSION:
            return
        if version == 1:
            backup(path, path.with_name(f"{path.name}.v1-backup-{time.strftime('%Y%m%d-%H%M%S')}"))
        conn.execute("BEGIN IMMEDIATE")
        try:
            if version == 1:
                _upgrade_v1(conn, host, layout)
            for statement in SCHEMA.strip().split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute("INSERT OR REPLACE INTO meta(key, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise


def _v1_slug(day: str) -> str:
    digits = day[3:] if day.startswith("day") else ""
    return V1_DAYS.get(int(digits), day) if digits.isdigit() else day


def _device_kind(name: str) -> str:
    low = name.lower()
    if "cuda" in low or "nvidia" in low or "gpu" in low:
        return "cuda"
    return "mps" if "mps" in low or "apple" in low else "cpu"


def _upgrade_v1(conn: sqlite3.Connection, host: str, layout: HintLayout) -> None:
    """v1 attempts(day, device) and hints(day, shown) -> v2 attempts(lesson, uid, device_kind) and reveals."""
    conn.execute("ALTER TABLE attempts RENAME TO attempts_v1")
    conn.execute("ALTER TABLE hints RENAME TO hints_v1")
    conn.execute("DROP INDEX IF EXISTS attempts_day")
    for statement in SCHEMA.strip().split(";"):
        if statement.strip():
            conn.execute(statement)
    rows = conn.execute("SELECT * FROM attempts_v1 ORDER BY id").fetchall()
    for r in rows:
        conn.execute(
            "INSERT INTO attempts(id, uid, lesson, started, ended, verdict, passed, total, message, device_kind,"
            " device_name, host, seed, checks, metrics) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (r["id"], new_uid(r["host"] or host), _v1_slug(r["day"]), r["started"], r["ended"], r["verdict"],
             r["passed"], r["total"], r["message"], _device_kind(r["device"]), r["device"], r["host"], r["seed"],
             r["checks"], r["metrics"]))
    for r in conn.execute("SELECT day, shown, updated FROM hints_v1").fetchall():
        slug = _v1_slug(r["day"])
        sequence = layout(slug) or [("", i) for i in range(r["shown"])]
        for task, index in sequence[: r["shown"]]:
            conn.execute("INSERT INTO hint_reveals(uid, lesson, task, hint, at, host) VALUES (?,?,?,?,?,?)",
                         (new_uid(host), slug, task, index, r["updated"], host))
    conn.execute("DROP TABLE attempts_v1")
    conn.execute("DROP TABLE hints_v1")


def backup(source: Path, target: Path) -> None:
    """A consistent copy of a live database (sqlite's backup API, safe with other writers)."""
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_S)
    try:
        dst = sqlite3.connect(target)
        try:
            src.backup(dst)
        finally:
            dst.close()
    finally:
        src.close()


def set_aside(path: Path, why: str) -> Path:
    """Move a damaged file (and its -wal/-shm) aside; returns where it went."""
    aside = path.with_name(f"{path.name}.damaged-{time.strftime('%Y%m%d-%H%M%S')}")
    path.rename(aside)
    for suffix in ("-wal", "-shm"):
        extra = Path(f"{path}{suffix}")
        if extra.exists():
            extra.rename(Path(f"{aside}{suffix}"))
    return aside


def salvage(damaged: Path, fresh: Path, spare: Path) -> int:
    """Copy the rows that can still be read (from the damaged file, else the spare copy); returns how many."""
    copied = 0
    for source in (damaged, spare):
        if not source.is_file():
            continue
        try:
            src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
            src.row_factory = sqlite3.Row
            try:
                with connect(fresh, write=True) as dst:
                    for table in ("attempts", "hint_reveals", "settings"):
                        try:
                            rows = src.execute(f"SELECT * FROM {table}").fetchall()  # noqa: S608 (fixed names)
                        except sqlite3.DatabaseError:
                            continue
                        for row in rows:
                            keys = [k for k in row.keys() if k != "id"]
                            marks = ",".join("?" * len(keys))
                            cur = dst.execute(f"INSERT OR IGNORE INTO {table}({','.join(keys)}) VALUES ({marks})",
                                              [row[k] for k in keys])
                            copied += cur.rowcount
            finally:
                src.close()
        except sqlite3.DatabaseError:
            continue
    return copied

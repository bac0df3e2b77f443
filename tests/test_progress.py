"""The progress store: summaries, hints per task, concurrent writers, the v1 upgrade, and trouble
(a damaged file is repaired from what can be read; a read-only or locked one is reported, never renamed)."""

from __future__ import annotations

import multiprocessing as mp
import os
import sqlite3
import threading
import time
from pathlib import Path

import pytest

from tutor.progress import ProgressStore, StoreError

FIXTURES = Path(__file__).parent / "fixtures"


def attempt(lesson: str, verdict: str, value: float = 0.5, seconds: float = 2.0, device: str = "CPU, 2 threads") -> dict:
    now = time.time()
    return {"lesson": lesson, "verdict": verdict, "passed": 1, "total": 2, "started": now - seconds, "ended": now,
            "device_kind": "cpu", "device_name": device, "checks": [{"name": "a", "status": "passed"}],
            "metrics": [{"name": "accuracy", "value": value, "higher_is_better": True}]}


def test_summary_status_attempts_best_metric_time(tmp_path: Path):
    store = ProgressStore(tmp_path / "p.db")
    store.record_attempt(attempt("tiny-day", "failed", 0.2))
    store.record_attempt(attempt("tiny-day", "passed", 0.9, device="CUDA: H100"))
    store.record_attempt(attempt("tiny-day", "passed", 0.8))
    store.record_attempt(attempt("second-day", "interrupted"))
    s = store.summary()
    assert s["tiny-day"].status == "passed" and s["tiny-day"].attempts == 3
    assert s["tiny-day"].best_metrics == {"accuracy": 0.9} and s["tiny-day"].best_device == "CUDA: H100"
    assert abs(s["tiny-day"].seconds - 6.0) < 0.1 and s["tiny-day"].first_pass is not None
    assert s["second-day"].status == "not started"  # an interrupted attempt is not a failure
    assert s["tiny-day"].hosts == [store.host] and s["tiny-day"].last["device"] == "CPU, 2 threads"
    assert store.streak() == 1
    uids = [a["uid"] for a in store.attempts()]
    assert len(set(uids)) == 4 and all("@" in u for u in uids)


def test_hints_one_at_a_time_per_task_and_remembered(tmp_path: Path):
    store = ProgressStore(tmp_path / "p.db")
    assert [store.reveal_hint("l", "a", 2) for _ in range(3)] == [0, 1, None]
    assert store.reveal_hint("l", "b", 2) == 0  # task b's first hint does not need task a's
    assert ProgressStore(tmp_path / "p.db").hints_shown("l") == {"a": 2, "b": 1}
    assert store.summary()["l"].hints == 3


def _writer(path: str, worker: int, count: int) -> None:
    store = ProgressStore(Path(path))
    for i in range(count):
        store.record_attempt(attempt(f"lesson-{worker}", "failed" if i % 2 else "passed"))
        store.reveal_hint(f"lesson-{worker}", "t", 1000)


def test_concurrent_writers_lose_nothing(tmp_path: Path):
    path = tmp_path / "p.db"
    ProgressStore(path)
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(str(path), w, 30)) for w in range(1, 5)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    store = ProgressStore(path)
    assert len(store.attempts(limit=10_000)) == 120
    assert all(store.hints_shown(f"lesson-{w}") == {"t": 30} for w in range(1, 5))
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_file_that_is_not_a_database_is_set_aside(tmp_path: Path):
    path = tmp_path / "p.db"
    path.write_bytes(b"this is not sqlite" * 500)
    store = ProgressStore(path)
    assert "damaged" in store.notice and list(tmp_path.glob("p.db.damaged-*"))
    store.record_attempt(attempt("tiny-day", "passed"))
    assert store.status("tiny-day") == "passed"


def test_a_store_overwritten_after_opening_is_rebuilt_from_the_spare_copy(tmp_path: Path):
    path = tmp_path / "p.db"
    store = ProgressStore(path)
    store.record_attempt(attempt("tiny-day", "passed"))
    store.record_attempt(attempt("second-day", "failed"))
    path.write_bytes(b"garbage written by the learner's code " * 100)  # e.g. during a check
    for extra in (Path(f"{path}-wal"), Path(f"{path}-shm")):
        extra.unlink(missing_ok=True)
    store.record_attempt(attempt("second-day", "passed"))  # the next write repairs first
    lessons = [a["lesson"] for a in store.attempts()]
    assert sorted(lessons) == ["second-day", "second-day", "tiny-day"], lessons
    assert "recovered" in store.notice


def test_read_only_store_is_reported_and_nothing_renamed(tmp_path: Path):
    if os.geteuid() == 0:
        pytest.skip("root ignores file permissions")
    folder = tmp_path / "ws"
    store = ProgressStore(folder / "p.db")
    store.record_attempt(attempt("tiny-day", "passed"))
    for name in os.listdir(folder):
        os.chmod(folder / name, 0o444)
    os.chmod(folder, 0o555)
    try:
        again = ProgressStore(folder / "p.db")
        assert again.readonly and "read-only" in again.notice
        assert again.status("tiny-day") == "passed"  # still shows what it can
        with pytest.raises(StoreError, match="read-only"):
            again.record_attempt(attempt("tiny-day", "failed"))
        assert sorted(os.listdir(folder)) == sorted(n for n in os.listdir(folder) if "damaged" not in n)
    finally:
        os.chmod(folder, 0o755)


def test_read_only_sqlite_error_is_explained_not_treated_as_damage(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """The same path for root, who ignores permissions: sqlite's own read-only error."""
    from tutor import progress_db

    path = tmp_path / "p.db"
    ProgressStore(path).record_attempt(attempt("tiny-day", "passed"))

    def readonly(*args, **kwargs):
        raise sqlite3.OperationalError("attempt to write a readonly database")

    monkeypatch.setattr("tutor.progress.create_or_upgrade", readonly)
    store = ProgressStore(path)
    assert store.readonly and "read-only" in store.notice
    assert store.status("tiny-day") == "passed" and not list(tmp_path.glob("*damaged*"))
    assert "full" in str(progress_db.explain(sqlite3.OperationalError("database or disk is full"), path))
    assert "I/O" in str(progress_db.explain(sqlite3.OperationalError("disk I/O error"), path))


def test_a_lock_held_too_long_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr("tutor.progress_db.BUSY_TIMEOUT_S", 0.3)
    path = tmp_path / "p.db"
    store = ProgressStore(path)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(StoreError, match="locked"):
            store.reveal_hint("tiny-day", "t", 3)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert not list(tmp_path.glob("*damaged*"))


def test_newer_schema_is_refused_and_left_alone(tmp_path: Path):
    path = tmp_path / "p.db"
    ProgressStore(path)
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE meta SET value='99' WHERE key='schema_version'")
    before = path.read_bytes()
    with pytest.raises(RuntimeError, match="newer dltutor"):
        ProgressStore(path)
    assert path.read_bytes() == before


def _v1_store(path: Path) -> None:
    """A store written by the day-numbered dltutor (the code at 692448b), from its SQL dump."""
    conn = sqlite3.connect(path)
    conn.executescript((FIXTURES / "progress-v1.sql").read_text())
    conn.execute("PRAGMA journal_mode=WAL")
    conn.close()


def test_v1_store_is_upgraded_with_nothing_lost(tmp_path: Path):
    path = tmp_path / "progress.db"
    _v1_store(path)
    with sqlite3.connect(path) as conn:
        before = conn.execute("SELECT day, COUNT(*), MIN(CASE WHEN verdict='passed' THEN ended END) "
                              "FROM attempts GROUP BY day").fetchall()
    layout = {"batch-norm": [("functional", 0), ("functional", 1), ("bn1d", 0), ("bn1d", 1)],
              "perceptron": [("step", 0)]}
    store = ProgressStore(path, hint_layout=lambda slug: layout.get(slug, []))
    summary = store.summary()
    names = {"day01": "intro-to-deep-learning", "day02": "perceptron", "day13": "batch-norm",
             "day14": "adaptive-optimizers"}
    for day, count, first_pass in before:
        p = summary[names[day]]
        assert p.attempts == count and p.first_pass == first_pass, day
    assert summary["perceptron"].best_device.startswith("CUDA") and summary["perceptron"].status == "passed"
    assert store.hints_shown("batch-norm") == {"functional": 2, "bn1d": 1}
    assert store.attempts("perceptron")[0]["device_kind"] == "cuda"
    assert list(tmp_path.glob("progress.db.v1-backup-*")), "the upgrade keeps a copy of the v1 file"
    again = ProgressStore(path)  # idempotent: a second open changes nothing
    assert {k: (v.attempts, v.first_pass) for k, v in again.summary().items()} == \
        {k: (v.attempts, v.first_pass) for k, v in summary.items()}


def test_failed_upgrade_leaves_the_v1_store_as_it_was(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    path = tmp_path / "progress.db"
    _v1_store(path)

    def broken(conn, host, layout):
        conn.execute("ALTER TABLE attempts RENAME TO attempts_v1")
        raise RuntimeError("power cut")

    monkeypatch.setattr("tutor.progress_db._upgrade_v1", broken)
    with pytest.raises(RuntimeError, match="power cut"):
        ProgressStore(path)
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT COUNT(*) FROM attempts").fetchone()[0] == 7
        assert conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()[0] == "1"


def test_record_while_another_thread_reads(tmp_path: Path):
    store = ProgressStore(tmp_path / "p.db")
    errors = []

    def read():
        try:
            for _ in range(30):
                store.summary()
        except Exception as exc:  # pragma: no cover - the assertion below reports it
            errors.append(exc)

    reader = threading.Thread(target=read)
    reader.start()
    for _ in range(30):
        store.record_attempt(attempt("tiny-day", "failed"))
    reader.join()
    assert not errors and len(store.attempts()) == 30

"""The progress store: summaries, hints, concurrent writers, corrupt-file recovery."""

from __future__ import annotations

import multiprocessing as mp
import sqlite3
import time
from pathlib import Path

from tutor.progress import ProgressStore


def attempt(day: str, verdict: str, value: float = 0.5, seconds: float = 2.0) -> dict:
    now = time.time()
    return {"day": day, "verdict": verdict, "passed": 1, "total": 2, "started": now - seconds, "ended": now,
            "device_name": "CPU, 2 threads", "checks": [{"name": "a", "status": "passed"}],
            "metrics": [{"name": "accuracy", "value": value, "higher_is_better": True}]}


def test_summary_status_attempts_best_metric_time(tmp_path: Path):
    store = ProgressStore(tmp_path / "p.db")
    store.record_attempt(attempt("day01", "failed", 0.2))
    store.record_attempt(attempt("day01", "passed", 0.9))
    store.record_attempt(attempt("day01", "passed", 0.8))
    store.record_attempt(attempt("day02", "interrupted"))
    s = store.summary()
    assert s["day01"].status == "passed" and s["day01"].attempts == 3
    assert s["day01"].best_metrics == {"accuracy": 0.9}
    assert abs(s["day01"].seconds - 6.0) < 0.1 and s["day01"].first_pass is not None
    assert s["day02"].status == "not started"  # an interrupted attempt is not a failure
    assert s["day01"].last["host"] and s["day01"].last["device"] == "CPU, 2 threads"
    assert store.streak() == 1


def test_hints_one_at_a_time_and_remembered(tmp_path: Path):
    store = ProgressStore(tmp_path / "p.db")
    assert [store.next_hint("day01", 2) for _ in range(3)] == [0, 1, None]
    assert ProgressStore(tmp_path / "p.db").hints_shown("day01") == 2


def _writer(path: str, worker: int, count: int) -> None:
    store = ProgressStore(Path(path))
    for i in range(count):
        store.record_attempt(attempt(f"day{worker:02d}", "failed" if i % 2 else "passed"))
        store.next_hint(f"day{worker:02d}", 1000)


def test_concurrent_writers_lose_nothing(tmp_path: Path):
    path = tmp_path / "p.db"
    ProgressStore(path)
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(str(path), w, 40)) for w in range(1, 5)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    store = ProgressStore(path)
    assert len(store.attempts(limit=10_000)) == 160
    assert all(store.hints_shown(f"day{w:02d}") == 40 for w in range(1, 5))
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_corrupt_store_is_moved_aside(tmp_path: Path):
    path = tmp_path / "p.db"
    path.write_bytes(b"this is not sqlite" * 500)
    store = ProgressStore(path)
    assert "moved to" in store.notice
    assert list(tmp_path.glob("p.db.corrupt-*"))
    store.record_attempt(attempt("day01", "passed"))
    assert store.status("day01") == "passed"


def test_newer_schema_is_refused(tmp_path: Path):
    path = tmp_path / "p.db"
    ProgressStore(path)
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE meta SET value='99' WHERE key='schema_version'")
    try:
        ProgressStore(path)
    except RuntimeError as exc:
        assert "newer dltutor" in str(exc)
    else:
        raise AssertionError("a newer schema must be refused, not overwritten")

"""Measure (not test): check wall time per day on its solution, start-up vs training,
`dltutor --help` time, and the check process's peak memory.

    python benchmarks/check_latency.py [day01 day02 ...] [--repeat 3]

Start-up is the time from launching the child to its 'started' event (Python, torch and
the check script imported); training is the rest. Peak memory is the child's own max RSS,
which it reports in its 'done' event.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tutor import events  # noqa: E402
from tutor.course import load_course  # noqa: E402
from tutor.runner import CheckRun, RunRequest  # noqa: E402


def time_help(repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "tutor", "--help"], capture_output=True, check=True)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def one_run(course, lesson) -> tuple[float, float, str, float]:
    run = CheckRun(RunRequest(lesson.id, course.check_script(lesson), course.solution_dir(lesson),
                              device="cpu", timeout=lesson.check.timeout))
    t0 = time.perf_counter()
    started = None
    for event in run.events():
        if event["event"] == events.STARTED:
            started = time.perf_counter() - t0
    total = time.perf_counter() - t0
    return total, started or total, run.result.verdict, run.result.peak_mib


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("days", nargs="*")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    course = load_course()
    lessons = [course.lesson(d) for d in args.days] if args.days else course.lessons
    print(f"dltutor --help: {time_help(args.repeat) * 1000:.0f} ms (median of {args.repeat})")
    print(f"{'day':6} {'verdict':8} {'wall s':>7} {'start-up s':>10} {'training s':>10} {'peak RSS MiB':>12}")
    for lesson in lessons:
        runs = [one_run(course, lesson) for _ in range(args.repeat)]
        wall = statistics.median(r[0] for r in runs)
        start = statistics.median(r[1] for r in runs)
        peak = max(r[3] for r in runs)
        verdicts = ",".join(sorted({r[2] for r in runs}))
        print(f"{lesson.id:6} {verdicts:8} {wall:7.2f} {start:10.2f} {wall - start:10.2f} {peak:12.0f}")


if __name__ == "__main__":
    main()

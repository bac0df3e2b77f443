"""Measure (not test): one-shot and warm check latency, per lesson, as a table and as JSON.

For each lesson (solution files in a scratch workspace), interleaved, median of N:
- checks: the checks' own seconds (sum of `seconds` in `dltutor check --json`);
- import: `python -c "import torch"`;
- one-shot: `dltutor check --json` wall time, and its ratio to import + checks;
- warm and no-warm: `dltutor watch` through a pipe, from writing the file to its verdict line,
  and the ratio of the warm time to the checks' own seconds;
- RSS: the peak of an idle warm check process (VmHWM) and of the parent.
`--verify` adds `dltutor verify` wall time over the lessons with -j 1 and -j 2.

    python benchmarks/warm_checks.py [--n 3] [--lessons a,b] [--device cpu] [--verify] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tutor.course import load_course  # noqa: E402


def run(argv: list[str], env: dict, **kw) -> tuple[float, subprocess.CompletedProcess]:
    t0 = time.perf_counter()
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, **kw)
    return time.perf_counter() - t0, proc


def watch_latency(slug: str, files: list[Path], solution: Path, env: dict, warm: bool, n: int,
                  settle: float) -> list[float]:
    """Seconds from a save to the verdict line of `dltutor watch`, n saves."""
    argv = [sys.executable, "-m", "tutor", "watch", slug, "--warm" if warm else "--no-warm"]
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            text=True, env=env)
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in proc.stdout], daemon=True).start()

    def until_verdict(limit: float = 300) -> float:
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            try:
                line = lines.get(timeout=1)
            except queue.Empty:
                continue
            if "PASSED" in line or "FAILED" in line or "ERROR" in line or "TIMED OUT" in line:
                return time.perf_counter()
        raise RuntimeError(f"no verdict from dltutor watch {slug}")

    times = []
    try:
        until_verdict()
        time.sleep(settle)  # let the next warm process import torch, as it would while the learner types
        for i in range(n):
            t0 = time.perf_counter()
            for f in files:
                f.write_text((solution / f.name).read_text() + f"\n# save {i}\n")
            times.append(until_verdict() - t0)
            time.sleep(settle)
        proc.stdin.write("q\n")
        proc.stdin.flush()
        proc.wait(30)
    finally:
        proc.kill()
    return times


def idle_warm_rss_mib(env: dict) -> float:
    code = ("import time; from tutor.warm import spawn; s = spawn('cpu'); time.sleep(6); "
            "print(open(f'/proc/{s.proc.pid}/status').read()); s.discard()")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=REPO)
    for line in proc.stdout.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=3)
    ap.add_argument("--lessons", default="")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--verify", action="store_true")
    ap.add_argument("--json", default=str(REPO / "benchmarks" / "results" / "warm_checks.json"))
    args = ap.parse_args()
    course = load_course()
    slugs = [s for s in args.lessons.split(",") if s] or list(course.lessons)
    home = Path(tempfile.mkdtemp(prefix="dltutor-bench-"))
    env = {**os.environ, "DLTUTOR_HOME": str(home / "ws"), "XDG_CONFIG_HOME": str(home / "cfg"), "NO_COLOR": "1",
           "DLTUTOR_DEVICE": args.device, "PYTHONPATH": str(REPO)}
    subprocess.run([sys.executable, "-m", "tutor", "list"], env=env, capture_output=True)
    rows = []
    try:
        for slug in slugs:
            lesson = course.lessons[slug]
            solution = course.solution_dir(lesson)
            files = [home / "ws" / slug / name for name in lesson.exercise.files]
            for f in files:
                shutil.copy(solution / f.name, f)
            imports, oneshot, checks = [], [], []
            for _ in range(args.n):
                imports.append(run([sys.executable, "-c", "import torch"], env)[0])
                wall, proc = run([sys.executable, "-m", "tutor", "check", slug, "--json"], env)
                data = json.loads(proc.stdout)
                oneshot.append(wall)
                checks.append(sum(c.get("seconds", 0.0) for c in data["checks"]))
            settle = max(2.0, 2 * statistics.median(imports))  # a learner takes longer than this to edit
            warm = watch_latency(slug, files, solution, env, True, args.n, settle)
            cold = watch_latency(slug, files, solution, env, False, args.n, settle)
            med = statistics.median
            row = {"lesson": slug, "checks_s": med(checks), "import_torch_s": med(imports), "oneshot_s": med(oneshot),
                   "oneshot_ratio": med(oneshot) / (med(imports) + med(checks)), "warm_s": med(warm),
                   "warm_minus_checks_s": med(warm) - med(checks), "no_warm_s": med(cold)}
            rows.append(row)
            print(f"{slug:24} checks {row['checks_s']:6.2f}  import {row['import_torch_s']:5.2f}  one-shot "
                  f"{row['oneshot_s']:5.2f} ({row['oneshot_ratio']:.2f}x)  warm {row['warm_s']:5.2f} "
                  f"(+{row['warm_minus_checks_s']:.2f})  no-warm {row['no_warm_s']:5.2f}", flush=True)
        result = {"device": args.device, "host": os.uname().nodename, "n": args.n, "lessons": rows,
                  "idle_warm_rss_mib": idle_warm_rss_mib(env)}
        if args.verify:
            for jobs in (1, 2):
                wall, _ = run([sys.executable, "-m", "tutor", "verify", *slugs, "--seeds", "1", "-j", str(jobs)], env)
                result[f"verify_j{jobs}_s"] = wall
            result["verify_ratio"] = result["verify_j2_s"] / result["verify_j1_s"]
        print(json.dumps({k: v for k, v in result.items() if k != "lessons"}, indent=2))
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    finally:
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()

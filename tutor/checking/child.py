"""The child process that runs one check script against the learner's code.

    python -m tutor.checking.child --day day13 --script checks/day13.py \
        --source ~/dltutor/day13 --seed 0 --device auto --events-fd 5

Events go to the file descriptor given (see tutor.events); stdout and stderr are
left to the learner's prints, which the parent captures.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import resource
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import TextIO

from tutor import events


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="tutor.checking.child")
    parser.add_argument("--day", required=True)
    parser.add_argument("--script", required=True, type=Path)
    parser.add_argument("--source", required=True, type=Path)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--events-fd", type=int, required=True)
    parser.add_argument("--workdir", type=Path, default=None, help="scratch folder for the learner's files")
    return parser.parse_args(argv)


def load_script(path: Path) -> None:
    """Import the check script, which registers its checks."""
    spec = importlib.util.spec_from_file_location(f"dltutor_check_{path.stem}", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load check script {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)


def run_checks(args: argparse.Namespace, stream: TextIO) -> None:
    from tutor.checking import determinism
    from tutor.checking.context import Context, add_source_to_path
    from tutor.checking.errors import (
        CheckFailed,
        LearnerLoadError,
        describe_exception,
        learner_frames,
        not_implemented_location,
    )
    from tutor.checking.registry import registered

    import torch

    determinism.configure()
    try:
        device = determinism.pick_device(args.device)
    except RuntimeError as exc:
        events.write(stream, events.ERROR, message=str(exc))
        return
    try:
        load_script(args.script.resolve())
    except Exception:
        events.write(stream, events.ERROR, message="the check script itself failed to load:\n" + traceback.format_exc())
        return
    checks = registered()
    source = args.source.resolve()
    add_source_to_path(source)
    os.chdir(args.workdir or tempfile.mkdtemp(prefix="dltutor-check-"))
    ctx = Context(source, args.seed, device, stream)
    events.write(
        stream,
        events.STARTED,
        day=args.day,
        checks=[{"name": c.name, "task": c.task} for c in checks],
        device=str(device),
        device_name=determinism.describe_device(device),
        seed=args.seed,
        torch=torch.__version__,
    )
    passed = failed = 0
    load_error: str | None = None
    for index, chk in enumerate(checks):
        ctx.current = chk.name
        if load_error is not None:
            events.write(stream, events.CHECK, name=chk.name, task=chk.task, status=events.SKIPPED,
                         message="skipped: your exercise could not be loaded (see above)", seconds=0.0)
            failed += 1
            continue
        determinism.seed_everything(args.seed)
        ctx.reseed(index)
        events.write(stream, events.CHECK_STARTED, name=chk.name, index=index)
        t0 = time.perf_counter()
        status, message = events.PASSED, ""
        try:
            chk.fn(ctx)
        except CheckFailed as exc:
            status, message = events.FAILED, str(exc)
        except LearnerLoadError as exc:
            status, message = events.FAILED, f"could not load your exercise: {exc}"
            load_error = message
        except NotImplementedError as exc:
            if learner_frames(exc.__traceback__, source):
                status, message = events.NOT_IMPLEMENTED, f"not implemented yet: {not_implemented_location(exc, source)}"
            else:
                status, message = events.FAILED, describe_exception(exc, source)
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # SystemExit included: learner code must not end the check
            status, message = events.FAILED, describe_exception(exc, source)
        seconds = time.perf_counter() - t0
        if status == events.PASSED:
            passed += 1
        else:
            failed += 1
        events.write(stream, events.CHECK, name=chk.name, task=chk.task, status=status, message=message,
                     seconds=round(seconds, 4))
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB
    events.write(stream, events.DONE, passed=passed, failed=failed, peak_mib=round(peak_mib, 1))


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    stream = os.fdopen(args.events_fd, "w", buffering=1, encoding="utf-8")
    try:
        run_checks(args, stream)
    except BaseException:
        events.write(stream, events.ERROR, message="internal error in the check runner:\n" + traceback.format_exc())
    finally:
        for out in (sys.stdout, sys.stderr, stream):
            try:
                out.flush()
            except Exception:
                pass
    # Leave at once: a learner's stray non-daemon thread must not keep the check alive.
    os._exit(0)


if __name__ == "__main__":
    main()

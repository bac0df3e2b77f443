"""The child process that runs one check script against the learner's code.

The runner (tutor.runner) starts `python -m tutor.checking.child DEVICE`; the child imports
torch and the checking library and picks the device first (so a warm child, started ahead of
time by tutor.warm, waits ready), then reads one JSON request on its stdin:

    {"day": "batch-norm", "script": "checks/batch-norm.py", "source": "~/dltutor/batch-norm",
     "seed": 0, "device": "auto", "workdir": "/tmp/dltutor-check-…", "max_memory_mib": null,
     "events_fd": 5, "token": "…"}

The child reads it to the end and puts /dev/null in its place; moves the events pipe to
a high, close-on-exec descriptor and closes the one it was given; and stamps every
event with the token (tutor.events.TokenStream). None of it is in argv or the
environment. stdout and stderr are left to the learner's prints, which the runner
captures. What this guarantees, and what it does not: docs/threat-model.md.
"""

from __future__ import annotations

import importlib.util
import json
import os
import resource
import secrets
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

from tutor import events

USAGE = "tutor.checking.child reads its request as JSON on stdin; the check runner (tutor.runner) starts it"


def read_request() -> dict[str, Any]:
    """The runner's request, read to the end of stdin; stdin becomes /dev/null."""
    if sys.stdin is None or sys.stdin.isatty():
        print(USAGE, file=sys.stderr)
        raise SystemExit(2)
    data = sys.stdin.buffer.read()
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    request = json.loads(data)
    if not isinstance(request, dict) or "events_fd" not in request or "token" not in request:
        raise SystemExit(USAGE)
    return request


def hide_descriptor(fd: int) -> int:
    """`fd` moved to a random high number, close-on-exec (learner subprocesses do not get it)."""
    import fcntl

    try:
        moved = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 100 + secrets.randbelow(900))
    except OSError:  # a low limit on open files
        moved = os.dup(fd)
    os.close(fd)
    return moved


def load_script(path: Path) -> None:
    """Import the check script, which registers its checks."""
    spec = importlib.util.spec_from_file_location(f"dltutor_check_{path.stem}", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load check script {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)


def data_mib() -> float:
    """This process's data segment now (VmData), in MiB; 0 where /proc is missing."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmData:"):
                    return int(line.split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0.0


def limit_memory(mib: float) -> str:
    """Cap the data segment (RLIMIT_DATA: heap and private mappings; not RLIMIT_AS, which
    breaks CUDA's address-space reservations). Returns an error, or ''."""
    used = data_mib()
    if used and used + 64 > mib:
        return (f"--max-memory {mib:g} MiB is below what the check needs before your code runs "
                f"(torch and the check use {used:.0f} MiB); give it more")
    limit = int(mib * 2**20)
    try:
        resource.setrlimit(resource.RLIMIT_DATA, (limit, limit))
    except (ValueError, OSError) as exc:
        return f"--max-memory {mib:g} MiB could not be set: {exc}"
    return ""


def peak_mib() -> float:
    """Peak resident memory of this process and its waited-for children, in MiB."""
    scale = 2**20 if sys.platform == "darwin" else 1024  # ru_maxrss: bytes on macOS, KiB on Linux
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, kids) / scale


def prepare(device_spec: str, warm: bool = False) -> tuple[Any, str]:
    """Before the request comes: import torch and the checking library, set determinism, pick the
    device (CUDA initialised). A warm child does this while it waits, and (`warm`) also pays torch's
    lazy imports (determinism.preload). Returns (device, error)."""
    from tutor.checking import determinism
    import tutor.checking  # noqa: F401 (the library every check script imports)

    determinism.configure()
    if warm:
        determinism.preload()
    try:
        device = determinism.pick_device(device_spec)
    except RuntimeError as exc:  # a device this machine lacks: a usage error, not an attempt
        return None, str(exc)
    if device.type == "cuda":
        import torch

        torch.zeros(1, device=device)  # CUDA's start-up cost is paid here, not in the first check
    return device, ""


def run_checks(request: dict[str, Any], stream: events.TokenStream, prepared: tuple[Any, str],
               prepared_for: str) -> None:
    from tutor.checking import determinism
    from tutor.checking.context import Context, add_source_to_path
    from tutor.checking.errors import (
        CheckFailed,
        LearnerLoadError,
        describe_exception,
        import_failure,
        learner_frames,
        not_implemented_location,
        out_of_memory,
    )
    from tutor.checking.registry import registered

    import torch

    seed = int(request.get("seed", 0))
    device, problem = prepared if request.get("device", "auto") == prepared_for else prepare(request["device"])
    if problem:
        events.write(stream, events.ERROR, message=problem, reason="device")
        return
    try:
        load_script(Path(request["script"]).resolve())
    except Exception:
        events.write(stream, events.ERROR, message="the check script itself failed to load:\n" + traceback.format_exc())
        return
    checks = registered()
    source = Path(request["source"]).resolve()
    add_source_to_path(source)
    os.chdir(request.get("workdir") or tempfile.mkdtemp(prefix="dltutor-check-"))
    max_memory = request.get("max_memory_mib")
    if max_memory:
        problem = limit_memory(float(max_memory))
        if problem:
            events.write(stream, events.ERROR, message=problem, reason="memory")
            return
    ctx = Context(source, seed, device, stream)
    events.write(
        stream,
        events.STARTED,
        day=request.get("day", ""),
        checks=[{"name": c.name, "task": c.task} for c in checks],
        device=str(device),
        device_name=determinism.describe_device(device),
        seed=seed,
        torch=torch.__version__,
    )
    passed = failed = 0
    load_error: str | None = None
    stop_on_failure = bool(request.get("stop_on_failure"))  # verify's mutants need only the first failure
    for index, chk in enumerate(checks):
        ctx.current = chk.name
        if load_error is not None or (stop_on_failure and failed):
            reason = ("your exercise could not be loaded (see above)" if load_error is not None
                      else "an earlier check failed (verify stops at the first failure)")
            events.write(stream, events.CHECK, name=chk.name, task=chk.task, status=events.CHECK_SKIPPED,
                         message=f"skipped: {reason}", seconds=0.0)
            failed += 1
            continue
        determinism.seed_everything(seed)
        ctx.reseed(index)
        events.write(stream, events.CHECK_STARTED, name=chk.name, index=index)
        t0 = time.perf_counter()
        status, message = events.CHECK_PASSED, ""
        try:
            chk.fn(ctx)
        except CheckFailed as exc:
            status, message = events.CHECK_FAILED, str(exc)
        except LearnerLoadError as exc:
            status, message = events.CHECK_FAILED, f"could not load your exercise: {exc}"
            load_error = message
        except NotImplementedError as exc:
            if learner_frames(exc.__traceback__, source):
                status, message = events.CHECK_NOT_IMPLEMENTED, f"not implemented yet: {not_implemented_location(exc, source)}"
            else:
                status, message = events.CHECK_FAILED, describe_exception(exc, source)
        except BaseException as exc:  # SystemExit and KeyboardInterrupt too: only learner code raises them here
            status, message = events.CHECK_FAILED, describe_exception(exc, source)
            if import_failure(exc, source):
                message = "could not load your exercise: " + message
                load_error = message
            if max_memory and out_of_memory(exc):
                message += f"\n(this check runs with --max-memory {float(max_memory):g} MiB)"
        seconds = time.perf_counter() - t0
        if status == events.CHECK_PASSED:
            passed += 1
        else:
            failed += 1
        events.write(stream, events.CHECK, name=chk.name, task=chk.task, status=status, message=message,
                     seconds=round(seconds, 4))
    gpu_peak = 0.0
    if device.type == "cuda":
        try:
            gpu_peak = torch.cuda.max_memory_allocated(device) / 2**20
        except Exception:
            pass
    events.write(stream, events.DONE, passed=passed, failed=failed, peak_mib=round(peak_mib(), 1),
                 gpu_peak_mib=round(gpu_peak, 1))


def main() -> None:
    device_spec = sys.argv[1] if len(sys.argv) > 1 else "auto"  # not secret: the runner's device choice
    warm = "--warm" in sys.argv[2:]  # started ahead of time (tutor.warm.WarmPool): time to preload
    failure = ""
    try:
        prepared = prepare(device_spec, warm)  # a warm child is started ahead of time and waits here, ready
    except Exception:  # torch missing or broken: said after the request, on the events pipe
        prepared, failure = (None, ""), traceback.format_exc()
    serve(prepared, device_spec, failure)


def serve(prepared: tuple[Any, str], device_spec: str, failure: str = "") -> None:
    """Read the request, run its checks, leave. A spawned child comes here from main(); a child
    forked by the fork server (tutor.checking.zygote) comes here straight after the fork."""
    request = read_request()
    stream = events.TokenStream(
        os.fdopen(hide_descriptor(int(request.pop("events_fd"))), "w", buffering=1, encoding="utf-8"),
        str(request.pop("token")),
    )
    try:
        if failure:
            events.write(stream, events.ERROR, message="the check process could not start:\n" + failure)
        else:
            run_checks(request, stream, prepared, device_spec)
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

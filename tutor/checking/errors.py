"""Failures that teach: check failures, 'not implemented yet', trimmed learner tracebacks."""

from __future__ import annotations

import difflib
import os
import traceback
from pathlib import Path
from types import ModuleType, TracebackType


class CheckFailed(AssertionError):
    """Raised by a check (or an expectation) with a message for the learner."""


class LearnerLoadError(Exception):
    """The learner's module could not be imported (missing file, syntax error...)."""


def fail(message: str) -> None:
    """Fail the current check with `message`."""
    raise CheckFailed(message)


def _in_dir(filename: str, directory: Path) -> bool:
    try:
        return Path(os.path.abspath(filename)).is_relative_to(directory)
    except (ValueError, OSError):
        return False


def learner_frames(tb: TracebackType | None, source: Path) -> list[traceback.FrameSummary]:
    """The frames of a traceback that lie in the learner's source folder."""
    frames = traceback.extract_tb(tb)
    return [f for f in frames if _in_dir(f.filename, source)]


def not_implemented_location(exc: BaseException, source: Path) -> str:
    """'name (file:line)' for the learner function that raised NotImplementedError."""
    frames = learner_frames(exc.__traceback__, source)
    if not frames:
        frames = traceback.extract_tb(exc.__traceback__)[-1:]
    if not frames:
        return "unknown place"
    frame = frames[-1]
    return f"{frame.name} ({Path(frame.filename).name}:{frame.lineno})"


def trimmed_traceback(exc: BaseException, source: Path) -> str:
    """The traceback cut down to the learner's own frames, then the error line."""
    frames = learner_frames(exc.__traceback__, source)
    lines = []
    if frames:
        lines.append("Traceback (your code, most recent call last):")
        for frame in frames:
            lines.append(f'  File "{Path(frame.filename).name}", line {frame.lineno}, in {frame.name}')
            if frame.line:
                lines.append(f"    {frame.line.strip()}")
    lines.extend(line.rstrip("\n") for line in traceback.format_exception_only(type(exc), exc))
    return "\n".join(lines)


def import_failure(exc: BaseException, source: Path) -> bool:
    """Whether `exc` came from the learner's module-level code, i.e. while Python imported it."""
    return any(frame.name == "<module>" for frame in learner_frames(exc.__traceback__, source))


def out_of_memory(exc: BaseException) -> bool:
    """A failed allocation: MemoryError, or torch's 'can't allocate memory' / CUDA out of memory."""
    text = str(exc).lower()
    return isinstance(exc, MemoryError) or "can't allocate memory" in text or "out of memory" in text


def missing_name(exc: BaseException, source: Path) -> str:
    """'your exercise has no function `f` (file.py); did you rename it?' for a check's
    `module.f` on a learner module that lacks `f`; '' for any other exception."""
    module = getattr(exc, "obj", None)
    name = getattr(exc, "name", None)
    if not isinstance(exc, AttributeError) or not isinstance(module, ModuleType) or not name:
        return ""
    filename = getattr(module, "__file__", None) or ""
    if not _in_dir(filename, source):
        return ""
    kind = "class" if name[:1].isupper() else "function"
    text = f"your exercise has no {kind} `{name}` ({Path(filename).name}); did you rename it?"
    names = [n for n in vars(module) if not n.startswith("_") and callable(getattr(module, n, None))]
    close = difflib.get_close_matches(name, names, n=1, cutoff=0.6)
    if close:
        text += f" It has `{close[0]}`."
    return text


def describe_exception(exc: BaseException, source: Path) -> str:
    """A learner-facing message for an unexpected exception raised during a check."""
    if isinstance(exc, SystemExit):
        where = learner_frames(exc.__traceback__, source)
        at = f" at {Path(where[-1].filename).name}:{where[-1].lineno}" if where else ""
        return (
            f"your code called sys.exit({exc.code!r}){at}; the check cannot go on past that. "
            "Remove the exit call: return a value instead."
        )
    frames = learner_frames(exc.__traceback__, source)
    if frames and frames[0].name == "<module>":
        return (f"{Path(frames[0].filename).name} raised an error while Python imported it (in code outside "
                "any function):\n" + trimmed_traceback(exc, source))
    if frames:
        return "your code raised an error:\n" + trimmed_traceback(exc, source)
    missing = missing_name(exc, source)
    if missing:
        return missing
    text = "".join(traceback.format_exception_only(type(exc), exc)).strip()
    return (
        "the check could not use what your code returned "
        f"({text}). Compare the return value with the docstring: type, shape, dtype."
    )

"""Reading course YAML with line numbers, and typed field access that names file, field and line.

Mappings are loaded as `Mapping` (a dict that remembers the line of each key), so a missing
or mistyped field is reported as `lessons/batch-norm.yaml:12: field 'title' must be str`.
"""

from __future__ import annotations

import hashlib
import os
import pickle
from pathlib import Path
from typing import Any

import yaml

# The C loader is about 10x faster (it matters for the TUI's first paint); both are "safe".
_Base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class CourseError(Exception):
    """Invalid course data; the message names the file, the field and the line."""


class Mapping(dict):
    """A YAML mapping that knows its own line and the line of each key (1-based)."""

    line: int = 0
    key_lines: dict[Any, int]


class _LineLoader(_Base):  # type: ignore[misc, valid-type]
    pass


def _construct_mapping(loader: Any, node: yaml.MappingNode) -> Mapping:
    loader.flatten_mapping(node)
    result = Mapping()
    result.line = node.start_mark.line + 1
    result.key_lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        result[key] = loader.construct_object(value_node, deep=True)
        result.key_lines[key] = key_node.start_mark.line + 1
    return result


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _opening_quote_line(text: str, error_line: int) -> int | None:
    """For an unclosed quote, the line where the quoted scalar began (the parser notices later)."""
    lines = text.splitlines()
    for i in range(min(error_line, len(lines)) - 1, -1, -1):
        stripped = lines[i].split(":", 1)[-1].strip()
        if stripped.count('"') % 2 == 1 or stripped.count("'") % 2 == 1:
            return i + 1
    return None


CACHE_VERSION = 1  # bump when Mapping or the loader changes: old cache entries are then never read


def _cache_file(text: str) -> Path | None:
    """Where the parse of `text` is cached (keyed by its content), or None when caching is off."""
    if os.environ.get("DLTUTOR_NO_YAML_CACHE"):
        return None
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    key = hashlib.blake2b(f"{CACHE_VERSION}:{yaml.__version__}:{text}".encode(), digest_size=16).hexdigest()
    return Path(base) / "dltutor" / "yaml" / f"{key}.pickle"


def _from_cache(cache: Path | None) -> tuple[bool, Any]:
    if cache is None:
        return False, None
    try:
        with open(cache, "rb") as f:
            return True, pickle.load(f)  # noqa: S301 (the learner's own cache, written below)
    except Exception:  # absent, unreadable or damaged: parse instead
        return False, None


def _to_cache(cache: Path | None, data: Any) -> None:
    if cache is None:
        return
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        part = cache.with_suffix(f".{os.getpid()}.part")
        part.write_bytes(pickle.dumps(data, protocol=pickle.HIGHEST_PROTOCOL))
        os.replace(part, cache)  # whole or absent: another process may read it at the same time
    except Exception:  # a read-only home, a full disk: the cache is only a speed-up
        pass


def read_yaml(path: Path, label: str | None = None) -> Any:
    """Parse a YAML file; CourseError('<label>:<line>: ...') when it cannot be read or parsed.

    Parses are cached under ~/.cache/dltutor/yaml, keyed by the file's content (a course of 50
    lessons parses in ~0.3 s, which every command and the TUI's first paint would pay)."""
    where = label or path.name
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CourseError(f"{where}: cannot read: {exc.strerror}") from None
    cache = _cache_file(text)
    found, data = _from_cache(cache)
    if found:
        return data
    try:
        data = yaml.load(text, Loader=_LineLoader)  # noqa: S506 (a safe loader)
        _to_cache(cache, data)
        return data
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        if mark is None:
            raise CourseError(f"{where}: invalid YAML: {problem}") from None
        line = mark.line + 1
        context = getattr(exc, "context_mark", None)
        start = context.line + 1 if context is not None else None
        if "quoted scalar" in str(getattr(exc, "context", "")) or start is None:
            start = _opening_quote_line(text, line) if "quoted" in str(exc) else start
        if start is not None and start != line:
            raise CourseError(f"{where}:{start}: invalid YAML: {problem} (noticed at line {line})") from None
        raise CourseError(f"{where}:{line}: invalid YAML: {problem}") from None


class Fields:
    """Typed reads from a mapping; errors name the file, the field and its line."""

    def __init__(self, data: Any, where: str, prefix: str = "", line: int = 0):
        if not isinstance(data, dict):
            at = f":{line}" if line else ""
            raise CourseError(f"{where}{at}: {prefix.rstrip('.') or 'the file'} must be a mapping, "
                              f"got {type(data).__name__}")
        self.data, self.where, self.prefix = data, where, prefix
        self.line = getattr(data, "line", 0) or line

    def at(self, key: str | None = None) -> str:
        """'file:line' for a key (its own line when present, else the mapping's)."""
        lines = getattr(self.data, "key_lines", {})
        line = lines.get(key, self.line) if key is not None else self.line
        return f"{self.where}:{line}" if line else self.where

    def fail(self, key: str | None, message: str) -> CourseError:
        return CourseError(f"{self.at(key)}: {message}")

    def name(self, key: str) -> str:
        return f"{self.prefix}{key}"

    def get(self, key: str, kind: type | tuple[type, ...], default: Any = ...) -> Any:
        if key not in self.data or self.data[key] is None:
            if default is ...:
                return self._missing(key)
            return default
        value = self.data[key]
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
            want = kind.__name__ if isinstance(kind, type) else "/".join(k.__name__ for k in kind)
            raise self.fail(key, f"field '{self.name(key)}' must be {want}, got {type(value).__name__}")
        return value

    def _missing(self, key: str) -> Any:
        raise self.fail(None, f"missing field '{self.name(key)}'")

    def text(self, key: str, default: Any = ...) -> str:
        value = self.get(key, str, default)
        if default is ... and not value.strip():
            raise self.fail(key, f"field '{self.name(key)}' is empty")
        return value

    def strings(self, key: str, default: Any = ...) -> tuple[str, ...]:
        items = self.get(key, list, default)
        for i, item in enumerate(items):
            if not isinstance(item, str):
                raise self.fail(key, f"field '{self.name(key)}[{i}]' must be a string")
        return tuple(items)

    def items(self, key: str, default: Any = ...) -> list[tuple[int, Any]]:
        """(index, element) of a list field."""
        return list(enumerate(self.get(key, list, default)))

    def sub(self, value: Any, prefix: str) -> "Fields":
        return Fields(value, self.where, f"{self.prefix}{prefix}", self.line)

    def unknown(self, allowed: set[str]) -> None:
        extra = sorted((k for k in self.data if k not in allowed), key=str)
        if extra:
            raise self.fail(extra[0], f"unknown field(s) {', '.join(repr(self.name(str(e))) for e in extra)}")

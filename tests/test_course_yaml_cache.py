"""The course's YAML parses are cached by content: a second load does not parse again, an edit
is seen at once, and a damaged or unwritable cache only costs the speed-up."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tutor import course_yaml
from tutor.course_yaml import CourseError, read_yaml


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("DLTUTOR_NO_YAML_CACHE", raising=False)
    return tmp_path / "cache" / "dltutor" / "yaml"


def count_parses(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls = []
    real = yaml.load

    def counting(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(course_yaml.yaml, "load", counting)
    return calls


def test_second_read_comes_from_the_cache_with_its_line_numbers(cache: Path, tmp_path: Path, monkeypatch):
    path = tmp_path / "x.yaml"
    path.write_text("title: Hello\nexercise:\n  files: [a.py]\n")
    calls = count_parses(monkeypatch)
    first, second = read_yaml(path), read_yaml(path)
    assert len(calls) == 1 and first == second == {"title": "Hello", "exercise": {"files": ["a.py"]}}
    assert second.key_lines == {"title": 1, "exercise": 2} and second["exercise"].line == 3
    path.write_text("title: Changed\n")
    assert read_yaml(path) == {"title": "Changed"} and len(calls) == 2  # keyed by content: an edit is seen


def test_a_damaged_cache_entry_is_parsed_again(cache: Path, tmp_path: Path, monkeypatch):
    path = tmp_path / "x.yaml"
    path.write_text("a: 1\n")
    read_yaml(path)
    (entry,) = cache.iterdir()
    entry.write_bytes(b"not a pickle")
    assert read_yaml(path) == {"a": 1}


def test_errors_are_not_cached_and_an_unwritable_cache_is_fine(tmp_path: Path, monkeypatch):
    blocker = tmp_path / "file-not-dir"
    blocker.write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))  # mkdir under a file fails
    path = tmp_path / "x.yaml"
    path.write_text("a: [1\n")
    with pytest.raises(CourseError, match="x.yaml:"):
        read_yaml(path)
    path.write_text("a: 1\n")
    assert read_yaml(path) == {"a": 1}

"""Named checks, declared in order by a check script with the @check decorator."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

CheckFn = Callable[[Any], None]


@dataclass(frozen=True)
class Check:
    """One named check: a function of the context that fails by raising."""

    name: str
    fn: CheckFn
    task: str | None = None


_REGISTRY: list[Check] = []


def check(name: str, task: str | None = None) -> Callable[[CheckFn], CheckFn]:
    """Register `fn(ctx)` as the next named check; `task` links it to a lesson task id."""

    def register(fn: CheckFn) -> CheckFn:
        if any(c.name == name for c in _REGISTRY):
            raise ValueError(f"two checks are named {name!r}")
        _REGISTRY.append(Check(name=name, fn=fn, task=task))
        return fn

    return register


def registered() -> list[Check]:
    """The checks registered so far, in declaration order."""
    return list(_REGISTRY)


def clear() -> None:
    """Forget all checks (tests load several scripts in one process)."""
    _REGISTRY.clear()

"""Make calling PyTorch's own implementation of what the learner must build a named failure.

    REASON = "the exercise is to write it from torch operations"
    with forbid(F.batch_norm, nn.BatchNorm1d, reason=REASON, caller="batch_norm()"):
        out = learner.batch_norm(x, ...)
    out = forbid(torch.sigmoid, "expit", reason=REASON).call(act.sigmoid, x)    # names sigmoid()
    forbid_subclass(learner.Adam, torch.optim.Adam, reason="subclass torch.optim.Optimizer instead")

fail with "your batch_norm() calls F.batch_norm (batchnorm.py:12): the exercise is to write it
from torch operations". Functions are caught by name through a TorchFunctionMode, whichever way
they are reached (F.softmax, torch.softmax, x.softmax(), x.relu_(), nn.Softmax); a module class
through a global forward pre-hook (its instances and subclasses), an optimizer class through a
global step pre-hook. Calls made inside PyTorch's own functions are not seen, so F.linear inside
nn.Linear never trips a ban on F.batch_norm. The failure is raised when the block ends, so a
learner's `except Exception` cannot swallow it.
"""

from __future__ import annotations

import copy
import inspect
import sys
from pathlib import Path
from typing import Any, Callable

import torch
from torch import nn
from torch.nn.modules.module import register_module_forward_pre_hook
from torch.optim.optimizer import register_optimizer_step_pre_hook
from torch.overrides import TorchFunctionMode

from tutor.checking.errors import CheckFailed

DEFAULT_REASON = "the exercise is to build it yourself from elementary torch operations"
ALIASES = {"expit": "sigmoid"}  # torch.special.expit is sigmoid under another name
_TORCH = str(Path(torch.__file__).resolve().parent)
_HERE = str(Path(__file__).resolve())
_LIBRARY = str(Path(__file__).resolve().parent)  # tutor/checking


def _key(name: str) -> str:
    """'relu_' -> 'relu', 'special_expit' -> 'sigmoid': one key for a function's variants."""
    name = name.removeprefix("special_")
    if name.endswith("_") and not name.endswith("__"):
        name = name[:-1]
    return ALIASES.get(name, name)


def display(obj: Any) -> str:
    """'F.batch_norm', 'torch.sigmoid', 'Tensor.softmax', 'nn.BatchNorm1d', 'torch.optim.Adam'."""
    name = getattr(obj, "__name__", str(obj))
    if isinstance(obj, type):
        for prefix, space in (("nn.", nn), ("torch.optim.", torch.optim)):
            if getattr(space, name, None) is obj:
                return prefix + name
        return f"{obj.__module__}.{obj.__qualname__}"
    module = getattr(obj, "__module__", None) or ""
    qual = getattr(obj, "__qualname__", name)
    if module == "torch.nn.functional":
        return f"F.{name}"
    if qual.startswith(("TensorBase.", "Tensor.")):
        return f"Tensor.{name}"
    if name.startswith("special_"):
        return f"torch.special.{name.removeprefix('special_')}"
    return f"torch.{name}" if module in ("torch", "") or module.startswith("torch._C") else f"{module}.{name}"


def _where() -> str:
    """'file.py:12' of the code that made the call: the innermost frame outside torch, or '' when
    that frame is this library's (it called the learner's module or optimizer itself)."""
    frame = sys._getframe(1)
    while frame is not None:
        raw = frame.f_code.co_filename
        filename = raw if raw.startswith("<") else str(Path(raw).resolve())
        if not filename.startswith((_TORCH, _HERE, "<")):
            return "" if filename.startswith(_LIBRARY) else f"{Path(filename).name}:{frame.f_lineno}"
        frame = frame.f_back
    return ""


class _Watch(TorchFunctionMode):
    def __init__(self, ban: "forbid"):
        super().__init__()
        self.ban = ban

    def __torch_function__(self, func, types, args=(), kwargs=None):
        if _key(getattr(func, "__name__", "")) in self.ban.names:
            self.ban.record(display(func))
        return func(*args, **(kwargs or {}))


class forbid:
    """A ban, as a context manager (or `.call(fn, ...)`), on PyTorch's implementations of a task."""

    def __init__(self, *targets: Any, reason: str = DEFAULT_REASON, caller: str | None = None):
        self.reason, self.caller = reason, caller
        self.names: set[str] = set()
        self.modules: list[type] = []
        self.optimizers: list[type] = []
        self.hits: list[str] = []
        for target in targets:
            if isinstance(target, str):
                self.names.add(_key(target))
            elif isinstance(target, type) and issubclass(target, nn.Module):
                self.modules.append(target)
            elif isinstance(target, type) and issubclass(target, torch.optim.Optimizer):
                self.optimizers.append(target)
            elif callable(target) and getattr(target, "__name__", None):
                self.names.add(_key(target.__name__))
            else:
                raise TypeError(f"forbid() takes torch functions, names, nn.Module or Optimizer classes, "
                                f"not {target!r}")

    def record(self, what: str) -> None:
        where = _where()
        entry = f"{what} ({where})" if where else what
        if entry not in self.hits:
            self.hits.append(entry)

    def _module_hook(self, module: nn.Module, args: Any) -> None:
        for cls in self.modules:
            if isinstance(module, cls):
                mine = type(module).__name__
                self.record(display(cls) if type(module) is cls else f"{mine} (a subclass of {display(cls)})")

    def _step_hook(self, optimizer: Any, args: Any, kwargs: Any) -> None:
        for cls in self.optimizers:
            if isinstance(optimizer, cls):
                mine = type(optimizer).__name__
                sub = f"{mine}.step ({mine} is a subclass of {display(cls)})"
                self.record(f"{display(cls)}.step" if type(optimizer) is cls else sub)

    def __enter__(self) -> "forbid":
        self.hits = []
        self._handles = [register_module_forward_pre_hook(self._module_hook)] if self.modules else []
        if self.optimizers:
            self._handles.append(register_optimizer_step_pre_hook(self._step_hook))
        self._mode = _Watch(self)
        self._mode.__enter__()
        return self

    def __exit__(self, kind, exc, tb) -> bool:
        self._mode.__exit__(kind, exc, tb)
        for handle in self._handles:
            handle.remove()
        if self.hits and (kind is None or issubclass(kind, Exception)):
            raise CheckFailed(self.message()) from exc
        return False

    def message(self) -> str:
        """'your batch_norm() calls F.batch_norm (bn.py:3): <reason>'."""
        return f"your {self.caller or 'code'} calls {', '.join(self.hits)}: {self.reason}"

    def for_caller(self, caller: str) -> "forbid":
        """A copy of this ban that names `caller` unless it names one already."""
        ban = copy.copy(self)
        ban.caller = self.caller or caller
        return ban

    def call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """fn(*args, **kwargs) under the ban; the message names fn (e.g. 'your sigmoid()')."""
        with self.for_caller(f"{getattr(fn, '__name__', 'function')}()"):
            return fn(*args, **kwargs)


def forbid_subclass(obj_or_cls: Any, *classes: type, reason: str = DEFAULT_REASON, name: str | None = None) -> None:
    """Fail when the learner's class (or object's class) subclasses one of `classes` or reuses its
    forward/step: "your Adam is a subclass of torch.optim.Adam: <reason>"."""
    cls = obj_or_cls if isinstance(obj_or_cls, type) else type(obj_or_cls)
    name = name or cls.__name__
    for banned in classes:
        if issubclass(cls, banned):
            raise CheckFailed(f"your {name} is a subclass of {display(banned)}: {reason}")
        for attr in ("forward", "step"):
            theirs = getattr(banned, attr, None)
            generic = getattr(nn.Module, attr, None) or getattr(torch.optim.Optimizer, attr, None)
            mine = getattr(cls, attr, None)
            if theirs is None or mine is None or inspect.unwrap(theirs) is inspect.unwrap(generic or _nothing):
                continue
            if inspect.unwrap(mine) is inspect.unwrap(theirs):
                raise CheckFailed(f"your {name}.{attr} is {display(banned)}.{attr}: {reason}")


def _nothing() -> None:
    """A placeholder no method unwraps to."""

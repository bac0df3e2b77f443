"""The library's rule that failure messages carry numbers, as helpers a test can hold it with.

    message = failure_of(expect_close, torch.ones(3), torch.zeros(3), "out")
    assert carries_numbers(message)          # yours and expected: at least two numbers

A number is a token such as 0.5417, -3, 1e-06, 25%, nan or inf that is not part of a name
(the 1 in "dW1" is not a number); None, True and False count too, as the values they are.
Every comparison helper (expect_close, expect_match, expect_gradient, expect_rate,
step_alongside ...) gives the learner's value and the expected one.
"""

from __future__ import annotations

import re
from typing import Any, Callable

from tutor.checking.errors import CheckFailed

NUMBER = re.compile(
    r"(?<![\w.])[-+−]?(?:\d+(?:\.\d+)?|\.\d+)(?:[eE][-+]?\d+)?%?(?![\w])"  # 0.5417, -1e-06, 25%
    r"|(?<![\w])(?:nan|inf|None|True|False)(?![\w])"
)


def numbers_in(message: str) -> list[str]:
    """The numbers a message mentions, in order."""
    return NUMBER.findall(message)


def carries_numbers(message: str, at_least: int = 2) -> bool:
    """Whether `message` mentions at least `at_least` numbers (the learner's value and the expected one)."""
    return len(numbers_in(message)) >= at_least


def failure_of(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> str | None:
    """The CheckFailed message of fn(*args, **kwargs), or None when it passes."""
    try:
        fn(*args, **kwargs)
    except CheckFailed as exc:
        return str(exc)
    return None

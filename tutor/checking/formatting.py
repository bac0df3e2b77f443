"""Numbers in failure messages: always enough digits to show that two numbers differ.

    >>> distinct(0.5416666865, 0.5416666667)
    ('0.54166669', '0.54166667')
    >>> number(0.5)
    '0.5'

A message must never read "is 0.5417; expected 0.5417": `distinct` prints more significant
digits, up to a float's full precision, until the two strings differ.
"""

from __future__ import annotations

import math
from typing import Any

MAX_DIGITS = 17  # enough for any float64 to round-trip


def _scalar(x: Any) -> Any:
    """A Python number from a NumPy or torch scalar (bools and ints stay exact)."""
    if hasattr(x, "item") and callable(x.item):
        try:
            return x.item()
        except (ValueError, RuntimeError):
            return x
    return x


def number(x: Any, digits: int = 4) -> str:
    """`x` with `digits` significant digits ('nan', 'inf' and ints as they are)."""
    x = _scalar(x)
    if isinstance(x, bool) or (isinstance(x, int) and abs(x) < 10**15):
        return str(x)
    try:
        return f"{float(x):.{digits}g}"
    except (TypeError, ValueError):
        return repr(x)


def distinct(a: Any, b: Any, digits: int = 4) -> tuple[str, str]:
    """`a` and `b` with at least `digits` significant digits, more until the strings differ."""
    a, b = _scalar(a), _scalar(b)
    try:
        fa, fb = float(a), float(b)
    except (TypeError, ValueError):
        return repr(a), repr(b)
    if fa == fb or (math.isnan(fa) and math.isnan(fb)):
        return number(a, digits), number(b, digits)
    for d in range(digits, MAX_DIGITS + 1):
        sa, sb = number(a, d), number(b, d)
        if sa != sb:
            return sa, sb
    return repr(fa), repr(fb)

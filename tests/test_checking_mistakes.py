"""expect_match names the first matching mistake and always gives the numbers; numbers that differ
are printed with enough digits to show it."""

from __future__ import annotations

from tutor.checking.messages import failure_of

import numpy as np
import pytest
import torch

from tutor.checking import (
    CheckFailed,
    default_tolerance,
    describe_difference,
    distinct,
    expect_close,
    expect_match,
    expect_metric,
    is_close,
    which_mistake,
)

X = torch.tensor([1.0, 2.0, 3.0, 4.0], dtype=torch.float64)
VAR_MISTAKES = {
    "it divides by n - 1 (the unbiased variance)": lambda: X.var(correction=1),
    "it forgot to subtract the mean": lambda: (X**2).mean(),
}


def message(fn, *args, **kwargs) -> str:
    with pytest.raises(CheckFailed) as info:
        fn(*args, **kwargs)
    return str(info.value)


def test_distinct_prints_digits_until_the_numbers_differ():
    assert distinct(0.5416666865, 0.5416666667) == ("0.54166669", "0.54166667")
    assert distinct(0.5, 0.25) == ("0.5", "0.25")
    assert distinct(3, 4) == ("3", "4")
    assert distinct(1.0, 1.0 + 2**-52) == ("1", "1.0000000000000002")
    a, b = distinct(np.float32(0.1), 0.1)
    assert a != b


def test_a_match_passes_for_tensors_numbers_and_structures():
    assert failure_of(expect_match, "var(x)", X.var(correction=0), X.var(correction=0), VAR_MISTAKES) is None
    assert failure_of(expect_match, "frac", 13 / 24 + 2e-8, 13 / 24) is None  # a float32 fraction passes
    assert failure_of(expect_match, "pair", (X, 3), (X.clone(), 3)) is None
    assert failure_of(expect_match, "state", {"b": X, "a": 1.0}, {"a": 1.0, "b": X}) is None
    assert failure_of(expect_match, "half", X.to(torch.bfloat16), X) is None


def test_the_first_matching_mistake_is_named_with_the_numbers():
    msg = message(expect_match, "var(x)", X.var(correction=1), X.var(correction=0), VAR_MISTAKES)
    assert msg.startswith("var(x) is off: it divides by n - 1 (the unbiased variance). ")
    assert "yours 1.667, expected 1.25 (difference 0.417)" in msg.lower()


def test_candidates_are_lazy_and_one_that_raises_is_skipped():
    calls = []
    table = [("broken", lambda: 1 / 0), ("sum", lambda: calls.append(1) or X.sum()), ("never", lambda: calls.append(2))]
    expect_match("total", X.mean(), X.mean(), table)
    assert calls == []
    msg = message(expect_match, "total", X.sum(), X.mean(), table)
    assert "total is off: sum." in msg and "yours 10, expected 2.5" in msg.lower()
    assert calls == [1]


def test_a_mistake_equal_to_the_right_answer_is_not_named():
    assert which_mistake(X * 2, {"same as right": X, "double": X * 2}, expected=X) == "double"
    assert which_mistake(X * 3, {"same as right": X * 3}, expected=X * 3) is None


def test_without_a_match_the_message_gives_max_difference_index_and_tolerance():
    got = X.clone()
    got[2] = 3.5
    msg = message(expect_match, "y", got, X, VAR_MISTAKES, hint="Check the loop bounds.")
    assert "y differs from the reference: max abs difference 0.5 at index (2,) (yours 3.5, expected 3)" in msg
    assert "1 of 4 entries are off" in msg and "tolerance 1e-09" in msg and msg.endswith("Check the loop bounds.")


def test_equal_looking_numbers_get_more_digits():
    msg = message(expect_match, "fraction", 0.5416666865, 0.5416666667, atol=1e-12, rtol=0)
    assert "yours 0.54166669, expected 0.54166667" in msg


def test_shape_type_and_structure_mismatches():
    assert "yours shape (3,) [1, 2, 3], expected shape (4,) [1, 2, 3, 4]" in message(expect_match, "y", X[:3], X)
    assert "yours is None, expected 0.5" in message(expect_match, "f()", None, 0.5)
    assert "yours is a str ('abc')" in message(expect_match, "f()", "abc", 0.5)
    assert "y[1] differs from the reference: yours 3, expected 4" in message(expect_match, "y", (X, 3), (X, 4))
    assert "yours has 1 element(s), expected 2" in message(expect_match, "y", (X,), (X, X))
    # a mistake of another shape (the sum where one loss per element was asked) is still named
    msg = message(expect_match, "loss", X.sum(), X, {"that is the sum; 'none' is unreduced": lambda: X.sum()})
    assert "that is the sum" in msg and "Yours 10, expected shape (4,)" in msg


def test_nan_is_reported_where_it_appears():
    msg = message(expect_match, "p", torch.tensor([1.0, float("nan")]), torch.tensor([1.0, 2.0]))
    assert "at index (1,) (yours nan, expected 2)" in msg
    assert is_close(torch.tensor([float("nan")]), torch.tensor([float("nan")]))


def test_default_tolerance_follows_the_least_precise_dtype():
    assert default_tolerance(X) == (1e-9, 1e-7)
    assert default_tolerance(X, X.float()) == (1e-6, 1e-5)
    assert default_tolerance(0.5, X) == (1e-6, 1e-5)
    assert default_tolerance(X.half()) == (1e-2, 1e-2)
    assert not is_close(X, X + 1e-5) and is_close(X.float(), X + 1e-5)


def test_describe_difference_for_scalars_arrays_and_dicts():
    assert describe_difference(0.5, 0.25) == "yours 0.5, expected 0.25 (difference 0.25)"
    text = describe_difference({"a": X, "b": X + 1}, {"a": X, "b": X})
    assert text.startswith("['b']: max abs difference 1 at index (0,)")


def test_expect_close_and_expect_metric_show_distinct_numbers():
    msg = message(expect_close, torch.tensor([0.5416666865]), torch.tensor([0.5416666667], dtype=torch.float64),
                  "fraction", atol=1e-12, rtol=0)
    assert "yours 0.54166669, expected 0.54166667" in msg

    class Ctx:
        def metric(self, *args):
            pass

    msg = message(expect_metric, Ctx(), "accuracy", 0.89996, 0.9)
    assert "accuracy is 0.89996; it should be at least 0.9" in msg


def test_infinite_entries_are_counted_right():
    """-inf expected where yours is 0 counts as off; matching -inf entries do not."""
    from tutor.checking import describe_difference

    inf = float("-inf")
    expected = torch.tensor([[0.0, inf], [0.0, 0.0]])
    text = describe_difference(torch.zeros(2, 2), expected)
    assert "1 of 4 entries are off" in text and "at index (0, 1)" in text
    text = describe_difference(torch.tensor([[0.0, inf], [1.0, 0.0]]), expected)
    assert "1 of 4 entries are off" in text and "at index (1, 0)" in text

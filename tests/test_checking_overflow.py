"""first_overflow() names the first op whose finite inputs gave inf/nan, and nothing for a stable one."""

from __future__ import annotations

import torch

from tutor.checking import CheckFailed, first_overflow, forbid

X = torch.tensor([-1000.0, 0.0, 1000.0])


def test_the_textbook_sigmoid_overflows_in_exp_although_its_value_is_right():
    with first_overflow() as watch:
        out = 1 / (1 + torch.exp(-X))
    assert torch.equal(out, torch.tensor([0.0, 0.5, 1.0]))
    assert watch.op == "exp"


def test_a_stable_sigmoid_is_not_flagged():
    with first_overflow() as watch:
        z = torch.exp(-X.abs())
        torch.where(X >= 0, 1 / (1 + z), z / (1 + z))
    assert watch.op is None


def test_an_input_that_is_already_infinite_is_not_blamed():
    inf = torch.tensor([float("inf")])
    with first_overflow() as watch:
        inf * 2
    assert watch.op is None


def test_inside_a_ban_both_work_and_the_ban_names_the_line():
    try:
        with first_overflow() as watch, forbid(torch.sigmoid, caller="f()"):
            torch.exp(X)
            torch.sigmoid(X)
    except CheckFailed as exc:
        message = str(exc)
    else:
        message = None
    assert watch.op == "exp"
    assert message is not None and message.startswith("your f() calls torch.sigmoid (test_checking_overflow.py:")

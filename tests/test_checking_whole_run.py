"""optimizer_alongside(whole_run=True): a mistake is named only when its replay matches the learner's
whole run, so two mistakes that agree on step 1 are told apart by the steps after it."""

from __future__ import annotations

import torch

from tutor.checking import failure_of, optimizer_alongside

F64 = torch.float64
P0 = {"w": torch.tensor([1.0, -2.0, 0.5], dtype=F64)}
GRADS = [{"w": torch.tensor([0.3, -0.1, 0.2], dtype=F64) * (t + 1)} for t in range(5)]
LR, MU = 0.1, 0.9


class Nesterov:
    """SGD with momentum; `ignore` = 'nesterov' (plain momentum) or 'momentum' (plain gradient)."""

    def __init__(self, params, ignore=""):
        self.params, self.ignore, self.buf = list(params), ignore, None

    @torch.no_grad()
    def step(self):
        for p in self.params:
            g = p.grad
            self.buf = g.clone() if self.buf is None else MU * self.buf + g
            update = {"nesterov": self.buf, "momentum": g}.get(self.ignore, g + MU * self.buf)
            p.sub_(LR * update)


def replay(ignore):
    """The trajectory of Nesterov(ignore=...), as the function of the step a mistake table takes."""
    p = P0["w"].clone().requires_grad_(True)
    opt, out = Nesterov([p], ignore), []
    for g in GRADS:
        p.grad = g["w"].clone()
        opt.step()
        out.append({"w": p.detach().clone()})
    return lambda t: out[t]


MISTAKES = {"momentum is ignored": replay("momentum"), "nesterov=True is ignored": replay("nesterov")}


def run(ignore, whole_run):
    return failure_of(optimizer_alongside, lambda p: Nesterov(p.values(), ignore),
                      lambda p: torch.optim.SGD(p.values(), lr=LR, momentum=MU, nesterov=True),
                      P0, GRADS, name="SGD", mistakes=MISTAKES, whole_run=whole_run)


def test_step_one_alone_names_the_first_mistake_that_agrees_there():
    message = run("nesterov", whole_run=False)
    assert message is not None and "after step 1 of 5 is off: momentum is ignored." in message


def test_the_whole_run_tells_the_two_apart():
    assert "after step 1 of 5 is off: nesterov=True is ignored." in run("nesterov", whole_run=True)
    assert "after step 1 of 5 is off: momentum is ignored." in run("momentum", whole_run=True)


def test_a_right_optimizer_still_passes():
    assert run("", whole_run=True) is None

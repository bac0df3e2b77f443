"""A learner's optimizer stepped beside its `torch.optim` twin, on identical gradients.

    optimizer_alongside(lambda p: mine.Adam(p.values(), lr=0.1),
                        lambda p: torch.optim.Adam(p.values(), lr=0.1),
                        params={"w": w0, "b": b0}, grads=[{"w": gw, "b": gb} for gw, gb in gs],
                        mistakes={"no bias correction": lambda t: simulate(no_bias_correction=True)[t]})

fails at the first step and parameter that differ: "Adam: parameter 'w' after step 3 of 50
(steps 1-2 matched torch.optim.Adam) is off: no bias correction. Max abs difference ..."; with
no matching mistake: "... differs from torch.optim.Adam: max abs difference ...". A gradient
of None leaves that parameter without .grad for the step. With whole_run=True a mistake is named
only when its replay also matches the learner's later steps (the learner's optimizer runs on to
the last step first): two mistakes that agree on step 1 (momentum ignored, Nesterov ignored) are
told apart by the steps after it.
"""

from __future__ import annotations

import contextlib
from typing import Any, Callable, Mapping

import torch

from tutor.checking.mistakes import expect_match, is_close, mistake_items


def optimizer_alongside(make_learner: Callable[[dict], Any], make_reference: Callable[[dict], Any],
                        params: Mapping[str, torch.Tensor], grads: Any, *, steps: int | None = None,
                        name: str | None = None, mistakes: Any = None, atol: float | None = None,
                        rtol: float | None = None, hint: str = "", forbid: Any = None,
                        whole_run: bool = False) -> list[dict[str, torch.Tensor]]:
    """Step the learner's optimizer and its twin on identical gradients; fail at the first difference.

    make_*: a function of {name: leaf tensor} returning the optimizer. grads: a list (per step) of
    {name: gradient or None}, or a function (step, tensors) -> that dict (then pass `steps`).
    mistakes: {why: function of the 0-based step t -> {name: the value after step t}}. forbid: a
    `forbid(...)` ban that the learner's step() runs under (the twin's does not).
    Returns the learner's parameters after every step.
    """
    mine = {k: v.detach().clone().requires_grad_(True) for k, v in params.items()}
    ref = {k: v.detach().clone().requires_grad_(True) for k, v in params.items()}
    opt_m, opt_r = make_learner(mine), make_reference(ref)
    name = name or type(opt_m).__name__
    ban = forbid.for_caller(f"{name}.step()") if forbid is not None else contextlib.nullcontext()
    ref_name = type(opt_r).__name__
    if type(opt_r).__module__.startswith("torch.optim"):
        ref_name = f"torch.optim.{ref_name}"
    n = len(grads) if steps is None else steps

    def set_grads(side: dict, t: int) -> None:
        g = grads(t, side) if callable(grads) else grads[t]
        for k, p in side.items():
            p.grad = None if g.get(k) is None else g[k].detach().clone().to(p.device, p.dtype)

    def snapshot() -> dict[str, torch.Tensor]:
        return {k: v.detach().clone() for k, v in mine.items()}

    def rest_of_run(t: int) -> list[dict[str, torch.Tensor]]:
        """The learner's parameters after steps t+1 .. n-1 (up to a step that raises)."""
        rest = []
        for s in range(t + 1, n):
            set_grads(mine, s)
            try:
                with ban:
                    opt_m.step()
            except Exception:  # a later crash only ends the comparison of trajectories
                break
            rest.append(snapshot())
        return rest

    history = []
    for t in range(n):
        for side in (mine, ref):
            set_grads(side, t)
        with ban:
            opt_m.step()
        opt_r.step()
        for k in params:
            a, e = mine[k].detach(), ref[k].detach()
            if is_close(a, e, atol, rtol):
                continue
            if whole_run:
                a, run = a.clone(), history + [snapshot()]
                run += rest_of_run(t)

                def fits(c: Callable[[int], dict], run: list = run) -> bool:
                    return len(run) == n and all(is_close(run[s], {j: c(s)[j] for j in run[s]}, atol, rtol)
                                                 for s in range(n))

                table = [(why, (lambda c=c, t=t, k=k: c(t)[k] if fits(c) else None))
                         for why, c in mistake_items(mistakes)]
            else:
                table = [(why, (lambda c=c, t=t, k=k: c(t)[k])) for why, c in mistake_items(mistakes)]
            matched = {0: "", 1: f" (step 1 matched {ref_name})"}.get(t, f" (steps 1-{t} matched {ref_name})")
            expect_match(f"{name}: parameter '{k}' after step {t + 1} of {n}{matched}",
                         a, e, mistakes=table, atol=atol, rtol=rtol, hint=hint, against=ref_name)
        history.append(snapshot())
    return history

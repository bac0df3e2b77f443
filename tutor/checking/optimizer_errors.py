"""A learner optimizer's step() with the two classic crashes turned into advice.

    opt = explained_step(mine.SGD(params, lr=0.1), "SGD")
    opt.step()

An in-place update of a leaf that requires grad, outside torch.no_grad(), fails with "SGD.step()
raised: a leaf Variable that requires grad is being used in an in-place operation. Updating a
parameter in place while autograd records it is not allowed: wrap the update in `with
torch.no_grad():` ..."; a step that reads the .grad of a parameter without one (None) fails with
"SGD.step() crashed (TypeError: ...) on a parameter whose .grad is None. Skip such parameters ...".
Other errors pass through unchanged.
"""

from __future__ import annotations

from typing import Any

from tutor.checking.errors import fail

NO_GRAD = ("Updating a parameter in place while autograd records it is not allowed: wrap the update in "
           "`with torch.no_grad():` (or decorate step() with @torch.no_grad())")
NONE_GRAD = ("Skip such parameters (`if p.grad is None: continue`), as torch.optim does: a frozen or unused "
             "parameter has no gradient")


def explained_step(opt: Any, label: str | None = None) -> Any:
    """`opt` with its step() wrapped (in place) so that the classic crashes fail with advice; returns `opt`."""
    label = label or type(opt).__name__
    step = opt.step

    def checked_step(*args: Any, **kwargs: Any) -> Any:
        try:
            return step(*args, **kwargs)
        except RuntimeError as exc:
            if "leaf Variable" in str(exc) or "in-place operation" in str(exc):
                fail(f"{label}.step() raised: {str(exc).splitlines()[0].rstrip('.')}. {NO_GRAD}")
            raise
        except (TypeError, AttributeError) as exc:
            if "None" in str(exc):
                fail(f"{label}.step() crashed ({type(exc).__name__}: {exc}) on a parameter whose .grad is None. "
                     f"{NONE_GRAD}")
            raise

    opt.step = checked_step
    return opt

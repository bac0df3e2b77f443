"""Final project: one task from the menu, graded on a hidden split within a time budget.

Set TASK, then write the four functions. The check (see the lesson) calls

    model = build_model(spec)           # spec: a dict, described below
    train(model, data, budget_s)        # stopped by the check when budget_s seconds are spent
    scores = predict(model, inputs)     # on a hidden test split: (n, num_classes) scores
    text = report()                     # your write-up, in Markdown

spec, for every task: "task", "seed" (seed everything from it), "num_classes", "budget_s",
"device" (a torch.device: put the model there). For "reviews" also "vocab" (the training words
seen at least twice, sorted) and "tokenize" (text -> list of words); for "digits" "input_shape"
(1, 28, 28); for "language" "vocab_size" (16) and "context" (8).

data: data.inputs (reviews: a list of str; digits: float32 images (n, 1, 28, 28) in [0, 1];
language: int64 windows (n, 8) of letters 0..15, the label being the letter after each),
data.labels (int64, (n,)), and for digits data.real (bool, (n,): True for the real shots among the
synthetic images). inputs for predict() are of the same kind as data.inputs.

Use only `data`: the check switches the data generators off while your code runs.
"""

from __future__ import annotations

import torch
from torch import nn

TASK = "reviews"  # or "digits", or "language"


def build_model(spec: dict) -> nn.Module:
    """A fresh, seeded model for spec["task"], on spec["device"]."""
    # TODO: torch.manual_seed(spec["seed"]) first, then build the model and move it to spec["device"].
    raise NotImplementedError("build_model")


def train(model: nn.Module, data, budget_s: float) -> None:
    """Train `model` in place on `data`; a fixed amount of work that ends well inside budget_s."""
    # TODO: a seeded shuffle, a fixed number of epochs, model.train().
    raise NotImplementedError("train")


def predict(model: nn.Module, inputs) -> torch.Tensor:
    """Scores (n, num_classes) for `inputs`, in eval mode and without gradients."""
    # TODO: model.eval(); with torch.no_grad(): ...
    raise NotImplementedError("predict")


def report() -> str:
    """The report in Markdown: ## Task, ## Model, ## Results, ## What I tried, ## Limitations.

    Keep it in REPORT.md beside this file and return
    Path(__file__).with_name("REPORT.md").read_text(), or return a string written here.
    """
    # TODO
    raise NotImplementedError("report")

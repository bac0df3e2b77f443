"""Hyperparameter search: grids, random configs, a budget, the best by validation (reference solution)."""

import itertools
import math
from typing import Any, Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


def grid_configs(grid: dict[str, list]) -> list[dict]:
    """Every combination of the grid's values: the full Cartesian product.

    grid: {"lr": [0.1, 0.01], "hidden": [16, 64]} gives 4 configs such as
    {"lr": 0.1, "hidden": 16}. Each config is its own dict with exactly the
    grid's keys; len(result) is the product of the list lengths; no duplicates.
    """
    keys = list(grid)
    return [dict(zip(keys, values)) for values in itertools.product(*(grid[k] for k in keys))]


def sample_config(space: dict[str, tuple], rng: np.random.Generator) -> dict:
    """One random config from `space`, drawing every value from `rng`.

    Each entry of space is one of:
      ("loguniform", low, high)  a float whose log is uniform: as likely in [1e-4, 1e-3] as in [1e-3, 1e-2]
      ("uniform", low, high)     a float uniform in [low, high]
      ("choice", options)        one element of the list options, each equally likely
    Return a dict with the same keys as space.
    """
    config = {}
    for name, spec in space.items():
        kind = spec[0]
        if kind == "loguniform":
            low, high = spec[1], spec[2]
            config[name] = float(math.exp(rng.uniform(math.log(low), math.log(high))))
        elif kind == "uniform":
            config[name] = float(rng.uniform(spec[1], spec[2]))
        elif kind == "choice":
            options = spec[1]
            config[name] = options[int(rng.integers(len(options)))]
        else:
            raise ValueError(f"unknown kind {kind!r} for {name}")
    return config


def random_configs(space: dict[str, tuple], n: int, seed: int) -> list[dict]:
    """n configs from sample_config, reproducible: the same seed gives the same list.

    Make one np.random.default_rng(seed) and draw all n configs from it.
    """
    rng = np.random.default_rng(seed)
    return [sample_config(space, rng) for _ in range(n)]


def run_search(configs: list[dict], evaluate: Callable[[dict], dict], budget: int) -> list[dict]:
    """Evaluate the configs in order, at most `budget` of them (one evaluate call each).

    evaluate(config) returns a dict of metrics, e.g. {"train_loss": .., "val_loss": ..}.
    Return one record per evaluated config: {"config": config, **metrics}.
    """
    results = []
    for config in configs[:budget]:
        metrics = evaluate(config)
        results.append({"config": config, **metrics})
    return results


def best_result(results: list[dict], metric: str = "val_loss", mode: str = "min") -> dict:
    """The record with the best value of `metric`: the smallest for mode "min", the largest for "max".

    Return the record itself (one of the dicts in results); do not reorder results.
    """
    if mode not in ("min", "max"):
        raise ValueError(f"mode must be 'min' or 'max', not {mode!r}")
    pick = min if mode == "min" else max
    return pick(results, key=lambda record: record[metric])


def train_and_evaluate(config: dict[str, Any], data: dict[str, torch.Tensor], steps: int = 100) -> dict:
    """Train a one-hidden-layer MLP with `config` and measure it.

    data: "X_train" (n, features) float32, "y_train" (n,) int64, "X_val", "y_val",
    all on the same device. config: "lr" (Adam's learning rate), "hidden" (units).
    Model: Linear(features, hidden) → ReLU → Linear(hidden, classes), classes =
    y_train.max() + 1, on the data's device. Train `steps` full-batch Adam steps
    on the cross-entropy. Return Python floats/ints:
      {"train_loss": final cross-entropy on the training set,
       "val_loss": cross-entropy on the validation set,
       "val_acc": accuracy on the validation set (0..1),
       "params": number of trainable parameters}
    """
    X, y = data["X_train"], data["y_train"]
    classes = int(y.max()) + 1
    model = nn.Sequential(nn.Linear(X.shape[1], config["hidden"]), nn.ReLU(), nn.Linear(config["hidden"], classes))
    model = model.to(X.device)
    opt = torch.optim.Adam(model.parameters(), lr=config["lr"])
    for _ in range(steps):
        opt.zero_grad()
        loss = F.cross_entropy(model(X), y)
        loss.backward()
        opt.step()
    with torch.no_grad():
        train_loss = F.cross_entropy(model(X), y).item()
        logits = model(data["X_val"])
        val_loss = F.cross_entropy(logits, data["y_val"]).item()
        val_acc = (logits.argmax(1) == data["y_val"]).float().mean().item()
    params = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return {"train_loss": train_loss, "val_loss": val_loss, "val_acc": val_acc, "params": params}

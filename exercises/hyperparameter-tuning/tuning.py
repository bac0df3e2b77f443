"""Hyperparameter search: grids, random configs, a budget, the best by validation.

A config is a plain dict such as {"lr": 0.01, "hidden": 64}. You will build
configs from a grid and at random, run a search within a budget, record the
results, and pick the winner by its validation metric. The last function is
the training job that a real search would call.

Run `dltutor check hyperparameter-tuning` after each function; the check says what is still off.
"""

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
    # TODO: itertools.product over the value lists, zip each tuple back with the keys
    raise NotImplementedError


def sample_config(space: dict[str, tuple], rng: np.random.Generator) -> dict:
    """One random config from `space`, drawing every value from `rng`.

    Each entry of space is one of:
      ("loguniform", low, high)  a float whose log is uniform: as likely in [1e-4, 1e-3] as in [1e-3, 1e-2]
      ("uniform", low, high)     a float uniform in [low, high]
      ("choice", options)        one element of the list options, each equally likely
    Return a dict with the same keys as space.
    """
    # TODO: for each key, look at spec[0]; log-uniform means uniform in log(low)..log(high), then exp
    raise NotImplementedError


def random_configs(space: dict[str, tuple], n: int, seed: int) -> list[dict]:
    """n configs from sample_config, reproducible: the same seed gives the same list.

    Make one np.random.default_rng(seed) and draw all n configs from it.
    """
    # TODO: one generator, n calls to sample_config
    raise NotImplementedError


def run_search(configs: list[dict], evaluate: Callable[[dict], dict], budget: int) -> list[dict]:
    """Evaluate the configs in order, at most `budget` of them (one evaluate call each).

    evaluate(config) returns a dict of metrics, e.g. {"train_loss": .., "val_loss": ..}.
    Return one record per evaluated config: {"config": config, **metrics}.
    """
    # TODO: stop after `budget` evaluations; merge the metrics into each record
    raise NotImplementedError


def best_result(results: list[dict], metric: str = "val_loss", mode: str = "min") -> dict:
    """The record with the best value of `metric`: the smallest for mode "min", the largest for "max".

    Return the record itself (one of the dicts in results); do not reorder results.
    """
    # TODO: min or max over results, keyed by record[metric]
    raise NotImplementedError


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
    # TODO: build the model on the data's device, Adam with config["lr"], `steps` full-batch steps, then measure
    raise NotImplementedError

"""Does the sweep's budget rank configurations as full training would? Train them at both and compare.

The fidelity benchmarks (``benchmarks/sweep_fidelity.py``, ``benchmarks/sweep_efficiency.py``)
train each configuration with :func:`fashiongan.training.train_gan` (in memory, no files) at a
:class:`Budget`, score every generator with the sweep's objective on several latent seeds, and
hand the score tables to :mod:`fashiongan.search.stats`.

A configuration is a ``{"dropout": d, "first_layer_width": w}`` cell, as the grid backend's.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from fashiongan.config import Params
from fashiongan.metrics.evaluator import FashionEvaluator
from fashiongan.search.gan_objective import training_subset
from fashiongan.search.objective import _releasing_graphs
from fashiongan.search.space import trial_params
from fashiongan.search.stats import noise_floor, rank_agreement, regret
from fashiongan.training import train_gan

Cell = dict[str, Any]


@dataclass(frozen=True)
class Budget:
    """How long a configuration trains: epochs on the first ``max_images`` images (None = all)."""

    name: str
    epochs: int
    max_images: int | None

    @classmethod
    def sweep(cls, params: Params) -> Budget:
        """The sweep's per-trial budget: ``search.epochs`` on ``search.max_images``."""
        return cls("sweep", params.search.epochs, params.search.max_images)

    @classmethod
    def final(cls, params: Params) -> Budget:
        """The final training run's budget: ``train.epochs`` on every training image."""
        return cls("final", params.train.epochs, None)


def budget_params(params: Params, cell: Cell, budget: Budget, train_seed: int) -> Params:
    """The full params of one training run: the cell's values, the budget, the training seed."""
    at_budget = params.model_copy(
        update={"search": params.search.model_copy(update={"epochs": budget.epochs, "max_images": budget.max_images})}
    )
    p = trial_params(at_budget, cell["dropout"], cell["first_layer_width"])
    return p.model_copy(update={"train": p.train.model_copy(update={"seed": int(train_seed)})})


def train_and_score(
    params: Params, x_train: np.ndarray, evaluator: FashionEvaluator, sampling_seeds: Sequence[int]
) -> list[float]:
    """Train once with ``params`` (in memory) and score the generator once per latent seed."""
    s = params.search
    x = training_subset(x_train, params.data.max_images, params.data.seed)
    generator = train_gan(params, x).generator
    return [float(evaluator.score_generator(generator, s.n_samples, seed, params.evaluate.batch_size)[s.metric])
            for seed in sampling_seeds]  # fmt: skip


def score_table(
    params: Params,
    x_train: np.ndarray,
    evaluator: FashionEvaluator,
    cells: Sequence[Cell],
    budget: Budget,
    train_seeds: Sequence[int],
    sampling_seeds: Sequence[int],
    on_cell: Callable[[int, np.ndarray], None] | None = None,
) -> np.ndarray:
    """Scores ``[cell, training seed, sampling seed]`` of every cell trained at ``budget``.

    ``on_cell(i, scores)`` is called as each cell finishes (progress lines in the benchmarks).
    """
    table = np.empty((len(cells), len(train_seeds), len(sampling_seeds)))
    for i, cell in enumerate(cells):
        for j, seed in enumerate(train_seeds):
            with _releasing_graphs():  # one process trains every cell: keep its memory flat
                table[i, j] = train_and_score(budget_params(params, cell, budget, seed), x_train, evaluator, sampling_seeds)
        if on_cell:
            on_cell(i, table[i])
    return table


def fidelity(cells: Sequence[Cell], sweep_table: np.ndarray, final_table: np.ndarray) -> dict[str, Any]:
    """Both rankings (by mean score), their rank correlations with intervals, the regret and each cell's noise floor."""
    if len(cells) != len(sweep_table) or len(cells) != len(final_table):
        raise ValueError(f"{len(cells)} cells but score tables of {len(sweep_table)} and {len(final_table)} rows")
    sweep_mean = sweep_table.reshape(len(cells), -1).mean(axis=1)
    final_mean = final_table.reshape(len(cells), -1).mean(axis=1)
    corr = rank_agreement(sweep_mean, final_mean)
    return {
        "cells": list(cells),
        "sweep": sweep_mean.tolist(),
        "final": final_mean.tolist(),
        "sweep_rank": (np.argsort(np.argsort(sweep_mean)) + 1).tolist(),
        "final_rank": (np.argsort(np.argsort(final_mean)) + 1).tolist(),
        "correlation": {name: vars(c) for name, c in corr.items()},
        "regret": regret(sweep_mean, final_mean),
        "noise": {"sweep": [vars(noise_floor(t)) for t in sweep_table], "final": [vars(noise_floor(t)) for t in final_table]},
    }

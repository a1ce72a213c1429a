"""In-training scores: the callback that puts fid_fashion and its companions into each scored epoch's logs.

Training runs it before the detectors (:mod:`fashiongan.detectors`), so they and the callbacks
after them (MLflow, the sweep's pruning) see its scores in ``logs``.
"""

from __future__ import annotations

import math
from typing import Protocol

import keras

from fashiongan.detectors import LOSS_KEYS


class GeneratorScorer(Protocol):
    """What :class:`EpochEvaluator` needs: ``fashiongan.metrics.evaluator.FashionEvaluator``."""

    def score_generator(self, generator: keras.Model, n_samples: int, seed: int, batch_size: int) -> dict[str, float]: ...


class EpochEvaluator(keras.callbacks.Callback):
    """Score the generator every ``every`` epochs and put the scores into ``logs``."""

    def __init__(self, evaluator: GeneratorScorer, every: int, n_samples: int, seed: int, batch_size: int = 500):
        super().__init__()
        if every < 1:
            raise ValueError(f"every must be >= 1 (use no EpochEvaluator to disable scoring), got {every}")
        if n_samples < 2:
            raise ValueError(f"n_samples must be >= 2, got {n_samples}")
        self.evaluator = evaluator
        self.every = every
        self.n_samples = n_samples
        self.seed = seed
        self.batch_size = batch_size

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        """Add fid_fashion, kid_fashion, classes_covered, ... to ``logs`` on scoring epochs.

        An epoch with a NaN/inf loss is not scored: its generator draws NaN images, and the
        divergence detector (which runs next) is what should end the run, with the reason recorded.
        """
        if logs is None or (epoch + 1) % self.every:
            return
        if any(key in logs and not math.isfinite(float(logs[key])) for key in LOSS_KEYS):
            return
        scores = self.evaluator.score_generator(self.model.sampler, self.n_samples, self.seed, self.batch_size)
        logs.update({key: float(value) for key, value in scores.items()})

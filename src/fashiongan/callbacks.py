"""Keras callbacks that watch a GAN train: in-training FID and the three failure detectors.

A detector that fires sets ``model.stop_training = True`` and ``model.stop_reason`` to
``"<kind>: <detail>"`` with kind ``stalled``, ``diverged`` or ``collapsed``. The first reason
wins; :func:`fashiongan.training.train_gan` copies it into the epoch's history row and into
``TrainResult.stop_reason``. Run :class:`EpochEvaluator` before the detectors (``train_gan``
does) so the collapse detector and later callbacks (MLflow, pruning) see its scores in ``logs``.
"""

from __future__ import annotations

import math
from typing import Any, Protocol

import keras

LN2 = math.log(2.0)
LOSS_KEYS = ("d_loss", "g_loss")


class GeneratorScorer(Protocol):
    """What :class:`EpochEvaluator` needs: ``fashiongan.metrics.evaluator.FashionEvaluator``."""

    def score_generator(self, generator: keras.Model, n_samples: int, seed: int, batch_size: int) -> dict[str, float]: ...


def request_stop(model: Any, reason: str) -> None:
    """Stop ``fit`` after this step/epoch and keep the first reason given."""
    model.stop_training = True
    if getattr(model, "stop_reason", None) is None:
        model.stop_reason = reason


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


class StallDetector(keras.callbacks.Callback):
    """Both losses within ``tolerance`` of ln 2 for ``patience`` consecutive epochs.

    That is a discriminator answering 0.5 to everything: nothing is learned any more (the
    compact report's sigmoid ablation sat at 0.6931).
    """

    def __init__(self, patience: int, tolerance: float):
        super().__init__()
        if patience < 1 or tolerance <= 0:
            raise ValueError(f"need patience >= 1 and tolerance > 0, got patience={patience}, tolerance={tolerance}")
        self.patience = patience
        self.tolerance = tolerance
        self.streak = 0

    def on_train_begin(self, logs: dict | None = None) -> None:
        """A fresh streak per ``fit``."""
        self.streak = 0

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        """Count consecutive stalled epochs; stop at ``patience``."""
        logs = logs or {}
        losses = [logs.get(key) for key in LOSS_KEYS]
        stalled = all(v is not None and abs(v - LN2) <= self.tolerance for v in losses)
        self.streak = self.streak + 1 if stalled else 0
        if self.streak >= self.patience:
            request_stop(
                self.model,
                f"stalled: d_loss={losses[0]:.4f}, g_loss={losses[1]:.4f} within {self.tolerance} "
                f"of ln 2 for {self.streak} epochs",
            )


class DivergenceDetector(keras.callbacks.Callback):
    """A NaN/inf loss (checked after every batch) or |loss| above ``bound`` at an epoch's end."""

    # Batch checks run on Keras' callback thread, so they never stall the training loop;
    # setting ``stop_training`` from there stops ``fit`` a step or so later.
    async_safe = True

    def __init__(self, bound: float):
        super().__init__()
        if not bound > 0:
            raise ValueError(f"bound must be > 0, got {bound}")
        self.bound = bound

    def _check(self, logs: dict | None, where: str, with_bound: bool) -> None:
        for key in LOSS_KEYS:
            value = (logs or {}).get(key)
            if value is None:
                continue
            value = float(value)
            if not math.isfinite(value):
                request_stop(self.model, f"diverged: {key}={value} {where}")
                return
            if with_bound and abs(value) > self.bound:
                request_stop(self.model, f"diverged: |{key}|={abs(value):.4g} > {self.bound} {where}")
                return

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        """NaN/inf only: the per-batch values are running means, the bound is for epochs."""
        self._check(logs, f"at batch {batch + 1}", with_bound=False)

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        """NaN/inf or above the bound."""
        self._check(logs, f"in epoch {epoch + 1}", with_bound=True)


class CollapseDetector(keras.callbacks.Callback):
    """Fewer than ``min_classes`` classes covered by the samples (needs EpochEvaluator scores)."""

    def __init__(self, min_classes: int):
        super().__init__()
        if not 0 <= min_classes <= 10:
            raise ValueError(f"min_classes must be within 0..10 (0 = off), got {min_classes}")
        self.min_classes = min_classes

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        """Epochs without a ``classes_covered`` score are skipped."""
        covered = (logs or {}).get("classes_covered")
        if self.min_classes and covered is not None and covered < self.min_classes:
            request_stop(self.model, f"collapsed: {covered:g} classes covered < {self.min_classes} in epoch {epoch + 1}")


def detectors(patience: int, tolerance: float, bound: float, min_classes: int) -> list[keras.callbacks.Callback]:
    """The three detectors, configured from ``params.train``; the collapse one only when on."""
    found: list[keras.callbacks.Callback] = [StallDetector(patience, tolerance), DivergenceDetector(bound)]
    if min_classes:
        found.append(CollapseDetector(min_classes))
    return found

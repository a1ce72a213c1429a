"""The GAN objective of a sweep: train one configuration, score it on the fixed protocol.

Each trial trains with ``train.epochs = search.epochs`` on the first ``search.max_images`` images of
a seeded permutation of the training split (the same subset for every trial), reports
``search.metric`` every ``search.report_every`` epochs for pruning, and is scored at the end on
``search.n_samples`` generated images with latent seed ``evaluate.seed``.

Outcomes: a trial the pruner stops, or one a failure detector stops (stalled at ln 2, diverged,
collapsed), ends PRUNED with the reason, so Optuna keeps its last intermediate score and steers
away from that region; a trial whose final score is NaN or that crashes ends FAILED with the
reason (see :func:`fashiongan.search.objective.run_objective`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import keras
import numpy as np

from fashiongan.callbacks import EpochEvaluator
from fashiongan.config import Params
from fashiongan.data import load_split
from fashiongan.metrics.evaluator import FashionEvaluator
from fashiongan.models import load_generator
from fashiongan.paths import CLASSIFIER_PATH, GENERATOR_PATH, PROCESSED_DIR, REAL_STATS_PATH, sample_path
from fashiongan.search.types import TrialContext, TrialOutcome
from fashiongan.training import train_gan


class PruningCallback(keras.callbacks.Callback):
    """Hands the epoch's ``metric`` (put in ``logs`` by EpochEvaluator) to the sweep; stops if told to."""

    def __init__(self, report: Callable[[int, float], bool], metric: str, every: int) -> None:
        super().__init__()
        if every < 1:
            raise ValueError(f"every must be >= 1, got {every}")
        self.report = report
        self.metric = metric
        self.every = every
        self.pruned_at: int | None = None

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        """Report on scoring epochs; a True answer stops training after this epoch."""
        value = (logs or {}).get(self.metric)
        if (epoch + 1) % self.every or value is None:
            return
        if self.report(epoch + 1, float(value)):
            self.pruned_at = epoch + 1
            self.model.stop_training = True


def training_subset(x: np.ndarray, max_images: int | None, seed: int) -> np.ndarray:
    """The same ``max_images`` images for every trial: a seeded permutation's head, in file order."""
    if max_images is None or max_images >= len(x):
        return x
    keep = np.sort(np.random.default_rng(seed).permutation(len(x))[:max_images])
    return x[keep]


class GanObjective:
    """The sweep stage's default objective (a callable on :class:`TrialContext`); picklable for worker processes."""

    name = "gan"

    def __init__(
        self,
        processed_dir: Path = PROCESSED_DIR,
        classifier_path: Path = CLASSIFIER_PATH,
        real_stats_path: Path = REAL_STATS_PATH,
    ) -> None:
        self.processed_dir = Path(processed_dir)
        self.classifier_path = Path(classifier_path)
        self.real_stats_path = Path(real_stats_path)
        self._evaluator: tuple[str, FashionEvaluator] | None = None

    def __getstate__(self) -> dict[str, Any]:
        """Pickled for spawned workers without the loaded evaluator; each process loads its own."""
        return {**self.__dict__, "_evaluator": None}

    @property
    def input_files(self) -> tuple[Path, ...]:
        """Files a trial's score depends on; their hashes key the study."""
        return (self.processed_dir / "train.npz", self.classifier_path, self.real_stats_path)

    def evaluator(self, params: Params) -> FashionEvaluator:
        """The classifier and real statistics, loaded once per process (again if either file changes).

        Reloading them every trial only cost time and a traced predict function per trial.
        """
        files = (self.classifier_path, self.real_stats_path)
        stamps = [path.stat().st_mtime_ns if path.is_file() else None for path in files]
        key = f"{params.evaluate.model_dump_json()}{stamps}"
        if self._evaluator is None or self._evaluator[0] != key:
            self._evaluator = (key, FashionEvaluator.load(self.classifier_path, self.real_stats_path, params.evaluate))
        return self._evaluator[1]

    def __call__(self, ctx: TrialContext) -> TrialOutcome:
        """Train the trial's configuration on the fixed subset; its score, or why it stopped early."""
        started = time.perf_counter()
        params, s = ctx.params, ctx.params.search
        x, _ = load_split("train", self.processed_dir)
        x = training_subset(x, s.max_images, params.data.seed)
        evaluator = self.evaluator(params)
        pruning = PruningCallback(ctx.report, s.metric, s.report_every)
        scoring = EpochEvaluator(evaluator, every=s.report_every, n_samples=s.n_samples, seed=params.evaluate.seed,
                                 batch_size=params.evaluate.batch_size)  # fmt: skip
        callbacks: list[keras.callbacks.Callback] = [scoring, pruning]
        if ctx.run_id:
            from fashiongan.tracking import MlflowMetricsCallback

            callbacks.append(MlflowMetricsCallback(grid_dir=sample_path(ctx.out_dir, 1).parent))
        # A retried trial (its worker died) resumes from the checkpoint in its folder.
        result = train_gan(params, x, out_dir=ctx.out_dir, callbacks=callbacks, resume=ctx.resume)
        if ctx.run_id:
            from fashiongan.tracking import log_effective_params

            log_effective_params({"train.precision_effective": result.precision})
        epochs = int(result.epochs_trained)
        grid = sample_path(ctx.out_dir, epochs)
        files = {"model_path": str(ctx.out_dir / GENERATOR_PATH), "grid_path": str(grid) if grid.is_file() else None}
        if result.stop_reason:  # checked first: a detector's diagnosis beats "the pruner said so"
            return TrialOutcome(None, epochs, time.perf_counter() - started, "pruned", str(result.stop_reason), **files)
        if pruning.pruned_at is not None:
            return TrialOutcome(None, epochs, time.perf_counter() - started, "pruned", None, **files)
        last = result.history[-1] if result.history else {}
        if epochs % s.report_every == 0 and s.metric in last:
            value = float(last[s.metric])  # the last epoch was scored on this very protocol
        else:
            value = float(evaluator.score_generator(result.generator, s.n_samples, params.evaluate.seed, params.evaluate.batch_size)[s.metric])
        return TrialOutcome(value, epochs, time.perf_counter() - started, **files)

    def final_scores(self, model_path: Path, params: Params) -> dict[str, Any]:
        """The best trial's generator on the ``evaluate`` protocol, comparable with the evaluate stage."""
        ev = params.evaluate
        evaluator = self.evaluator(params)
        metrics = evaluator.score_generator(load_generator(model_path), ev.n_samples, ev.seed, ev.batch_size)
        return {"metrics": {k: float(v) for k, v in metrics.items()}, "protocol": evaluator.protocol(ev.n_samples)}

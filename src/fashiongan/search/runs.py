"""The sweep's MLflow runs: one parent run per study, one child run per trial, dead workers' runs ended.

Runs are reopened by id to add what is known only later (a trial's state, the sweep's best), so
no run has to stay open across worker processes. No MLflow run is left RUNNING by a dead worker:
a trial stores its run id (user attr ``mlflow_run_id``) as soon as its run starts, and the worker
that finds the trial stale ends that run FAILED.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from fashiongan.config import Params
from fashiongan.errors import FashionGanError
from fashiongan.progress import log
from fashiongan.search.types import TrialOutcome

TRIAL_MODEL_DIR = "trial_model"  # each complete trial's generator file, so any machine can finish the sweep


class SweepRuns:
    """The sweep's use of :mod:`fashiongan.tracking` (the one module that imports mlflow).

    Runs are reopened by id to add what is known only later (a trial's state, the sweep's best),
    so no run has to stay open across worker processes. Child runs are nested under the sweep's
    run through the ``mlflow.parentRunId`` tag, which works from any process or machine.
    """

    def __init__(self, params: Params) -> None:
        self.params = params
        self.enabled = params.tracking.enabled

    def _mod(self) -> Any:
        """:mod:`fashiongan.tracking`, imported on first use: mlflow and Keras load only when tracking is on."""
        from fashiongan import tracking

        return tracking

    def open_parent(self, study_name: str, run_id: str | None) -> str | None:
        """Reuse the study's parent run when the store still has it, else start one."""
        if not self.enabled:
            return None
        tracking = self._mod()
        experiment = self.params.tracking.sweep_experiment
        if run_id:
            try:
                with tracking.reopen_run(self.params, run_id):
                    return run_id
            except tracking.UnknownRunError:
                log(f"sweep: parent run {run_id} is gone from the tracking store; starting a new one")
        tags = {"sweep.study": study_name, "sweep.backend": self.params.search.backend}
        with tracking.new_run(self.params, study_name, experiment=experiment, tags=tags) as run:
            return run.run_id

    @contextlib.contextmanager
    def child(self, params: Params, number: int, study_name: str, parent_id: str | None) -> Iterator[str | None]:
        """A trial's run, nested under the sweep's parent run; yields its id (None with tracking off)."""
        if not self.enabled:
            yield None
            return
        tags = {"sweep.study": study_name, "sweep.trial": number}
        with self._mod().new_run(
            params,
            f"{study_name}-trial-{number}",
            experiment=self.params.tracking.sweep_experiment,
            tags=tags,
            parent_run_id=parent_id,
        ) as run:
            yield run.run_id

    def fail_dead_runs(self, runs: dict[str, dict[str, Any]], status: str = "FAILED") -> None:
        """End ``status``, with the given tags, the runs still RUNNING (their process died); never raises."""
        if not self.enabled or not runs:
            return
        tracking = self._mod()
        for run_id, tags in runs.items():
            try:
                tracking.activate(self.params)
                if tracking.end_run_as(run_id, status, tags):
                    log(f"sweep: MLflow run {run_id} of a dead worker ended {status} ({tags.get('sweep.reason')})")
            except (FashionGanError, tracking.MlflowException) as exc:  # store down or run gone: a re-run retries
                log(f"sweep: MLflow run {run_id} of a dead worker not closed ({' '.join(str(exc).split())[:200]})")

    def finish(self, run_id: str | None, tags: dict[str, Any], metrics: dict[str, Any], protocol: dict[str, Any]) -> None:
        """Add final tags and metrics to an earlier run."""
        if not self.enabled or not run_id:
            return
        tracking = self._mod()
        finite = {k: v for k, v in metrics.items() if isinstance(v, int | float) and math.isfinite(v)}
        with tracking.reopen_run(self.params, run_id, tags=tags):
            tracking.log_evaluation(finite, protocol)

    def finish_trial(self, run_id: str | None, number: int, outcome: TrialOutcome) -> None:
        """Tag a trial's run with its state and reason, log its score, and say so on stderr."""
        metric = self.params.search.metric
        self.finish(
            run_id,
            {"sweep.state": outcome.state, "sweep.reason": outcome.reason or "none"},
            {metric: outcome.value, "epochs_trained": outcome.epochs_trained, "trial_seconds": outcome.seconds},
            self.protocol(),
        )
        if outcome.state == "complete" and outcome.model_path and Path(outcome.model_path).is_file():
            self.log_files(run_id, [Path(outcome.model_path)], folder=TRIAL_MODEL_DIR)
        log(f"sweep: trial {number} {outcome.state} {metric}={outcome.value} ({outcome.reason or 'ok'})")

    def trial_model(self, run_id: str | None, model_path: str, dst_dir: Path) -> Path:
        """A trial's generator on this machine: its own file, or the copy its run holds (another worker ran it)."""
        if Path(model_path).is_file():
            return Path(model_path)
        if not self.enabled or not run_id:
            raise FashionGanError(
                f"the trial's generator {model_path} is not on this machine and no MLflow run holds a copy: run every "
                "worker with tracking.enabled and one shared tracking server (tracking.uri)"
            )
        tracking = self._mod()
        tracking.activate(self.params)
        return tracking.download_run_file(run_id, f"{TRIAL_MODEL_DIR}/{Path(model_path).name}", dst_dir)

    def protocol(self) -> dict[str, Any]:
        """How the sweep scores a trial: logged beside every trial's and the sweep's best score."""
        return {"metric": self.params.search.metric, "n_samples": self.params.search.n_samples, "seed": self.params.evaluate.seed}

    def log_files(self, run_id: str | None, paths: list[Path], folder: str = "outputs") -> None:
        """Attach files to an earlier run (under ``folder/``)."""
        if not self.enabled or not run_id:
            return
        tracking = self._mod()
        with tracking.reopen_run(self.params, run_id):
            tracking.log_training_outputs(None, None, paths, log_model=False, folder=folder)

    def log_generator(self, run_id: str | None, load: Callable[[], Any]) -> str | None:
        """Log a generator model to an earlier run once (a re-run finds it); return its model URI."""
        if not self.enabled or not run_id:
            return None
        tracking = self._mod()
        tracking.activate(self.params)
        existing = tracking.generator_uri(run_id)
        if existing:
            return existing
        with tracking.reopen_run(self.params, run_id):
            return tracking.log_training_outputs(load(), None, [], log_model=True)

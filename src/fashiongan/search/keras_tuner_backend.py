"""The Keras Tuner backend (``search.backend: keras_tuner``): BayesianOptimization over the same space.

It runs in one process (Keras Tuner's own distributed mode is the way to more), resumes from
``sweeps/keras_tuner/<study>``, and feeds the same rows, report and MLflow runs as Optuna.
Keras Tuner's BayesianOptimization has no pruning: every trial runs its epochs.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict
from typing import Any

import optuna

from fashiongan.errors import FashionGanError
from fashiongan.fileio import write_json
from fashiongan.paths import KERAS_TUNER_DIR_NAME, KERAS_TUNER_MARKER_NAME, OUTCOME_NAME
from fashiongan.progress import log
from fashiongan.search.objective import run_objective
from fashiongan.search.report import study_from_rows
from fashiongan.search.runs import SweepRuns
from fashiongan.search.space import trial_params
from fashiongan.search.types import SweepPlan, TrialContext, TrialRow


def _keras_tuner_class() -> type:
    """A Keras Tuner whose ``run_trial`` trains through the sweep's objective (defined lazily: TF import)."""
    import keras_tuner as kt

    class SweepTuner(kt.Tuner):
        def __init__(self, plan: SweepPlan, **kwargs: Any) -> None:
            """A tuner for ``plan``; ``kwargs`` go to ``kt.Tuner`` (oracle, directory, project)."""
            self.plan = plan
            super().__init__(**kwargs)

        def run_trial(self, trial: Any, *args: Any, **kwargs: Any) -> dict[str, float]:
            """Train one configuration through the objective; a failed outcome is a FailedTrialError."""
            plan = self.plan
            hp = trial.hyperparameters
            number = int(trial.trial_id)
            params = trial_params(plan.params, hp.get("dropout"), hp.get("first_layer_width"))
            out_dir = plan.trial_dir(number)
            if out_dir.exists():
                shutil.rmtree(out_dir)
            out_dir.mkdir(parents=True)
            tracker = SweepRuns(plan.params)
            log(f"sweep: trial {number} dropout={hp.get('dropout'):.3f} first_layer_width={hp.get('first_layer_width')}")
            with tracker.child(params, number, plan.study_name, plan.parent_run_id) as run_id:
                # Keras Tuner's BayesianOptimization has no pruning: every trial runs its epochs.
                outcome = run_objective(plan.objective, TrialContext(number, params, out_dir, lambda e, v: False, run_id))
            write_json(out_dir / OUTCOME_NAME, {**asdict(outcome), "run_id": run_id})
            tracker.finish_trial(run_id, number, outcome)
            if outcome.state != "complete":
                raise kt.errors.FailedTrialError(outcome.reason or outcome.state)
            return {plan.params.search.metric: float(outcome.value)}

    return SweepTuner


def keras_tuner_search(plan: SweepPlan) -> list[TrialRow]:
    """BayesianOptimization over the same space; resumes from ``sweeps/keras_tuner/<study>``."""
    import keras_tuner as kt

    s = plan.params.search
    space = kt.HyperParameters()
    space.Float("dropout", s.dropout_low, s.dropout_high)
    space.Int("first_layer_width", s.width_low, s.width_high, sampling="log")
    oracle = kt.oracles.BayesianOptimizationOracle(
        objective=kt.Objective(s.metric, "min"),
        max_trials=plan.n_trials,
        seed=s.seed,
        hyperparameters=space,
        tune_new_entries=False,
        allow_new_entries=False,
        max_consecutive_failed_trials=plan.n_trials + 1,  # failed trials are recorded, never fatal
    )
    tuner = _keras_tuner_class()(
        plan, oracle=oracle, directory=str(plan.out_dir / KERAS_TUNER_DIR_NAME), project_name=plan.study_name, overwrite=False
    )
    tuner.search(verbose=0)
    return keras_tuner_rows(tuner, plan)


def keras_tuner_rows(tuner: Any, plan: SweepPlan) -> list[TrialRow]:
    """The tuner's trials as report rows, with what each trial's outcome.json recorded."""
    states = {"COMPLETED": "complete", "FAILED": "failed", "INVALID": "failed", "RUNNING": "running"}
    rows = []
    for trial_id, trial in sorted(tuner.oracle.trials.items(), key=lambda kv: int(kv[0])):
        number = int(trial_id)
        path = plan.trial_dir(number) / OUTCOME_NAME
        outcome = json.loads(path.read_text()) if path.is_file() else {}
        values = trial.hyperparameters.values
        state = states.get(str(trial.status), str(trial.status).lower())
        rows.append(
            TrialRow(
                number=number,
                dropout=values.get("dropout"),
                first_layer_width=values.get("first_layer_width"),
                value=float(trial.score) if state == "complete" and trial.score is not None else None,
                state=state,
                reason=outcome.get("reason") or _last_line(trial.message),
                epochs_trained=outcome.get("epochs_trained"),
                seconds=outcome.get("seconds"),
                model_path=outcome.get("model_path"),
                grid_path=outcome.get("grid_path"),
                run_id=outcome.get("run_id"),
            )
        )
    return rows


def _last_line(text: str | None) -> str | None:
    """The last line of a tuner's failure message (its traceback's exception line)."""
    lines = (text or "").strip().splitlines()
    return lines[-1] if lines else None


def open_parent(plan: SweepPlan) -> str | None:
    """One parent run per tuner project, kept across re-runs (its id lives in a marker file beside the oracle)."""
    marker = plan.out_dir / KERAS_TUNER_DIR_NAME / plan.study_name / KERAS_TUNER_MARKER_NAME
    previous = json.loads(marker.read_text()).get("mlflow_parent_run_id") if marker.is_file() else None
    run_id = SweepRuns(plan.params).open_parent(plan.study_name, previous)
    write_json(marker, {"mlflow_parent_run_id": run_id, "fingerprint": plan.fingerprint}, default=str)
    return run_id


def run_study(plan: SweepPlan, workers: int) -> tuple[list[TrialRow], optuna.Study]:
    """Run (or resume) the tuner in this process; its rows, replayed into an in-memory study for the plots."""
    if workers > 1:
        raise FashionGanError(
            "search.backend keras_tuner runs one worker here: set search.workers 1, use backend optuna for "
            "parallel workers, or Keras Tuner's own distributed mode (KERASTUNER_TUNER_ID, KERASTUNER_ORACLE_IP, "
            "KERASTUNER_ORACLE_PORT)"
        )
    plan.parent_run_id = open_parent(plan)
    rows = keras_tuner_search(plan)
    return rows, study_from_rows(rows, plan.params)

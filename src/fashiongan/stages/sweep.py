"""Stage ``sweep``: tune model.dropout and model.first_layer_width against search.metric.

Writes sweeps/trials.csv, sweeps/best.json, sweeps/report.html (and metrics/sweep.json for
``promote`` with ``registry.candidate: sweep``). Re-running continues the same study; a worker
(``worker_stage``) adds this process to a study in a shared ``search.storage``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import optuna

from fashiongan import sweep_report
from fashiongan.config import Params
from fashiongan.errors import FashionGanError
from fashiongan.paths import SWEEPS_DIR
from fashiongan.progress import log
from fashiongan.search import (
    Objective,
    _kt_parent,
    _open_parent,
    check_storage_url,
    close_dead_runs,
    finish_sweep,
    keras_tuner_search,
    make_plan,
    open_storage,
    optuna_rows,
    prepare_study,
    redact,
    run_worker,
    run_workers,
    storage_url,
)


def default_objective(params: Params) -> Objective:
    """The GAN objective: train with the trial's params, score on the fixed protocol."""
    from fashiongan.sweep_trial import GanObjective  # TensorFlow: only once the storage is known good

    return GanObjective()


def sweep_stage(
    params: Params,
    workers: int | None = None,
    *,
    objective: Objective | None = None,
    out_dir: Path = SWEEPS_DIR,
    metrics_path: Path | None = None,
) -> dict[str, Any]:
    """Run (or resume) the study, then write trials.csv, best.json and report.html; the summary.

    ``objective`` defaults to the GAN objective; tests inject small real functions. With the GAN
    objective the best trial's generator is re-scored on the ``evaluate`` protocol and written to
    ``metrics_path`` (default ``metrics/sweep.json`` beside ``out_dir``) holds the best trial's scores.
    """
    workers = workers or params.search.workers
    if params.search.backend != "keras_tuner":
        check_storage_url(storage_url(params, out_dir))  # fail before the GAN stack is imported
    objective = objective or default_objective(params)
    plan = make_plan(params, objective, out_dir)
    where = plan.out_dir / "keras_tuner" if params.search.backend == "keras_tuner" else redact(plan.storage_url)
    log(f"sweep: study {plan.study_name} ({params.search.backend}, {plan.n_trials} trials) in {where}")
    if params.search.backend == "keras_tuner":
        if workers > 1:
            raise FashionGanError(
                "search.backend keras_tuner runs one worker here: set search.workers 1, use backend optuna for "
                "parallel workers, or Keras Tuner's own distributed mode (KERASTUNER_TUNER_ID, KERASTUNER_ORACLE_IP, "
                "KERASTUNER_ORACLE_PORT)"
            )
        plan.parent_run_id = _kt_parent(plan)
        rows = keras_tuner_search(plan)
        study = sweep_report.study_from_rows(rows, params)
    else:
        storage = open_storage(plan.storage_url, params.search.heartbeat_s)
        study = prepare_study(plan, storage)
        plan.parent_run_id = _open_parent(plan, study)
        run_workers(plan, workers)
        study = optuna.load_study(study_name=plan.study_name, storage=storage)
        close_dead_runs(plan, study)
        rows = optuna_rows(study)
    return finish_sweep(plan, rows, study, metrics_path)


def worker_stage(params: Params, *, objective: Objective | None = None, out_dir: Path = SWEEPS_DIR) -> int:
    """``pipelines/sweep.py --worker``: add this process to an existing study; return trials run."""
    objective = objective or default_objective(params)
    plan = make_plan(params, objective, out_dir)
    if params.search.backend == "keras_tuner":
        raise FashionGanError(
            "--worker needs search.backend optuna or grid; Keras Tuner workers use KERASTUNER_TUNER_ID, "
            "KERASTUNER_ORACLE_IP and KERASTUNER_ORACLE_PORT"
        )
    storage = open_storage(plan.storage_url, params.search.heartbeat_s)
    study = prepare_study(plan, storage)
    plan.parent_run_id = study.user_attrs.get("mlflow_parent_run_id")
    return run_worker(plan)

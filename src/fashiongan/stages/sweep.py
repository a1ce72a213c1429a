"""Stage ``sweep``: tune model.dropout and model.first_layer_width against search.metric.

Writes sweeps/trials.csv, sweeps/best.json, sweeps/report.html (and metrics/sweep.json for
``promote`` with ``registry.candidate: sweep``). Re-running continues the same study; a worker
(:func:`worker_stage`) adds this process to a study in a shared ``search.storage``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fashiongan.config import Params
from fashiongan.errors import FashionGanError
from fashiongan.paths import SWEEPS_DIR
from fashiongan.progress import log
from fashiongan.search import keras_tuner_backend, optuna_backend
from fashiongan.search.finish import finish_sweep, where
from fashiongan.search.space import make_plan
from fashiongan.search.storage import check_storage_url, storage_url
from fashiongan.search.types import Objective


def default_objective() -> Objective:
    """The GAN objective: train with the trial's params, score on the fixed protocol."""
    from fashiongan.search.gan_objective import GanObjective  # TensorFlow: only once the storage is known good

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
    objective the best trial's generator is re-scored on the ``evaluate`` protocol and its scores
    written to ``metrics_path`` (default ``metrics/sweep.json`` beside ``out_dir``).
    """
    workers = workers or params.search.workers
    backend = keras_tuner_backend if params.search.backend == "keras_tuner" else optuna_backend
    if backend is optuna_backend:
        check_storage_url(storage_url(params, out_dir))  # fail before the GAN stack is imported
    plan = make_plan(params, objective or default_objective(), out_dir)
    log(f"sweep: study {plan.study_name} ({params.search.backend}, {plan.n_trials} trials) in {where(plan)}")
    rows, study = backend.run_study(plan, workers)
    return finish_sweep(plan, rows, study, metrics_path)


def worker_stage(params: Params, *, objective: Objective | None = None, out_dir: Path = SWEEPS_DIR) -> int:
    """``pipelines/sweep.py --worker``: add this process to an existing study; the number of trials it ran."""
    plan = make_plan(params, objective or default_objective(), out_dir)
    if params.search.backend == "keras_tuner":
        raise FashionGanError(
            "--worker needs search.backend optuna or grid; Keras Tuner workers use KERASTUNER_TUNER_ID, "
            "KERASTUNER_ORACLE_IP and KERASTUNER_ORACLE_PORT"
        )
    return optuna_backend.join_study(plan)

"""Stage ``train``: train the GAN on data/processed/train.npz, log the run to MLflow.

Writes models/{generator,discriminator}.keras, checkpoints/last.npz (resumed when re-run after an
interruption), plots/samples/epoch_NNN.png, plots/samples.gif, plots/loss_curve.png,
plots/train_history.csv and metrics/train.json (with the MLflow run id the evaluate and promote
stages use).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import keras

from fashiongan import tracking
from fashiongan.callbacks import EpochEvaluator
from fashiongan.config import Params
from fashiongan.data import load_split
from fashiongan.errors import FashionGanError
from fashiongan.fetch import load_manifest
from fashiongan.fileio import read_json, write_json
from fashiongan.locks import Held, file_lock
from fashiongan.metrics.evaluator import FashionEvaluator
from fashiongan.paths import (
    CHECKPOINT_DIR,
    CLASSIFIER_PATH,
    DISCRIMINATOR_PATH,
    HISTORY_CSV,
    LOSS_CURVE,
    PROCESSED_DIR,
    RAW_DIR,
    REAL_STATS_PATH,
    RUN_MARKER_NAME,
    SAMPLES_DIR,
    SAMPLES_GIF,
    SWEEP_BEST,
    TRAIN_LOCK,
    TRAIN_METRICS,
)
from fashiongan.training import summarize, train_gan


def sweep_apply_hint(best_json: Path) -> str | None:
    """The sweep's ``apply`` command, or None: an absent or unreadable best.json only loses the hint, never the run."""
    try:
        return read_json(best_json, "").get("apply")
    except FashionGanError:
        return None


def hparams_from_sweep(params: Params, best_json: Path) -> Params:
    """``params`` with model.dropout and model.first_layer_width taken from the sweep's best trial."""
    hint = ("run `dvc repro sweep` first, or set train.hparams: params to train with params.yaml's model.dropout "
            "and model.first_layer_width")
    best = read_json(best_json, hint).get("params")
    if not best:
        raise FashionGanError(f"{best_json} has no best trial (every trial failed?): inspect sweeps/trials.csv, "
                              "or set train.hparams: params")
    model = params.model.model_copy(
        update={"dropout": best["model.dropout"], "first_layer_width": best["model.first_layer_width"]}
    )
    return params.model_copy(update={"model": model})


def train_stage(params: Params, root: Path = Path(".")) -> dict[str, Any]:
    """Train on data/processed/train.npz, write the standard outputs, log to MLflow; the summary.

    With ``train.hparams: sweep`` the searched knobs come from sweeps/best.json. fid_fashion is
    computed during training (every ``train.eval_every`` epochs) when the train_classifier
    stage's models/classifier.keras and models/real_stats.npz exist.
    """
    root = Path(root)
    try:
        with file_lock(root / TRAIN_LOCK, wait=False):
            return _train(params, root)
    except Held as exc:
        raise FashionGanError(
            f"another trainer is using this workspace ({exc.holder}): wait for it or stop it; "
            f"two trainers would both write {CHECKPOINT_DIR}/ and end each other's MLflow runs"
        ) from None


def _train(params: Params, root: Path) -> dict[str, Any]:
    """:func:`train_stage` holding the workspace's train lock."""
    if params.train.hparams == "sweep":
        params = hparams_from_sweep(params, root / SWEEP_BEST)
    elif hint := sweep_apply_hint(root / SWEEP_BEST):
        print(f"train: dropout and width from params.yaml; to train the sweep's best instead: {hint}", file=sys.stderr)
    x, _ = load_split("train", root / PROCESSED_DIR)
    callbacks: list[keras.callbacks.Callback] = []
    classifier, real_stats = root / CLASSIFIER_PATH, root / REAL_STATS_PATH
    if params.train.eval_every and classifier.is_file() and real_stats.is_file():
        evaluator = FashionEvaluator.load(classifier, real_stats, params.evaluate)
        ev = params.evaluate
        callbacks.append(EpochEvaluator(evaluator, params.train.eval_every, params.train.eval_samples, ev.seed, ev.batch_size))
    tags = {"stage": "train", "hparams_from": params.train.hparams}
    marker = root / CHECKPOINT_DIR / RUN_MARKER_NAME
    with tracking.new_run(params, "train", tags=tags) as run:
        if run.run_id is not None:  # a killed earlier run could not end its MLflow run: end it now
            earlier = json.loads(marker.read_text()).get("run_id") if marker.is_file() else None
            tracking.close_interrupted_run(earlier, successor=run.run_id)
            write_json(marker, {"run_id": run.run_id})
        tracking.log_dataset_manifest(load_manifest(root / RAW_DIR))
        callbacks.append(tracking.MlflowMetricsCallback(grid_dir=root / SAMPLES_DIR))
        result = train_gan(params, x, out_dir=root, callbacks=callbacks, verbose=2)
        tracking.log_effective_params({"train.precision_effective": result.precision})  # float32 where bfloat16 fell back
        if run.run_id is not None:  # also when the checkpoint says a detector already stopped it (no fit ran)
            tracking.tag_stop_reason(result.stop_reason)
        outputs = [root / p for p in (SAMPLES_GIF, LOSS_CURVE, HISTORY_CSV, TRAIN_METRICS)]
        tracking.log_training_outputs(
            result.generator, root / DISCRIMINATOR_PATH, outputs, log_model=params.tracking.log_model
        )
    summary = summarize(result, n_images=len(x)) | {
        "mlflow_run_id": run.run_id,
        "hparams_from": params.train.hparams,
        "dropout": params.model.dropout,
        "first_layer_width": params.model.first_layer_width,
    }
    write_json(root / TRAIN_METRICS, summary)
    return summary

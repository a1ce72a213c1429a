"""Stage ``evaluate``: score models/generator.keras under a fixed, logged protocol.

Writes ``metrics/evaluate.json`` (every metric beside its sample count, real split and the
real-statistics hash, so ``dvc metrics show`` and the registry compare like with like) and an
8x8 sample grid.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from fashiongan import tracking
from fashiongan.config import Params
from fashiongan.data import load_split
from fashiongan.errors import FashionGanError
from fashiongan.fileio import write_image, write_json
from fashiongan.images import generate_images, tile
from fashiongan.metrics.evaluator import FashionEvaluator
from fashiongan.models import load_generator
from fashiongan.paths import EVAL_GRID, EVALUATE_METRICS, GENERATOR_PATH, TRAIN_METRICS

GRID_SIDE = 8


def _inception_score(generated: np.ndarray, params: Params) -> tuple[float, int, int]:
    """fid_inception on ``inception_samples`` generated and as many real images (fixed subset)."""
    from fashiongan.metrics.inception import inception_fid  # TensorFlow's Inception graph: only when asked

    ev = params.evaluate
    real, _ = load_split(ev.real_split)
    n = ev.inception_samples
    if n > len(real):
        raise FashionGanError(
            f"evaluate.inception_samples={n} exceeds the {len(real)} real {ev.real_split} images: lower it"
        )
    subset = real[np.sort(np.random.default_rng(ev.seed).choice(len(real), n, replace=False))]
    return float(inception_fid(generated[:n], subset)), n, n


def _log_to_training_run(params: Params, metrics: dict[str, Any], protocol: dict[str, Any]) -> None:
    """Add the evaluation to the MLflow run that trained this generator (metrics/train.json names it).

    Without metrics/train.json (or a run id in it) the evaluation gets a run of its own.
    """
    run_id = json.loads(TRAIN_METRICS.read_text()).get("mlflow_run_id") if TRAIN_METRICS.is_file() else None
    tags = {"evaluated": "true"}
    run = tracking.reopen_run(params, run_id, tags=tags) if run_id else tracking.new_run(params, "evaluate", tags=tags)
    with run:
        tracking.log_evaluation({k: v for k, v in metrics.items() if k != "protocol"}, protocol)


def evaluate_stage(params: Params) -> dict[str, Any]:
    """Sample the generator with ``evaluate.seed``, score it, write metrics and a grid; the result."""
    ev = params.evaluate
    generator = load_generator(GENERATOR_PATH)
    evaluator = FashionEvaluator.load(eval_params=ev)
    n_total = max(ev.n_samples, ev.inception_samples if ev.inception else 0, GRID_SIDE * GRID_SIDE)
    images = generate_images(generator, n_total, ev.seed, ev.batch_size)
    result: dict[str, Any] = dict(evaluator.score_images(images[: ev.n_samples]))
    protocol = evaluator.protocol(ev.n_samples)
    if ev.inception:
        fid_inception, n_gen, n_real = _inception_score(images, params)
        result["fid_inception"] = fid_inception
        protocol.update(fid_inception_n_samples=n_gen, fid_inception_n_real=n_real)
    result["protocol"] = protocol
    _log_to_training_run(params, result, protocol)
    write_json(EVALUATE_METRICS, result)
    write_image(EVAL_GRID, tile(images[: GRID_SIDE * GRID_SIDE], GRID_SIDE))
    return result

"""The evaluate stage: score the trained generator under a fixed, logged protocol.

Writes ``metrics/evaluate.json`` (every metric beside its sample count, real split and the
real-statistics hash, so ``dvc metrics show`` and the registry compare like with like) and an
8x8 sample grid.
"""

from __future__ import annotations

import json

import os
from pathlib import Path
from typing import Any

import keras
import numpy as np
from PIL import Image

from fashiongan.config import Params
from fashiongan.errors import FashionGanError
from fashiongan.metrics.atomic import temporary_sibling, write_json_atomic
from fashiongan.metrics.evaluator import FashionEvaluator, generate_images
from fashiongan.models import load_model_file
from fashiongan.paths import GENERATOR_PATH, METRICS_DIR, PLOTS_DIR

EVALUATE_METRICS_PATH = METRICS_DIR / "evaluate.json"
EVAL_GRID_PATH = PLOTS_DIR / "eval_grid.png"
GRID_SIDE = 8


def load_generator(path: str | Path = GENERATOR_PATH) -> keras.Model:
    """Load the generator in safe mode; a missing or corrupt file becomes a one-line error."""
    return load_model_file(path, "generator", "rerun `dvc repro train`")


def save_grid(images: np.ndarray, path: str | Path, side: int = GRID_SIDE, scale: int = 2) -> Path:
    """Tile the first ``side * side`` images ([-1, 1]) into a PNG with 2-pixel gutters."""
    path = Path(path)
    count = min(len(images), side * side)
    pixels = np.clip((np.asarray(images[:count, :, :, 0]) + 1.0) * 127.5, 0, 255).astype(np.uint8)
    h, w = pixels.shape[1:]
    pad = 2
    canvas = np.full((side * (h + pad) + pad, side * (w + pad) + pad), 255, dtype=np.uint8)
    for i, image in enumerate(pixels):
        row, col = divmod(i, side)
        top, left = pad + row * (h + pad), pad + col * (w + pad)
        canvas[top : top + h, left : left + w] = image
    picture = Image.fromarray(canvas).resize((canvas.shape[1] * scale, canvas.shape[0] * scale), Image.Resampling.NEAREST)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_sibling(path)
    picture.save(tmp)
    os.replace(tmp, path)
    return path


def _inception_score(generated: np.ndarray, params: Params) -> tuple[float, int, int]:
    """fid_inception on ``inception_samples`` generated and as many real images (fixed subset)."""
    from fashiongan.data import load_split
    from fashiongan.metrics.inception import inception_fid

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
    """Add the evaluation to the MLflow run that trained this generator (metrics/train.json names it)."""
    from fashiongan import tracking
    from fashiongan.training import TRAIN_METRICS

    run_id = json.loads(TRAIN_METRICS.read_text()).get("mlflow_run_id") if TRAIN_METRICS.is_file() else None
    with tracking.start_run(params, "evaluate", run_id=run_id, tags={"evaluated": "true"}):
        tracking.log_evaluation({k: v for k, v in metrics.items() if k != "protocol"}, protocol)


def evaluate_stage(params: Params) -> dict[str, Any]:
    """DVC stage: sample the generator with ``evaluate.seed`` and write metrics and a grid."""
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
    write_json_atomic(result, EVALUATE_METRICS_PATH)
    save_grid(images, EVAL_GRID_PATH)
    return result

"""Train a GAN from params: the one loop used by the train stage and by every sweep trial.

:func:`train_gan` seeds everything, builds the preset in the effective ``train.precision``
(:func:`effective_precision`: float32 where the hardware lacks the requested one), resumes from ``checkpoints/last.npz``
when one exists for the same params and data (see :mod:`fashiongan.checkpoints`), runs
``GAN.fit`` with the detectors and the caller's callbacks, and writes (when ``out_dir`` is
given) the per-epoch sample grids, their GIF, the loss curve, the history CSV, the summary
JSON and both models. A run that already finished (all epochs, or a detector stopped it) is
not trained again: its outputs are rewritten from the checkpoint. Raising ``train.epochs``
continues a finished run. Delete ``checkpoints/`` or pass ``resume=False`` to start over.

Callback order on every epoch end: epoch timer (``logs["seconds"]``), :class:`EpochEvaluator`
instances from ``callbacks`` (scores into ``logs``), the detectors, the sample-grid writer,
the caller's other callbacks (MLflow, pruning), then the history recorder and the checkpoint.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import keras
import numpy as np

from fashiongan import devices, figures
from fashiongan.batches import make_dataset
from fashiongan.callbacks import EpochEvaluator
from fashiongan.checkpoints import CheckpointState, fingerprint, load_checkpoint, save_checkpoint
from fashiongan.codeversion import code_digest
from fashiongan.config import Params
from fashiongan.detectors import detectors
from fashiongan.errors import FashionGanError
from fashiongan.fileio import save_keras, write_image, write_json
from fashiongan.gan import GAN, make_optimizers
from fashiongan.images import latents, save_gif, tile
from fashiongan.keras_backend import check_backend, enable_determinism, has_gpu, set_random_seed, step_jit_compile
from fashiongan.models import build_models
from fashiongan.paths import (
    CHECKPOINT_DIR,
    DISCRIMINATOR_PATH,
    GENERATOR_PATH,
    HISTORY_CSV,
    LOSS_CURVE,
    SAMPLES_GIF,
    TRAIN_METRICS,
    sample_path,
)
from fashiongan.presets import ResolvedModel, ResolvedTraining, resolve_model_params, resolve_training


@dataclass
class TrainResult:
    """What a training run produced; ``history`` has one dict per epoch (resumed epochs included)."""

    generator: keras.Model
    discriminator: keras.Model
    history: list[dict[str, Any]]
    epochs_trained: int
    stop_reason: str | None
    seconds: float  # wall time of this call
    resumed_from: int = 0  # epochs restored from a checkpoint
    fingerprint: str = ""
    model: dict[str, Any] = field(default_factory=dict)  # resolved architecture
    training: dict[str, Any] = field(default_factory=dict)  # resolved loss, EMA, augmentation, optimiser
    precision: str = "float32"  # effective: train.precision, or float32 where the hardware lacks it
    images_per_epoch: int = 0  # steps per epoch x batch size


class _EpochTimer(keras.callbacks.Callback):
    """``logs["seconds"]``: the epoch's training wall time (before any scoring or writing)."""

    def on_epoch_begin(self, epoch, logs=None):
        self.started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["seconds"] = time.perf_counter() - self.started


class _SampleWriter(keras.callbacks.Callback):
    """Grid of the generator's images for the same latents every epoch (and every resume), one PNG per epoch."""

    def __init__(self, out_dir: Path, noise: np.ndarray, grid_size: int):
        super().__init__()
        self.out_dir, self.noise, self.grid_size = out_dir, noise, grid_size

    def on_epoch_end(self, epoch, logs=None):
        images = np.asarray(self.model.sampler(self.noise, training=False), dtype=np.float32)
        write_image(sample_path(self.out_dir, epoch + 1), tile(images, self.grid_size))


class _Recorder(keras.callbacks.Callback):
    """Append each epoch's logs (and the stop reason, if set this epoch) to ``history``; publish it live.

    With an output folder the history CSV and ``metrics/train.json`` are rewritten (atomically) at
    every epoch, so ``dvc plots show`` and ``dvc exp show`` show a run while it trains. A plain CSV
    written here, not DVCLive: the curves need nothing DVCLive adds, and one more dependency costs
    every install. ``metrics/train.json`` is written only when training ends: a killed run must not leave
    a metrics file that reads like a result.
    """

    def __init__(self, history: list[dict[str, Any]], out_dir: Path | None = None):
        super().__init__()
        self.history, self.out_dir = history, out_dir

    def on_epoch_end(self, epoch, logs=None):
        row: dict[str, Any] = {"epoch": epoch + 1}
        row.update({k: float(v) for k, v in (logs or {}).items() if isinstance(v, int | float | np.number)})
        reason = getattr(self.model, "stop_reason", None)
        if reason and not any(r.get("stop_reason") for r in self.history):
            row["stop_reason"] = reason
        self.history.append(row)
        if self.out_dir is not None:
            figures.write_history_csv(self.history, self.out_dir / HISTORY_CSV)


class _Checkpointer(keras.callbacks.Callback):
    """Save every ``every`` epochs, at the last epoch, and when training is being stopped."""

    def __init__(self, directory: Path, history: list[dict[str, Any]], fp: str, every: int, epochs: int):
        super().__init__()
        self.directory, self.history, self.fp, self.every, self.epochs = directory, history, fp, every, epochs

    def on_epoch_end(self, epoch, logs=None):
        done = epoch + 1
        if done % self.every == 0 or done == self.epochs or self.model.stop_training:
            state = CheckpointState(done, self.fp, list(self.history), getattr(self.model, "stop_reason", None))
            save_checkpoint(self.model, state, self.directory)


# train.precision -> the Keras dtype policy of the hidden layers (output layers stay float32: see models.py).
POLICIES = {"float32": None, "bfloat16": "mixed_bfloat16", "mixed_float16": "mixed_float16"}


def effective_precision(requested: str) -> str:
    """``requested`` where this machine computes it, else float32 with a one-line warning saying what is missing."""
    if requested == "mixed_float16" and not has_gpu():
        warnings.warn("train.precision=mixed_float16 needs a GPU; training in float32 instead", stacklevel=3)
        return "float32"
    if requested == "bfloat16":
        native, why = devices.bfloat16_native()
        if not native:
            warnings.warn(f"train.precision=bfloat16: {why}; training in float32 instead", stacklevel=3)
            return "float32"
    return requested


def _trajectory(params: Params, spec: ResolvedModel, how: ResolvedTraining, precision: str) -> dict[str, Any]:
    """The values a checkpoint must agree on to be resumed (``epochs`` is not one of them), the code included."""
    t = params.train
    return {
        "code": code_digest(),
        "model": spec.as_dict(),
        "train": {
            "batch_size": t.batch_size,
            "seed": t.seed,
            "steps_per_epoch": t.steps_per_epoch,
            **how.as_dict(),
        },
        "precision": precision,  # a float32 checkpoint is not resumed into a bfloat16 run, nor the reverse
    }


def build_gan(params: Params, precision: str = "float32") -> GAN:
    """Seeded, compiled GAN with built optimizers (restorable), as ``params`` describe it.

    ``precision`` is the effective one (:func:`effective_precision` of ``train.precision``).
    """
    spec = resolve_model_params(params.model)
    t = params.train
    how: ResolvedTraining = resolve_training(spec.preset, t)
    generator, discriminator = build_models(spec, POLICIES[precision])
    gan = GAN(
        generator, discriminator, spec.latent_dim, spec.d_output, seed=t.seed,
        loss=how.loss, ema_decay=how.ema_decay, diffaugment=how.diffaugment,
    )  # fmt: skip
    d_opt, g_opt = make_optimizers(how.g_learning_rate, how.d_learning_rate, how.beta_1, precision, how.beta_2)
    gan.compile(d_opt, g_opt, jit_compile=step_jit_compile(t.jit_compile))
    gan.build_optimizers()
    return gan


def train_gan(
    params: Params,
    x_train: np.ndarray,
    out_dir: Path | None = None,
    callbacks: Sequence[keras.callbacks.Callback] = (),
    resume: bool = True,
    verbose: int = 0,
) -> TrainResult:
    """Train on ``x_train`` (float32 [N, 28, 28, 1] in [-1, 1]) for ``params.train.epochs`` epochs.

    ``out_dir`` None trains in memory (no checkpoint, no files). ``callbacks`` see every
    epoch's ``logs`` (d_loss, g_loss, d_real, d_fake, seconds, and the scores of any
    :class:`EpochEvaluator` among them, which run first). ``verbose`` is Keras' fit verbosity.
    """
    started = time.perf_counter()
    t = params.train
    x_train = np.asarray(x_train, dtype=np.float32)
    if x_train.ndim != 4 or x_train.shape[1:] != (28, 28, 1):
        raise FashionGanError(f"training images must be [N, 28, 28, 1], got {x_train.shape}: run `dvc repro preprocess`")
    if len(x_train) < t.batch_size:
        raise FashionGanError(
            f"{len(x_train)} training images are fewer than train.batch_size={t.batch_size}: lower the batch size "
            "or use more data (data.max_images)"
        )
    check_backend(t.backend)
    set_random_seed(t.seed)
    if t.deterministic:
        enable_determinism()
    precision = effective_precision(t.precision)
    spec = resolve_model_params(params.model)
    how = resolve_training(spec.preset, t)
    per_epoch = steps_per_epoch(params, len(x_train))
    gan = build_gan(params, precision)
    fp = fingerprint(_trajectory(params, spec, how, precision), x_train)

    out = Path(out_dir) if out_dir is not None else None
    state = None
    if out is not None and resume:
        state = load_checkpoint(gan, out / CHECKPOINT_DIR, fp)
    history: list[dict[str, Any]] = list(state.history) if state else []
    first_epoch = state.epoch if state else 0
    gan.stop_reason = state.stop_reason if state else None

    if gan.stop_reason is None and first_epoch < t.epochs:
        chain = _callback_chain(gan, params, spec, how, per_epoch, out, fp, history, list(callbacks))
        data = make_dataset(x_train, t.batch_size, t.seed, first_epoch, t.epochs, t.steps_per_epoch, t.backend)
        gan.fit(
            data,
            epochs=t.epochs,
            initial_epoch=first_epoch,
            steps_per_epoch=per_epoch,
            callbacks=chain,
            shuffle=False,  # make_dataset shuffles, per pass and seeded
            verbose=verbose,
        )
    result = TrainResult(
        generator=gan.sampler,
        discriminator=gan.discriminator,
        history=history,
        epochs_trained=len(history),
        stop_reason=gan.stop_reason,
        seconds=time.perf_counter() - started,
        resumed_from=first_epoch,
        fingerprint=fp,
        model=spec.as_dict(),
        training=how.as_dict(),
        precision=precision,
        images_per_epoch=per_epoch * t.batch_size,
    )
    if out is not None:
        write_outputs(result, out, n_images=len(x_train))
    return result


def steps_per_epoch(params: Params, n_images: int) -> int:
    """Generator steps in one epoch: ``train.steps_per_epoch``, or one pass over the images."""
    return params.train.steps_per_epoch or n_images // params.train.batch_size


def _callback_chain(gan, params, spec, how, per_epoch, out, fp, history, callbacks) -> list[keras.callbacks.Callback]:
    t = params.train
    images_per_epoch = per_epoch * t.batch_size
    scorers = [c for c in callbacks if isinstance(c, EpochEvaluator)]
    others = [c for c in callbacks if not isinstance(c, EpochEvaluator)]
    chain: list[keras.callbacks.Callback] = [_EpochTimer(), *scorers]
    chain += detectors(
        t.stall_patience,
        t.stall_tolerance,
        t.divergence_bound,
        t.collapse_min_classes,
        saturation=t.stall_saturation,
        ln2_rule=how.loss != "hinge",  # ln 2 is a cross-entropy value
        collapse_patience=t.collapse_patience,
        collapse_warmup=t.collapse_warmup_images // images_per_epoch,  # in epochs, whatever the data size
        fid_rise_patience=t.fid_rise_patience,
        fid_rise_margin=t.fid_rise_margin,
        history=list(history),  # a resumed run picks its streaks up where the checkpoint left them
    )
    if out is not None:
        chain.append(_SampleWriter(out, latents(t.grid_size**2, spec.latent_dim, t.seed), t.grid_size))
    chain += [*others, _Recorder(history, out)]
    if out is not None:
        chain.append(_Checkpointer(out / CHECKPOINT_DIR, history, fp, t.checkpoint_every, t.epochs))
    return chain


def summarize(result: TrainResult, n_images: int) -> dict[str, Any]:
    """The numbers of ``metrics/train.json``: last epoch, timing, latest scores, provenance."""
    last = result.history[-1] if result.history else {}
    epoch_seconds = [row["seconds"] for row in result.history if "seconds" in row]
    summary: dict[str, Any] = {
        "epochs_trained": result.epochs_trained,
        "stop_reason": result.stop_reason,
        "resumed_from_epoch": result.resumed_from,
        **{k: last[k] for k in ("d_loss", "g_loss", "d_real", "d_fake") if k in last},
        "train_seconds": float(sum(epoch_seconds)),
        "seconds_per_epoch": float(np.mean(epoch_seconds)) if epoch_seconds else None,
        "images_per_second": result.images_per_epoch / float(np.mean(epoch_seconds)) if epoch_seconds else None,
        "images_seen": result.images_per_epoch * result.epochs_trained,
        "n_train_images": n_images,
        "precision": result.precision,
        "fingerprint": result.fingerprint,
        "model": result.model,
        "training": result.training,
    }
    scored = [row for row in result.history if "fid_fashion" in row]
    if scored:
        skip = {"seconds", "stop_reason", "d_loss", "g_loss", "d_real", "d_fake"}
        summary.update({k: v for k, v in scored[-1].items() if k not in skip})
        summary["scored_epoch"] = summary.pop("epoch")
    return summary


def write_outputs(result: TrainResult, out_dir: Path, n_images: int) -> dict[str, Any]:
    """Models, GIF, loss curve, history CSV and ``metrics/train.json`` under ``out_dir``."""
    out_dir = Path(out_dir)
    for model, rel in ((result.generator, GENERATOR_PATH), (result.discriminator, DISCRIMINATOR_PATH)):
        save_keras(model, out_dir / rel)
    frames = [sample_path(out_dir, e) for e in range(1, result.epochs_trained + 1)]
    save_gif([f for f in frames if f.is_file()], out_dir / SAMPLES_GIF)
    if result.history:
        figures.plot_losses(result.history, out_dir / LOSS_CURVE)
    figures.write_history_csv(result.history, out_dir / HISTORY_CSV)
    summary = summarize(result, n_images)
    write_json(out_dir / TRAIN_METRICS, summary)
    return summary

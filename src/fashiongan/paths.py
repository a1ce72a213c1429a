"""Every file a stage reads or writes, one name each, relative to the project root (where dvc.yaml lives).

:func:`project_root` finds that root also from a DVC experiment's temporary copy, for the files
that must outlive the copy (the git-ignored MLflow store).

Names that end in ``_NAME`` are file names inside a folder a caller chooses (a sweep's folder,
a trial's folder, the raw-data folder), so tests can point the folder elsewhere.
"""

from __future__ import annotations

import os
from pathlib import Path

RAW_DIR = Path("data/raw")
PROCESSED_DIR = Path("data/processed")
MODELS_DIR = Path("models")
CHECKPOINT_DIR = Path("checkpoints")
METRICS_DIR = Path("metrics")
PLOTS_DIR = Path("plots")
SWEEPS_DIR = Path("sweeps")
MLRUNS_DIR = Path("mlruns")

WORKSPACE_DIR = Path(".fashiongan")  # this workspace's locks (git-ignored, not a DVC output)
TRAIN_LOCK = WORKSPACE_DIR / "train.lock"  # held by the one trainer writing checkpoints/ and models/

# data/
MANIFEST_NAME = "manifest.json"  # in RAW_DIR: what fetch took from where, with checksums
META_NAME = "meta.json"  # in PROCESSED_DIR: counts and hashes of the processed splits

# models/
GENERATOR_PATH = MODELS_DIR / "generator.keras"
DISCRIMINATOR_PATH = MODELS_DIR / "discriminator.keras"
CLASSIFIER_PATH = MODELS_DIR / "classifier.keras"
REAL_STATS_PATH = MODELS_DIR / "real_stats.npz"

# checkpoints/
CHECKPOINT_NAME = "last.npz"
RUN_MARKER_NAME = "mlflow_run.json"  # the MLflow run training into the checkpoint

# plots/
SAMPLES_DIR = PLOTS_DIR / "samples"
SAMPLES_GIF = PLOTS_DIR / "samples.gif"
LOSS_CURVE = PLOTS_DIR / "loss_curve.png"
HISTORY_CSV = PLOTS_DIR / "train_history.csv"
EVAL_GRID = PLOTS_DIR / "eval_grid.png"

# metrics/
CLASSIFIER_METRICS = METRICS_DIR / "classifier.json"
TRAIN_METRICS = METRICS_DIR / "train.json"
EVALUATE_METRICS = METRICS_DIR / "evaluate.json"
SWEEP_METRICS = METRICS_DIR / "sweep.json"
PROMOTE_METRICS = METRICS_DIR / "promote.json"

# sweeps/ (a sweep's folder; SWEEPS_DIR unless a test points it elsewhere)
OPTUNA_DB_NAME = "optuna.db"
KERAS_TUNER_DIR_NAME = "keras_tuner"
TRIALS_DIR_NAME = "trials"
TRIALS_CSV_NAME = "trials.csv"
BEST_JSON_NAME = "best.json"
REPORT_HTML_NAME = "report.html"
SWEEP_PLOTS_DIR_NAME = "plots"
OUTCOME_NAME = "outcome.json"  # in a trial's folder
KERAS_TUNER_MARKER_NAME = "fashiongan.json"  # in a Keras Tuner project folder: its parent run
SWEEP_BEST = SWEEPS_DIR / BEST_JSON_NAME


def sample_path(out_dir: Path, epoch: int) -> Path:
    """Where the fixed-noise grid of ``epoch`` (1-based) is written under ``out_dir``."""
    return Path(out_dir) / SAMPLES_DIR / f"epoch_{epoch:03d}.png"


DVC_TEMP_PARTS = (".dvc", "tmp", "exps")  # dvc exp run --queue / --temp work in <root>/.dvc/tmp/exps/<name>/
_ROOT_MARKERS = (".dvc", ".git")


def project_root(start: Path | None = None) -> Path:
    """The project's root, where git-ignored outputs such as ``mlruns/`` live.

    ``$DVC_ROOT`` when DVC runs the stage (DVC sets it to the parent repository also for queued
    and ``--temp`` experiments); else the folder above a ``.dvc/tmp/exps/`` temporary copy; else the
    nearest folder holding ``.dvc`` or ``.git``; else ``start`` (the working directory).
    """
    here = Path(start if start is not None else Path.cwd()).absolute()
    env = os.environ.get("DVC_ROOT")
    if env and start is None:
        return Path(env).absolute()
    parts = here.parts
    for i in range(len(parts) - len(DVC_TEMP_PARTS), 0, -1):
        if parts[i : i + len(DVC_TEMP_PARTS)] == DVC_TEMP_PARTS:
            return Path(*parts[:i])
    for folder in (here, *here.parents):
        if any((folder / marker).exists() for marker in _ROOT_MARKERS):
            return folder
    return here

"""Where each stage reads and writes, relative to the project root (where dvc.yaml lives)."""

from __future__ import annotations

from pathlib import Path

RAW_DIR = Path("data/raw")
PROCESSED_DIR = Path("data/processed")
MODELS_DIR = Path("models")
CHECKPOINT_DIR = Path("checkpoints")
METRICS_DIR = Path("metrics")
PLOTS_DIR = Path("plots")
SWEEPS_DIR = Path("sweeps")
MLRUNS_DIR = Path("mlruns")

GENERATOR_PATH = MODELS_DIR / "generator.keras"
DISCRIMINATOR_PATH = MODELS_DIR / "discriminator.keras"
CLASSIFIER_PATH = MODELS_DIR / "classifier.keras"
REAL_STATS_PATH = MODELS_DIR / "real_stats.npz"

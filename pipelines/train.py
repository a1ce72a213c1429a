"""DVC stage ``train``: train the GAN on data/processed/train.npz.

Writes models/{generator,discriminator}.keras, checkpoints/last.npz (resumed when re-run
after an interruption), plots/samples/epoch_NNN.png, plots/samples.gif, plots/loss_curve.png,
plots/train_history.csv and metrics/train.json. fid_fashion is tracked per epoch when the
train_classifier stage's outputs exist.

Run: ``python pipelines/train.py`` (reads ``model.*`` and ``train.*`` from params.yaml).
"""

from fashiongan.paths import TRAIN_METRICS
from fashiongan.stages import run_stage


def describe(s: dict) -> str:
    """One line: epochs, preset, final losses, the last FID and why training stopped."""
    line = f"{s['epochs_trained']} epochs ({s['model']['preset']}), d_loss {s['d_loss']:.4f}, g_loss {s['g_loss']:.4f}"
    if "fid_fashion" in s:
        line += f", fid_fashion {s['fid_fashion']:.2f} (epoch {s['scored_epoch']})"
    if s["stop_reason"]:
        line += f", stopped: {s['stop_reason']}"
    return f"{line} -> {TRAIN_METRICS}"


if __name__ == "__main__":
    run_stage("train", describe)  # imported once train.backend is set

"""Training figures and tables: the loss curve and the per-epoch history CSV.

Both are written through :mod:`fashiongan.fileio`, so a killed run never leaves a half-written
PNG or CSV for DVC to cache. Sample grids and their GIF are :mod:`fashiongan.images`' job.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np

from fashiongan.fileio import atomic_path, write_csv

HISTORY_COLUMNS = ("epoch", "d_loss", "g_loss", "d_real", "d_fake", "seconds")
LN2 = float(np.log(2.0))


def history_columns(history: Iterable[dict]) -> list[str]:
    """The fixed columns first, then any extra score in order of first appearance."""
    columns = list(HISTORY_COLUMNS)
    for row in history:
        columns += [key for key in row if key not in columns]
    return columns


def write_history_csv(history: list[dict], path: Path) -> None:
    """One row per epoch; a score missing in an epoch is an empty cell."""
    columns = history_columns(history)
    write_csv(path, columns, ([row.get(key, "") for key in columns] for row in history))


def plot_losses(history: list[dict], path: Path) -> None:
    """Losses against ln 2 (top) and the discriminator's mean probabilities (bottom)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    epochs = [row["epoch"] for row in history]
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(6, 6), sharex=True)
    for key in ("d_loss", "g_loss"):
        top.plot(epochs, [row.get(key, np.nan) for row in history], marker="o", label=key)
    top.axhline(LN2, color="grey", linestyle=":", label="ln 2")
    top.set_ylabel("loss")
    top.legend()
    for key, label in (("d_real", "D(x)"), ("d_fake", "D(G(z))")):
        bottom.plot(epochs, [row.get(key, np.nan) for row in history], marker="o", label=label)
    bottom.set_ylim(0, 1)
    bottom.set_xlabel("epoch")
    bottom.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    bottom.set_ylabel("mean probability")
    bottom.legend()
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)

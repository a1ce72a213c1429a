"""Training figures and tables: sample grids, their GIF, the loss curve and the history CSV.

Every file is written to a temporary name and renamed, so a killed run never leaves a
half-written PNG or CSV for DVC to cache.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterable, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from PIL import Image

HISTORY_COLUMNS = ("epoch", "d_loss", "g_loss", "d_real", "d_fake", "seconds")
LN2 = float(np.log(2.0))


@contextmanager
def atomic_path(path: Path):
    """Yield a temporary sibling of ``path`` (same suffix) and rename it onto ``path`` on success."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp-{os.getpid()}{path.suffix}")
    try:
        yield tmp
        os.replace(tmp, path)
    except OSError as exc:
        if exc.filename in (None, str(tmp)) and exc.errno is not None:  # name the file the user knows
            raise OSError(exc.errno, exc.strerror, str(path)) from exc
        raise
    finally:
        if tmp.exists():
            tmp.unlink()


def image_grid(images: np.ndarray, grid_size: int, scale: int = 2, pad: int = 2) -> Image.Image:
    """Tile ``grid_size**2`` images in [-1, 1] (N, 28, 28, 1) into one grayscale picture."""
    images = np.asarray(images, dtype=np.float32)[: grid_size * grid_size]
    if len(images) < grid_size * grid_size:
        raise ValueError(f"need {grid_size * grid_size} images for a {grid_size}x{grid_size} grid, got {len(images)}")
    pixels = np.clip((images[..., 0] + 1.0) * 127.5, 0, 255).astype(np.uint8)
    h, w = pixels.shape[1:]
    canvas = np.full((grid_size * (h + pad) + pad, grid_size * (w + pad) + pad), 255, np.uint8)
    for i, img in enumerate(pixels):
        r, c = divmod(i, grid_size)
        canvas[pad + r * (h + pad) : pad + r * (h + pad) + h, pad + c * (w + pad) : pad + c * (w + pad) + w] = img
    picture = Image.fromarray(canvas)
    return picture.resize((canvas.shape[1] * scale, canvas.shape[0] * scale), Image.NEAREST)


def save_png(picture: Image.Image, path: Path) -> None:
    """Write a PNG atomically."""
    with atomic_path(path) as tmp:
        picture.save(tmp, format="PNG")


def save_gif(frames: Sequence[Path], path: Path, ms_per_frame: int = 300) -> None:
    """Animate the per-epoch grids (in the given order), looping forever."""
    if not frames:
        return
    pictures = []
    for frame in frames:
        with Image.open(frame) as picture:
            pictures.append(picture.convert("L"))
    with atomic_path(path) as tmp:
        pictures[0].save(tmp, format="GIF", save_all=True, append_images=pictures[1:], duration=ms_per_frame, loop=0)


def history_columns(history: Iterable[dict]) -> list[str]:
    """The fixed columns first, then any extra score in order of first appearance."""
    columns = list(HISTORY_COLUMNS)
    for row in history:
        columns += [key for key in row if key not in columns]
    return columns


def write_history_csv(history: list[dict], path: Path) -> None:
    """One row per epoch; a score missing in an epoch is an empty cell."""
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=history_columns(history), restval="")
        writer.writeheader()
        writer.writerows(history)


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

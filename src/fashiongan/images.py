"""Images from latents: the one latent draw, the one grid of tiles, and the GIF of the training grids.

Every image of this project comes from :func:`latents`: the evaluate stage's scores, the sweep's,
the per-epoch training grids and ``fashiongan sample``. So ``fashiongan sample --seed S --n N``
shows the first N images that ``evaluate`` scored with ``evaluate.seed`` S.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from fashiongan.errors import FashionGanError
from fashiongan.fileio import atomic_path

if TYPE_CHECKING:
    import keras

# From this many samples on, generation runs XLA-compiled where XLA is the faster path (a few seconds'
# compile per generator, then ~2x the images per second of Model.predict on a 2-core Xeon;
# benchmarks/fid_fashion_speed.py). With oneDNN kernels (AMD EPYC) the traced graph generated 10,000
# images in 5.2 s (tutorial) / 1.7 s (modern) against XLA's 8.1 / 3.0 s.
XLA_FROM_SAMPLES = 2000


def latents(n: int, latent_dim: int, seed: int) -> np.ndarray:
    """Standard-normal float32 latents from a numpy seed; the first rows do not depend on ``n``."""
    return np.random.default_rng(seed).standard_normal((n, latent_dim), dtype=np.float32)


def generate_images(generator: keras.Model, n_samples: int, seed: int, batch_size: int = 500) -> np.ndarray:
    """``n_samples`` images in [-1, 1], shape (n, 28, 28, 1), from ``generator`` for the latents of ``seed``."""
    if n_samples < 1:
        raise FashionGanError(f"n_samples must be at least 1, got {n_samples}")
    latent_dim = generator.input_shape[-1]
    if not isinstance(latent_dim, int):
        raise FashionGanError(f"generator input shape {generator.input_shape} has no fixed latent size")
    from fashiongan.inference import predict_batches  # imports Keras: not needed by the rest of this module
    from fashiongan.keras_backend import xla_is_faster

    xla = n_samples >= XLA_FROM_SAMPLES and xla_is_faster()
    images = predict_batches(generator, latents(n_samples, latent_dim, seed), batch_size, xla=xla)
    return np.asarray(images, np.float32)


def tile(images: np.ndarray, cols: int, *, pad: int = 2, scale: int = 2) -> Image.Image:
    """One grayscale picture of (N, h, w, 1) images in [-1, 1]: ``cols`` per row, white gutters of ``pad`` pixels.

    Rows are as many as the images need; empty cells stay white. ``scale`` enlarges the picture
    (nearest neighbour), so a 28x28 tile stays sharp in a browser.
    """
    pixels = np.clip((np.asarray(images, np.float32)[..., 0] + 1.0) * 127.5, 0, 255).astype(np.uint8)
    n, h, w = pixels.shape
    rows = max(1, math.ceil(n / cols))
    canvas = np.full((rows * (h + pad) + pad, cols * (w + pad) + pad), 255, np.uint8)
    for i, image in enumerate(pixels):
        r, c = divmod(i, cols)
        top, left = pad + r * (h + pad), pad + c * (w + pad)
        canvas[top : top + h, left : left + w] = image
    picture = Image.fromarray(canvas)
    return picture.resize((canvas.shape[1] * scale, canvas.shape[0] * scale), Image.Resampling.NEAREST)


def save_gif(frames: Sequence[Path], path: Path, ms_per_frame: int = 300) -> None:
    """Animate the per-epoch grids (in the given order), looping forever; nothing when there are none."""
    if not frames:
        return
    pictures = []
    for frame in frames:
        with Image.open(frame) as picture:
            pictures.append(picture.convert("L"))
    with atomic_path(path) as tmp:
        pictures[0].save(tmp, format="GIF", save_all=True, append_images=pictures[1:], duration=ms_per_frame, loop=0)

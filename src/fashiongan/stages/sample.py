"""``fashiongan sample``: a grid of images from a registered generator (or any MLflow model URI).

The images come from the same latent draw as the evaluate stage's, so ``--seed`` set to
``evaluate.seed`` shows the first images that evaluate scored.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from PIL import Image

from fashiongan import tracking
from fashiongan.config import Params
from fashiongan.errors import FashionGanError
from fashiongan.fileio import write_image
from fashiongan.images import generate_images, tile


def grid_picture(images: np.ndarray) -> Image.Image:
    """``fashiongan sample``'s grid: ceil(sqrt(n)) tiles per row, no gutters, at 1:1 scale."""
    return tile(images, math.ceil(math.sqrt(len(images))), pad=0, scale=1)


def sample_grid(model_uri: str, n: int, out: Path, seed: int) -> Path:
    """Write a PNG grid of ``n`` images from any MLflow model URI (e.g. ``models:/fashion-dcgan@champion``)."""
    if n < 1:
        raise FashionGanError(f"cannot draw a grid of {n} images: pass n >= 1")
    generator = tracking.load_generator(model_uri)
    return write_image(out, grid_picture(generate_images(generator, n, seed)))


def sample_stage(params: Params, model_uri: str, n: int, out: Path, seed: int) -> Path:
    """Point MLflow at the project's store (``params``), then write the grid; the file written."""
    tracking.activate(params)
    return sample_grid(model_uri, n, out, seed)

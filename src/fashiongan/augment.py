"""DiffAugment (Zhao et al. 2020): random translation and cutout, differentiable in the images.

The same random transform family is applied to real and generated images right before the
discriminator, so the discriminator cannot memorise a small training set while the generator
still receives gradients through the augmentation. Both ops are written as masks and one-hot
shift matrices in ``keras.ops`` (no gathers), so they run on every Keras backend.

One change from the reference code: pixels shifted in from outside the image and the cut-out
square take the images' background, -1 (black), not 0 (mid-grey). Fashion-MNIST garments lie on
black, so a grey fill adds frames and grey squares no real image has; with grey fills the modern
preset's samples showed hard-edged grey holes and frames (measured in the README's ablation).
"""

from __future__ import annotations

import keras
from keras import ops

TRANSLATION_RATIO = 0.125  # shift of up to 1/8 of the side: +-4 px at 28 px (the paper's value)
CUTOUT_RATIO = 0.5  # a square of half the side: 14 px at 28 px
BACKGROUND = -1.0  # the value of an empty Fashion-MNIST pixel in [-1, 1]
POLICIES = ("translation", "cutout", "translation,cutout")


def _shift_matrices(shifts, size: int):
    """One-hot [B, size, size] matrices M with (M @ v)[i] = v[i - shift], 0 where out of range."""
    rows = ops.arange(size, dtype="int32")[None, :, None]
    cols = ops.arange(size, dtype="int32")[None, None, :]
    return ops.cast(ops.equal(cols, rows - shifts[:, None, None]), "float32")


def translate(
    images, seed: keras.random.SeedGenerator, ratio: float = TRANSLATION_RATIO, fill: float = BACKGROUND
):
    """Shift each image by its own integer offset in [-r, r] pixels along each axis; uncovered pixels are ``fill``."""
    batch, height, width = ops.shape(images)[0], images.shape[1], images.shape[2]
    reach_h, reach_w = int(height * ratio + 0.5), int(width * ratio + 0.5)
    dy = keras.random.randint((batch,), -reach_h, reach_h + 1, dtype="int32", seed=seed)
    dx = keras.random.randint((batch,), -reach_w, reach_w + 1, dtype="int32", seed=seed)
    rows = ops.cast(_shift_matrices(dy, height), images.dtype)
    cols = ops.cast(_shift_matrices(dx, width), images.dtype)
    return ops.einsum("bij,bjkc,blk->bilc", rows, images - fill, cols) + fill


def cutout(images, seed: keras.random.SeedGenerator, ratio: float = CUTOUT_RATIO, fill: float = BACKGROUND):
    """Set one square of side ``ratio`` x the image side per image to ``fill``, centred anywhere (clipped at edges)."""
    batch, height, width = ops.shape(images)[0], images.shape[1], images.shape[2]
    size_h, size_w = int(height * ratio + 0.5), int(width * ratio + 0.5)
    top = keras.random.randint((batch,), 0, height + (1 - size_h % 2), dtype="int32", seed=seed) - size_h // 2
    left = keras.random.randint((batch,), 0, width + (1 - size_w % 2), dtype="int32", seed=seed) - size_w // 2
    r = ops.arange(height, dtype="int32")[None, :]
    c = ops.arange(width, dtype="int32")[None, :]
    inside_r = ops.logical_and(r >= top[:, None], r < top[:, None] + size_h)
    inside_c = ops.logical_and(c >= left[:, None], c < left[:, None] + size_w)
    cut = ops.cast(ops.logical_and(inside_r[:, :, None], inside_c[:, None, :]), images.dtype)[..., None]
    return images * (1 - cut) + fill * cut


def diff_augment(images, seed: keras.random.SeedGenerator, policy: str = "translation,cutout"):
    """The ops ``policy`` names, in its order (``translation``, ``cutout``): output has the input's shape, dtype and range."""
    ops_by_name = {"translation": translate, "cutout": cutout}
    for name in filter(None, policy.split(",")):
        images = ops_by_name[name](images, seed)
    return images

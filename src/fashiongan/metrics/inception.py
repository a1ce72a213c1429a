"""The standard FID (``fid_inception``): FID Inception pool3 features, and the Fréchet distance of two image sets.

The network and its input pipeline (uint8 quantisation, TF1 bilinear resize, scaling) are in
:mod:`.inception_net`, its weights in :mod:`.inception_weights`; this module builds it once per
process, checks the images handed to it and turns features into a FID with :mod:`.frechet`.
"""

from __future__ import annotations

from functools import lru_cache

import keras
import numpy as np

from fashiongan.errors import FashionGanError
from fashiongan.inference import predict_batches
from fashiongan.keras_backend import xla_is_faster
from fashiongan.metrics.frechet import feature_statistics, frechet_distance
from fashiongan.metrics.inception_net import IMAGE_SIZE, build_inception

DEFAULT_BATCH_SIZE = 50
# From this many images on, XLA compiles the network (~7 s once per process on 2 cores) and then runs
# it ~1.2x faster than the traced graph where XLA is the faster path (keras_backend.xla_is_faster; with
# oneDNN kernels the traced graph is 1.5x faster): below it the compile costs more than it saves.
XLA_FROM_IMAGES = 500


@lru_cache(maxsize=1)
def cached_inception() -> keras.Model:
    """The FID Inception built once per process (loading and building take a few seconds)."""
    return build_inception()


def _as_images(images: np.ndarray, name: str) -> np.ndarray:
    array = np.asarray(images)
    if array.ndim == 3:
        array = array[..., None]
    if array.ndim != 4 or array.shape[1:] != (IMAGE_SIZE, IMAGE_SIZE, 1):
        raise FashionGanError(
            f"{name} must be N×28×28×1 images in [-1, 1], got shape {array.shape}: pass Fashion-MNIST-sized images"
        )
    if array.dtype == np.uint8:
        raise FashionGanError(f"{name} are uint8: scale them to [-1, 1] first (x / 127.5 - 1)")
    return array.astype(np.float32, copy=False)


def inception_features(images: np.ndarray, batch_size: int = DEFAULT_BATCH_SIZE) -> np.ndarray:
    """pool3 features (float64, N×2048) of N×28×28(×1) images in [-1, 1], as the standard FID computes them.

    Images are quantised to uint8 first (see :mod:`.inception_net`), so a generated image and its
    saved PNG give the same features. Batches run through one traced call (:mod:`fashiongan.inference`).
    """
    array = _as_images(images, "images")
    if not len(array):
        return np.zeros((0, 2048), np.float64)
    xla = len(array) >= XLA_FROM_IMAGES and xla_is_faster()
    features = predict_batches(cached_inception(), array, batch_size, xla=xla)
    return np.asarray(features, dtype=np.float64)


def inception_fid(generated: np.ndarray, real: np.ndarray, batch_size: int = DEFAULT_BATCH_SIZE) -> float:
    """Standard (TTUR / pytorch-fid Inception) FID between two image sets in [-1, 1].

    Comparable to published numbers only at the published sample sizes (10,000 generated vs the
    10,000 test images): FID is biased and falls as the sample count grows, so log the count with it.
    """
    mu_g, sigma_g = feature_statistics(inception_features(generated, batch_size), "generated features")
    mu_r, sigma_r = feature_statistics(inception_features(real, batch_size), "real features")
    return frechet_distance(mu_g, sigma_g, mu_r, sigma_r)

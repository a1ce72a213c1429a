"""Shared, cached test objects for the metrics tests: the bundled sample and a briefly trained classifier.

Cached per session with ``lru_cache`` so the four metrics test files train the classifier once.
"""

from __future__ import annotations

import functools

import keras
import numpy as np

from fashiongan.config import ClassifierParams
from fashiongan.data import scale
from fashiongan.fetch import sample_folder
from fashiongan.idx import read_idx
from fashiongan.metrics.classifier import FeatureExtractor, train_classifier, weights_digest
from fashiongan.metrics.real_stats import RealStats, compute_real_stats


@functools.lru_cache(maxsize=1)
def sample_data() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The bundled genuine sample: 2,000 train and 1,000 test images in [-1, 1]."""
    folder = sample_folder()
    x_train = scale(read_idx(folder / "train-images-idx3-ubyte.gz"))
    y_train = read_idx(folder / "train-labels-idx1-ubyte.gz").astype(np.int64)
    x_test = scale(read_idx(folder / "t10k-images-idx3-ubyte.gz"))
    y_test = read_idx(folder / "t10k-labels-idx1-ubyte.gz").astype(np.int64)
    return x_train, y_train, x_test, y_test


@functools.lru_cache(maxsize=1)
def trained_classifier() -> keras.Model:
    """The project's classifier after 2 epochs on the 2,000 sample images (about 10 s)."""
    x_train, y_train, _, _ = sample_data()
    return train_classifier(x_train, y_train, ClassifierParams(epochs=2, batch_size=64, seed=0))


@functools.lru_cache(maxsize=1)
def sample_real_stats() -> RealStats:
    """Real statistics of the 1,000 sample test images under :func:`trained_classifier`."""
    classifier = trained_classifier()
    _, _, x_test, y_test = sample_data()
    features, probs = FeatureExtractor(classifier)(x_test)
    return compute_real_stats(features, probs, x_test, y_test, weights_digest(classifier), split="test")


def tiny_generator(latent_dim: int = 8, seed: int = 0) -> keras.Model:
    """A small untrained generator: latent -> Dense -> 28x28x1 in [-1, 1]."""
    keras.utils.set_random_seed(seed)
    z = keras.Input((latent_dim,), name="z")
    x = keras.layers.Dense(7 * 7 * 4, activation="relu")(z)
    x = keras.layers.Reshape((7, 7, 4))(x)
    x = keras.layers.Conv2DTranspose(1, 4, strides=4, padding="same", activation="tanh")(x)
    return keras.Model(z, x, name="tiny_generator")

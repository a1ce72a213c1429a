"""Diversity metrics: which classes a generator makes, and precision/recall of its samples.

FID folds quality and diversity into one number; a collapsed generator that draws perfect
sneakers can still score a middling FID. These numbers make the failure visible:
``classes_covered`` and ``class_kl`` from the classifier's predicted labels, and precision /
recall (Kynkäänniemi et al. 2019) from k-NN balls in the classifier's feature space.
"""

from __future__ import annotations

import numpy as np
from scipy.special import rel_entr

from fashiongan.errors import FashionGanError
from fashiongan.metrics.frechet import check_features

KL_PSEUDOCOUNT = 0.5
DISTANCE_CHUNK = 1024


def class_counts(predicted: np.ndarray, n_classes: int = 10) -> np.ndarray:
    """Histogram of predicted class ids."""
    predicted = np.asarray(predicted)
    if predicted.ndim != 1 or predicted.size == 0:
        raise FashionGanError(f"predicted labels must be a non-empty 1-D array, got shape {predicted.shape}")
    if predicted.min() < 0 or predicted.max() >= n_classes:
        raise FashionGanError(f"predicted labels must be in 0..{n_classes - 1}")
    return np.bincount(predicted.astype(np.int64), minlength=n_classes)


def classes_covered(counts: np.ndarray, threshold: float = 0.02) -> int:
    """Number of classes that receive at least ``threshold`` of the samples."""
    counts = np.asarray(counts, np.float64)
    return int(np.sum(counts / counts.sum() >= threshold))


def class_kl(counts: np.ndarray, real_counts: np.ndarray, pseudocount: float = KL_PSEUDOCOUNT) -> float:
    """KL(p_generated || p_real) of the class histograms, in nats.

    Both histograms get ``pseudocount`` added per class (Jeffreys smoothing) so an empty class is
    finite. 0 means the generator draws classes as often as the real data; with a uniform real
    histogram, a generator that makes one class scores about ln 10 = 2.3.
    """
    counts, real_counts = np.asarray(counts, np.float64), np.asarray(real_counts, np.float64)
    if counts.shape != real_counts.shape:
        raise FashionGanError(f"class histograms differ in length ({counts.shape} vs {real_counts.shape})")
    p = (counts + pseudocount) / (counts.sum() + pseudocount * counts.size)
    q = (real_counts + pseudocount) / (real_counts.sum() + pseudocount * real_counts.size)
    return float(np.sum(rel_entr(p, q)))


def _squared_distances(a: np.ndarray, b: np.ndarray, b_sq: np.ndarray) -> np.ndarray:
    """Pairwise squared Euclidean distances via the dot-product expansion (one BLAS call)."""
    d = np.einsum("ij,ij->i", a, a)[:, None] + b_sq[None, :] - 2.0 * (a @ b.T)
    return np.maximum(d, 0.0, out=d)


def knn_radii_squared(features: np.ndarray, k: int, chunk: int = DISTANCE_CHUNK) -> np.ndarray:
    """Squared distance from each point to its k-th nearest other point in the same set."""
    n = features.shape[0]
    if n <= k:
        raise FashionGanError(f"precision/recall with k={k} needs more than {k} samples per set, got {n}")
    sq = np.einsum("ij,ij->i", features, features)
    radii = np.empty(n, dtype=features.dtype)
    for start in range(0, n, chunk):
        d = _squared_distances(features[start : start + chunk], features, sq)
        # Column k of the partition: index 0 is the point itself (distance 0).
        radii[start : start + chunk] = np.partition(d, k, axis=1)[:, k]
    return radii


def precision_recall(
    real: np.ndarray,
    generated: np.ndarray,
    k: int = 3,
    chunk: int = DISTANCE_CHUNK,
    real_radii: np.ndarray | None = None,
) -> tuple[float, float]:
    """Improved precision and recall (Kynkäänniemi et al. 2019).

    Each sample's k-NN ball is the ball reaching its k-th nearest neighbour within its own set.
    precision = share of generated samples inside at least one real ball (quality);
    recall = share of real samples inside at least one generated ball (coverage). Compare values
    only at equal set sizes: the balls shrink as the sets grow. ``real_radii`` (from
    :func:`knn_radii_squared` of ``real`` with the same k) skips recomputing the real balls.
    """
    real = check_features(real, "real features", min_samples=k + 1).astype(np.float32)
    generated = check_features(generated, "generated features", min_samples=k + 1).astype(np.float32)
    if real.shape[1] != generated.shape[1]:
        raise FashionGanError(f"feature dims differ ({real.shape[1]} vs {generated.shape[1]}); use the same extractor")
    if real_radii is None:
        real_radii = knn_radii_squared(real, k, chunk)
    elif real_radii.shape != (len(real),):
        raise FashionGanError(f"real_radii has shape {real_radii.shape}, expected ({len(real)},)")
    gen_radii = knn_radii_squared(generated, k, chunk)
    real_sq = np.einsum("ij,ij->i", real, real)
    in_real_ball = np.empty(len(generated), dtype=bool)
    real_covered = np.zeros(len(real), dtype=bool)
    for start in range(0, len(generated), chunk):
        d = _squared_distances(generated[start : start + chunk], real, real_sq)
        in_real_ball[start : start + chunk] = (d <= real_radii[None, :]).any(axis=1)
        real_covered |= (d <= gen_radii[start : start + chunk, None]).any(axis=0)
    return float(in_real_ball.mean()), float(real_covered.mean())

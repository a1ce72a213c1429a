"""Fréchet distance (FID) and kernel distance (KID) between two sets of features.

The formulas follow the reference implementations (TTUR, pytorch-fid, tensorflow-gan,
clean-fid) so that a number computed here means what readers expect. Statistics are in
float64: float32 covariances of a few thousand samples lose enough precision to move FID in
the second decimal.

FID is biased: its expected value drops as the sample size grows, so two FIDs are comparable
only when both were computed with the same number of generated and real samples (and the same
feature extractor). Log the sample count beside every FID; KID is unbiased and less sensitive.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy import linalg

from fashiongan.errors import FashionGanError

SQRTM_EPS = 1e-6
IMAGINARY_TOLERANCE = 1e-3


class SmallSampleWarning(UserWarning):
    """Fewer samples than feature dimensions: the covariance is singular and FID is unreliable."""


def check_features(features: np.ndarray, name: str = "features", min_samples: int = 2) -> np.ndarray:
    """Return ``features`` as a 2-D float64 array, or raise a one-line error saying what is wrong."""
    array = np.asarray(features)
    if array.ndim != 2:
        raise FashionGanError(f"{name} must be a 2-D array (samples x feature dims), got shape {array.shape}")
    if not np.issubdtype(array.dtype, np.number):
        raise FashionGanError(f"{name} must be numeric, got dtype {array.dtype}")
    if array.shape[0] < min_samples:
        raise FashionGanError(f"{name} has {array.shape[0]} samples; at least {min_samples} are needed, use more samples")
    array = array.astype(np.float64, copy=False)
    if not np.isfinite(array).all():
        bad = int((~np.isfinite(array).all(axis=1)).sum())
        raise FashionGanError(f"{name} has {bad} rows with NaN or inf values: the images or the model produced non-finite numbers")
    return array


def feature_statistics(features: np.ndarray, name: str = "features") -> tuple[np.ndarray, np.ndarray]:
    """Mean and (unbiased, ``ddof=1``) covariance of ``features`` in float64.

    Warns with :class:`SmallSampleWarning` when there are fewer samples than dimensions: the
    covariance is then rank-deficient and the FID depends strongly on the sample size.
    """
    array = check_features(features, name)
    n, dim = array.shape
    if n < dim:
        warnings.warn(
            f"{name}: {n} samples for {dim} feature dims gives a singular covariance; use at least {dim} "
            "samples (thousands for a stable FID)",
            SmallSampleWarning,
            stacklevel=2,
        )
    mu = array.mean(axis=0)
    sigma = np.cov(array, rowvar=False)
    return mu, np.atleast_2d(sigma)


def _sqrtm(matrix: np.ndarray) -> np.ndarray:
    """``scipy.linalg.sqrtm`` without its singular-matrix warning: the result is checked below instead."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", linalg.LinAlgWarning)
        return linalg.sqrtm(matrix)


def frechet_distance(
    mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray, eps: float = SQRTM_EPS
) -> float:
    """Fréchet distance between the Gaussians N(mu1, sigma1) and N(mu2, sigma2).

    ``d^2 = |mu1 - mu2|^2 + Tr(sigma1 + sigma2 - 2 (sigma1 sigma2)^(1/2))``

    As in pytorch-fid/TTUR: when ``sqrtm`` of the product is not finite (near-singular
    covariances) ``eps * I`` is added to both covariances with a warning; tiny imaginary parts
    from rounding are dropped, and a diagonal imaginary part above 1e-3 raises, because then the
    statistics are not valid covariances. Comparable only at equal sample sizes (see module doc).
    """
    mu1, mu2 = np.atleast_1d(np.asarray(mu1, np.float64)), np.atleast_1d(np.asarray(mu2, np.float64))
    sigma1, sigma2 = np.atleast_2d(np.asarray(sigma1, np.float64)), np.atleast_2d(np.asarray(sigma2, np.float64))
    dim = mu1.shape[0]
    if mu1.shape != mu2.shape or sigma1.shape != (dim, dim) or sigma2.shape != (dim, dim):
        raise FashionGanError(
            f"statistics do not match: means {mu1.shape} and {mu2.shape}, covariances {sigma1.shape} and "
            f"{sigma2.shape}; compute both with the same feature extractor"
        )
    for label, value in (("mu1", mu1), ("sigma1", sigma1), ("mu2", mu2), ("sigma2", sigma2)):
        if not np.isfinite(value).all():
            raise FashionGanError(f"{label} contains NaN or inf: the features it was computed from were not finite")

    diff = mu1 - mu2
    covmean = _sqrtm(sigma1 @ sigma2)
    if not np.isfinite(covmean).all():
        warnings.warn(
            f"FID: product of covariances is singular; adding {eps} to their diagonals", RuntimeWarning, stacklevel=2
        )
        offset = np.eye(dim) * eps
        covmean = _sqrtm((sigma1 + offset) @ (sigma2 + offset))
    if np.iscomplexobj(covmean):
        if not np.allclose(np.diagonal(covmean).imag, 0, atol=IMAGINARY_TOLERANCE):
            worst = float(np.max(np.abs(covmean.imag)))
            raise FashionGanError(
                f"FID: sqrtm has an imaginary component of {worst:.3g}; the covariances are not valid, use more samples"
            )
        covmean = covmean.real
    value = diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2.0 * np.trace(covmean)
    return float(max(value, 0.0))


def fid_from_features(features1: np.ndarray, features2: np.ndarray) -> float:
    """FID between two feature sets (see :func:`frechet_distance`)."""
    mu1, sigma1 = feature_statistics(features1, "first features")
    mu2, sigma2 = feature_statistics(features2, "second features")
    return frechet_distance(mu1, sigma1, mu2, sigma2)


def kernel_distance(
    features1: np.ndarray,
    features2: np.ndarray,
    n_subsets: int = 10,
    subset_size: int = 500,
    seed: int = 0,
) -> tuple[float, float]:
    """KID: unbiased MMD^2 with the cubic polynomial kernel, averaged over random subsets.

    ``k(x, y) = (x . y / d + 1)^3`` with ``d`` the feature dimension, and for subsets X, Y of
    size m:  ``MMD^2 = sum_{i!=j} k(x_i, x_j) / (m(m-1)) + sum_{i!=j} k(y_i, y_j) / (m(m-1))
    - 2 sum_{i,j} k(x_i, y_j) / m^2``   (Binkowski et al. 2018).

    The subset size is capped by the smaller set. Returns the mean and standard deviation over
    subsets. Unbiased, so its expectation does not drift with the sample size, and it can be
    slightly negative when the two sets come from the same distribution.
    """
    x_all = check_features(features1, "first features")
    y_all = check_features(features2, "second features")
    if x_all.shape[1] != y_all.shape[1]:
        raise FashionGanError(
            f"feature dims differ ({x_all.shape[1]} vs {y_all.shape[1]}); compute both with the same extractor"
        )
    if n_subsets < 1 or subset_size < 2:
        raise FashionGanError(f"KID needs n_subsets >= 1 and subset_size >= 2, got {n_subsets} and {subset_size}")
    dim = x_all.shape[1]
    m = min(subset_size, x_all.shape[0], y_all.shape[0])
    rng = np.random.default_rng(seed)
    values = np.empty(n_subsets)
    for i in range(n_subsets):
        x = x_all[rng.choice(x_all.shape[0], m, replace=False)]
        y = y_all[rng.choice(y_all.shape[0], m, replace=False)]
        k_xx = (x @ x.T / dim + 1.0) ** 3
        k_yy = (y @ y.T / dim + 1.0) ** 3
        k_xy = (x @ y.T / dim + 1.0) ** 3
        within = (k_xx.sum() - np.trace(k_xx) + k_yy.sum() - np.trace(k_yy)) / (m * (m - 1))
        values[i] = within - 2.0 * k_xy.sum() / (m * m)
    return float(values.mean()), float(values.std())

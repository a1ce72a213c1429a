"""FID and KID: reference values, properties, and input validation."""

from __future__ import annotations

import numpy as np
import pytest
from metrics_support import sample_data, trained_classifier
from scipy import linalg

from fashiongan.errors import FashionGanError
from fashiongan.metrics import frechet
from fashiongan.metrics.classifier import FeatureExtractor
from fashiongan.metrics.frechet import (
    SmallSampleWarning,
    feature_statistics,
    fid_from_features,
    frechet_distance,
    kernel_distance,
)


def _gaussian(n: int, mean: np.ndarray, std: np.ndarray, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).normal(mean, std, size=(n, len(mean)))


def _reference_fid(mu1, sigma1, mu2, sigma2) -> float:
    """Independent route: Tr (S1 S2)^(1/2) = Tr (S1^(1/2) S2 S1^(1/2))^(1/2), via eigendecompositions."""
    w, v = np.linalg.eigh(sigma1)
    root1 = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
    inner = np.linalg.eigvalsh(root1 @ sigma2 @ root1)
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2 * np.sqrt(np.clip(inner, 0, None)).sum())


def test_fid_of_a_set_with_itself_is_zero():
    x = _gaussian(400, np.zeros(8), np.ones(8), seed=0)
    assert fid_from_features(x, x) == pytest.approx(0.0, abs=1e-8)


def test_closed_form_for_diagonal_gaussians():
    mu1, mu2 = np.array([0.0, 1.0, -2.0, 0.5]), np.array([1.0, 1.0, 0.0, 0.0])
    var1, var2 = np.array([1.0, 4.0, 0.25, 2.0]), np.array([2.0, 1.0, 1.0, 0.5])
    exact = np.sum((mu1 - mu2) ** 2) + np.sum(var1 + var2 - 2 * np.sqrt(var1 * var2))
    assert frechet_distance(mu1, np.diag(var1), mu2, np.diag(var2)) == pytest.approx(exact, rel=1e-10)
    sampled = fid_from_features(_gaussian(40_000, mu1, np.sqrt(var1), 1), _gaussian(40_000, mu2, np.sqrt(var2), 2))
    assert sampled == pytest.approx(exact, rel=0.03)


def test_matches_an_independent_reference_for_full_covariances():
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=(6, 6)), rng.normal(size=(6, 6))
    sigma1, sigma2 = a @ a.T + 0.1 * np.eye(6), b @ b.T + 0.1 * np.eye(6)
    mu1, mu2 = rng.normal(size=6), rng.normal(size=6)
    assert frechet_distance(mu1, sigma1, mu2, sigma2) == pytest.approx(_reference_fid(mu1, sigma1, mu2, sigma2), rel=1e-8)


def test_fid_is_symmetric():
    x = _gaussian(500, np.zeros(5), np.ones(5), seed=4)
    y = _gaussian(500, np.full(5, 0.3), np.full(5, 1.5), seed=5)
    assert fid_from_features(x, y) == pytest.approx(fid_from_features(y, x), rel=1e-8)


def test_statistics_are_float64_with_unbiased_covariance():
    x = _gaussian(50, np.zeros(3), np.ones(3), seed=6).astype(np.float32)
    mu, sigma = feature_statistics(x)
    assert mu.dtype == sigma.dtype == np.float64
    np.testing.assert_allclose(sigma, np.cov(x.astype(np.float64), rowvar=False))


@pytest.mark.slow
def test_fid_rises_with_image_noise_in_classifier_features():
    """FID of the real test images against ever noisier train images grows monotonically."""
    x_train, _, x_test, _ = sample_data()
    extract = FeatureExtractor(trained_classifier())
    real, _ = extract(x_test)
    rng = np.random.default_rng(0)
    base = x_train[:1000]
    fids = []
    for noise in (0.0, 0.2, 0.5, 1.0):
        noisy = np.clip(base + noise * rng.standard_normal(base.shape).astype(np.float32), -1, 1)
        fids.append(fid_from_features(extract(noisy)[0], real))
    assert all(a < b for a, b in zip(fids, fids[1:])), fids


def test_kid_is_near_zero_for_halves_of_one_set_and_positive_for_different_sets():
    x = _gaussian(2000, np.zeros(16), np.ones(16), seed=7)
    same, same_std = kernel_distance(x[:1000], x[1000:], n_subsets=10, subset_size=500)
    shifted, _ = kernel_distance(x[:1000], x[1000:] + 0.5, n_subsets=10, subset_size=500)
    assert abs(same) < 3 * same_std + 1e-3
    assert shifted > 20 * max(abs(same), same_std)


def test_kid_is_unbiased_at_small_subsets():
    """Unlike FID, the expected KID of two samples of one distribution is ~0 even for tiny subsets."""
    x = _gaussian(4000, np.zeros(8), np.ones(8), seed=8)
    means = [kernel_distance(x[:2000], x[2000:], n_subsets=50, subset_size=m, seed=1)[0] for m in (20, 200)]
    fids = [fid_from_features(x[:m], x[2000 : 2000 + m]) for m in (20, 200)]
    assert abs(means[0]) < 0.05 and abs(means[1]) < 0.01
    assert fids[0] > 5 * fids[1]


@pytest.mark.parametrize(
    ("features", "message"),
    [
        (np.zeros((10, 2, 2)), "2-D"),
        (np.ones((1, 4)), "at least 2"),
        (np.array([[0.0, np.nan], [1.0, 2.0], [3.0, 4.0]]), "NaN or inf"),
        (np.array([[0.0, np.inf], [1.0, 2.0], [3.0, 4.0]]), "NaN or inf"),
    ],
)
def test_bad_features_raise_one_line_errors(features, message):
    good = np.random.default_rng(0).normal(size=(10, features.shape[-1]))
    with pytest.raises(FashionGanError, match=message) as info:
        fid_from_features(features, good)
    assert "\n" not in str(info.value)


def test_mismatched_dimensions_raise():
    with pytest.raises(FashionGanError, match="do not match"):
        fid_from_features(np.ones((5, 3)) + np.eye(5, 3), np.ones((5, 4)) + np.eye(5, 4))
    with pytest.raises(FashionGanError, match="feature dims differ"):
        kernel_distance(np.ones((5, 3)), np.ones((5, 4)))


def test_fewer_samples_than_dimensions_warns_but_still_scores():
    x = _gaussian(10, np.zeros(32), np.ones(32), seed=9)
    y = _gaussian(10, np.ones(32), np.ones(32), seed=10)
    with pytest.warns(SmallSampleWarning, match="singular covariance"):
        value = fid_from_features(x, y)
    assert np.isfinite(value) and value > 0


def test_non_finite_sqrtm_retries_with_an_offset(monkeypatch):
    calls = []
    real_sqrtm = linalg.sqrtm

    def flaky_sqrtm(matrix):
        calls.append(matrix)
        return np.full_like(matrix, np.nan) if len(calls) == 1 else real_sqrtm(matrix)

    monkeypatch.setattr(frechet.linalg, "sqrtm", flaky_sqrtm)
    sigma = np.diag([1.0, 2.0])
    with pytest.warns(RuntimeWarning, match="adding 1e-06"):
        value = frechet_distance(np.zeros(2), sigma, np.zeros(2), sigma)
    assert len(calls) == 2
    np.testing.assert_allclose(calls[1], (sigma + 1e-6 * np.eye(2)) @ (sigma + 1e-6 * np.eye(2)))
    assert value == pytest.approx(0.0, abs=1e-6)


def test_tiny_imaginary_parts_are_dropped_and_large_ones_raise(monkeypatch):
    sigma = np.diag([1.0, 4.0])
    exact = linalg.sqrtm(sigma @ sigma)
    monkeypatch.setattr(frechet.linalg, "sqrtm", lambda m: exact + 1e-9j)
    assert frechet_distance(np.zeros(2), sigma, np.zeros(2), sigma) == pytest.approx(0.0, abs=1e-8)
    monkeypatch.setattr(frechet.linalg, "sqrtm", lambda m: exact + 0.1j * np.eye(2))
    with pytest.raises(FashionGanError, match="imaginary component"):
        frechet_distance(np.zeros(2), sigma, np.zeros(2), sigma)

"""Diversity metrics: class coverage, class KL, and k-NN precision/recall."""

from __future__ import annotations

import math

import numpy as np
import pytest
from metrics_support import sample_data, sample_real_stats, trained_classifier

from fashiongan.config import EvaluateParams
from fashiongan.errors import FashionGanError
from fashiongan.metrics.diversity import (
    class_counts,
    class_kl,
    classes_covered,
    knn_radii_squared,
    precision_recall,
)
from fashiongan.metrics.evaluator import FashionEvaluator


def test_coverage_counts_classes_above_the_threshold():
    counts = class_counts(np.array([0] * 90 + [1] * 9 + [2]))
    assert counts.tolist() == [90, 9, 1, 0, 0, 0, 0, 0, 0, 0]
    assert classes_covered(counts, threshold=0.02) == 2
    assert classes_covered(counts, threshold=0.01) == 3
    assert classes_covered(np.full(10, 7), threshold=0.02) == 10


def test_class_kl_is_zero_for_matching_and_about_ln10_for_one_class():
    uniform = np.full(10, 1000)
    assert class_kl(uniform, uniform) == pytest.approx(0.0, abs=1e-12)
    one_class = class_counts(np.full(2000, 3))
    assert class_kl(one_class, uniform) == pytest.approx(math.log(10), abs=0.05)
    two_classes = class_counts(np.repeat([3, 7], 1000))
    assert 0 < class_kl(two_classes, uniform) < class_kl(one_class, uniform)


def test_class_inputs_are_validated():
    with pytest.raises(FashionGanError, match="0..9"):
        class_counts(np.array([0, 10]))
    with pytest.raises(FashionGanError, match="differ in length"):
        class_kl(np.ones(10), np.ones(9))


def test_knn_radius_is_the_distance_to_the_kth_other_point():
    points = np.array([[0.0], [1.0], [3.0], [7.0]], dtype=np.float32)
    np.testing.assert_allclose(knn_radii_squared(points, k=1, chunk=3), [1.0, 1.0, 4.0, 16.0])
    np.testing.assert_allclose(knn_radii_squared(points, k=2, chunk=3), [9.0, 4.0, 9.0, 36.0])


def test_precision_recall_identical_disjoint_and_collapsed():
    rng = np.random.default_rng(0)
    real = rng.standard_normal((1500, 16)).astype(np.float32)
    assert precision_recall(real, real.copy(), k=3, chunk=400) == (1.0, 1.0)
    assert precision_recall(real, real + 100.0, k=3) == (0.0, 0.0)
    collapsed = 0.05 * rng.standard_normal((1500, 16)).astype(np.float32)
    precision, recall = precision_recall(real, collapsed, k=3)
    assert precision > 0.9 and recall < 0.05


def test_precision_recall_needs_more_than_k_samples():
    with pytest.raises(FashionGanError, match="at least 4"):
        precision_recall(np.ones((3, 2)), np.ones((10, 2)), k=3)


@pytest.mark.slow
def test_a_one_class_generator_shows_in_every_diversity_number():
    """Real sample images of one class vs all classes, scored by the trained classifier."""
    x_train, y_train, _, _ = sample_data()
    evaluator = FashionEvaluator(trained_classifier(), sample_real_stats(), EvaluateParams(kid_subset_size=100))
    diverse = evaluator.score_images(x_train[:400])
    sneakers = x_train[y_train == 7][:150]
    collapsed = evaluator.score_images(np.concatenate([sneakers, sneakers, sneakers])[:400])
    assert diverse["classes_covered"] >= 8 and collapsed["classes_covered"] <= 3
    assert collapsed["class_kl"] > 1.0 > 5 * diverse["class_kl"]
    assert collapsed["recall"] < 0.5 * diverse["recall"]
    assert collapsed["fid_fashion"] > 2 * diverse["fid_fashion"]

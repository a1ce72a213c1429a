"""``FashionEvaluator``: the one object training, sweeps and the evaluate stage score with.

It holds the classifier's feature extractor and the cached real statistics, so scoring a
generator is: sample with a fixed latent seed, one batched forward pass, a 128x128 ``sqrtm``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import keras
import numpy as np

from fashiongan.config import EvaluateParams
from fashiongan.errors import FashionGanError
from fashiongan.images import generate_images
from fashiongan.metrics.classifier import FeatureExtractor, check_images, load_classifier, weights_digest
from fashiongan.metrics.diversity import (
    class_counts,
    class_kl,
    classes_covered,
    knn_radii_squared,
    precision_recall,
)
from fashiongan.metrics.frechet import feature_statistics, frechet_distance, kernel_distance
from fashiongan.metrics.real_stats import RealStats
from fashiongan.paths import CLASSIFIER_PATH, REAL_STATS_PATH

METRIC_KEYS = (
    "fid_fashion",
    "kid_fashion",
    "kid_fashion_std",
    "classes_covered",
    "class_kl",
    "precision",
    "recall",
    "n_samples",
)


class FashionEvaluator:
    """Scores generated images against the cached real statistics in the classifier's feature space."""

    def __init__(self, classifier: keras.Model, real_stats: RealStats, eval_params: EvaluateParams | None = None) -> None:
        self.params = eval_params or EvaluateParams()
        self.extractor = FeatureExtractor(classifier)
        self.real = real_stats
        self._balls: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        if real_stats.mu.shape != (self.extractor.dim,):
            raise FashionGanError(
                f"real statistics have {real_stats.mu.shape[0]} dims but the classifier embeds {self.extractor.dim}: "
                "run `dvc repro train_classifier`"
            )
        if weights_digest(classifier) != real_stats.classifier_hash:
            raise FashionGanError(
                "real statistics were computed with a different classifier: run `dvc repro train_classifier`"
            )

    @classmethod
    def load(
        cls,
        classifier_path: str | Path = CLASSIFIER_PATH,
        real_stats_path: str | Path = REAL_STATS_PATH,
        eval_params: EvaluateParams | None = None,
    ) -> FashionEvaluator:
        """Load the classifier and real statistics written by the train_classifier stage."""
        return cls(load_classifier(classifier_path), RealStats.load(real_stats_path), eval_params)

    def features(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Classifier embeddings and class probabilities of ``images`` ([-1, 1], N x 28 x 28 x 1)."""
        return self.extractor(images, self.params.batch_size)

    def score_features(self, features: np.ndarray, probs: np.ndarray) -> dict[str, float]:
        """All metrics from precomputed features and probabilities (see :meth:`score_images`)."""
        p = self.params
        mu, sigma = feature_statistics(features, "generated features")
        kid, kid_std = kernel_distance(features, self.real.features, p.kid_subsets, p.kid_subset_size, seed=p.seed)
        counts = class_counts(np.argmax(probs, axis=1), n_classes=probs.shape[1])
        # Same-size sets for precision/recall: k-NN radii depend on the set size.
        m = min(len(features), len(self.real.features))
        real_pr, real_radii = self._real_balls(m)
        gen_pr = features[np.sort(np.random.default_rng(p.seed + 1).choice(len(features), m, replace=False))]
        precision, recall = precision_recall(real_pr, gen_pr, k=p.pr_k, real_radii=real_radii)
        return {
            "fid_fashion": frechet_distance(mu, sigma, self.real.mu, self.real.sigma),
            "kid_fashion": kid,
            "kid_fashion_std": kid_std,
            "classes_covered": classes_covered(counts, p.coverage_threshold),
            "class_kl": class_kl(counts, self.real.class_counts),
            "precision": precision,
            "recall": recall,
            "n_samples": int(len(features)),
        }

    def _real_balls(self, m: int) -> tuple[np.ndarray, np.ndarray]:
        """A fixed subset of m real features and their k-NN radii, cached: sweeps score at one m."""
        if m not in self._balls:
            rng = np.random.default_rng(self.params.seed)
            subset = self.real.features[np.sort(rng.choice(len(self.real.features), m, replace=False))]
            self._balls = {m: (subset, knn_radii_squared(subset, self.params.pr_k))}
        return self._balls[m]

    def score_images(self, images: np.ndarray) -> dict[str, float]:
        """fid_fashion, kid_fashion(_std), classes_covered, class_kl, precision, recall, n_samples.

        FID values are comparable only at equal ``n_samples`` and equal :meth:`protocol`.
        """
        images = check_images(images, "generated images", min_samples=2)
        return self.score_features(*self.features(images))

    def score_generator(
        self, generator: keras.Model, n_samples: int, seed: int, batch_size: int = 500
    ) -> dict[str, float]:
        """Generate ``n_samples`` images with the latent ``seed`` and score them."""
        return self.score_images(generate_images(generator, n_samples, seed, batch_size))

    def protocol(self, n_samples: int) -> dict[str, Any]:
        """What a score was measured under; log it beside every FID."""
        return {
            "metric_space": f"fashion classifier embedding ({self.extractor.dim}-d)",
            "metrics": list(METRIC_KEYS),
            "n_samples": int(n_samples),
            "real_split": self.real.split,
            "n_real": self.real.n,
            "real_stats_hash": self.real.protocol_hash,
            "pr_k": self.params.pr_k,
            "kid_subsets": self.params.kid_subsets,
            "kid_subset_size": self.params.kid_subset_size,
        }

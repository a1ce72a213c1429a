"""Stage ``train_classifier``: the classifier behind fid_fashion, and the real images' statistics.

Writes models/classifier.keras, models/real_stats.npz and metrics/classifier.json.
"""

from __future__ import annotations

import time
from typing import Any

from fashiongan.config import Params
from fashiongan.data import load_split
from fashiongan.fileio import save_keras, write_json
from fashiongan.metrics.classifier import FeatureExtractor, accuracy, train_classifier, weights_digest
from fashiongan.metrics.real_stats import compute_real_stats
from fashiongan.paths import CLASSIFIER_METRICS, CLASSIFIER_PATH, REAL_STATS_PATH


def train_classifier_stage(params: Params) -> dict[str, Any]:
    """Train the classifier, save it, and cache the real-image statistics once; the summary."""
    cfg, ev = params.evaluate.classifier, params.evaluate
    x_train, y_train = load_split("train")
    x_test, y_test = load_split("test")
    start = time.perf_counter()
    model = train_classifier(x_train, y_train, cfg)
    train_seconds = time.perf_counter() - start
    test_accuracy = accuracy(model, x_test, y_test, ev.batch_size)
    save_keras(model, CLASSIFIER_PATH)

    x_real, y_real = (x_test, y_test) if ev.real_split == "test" else (x_train, y_train)
    features, probs = FeatureExtractor(model)(x_real, ev.batch_size)
    stats = compute_real_stats(
        features, probs, x_real, y_real, classifier_hash=weights_digest(model), split=ev.real_split
    )
    stats.save(REAL_STATS_PATH)
    summary = {
        "test_accuracy": round(test_accuracy, 5),
        "n_train": int(len(x_train)),
        "n_test": int(len(x_test)),
        # data.splits with "test" puts the test images in the training split: the accuracy is then optimistic.
        "test_in_training": "test" in params.data.splits,
        "epochs": cfg.epochs,
        "train_seconds": round(train_seconds, 1),
        "real_split": ev.real_split,
        "n_real": stats.n,
        "real_stats_hash": stats.protocol_hash,
    }
    write_json(CLASSIFIER_METRICS, summary)
    return summary

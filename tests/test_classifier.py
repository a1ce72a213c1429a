"""The feature classifier: architecture, extractor, persistence, and the train_classifier stage."""

from __future__ import annotations

import json

import numpy as np
import pytest
from metrics_support import sample_data, trained_classifier

from fashiongan.params_file import parse_params
from fashiongan.errors import FashionGanError
from fashiongan.fileio import save_keras
from fashiongan.metrics.classifier import (
    EMBEDDING_DIM,
    FeatureExtractor,
    accuracy,
    build_classifier,
    check_images,
    load_classifier,
    weights_digest,
)
from fashiongan.metrics.evaluator import FashionEvaluator
from fashiongan.metrics.real_stats import RealStats
from fashiongan.stages.train_classifier import train_classifier_stage


def test_classifier_has_an_embedding_and_ten_logits():
    model = build_classifier()
    assert model.output_shape == (None, 10)
    assert model.get_layer("embedding").output.shape[-1] == EMBEDDING_DIM


def test_brief_training_beats_chance_by_far():
    _, _, x_test, y_test = sample_data()
    assert accuracy(trained_classifier(), x_test, y_test) > 0.5


def test_extractor_returns_embeddings_and_probabilities_in_one_pass():
    _, _, x_test, _ = sample_data()
    features, probs = FeatureExtractor(trained_classifier())(x_test[:37], batch_size=16)
    assert features.shape == (37, EMBEDDING_DIM) and features.dtype == np.float32
    assert probs.shape == (37, 10)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)
    logits = trained_classifier().predict(x_test[:37], verbose=0)
    np.testing.assert_array_equal(probs.argmax(axis=1), logits.argmax(axis=1))


@pytest.mark.parametrize(
    ("images", "message"),
    [
        (np.zeros((4, 28, 28)), r"shape \(N, 28, 28, 1\)"),
        (np.zeros((4, 32, 32, 1)), r"shape \(N, 28, 28, 1\)"),
        (np.full((4, 28, 28, 1), np.nan), "NaN or inf"),
        (np.full((4, 28, 28, 1), 255.0), r"\[-1, 1\]"),
    ],
)
def test_bad_images_raise_one_line_errors(images, message):
    with pytest.raises(FashionGanError, match=message) as info:
        check_images(images)
    assert "\n" not in str(info.value)


def test_save_is_atomic_and_round_trips_the_weights(tmp_path):
    model = trained_classifier()
    path = save_keras(model, tmp_path / "models" / "classifier.keras")
    assert [p.name for p in path.parent.iterdir()] == ["classifier.keras"]
    assert weights_digest(load_classifier(path)) == weights_digest(model)


def test_missing_or_corrupt_classifier_names_the_fix(tmp_path):
    with pytest.raises(FashionGanError, match="dvc repro train_classifier"):
        load_classifier(tmp_path / "nope.keras")
    corrupt = tmp_path / "classifier.keras"
    corrupt.write_bytes(b"not a zip")
    with pytest.raises(FashionGanError, match="cannot be loaded"):
        load_classifier(corrupt)


@pytest.mark.slow
def test_train_classifier_stage_writes_model_metrics_and_real_stats(tmp_path, monkeypatch):
    x_train, y_train, x_test, y_test = sample_data()
    processed = tmp_path / "data" / "processed"
    processed.mkdir(parents=True)
    np.savez(processed / "train.npz", x=x_train[:300], y=y_train[:300])
    np.savez(processed / "test.npz", x=x_test[:200], y=y_test[:200])
    monkeypatch.chdir(tmp_path)
    params = parse_params({"evaluate": {"classifier": {"epochs": 1, "batch_size": 64}}})

    summary = train_classifier_stage(params)

    written = json.loads((tmp_path / "metrics" / "classifier.json").read_text())
    assert written == summary
    assert (written["n_train"], written["n_test"], written["n_real"]) == (300, 200, 200)
    assert 0.0 <= written["test_accuracy"] <= 1.0 and written["test_in_training"] is False
    stats = RealStats.load(tmp_path / "models" / "real_stats.npz")
    assert stats.features.shape == (200, EMBEDDING_DIM) and stats.sigma.dtype == np.float64
    assert stats.label_counts.tolist() == np.bincount(y_test[:200], minlength=10).tolist()
    assert stats.protocol_hash == written["real_stats_hash"]
    evaluator = FashionEvaluator.load(tmp_path / "models" / "classifier.keras", tmp_path / "models" / "real_stats.npz")
    assert evaluator.protocol(100)["real_stats_hash"] == stats.protocol_hash

"""FashionEvaluator end to end, and the evaluate stage in a temporary project."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from metrics_support import sample_data, sample_real_stats, tiny_generator, trained_classifier
from PIL import Image

from fashiongan.config import EvaluateParams
from fashiongan.params_file import parse_params
from fashiongan.errors import FashionGanError
from fashiongan.stages.evaluate import evaluate_stage
from fashiongan.metrics import inception
from fashiongan.fileio import save_keras
from fashiongan.images import generate_images
from fashiongan.metrics.classifier import build_classifier
from fashiongan.metrics.evaluator import METRIC_KEYS, FashionEvaluator

SMALL = EvaluateParams(n_samples=200, kid_subsets=3, kid_subset_size=100, batch_size=64)


@pytest.fixture(scope="module")
def evaluator() -> FashionEvaluator:
    return FashionEvaluator(trained_classifier(), sample_real_stats(), SMALL)


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project folder with the classifier, real statistics, processed test data and a generator."""
    _, _, x_test, y_test = sample_data()
    save_keras(trained_classifier(), tmp_path / "models" / "classifier.keras")
    sample_real_stats().save(tmp_path / "models" / "real_stats.npz")
    (tmp_path / "data" / "processed").mkdir(parents=True)
    np.savez(tmp_path / "data" / "processed" / "test.npz", x=x_test, y=y_test)
    tiny_generator().save(tmp_path / "models" / "generator.keras")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_score_generator_returns_every_metric_reproducibly(evaluator):
    generator = tiny_generator()
    scores = evaluator.score_generator(generator, n_samples=200, seed=5, batch_size=64)
    assert tuple(scores) == METRIC_KEYS
    assert scores["n_samples"] == 200
    assert all(math.isfinite(v) for v in scores.values())
    assert scores["fid_fashion"] > 0 and 0 <= scores["precision"] <= 1 and 0 <= scores["recall"] <= 1
    assert 0 <= scores["classes_covered"] <= 10
    assert evaluator.score_generator(generator, n_samples=200, seed=5, batch_size=32) == pytest.approx(scores)
    assert evaluator.score_generator(generator, n_samples=200, seed=6)["fid_fashion"] != scores["fid_fashion"]


def test_real_images_score_better_than_an_untrained_generator(evaluator):
    x_train, _, _, _ = sample_data()
    real = evaluator.score_images(x_train[:200])
    fake = evaluator.score_generator(tiny_generator(), n_samples=200, seed=0)
    assert real["fid_fashion"] < fake["fid_fashion"]
    assert real["kid_fashion"] < fake["kid_fashion"]
    assert real["recall"] > fake["recall"]


def test_latents_are_a_prefix_of_larger_draws():
    generator = tiny_generator()
    np.testing.assert_allclose(generate_images(generator, 10, seed=3), generate_images(generator, 30, seed=3)[:10])


def test_protocol_names_what_the_fid_depends_on(evaluator):
    protocol = evaluator.protocol(200)
    assert protocol["n_samples"] == 200
    assert protocol["real_split"] == "test" and protocol["n_real"] == 1000
    assert protocol["real_stats_hash"] == sample_real_stats().protocol_hash
    assert "fid_fashion" in protocol["metrics"]


def test_nan_images_and_wrong_shapes_are_refused(evaluator):
    images = np.zeros((10, 28, 28, 1), np.float32)
    images[3, 0, 0, 0] = np.nan
    with pytest.raises(FashionGanError, match="NaN"):
        evaluator.score_images(images)
    with pytest.raises(FashionGanError, match="shape"):
        evaluator.score_images(np.zeros((10, 28, 28), np.float32))


def test_missing_files_and_a_foreign_classifier_are_refused(tmp_path):
    with pytest.raises(FashionGanError, match="dvc repro train_classifier"):
        FashionEvaluator.load(tmp_path / "classifier.keras", tmp_path / "real_stats.npz")
    with pytest.raises(FashionGanError, match="different classifier"):
        FashionEvaluator(build_classifier(), sample_real_stats())


def test_evaluate_stage_writes_metrics_and_grid(project):
    params = parse_params({"evaluate": {"n_samples": 160, "kid_subsets": 2, "kid_subset_size": 50}})
    result = evaluate_stage(params)

    written = json.loads((project / "metrics" / "evaluate.json").read_text())
    assert written == result
    assert set(METRIC_KEYS) <= set(written) and written["n_samples"] == 160
    assert written["protocol"]["real_stats_hash"] == sample_real_stats().protocol_hash
    assert "fid_inception" not in written
    grid = Image.open(project / "plots" / "eval_grid.png")
    assert grid.mode == "L" and grid.size[0] == grid.size[1] > 8 * 28


def test_evaluate_stage_adds_inception_fid_with_its_own_sample_size(project, monkeypatch):
    seen = {}

    def fake_inception_fid(generated: np.ndarray, real: np.ndarray) -> float:
        seen.update(generated=generated.shape, real=real.shape)
        return float(np.abs(generated.mean() - real.mean()))

    monkeypatch.setattr(inception, "inception_fid", fake_inception_fid, raising=False)
    params = parse_params(
        {"evaluate": {"n_samples": 140, "inception": True, "inception_samples": 160, "kid_subsets": 2, "kid_subset_size": 30}}
    )
    result = evaluate_stage(params)
    assert seen == {"generated": (160, 28, 28, 1), "real": (160, 28, 28, 1)}
    assert result["n_samples"] == 140 and result["fid_inception"] > 0
    assert result["protocol"]["fid_inception_n_samples"] == 160


def test_corrupt_generator_names_the_file_and_the_fix(project):
    (project / "models" / "generator.keras").write_bytes(b"\x00garbage")
    with pytest.raises(FashionGanError, match=r"generator models/generator.keras cannot be loaded.*dvc repro train"):
        evaluate_stage(parse_params({}))

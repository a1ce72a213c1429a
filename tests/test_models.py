"""Builders reproduce the reference architectures and the knobs change exactly what they document."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from fashiongan.config import ModelParams
from fashiongan.models import build_models
from fashiongan.presets import resolve_model_params


def _models(**fields):
    return build_models(resolve_model_params(ModelParams(**fields)))


def _trainable(model: keras.Model) -> int:
    return int(sum(np.prod(w.shape) for w in model.trainable_weights))


def _layers(model: keras.Model, kind: type) -> list:
    return [layer for layer in model.layers if isinstance(layer, kind)]


def test_compact_reference_parameter_counts():
    gen, disc = _models(preset="compact")
    assert gen.count_params() == 1_340_929
    assert _trainable(gen) == 1_340_417
    assert disc.count_params() == 75_137
    assert isinstance(disc.get_layer("d_pool"), keras.layers.GlobalMaxPooling2D)
    assert disc.get_layer("d_out").activation.__name__ == "linear"
    assert not _layers(disc, keras.layers.Dropout)


def test_tutorial_reference_counts_shapes_and_range():
    gen, disc = _models(preset="tutorial")
    assert (gen.count_params(), _trainable(gen), disc.count_params()) == (2_330_944, 2_305_472, 212_865)
    assert gen.input_shape == (None, 100)
    images = np.asarray(gen(np.random.default_rng(0).normal(0, 3, (8, 100)).astype("float32"), training=False))
    assert images.shape == (8, 28, 28, 1)
    assert images.min() >= -1.0 and images.max() <= 1.0 and images.std() > 0
    assert np.asarray(disc(images)).shape == (8, 1)
    assert [d.rate for d in _layers(disc, keras.layers.Dropout)] == [0.3, 0.3]
    assert {a.negative_slope for a in _layers(gen, keras.layers.LeakyReLU)} == {0.3}


def test_resolve_fills_nulls_from_the_preset():
    compact = resolve_model_params(ModelParams(preset="compact"))
    tutorial = resolve_model_params(ModelParams(preset="tutorial"))
    assert (compact.latent_dim, compact.g_width, compact.d_width, compact.dropout, compact.leaky_slope) == (128, 128, 64, 0.0, 0.2)
    assert (tutorial.latent_dim, tutorial.g_width, tutorial.d_width, tutorial.dropout, tutorial.leaky_slope) == (100, 256, 64, 0.3, 0.3)
    set_ = resolve_model_params(ModelParams(preset="compact", first_layer_width=32, dropout=0.1, leaky_slope=0.05, latent_dim=7))
    assert set_.as_dict() == {
        "preset": "compact", "latent_dim": 7, "g_width": 32, "d_width": 32, "dropout": 0.1,
        "leaky_slope": 0.05, "batchnorm": True, "d_output": "linear", "generator_depth": 2,
        "spectral_norm": False, "upsampling": "transposed",
    }  # fmt: skip


@pytest.mark.parametrize("preset", ["compact", "tutorial"])
def test_first_layer_width_changes_only_the_documented_layers(preset):
    ref_gen, ref_disc = _models(preset=preset)
    gen, disc = _models(preset=preset, first_layer_width=40)
    assert gen.get_layer("g_dense").units == 7 * 7 * 40
    assert gen.get_layer("g_reshape").output.shape[1:] == (7, 7, 40)
    assert disc.get_layer("d_conv1").filters == 40
    for name in ("g_up1", "g_up2"):
        assert gen.get_layer(name).filters == ref_gen.get_layer(name).filters
    assert disc.get_layer("d_conv2").filters == ref_disc.get_layer("d_conv2").filters == 128
    assert gen.output_shape == (None, 28, 28, 1)


def test_dropout_and_slope_and_latent_knobs():
    _, disc = _models(preset="compact", dropout=0.25)
    assert [d.rate for d in _layers(disc, keras.layers.Dropout)] == [0.25, 0.25]
    assert disc.count_params() == 75_137  # dropout adds no weights
    _, disc = _models(preset="tutorial", dropout=0.0)
    assert not _layers(disc, keras.layers.Dropout)
    gen, disc = _models(preset="tutorial", leaky_slope=0.1, latent_dim=12)
    assert gen.input_shape == (None, 12)
    assert {a.negative_slope for a in _layers(gen, keras.layers.LeakyReLU) + _layers(disc, keras.layers.LeakyReLU)} == {0.1}


@pytest.mark.parametrize("preset", ["compact", "tutorial"])
def test_ablations_batchnorm_sigmoid_depth(preset):
    gen, disc = _models(preset=preset, batchnorm=False, d_output="sigmoid")
    assert not _layers(gen, keras.layers.BatchNormalization) and not _layers(disc, keras.layers.BatchNormalization)
    assert gen.get_layer("g_dense").use_bias and gen.get_layer("g_up1").use_bias  # bias returns without BatchNorm
    scores = np.asarray(disc(np.zeros((2, 28, 28, 1), "float32")))
    assert disc.get_layer("d_out").activation.__name__ == "sigmoid" and np.all((scores > 0) & (scores < 1))

    shallow, _ = _models(preset=preset)
    deep, _ = _models(preset=preset, generator_depth=4)
    transposed = _layers(deep, keras.layers.Conv2DTranspose)
    assert len(transposed) == len(_layers(shallow, keras.layers.Conv2DTranspose)) + 2
    assert [layer.strides for layer in transposed if layer.name.startswith("g_extra")] == [(1, 1), (1, 1)]
    assert deep.output_shape == (None, 28, 28, 1)

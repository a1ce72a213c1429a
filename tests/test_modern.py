"""The modern preset: its layers, its losses, the averaged generator, DiffAugment, and a real short run."""

from __future__ import annotations

import math

import keras
import numpy as np
import pytest

from fashiongan.augment import cutout, diff_augment, translate
from fashiongan.checkpoints import load_checkpoint
from fashiongan.config import ModelParams
from fashiongan.params_file import parse_params
from fashiongan.data import scale
from fashiongan.fetch import sample_folder
from fashiongan.idx import read_idx
from fashiongan.gan import gan_losses
from fashiongan.fileio import load_keras
from fashiongan.models import build_models
from fashiongan.presets import resolve_model_params, resolve_training
from fashiongan.training import build_gan, train_gan

# Generator: Dense 128x6272 (no bias) + BN(6272) + [Conv 3x3 128->128 + BN] at 7x7 + [x2, Conv 3x3 128->64 + BN]
# + [x2, Conv 3x3 64->1].
_STEM_AND_7X7 = 128 * 6272 + 4 * 6272 + 9 * 128 * 128 + 4 * 128  # Dense + BN, Conv2D(128, 3) + BN
GENERATOR_PARAMS = _STEM_AND_7X7 + 16 * 128 * 64 + 4 * 64 + 16 * 64 + 1  # Conv2DTranspose(64, 4) + BN, (1, 4) + bias
RESIZE_GENERATOR_PARAMS = _STEM_AND_7X7 + 9 * 128 * 64 + 4 * 64 + 9 * 64 + 1  # Conv2D(64, 3) + BN, Conv2D(1, 3) + bias
GENERATOR_TRAINABLE = GENERATOR_PARAMS - 2 * (6272 + 128 + 64)  # BN moving mean and variance
# Discriminator: Conv 4x4 1->64 stride 2, Conv 4x4 64->128 stride 2, Dense 6272->1 (with biases).
DISCRIMINATOR_TRAINABLE = (16 * 64 + 64) + (16 * 64 * 128 + 128) + (7 * 7 * 128 + 1)
SPECTRAL_VECTORS = 64 + 128 + 1  # one power-iteration vector u per wrapped layer (non-trainable)


def _models(**fields):
    return build_models(resolve_model_params(ModelParams(preset="modern", **fields)))


def _trainable(model: keras.Model) -> int:
    return int(sum(np.prod(w.shape) for w in model.trainable_weights))


def _layers(model: keras.Model, kind: type) -> list:
    return [layer for layer in model.layers if isinstance(layer, kind)]


def test_modern_builds_with_the_documented_parameter_counts():
    gen, disc = _models()
    assert (gen.count_params(), _trainable(gen)) == (GENERATOR_PARAMS, GENERATOR_TRAINABLE) == (1_108_225, 1_095_297)
    assert _trainable(disc) == disc.count_params() == DISCRIMINATOR_TRAINABLE == 138_561
    assert [t.name for t in _layers(gen, keras.layers.Conv2DTranspose)] == ["g_up1", "g_out"]
    assert [(t.kernel_size, t.strides) for t in _layers(gen, keras.layers.Conv2DTranspose)] == [((4, 4), (2, 2))] * 2
    assert not _layers(gen, keras.layers.UpSampling2D)
    assert not _layers(disc, keras.layers.SpectralNormalization)  # a switch, off by default (README: ablation)
    _, normalised = _models(spectral_norm=True)
    wrapped = _layers(normalised, keras.layers.SpectralNormalization)
    assert [w.name for w in wrapped] == ["d_conv1", "d_conv2", "d_out"]
    assert normalised.count_params() == DISCRIMINATOR_TRAINABLE + SPECTRAL_VECTORS
    images = np.asarray(gen(np.random.default_rng(0).normal(size=(4, 128)).astype("float32")))
    assert images.shape == (4, 28, 28, 1) and images.min() >= -1 and images.max() <= 1
    assert np.asarray(disc(images)).shape == (4, 1)


def test_width_and_dropout_change_the_layers_they_should():
    gen, disc = _models(first_layer_width=40, dropout=0.25)
    assert gen.get_layer("g_dense").units == 7 * 7 * 40
    assert disc.get_layer("d_conv1").filters == 40
    assert _models(first_layer_width=40, spectral_norm=True)[1].get_layer("d_conv1").layer.filters == 40
    assert disc.get_layer("d_conv2").filters == 128 and gen.get_layer("g_conv").filters == 128
    assert [d.rate for d in _layers(disc, keras.layers.Dropout)] == [0.25, 0.25]
    _, plain = _models(dropout=0.0)
    assert not _layers(plain, keras.layers.Dropout)


def test_switches_remove_each_piece():
    gen, disc = _models(upsampling="nearest")
    assert not _layers(disc, keras.layers.SpectralNormalization)
    assert disc.get_layer("d_conv1").filters == 64
    assert gen.count_params() == RESIZE_GENERATOR_PARAMS == 1_050_433  # resize-convolutions only
    assert not _layers(gen, keras.layers.Conv2DTranspose)
    assert [layer.interpolation for layer in _layers(gen, keras.layers.UpSampling2D)] == ["nearest", "nearest"]
    bilinear, _ = _models(upsampling="bilinear")
    assert {u.interpolation for u in _layers(bilinear, keras.layers.UpSampling2D)} == {"bilinear"}


def test_preset_training_defaults_and_their_overrides():
    modern = resolve_training("modern", parse_params({}).train)
    assert modern.as_dict() == {
        "loss": "nonsaturating", "ema_decay": 0.999, "diffaugment": "translation", "g_learning_rate": 2e-4,
        "d_learning_rate": 4e-4, "beta_1": 0.5, "beta_2": 0.999,
    }  # fmt: skip
    tutorial = resolve_training("tutorial", parse_params({}).train)
    assert (tutorial.loss, tutorial.ema_decay, tutorial.diffaugment) == ("nonsaturating", 0.0, "off")
    assert tutorial.g_learning_rate == tutorial.d_learning_rate == 2e-4
    set_ = resolve_training("modern", parse_params({"train": {"loss": "hinge", "ema_decay": 0.0}}).train)
    assert (set_.loss, set_.ema_decay, set_.diffaugment) == ("hinge", 0.0, "translation")
    # The switch's earlier boolean form still parses: true is the paper's policy, false is off.
    assert parse_params({"train": {"diffaugment": True}}).train.diffaugment == "translation,cutout"
    assert parse_params({"train": {"diffaugment": False}}).train.diffaugment == "off"


def test_hinge_needs_logits_and_resize_convolutions_need_modern():
    from fashiongan.params_file import ParamsError

    with pytest.raises(ParamsError, match="train.loss=hinge needs model.d_output=linear"):
        parse_params({"model": {"d_output": "sigmoid"}, "train": {"loss": "hinge"}})
    with pytest.raises(ParamsError, match="exists only for model.preset=modern"):
        parse_params({"model": {"preset": "tutorial", "upsampling": "nearest"}})


def test_losses_give_the_textbook_values():
    real, fake = np.array([[2.0], [0.5]], "float32"), np.array([[-2.0], [0.5]], "float32")
    d_loss, g_loss = gan_losses(real, fake, "hinge")
    assert float(d_loss) == pytest.approx(0.25 + 0.75) and float(g_loss) == pytest.approx(0.75)
    d_loss, g_loss = gan_losses(np.array([[math.log(3)]], "float32"), np.array([[-math.log(3)]], "float32"))
    assert float(d_loss) == pytest.approx(-math.log(0.75), rel=1e-5)  # D(x) = 0.75, D(G(z)) = 0.25
    assert float(g_loss) == pytest.approx(-math.log(0.25), rel=1e-5)
    zero = np.zeros((3, 1), "float32")
    assert [float(v) for v in gan_losses(zero, zero)] == pytest.approx([math.log(2)] * 2)
    assert [float(v) for v in gan_losses(zero, zero, "hinge")] == pytest.approx([2.0, 0.0])


def test_diffaugment_keeps_shape_and_range_and_moves_pixels():
    rng = np.random.default_rng(0)
    images = rng.uniform(-1, 1, (16, 28, 28, 1)).astype("float32")
    seed = keras.random.SeedGenerator(3)
    out = np.asarray(diff_augment(images, seed))
    assert out.shape == images.shape and out.dtype == np.float32
    assert out.min() >= -1 and out.max() <= 1 and not np.allclose(out, images)
    # Translation is a pure shift: every image's surviving pixels are its own pixels moved.
    shifted = np.asarray(translate(images, seed))
    for original, moved in zip(images, shifted, strict=True):
        found = [(dy, dx) for dy in range(-4, 5) for dx in range(-4, 5)
                 if np.allclose(moved, np.where(_inside(dy, dx) == 1, np.roll(original, (dy, dx), (0, 1)), -1.0), atol=1e-6)]  # fmt: skip
        assert len(found) == 1
    # Cutout blacks out one square of at most 14x14 pixels per image and leaves the rest untouched.
    cut = np.asarray(cutout(images, seed))
    blacked = cut == -1
    assert np.allclose(cut[~blacked], images[~blacked])
    assert all(0 < z.sum() <= 14 * 14 for z in blacked)


def test_diffaugment_fills_with_the_black_background_never_grey():
    """Shifted-in pixels and cut-out squares are background (-1): an empty canvas stays empty under every policy."""
    seed = keras.random.SeedGenerator(5)
    empty = -np.ones((8, 28, 28, 1), "float32")
    for policy in ("translation", "cutout", "translation,cutout"):
        assert np.array_equal(np.asarray(diff_augment(empty, seed, policy)), empty), policy
    garment = np.full((8, 28, 28, 1), -1.0, "float32")
    garment[:, 10:18, 10:18] = 1.0
    moved = np.asarray(diff_augment(garment, seed, "translation"))
    assert set(np.unique(moved)) <= {-1.0, 1.0}  # nothing mid-grey appears
    assert (moved == 1.0).sum(axis=(1, 2, 3)).tolist() == [64] * 8  # an 8x8 patch 4 px from the edge never leaves


def _inside(dy: int, dx: int) -> np.ndarray:
    """Mask of the pixels a shift by (dy, dx) fills from inside the image."""
    mask = np.ones((28, 28, 1), "float32")
    mask[: max(dy, 0)] = mask[28 + min(dy, 0) :] = 0
    mask[:, : max(dx, 0)] = mask[:, 28 + min(dx, 0) :] = 0
    return mask


def test_diffaugment_off_passes_images_unchanged():
    images = np.random.default_rng(1).uniform(-1, 1, (4, 28, 28, 1)).astype("float32")
    off = build_gan(_tiny_params(diffaugment=False))
    assert np.array_equal(np.asarray(off.discriminator_view(images)), images)
    for policy in ("translation", "cutout", "translation,cutout"):
        on = build_gan(_tiny_params(diffaugment=policy))
        assert not np.allclose(np.asarray(on.discriminator_view(images)), images), policy


def _tiny_params(**train):
    return parse_params(
        {
            "model": {"preset": "modern", "first_layer_width": 8, "latent_dim": 16},
            "train": {"hparams": "params", "epochs": 2, "batch_size": 32, "grid_size": 2, "eval_every": 0, **train},
        }
    )


@pytest.fixture(scope="module")
def sample_x() -> np.ndarray:
    return scale(read_idx(sample_folder() / "train-images-idx3-ubyte.gz")[:192])


@pytest.mark.slow
def test_short_run_moves_losses_saves_the_average_and_resumes_it(sample_x, tmp_path):
    params = _tiny_params()
    first = train_gan(params, sample_x, out_dir=tmp_path)
    assert first.epochs_trained == 2 and first.stop_reason is None
    assert first.history[0]["d_loss"] != first.history[1]["d_loss"]
    assert first.history[0]["g_loss"] != first.history[1]["g_loss"]
    gan = build_gan(params)
    state = load_checkpoint(gan, tmp_path / "checkpoints", first.fingerprint)
    assert state is not None and state.epoch == 2
    raw, average = gan.generator.get_weights(), gan.ema_generator.get_weights()
    assert any(not np.allclose(r, a) for r, a in zip(raw, average, strict=True))
    saved = load_keras(tmp_path / "models" / "generator.keras", "generator", "retrain")
    for s, a in zip(saved.get_weights(), average, strict=True):
        np.testing.assert_array_equal(s, a)  # the saved generator is the average, not the raw weights
    # Resume for a third epoch: the averaged weights continue from the checkpoint's, not from scratch.
    longer = params.model_copy(update={"train": params.train.model_copy(update={"epochs": 3})})
    resumed = train_gan(longer, sample_x, out_dir=tmp_path)
    assert resumed.resumed_from == 2 and resumed.epochs_trained == 3
    fresh_third = train_gan(longer, sample_x, out_dir=tmp_path / "fresh")
    for a, b in zip(resumed.generator.get_weights(), fresh_third.generator.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)

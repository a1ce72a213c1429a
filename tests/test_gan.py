"""The GAN train step, its optimizers and its input pipeline."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from fashiongan.config import ModelParams
from fashiongan import batches
from fashiongan.batches import make_dataset
from fashiongan.gan import GAN, make_optimizers
from fashiongan.models import build_models
from fashiongan.presets import resolve_model_params

TINY = {"preset": "compact", "first_layer_width": 8, "latent_dim": 16}


def _gan(d_lr=2e-4, g_lr=2e-4, precision="float32", dtype=None, **fields) -> GAN:
    keras.utils.set_random_seed(0)
    spec = resolve_model_params(ModelParams(**(TINY | fields)))
    gen, disc = build_models(spec, dtype)
    gan = GAN(gen, disc, spec.latent_dim, spec.d_output, seed=0)
    d_opt, g_opt = make_optimizers(g_lr, d_lr, 0.5, precision=precision)
    gan.compile(d_opt, g_opt, jit_compile=False)
    return gan


@pytest.fixture(scope="module")
def batch() -> np.ndarray:
    return np.random.default_rng(1).uniform(-1, 1, (32, 28, 28, 1)).astype("float32")


def test_train_step_moves_losses_and_weights(batch):
    # A fast discriminator must learn to separate a fixed batch. The tutorial preset: compact's fixed
    # 128-channel 28x28 transposed conv costs ~3.7 CPU-s per eager step here, tutorial's 0.8.
    gan = _gan(d_lr=2e-3, g_lr=1e-6, preset="tutorial")
    before = [w.numpy().copy() for w in gan.discriminator.trainable_weights]
    losses = []
    for _ in range(8):
        gan.reset_metrics()
        logs = gan.train_step(batch)
        losses.append({k: float(v) for k, v in logs.items()})
    assert set(losses[0]) == {"d_loss", "g_loss", "d_real", "d_fake"}
    assert losses[-1]["d_loss"] < losses[0]["d_loss"]
    assert losses[-1]["d_real"] > losses[-1]["d_fake"]
    assert all(0 <= row[k] <= 1 for row in losses for k in ("d_real", "d_fake"))
    assert any(not np.allclose(a, w.numpy()) for a, w in zip(before, gan.discriminator.trainable_weights, strict=True))
    assert int(gan.d_optimizer.iterations) == int(gan.g_optimizer.iterations) == 8


def test_losses_are_ln2_when_the_discriminator_is_undecided(batch):
    gan = _gan()
    head = gan.discriminator.get_layer("d_out")
    head.set_weights([np.zeros_like(w) for w in head.get_weights()])  # logit 0 = probability 0.5
    logs = gan.train_step(batch)
    assert float(logs["d_loss"]) == pytest.approx(np.log(2), abs=1e-6)
    assert float(logs["g_loss"]) == pytest.approx(np.log(2), abs=1e-6)
    assert float(logs["d_real"]) == pytest.approx(0.5)


def test_sigmoid_ablation_trains_with_finite_losses(batch):
    gan = _gan(d_output="sigmoid", batchnorm=False)
    assert not gan.from_logits
    history = gan.fit(make_dataset(np.concatenate([batch, batch]), 16, seed=0, epochs=2), epochs=2, steps_per_epoch=4, shuffle=False, verbose=0)
    values = np.array([history.history[k] for k in ("d_loss", "g_loss", "d_real", "d_fake")])
    assert np.all(np.isfinite(values))
    assert history.history["d_loss"][0] != history.history["d_loss"][1]


def test_sigmoid_fed_to_a_logits_loss_reproduces_the_ln2_stall(batch):
    """The compact report's stall: saturated sigmoid outputs read as logits give ln 2 and no gradient."""
    base = _gan(d_output="sigmoid")
    head = base.discriminator.get_layer("d_out")
    kernel, bias = head.get_weights()
    head.set_weights([np.zeros_like(kernel), np.full_like(bias, -30.0)])  # D(anything) ~ 1e-13
    readings = {}
    for mode in ("sigmoid_as_logits", "sigmoid"):
        gan = GAN(base.generator, base.discriminator, 16, mode, seed=0)
        d_opt, g_opt = make_optimizers(2e-4, 2e-4, 0.5)
        gan.compile(d_opt, g_opt)
        logs = gan.train_step(batch)
        readings[mode] = (float(logs["d_loss"]), float(logs["g_loss"]), float(head.get_weights()[1][0]))
        head.set_weights([np.zeros_like(kernel), np.full_like(bias, -30.0)])
    d_loss, g_loss, moved_bias = readings["sigmoid_as_logits"]
    assert d_loss == pytest.approx(np.log(2), abs=1e-6) and g_loss == pytest.approx(np.log(2), abs=1e-6)
    assert moved_bias == pytest.approx(-30.0, abs=1e-5)  # the flat sigmoid passes no gradient
    assert readings["sigmoid"][0] > 5  # probabilities read as probabilities: real images cost -log(1e-7)


def test_loss_scaling_path_runs(batch):
    gan = _gan(precision="mixed_float16", dtype="mixed_float16")
    assert isinstance(gan.d_optimizer, keras.optimizers.LossScaleOptimizer)
    logs = gan.train_step(batch)
    assert np.isfinite(float(logs["d_loss"])) and np.isfinite(float(logs["g_loss"]))
    assert gan.generator.output.dtype == "float32" and gan.discriminator.output.dtype == "float32"
    d_opt, g_opt = make_optimizers(2e-4, 2e-4, 0.5, precision="bfloat16")  # float32's exponent range: no scaling
    assert not isinstance(d_opt, keras.optimizers.LossScaleOptimizer) and not isinstance(g_opt, keras.optimizers.LossScaleOptimizer)


@pytest.mark.parametrize("backend", ["tensorflow", "jax"], ids=["tf.data", "numpy"])
def test_dataset_shuffles_per_epoch_drops_remainder_and_resumes(backend):
    x = np.arange(10, dtype="float32")[:, None, None, None] * np.ones((1, 28, 28, 1), "float32")

    def make_dataset(*args, **kwargs):
        return batches.make_dataset(*args, **kwargs, backend=backend)

    def ids(ds):
        return [np.asarray(keras.utils.unpack_x_y_sample_weight(b)[0])[:, 0, 0, 0].astype(int).tolist() for b in ds]

    full = ids(make_dataset(x, 4, seed=3, epochs=3))
    assert len(full) == 6 and all(len(b) == 4 for b in full)  # 10 // 4 = 2 batches per epoch
    assert full[0:2] != full[2:4]
    assert ids(make_dataset(x, 4, seed=3, epochs=3)) == full
    assert ids(make_dataset(x, 4, seed=3, first_epoch=2, epochs=3)) == full[4:6]
    assert ids(make_dataset(x, 4, seed=4, epochs=1)) != full[0:2]
    with pytest.raises(ValueError, match="at least batch_size"):
        make_dataset(x, 11, seed=0)

    # Fixed-size epochs cut the same stream of passes: 3 steps per epoch over 2-batch passes.
    fixed = ids(make_dataset(x, 4, seed=3, epochs=2, steps_per_epoch=3))
    assert fixed == full[:6]  # the same shuffled passes, only grouped differently
    assert ids(make_dataset(x, 4, seed=3, first_epoch=1, epochs=2, steps_per_epoch=3)) == fixed[3:]


def test_two_discriminator_calls_give_the_joint_batchs_losses_unless_batchnorm_mixes_them(batch):
    """Without BatchNorm, two calls and one concatenated call are the same numbers (the cheaper one runs)."""
    assert _gan(preset="compact").joint_batch  # its discriminator normalises a batch: keep the write-up's joint batch
    tutorial = _gan(preset="tutorial", dropout=0.0)
    assert not tutorial.joint_batch
    split = [float(v) for v in tutorial.forward_losses(batch)[:2]]
    tutorial.seed_generator = keras.random.SeedGenerator(0)  # the same latent draw again
    tutorial.joint_batch = True
    joint = [float(v) for v in tutorial.forward_losses(batch)[:2]]
    assert split == pytest.approx(joint, rel=1e-5)

"""The GAN as one Keras model, so ``fit`` brings callbacks, progress and XLA for free.

The step follows the TensorFlow tutorial: one generator pass feeds both losses, and both
networks are updated from that same forward pass (two tapes). The discriminator sees real
and generated images in one concatenated batch, as in the keras-io DCGAN, which halves the
number of discriminator calls. Losses are the non-saturating GAN losses:

* ``d_loss`` = mean binary cross-entropy over the concatenated batch (real labelled 1,
  generated 0), i.e. the average of the real and fake terms, so a discriminator that
  outputs 0.5 everywhere gives exactly ln 2 = 0.6931 (the stall the compact report saw);
* ``g_loss`` = cross-entropy of generated images labelled real.

With ``d_output="linear"`` the discriminator emits logits and the losses are computed from
logits; with ``"sigmoid"`` it emits probabilities and the losses use clipped probabilities
(the ablation). ``d_real``/``d_fake`` are the mean probabilities D(x) and D(G(z)).

``"sigmoid_as_logits"`` (``model.d_output`` in params.yaml) is the classic mismatch of a
sigmoid output fed to a from-logits loss: once the discriminator's probabilities saturate
near 0, both losses read softplus(0) = ln 2 and the gradient through the flat sigmoid
vanishes, which is the stall the compact report describes for its sigmoid variant.
"""

from __future__ import annotations

from typing import Literal

import keras
import numpy as np
import tensorflow as tf
from keras import ops

_EPS = 1e-7  # probability clip of keras' binary cross-entropy


def _cross_entropy(score, real: bool, from_logits: bool):
    """Mean BCE of ``score`` against an all-ones (``real``) or all-zeros target."""
    if from_logits:
        return ops.mean(ops.softplus(-score if real else score))
    p = ops.clip(score, _EPS, 1.0 - _EPS)
    return -ops.mean(ops.log(p if real else 1.0 - p))


class GAN(keras.Model):
    """Generator + discriminator trained with ``fit`` on batches of real images in [-1, 1]."""

    def __init__(
        self,
        generator: keras.Model,
        discriminator: keras.Model,
        latent_dim: int,
        d_output: Literal["linear", "sigmoid", "sigmoid_as_logits"] = "linear",
        seed: int | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if d_output not in ("linear", "sigmoid", "sigmoid_as_logits"):
            raise ValueError(f"d_output must be 'linear', 'sigmoid' or 'sigmoid_as_logits', got {d_output!r}")
        self.generator = generator
        self.discriminator = discriminator
        self.latent_dim = int(latent_dim)
        self.outputs_logits = d_output == "linear"
        self.from_logits = d_output != "sigmoid"
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.stop_reason: str | None = None  # set by the detectors in fashiongan.callbacks
        self.d_loss_tracker = keras.metrics.Mean(name="d_loss")
        self.g_loss_tracker = keras.metrics.Mean(name="g_loss")
        self.d_real_tracker = keras.metrics.Mean(name="d_real")
        self.d_fake_tracker = keras.metrics.Mean(name="d_fake")

    def compile(self, d_optimizer: keras.optimizers.Optimizer, g_optimizer: keras.optimizers.Optimizer, **kwargs):
        """Keep one optimizer per network; ``kwargs`` (``jit_compile``, ...) go to ``Model.compile``."""
        super().compile(**kwargs)
        self.d_optimizer = d_optimizer
        self.g_optimizer = g_optimizer

    @property
    def metrics(self) -> list[keras.metrics.Metric]:
        """Listed here so Keras resets them at every epoch."""
        return [self.d_loss_tracker, self.g_loss_tracker, self.d_real_tracker, self.d_fake_tracker]

    def call(self, z, training: bool = False):
        return self.generator(z, training=training)

    def build_optimizers(self) -> None:
        """Create the optimizer slots now (needed before restoring a checkpoint into them)."""
        self.d_optimizer.build(self.discriminator.trainable_variables)
        self.g_optimizer.build(self.generator.trainable_variables)

    def train_step(self, real_images):
        batch = ops.shape(real_images)[0]
        z = keras.random.normal((batch, self.latent_dim), seed=self.seed_generator)
        with tf.GradientTape() as g_tape, tf.GradientTape() as d_tape:
            # One generator pass; the discriminator scores real and fake in one batch.
            fake_images = self.generator(z, training=True)
            images = ops.concatenate([ops.cast(real_images, fake_images.dtype), fake_images], axis=0)
            scores = ops.cast(self.discriminator(images, training=True), "float32")
            real_scores, fake_scores = scores[:batch], scores[batch:]
            d_loss = 0.5 * (
                _cross_entropy(real_scores, True, self.from_logits) + _cross_entropy(fake_scores, False, self.from_logits)
            )
            g_loss = _cross_entropy(fake_scores, True, self.from_logits)
            scaled_d_loss = self.d_optimizer.scale_loss(d_loss)
            scaled_g_loss = self.g_optimizer.scale_loss(g_loss)

        # Train the discriminator
        d_vars = self.discriminator.trainable_variables
        self.d_optimizer.apply(d_tape.gradient(scaled_d_loss, d_vars), d_vars)
        # Train the generator (gradients taken through the pre-update discriminator)
        g_vars = self.generator.trainable_variables
        self.g_optimizer.apply(g_tape.gradient(scaled_g_loss, g_vars), g_vars)

        # Track losses and the mean discriminator probabilities
        to_prob = ops.sigmoid if self.outputs_logits else (lambda s: s)
        self.d_loss_tracker.update_state(d_loss)
        self.g_loss_tracker.update_state(g_loss)
        self.d_real_tracker.update_state(ops.mean(to_prob(real_scores)))
        self.d_fake_tracker.update_state(ops.mean(to_prob(fake_scores)))
        return {m.name: m.result() for m in self.metrics}


def make_optimizers(
    g_learning_rate: float, d_learning_rate: float, beta_1: float, mixed_precision: bool = False
) -> tuple[keras.optimizers.Optimizer, keras.optimizers.Optimizer]:
    """Adam for each network; wrapped in dynamic loss scaling under mixed precision."""
    d_opt = keras.optimizers.Adam(d_learning_rate, beta_1=beta_1, name="d_adam")
    g_opt = keras.optimizers.Adam(g_learning_rate, beta_1=beta_1, name="g_adam")
    if mixed_precision:
        d_opt = keras.optimizers.LossScaleOptimizer(d_opt, name="d_loss_scale")
        g_opt = keras.optimizers.LossScaleOptimizer(g_opt, name="g_loss_scale")
    return d_opt, g_opt


def make_dataset(x: np.ndarray, batch_size: int, seed: int, first_epoch: int = 0, epochs: int = 1) -> tf.data.Dataset:
    """Batches of ``x`` for epochs ``first_epoch`` .. ``epochs - 1``, a fresh seeded shuffle each epoch.

    Each epoch's order is a stateless shuffle seeded by ``(seed, epoch)``, so a run resumed at
    epoch k sees exactly the batches an uninterrupted run would have seen. The images sit in
    memory once; only indices are shuffled (a full-dataset shuffle without a copy buffer). The last partial batch is dropped (fixed shapes
    for XLA), so one epoch is ``len(x) // batch_size`` steps.
    """
    n = len(x)
    if n < batch_size:
        raise ValueError(f"need at least batch_size={batch_size} images, got {n}")
    images = tf.constant(np.asarray(x, dtype=np.float32))

    def one_epoch(epoch):
        key = tf.stack([tf.constant(seed, tf.int64), epoch])
        order = tf.random.experimental.stateless_shuffle(tf.range(n, dtype=tf.int64), seed=key)
        return tf.data.Dataset.from_tensor_slices(order).batch(batch_size, drop_remainder=True)

    epochs_ds = tf.data.Dataset.range(first_epoch, epochs)
    ds = epochs_ds.flat_map(one_epoch).map(lambda idx: tf.gather(images, idx), num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)

"""The TensorFlow DCGAN tutorial's training step, shared by the benchmarks that race against it.

``train_throughput.py`` runs it on this project's architectures; ``time_to_quality.py`` on the
tutorial's own models. One copy, so both measure the same loop.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import keras
import tensorflow as tf


def tutorial_train_step(
    generator: keras.Model,
    discriminator: keras.Model,
    g_opt: keras.optimizers.Optimizer,
    d_opt: keras.optimizers.Optimizer,
    batch_size: int,
    latent_dim: int,
) -> Callable[[Any], tuple[Any, Any]]:
    """The tutorial's ``@tf.function train_step(images)``: one step of each network; returns (gen_loss, disc_loss)."""
    cross_entropy = keras.losses.BinaryCrossentropy(from_logits=True)

    @tf.function
    def train_step(images: Any) -> tuple[Any, Any]:
        noise = tf.random.normal([batch_size, latent_dim])
        with tf.GradientTape() as gen_tape, tf.GradientTape() as disc_tape:
            generated = generator(noise, training=True)
            real_output = discriminator(images, training=True)
            fake_output = discriminator(generated, training=True)
            gen_loss = cross_entropy(tf.ones_like(fake_output), fake_output)
            disc_loss = cross_entropy(tf.ones_like(real_output), real_output) + cross_entropy(
                tf.zeros_like(fake_output), fake_output
            )
        g_opt.apply(gen_tape.gradient(gen_loss, generator.trainable_variables), generator.trainable_variables)
        d_opt.apply(disc_tape.gradient(disc_loss, discriminator.trainable_variables), discriminator.trainable_variables)
        return gen_loss, disc_loss

    return train_step

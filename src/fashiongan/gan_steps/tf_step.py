"""The GAN's ``train_step`` on TensorFlow: two gradient tapes over one forward pass, as in the TensorFlow DCGAN tutorial."""

from __future__ import annotations

import tensorflow as tf


def train_step(gan, data) -> dict:
    """Update the discriminator and the generator from the same forward pass; the epoch's running logs."""
    with tf.GradientTape() as g_tape, tf.GradientTape() as d_tape:
        d_loss, g_loss, real_scores, fake_scores = gan.forward_losses(data)
        scaled_d_loss = gan.d_optimizer.scale_loss(d_loss)
        scaled_g_loss = gan.g_optimizer.scale_loss(g_loss)

    # Train the discriminator
    d_vars = gan.discriminator.trainable_variables
    gan.d_optimizer.apply(d_tape.gradient(scaled_d_loss, d_vars), d_vars)
    # Train the generator (gradients taken through the pre-update discriminator)
    g_vars = gan.generator.trainable_variables
    gan.g_optimizer.apply(g_tape.gradient(scaled_g_loss, g_vars), g_vars)
    return gan.finish_step(d_loss, g_loss, real_scores, fake_scores)

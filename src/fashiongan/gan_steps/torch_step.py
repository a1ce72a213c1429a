"""The GAN's ``train_step`` on PyTorch: ``torch.autograd.grad`` of each loss for its own network, as in keras.io's torch guide."""

from __future__ import annotations

import torch


def train_step(gan, data) -> dict:
    """Update the discriminator and the generator from the same forward pass; the epoch's running logs."""
    d_vars = gan.discriminator.trainable_variables
    g_vars = gan.generator.trainable_variables
    with torch.autograd.graph.allow_mutation_on_saved_tensors():
        d_loss, g_loss, real_scores, fake_scores = gan.forward_losses(data)
        # Both gradients before any update: the generator's flows through the pre-update discriminator
        d_grads = torch.autograd.grad(gan.d_optimizer.scale_loss(d_loss), [v.value for v in d_vars], retain_graph=True)
        g_grads = torch.autograd.grad(gan.g_optimizer.scale_loss(g_loss), [v.value for v in g_vars])
    with torch.no_grad():
        # Train the discriminator, then the generator
        gan.d_optimizer.apply(list(d_grads), d_vars)
        gan.g_optimizer.apply(list(g_grads), g_vars)
        return gan.finish_step(d_loss.detach(), g_loss.detach(), real_scores.detach(), fake_scores.detach())

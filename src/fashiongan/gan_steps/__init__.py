"""One GAN ``train_step`` per Keras backend, chosen by name, so only the running backend's framework is imported.

Each step takes gradients of the discriminator's loss for the discriminator and of the
generator's loss for the generator from one forward pass (:meth:`fashiongan.gan.GAN.forward_losses`)
and then lets :meth:`fashiongan.gan.GAN.finish_step` move the average and the metrics; what
differs is how a backend differentiates and where it keeps state: ``tf_step`` (two
``GradientTape``\\ s), ``jax_step`` (stateless: Keras' ``fit`` passes the variables' values in and
takes the new ones back), ``torch_step`` (``torch.autograd.grad``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import keras


class OptimizerPair:
    """The two optimizers seen as the one ``model.optimizer`` Keras' trainers expect.

    JAX's ``fit`` carries ``model.optimizer.variables`` through the jitted step as state and
    writes them back at each epoch end; listing both optimizers' variables here keeps Adam's
    moments and both iteration counters in that state on every backend.
    """

    def __init__(self, d_optimizer: keras.optimizers.Optimizer, g_optimizer: keras.optimizers.Optimizer):
        self.d_optimizer, self.g_optimizer = d_optimizer, g_optimizer

    @property
    def built(self) -> bool:
        """Keras builds an unbuilt optimizer on all the model's weights; both are built by ``GAN.compile``."""
        return self.d_optimizer.built and self.g_optimizer.built

    @property
    def variables(self) -> list:
        """The discriminator's optimizer's variables, then the generator's."""
        return [*self.d_optimizer.variables, *self.g_optimizer.variables]


def backend_train_step(backend: str) -> Callable[..., Any]:
    """The ``train_step(gan, ...)`` of Keras backend ``backend`` (its framework imported only now)."""
    if backend == "tensorflow":
        from fashiongan.gan_steps.tf_step import train_step
    elif backend == "jax":
        from fashiongan.gan_steps.jax_step import train_step
    elif backend == "torch":
        from fashiongan.gan_steps.torch_step import train_step
    else:
        raise ValueError(f"no GAN train step for Keras backend {backend!r} (tensorflow, jax or torch)")
    return train_step

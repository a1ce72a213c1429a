"""The GAN's ``train_step`` on JAX: stateless, in the shape of keras.io's "Customizing fit() with JAX".

Keras' JAX ``fit`` passes ``state`` = the values of (trainable, non-trainable, optimizer,
metric) variables in and takes the new values back, so nothing may be assigned in place. The
step maps every variable to its value in a :class:`keras.StatelessScope` and runs the shared
code (:meth:`GAN.forward_losses`, :meth:`GAN.finish_step`) inside it: BatchNorm statistics,
the spectral-norm power iteration, the noise seed, the average and the metrics are read back
from the scope. Gradients come from one ``jax.vjp`` of the forward pass (the discriminator's
loss for the discriminator, the generator's loss for the generator), and each optimizer steps
with ``stateless_apply``, as ``fit`` does for a single optimizer.

Weights a layer rewrites during the forward pass (``SpectralNormalization`` stores the
normalised kernel, as on TensorFlow) are updated from their rewritten values, so the stored
weights mean the same on both backends; unlike TensorFlow's tape, ``jax.vjp`` differentiates
through the spectral norm sigma as well (Miyato et al.'s gradient).
"""

from __future__ import annotations

import jax
import keras
from keras import ops


def _state_variables(gan) -> tuple[list, list, list, list]:
    """The variables behind ``fit``'s state, in its order."""
    return gan.trainable_variables, gan.non_trainable_variables, gan.optimizer.variables, gan.metrics_variables


def train_step(gan, state, data) -> tuple[dict, tuple]:
    """Update the discriminator and the generator from the same forward pass; ``(logs, new state)``."""
    groups = _state_variables(gan)
    mapping = [pair for variables, values in zip(groups, state, strict=True) for pair in zip(variables, values, strict=True)]
    value_of = {id(variable): value for variable, value in mapping}
    d_vars, g_vars = gan.discriminator.trainable_variables, gan.generator.trainable_variables

    def losses(d_values, g_values):
        with keras.StatelessScope(state_mapping=[*mapping, *zip(d_vars, d_values), *zip(g_vars, g_values)]) as scope:
            d_loss, g_loss, real_scores, fake_scores = gan.forward_losses(data)
            scaled = (gan.d_optimizer.scale_loss(d_loss), gan.g_optimizer.scale_loss(g_loss))
        rewritten = [[ops.stop_gradient(scope.get_current_value(v)) for v in vs] for vs in (d_vars, g_vars)]
        non_trainable = [scope.get_current_value(v) for v in gan.non_trainable_variables]
        return scaled, (d_loss, g_loss, real_scores, fake_scores, rewritten, non_trainable)

    d_values, g_values = [value_of[id(v)] for v in d_vars], [value_of[id(v)] for v in g_vars]
    scaled, pullback, aux = jax.vjp(losses, d_values, g_values, has_aux=True)
    d_loss, g_loss, real_scores, fake_scores, (d_values, g_values), non_trainable = aux
    one, zero = ops.ones_like(scaled[0]), ops.zeros_like(scaled[0])
    d_grads, g_grads = pullback((one, zero))[0], pullback((zero, one))[1]

    # Train the discriminator, then the generator (both gradients from the pre-update networks)
    n_d = len(gan.d_optimizer.variables)
    d_values, d_opt_values = gan.d_optimizer.stateless_apply(state[2][:n_d], d_grads, d_values)
    g_values, g_opt_values = gan.g_optimizer.stateless_apply(state[2][n_d:], g_grads, g_values)

    # Average and metrics on the updated values, then everything back into fit's state
    updated = [
        *mapping,
        *zip(gan.non_trainable_variables, non_trainable),
        *zip(gan.optimizer.variables, [*d_opt_values, *g_opt_values]),
        *zip(d_vars, d_values),
        *zip(g_vars, g_values),
    ]
    with keras.StatelessScope(state_mapping=updated) as scope:
        logs = gan.finish_step(d_loss, g_loss, real_scores, fake_scores)
    return logs, tuple([scope.get_current_value(v) for v in variables] for variables in groups)

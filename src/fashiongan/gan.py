"""The GAN as one Keras model, so ``fit`` brings callbacks, progress and XLA for free.

The step follows the TensorFlow tutorial: one generator pass feeds both losses, and both
networks are updated from that same forward pass (two tapes on TensorFlow, two vector-Jacobian
products on JAX, two ``autograd.grad`` calls on PyTorch). The forward pass, the losses, the
average and the metrics are written once in ``keras.ops``; only taking and applying the
gradients is per backend (:mod:`fashiongan.gan_steps`), so this module needs no TensorFlow. A discriminator
without BatchNorm scores real and generated images in two calls, as the tutorial does: the same
numbers as one concatenated call, but the generator's gradient then runs back through the
discriminator for the fake half only (~10 % less work per step). A discriminator with BatchNorm
(the compact preset) scores them in one concatenated batch, as the keras-io DCGAN the compact
write-up followed: there the batch statistics mix real and fake, which changes the dynamics the
write-up reported (its collapse and its sigmoid stall). ``loss="nonsaturating"`` (the write-ups') gives:

* ``d_loss`` = mean binary cross-entropy over the concatenated batch (real labelled 1,
  generated 0), i.e. the average of the real and fake terms, so a discriminator that
  outputs 0.5 everywhere gives exactly ln 2 = 0.6931 (the stall the compact report saw);
* ``g_loss`` = cross-entropy of generated images labelled real.

With ``d_output="linear"`` the discriminator emits logits and the losses are computed from
logits; with ``"sigmoid"`` it emits probabilities and the losses use clipped probabilities
(the ablation). ``d_real``/``d_fake`` are the mean probabilities D(x) and D(G(z)).

``loss="hinge"`` (SN-GAN, BigGAN) gives ``d_loss`` = mean relu(1 - D(x)) + mean relu(1 + D(G(z)))
and ``g_loss`` = -mean D(G(z)), on logits.

``ema_decay > 0`` keeps ``ema_generator``, a copy of the generator whose weights follow an
exponential moving average of the trained ones after every step, with TensorFlow's warm-up
``min(decay, (1 + t) / (10 + t))`` so short runs are not dominated by the initial weights.
:attr:`GAN.sampler` is what every sample, score and saved model uses: the average when
there is one. ``diffaugment`` names a policy (``translation``, ``cutout``, ``translation,cutout``)
of :func:`fashiongan.augment.diff_augment`, applied to the real and generated images before the
discriminator; ``off`` shows them as they are.

``"sigmoid_as_logits"`` (``model.d_output`` in params.yaml) is the classic mismatch of a
sigmoid output fed to a from-logits loss: once the discriminator's probabilities saturate
near 0, both losses read softplus(0) = ln 2 and the gradient through the flat sigmoid
vanishes, which is the stall the compact report describes for its sigmoid variant.
"""

from __future__ import annotations

from typing import Literal

import keras
from keras import ops

from fashiongan.augment import POLICIES, diff_augment
from fashiongan.gan_steps import OptimizerPair, backend_train_step

Loss = Literal["nonsaturating", "hinge"]
_EPS = 1e-7  # probability clip of keras' binary cross-entropy


def _cross_entropy(score, real: bool, from_logits: bool):
    """Mean BCE of ``score`` against an all-ones (``real``) or all-zeros target."""
    if from_logits:
        return ops.mean(ops.softplus(-score if real else score))
    p = ops.clip(score, _EPS, 1.0 - _EPS)
    return -ops.mean(ops.log(p if real else 1.0 - p))


def gan_losses(real_scores, fake_scores, loss: Loss = "nonsaturating", from_logits: bool = True):
    """``(d_loss, g_loss)`` for the discriminator's scores of real and generated images."""
    if loss == "hinge":
        d_loss = ops.mean(ops.relu(1.0 - real_scores)) + ops.mean(ops.relu(1.0 + fake_scores))
        return d_loss, -ops.mean(fake_scores)
    d_loss = 0.5 * (_cross_entropy(real_scores, True, from_logits) + _cross_entropy(fake_scores, False, from_logits))
    return d_loss, _cross_entropy(fake_scores, True, from_logits)


class GAN(keras.Model):
    """Generator + discriminator trained with ``fit`` on batches of real images in [-1, 1]."""

    def __init__(
        self,
        generator: keras.Model,
        discriminator: keras.Model,
        latent_dim: int,
        d_output: Literal["linear", "sigmoid", "sigmoid_as_logits"] = "linear",
        seed: int | None = None,
        loss: Loss = "nonsaturating",
        ema_decay: float = 0.0,
        diffaugment: str = "off",
        **kwargs,
    ):
        super().__init__(**kwargs)
        if d_output not in ("linear", "sigmoid", "sigmoid_as_logits"):
            raise ValueError(f"d_output must be 'linear', 'sigmoid' or 'sigmoid_as_logits', got {d_output!r}")
        if loss not in ("nonsaturating", "hinge") or (loss == "hinge" and d_output != "linear"):
            raise ValueError(f"loss must be 'nonsaturating' or 'hinge' (hinge needs d_output='linear'), got {loss!r}")
        if not 0.0 <= ema_decay < 1.0:
            raise ValueError(f"ema_decay must be in [0, 1), got {ema_decay}")
        if diffaugment != "off" and diffaugment not in POLICIES:
            raise ValueError(f"diffaugment must be 'off' or one of {', '.join(POLICIES)}, got {diffaugment!r}")
        self.generator = generator
        self.loss_kind = loss
        self.ema_decay = float(ema_decay)
        self.diffaugment = diffaugment  # a policy of fashiongan.augment, or "off"
        self.ema_generator: keras.Model | None = None
        if ema_decay > 0:
            self.ema_generator = keras.models.clone_model(generator)
            self.ema_generator.set_weights(generator.get_weights())
            self.ema_generator.trainable = False
        self.discriminator = discriminator
        # BatchNorm makes one concatenated batch differ from two calls (see the module docstring).
        self.joint_batch = any(isinstance(layer, keras.layers.BatchNormalization) for layer in discriminator.layers)
        self.latent_dim = int(latent_dim)
        self.outputs_logits = d_output == "linear"
        self.from_logits = d_output != "sigmoid"
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.stop_reason: str | None = None  # set by the detectors in fashiongan.detectors
        self.d_loss_tracker = keras.metrics.Mean(name="d_loss")
        self.g_loss_tracker = keras.metrics.Mean(name="g_loss")
        self.d_real_tracker = keras.metrics.Mean(name="d_real")
        self.d_fake_tracker = keras.metrics.Mean(name="d_fake")
        self.built = True  # both networks are built: fit must not trace ``call`` on a batch of images

    def compile(self, d_optimizer: keras.optimizers.Optimizer, g_optimizer: keras.optimizers.Optimizer, **kwargs):
        """Keep one optimizer per network; ``kwargs`` (``jit_compile``, ...) go to ``Model.compile``."""
        super().compile(optimizer=None, **kwargs)
        self.d_optimizer = d_optimizer
        self.g_optimizer = g_optimizer
        self.build_optimizers()
        self.optimizer = OptimizerPair(d_optimizer, g_optimizer)  # what fit carries as optimizer state

    @property
    def metrics(self) -> list[keras.metrics.Metric]:
        """Listed here so Keras resets them at every epoch."""
        return [self.d_loss_tracker, self.g_loss_tracker, self.d_real_tracker, self.d_fake_tracker]

    @property
    def sampler(self) -> keras.Model:
        """The generator that draws every sample, score and saved model: the average when kept."""
        return self.ema_generator if self.ema_generator is not None else self.generator

    def discriminator_view(self, images):
        """What the discriminator sees of ``images``: DiffAugment's ``diffaugment`` policy applied, or them as they are."""
        return images if self.diffaugment == "off" else diff_augment(images, self.seed_generator, self.diffaugment)

    def call(self, z, training: bool = False):
        return self.sampler(z, training=training)

    def build_optimizers(self) -> None:
        """Create the optimizer slots now (needed before restoring a checkpoint into them)."""
        self.d_optimizer.build(self.discriminator.trainable_variables)
        self.g_optimizer.build(self.generator.trainable_variables)

    def train_step(self, *args):
        """One generator and one discriminator update: the backend's own step (see :mod:`fashiongan.gan_steps`)."""
        return backend_train_step(keras.backend.backend())(self, *args)

    def forward_losses(self, data):
        """The one forward pass every backend's step differentiates: ``(d_loss, g_loss, real_scores, fake_scores)``.

        ``data`` is a batch of real images, or the 1-tuple a Python generator must yield.
        """
        real_images = keras.utils.unpack_x_y_sample_weight(data)[0]
        batch = ops.shape(real_images)[0]
        z = keras.random.normal((batch, self.latent_dim), seed=self.seed_generator)
        fake_images = self.generator(z, training=True)  # one generator pass feeds both losses
        real_images = ops.cast(real_images, fake_images.dtype)
        if self.joint_batch:
            scores = self._score(ops.concatenate([real_images, fake_images], axis=0))
            real_scores, fake_scores = scores[:batch], scores[batch:]
        else:
            real_scores, fake_scores = self._score(real_images), self._score(fake_images)
        d_loss, g_loss = gan_losses(real_scores, fake_scores, self.loss_kind, self.from_logits)
        return d_loss, g_loss, real_scores, fake_scores

    def _score(self, images):
        """The discriminator's float32 scores of ``images`` as it sees them in training."""
        return ops.cast(self.discriminator(self.discriminator_view(images), training=True), "float32")

    def finish_step(self, d_loss, g_loss, real_scores, fake_scores) -> dict:
        """After both optimizers stepped: move the average, track the losses and mean probabilities; the logs."""
        if self.ema_generator is not None:
            self._update_average()
        to_prob = ops.sigmoid if self.outputs_logits else (lambda s: s)
        self.d_loss_tracker.update_state(d_loss)
        self.g_loss_tracker.update_state(g_loss)
        self.d_real_tracker.update_state(ops.mean(to_prob(real_scores)))
        self.d_fake_tracker.update_state(ops.mean(to_prob(fake_scores)))
        return {m.name: m.result() for m in self.metrics}

    def _update_average(self) -> None:
        """Move every weight of the averaged generator (BatchNorm statistics too) towards the trained one."""
        step = ops.cast(self.g_optimizer.iterations, "float32")
        decay = ops.minimum(self.ema_decay, (1.0 + step) / (10.0 + step))
        for average, current in zip(self.ema_generator.weights, self.generator.weights, strict=True):
            average.assign(average + (1.0 - decay) * (ops.cast(current, average.dtype) - average))


def make_optimizers(
    g_learning_rate: float,
    d_learning_rate: float,
    beta_1: float,
    precision: str = "float32",
    beta_2: float = 0.999,
) -> tuple[keras.optimizers.Optimizer, keras.optimizers.Optimizer]:
    """Adam for each network; wrapped in dynamic loss scaling under ``mixed_float16``.

    bfloat16 has float32's exponent range, so its gradients do not underflow and need no scaling.
    """
    d_opt = keras.optimizers.Adam(d_learning_rate, beta_1=beta_1, beta_2=beta_2, name="d_adam")
    g_opt = keras.optimizers.Adam(g_learning_rate, beta_1=beta_1, beta_2=beta_2, name="g_adam")
    if precision == "mixed_float16":
        d_opt = keras.optimizers.LossScaleOptimizer(d_opt, name="d_loss_scale")
        g_opt = keras.optimizers.LossScaleOptimizer(g_opt, name="g_loss_scale")
    return d_opt, g_opt


"""The three presets: what every null field of ``model`` and of the training knobs stands for.

``compact`` and ``tutorial`` reproduce the reference write-ups (see :mod:`fashiongan.models`);
``modern`` is the same small DCGAN shape built from published practice, each piece a switch,
on by default where it measured better per minute of a 2-core CPU (README, ablation table):

* an exponential moving average of the generator's weights, used for every sample, score and
  saved model (Yazici et al. 2019), with TensorFlow's ``num_updates`` warm-up of the decay (on);
* two time-scale learning rates (TTUR, Heusel et al. 2017): the discriminator learns 2x faster (on);
* DiffAugment on real and generated images before the discriminator (Zhao et al. 2020), made for
  exactly the small offline data set: translation on; cutout is a policy choice, off because at
  a thousand steps the generator copied its squares;
* stride-2 transposed convolutions with kernel 4 (a multiple of the stride, so no uneven
  overlap); resize-convolutions (Odena et al. 2016) are the ``upsampling`` switch, measured
  slower per minute of CPU;
* spectral normalisation on every discriminator layer (Miyato et al. 2018) and the hinge loss
  (SN-GAN, BigGAN): switches, off by default, because within the CPU budget both trained slower
  to recognisable garments than the non-saturating loss on a plain discriminator.

:func:`resolve_model_params` and :func:`resolve_training` fill the nulls; everything that
builds or trains a GAN reads the resolved values, never the raw params.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

from fashiongan.config import ModelParams, TrainParams

Preset = Literal["compact", "tutorial", "modern"]

_MODEL: dict[str, dict[str, Any]] = {
    "compact": {"latent_dim": 128, "g_width": 128, "d_width": 64, "dropout": 0.0, "leaky_slope": 0.2,
                "spectral_norm": False, "upsampling": "transposed"},
    "tutorial": {"latent_dim": 100, "g_width": 256, "d_width": 64, "dropout": 0.3, "leaky_slope": 0.3,
                 "spectral_norm": False, "upsampling": "transposed"},
    "modern": {"latent_dim": 128, "g_width": 128, "d_width": 64, "dropout": 0.0, "leaky_slope": 0.2,
               "spectral_norm": False, "upsampling": "transposed"},
}  # fmt: skip

_TRAINING: dict[str, dict[str, Any]] = {
    "compact": {"loss": "nonsaturating", "ema_decay": 0.0, "diffaugment": "off",
                "g_learning_rate": 2e-4, "d_learning_rate": 2e-4, "beta_1": 0.5, "beta_2": 0.999},
    "tutorial": {"loss": "nonsaturating", "ema_decay": 0.0, "diffaugment": "off",
                 "g_learning_rate": 2e-4, "d_learning_rate": 2e-4, "beta_1": 0.5, "beta_2": 0.999},
    "modern": {"loss": "nonsaturating", "ema_decay": 0.999, "diffaugment": "translation",
               "g_learning_rate": 2e-4, "d_learning_rate": 4e-4, "beta_1": 0.5, "beta_2": 0.999},
}  # fmt: skip


def _pick(value: Any, default: Any) -> Any:
    return default if value is None else value


@dataclass(frozen=True)
class ResolvedModel:
    """Effective architecture after the preset filled in every null field."""

    preset: Preset
    latent_dim: int
    g_width: int  # channels of the generator's first Dense layer (7*7*g_width units)
    d_width: int  # filters of the discriminator's first Conv2D
    dropout: float
    leaky_slope: float
    batchnorm: bool
    d_output: Literal["linear", "sigmoid", "sigmoid_as_logits"]  # the last: see fashiongan.gan
    generator_depth: int
    spectral_norm: bool
    upsampling: Literal["transposed", "nearest", "bilinear"]

    def as_dict(self) -> dict[str, Any]:
        """Plain dict for MLflow params, sweep records and checkpoint hashes."""
        return asdict(self)


@dataclass(frozen=True)
class ResolvedTraining:
    """Effective loss, averaging, augmentation and optimiser settings of a preset."""

    loss: Literal["nonsaturating", "hinge"]
    ema_decay: float  # 0 = no averaged generator
    diffaugment: Literal["off", "translation", "cutout", "translation,cutout"]
    g_learning_rate: float
    d_learning_rate: float
    beta_1: float
    beta_2: float

    def as_dict(self) -> dict[str, Any]:
        """Plain dict for MLflow params and checkpoint hashes."""
        return asdict(self)


def resolve_model_params(model: ModelParams) -> ResolvedModel:
    """Fill the null fields of ``model`` from its preset."""
    ref = _MODEL[model.preset]
    width = model.first_layer_width
    return ResolvedModel(
        preset=model.preset,
        latent_dim=_pick(model.latent_dim, ref["latent_dim"]),
        g_width=_pick(width, ref["g_width"]),
        d_width=_pick(width, ref["d_width"]),
        dropout=_pick(model.dropout, ref["dropout"]),
        leaky_slope=_pick(model.leaky_slope, ref["leaky_slope"]),
        batchnorm=model.batchnorm,
        d_output=model.d_output,
        generator_depth=model.generator_depth,
        spectral_norm=_pick(model.spectral_norm, ref["spectral_norm"]),
        upsampling=_pick(model.upsampling, ref["upsampling"]),
    )


def resolve_training(preset: Preset, train: TrainParams) -> ResolvedTraining:
    """Fill the null training knobs of ``train`` from ``preset``."""
    ref = _TRAINING[preset]
    return ResolvedTraining(**{key: _pick(getattr(train, key), default) for key, default in ref.items()})

"""Generator and discriminator builders for the two reference DCGANs.

With every optional field of ``model`` left null, the builders reproduce the write-ups
layer for layer:

* ``compact`` (a Keras DCGAN report, LeakyReLU slope 0.2, latent 128).
  Generator: Dense(7*7*128) -> Reshape(7, 7, 128) -> [Conv2DTranspose(128, 4, stride 2, same)
  + BatchNorm + LeakyReLU] x 2 -> Conv2D(1, 7, same, tanh): 1,340,929 parameters
  (1,340,417 trainable). Discriminator: Conv2D(64, 3, stride 2, same) + LeakyReLU ->
  Conv2D(128, 3, 2, same) + BatchNorm + LeakyReLU -> GlobalMaxPooling2D -> Dense(1):
  75,137 parameters.
* ``tutorial`` (the TensorFlow DCGAN tutorial, LeakyReLU slope 0.3 = the TF2 default,
  latent 100). Generator: Dense(7*7*256, no bias) + BatchNorm + LeakyReLU -> Reshape ->
  Conv2DTranspose(128, 5, stride 1) + BN + LeakyReLU -> Conv2DTranspose(64, 5, 2) + BN +
  LeakyReLU -> Conv2DTranspose(1, 5, 2, tanh), all without bias: 2,330,944 parameters.
  Discriminator: [Conv2D(64 then 128, 5, stride 2, same) + LeakyReLU + Dropout(0.3)] x 2 ->
  Flatten -> Dense(1): 212,865 parameters.

``model.first_layer_width`` (W) is the one width knob the hand-tuning of the tutorial's author
varied. Setting it changes exactly two layers, in both presets: the generator's first Dense
layer outputs 7*7*W units (reshaped to a 7x7 map with W channels) and the discriminator's
first Conv2D has W filters. Every other layer keeps its reference width. Null means the
reference: generator 128 (compact) or 256 (tutorial), discriminator 64 (both).

Ablation switches:

* ``batchnorm: false`` drops every BatchNorm (generator, and the compact discriminator's);
  layers that had no bias because a BatchNorm followed get a bias instead.
* ``dropout``: a Dropout layer after each discriminator conv block; rate 0 adds no layer.
* ``d_output: sigmoid`` ends the discriminator in a sigmoid; the GAN then uses cross-entropy
  on probabilities (the set-up whose losses sat at ln 2 in the compact report).
* ``generator_depth: 4`` (the deeper, DCGAN-paper-like generator) inserts two more
  Conv2DTranspose + BN + LeakyReLU blocks at stride 1 on the 7x7 map, with the filters and
  kernel of the first reference block (compact 128/4, tutorial 128/5), before the blocks
  that upsample. The output stays 28x28x1 because 28 = 7 * 2 * 2 allows only two
  stride-2 steps from 7x7.

Output layers are float32 even under a mixed-precision policy so losses stay stable.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

import keras
from keras import layers

from fashiongan.config import ModelParams
from fashiongan.errors import FashionGanError

IMAGE_SHAPE = (28, 28, 1)
BASE = 7  # spatial size the generator starts from

_REFERENCE: dict[str, dict[str, Any]] = {
    "compact": {"latent_dim": 128, "g_width": 128, "d_width": 64, "dropout": 0.0, "leaky_slope": 0.2},
    "tutorial": {"latent_dim": 100, "g_width": 256, "d_width": 64, "dropout": 0.3, "leaky_slope": 0.3},
}


@dataclass(frozen=True)
class ResolvedModel:
    """Effective architecture after the preset filled in every null field."""

    preset: Literal["compact", "tutorial"]
    latent_dim: int
    g_width: int  # channels of the generator's first Dense layer (7*7*g_width units)
    d_width: int  # filters of the discriminator's first Conv2D
    dropout: float
    leaky_slope: float
    batchnorm: bool
    d_output: Literal["linear", "sigmoid", "sigmoid_as_logits"]  # the last: see fashiongan.gan
    generator_depth: int

    def as_dict(self) -> dict[str, Any]:
        """Plain dict for MLflow params, sweep records and checkpoint hashes."""
        return asdict(self)


def resolve_model_params(model: ModelParams) -> ResolvedModel:
    """Fill the null fields of ``model`` from its preset's reference write-up."""
    ref = _REFERENCE[model.preset]
    width = model.first_layer_width
    return ResolvedModel(
        preset=model.preset,
        latent_dim=model.latent_dim if model.latent_dim is not None else ref["latent_dim"],
        g_width=width if width is not None else ref["g_width"],
        d_width=width if width is not None else ref["d_width"],
        dropout=model.dropout if model.dropout is not None else ref["dropout"],
        leaky_slope=model.leaky_slope if model.leaky_slope is not None else ref["leaky_slope"],
        batchnorm=model.batchnorm,
        d_output=model.d_output,
        generator_depth=model.generator_depth,
    )


def build_generator(spec: ResolvedModel, dtype: str | None = None) -> keras.Model:
    """Latent vector -> 28x28x1 image in [-1, 1] (tanh); ``dtype`` is a Keras dtype policy name."""
    if spec.preset == "compact":
        return _compact_generator(spec, dtype)
    return _tutorial_generator(spec, dtype)


def build_discriminator(spec: ResolvedModel, dtype: str | None = None) -> keras.Model:
    """28x28x1 image -> one score: a logit (``linear``) or a probability (``sigmoid``)."""
    if spec.preset == "compact":
        return _compact_discriminator(spec, dtype)
    return _tutorial_discriminator(spec, dtype)


def build_models(spec: ResolvedModel, dtype: str | None = None) -> tuple[keras.Model, keras.Model]:
    """Both networks of one GAN."""
    return build_generator(spec, dtype), build_discriminator(spec, dtype)


def _up_block(x, spec: ResolvedModel, filters: int, kernel: int, strides: int, dtype, name: str, bias: bool = True):
    """Conv2DTranspose (+ BatchNorm) + LeakyReLU."""
    x = layers.Conv2DTranspose(
        filters, kernel, strides=strides, padding="same", use_bias=bias or not spec.batchnorm, dtype=dtype, name=name
    )(x)
    if spec.batchnorm:
        x = layers.BatchNormalization(dtype=dtype, name=f"{name}_bn")(x)
    return layers.LeakyReLU(negative_slope=spec.leaky_slope, dtype=dtype, name=f"{name}_act")(x)


def _extra_blocks(x, spec: ResolvedModel, kernel: int, dtype, bias: bool):
    """The two stride-1 blocks of ``generator_depth: 4``."""
    for i in range(spec.generator_depth - 2):
        x = _up_block(x, spec, 128, kernel, 1, dtype, f"g_extra{i + 1}", bias)
    return x


def _compact_generator(spec: ResolvedModel, dtype) -> keras.Model:
    z = keras.Input((spec.latent_dim,), name="z")
    x = layers.Dense(BASE * BASE * spec.g_width, dtype=dtype, name="g_dense")(z)
    x = layers.Reshape((BASE, BASE, spec.g_width), dtype=dtype, name="g_reshape")(x)
    x = _extra_blocks(x, spec, 4, dtype, bias=True)
    x = _up_block(x, spec, 128, 4, 2, dtype, "g_up1")
    x = _up_block(x, spec, 128, 4, 2, dtype, "g_up2")
    out = layers.Conv2D(1, 7, padding="same", activation="tanh", dtype="float32", name="g_out")(x)
    return keras.Model(z, out, name="generator")


def _tutorial_generator(spec: ResolvedModel, dtype) -> keras.Model:
    z = keras.Input((spec.latent_dim,), name="z")
    x = layers.Dense(BASE * BASE * spec.g_width, use_bias=not spec.batchnorm, dtype=dtype, name="g_dense")(z)
    if spec.batchnorm:
        x = layers.BatchNormalization(dtype=dtype, name="g_dense_bn")(x)
    x = layers.LeakyReLU(negative_slope=spec.leaky_slope, dtype=dtype, name="g_dense_act")(x)
    x = layers.Reshape((BASE, BASE, spec.g_width), dtype=dtype, name="g_reshape")(x)
    x = _extra_blocks(x, spec, 5, dtype, bias=False)
    x = _up_block(x, spec, 128, 5, 1, dtype, "g_up1", bias=False)
    x = _up_block(x, spec, 64, 5, 2, dtype, "g_up2", bias=False)
    out = layers.Conv2DTranspose(
        1, 5, strides=2, padding="same", use_bias=False, activation="tanh", dtype="float32", name="g_out"
    )(x)
    return keras.Model(z, out, name="generator")


def _d_head(x, spec: ResolvedModel) -> keras.KerasTensor:
    activation = None if spec.d_output == "linear" else "sigmoid"
    return layers.Dense(1, activation=activation, dtype="float32", name="d_out")(x)


def _dropout(x, spec: ResolvedModel, dtype, name: str):
    return layers.Dropout(spec.dropout, dtype=dtype, name=name)(x) if spec.dropout > 0 else x


def _compact_discriminator(spec: ResolvedModel, dtype) -> keras.Model:
    img = keras.Input(IMAGE_SHAPE, name="image")
    x = layers.Conv2D(spec.d_width, 3, strides=2, padding="same", dtype=dtype, name="d_conv1")(img)
    x = layers.LeakyReLU(negative_slope=spec.leaky_slope, dtype=dtype, name="d_conv1_act")(x)
    x = _dropout(x, spec, dtype, "d_conv1_drop")
    x = layers.Conv2D(128, 3, strides=2, padding="same", dtype=dtype, name="d_conv2")(x)
    if spec.batchnorm:
        x = layers.BatchNormalization(dtype=dtype, name="d_conv2_bn")(x)
    x = layers.LeakyReLU(negative_slope=spec.leaky_slope, dtype=dtype, name="d_conv2_act")(x)
    x = _dropout(x, spec, dtype, "d_conv2_drop")
    x = layers.GlobalMaxPooling2D(dtype=dtype, name="d_pool")(x)
    return keras.Model(img, _d_head(x, spec), name="discriminator")


def _tutorial_discriminator(spec: ResolvedModel, dtype) -> keras.Model:
    img = keras.Input(IMAGE_SHAPE, name="image")
    x = img
    for i, filters in enumerate((spec.d_width, 128), start=1):
        x = layers.Conv2D(filters, 5, strides=2, padding="same", dtype=dtype, name=f"d_conv{i}")(x)
        x = layers.LeakyReLU(negative_slope=spec.leaky_slope, dtype=dtype, name=f"d_conv{i}_act")(x)
        x = _dropout(x, spec, dtype, f"d_conv{i}_drop")
    x = layers.Flatten(dtype=dtype, name="d_flatten")(x)
    return keras.Model(img, _d_head(x, spec), name="discriminator")


def load_model_file(path: str | Path, what: str, remedy: str) -> keras.Model:
    """Load a ``.keras`` file in safe mode; missing, refused or damaged files become one-line errors."""
    path = Path(path)
    if not path.is_file():
        raise FashionGanError(f"{what} {path} not found: {remedy}")
    try:
        return keras.saving.load_model(path, compile=False, safe_mode=True)
    except Exception as exc:  # a damaged zip or config raises many types
        if "safe_mode" in str(exc):
            raise FashionGanError(
                f"{what} {path} refused: it carries Python code (a Lambda layer), which safe mode never runs; {remedy}"
            ) from None
        reason = " ".join(str(exc).split())[:120]
        raise FashionGanError(
            f"{what} {path} cannot be loaded ({type(exc).__name__}: {reason}): the file is corrupt or incompatible; {remedy}"
        ) from None

"""Generator and discriminator builders for the two reference DCGANs and the modern preset.

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

and build the ``modern`` preset (see :mod:`fashiongan.presets` for its training half):

* Generator: Dense(7*7*128, no bias) + BN + LeakyReLU(0.2) -> Reshape -> Conv2D(128, 3) + BN +
  LeakyReLU at 7x7 -> Conv2DTranspose(64, 4, 2) + BN + LeakyReLU -> Conv2DTranspose(1, 4, 2, tanh):
  1,108,225 parameters (1,095,297 trainable), latent 128. The kernel (4) is a multiple of the
  stride, which keeps the checkerboard overlap even. ``upsampling: nearest|bilinear`` swaps both
  for resize-convolutions, UpSampling2D(2) + Conv2D(64, 3) and + Conv2D(1, 3) (Odena et al.
  2016): 1,050,433 parameters, but 0.57x the images/s on a 2-core CPU, where oneDNN's backward
  pass of a 1-filter 3x3 Conv2D at 28x28 costs ~100 ms per 64 images.
* Discriminator: [SN Conv2D(64, 4, stride 2) + LeakyReLU(0.2) (+ Dropout)] -> [SN Conv2D(128, 4, 2)
  + LeakyReLU (+ Dropout)] -> Flatten -> SN Dense(1) logits: 138,561 trainable parameters and
  193 power-iteration vector entries (``spectral_norm: false`` drops the wrappers).

``model.first_layer_width`` (W) is the one width knob the hand-tuning of the tutorial's author
varied. Setting it changes exactly two layers, in every preset: the generator's first Dense
layer outputs 7*7*W units (reshaped to a 7x7 map with W channels) and the discriminator's
first Conv2D has W filters. Every other layer keeps its reference width. Null means the
reference: generator 128 (compact, modern) or 256 (tutorial), discriminator 64 (all three).

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

from collections.abc import Callable
from pathlib import Path

import keras
from keras import layers

from fashiongan.fileio import load_keras
from fashiongan.paths import GENERATOR_PATH
from fashiongan.presets import ResolvedModel

IMAGE_SHAPE = (28, 28, 1)
BASE = 7  # spatial size the generator starts from

def build_generator(spec: ResolvedModel, dtype: str | None = None) -> keras.Model:
    """Latent vector -> 28x28x1 image in [-1, 1] (tanh); ``dtype`` is a Keras dtype policy name."""
    builders = {"compact": _compact_generator, "tutorial": _tutorial_generator, "modern": _modern_generator}
    return builders[spec.preset](spec, dtype)


def build_discriminator(spec: ResolvedModel, dtype: str | None = None) -> keras.Model:
    """28x28x1 image -> one score: a logit (``linear``) or a probability (``sigmoid``)."""
    builders = {"compact": _compact_discriminator, "tutorial": _tutorial_discriminator, "modern": _modern_discriminator}
    return builders[spec.preset](spec, dtype)


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


def _dense_stem(z, spec: ResolvedModel, dtype):
    """Dense(7*7*W, no bias under BatchNorm) (+ BatchNorm) + LeakyReLU, reshaped to a 7x7xW map."""
    x = layers.Dense(BASE * BASE * spec.g_width, use_bias=not spec.batchnorm, dtype=dtype, name="g_dense")(z)
    if spec.batchnorm:
        x = layers.BatchNormalization(dtype=dtype, name="g_dense_bn")(x)
    x = layers.LeakyReLU(negative_slope=spec.leaky_slope, dtype=dtype, name="g_dense_act")(x)
    return layers.Reshape((BASE, BASE, spec.g_width), dtype=dtype, name="g_reshape")(x)


def _tutorial_generator(spec: ResolvedModel, dtype) -> keras.Model:
    z = keras.Input((spec.latent_dim,), name="z")
    x = _dense_stem(z, spec, dtype)
    x = _extra_blocks(x, spec, 5, dtype, bias=False)
    x = _up_block(x, spec, 128, 5, 1, dtype, "g_up1", bias=False)
    x = _up_block(x, spec, 64, 5, 2, dtype, "g_up2", bias=False)
    out = layers.Conv2DTranspose(
        1, 5, strides=2, padding="same", use_bias=False, activation="tanh", dtype="float32", name="g_out"
    )(x)
    return keras.Model(z, out, name="generator")


def _d_layer(spec: ResolvedModel, make: Callable[[str], layers.Layer], name: str) -> layers.Layer:
    """A discriminator layer named ``name``; with spectral norm, the wrapper takes the name."""
    if not spec.spectral_norm:
        return make(name)
    inner = make(f"{name}_inner")
    return layers.SpectralNormalization(inner, power_iterations=1, dtype=inner.dtype_policy, name=name)


def _d_conv(x, spec: ResolvedModel, filters: int, kernel: int, strides: int, dtype, name: str):
    conv = _d_layer(spec, lambda n: layers.Conv2D(filters, kernel, strides=strides, padding="same", dtype=dtype, name=n), name)
    return conv(x)


def _d_head(x, spec: ResolvedModel) -> keras.KerasTensor:
    activation = None if spec.d_output == "linear" else "sigmoid"
    return _d_layer(spec, lambda n: layers.Dense(1, activation=activation, dtype="float32", name=n), "d_out")(x)


def _dropout(x, spec: ResolvedModel, dtype, name: str):
    return layers.Dropout(spec.dropout, dtype=dtype, name=name)(x) if spec.dropout > 0 else x


def _compact_discriminator(spec: ResolvedModel, dtype) -> keras.Model:
    img = keras.Input(IMAGE_SHAPE, name="image")
    x = _d_conv(img, spec, spec.d_width, 3, 2, dtype, "d_conv1")
    x = layers.LeakyReLU(negative_slope=spec.leaky_slope, dtype=dtype, name="d_conv1_act")(x)
    x = _dropout(x, spec, dtype, "d_conv1_drop")
    x = _d_conv(x, spec, 128, 3, 2, dtype, "d_conv2")
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
        x = _d_conv(x, spec, filters, 5, 2, dtype, f"d_conv{i}")
        x = layers.LeakyReLU(negative_slope=spec.leaky_slope, dtype=dtype, name=f"d_conv{i}_act")(x)
        x = _dropout(x, spec, dtype, f"d_conv{i}_drop")
    x = layers.Flatten(dtype=dtype, name="d_flatten")(x)
    return keras.Model(img, _d_head(x, spec), name="discriminator")


def _resize_block(x, spec: ResolvedModel, filters: int, dtype, name: str):
    """Upsample x2 then Conv2D 3x3 (+ BatchNorm) + LeakyReLU: no checkerboard (Odena et al. 2016)."""
    if spec.upsampling == "transposed":
        return _up_block(x, spec, filters, 4, 2, dtype, name, bias=False)
    x = layers.UpSampling2D(2, interpolation=spec.upsampling, dtype=dtype, name=f"{name}_resize")(x)
    return _conv_block(x, spec, filters, dtype, name)


def _conv_block(x, spec: ResolvedModel, filters: int, dtype, name: str):
    """Conv2D 3x3 stride 1 (+ BatchNorm) + LeakyReLU."""
    x = layers.Conv2D(filters, 3, padding="same", use_bias=not spec.batchnorm, dtype=dtype, name=name)(x)
    if spec.batchnorm:
        x = layers.BatchNormalization(dtype=dtype, name=f"{name}_bn")(x)
    return layers.LeakyReLU(negative_slope=spec.leaky_slope, dtype=dtype, name=f"{name}_act")(x)


def _modern_generator(spec: ResolvedModel, dtype) -> keras.Model:
    z = keras.Input((spec.latent_dim,), name="z")
    x = _dense_stem(z, spec, dtype)
    x = _extra_blocks(x, spec, 3, dtype, bias=False)
    x = _conv_block(x, spec, 128, dtype, "g_conv")  # the tutorial's stride-1 block at 7x7
    x = _resize_block(x, spec, 64, dtype, "g_up1")
    if spec.upsampling == "transposed":
        out = layers.Conv2DTranspose(1, 4, strides=2, padding="same", activation="tanh", dtype="float32", name="g_out")(x)
    else:
        x = layers.UpSampling2D(2, interpolation=spec.upsampling, dtype=dtype, name="g_out_resize")(x)
        out = layers.Conv2D(1, 3, padding="same", activation="tanh", dtype="float32", name="g_out")(x)
    return keras.Model(z, out, name="generator")


def _modern_discriminator(spec: ResolvedModel, dtype) -> keras.Model:
    img = keras.Input(IMAGE_SHAPE, name="image")
    x = img
    for i, (filters, kernel, strides) in enumerate(((spec.d_width, 4, 2), (128, 4, 2)), start=1):
        x = _d_conv(x, spec, filters, kernel, strides, dtype, f"d_conv{i}")
        x = layers.LeakyReLU(negative_slope=spec.leaky_slope, dtype=dtype, name=f"d_conv{i}_act")(x)
        x = _dropout(x, spec, dtype, f"d_conv{i}_drop")
    x = layers.Flatten(dtype=dtype, name="d_flatten")(x)
    return keras.Model(img, _d_head(x, spec), name="discriminator")


def load_generator(path: str | Path = GENERATOR_PATH) -> keras.Model:
    """Load a saved generator in safe mode; a missing or corrupt file becomes a one-line error."""
    return load_keras(path, "generator", "rerun `dvc repro train`")

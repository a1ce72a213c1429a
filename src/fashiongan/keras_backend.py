"""The Keras backend: chosen from ``train.backend`` before keras is imported, and asked what only its framework knows.

Keras reads ``KERAS_BACKEND`` once, when it is first imported, so the entry points (the CLI and
``pipelines/*.py``) call :func:`select_backend` with ``train.backend`` before they import anything
that imports keras. params.yaml wins over an exported ``KERAS_BACKEND`` (DVC tracks params, not
the shell), with a warning when they disagree. A process whose keras is already imported on
another backend cannot switch: :func:`check_backend` then fails with a one-line error.

:func:`select_backend` also makes that first import lean. Keras and TensorFlow import, at start-up,
packages that only features no stage uses need, each behind their own ``try: import ... except
ImportError``: scikit-learn (keras' scikit-learn wrappers; it brings scipy.stats), matplotlib.pyplot
(keras' image-gallery plot) and JAX (TensorFlow Lite's authoring, when JAX is installed). While
the first ``import keras`` or ``import tensorflow`` runs, those packages look absent; once it
returns they import as usual (the training figures and the sweep report load matplotlib then).
Importing the train stage took 12.65 CPU-s plain and 9.27 lean here (``benchmarks/startup.py``).
That first import also holds back TensorFlow's start-up notices (:func:`fashiongan.logs.startup_noise_held`).
"""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.util
import os
import sys
import warnings
from collections.abc import Iterator, Sequence
from importlib.machinery import ModuleSpec
from types import ModuleType

from fashiongan.errors import FashionGanError
from fashiongan.logs import startup_noise_held

BACKENDS = ("tensorflow", "jax", "torch")
# What to install when a backend's framework is missing: the extras in pyproject.toml.
INSTALL_HINT = {
    "tensorflow": "make setup (tensorflow-cpu is a dependency)",
    "jax": "pip install -e '.[jax]' (on a GPU machine: pip install 'jax[cuda12]')",
    "torch": "pip install torch",
}
# Imported by keras / TensorFlow at start-up for features the pipeline never uses (module docstring).
UNUSED_AT_START = ("sklearn", "matplotlib", "jax")


def select_backend(name: str) -> None:
    """Make keras start on backend ``name``; if keras is already imported, check it runs on ``name``."""
    if "keras" in sys.modules:
        check_backend(name)
        return
    if importlib.util.find_spec(name) is None:
        raise FashionGanError(f"train.backend={name} but {name} is not installed: {INSTALL_HINT[name]}, or set train.backend to an installed one")
    exported = os.environ.get("KERAS_BACKEND")
    if exported and exported != name:
        warnings.warn(f"KERAS_BACKEND={exported} is overridden by train.backend={name} (params.yaml wins)", stacklevel=2)
    os.environ["KERAS_BACKEND"] = name
    sys.meta_path[:] = [finder for finder in sys.meta_path if not isinstance(finder, _LeanFirstImport)]
    sys.meta_path.insert(0, _LeanFirstImport(module for module in UNUSED_AT_START if module != name))


class _LeanFirstImport(importlib.abc.MetaPathFinder):
    """Finds the first of keras / tensorflow to be imported and runs its import with ``hidden`` looking absent."""

    def __init__(self, hidden: Sequence[str]):
        self.hidden = tuple(hidden)

    def find_spec(self, fullname: str, path: Sequence[str] | None = None, target: ModuleType | None = None):
        if fullname not in ("keras", "tensorflow"):
            return None
        sys.meta_path.remove(self)  # one import only: from here on every import is the usual one
        spec = importlib.util.find_spec(fullname)
        if spec is not None and spec.loader is not None:
            spec.loader = _HidingLoader(spec.loader, self.hidden)
        return spec


class _HidingLoader(importlib.abc.Loader):
    """Runs ``loader``'s module code while ``hidden`` (those not imported yet) resolve to ImportError."""

    def __init__(self, loader: importlib.abc.Loader, hidden: Sequence[str]):
        self.loader, self.hidden = loader, hidden

    def create_module(self, spec: ModuleSpec) -> ModuleType | None:
        return self.loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        module.__loader__ = module.__spec__.loader = self.loader
        with looking_absent(self.hidden), startup_noise_held():
            self.loader.exec_module(module)


@contextlib.contextmanager
def looking_absent(names: Sequence[str]) -> Iterator[None]:
    """During the block, ``names`` not imported yet look uninstalled: ``import`` raises ImportError, ``find_spec`` finds nothing."""
    hidden = [name for name in names if name not in sys.modules]
    sys.modules.update(dict.fromkeys(hidden))  # None in sys.modules: `import name` raises ImportError
    try:
        yield
    finally:
        for name in hidden:
            if sys.modules.get(name, False) is None:
                del sys.modules[name]


def check_backend(name: str) -> None:
    """Fail with a one-line error if keras runs on another backend than ``name``."""
    import keras

    running = keras.backend.backend()
    if running != name:
        raise FashionGanError(
            f"train.backend={name} but keras was imported on {running}: run through `fashiongan` or "
            f"`pipelines/*.py`, or export KERAS_BACKEND={name} before Python imports keras"
        )


def step_jit_compile(jit_compile: bool | str) -> bool:
    """``Model.compile``'s ``jit_compile`` for ``train.jit_compile`` on the running backend.

    On TensorFlow it picks XLA over a plain graph; on torch, ``torch.compile``. JAX has no graph
    mode besides XLA: without ``jax.jit`` every op dispatches and compiles on its own, ~20x slower,
    so a JAX train step is always compiled. ``"auto"`` picks what ran faster where it was measured
    (:func:`xla_is_faster`); no ``torch.compile``.
    """
    import keras

    backend = keras.backend.backend()
    if backend == "jax":
        return True
    if jit_compile != "auto":
        return bool(jit_compile)
    return xla_is_faster()


def xla_is_faster() -> bool:
    """Whether TensorFlow runs a compiled graph faster with XLA here: on a GPU, or on a CPU without oneDNN kernels.

    Measured on 2-core CPUs: with oneDNN (AVX-512 AMD EPYC) the plain graph ran the GAN step 1.8-2x
    and the FID Inception 1.5x (35.1 vs 23.8 img/s) faster than XLA; without it (Xeon) XLA ran the
    step 1.55x and the Inception 1.2x faster.
    """
    import keras

    if keras.backend.backend() != "tensorflow":  # a TensorFlow question: do not load it on another backend
        return False
    return has_gpu() or not onednn_enabled()


def onednn_enabled() -> bool:
    """Whether TensorFlow runs its oneDNN CPU kernels (on by default on AVX-512 x86; ``TF_ENABLE_ONEDNN_OPTS`` decides)."""
    try:
        from tensorflow.python.util import _pywrap_util_port
    except ImportError:  # the module is private: a TensorFlow without it is treated as without oneDNN
        return False
    return bool(_pywrap_util_port.IsMklEnabled())


def has_gpu() -> bool:
    """Whether the running backend's framework sees a GPU."""
    import keras

    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        return bool(tf.config.list_physical_devices("GPU"))
    if backend == "jax":
        import jax

        return any(d.platform == "gpu" for d in jax.devices())
    if backend == "torch":
        import torch

        return torch.cuda.is_available()
    return False


def set_random_seed(seed: int) -> None:
    """``keras.utils.set_random_seed`` without loading TensorFlow on another backend.

    Keras seeds ``tf.random`` whenever TensorFlow is installed, whatever the backend, so on JAX or
    PyTorch every seeded stage would import TensorFlow (seconds of CPU, memory, its log lines).
    Off TensorFlow it runs with TensorFlow looking absent, as it does on a machine without it; Keras
    caches that answer, so its optional TensorFlow paths (tf.data adapters) stay off in this process too.
    """
    import keras

    with looking_absent(() if keras.backend.backend() == "tensorflow" else ("tensorflow",)):
        keras.utils.set_random_seed(seed)


def enable_determinism() -> None:
    """Deterministic kernels where the framework offers a switch at run time (TensorFlow's op determinism)."""
    import keras

    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()
    else:
        warnings.warn(
            f"train.deterministic is a TensorFlow switch; on {keras.backend.backend()} it does nothing "
            "(JAX on GPU: export XLA_FLAGS=--xla_gpu_deterministic_ops=true)",
            stacklevel=3,
        )

"""The Keras backend: chosen from ``train.backend`` before keras is imported, and asked what only its framework knows.

Keras reads ``KERAS_BACKEND`` once, when it is first imported, so the entry points (the CLI and
``pipelines/*.py``) call :func:`select_backend` with ``train.backend`` before they import anything
that imports keras. params.yaml wins over an exported ``KERAS_BACKEND`` (DVC tracks params, not
the shell), with a warning when they disagree. A process whose keras is already imported on
another backend cannot switch: :func:`check_backend` then fails with a one-line error.
"""

from __future__ import annotations

import os
import sys
import warnings

from fashiongan.errors import FashionGanError

BACKENDS = ("tensorflow", "jax", "torch")


def select_backend(name: str) -> None:
    """Make keras start on backend ``name``; if keras is already imported, check it runs on ``name``."""
    if "keras" in sys.modules:
        check_backend(name)
        return
    exported = os.environ.get("KERAS_BACKEND")
    if exported and exported != name:
        warnings.warn(f"KERAS_BACKEND={exported} is overridden by train.backend={name} (params.yaml wins)", stacklevel=2)
    os.environ["KERAS_BACKEND"] = name


def check_backend(name: str) -> None:
    """Fail with a one-line error if keras runs on another backend than ``name``."""
    import keras

    running = keras.backend.backend()
    if running != name:
        raise FashionGanError(
            f"train.backend={name} but keras was imported on {running}: run through `fashiongan` or "
            f"`pipelines/*.py`, or export KERAS_BACKEND={name} before Python imports keras"
        )


def step_jit_compile(jit_compile: bool) -> bool:
    """``Model.compile``'s ``jit_compile`` for ``train.jit_compile`` on the running backend.

    On TensorFlow it picks XLA over a plain graph; on torch, ``torch.compile``. JAX has no graph
    mode besides XLA: without ``jax.jit`` every op dispatches and compiles on its own, ~20x slower,
    so a JAX train step is always compiled.
    """
    import keras

    return True if keras.backend.backend() == "jax" else jit_compile


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

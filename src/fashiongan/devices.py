"""Which accelerator a process may use: GPU memory on demand, and one GPU per sweep worker when there are several.

TensorFlow maps all of a GPU's memory into the first process that touches it, so two sweep workers on one
GPU would fail; ``TF_FORCE_GPU_ALLOW_GROWTH`` makes each take only what it uses. With several GPUs each
worker sees one (``CUDA_VISIBLE_DEVICES``), round-robin. Both are environment variables, read when a
worker's TensorFlow starts, so they are set on the child before it starts. Without a GPU nothing changes.
"""

from __future__ import annotations

import os

GROWTH_ENV = "TF_FORCE_GPU_ALLOW_GROWTH"
VISIBLE_ENV = "CUDA_VISIBLE_DEVICES"


def visible_gpus() -> list[str]:
    """The GPU ids this process may hand out: ``CUDA_VISIBLE_DEVICES`` when set, else what TensorFlow finds."""
    listed = os.environ.get(VISIBLE_ENV)
    if listed is not None:
        return [g.strip() for g in listed.split(",") if g.strip() and g.strip() != "-1"]
    import tensorflow as tf

    return [str(i) for i in range(len(tf.config.list_physical_devices("GPU")))]


def worker_env(index: int, gpus: list[str]) -> dict[str, str]:
    """Environment of sweep worker ``index``: memory growth, and its own GPU when there are several."""
    if not gpus:
        return {}
    env = {GROWTH_ENV: os.environ.get(GROWTH_ENV, "true")}
    if len(gpus) > 1:
        env[VISIBLE_ENV] = gpus[index % len(gpus)]
    return env


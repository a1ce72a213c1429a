"""Which accelerator a process may use (one GPU per sweep worker when there are several), and whether it computes bfloat16.

TensorFlow maps all of a GPU's memory into the first process that touches it, so two sweep workers on one
GPU would fail; ``TF_FORCE_GPU_ALLOW_GROWTH`` makes each take only what it uses. With several GPUs each
worker sees one (``CUDA_VISIBLE_DEVICES``), round-robin. Both are environment variables, read when a
worker's TensorFlow starts, so they are set on the child before it starts. Without a GPU nothing changes.

``train.precision: bfloat16`` pays off only where the hardware computes bfloat16: a GPU, or a CPU with
AVX512_BF16 or AMX-BF16 (:func:`bfloat16_native`); elsewhere training falls back to float32.
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



BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")  # /proc/cpuinfo names of the instructions oneDNN uses for bfloat16


def bfloat16_native(cpuinfo: str | None = None) -> tuple[bool, str]:
    """Whether this machine computes bfloat16 natively, and why: a GPU, or a CPU with AVX512_BF16 or AMX-BF16.

    Any GPU counts (bfloat16 tensor cores came with compute capability 8.0; older GPUs run it slower).

    Without them TensorFlow's oneDNN still runs bfloat16 kernels, emulated with float32 arithmetic
    plus conversions, so they are slower than float32, never faster. ``cpuinfo`` replaces the text of
    ``/proc/cpuinfo`` (tests); elsewhere than Linux the CPU counts as lacking both instructions.
    """
    from fashiongan.keras_backend import has_gpu

    if has_gpu():
        return True, "a GPU computes bfloat16"
    if cpuinfo is None:
        try:
            with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
                cpuinfo = f.read()
        except OSError:
            cpuinfo = ""
    flags: set[str] = set()
    model = "this CPU"
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            flags.update(value.split())
        elif key.strip() == "model name" and model == "this CPU":
            model = f"this CPU ({value.strip()})"
    found = [flag for flag in BF16_CPU_FLAGS if flag in flags]
    if found:
        return True, f"{model} has {' and '.join(found)}"
    return False, f"{model} lacks {' and '.join(BF16_CPU_FLAGS)} and no GPU is visible"

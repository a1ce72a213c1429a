"""Training throughput (images/s) of ``GAN.fit`` against a plain tutorial-style loop.

For each preset, at the same batch size and on the same models, it times

* ``fashiongan``: the production path, ``GAN.fit`` on :func:`fashiongan.batches.make_dataset` with
  the detectors attached, one generator pass and one concatenated discriminator call per
  step, with ``train.jit_compile: false``; and ``+XLA``: the same with ``jit_compile: true``;
* ``plain``: the TensorFlow DCGAN tutorial's loop, written out below: ``@tf.function`` step
  with two ``GradientTape``s, separate discriminator calls on real and fake, no XLA,
  ``from_tensor_slices(x).shuffle(...).batch(...)``.

Rounds alternate between the two so that load from other processes hits both alike; the
figure is the median over rounds. FLOPs per image are counted from the layer shapes
(multiply-adds of Dense/Conv/Conv-transpose layers, x2) for one generator and two
discriminator forward passes, times 3 for forward + backward. The CPU peak is an estimate:
cores x 2 FMA units x 8 fp32 lanes (256-bit) x 2 flops x the clock in /proc/cpuinfo. That
clock is the nominal one a VM reports; boost clocks run higher, so a share can exceed 100 %.

Run: ``python benchmarks/train_throughput.py [--steps 4] [--rounds 3] [--batch-size 256]``
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from fashiongan.detectors import detectors  # noqa: E402
from fashiongan.params_file import parse_params  # noqa: E402
from fashiongan.data import scale  # noqa: E402
from fashiongan.fetch import sample_folder  # noqa: E402
from fashiongan.idx import read_idx  # noqa: E402
from fashiongan.batches import make_dataset  # noqa: E402
from fashiongan.models import build_models  # noqa: E402
from fashiongan.presets import resolve_model_params, resolve_training  # noqa: E402
from fashiongan.training import build_gan  # noqa: E402
from tutorial_step import tutorial_train_step  # noqa: E402


def forward_flops(model: keras.Model) -> int:
    """FLOPs of one image through ``model``'s Dense, Conv2D and Conv2DTranspose layers."""
    total = 0
    for layer in model.layers:
        if isinstance(layer, keras.layers.Dense):
            total += 2 * layer.input.shape[-1] * layer.units
        elif isinstance(layer, keras.layers.Conv2DTranspose):
            _, h, w, c_in = layer.input.shape
            kh, kw = layer.kernel_size
            total += 2 * kh * kw * c_in * layer.filters * h * w
        elif isinstance(layer, keras.layers.Conv2D):
            _, h, w, c_out = layer.output.shape
            kh, kw = layer.kernel_size
            total += 2 * kh * kw * layer.input.shape[-1] * c_out * h * w
    return total


def cpu_peak_flops() -> tuple[float, str]:
    """Estimated fp32 peak of the CPUs this process may use, and how it was estimated."""
    cores = len(os.sched_getaffinity(0))
    text = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    mhz = [float(m) for m in re.findall(r"cpu MHz\s*:\s*([\d.]+)", text)]
    ghz = (max(mhz) / 1000) if mhz else 2.0
    model = re.search(r"model name\s*:\s*(.+)", text)
    how = f"{cores} cores x 2 FMA x 8 fp32 lanes x 2 flops x {ghz:.2f} GHz ({model.group(1) if model else 'unknown CPU'})"
    return cores * 2 * 8 * 2 * ghz * 1e9, how


def plain_loop(spec, x: np.ndarray, batch_size: int, lr: float, beta_1: float):
    """The DCGAN tutorial's training loop on the same architecture; returns ``run(steps)``."""
    generator, discriminator = build_models(spec)
    g_opt, d_opt = keras.optimizers.Adam(lr, beta_1=beta_1), keras.optimizers.Adam(lr, beta_1=beta_1)
    train_step = tutorial_train_step(generator, discriminator, g_opt, d_opt, batch_size, spec.latent_dim)
    data = tf.data.Dataset.from_tensor_slices(x).shuffle(len(x)).batch(batch_size, drop_remainder=True).repeat()
    batches = iter(data)

    def run(steps: int) -> None:
        for _ in range(steps):
            losses = train_step(next(batches))
        float(losses[0])  # wait for the last step

    return run


def fashiongan_fit(params, x: np.ndarray):
    """``GAN.fit`` as train_gan runs it (XLA per params, detectors attached); returns ``run(steps)``."""
    t = params.train
    gan = build_gan(params)
    callbacks = detectors(t.stall_patience, t.stall_tolerance, t.divergence_bound, t.collapse_min_classes)
    per_epoch = len(x) // t.batch_size
    epoch = [0]

    def run(steps: int) -> None:
        epochs = -(-steps // per_epoch)
        data = make_dataset(x, t.batch_size, t.seed, epoch[0], epoch[0] + epochs).take(steps)
        gan.fit(data, epochs=1, steps_per_epoch=steps, callbacks=callbacks, shuffle=False, verbose=0)
        epoch[0] += epochs

    return run


def timed(run, steps: int) -> float:
    started = time.perf_counter()
    run(steps)
    return time.perf_counter() - started


def bench_preset(preset: str, x: np.ndarray, args) -> dict[str, float]:
    def params_for(jit: bool):
        return parse_params({"model": {"preset": preset}, "train": {"batch_size": args.batch_size, "jit_compile": jit}})

    params = params_for(False)
    spec = resolve_model_params(params.model)
    how = resolve_training(spec.preset, params.train)
    keras.utils.set_random_seed(0)
    runners = {
        "plain": plain_loop(spec, x, args.batch_size, how.g_learning_rate, how.beta_1),
        "fashiongan": fashiongan_fit(params, x),
        "+XLA": fashiongan_fit(params_for(True), x),
    }
    for run in runners.values():  # trace / compile
        run(args.warmup)
    seconds: dict[str, list[float]] = {name: [] for name in runners}
    for _ in range(args.rounds):
        for name, run in runners.items():
            seconds[name].append(timed(run, args.steps))
    rates = {name: args.steps * args.batch_size / statistics.median(s) for name, s in seconds.items()}
    gen, disc = build_models(spec)
    flops = 3 * (forward_flops(gen) + 2 * forward_flops(disc))
    return {**rates, "flops_per_image": flops}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=4, help="timed steps per round and path")
    parser.add_argument("--rounds", type=int, default=3, help="alternating timing rounds (median is reported)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps (tracing, XLA compile)")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--presets", nargs="+", default=["compact", "tutorial"])
    args = parser.parse_args()

    images = scale(read_idx(sample_folder() / "train-images-idx3-ubyte.gz"))
    x = np.concatenate([images] * max(1, -(-(args.batch_size * 8) // len(images))))
    peak, how = cpu_peak_flops()
    print(f"load average at the start: {' '.join(f'{v:.1f}' for v in os.getloadavg())}")
    print(f"batch {args.batch_size}, {args.steps} steps x {args.rounds} rounds, {len(x)} images; "
          f"peak estimate {peak / 1e9:.0f} GFLOP/s = {how}")  # fmt: skip
    for preset in args.presets:
        r = bench_preset(preset, x, args)
        cells = [
            f"{name} {r[name]:6.1f} img/s ({r[name] * r['flops_per_image'] / peak:.1%} of peak"
            + (")" if name == "plain" else f", {r[name] / r['plain']:.2f}x plain)")
            for name in ("plain", "fashiongan", "+XLA")
        ]
        print(f"{preset:9s} " + " | ".join(cells) + f" | {r['flops_per_image'] / 1e6:.0f} MFLOP/image fwd+bwd", flush=True)
    print(f"load average at the end: {' '.join(f'{v:.1f}' for v in os.getloadavg())} (other processes skew all columns alike)")


if __name__ == "__main__":
    main()

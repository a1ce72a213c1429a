"""Training throughput (images/s) of ``GAN.fit`` against a plain tutorial-style loop.

For each preset, at the same batch size and on the same models, it times

* ``fashiongan``: the production path, ``GAN.fit`` on :func:`fashiongan.batches.make_dataset` with
  the detectors attached, one generator pass and one concatenated discriminator call per
  step, with ``train.jit_compile: false``; and ``+XLA``: the same with ``jit_compile: true``;
* ``plain``: the TensorFlow DCGAN tutorial's loop, written out below: ``@tf.function`` step
  with two ``GradientTape``s, separate discriminator calls on real and fake, no XLA,
  ``from_tensor_slices(x).shuffle(...).batch(...)``;
* with ``--precision bfloat16``, ``fashiongan bf16``: the production path with
  ``train.precision: bfloat16`` (Keras ``mixed_bfloat16``, float32 outputs). The hardware check is
  forced on, so the column shows what bfloat16 does even on a CPU without AVX512_BF16 or AMX,
  where oneDNN emulates it; the column then says "emulated".

Rounds alternate between the paths so that load from other processes hits all alike; the
figure is the median over rounds. FLOPs per image are counted from the layer shapes
(multiply-adds of Dense/Conv/Conv-transpose layers, x2) for one generator and two
discriminator forward passes, times 3 for forward + backward. Each round times ``--steps`` steps
after one untimed step of the same call, from the end of that step to the end of the last, so
the figure is the steady-state step a long run repeats (not ``fit``'s per-call set-up). The peak is measured at the
start of the run (:mod:`_peak`: a float32 and a bfloat16 2048x2048 matmul with TensorFlow), and
each throughput is printed as a share of the float32 figure (the bfloat16 column also of the
bfloat16 one).

Run: ``python benchmarks/train_throughput.py [--steps 4] [--rounds 3] [--batch-size 256] [--precision bfloat16]``
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from fashiongan import devices  # noqa: E402
from fashiongan.detectors import detectors  # noqa: E402
from fashiongan.params_file import parse_params  # noqa: E402
from fashiongan.data import scale  # noqa: E402
from fashiongan.fetch import sample_folder  # noqa: E402
from fashiongan.idx import read_idx  # noqa: E402
from fashiongan.batches import make_dataset  # noqa: E402
from fashiongan.models import build_models  # noqa: E402
from fashiongan.presets import resolve_model_params, resolve_training  # noqa: E402
from fashiongan.training import build_gan, effective_precision  # noqa: E402
from _flops import forward_flops  # noqa: E402
from _peak import Peaks, measure_peaks  # noqa: E402
from tutorial_step import tutorial_train_step  # noqa: E402

BF16 = "fashiongan bf16"  # the column of --precision bfloat16


def plain_loop(spec, x: np.ndarray, batch_size: int, lr: float, beta_1: float):
    """The DCGAN tutorial's training loop on the same architecture; returns ``run(steps) -> seconds``."""
    generator, discriminator = build_models(spec)
    g_opt, d_opt = keras.optimizers.Adam(lr, beta_1=beta_1), keras.optimizers.Adam(lr, beta_1=beta_1)
    train_step = tutorial_train_step(generator, discriminator, g_opt, d_opt, batch_size, spec.latent_dim)
    data = tf.data.Dataset.from_tensor_slices(x).shuffle(len(x)).batch(batch_size, drop_remainder=True).repeat()
    batches = iter(data)

    def run(steps: int) -> float:
        float(train_step(next(batches))[0])  # the clock starts when one step has finished
        started = time.perf_counter()
        for _ in range(steps):
            losses = train_step(next(batches))
        float(losses[0])  # wait for the last step
        return time.perf_counter() - started

    return run


class _StepClock(keras.callbacks.Callback):
    """Seconds from the end of a fit's first batch to the end of its last: steady-state steps, not fit's set-up."""

    def on_train_batch_end(self, batch: int, logs=None) -> None:
        now = time.perf_counter()
        if batch == 0:
            self.started = now
        self.ended = now


def fashiongan_fit(params, x: np.ndarray):
    """``GAN.fit`` as train_gan runs it (XLA and precision per params, detectors attached); returns ``run(steps) -> seconds``.

    Each call is one ``fit`` of ``steps + 1`` batches, timed like the plain loop: from the end of the
    first batch to the end of the last, so what is compared is the step a long run repeats.
    """
    t = params.train
    gan = build_gan(params, effective_precision(t.precision))
    clock = _StepClock()
    callbacks = [*detectors(t.stall_patience, t.stall_tolerance, t.divergence_bound, t.collapse_min_classes), clock]
    per_epoch = len(x) // t.batch_size
    epoch = [0]

    def run(steps: int) -> float:
        epochs = -(-(steps + 1) // per_epoch)
        data = make_dataset(x, t.batch_size, t.seed, epoch[0], epoch[0] + epochs).take(steps + 1)
        gan.fit(data, epochs=1, steps_per_epoch=steps + 1, callbacks=callbacks, shuffle=False, verbose=0)
        epoch[0] += epochs
        return clock.ended - clock.started

    return run


def bench_preset(preset: str, x: np.ndarray, args, peaks: Peaks) -> dict[str, float]:
    def params_for(jit: bool, precision: str = "float32"):
        train = {"batch_size": args.batch_size, "jit_compile": jit, "precision": precision}
        return parse_params({"model": {"preset": preset}, "train": train})

    params = params_for(False)
    spec = resolve_model_params(params.model)
    how = resolve_training(spec.preset, params.train)
    keras.utils.set_random_seed(0)
    runners = {
        "plain": plain_loop(spec, x, args.batch_size, how.g_learning_rate, how.beta_1),
        "fashiongan": fashiongan_fit(params, x),
        "+XLA": fashiongan_fit(params_for(True), x),
    }
    if args.precision == "bfloat16":
        native = devices.bfloat16_native
        if not peaks.bf16_native:  # train.precision would fall back to float32: force the check on
            devices.bfloat16_native = lambda cpuinfo=None: (True, "forced on by the benchmark")
        try:
            runners[BF16] = fashiongan_fit(params_for(False, "bfloat16"), x)
        finally:
            devices.bfloat16_native = native
    for run in runners.values():  # trace / compile
        run(args.warmup)
    seconds: dict[str, list[float]] = {name: [] for name in runners}
    for _ in range(args.rounds):
        for name, run in runners.items():
            seconds[name].append(run(args.steps))
    rates = {name: args.steps * args.batch_size / statistics.median(s) for name, s in seconds.items()}
    gen, disc = build_models(spec)
    flops = 3 * (forward_flops(gen) + 2 * forward_flops(disc))
    return {**rates, "flops_per_image": flops}


def cell(name: str, rate: float, r: dict[str, float], peaks: Peaks) -> str:
    """``fashiongan  397.3 img/s (79.1% of f32 peak, 0.92x plain)``; the bfloat16 column also against its own peak."""
    flops = rate * r["flops_per_image"]
    shares = f"{peaks.share(flops):.1%} of f32 peak"
    label = name
    if name == BF16:
        shares += f", {peaks.share(flops, 'bfloat16'):.1%} of bf16 peak"
        label += "" if peaks.bf16_native else " (emulated)"
    return f"{label} {rate:6.1f} img/s ({shares}" + (")" if name == "plain" else f", {rate / r['plain']:.2f}x plain)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=4, help="timed steps per round and path")
    parser.add_argument("--rounds", type=int, default=3, help="alternating timing rounds (median is reported)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps (tracing, XLA compile)")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--presets", nargs="+", default=["compact", "tutorial"])
    parser.add_argument("--precision", choices=("float32", "bfloat16"), default="float32",
                        help="bfloat16 adds a 'fashiongan bf16' column (train.precision: bfloat16, forced on where emulated)")
    parser.add_argument("--peak-n", type=int, default=2048, help="side of the square matmuls that measure the peak")
    args = parser.parse_args()

    images = scale(read_idx(sample_folder() / "train-images-idx3-ubyte.gz"))
    x = np.concatenate([images] * max(1, -(-(args.batch_size * 8) // len(images))))
    print(f"load average at the start: {' '.join(f'{v:.1f}' for v in os.getloadavg())}")
    peaks = measure_peaks(args.peak_n)
    print(peaks.describe())
    print(f"batch {args.batch_size}, {args.steps} steps x {args.rounds} rounds, {len(x)} images", flush=True)
    for preset in args.presets:
        r = bench_preset(preset, x, args, peaks)
        names = [name for name in ("plain", "fashiongan", "+XLA", BF16) if name in r]
        cells = [cell(name, r[name], r, peaks) for name in names]
        print(f"{preset:9s} " + " | ".join(cells) + f" | {r['flops_per_image'] / 1e6:.0f} MFLOP/image fwd+bwd", flush=True)
    print(f"load average at the end: {' '.join(f'{v:.1f}' for v in os.getloadavg())} (other processes skew all columns alike)")


if __name__ == "__main__":
    main()

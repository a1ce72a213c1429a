"""How fast the two FIDs are: (a) fid_fashion end to end, (b) the standard-FID Inception features.

(b) runs, interleaved in one process on the same images, ``inception_features`` (28×28 inputs; the
TF1 resize, quantisation and scaling in-graph; BatchNorm folded; parallel 1×1 convs merged) and a
plain per-batch ``model.predict`` of the straightforward port (Conv2D + BatchNormalization + ReLU) on
pre-resized 299×299×3 inputs. It prints images/s of both, their ratio, images per CPU-second (less
sensitive to other processes on the machine), and the FLOP rate as a share of the machine's peak
measured in the same run (:mod:`_peak`: a float32 and a bfloat16 matmul with TensorFlow). When torch
is importable (it is not a dependency: ``pip install --target DIR torch`` and put DIR on PYTHONPATH)
the reference itself, the TorchScript network ``default_1.pt`` run by PyTorch on the same pre-resized
inputs (NCHW), is a third column with the ratio to it.

(a) calls ``benchmarks/fid_fashion_speed.py`` (the metrics helper's benchmark) when it is there.

Run: ``python benchmarks/fid_speed.py [--n 500] [--batch-size 50] [--repeats 2] [--fashion-n 10000]``
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np

from _flops import forward_flops
from _peak import measure_peaks
from fashiongan.config import EvaluateParams
from fashiongan.metrics import inception, inception_net, inception_weights

FASHION_BENCHMARK = Path(__file__).with_name("fid_fashion_speed.py")
REFERENCE = "PyTorch reference"  # the TorchScript default_1.pt the weights are read from, run by torch


def timed(func: Callable[[], object]) -> tuple[float, float]:
    """(wall seconds, process CPU seconds) of one call."""
    wall, cpu = time.perf_counter(), time.process_time()
    func()
    return time.perf_counter() - wall, time.process_time() - cpu


def torch_reference(batch_size: int) -> Callable[[np.ndarray], np.ndarray] | None:
    """Features of pre-resized NHWC images by the reference TorchScript Inception on PyTorch; None without torch."""
    if importlib.util.find_spec("torch") is None:
        return None
    import torch

    torch.set_num_threads(os.cpu_count() or 1)
    net = torch.jit.load(str(inception_weights.default_weights_path()), map_location="cpu").eval()

    def features(resized: np.ndarray) -> np.ndarray:
        nchw = torch.from_numpy(np.ascontiguousarray(resized.transpose(0, 3, 1, 2)))
        with torch.inference_mode():
            return torch.cat([net(nchw[i : i + batch_size]) for i in range(0, len(nchw), batch_size)]).numpy()

    return features


def inception_throughput(n: int, batch_size: int, repeats: int, peak_n: int) -> None:
    """(b): optimised features vs plain ``model.predict`` on pre-resized inputs, side by side."""
    weights = inception_weights.load_inception_weights()
    fast = inception.cached_inception()
    plain = inception_net.build_plain_inception(weights)
    images = np.random.default_rng(0).uniform(-1, 1, (n, 28, 28, 1)).astype(np.float32)
    matrix = inception_net.tf1_resize_matrix()
    scaled = (inception_net.to_uint8(images[..., 0]).astype(np.float32) - 128) / 128
    resized = np.repeat(np.einsum("ji,nik,lk->njl", matrix, scaled, matrix)[..., None], 3, -1).astype(np.float32)

    runs = {
        "inception_features": lambda: inception.inception_features(images, batch_size),
        "plain predict": lambda: plain.predict(resized, batch_size=batch_size, verbose=0),
    }
    inception.inception_features(images[:batch_size], batch_size)  # build, trace and allocate before timing
    plain.predict(resized[:batch_size], batch_size=batch_size, verbose=0)
    ours = inception.inception_features(images[:8])
    gap = np.abs(ours - plain.predict(resized[:8], verbose=0)).max()
    reference = torch_reference(batch_size)
    if reference is not None:
        runs[REFERENCE] = lambda: reference(resized)
        gap_reference = np.abs(ours - reference(resized[:8])).max()
    results: dict[str, list[tuple[float, float]]] = {name: [] for name in runs}
    for _ in range(repeats):
        for name, run in runs.items():
            results[name].append(timed(run))

    flops = forward_flops(plain)
    cores = os.cpu_count() or 1
    peaks = measure_peaks(peak_n)
    load = os.getloadavg()[0]
    print(f"(b) Inception features, {n} images, batch {batch_size}, {repeats} interleaved repeats; "
          f"max |fast - plain| = {gap:.2e}" + (f", max |fast - reference| = {gap_reference:.2e}" if reference else ""))
    if reference is None:
        print(f"    {REFERENCE}: not run (torch is not importable)")
    print(f"    {flops / 1e9:.2f} GFLOP per image (2 × multiply-adds); {cores} cores; load average {load:.1f}")
    print(f"    {peaks.describe()}")
    best = {}
    for name, times in results.items():
        walls = [n / wall for wall, _ in times]
        per_cpu = max(n / cpu for _, cpu in times)
        best[name] = max(walls)
        print(f"    {name:18s} {max(walls):6.2f} img/s best = {peaks.share(max(walls) * flops):4.0%} of the float32 peak, "
              f"{statistics.median(walls):6.2f} median (wall); {per_cpu:5.2f} img per CPU-second, "
              f"idle-machine estimate ≤ {cores * per_cpu:5.1f} img/s")
    print(f"    speed-up inception_features / plain predict (best wall): "
          f"{best['inception_features'] / best['plain predict']:.2f}×")
    if REFERENCE in best:
        print(f"    speed-up inception_features / {REFERENCE} (best wall): {best['inception_features'] / best[REFERENCE]:.2f}×")
    print(f"    20 img/s needs {20 * flops / 1e9:.0f} GFLOP/s = {peaks.share(20 * flops):.0%} of the measured float32 peak")


def fashion_fid(n: int) -> None:
    """(a): wall time of fid_fashion for ``n`` generated images, via the metrics helper's benchmark."""
    if not FASHION_BENCHMARK.is_file():
        print(f"(a) fid_fashion skipped: {FASHION_BENCHMARK.name} is not there yet")
        return
    spec = importlib.util.spec_from_file_location("fid_fashion_speed", FASHION_BENCHMARK)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    if not hasattr(module, "main"):
        print(f"(a) fid_fashion skipped: {FASHION_BENCHMARK.name} has no main()")
        return
    print(f"(a) fid_fashion for {n} generated images, generation included ({FASHION_BENCHMARK.name}):", flush=True)
    argv = sys.argv
    sys.argv = [str(FASHION_BENCHMARK), "--n", str(n)]
    try:
        module.main()
    finally:
        sys.argv = argv


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    # evaluate.inception_samples' default: the timed path is the one evaluate runs (XLA from XLA_FROM_IMAGES where it is faster)
    default_n = EvaluateParams().inception_samples
    parser.add_argument("--n", type=int, default=default_n, help=f"images per timed Inception pass (default {default_n})")
    parser.add_argument("--batch-size", type=int, default=inception.DEFAULT_BATCH_SIZE)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--fashion-n", type=int, default=10_000, help="generated images for (a); 0 skips (a)")
    parser.add_argument("--peak-n", type=int, default=2048, help="side of the square matmuls that measure the peak")
    args = parser.parse_args()
    if args.fashion_n:
        fashion_fid(args.fashion_n)
    else:
        print("(a) fid_fashion skipped: --fashion-n 0")
    inception_throughput(args.n, args.batch_size, args.repeats, args.peak_n)


if __name__ == "__main__":
    main()
